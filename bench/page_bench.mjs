#!/usr/bin/env node
// The demo shop's home page in a real chromium, cold, for a returning visitor in the high-intent
// segment: (a) the snippet alone (pages from pz-server), (b) through the edge worker (workerd in
// front of the same pz-server). Measured and printed, never asserted.
//
//   node bench/page_bench.mjs [--runs N] [--latency MS] [--json]   (env PZ_BENCH_RUNS; default 10)
//
// --latency MS: every request of the page takes MS more (CDP Network.emulateNetworkConditions,
// set before each navigation; default 0, loopback as it is), to see what the round trips cost
// on a real network: the HTML, pz.js, the wasm and the bundle's revalidation.
//
// Same stack as the e2e tests (tests/e2e/harness.mjs: pz-server on a free port with the demo
// shop and bundle, workerd, Debian's /usr/bin/chromium headless). Builds nothing.
//
// The bundle: demo-site/bundle.json without vip_offer's impression caps (else the one visitor of
// every run would stop qualifying after three views). The visitor: one context per mode accepts
// the banner, views Runner's Club three times, adds a plan to the cart and syncs (real pages and
// buttons); its cookies and localStorage (consent, pz_id, the stored profile and bundle) seed
// every run. After one warm-up, each of the N runs is, per mode:
//   1. a new browser context (empty HTTP cache, no compiled code) that opens /healthz on the same
//      origin (so the renderer process is the page's), then navigates to /?run=<mode>-<i> (a URL
//      the edge worker has not decided: its decide cache is per URL): "cold";
//   2. in the same context, /?run=<mode>-<i>-warm: "warm" (the HTTP cache the first one left);
//   3. a cold navigation in another new context under the V8 CPU profiler (timed separately:
//      the profiler slows the page).
// Measured:
// - slot: ms from navigation start to the first animation frame in which the hero is visible
//   with the personalized title ("10% off today"): tests/e2e/recorder.mjs, performance.now() in
//   requestAnimationFrame, i.e. the frame that paints it. A navigation whose first visible hero
//   is anything else counts as a flicker. fcp: first-contentful-paint, for reference.
// - ours: main-thread ms of our code from the CPU profile (CDP Profiler, 1 ms sampling, env
//   PZ_BENCH_SAMPLING_US; finer sampling slows the page and inflates every number), from the
//   navigation until the network is idle: every sample whose stack holds a frame of
//   /assets/pz/pz.js, pz_core.wasm or the page's inline scripts (the loader stub and the site's
//   init are the only inline scripts of the demo pages), including the builtins they call
//   (fetch, JSON, js-to-wasm), split by the sampled frame. Not in it: wasm compiled off the main
//   thread, style/layout caused by slot writes, GC. page js: every JS/wasm sample of the page.
//   v8 script: Performance.getMetrics ScriptDuration delta over the same navigation, for scale.
// - requests / KB in / KB out of our code: CDP Network events for URLs under /assets/pz/, /v1/
//   and /pz/ (pz.js, pz_core.wasm, the bundle, sync, collect), from the navigation until the
//   page is left (about:blank, so the page-hide beacon is counted); in = encodedDataLength
//   (headers + body as transferred), out = request bodies. The HTML itself is not counted (the
//   edge worker's slot content is part of it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from '../tests/e2e/harness.mjs';
import { recorder } from '../tests/e2e/recorder.mjs';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const ri = args.indexOf('--runs');
const RUNS = Number(ri >= 0 ? args[ri + 1] : process.env.PZ_BENCH_RUNS || 10);
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 200) {
  console.error('page_bench: --runs: a whole number 1..200');
  process.exit(2);
}
const li = args.indexOf('--latency');
const LATENCY = Number(li >= 0 ? args[li + 1] : 0);
if (!Number.isFinite(LATENCY) || LATENCY < 0 || LATENCY > 2000) {
  console.error('page_bench: --latency: ms of added latency per request, 0..2000');
  process.exit(2);
}
const SAMPLING_US = Number(process.env.PZ_BENCH_SAMPLING_US || 1000);
const VIEWPORT = { width: 1280, height: 900 };
const OURS = h.OURS;

