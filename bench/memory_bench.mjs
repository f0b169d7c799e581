#!/usr/bin/env node
// Memory of a profile: (1) its serialized size on the device, (2) its size in the wasm core's
// memory, (3) pz-server's resident memory and disk with many profiles. Measured and printed; the
// issue's target (<= 4 KB serialized for a typical 30-day visitor) is reported, never enforced.
//
//   node bench/memory_bench.mjs [--profiles N] [--quick] [--engines K] [--concurrency C]
//                               [--only profile,server] [--json]
// --profiles: profiles written to pz-server (default 100000; --quick: 10000); --engines: engines
// in one wasm instance for the per-engine average (default 1000; --quick: 200); --concurrency:
// requests in flight (default 16). Env: PZ_WASM (default build-wasm/pz_core.wasm), PZ_SERVER
// (default build/pz-server). Builds nothing. Exits 1 when a request fails or a check fails.
//
// THE TYPICAL 30-DAY ACTIVE VISITOR (the demo shop, demo-site/bundle.json), VISITS below:
// - 12 visits over 30 days (days 0, 2, 4, 7, 9, 11, 14, 17, 20, 23, 26, 29 from Monday
//   2 March 2026, at different hours), each 3 to 6 page views one to three minutes apart: 47
//   page views of the home page, running-shoe and apparel pages, pricing, cart, checkout,
//   account; so 12 sessions (more than 30 min between visits).
// - consent given at the first visit (the banner's "accept": analytics and personalization, no
//   marketing; the demo bundle is opt-in, nothing is kept before it);
// - 3 add_to_cart (a shoe, the Runner's Club plan, a second shoe; the demo pages' data-pz-props),
//   one purchase (value 165 USD, with items and an order id, as demo-site/site/assets/shop.js
//   tracks it), identify once (the demo's member id `u-` + 8 hex digits, no traits);
// - as the browser runtime does it (js/src/runtime/index.mjs): every event has a UUID id (from a
//   seeded generator: every run is the same visitor) and the page (url, path, referrer, title);
//   anonymous and device ids are UUIDs; after every page view the page's slots are decided
//   (offer_bar everywhere, hero on the home page, recs on product and cart pages, banner on the
//   cart) and every action shown gets one impression per page view, and after the purchase the
//   page decides again.
// The profile is the engine's exported state (wasm op EXPORT, docs/sync.md): what the runtime
// persists in localStorage (the `pz` key: these bytes plus ids and the sync cursor) and what a
// sync sends the first time. Sizes are its exact bytes as the engine writes them: raw, gzip -9,
// brotli -q 11. Then the exported JSON is broken down by top-level field, by component field and
// by series (bytes each takes in the text, commas included).
//
// IN-MEMORY SIZE in the wasm core (node, the shipped pz_core.wasm, its emmalloc allocator). The
// module exports no allocator statistics, so the heap is probed from outside: pz_alloc of a block
// larger than any free block inside the heap (8 MiB) is placed at the start of the free space at
// the top of the heap (emmalloc carves a request from the start of a free region, and extends the
// top free region with sbrk when it is too small), so its address is the end of the highest
// block in use: the heap's extent. The probe is freed at once (it merges back, the next probe
// returns the same address; the bench checks this and that a 100,000-byte block moves the probe
// by 100,000 plus a header). Growth of that extent = bytes the engine's allocations added,
// including allocator headers, alignment and free holes left below the top (memory the module
// holds; wasm memory never shrinks). Two measurements:
// - many engines (the cost per engine and per profile once a module is in use): in one instance,
//   a warm-up visitor replayed and exported first (it stays alive: the host's input buffer and
//   the module's result buffer at their size), then K engines created and their bundle loaded
//   (each engine compiles its own), then the visitor replayed into each (own ids); extent growth
//   / K for each step. Holes one engine's temporaries leave are reused by the next, so this is
//   the steady-state cost.
// - one engine in a fresh instance, as in a page: the extent after instantiation, after
//   engine() + loadBundle, after the replay, after the export. The first step includes the
//   host's input buffer (sized for the bundle text) and the load's freed temporaries; the replay
//   may fit into those holes (then it adds nothing to the extent).
// The linear memory's size (64 KiB pages) is printed for scale.
//
// SERVER: build/pz-server on 127.0.0.1, port 0, a fresh data dir, --rate-limit 0,
// PZ_LOG_LEVEL=warn, the demo keys and bundle (as bench/server_bench.mjs starts it). N distinct
// profiles are written through the public API: POST /v1/sync with the typical visitor's first
// sync (engine.syncRequest(null): delta + versions), its device id, anonymous id and user id
// replaced per profile (same lengths, so every profile is the same size), as the profile id its
// user id; node http with a keep-alive http.Agent, C requests in flight, loopback only, bounded
// (the writes stop after 100 s). VmRSS and VmHWM from /proc/<pid>/status and the data dir's size
// (pz.db + WAL) before the first write and after the last (and VmRSS at every tenth of the
// writes: the server's caches are bounded, so RSS per profile falls as N grows). RSS per profile
// = (VmRSS after - VmRSS before) / N; the marginal cost: the least-squares slope of VmRSS over
// the samples of the second half of the writes. After the SIGTERM stop (the store truncates its
// WAL on close) the data dir again, and how the profiles table fills its pages (sqlite3's dbstat,
// when the sqlite3 CLI is installed). Checks: every answer 200, pz_syncs_total = N, three
// profiles read back (GET /v1/profiles/{id}) hold the written state; exit 0 after SIGTERM.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { loadCore, Op } from '../js/src/host.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const asJson = args.includes('--json');
const quick = args.includes('--quick');
const PROFILES = Number(flag('--profiles', quick ? 10000 : 100000));
const ENGINES = Number(flag('--engines', quick ? 200 : 1000));
const CONCURRENCY = Number(flag('--concurrency', 16));
const only = flag('--only', 'profile,server').split(',');
const WASM = process.env.PZ_WASM || path.join(ROOT, 'build-wasm', 'pz_core.wasm');
const SERVER = process.env.PZ_SERVER || path.join(ROOT, 'build', 'pz-server');
const BUNDLE = path.join(ROOT, 'demo-site', 'bundle.json');
const HOST = '127.0.0.1'; // loopback only
const WRITE_KEY = 'pk_demo';
const SECRET_KEY = 'sk_demo';
const TARGET_BYTES = 4096; // the issue: <= 4 KB serialized for a typical 30-day visitor
const WRITE_SECONDS = 100; // the writes stop here whatever N (the run stays under 2 minutes)
const PROBE = 8 << 20;

