#!/usr/bin/env node
// Start-up of the wasm core, cold, in node and in headless Chromium: load the host module
// (js/src/host.mjs), get and compile pz_core.wasm, instantiate it, load a bundle, make the first
// decision (3 slots). Two bundles: the demo shop's (demo-site/bundle.json) and the 200-segment
// bench bundle (`build/pz_bench --emit DIR`, as bench/wasm_bench.mjs uses). Measured and printed,
// never asserted.
//
//   node bench/startup_bench.mjs [--runs N] [--only node,chromium] [--json]
// Env: PZ_WASM (default build-wasm/pz_core.wasm), PZ_BENCH (default build/pz_bench), CHROMIUM
// (default /usr/bin/chromium), PZ_BENCH_RUNS. Builds nothing.
//
// Method. One function, startupRun() below, is the measured code in both runtimes; it times each
// phase with performance.now() where it runs, so nothing of the driver (CDP, process spawn) is in
// the numbers. Every run is cold:
// - node: a fresh `node` process per run (this file with --child), so V8's compiled-module cache
//   (process-wide: the same wasm bytes compiled twice in one process are compiled once) and the
//   module cache of import() are empty. It reads the files from disk (as a node host does) and
//   compiles with WebAssembly.compile(bytes).
// - Chromium: Debian's /usr/bin/chromium through playwright-core (tests/e2e/harness.mjs:
//   --headless, the machine's flags, a fresh --user-data-dir), a new browser context per run (an
//   empty HTTP cache, no code cache; no run's compile time shows reuse of an earlier module) with
//   one page on a tiny node HTTP server on 127.0.0.1 (port 0, `Cache-Control: no-store`, COOP +
//   COEP so that the page is cross-origin isolated: performance.now() in 5 µs steps, not 100 µs),
//   then startupRun() in that page. Two ways to compile: `stream`, WebAssembly.compileStreaming(fetch(...)) (the runtime's
//   way: loadCore(fetch(...)) instantiates streaming when the type is application/wasm), in which
//   the fetch overlaps compilation and is part of the compile time; and `bytes`, fetch and
//   arrayBuffer() first (timed on its own), then WebAssembly.compile(bytes).
// One unmeasured warm-up run per runtime (the file system's and the HTTP server's first reads),
// then N measured runs per configuration; medians and p90 (nearest rank: the smallest value with
// at least 50 % / 90 % of the runs at or below it).
//
// Phases (ms):
//   host import   import() of js/src/host.mjs (parse + evaluate, and in Chromium its fetch)
//   wasm get      node: readFile; Chromium bytes: fetch + arrayBuffer; stream: part of compile
//   compile       WebAssembly.compile(bytes) or compileStreaming(fetch) -> WebAssembly.Module
//   instantiate   loadCore(module): instantiate, ABI version check, _initialize
//   bundle get    the bundle's text (readFile / fetch + text; bench: setup.json too)
//   bundle load   engine() + loadBundle(text) (parse, validate, compile the rules)
//   first decide  the visitor's first calls, ending with a 3-slot decision:
//                   demo:  setIds, consent (accept), ingest one page_view, decide(hero, offer_bar,
//                          recs) (the demo bundle is opt-in: no profile before consent)
//                   bench: identify, context, decide(hero, banner, sidebar), as wasm_bench.mjs
//   total         from before the host import to the decision (the sum, plus await gaps)
// V8 (node and Chromium) compiles wasm lazily (a function by Liftoff on its first call, TurboFan
// later in the background), so most of the code's compilation lands in bundle load and the first
// decision, not in "compile".
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);

/**
 * One cold start-up, measured where it runs (a node process or a page). Self-contained: Chromium
 * gets it as source through page.evaluate. `o`: {host (URL of host.mjs), wasm, bundle, setup?
 * (URLs: http: fetched, file: read from disk), kind ('demo' | 'bench'), compile ('stream' |
 * 'bytes')}. Resolves {phase: ms, ..., decisions: [action ids]}.
 */
