// The loader stub (js/src/snippet.js) and the script-tag runtime (browser.mjs, the IIFE of
// js/dist/pz.js) in a jsdom page that runs scripts: size, the queue replayed in order once the
// runtime loads, and anti-flicker (only slots hidden; shown after the first decision, after the
// timeout when no runtime comes, or when the runtime fails to load).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WASM_BYTES,
  DEMO_BUNDLE,
  bundleRoute,
  fakeFetch,
  page,
  runtime,
  runtimeIife,
  sleep,
  snippetMin,
} from './runtime_harness.test.mjs';

const SLOTS =
  '<div id="hero" data-pz-slot="hero"><h1 data-pz-field="title">Default hero</h1></div>' +
  '<p id="other">Not a slot</p>';

/** A page whose <head> holds the minified stub (with attributes on its tag) and `calls`. */
async function stubPage(calls = '', attrs = '', body = SLOTS) {
  const stub = await snippetMin();
  const pg = page(body, {
    runScripts: 'dangerously',
    head: `<script ${attrs}>${stub}</script><script>${calls}</script>`,
  });
  return pg;
}

/** "Loads" the runtime script the stub inserted: a fake fetch for the wasm and bundle, then the IIFE. */
async function loadRuntime(pg, routes = {}) {
  const f = fakeFetch({
    'https://shop.example/pz_core.wasm': () => new Response(WASM_BYTES),
    'https://shop.example/bundle.json': bundleRoute(DEMO_BUNDLE, '"b1"'),
    ...routes,
  });
  pg.win.fetch = f;
  pg.win.Response = Response;
  pg.win.eval(await runtimeIife());
  return f;
}

/** A copy in this realm (values from the page's realm are not deepEqual to ours). */
const plain = (x) => JSON.parse(JSON.stringify(x));
const visibility = (pg, id) => pg.win.getComputedStyle(pg.doc.getElementById(id)).visibility;

