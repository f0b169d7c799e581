// The per-address rate limit of a real pz-server (--ip-rate-limit, docs/server.md "Rate limits"):
// a token bucket per client address taken before the key is looked at, so that requests with
// several keys, unknown keys or none from one address share it; other addresses and the per-key
// buckets are independent of it; its 429 (body, Retry-After, CORS, metrics); recovery after the
// wait it names; health checks and metrics exempt; the flag and its variable.
// Clients connect from different loopback addresses (127.0.0.2, 127.0.0.3, …: all of 127/8 is
// loopback on Linux) to the server on 127.0.0.1.
//
//   node --test tests/server/limits.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { PZ_SERVER, metricsMap as metrics, startServer, tempDir } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One request on a new connection from local address `from`: {status, headers, body}. */
function request(s, method, path, { from = '127.0.0.1', key, headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (key) h.authorization = `Bearer ${key}`;
    const data = body === undefined ? undefined : JSON.stringify(body);
    if (data) h['content-type'] = 'application/json';
    const req = http.request(
      { host: '127.0.0.1', port: s.port, method, path, headers: h, localAddress: from, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}


const RATE = 5; // --ip-rate-limit 5/s: burst 10
const BURST = 2 * RATE;
const ORIGIN = 'https://shop.example';
const KEYS = {
  sites: [
    { id: 'shop', write_keys: ['pk_shop_limits'], secret_keys: ['sk_shop_limits'], origins: [ORIGIN] },
    { id: 'blog', write_keys: ['pk_blog_limits'], secret_keys: ['sk_blog_limits'], origins: ['https://blog.example'] },
    { id: 'slow', write_keys: ['pk_slow_limits'], rate_limit: { per_second: 1, burst: 3 } },
  ],
};

function assertIpLimited(r, what) {
  assert.equal(r.status, 429, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, 'rate_limited');
  assert.match(r.body.message, /this address/);
  assert.match(r.headers['content-type'], /^application\/json/);
  const retry = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 1, `Retry-After ${r.headers['retry-after']}`);
}

describe(`--ip-rate-limit ${RATE}/s`, () => {
  let s;
  before(async () => {
    s = await startServer({ keys: KEYS, args: ['--ip-rate-limit', `${RATE}/s`] });
  });
  after(async () => {
    await s?.stop();
    if (s) fs.rmSync(s.data, { recursive: true, force: true });
  });

  test('one address with several keys, unknown keys and none shares one bucket', async () => {
    const from = '127.0.0.2';
    const kinds = [
      { key: 'pk_shop_limits', ok: 200 },
      { key: 'pk_blog_limits', ok: 200 },
      { key: 'pk_unknown_key', ok: 401 },
      { key: undefined, ok: 401 },
    ];
    const t0 = performance.now();
    let served = 0;
    let first429 = null;
    for (let i = 0; i < 60 && !first429; i++) {
      const { key, ok } = kinds[i % kinds.length];
      const r = await request(s, 'GET', '/v1/bundle', { from, key });
      if (r.status === 429) first429 = r;
      else {
        assert.equal(r.status, ok, `request ${i}`);
        served++;
      }
    }
    const elapsed = (performance.now() - t0) / 1000;
    assert.ok(first429, 'the address was limited');
    assertIpLimited(first429, 'first 429');
    // The burst, plus what refilled while the requests were made.
    assert.ok(served >= BURST && served <= BURST + Math.ceil(elapsed * RATE) + 1,
      `${served} served in ${elapsed.toFixed(2)} s`);
    // Limited before authentication: no key, an unknown key, a secret endpoint, a preflight.
    assertIpLimited(await request(s, 'GET', '/v1/bundle', { from }), 'no key');
    assertIpLimited(await request(s, 'GET', '/v1/bundle', { from, key: 'nope_nope' }), 'unknown key');
    assertIpLimited(await request(s, 'GET', '/v1/bundle/versions', { from, key: 'sk_shop_limits' }), 'secret');
    assertIpLimited(await request(s, 'POST', '/v1/collect', { from, key: 'pk_shop_limits', body: {} }), 'collect');
    assertIpLimited(await request(s, 'OPTIONS', '/v1/collect', {
      from, headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } }), 'preflight');
    assertIpLimited(await request(s, 'GET', '/no/such/path', { from }), 'unknown path');
    // Health checks and metrics are not limited.
    assert.equal((await request(s, 'GET', '/healthz', { from })).status, 200);
    assert.equal((await request(s, 'GET', '/metrics', { from })).status, 200);
    // Another address is not affected.
    assert.equal((await request(s, 'GET', '/v1/bundle', { from: '127.0.0.3', key: 'pk_shop_limits' })).status, 200);
  });

  test('a browser can read the 429 (CORS), and it is counted', async () => {
    const from = '127.0.0.6';
    const before = await metrics(s);
    let r;
    for (let i = 0; i < BURST + 20; i++) {
      r = await request(s, 'POST', '/v1/collect', {
        from, key: 'pk_shop_limits', headers: { origin: ORIGIN }, body: { anonymous_id: 'a', events: [] } });
      if (r.status === 429) break;
      assert.equal(r.status, 200);
    }
    assertIpLimited(r, 'cors');
    assert.equal(r.headers['access-control-allow-origin'], ORIGIN);
    assert.match(r.headers['access-control-expose-headers'], /Retry-After/);
    // An origin no site allows gets its 429 without CORS headers.
    const other = await request(s, 'GET', '/v1/bundle', { from, headers: { origin: 'https://evil.example' } });
    assertIpLimited(other, 'other origin');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    const m = await metrics(s);
    const d = (name) => (m.get(name) ?? 0) - (before.get(name) ?? 0);
    assert.ok(d('pz_rate_limited_ip_total') >= 2);
    assert.ok(d('pz_rate_limited_total') >= 2);
    assert.ok(d('pz_http_requests_total{route="rate_limited",status="429"}') >= 2);
  });

  test('recovery: after Retry-After the address is served again, up to the rate', async () => {
    const from = '127.0.0.4';
    let r;
    for (let i = 0; i < BURST + 20; i++) {
      r = await request(s, 'GET', '/v1/bundle', { from, key: 'pk_blog_limits' });
      if (r.status === 429) break;
    }
    assertIpLimited(r, 'limited');
    await sleep(Number(r.headers['retry-after']) * 1000);
    assert.equal((await request(s, 'GET', '/v1/bundle', { from, key: 'pk_blog_limits' })).status, 200);
    // Emptied again, a second later the bucket holds about RATE tokens (not the whole burst).
    for (let i = 0; i < BURST + 20; i++) {
      if ((await request(s, 'GET', '/v1/bundle', { from, key: 'pk_blog_limits' })).status === 429) break;
    }
    await sleep(1000);
    let served = 0;
    for (let i = 0; i < BURST; i++) {
      if ((await request(s, 'GET', '/v1/bundle', { from, key: 'pk_blog_limits' })).status === 200) served++;
    }
    assert.ok(served >= RATE - 1 && served < BURST, `${served} served after 1 s`);
  });

  test('per-key limits are independent of the address limit and of each other', async () => {
    // The slow site's key {1/s, burst 3}: its 4th quick request is 429 "for this key", from an
    // address that has plenty of tokens left.
    const from = '127.0.0.5';
    const statuses = [];
    let limited;
    for (let i = 0; i < 4; i++) {
      const r = await request(s, 'GET', '/v1/bundle', { from, key: 'pk_slow_limits' });
      statuses.push(r.status);
      limited = r;
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(limited.body.error, 'rate_limited');
    assert.match(limited.body.message, /this key/);
    // The same address with another key is served; the slow key is limited from any address.
    assert.equal((await request(s, 'GET', '/v1/bundle', { from, key: 'pk_shop_limits' })).status, 200);
    const elsewhere = await request(s, 'GET', '/v1/bundle', { from: '127.0.0.7', key: 'pk_slow_limits' });
    assert.equal(elsewhere.status, 429);
    assert.match(elsewhere.body.message, /this key/);
  });
});

describe('the flag and its variable', () => {
  let dir;
  before(() => (dir = tempDir()));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (args, env = {}) =>
    spawnSync(PZ_SERVER, ['--port', '0', '--data', dir, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 10000,
    });

  test('a bad --ip-rate-limit or PZ_IP_RATE_LIMIT stops the start, naming the flag', () => {
    for (const [args, env] of [
      [['--ip-rate-limit', 'fast'], {}],
      [['--ip-rate-limit', '-1'], {}],
      [['--ip-rate-limit', '5/min'], {}],
      [[], { PZ_IP_RATE_LIMIT: '1.5' }],
    ]) {
      const r = run(args, env);
      assert.equal(r.status, 2, JSON.stringify({ args, env, stderr: r.stderr }));
      assert.match(r.stderr, /--ip-rate-limit: expected requests per second/);
    }
  });

  test('PZ_IP_RATE_LIMIT turns it on; the flag wins over it (0: off)', async () => {
    const burstOf = async (s, from) => {
      let served = 0;
      for (let i = 0; i < 12; i++) {
        if ((await request(s, 'GET', '/healthz?x', { from })).status !== 200) break;
        if ((await request(s, 'GET', '/v1/bundle', { from, key: 'pk_demo' })).status === 429) break;
        served++;
      }
      return served;
    };
    const on = await startServer({ env: { PZ_IP_RATE_LIMIT: '2' } });
    try {
      const served = await burstOf(on, '127.0.0.8');
      assert.ok(served >= 4 && served < 12, `${served} served with PZ_IP_RATE_LIMIT=2`);
    } finally {
      await on.stop();
      fs.rmSync(on.data, { recursive: true, force: true });
    }
    const off = await startServer({ env: { PZ_IP_RATE_LIMIT: '2' }, args: ['--ip-rate-limit', '0'] });
    try {
      assert.equal(await burstOf(off, '127.0.0.8'), 12);
    } finally {
      await off.stop();
      fs.rmSync(off.data, { recursive: true, force: true });
    }
  });
});
