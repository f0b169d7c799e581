// pz-server over a real Redis Cluster: three masters (redis-server --cluster-enabled, no
// replicas, no persistence) on free loopback ports, and two pz-server processes over it, one
// seeded with a single node. Two browser runtimes (jsdom, the real wasm core) sync one person's
// devices through both servers in turn and converge to the profile both servers store and decide
// on; profiles spread over every master; a bundle PUT on one server is served by the other; a
// slot that migrates between masters is followed through ASK and MOVED; and when one master is
// killed with -9, the requests whose keys live on it fail at once with a 500 store_error while
// the others keep working with their acknowledged data intact. docs/server.md "Redis store".
//
//   node --test tests/server/redis_cluster.test.mjs   (env PZ_SERVER: the binary; needs
//   redis-server and redis-cli, which scripts/setup.sh installs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, execFile } from 'node:child_process';
import { ed25519Key, mulberry32 } from '../js/harness.mjs';
import { page, runtime, clock, sleep, demoBundle, T0 } from '../js/runtime_harness.test.mjs';
import { startServer, call, tempDir, PZ_SERVER } from './harness.mjs';

const SITE = 'demo';
const HERO = '<div data-pz-slot="hero"><h1 data-pz-field="title">Default</h1></div>';
const GRANT = { analytics: true, personalization: true };
const USER = 'cluster-user';

