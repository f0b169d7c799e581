// Shared by the runtime tests (tests/js/runtime_*.test.mjs): a jsdom page, the real wasm core,
// a fake clock, fetch and storage spies. It is named *.test.mjs so that it sits with the tests it
// serves; run directly (node --test runs each file on its own) it checks its own fakes.
//
//   node --test tests/js/runtime_*.test.mjs        (env PZ_WASM: the module, see harness.mjs)
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JSDOM, VirtualConsole } from 'jsdom';
import * as esbuild from 'esbuild';
import { PZ_WASM, ROOT } from './harness.mjs';
import { createRuntime } from '../../js/src/runtime/index.mjs';
import { Engine, loadCore } from '../../js/src/host.mjs';

export { createRuntime, ROOT, PZ_WASM };
export const WASM_BYTES = fs.readFileSync(PZ_WASM);
export const WASM_MODULE = new WebAssembly.Module(WASM_BYTES);
// Fail at once, and clearly, on a stale or foreign module (rebuild with scripts/build-wasm.sh).
try {
  await loadCore(WASM_MODULE);
} catch (e) {
  throw new Error(
    `the wasm core ${PZ_WASM} does not load (${e.message}); rebuild it with ` +
      'scripts/build-wasm.sh or point PZ_WASM at a current build',
  );
}
export const DEMO_BUNDLE = fs.readFileSync(path.join(ROOT, 'demo-site', 'bundle.json'), 'utf8');
export const DEMO = JSON.parse(DEMO_BUNDLE);
/** 2026-11-22T12:00:00Z */
export const T0 = Date.UTC(2026, 10, 22, 12);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A settable clock: now() returns c.t; c.tick(ms) advances it. */
export function clock(t = T0) {
  const c = { t, now: () => c.t, tick: (ms = 1) => (c.t += ms) };
  return c;
}

/** The demo bundle with changes (a deep copy). */
export function demoBundle(patch = {}) {
  return { ...structuredClone(DEMO), ...patch };
}

/**
 * A jsdom page. Keeps a log of console output in `logs` (runScripts pages) and lets
 * tests build a runtime on it.
 */
export function page(
  body = '',
  { url = 'https://shop.example/', head = '', runScripts, referrer } = {},
) {
  const logs = [];
  const vc = new VirtualConsole();
  for (const level of ['log', 'warn', 'error', 'info'])
    vc.on(level, (...a) => logs.push([level, a.join(' ')]));
  vc.on('jsdomError', (e) => logs.push(['jsdomError', String(e && e.message)]));
  const dom = new JSDOM(
    `<!doctype html><html><head><title>Shop</title>${head}</head><body>${body}</body></html>`,
    { url, runScripts, referrer, virtualConsole: vc, pretendToBeVisual: true },
  );
  return { dom, win: dom.window, doc: dom.window.document, logs };
}

/**
 * A fake fetch over a route table { url: handler(request) -> Response | throws }; every request
 * is recorded in `requests` as {url, headers, method, body}.
 */
export function fakeFetch(routes = {}) {
  const requests = [];
  const f = async (url, init = {}) => {
    const headers = Object.fromEntries(new Headers(init.headers || {}).entries());
    requests.push({ url: String(url), headers, method: init.method || 'GET', body: init.body });
    const h = routes[String(url)];
    if (!h) return new Response('not found', { status: 404 });
    return h({ url: String(url), headers });
  };
  f.requests = requests;
  f.routes = routes;
  return f;
}

/** A Response serving a bundle (text or object) with an ETag, answering 304 to If-None-Match. */
export function bundleRoute(bundle, etag) {
  const text = typeof bundle === 'string' ? bundle : JSON.stringify(bundle);
  return ({ headers }) =>
    etag && headers['if-none-match'] === etag
      ? new Response(null, { status: 304, headers: { ETag: etag } })
      : new Response(text, {
          status: 200,
          headers: etag ? { ETag: etag, 'Content-Type': 'application/json' } : {},
        });
}

/** An in-memory Storage that records every write (setItem, removeItem, clear). */
export function memStorage(init = {}) {
  const m = new Map(Object.entries(init));
  const writes = [];
  return {
    writes,
    map: m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => {
      writes.push(['set', k]);
      m.set(k, String(v));
    },
    removeItem: (k) => {
      writes.push(['remove', k]);
      m.delete(k);
    },
    clear: () => {
      writes.push(['clear']);
      m.clear();
    },
    key: (i) => [...m.keys()][i] ?? null,
    get length() {
      return m.size;
    },
  };
}

/**
 * Spies on every storage API of a jsdom window: Storage.prototype (localStorage and
 * sessionStorage) writes, document.cookie writes, indexedDB.open/deleteDatabase, and
 * navigator.sendBeacon (a send). Returns the list the spies fill.
 */
