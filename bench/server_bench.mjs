#!/usr/bin/env node
// pz-server under load on loopback, side by side in one run: /healthz (the HTTP ceiling of this
// server on this machine), collect (batches of 20 events, ids unique across the run), sync
// (device deltas made by the wasm engine, spread over many profiles), sync-hot (the same deltas on
// 10 profiles: the one-at-a-time merge of a profile), decide (3 slots, profiles that exist),
// and collect-50k: collect at the target's 50,000 events/s, open loop (pz_loadgen,
// bench/loadgen.cpp), for the latency at that load rather than at saturation.
// Each other phase is one wrk run (bench/wrk/*.lua), bounded in time. Prints one table: req/s, units/s,
// latency p50/p99 (wrk --latency), errors, the ratio to /healthz req/s, requests per group commit
// (pz_store_commit_batch), and the targets (reported, never enforced). Then checks through
// the API that the writes happened, and stops the server with SIGTERM (it must exit 0).
//
//   node bench/server_bench.mjs [--duration S] [--connections N] [--threads N] [--devices N]
//                               [--only healthz,collect,...] [--json]
// Env: PZ_SERVER (default build/pz-server), PZ_WASM (default build-wasm/pz_core.wasm),
// PZ_BENCH_DURATION, PZ_BENCH_CONNECTIONS, PZ_BENCH_THREADS. Builds nothing. Needs `wrk`.
// Exits 1 when any request got a non-2xx answer or a socket error, or a check fails (the numbers
// would be meaningless); a missed target is reported, never a failure.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCore } from '../js/src/host.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, env, dflt) => {
  const i = args.indexOf(name);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  return process.env[env] ?? dflt;
};
const asJson = args.includes('--json');
const DURATION = Number(flag('--duration', 'PZ_BENCH_DURATION', 5));
const CONNECTIONS = Number(flag('--connections', 'PZ_BENCH_CONNECTIONS', 16));
const WRK_THREADS = Number(flag('--threads', 'PZ_BENCH_THREADS', 1));
const DEVICES = Number(flag('--devices', 'PZ_BENCH_DEVICES', 300));
const SPREAD_PROFILES = 1000;
const HOT_PROFILES = 10;
const BATCH = 20;
const SLOTS = 3;
const PHASES = ['healthz', 'collect', 'collect-50k', 'sync', 'sync-hot', 'decide'];
const only = flag('--only', 'PZ_BENCH_ONLY', PHASES.join(',')).split(',');
const SERVER = process.env.PZ_SERVER || path.join(ROOT, 'build', 'pz-server');
const LOADGEN = process.env.PZ_LOADGEN || path.join(ROOT, 'build', 'pz_loadgen');
const WASM = process.env.PZ_WASM || path.join(ROOT, 'build-wasm', 'pz_core.wasm');
const BUNDLE = path.join(ROOT, 'demo-site', 'bundle.json');
const WRK_DIR = path.join(ROOT, 'bench', 'wrk');
const HOST = '127.0.0.1'; // loopback only
const WRITE_KEY = 'pk_demo';
const SECRET_KEY = 'sk_demo';
const TARGETS = { events_per_s: 50000, syncs_per_s: 10000, p99_ms: 10 };

for (const [what, v] of [['--duration', DURATION], ['--connections', CONNECTIONS],
  ['--threads', WRK_THREADS], ['--devices', DEVICES]]) {
  if (!Number.isInteger(v) || v < 1 || v > 1000) die(`${what}: expected a whole number 1..1000`);
}
if (DURATION > 60) die('--duration: at most 60 s per phase (a bench here stays bounded)');
for (const p of only) if (!PHASES.includes(p)) die(`--only: unknown phase ${p} (${PHASES})`);
for (const f of [SERVER, WASM, BUNDLE]) {
  if (!fs.existsSync(f)) {
    die(`${f} missing (cmake --build build --target pz-server; scripts/build-wasm.sh)`, 2);
  }
}
try {
  execFileSync('wrk', ['-v'], { stdio: 'ignore' });
} catch (e) {
  // wrk -v exits 1 after printing its version; only a missing binary is an error.
  if (e.code === 'ENOENT') die('wrk is not installed (scripts/setup.sh installs it)', 2);
}

function die(message, code = 1) {
  console.error(`server_bench: ${message}`);
  process.exit(code);
}

const log = (...a) => {
  if (!asJson) console.error(...a);
};