test('the minified loader is at most 1024 bytes and is plain ES5', async () => {
  const min = await snippetMin();
  assert.ok(Buffer.byteLength(min) <= 1024, `${Buffer.byteLength(min)} bytes`);
  assert.doesNotMatch(min, /=>|`|\blet\b|\bconst\b/);
});

test('calls queued on the stub before the runtime loads are replayed in order', async () => {
  const pg = await stubPage(`
    window.seen = [];
    pz('on', 'decision', function (d) { seen.push(['decision', d.slot, d.action]); });
    pz('on', 'consent', function (c) { seen.push(['consent', c.personalization]); });
    pz('track', 'add_to_cart', {sku: 'before-consent'});
    pz('init', {bundleUrl: 'https://shop.example/bundle.json', wasmUrl: 'https://shop.example/pz_core.wasm'});
    pz('consent', {personalization: true});
    pz('track', 'add_to_cart', {sku: 'after-consent'});
    pz('track', 'purchase', {value: 1200});
  `);
  const stub = pg.win.pz;
  assert.equal(typeof stub, 'function');
  assert.equal(stub.q.length, 7);
  assert.equal(typeof stub.track, 'undefined', 'the stub only queues');
  // The stub inserted the async runtime script (default URL).
  const s = [...pg.doc.querySelectorAll('script[src]')];
  assert.equal(s.length, 1);
  assert.equal(s[0].getAttribute('src'), '/pz.js');
  assert.equal(s[0].async, true);

  const f = await loadRuntime(pg);
  const pz = pg.win.pz;
  assert.notEqual(pz, stub);
  assert.equal(typeof pz, 'function', 'still callable as a function');
  assert.equal(typeof pz.track, 'function');
  // A late call through an old reference to the stub reaches the runtime too.
  stub('track', 'purchase', { value: 5 });
  await pz.flush();
  const p = await pz.profile();
  // Order: the first add_to_cart came before consent (not kept in opt-in), the page view of
  // init too; the consent, then the second add_to_cart and both purchases were kept.
  // Counts per event type (page_view, add_to_cart, purchase): 0 page views, 1 cart add, 2 purchases.
  assert.equal(p.counts.page_view.total, 0);
  assert.equal(p.counts.add_to_cart.total, 1);
  assert.equal(p.counts.purchase.total, 2);
  assert.equal(p.metrics.spend.total, 1205);
  assert.equal(p.segments.includes('high_value'), true);
  assert.deepEqual(plain(pg.win.seen), [
    ['consent', false], // the initial state at start
    ['decision', 'hero', null],
    ['consent', true],
  ]);
  assert.equal(pg.doc.querySelector('#hero h1').textContent, 'Welcome');
  assert.deepEqual(
    f.requests.map((r) => r.url),
    ['https://shop.example/pz_core.wasm', 'https://shop.example/bundle.json'],
  );
  pg.win.close();
});

test('queued events keep their order: only events after the queued consent are counted', async () => {
  const pg = await stubPage(`
    pz('init', {bundle: ${DEMO_BUNDLE.replace(/\s+/g, ' ')}, wasmUrl: 'https://shop.example/pz_core.wasm',
                autocapture: false});
    pz('track', 'add_to_cart', {});
    pz('consent', {personalization: true});
    pz('track', 'add_to_cart', {});
    pz('track', 'add_to_cart', {});
    pz('consent', {analytics: true});
  `);
  await loadRuntime(pg);
  await pg.win.pz.flush();
  const p = await pg.win.pz.profile();
  // Counts per event type: no page view (autocapture off), 2 of the 3 cart adds, no purchase.
  assert.equal(p.counts.page_view.total, 0);
  assert.equal(p.counts.add_to_cart.total, 2);
  assert.equal(p.counts.purchase.total, 0);
  assert.equal(p.consent.analytics, true);
  pg.win.close();
});

test('anti-flicker: only [data-pz-slot] is hidden, and the runtime shows it after the first decision', async () => {
  const pg = await stubPage(
    `pz('init', {bundleUrl: 'https://shop.example/bundle.json', wasmUrl: 'https://shop.example/pz_core.wasm'});`,
    'data-pz-timeout="60000"',
  );
  const style = pg.doc.getElementById('pz-af');
  assert.ok(style, 'the stub inserted the style synchronously');
  // Slots an edge worker filled in the first paint (data-pz-decided) are never hidden.
  assert.equal(
    style.textContent,
    '[data-pz-slot]:not([data-pz-decided]){visibility:hidden!important}',
  );
  assert.equal(visibility(pg, 'hero'), 'hidden');
  assert.equal(visibility(pg, 'other'), 'visible', 'never the whole page');
  await sleep(20);
  assert.ok(pg.doc.getElementById('pz-af'), 'still hidden while the runtime has not come');
  let atDecision;
  pg.win.pz('on', 'decision', () => {
    atDecision = pg.doc.querySelector('#hero h1').textContent;
  });
  await loadRuntime(pg);
  await pg.win.pz.flush();
  assert.equal(atDecision, 'Welcome', 'the content is rendered before the slot is shown');
  assert.equal(pg.doc.getElementById('pz-af'), null);
  assert.equal(visibility(pg, 'hero'), 'visible');
  pg.win.close();
});

test('anti-flicker: the style goes after the timeout when no runtime comes (data-pz-timeout)', async () => {
  const t0 = Date.now();
  const pg = await stubPage('', 'data-pz-timeout="100" data-pz-src="https://cdn.example/pz.js"');
  assert.equal(
    pg.doc.querySelector('script[src]').getAttribute('src'),
    'https://cdn.example/pz.js',
  );
  assert.ok(pg.doc.getElementById('pz-af'));
  await sleep(20);
  if (Date.now() - t0 < 90) assert.ok(pg.doc.getElementById('pz-af'), 'not before the timeout');
  await sleep(200);
  assert.equal(pg.doc.getElementById('pz-af'), null);
  assert.equal(visibility(pg, 'hero'), 'visible');
  pg.win.close();
});

test('anti-flicker: the default timeout is 300 ms', async () => {
  const t0 = Date.now();
  const pg = await stubPage('');
  await sleep(150);
  if (Date.now() - t0 < 280) assert.ok(pg.doc.getElementById('pz-af'), 'not before 300 ms');
  await sleep(350);
  assert.equal(pg.doc.getElementById('pz-af'), null);
  pg.win.close();
});

test('anti-flicker: a runtime script that fails to load shows the slots at once', async () => {
  const pg = await stubPage('', 'data-pz-timeout="60000"');
  pg.doc.querySelector('script[src]').dispatchEvent(new pg.win.Event('error'));
  assert.equal(pg.doc.getElementById('pz-af'), null);
  pg.win.close();
});

test('anti-flicker: a runtime that cannot start (no wasm) shows the slots and reports', async () => {
  const pg = await stubPage(
    `window.errs = []; pz('on', 'error', function (e) { errs.push(e); });
    pz('init', {bundleUrl: 'https://shop.example/bundle.json', wasmUrl: 'https://shop.example/missing.wasm'});`,
    'data-pz-timeout="60000"',
  );
  await loadRuntime(pg);
  await pg.win.pz.flush();
  assert.equal(pg.doc.getElementById('pz-af'), null);
  assert.equal(pg.doc.querySelector('#hero h1').textContent, 'Default hero');
  assert.match(pg.win.errs.join('\n'), /HTTP 404/);
  pg.win.close();
});

test('a runtime loaded without the stub hides nothing and installs window.pz', async () => {
  const pg = page(SLOTS, { runScripts: 'dangerously' });
  const before = pg.doc.querySelectorAll('style').length;
  await loadRuntime(pg);
  assert.equal(typeof pg.win.pz.init, 'function');
  pg.win.pz.init({
    bundleUrl: 'https://shop.example/bundle.json',
    wasmUrl: 'https://shop.example/pz_core.wasm',
  });
  assert.equal(pg.doc.querySelectorAll('style').length, before);
  assert.equal(visibility(pg, 'hero'), 'visible');
  await pg.win.pz.flush();
  assert.equal(pg.doc.querySelectorAll('style').length, before);
  assert.equal(pg.doc.querySelector('#hero h1').textContent, 'Welcome');
  pg.win.close();
});

test('the ESM runtime removes a stub style it finds after the first decision', async () => {
  const pg = page(SLOTS, {
    head: '<style id="pz-af">[data-pz-slot]:not([data-pz-decided]){visibility:hidden!important}</style>',
  });
  const { pz } = runtime(pg);
  assert.ok(pg.doc.getElementById('pz-af'));
  await pz.flush();
  assert.equal(pg.doc.getElementById('pz-af'), null);
  pg.win.close();
});
