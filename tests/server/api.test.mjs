// pz-server's HTTP API against the real process (docs/server.md is the contract): every endpoint,
// every auth failure, every limit, malformed JSON, wrong types, unknown profiles; CORS, metrics,
// static files, graceful shutdown, restart on the same data directory, and logs that carry no
// personal data. One server per describe block; every id is unique, so tests do not interfere.
//
//   node --test tests/server/api.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { DEMO_BUNDLE, T0, call, parseMetrics, startServer, tempDir } from './harness.mjs';
import { PZ_WASM } from '../js/harness.mjs';
import { loadCore } from '../../js/src/host.mjs';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Every id, key and prop value a test sends: none may appear in any server log. */
const SECRETS = new Set();
/** A unique id (registered as personal data for the log check). */
function uid(prefix) {
  const id = `${prefix}-${crypto.randomBytes(5).toString('hex')}`;
  SECRETS.add(id);
  return id;
}

const HOUR = 3600000;
const DAY = 86400000;
const byKey = ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0);
const series = (n, t) => ({
  total: n,
  last: t,
  hourly: [[Math.floor(t / HOUR), n]],
  daily: [[Math.floor(t / DAY), n]],
});

/** One device's component of a sync state (docs/sync.md), built by hand. */
function component(device, { version = 1, t = T0, counts = { page_view: 1 }, metrics = {} } = {}) {
  return {
    device,
    epoch: 0,
    version,
    seen: true,
    first_seen: t,
    last_seen: t,
    sessions: 1,
    metrics: Object.entries(metrics)
      .sort(byKey)
      .map(([id, n]) => [id, series(n, t)]),
    counts: Object.entries(counts)
      .sort(byKey)
      .map(([type, n]) => [type, series(n, t)]),
    exposures: [],
  };
}
const CONSENT = (device, t = T0) => [
  { necessary: true, analytics: true, personalization: true, marketing: false, given: true },
  t,
  0,
  device,
];
/** A sync-format state (format version 1). */
const state = (components, extra = {}) => ({
  v: 1,
  erased_at: null,
  user_id: null,
  consent: null,
  traits: [],
  components,
  ...extra,
});

/** A page-view event with a unique id. */
const pageView = (p = '/', t = T0) => ({ id: uid('ev'), type: 'page_view', t, page: { path: p } });

/** Asserts the documented error shape {error, message} with a status and a message pattern. */
function assertError(res, status, code, message) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(typeof res.body, 'object', `an error body is JSON: ${res.body}`);
  assert.equal(res.body.error, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.message, 'string');
  if (message) assert.match(res.body.message, message);
}

/** One raw HTTP/1.1 exchange (fetch normalizes `..` and `%2e%2e`, so traversal needs this). */
function rawHttp(port, head, { body = '', timeout = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let error = null;
    sock.setEncoding('latin1');
    sock.on('data', (d) => (data += d));
    sock.on('error', (e) => (error = e.code));
    const timer = setTimeout(() => sock.destroy(), timeout);
    sock.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      const sep = data.indexOf('\r\n\r\n');
      resolve({
        status: m ? Number(m[1]) : null,
        head: sep >= 0 ? data.slice(0, sep) : data,
        body: sep >= 0 ? data.slice(sep + 4) : '',
        error,
      });
    });
    sock.write(head);
    if (body) sock.write(body);
  });
}
const rawGet = (port, target) =>
  rawHttp(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);