const dir = tempDir('pz-redis-cluster-');
const nodes = []; // {port, bus, child, id}
const servers = []; // pz-server processes
const children = new Set();
// Whatever happens, no redis-server or pz-server outlives this file.
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
});

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** redis-cli against one node; resolves its output (trimmed). */
function cli(port, ...args) {
  return new Promise((resolve, reject) => {
    execFile(
      'redis-cli',
      ['-h', '127.0.0.1', '-p', String(port), ...args.map(String)],
      { timeout: 30000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${err.message}${stderr}`));
        else resolve(stdout.trim());
      },
    );
  });
}

async function until(cond, what, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(20);
  }
  assert.fail('timed out waiting for ' + what);
}

async function startNode(attempt = 0) {
  const port = await freePort();
  const bus = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port', port, '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-port', bus,
      '--cluster-node-timeout', '2000', '--cluster-require-full-coverage', 'no',
      '--save', '', '--appendonly', 'no', '--dir', dir,
      '--logfile', path.join(dir, `redis-${port}.log`),
    ].map(String),
    { stdio: 'ignore' },
  );
  children.add(child);
  let exited = false;
  const exit = new Promise((r) => child.on('exit', () => r((exited = true))));
  let spawnError = null;
  child.on('error', (e) => {
    spawnError = e;
    exited = true;
  });
  const node = { port, bus, child, exit };
  await until(
    async () => exited || (await cli(port, 'ping').catch(() => '')) === 'PONG',
    `redis-server on ${port} (scripts/setup.sh installs redis-server)`,
  );
  if (spawnError) {
    throw new Error(`cannot run redis-server (scripts/setup.sh installs it): ${spawnError.message}`);
  }
  if (exited) {
    // Another process took a port between our check and redis-server's bind: new ports.
    assert.ok(attempt < 3, `redis-server on ${port} exited at start: see ${dir}/redis-${port}.log`);
    return startNode(attempt + 1);
  }
  node.id = await cli(port, 'cluster', 'myid');
  return node;
}

// CRC16 (XMODEM) of the key or its {hash tag}, as Redis Cluster computes slots.
function keySlot(key) {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
// The key layout of the Redis store (docs/server.md): one hash tag per profile.
const profileKey = (id) => `pz:{p:${SITE}:${id}}:profile`;
const bundleKey = () => `pz:{b:${SITE}}:meta`;

/** The master that owns each slot, from CLUSTER NODES. */
async function slotOwners() {
  const owners = new Array(16384).fill(null);
  for (const line of (await cli(nodes[0].port, 'cluster', 'nodes')).split('\n')) {
    const f = line.split(' ');
    if (!f[2] || !f[2].includes('master') || f[2].includes('fail')) continue;
    const node = nodes.find((n) => n.id === f[0]);
    for (const r of f.slice(8)) {
      if (r.startsWith('[')) continue; // a migration in progress
      const [lo, hi = lo] = r.split('-').map(Number);
      for (let s = lo; s <= hi; s++) owners[s] = node;
    }
  }
  return owners;
}

/** fetch for a device whose endpoint is `endpoint`: each request goes to the next server in turn. */
function alternating(endpoint, list) {
  let i = 0;
  return (url, init) => {
    const s = list[i++ % list.length];
    return fetch(String(url).replace(endpoint.url, s.url), init);
  };
}

/** A sync-format state with one trait (docs/sync.md). */
const stateWith = (value, device = 'dev-x', tick = 0) => ({
  v: 1,
  erased_at: null,
  user_id: null,
  consent: null,
  traits: [['plan', value, T0 + tick, 0, device]],
  components: [],
});

async function sync(server, id, delta) {
  return call(server, 'POST', '/v1/sync', { key: 'pk_demo', body: { id, delta, versions: [] } });
}

async function metric(server, name) {
  const r = await server.fetch('/metrics');
  const m = (await r.text()).match(new RegExp(`^${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

before(async () => {
  for (let i = 0; i < 3; i++) nodes.push(await startNode());
  await new Promise((resolve, reject) =>
    execFile(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30000 },
      (err, stdout, stderr) => (err ? reject(new Error(`cluster create: ${stdout}${stderr}`)) : resolve()),
    ),
  );
  for (const n of nodes) {
    await until(
      async () => (await cli(n.port, 'cluster', 'info')).includes('cluster_state:ok'),
      `cluster_state:ok on ${n.port}`,
      20000,
    );
  }
  // A: seeded with one node only (it learns the rest from CLUSTER SLOTS); B: with the other two.
  // A starts first and stores the site's bundle; B finds it.
  const a = await startServer({ args: ['--store', 'redis', '--redis', `127.0.0.1:${nodes[0].port}`] });
  children.add(a.child);
  servers.push(a);
  const b = await startServer({
    args: ['--store', 'redis', '--redis', `127.0.0.1:${nodes[1].port},127.0.0.1:${nodes[2].port}`],
  });
  children.add(b.child);
  servers.push(b);
});

after(async () => {
  await Promise.all(servers.map((s) => s.kill9()));
  for (const n of nodes) n.child.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exit));
  for (const s of servers) fs.rmSync(s.data, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('both servers run in cluster mode over one bundle', async () => {
  const [a, b] = servers;
  for (const s of servers) {
    assert.equal(s.logs.find((l) => l.msg === 'listening').store, 'redis');
    assert.equal((await call(s, 'GET', '/healthz')).status, 200);
  }
  const [va, vb] = await Promise.all(
    [a, b].map((s) => call(s, 'GET', '/v1/bundle/versions', { key: 'sk_demo' })),
  );
  assert.deepEqual(va.body, vb.body);
  assert.equal(va.body.versions.length, 1, 'B found the bundle A stored: ' + JSON.stringify(va.body));
});

test('profiles spread over all three masters, each profile in one slot', async () => {
  const [a, b] = servers;
  // Our slot function is Redis's.
  for (const key of [profileKey('a-1'), bundleKey(), 'plain', '{}x', 'a{b}c{d}']) {
    assert.equal(keySlot(key), Number(await cli(nodes[0].port, 'cluster', 'keyslot', key)), key);
  }
  for (let i = 0; i < 24; i++) {
    const s = i % 2 ? b : a;
    const id = `a-${i}`;
    const c = await call(s, 'POST', '/v1/collect', {
      key: 'pk_demo',
      body: { anonymous_id: id, events: [{ id: `ev-${i}`, type: 'page_view', t: T0 + i }] },
    });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.equal(c.body.accepted, 1);
    const r = await sync(i % 2 ? a : b, id, stateWith(`p-${i}`));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const owners = await slotOwners();
  for (const n of nodes) {
    const keys = Number(await cli(n.port, 'dbsize'));
    assert.ok(keys > 0, `master ${n.port} holds keys`);
  }
  // A profile's hash and its event log sit side by side on the master that owns its slot.
  for (let i = 0; i < 24; i++) {
    const slot = keySlot(profileKey(`a-${i}`));
    const keys = (await cli(owners[slot].port, 'cluster', 'getkeysinslot', slot, 100)).split('\n');
    for (const suffix of ['profile', 'events', 'bodies']) {
      assert.ok(keys.includes(`pz:{p:${SITE}:a-${i}}:${suffix}`), `a-${i} ${suffix} in ${keys}`);
    }
  }
  // Both servers read every profile, whichever master holds it.
  for (let i = 0; i < 24; i++) {
    const [pa, pb] = await Promise.all(
      [a, b].map((s) => call(s, 'GET', `/v1/profiles/a-${i}`, { key: 'sk_demo' })),
    );
    assert.equal(pa.status, 200);
    assert.deepEqual(pa.body, pb.body);
    assert.equal(pa.body.events, 1);
    assert.deepEqual(pa.body.state.traits[0].slice(0, 2), ['plan', `p-${i}`]);
  }
});

test('two devices syncing through both servers in turn converge to one stored profile', async (t) => {
  const [a, b] = servers;
  const c = clock();
  const devices = ['phone', 'laptop'].map((name, k) => {
    const pg = page(HERO, { url: 'https://shop.example/pricing' });
    const d = runtime(pg, {
      clock: c,
      endpoint: a.url,
      writeKey: 'pk_demo',
      fetch: alternating(a, k ? [a, b] : [b, a]),
      autocapture: false,
      random: mulberry32(11 + k),
      retry: { base: 5, max: 40 },
      sync: { interval: 0 },
      collect: { batchSize: 3, flushInterval: 20 },
    });
    return { name, pg, ...d };
  });
  try {
    const [phone, laptop] = devices;
    for (const d of devices) d.pz.consent(GRANT);
    let events = 0;
    for (let i = 0; i < 4; i++) {
      c.tick(60_000);
      phone.pz.page();
      events++;
    }
    phone.pz.track('add_to_cart', { sku: 'shoe-1' });
    events++;
    assert.equal(await phone.pz.sync(), true);
    laptop.pz.page();
    events++;
    laptop.pz.identify(USER, { plan: 'pro' });
    assert.equal(await laptop.pz.sync(), true);
    phone.pz.identify(USER);
    for (let i = 0; i < 3; i++) {
      c.tick(30_000);
      laptop.pz.track('purchase', { value: 40 + i });
      events++;
      await Promise.all(devices.map((d) => d.pz.sync()));
    }
    await until(async () => {
      for (const d of [...devices, ...devices]) if (!(await d.pz.sync())) return false;
      for (const d of devices) await d.pz.flush();
      const [sa, sb] = devices.map((d) => JSON.stringify(JSON.parse(d.storage.getItem('pz')).s));
      return sa === sb;
    }, 'the devices to converge');
    const state = JSON.parse(phone.storage.getItem('pz')).s;
    assert.equal(state.user_id[0], USER);
    assert.equal(state.components.length, 2, 'both devices contributed');

    // Both servers hold that state (whichever served which request) and every event once.
    await until(async () => {
      const r = await call(a, 'GET', `/v1/profiles/${USER}`, { key: 'sk_demo' });
      return r.body.events === events;
    }, `${events} events in the log`);
    const [pa, pb] = await Promise.all(
      [a, b].map((s) => call(s, 'GET', `/v1/profiles/${USER}`, { key: 'sk_demo' })),
    );
    assert.equal(pa.status, 200);
    assert.deepEqual(pa.body, pb.body);
    assert.deepEqual(pa.body.state, state);
    assert.equal(pa.body.aliases.length, 2);

    // The same decision from both servers, and the devices'.
    const body = { id: USER, slots: ['hero'], now: c.now() };
    const [da, db] = await Promise.all(
      [a, b].map((s) => call(s, 'POST', '/v1/decide', { key: 'pk_demo', body })),
    );
    assert.equal(da.status, 200);
    assert.deepEqual(da.body, db.body);
    const profile = await phone.pz.profile();
    assert.deepEqual(da.body.segments, profile.segments);
    const onDevice = await phone.pz.decide(['hero']);
    assert.deepEqual(
      da.body.decisions.map((x) => [x.action, x.content]),
      onDevice.map((x) => [x.action, x.content]),
    );
    t.diagnostic(`segments ${JSON.stringify(profile.segments)}, ${events} events`);
  } finally {
    for (const d of devices) d.pg.win.close();
  }
});

test('a bundle PUT on one server is served by the other within the refresh time', async () => {
  const [a, b] = servers;
  const next = demoBundle({
    version: '2026-11-23.cluster',
    defaults: { ...demoBundle().defaults, hero: { content: { title: 'Hello from B' } } },
  });
  const put = await call(b, 'PUT', '/v1/bundle', { key: 'sk_demo', body: next });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  await until(async () => {
    const r = await a.fetch('/v1/bundle', { headers: { authorization: 'Bearer pk_demo' } });
    await r.arrayBuffer();
    return r.headers.get('etag') === put.body.etag;
  }, 'A to serve the bundle B stored', 5000);
  const fresh = { id: 'someone-new', slots: ['hero'] };
  const d = await call(a, 'POST', '/v1/decide', { key: 'pk_demo', body: fresh });
  assert.equal(d.body.decisions[0].content.title, 'Hello from B');
  // A rollback on A reaches B the same way.
  const back = await call(a, 'POST', '/v1/bundle/rollback', { key: 'sk_demo' });
  assert.equal(back.status, 200, JSON.stringify(back.body));
  await until(async () => {
    const r = await call(b, 'POST', '/v1/decide', { key: 'pk_demo', body: fresh });
    return r.body.decisions[0].content.title === 'Welcome';
  }, 'B to serve the rolled-back bundle', 5000);
});

test('a server with bundle_public_keys never serves a bundle another server activated unsigned', async () => {
  const [a] = servers;
  const { pub, sign } = ed25519Key();
  const variant = (v, title) =>
    JSON.stringify(demoBundle({ version: v, defaults: { ...demoBundle().defaults, hero: { content: { title } } } }));
  const putVia = (s, text, sig) =>
    call(s, 'PUT', '/v1/bundle', {
      key: 'sk_demo',
      raw: true,
      body: text,
      headers: sig ? { 'pz-signature': sig } : {},
    });
  const served = async (s) => {
    const r = await s.fetch('/v1/bundle', { headers: { authorization: 'Bearer pk_demo' } });
    return { etag: r.headers.get('etag'), title: JSON.parse(await r.text()).defaults.hero.content.title };
  };
  // A (no keys) stores a signed bundle; C requires the key and starts on it.
  const signedText = variant('2026-11-23.signed', 'Signed');
  const signed = await putVia(a, signedText, sign(signedText));
  assert.equal(signed.status, 200, JSON.stringify(signed.body));
  const c = await startServer({
    args: ['--store', 'redis', '--redis', `127.0.0.1:${nodes[2].port}`],
    keys: {
      sites: [
        { id: SITE, write_keys: ['pk_demo'], secret_keys: ['sk_demo'], origins: ['*'], bundle_public_keys: [pub] },
      ],
    },
  });
  children.add(c.child);
  try {
    assert.equal((await served(c)).title, 'Signed');
    // A activates an unsigned bundle in the shared store: C keeps the signed one and counts it.
    const unsigned = await putVia(a, variant('2026-11-23.unsigned', 'Unsigned'));
    assert.equal(unsigned.status, 200, JSON.stringify(unsigned.body));
    // (A server reads the active bundle again when a request needs it, at most once a second.)
    await until(
      async () => (await served(c)).title === 'Signed' && (await metric(c, 'pz_bundle_refresh_rejected_total')) > 0,
      'C to reject it',
      5000,
    );
    const d = await call(c, 'POST', '/v1/decide', { key: 'pk_demo', body: { id: 'nobody-yet', slots: ['hero'] } });
    assert.equal(d.body.decisions[0].content.title, 'Signed');
    // A correctly signed bundle activated through A reaches C.
    const nextText = variant('2026-11-23.signed2', 'Signed again');
    const next = await putVia(a, nextText, sign(nextText));
    assert.equal(next.status, 200, JSON.stringify(next.body));
    await until(async () => (await served(c)).title === 'Signed again', 'C to serve the signed bundle', 5000);
  } finally {
    await c.kill9();
    fs.rmSync(c.data, { recursive: true, force: true });
  }
  // Leave the demo bundle active for the tests below.
  const back = await putVia(a, JSON.stringify(demoBundle()));
  assert.equal(back.status, 200, JSON.stringify(back.body));
});

test('a slot that migrates: ASK during the move, MOVED after it, no request fails', async () => {
  const [a, b] = servers;
  const slot = keySlot(profileKey(USER));
  const owners = await slotOwners();
  const from = owners[slot];
  const to = nodes.find((n) => n !== from);
  await cli(to.port, 'cluster', 'setslot', slot, 'importing', from.id);
  await cli(from.port, 'cluster', 'setslot', slot, 'migrating', to.id);
  // A new profile in that slot: its key is on neither node yet, so the source answers ASK and
  // the write lands on the importing node.
  let fresh = null;
  for (let i = 0; !fresh; i++) if (keySlot(profileKey(`ask-${i}`)) === slot) fresh = `ask-${i}`;
  const asksBefore = await metric(a, 'pz_store_ask_total');
  const r = await sync(a, fresh, stateWith('asked'));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok((await metric(a, 'pz_store_ask_total')) > asksBefore, 'A followed an ASK');
  const onTarget = (await cli(to.port, 'cluster', 'getkeysinslot', slot, 100)).split('\n');
  assert.ok(onTarget.includes(profileKey(fresh)), `${fresh} was written on the importing node`);
  // The user's keys are still on the source: served there meanwhile.
  const during = await call(b, 'GET', `/v1/profiles/${USER}`, { key: 'sk_demo' });
  assert.equal(during.status, 200);

  // Move the rest and give the slot to the target on every node.
  const keys = (await cli(from.port, 'cluster', 'getkeysinslot', slot, 1000)).split('\n').filter(Boolean);
  assert.ok(keys.includes(profileKey(USER)));
  const out = await cli(from.port, 'migrate', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
  assert.equal(out, 'OK');
  for (const n of nodes) await cli(n.port, 'cluster', 'setslot', slot, 'node', to.id);

  // Both servers still map the slot to the source: it answers MOVED, and they follow.
  const moved = await Promise.all(servers.map((s) => metric(s, 'pz_store_moved_total')));
  const [pa, pb] = await Promise.all(
    [a, b].map((s) => call(s, 'GET', `/v1/profiles/${USER}`, { key: 'sk_demo' })),
  );
  assert.equal(pa.status, 200);
  assert.deepEqual(pa.body, pb.body);
  assert.deepEqual(pa.body, during.body, 'the profile moved intact');
  const after = await Promise.all(servers.map((s) => metric(s, 'pz_store_moved_total')));
  assert.ok(after[0] > moved[0] && after[1] > moved[1], `both followed MOVED: ${moved} -> ${after}`);
  const asked = await call(b, 'GET', `/v1/profiles/${fresh}`, { key: 'sk_demo' });
  assert.equal(asked.status, 200);
  assert.equal(asked.body.state.traits[0][1], 'asked');
});

test('kill -9 of one master mid-run: its keys fail with a clear 500, the rest keep working', async () => {
  const [a, b] = servers;
  const owners = await slotOwners();
  const userNode = owners[keySlot(profileKey(USER))];
  const bundleNode = owners[keySlot(bundleKey())];
  const userBefore = (await call(a, 'GET', `/v1/profiles/${USER}`, { key: 'sk_demo' })).body;
  const aliasNodes = userBefore.aliases.map((id) => owners[keySlot(profileKey(id))]);
  // The victim holds neither the user's profile nor the bundle (nor, when there is such a
  // master, the event logs of the user's devices), and some of the a-* profiles.
  const candidates = nodes.filter((n) => n !== userNode && n !== bundleNode);
  const victim =
    candidates.find((n) => !aliasNodes.includes(n)) || candidates[0] || nodes.find((n) => n !== userNode);
  const ids = Array.from({ length: 24 }, (_, i) => `a-${i}`);
  const onVictim = (id) => owners[keySlot(profileKey(id))] === victim;
  const dead = ids.filter(onVictim);
  const alive = ids.filter((id) => !onVictim(id));
  assert.ok(dead.length > 0 && alive.length > 0, `profiles on both sides: ${dead} / ${alive}`);

  // Rounds of syncs of every a-* profile through both servers, each writing a newer trait
  // value; the master dies while round 1 is in flight. Every request ends (the signal bounds
  // it) with 200 or a 500 store_error; none hangs.
  const acked = {}; // id -> the last value a 200 acknowledged
  const round = (n) =>
    Promise.all(
      ids.map(async (id, k) => {
        const s = (k + n) % 2 ? b : a;
        const value = `r${n}-${id}`;
        const res = await s.fetch('/v1/sync', {
          method: 'POST',
          signal: AbortSignal.timeout(15000),
          headers: { authorization: 'Bearer pk_demo' },
          body: JSON.stringify({ id, delta: stateWith(value, 'dev-r', n + 1), versions: [] }),
        });
        const body = await res.json();
        if (res.status === 200) acked[id] = value;
        return { id, n, status: res.status, body };
      }),
    );
  const results = [...(await round(0))];
  const during = round(1);
  victim.child.kill('SIGKILL');
  await victim.exit;
  results.push(...(await during), ...(await round(2)), ...(await round(3)));
  for (const r of results) {
    const what = `round ${r.n} ${r.id}: ${r.status} ${JSON.stringify(r.body)}`;
    if (!onVictim(r.id) || r.n === 0) {
      assert.equal(r.status, 200, what); // a live master, or before the kill
    } else if (r.n >= 2) {
      assert.equal(r.status, 500, what); // after the kill
    } else {
      assert.ok(r.status === 200 || r.status === 500, what); // in flight at the kill
    }
    if (r.status === 500) {
      assert.equal(r.body.error, 'store_error', what);
      assert.match(r.body.message, new RegExp(`127\\.0\\.0\\.1:${victim.port}`), what);
    }
  }

  // Keys on the dead master: every kind of request fails the same way, promptly.
  for (const [id, s] of dead.slice(0, 2).flatMap((id) => [[id, a], [id, b]])) {
    const signal = AbortSignal.timeout(15000);
    const headers = (key) => ({ authorization: `Bearer ${key}` });
    const reqs = [
      s.fetch(`/v1/profiles/${id}`, { signal, headers: headers('sk_demo') }),
      s.fetch(`/v1/profiles/${id}`, { method: 'DELETE', signal, headers: headers('sk_demo') }),
      s.fetch('/v1/decide', {
        method: 'POST', signal, headers: headers('pk_demo'),
        body: JSON.stringify({ id, slots: ['hero'] }),
      }),
      s.fetch('/v1/collect', {
        method: 'POST', signal, headers: headers('pk_demo'),
        body: JSON.stringify({ anonymous_id: id, events: [{ id: `late-${id}`, type: 'page_view', t: T0 }] }),
      }),
      s.fetch('/v1/identify', {
        method: 'POST', signal, headers: headers('pk_demo'),
        body: JSON.stringify({ anonymous_id: id, user_id: `u-${id}` }),
      }),
    ];
    for (const res of await Promise.all(reqs)) {
      const body = await res.json();
      assert.equal(res.status, 500, `${id}: ${JSON.stringify(body)}`);
      assert.equal(body.error, 'store_error');
      assert.match(body.message, new RegExp(`127\\.0\\.0\\.1:${victim.port}`));
    }
  }
  // Keys on the live masters: the last acknowledged write of each is there, on both servers.
  for (const id of alive) {
    const [ra, rb] = await Promise.all(
      [a, b].map((s) => call(s, 'GET', `/v1/profiles/${id}`, { key: 'sk_demo' })),
    );
    assert.equal(ra.status, 200, `${id}: ${JSON.stringify(ra.body)}`);
    assert.deepEqual(ra.body, rb.body);
    assert.equal(acked[id], `r3-${id}`);
    assert.deepEqual(ra.body.state.traits[0].slice(0, 2), ['plan', acked[id]]);
    assert.equal(ra.body.events, 1, 'its event log is intact');
  }
  // The user's state is on a live master: decisions work. Reading the whole profile also
  // counts the events in its devices' logs, which may sit on the dead master: then it fails.
  for (const s of servers) {
    const d = await call(s, 'POST', '/v1/decide', { key: 'pk_demo', body: { id: USER, slots: ['hero'] } });
    assert.equal(d.status, 200);
    const r = await call(s, 'GET', `/v1/profiles/${USER}`, { key: 'sk_demo' });
    if (aliasNodes.includes(victim)) {
      assert.equal(r.status, 500);
      assert.equal(r.body.error, 'store_error');
    } else {
      assert.deepEqual(r.body, userBefore);
    }
  }
  for (const s of servers) assert.ok((await metric(s, 'pz_store_errors_total')) > 0);
});

test('pz-server exits non-zero, naming the address, when Redis cannot be reached', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn(PZ_SERVER, ['--port', '0', '--store', 'redis', '--redis', address], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`cannot connect to Redis at ${address.replace(/\./g, '\\.')}`));
  // A malformed address is a usage error that names the flag.
  const bad = spawn(PZ_SERVER, ['--store', 'redis', '--redis', 'no-port'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(bad);
  let badErr = '';
  bad.stderr.on('data', (d) => (badErr += d));
  assert.equal(await new Promise((r) => bad.on('exit', r)), 2);
  assert.match(badErr, /--redis: "no-port" is not HOST:PORT/);
  // The same through PZ_STORE / PZ_REDIS, and a store that does not exist.
  const viaEnv = spawn(PZ_SERVER, ['--port', '0'], {
    env: { ...process.env, PZ_STORE: 'redis', PZ_REDIS: address },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(viaEnv);
  let envErr = '';
  viaEnv.stderr.on('data', (d) => (envErr += d));
  assert.equal(await new Promise((r) => viaEnv.on('exit', r)), 1);
  assert.ok(envErr.includes(`cannot connect to Redis at ${address}`), envErr);
  const unknown = spawn(PZ_SERVER, ['--store', 'nosql'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(unknown);
  let unknownErr = '';
  unknown.stderr.on('data', (d) => (unknownErr += d));
  assert.equal(await new Promise((r) => unknown.on('exit', r)), 2);
  assert.match(unknownErr, /--store: expected sqlite or redis, got "nosql"/);
});
