// The runtime's transport to pz-server (docs/server.md) with the real core on jsdom pages: collect
// batching, request shape, retries with full-jitter backoff, Retry-After, refused batches,
// page-hide beacons, the consent-gated offline queue, and sync (on start, after identify,
// periodic, one at a time) against an in-memory server that is itself the real core: it merges
// each device's delta and answers with its own SYNC_REQUEST, as the server does, so two pages
// converge to one profile. Timers and randomness are injected: no test waits for a backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from './harness.mjs';
import {
  DEMO,
  DEMO_BUNDLE,
  T0,
  WASM_MODULE,
  clock,
  listen,
  memStorage,
  page,
  runtime,
  sleep,
} from './runtime_harness.test.mjs';
import { loadCore } from '../../js/src/host.mjs';

const EP = 'https://pz.shop.example';
const KEY = 'pk_shop_7d1c';
const PRICING = 'https://shop.example/pricing';
const HERO = '<div data-pz-slot="hero"><h1 data-pz-field="title">Default</h1></div>';
const GRANT = { analytics: true, personalization: true };
const val = (r) => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const json = (v, status = 200, headers = {}) =>
  new Response(JSON.stringify(v), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

/** Waits (briefly, in real time) until cond() holds: the fake network answers asynchronously. */
async function until(cond, what = 'condition') {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await sleep(2);
  }
  assert.fail('timed out waiting for ' + what);
}

/** Fake timers: setTimeout records the delay; fire() runs the pending timers (of one delay). */
function fakeTimers() {
  let n = 0;
  const live = new Map();
  const t = {
    armed: [], // every delay ever armed, in order
    setTimeout: (f, ms) => (live.set(++n, { f, ms }), t.armed.push(ms), n),
    clearTimeout: (id) => live.delete(id),
    pending: () => [...live.values()].map((x) => x.ms),
    fire(ms) {
      for (const [id, x] of [...live]) {
        if (ms === undefined || x.ms === ms) (live.delete(id), x.f());
      }
    },
  };
  return t;
}

/**
 * pz-server in memory over the real core: one Engine per profile, identify links and merges,
 * sync merges the device's delta and answers the merged state less what the device has, collect
 * dedups by event id. `fail[path]` holds answers to give first (a function returning a
 * Response, or throwing for a network error); `hold[path]` a promise to wait for first.
 */
async function fakeServer(now) {
  const core = await loadCore(WASM_MODULE);
  const profiles = new Map();
  const alias = new Map();
  const s = { requests: [], events: new Map(), duplicates: 0, fail: {}, hold: {}, profiles };
  s.profile = (id) => {
    if (!profiles.has(id)) {
      const e = core.engine();
      val(e.loadBundle(DEMO_BUNDLE));
      val(e.setIds({ anonymous_id: id, device_id: 'server' }));
      profiles.set(id, e);
    }
    return profiles.get(id);
  };
  s.posts = (path) => s.requests.filter((r) => r.path === path);
  s.fetch = async (url, init = {}) => {
    const u = new URL(url);
    const body = typeof init.body === 'string' ? init.body : await init.body.text();
    const r = {
      url: String(url),
      path: u.pathname,
      method: init.method,
      headers: Object.fromEntries(new Headers(init.headers || {}).entries()),
      keepalive: init.keepalive,
      body: JSON.parse(body),
    };
    s.requests.push(r);
    await s.hold[r.path];
    const f = s.fail[r.path]?.shift();
    if (f) return f();
    if (r.headers.authorization !== 'Bearer ' + KEY && u.searchParams.get('key') !== KEY)
      return json({ error: 'unauthorized' }, 401);
    const b = r.body;
    if (r.path === '/v1/collect') {
      let accepted = 0;
      for (const e of b.events) {
        if (s.events.has(e.id)) s.duplicates++;
        else
          (accepted++,
            s.events.set(e.id, { ...e, anonymous_id: b.anonymous_id, user_id: b.user_id }));
      }
      return json({ accepted, duplicates: b.events.length - accepted, rejected: [] });
    }
    if (r.path === '/v1/identify') {
      const prev = alias.get(b.anonymous_id);
      if (prev && prev !== b.user_id) return json({ error: 'conflict' }, 409);
      alias.set(b.anonymous_id, b.user_id);
      if (profiles.has(b.anonymous_id))
        val(s.profile(b.user_id).mergeState(val(s.profile(b.anonymous_id).exportState()), now()));
      return json({ id: b.user_id, merged: true });
    }
    if (r.path === '/v1/sync') {
      const id = alias.get(b.id) || b.id;
      const e = s.profile(id);
      val(e.mergeState(b.delta, now()));
      const ans = val(e.syncRequest(b.versions));
      return json({ id, delta: ans.delta, cursor: ans.versions });
    }
    return json({ error: 'not_found' }, 404);
  };
  return s;
}

