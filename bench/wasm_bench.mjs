#!/usr/bin/env node
// The wasm core in node next to the native core, on the same inputs (the 200-segment x
// 4-condition bundle, 100 actions, 3 slots, 10,000 events that bench/core_bench.cpp generates and
// writes with --emit). Prints one table: start-up (compile + instantiate, bundle load, first
// decision), µs per event for ingest + incremental re-segmentation, for ingest + a 3-slot
// decision, and wasm/native ratios. The wasm path is the full host path: event JSON text in
// through js/src/host.mjs, the envelope JSON out and parsed. Per-call times are medians of
// chunks (1,000 ingests, 100 event + decide pairs), here and in the native benches.
//
// Rounds (--rounds R, default 7): N events are measured as R rounds of N/R, and in each round the
// native benches (fresh processes) and the two modules take their turn, in an order that rotates.
// A busy phase of a shared machine then slows native and wasm alike: the ratios reported are the
// median of the rounds' own ratios, with the lowest and highest round (`*_range` in --json).
//
//   node bench/wasm_bench.mjs [--events N] [--rounds R] [--json]
// Env: PZ_BENCH (native bench binary, default build/pz_bench), PZ_WASM (default
// build-wasm/pz_core.wasm, the browser's -Oz build), PZ_WASM_SPEED (default
// build-wasm/pz_core_speed.wasm, the -O2 build for long-running hosts: the same per-event rows
// again when it exists).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadCore, Op } from '../js/src/host.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
/** The whole number after `flag` (>= min), `fallback` without the flag; exits 2 on anything else. */
function wholeArg(flag, fallback, min) {
  const at = args.indexOf(flag);
  if (at < 0) return fallback;
  const v = Number(args[at + 1]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`wasm_bench: ${flag} takes a whole number >= ${min}, got ${args[at + 1] ?? 'nothing'}`);
    process.exit(2);
  }
  return v;
}
const N = wholeArg('--events', 100000, 1);
const ROUNDS = wholeArg('--rounds', 7, 1);
const asJson = args.includes('--json');
const BENCH = process.env.PZ_BENCH || path.join(ROOT, 'build', 'pz_bench');
const ABI_BENCH = process.env.PZ_ABI_BENCH || path.join(ROOT, 'build', 'pz_abi_bench');
const WASM = process.env.PZ_WASM || path.join(ROOT, 'build-wasm', 'pz_core.wasm');
const WASM_SPEED = process.env.PZ_WASM_SPEED || path.join(ROOT, 'build-wasm', 'pz_core_speed.wasm');

for (const f of [BENCH, WASM]) {
  if (!fs.existsSync(f)) {
    console.error(`wasm_bench: ${f} missing (build the native project and scripts/build-wasm.sh)`);
    process.exit(2);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-bench-'));
execFileSync(BENCH, ['--emit', dir]);
const bundle = fs.readFileSync(path.join(dir, 'bundle.json'), 'utf8');
const setup = JSON.parse(fs.readFileSync(path.join(dir, 'setup.json'), 'utf8'));
const lines = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean);
const times = lines.map((l) => JSON.parse(l).t);


function must(env, what) {
  if (!env.ok) throw new Error(`${what}: ${env.error}`);
  return env.value;
}

// Start-up, cold: compile + instantiate, bundle load, first decision.
const bytes = fs.readFileSync(WASM);
let t0 = performance.now();
const module = await WebAssembly.compile(bytes);
const core = await loadCore(module);
const instantiateMs = performance.now() - t0;
const engine = core.engine();
t0 = performance.now();
must(engine.loadBundle(bundle), 'bundle');
const loadMs = performance.now() - t0;
t0 = performance.now();
must(engine.identify(setup.user_id, setup.traits, setup.now), 'identify');
must(engine.context(setup.context), 'context');
must(engine.decide(['hero', 'banner', 'sidebar'], setup.now), 'decide');
const firstDecisionMs = performance.now() - t0;

// µs per call of fn(i), i in [0, n): the median of chunks of `chunk` calls (a shared machine
// interrupts some chunks; the median is what the code costs). The native benches do the same.
function medianUs(n, chunk, fn) {
  const perCall = [];
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    const t = performance.now();
    for (let i = start; i < end; ++i) fn(i);
    perCall.push(((performance.now() - t) * 1000) / (end - start));
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)];
}

