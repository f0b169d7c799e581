// The edge worker (Cloudflare Workers module syntax; runs locally in workerd, config.capnp, and
// deploys with wrangler.toml). It proxies the site's origin and fills the `data-pz-slot` elements
// of its HTML pages while they stream (slots.mjs), so personalized content is in the first paint;
// it forwards the SDK's calls to pz-server and serves the bundle. README.md has the design.
//
// Invariants:
// - The page never fails and never waits on the server longer than PZ_BUDGET_MS after the origin
//   answered: a slow, failing or unreachable server means context-only decisions (the bundle's
//   defaults, context rules), and no bundle at all means the page as the origin sent it.
// - Without personalization consent nothing about the visitor is read, stored or sent: no id
//   cookie is read or set, no request carries an id, decisions use context only.
// - Outside decided slots, the origin's bytes pass through unchanged.

import wasm from '../build-wasm/pz_core.wasm';
import { loadCore } from '../js/src/host.mjs';
import { Simulator } from '../js/src/cli.mjs';
import { verifier } from '../js/src/signature.mjs';
import { slotRewriter } from './slots.mjs';
import {
  consentSignal,
  contextOf,
  cookies,
  idCookie,
  pageOf,
  visitorId,
} from './visitor.mjs';

/** Body limits of the forwarded endpoints (bytes), as pz-server reads them (docs/server.md). */
const FORWARD = { collect: 513 * 1024, sync: 1 << 20, identify: 1 << 20 };
/** At most this many decide answers are cached per isolate. */
const CACHE_ENTRIES = 1000;
/** Slots per server decide (the server takes 1 to 64). */
const MAX_SLOTS = 64;

// ---- configuration (bindings: config.capnp, wrangler.toml [vars]) ----

const num = (v, d) => (v === undefined || v === null || v === '' ? d : Number(v));
const base = (v) => String(v || '').replace(/\/+$/, '');

const configs = new WeakMap();
/** The worker's configuration from its bindings (read once per isolate). */
async function config(env) {
  let cfg = configs.get(env);
  if (cfg) return cfg;
  const embedded = env.PZ_BUNDLE;
  const keys = String(env.PZ_BUNDLE_PUBLIC_KEYS || '')
    .split(/[\s,]+/)
    .filter(Boolean);
  cfg = {
    origin: base(env.PZ_ORIGIN),
    server: base(env.PZ_SERVER),
    writeKey: String(env.PZ_WRITE_KEY || ''),
    consentCookie: env.PZ_CONSENT_COOKIE || 'pz_consent',
    idCookie: env.PZ_ID_COOKIE || 'pz_id',
    budgetMs: num(env.PZ_BUDGET_MS, 150),
    cacheTtlMs: num(env.PZ_CACHE_TTL_MS, 5000),
    bundleTtlMs: num(env.PZ_BUNDLE_TTL_MS, 60000),
    forwardTimeoutMs: num(env.PZ_FORWARD_TIMEOUT_MS, 10000),
    slots: String(env.PZ_SLOTS || '')
      .split(/[\s,]+/)
      .filter(Boolean),
    testRoutes: env.PZ_TEST_ROUTES === '1' || env.PZ_TEST_ROUTES === true,
    // Signed bundles (docs/bundle.md): with keys, a bundle is used only once its signature
    // verified, the server's (Pz-Signature) as well as the embedded one (PZ_BUNDLE_SIGNATURE).
    verify: keys.length ? verifier(keys, 'PZ_BUNDLE_PUBLIC_KEYS') : null,
    bundle: null,
  };
  if (embedded != null && embedded !== '') {
    const text = typeof embedded === 'string' ? embedded : JSON.stringify(embedded);
    const sig = env.PZ_BUNDLE_SIGNATURE ? String(env.PZ_BUNDLE_SIGNATURE) : undefined;
    try {
      if (cfg.verify) await cfg.verify(text, sig);
      cfg.bundle = { ...(await bundleOf(text)), sig };
    } catch (e) {
      // Not used: the server's bundle (when there is a server) or none.
      console.error(
        'pz-edge: bundle rejected: the embedded PZ_BUNDLE: ' +
          e.message +
          (typeof embedded === 'string'
            ? ''
            : ' (a json binding is re-serialized: embed the signed file as text)'),
      );
    }
  }
  configs.set(env, cfg);
  return cfg;
}