/** A runtime on a page talking to `server`, with fake timers and autocapture off by default. */
function device(pg, server, opts = {}) {
  const timers = opts.timers || fakeTimers();
  const r = runtime(pg, {
    endpoint: EP + '/',
    writeKey: KEY,
    fetch: server.fetch,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    autocapture: false,
    ...opts,
    timers: undefined,
  });
  return { ...r, timers };
}

const stored = (storage, k = 'pz') => JSON.parse(storage.getItem(k));

test('collect: batches of batchSize at once, the rest after flushInterval; the request shape', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const pg = page();
  const { pz, timers } = device(pg, server, {
    clock: c,
    sync: false,
    collect: { batchSize: 3, flushInterval: 5000 },
  });
  pz.consent(GRANT);
  for (let i = 0; i < 3; i++) pz.track('add_to_cart', { i });
  await until(() => server.requests.length === 1, 'the first batch');
  const [r] = server.requests;
  assert.equal(r.url, EP + '/v1/collect');
  assert.equal(r.method, 'POST');
  assert.equal(r.headers.authorization, 'Bearer ' + KEY);
  assert.equal(r.headers['content-type'], 'application/json');
  const prof = await pz.profile();
  assert.deepEqual(Object.keys(r.body), ['anonymous_id', 'events'], 'no user_id before identify');
  assert.equal(r.body.anonymous_id, prof.anonymous_id);
  assert.deepEqual(
    r.body.events.map((e) => [e.type, e.t, e.props]),
    [0, 1, 2].map((i) => ['add_to_cart', T0, { i }]),
  );
  for (const e of r.body.events) {
    assert.deepEqual(Object.keys(e), ['type', 't', 'id', 'props', 'page']);
    assert.equal(e.page.url, 'https://shop.example/');
  }

  // Two more: under batchSize, so they wait for the flush interval.
  pz.identify('user-1');
  c.tick(1000);
  pz.track('purchase', { value: 10 });
  pz.track('page_view');
  await pz.flush();
  await sleep(10);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(timers.pending(), [5000]);
  timers.fire(5000);
  await until(() => server.requests.length === 2, 'the interval flush');
  const b = server.requests[1].body;
  assert.equal(b.user_id, 'user-1');
  assert.deepEqual(
    b.events.map((e) => e.type),
    ['purchase', 'page_view'],
  );
  assert.equal(server.events.size, 5);
  assert.deepEqual(timers.pending(), []);
  pg.win.close();
});

test('collect: batches stay well under 512 KB; an event over 32 KB is reported, not queued', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const pg = page();
  const { pz, timers } = device(pg, server, { clock: c, sync: false });
  const errors = listen(pz, 'error');
  pz.consent(GRANT);
  pz.track('big', { blob: 'x'.repeat(40_000) });
  for (let i = 0; i < 12; i++) pz.track('note', { i, text: 'y'.repeat(30_000) });
  await pz.flush();
  assert.equal(errors.length, 1);
  assert.match(errors[0], /larger than 32768 bytes/); // the core refuses it: never queued
  timers.fire(5000);
  await until(() => server.events.size === 12, 'every event');
  const sizes = server.requests.map((r) => JSON.stringify(r.body).length);
  assert.ok(server.requests.length > 1 && sizes.every((n) => n < 300_000), String(sizes));
  assert.deepEqual(
    server.requests.flatMap((r) => r.body.events.map((e) => e.props.i)),
    [...Array(12).keys()],
  );
  pg.win.close();
});

