// Two devices of one person against a real pz-server: the browser runtime (jsdom pages, the
// real wasm core) with its own storage per device, a network that drops requests, drops answers,
// duplicates requests, answers 5xx (before or after the server did the work) and never answers
// (only the runtime's request timeout ends those), and syncs in a random order. After the network heals, both devices
// and the server hold one profile, show the same segments and decisions, and the event log has
// every event exactly once. Then an erasure on the server reaches both devices at their next
// sync and leaves no personal data on either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mulberry32, envSeed } from '../js/harness.mjs';
import { page, runtime, clock, sleep } from '../js/runtime_harness.test.mjs';
import { startServer, call } from './harness.mjs';

const HERO = '<div data-pz-slot="hero"><h1 data-pz-field="title">Default</h1></div>';
const GRANT = { analytics: true, personalization: true };
const stored = (storage) => JSON.parse(storage.getItem('pz'));

/** fetch through a network that loses and repeats: counts what it did to each request. */
function lossyFetch(rng, stats) {
  const f = async (url, init) => {
    if (!f.lossy) return fetch(url, init);
    const x = rng();
    if (x < 0.15) {
      stats.dropped++;
      throw new TypeError('network error (dropped request)');
    }
    if (x < 0.3) {
      stats.lostAnswers++;
      await fetch(url, init).then((r) => r.arrayBuffer());
      throw new TypeError('network error (lost answer)');
    }
    if (x < 0.45) {
      stats.duplicated++;
      await fetch(url, init).then((r) => r.arrayBuffer());
    }
    if (x < 0.5) {
      // The server is down: a 500 without reaching it.
      stats.errors++;
      return new Response('{"error":"store_error","message":"down"}', { status: 500 });
    }
    if (x < 0.55) {
      // The server did the work, then its answer was replaced by a 500 (a proxy's).
      stats.errors++;
      await fetch(url, init).then((r) => r.arrayBuffer());
      return new Response('{"error":"bad_gateway"}', { status: 502 });
    }
    if (x < 0.6) {
      // The server did the work and then never answered: only the client's timeout ends it.
      stats.timeouts++;
      await fetch(url, init).then((r) => r.arrayBuffer());
      return new Promise((_, reject) => {
        if (!init.signal) return; // no timeout: this request hangs forever (the test fails)
        init.signal.addEventListener('abort', () => reject(init.signal.reason), { once: true });
      });
    }
    return fetch(url, init);
  };
  f.lossy = true;
  return f;
}

async function until(cond, what, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(10);
  }
  assert.fail('timed out waiting for ' + what);
}

/** The mergeable state a device stores (docs/sync.md), without its own formatting choices. */
const stateOf = (d) => stored(d.storage).s;

