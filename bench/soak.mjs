#!/usr/bin/env node
// Soak: pz-server under mixed load (collect, sync, decide at once) for minutes, with its memory
// sampled all along, to show that it stays flat. Loopback only, bounded in time. Prints the RSS
// curve (and the store's file sizes) and the requests each load made; exits 1 on any non-2xx
// answer or socket error, never on a number.
//
//   node bench/soak.mjs [--minutes 10] [--sample 10] [--json]
// Env: PZ_SERVER (default build/pz-server). Needs wrk (scripts/setup.sh installs it).
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MINUTES = arg('--minutes', 10);
const SAMPLE_S = arg('--sample', 10);
const asJson = args.includes('--json');
const SERVER = process.env.PZ_SERVER || path.join(ROOT, 'build', 'pz-server');
const WRK = path.join(ROOT, 'bench', 'wrk');
const T0 = 1793577600000;
const HOUR = 3600000;
const DAY = 86400000;

if (!fs.existsSync(SERVER)) {
  console.error(`soak: ${SERVER} missing (cmake --build build --target pz-server)`);
  process.exit(2);
}

// Device deltas for sync.lua: 300 devices with 1..30 page views and a purchase sum each.
function deviceLine(i) {
  const views = 1 + (i % 30);
  const last = T0 + i * 1000;
  const series = (total) => ({
    total,
    last,
    hourly: [[Math.floor(last / HOUR), total]],
    daily: [[Math.floor(last / DAY), total]],
  });
  const delta = {
    v: 1,
    erased_at: null,
    user_id: null,
    consent: null,
    traits: [],
    components: [
      {
        device: `soak-device-${i}`,
        epoch: 0,
        version: views,
        seen: true,
        first_seen: T0,
        last_seen: last,
        sessions: 1,
        metrics: [],
        counts: [['page_view', series(views)]],
        exposures: [],
      },
    ],
  };
  return `"delta":${JSON.stringify(delta)},"versions":[]}`;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-soak-'));
const statesFile = path.join(dir, 'states.jsonl');
fs.writeFileSync(statesFile, Array.from({ length: 300 }, (_, i) => deviceLine(i)).join('\n') + '\n');
const data = path.join(dir, 'data');

// The demo shop's bundle (its slots are the ones decide.lua asks for).
const server = spawn(SERVER, ['--port', '0', '--data', data, '--rate-limit', '0', '--bundle', path.join(ROOT, 'demo-site', 'bundle.json')], {
  env: { ...process.env, PZ_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
const port = await new Promise((resolve, reject) => {
  server.stderr.on('data', (b) => {
    stderr += b;
    const m = /"msg":"listening","port":(\d+)/.exec(stderr);
    if (m) resolve(Number(m[1]));
  });
  server.on('exit', (c) => reject(new Error(`pz-server exited (${c}) at start:\n${stderr}`)));
});
const url = `http://127.0.0.1:${port}`;

const rssKb = () => {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
};
const size = (f) => {
  try {
    return fs.statSync(path.join(data, f)).size;
  } catch {
    return 0;
  }
};

// Profiles for decide (it answers 404 for a profile the server does not have).
const lines = fs.readFileSync(statesFile, 'utf8').split('\n').filter(Boolean);
const nonce = Date.now().toString(36);
for (let i = 0; i < 100; i++) {
  const r = await fetch(`${url}/v1/sync`, {
    method: 'POST',
    headers: { authorization: 'Bearer pk_demo', 'content-type': 'application/json' },
    body: `{"id":"d-${nonce}-${i}",${lines[i]}`,
  });
  if (r.status !== 200) throw new Error(`soak: set-up sync answered ${r.status}: ${await r.text()}`);
}
const seconds = Math.max(1, Math.round(MINUTES * 60));
const loads = {
  collect: ['-t1', '-c4', '-s', path.join(WRK, 'collect.lua'), url, '--', nonce, String(T0), '20'],
  // 20,000 profiles: the store and the server's caches keep growing for the whole run.
  sync: ['-t1', '-c4', '-s', path.join(WRK, 'sync.lua'), url, '--', statesFile, `s-${nonce}`, '20000'],
  decide: ['-t1', '-c2', '-s', path.join(WRK, 'decide.lua'), url, '--', `d-${nonce}`, '100'],
};
const runs = Object.entries(loads).map(
  ([name, a]) =>
    new Promise((resolve) => {
      execFile(
        'wrk',
        ['-d', `${seconds}s`, '--timeout', '10s', ...a],
        { encoding: 'utf8', timeout: (seconds + 60) * 1000 },
        (err, stdout, se) => resolve({ name, err, out: stdout + se }),
      );
    }),
);

const samples = [];
const start = Date.now();
const sample = () =>
  samples.push({
    s: Math.round((Date.now() - start) / 1000),
    rss_mib: +(rssKb() / 1024).toFixed(1),
    db_mib: +(size('pz.db') / 1048576).toFixed(1),
    wal_mib: +(size('pz.db-wal') / 1048576).toFixed(1),
  });
sample();
const timer = setInterval(sample, SAMPLE_S * 1000);
const results = await Promise.all(runs);
clearInterval(timer);
sample();

let failed = false;
const summary = {};
for (const r of results) {
  const reqs = /(\d+) requests in/.exec(r.out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.out);
  const errors = (non2xx ? Number(non2xx[1]) : 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  summary[r.name] = { requests: reqs ? Number(reqs[1]) : 0, errors };
  if (r.err || !reqs || errors > 0) {
    failed = true;
    console.error(`soak: ${r.name} failed: ${r.err ? r.err.message : ''}\n${r.out}`);
  }
}
server.kill('SIGTERM');
const code = await new Promise((r) => server.on('exit', (c, sig) => r(c ?? sig)));
if (code !== 0) {
  failed = true;
  console.error(`soak: pz-server exited with ${code} after SIGTERM\n${stderr.slice(-2000)}`);
}
fs.rmSync(dir, { recursive: true, force: true });

// Growth after warm-up: the last sample against the one at 20% of the run.
const warm = samples[Math.floor(samples.length / 5)];
const last = samples[samples.length - 1];
const peak = Math.max(...samples.map((x) => x.rss_mib));
const result = {
  machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.platform()} ${os.release()}`,
  minutes: MINUTES,
  loads: summary,
  rss_mib: { after_warmup: warm.rss_mib, peak, last: last.rss_mib },
  samples,
};
if (asJson) {
  console.log(JSON.stringify(result));
} else {
  console.log(`machine: ${result.machine}; ${MINUTES} min of collect (-c4, 20 events), sync (-c4, 20,000 profiles) and decide (-c2) at once`);
  console.log('     s   RSS MiB   pz.db MiB   WAL MiB');
  for (const x of samples) {
    console.log(`${String(x.s).padStart(6)}${String(x.rss_mib).padStart(10)}${String(x.db_mib).padStart(12)}${String(x.wal_mib).padStart(10)}`);
  }
  for (const [n, s] of Object.entries(summary)) console.log(`${n}: ${s.requests} requests, ${s.errors} errors`);
  console.log(`RSS: ${warm.rss_mib} MiB after warm-up (t=${warm.s}s), peak ${peak} MiB, last ${last.rss_mib} MiB`);
}
process.exit(failed ? 1 : 0);
