// The SQLite store when its disk fails (a real pz-server with its data directory on a tmpfs of
// 1 MB; needs root, for mount): writes on a full disk answer 500 `store_error` saying so and that
// nothing was written, never a 2xx for an unwritten event; what was acknowledged before is read
// back (profile event counts, and collect's deduplication: an acknowledged batch sent again is
// all duplicates, a refused one is all new); when space returns writes succeed again without a
// restart, and the file passes PRAGMA integrity_check. A read-only data directory stops the
// start with a message naming it. (Linux refuses `mount -o remount,ro` while the server holds
// its database open for writing, so a mount cannot turn read-only under a running server: the
// full disk stands for every failing write.)
//
//   node --test tests/server/disk.test.mjs   (as root)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { PZ_SERVER, T0, call, startServer, tempDir } from './harness.mjs';

function mountTmpfs(dir, size) {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
}
function remount(dir, opts) {
  return spawnSync('mount', ['-o', `remount,${opts}`, dir], { encoding: 'utf8' });
}
function unmount(dir) {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
}
const mounted = (dir) => fs.readFileSync('/proc/mounts', 'utf8').includes(` ${dir} tmpfs `);

/** A batch of 20 page views of ~300 bytes each, ids unique to batch `n`. */
const batch = (anon, n) => ({
  anonymous_id: anon,
  events: Array.from({ length: 20 }, (_, i) => ({
    id: `disk-${n}-${i}`,
    type: 'page_view',
    t: T0 + n * 1000 + i,
    page: { path: `/p/${n}/${i}/${'x'.repeat(240)}` },
  })),
});

/** A sync that creates (or touches) the profile `id` with one device component. */
const syncBody = (id, version = 1) => ({
  id,
  delta: {
    v: 1, erased_at: null, user_id: null, consent: null, traits: [],
    components: [{
      device: 'dev-disk', epoch: 0, version, seen: true, first_seen: T0, last_seen: T0,
      sessions: 1, metrics: [],
      counts: [['page_view', { total: version, last: T0, hourly: [[Math.floor(T0 / 3600000), version]],
        daily: [[Math.floor(T0 / 86400000), version]] }]],
      exposures: [],
    }],
  },
});

function assertStoreError(r, dir) {
  assert.equal(r.status, 500, JSON.stringify(r.body));
  assert.equal(r.body.error, 'store_error');
  assert.match(r.body.message, /disk of the data directory is full/);
  assert.match(r.body.message, /nothing of this request was written/);
  // Clear words, no internals: no SQL, no SQLite, no file paths.
  assert.doesNotMatch(r.body.message, /COMMIT|BEGIN|SAVEPOINT|INSERT|sqlite|pz\.db/i);
  assert.ok(!r.body.message.includes(dir));
}