// The per-event measurements on one module: ingest through the host, event + 3-slot decision
// through the host, and the same two through the bare C ABI (callRaw). Three engines, set up and
// warmed once; each call of the returned function is one round over `n` events (the stream goes
// on from where the last round left it).
function perEvent(core, engine) {
  // Ingest + incremental re-segmentation per event (warm-up as the native bench: 2,000 events).
  for (let i = 0; i < 2000; ++i) engine.ingest(lines[i % lines.length]);

  // An event and a 3-slot decision at its time, per event (a fresh engine, same set-up).
  const e2 = core.engine();
  must(e2.loadBundle(bundle), 'bundle');
  must(e2.identify(setup.user_id, setup.traits, setup.now), 'identify');
  must(e2.context(setup.context), 'context');
  for (let i = 0; i < 2000; ++i) e2.ingest(lines[i % lines.length]);
  // Warm the decide path too (V8 tiers wasm functions up while they run: an unwarmed first loop
  // measured 2x the same loop run again).
  for (let i = 0; i < 500; ++i) e2.decide(['hero', 'banner', 'sidebar'], times[i % lines.length]);

  // The same C ABI calls without the host's JSON.parse of each envelope (callRaw: the input encoded
  // into the module's memory, pz_call, the result bytes left there): the program that
  // bench/abi_bench.cpp runs natively, so this ratio compares one program on two targets.
  const raw = core.engine();
  must(raw.loadBundle(bundle), 'bundle');
  must(raw.identify(setup.user_id, setup.traits, setup.now), 'identify');
  must(raw.context(setup.context), 'context');
  for (let i = 0; i < 2000; ++i) raw.ingest(lines[i % lines.length]);
  for (let i = 0; i < 500; ++i) raw.decide(slots, times[i % lines.length]);
  const decideInput = JSON.stringify({ slots });
  const rawCall = (op, input, now) => {
    const [rc] = core.callRaw(raw.handle, op, input, '', now);
    if (rc !== 0) throw new Error(`op ${op} failed`);
  };
  let at = 0; // where the stream goes on
  return (n) => {
    const base = at;
    at += n;
    const ingestUs = medianUs(n, 1000, (i) => {
      const r = engine.ingest(lines[(base + i) % lines.length]);
      if (!r.ok) throw new Error(r.error);
    });
    const pairs = Math.max(1, Math.floor(n / 20));
    let shown = 0;
    const eventDecideUs = medianUs(pairs, 100, (i) => {
      const k = (base + i) % lines.length;
      e2.ingest(lines[k]);
      shown += must(e2.decide(slots, times[k]), 'decide').decisions.length;
    });
    if (shown !== pairs * slots.length) throw new Error('a slot was not decided');
    const abiIngestUs = medianUs(n, 1000, (i) => rawCall(Op.INGEST, lines[(base + i) % lines.length], 0));
    const abiPairUs = medianUs(pairs, 100, (i) => {
      const k = (base + i) % lines.length;
      rawCall(Op.INGEST, lines[k], 0);
      rawCall(Op.DECIDE, decideInput, times[k]);
    });
    return { ingestUs, eventDecideUs, abiIngestUs, abiPairUs };
  };
}

// The native benches, one round of n events each (fresh processes: their own set-up and
// warm-up, untimed).
const haveAbiBench = fs.existsSync(ABI_BENCH);
if (!haveAbiBench) {
  console.error(`wasm_bench: ${ABI_BENCH} missing: the ABI rows compare nothing (cmake --build build --target pz_abi_bench)`);
}
function nativeRound(n) {
  const core = JSON.parse(execFileSync(BENCH, ['--json', '--events', String(n)], { encoding: 'utf8' }));
  const out = {
    ingestUs: core.ingest_ns_per_event / 1000,
    eventDecideUs: core.event_and_decide_3_slots_ns / 1000,
    loadMs: core.bundle_load_us / 1000,
  };
  if (haveAbiBench) {
    const abi = JSON.parse(execFileSync(ABI_BENCH, [dir, '--events', String(n)], { encoding: 'utf8' }));
    out.abiIngestUs = abi.ingest_us;
    out.abiPairUs = abi.event_and_decide_us;
  }
  return out;
}