function die(message, code = 2) {
  console.error(`memory_bench: ${message}`);
  process.exit(code);
}
for (const [what, v, max] of [['--profiles', PROFILES, 1e6], ['--engines', ENGINES, 10000],
  ['--concurrency', CONCURRENCY, 256]]) {
  if (!Number.isInteger(v) || v < 1 || v > max) die(`${what}: a whole number 1..${max}`);
}
for (const x of only) if (!['profile', 'server'].includes(x)) die(`--only: unknown part ${x}`);
for (const f of [WASM, BUNDLE, ...(only.includes('server') ? [SERVER] : [])]) {
  if (!fs.existsSync(f)) {
    die(`${f} missing (cmake --build build --target pz-server; scripts/build-wasm.sh)`);
  }
}
const log = (...a) => {
  if (!asJson) console.error(...a);
};

// ---- the typical 30-day visitor ----

const T0 = Date.UTC(2026, 2, 2); // Monday 2 March 2026, 00:00 UTC
const ORIGIN = 'https://shop.example';
const TITLES = {
  '/': 'Stride Running Co. · Shoes and kit for every run',
  '/shop/running-shoes/': 'Running shoes · Stride Running Co.',
  '/shop/running-shoes/road-racer.html': 'Road Racer 3 · Stride Running Co.',
  '/shop/running-shoes/trail-runner.html': 'Trail Runner GTX · Stride Running Co.',
  '/shop/apparel/': 'Apparel · Stride Running Co.',
  '/shop/apparel/merino-tee.html': 'Merino Run Tee · Stride Running Co.',
  '/shop/apparel/wind-shell.html': 'Featherweight Wind Shell · Stride Running Co.',
  '/pricing.html': "Runner's Club membership and pricing · Stride Running Co.",
  '/cart.html': 'Your cart · Stride Running Co.',
  '/checkout.html': 'Checkout · Stride Running Co.',
  '/account.html': 'Sign in · Stride Running Co.',
};
// The demo pages' slots (demo-site/site/*.html and partials/header.html).
const slotsOf = (p) => [
  'offer_bar',
  ...(p === '/' ? ['hero'] : []),
  ...(p === '/cart.html' ? ['banner', 'recs'] : []),
  ...(p.startsWith('/shop/') && p.endsWith('.html') ? ['recs'] : []), // product pages
];
const CART = {
  road: { sku: 'road-racer-3', category: 'running-shoes', price: 165 },
  club: { sku: 'club-annual', category: 'membership', price: 89 },
  trail: { sku: 'trail-runner-gtx', category: 'running-shoes', price: 139 },
};
// Steps of a visit: a path is a page view; {cart}, {identify}, {purchase} happen on the page
// before them.
const VISITS = [
  { day: 0, at: '19:10', consent: true, steps: ['/', '/shop/running-shoes/',
    '/shop/running-shoes/trail-runner.html', '/shop/running-shoes/road-racer.html'] },
  { day: 2, at: '12:35', steps: ['/', '/pricing.html', '/shop/running-shoes/road-racer.html'] },
  { day: 4, at: '20:05', steps: ['/shop/running-shoes/', '/shop/running-shoes/road-racer.html',
    { cart: CART.road }, '/cart.html'] },
  { day: 7, at: '08:50', steps: ['/', '/shop/apparel/', '/shop/apparel/merino-tee.html',
    '/shop/apparel/wind-shell.html', '/pricing.html'] },
  { day: 9, at: '21:15', steps: ['/', '/pricing.html', '/pricing.html', { cart: CART.club },
    '/cart.html'] },
  { day: 11, at: '13:00', steps: ['/', '/account.html', { identify: true },
    '/shop/running-shoes/trail-runner.html', { cart: CART.trail }, '/cart.html'] },
  { day: 14, at: '19:40', steps: ['/', '/cart.html', '/checkout.html', { purchase: 165 }] },
  { day: 17, at: '07:55', steps: ['/', '/shop/running-shoes/',
    '/shop/running-shoes/trail-runner.html'] },
  { day: 20, at: '18:20', steps: ['/', '/pricing.html', '/account.html', '/shop/apparel/'] },
  { day: 23, at: '12:10', steps: ['/', '/shop/apparel/wind-shell.html', '/shop/running-shoes/',
    '/shop/running-shoes/road-racer.html', '/pricing.html'] },
  { day: 26, at: '20:45', steps: ['/', '/shop/running-shoes/', '/shop/running-shoes/trail-runner.html',
    '/shop/running-shoes/road-racer.html', '/cart.html', '/pricing.html'] },
  { day: 29, at: '09:30', steps: ['/', '/pricing.html', '/shop/running-shoes/'] },
];