test('collect: 5xx and network errors retry with full-jitter backoff until a 2xx; the events are sent once delivered', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const down = () => {
    throw new TypeError('Failed to fetch');
  };
  const answers = [503, 'net', 500, 502, 408, 504, 'net'];
  server.fail['/v1/collect'] = answers.map((s) =>
    s === 'net' ? down : () => json({ error: 'store_error' }, s),
  );
  const pg = page();
  const retry = { base: 100, max: 1000 };
  const { pz, timers, storage } = device(pg, server, {
    clock: c,
    sync: false,
    collect: { batchSize: 1 },
    retry,
    random: mulberry32(7),
  });
  const errors = listen(pz, 'error');
  pz.consent(GRANT);
  pz.track('add_to_cart', { sku: 'a' });
  for (let n = 0; n < answers.length; n++) {
    await until(() => server.requests.length === n + 1, 'attempt ' + (n + 1));
    await until(() => timers.pending().length === 1, 'a retry timer');
    if (n === 2) pz.track('add_to_cart', { sku: 'b' }); // while waiting: no early send
    await sleep(5);
    assert.equal(server.requests.length, n + 1);
    timers.fire();
  }
  await until(() => server.events.size === 2, 'delivery');
  // random() × min(max, base × 2^n) for the n-th failure in a row, with the same seeded random.
  const rnd = mulberry32(7);
  const expected = answers.map((_, n) => rnd() * Math.min(retry.max, retry.base * 2 ** n));
  assert.deepEqual(timers.armed, expected);
  assert.ok(expected.at(-1) <= retry.max && expected.some((d) => d > retry.base));
  // The event queued during the backoff waited for it, then went in its own batch (batchSize 1).
  assert.deepEqual(
    server.posts('/v1/collect').map((r) => r.body.events.map((e) => e.props.sku)),
    [...answers.map(() => ['a']), ['a'], ['b']],
  );
  assert.deepEqual(errors, [], 'retries are not errors');
  await pz.flush();
  assert.equal(storage.getItem('pz.q'), null, 'nothing left in the queue');
  assert.deepEqual(timers.pending(), []);
  pg.win.close();
});

test('collect: 429 waits Retry-After; 4xx other than 408/429 drops the batch with a report', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  server.fail['/v1/collect'] = [
    () => json({ error: 'rate_limited' }, 429, { 'Retry-After': '7' }),
    () => json({ error: 'invalid_request', message: 'events[0].type' }, 400),
    () => json({ error: 'too_large' }, 413),
  ];
  const pg = page();
  const { pz, timers, storage } = device(pg, server, {
    clock: c,
    sync: false,
    collect: { batchSize: 1 },
  });
  const errors = listen(pz, 'error');
  pz.consent(GRANT);
  pz.track('one');
  await until(() => timers.pending().length === 1, 'the 429 wait');
  assert.deepEqual(timers.pending(), [7000]);
  timers.fire();
  await until(() => errors.length === 1, 'the 400 report');
  assert.match(errors[0], /collect: HTTP 400, 1 events dropped/);
  assert.deepEqual(timers.pending(), [], 'a refused batch is not retried');
  pz.track('two');
  await until(() => errors.length === 2, 'the 413 report');
  assert.match(errors[1], /HTTP 413/);
  pz.track('three');
  await until(() => server.events.size === 1, 'the next event');
  assert.deepEqual(
    [...server.events.values()].map((e) => e.type),
    ['three'],
  );
  assert.equal(server.requests.length, 4);
  await pz.flush();
  assert.equal(storage.getItem('pz.q'), null);
  pg.win.close();
});