// ---- Device states: ~20 events per device through the wasm engine, then syncRequest(null).
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-server-bench-'));
const nonce = crypto.randomBytes(4).toString('hex');
const now = Date.now();
const core = await loadCore(fs.readFileSync(WASM));
const bundleText = fs.readFileSync(BUNDLE, 'utf8');
let seed = 0x9e3779b9;
const rand = () => {
  // xorshift32: the same device states every run
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 2 ** 32;
};
const PATHS = ['/', '/pricing', '/pricing/teams', '/shop/running-shoes/r1',
  '/shop/running-shoes/r2', '/blog/how-to-run', '/account'];
const must = (env, what) => {
  if (!env.ok) throw new Error(`${what}: ${env.error}`);
  return env.value;
};
const states = [];
for (let d = 0; d < DEVICES; ++d) {
  const engine = core.engine();
  must(engine.loadBundle(bundleText), 'bundle');
  must(engine.setIds({ anonymous_id: `anon-${d}`, device_id: `bench-device-${d}` }), 'ids');
  let t = now - 3 * 86400000 + Math.floor(rand() * 86400000);
  must(engine.consent({ analytics: true, personalization: true }, t), 'consent');
  if (d % 3 === 0) must(engine.identify(`user-${d}`, { plan: d % 2 ? 'pro' : 'free' }, t), 'identify');
  for (let k = 0; k < 20; ++k) {
    t += Math.floor(rand() * 3600000);
    const r = rand();
    const event =
      r < 0.65 ? { type: 'page_view', page: { path: PATHS[Math.floor(rand() * PATHS.length)] } }
        : r < 0.85 ? { type: 'add_to_cart', props: { sku: `run-${Math.floor(rand() * 20)}` } }
          : r < 0.93 ? { type: 'purchase', props: { value: Math.floor(rand() * 400) } }
            : { type: 'search', props: { q: 'trail shoes' } };
    must(engine.ingest({ id: `d${d}-e${k}`, t, ...event }), 'ingest');
  }
  const req = must(engine.syncRequest(null), 'syncRequest');
  states.push(`"delta":${JSON.stringify(req.delta)},"versions":${JSON.stringify(req.versions)}}`);
  engine.free();
}
const statesFile = path.join(tmp, 'states.txt');
fs.writeFileSync(statesFile, states.join('\n') + '\n');
const meanStateBytes = Math.round(states.reduce((s, l) => s + l.length, 0) / states.length);

// ---- The server: loopback, port 0, a fresh data dir, no per-request logs, no rate limit.
const dataDir = path.join(tmp, 'data');
const server = spawn(SERVER, ['--bind', HOST, '--port', '0', '--data', dataDir, '--bundle', BUNDLE,
  '--rate-limit', '0'], { env: { ...process.env, PZ_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'ignore', 'pipe'] });
let serverErr = '';
let exited = null;
server.stderr.on('data', (b) => {
  serverErr += b;
});
const exitPromise = new Promise((resolve) => server.on('exit', (code, signal) => {
  exited = { code, signal };
  resolve(exited);
}));

// The listening port: the "listening" log line is info level (silent under PZ_LOG_LEVEL=warn), so
// find the process's listening socket in /proc (its fd inodes against /proc/net/tcp).
async function discoverPort() {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`pz-server exited at start: ${serverErr.trim()}`);
    const m = /"msg":"listening","port":(\d+)/.exec(serverErr);
    if (m) return Number(m[1]);
    try {
      const inodes = new Set();
      for (const fd of fs.readdirSync(`/proc/${server.pid}/fd`)) {
        const link = fs.readlinkSync(`/proc/${server.pid}/fd/${fd}`);
        const s = /^socket:\[(\d+)\]$/.exec(link);
        if (s) inodes.add(s[1]);
      }
      for (const line of fs.readFileSync(`/proc/${server.pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) {
          const p = parseInt(f[1].split(':')[1], 16);
          if (await healthy(p)) return p;
        }
      }
    } catch {
      // the process is starting; try again
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('pz-server did not start listening within 10 s');
}

async function healthy(p) {
  try {
    const r = await fetch(`http://${HOST}:${p}/healthz`);
    return r.ok;
  } catch {
    return false;
  }
}

async function api(method, route, body, key = WRITE_KEY) {
  const r = await fetch(`http://${HOST}:${port}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${text}`);
  return JSON.parse(text);
}

async function metrics() {
  const r = await fetch(`http://${HOST}:${port}/metrics`);
  const out = { requests: {} };
  for (const line of (await r.text()).split('\n')) {
    if (line.startsWith('#') || !line) continue;
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, labels = '', value] = m;
    if (name === 'pz_http_requests_total') {
      const route = /route="([^"]*)"/.exec(labels)[1];
      const status = /status="(\d+)"/.exec(labels)[1];
      out.requests[`${route} ${status}`] = Number(value);
    } else if (name === 'pz_http_request_duration_seconds_sum' ||
      name === 'pz_http_request_duration_seconds_count') {
      const route = /route="([^"]*)"/.exec(labels)[1];
      out[`${name}:${route}`] = Number(value);
    } else if (!labels) {
      out[name] = Number(value);
    }
  }
  return out;
}