/** A returning high-intent visitor's cookies and storage, made through the real pages. */
async function seed(browser, base) {
  const v = await h.visitor(browser, base, { viewport: VIEWPORT });
  const { page } = v;
  await page.goto('/');
  await h.bannerChoice(page, 'accept');
  await h.viewPricing(page, 3);
  await h.addToCart(page, 'club-annual');
  await h.pzReady(page);
  const segments = (await h.profile(page)).segments;
  if (!segments.includes('high_intent')) throw new Error('seed: not high intent');
  if (!(await page.evaluate(() => window.pz.sync()))) throw new Error('seed: sync failed');
  await page.goto('/healthz');
  const state = await v.context.storageState();
  await v.close();
  return state;
}

/**
 * Main-thread ms per CPU-profile sample: `js` every sample in JavaScript or wasm (not idle,
 * "(program)" or GC), `ours` those whose stack holds a frame of ours (isOurs(url)), split by the
 * sampled (top) frame: pz.js, wasm, the inline snippet, or a builtin that our code called.
 */
function attribute(profile, isOurs, url) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const memo = new Map();
  const oursOf = (id) => {
    if (memo.has(id)) return memo.get(id);
    const n = nodes.get(id);
    const v = isOurs(n.callFrame.url) || (parent.has(id) && oursOf(parent.get(id)));
    memo.set(id, v);
    return v;
  };
  const SKIP = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
  const split = { pz_js: 0, wasm: 0, inline: 0, builtins: 0 };
  let ours = 0;
  let js = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = (timeDeltas[i + 1] ?? 0) / 1000;
    const n = nodes.get(samples[i]);
    if (SKIP.has(n.callFrame.functionName)) continue;
    js += dt;
    if (!oursOf(n.id)) continue;
    ours += dt;
    const u = n.callFrame.url;
    const wasm = /pz_core\.wasm$/.test(u) || u.startsWith('wasm://');
    if (u === url) split.inline += dt;
    else if (wasm || /wasm/.test(n.callFrame.functionName)) split.wasm += dt;
    else if (/pz\.js$/.test(u)) split.pz_js += dt;
    else split.builtins += dt;
  }
  return { ours, js, split };
}

/** Measures one navigation of `page` to `url`: timing, network, and with `cpu` the CPU profile. */
async function measure(page, cdp, url, cpu) {
  const net = new Map();
  const onSent = (e) => {
    if (!e.request.url.startsWith('http')) return;
    const p = new URL(e.request.url).pathname;
    if (!OURS.test(p)) return;
    const out = e.request.postData ? Buffer.byteLength(e.request.postData) : 0;
    net.set(e.requestId, { path: p, out, in: 0 });
  };
  const onHeaders = (e) => {
    const r = net.get(e.requestId);
    if (r) r.in = Math.max(r.in, e.response.encodedDataLength || 0);
  };
  const onDone = (e) => {
    const r = net.get(e.requestId);
    if (r) r.in = Math.max(r.in, e.encodedDataLength || 0);
  };
  cdp.on('Network.requestWillBeSent', onSent);
  cdp.on('Network.responseReceived', onHeaders);
  cdp.on('Network.loadingFinished', onDone);
  let m0;
  if (cpu) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: SAMPLING_US });
    m0 = await cdp.send('Performance.getMetrics');
    await cdp.send('Profiler.start');
  }
  await page.goto(url);
  await page.waitForFunction(() => window.__pzRec && window.__pzRec.firstShown.hero, null, {
    timeout: 15000,
  });
  await page.waitForLoadState('networkidle');
  let prof, m1;
  if (cpu) {
    prof = (await cdp.send('Profiler.stop')).profile;
    m1 = await cdp.send('Performance.getMetrics');
  }
  const rec = await page.evaluate(() => window.__pzRec);
  await page.goto('about:blank'); // page hide: the runtime's beacon
  await h.sleep(300);
  cdp.off('Network.requestWillBeSent', onSent);
  cdp.off('Network.responseReceived', onHeaders);
  cdp.off('Network.loadingFinished', onDone);
  const reqs = [...net.values()];
  const first = rec.firstShown.hero;
  const heroLog = rec.log.filter((e) => e.slot === 'hero' && e.text);
  const out = {
    first_hero: heroLog[0] ? { text: heroLog[0].text, decided: heroLog[0].decided } : null,
    slot_ms: first && first.text === h.TEXT.heroVip ? first.t : null,
    flicker: !first || first.text !== h.TEXT.heroVip,
    fcp_ms: rec.paints['first-contentful-paint'] ?? null,
    requests: reqs.length,
    kb_in: reqs.reduce((a, r) => a + r.in, 0) / 1024,
    kb_out: reqs.reduce((a, r) => a + r.out, 0) / 1024,
    by_path: reqs.reduce((a, r) => {
      const k = r.path.replace(/^\/assets\/pz\//, '');
      a[k] = a[k] || { n: 0, kb_in: 0, kb_out: 0 };
      a[k].n++;
      a[k].kb_in += r.in / 1024;
      a[k].kb_out += r.out / 1024;
      return a;
    }, {}),
  };
  if (cpu) {
    const metric = (m, k) => m.metrics.find((x) => x.name === k)?.value ?? 0;
    const isOurs = (u) =>
      !!u &&
      (u === url || /\/assets\/pz\/(pz\.js|pz_core\.wasm)/.test(u) || u.startsWith('wasm://'));
    const c = attribute(prof, isOurs, url);
    out.ours_ms = c.ours;
    out.ours_split_ms = c.split;
    out.page_js_ms = c.js;
    out.v8_script_ms = (metric(m1, 'ScriptDuration') - metric(m0, 'ScriptDuration')) * 1000;
  }
  return out;
}

