#!/usr/bin/env node
// Rules vs peers: same rules, same data, same node process.
//
// The bundle of bench/core_bench.cpp (N segments x 4 conditions, 20 metrics, 100 actions, 3
// slots) and its 10,000 events, written by `pz_bench --emit DIR --segments N`, for N = 20, 200,
// 1000 and 5000. Per N:
//
//   ours      the wasm core through js/src/host.mjs, as bench/wasm_bench.mjs drives it (the
//             browser's -Oz build; its -O2 speed build, for long-running hosts, in a second
//             table: full path and ingest only, its memberships checked equal too):
//             - full path: per event, the event's JSON text in (INGEST: parse, metrics, the
//               incremental re-evaluation of the segments the event touches), then a 3-slot
//               decision at its time (DECIDE: segments + decisions out, envelope parsed);
//             - ingest only: INGEST alone (incremental: one event touches few segments);
//             - all N rules: the ABI has no "evaluate everything" op (EVALUATE only brings
//               segments up to `now`, incrementally). IDENTIFY with a changed trait marks every
//               reader of traits.* dirty, and every segment of this bundle reads traits.plan, so
//               an IDENTIFY that flips plan between "pro" and "team" (both in the rule's list:
//               memberships do not change) re-evaluates all N segments (each segment's list
//               has a plan of its own: identical conditions would be one node of the engine's
//               graph, evaluated once for all the segments using it). Measured on the profile
//               after the whole stream; it includes IDENTIFY's own small work (the traits JSON,
//               one LWW register).
//   peers     the same N segment rules, evaluated all of them per event (they have no
//             incremental mode), over the same events:
//             - json-logic-js 2.0.5 `apply` (the reference of our rule semantics, docs/rules.md);
//             - json-logic-engine: `new LogicEngine()`, each rule compiled once with
//               engine.build(rule) (sync), the compiled function called per event;
//             - GrowthBook `evalCondition`, each rule translated once to its condition syntax
//               ($gte, $lt, $in, $regex "^prefix" for starts_with, $eq for ==).
//             Peers have no count/metric operators: each {"metric":[id,win]} / {"count":[type,
//             win]} becomes {"var":"metrics.<id>_<win>"} / {"var":"counts.<type>_<win>"}, and
//             those numbers are computed per event in plain JS from the same event stream with
//             our core's window definition (docs/rules.md, "Windows": every hourly or daily
//             bucket overlapping (now - window, now]), as are page.* (the latest page_view's
//             page) and the metrics' `where` filters. That data preparation is NOT timed: for
//             peers only the rule evaluation is. starts_with is added to both JsonLogic peers as
//             a custom operator with our semantics (false unless both are strings).
//
// Correctness: before timing, on every event the peers are timed on, each peer's memberships
// must equal the segments our wasm reports after ingesting that event (SEGMENTS op); a
// difference prints the first differing event and segment and exits 1. Where our core rejects
// the bundle (its documented limit is 1000 segments, docs/bundle.md), ours is reported as n/a
// and the peers are checked against json-logic-js.
//
// Timing, µs per event, in rounds (5 by default, --rounds): every round runs each measurement
// once, ours and the peers in an order that rotates from round to round, so that the busy phases
// of a shared machine fall on both sides of a ratio. Reported: the median round's time, and for
// each ratio the median of the rounds' own ratios (peer / ours in the same round) with its lowest
// and highest round (`*_range` in --json). In a round, ours walks the stream once per measurement
// on a fresh engine (the first, untimed walk records our memberships for the check and warms the
// JIT up), each chunk of 500 events timed, and the round's value is its median chunk (the profile
// grows along the stream as a visitor's would); all N rules is one timed pass of IDENTIFY calls.
// A peer's round is one pass over an evenly strided subset of the same events (bounded to a
// number of rule evaluations per pass, so that 5000 segments stays within the budget), after its
// checking pass as warm-up.
//
//   node bench/rules_bench.mjs [--quick] [--json] [--segments 20,200,1000,5000] [--rounds R]
// --quick: the first 2,000 events, 3 rounds and smaller budgets (CI, under ~15 s); default under
// ~70 s.
// --segments: which bundle sizes. Env: PZ_BENCH (default build/pz_bench; it needs --segments:
// `cmake --build build -j2 --target pz_bench`), PZ_WASM (default build-wasm/pz_core.wasm),
// PZ_WASM_SPEED (default build-wasm/pz_core_speed.wasm; no second table when it is missing).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import jsonLogic from 'json-logic-js';
import { LogicEngine } from 'json-logic-engine';
import { evalCondition } from '@growthbook/growthbook';
import { loadCore } from '../js/src/host.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const asJson = args.includes('--json');
const segIdx = args.indexOf('--segments');
const SEGMENT_COUNTS = (segIdx >= 0 ? args[segIdx + 1] : '20,200,1000,5000')
  .split(',').map(Number);