for (const seed of [envSeed('PZ_DEVICES_SEED', 1), 2, 3]) {
  test(`two devices converge through the server under loss, duplication, 5xx and timeouts (seed ${seed})`, { timeout: 60000 }, async (t) => {
    const server = await startServer();
    const rng = mulberry32(seed);
    const stats = { dropped: 0, lostAnswers: 0, duplicated: 0, errors: 0, timeouts: 0 };
    const c = clock();
    const user = `user-${seed}`;
    const devices = ['phone', 'laptop'].map((name) => {
      const pg = page(HERO, { url: 'https://shop.example/pricing' });
      const net = lossyFetch(mulberry32(seed * 31 + name.length), stats);
      const d = runtime(pg, {
        clock: c,
        endpoint: server.url,
        writeKey: 'pk_demo',
        fetch: net,
        autocapture: false,
        random: mulberry32(seed + 7),
        retry: { base: 5, max: 40, timeout: 150 },
        sync: { interval: 0 },
        collect: { batchSize: 4, flushInterval: 20 },
      });
      return { name, pg, net, ...d };
    });
    try {
      let events = 0;
      for (const d of devices) d.pz.consent(GRANT);
      // A random interleaving of page views, carts, purchases, identifies and syncs.
      const identified = new Set();
      for (let step = 0; step < 40; step++) {
        const d = devices[Math.floor(rng() * 2)];
        c.tick(Math.floor(rng() * 120_000));
        const x = rng();
        if (x < 0.4) {
          d.pz.page();
          events++;
        } else if (x < 0.55) {
          d.pz.track('add_to_cart', { sku: 'shoe-' + step });
          events++;
        } else if (x < 0.65) {
          d.pz.track('purchase', { value: Math.round(rng() * 400) });
          events++;
        } else if (x < 0.75 && !identified.has(d.name)) {
          identified.add(d.name);
          d.pz.identify(user, { plan: rng() < 0.5 ? 'pro' : 'team' });
        } else {
          // Syncs in any order, sometimes both at once.
          const both = rng() < 0.3;
          await Promise.all((both ? devices : [d]).map((e) => e.pz.sync()));
        }
        if (rng() < 0.2) await sleep(5);
      }
      for (const d of devices) {
        if (!identified.has(d.name)) d.pz.identify(user);
      }
      t.diagnostic(
        `network: ${stats.dropped} dropped, ${stats.lostAnswers} lost answers, ` +
          `${stats.duplicated} duplicated, ${stats.errors} 5xx, ${stats.timeouts} timed out`,
      );
      assert.ok(stats.dropped + stats.lostAnswers + stats.duplicated > 5, 'the network misbehaved');
      assert.ok(stats.errors > 0 && stats.timeouts > 0, 'the server failed and hung too');

      // The network heals: every device syncs until a full round changes nothing.
      for (const d of devices) d.net.lossy = false;
      await until(async () => {
        const ok = [];
        for (const d of [...devices, ...devices]) ok.push(await d.pz.sync());
        if (!ok.every(Boolean)) return false;
        for (const d of devices) await d.pz.flush();
        return JSON.stringify(stateOf(devices[0])) === JSON.stringify(stateOf(devices[1]));
      }, 'the devices to converge');

      const [a, b] = devices.map(stateOf);
      assert.deepEqual(a, b, 'one profile state on both devices');
      assert.equal(a.user_id[0], user);
      assert.equal(a.components.length, 2, 'both devices contributed');
      const onServer = await call(server, 'GET', `/v1/profiles/${user}`, { key: 'sk_demo' });
      assert.equal(onServer.status, 200);
      assert.deepEqual(onServer.body.state, a, 'the server holds the same state');
      assert.equal(onServer.body.aliases.length, 2, 'both anonymous ids are linked to the user');

      const [pa, pb] = await Promise.all(devices.map((d) => d.pz.profile()));
      assert.deepEqual(pa.segments, pb.segments);
      assert.deepEqual(pa.traits, pb.traits);
      assert.deepEqual([pa.counts, pa.metrics, pa.sessions], [pb.counts, pb.metrics, pb.sessions]);
      const [da, db] = await Promise.all(devices.map((d) => d.pz.decide(['hero'])));
      assert.deepEqual(da, db, 'the same decisions');
      // The server decides the same for the user as the devices do.
      const sd = await call(server, 'POST', '/v1/decide', {
        key: 'pk_demo',
        body: { id: user, slots: ['hero'], now: c.now() },
      });
      assert.equal(sd.status, 200);
      assert.deepEqual(sd.body.segments, pa.segments);
      assert.deepEqual(
        sd.body.decisions.map((x) => [x.action, x.content]),
        da.map((x) => [x.action, x.content]),
      );

      // Every event reached the log exactly once (at least once, deduplicated by id).
      await until(async () => {
        const r = await call(server, 'GET', `/v1/profiles/${user}`, { key: 'sk_demo' });
        return r.body.events === events;
      }, `${events} events in the log`);

      // Erasure on the server: at their next sync both devices drop every personal datum.
      const del = await call(server, 'DELETE', `/v1/profiles/${user}`, { key: 'sk_demo' });
      assert.equal(del.status, 200);
      assert.equal(del.body.events_deleted, events);
      for (const d of devices) assert.equal(await d.pz.sync(), true);
      for (const d of devices) {
        await d.pz.flush();
        const p = await d.pz.profile();
        assert.equal(p.user_id ?? null, null, `${d.name}: no user id`);
        assert.deepEqual(p.traits, {}, `${d.name}: no traits`);
        assert.deepEqual(p.segments, [], `${d.name}: no segments`);
        assert.ok(p.erased_at >= del.body.erased_at, `${d.name}: the erasure epoch`);
        const s = stateOf(d);
        assert.equal(s.user_id, null);
        assert.deepEqual(s.traits, []);
        assert.ok(
          s.components.every((x) => !x.seen && x.counts.length === 0 && x.metrics.length === 0),
          `${d.name}: no series left: ${JSON.stringify(s.components)}`,
        );
        const text = JSON.stringify(Object.fromEntries(d.storage.map));
        assert.ok(!text.includes(user), `${d.name}: the user id is not in storage`);
        assert.ok(!text.includes('shoe-'), `${d.name}: no event contents in storage`);
      }
      const after = await call(server, 'GET', `/v1/profiles/${user}`, { key: 'sk_demo' });
      assert.equal(after.body.events, 0);
      assert.deepEqual(after.body.state.components, []);
    } finally {
      for (const d of devices) d.pg.win.close();
      await server.stop();
      fs.rmSync(server.data, { recursive: true, force: true });
    }
  });
}