// The metrics once the requests wrk cut at its deadline are done (nothing moved for 100 ms), so
// that they count in this phase, not the next.
async function settled() {
  let last = await metrics();
  for (let i = 0; i < 100; ++i) {
    await new Promise((r) => setTimeout(r, 100));
    const m = await metrics();
    const moved = Object.keys(m.requests).some((k) => k !== 'metrics 200' &&
      m.requests[k] !== last.requests[k]) ||
      m.pz_store_commit_batch_count !== last.pz_store_commit_batch_count;
    if (!moved) return m;
    last = m;
  }
  return last;
}

// CPU use during a phase, in % of one core: pz-server, its busiest thread (near 100 %: a serial
// bottleneck), wrk (this process's waited-for children), and everything else on the machine
// (another load makes the numbers of this run noisy). Linux clock ticks are 1/100 s.
function cpuSnapshot() {
  const ticks = (file) => {
    const f = fs.readFileSync(file, 'utf8');
    return f.slice(f.lastIndexOf(')') + 2).split(' ');
  };
  const proc = (f) => Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  const self = ticks('/proc/self/stat');
  const threads = {};
  try {
    for (const t of fs.readdirSync(`/proc/${server.pid}/task`)) {
      threads[t] = proc(ticks(`/proc/${server.pid}/task/${t}/stat`));
    }
  } catch {
    // the server is gone: the checks report it
  }
  const all = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1)
    .map(Number);
  return {
    at: process.hrtime.bigint(),
    server: Object.values(threads).reduce((a, b) => a + b, 0),
    threads,
    wrk: Number(self[13]) + Number(self[14]), // cutime + cstime (fields 16, 17)
    self: proc(self),
    busy: all.reduce((a, b) => a + b, 0) - all[3] - all[4], // less idle and iowait
  };
}

function cpuUse(a, b) {
  const s = Number(b.at - a.at) / 1e9;
  const pct = (t) => Math.round(t / s); // ticks of 1/100 s over s seconds: % of one core
  const busiest = Math.max(0, ...Object.keys(b.threads).map((t) => b.threads[t] - (a.threads[t] ?? 0)));
  const server_ = b.server - a.server;
  const wrk_ = b.wrk - a.wrk;
  return {
    server_pct: pct(server_),
    busiest_thread_pct: pct(busiest),
    wrk_pct: pct(wrk_),
    other_pct: Math.max(0, pct(b.busy - a.busy - server_ - wrk_ - (b.self - a.self))),
  };
}

const diff = (a, b, k) => (b[k] ?? 0) - (a[k] ?? 0);

// wrk's text output: requests, req/s, latency distribution, errors.
function parseWrk(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const ms = (pct) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
    if (!m) return null;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]];
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: num(/(\d+) requests in/),
    seconds: (() => {
      const m = /requests in ([\d.]+)(ms|s|m)/.exec(text);
      return m ? Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2]] : 0;
    })(),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50_ms: ms(50),
    p99_ms: ms(99),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socket_errors: sock ? sock.slice(1).reduce((s, v) => s + Number(v), 0) : 0,
    socket_detail: sock ? sock[0] : '',
  };
}

// collect-50k: pz_loadgen (bench/loadgen.cpp) sends collect requests at the target's rate, open
// loop (request i due at start + i / rate; latency counted from when it was due), so its p99 is
// the latency at that load, where wrk's closed loop at saturation measures connections /
// throughput.
function loadgen(rate) {
  let text;
  try {
    text = execFileSync(LOADGEN, ['--port', String(port), '--rate', String(rate), '--seconds',
      String(DURATION), '--connections', String(CONNECTIONS), '--batch', String(BATCH), '--nonce',
      `lg-${nonce}`, '--t0', String(now - 3600000)], { encoding: 'utf8',
      timeout: (DURATION + 30) * 1000 });
  } catch (e) {
    text = e.stdout || '';
  }
  const r = JSON.parse(text.trim().split('\n').pop() || '{}');
  return { text, requests: r.answered ?? 0, seconds: DURATION, rps: r.achieved_rate ?? 0,
    p50_ms: r.p50_ms, p99_ms: r.p99_ms, p999_ms: r.p999_ms, non2xx: r.errors ?? 0,
    socket_errors: r.unanswered ?? 0, socket_detail: r.first_error ?? '' };
}

