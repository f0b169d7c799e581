// The JS host (js/src/host.mjs) over the real wasm core: every way to load it, the ABI version
// check, the result envelope, and that bad input comes back as an error and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Core, Op, PzError, Rc, loadCore, readChanges } from '../../js/src/host.mjs';
import { evalLine } from '../../js/src/cli.mjs';
import { PZ_WASM, ROOT } from './harness.mjs';

const bytes = fs.readFileSync(PZ_WASM);
const demoBundle = fs.readFileSync(path.join(ROOT, 'demo-site', 'bundle.json'), 'utf8');
const T = 1793577600000; // 2026-11-02T00:00:00Z

test('loads from bytes, a typed array view, a Response, a promise of one, and a compiled Module', async () => {
  const sources = [
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
    new Uint8Array(bytes),
    new Response(bytes, { headers: { 'content-type': 'application/wasm' } }),
    new Response(bytes), // no wasm content type: falls back to arrayBuffer()
    Promise.resolve(new Response(bytes, { headers: { 'content-type': 'application/wasm' } })),
    await WebAssembly.compile(bytes),
  ];
  for (const source of sources) {
    const core = await loadCore(source);
    assert.equal(core.abiVersion, 1);
    assert.equal(evalLine(core, '{"rule":{"+":[0.1,0.2]}}', 1), '{"result":0.30000000000000004}');
  }
});

test('refuses what is not a pz core: bad bytes, HTTP errors, other ABI versions', async () => {
  await assert.rejects(loadCore(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99])));
  await assert.rejects(loadCore(new Response('nope', { status: 404 })), /HTTP 404/);
  await assert.rejects(loadCore('pz_core.wasm'), PzError);
  // A module without the ABI exports.
  const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
  await assert.rejects(loadCore(empty), /export memory is missing/);
  // An instance that reports another ABI version.
  const { instance } = await WebAssembly.instantiate(bytes, {
    env: { emscripten_notify_memory_growth() {} },
    wasi_snapshot_preview1: { proc_exit() {} },
  });
  const fake = { exports: { ...instance.exports, pz_abi_version: () => 2 } };
  assert.throws(() => new Core(fake), /ABI version 2, this host speaks 1/);
});

// entered/exited list ids in byte order whatever the bundle order, for a few changes (sorted
// as they are found) and for many (more than 32: the bundle's id order), in and out again.
test('entered and exited are sorted by id, few or many', async () => {
  const core = await loadCore(bytes);
  const ids = Array.from({ length: 40 }, (_, i) => `s${(i * 7) % 40}`); // bundle order != id order
  const segments = ids.map((id, i) => ({ id,
    rule: i % 2 ? { '==': [{ var: 'event.type' }, 'go'] } : { '>=': [{ count: ['go', '1h'] }, 1] } }));
  segments.push({ id: 'few_b', rule: { '==': [{ var: 'event.type' }, 'few'] } },
    { id: 'few_a', rule: { '==': [{ var: 'event.type' }, 'few'] } },
    { id: 'Few_c', rule: { '==': [{ var: 'event.type' }, 'few'] } });
  const e = core.engine();
  assert.equal(e.loadBundle({ version: '1', consent: { mode: 'opt-out' }, segments }).ok, true);
  const byteOrder = (a) => [...a].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1));
  const go = e.ingest({ type: 'go', t: T });
  assert.deepEqual(go.value, { entered: byteOrder(ids), exited: [] });
  // 20 event.type segments leave, the count segments stay: many exits; three enter.
  const few = e.ingest({ type: 'few', t: T + 1 });
  assert.deepEqual(few.value.entered, ['Few_c', 'few_a', 'few_b']);
  assert.deepEqual(few.value.exited, byteOrder(ids.filter((_, i) => i % 2)));
  const other = e.ingest({ type: 'other', t: T + 2 });
  assert.deepEqual(other.value, { entered: [], exited: ['Few_c', 'few_a', 'few_b'] });
  assert.deepEqual(e.ingest({ type: 'other', t: T + 3 }).value, { entered: [], exited: [] });
});