test('page hide: sendBeacon to ?key= as text/plain, else fetch keepalive; beaconed events stay queued until a fetch gets a 2xx', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const storage = memStorage();
  const pg = page();
  const beacons = [];
  let accept = true;
  const { pz, timers } = device(pg, server, {
    clock: c,
    storage,
    sync: false,
    sendBeacon: (url, blob) => (beacons.push({ url, blob }), accept),
  });
  pz.consent(GRANT);
  pz.track('add_to_cart', { sku: 'a' });
  pz.track('add_to_cart', { sku: 'b' });
  await pz.flush();
  assert.equal(server.requests.length, 0, 'waiting for the flush interval');
  pg.win.dispatchEvent(new pg.win.Event('pagehide'));
  assert.equal(beacons.length, 1);
  assert.equal(beacons[0].url, `${EP}/v1/collect?key=${KEY}`);
  assert.equal(beacons[0].blob.type, 'text/plain');
  const sent = JSON.parse(await beacons[0].blob.text());
  assert.equal(sent.anonymous_id, (await pz.profile()).anonymous_id);
  assert.deepEqual(
    sent.events.map((e) => e.props.sku),
    ['a', 'b'],
  );
  // A beacon has no answer: the events stay in the persisted queue, not beaconed twice.
  assert.equal(stored(storage, 'pz.q').length, 2);
  pg.win.dispatchEvent(new pg.win.Event('pagehide'));
  assert.equal(beacons.length, 1);

  // sendBeacon refusing (over its quota): fetch keepalive, same URL and body type, no headers
  // that would need a preflight; its 2xx removes the events.
  accept = false;
  pz.track('add_to_cart', { sku: 'c' });
  await pz.flush();
  Object.defineProperty(pg.doc, 'visibilityState', { value: 'hidden', configurable: true });
  pg.doc.dispatchEvent(new pg.win.Event('visibilitychange'));
  assert.equal(beacons.length, 2);
  await until(() => stored(storage, 'pz.q').length === 2, 'the keepalive answer');
  const k = server.requests[0];
  assert.equal(k.url, `${EP}/v1/collect?key=${KEY}`);
  assert.equal(k.keepalive, true);
  assert.equal(k.headers.authorization, undefined);
  assert.equal(k.headers['content-type'], 'text/plain');
  assert.deepEqual(
    k.body.events.map((e) => e.props.sku),
    ['c'],
  );
  assert.deepEqual(
    stored(storage, 'pz.q').map((x) => x.e.props.sku),
    ['a', 'b'],
  );

  // Visible again: what was beaconed goes by fetch (the server dedups) and leaves the queue.
  Object.defineProperty(pg.doc, 'visibilityState', { value: 'visible', configurable: true });
  pg.doc.dispatchEvent(new pg.win.Event('visibilitychange'));
  timers.fire(5000);
  await until(() => server.requests.length === 2, 'the resend');
  assert.deepEqual(
    server.requests[1].body.events.map((e) => e.props.sku),
    ['a', 'b'],
  );
  assert.equal(server.requests[1].headers.authorization, 'Bearer ' + KEY);
  await until(() => storage.getItem('pz.q') === null, 'the queue emptied');
  pg.win.close();

  // Without sendBeacon at all (jsdom has none): fetch keepalive.
  const pg2 = page();
  const b = device(pg2, server, { clock: c, sync: false });
  b.pz.consent(GRANT);
  b.pz.track('add_to_cart', { sku: 'd' });
  await b.pz.flush();
  pg2.win.dispatchEvent(new pg2.win.Event('pagehide'));
  await until(() => server.events.size === 4, 'the keepalive fetch');
  assert.equal(server.requests[2].keepalive, true);
  pg2.win.close();
});