// ---- the core (one instance per isolate) ----

let coreP = null;
const core = () =>
  (coreP ||= loadCore(wasm).catch((e) => {
    coreP = null;
    throw e;
  }));

// ---- the bundle: embedded, or fetched from the server and kept PZ_BUNDLE_TTL_MS ----

const hex = (buf) => [...new Uint8Array(buf)].map((b) => (b + 256).toString(16).slice(1)).join('');
/** {text, etag} of a bundle text (a strong ETag over the bytes). */
async function bundleOf(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return { text, etag: `"${hex(digest).slice(0, 32)}"` };
}

const held = { cur: null, at: 0, retryAt: 0, inflight: null, started: 0 };

async function refreshBundle(cfg) {
  try {
    const headers = { authorization: 'Bearer ' + cfg.writeKey };
    if (held.cur) headers['if-none-match'] = held.cur.etag;
    const res = await fetch(cfg.server + '/v1/bundle', {
      headers,
      signal: AbortSignal.timeout(cfg.forwardTimeoutMs),
    });
    if (res.status === 304 && held.cur) {
      held.at = Date.now();
      return held.cur;
    }
    if (!res.ok) throw new Error('HTTP ' + res.status);
    // The signature is kept either way (/pz/bundle passes it on to browsers that check it).
    const sig = res.headers.get('pz-signature') || undefined;
    let text;
    if (cfg.verify) {
      // Checked over the bytes as served, before anything uses them; a refused bundle leaves the
      // held one in use.
      const bytes = new Uint8Array(await res.arrayBuffer());
      try {
        await cfg.verify(bytes, sig);
      } catch (e) {
        held.retryAt = Date.now() + 1000;
        console.error('pz-edge: bundle rejected: ' + e.message);
        return held.cur;
      }
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } else text = await res.text();
    const etag = res.headers.get('etag');
    held.cur = { ...(etag ? { text, etag } : await bundleOf(text)), sig };
    held.at = Date.now();
  } catch (e) {
    held.retryAt = Date.now() + 1000;
    console.warn('pz-edge: bundle fetch failed: ' + ((e && e.message) || e));
  }
  return held.cur;
}

/**
 * The bundle {text, etag}, or null when there is none yet. A stale bundle is answered at once
 * while it is refreshed in the background; only the very first fetch is waited for (callers
 * bound the wait).
 */
function getBundle(cfg, ctx) {
  if (cfg.bundle) return Promise.resolve(cfg.bundle);
  if (!cfg.server) return Promise.resolve(null);
  const now = Date.now();
  if (held.cur && now - held.at < cfg.bundleTtlMs) return Promise.resolve(held.cur);
  // A fetch of another request that went on for too long (that request may be gone) is dropped.
  if (held.inflight && now - held.started > cfg.forwardTimeoutMs) held.inflight = null;
  if (!held.inflight && now >= held.retryAt) {
    held.started = now;
    const p = (held.inflight = refreshBundle(cfg).finally(() => {
      if (held.inflight === p) held.inflight = null;
    }));
    // The fetch must outlive this request even when it does not wait for it (an asset request
    // that turns out not to be a page), or later requests would wait on a dead promise.
    ctx.waitUntil(p);
  }
  if (held.cur) return Promise.resolve(held.cur);
  return held.inflight || Promise.resolve(null);
}

// ---- decisions ----

/** A per-request deadline: `expired` resolves and `signal` aborts when it passes. */
function deadline(ms) {
  const ctl = new AbortController();
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(() => {
      ctl.abort();
      resolve();
    }, ms);
  });
  return { signal: ctl.signal, expired, cancel: () => clearTimeout(timer) };
}

/** Server decide answers per isolate: (id, page url, context, slots) → {at, map}. */
const answers = new Map();

const val = (r) => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

/** Runs fn with a fresh engine that has the bundle (always freed). */
function withEngine(c, bundleText, fn) {
  const e = c.engine();
  try {
    val(e.loadBundle(bundleText));
    return fn(e);
  } finally {
    e.free();
  }
}