function wrk(route, script, scriptArgs) {
  const a = ['-t', String(WRK_THREADS), '-c', String(CONNECTIONS), '-d', `${DURATION}s`,
    '--latency'];
  if (script) a.push('-s', path.join(WRK_DIR, script));
  a.push(`http://${HOST}:${port}${route}`);
  if (script) a.push('--', ...scriptArgs.map(String));
  const text = execFileSync('wrk', a, { encoding: 'utf8', timeout: (DURATION + 30) * 1000 });
  return { text, ...parseWrk(text) };
}

async function main() {
  log(`server_bench: pz-server on ${HOST}:${port}; ${DEVICES} device states ` +
    `(mean ${meanStateBytes} B); wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${DURATION}s per phase`);
  // Profiles for the checks and for decide: synced before any phase.
  const checkId = `c-${nonce}-1-0`; // collect.lua: thread 1, counter % 100 == 0
  await api('POST', '/v1/sync', `{"id":"${checkId}",${states[0]}`);
  const decidePrefix = `d-${nonce}`;
  for (let i = 0; i < DEVICES; ++i) {
    await api('POST', '/v1/sync', `{"id":"${decidePrefix}-${i}",${states[i]}`);
  }
  const eventsBefore = (await api('GET', `/v1/profiles/${checkId}`, undefined, SECRET_KEY)).events;

  const plans = {
    healthz: { route: '/healthz', script: null, args: [] },
    collect: { route: '/v1/collect', script: 'collect.lua', args: [nonce, now - 3600000, BATCH] },
    sync: { route: '/v1/sync', script: 'sync.lua', args: [statesFile, `s-${nonce}`, SPREAD_PROFILES] },
    'sync-hot': { route: '/v1/sync', script: 'sync.lua', args: [statesFile, `h-${nonce}`, HOT_PROFILES] },
    decide: { route: '/v1/decide', script: 'decide.lua', args: [decidePrefix, DEVICES] },
  };
  const rows = [];
  for (const name of PHASES.filter((p) => only.includes(p))) {
    const plan = plans[name];
    if (name === 'collect-50k' && !fs.existsSync(LOADGEN)) {
      log(`server_bench: collect-50k skipped: ${LOADGEN} missing (cmake --build build --target pz_loadgen)`);
      continue;
    }
    log(`server_bench: ${name} ...`);
    const before = await metrics();
    const cpu0 = cpuSnapshot();
    const w = name === 'collect-50k' ? loadgen(TARGETS.events_per_s / BATCH)
      : wrk(plan.route, plan.script, plan.args);
    const cpu1 = cpuSnapshot();
    const after = await settled();
    const routeKey = name === 'sync-hot' ? 'sync' : name === 'collect-50k' ? 'collect' : name;
    const served = Object.keys(after.requests).filter((k) => k.startsWith(`${routeKey} `));
    const ok2xx = served.filter((k) => /^\S+ 2\d\d$/.test(k))
      .reduce((s, k) => s + diff(before.requests, after.requests, k), 0);
    const bad = served.filter((k) => !/^\S+ 2\d\d$/.test(k) && diff(before.requests, after.requests, k));
    const commits = diff(before, after, 'pz_store_commit_batch_count');
    const walResets = diff(before, after, 'pz_store_wal_reset_seconds_count');
    const walResetSum = diff(before, after, 'pz_store_wal_reset_seconds_sum');
    const committed = diff(before, after, 'pz_store_commit_batch_sum');
    const serverSum = diff(before, after, `pz_http_request_duration_seconds_sum:${routeKey}`);
    const collecting = name.startsWith('collect');
    const unitsPer = collecting ? BATCH : name === 'decide' ? SLOTS : 1;
    const row = {
      endpoint: name,
      requests: w.requests,
      req_per_s: Math.round(w.rps),
      units: collecting ? 'events' : name.startsWith('sync') ? 'syncs'
        : name === 'decide' ? 'decisions' : 'requests',
      units_per_s: Math.round(w.rps * unitsPer),
      p50_ms: w.p50_ms,
      p99_ms: w.p99_ms,
      errors: w.non2xx + w.socket_errors,
      non2xx: w.non2xx,
      socket_errors: w.socket_errors,
      server_2xx: ok2xx,
      server_mean_ms: ok2xx ? +((serverSum / ok2xx) * 1000).toFixed(3) : null,
      commits,
      requests_per_commit: commits ? +(committed / commits).toFixed(1) : null,
      wal_resets: walResets,
      wal_reset_mean_ms: walResets ? +((walResetSum / walResets) * 1000).toFixed(2) : null,
      cpu: cpuUse(cpu0, cpu1),
    };
    // Fail loudly: any error makes the numbers meaningless.
    if (w.non2xx) failures.push(`${name}: ${w.non2xx} non-2xx answers`);
    if (w.socket_errors) failures.push(`${name}: ${w.socket_detail}`);
    if (bad.length) failures.push(`${name}: the server answered ${bad.join(', ')}`);
    if (!w.requests) failures.push(`${name}: no request completed\n${w.text}`);
    // wrk stops at the deadline with up to one request in flight per connection: the server may
    // have answered (and counted) up to CONNECTIONS more than wrk read.
    const slack = (served_, counted, per, what) => {
      if (counted < served_ * per || counted > (served_ + CONNECTIONS) * per) {
        failures.push(`${name}: ${what} moved by ${counted}, expected ${served_ * per} .. ` +
          `${(served_ + CONNECTIONS) * per} (wrk read ${served_} answers)`);
      }
    };
    slack(w.requests, ok2xx, 1, 'server 2xx answers');
    if (w.p999_ms !== undefined) row.p999_ms = w.p999_ms;
    if (collecting) {
      slack(w.requests, diff(before, after, 'pz_events_total'), BATCH, 'pz_events_total');
      row.events_total = diff(before, after, 'pz_events_total');
      for (const k of ['pz_events_duplicate_total', 'pz_events_rejected_total']) {
        if (diff(before, after, k)) failures.push(`collect: ${k} moved by ${diff(before, after, k)}`);
      }
    }
    if (name.startsWith('sync')) slack(w.requests, diff(before, after, 'pz_syncs_total'), 1, 'pz_syncs_total');
    if (name === 'decide') slack(w.requests, diff(before, after, 'pz_decisions_total'), SLOTS, 'pz_decisions_total');
    if (diff(before, after, 'pz_rate_limited_total')) failures.push(`${name}: rate limited`);
    if (diff(before, after, 'pz_store_errors_total')) failures.push(`${name}: store errors`);
    rows.push(row);
  }

  // The writes happened: the check profile's event count moved; a spread profile exists.
  const checks = {};
  if (only.includes('collect')) {
    const p = await api('GET', `/v1/profiles/${checkId}`, undefined, SECRET_KEY);
    checks.collect_profile_events = { before: eventsBefore, after: p.events };
    if (!(p.events > eventsBefore) || p.events % BATCH !== 0) {
      failures.push(`collect: profile ${checkId} has ${p.events} events (before: ${eventsBefore})`);
    }
  }
  for (const [phase, id] of [['sync', `s-${nonce}-1`], ['sync-hot', `h-${nonce}-1`]]) {
    if (!only.includes(phase)) continue;
    const p = await api('GET', `/v1/profiles/${id}`, undefined, SECRET_KEY);
    checks[`${phase}_profile`] = { components: p.state.components.length,
      state_bytes: JSON.stringify(p.state).length };
  }

  const healthz = rows.find((r) => r.endpoint === 'healthz');
  for (const r of rows) {
    r.vs_healthz = healthz ? +(r.req_per_s / healthz.req_per_s).toFixed(3) : null;
    const t = [];
    if (r.endpoint === 'collect') t.push(['events/s', r.units_per_s, TARGETS.events_per_s, '>=']);
    if (r.endpoint === 'sync') t.push(['syncs/s', r.units_per_s, TARGETS.syncs_per_s, '>=']);
    if (r.endpoint !== 'healthz') t.push(['p99 ms', r.p99_ms, TARGETS.p99_ms, '<=']);
    r.targets = t.map(([what, v, target, op]) => ({
      what, target: `${op} ${target}`, met: !r.errors && (op === '>=' ? v >= target : v <= target),
    }));
  }

  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ??
    os.cpus()[0]?.model ?? 'unknown CPU';
  const result = {
    machine: `${cpu}, ${os.availableParallelism?.() ?? os.cpus().length} cores, ` +
      `${os.platform()} ${os.release()}, node ${process.version}`,
    server: { threads: 'default (one per core)', store: 'sqlite WAL synchronous=FULL, group commit' },
    wrk: { threads: WRK_THREADS, connections: CONNECTIONS, duration_s: DURATION },
    devices: DEVICES,
    mean_sync_request_bytes: meanStateBytes,
    targets: TARGETS,
    rows,
    checks,
    ok: failures.length === 0,
  };
  if (asJson) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`machine: ${result.machine} (pz-server and wrk share these cores)`);
  console.log(`wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${DURATION}s per phase, loopback; ` +
    `pz-server threads: one per core, PZ_LOG_LEVEL=warn, --rate-limit 0; ` +
    `collect: ${BATCH} events/request; sync: ${DEVICES} device deltas (mean ${meanStateBytes} B) ` +
    `over ${SPREAD_PROFILES} profiles, sync-hot: over ${HOT_PROFILES}; decide: ${SLOTS} slots`);
  const cols = [['endpoint', 11], ['req/s', 9], ['units/s', 20], ['p50', 9], ['p99', 9],
    ['errors', 7], ['vs healthz', 11], ['req/commit', 11], ['targets', 0]];
  console.log(cols.map(([c, w], i) => (i === 0 ? c.padEnd(w) : c.padStart(w))).join(' '));
  const fmt = (v) => (v == null ? '-' : v < 1 ? `${v.toFixed(2)}ms` : `${v.toFixed(1)}ms`);
  for (const r of rows) {
    const targets = r.errors ? 'INVALID (errors)'
      : r.targets.map((t) => `${t.what} ${t.target}: ${t.met ? 'met' : 'NOT met'}`).join('; ');
    const cells = [r.endpoint, String(r.req_per_s), `${r.units_per_s} ${r.units}/s`, fmt(r.p50_ms),
      fmt(r.p99_ms), String(r.errors), r.vs_healthz == null ? '-' : `${r.vs_healthz.toFixed(3)}x`,
      r.requests_per_commit == null ? '-' : String(r.requests_per_commit), targets || '-'];
    console.log(cells.map((c, i) => (i === 0 ? c.padEnd(cols[i][1]) : c.padStart(cols[i][1])))
      .join(' '));
  }
  const paced = rows.find((r) => r.endpoint === 'collect-50k');
  if (paced) {
    console.log(`collect-50k: ${TARGETS.events_per_s / BATCH} requests/s due on a fixed schedule ` +
      `(pz_loadgen, open loop, ${CONNECTIONS} connections; latency from when each was due), ` +
      `p99.9 ${fmt(paced.p999_ms)}; the collect row above is wrk at saturation`);
  }
  const resets = rows.filter((r) => r.wal_resets);
  if (resets.length) {
    console.log('WAL resets (the writer finishing the checkpoint at the WAL limit, no commits ' +
      'meanwhile; pz_store_wal_reset_seconds): ' +
      resets.map((r) => `${r.endpoint} ${r.wal_resets} x ${r.wal_reset_mean_ms} ms`).join(', '));
  }
  console.log('req/commit: mean of pz_store_commit_batch over the phase (requests per group ' +
    'commit, one fsync each); server mean ms: ' +
    rows.map((r) => `${r.endpoint} ${r.server_mean_ms ?? '-'}`).join(', '));
  console.log('CPU, % of one core (server / its busiest thread / wrk / other processes): ' +
    rows.map((r) => `${r.endpoint} ${r.cpu.server_pct}/${r.cpu.busiest_thread_pct}/` +
      `${r.cpu.wrk_pct}/${r.cpu.other_pct}`).join(', '));
  console.log(`checks: ${JSON.stringify(checks)}; metrics agree with wrk within ` +
    `${CONNECTIONS} requests (cut at the deadline)`);
}

const failures = [];
let port = 0;
try {
  port = await discoverPort();
  await main();
} catch (e) {
  failures.push(String(e?.stack ?? e));
} finally {
  if (exited === null) {
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), 15000);
    await exitPromise;
    clearTimeout(timer);
  }
  if (exited.code !== 0) {
    failures.push(`pz-server exited with ${exited.code ?? exited.signal} after SIGTERM` +
      `\n${serverErr.trim().split('\n').slice(-5).join('\n')}`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (failures.length) {
  for (const f of failures) console.error(`server_bench: FAILED: ${f}`);
  process.exit(1);
}