test('offline queue: persisted with personalization consent, sent by the next page; memory only without it', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const offline = () => {
    throw new TypeError('offline');
  };
  server.fail['/v1/collect'] = Array(10).fill(offline);
  const storage = memStorage();
  const pg1 = page();
  const a = device(pg1, server, { clock: c, storage, sync: false });
  a.pz.consent(GRANT);
  a.pz.track('add_to_cart', { sku: 'a' });
  a.pz.track('purchase', { value: 5 });
  await a.pz.flush();
  pg1.win.dispatchEvent(new pg1.win.Event('pagehide')); // no sendBeacon: keepalive, offline
  await until(() => server.requests.length === 1, 'the failed keepalive');
  const q = stored(storage, 'pz.q');
  assert.deepEqual(
    q.map((x) => x.e.type),
    ['add_to_cart', 'purchase'],
  );
  const anon = (await a.pz.profile()).anonymous_id;
  pg1.win.close();

  server.fail['/v1/collect'] = [];
  const pg2 = page();
  const b = device(pg2, server, { clock: c, storage, sync: false });
  await until(() => server.events.size === 2, 'the restored queue sent');
  assert.equal(server.requests[1].body.anonymous_id, anon);
  assert.equal(server.requests[1].headers.authorization, 'Bearer ' + KEY);
  await until(() => storage.getItem('pz.q') === null, 'delivered: the persisted queue is gone');
  pg2.win.close();

  // Analytics without personalization: sent, retried, never persisted.
  server.fail['/v1/collect'] = [offline, offline];
  const mem = memStorage();
  const pg3 = page();
  const d = device(pg3, server, { clock: c, storage: mem, sync: false, collect: { batchSize: 1 } });
  d.pz.consent({ analytics: true, personalization: false });
  d.pz.track('add_to_cart', { sku: 'z' });
  await until(() => d.timers.pending().length === 1, 'a retry');
  await d.pz.flush();
  pg3.win.dispatchEvent(new pg3.win.Event('pagehide'));
  await sleep(10);
  assert.equal(mem.writes.length, 0, JSON.stringify(mem.writes));
  await until(() => server.requests.length === 4, 'the failed keepalive');
  d.timers.fire();
  await until(() => server.events.size === 3, 'the retry');
  pg3.win.close();
});

test('consent: opt-in sends nothing before consent (not even later); withdrawal wipes the queue', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const storage = memStorage();
  const pg = page(HERO);
  const beacons = [];
  const { pz, timers } = device(pg, server, {
    clock: c,
    storage,
    autocapture: undefined, // a page view on load
    sendBeacon: (url) => beacons.push(url),
  });
  pz.track('add_to_cart', { sku: 'before' });
  pz.identify('user-1');
  await pz.sync();
  await pz.flush();
  pg.win.dispatchEvent(new pg.win.Event('pagehide'));
  timers.fire();
  await sleep(20);
  assert.deepEqual(server.requests, [], 'no request of any kind');
  assert.deepEqual(beacons, []);
  assert.deepEqual(storage.writes, []);

  pz.consent(GRANT);
  await until(() => server.posts('/v1/sync').length === 1, 'a sync on consent');
  pz.track('add_to_cart', { sku: 'after' });
  await pz.flush();
  assert.deepEqual(
    stored(storage, 'pz.q').map((x) => x.e.props.sku),
    ['after'],
    'only events made with consent are queued',
  );

  // Personalization withdrawn: every stored key goes, the queue too; no more syncs.
  pz.consent({ personalization: false });
  await pz.flush();
  assert.equal(storage.getItem('pz.q'), null);
  assert.equal(storage.length, 0);
  assert.equal(await pz.sync(), false);

  // Analytics withdrawn: the queued events are dropped, never sent.
  pz.track('add_to_cart', { sku: 'analytics-only' });
  pz.consent({ analytics: false });
  await pz.flush();
  pg.win.dispatchEvent(new pg.win.Event('pagehide'));
  timers.fire();
  pz.track('add_to_cart', { sku: 'none' });
  await pz.flush();
  timers.fire();
  await sleep(20);
  assert.deepEqual(server.posts('/v1/collect'), []);
  assert.deepEqual(beacons, []);
  pg.win.close();
});