/**
 * The consent state {personalization, …} the core gives this visitor's signal under the bundle's
 * consent mode, and the signal as the core accepted it: a cookie the core rejects changes nothing
 * (as in the browser), while Sec-GPC still counts.
 * @returns {{state: object, signal: object | null}}
 */
function consentOf(c, bundleText, signal, now) {
  return withEngine(c, bundleText, (e) => {
    for (const s of [signal, signal && signal.gpc ? { gpc: true } : null]) {
      const r = s ? e.consent(s, now) : { ok: false };
      if (r.ok) return { state: r.value, signal: s };
    }
    return { state: val(e.profile(now)).consent, signal: null };
  });
}

/**
 * Decides the slots of one page. Slots are decided in batches: the names known when a batch
 * starts (PZ_SLOTS, a <meta name="pz-slots">, the slot being streamed) go in one decide.
 */
class Decider {
  constructor(v) {
    this.v = v; // {c, cfg, bundle, signal, state, id, known, page, context, now, budget}
    this.names = new Set();
    this.pending = new Map();
  }

  declare(names) {
    for (const n of names) this.names.add(n);
    this.flush();
  }

  get(name) {
    this.names.add(name);
    this.flush();
    return this.pending.get(name);
  }

  flush() {
    const todo = [...this.names].filter((n) => !this.pending.has(n));
    for (let i = 0; i < todo.length; i += MAX_SLOTS) {
      const names = todo.slice(i, i + MAX_SLOTS);
      const batch = this.batch(names);
      for (const n of names) this.pending.set(n, batch.then((m) => m.get(n) || null));
    }
  }

  async batch(names) {
    try {
      const v = this.v;
      // A visitor the server knows, with consent: their profile decides. A new id is a new
      // visitor (context only), so the server is not asked.
      if (v.state.personalization && v.known && v.cfg.server) {
        const m = await this.remote(names);
        if (m) return m;
      }
      return this.local(names);
    } catch (e) {
      console.warn('pz-edge: decide failed: ' + ((e && e.message) || e));
      return new Map();
    }
  }