/** A UUID from a seeded generator (the runtime's ids are crypto.randomUUID(): same shape). */
function uuidFrom(rand) {
  const b = Array.from({ length: 16 }, () => Math.floor(rand() * 256));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
function seeded(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const must = (env, what) => {
  if (!env.ok) throw new Error(`${what}: ${env.error}`);
  return env.value;
};

/**
 * Replays the visitor into `engine` (bundle loaded). `ids`: {anonymous, device, user}. Returns
 * counts of what happened.
 */
function replayVisitor(engine, ids, seed) {
  const rand = seeded(seed);
  const n = { page_views: 0, add_to_cart: 0, purchases: 0, decisions: 0, impressions: 0 };
  must(engine.setIds({ anonymous_id: ids.anonymous, device_id: ids.device }), 'setIds');
  let t = 0;
  let path_ = null;
  let referrer = '';
  const event = (type, props) => ({ type, t, id: uuidFrom(rand), props,
    page: { url: ORIGIN + path_, path: path_, referrer, title: TITLES[path_] } });
  let seen = new Set(); // slot + action shown in this page view (counted once, as the runtime)
  const decide = (slots) => {
    const d = must(engine.decide(slots, t), 'decide');
    n.decisions += slots.length;
    for (const x of d.decisions) {
      const k = `${x.slot}\0${x.action}`;
      if (x.action === null || seen.has(k)) continue;
      seen.add(k);
      must(engine.feedback(x.action, 'impression', t), 'feedback');
      n.impressions++;
    }
  };
  for (const v of VISITS) {
    const [hh, mm] = v.at.split(':').map(Number);
    t = T0 + v.day * 86400000 + (hh * 60 + mm) * 60000;
    referrer = v.day % 2 ? 'https://www.google.com/' : '';
    path_ = null;
    if (v.consent) {
      must(engine.consent({ analytics: true, personalization: true, marketing: false }, t), 'consent');
    }
    for (const s of v.steps) {
      t += 60000 + Math.floor(rand() * 120000); // one to three minutes later
      if (typeof s === 'string') {
        if (path_) referrer = ORIGIN + path_;
        path_ = s;
        seen = new Set();
        must(engine.ingest(event('page_view', {})), 'page_view');
        n.page_views++;
        decide(slotsOf(path_));
      } else if (s.cart) {
        must(engine.ingest(event('add_to_cart', s.cart)), 'add_to_cart');
        n.add_to_cart++;
      } else if (s.identify) {
        must(engine.identify(ids.user, undefined, t), 'identify');
      } else if (s.purchase) {
        const orderId = 'SR-' +
          Math.floor(rand() * 36 ** 6).toString(36).toUpperCase().padStart(6, '0');
        must(engine.ingest(event('purchase', { value: s.purchase, currency: 'USD', items: 1,
          order_id: orderId })), 'purchase');
        n.purchases++;
        decide(slotsOf(path_));
      }
    }
  }
  n.last_event_t = t;
  return n;
}

/** The exported state's exact bytes as the engine writes them (the envelope's value). */
function exportBytes(core, engine) {
  const [rc, out] = core.callRaw(engine.handle, Op.EXPORT);
  const text = new TextDecoder().decode(out);
  const head = '{"ok":true,"value":';
  if (rc !== 0 || !text.startsWith(head) || !text.endsWith('}')) throw new Error(`export: ${text}`);
  return text.slice(head.length, -1);
}

const gzipBytes = (s) => zlib.gzipSync(s, { level: 9 }).length;
const brotliBytes = (s) => zlib.brotliCompressSync(s, { params: {
  [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
  [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
  [zlib.constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(s) } }).length;

/**
 * Bytes each member of an object takes in its canonical JSON text: `"key":value` plus the comma
 * before it (the first member carries the braces instead), so the parts add up to the whole.
 */
function breakdown(obj) {
  const parts = Object.entries(obj).map(([k, v], i) => [k, JSON.stringify(k).length + 1 +
    JSON.stringify(v).length + (i ? 1 : 2)]);
  return Object.fromEntries(parts);
}

/** Bytes of each entry of a [[id, value], ...] list (its comma or brackets included). */
function seriesBreakdown(list) {
  return list.map(([id, v], i) => ({
    id,
    bytes: JSON.stringify([id, v]).length + (i ? 1 : 2),
    hourly: v.hourly?.length,
    daily: v.daily?.length,
  }));
}

// ---- the wasm heap probe ----

/** The end of the highest block in use in the module's heap (see the header). */
function heapTop(core) {
  const p = core.x.pz_alloc(PROBE);
  if (!p) throw new Error('heap probe: pz_alloc failed');
  core.x.pz_free(p);
  return p;
}

async function profilePart() {
  const module = await WebAssembly.compile(fs.readFileSync(WASM));
  const bundle = fs.readFileSync(BUNDLE, 'utf8');
  const idsFor = (i) => {
    const r = seeded(0x51ed + i * 7919);
    return { anonymous: uuidFrom(r), device: uuidFrom(r),
      user: 'u-' + Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0') };
  };

  // One engine in a fresh instance, as in a page: engine + bundle, then the visitor, then the
  // export (the module's result buffer grows to hold it).
  const fresh = await loadCore(module);
  const h0 = heapTop(fresh);
  const engine = fresh.engine();
  must(engine.loadBundle(bundle), 'bundle');
  const h1 = heapTop(fresh);
  const ids = idsFor(1);
  const counts = replayVisitor(engine, ids, 2);
  const h2 = heapTop(fresh);
  const state = exportBytes(fresh, engine);
  const h3 = heapTop(fresh);
  const sync = must(engine.syncRequest(null), 'syncRequest');
  const parsed = JSON.parse(state);
  if (JSON.stringify(parsed) !== state) throw new Error('export: not in canonical JSON.stringify form');

  // Many engines in another instance. A warm-up visitor first (it stays alive): the host's input
  // buffer and the module's result buffer at their size.
  const core = await loadCore(module);
  const warm = core.engine();
  must(warm.loadBundle(bundle), 'bundle');
  replayVisitor(warm, idsFor(0), 1);
  exportBytes(core, warm);
  must(warm.syncRequest(null), 'syncRequest');

  // The probe's self-check.
  const a0 = heapTop(core);
  const a1 = heapTop(core);
  const block = core.x.pz_alloc(100000);
  const a2 = heapTop(core);
  core.x.pz_free(block);
  const a3 = heapTop(core);
  const probeCheck = { repeat_same: a0 === a1, block_100000_moves: a2 - a1,
    back_after_free: a3 === a0 };
  if (!probeCheck.repeat_same || !probeCheck.back_after_free || a2 - a1 < 100000 || a2 - a1 > 100064) {
    throw new Error(`heap probe self-check failed: ${JSON.stringify(probeCheck)}`);
  }

  const m0 = heapTop(core);
  const engines = [];
  for (let i = 0; i < ENGINES; i++) {
    const e = core.engine();
    must(e.loadBundle(bundle), 'bundle');
    engines.push(e);
  }
  const m1 = heapTop(core);
  const stateSizes = new Set();
  engines.forEach((e, i) => {
    replayVisitor(e, idsFor(i + 2), i + 3);
  });
  const m2 = heapTop(core);
  for (const e of engines.slice(0, 20)) stateSizes.add(exportBytes(core, e).length);
  const memoryBytes = core.x.memory.buffer.byteLength;

  // What the runtime would keep under its `pz` localStorage key after a sync (index.mjs save()):
  // ids, the server's cursor for this profile id, the state.
  const record = JSON.stringify({ a: ids.anonymous, d: ids.device, u: ids.user, c: sync.versions,
    k: [ids.user], s: parsed });

  const comp = parsed.components[0];
  return {
    visitor: { visits: VISITS.length, ...counts, sessions: comp.sessions,
      days: Math.floor((counts.last_event_t - T0) / 864e5) + 1 },
    serialized: {
      raw: Buffer.byteLength(state),
      gzip: gzipBytes(state),
      brotli: brotliBytes(state),
      sync_request: Buffer.byteLength(JSON.stringify(sync)),
      local_storage_record: Buffer.byteLength(record),
      other_visitors_raw: [...stateSizes],
    },
    target: { max_bytes: TARGET_BYTES, met: Buffer.byteLength(state) <= TARGET_BYTES },
    breakdown: {
      top: breakdown(parsed),
      component: breakdown(comp),
      metrics: seriesBreakdown(comp.metrics),
      counts: seriesBreakdown(comp.counts),
      exposures: comp.exposures.map(([id, v], i) => ({ id,
        bytes: JSON.stringify([id, v]).length + (i ? 1 : 2) })),
    },
    in_memory: {
      probe_check: probeCheck,
      one_engine: { engine_with_bundle: h1 - h0, profile_replay: h2 - h1, export_result: h3 - h2 },
      engines: ENGINES,
      per_engine: { engine_with_bundle: Math.round((m1 - m0) / ENGINES),
        profile_replay: Math.round((m2 - m1) / ENGINES) },
      linear_memory_bytes: memoryBytes,
      heap_top: m2,
    },
    state,
  };
}

// ---- the server ----

const procStatus = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s) ?? [])[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), threads: Number(/^Threads:\s+(\d+)/m.exec(s)[1]) };
};
const dirBytes = (dir) => {
  const out = { total: 0, files: {} };
  for (const f of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, f));
    if (!st.isFile()) continue;
    out.files[f] = st.size;
    out.total += st.size;
  }
  return out;
};