test('sync on start: the delta and version vector go up, the answer is merged, the cursor kept', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const storage = memStorage();
  const pg1 = page('', { url: PRICING });
  const a = device(pg1, server, { clock: c, storage, collect: false });
  a.pz.consent(GRANT);
  for (let i = 0; i < 3; i++) a.pz.page();
  await until(() => server.posts('/v1/sync').length === 1, 'the sync on consent');
  assert.equal(await a.pz.sync(), true);
  const [s1, s2] = server.posts('/v1/sync');
  const prof = await a.pz.profile();
  assert.equal(s1.url, EP + '/v1/sync');
  assert.equal(s1.headers.authorization, 'Bearer ' + KEY);
  assert.deepEqual(Object.keys(s1.body), ['id', 'delta', 'versions']);
  assert.equal(s1.body.id, prof.anonymous_id);
  assert.equal(s1.body.delta.components[0].device, prof.device_id);
  assert.deepEqual(s2.body.delta.components, [], 'the cursor says the server has it all');
  const saved = stored(storage);
  assert.deepEqual(saved.c, s2.body.versions);
  pg1.win.close();

  // Another device's component reaches the server; a new page of the first syncs on start and
  // merges it, starting from the stored cursor.
  const other = await loadCore(WASM_MODULE);
  const e = other.engine();
  val(e.loadBundle(DEMO_BUNDLE));
  val(e.setIds({ anonymous_id: prof.anonymous_id, device_id: 'tablet' }));
  val(e.consent(GRANT, c.now()));
  for (let i = 0; i < 3; i++) val(e.ingest({ type: 'add_to_cart', t: c.now(), props: {} }));
  val(server.profile(prof.anonymous_id).mergeState(val(e.exportState()), c.now()));

  const pg2 = page();
  const b = device(pg2, server, { clock: c, storage, collect: false });
  const segs = listen(b.pz, 'segment');
  await until(() => segs.some((s) => s.entered.includes('high_intent')), 'the merged answer');
  await b.pz.flush();
  assert.equal(server.posts('/v1/sync').length, 3, 'one sync on start');
  const s3 = server.posts('/v1/sync')[2];
  assert.deepEqual(s3.body.delta.components, [], 'from the stored cursor');
  assert.ok((await b.pz.profile()).segments.includes('high_intent'));
  const tablet = stored(storage).s.components.find((x) => x.device === 'tablet');
  assert.deepEqual(tablet.counts[0], [
    'add_to_cart',
    val(e.exportState()).components[0].counts[0][1],
  ]);
  pg2.win.close();
});

test('identify: POST /v1/identify, then sync as the user; two pages converge to one profile and the same decisions', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const devices = [page(HERO, { url: PRICING }), page(HERO)].map((pg) => ({
    pg,
    ...device(pg, server, { clock: c, collect: false }),
  }));
  const [A, B] = devices;
  for (const d of devices) d.pz.consent(GRANT);
  await until(() => server.posts('/v1/sync').length === 2, 'the syncs on consent');
  A.pz.identify('user-1', { plan: 'pro' });
  await until(() => server.posts('/v1/sync').length === 3, 'the sync after identify');
  const [idf] = server.posts('/v1/identify');
  const pa = await A.pz.profile();
  assert.deepEqual(idf.body, { anonymous_id: pa.anonymous_id, user_id: 'user-1' });
  assert.equal(idf.headers.authorization, 'Bearer ' + KEY);
  assert.equal(server.posts('/v1/sync')[2].body.id, 'user-1');
  assert.equal(stored(A.storage).u, 'user-1');

  // Each page alone is not high_intent; together they are.
  for (let i = 0; i < 3; i++) {
    c.tick(60_000);
    A.pz.page();
  }
  c.tick(60_000);
  B.pz.identify('user-1');
  B.pz.track('add_to_cart', { sku: 'shoe-1' });
  await until(() => server.posts('/v1/sync').length === 4, 'B syncs as the user');
  for (const d of [A, B, A]) assert.equal(await d.pz.sync(), true);
  // One mergeable state on both, the same merged profile view, segments and decisions.
  await A.pz.flush();
  await B.pz.flush();
  const state = (d) => {
    const { user_id, traits, components, erased_at } = stored(d.storage).s;
    const by = (x, y) => (x.device < y.device ? -1 : 1);
    return { user_id: user_id[0], traits, erased_at, components: components.sort(by) };
  };
  assert.deepEqual(state(A), state(B));
  assert.equal(state(A).components.length, 2);
  const [p1, p2] = [await A.pz.profile(), await B.pz.profile()];
  const view = (p) => [p.user_id, p.traits, p.segments, p.counts, p.metrics, p.sessions];
  assert.deepEqual(view(p1), view(p2));
  assert.ok(p1.segments.includes('high_intent'), JSON.stringify(p1.segments));
  assert.equal(p1.traits.plan, 'pro');
  const [d1, d2] = [await A.pz.decide('hero'), await B.pz.decide('hero')];
  assert.deepEqual(d1, d2);
  assert.equal(d1[0].action, 'vip_offer');
  assert.equal(A.pg.doc.querySelector('h1').textContent, B.pg.doc.querySelector('h1').textContent);
  for (const d of devices) d.pg.win.close();
});