  /** POST /v1/decide within the budget; null on timeout, error or an unusable answer. */
  async remote(names) {
    const v = this.v;
    const key = [v.id, v.page.url, JSON.stringify(v.context), ...names].join('\n');
    const hit = answers.get(key);
    if (hit && v.now - hit.at < v.cfg.cacheTtlMs) return hit.map;
    const ask = (async () => {
      try {
        const body = { id: v.id, slots: names, page: v.page, context: v.context };
        if (v.signal) body.consent = v.signal;
        const res = await fetch(v.cfg.server + '/v1/decide', {
          method: 'POST',
          headers: {
            authorization: 'Bearer ' + v.cfg.writeKey,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
          signal: v.budget.signal,
        });
        if (!res.ok) throw new Error('HTTP ' + res.status);
        const ans = await res.json();
        const map = new Map();
        for (const d of ans.decisions) map.set(d.slot, { action: d.action, content: d.content });
        if (!names.every((n) => map.has(n))) throw new Error('an answer without every slot');
        if (answers.size >= CACHE_ENTRIES) answers.delete(answers.keys().next().value);
        answers.set(key, { at: Date.now(), map });
        return map;
      } catch (e) {
        console.warn('pz-edge: server decide failed: ' + ((e && e.message) || e));
        return null;
      }
    })();
    return Promise.race([ask, v.budget.expired.then(() => null)]);
  }

  /** The core in the worker: context only (no profile), under the visitor's consent. */
  local(names) {
    const v = this.v;
    return withEngine(v.c, v.bundle.text, (e) => {
      if (v.id) val(e.setIds({ anonymous_id: v.id }));
      if (v.signal) e.consent(v.signal, v.now);
      const r = val(e.decide(names, v.now, { page: v.page, context: v.context }));
      return new Map(r.decisions.map((d) => [d.slot, { action: d.action, content: d.content }]));
    });
  }
}

// ---- pages ----

const isHtml = (res) => /^text\/html\b/i.test(res.headers.get('content-type') || '');

/** The origin's answer for a request (PZ_ORIGIN, else the request as it is: the zone's origin). */
function fetchOrigin(req, cfg, html) {
  const headers = new Headers(req.headers);
  if (html) {
    // A rewritten page is new content: the origin's validators do not describe it.
    headers.delete('if-none-match');
    headers.delete('if-modified-since');
  }
  if (!cfg.origin) return fetch(new Request(req, { headers, redirect: 'manual' }));
  const u = new URL(req.url);
  return fetch(cfg.origin + u.pathname + u.search, {
    method: req.method,
    headers,
    body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body,
    redirect: 'manual',
  });
}

async function page(req, cfg, ctx) {
  const accept = req.headers.get('accept') || '*/*';
  const wantsHtml = req.method === 'GET' && /text\/html|\*\/\*/.test(accept);
  const bundleP = wantsHtml ? getBundle(cfg, ctx) : null;
  let res;
  try {
    // Validators are dropped only for what is surely a page: an asset asked for with */* (the
    // runtime's bundle check, scripts) keeps its If-None-Match and can get a 304.
    res = await fetchOrigin(req, cfg, wantsHtml && /text\/html/.test(accept));
  } catch {
    return new Response('origin unreachable\n', { status: 502 });
  }
  if (!wantsHtml || res.status !== 200 || !isHtml(res) || !res.body) return res;

  const budget = deadline(cfg.budgetMs);
  const bundle = await Promise.race([bundleP, budget.expired.then(() => null)]);
  let c;
  try {
    c = bundle && (await core());
  } catch (e) {
    console.warn('pz-edge: ' + e.message);
  }
  if (!bundle || !c) {
    budget.cancel();
    return res; // nothing to decide with: the browser runtime decides
  }
  const now = Date.now();
  const jar = cookies(req);
  let state, signal;
  try {
    const given = consentSignal(req, jar, cfg.consentCookie);
    ({ state, signal } = consentOf(c, bundle.text, given, now));
  } catch (e) {
    console.warn('pz-edge: bundle rejected: ' + e.message);
    budget.cancel();
    return res;
  }
  const headers = new Headers(res.headers);
  let id = null;
  let known = false;
  const secure = new URL(req.url).protocol === 'https:';
  if (state.personalization) {
    id = visitorId(jar, cfg.idCookie);
    known = !!id;
    if (!id) {
      id = crypto.randomUUID();
      headers.append('set-cookie', idCookie(cfg.idCookie, id, { secure }));
    }
  } else if (jar.has(cfg.idCookie)) {
    // Consent withdrawn: the id goes too.
    headers.append('set-cookie', idCookie(cfg.idCookie, '', { secure, maxAge: 0 }));
  }
  const decider = new Decider({
    c,
    cfg,
    bundle,
    signal,
    state,
    id,
    known,
    now,
    page: pageOf(req),
    context: contextOf(req),
    budget,
  });
  if (cfg.slots.length) decider.declare(cfg.slots); // starts while the head streams
  headers.delete('content-length');
  headers.delete('etag');
  headers.delete('last-modified');
  headers.set('cache-control', 'private, no-cache');
  const rw = slotRewriter(new HTMLRewriter(), {
    decisionFor: (name) => decider.get(name),
    slotsDeclared: (names) => decider.declare(names),
  }).onDocument({ end: () => budget.cancel() });
  return rw.transform(
    new Response(res.body, { status: res.status, statusText: res.statusText, headers }),
  );
}

// ---- /pz/* ----

const jsonError = (status, error, message, headers = {}) =>
  Response.json({ error, message }, { status, headers });

/** The body up to `limit` bytes, or null when it is larger. */
async function readBody(req, limit) {
  const len = req.headers.get('content-length');
  if (len !== null && Number(len) > limit) return null;
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      await reader.cancel();
      return null;
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** POST /pz/{collect,sync,identify} → the server's /v1/… with the write key; status kept. */
async function forward(req, cfg, route) {
  if (req.method !== 'POST') {
    return jsonError(405, 'method_not_allowed', `${route}: use POST`, { allow: 'POST' });
  }
  const origin = req.headers.get('origin');
  if (origin && origin !== new URL(req.url).origin) {
    return jsonError(403, 'forbidden', 'cross-origin requests are not forwarded');
  }
  if (!cfg.server) return jsonError(503, 'unavailable', 'no server is configured (PZ_SERVER)');
  const body = await readBody(req, FORWARD[route]);
  if (body === null) {
    return jsonError(413, 'too_large', `${route}: the body is over ${FORWARD[route]} bytes`);
  }
  let res;
  try {
    res = await fetch(`${cfg.server}/v1/${route}`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer ' + cfg.writeKey,
        'content-type': req.headers.get('content-type') || 'application/json',
      },
      body,
      signal: AbortSignal.timeout(cfg.forwardTimeoutMs),
    });
  } catch (e) {
    const timeout = e && e.name === 'TimeoutError';
    return jsonError(timeout ? 504 : 502, 'bad_gateway', `the server did not answer ${route}`);
  }
  const headers = new Headers({ 'cache-control': 'no-store' });
  for (const h of ['content-type', 'retry-after']) {
    const v = res.headers.get(h);
    if (v) headers.set(h, v);
  }
  return new Response(res.body, { status: res.status, headers });
}

