// Durability: kill -9 the server in the middle of a stream of collects and syncs, restart it on
// the same data directory, and check that every acknowledged request is there.
//   - events: re-sending every acknowledged batch answers all of it as duplicates (the dedup
//     keys prove the events are stored);
//   - syncs: every device's component in the stored profile is at least at the version of its
//     last acknowledged sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, call, T0 } from './harness.mjs';

const HOUR = 3600000;
const DAY = 86400000;

/** A device state at `version` (docs/sync.md): `version` page views, one per ms after T0. */
function deviceState(device, version) {
  const last = T0 + version;
  return {
    v: 1,
    erased_at: null,
    user_id: null,
    consent: null,
    traits: [],
    components: [
      {
        device,
        epoch: 0,
        version,
        seen: true,
        first_seen: T0,
        last_seen: last,
        sessions: 1,
        metrics: [],
        counts: [
          [
            'page_view',
            {
              total: version,
              last,
              hourly: [[Math.floor(last / HOUR), version]],
              daily: [[Math.floor(last / DAY), version]],
            },
          ],
        ],
        exposures: [],
      },
    ],
  };
}

// Trials on one data directory: each kills the server restarted by the one before (recovery after
// recovery), and each checks everything acknowledged in every trial so far.
const TRIALS = Number(process.env.PZ_DURABILITY_TRIALS) || 3;

test(`every acknowledged collect and sync survives kill -9 (${TRIALS} trials)`, async (t) => {
  let server = await startServer();
  const data = server.data;
  const acked = []; // [{anonymous_id, events}] answered 200, every trial
  const synced = new Map(); // `${profile}/${device}` -> highest acknowledged version
  try {
    for (let trial = 0; trial < TRIALS; trial++) {
      const before = acked.length;
      let stop = false;
      let failures = 0;
      const collector = async (w) => {
        for (let n = 0; !stop; n++) {
          const body = {
            anonymous_id: `dur-a${w}`,
            events: Array.from({ length: 20 }, (_, i) => ({
              id: `dur-${trial}-${w}-${n}-${i}`,
              type: 'page_view',
              t: T0 + n * 20 + i,
              page: { path: '/p' },
            })),
          };
          try {
            const r = await call(server, 'POST', '/v1/collect', { key: 'pk_demo', body });
            if (r.status === 200) {
              assert.equal(r.body.accepted, 20);
              acked.push(body);
            } else failures++;
          } catch {
            return; // the server is gone
          }
        }
      };
      const syncer = async (w) => {
        const profile = `dur-p${w % 3}`; // three profiles, several devices each: concurrent merges
        const device = `dev-${w}`;
        // Versions go on across trials (a state is a function of device and version).
        for (let v = (synced.get(`${profile}/${device}`) ?? 0) + 1; !stop; v++) {
          try {
            const r = await call(server, 'POST', '/v1/sync', {
              key: 'pk_demo',
              body: { id: profile, delta: deviceState(device, v), versions: [] },
            });
            if (r.status === 200) {
              synced.set(`${profile}/${device}`, v);
            } else failures++;
          } catch {
            return;
          }
        }
      };

      const workers = [0, 1, 2, 3].map(collector).concat([0, 1, 2, 3, 4, 5].map(syncer));
      await new Promise((r) => setTimeout(r, 1500));
      await server.kill9();
      stop = true;
      await Promise.all(workers);
      assert.equal(server.exited.signal, 'SIGKILL');
      assert.equal(failures, 0, 'no request failed before the kill');
      assert.ok(acked.length - before > 5, `a stream of collects was acknowledged (trial ${trial})`);
      assert.ok(synced.size === 6, 'every device had an acknowledged sync');
      t.diagnostic(
        `trial ${trial}: ${acked.length - before} batches acknowledged before the kill ` +
          `(${acked.length} in all), sync versions ${[...synced.values()].join(',')}`,
      );

      server = await startServer({ data });
      for (const body of acked) {
        const r = await call(server, 'POST', '/v1/collect', { key: 'pk_demo', body });
        assert.equal(r.status, 200);
        assert.deepEqual(
          [r.body.accepted, r.body.duplicates],
          [0, 20],
          `batch ${body.events[0].id} was acknowledged before a kill, so it is stored`,
        );
      }
      for (const [key, version] of synced) {
        const [profile, device] = key.split('/');
        const r = await call(server, 'GET', `/v1/profiles/${profile}`, { key: 'sk_demo' });
        assert.equal(r.status, 200);
        const c = r.body.state.components.find((x) => x.device === device);
        assert.ok(c, `${device}'s component is in ${profile}`);
        assert.ok(
          c.version >= version,
          `${device} in ${profile}: stored version ${c.version} >= acknowledged ${version}`,
        );
        // Concurrent syncs of one profile lost nothing: every device of the profile is there.
        const devices = [...synced.keys()].filter((k) => k.startsWith(profile + '/')).length;
        assert.equal(r.body.state.components.length, devices);
      }
    }
  } finally {
    await server.stop();
    fs.rmSync(data, { recursive: true, force: true });
  }
});