test('identify: a 409 is reported and not retried; failures retry with backoff', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const pg = page();
  const { pz, timers } = device(pg, server, {
    clock: c,
    collect: false,
    random: () => 0.5,
    retry: { base: 100, max: 1000 },
  });
  const errors = listen(pz, 'error');
  pz.consent(GRANT);
  await until(() => server.posts('/v1/sync').length === 1, 'the first sync');
  server.fail['/v1/identify'] = [() => json({ error: 'store_error' }, 500)];
  pz.identify('user-1');
  await until(() => timers.pending().includes(50), 'the identify retry');
  timers.fire(50);
  await until(() => server.posts('/v1/sync').length === 2, 'the sync after identify');
  assert.equal(server.posts('/v1/identify').length, 2);

  // The same browser, another user without reset(): the server refuses the link.
  pz.identify('user-2');
  await until(() => errors.length === 1, 'the 409 report');
  assert.match(errors[0], /identify: HTTP 409/);
  await until(() => server.posts('/v1/sync').length === 3, 'the sync after identify');
  assert.equal(server.posts('/v1/identify').length, 3);
  assert.ok(!timers.pending().includes(50), 'not retried');
  pg.win.close();
});

test('sync: periodic, backoff after a failure, one in flight at a time', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const pg = page();
  const retry = { base: 1000, max: 60000 };
  const { pz, timers } = device(pg, server, {
    clock: c,
    collect: false,
    sync: { interval: 30000 },
    random: mulberry32(3),
  });
  pz.consent(GRANT);
  await until(() => timers.pending().includes(30000), 'the periodic timer');
  assert.equal(server.posts('/v1/sync').length, 1);
  server.fail['/v1/sync'] = [() => json({}, 503), () => json({}, 429, { 'Retry-After': '2' })];
  timers.fire(30000);
  await until(() => timers.pending().length === 1 && !timers.pending().includes(30000), 'backoff');
  const rnd = mulberry32(3);
  assert.deepEqual(timers.pending(), [rnd() * Math.min(retry.max, retry.base)]);
  timers.fire();
  await until(() => timers.pending().includes(2000), 'Retry-After');
  timers.fire();
  await until(() => timers.pending().includes(30000), 'periodic again');
  assert.equal(server.posts('/v1/sync').length, 4);
  assert.deepEqual(timers.pending(), [30000]);

  // While a sync is in flight, any number of requests make one more sync after it.
  let release;
  server.hold['/v1/sync'] = new Promise((r) => (release = r));
  const first = pz.sync();
  await until(() => server.posts('/v1/sync').length === 5, 'the held sync');
  const more = [pz.sync(), pz.sync(), pz.sync()];
  await sleep(20);
  assert.equal(server.posts('/v1/sync').length, 5);
  delete server.hold['/v1/sync'];
  release();
  assert.deepEqual(await Promise.all([first, ...more]), [true, true, true, true]);
  assert.equal(server.posts('/v1/sync').length, 6);
  assert.deepEqual(timers.pending(), [30000]);
  pg.win.close();
});

test('reset: a new anonymous id, no user id and no cursor', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const storage = memStorage();
  const pg = page();
  const { pz } = device(pg, server, { clock: c, storage, collect: false });
  pz.consent(GRANT);
  pz.identify('user-1', { plan: 'pro' });
  await until(() => server.posts('/v1/identify').length === 1, 'identify');
  assert.equal(await pz.sync(), true);
  await pz.flush();
  const before = stored(storage);
  assert.equal(before.u, 'user-1');
  assert.ok(before.c);
  await pz.reset();
  await pz.flush();
  const after = stored(storage);
  assert.equal(after.u, undefined);
  assert.equal(after.c, undefined);
  assert.notEqual(after.a, before.a);
  assert.equal(await pz.sync(), true);
  const last = server.posts('/v1/sync').at(-1).body;
  assert.equal(last.id, after.a, 'syncs as the new anonymous visitor');
  const p = await pz.profile();
  assert.equal(p.user_id, null);
  assert.deepEqual(p.traits, {});
  assert.equal(server.profile('user-1').profile(c.now()).value.traits.plan, 'pro', 'kept there');
  pg.win.close();
});