const etagMatches = (header, etag) =>
  !!header && header.split(',').some((t) => t.trim() === '*' || t.trim() === etag);

/** GET /pz/bundle: the bundle with its ETag (If-None-Match → 304), from the isolate's copy. */
async function serveBundle(req, cfg, ctx) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return jsonError(405, 'method_not_allowed', 'bundle: use GET', { allow: 'GET, HEAD' });
  }
  const timeout = new Promise((r) => setTimeout(() => r(null), cfg.forwardTimeoutMs));
  const b = await Promise.race([getBundle(cfg, ctx), timeout]);
  if (!b) return jsonError(503, 'unavailable', 'the bundle is not available yet');
  const headers = { etag: b.etag, 'cache-control': 'no-cache' };
  if (b.sig) headers['pz-signature'] = b.sig;
  if (etagMatches(req.headers.get('if-none-match'), b.etag)) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(req.method === 'HEAD' ? null : b.text, {
    headers: { ...headers, 'content-type': 'application/json' },
  });
}

/**
 * POST /pz/_test/simulate (PZ_TEST_ROUTES only): the `pz simulate` protocol through the worker's
 * core. Body {bundle, id?, explain?, input}: input is the stdin text; the answer is the stdout
 * text (422 with the error for a rejected bundle).
 */
async function simulate(req) {
  const { bundle, id, explain, input } = await req.json();
  const sim = new Simulator(await core());
  try {
    const init = sim.init(typeof bundle === 'string' ? bundle : JSON.stringify(bundle), id || 'sim',
      !!explain);
    if (!init.ok) return new Response(init.error, { status: 422 });
    const bytes = new TextEncoder().encode(input);
    const out = [];
    let start = 0;
    let lineNo = 0;
    // Lines as std::getline splits them (js/bin/pz.mjs).
    while (start < bytes.length) {
      let nl = bytes.indexOf(10, start);
      if (nl < 0) nl = bytes.length;
      const res = sim.feed(bytes.subarray(start, nl), ++lineNo);
      if (res !== null) out.push(new TextDecoder().decode(res), '\n');
      start = nl + 1;
    }
    return new Response(out.join(''), { headers: { 'content-type': 'text/plain' } });
  } finally {
    sim.free();
  }
}

export default {
  /**
   * @param {Request} req
   * @param {object} env bindings
   * @param {{waitUntil(p: Promise<unknown>): void}} ctx
   */
  async fetch(req, env, ctx) {
    const cfg = await config(env);
    const path = new URL(req.url).pathname;
    if (path.startsWith('/pz/')) {
      const route = path.slice(4).replace(/^v1\//, '');
      if (Object.hasOwn(FORWARD, route)) return forward(req, cfg, route);
      if (route === 'bundle') return serveBundle(req, cfg, ctx);
      if (cfg.testRoutes && route === '_test/simulate') return simulate(req);
      return jsonError(404, 'not_found', `no such endpoint: ${req.method} ${path}`);
    }
    return page(req, cfg, ctx);
  },
};