// Rounds: native, the -Oz module and the -O2 module each measure n = N / ROUNDS events per
// round, in an order that rotates from round to round, so that a busy phase of the shared
// machine slows all of them alike. Times: the median of the rounds; wasm/native ratios: the
// median of the rounds' own ratios (each wasm round over the native round next to it).
const slots = ['hero', 'banner', 'sidebar'];
const sizeRound = perEvent(core, engine);
let speedRound = null;
if (fs.existsSync(WASM_SPEED)) {
  const speedCore = await loadCore(await WebAssembly.compile(fs.readFileSync(WASM_SPEED)));
  const speedEngine = speedCore.engine();
  must(speedEngine.loadBundle(bundle), 'bundle');
  must(speedEngine.identify(setup.user_id, setup.traits, setup.now), 'identify');
  must(speedEngine.context(setup.context), 'context');
  speedRound = perEvent(speedCore, speedEngine);
}
const perRound = Math.max(2000, Math.floor(N / ROUNDS));
const rounds = [];
for (let r = 0; r < ROUNDS; ++r) {
  const steps = [['native', nativeRound], ['size', sizeRound], ['speed', speedRound]]
    .filter(([, fn]) => fn);
  const round = {};
  for (let k = 0; k < steps.length; ++k) {
    const [name, fn] = steps[(k + r) % steps.length];
    round[name] = fn(perRound);
  }
  rounds.push(round);
}
fs.rmSync(dir, { recursive: true, force: true });