describe('disk full: a 1 MB tmpfs', () => {
  let dir;
  let s;
  before(() => {
    dir = tempDir('pz-disk-');
    mountTmpfs(dir, '1m');
  });
  after(async () => {
    await s?.stop();
    unmount(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('writes fail with a clear 500 and nothing half-written; space returns, writes resume', async () => {
    const data = path.join(dir, 'data');
    s = await startServer({ data });
    const anon = 'disk-anon';
    assert.equal((await call(s, 'POST', '/v1/sync', { key: 'pk_demo', body: syncBody(anon) })).status, 200);

    // Fill the disk: every batch is either acknowledged whole or refused whole.
    const acked = [];
    const refused = [];
    for (let n = 0; n < 1000 && refused.length < 5; n++) {
      const r = await call(s, 'POST', '/v1/collect', { key: 'pk_demo', body: batch(anon, n) });
      if (r.status === 200) {
        assert.deepEqual(r.body, { accepted: 20, duplicates: 0, rejected: [] });
        acked.push(n);
      } else {
        assertStoreError(r, dir);
        refused.push(n);
      }
    }
    assert.equal(refused.length, 5, 'the disk filled up');
    assert.ok(acked.length >= 5, `${acked.length} batches fit`);

    // While full: reads, health and metrics work; every acknowledged event is there, no other.
    let p = await call(s, 'GET', `/v1/profiles/${anon}`, { key: 'sk_demo' });
    assert.equal(p.status, 200);
    assert.equal(p.body.events, acked.length * 20);
    // A small write may still fit (SQLite reuses the log's space once it is checkpointed): then it
    // is kept, else it is refused the same way.
    const sync2 = await call(s, 'POST', '/v1/sync', { key: 'pk_demo', body: syncBody(anon, 2) });
    if (sync2.status !== 200) assertStoreError(sync2, dir);
    const link1 = await call(s, 'POST', '/v1/identify', {
      key: 'pk_demo', body: { anonymous_id: anon, user_id: 'disk-user' } });
    if (link1.status !== 200) assertStoreError(link1, dir);
    p = await call(s, 'GET', `/v1/profiles/${anon}`, { key: 'sk_demo' });
    assert.equal(p.body.id, link1.status === 200 ? 'disk-user' : anon, 'identify all or nothing');
    assert.equal((await call(s, 'GET', '/healthz')).status, 200);
    const metrics = await (await s.fetch('/metrics')).text();
    assert.ok(Number(/^pz_store_errors_total (\d+)/m.exec(metrics)[1]) >= refused.length, 'store errors counted');
    const logged = s.logs.filter((l) => l.msg === 'store write failed');
    assert.ok(logged.length >= 1 && logged.every((l) => /full/.test(l.error)), 'the cause is logged');

    // Space returns: writes succeed again, without a restart.
    assert.equal(remount(dir, 'size=16m').status, 0);
    for (const n of acked) {
      const r = await call(s, 'POST', '/v1/collect', { key: 'pk_demo', body: batch(anon, n) });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { accepted: 0, duplicates: 20, rejected: [] }, `acknowledged batch ${n}`);
    }
    for (const n of refused) {
      const r = await call(s, 'POST', '/v1/collect', { key: 'pk_demo', body: batch(anon, n) });
      assert.deepEqual(r.body, { accepted: 20, duplicates: 0, rejected: [] }, `refused batch ${n}`);
    }
    const sync = await call(s, 'POST', '/v1/sync', { key: 'pk_demo', body: syncBody(anon, 2) });
    assert.equal(sync.status, 200);
    assert.equal(sync.body.id, link1.status === 200 ? 'disk-user' : anon);
    assert.deepEqual(sync.body.cursor, [['dev-disk', 0, 2]]);
    const link = await call(s, 'POST', '/v1/identify', {
      key: 'pk_demo', body: { anonymous_id: anon, user_id: 'disk-user' } });
    assert.deepEqual(link.body, { id: 'disk-user', merged: link1.status !== 200 });
    const total = (acked.length + refused.length) * 20;
    p = await call(s, 'GET', '/v1/profiles/disk-user', { key: 'sk_demo' });
    assert.equal(p.body.events, total);
    assert.deepEqual(p.body.aliases, [anon]);

    // The file is sound, and holds everything after a restart.
    await s.stop();
    const check = spawnSync('sqlite3', [path.join(data, 'pz.db'),
      'PRAGMA integrity_check; SELECT COUNT(*) FROM events;'], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stdout, `ok\n${total}\n`);
    s = await startServer({ data });
    p = await call(s, 'GET', `/v1/profiles/${anon}`, { key: 'sk_demo' });
    assert.equal(p.body.id, 'disk-user');
    assert.equal(p.body.events, total);
  });
});

describe('read-only data directory', () => {
  let dir;
  let s;
  before(() => {
    dir = tempDir('pz-ro-');
    mountTmpfs(dir, '4m');
  });
  after(async () => {
    await s?.stop();
    unmount(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Starts pz-server, expecting it to refuse: {status, stderr}. */
  const refusedStart = (data) =>
    spawnSync(PZ_SERVER, ['--port', '0', '--data', data], { encoding: 'utf8', timeout: 10000 });

  test('the server refuses to start on it, naming the directory; starts once it is writable', async () => {
    const data = path.join(dir, 'data');
    s = await startServer({ data });
    const r = await call(s, 'POST', '/v1/collect', { key: 'pk_demo', body: batch('ro-anon', 1) });
    assert.equal(r.body.accepted, 20);

    // A mount cannot turn read-only under the running server (its database is open for writing).
    const busy = remount(dir, 'ro');
    assert.notEqual(busy.status, 0, 'remount,ro while the server runs');
    assert.match(busy.stderr, /busy/i);
    assert.equal((await call(s, 'POST', '/v1/collect', { key: 'pk_demo', body: batch('ro-anon', 2) })).status, 200);
    await s.stop();
    s = null;

    assert.equal(remount(dir, 'ro').status, 0);
    assert.ok(fs.readFileSync('/proc/mounts', 'utf8').includes(` ${dir} tmpfs ro,`));
    const existing = refusedStart(data);
    assert.equal(existing.status, 1, existing.stderr);
    assert.match(existing.stderr, new RegExp(`the data directory ${data} is not writable \\(Read-only file system\\)`));
    assert.doesNotMatch(existing.stderr, /"msg":"listening"/);
    const fresh = refusedStart(path.join(dir, 'fresh'));
    assert.equal(fresh.status, 1, fresh.stderr);
    assert.match(fresh.stderr, /cannot create the data directory .*fresh \(Read-only file system\)/);

    assert.equal(remount(dir, 'rw').status, 0);
    s = await startServer({ data });
    const again = await call(s, 'POST', '/v1/collect', { key: 'pk_demo', body: batch('ro-anon', 1) });
    assert.deepEqual(again.body, { accepted: 0, duplicates: 20, rejected: [] }, 'the data was kept');
    assert.ok(mounted(dir));
  });
});