if (SEGMENT_COUNTS.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('rules_bench: --segments takes a comma-separated list of whole numbers >= 1');
  process.exit(2);
}
const BENCH = process.env.PZ_BENCH || path.join(ROOT, 'build', 'pz_bench');
const WASM = process.env.PZ_WASM || path.join(ROOT, 'build-wasm', 'pz_core.wasm');
const WASM_SPEED = process.env.PZ_WASM_SPEED || path.join(ROOT, 'build-wasm', 'pz_core_speed.wasm');

// Budgets. The stream is the first STREAM events (all 10,000 by default); ours walks all of it
// once per round, a peer pass evaluates at most PEER_EVALS rules (so over fewer, strided events as
// N grows). ROUNDS rounds (--rounds) per bundle size, each one pass of every measurement.
const roundsIdx = args.indexOf('--rounds');
const ROUNDS = roundsIdx >= 0 ? Number(args[roundsIdx + 1]) : quick ? 3 : 5;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('rules_bench: --rounds takes a whole number >= 1');
  process.exit(2);
}
const STREAM = quick ? 2000 : 10000;
const CHUNK = quick ? 250 : 500; // events per timed pass of ours
const PEER_EVALS = quick ? 100000 : 400000;
const FULL_EVAL_CALLS = quick ? 200 : 1000;
const SLOTS = ['hero', 'banner', 'sidebar'];

for (const f of [BENCH, WASM]) {
  if (!fs.existsSync(f)) {
    console.error(`rules_bench: ${f} missing (build pz_bench and scripts/build-wasm.sh)`);
    process.exit(2);
  }
}

function fail(message) {
  console.error(`rules_bench: ${message}`);
  process.exit(1);
}