test('engine: bundle, events, segments, decisions, profile through the envelope', async () => {
  const core = await loadCore(bytes);
  const e = core.engine();
  assert.deepEqual(e.ingest({ type: 'page_view', t: T }), { ok: false, error: 'no bundle loaded' });
  const loaded = e.loadBundle(demoBundle);
  assert.equal(loaded.ok, true);
  assert.equal(loaded.value.version, JSON.parse(demoBundle).version);
  assert.equal(loaded.value.slots, 4);
  assert.equal(e.setIds({ anonymous_id: 'anon-1', device_id: 'dev-1' }).ok, true);
  // Opt-in bundle: before consent nothing is kept.
  assert.deepEqual(e.ingest({ type: 'page_view', t: T, page: { path: '/pricing' } }).value,
    { entered: [], exited: [] });
  const c = e.consent({ analytics: true, personalization: true }, T + 1);
  assert.deepEqual(c.value, { necessary: true, analytics: true, personalization: true,
    marketing: false, given: true });
  let entered = [];
  for (let i = 0; i < 3; ++i) {
    entered.push(...e.ingest({ type: 'page_view', t: T + 10 + i, page: { path: '/pricing' } }).value.entered);
  }
  entered.push(...e.ingest({ type: 'add_to_cart', t: T + 20, props: { sku: 'run-1' } }).value.entered);
  assert.ok(entered.includes('high_intent'), `entered ${entered}`);
  assert.ok(e.segments().value.includes('high_intent'));
  const d = e.decide(['hero', 'banner'], T + 30, { why: true });
  assert.equal(d.ok, true);
  assert.equal(d.value.decisions.length, 2);
  assert.equal(d.value.decisions[0].slot, 'hero');
  assert.equal(d.value.decisions[0].action, 'vip_offer');
  assert.equal(d.value.decisions[0].why.action, 'vip_offer');
  assert.equal(d.value.decisions[1].why.slot, 'banner');
  assert.equal(e.decide(['hero'], T + 30).value.decisions[0].why, undefined);
  const p = e.profile(T + 40).value;
  assert.equal(p.anonymous_id, 'anon-1');
  assert.equal(p.device_id, 'dev-1');
  assert.ok(p.segments.includes('high_intent'));
  assert.equal(typeof p.metrics, 'object');
  assert.deepEqual(Object.keys(p.metrics), [
    'pricing_views',
    'shoe_views',
    'spend',
    'shoe_views_day0',
    'shoe_views_day1',
    'shoe_views_day2',
  ]);
  assert.equal(p.metrics.pricing_views.total, 3);
  assert.equal(p.counts.add_to_cart.total, 1);
  // State moves to another engine by export/merge.
  const state = e.exportState().value;
  const other = core.engine();
  other.loadBundle(demoBundle);
  other.consent({ personalization: true }, T + 50);
  assert.ok(other.mergeState(state, T + 50).value.entered.includes('high_intent'));
  // Withdrawal erases.
  const w = e.consent({ personalization: false }, T + 60);
  assert.equal(w.value.personalization, false);
  assert.ok(!e.segments().value.includes('high_intent'));
  e.free();
  other.free();
});

test('bad input is an error envelope and changes nothing', async () => {
  const core = await loadCore(bytes);
  const e = core.engine();
  e.loadBundle(demoBundle);
  e.consent({ personalization: true }, T);
  e.ingest({ type: 'page_view', t: T, page: { path: '/' } });
  const before = e.exportState().value;
  const bad = [
    e.loadBundle('{"version": 1'),
    e.loadBundle({ version: 'x', segments: [{ id: 's', rule: { fo: 1 } }] }),
    e.ingest('{"type":'),
    e.ingest({ t: T }),
    e.ingest({ type: 'x', t: 'soon' }),
    e.ingest({ type: 'x', t: T, props: 'nope' }),
    e.ingest({ type: 'x', t: T, props: { blob: 'x'.repeat(40000) } }),
    e.identify('', {}, T),
    e.identify('u', {}, NaN),
    e.decide('hero', T),
    e.decide(['hero'], Infinity),
    e.decide(['hero'], T, { page: 'p' }),
    e.feedback('nope', 'click', T),
    e.feedback('vip_offer', 'liked', T),
    e.consent({ tcf: 'garbage' }, T),
    e.consent({ personalization: 'yes' }, T),
    e.mergeState('{"components": 7}', T),
    e.context([1]),
    e.setIds({ anonymous_id: '' }),
  ];
  for (const r of bad) {
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(typeof r.error, 'string');
    assert.ok(r.error.length > 3);
  }
  assert.match(bad[1].error, /segments\[0\]\.rule/);
  assert.match(bad[3].error, /type/);
  assert.match(bad[6].error, /32768/);
  assert.deepEqual(e.exportState().value, before);
  assert.equal(e.loadBundle(demoBundle).ok, true);
  // Unknown handles and ops never trap.
  assert.match(core.call(999, 3, '{}').error, /unknown handle 999/);
  assert.match(core.call(e.handle, 42, '').error, /unknown op 42/);
  e.free();
  assert.match(e.segments().error, /unknown handle/);
});