const med = (xs) => {
  const s = xs.filter((x) => x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** The median over rounds of round[which][key]. */
const across = (which, key) => med(rounds.map((r) => r[which][key]));
/** The median over rounds of round[which][key] / round.native[nativeKey], and its range. */
const ratio = (which, key, nativeKey) => {
  const xs = rounds.map((r) => r[which][key] / r.native[nativeKey]).filter((x) => !Number.isNaN(x));
  return xs.length ? { median: med(xs), min: Math.min(...xs), max: Math.max(...xs) } : undefined;
};
const sizeRun = {
  ingestUs: across('size', 'ingestUs'),
  eventDecideUs: across('size', 'eventDecideUs'),
  abiIngestUs: across('size', 'abiIngestUs'),
  abiPairUs: across('size', 'abiPairUs'),
};
const speedRun = speedRound ? {
  ingestUs: across('speed', 'ingestUs'),
  eventDecideUs: across('speed', 'eventDecideUs'),
  abiIngestUs: across('speed', 'abiIngestUs'),
  abiPairUs: across('speed', 'abiPairUs'),
} : null;
const native = {
  ingest_ns_per_event: across('native', 'ingestUs') * 1000,
  event_and_decide_3_slots_ns: across('native', 'eventDecideUs') * 1000,
  bundle_load_us: across('native', 'loadMs') * 1000,
};
const nativeAbi = haveAbiBench ? {
  ingest_us: across('native', 'abiIngestUs'),
  event_and_decide_us: across('native', 'abiPairUs'),
} : null;
const { ingestUs, eventDecideUs, abiIngestUs, abiPairUs } = sizeRun;

/** Sets obj[key] to the ratio's median and obj[key + '_range'] to [min, max]. */
function put(obj, key, r) {
  if (!r) return;
  obj[key] = +r.median.toFixed(2);
  obj[`${key}_range`] = [+r.min.toFixed(2), +r.max.toFixed(2)];
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const result = {
  machine: `${cpu}, ${os.cpus().length} cores, node ${process.version}`,
  rounds: ROUNDS,
  events_per_round: perRound,
  wasm_bytes: bytes.length,
  instantiate_ms: +instantiateMs.toFixed(2),
  bundle_load_ms: +loadMs.toFixed(2),
  first_decision_ms: +firstDecisionMs.toFixed(2),
  wasm_ingest_us: +ingestUs.toFixed(2),
  native_ingest_us: +(native.ingest_ns_per_event / 1000).toFixed(2),
  wasm_event_and_decide_us: +eventDecideUs.toFixed(2),
  native_event_and_decide_us: +(native.event_and_decide_3_slots_ns / 1000).toFixed(2),
  native_bundle_load_ms: +(native.bundle_load_us / 1000).toFixed(2),
};
result.wasm_abi_ingest_us = +abiIngestUs.toFixed(2);
result.wasm_abi_event_and_decide_us = +abiPairUs.toFixed(2);
if (nativeAbi) {
  result.native_abi_ingest_us = +nativeAbi.ingest_us.toFixed(2);
  result.native_abi_event_and_decide_us = +nativeAbi.event_and_decide_us.toFixed(2);
  put(result, 'abi_ingest_ratio', ratio('size', 'abiIngestUs', 'abiIngestUs'));
  put(result, 'abi_event_and_decide_ratio', ratio('size', 'abiPairUs', 'abiPairUs'));
}
if (speedRun) {
  const sp = (k) => +speedRun[k].toFixed(2);
  result.speed = {
    wasm_bytes: fs.statSync(WASM_SPEED).size,
    wasm_ingest_us: sp('ingestUs'),
    wasm_event_and_decide_us: sp('eventDecideUs'),
    wasm_abi_ingest_us: sp('abiIngestUs'),
    wasm_abi_event_and_decide_us: sp('abiPairUs'),
  };
  put(result.speed, 'ingest_ratio', ratio('speed', 'ingestUs', 'ingestUs'));
  put(result.speed, 'event_and_decide_ratio', ratio('speed', 'eventDecideUs', 'eventDecideUs'));
  if (nativeAbi) {
    put(result.speed, 'abi_ingest_ratio', ratio('speed', 'abiIngestUs', 'abiIngestUs'));
    put(result.speed, 'abi_event_and_decide_ratio', ratio('speed', 'abiPairUs', 'abiPairUs'));
  }
}
put(result, 'ingest_ratio', ratio('size', 'ingestUs', 'ingestUs'));
put(result, 'event_and_decide_ratio', ratio('size', 'eventDecideUs', 'eventDecideUs'));

if (asJson) {
  console.log(JSON.stringify(result));
} else {
  const r = result;
  console.log(`machine: ${r.machine}`);
  console.log('200 segments x 4 conditions, 20 metrics, 100 actions, 3 slots; ' +
    `${N} events (wasm through js/src/host.mjs; native bench/core_bench.cpp)`);
  console.log(`start-up (wasm, cold): compile+instantiate ${r.instantiate_ms} ms, bundle load ` +
    `${r.bundle_load_ms} ms (native ${r.native_bundle_load_ms} ms), first decision ${r.first_decision_ms} ms`);
  console.log('                                   wasm (node)    native    wasm/native');
  console.log(`${r.rounds} rounds of ${r.events_per_round} events, native and wasm in turn; ` +
    'times: median round; wasm/native: median of the rounds\' ratios (lowest-highest round)');
  const row = (name, w, n, ratio, range) =>
    console.log(`${name.padEnd(35)}${`${w} µs`.padStart(11)}${`${n} µs`.padStart(10)}` +
      `${`${ratio}x`.padStart(9)}${range ? ` (${range[0]}-${range[1]})` : ''}`);
  row('ingest + re-segment, per event', r.wasm_ingest_us, r.native_ingest_us, r.ingest_ratio,
    r.ingest_ratio_range);
  row('ingest + decide 3 slots, per event', r.wasm_event_and_decide_us,
    r.native_event_and_decide_us, r.event_and_decide_ratio, r.event_and_decide_ratio_range);
  if (r.native_abi_ingest_us !== undefined) {
    console.log('same C ABI (pz_call, JSON in, envelope out; wasm without JSON.parse, native in-process):');
    row('  ingest, per event', r.wasm_abi_ingest_us, r.native_abi_ingest_us, r.abi_ingest_ratio,
      r.abi_ingest_ratio_range);
    row('  ingest + decide 3 slots, per event', r.wasm_abi_event_and_decide_us,
      r.native_abi_event_and_decide_us, r.abi_event_and_decide_ratio,
      r.abi_event_and_decide_ratio_range);
  }
  if (r.speed) {
    const q = r.speed;
    console.log(`the speed build (-O2, ${q.wasm_bytes} B, for long-running hosts), same inputs:`);
    row('ingest + re-segment, per event', q.wasm_ingest_us, r.native_ingest_us, q.ingest_ratio,
      q.ingest_ratio_range);
    row('ingest + decide 3 slots, per event', q.wasm_event_and_decide_us,
      r.native_event_and_decide_us, q.event_and_decide_ratio, q.event_and_decide_ratio_range);
    if (q.abi_ingest_ratio !== undefined) {
      row('  same C ABI: ingest', q.wasm_abi_ingest_us, r.native_abi_ingest_us, q.abi_ingest_ratio,
        q.abi_ingest_ratio_range);
      row('  same C ABI: ingest + decide 3 slots', q.wasm_abi_event_and_decide_us,
        r.native_abi_event_and_decide_us, q.abi_event_and_decide_ratio,
        q.abi_event_and_decide_ratio_range);
    }
  }
}