/**
 * One iteration in a new context: a cold navigation (empty HTTP cache) and then a warm one (the
 * same context again: the HTTP cache as the first left it), both timed without the profiler;
 * then, in another new context, a cold navigation under the CPU profiler.
 */
async function run(browser, base, state, name) {
  const open = async () => {
    const ctx = await browser.newContext({
      storageState: state,
      baseURL: base,
      viewport: VIEWPORT,
    });
    await ctx.addInitScript(recorder);
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    if (LATENCY > 0) {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: LATENCY,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
    }
    await cdp.send('Performance.enable');
    await page.goto('/healthz'); // the origin's renderer process, nothing of ours loaded
    return { ctx, page, cdp };
  };
  let x = await open();
  const cold = await measure(x.page, x.cdp, `${base}/?run=${name}`);
  const warm = await measure(x.page, x.cdp, `${base}/?run=${name}-warm`);
  await x.ctx.close();
  x = await open();
  const cpu = await measure(x.page, x.cdp, `${base}/?run=${name}-cpu`, true);
  await x.ctx.close();
  return {
    ...cold,
    warm_slot_ms: warm.slot_ms,
    warm_flicker: warm.flicker,
    warm_first_hero: warm.first_hero,
    warm_requests: warm.requests,
    warm_kb_in: warm.kb_in,
    ours_ms: cpu.ours_ms,
    ours_split_ms: cpu.ours_split_ms,
    page_js_ms: cpu.page_js_ms,
    v8_script_ms: cpu.v8_script_ms,
    cpu_run_slot_ms: cpu.slot_ms,
  };
}

const pct = (xs, p) => {
  const s = xs.filter((x) => x != null).sort((a, b) => a - b);
  if (!s.length) return null;
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
};

// The demo bundle, but without vip_offer's impression caps (3 a day, 10 in all): every run is
// the same visitor, who would otherwise stop qualifying for the hero after three views.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-page-bench-'));
const bundle = JSON.parse(fs.readFileSync(path.join(h.ROOT, 'demo-site', 'bundle.json'), 'utf8'));
for (const a of bundle.actions) if (a.id === 'vip_offer') delete a.caps;
fs.writeFileSync(path.join(tmp, 'bundle.json'), JSON.stringify(bundle));
const stack = await h.startStack({ bundle: path.join(tmp, 'bundle.json') });
const browser = await h.launchBrowser();
const chromiumVersion = browser.version();
const results = {};
try {
  const modes = { snippet: stack.serverUrl, edge: stack.edgeUrl };
  for (const [mode, base] of Object.entries(modes)) {
    const state = await seed(browser, base);
    // One warm-up run (not counted): the servers' and workerd's first requests.
    await run(browser, base, state, `${mode}-warmup`);
    results[mode] = [];
    for (let i = 0; i < RUNS; i++) {
      results[mode].push(await run(browser, base, state, `${mode}-${i}`));
    }
  }
} finally {
  await browser.close().catch(() => {});
  await stack.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}