test('large inputs grow the memory, and the scratch buffer is reused', async () => {
  const core = await loadCore(bytes);
  const e = core.engine();
  const rule = { '==': [{ var: 'event.type' }, 'go'] };
  assert.equal(e.loadBundle({ version: '1', consent: { mode: 'opt-out' },
    segments: [{ id: 'go', rule }] }).ok, true);
  assert.deepEqual(e.ingest({ type: 'go', t: T }).value, { entered: ['go'], exited: [] });
  const before = core.x.memory.buffer.byteLength;
  const big = JSON.stringify({ rule: 1, data: { blob: "x".repeat(20 << 20) } });
  const out = evalLine(core, big, 1);
  assert.equal(out, "{\"result\":1}");
  assert.ok(core.x.memory.buffer.byteLength > before);
  const scratch = core.scratch;
  evalLine(core, '{"rule":1}', 2);
  assert.equal(core.scratch, scratch);
  // The host's cached views of the memory were made before it grew: answers still read right.
  assert.deepEqual(e.ingest({ type: 'stop', t: T + 1 }).value, { entered: [], exited: ['go'] });
  assert.deepEqual(e.ingest({ type: 'go', t: T + 2 }).value, { entered: ['go'], exited: [] });
  // Memory grown outside pz_call (any export may malloc): the cached input view is detached and
  // must be made again, not written into (a detached view takes 0 bytes: the core would read an
  // empty event).
  core.x.memory.grow(1);
  assert.deepEqual(e.ingest({ type: 'stop', t: T + 3 }).value, { entered: [], exited: ['go'] });
  core.x.memory.grow(1);
  assert.deepEqual(core.callRaw(e.handle, Op.INGEST, JSON.stringify({ type: 'go', t: T + 4 }))[0],
    Rc.OK);
  assert.deepEqual(e.segments().value, ['go']);
});

test('the changes envelope is read as JSON.parse reads it, or left to JSON.parse', () => {
  const enc = (t) => new TextEncoder().encode(t);
  const ids = ['a', 'Z9', 'x_y-z.w:v', 'q'.repeat(64), 'seg_012'];
  for (let n = 0; n < 40; n++) {
    const pick = (k) => ids.filter((_, i) => ((n >> k) + i) % 3 === 0);
    const value = { entered: pick(0), exited: pick(2) };
    const text = JSON.stringify({ ok: true, value });
    assert.deepEqual(readChanges(enc(text)), JSON.parse(text).value, text);
  }
  // What it does not take: another envelope, escapes, bytes outside ids, a cut or padded text.
  for (const text of [
    '{"ok":false,"error":"bad"}',
    '{"ok":true,"value":{"entered":["a\\u0062"],"exited":[]}}',
    '{"ok":true,"value":{"entered":["a b"],"exited":[]}}',
    '{"ok":true,"value":{"entered":["é"],"exited":[]}}',
    '{"ok":true,"value":{"entered":[""],"exited":[]}}',
    `{"ok":true,"value":{"entered":["${'q'.repeat(65)}"],"exited":[]}}`,
    '{"ok":true,"value":{"entered":["a",],"exited":[]}}',
    '{"ok":true,"value":{"entered":["a"],"exited":["b"]}',
    '{"ok":true,"value":{"entered":["a"],"exited":["b"]}} ',
    '{"ok":true,"value":{"entered":["a"]}}',
    '{"ok":true,"value":{"exited":[],"entered":[]}}',
  ]) {
    assert.equal(readChanges(enc(text)), null, text);
  }
});

test('random and mutated inputs to every op: always an envelope, never a trap', async () => {
  const core = await loadCore(bytes);
  const e = core.engine();
  e.loadBundle(demoBundle);
  e.consent({ personalization: true }, T);
  const seeds = [
    [3, JSON.stringify({ type: 'page_view', t: T, page: { path: '/pricing' }, props: { v: 1 } })],
    [5, JSON.stringify({ user_id: 'u1', traits: { plan: 'pro' } })],
    [6, JSON.stringify({ device: 'mobile' })],
    [7, JSON.stringify({ analytics: true, personalization: true, consent_mode: { ad_storage: 'granted' } })],
    [8, JSON.stringify({ slots: ['hero', 'banner'], page: { path: '/' }, why: true })],
    [9, JSON.stringify({ action: 'vip_offer', outcome: 'click' })],
    [12, e.exportState().value && JSON.stringify(e.exportState().value)],
    [2, JSON.stringify({ anonymous_id: 'a', device_id: 'd' })],
    [1, demoBundle],
  ];
  let seed = 12345;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const mutate = (s) => {
    const b = Buffer.from(s);
    const k = 1 + rnd(4);
    for (let i = 0; i < k; ++i) {
      const at = rnd(b.length);
      const op = rnd(3);
      if (op === 0) b[at] = rnd(256);
      else if (op === 1) b[at] = '{}[]",:0e-\\'.charCodeAt(rnd(11));
      else return b.subarray(0, at);
    }
    return b;
  };
  for (let i = 0; i < 3000; ++i) {
    const [op, text] = seeds[rnd(seeds.length)];
    const input = rnd(5) === 0 ? text : mutate(text);
    const now = [T + i, NaN, -1, 8.64e15, 1e300, 0][rnd(6)];
    const [rc, out] = core.callRaw(e.handle, op, input, '', now);
    assert.ok(rc === 0 || rc === 1, `rc ${rc}`);
    const env = JSON.parse(Buffer.from(out).toString('utf8'));
    assert.equal(env.ok, rc === 0);
    assert.ok(env.ok ? 'value' in env : typeof env.error === 'string');
  }
  // Still a working engine afterwards.
  e.loadBundle(demoBundle);
  assert.equal(e.decide(['hero'], T + 10000).ok, true);
  assert.equal(evalLine(core, '{"rule":{"+":[1,2]}}', 1), '{"result":3}');
});
