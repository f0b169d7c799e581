#!/usr/bin/env node
// The wasm core in node next to the native core, on the same inputs (the 200-segment x
// 4-condition bundle, 100 actions, 3 slots, 10,000 events that bench/core_bench.cpp generates and
// writes with --emit). Prints one table: start-up (compile + instantiate, bundle load, first
// decision), µs per event for ingest + incremental re-segmentation, for ingest + a 3-slot
// decision, and wasm/native ratios. The wasm path is the full host path: event JSON text in
// through js/src/host.mjs, the envelope JSON out and parsed. Per-call times are medians of
// chunks (1,000 ingests, 100 event + decide pairs), here and in the native benches.
//
//   node bench/wasm_bench.mjs [--events N] [--json]
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
const N = Number(args[args.indexOf('--events') + 1]) || 100000;
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

const native = JSON.parse(execFileSync(BENCH, ['--json', '--events', String(N)], { encoding: 'utf8' }));

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
// through the host, and the same two through the bare C ABI (callRaw).
function perEvent(core, engine) {
  // Ingest + incremental re-segmentation per event (warm-up as the native bench: 2,000 events).
  for (let i = 0; i < 2000; ++i) engine.ingest(lines[i % lines.length]);
  const ingestUs = medianUs(N, 1000, (i) => {
    const r = engine.ingest(lines[i % lines.length]);
    if (!r.ok) throw new Error(r.error);
  });

  // An event and a 3-slot decision at its time, per event (a fresh engine, same set-up).
  const e2 = core.engine();
  must(e2.loadBundle(bundle), 'bundle');
  must(e2.identify(setup.user_id, setup.traits, setup.now), 'identify');
  must(e2.context(setup.context), 'context');
  for (let i = 0; i < 2000; ++i) e2.ingest(lines[i % lines.length]);
  // Warm the decide path too (V8 tiers wasm functions up while they run: an unwarmed first loop
  // measured 2x the same loop run again).
  for (let i = 0; i < 500; ++i) e2.decide(['hero', 'banner', 'sidebar'], times[i % lines.length]);
  const pairs = Math.max(1, Math.floor(N / 20));
  let shown = 0;
  const eventDecideUs = medianUs(pairs, 100, (i) => {
    const k = i % lines.length;
    e2.ingest(lines[k]);
    shown += must(e2.decide(slots, times[k]), 'decide').decisions.length;
  });

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
  const abiIngestUs = medianUs(N, 1000, (i) => rawCall(Op.INGEST, lines[i % lines.length], 0));
  const abiPairUs = medianUs(pairs, 100, (i) => {
    const k = i % lines.length;
    rawCall(Op.INGEST, lines[k], 0);
    rawCall(Op.DECIDE, decideInput, times[k]);
  });
  return { ingestUs, eventDecideUs, abiIngestUs, abiPairUs };
}

const slots = ['hero', 'banner', 'sidebar'];
const sizeRun = perEvent(core, engine);
let speedRun = null;
if (fs.existsSync(WASM_SPEED)) {
  const speedCore = await loadCore(await WebAssembly.compile(fs.readFileSync(WASM_SPEED)));
  const speedEngine = speedCore.engine();
  must(speedEngine.loadBundle(bundle), 'bundle');
  must(speedEngine.identify(setup.user_id, setup.traits, setup.now), 'identify');
  must(speedEngine.context(setup.context), 'context');
  speedRun = perEvent(speedCore, speedEngine);
}
const { ingestUs, eventDecideUs, abiIngestUs, abiPairUs } = sizeRun;

let nativeAbi = null;
if (fs.existsSync(ABI_BENCH)) {
  nativeAbi = JSON.parse(execFileSync(ABI_BENCH, [dir, '--events', String(N)], { encoding: 'utf8' }));
} else {
  console.error(`wasm_bench: ${ABI_BENCH} missing: the ABI rows compare nothing (cmake --build build --target pz_abi_bench)`);
}
fs.rmSync(dir, { recursive: true, force: true });

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const result = {
  machine: `${cpu}, ${os.cpus().length} cores, node ${process.version}`,
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
  result.abi_ingest_ratio = +(abiIngestUs / nativeAbi.ingest_us).toFixed(2);
  result.abi_event_and_decide_ratio = +(abiPairUs / nativeAbi.event_and_decide_us).toFixed(2);
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
  result.speed.ingest_ratio = +(speedRun.ingestUs / result.native_ingest_us).toFixed(2);
  result.speed.event_and_decide_ratio =
    +(speedRun.eventDecideUs / result.native_event_and_decide_us).toFixed(2);
  if (nativeAbi) {
    result.speed.abi_ingest_ratio = +(speedRun.abiIngestUs / nativeAbi.ingest_us).toFixed(2);
    result.speed.abi_event_and_decide_ratio =
      +(speedRun.abiPairUs / nativeAbi.event_and_decide_us).toFixed(2);
  }
}
result.ingest_ratio = +(result.wasm_ingest_us / result.native_ingest_us).toFixed(2);
result.event_and_decide_ratio =
  +(result.wasm_event_and_decide_us / result.native_event_and_decide_us).toFixed(2);

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
  const row = (name, w, n, ratio) =>
    console.log(`${name.padEnd(35)}${`${w} µs`.padStart(11)}${`${n} µs`.padStart(10)}` +
      `${`${ratio}x`.padStart(15)}`);
  row('ingest + re-segment, per event', r.wasm_ingest_us, r.native_ingest_us, r.ingest_ratio);
  row('ingest + decide 3 slots, per event', r.wasm_event_and_decide_us,
    r.native_event_and_decide_us, r.event_and_decide_ratio);
  if (r.native_abi_ingest_us !== undefined) {
    console.log('same C ABI (pz_call, JSON in, envelope out; wasm without JSON.parse, native in-process):');
    row('  ingest, per event', r.wasm_abi_ingest_us, r.native_abi_ingest_us, r.abi_ingest_ratio);
    row('  ingest + decide 3 slots, per event', r.wasm_abi_event_and_decide_us,
      r.native_abi_event_and_decide_us, r.abi_event_and_decide_ratio);
  }
  if (r.speed) {
    const q = r.speed;
    console.log(`the speed build (-O2, ${q.wasm_bytes} B, for long-running hosts), same inputs:`);
    row('ingest + re-segment, per event', q.wasm_ingest_us, r.native_ingest_us, q.ingest_ratio);
    row('ingest + decide 3 slots, per event', q.wasm_event_and_decide_us,
      r.native_event_and_decide_us, q.event_and_decide_ratio);
    if (q.abi_ingest_ratio !== undefined) {
      row('  same C ABI: ingest', q.wasm_abi_ingest_us, r.native_abi_ingest_us, q.abi_ingest_ratio);
      row('  same C ABI: ingest + decide 3 slots', q.wasm_abi_event_and_decide_us,
        r.native_abi_event_and_decide_us, q.abi_event_and_decide_ratio);
    }
  }
}