/** Least-squares slope of rss over profiles (bytes per profile), null under 2 samples. */
function slope(points) {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.profiles, 0) / n;
  const my = points.reduce((a, p) => a + p.rss, 0) / n;
  const sxy = points.reduce((a, p) => a + (p.profiles - mx) * (p.rss - my), 0);
  const sxx = points.reduce((a, p) => a + (p.profiles - mx) ** 2, 0);
  return +(sxy / sxx).toFixed(1);
}

/** Pages, rows, payload and unused bytes of the profiles table (null without sqlite3). */
function profilesTable(db) {
  try {
    const q = "SELECT count(*), sum(pgsize), sum(payload), sum(unused), sum(ncell) FROM dbstat " +
      "WHERE name = 'profiles'; SELECT count(*) FROM profiles;";
    const [a, b] = execFileSync('sqlite3', ['-readonly', db, q], { encoding: 'utf8', timeout: 30000 })
      .trim().split('\n');
    const [pages, bytes, payload, unused] = a.split('|').map(Number);
    return { pages, bytes, payload, unused, rows: Number(b) };
  } catch {
    return null;
  }
}

async function serverPart(template) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-memory-bench-'));
  const dataDir = path.join(tmp, 'data');
  const server = spawn(SERVER, ['--bind', HOST, '--port', '0', '--data', dataDir, '--bundle', BUNDLE,
    '--rate-limit', '0'], { env: { ...process.env, PZ_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let exited = null;
  const exit = new Promise((resolve) => server.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  server.stderr.on('data', (b) => {
    err += b;
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const failures = [];
  let out = null;
  try {
    // The "listening" line is written at every log level.
    const deadline = Date.now() + 10000;
    let port = 0;
    while (!port) {
      if (exited) throw new Error(`pz-server exited at start: ${err.trim()}`);
      if (Date.now() > deadline) throw new Error('pz-server did not start listening within 10 s');
      const m = /"msg":"listening","port":(\d+)/.exec(err);
      if (m) port = Number(m[1]);
      else await new Promise((r) => setTimeout(r, 20));
    }
    const request = (method, route, body, key = WRITE_KEY) => new Promise((resolve, reject) => {
      const req = http.request({ host: HOST, port, path: route, method, agent,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const metric = async (name) => {
      const r = await request('GET', '/metrics');
      return Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(r.body) ?? [])[1] ?? NaN);
    };
    if ((await request('GET', '/healthz')).status !== 200) throw new Error('healthz');

    // Every profile: the template with its own ids (same lengths: same size).
    const hex = (i, w) => i.toString(16).padStart(w, '0');
    const idsOf = (i) => ({
      device: `d0000000-0000-4000-8000-${hex(i, 12)}`,
      anonymous: `a0000000-0000-4000-8000-${hex(i, 12)}`,
      user: `u-${hex(i, 8)}`,
    });
    const bodyOf = (i) => {
      const x = idsOf(i);
      return template.text.split(template.ids.device).join(x.device)
        .split(template.ids.anonymous).join(x.anonymous)
        .split(template.ids.user).join(x.user)
        .replace('"id":"PROFILE-ID"', `"id":"${x.user}"`);
    };
    const bodyBytes = Buffer.byteLength(bodyOf(0));

    const before = { ...procStatus(server.pid), disk: dirBytes(dataDir) };
    const curve = [];
    const step = Math.max(1, Math.floor(PROFILES / 10));
    let next = 0;
    let done = 0;
    const t0 = performance.now();
    const stopAt = t0 + WRITE_SECONDS * 1000;
    const worker = async () => {
      while (next < PROFILES && !failures.length && performance.now() < stopAt) {
        const i = next++;
        let r;
        try {
          r = await request('POST', '/v1/sync', bodyOf(i));
        } catch (e) {
          failures.push(`sync ${i}: ${e.message}`);
          return;
        }
        if (r.status !== 200) {
          failures.push(`sync ${i}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
          return;
        }
        if (++done % step === 0) {
          curve.push({ profiles: done, rss: procStatus(server.pid).rss });
          log(`memory_bench: ${done} profiles written`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - t0) / 1000;
    // Let the WAL checkpoint (every 200 ms) run, then read memory and disk.
    await new Promise((r) => setTimeout(r, 1000));
    const after = { ...procStatus(server.pid), disk: dirBytes(dataDir) };

    // Checks through the API.
    const syncs = await metric('pz_syncs_total');
    if (syncs !== done) failures.push(`pz_syncs_total is ${syncs}, ${done} syncs were answered`);
    for (const i of [0, Math.floor(done / 2), done - 1]) {
      if (i < 0) continue;
      const x = idsOf(i);
      const r = await request('GET', `/v1/profiles/${x.user}`, undefined, SECRET_KEY);
      if (r.status !== 200) {
        failures.push(`GET profile ${x.user}: HTTP ${r.status}`);
        continue;
      }
      const p = JSON.parse(r.body);
      const c = p.state.components?.[0];
      if (!c || c.device !== x.device || c.version !== template.version ||
        p.state.user_id?.[0] !== x.user) {
        failures.push(`profile ${x.user}: not the written state`);
      }
    }
    if (done < PROFILES && !failures.length) {
      log(`memory_bench: the writes stopped at ${WRITE_SECONDS} s: ${done} of ${PROFILES} profiles`);
    }
    out = {
      requested: PROFILES,
      profiles: done,
      complete: done === PROFILES,
      seconds: +seconds.toFixed(1),
      syncs_per_s: Math.round(done / seconds),
      concurrency: CONCURRENCY,
      sync_body_bytes: bodyBytes,
      before,
      after,
      rss_per_profile: done ? +((after.rss - before.rss) / done).toFixed(1) : null,
      disk_per_profile: done ? +((after.disk.total - before.disk.total) / done).toFixed(1) : null,
      db_per_profile: done ? +(((after.disk.files['pz.db'] ?? 0) - (before.disk.files['pz.db'] ?? 0)) /
        done).toFixed(1) : null,
      // The marginal cost: the least-squares slope of VmRSS over profiles written, on the samples
      // of the second half of the writes (RSS moves up and down as caches fill and are cleared).
      rss_per_profile_second_half: slope(curve.filter((c) => c.profiles >= done / 2)),
      curve,
    };
    return out;
  } finally {
    agent.destroy();
    if (!exited) {
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 15000);
      await exit;
      clearTimeout(timer);
    }
    if (exited.code !== 0) {
      failures.push(`pz-server exited with ${exited.code ?? exited.signal} after SIGTERM: ` +
        err.trim().split('\n').slice(-3).join('\n'));
    }
    if (out && fs.existsSync(dataDir)) {
      // After a clean stop (the store checkpoints and truncates its WAL): the database alone,
      // and how its profiles table fills its pages (sqlite3's dbstat, when the CLI is there).
      out.after_stop = { disk: dirBytes(dataDir),
        profiles_table: profilesTable(path.join(dataDir, 'pz.db')) };
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    if (failures.length) {
      for (const f of failures) console.error(`memory_bench: FAILED: ${f}`);
      process.exitCode = 1;
    }
  }
}

/** The typical visitor's first sync as a body template with placeholder ids. */
async function syncTemplate() {
  const core = await loadCore(fs.readFileSync(WASM));
  const e = core.engine();
  must(e.loadBundle(fs.readFileSync(BUNDLE, 'utf8')), 'bundle');
  // Placeholders of the lengths the server's profiles get (UUIDs, u- + 8 hex digits).
  const ids = { device: 'DDDDDDDD-DDDD-DDDD-DDDD-DDDDDDDDDDDD',
    anonymous: 'AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA', user: 'u-UUUUUUUU' };
  replayVisitor(e, ids, 2);
  const req = must(e.syncRequest(null), 'syncRequest');
  return { ids, version: req.delta.components[0].version,
    text: JSON.stringify({ id: 'PROFILE-ID', delta: req.delta, versions: req.versions }) };
}

// ---- run and print ----

const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ??
  os.cpus()[0]?.model ?? 'unknown CPU';
const result = {
  machine: `${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
    `${os.platform()} ${os.release()}, node ${process.version}`,
};
try {
  if (only.includes('profile')) {
    log('memory_bench: the typical visitor, and ' + ENGINES + ' engines in one wasm instance');
    result.profile = await profilePart();
  }
  if (only.includes('server')) {
    log(`memory_bench: pz-server, ${PROFILES} profiles`);
    result.server = await serverPart(await syncTemplate());
  }
} catch (e) {
  console.error(`memory_bench: FAILED: ${e?.stack ?? e}`);
  process.exit(1);
}

if (asJson) {
  console.log(JSON.stringify(result)); // profile.state: the exported state itself
} else {
  print(result);
}

function print(r) {
  const kb = (b) => (b >= 1024 * 1024 ? `${(b / 2 ** 20).toFixed(1)} MiB`
    : b >= 10240 ? `${(b / 1024).toFixed(1)} KiB` : `${Math.round(b)} B`);
  const rows = [];
  const row = (what, value, note = '') => rows.push([what, value, note]);
  if (r.profile) {
    const p = r.profile;
    const v = p.visitor;
    const s = p.serialized;
    row('typical visitor', `${v.visits} visits, ${v.days} days`, `${v.page_views} page views, ` +
      `${v.add_to_cart} add_to_cart, ${v.purchases} purchase, identify, consent; ${v.sessions} ` +
      `sessions, ${v.decisions} slot decisions, ${v.impressions} impressions`);
    row('serialized profile, raw', `${s.raw} B`, `target <= ${p.target.max_bytes} B: ` +
      `${p.target.met ? 'met' : 'NOT met'} (${(s.raw / p.target.max_bytes * 100).toFixed(0)} % of it)`);
    row('serialized profile, gzip -9', `${s.gzip} B`,
      `raw size of 20 more such visitors (own ids and event ids): ${s.other_visitors_raw.join(', ')} B`);
    row('serialized profile, brotli -q 11', `${s.brotli} B`);
    row('first sync request (delta+versions)', `${s.sync_request} B`);
    row('localStorage `pz` record', `${s.local_storage_record} B`, 'state + ids + cursor');
    const m = p.in_memory;
    row('wasm heap per engine + demo bundle', kb(m.per_engine.engine_with_bundle),
      `mean of ${m.engines} engines in one instance`);
    row('wasm heap per profile (the replay)', kb(m.per_engine.profile_replay),
      `mean of ${m.engines}; ${(m.per_engine.profile_replay / p.serialized.raw).toFixed(1)}x ` +
      'its serialized size');
    const o = m.one_engine;
    row('wasm heap, one engine, fresh instance', kb(o.engine_with_bundle + o.profile_replay +
      o.export_result), `engine + bundle ${kb(o.engine_with_bundle)}, replay ` +
      `${kb(o.profile_replay)}, export ${kb(o.export_result)} (as in a page)`);
    row('wasm linear memory', kb(m.linear_memory_bytes),
      `${m.engines + 1} engines; heap extent ${kb(m.heap_top)}`);
  }
  if (r.server) {
    const s = r.server;
    const n = s.profiles;
    row('server: profiles written', `${n}`, `${s.complete ? '' : `STOPPED at ${WRITE_SECONDS} s of ` +
      `${s.requested}; `}${s.seconds} s, ${s.syncs_per_s} syncs/s, ${s.concurrency} in flight, ` +
      `${s.sync_body_bytes} B per sync`);
    row('server VmRSS before / after', `${kb(s.before.rss)} / ${kb(s.after.rss)}`,
      `VmHWM ${kb(s.before.hwm)} / ${kb(s.after.hwm)}, ${s.after.threads} threads`);
    row('server RSS per profile', `${s.rss_per_profile} B`, '(after - before) / profiles; slope ' +
      `over the second half of the writes: ${s.rss_per_profile_second_half ?? '-'} B`);
    row('server data dir before / after', `${kb(s.before.disk.total)} / ${kb(s.after.disk.total)}`,
      Object.entries(s.after.disk.files).map(([f, b]) => `${f} ${kb(b)}`).join(', '));
    row('server disk per profile', `${s.disk_per_profile} B`, `pz.db alone: ${s.db_per_profile} B`);
    if (s.after_stop) {
      const t = s.after_stop.profiles_table;
      row('server data dir after SIGTERM', kb(s.after_stop.disk.total),
        Object.entries(s.after_stop.disk.files).map(([f, b]) => `${f} ${kb(b)}`).join(', '));
      if (t) {
        row('profiles table (sqlite dbstat)', `${(t.bytes / t.rows).toFixed(0)} B/row`,
          `${t.pages} pages of 4 KiB for ${t.rows} rows; payload ${(t.payload / t.rows).toFixed(0)} ` +
          `B/row, ${(t.unused / t.bytes * 100).toFixed(0)} % of the pages unused`);
      }
    }
  }
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  console.log(`machine: ${r.machine}`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`.trimEnd());
  if (r.profile) {
    const p = r.profile;
    const b = p.breakdown;
    const list = (o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`exported state by top-level field (B): ${list(b.top)}`);
    console.log(`components[0] by field (B): ${list(b.component)}`);
    const ser = (xs) => xs.map((x) => `${x.id} ${x.bytes} (${x.hourly}h+${x.daily}d)`).join(', ');
    console.log(`metric series (B, hourly+daily buckets): ${ser(b.metrics)}`);
    console.log(`count series (B): ${ser(b.counts)}`);
    console.log(`exposures (B): ${b.exposures.map((x) => `${x.id} ${x.bytes}`).join(', ')}`);
    console.log('heap probe check: a 100000 B block moved it by ' +
      `${p.in_memory.probe_check.block_100000_moves} B`);
  }
  if (r.server) {
    console.log('server VmRSS along the writes: ' + r.server.curve.map((c) =>
      `${c.profiles}: ${kb(c.rss)}`).join(', '));
  }
}