const cpus = os.cpus();
const machine = {
  cpu: cpus[0]?.model || 'unknown',
  cores: cpus.length,
  chromium: 'Chromium ' + chromiumVersion + ' (' + h.CHROMIUM + ')',
  node: process.version,
};
const COLS = [
  ['slot_ms', 'nav start → personalized hero painted, cold (ms)'],
  ['warm_slot_ms', 'the same, warm HTTP cache (ms)'],
  ['fcp_ms', 'first contentful paint, cold (ms)'],
  ['ours_ms', 'main thread, our code (ms, CPU profile)'],
  ['page_js_ms', 'main thread, all page JS (ms, CPU profile)'],
  ['v8_script_ms', 'V8 ScriptDuration, whole page (ms)'],
  ['requests', 'requests by our code, cold'],
  ['kb_in', 'KB received by our code, cold'],
  ['warm_kb_in', 'KB received by our code, warm'],
  ['kb_out', 'KB sent by our code (bodies)'],
];
const summary = {};
for (const [mode, rs] of Object.entries(results)) {
  summary[mode] = {
    runs: rs.length,
    flickers: rs.filter((r) => r.flicker).length + rs.filter((r) => r.warm_flicker).length,
  };
  for (const [k] of COLS) {
    const xs = rs.map((r) => r[k]);
    summary[mode][k] = { median: pct(xs, 0.5), p90: pct(xs, 0.9) };
  }
  const paths = new Set(rs.flatMap((r) => Object.keys(r.by_path)));
  summary[mode].ours_split_ms = {};
  for (const k of ['pz_js', 'wasm', 'inline', 'builtins']) {
    summary[mode].ours_split_ms[k] = pct(rs.map((r) => r.ours_split_ms[k]), 0.5);
  }
  summary[mode].by_path = {};
  for (const p of [...paths].sort()) {
    summary[mode].by_path[p] = {
      n: pct(rs.map((r) => r.by_path[p]?.n ?? 0), 0.5),
      kb_in: pct(rs.map((r) => r.by_path[p]?.kb_in ?? 0), 0.5),
      kb_out: pct(rs.map((r) => r.by_path[p]?.kb_out ?? 0), 0.5),
    };
  }
}

if (asJson) {
  console.log(
    JSON.stringify({ machine, runs: RUNS, latency_ms: LATENCY, summary, results }, null, 2),
  );
} else {
  const f = (v) => (v == null ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(1));
  const w = Math.max(...COLS.map(([, l]) => l.length));
  const pad = (c, i) => c.padStart([11, 7, 9, 7][i]);
  const row = (label, cells) => console.log(`${label.padEnd(w)}  ${cells.map(pad).join(' ')}`);
  console.log(
    `page_bench: ${RUNS} runs per mode, demo home page, high-intent visitor` +
      (LATENCY ? `, ${LATENCY} ms added to every request` : ''),
  );
  const m = machine;
  console.log(`machine: ${m.cpu}, ${m.cores} cores; ${m.chromium}; node ${m.node}`);
  row('', ['snippet med', 'p90', 'edge med', 'p90']);
  for (const [k, label] of COLS) {
    const a = summary.snippet[k];
    const b = summary.edge[k];
    row(label, [a.median, a.p90, b.median, b.p90].map(f));
  }
  const flickers = [summary.snippet.flickers, '', summary.edge.flickers, ''].map(String);
  row('navigations whose first visible hero was not the offer', flickers);
  for (const mode of ['snippet', 'edge']) {
    const sp = summary[mode].ours_split_ms;
    console.log(
      `${mode} our main-thread time by sampled frame (medians, ms): pz.js ${f(sp.pz_js)}, ` +
        `wasm ${f(sp.wasm)}, inline snippet ${f(sp.inline)}, builtins it called ${f(sp.builtins)}`,
    );
  }
  for (const mode of ['snippet', 'edge']) {
    const parts = Object.entries(summary[mode].by_path).map(
      ([p, x]) => `${p} ${f(x.n)}× ${f(x.kb_in)} KB in${x.kb_out ? ` / ${f(x.kb_out)} out` : ''}`,
    );
    console.log(`${mode} requests, cold (medians): ${parts.join('; ')}`);
  }
}