function must(env, what) {
  if (!env.ok) throw new Error(`${what}: ${env.error}`);
  return env.value;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// µs per unit of one run of `pass` (which returns {ms, n}: the timed milliseconds and the units
// they cover). Rounds repeat it (runSegments).
function onePass(pass) {
  const { ms, n } = pass();
  return (ms * 1000) / n;
}

// ---------------------------------------------------------------------------------------------
// Inputs.

function emit(segments) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-rules-bench-'));
  try {
    execFileSync(BENCH, ['--emit', dir, '--segments', String(segments)]);
    const bundleText = fs.readFileSync(path.join(dir, 'bundle.json'), 'utf8');
    const bundle = JSON.parse(bundleText);
    if (bundle.segments.length !== segments) {
      fail(`${BENCH} wrote ${bundle.segments.length} segments, not ${segments}: it predates ` +
        '--segments (rebuild: cmake --build build -j2 --target pz_bench)');
    }
    return {
      bundleText,
      bundle,
      setup: JSON.parse(fs.readFileSync(path.join(dir, 'setup.json'), 'utf8')),
      lines: fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean)
        .slice(0, STREAM),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Rule translation for the peers. Only what needs our engine's state is replaced: metric and
// count become variables of precomputed numbers; operators that need more state (since,
// in_segment, bucket) have no peer equivalent here and are refused.

const HOUR = 3600000;
const DAY = 24 * HOUR;

function parseWindow(w) {
  if (w === 'all') return Infinity;
  const m = /^(\d+)([mhd])$/.exec(w);
  if (!m) throw new Error(`invalid window ${w}`);
  return Number(m[1]) * { m: 60000, h: HOUR, d: DAY }[m[2]];
}

/** Our rule with metric/count replaced by vars; records what it replaced in `needs`. */
function toPeerLogic(rule, needs) {
  if (Array.isArray(rule)) return rule.map((r) => toPeerLogic(r, needs));
  if (rule === null || typeof rule !== 'object') return rule;
  const ops = Object.keys(rule);
  if (ops.length !== 1) return rule;
  const [op] = ops;
  const argsOf = Array.isArray(rule[op]) ? rule[op] : [rule[op]];
  if (op === 'metric' || op === 'count') {
    const [id, win] = argsOf;
    const key = `${id}_${win}`;
    needs.push({ kind: op, id, win, key });
    return { var: `${op === 'metric' ? 'metrics' : 'counts'}.${key}` };
  }
  if (op === 'since' || op === 'in_segment' || op === 'bucket') {
    throw new Error(`operator ${op} has no peer translation in this bench`);
  }
  return { [op]: toPeerLogic(rule[op], needs) }; // {"var":"x"} keeps its shape
}

const MONGO_OPS = { '>=': '$gte', '>': '$gt', '<': '$lt', '<=': '$lte', in: '$in', '==': '$eq' };

/**
 * A peer-logic rule (vars only) as a GrowthBook condition: an "and" of (var op literal) becomes
 * one object {path: {$op: literal}} (GrowthBook ANDs the paths in order and stops at the first
 * failure, as JsonLogic's "and" does). `==` against a string becomes $eq (strict): loose and
 * strict equality agree for a string literal against strings and null, which is all the data
 * holds. starts_with becomes a $regex anchored at the start (regex.test() would coerce a number
 * to text where starts_with is false; the data's page.path is a string or null).
 */
function toGrowthBook(logic) {
  const conds = logic.and ?? [logic];
  const out = {};
  for (const c of conds) {
    const [op] = Object.keys(c);
    const [lhs, rhs] = c[op];
    if (!lhs || typeof lhs.var !== 'string' || (rhs !== null && typeof rhs === 'object' &&
        !Array.isArray(rhs))) {
      throw new Error(`no GrowthBook translation for ${JSON.stringify(c)}`);
    }
    let cond;
    if (op === 'starts_with') {
      cond = { $regex: `^${rhs.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}` };
    } else if (MONGO_OPS[op]) {
      cond = { [MONGO_OPS[op]]: rhs };
    } else {
      throw new Error(`no GrowthBook translation for operator ${op}`);
    }
    if (lhs.var in out) throw new Error(`two conditions on ${lhs.var}: not translated`);
    out[lhs.var] = cond;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The peers' data, per event, from the event stream (not timed).

/** One metric's or event type's amounts over time, answering our core's window sums. */
class Series {
  constructor() {
    this.t = [];
    this.prefix = [0]; // prefix[i] = sum of the first i amounts
  }
  add(t, amount) {
    this.t.push(t);
    this.prefix.push(this.prefix[this.prefix.length - 1] + amount);
  }
  /**
   * The sum over every bucket overlapping (now - window, now] (core/src/profile.cpp
   * Series::window_value): buckets are hourly for windows up to retention.hourly_buckets hours,
   * else daily (UTC days), and the first bucket counted is the one holding now - window. Events
   * arrive in time order, so that is every event with t >= that bucket's start.
   */
  sum(now, windowMs, retention) {
    const n = this.t.length;
    if (windowMs === Infinity) return this.prefix[n];
    const size = windowMs <= retention.hourly_buckets * HOUR ? HOUR : DAY;
    const start = Math.floor((now - windowMs) / size) * size;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.t[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    return this.prefix[n] - this.prefix[lo];
  }
}

const startsWith = (s, p) => typeof s === 'string' && typeof p === 'string' && s.startsWith(p);
jsonLogic.add_operation('starts_with', startsWith);

/**
 * Replays the stream as our core counts it and returns, for each event index wanted, the data
 * object the peers' rules read right after that event: {metrics, counts, traits, context, page,
 * event, now}.
 */
function peerData(bundle, setup, events, wanted, needs) {
  const retention = { hourly_buckets: 48, daily_buckets: 90, ...bundle.retention };
  const metrics = bundle.metrics.map((m) => ({ def: m, series: new Series() }));
  const byId = new Map(metrics.map((m) => [m.def.id, m.series]));
  const counts = new Map();
  const wantedSet = new Set(wanted);
  const out = new Map();
  const uniqueNeeds = [...new Map(needs.map((x) => [`${x.kind}.${x.key}`, x])).values()];
  let lastPage = null;
  events.forEach((e, i) => {
    // A metric's `where` sees the event being counted, page.* being that event's page.
    for (const m of metrics) {
      if (m.def.event !== e.type) continue;
      if (m.def.where && !jsonLogic.truthy(jsonLogic.apply(m.def.where, {
        event: e, page: e.page, traits: setup.traits, context: setup.context, now: e.t,
      }))) continue;
      let amount = 1;
      if (m.def.sum) {
        const v = m.def.sum.split('.').reduce((o, k) => (o != null ? o[k] : undefined), e);
        amount = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
        if (!Number.isFinite(amount)) continue;
      }
      m.series.add(e.t, amount);
    }
    if (!counts.has(e.type)) counts.set(e.type, new Series());
    counts.get(e.type).add(e.t, 1);
    if (e.type === 'page_view' && e.page && typeof e.page === 'object') lastPage = e.page;
    if (!wantedSet.has(i)) return;
    const d = { metrics: {}, counts: {}, traits: setup.traits, context: setup.context,
      page: lastPage, event: e, now: e.t };
    for (const x of uniqueNeeds) {
      const s = x.kind === 'metric' ? byId.get(x.id) : counts.get(x.id);
      d[x.kind === 'metric' ? 'metrics' : 'counts'][x.key] =
        s ? s.sum(e.t, parseWindow(x.win), retention) : 0;
    }
    out.set(i, d);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// The peers. Each takes the translated rules once and returns evalAll(data, out): writes 1/0 per
// segment into `out` and returns how many are 1.

const PEERS = [
  {
    name: 'json-logic-js',
    key: 'json_logic_js',
    prepare(rules) {
      return (data, out) => {
        let n = 0;
        for (let i = 0; i < rules.length; ++i) {
          n += out[i] = jsonLogic.truthy(jsonLogic.apply(rules[i], data)) ? 1 : 0;
        }
        return n;
      };
    },
  },
  {
    name: 'json-logic-engine',
    key: 'json_logic_engine',
    prepare(rules) {
      const engine = new LogicEngine();
      engine.addMethod('starts_with', ([s, p]) => startsWith(s, p), { deterministic: true });
      const fns = rules.map((r) => engine.build(r));
      return (data, out) => {
        let n = 0;
        for (let i = 0; i < fns.length; ++i) n += out[i] = engine.truthy(fns[i](data)) ? 1 : 0;
        return n;
      };
    },
  },
  {
    name: 'GrowthBook evalCondition',
    key: 'growthbook',
    prepare(rules) {
      const conds = rules.map(toGrowthBook);
      return (data, out) => {
        let n = 0;
        for (let i = 0; i < conds.length; ++i) n += out[i] = evalCondition(data, conds[i]) ? 1 : 0;
        return n;
      };
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Ours.

const sizeCore = await loadCore(fs.readFileSync(WASM));
const speedCore = fs.existsSync(WASM_SPEED) ? await loadCore(fs.readFileSync(WASM_SPEED)) : null;

function freshEngine(input, core = sizeCore) {
  const engine = core.engine();
  const loaded = engine.loadBundle(input.bundleText);
  if (!loaded.ok) {
    engine.free();
    return { error: loaded.error };
  }
  must(engine.identify(input.setup.user_id, input.setup.traits, input.setup.now), 'identify');
  must(engine.context(input.setup.context), 'context');
  return { engine };
}

/** Our memberships (1/0 by bundle position) after each event index in `wanted`. */
function oursMemberships(input, wanted, core = sizeCore) {
  const { engine } = freshEngine(input, core);
  const position = new Map(input.bundle.segments.map((s, i) => [s.id, i]));
  const wantedSet = new Set(wanted);
  const out = new Map();
  input.lines.forEach((line, i) => {
    must(engine.ingest(line), `ingest of event ${i}`);
    if (!wantedSet.has(i)) return;
    const m = new Uint8Array(position.size);
    for (const id of must(engine.segments(), 'segments')) m[position.get(id)] = 1;
    out.set(i, m);
  });
  engine.free();
  return out;
}

/**
 * One engine walks the stream once per measurement; every CHUNK events are one timed pass (the
 * state grows along the stream, as a visitor's would; a fresh engine per pass would replay the
 * stream each time). µs per event of the median chunk.
 */
function walkChunks(input, step, core) {
  const { engine } = freshEngine(input, core);
  const perEvent = [];
  for (let start = 0; start < input.lines.length; start += CHUNK) {
    const end = Math.min(start + CHUNK, input.lines.length);
    const t0 = performance.now();
    for (let i = start; i < end; ++i) step(engine, i);
    perEvent.push(((performance.now() - t0) * 1000) / (end - start));
  }
  return { engine, us: median(perEvent) };
}

function measureOurs(input, times, core = sizeCore, { ingestOnly = false } = {}) {
  const lines = input.lines;
  const count = lines.length;
  // Full path: the event's JSON text in, segments + a 3-slot decision out (envelopes parsed).
  let shown = 0;
  const full = walkChunks(input, (engine, i) => {
    const r = engine.ingest(lines[i]);
    if (!r.ok) throw new Error(r.error);
    shown += must(engine.decide(SLOTS, times[i]), 'decide').decisions.length;
  }, core);
  full.engine.free();
  if (shown !== count * SLOTS.length) throw new Error('a slot was not decided');
  const fullPath = full.us;
  // Ingest only (incremental re-segmentation).
  const walk = walkChunks(input, (engine, i) => {
    const r = engine.ingest(lines[i]);
    if (!r.ok) throw new Error(r.error);
  }, core);
  const ingest = walk.us;
  if (ingestOnly) {
    walk.engine.free();
    return { full_path_us: fullPath, ingest_us: ingest, events: count };
  }

  // All N rules: IDENTIFY flipping a trait that every segment reads (see the header), on the
  // profile after the whole stream.
  const { engine } = walk;
  const last = times[count - 1];
  const before = must(engine.segments(), 'segments').join();
  const plans = [{ plan: 'team' }, { plan: 'pro' }];
  let k = 0;
  const allRules = onePass(() => {
    const t0 = performance.now();
    for (let i = 0; i < FULL_EVAL_CALLS; ++i) {
      const r = engine.identify(input.setup.user_id, plans[k++ & 1], last);
      if (!r.ok) throw new Error(r.error);
    }
    return { ms: performance.now() - t0, n: FULL_EVAL_CALLS };
  });
  if (must(engine.segments(), 'segments').join() !== before) {
    throw new Error('flipping plan changed memberships: the all-rules measurement is not neutral');
  }
  // IDENTIFY's own cost: the same call without traits re-evaluates no segment of this bundle.
  const identifyAlone = onePass(() => {
    const t0 = performance.now();
    for (let i = 0; i < FULL_EVAL_CALLS; ++i) {
      const r = engine.identify(input.setup.user_id, undefined, last);
      if (!r.ok) throw new Error(r.error);
    }
    return { ms: performance.now() - t0, n: FULL_EVAL_CALLS };
  });
  engine.free();
  return { full_path_us: fullPath, ingest_us: ingest, all_rules_us: allRules,
    identify_alone_us: identifyAlone, events: count };
}

// ---------------------------------------------------------------------------------------------

/** The var paths a peer-logic rule reads. */
function varsOf(logic, out = new Set()) {
  if (Array.isArray(logic)) logic.forEach((x) => varsOf(x, out));
  else if (logic && typeof logic === 'object') {
    if (typeof logic.var === 'string') out.add(logic.var);
    else Object.values(logic).forEach((x) => varsOf(x, out));
  }
  return out;
}

function describeMismatch(input, peer, i, s, rule, data, refIn, peerIn, reference) {
  const seg = input.bundle.segments[s];
  const read = {};
  for (const v of varsOf(rule)) {
    read[v] = v.split('.').reduce((o, k) => (o != null ? o[k] : undefined), data) ?? null;
  }
  return [
    `${peer} disagrees with ${reference} at event ${i} (${input.lines[i]}),`,
    `  segment ${seg.id}: ${reference} ${refIn ? 'in' : 'out'}, ${peer} ${peerIn ? 'in' : 'out'}`,
    `  rule: ${JSON.stringify(seg.rule)}`,
    `  the peer's data for it: ${JSON.stringify(read)}`,
  ].join('\n');
}

function runSegments(N) {
  const input = emit(N);
  const events = input.lines.map((l) => JSON.parse(l));
  const times = events.map((e) => e.t);

  // Peers' rules and data.
  const needs = [];
  const rules = input.bundle.segments.map((s) => toPeerLogic(s.rule, needs));
  const peerEvents = Math.max(1, Math.min(events.length, Math.floor(PEER_EVALS / N)));
  const stride = events.length / peerEvents;
  const wanted = Array.from({ length: peerEvents }, (_, j) => Math.floor(j * stride));
  const data = peerData(input.bundle, input.setup, events, wanted, needs);
  const dataList = wanted.map((i) => data.get(i));

  // Ours, if the core takes the bundle.
  const probe = freshEngine(input);
  let oursError = null;
  let reference;
  if (probe.error) {
    oursError = probe.error;
  } else {
    probe.engine.free();
    reference = oursMemberships(input, wanted);
    if (speedCore) {
      // The speed build must agree with the browser build on every checked event.
      const speed = oursMemberships(input, wanted, speedCore);
      for (const i of wanted) {
        const a = reference.get(i);
        const b = speed.get(i);
        const s = a.findIndex((x, k) => x !== b[k]);
        if (s >= 0) {
          fail(`${N} segments, event ${i}: segment ${input.bundle.segments[s].id} is ${a[s]} in ` +
            `the -Oz build and ${b[s]} in the -O2 build`);
        }
      }
    }
  }

  const row = { segments: N, peer_events: peerEvents, peers: {} };
  const timed = []; // [key, () => µs per event]: the peers' passes, set up below
  for (const peer of PEERS) {
    const evalAll = peer.prepare(rules);
    const out = new Uint8Array(N);
    // The checking pass is also the warm-up pass.
    const results = new Map();
    for (let j = 0; j < wanted.length; ++j) {
      evalAll(dataList[j], out);
      results.set(wanted[j], out.slice());
    }
    if (!reference) reference = results; // our core rejected the bundle: json-logic-js is it
    if (row.in_share === undefined) {
      // How much the check can see: the share of (event, segment) pairs that are members.
      let ins = 0;
      for (const m of reference.values()) for (const x of m) ins += x;
      row.in_share = +(ins / (wanted.length * N)).toFixed(3);
    }
    const refName = oursError ? 'json-logic-js' : 'our wasm';
    for (const i of wanted) {
      const a = reference.get(i);
      const b = results.get(i);
      for (let s = 0; s < N; ++s) {
        if (a[s] !== b[s]) {
          fail(describeMismatch(input, peer.name, i, s, rules[s], data.get(i), a[s], b[s],
            refName));
        }
      }
    }
    let sink = 0;
    timed.push([peer.key, () => {
      const us = onePass(() => {
        const t0 = performance.now();
        for (let j = 0; j < dataList.length; ++j) sink += evalAll(dataList[j], out);
        return { ms: performance.now() - t0, n: dataList.length };
      });
      if (sink < 0) console.log(sink); // keeps the results observable
      return us;
    }]);
    row.peers[peer.key] = { name: peer.name };
  }

  // Rounds: every measurement once per round, in an order that rotates from round to round, so
  // that a busy phase of the shared machine slows ours and the peers alike. Times: the median
  // round; ratios: the median of the rounds' own ratios (peer / ours in the same round).
  if (!oursError) {
    timed.push(['ours', () => measureOurs(input, times)]);
    if (speedCore) timed.push(['speed', () => measureOurs(input, times, speedCore, { ingestOnly: true })]);
  }
  const rounds = [];
  for (let r = 0; r < ROUNDS; ++r) {
    const round = {};
    for (let k = 0; k < timed.length; ++k) {
      const [key, measure] = timed[(k + r) % timed.length];
      round[key] = measure();
    }
    rounds.push(round);
  }
  row.rounds = ROUNDS;
  for (const peer of PEERS) {
    row.peers[peer.key].us_per_event = +median(rounds.map((r) => r[peer.key])).toFixed(3);
  }
  // The median over rounds of peer / ours[field], and the lowest and highest round.
  const ratio = (peerKey, which, field) => {
    const xs = rounds.map((r) => r[peerKey] / r[which][field]);
    return { median: +median(xs).toFixed(2), range: [+Math.min(...xs).toFixed(2), +Math.max(...xs).toFixed(2)] };
  };
  const acrossOurs = (which, field) => median(rounds.map((r) => r[which][field]));
  // Every peer's vs_<prefix><key> (and its _range) against ours' <key>_us.
  const putRatios = (which, prefix, keys) => {
    for (const peer of PEERS) {
      for (const key of keys) {
        const x = ratio(peer.key, which, `${key}_us`);
        row.peers[peer.key][`vs_${prefix}${key}`] = x.median;
        row.peers[peer.key][`vs_${prefix}${key}_range`] = x.range;
      }
    }
  };

  if (oursError) {
    row.ours = null;
    // The first line says why (the bundle's segment limit); the rest repeats it per action.
    const lines = oursError.split('\n').filter(Boolean);
    row.ours_error = lines[0] + (lines.length > 1 ? ` (and ${lines.length - 1} more)` : '');
  } else {
    row.ours = {
      full_path_us: +acrossOurs('ours', 'full_path_us').toFixed(3),
      ingest_us: +acrossOurs('ours', 'ingest_us').toFixed(3),
      all_rules_us: +acrossOurs('ours', 'all_rules_us').toFixed(3),
      identify_alone_us: +acrossOurs('ours', 'identify_alone_us').toFixed(3),
      events: rounds[0].ours.events,
    };
    putRatios('ours', '', ['full_path', 'ingest', 'all_rules']);
    if (speedCore) {
      row.ours_speed = {
        full_path_us: +acrossOurs('speed', 'full_path_us').toFixed(3),
        ingest_us: +acrossOurs('speed', 'ingest_us').toFixed(3),
      };
      putRatios('speed', 'speed_', ['full_path', 'ingest']);
    }
  }
  row.checked_events = wanted.length;
  return row;
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1];
  } catch {
    // not Linux: os.cpus() it is
  }
  return `${cpu}, ${os.cpus().length} cores, node ${process.version}`;
}

const started = performance.now();
const rows = SEGMENT_COUNTS.map(runSegments);
const result = {
  machine: machine(),
  mode: quick ? 'quick' : 'default',
  peer_versions: Object.fromEntries(['json-logic-js', 'json-logic-engine', '@growthbook/growthbook']
    .map((p) => [p, JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', p, 'package.json'),
      'utf8')).version])),
  rows,
  seconds: +((performance.now() - started) / 1000).toFixed(1),
};

if (asJson) {
  console.log(JSON.stringify(result));
} else {
  const v = result.peer_versions;
  console.log(`machine: ${result.machine}`);
  console.log(`bundle: N segments x 4 conditions, 20 metrics, 100 actions, 3 slots; ` +
    `${rows[0].ours?.events ?? STREAM} events. µs per event.`);
  console.log('ours: the wasm through js/src/host.mjs, event JSON text in ' +
    `(median ${CHUNK}-event chunk; all N rules: one pass of IDENTIFY calls).`);
  console.log('peers: rules alone, all N segment rules per event; metric/count values ' +
    'precomputed in JS outside the timing');
  console.log(`(our windows). json-logic-js ${v['json-logic-js']} apply, json-logic-engine ` +
    `${v['json-logic-engine']} compiled, GrowthBook ${v['@growthbook/growthbook']} ` +
    'evalCondition. (a | b | c) = peer / ours: full path | ingest only | all N rules.');
  console.log(`${ROUNDS} rounds, ours and the peers in turn: times are the median round, ratios ` +
    'the median of the rounds\' own ratios.');
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const table = [
    ['segments', 'ours: event -> segs + 3 slots', 'ingest only', 'all N rules',
      ...PEERS.map((p) => p.name)],
  ];
  for (const r of rows) {
    table.push([
      String(r.segments),
      r.ours ? fmt(r.ours.full_path_us) : 'n/a',
      r.ours ? fmt(r.ours.ingest_us) : 'n/a',
      r.ours ? fmt(r.ours.all_rules_us) : 'n/a',
      ...PEERS.map((p) => {
        const x = r.peers[p.key];
        return fmt(x.us_per_event) +
          (r.ours ? ` (${x.vs_full_path}x | ${x.vs_ingest}x | ${x.vs_all_rules}x)` : ' (ours n/a)');
      }),
    ]);
  }
  const width = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) {
    console.log(row.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i])))
      .join('  ').trimEnd());
  }
  const withSpeed = rows.filter((r) => r.ours_speed);
  if (withSpeed.length) {
    console.log('the speed build (-O2, for long-running hosts), same stream, same ' +
      'host; (a | b) = peer / ours: full path | ingest only:');
    const t2 = [['segments', 'ours -O2: event -> segs + 3 slots', 'ingest only',
      ...PEERS.map((p) => p.name)]];
    for (const r of withSpeed) {
      t2.push([String(r.segments), fmt(r.ours_speed.full_path_us), fmt(r.ours_speed.ingest_us),
        ...PEERS.map((p) => {
          const x = r.peers[p.key];
          return `${fmt(x.us_per_event)} (${x.vs_speed_full_path}x | ${x.vs_speed_ingest}x)`;
        })]);
    }
    const w2 = t2[0].map((_, i) => Math.max(...t2.map((row) => row[i].length)));
    for (const row of t2) {
      console.log(row.map((c, i) => (i === 0 ? c.padEnd(w2[i]) : c.padStart(w2[i])))
        .join('  ').trimEnd());
    }
  }
  const withOurs = rows.filter((r) => r.ours);
  if (withOurs.length) {
    console.log('ours, all N rules: IDENTIFY flipping traits.plan, which every segment reads; ' +
      'IDENTIFY alone (no segment evaluated) costs ' +
      `${withOurs.map((r) => fmt(r.ours.identify_alone_us)).join(' / ')} µs at ` +
      `${withOurs.map((r) => r.segments).join(' / ')} segments.`);
  }
  for (const r of withOurs) {
    const range = (x, key) => `${x[key][0]}-${x[key][1]}x`;
    console.log(`${r.segments} segments, peer / ours (ingest only), lowest-highest of ` +
      `${r.rounds} rounds: ${PEERS.map((p) => `${p.name} ${range(r.peers[p.key], 'vs_ingest_range')}` +
        (r.ours_speed ? ` (-O2 ${range(r.peers[p.key], 'vs_speed_ingest_range')})` : '')).join(', ')}`);
  }
  for (const r of rows) {
    if (r.ours_error) {
      console.log(`${r.segments} segments: our core rejects the bundle ` +
        `(${r.ours_error.split('\n')[0]}); peers checked against json-logic-js.`);
    }
  }
  console.log(`checked: peers' memberships equal ours on ${rows.map((r) =>
    `${r.checked_events} events (${r.segments} segments, ${(r.in_share * 100).toFixed(0)}% in)`)
    .join(', ')}. Run took ${result.seconds} s.`);
}