async function startupRun(o) {
  const now = () => performance.now();
  const fromDisk = o.wasm.startsWith('file:');
  const readFile = fromDisk ? (await import('node:fs/promises')).readFile : null;
  const bytesOf = async (u) =>
    fromDisk ? readFile(new URL(u)) : new Uint8Array(await (await fetch(u)).arrayBuffer());
  const textOf = async (u) => (fromDisk ? readFile(new URL(u), 'utf8') : (await fetch(u)).text());
  const must = (env, what) => {
    if (!env.ok) throw new Error(`${what}: ${env.error}`);
    return env.value;
  };
  const r = {};
  const start = now();
  let t = start;
  const lap = (name) => {
    const t1 = now();
    r[name] = t1 - t;
    t = t1;
  };

  const { loadCore } = await import(o.host);
  lap('host_import');
  let module;
  if (o.compile === 'stream') {
    r.wasm_get = null; // overlaps the compilation
    module = await WebAssembly.compileStreaming(fetch(o.wasm));
    lap('compile');
  } else {
    const bytes = await bytesOf(o.wasm);
    lap('wasm_get');
    module = await WebAssembly.compile(bytes);
    lap('compile');
  }
  const core = await loadCore(module);
  lap('instantiate');
  const bundle = await textOf(o.bundle);
  const setup = o.setup ? JSON.parse(await textOf(o.setup)) : null;
  lap('bundle_get');
  const engine = core.engine();
  must(engine.loadBundle(bundle), 'loadBundle');
  lap('bundle_load');
  let d;
  if (o.kind === 'demo') {
    const at = Date.UTC(2026, 2, 2, 9); // a fixed time: every run decides the same thing
    must(engine.setIds({ anonymous_id: 'startup-anon', device_id: 'startup-device' }), 'setIds');
    must(engine.consent({ analytics: true, personalization: true, marketing: false }, at), 'consent');
    must(engine.ingest({ type: 'page_view', t: at + 1000, id: 'startup-e1', props: {},
      page: { path: '/pricing.html', url: 'http://127.0.0.1/pricing.html', title: 'Pricing' } }),
    'ingest');
    d = must(engine.decide(['hero', 'offer_bar', 'recs'], at + 1000), 'decide');
  } else {
    must(engine.identify(setup.user_id, setup.traits, setup.now), 'identify');
    must(engine.context(setup.context), 'context');
    d = must(engine.decide(['hero', 'banner', 'sidebar'], setup.now), 'decide');
  }
  lap('first_decide');
  r.total = t - start;
  r.decisions = d.decisions.map((x) => x.action);
  return r;
}

// ---- child mode: one cold node run, its result as one JSON line on stdout.
if (process.argv[2] === '--child') {
  const o = JSON.parse(process.argv[3]);
  try {
    process.stdout.write(JSON.stringify(await startupRun(o)) + '\n');
  } catch (e) {
    console.error(e?.stack ?? String(e));
    process.exitCode = 1;
  }
} else {
  await main();
}