export function spyStorage(win) {
  const writes = [];
  const proto = win.Storage.prototype;
  for (const m of ['setItem', 'removeItem', 'clear']) {
    const orig = proto[m];
    proto[m] = function (...a) {
      writes.push([this === win.sessionStorage ? 'sessionStorage' : 'localStorage', m, a[0]]);
      return orig.apply(this, a);
    };
  }
  const cookieDesc = Object.getOwnPropertyDescriptor(win.Document.prototype, 'cookie');
  Object.defineProperty(win.document, 'cookie', {
    configurable: true,
    get() {
      return cookieDesc.get.call(this);
    },
    set(v) {
      writes.push(['cookie', 'set', v]);
      cookieDesc.set.call(this, v);
    },
  });
  win.indexedDB = {
    open(name) {
      writes.push(['indexedDB', 'open', name]);
      throw new Error('no indexedDB here');
    },
    deleteDatabase(name) {
      writes.push(['indexedDB', 'deleteDatabase', name]);
    },
  };
  win.caches = {
    open(name) {
      writes.push(['caches', 'open', name]);
      return Promise.reject(new Error('no'));
    },
  };
  win.navigator.sendBeacon = (url) => {
    writes.push(['beacon', 'send', url]);
    return true;
  };
  return writes;
}

/** Records every event the runtime feeds to the core (Engine#ingest), in `log`. */
export function spyIngest() {
  const log = [];
  const orig = Engine.prototype.ingest;
  Engine.prototype.ingest = function (ev) {
    log.push(ev);
    return orig.call(this, ev);
  };
  Object.defineProperty(log, 'restore', { value: () => (Engine.prototype.ingest = orig) });
  return log;
}

/** Records every feedback the runtime reports (Engine#feedback) as [action, outcome]. */
export function spyFeedback() {
  const log = [];
  const orig = Engine.prototype.feedback;
  Engine.prototype.feedback = function (action, outcome, now) {
    log.push([action, outcome]);
    return orig.call(this, action, outcome, now);
  };
  Object.defineProperty(log, 'restore', { value: () => (Engine.prototype.feedback = orig) });
  return log;
}

/** Collects console.warn calls of this realm while fn runs (the runtime reports there). */
export async function captureWarnings(fn) {
  const warnings = [];
  const orig = console.warn;
  console.warn = (...a) => warnings.push(a.join(' '));
  try {
    await fn(warnings);
  } finally {
    console.warn = orig;
  }
  return warnings;
}

/**
 * A runtime on a page: createRuntime with the real core, the demo bundle (inline unless
 * bundleUrl is given), a fake clock and in-memory storage unless overridden.
 */
export function runtime(pg, opts = {}) {
  const c = opts.clock || clock();
  const storage = 'storage' in opts ? opts.storage : memStorage();
  const pz = createRuntime({
    window: pg.win,
    wasm: WASM_MODULE,
    bundle: opts.bundleUrl ? undefined : DEMO_BUNDLE,
    now: c.now,
    storage,
    persistDelay: 20,
    ...opts,
    clock: undefined,
  });
  return { pz, clock: c, storage };
}

/** Shorthand: collect the events of type `type` emitted by a runtime. */
export function listen(pz, type) {
  const got = [];
  pz.on(type, (v) => got.push(v));
  return got;
}

/** The IIFE runtime (js/dist/pz.js) built in memory from the sources, so tests need no build. */
let iife;
export async function runtimeIife() {
  if (!iife) {
    const r = await esbuild.build({
      entryPoints: [path.join(ROOT, 'js', 'src', 'runtime', 'browser.mjs')],
      bundle: true,
      format: 'iife',
      write: false,
      minify: true,
      target: ['es2020'],
    });
    iife = r.outputFiles[0].text;
  }
  return iife;
}

/** The loader stub's source and its minified form (as scripts/build-js.mjs makes it). */
export const SNIPPET = fs.readFileSync(path.join(ROOT, 'js', 'src', 'snippet.js'), 'utf8');
export async function snippetMin() {
  return (await esbuild.transform(SNIPPET, { minify: true, target: 'es5', legalComments: 'none' }))
    .code;
}

// Self-checks of the fakes above, only when this file is run as a test file itself.
const isMain =
  process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url;
if (isMain) {
  test('harness: fake fetch answers 304 to a matching If-None-Match', async () => {
    const f = fakeFetch({ '/b': bundleRoute({ version: 'x' }, '"v1"') });
    assert.equal((await f('/b')).status, 200);
    assert.equal((await f('/b', { headers: { 'If-None-Match': '"v1"' } })).status, 304);
    assert.equal((await f('/missing')).status, 404);
    assert.equal(f.requests.length, 3);
  });
  test('harness: storage spies see localStorage, sessionStorage and cookie writes', () => {
    const pg = page();
    const w = spyStorage(pg.win);
    pg.win.localStorage.setItem('a', '1');
    pg.win.sessionStorage.setItem('b', '1');
    pg.doc.cookie = 'c=1';
    assert.throws(() => pg.win.indexedDB.open('x'));
    assert.deepEqual(
      w.map((x) => x[0]),
      ['localStorage', 'sessionStorage', 'cookie', 'indexedDB'],
    );
    assert.equal(pg.doc.cookie, 'c=1');
    pg.win.close();
  });
  test('harness: the wasm module under test exists', () => {
    assert.ok(WASM_BYTES.length > 1000, fileURLToPath(import.meta.url));
  });
}