async function metrics(server) {
  const res = await server.fetch('/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, m: parseMetrics(text) };
}

/**
 * The log check: every stderr line is JSON with ts/level/msg, request lines carry
 * method/route/status/ms, and no id, key or prop value a test used appears anywhere.
 */
function checkLogs(server, { allow = [] } = {}) {
  assert.ok(server.raw.length > 0);
  let requests = 0;
  for (const line of server.raw) {
    let j;
    assert.doesNotThrow(() => (j = JSON.parse(line)), `a log line is not JSON: ${line}`);
    assert.match(j.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
    assert.ok(['info', 'warn', 'error'].includes(j.level), line);
    assert.equal(typeof j.msg, 'string', line);
    if (j.msg === 'request') {
      requests++;
      assert.equal(typeof j.method, 'string', line);
      assert.equal(typeof j.route, 'string', line);
      assert.equal(typeof j.status, 'number', line);
      assert.equal(typeof j.ms, 'number', line);
      assert.ok(!line.includes('127.0.0.1'), `a request line carries an address: ${line}`);
    }
  }
  assert.ok(requests > 0, 'request lines are logged');
  const all = server.raw.join('\n');
  for (const s of SECRETS) {
    if (allow.includes(s)) continue;
    assert.ok(!all.includes(s), `the log carries personal data or a key: ${s}`);
  }
}

/** The keys file of the multi-site tests: A and B with origins, C rate-limited. */
function makeSites() {
  const k = (p) => uid(p);
  const A = { id: 'shop', pk: k('pk_shop'), sk: k('sk_shop'), origin: 'https://shop.example' };
  const B = { id: 'blog', pk: k('pk_blog'), sk: k('sk_blog'), origin: 'https://blog.example' };
  const C = { id: 'slow', pk: k('pk_slow'), sk: k('sk_slow') };
  const keys = {
    sites: [
      { id: A.id, write_keys: [A.pk], secret_keys: [A.sk], origins: [A.origin] },
      { id: B.id, write_keys: [B.pk], secret_keys: [B.sk], origins: [B.origin] },
      {
        id: C.id,
        write_keys: [C.pk],
        secret_keys: [C.sk],
        origins: [],
        rate_limit: { per_second: 1, burst: 3 },
      },
    ],
  };
  return { A, B, C, keys };
}

const PK = 'pk_demo';
const SK = 'sk_demo';

// ---------------------------------------------------------------------------------------------

describe('demo site: endpoints, validation, limits', () => {
  let s;
  before(async () => {
    s = await startServer();
  });
  after(() => s.stop());

  const collect = (body, key = PK) => call(s, 'POST', '/v1/collect', { key, body });
  const sync = (body, key = PK) => call(s, 'POST', '/v1/sync', { key, body });
  const getProfile = (id) => call(s, 'GET', '/v1/profiles/' + encodeURIComponent(id), { key: SK });

  // Regression (fuzz_http): with "*" the server echoed any Origin text, and an 8 KB one made a
  // preflight answer that clients refuse to parse. "*" allows any origin, not any text.
  test('CORS with "*": a real origin is echoed; a text that cannot be an origin is 403', async () => {
    const preflight = (origin) =>
      call(s, 'OPTIONS', '/v1/collect', {
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    for (const origin of ['https://shop.example', 'http://127.0.0.1:8080', 'null']) {
      const r = await preflight(origin);
      assert.equal(r.status, 204, origin);
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
    }
    for (const origin of [
      'https://evil.example' + 'a'.repeat(8000),
      'https://shop.example/path',
      'shop.example',
      'https://',
      'https://shop example',
    ]) {
      const r = await preflight(origin);
      assertError(r, 403, 'forbidden');
      assert.equal(r.headers.get('access-control-allow-origin'), null, origin.slice(0, 40));
    }
  });

  test('/healthz answers {"status":"ok"} without a key', async () => {
    const r = await call(s, 'GET', '/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ok' });
  });

  test('/metrics: counters move by exactly what the requests did; histograms are cumulative', async () => {
    const before = await metrics(s);
    for (const name of [
      'pz_events_total',
      'pz_events_duplicate_total',
      'pz_events_rejected_total',
      'pz_syncs_total',
      'pz_identifies_total',
      'pz_decisions_total',
      'pz_store_errors_total',
    ]) {
      assert.match(before.text, new RegExp(`^# TYPE ${name} counter$`, 'm'), name);
      assert.ok(before.m.has(name), name);
    }
    assert.match(before.text, /^# TYPE pz_http_request_duration_seconds histogram$/m);
    assert.match(before.text, /^# TYPE pz_store_commit_batch histogram$/m);
    assert.match(before.text, /^# TYPE pz_store_wal_reset_seconds histogram$/m);
    const anon = uid('m-anon');
    const e = [pageView(), pageView(), pageView()];
    let r = await collect({ anonymous_id: anon, events: e });
    assert.deepEqual(r.body, { accepted: 3, duplicates: 0, rejected: [] });
    r = await collect({
      anonymous_id: anon,
      events: [e[0], e[1], pageView(), { id: uid('ev'), t: T0 }],
    });
    assert.equal(r.body.accepted, 1);
    assert.equal(r.body.duplicates, 2);
    assert.equal(r.body.rejected.length, 1);
    r = await sync({ id: anon, delta: state([component(uid('dev'))]) });
    assert.equal(r.status, 200);
    r = await call(s, 'POST', '/v1/decide', { key: PK, body: { id: anon, slots: ['hero', 'banner'] } });
    assert.equal(r.status, 200);
    const after = await metrics(s);
    const d = (k) => (after.m.get(k) ?? 0) - (before.m.get(k) ?? 0);
    assert.equal(d('pz_events_total'), 4);
    assert.equal(d('pz_events_duplicate_total'), 2);
    assert.equal(d('pz_events_rejected_total'), 1);
    assert.equal(d('pz_syncs_total'), 1);
    assert.equal(d('pz_decisions_total'), 2);
    assert.equal(d('pz_http_requests_total{route="collect",status="200"}'), 2);
    assert.equal(d('pz_http_requests_total{route="sync",status="200"}'), 1);
    assert.equal(d('pz_http_requests_total{route="metrics",status="200"}'), 1);
    // Histograms: buckets ascend in le, never decrease, +Inf equals _count.
    const histograms = [
      ['pz_http_request_duration_seconds', 'route="collect",'],
      ['pz_http_request_duration_seconds', 'route="sync",'],
      ['pz_store_commit_batch', ''],
      ['pz_store_wal_reset_seconds', ''],
    ];
    for (const [name, labels] of histograms) {
      const buckets = [...after.m]
        .filter(([k]) => k.startsWith(`${name}_bucket{${labels}le=`))
        .map(([k, v]) => [k.match(/le="([^"]+)"/)[1], v]);
      assert.ok(buckets.length >= 2, `${name} ${labels} has buckets`);
      const les = buckets.map(([le]) => (le === '+Inf' ? Infinity : Number(le)));
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(les[i] > les[i - 1], `${name}: le ascends`);
        assert.ok(buckets[i][1] >= buckets[i - 1][1], `${name}: cumulative`);
      }
      assert.equal(les.at(-1), Infinity);
      const braces = labels ? `{${labels.slice(0, -1)}}` : '';
      assert.equal(buckets.at(-1)[1], after.m.get(`${name}_count${braces}`));
      assert.ok(after.m.has(`${name}_sum${braces}`));
    }
    const collectCount = 'pz_http_request_duration_seconds_count{route="collect"}';
    assert.equal(d(collectCount), 2);
    assert.ok(after.m.get('pz_store_commit_batch_count') >= 3, 'group commits are observed');
  });

  // --- collect -------------------------------------------------------------------------------

  test('collect: accepted count; the same ids again are duplicates; events count on the profile', async () => {
    const anon = uid('c-anon');
    assert.equal((await sync({ id: anon, delta: state([component(uid('dev'))]) })).status, 200);
    const events = [
      pageView('/pricing'),
      { id: uid('ev'), type: 'add_to_cart', t: T0 + 5000, props: { sku: uid('sku') } },
    ];
    let r = await collect({ anonymous_id: anon, user_id: uid('c-user'), events });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { accepted: 2, duplicates: 0, rejected: [] });
    r = await collect({ anonymous_id: anon, events });
    assert.deepEqual(r.body, { accepted: 0, duplicates: 2, rejected: [] });
    const p = await getProfile(anon);
    assert.equal(p.status, 200);
    assert.equal(p.body.events, 2);
    // Collect does not change profile state.
    assert.equal(p.body.state.components.length, 1);
  });

  test('collect: invalid events are rejected by index, naming the field; valid ones are kept', async () => {
    const anon = uid('c-mixed');
    await sync({ id: anon, delta: state([component(uid('dev'))]) });
    const events = [
      pageView(),
      { id: uid('ev'), t: T0 }, // no type
      { type: 'page_view', t: T0 }, // no id
      { id: uid('ev'), type: 'page_view', t: T0, page: { url: 5 } },
      { id: uid('ev'), type: 'page_view', t: T0, props: [1, 2] },
      { id: uid('ev'), type: 7, t: T0 },
      { id: uid('ev'), type: 'page_view' }, // no t
      { id: 'x'.repeat(129), type: 'page_view', t: T0 },
      { id: 42, type: 'page_view', t: T0 },
      'not an event',
      pageView(),
    ];
    const r = await collect({ anonymous_id: anon, events });
    assert.equal(r.status, 200);
    assert.equal(r.body.accepted, 2);
    assert.equal(r.body.duplicates, 0);
    const byIndex = Object.fromEntries(r.body.rejected.map((x) => [x.index, x.error]));
    assert.deepEqual(Object.keys(byIndex).map(Number), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.match(byIndex[1], /^events\[1\]\.type\b/);
    assert.match(byIndex[2], /^events\[2\]\.id\b/);
    assert.match(byIndex[3], /^events\[3\]\.page\.url\b.*string/);
    assert.match(byIndex[4], /^events\[4\]\.props\b.*object/);
    assert.match(byIndex[5], /^events\[5\]\.type\b/);
    assert.match(byIndex[6], /^events\[6\]\.t\b/);
    assert.match(byIndex[7], /^events\[7\]\.id\b.*128/);
    assert.match(byIndex[8], /^events\[8\]\.id\b/);
    assert.match(byIndex[9], /^events\[9\][ :]/);
    assert.equal((await getProfile(anon)).body.events, 2);
  });

  test('collect: rejected event errors read `events[i].<field>: <message>` (the documented form)', async () => {
    // docs/server.md: {"index": 1, "error": "events[1].type: is required"}; every other error of
    // the API is "<path>: <message>" too (events[i].id: ..., delta.components[0].version: ...).
    const r = await collect({
      anonymous_id: uid('c-form'),
      events: [
        { id: uid('ev'), t: T0 },
        { id: uid('ev'), type: 'x', t: T0, page: { url: 5 } },
        { id: uid('ev'), type: 'x', t: T0, props: [] },
        { id: uid('ev'), type: 'x' },
      ],
    });
    assert.equal(r.status, 200);
    const errors = r.body.rejected.map((x) => x.error);
    assert.equal(errors.length, 4);
    assert.match(errors[0], /^events\[0\]\.type: /);
    assert.match(errors[1], /^events\[1\]\.page\.url: /);
    assert.match(errors[2], /^events\[2\]\.props: /);
    assert.match(errors[3], /^events\[3\]\.t: /);
  });

  test('collect: a text/plain body (navigator.sendBeacon) with ?key= is accepted', async () => {
    const anon = uid('c-beacon');
    await sync({ id: anon, delta: state([component(uid('dev'))]) });
    const r = await call(s, 'POST', '/v1/collect?key=' + PK, {
      raw: true,
      body: JSON.stringify({ anonymous_id: anon, events: [pageView(), pageView()] }),
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.accepted, 2);
    assert.equal((await getProfile(anon)).body.events, 2);
  });

  test('collect: malformed JSON is 400 invalid_json with the byte offset', async () => {
    const send = (body) =>
      call(s, 'POST', '/v1/collect', {
        key: PK,
        raw: true,
        body,
        headers: { 'content-type': 'application/json' },
      });
    assertError(await send('{"anonymous_id":}'), 400, 'invalid_json', /^body: .*at byte 16\b/);
    assertError(await send('nul'), 400, 'invalid_json', /^body: .*at byte 0\b/);
    assertError(await send(''), 400, 'invalid_json', /^body: /);
    assertError(await send('{"anonymous_id": "a", "events": ['), 400, 'invalid_json', /^body: /);
  });

  test('collect: body, anonymous_id, user_id and events of the wrong type are 400 naming them', async () => {
    const ev = [pageView()];
    assertError(await collect([1, 2]), 400, 'invalid_request', /^body: must be a JSON object/);
    assertError(await collect('text'), 400, 'invalid_request', /^body: must be a JSON object/);
    assertError(await collect({ events: ev }), 400, 'invalid_request', /^anonymous_id: /);
    assertError(await collect({ anonymous_id: 7, events: ev }), 400, 'invalid_request', /^anonymous_id: /);
    assertError(await collect({ anonymous_id: '', events: ev }), 400, 'invalid_request', /^anonymous_id: /);
    assertError(
      await collect({ anonymous_id: 'a'.repeat(129), events: ev }),
      400,
      'invalid_request',
      /^anonymous_id: .*128/,
    );
    assertError(
      await collect({ anonymous_id: uid('c'), user_id: ['u'], events: ev }),
      400,
      'invalid_request',
      /^user_id: /,
    );
    assertError(await collect({ anonymous_id: uid('c') }), 400, 'invalid_request', /^events: /);
    assertError(
      await collect({ anonymous_id: uid('c'), events: { 0: ev[0] } }),
      400,
      'invalid_request',
      /^events: must be an array/,
    );
    // A rejected request changes nothing: the event of the refused batches is new.
    const r = await collect({ anonymous_id: uid('c'), events: ev });
    assert.deepEqual(r.body, { accepted: 1, duplicates: 0, rejected: [] });
  });

  // --- limits --------------------------------------------------------------------------------

  test('limits: an event over 32 KB is 413 for the whole batch, naming events[i]', async () => {
    const ok = pageView();
    const big = { id: uid('ev'), type: 'x', t: T0, props: { s: 'y'.repeat(33 * 1024) } };
    const r = await collect({ anonymous_id: uid('l-anon'), events: [ok, big] });
    assertError(r, 413, 'too_large', /^events\[1\]/);
    // Nothing of the batch was kept.
    const again = await collect({ anonymous_id: uid('l-anon'), events: [ok] });
    assert.deepEqual(again.body, { accepted: 1, duplicates: 0, rejected: [] });
  });

  test('limits: a batch over 512 KB is 413; more than 1000 events is 413', async () => {
    const events = Array.from({ length: 20 }, () => ({
      id: uid('ev'),
      type: 'x',
      t: T0,
      props: { s: 'z'.repeat(30000) },
    }));
    assertError(await collect({ anonymous_id: uid('l'), events }), 413, 'too_large');
    const many = Array.from({ length: 1001 }, (_, i) => ({ id: `l1001-${i}`, type: 'x', t: T0 }));
    assertError(await collect({ anonymous_id: uid('l'), events: many }), 413, 'too_large', /1000/);
    const thousand = many.slice(0, 1000).map((e) => ({ ...e, id: uid('ev') }));
    const r = await collect({ anonymous_id: uid('l'), events: thousand });
    assert.equal(r.body.accepted, 1000);
  });

  test('limits: a 3 MB body is answered 413 (not dropped) and the server keeps serving', async () => {
    // The head announces 3 MB; the server must refuse it as soon as it reads the head.
    const head =
      'POST /v1/collect HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer pk_demo\r\n' +
      `Content-Type: application/json\r\nContent-Length: ${3 << 20}\r\n\r\n`;
    const raw = await rawHttp(s.port, head, { timeout: 3000 });
    assert.equal(raw.status, 413, `expected a 413 answer, got: ${JSON.stringify(raw)}`);
    assert.equal(JSON.parse(raw.body).error, 'too_large');
    assert.equal((await call(s, 'GET', '/healthz')).status, 200);
  });

  test('limits: a 3 MB body sent by fetch gets a 413 or a closed connection, never a 200', async () => {
    let res = null;
    try {
      res = await call(s, 'POST', '/v1/collect', { key: PK, raw: true, body: 'x'.repeat(3 << 20) });
    } catch (e) {
      assert.match(String(e.cause?.code ?? e.message), /EPIPE|ECONNRESET|other side closed|fetch failed|UND_ERR/);
    }
    if (res) assertError(res, 413, 'too_large');
    const again = await collect({ anonymous_id: uid('l'), events: [pageView()] });
    assert.equal(again.status, 200);
  });

  test('limits: headers over 16 KB are refused with 431 and the connection closed', async () => {
    const r = await rawHttp(
      s.port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
    );
    assert.equal(r.status, 431, r.head);
    assert.match(r.head, /^connection: close$/im);
    assert.equal(JSON.parse(r.body).error, 'headers_too_large');
    // Headers just under the limit are fine.
    const ok = await call(s, 'GET', '/healthz', { headers: { 'x-big': 'a'.repeat(12 * 1024) } });
    assert.equal(ok.status, 200);
  });

  // --- sync ----------------------------------------------------------------------------------

  test('sync: the first sync creates the profile; a second device gets the first one\'s component', async () => {
    const anon = uid('s-anon');
    const d1 = uid('dev');
    const d2 = uid('dev');
    assertError(await getProfile(anon), 404, 'not_found');
    const c1 = component(d1, { version: 3, counts: { page_view: 4 } });
    let r = await sync({ id: anon, delta: state([c1]), versions: [[d1, 0, 3]] });
    assert.equal(r.status, 200);
    assert.equal(r.body.id, anon);
    assert.deepEqual(r.body.cursor, [[d1, 0, 3]]);
    assert.deepEqual(r.body.delta.components, [], 'the device has everything');
    const p = await getProfile(anon);
    assert.equal(p.status, 200);
    assert.equal(p.body.id, anon);
    assert.deepEqual(p.body.aliases, []);
    assert.deepEqual(p.body.state.components, [c1]);
    // The second device sends its own component and learns the first one's.
    const c2 = component(d2, { counts: { add_to_cart: 1 } });
    r = await sync({ id: anon, delta: state([c2]), versions: [[d2, 0, 1]] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.delta.components, [c1]);
    assert.deepEqual(
      r.body.cursor.toSorted(byKey),
      [
        [d1, 0, 3],
        [d2, 0, 1],
      ].toSorted(byKey),
    );
  });

  test('sync: repeating a sync is idempotent (the stored state does not change)', async () => {
    const anon = uid('s-idem');
    const dev = uid('dev');
    const body = {
      id: anon,
      delta: state([component(dev, { version: 2 })], { consent: CONSENT(dev) }),
      versions: [[dev, 0, 2]],
    };
    const first = await sync(body);
    assert.equal(first.status, 200);
    const before = await getProfile(anon);
    const second = await sync(body);
    assert.deepEqual(second.body, first.body);
    const after = await getProfile(anon);
    assert.deepEqual(after.body, before.body);
    // An older version of the same component changes nothing either.
    await sync({ id: anon, delta: state([component(dev, { version: 1, counts: { x: 9 } })]) });
    assert.deepEqual((await getProfile(anon)).body, before.body);
  });

  test('sync: a body written another way (spacing, order, escapes, extra or repeated members) syncs alike', async () => {
    // pz-server reads the common body straight from its text and any other through a JSON
    // parse: both must give the same answers and stored states.
    const dev = uid('dev');
    const delta = state([component(dev, { version: 2, counts: { page_view: 3 } })], {
      consent: CONSENT(dev),
      traits: [['name', 'Zoë', T0, 0, dev]],
    });
    const versions = [[dev, 0, 2]];
    const plain = (id) => JSON.stringify({ id, delta, versions });
    const forms = [
      plain,
      (id) => JSON.stringify({ versions, delta, id }, null, 2),
      (id) => plain(id).replace('"id":"s-', '"id":"\\u0073-'),
      (id) => JSON.stringify({ id, delta, versions, extra: [1] }),
      (id) => `{"id":"other",${plain(id).slice(1, -1)},"id":"${id}"}`,
      (id) => JSON.stringify({ id, delta: { ...delta, traits: [['name', 'Zo\u00eb', T0, 0, dev]] } }),
      (id) => JSON.stringify({ id, delta, versions: null }),
    ];
    const seed = state([component(uid('dev'), { counts: { add_to_cart: 2 } })]);
    const results = [];
    for (const form of forms) {
      const id = uid('s-form');
      assert.equal((await sync({ id, delta: seed })).status, 200);
      const r = await call(s, 'POST', '/v1/sync', { key: PK, body: form(id), raw: true });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.id, id);
      delete r.body.id;
      results.push({ answer: r.body, state: (await getProfile(id)).body.state });
    }
    // The forms without versions answer every component; the others only the seed's.
    assert.equal(results[0].answer.delta.components.length, 1);
    for (const [i, r] of results.entries()) {
      const want = results[i >= 5 ? 5 : 0];
      assert.deepEqual(r, want, `form ${i}`);
    }
    assert.deepEqual(results[5].state, results[0].state);
  });

  test('sync: two wasm engines converge through the server (the SDK\'s exchange)', async (t) => {
    const core = await loadCore(fs.readFileSync(PZ_WASM));
    const val = (r) => {
      if (!r.ok) throw new Error(r.error);
      return r.value;
    };
    const anon = uid('s-wasm');
    const engine = (device) => {
      const e = core.engine();
      val(e.loadBundle(DEMO_BUNDLE));
      val(e.setIds({ anonymous_id: anon, device_id: device }));
      return e;
    };
    const phone = engine(uid('phone'));
    const laptop = engine(uid('laptop'));
    val(phone.consent({ analytics: true, personalization: true }, T0));
    for (let i = 0; i < 3; i++) {
      val(phone.ingest({ type: 'page_view', t: T0 + i * 1000, page: { path: '/pricing' } }));
    }
    val(phone.ingest({ type: 'add_to_cart', t: T0 + 5000 }));
    const exchange = async (e, cursor) => {
      const r = await sync({ id: anon, ...val(e.syncRequest(cursor)) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      val(e.mergeState(r.body.delta, T0 + 10000));
      return r.body.cursor;
    };
    const phoneCursor = await exchange(phone, null);
    await exchange(laptop, null);
    assert.ok(val(laptop.segments()).includes('high_intent'));
    // The phone's next sync with its cursor sends nothing new and changes nothing.
    const before = await getProfile(anon);
    await exchange(phone, phoneCursor);
    assert.deepEqual((await getProfile(anon)).body, before.body);
    phone.free();
    laptop.free();
  });

  test('sync: a malformed delta is 400 naming delta.<path>; versions[i]; unsupported v', async () => {
    const anon = uid('s-bad');
    const dev = uid('dev');
    const bad = component(dev);
    bad.version = 1.5;
    assertError(
      await sync({ id: anon, delta: state([component(uid('dev')), bad]) }),
      400,
      'invalid_request',
      /^delta\.components\[1\]\.version: /,
    );
    assertError(
      await sync({ id: anon, delta: state([{ ...component(dev), counts: 'many' }]) }),
      400,
      'invalid_request',
      /^delta\.components\[0\]\.counts\b/,
    );
    assertError(
      await sync({ id: anon, delta: { ...state([]), v: 2 } }),
      400,
      'invalid_request',
      /^delta\.v: unsupported format version/,
    );
    assertError(await sync({ id: anon, delta: { v: 1 } }), 400, 'invalid_request', /^delta\./);
    assertError(await sync({ id: anon, delta: [] }), 400, 'invalid_request', /^delta: /);
    assertError(await sync({ id: anon }), 400, 'invalid_request', /^delta: /);
    assertError(
      await sync({ id: anon, delta: state([]), versions: [[dev, 0, 'x']] }),
      400,
      'invalid_request',
      /^versions\[0\]\[2\]: /,
    );
    assertError(
      await sync({ id: anon, delta: state([]), versions: [[dev, 0, 1], 'x'] }),
      400,
      'invalid_request',
      /^versions\[1\]/,
    );
    assertError(
      await sync({ id: anon, delta: state([]), versions: 'x' }),
      400,
      'invalid_request',
      /^versions\b/,
    );
    assertError(await sync({ delta: state([]) }), 400, 'invalid_request', /^id: /);
    assertError(await sync({ id: 5, delta: state([]) }), 400, 'invalid_request', /^id: /);
    // None of the refused syncs created the profile.
    assertError(await getProfile(anon), 404, 'not_found');
  });

  // --- identify ------------------------------------------------------------------------------

  test('identify: links anonymous → user and merges; relinking is fine; another user is 409', async () => {
    const anon = uid('i-anon');
    const user = uid('i-user');
    const dAnon = uid('dev');
    const dUser = uid('dev');
    const cAnon = component(dAnon, { counts: { page_view: 2 } });
    const cUser = component(dUser, { counts: { purchase: 1 } });
    await sync({ id: anon, delta: state([cAnon]) });
    await sync({ id: user, delta: state([cUser]) });
    const ev = pageView();
    await collect({ anonymous_id: anon, events: [ev] });
    let r = await call(s, 'POST', '/v1/identify', { key: PK, body: { anonymous_id: anon, user_id: user } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { id: user, merged: true });
    const p = await getProfile(user);
    assert.equal(p.status, 200);
    assert.equal(p.body.id, user);
    assert.deepEqual(p.body.aliases, [anon]);
    const devices = p.body.state.components.map((c) => c.device).sort();
    assert.deepEqual(devices, [dAnon, dUser].sort());
    assert.equal(p.body.events, 1, "the anonymous id's events count for the user");
    // The anonymous id resolves to the user.
    const viaAnon = await getProfile(anon);
    assert.equal(viaAnon.status, 200);
    assert.equal(viaAnon.body.id, user);
    // A sync under the anonymous id lands in the user's profile.
    r = await sync({ id: anon, delta: state([]), versions: [[dAnon, 0, 1]] });
    assert.equal(r.body.id, user);
    assert.deepEqual(r.body.delta.components, [cUser]);
    // Relinking the same pair is fine.
    r = await call(s, 'POST', '/v1/identify', { key: PK, body: { anonymous_id: anon, user_id: user } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { id: user, merged: false });
    // Another user: 409, nothing changes.
    r = await call(s, 'POST', '/v1/identify', {
      key: PK,
      body: { anonymous_id: anon, user_id: uid('i-other') },
    });
    assertError(r, 409, 'conflict');
    assert.deepEqual((await getProfile(user)).body, p.body);
  });

  test('identify: bad fields are 400 naming them', async () => {
    const id = (body) => call(s, 'POST', '/v1/identify', { key: PK, body });
    assertError(await id({ user_id: uid('u') }), 400, 'invalid_request', /^anonymous_id: /);
    assertError(await id({ anonymous_id: 5, user_id: uid('u') }), 400, 'invalid_request', /^anonymous_id: /);
    assertError(
      await id({ anonymous_id: 'a'.repeat(129), user_id: uid('u') }),
      400,
      'invalid_request',
      /^anonymous_id: /,
    );
    assertError(await id({ anonymous_id: uid('a') }), 400, 'invalid_request', /^user_id: /);
    assertError(await id({ anonymous_id: uid('a'), user_id: {} }), 400, 'invalid_request', /^user_id: /);
    assertError(await id([]), 400, 'invalid_request', /^body: /);
  });

  // --- decide --------------------------------------------------------------------------------

  test('decide: an unknown id is a new visitor (defaults)', async () => {
    const id = uid('d-new');
    const r = await call(s, 'POST', '/v1/decide', {
      key: PK,
      body: { id, slots: ['hero', 'banner'], now: T0 },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      id,
      segments: [],
      decisions: [
        { slot: 'hero', action: null, content: { title: 'Welcome' } },
        { slot: 'banner', action: null, content: { title: 'Free shipping over $50' } },
      ],
    });
    assertError(await getProfile(id), 404, 'not_found', undefined);
  });

  test('decide: a stored profile that qualifies gets its segments and decisions; why on demand', async () => {
    // demo bundle: high_intent = pricing_views >= 3 in 7d and add_to_cart >= 1 in 7d → vip_offer.
    const anon = uid('d-hi');
    const dev = uid('dev');
    const c = component(dev, {
      counts: { page_view: 3, add_to_cart: 1 },
      metrics: { pricing_views: 3 },
    });
    await sync({ id: anon, delta: state([c], { consent: CONSENT(dev) }) });
    const now = T0 + 60000;
    let r = await call(s, 'POST', '/v1/decide', {
      key: PK,
      body: { id: anon, slots: ['hero', 'banner'], now, page: { path: '/pricing' } },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.id, anon);
    assert.ok(r.body.segments.includes('high_intent'), JSON.stringify(r.body));
    assert.ok(r.body.segments.includes('engaged'));
    assert.deepEqual(r.body.decisions[0], {
      slot: 'hero',
      action: 'vip_offer',
      content: { title: '10% off today' },
    });
    assert.equal(r.body.decisions[1].slot, 'banner');
    assert.ok(!('why' in r.body.decisions[0]));
    r = await call(s, 'POST', '/v1/decide', {
      key: PK,
      body: { id: anon, slots: ['hero'], now, why: true, context: { device: 'mobile' } },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.decisions[0].action, 'vip_offer');
    assert.equal(typeof r.body.decisions[0].why, 'object');
    assert.equal(r.body.decisions[0].why.slot, 'hero');
    // Later than the 7-day window: the segment is gone.
    r = await call(s, 'POST', '/v1/decide', {
      key: PK,
      body: { id: anon, slots: ['hero'], now: T0 + 8 * DAY },
    });
    assert.ok(!r.body.segments.includes('high_intent'));
    assert.equal(r.body.decisions[0].action, null);
  });

  test('decide: bad id, slots, page, context, consent and now are 400 naming the field', async () => {
    const d = (body) => call(s, 'POST', '/v1/decide', { key: PK, body });
    const id = uid('d-bad');
    assertError(await d({ slots: ['hero'] }), 400, 'invalid_request', /^id: /);
    assertError(await d({ id }), 400, 'invalid_request', /^slots: /);
    assertError(await d({ id, slots: [] }), 400, 'invalid_request', /^slots: /);
    assertError(await d({ id, slots: 'hero' }), 400, 'invalid_request', /^slots: /);
    assertError(await d({ id, slots: Array(65).fill('hero') }), 400, 'invalid_request', /^slots: /);
    assertError(await d({ id, slots: ['hero', 5] }), 400, 'invalid_request', /^slots\[1\]: /);
    assertError(await d({ id, slots: ['hero'], page: '/x' }), 400, 'invalid_request', /^page: /);
    assertError(await d({ id, slots: ['hero'], context: [1] }), 400, 'invalid_request', /^context: /);
    assertError(await d({ id, slots: ['hero'], consent: true }), 400, 'invalid_request', /^consent: /);
    assertError(await d({ id, slots: ['hero'], now: 'soon' }), 400, 'invalid_request', /^now: /);
    assertError(await d({ id, slots: ['hero'], now: 1e300 }), 400, 'invalid_request', /^now: /);
  });

  // --- profiles ------------------------------------------------------------------------------

  test('profiles: unknown ids are 404 for GET and DELETE', async () => {
    assertError(await getProfile(uid('p-none')), 404, 'not_found');
    const r = await call(s, 'DELETE', '/v1/profiles/' + uid('p-none'), { key: SK });
    assertError(r, 404, 'not_found');
  });

  test('profiles: DELETE erases state and the events of the profile and its aliases', async () => {
    const anon = uid('p-anon');
    const other = uid('p-anon2');
    const user = uid('p-user');
    const dev = uid('dev');
    await sync({ id: anon, delta: state([component(dev, { counts: { page_view: 5 } })]) });
    await collect({ anonymous_id: anon, events: [pageView(), pageView()] });
    let r = await call(s, 'POST', '/v1/identify', { key: PK, body: { anonymous_id: anon, user_id: user } });
    assert.equal(r.status, 200);
    // An event collected under another anonymous id, with the user id.
    await collect({ anonymous_id: other, user_id: user, events: [pageView()] });
    await sync({
      id: user,
      delta: state([], { user_id: [user, T0, 0, dev], traits: [['plan', 'pro', T0, 1, dev]] }),
    });
    const before = await getProfile(user);
    assert.equal(before.body.events, 3);
    assert.deepEqual(before.body.state.user_id, [user, T0, 0, dev]);
    const t0 = Date.now();
    r = await call(s, 'DELETE', '/v1/profiles/' + user, { key: SK });
    assert.equal(r.status, 200);
    assert.equal(r.body.id, user);
    assert.equal(r.body.events_deleted, 3);
    assert.ok(r.body.erased_at >= t0 - 1000 && r.body.erased_at <= Date.now() + 1000);
    const erasedAt = r.body.erased_at;
    const p = await getProfile(user);
    assert.equal(p.status, 200);
    assert.equal(p.body.events, 0);
    assert.equal(p.body.state.erased_at, erasedAt);
    assert.deepEqual(p.body.state.components, []);
    assert.deepEqual(p.body.state.traits, []);
    assert.equal(p.body.state.user_id, null);
    // The device's next sync (under the anonymous id) learns the erasure epoch; its old
    // component is dropped.
    r = await sync({ id: anon, delta: state([component(dev, { version: 2 })]), versions: [[dev, 0, 2]] });
    assert.equal(r.status, 200);
    assert.equal(r.body.id, user);
    assert.equal(r.body.delta.erased_at, erasedAt);
    assert.deepEqual((await getProfile(user)).body.state.components, []);
    // Erasing an erased profile again answers, with nothing left to delete.
    r = await call(s, 'DELETE', '/v1/profiles/' + user, { key: SK });
    assert.equal(r.status, 200);
    assert.equal(r.body.events_deleted, 0);
  });

  test('profiles: an id over 128 bytes in the path is 400', async () => {
    assertError(await getProfile('p'.repeat(129)), 400, 'invalid_request');
  });

  // --- routing -------------------------------------------------------------------------------

  test('routing: wrong methods are 405 with Allow; unknown /v1 paths and other paths are 404', async () => {
    const cases = [
      ['GET', '/v1/collect', 'POST'],
      ['PUT', '/v1/sync', 'POST'],
      ['GET', '/v1/identify', 'POST'],
      ['GET', '/v1/decide', 'POST'],
      ['DELETE', '/v1/bundle', 'GET, PUT'],
      ['POST', '/v1/bundle/versions', 'GET'],
      ['GET', '/v1/bundle/rollback', 'POST'],
      ['PUT', '/v1/profiles/x', 'GET, DELETE'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['POST', '/metrics', 'GET'],
    ];
    for (const [method, p, allow] of cases) {
      const r = await call(s, method, p, { key: SK });
      assertError(r, 405, 'method_not_allowed');
      assert.equal(r.headers.get('allow'), allow, `${method} ${p}`);
    }
    assertError(await call(s, 'GET', '/v1/nope', { key: SK }), 404, 'not_found');
    assertError(await call(s, 'POST', '/v1/collect/x', { key: PK, body: {} }), 404, 'not_found');
    // Without --static, a path outside /v1 is 404.
    assertError(await call(s, 'GET', '/'), 404, 'not_found');
    assertError(await call(s, 'GET', '/index.html'), 404, 'not_found');
  });

  test('answers are typed and never sniffed: JSON errors that echo input stay JSON', async () => {
    // Input echoed in a message (a path, a method) comes back inside a JSON string, in an
    // application/json answer with nosniff: a browser never renders it as a page.
    const hostile = '/v1/<script>alert(1)</script>';
    const r = await rawGet(s.port, hostile);
    assert.equal(r.status, 404);
    assert.match(r.head, /\r\ncontent-type: application\/json\r\n/i);
    assert.match(r.head, /\r\nx-content-type-options: nosniff\r\n/i);
    assert.equal(JSON.parse(r.body).error, 'not_found');
    for (const [method, p, key] of [['GET', '/healthz'], ['GET', '/v1/bundle', PK],
      ['POST', '/v1/decide', PK], ['GET', '/metrics'], ['GET', '/v1/profiles/nobody', SK]]) {
      const res = await call(s, method, p, { key, body: method === 'POST' ? {} : undefined });
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${method} ${p}`);
      assert.match(res.headers.get('content-type'), p === '/metrics' ? /^text\/plain/ : /^application\/json/);
    }
  });

  test('logs: JSON lines, request fields, no ids, event contents or prop values', () => {
    // The demo site's own keys (pk_demo, sk_demo) are printed in its warning on purpose.
    checkLogs(s);
    assert.ok(s.logs.some((l) => l.level === 'warn' && /demo/.test(l.msg)));
  });
});

// ---------------------------------------------------------------------------------------------

describe('keys and sites: auth, isolation, CORS, rate limits', () => {
  const { A, B, C, keys } = makeSites();
  let s;
  before(async () => {
    s = await startServer({ keys });
  });
  after(() => s.stop());

  const syncAs = (key, id, delta) => call(s, 'POST', '/v1/sync', { key, body: { id, delta } });

  test('no key and unknown keys are 401 on every endpoint', async () => {
    const endpoints = [
      ['POST', '/v1/collect', { anonymous_id: 'x', events: [] }],
      ['POST', '/v1/sync', {}],
      ['POST', '/v1/identify', {}],
      ['POST', '/v1/decide', {}],
      ['GET', '/v1/bundle'],
      ['PUT', '/v1/bundle', {}],
      ['GET', '/v1/bundle/versions'],
      ['POST', '/v1/bundle/rollback', {}],
      ['GET', '/v1/profiles/x'],
      ['DELETE', '/v1/profiles/x'],
    ];
    for (const [method, p, body] of endpoints) {
      assertError(await call(s, method, p, { body }), 401, 'unauthorized', undefined);
      assertError(await call(s, method, p, { body, key: 'pk_nope_123' }), 401, 'unauthorized');
      assertError(await call(s, method, p, { body, key: 'pk_demo' }), 401, 'unauthorized');
      const basic = await call(s, method, p, { body, headers: { authorization: 'Basic ' + A.sk } });
      assertError(basic, 401, 'unauthorized');
    }
  });

  test('a write key on secret endpoints is 403', async () => {
    const endpoints = [
      ['PUT', '/v1/bundle', JSON.parse(DEMO_BUNDLE)],
      ['GET', '/v1/bundle/versions'],
      ['POST', '/v1/bundle/rollback', {}],
      ['GET', '/v1/profiles/x'],
      ['DELETE', '/v1/profiles/x'],
    ];
    for (const [method, p, body] of endpoints) {
      assertError(await call(s, method, p, { body, key: A.pk }), 403, 'forbidden', /secret key/);
    }
  });

  test('a secret key with an Origin header is 403 (a secret key in a browser)', async () => {
    for (const [method, p] of [
      ['GET', '/v1/profiles/x'],
      ['GET', '/v1/bundle'],
      ['GET', '/v1/bundle/versions'],
    ]) {
      const r = await call(s, method, p, { key: A.sk, headers: { origin: A.origin } });
      assertError(r, 403, 'forbidden', /secret key/);
    }
  });

  test('the Bearer scheme is case-insensitive', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const r = await call(s, 'GET', '/v1/bundle', { headers: { authorization: `${scheme} ${A.pk}` } });
      assert.equal(r.status, 200, scheme);
    }
  });

  test('?key= works for collect and GET /v1/bundle only, never for secret endpoints', async () => {
    const q = (k) => '?key=' + encodeURIComponent(k);
    let r = await call(s, 'POST', '/v1/collect' + q(A.pk), {
      body: { anonymous_id: uid('q'), events: [pageView()] },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.accepted, 1);
    r = await call(s, 'GET', '/v1/bundle' + q(A.pk));
    assert.equal(r.status, 200);
    assert.ok(r.headers.get('etag'));
    for (const [method, p, body] of [
      ['GET', '/v1/profiles/x'],
      ['DELETE', '/v1/profiles/x'],
      ['PUT', '/v1/bundle', JSON.parse(DEMO_BUNDLE)],
      ['GET', '/v1/bundle/versions'],
      ['POST', '/v1/bundle/rollback', {}],
    ]) {
      assertError(await call(s, method, p + q(A.sk), { body }), 401, 'unauthorized');
    }
    // Nor for sync/identify/decide, which the SDK calls with fetch and a header.
    assertError(
      await call(s, 'POST', '/v1/sync' + q(A.pk), { body: { id: 'x', delta: state([]) } }),
      401,
      'unauthorized',
    );
  });

  test('a secret key is refused in the query string (only write keys may go there)', async () => {
    // docs/server.md: "Write keys may also go in the query string". A secret key in a URL ends
    // up in proxies' and browsers' logs.
    const r = await call(s, 'POST', '/v1/collect?key=' + A.sk, {
      body: { anonymous_id: uid('q'), events: [pageView()] },
    });
    assert.ok(r.status === 401 || r.status === 403, `got ${r.status} ${JSON.stringify(r.body)}`);
  });

  test("site A's keys cannot read or change site B's data", async () => {
    const id = uid('iso');
    const dev = uid('dev');
    // B has a profile with events.
    assert.equal((await syncAs(B.pk, id, state([component(dev)]))).status, 200);
    const ev = pageView();
    let r = await call(s, 'POST', '/v1/collect', { key: B.pk, body: { anonymous_id: id, events: [ev] } });
    assert.equal(r.body.accepted, 1);
    const bBefore = await call(s, 'GET', '/v1/profiles/' + id, { key: B.sk });
    assert.equal(bBefore.status, 200);
    assert.equal(bBefore.body.events, 1);
    // A sees no such profile, and cannot erase it.
    assertError(await call(s, 'GET', '/v1/profiles/' + id, { key: A.sk }), 404, 'not_found');
    assertError(await call(s, 'DELETE', '/v1/profiles/' + id, { key: A.sk }), 404, 'not_found');
    // A's collect with the same anonymous id and event id is A's: not a duplicate of B's, and
    // B's count does not move.
    r = await call(s, 'POST', '/v1/collect', { key: A.pk, body: { anonymous_id: id, events: [ev, pageView()] } });
    assert.deepEqual(r.body, { accepted: 2, duplicates: 0, rejected: [] });
    // A's identify of the same id links nothing at B.
    r = await call(s, 'POST', '/v1/identify', {
      key: A.pk,
      body: { anonymous_id: id, user_id: uid('iso-user') },
    });
    assert.equal(r.status, 200);
    // A's decide: a new visitor at A.
    r = await call(s, 'POST', '/v1/decide', { key: A.pk, body: { id, slots: ['hero'], now: T0 } });
    assert.deepEqual(r.body.segments, []);
    // A's sync of the same id merges into A's profile: the answer carries none of B's devices.
    const devA = uid('dev-a');
    r = await syncAs(A.pk, id, state([component(devA)]));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.cursor.map((c) => c[0]), [devA]);
    assert.ok(!JSON.stringify(r.body).includes(dev), "B's device is not in A's answer");
    const bAfter = await call(s, 'GET', '/v1/profiles/' + id, { key: B.sk });
    assert.deepEqual(bAfter.body, bBefore.body);
  });

  test("site A's bundle is separate from site B's", async () => {
    const bBefore = await call(s, 'GET', '/v1/bundle', { key: B.pk });
    const aBefore = await call(s, 'GET', '/v1/bundle', { key: A.pk });
    assert.equal(aBefore.headers.get('etag'), bBefore.headers.get('etag'), 'both start with --bundle');
    const next = JSON.parse(DEMO_BUNDLE);
    next.version = 'shop-2';
    next.defaults.hero.content.title = 'Shop only';
    const put = await call(s, 'PUT', '/v1/bundle', { key: A.sk, body: next });
    assert.equal(put.status, 200);
    assert.equal(put.body.version, 2);
    const aAfter = await call(s, 'GET', '/v1/bundle', { key: A.pk });
    assert.equal(aAfter.headers.get('etag'), put.body.etag);
    assert.equal(aAfter.body.version, 'shop-2');
    const bAfter = await call(s, 'GET', '/v1/bundle', { key: B.pk });
    assert.equal(bAfter.headers.get('etag'), bBefore.headers.get('etag'));
    assert.deepEqual(bAfter.body, bBefore.body);
    const bVersions = await call(s, 'GET', '/v1/bundle/versions', { key: B.sk });
    assert.equal(bVersions.body.active, 1);
    assert.equal(bVersions.body.versions.length, 1);
    // Decisions follow each site's bundle.
    const dA = await call(s, 'POST', '/v1/decide', { key: A.pk, body: { id: uid('x'), slots: ['hero'] } });
    const dB = await call(s, 'POST', '/v1/decide', { key: B.pk, body: { id: uid('x'), slots: ['hero'] } });
    assert.equal(dA.body.decisions[0].content.title, 'Shop only');
    assert.equal(dB.body.decisions[0].content.title, 'Welcome');
    // B's rollback does not touch A: B has nothing before version 1.
    assertError(await call(s, 'POST', '/v1/bundle/rollback', { key: B.sk }), 409, 'conflict');
  });

  test('CORS: preflight from an allowed origin is 204 with Allow-* headers; others 403', async () => {
    const r = await call(s, 'OPTIONS', '/v1/collect', {
      headers: {
        origin: A.origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), A.origin);
    assert.match(r.headers.get('access-control-allow-methods'), /\bPOST\b/);
    assert.match(r.headers.get('access-control-allow-headers'), /\bauthorization\b/i);
    assert.match(r.headers.get('access-control-allow-headers'), /\bcontent-type\b/i);
    assert.match(r.headers.get('vary'), /\bOrigin\b/);
    const evil = await call(s, 'OPTIONS', '/v1/collect', {
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assertError(evil, 403, 'forbidden');
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    assertError(await call(s, 'OPTIONS', '/v1/collect'), 403, 'forbidden');
  });

  test('CORS: an allowed origin gets Allow-Origin + Vary; another site\'s origin is 403', async () => {
    const id = uid('cors');
    let r = await call(s, 'POST', '/v1/collect', {
      key: A.pk,
      headers: { origin: A.origin },
      body: { anonymous_id: id, events: [pageView()] },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), A.origin);
    assert.match(r.headers.get('vary'), /\bOrigin\b/);
    r = await call(s, 'GET', '/v1/bundle', { key: A.pk, headers: { origin: A.origin } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('access-control-expose-headers') ?? '', /\bETag\b/i);
    // B's origin is allowed somewhere (the preflight passes) but not for A's key.
    r = await call(s, 'POST', '/v1/collect', {
      key: A.pk,
      headers: { origin: B.origin },
      body: { anonymous_id: id, events: [pageView()] },
    });
    assertError(r, 403, 'forbidden', /origin/);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    r = await call(s, 'POST', '/v1/collect', {
      key: A.pk,
      headers: { origin: 'https://evil.example' },
      body: { anonymous_id: id, events: [pageView()] },
    });
    assertError(r, 403, 'forbidden');
  });

  test('rate limit: the 4th quick request of a {1/s, burst 3} site is 429 with Retry-After', async () => {
    const statuses = [];
    let limited = null;
    for (let i = 0; i < 4; i++) {
      const r = await call(s, 'GET', '/v1/bundle', { key: C.pk });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assertError(limited, 429, 'rate_limited');
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After ${retry}`);
    // Other sites are unaffected.
    for (let i = 0; i < 5; i++) {
      assert.equal((await call(s, 'GET', '/v1/bundle', { key: A.pk })).status, 200);
    }
    const m = parseMetrics(await (await s.fetch('/metrics')).text());
    assert.ok(m.get('pz_rate_limited_total') >= 1);
    assert.ok(m.get('pz_http_requests_total{route="bundle",status="429"}') >= 1);
  });

  test('logs: no keys, ids or prop values', () => {
    checkLogs(s);
    const sites = s.logs.filter((l) => l.msg === 'request' && l.site).map((l) => l.site);
    assert.ok(sites.includes('shop') && sites.includes('blog') && sites.includes('slow'));
  });
});

// ---------------------------------------------------------------------------------------------

describe('bundle versions', () => {
  let s;
  before(async () => {
    s = await startServer();
  });
  after(() => s.stop());

  test('GET answers the active bundle with an ETag; If-None-Match gets 304', async () => {
    const r = await s.fetch('/v1/bundle', { headers: { authorization: 'Bearer ' + PK } });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), DEMO_BUNDLE);
    const etag = r.headers.get('etag');
    assert.match(etag, /^"[^"]+"$/);
    const nm = await s.fetch('/v1/bundle', {
      headers: { authorization: 'Bearer ' + PK, 'if-none-match': etag },
    });
    assert.equal(nm.status, 304);
    assert.equal(await nm.text(), '');
    assert.equal(nm.headers.get('etag'), etag);
    const other = await s.fetch('/v1/bundle', {
      headers: { authorization: 'Bearer ' + PK, 'if-none-match': '"nope"' },
    });
    assert.equal(other.status, 200);
  });

  test('PUT of an invalid bundle is 422 with every error and its path; the active one stays', async () => {
    const before = await call(s, 'GET', '/v1/bundle', { key: PK });
    const bad = JSON.parse(DEMO_BUNDLE);
    bad.metrics[0].event = 5;
    bad.actions[0].propensity = 'high';
    const r = await call(s, 'PUT', '/v1/bundle', { key: SK, body: bad });
    assertError(r, 422, 'invalid_bundle');
    assert.ok(Array.isArray(r.body.errors) && r.body.errors.length >= 2, JSON.stringify(r.body));
    for (const e of r.body.errors) {
      assert.equal(typeof e.path, 'string');
      assert.equal(typeof e.message, 'string');
    }
    const paths = r.body.errors.map((e) => e.path);
    assert.ok(paths.some((p) => p.startsWith('metrics[0].event')), paths.join());
    assert.ok(paths.some((p) => p.startsWith('actions[0].propensity')), paths.join());
    // Not JSON at all.
    const notJson = await call(s, 'PUT', '/v1/bundle', { key: SK, raw: true, body: '{"version":' });
    assert.ok([400, 422].includes(notJson.status), String(notJson.status));
    const after = await call(s, 'GET', '/v1/bundle', { key: PK });
    assert.equal(after.headers.get('etag'), before.headers.get('etag'));
    const v = await call(s, 'GET', '/v1/bundle/versions', { key: SK });
    assert.equal(v.body.versions.length, 1);
  });

  test('PUT, versions, rollback: new versions become active; rollback restores body and ETag', async () => {
    const v1 = await call(s, 'GET', '/v1/bundle', { key: PK });
    const v1etag = v1.headers.get('etag');
    const next = JSON.parse(DEMO_BUNDLE);
    next.version = 'put-test.2';
    next.defaults.hero.content.title = 'Hello again';
    const put = await call(s, 'PUT', '/v1/bundle', { key: SK, body: next });
    assert.equal(put.status, 200);
    assert.equal(put.body.version, 2);
    assert.equal(put.body.bundle_version, 'put-test.2');
    assert.notEqual(put.body.etag, v1etag);
    const got = await call(s, 'GET', '/v1/bundle', { key: PK });
    assert.equal(got.headers.get('etag'), put.body.etag);
    assert.deepEqual(got.body, next);
    let d = await call(s, 'POST', '/v1/decide', { key: PK, body: { id: uid('b'), slots: ['hero'] } });
    assert.equal(d.body.decisions[0].content.title, 'Hello again');
    const list = await call(s, 'GET', '/v1/bundle/versions', { key: SK });
    assert.equal(list.status, 200);
    assert.equal(list.body.active, 2);
    assert.deepEqual(
      list.body.versions.map((v) => [v.version, v.etag, v.bundle_version]),
      [
        [1, v1etag, '2026-11-23.1'],
        [2, put.body.etag, 'put-test.2'],
      ],
    );
    // Rollback to the previous version.
    let rb = await call(s, 'POST', '/v1/bundle/rollback', { key: SK });
    assert.equal(rb.status, 200);
    assert.equal(rb.body.version, 1);
    assert.equal(rb.body.etag, v1etag);
    const back = await s.fetch('/v1/bundle', { headers: { authorization: 'Bearer ' + PK } });
    assert.equal(back.headers.get('etag'), v1etag);
    assert.equal(await back.text(), DEMO_BUNDLE);
    d = await call(s, 'POST', '/v1/decide', { key: PK, body: { id: uid('b'), slots: ['hero'] } });
    assert.equal(d.body.decisions[0].content.title, 'Welcome');
    // At version 1 there is none before: 409. An unknown version: 404. A bad one: 400.
    assertError(await call(s, 'POST', '/v1/bundle/rollback', { key: SK }), 409, 'conflict');
    assertError(
      await call(s, 'POST', '/v1/bundle/rollback', { key: SK, body: { version: 99 } }),
      404,
      'not_found',
    );
    assertError(
      await call(s, 'POST', '/v1/bundle/rollback', { key: SK, body: { version: 'two' } }),
      400,
      'invalid_request',
      /^version: /,
    );
    assertError(
      await call(s, 'POST', '/v1/bundle/rollback', { key: SK, body: { version: 1.5 } }),
      400,
      'invalid_request',
      /^version: /,
    );
    // Forward again by number.
    rb = await call(s, 'POST', '/v1/bundle/rollback', { key: SK, body: { version: 2 } });
    assert.equal(rb.status, 200);
    assert.equal(rb.body.version, 2);
    assert.equal((await call(s, 'GET', '/v1/bundle/versions', { key: SK })).body.active, 2);
    assert.equal((await call(s, 'GET', '/v1/bundle', { key: PK })).headers.get('etag'), put.body.etag);
  });

  test('a site without a bundle: GET /v1/bundle and decide are 404 until a PUT', async () => {
    const bare = await startServer({ bundle: null });
    try {
      assertError(await call(bare, 'GET', '/v1/bundle', { key: PK }), 404, 'not_found');
      const body = { id: uid('nb'), slots: ['hero'] };
      assertError(await call(bare, 'POST', '/v1/decide', { key: PK, body }), 404, 'not_found');
      assertError(await call(bare, 'POST', '/v1/bundle/rollback', { key: SK }), 409, 'conflict');
      const put = await call(bare, 'PUT', '/v1/bundle', { key: SK, raw: true, body: DEMO_BUNDLE });
      assert.equal(put.status, 200);
      assert.equal(put.body.version, 1);
      assert.equal((await call(bare, 'POST', '/v1/decide', { key: PK, body })).status, 200);
    } finally {
      await bare.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('static files (--static)', () => {
  let s;
  let root;
  const SECRET = 'top secret ' + crypto.randomBytes(4).toString('hex');
  before(async () => {
    root = tempDir('pz-static-');
    const www = path.join(root, 'www');
    fs.mkdirSync(path.join(www, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(www, 'index.html'), '<h1>home</h1>');
    fs.writeFileSync(path.join(www, 'app.js'), 'export const x = 1;');
    fs.writeFileSync(path.join(www, 'style.css'), 'h1 { color: red }');
    fs.writeFileSync(path.join(www, 'data.json'), '{"a":1}');
    fs.writeFileSync(path.join(www, 'core.wasm'), Buffer.from([0, 97, 115, 109]));
    fs.writeFileSync(path.join(www, 'sub', 'index.html'), '<h1>sub</h1>');
    fs.writeFileSync(path.join(root, 'secret.txt'), SECRET);
    s = await startServer({ args: ['--static', www] });
  });
  after(async () => {
    await s.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('serves index.html for / and directories, with content types by extension', async () => {
    const get = async (p) => {
      const r = await s.fetch(p);
      return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
    };
    let r = await get('/');
    assert.equal(r.status, 200);
    assert.equal(r.text, '<h1>home</h1>');
    assert.match(r.type, /^text\/html/);
    r = await get('/app.js');
    assert.match(r.type, /^text\/javascript/);
    assert.equal(r.text, 'export const x = 1;');
    assert.match((await get('/style.css')).type, /^text\/css/);
    assert.match((await get('/data.json')).type, /^application\/json/);
    assert.match((await get('/core.wasm')).type, /^application\/wasm/);
    assert.equal((await get('/sub/')).text, '<h1>sub</h1>');
    assert.equal((await get('/sub')).text, '<h1>sub</h1>');
    assert.equal((await get('/index.html?v=2')).text, '<h1>home</h1>');
    assert.equal((await get('/missing.html')).status, 404);
    // Revalidation: a strong ETag; the same file answers 304 with no body, a changed one 200.
    const first = await s.fetch('/app.js');
    const etag = first.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(first.headers.get('cache-control'), 'no-cache');
    const again = await s.fetch('/app.js', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    assert.equal(again.headers.get('etag'), etag);
    fs.writeFileSync(path.join(root, 'www', 'app.js'), 'export const x = 2;');
    const changed = await s.fetch('/app.js', { headers: { 'if-none-match': etag } });
    assert.equal(changed.status, 200);
    assert.equal(await changed.text(), 'export const x = 2;');
    assert.notEqual(changed.headers.get('etag'), etag);
    fs.writeFileSync(path.join(root, 'www', 'app.js'), 'export const x = 1;');
    // The API is still the API.
    assertError(await call(s, 'GET', '/v1/nope', { key: PK }), 404, 'not_found');
    assert.equal((await call(s, 'GET', '/v1/bundle', { key: PK })).status, 200);
  });

  test('a precompressed FILE.br or FILE.gz goes out to clients that take it, with Vary', async () => {
    const www = path.join(root, 'www');
    const text = 'export const big = "' + 'pz'.repeat(2000) + '";';
    fs.writeFileSync(path.join(www, 'big.js'), text);
    fs.writeFileSync(path.join(www, 'big.js.br'), zlib.brotliCompressSync(Buffer.from(text)));
    fs.writeFileSync(path.join(www, 'big.js.gz'), zlib.gzipSync(Buffer.from(text)));
    fs.writeFileSync(path.join(www, 'only.js'), text);
    fs.writeFileSync(path.join(www, 'only.js.gz'), zlib.gzipSync(Buffer.from(text)));
    try {
      // fetch decodes what it is sent: the text is the file's either way.
      const get = async (p, ae) => {
        const r = await s.fetch(p, ae == null ? {} : { headers: { 'accept-encoding': ae } });
        return {
          status: r.status,
          encoding: r.headers.get('content-encoding'),
          vary: r.headers.get('vary'),
          type: r.headers.get('content-type'),
          etag: r.headers.get('etag'),
          text: await r.text(),
        };
      };
      const cases = [
        ['br', 'br'],
        ['gzip, deflate, br', 'br'],
        ['gzip', 'gzip'],
        ['BR;q=0.5, gzip;q=1', 'br'], // either is fine; br is preferred when both are taken
        ['br;q=0, gzip', 'gzip'],
        ['br;q=0.000, gzip;q=0', null],
        ['identity', null],
        ['*', null],
        ['', null],
      ];
      for (const [ae, want] of cases) {
        const r = await get('/big.js', ae);
        assert.equal(r.status, 200, ae);
        assert.equal(r.encoding, want, `accept-encoding "${ae}"`);
        assert.equal(r.vary, 'Accept-Encoding', ae);
        assert.match(r.type, /^text\/javascript/, ae);
        assert.equal(r.text, text, ae);
      }
      assert.equal((await get('/only.js', 'br')).encoding, null, 'no .br: the file as it is');
      assert.equal((await get('/only.js', 'br, gzip')).encoding, 'gzip');
      assert.equal((await get('/app.js', 'br, gzip')).vary, null, 'no copies: no Vary');
      // One ETag per encoding, each revalidated on its own.
      const br = await get('/big.js', 'br');
      const plain = await get('/big.js', 'identity');
      assert.notEqual(br.etag, plain.etag);
      const again = await s.fetch('/big.js', {
        headers: { 'accept-encoding': 'br', 'if-none-match': br.etag },
      });
      assert.equal(again.status, 304);
      // The copies are files too, asked for by name.
      const raw = await s.fetch('/big.js.br', { headers: { 'accept-encoding': 'identity' } });
      assert.equal(raw.status, 200);
      assert.equal(raw.headers.get('content-encoding'), null);
    } finally {
      for (const f of ['big.js', 'big.js.br', 'big.js.gz', 'only.js', 'only.js.gz']) {
        fs.rmSync(path.join(www, f), { force: true });
      }
    }
  });

  test('paths never leave the directory (.., %2e%2e, encoded slashes)', async () => {
    for (const target of [
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/sub/%2e%2e/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/sub%2f..%2f..%2fsecret.txt',
      '/..\\secret.txt',
      '/./../secret.txt',
    ]) {
      const r = await rawGet(s.port, target);
      assert.ok(r.status === 404 || r.status === 400, `${target}: ${r.status}`);
      assert.ok(!r.body.includes(SECRET), `${target} leaked the file`);
    }
    // A path that stays inside with "." or ".." segments is refused too (never resolved).
    assert.equal((await rawGet(s.port, '/sub/../index.html')).status, 404);
    assert.equal((await rawGet(s.port, '/index.html')).status, 200);
  });
});

// ---------------------------------------------------------------------------------------------

describe('shutdown, restart and the data directory', () => {
  const anon = uid('r-anon');
  const dev = uid('dev');
  const events = [pageView('/a'), pageView('/b'), pageView('/c')];
  let data;
  let profileBefore;
  let bundleEtag;
  const servers = [];
  const start = async (opts) => {
    const srv = await startServer(opts);
    servers.push(srv);
    return srv;
  };
  after(async () => {
    for (const srv of servers) await srv.kill9();
    if (data) fs.rmSync(data, { recursive: true, force: true });
  });

  test('SIGTERM with requests in flight: every answer is complete; exit 0, "stopped"', async () => {
    data = tempDir();
    const s = await start({ data });
    assert.equal(
      (await call(s, 'POST', '/v1/sync', { key: PK, body: { id: anon, delta: state([component(dev)]) } }))
        .status,
      200,
    );
    let r = await call(s, 'POST', '/v1/collect', { key: PK, body: { anonymous_id: anon, events } });
    assert.equal(r.body.accepted, 3);
    const next = JSON.parse(DEMO_BUNDLE);
    next.version = 'restart-2';
    const put = await call(s, 'PUT', '/v1/bundle', { key: SK, body: next });
    assert.equal(put.status, 200);
    bundleEtag = put.body.etag;
    // Warm keep-alive connections, then many batches in flight: SIGTERM as the first answer
    // arrives, so the server is busy with the rest.
    await Promise.all(Array.from({ length: 20 }, () => call(s, 'GET', '/healthz')));
    const batches = Array.from({ length: 40 }, () => [pageView(), pageView(), pageView()]);
    const inflight = batches.map((evs) =>
      call(s, 'POST', '/v1/collect', { key: PK, body: { anonymous_id: anon, events: evs } }),
    );
    await Promise.race(inflight);
    s.child.kill('SIGTERM');
    const results = await Promise.allSettled(inflight);
    let acked = 0;
    for (const x of results) {
      if (x.status === 'rejected') continue; // no answer at all (connection refused or closed)
      const res = x.value;
      assert.ok([200, 503].includes(res.status), `status ${res.status}`);
      assert.equal(typeof res.body, 'object', `a complete JSON answer: ${res.body}`);
      if (res.status === 200) {
        assert.deepEqual(res.body, { accepted: 3, duplicates: 0, rejected: [] });
        acked += 3;
      } else {
        assert.equal(res.body.error, 'shutting_down');
      }
    }
    const exit = await s.exit;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(s.logs.at(-1).msg, 'stopped');
    assert.ok(s.logs.some((l) => l.msg === 'shutting down'));
    checkLogs(s);
    // Everything acknowledged is on disk: restart and count.
    const s2 = await start({ data });
    const p = await call(s2, 'GET', '/v1/profiles/' + anon, { key: SK });
    assert.equal(p.status, 200);
    assert.ok(p.body.events >= 3 + acked, `${p.body.events} events on disk, ${3 + acked} acked`);
    assert.ok(p.body.events <= 3 + 3 * batches.length);
    // Dedup survives: every batch again is all duplicates for what was stored.
    let dups = 0;
    for (const evs of batches) {
      r = await call(s2, 'POST', '/v1/collect', { key: PK, body: { anonymous_id: anon, events: evs } });
      dups += r.body.duplicates;
    }
    assert.equal(dups, p.body.events - 3);
    await s2.stop();
  });

  test('restart on the same data directory keeps bundles, profiles, events and dedup', async () => {
    let s = await start({ data });
    profileBefore = await call(s, 'GET', '/v1/profiles/' + anon, { key: SK });
    await s.stop();
    s = await start({ data });
    const p = await call(s, 'GET', '/v1/profiles/' + anon, { key: SK });
    assert.deepEqual(p.body, profileBefore.body);
    assert.deepEqual(p.body.state.components, [component(dev)]);
    const r = await call(s, 'POST', '/v1/collect', { key: PK, body: { anonymous_id: anon, events } });
    assert.deepEqual(r.body, { accepted: 0, duplicates: 3, rejected: [] });
    const v = await call(s, 'GET', '/v1/bundle/versions', { key: SK });
    assert.equal(v.body.active, 2);
    assert.equal(v.body.versions.length, 2);
    const b = await call(s, 'GET', '/v1/bundle', { key: PK });
    assert.equal(b.headers.get('etag'), bundleEtag);
    assert.equal(b.body.version, 'restart-2');
    // A sync after the restart answers from the stored state.
    const sy = await call(s, 'POST', '/v1/sync', {
      key: PK,
      body: { id: anon, delta: state([]), versions: [] },
    });
    assert.deepEqual(sy.body.delta.components, [component(dev)]);
    assert.deepEqual(sy.body.cursor, [[dev, 0, 1]]);
    // An acknowledged write survives kill -9.
    const ev = pageView();
    assert.equal(
      (await call(s, 'POST', '/v1/collect', { key: PK, body: { anonymous_id: anon, events: [ev] } })).body
        .accepted,
      1,
    );
    await s.kill9();
    s = await start({ data });
    const r2 = await call(s, 'POST', '/v1/collect', { key: PK, body: { anonymous_id: anon, events: [ev] } });
    assert.deepEqual(r2.body, { accepted: 0, duplicates: 1, rejected: [] });
    await s.stop();
    checkLogs(s);
  });

  test('a data directory with a newer schema version is refused with a clear message', async (t) => {
    // The sqlite3 CLI comes with scripts/setup.sh.
    const sqlite3 = execFileSync('sh', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).trim();
    const db = path.join(data, 'pz.db');
    const version = Number(
      execFileSync(sqlite3, [db, 'PRAGMA user_version;'], { encoding: 'utf8' }).trim(),
    );
    assert.ok(version >= 2, `the store is at the current schema (${version})`);
    execFileSync(sqlite3, [db, 'PRAGMA user_version=99;']);
    await assert.rejects(
      startServer({ data }),
      (e) =>
        e.message.includes(`schema version 99, newer than this server's ${version}`) &&
        /"code":1/.test(e.message),
    );
  });
});