async function main() {
  const args = process.argv.slice(2);
  const flag = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  const asJson = args.includes('--json');
  const RUNS = Number(flag('--runs', process.env.PZ_BENCH_RUNS || 10));
  const only = flag('--only', 'node,chromium').split(',');
  const die = (msg, code = 2) => {
    console.error(`startup_bench: ${msg}`);
    process.exit(code);
  };
  if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 100) die('--runs: a whole number 1..100');
  for (const x of only) if (!['node', 'chromium'].includes(x)) die(`--only: unknown runtime ${x}`);
  const WASM = process.env.PZ_WASM || path.join(ROOT, 'build-wasm', 'pz_core.wasm');
  const BENCH = process.env.PZ_BENCH || path.join(ROOT, 'build', 'pz_bench');
  const HOST = path.join(ROOT, 'js', 'src', 'host.mjs');
  const DEMO = path.join(ROOT, 'demo-site', 'bundle.json');
  for (const f of [WASM, BENCH, DEMO, HOST]) {
    if (!fs.existsSync(f)) die(`${f} missing (cmake --build build; scripts/build-wasm.sh)`);
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-startup-bench-'));
  execFileSync(BENCH, ['--emit', tmp]); // bundle.json, setup.json (and events.jsonl, unused)
  const files = {
    '/host.mjs': [HOST, 'text/javascript'],
    '/pz_core.wasm': [WASM, 'application/wasm'],
    '/demo/bundle.json': [DEMO, 'application/json'],
    '/bench/bundle.json': [path.join(tmp, 'bundle.json'), 'application/json'],
    '/bench/setup.json': [path.join(tmp, 'setup.json'), 'application/json'],
  };
  const size = (p) => fs.statSync(files[p][0]).size;
  const sizes = {
    wasm: size('/pz_core.wasm'),
    demo: size('/demo/bundle.json'),
    bench: size('/bench/bundle.json'),
  };
  const log = (...a) => {
    if (!asJson) console.error(...a);
  };

  // The configurations: runtime, bundle, compile path.
  const configs = [];
  if (only.includes('node')) {
    configs.push({ name: 'node demo', runtime: 'node', kind: 'demo', compile: 'bytes' });
    configs.push({ name: 'node bench', runtime: 'node', kind: 'bench', compile: 'bytes' });
  }
  if (only.includes('chromium')) {
    configs.push({ name: 'chromium demo', runtime: 'chromium', kind: 'demo', compile: 'stream' });
    configs.push({ name: 'chromium bench', runtime: 'chromium', kind: 'bench', compile: 'stream' });
    configs.push({ name: 'chromium demo', runtime: 'chromium', kind: 'demo', compile: 'bytes' });
  }
  const runOpts = (c, base) => {
    const url = (p) => (base ? base + p : pathToFileURL(files[p][0]).href);
    return {
      host: url('/host.mjs'),
      wasm: url('/pz_core.wasm'),
      bundle: url(`/${c.kind}/bundle.json`),
      setup: c.kind === 'bench' ? url('/bench/setup.json') : undefined,
      kind: c.kind,
      compile: c.compile,
    };
  };

  // node: a fresh process per run.
  const nodeRun = (o) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [SELF, '--child', JSON.stringify(o)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (b) => (out += b));
      child.stderr.on('data', (b) => (err += b));
      child.on('exit', (code) => {
        if (code === 0) resolve(JSON.parse(out));
        else reject(new Error(`node run failed (${code}): ${err.trim()}`));
      });
    });

  // The tiny HTTP server for Chromium: the five files and an empty page, nothing cached. The
  // page is cross-origin isolated (COOP + COEP; every file is same-origin), which gives
  // performance.now() a resolution of 5 µs instead of 100 µs.
  const HEADERS = {
    'cache-control': 'no-store',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
  };
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (p === '/') {
      res.writeHead(200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>startup</title>');
      return;
    }
    const f = files[p];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    const body = fs.readFileSync(f[0]);
    res.writeHead(200, { ...HEADERS, 'content-type': f[1], 'content-length': body.length });
    res.end(body);
  });

  let browser = null;
  let chromiumVersion = null;
  const results = configs.map((c) => ({ ...c, runs: [] }));
  try {
    if (only.includes('node')) {
      log(`startup_bench: node, ${RUNS} runs per bundle (a fresh process each)`);
      await nodeRun(runOpts(configs[0])); // warm-up, not counted
      for (const r of results.filter((x) => x.runtime === 'node')) {
        for (let i = 0; i < RUNS; i++) r.runs.push(await nodeRun(runOpts(r)));
      }
    }
    if (only.includes('chromium')) {
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${server.address().port}`;
      const { launchBrowser } = await import('../tests/e2e/harness.mjs');
      browser = await launchBrowser();
      chromiumVersion = browser.version();
      log(`startup_bench: chromium ${chromiumVersion}, ${RUNS} runs per configuration ` +
        '(a new browser context each)');
      const pageRun = async (o) => {
        const ctx = await browser.newContext();
        try {
          const page = await ctx.newPage();
          await page.goto(base + '/');
          if (!(await page.evaluate(() => self.crossOriginIsolated))) {
            throw new Error('the page is not cross-origin isolated (coarse timer)');
          }
          return await page.evaluate(startupRun, o);
        } finally {
          await ctx.close();
        }
      };
      const chrome = results.filter((x) => x.runtime === 'chromium');
      await pageRun(runOpts(chrome[0], base)); // warm-up, not counted
      // Interleaved (one run of each configuration in turn), so that a slow phase of the
      // machine spreads over all of them instead of one.
      for (let i = 0; i < RUNS; i++) {
        for (const r of chrome) r.runs.push(await pageRun(runOpts(r, base)));
      }
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const PHASES = [
    ['host_import', 'host.mjs import'],
    ['wasm_get', 'wasm read / fetch'],
    ['compile', 'wasm compile'],
    ['instantiate', 'instantiate + _initialize'],
    ['bundle_get', 'bundle read / fetch'],
    ['bundle_load', 'bundle load (loadBundle)'],
    ['first_decide', 'first decision (3 slots)'],
    ['total', 'total'],
  ];
  const pct = (xs, p) => {
    const s = xs.filter((x) => x != null).sort((a, b) => a - b);
    return s.length ? s[Math.max(0, Math.ceil(p * s.length) - 1)] : null;
  };
  const round = (v) => (v == null ? null : +v.toFixed(2));
  for (const r of results) {
    r.summary = {};
    for (const [k] of PHASES) {
      const xs = r.runs.map((x) => x[k]);
      r.summary[k] = { median: round(pct(xs, 0.5)), p90: round(pct(xs, 0.9)) };
    }
    r.decisions = r.runs[0]?.decisions ?? null;
    // Every run must decide the same: a run that did not is not a start-up of the same thing.
    if (r.runs.some((x) => JSON.stringify(x.decisions) !== JSON.stringify(r.decisions))) {
      die(`${r.name}: runs decided differently`, 1);
    }
  }

  const cpus = os.cpus();
  const machine = `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, node ` +
    `${process.version}` + (chromiumVersion ? `, Chromium ${chromiumVersion}` : '');
  const out = {
    machine,
    runs: RUNS,
    wasm_bytes: sizes.wasm,
    bundle_bytes: { demo: sizes.demo, bench: sizes.bench },
    configs: results.map((r) => ({
      name: r.name, runtime: r.runtime, bundle: r.kind, compile: r.compile,
      decisions: r.decisions, summary: r.summary,
      runs: r.runs.map((x) => Object.fromEntries(PHASES.map(([k]) => [k, round(x[k])]))),
    })),
  };
  if (asJson) {
    console.log(JSON.stringify(out));
    return;
  }
  console.log(`machine: ${machine}`);
  console.log(`startup_bench: cold start-up, ${RUNS} runs per column, median / p90 in ms; ` +
    `pz_core.wasm ${out.wasm_bytes} B, demo bundle ${out.bundle_bytes.demo} B (6 metrics, ` +
    `9 segments, 13 actions), bench bundle ${out.bundle_bytes.bench} B (200 segments x 4 ` +
    'conditions, 20 metrics, 100 actions)');
  const heads = results.map((r) => `${r.name} (${r.compile})`);
  const W = 26;
  const CW = Math.max(15, ...heads.map((h) => h.length + 1));
  console.log(''.padEnd(W) + heads.map((h) => h.padStart(CW)).join(''));
  const f = (v) => (v == null ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));
  for (const [k, label] of PHASES) {
    const cells = results.map((r) => {
      const s = r.summary[k];
      return s.median == null ? '–' : `${f(s.median)} / ${f(s.p90)}`;
    });
    console.log(label.padEnd(W) + cells.map((c) => c.padStart(CW)).join(''));
  }
  console.log('node: files read from disk, compile(bytes), a fresh process per run. chromium: a ' +
    'new context per run, files over HTTP from 127.0.0.1; stream = compileStreaming(fetch) ' +
    '(the fetch is inside "wasm compile"), bytes = fetch + arrayBuffer, then compile(bytes).');
  console.log('decisions: ' + results.map((r) => `${r.name}: ${JSON.stringify(r.decisions)}`)
    .filter((v, i, a) => a.indexOf(v) === i).join('; '));
}