test('an erasure arriving by sync leaves no personal data on the device or in storage', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const storage = memStorage();
  const pg = page(HERO, { url: PRICING });
  const { pz } = device(pg, server, {
    clock: c,
    storage,
    collect: { batchSize: 100 },
  });
  const segs = listen(pz, 'segment');
  pz.consent(GRANT);
  pz.identify('user-1', { plan: 'pro', email: 'a@b.example' });
  for (let i = 0; i < 3; i++) pz.page();
  pz.track('add_to_cart', { sku: 'x' });
  await until(() => server.posts('/v1/identify').length === 1, 'identify');
  assert.equal(await pz.sync(), true);
  await pz.flush();
  const before = await pz.profile();
  assert.ok(before.segments.includes('high_intent'));
  assert.equal((await pz.decide('hero'))[0].action, 'vip_offer');
  assert.equal(stored(storage, 'pz.q').length, 4);

  c.tick(1000);
  val(server.profile('user-1').erase(c.now())); // DELETE /v1/profiles/user-1
  c.tick(1000);
  assert.equal(await pz.sync(), true);
  await pz.flush();
  const p = await pz.profile();
  assert.equal(p.user_id, null);
  assert.deepEqual(p.traits, {});
  assert.equal(p.first_seen, null);
  assert.equal(p.metrics.pricing_views.total, 0);
  assert.deepEqual(p.segments, []);
  assert.equal(p.erased_at, T0 + 1000);
  assert.notEqual(p.anonymous_id, before.anonymous_id);
  assert.ok(segs.some((s) => s.exited.includes('high_intent')));
  const saved = stored(storage);
  assert.equal(saved.u, undefined);
  assert.equal(saved.c, undefined);
  assert.equal(saved.a, p.anonymous_id);
  assert.equal(saved.s.user_id, null);
  assert.deepEqual(saved.s.traits, []);
  assert.ok(saved.s.components.every((x) => !x.seen && !x.metrics.length && !x.counts.length));
  assert.ok(!JSON.stringify(saved).includes('a@b.example'));
  assert.equal(storage.getItem('pz.q'), null, 'events made before the erasure are not sent');
  assert.equal((await pz.decide('hero'))[0].action, null);
  assert.equal(pg.doc.querySelector('h1').textContent, DEMO.defaults.hero.content.title);
  pg.win.close();
});

test('a withdrawal on one device reaches the others by sync and erases there too', async () => {
  const c = clock();
  const server = await fakeServer(c.now);
  const [A, B] = [page('', { url: PRICING }), page()].map((pg) => ({
    pg,
    ...device(pg, server, { clock: c, collect: false }),
  }));
  for (const d of [A, B]) {
    d.pz.consent(GRANT);
    d.pz.identify('user-1', { plan: 'pro' });
    await until(() => stored(d.storage)?.c, 'a first sync');
  }
  A.pz.page();
  assert.equal(await A.pz.sync(), true);
  assert.equal(await B.pz.sync(), true);
  const consents = listen(B.pz, 'consent');

  c.tick(1000);
  A.pz.consent({ personalization: false });
  await until(() => server.posts('/v1/sync').at(-1).body.delta.erased_at, 'the withdrawal sent');
  assert.equal(server.posts('/v1/sync').at(-1).body.id, 'user-1', 'as the old id');
  assert.equal(A.storage.length, 0);
  c.tick(1000);
  assert.equal(await B.pz.sync(), true);
  await B.pz.flush();
  assert.equal(consents.at(-1).personalization, false);
  assert.equal(B.storage.length, 0, 'nothing stored any more');
  const p = await B.pz.profile();
  assert.equal(p.user_id, null);
  assert.deepEqual(p.traits, {});
  assert.equal(p.erased_at, T0 + 1000);
  assert.equal(await B.pz.sync(), false, 'no sync without consent');
  for (const d of [A, B]) d.pg.win.close();
});
