// Shared by the real-browser tests (tests/e2e/*.test.mjs) and bench/page_bench.mjs: the demo shop
// served by a real pz-server (a fresh data directory, --static demo-site/dist, the demo bundle,
// a free port of 127.0.0.1), the edge worker in real workerd in front of it (origin and server =
// that pz-server, write key pk_demo), and Debian's chromium driven by playwright-core.
//
// It builds nothing: build/pz-server, build-wasm/pz_core.wasm, js/dist/ and demo-site/dist/ must
// exist (requireBuilds() says which command makes a missing one). The browser is always
// /usr/bin/chromium (env CHROMIUM to override), never one downloaded by playwright, with the
// machine's flags; each launch gets a fresh --user-data-dir in a temporary directory that
// playwright creates and removes, and every browser context has fresh storage of its own.
//
//   node --test tests/e2e/
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { startServer, PZ_SERVER, DEMO_BUNDLE_FILE } from '../server/harness.mjs';
import { startWorkerd, WORKERD, ROOT } from '../edge/harness.mjs';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const { chromium } = await import('playwright-core');

export { ROOT };
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const DIST = path.join(ROOT, 'demo-site', 'dist');
/** Where tests put what they produce for people to look at (gitignored). */
export const ARTIFACTS = path.join(ROOT, 'tests', 'e2e', 'artifacts');
/** The flags of the machine rules (playwright adds --headless and a fresh --user-data-dir). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The consent the banner's "Accept all" writes. */
export const ACCEPT_ALL = { analytics: true, personalization: true, marketing: true };
/** The stored keys of the runtime (js/src/runtime/index.mjs, storageKey "pz"). */
export const PZ_KEYS = ['pz', 'pz.b', 'pz.q'];
/** Texts of the bundle (demo-site/bundle.json). */
export const TEXT = {
  heroDefault: 'Welcome',
  heroVip: '10% off today',
  barDefault: 'Free shipping over $50 and free 60-day returns.',
  barWelcome: 'New here? 10% off your first order with code HELLO10.',
  barHighIntent: "Join Runner's Club today and this order ships free, next day.",
};
/** Paths of our code's requests: runtime files, API, edge routes (not pages, not shop assets). */
export const OURS = /^\/(pz|v1|assets\/pz)\//;

const shortPath = (f) => (f.startsWith(ROOT + path.sep) ? path.relative(ROOT, f) : f);

/** Throws naming the command that builds whatever the tests need and is missing. */
export function requireBuilds() {
  const need = [
    [PZ_SERVER, 'cmake -S . -B build && cmake --build build --target pz-server'],
    [path.join(ROOT, 'build-wasm', 'pz_core.wasm'), 'scripts/build-wasm.sh'],
    [path.join(ROOT, 'js', 'dist', 'pz.js'), 'node scripts/build-js.mjs'],
    [path.join(DIST, 'index.html'), 'node scripts/build-js.mjs && node demo-site/build.mjs'],
    [path.join(DIST, 'assets', 'pz', 'pz_core.wasm'), 'node demo-site/build.mjs'],
    [WORKERD, 'npm ci (the pinned @cloudflare/workerd-linux-64)'],
    [CHROMIUM, 'apt-get install chromium (scripts/setup.sh does)'],
  ];
  const missing = need.filter(([f]) => !fs.existsSync(f));
  if (missing.length) {
    throw new Error(
      'the e2e tests build nothing; missing:\n' +
        missing.map(([f, cmd]) => `  ${shortPath(f)}: run ${cmd}`).join('\n'),
    );
  }
  // A demo-site/dist older than js/dist serves a stale runtime.
  const a = fs.statSync(path.join(ROOT, 'js', 'dist', 'pz.js')).mtimeMs;
  const b = fs.statSync(path.join(DIST, 'assets', 'pz', 'pz.js')).mtimeMs;
  if (b < a) throw new Error('demo-site/dist is older than js/dist: run node demo-site/build.mjs');
}

/**
 * Starts the stack: pz-server serving the shop and the API (`bundle`: a bundle file, default
 * the demo's), workerd with the edge worker in front of it (`edge: false`: none). Resolves
 * {server, edge, serverUrl, edgeUrl, stop()}.
 */
export async function startStack({ edge = true, bundle = DEMO_BUNDLE_FILE } = {}) {
  requireBuilds();
  const server = await startServer({ bundle, args: ['--static', DIST] });
  let worker = null;
  try {
    if (edge) {
      worker = await startWorkerd({
        bindings: { PZ_ORIGIN: server.url, PZ_SERVER: server.url, PZ_WRITE_KEY: 'pk_demo' },
      });
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  return {
    server,
    edge: worker,
    serverUrl: server.url,
    edgeUrl: worker && worker.url,
    async stop() {
      if (worker) await worker.stop();
      await server.stop();
      fs.rmSync(server.data, { recursive: true, force: true });
    },
  };
}

/** Launches Debian's chromium headless with the machine's flags. */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30000 });
}

/**
 * A new browser context (a fresh profile: no cookies, no storage) on `baseURL`, with one page,
 * and every request of the context recorded: {url, method, type, body, headers: Promise of all
 * headers (cookies included)}. `init`: init scripts (functions or source) run before the page's
 * own scripts on every navigation.
 */
export async function visitor(browser, baseURL, { init = [], viewport } = {}) {
  viewport = viewport || { width: 1200, height: 900 };
  const context = await browser.newContext({ baseURL, viewport });
  for (const s of init) await context.addInitScript(s);
  const requests = [];
  context.on('request', (r) => {
    const rec = {
      url: r.url(),
      method: r.method(),
      type: r.resourceType(),
      body: r.postData(),
      headers: r.allHeaders().catch(() => r.headers()),
    };
    requests.push(rec);
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return { context, page, requests, close: () => context.close() };
}

/** The context's cookies as {name: value}. */
export async function cookieMap(context) {
  return Object.fromEntries((await context.cookies()).map((c) => [c.name, c.value]));
}

/** localStorage of the page's origin as {key: value}. */
export const localStore = (page) =>
  page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
/** sessionStorage of the page's origin as {key: value}. */
export const sessionStore = (page) =>
  page.evaluate(() => Object.fromEntries(Object.entries(sessionStorage)));
/** Names of the origin's IndexedDB databases. */
export const idbNames = (page) =>
  page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
/** The names of the Cache Storage caches and the service workers of the origin. */
export const otherStores = (page) =>
  page.evaluate(async () => ({
    caches: await caches.keys(),
    serviceWorkers: (await navigator.serviceWorker.getRegistrations()).length,
  }));

/** Resolves once the runtime is window.pz (not the loader stub) and every earlier call is done. */
export async function pzReady(page) {
  await page.waitForFunction(() => window.pz && typeof window.pz.flush === 'function');
  await page.evaluate(() => window.pz.flush());
}
/** pz.profile() on the page (after every earlier call). */
export async function profile(page) {
  await pzReady(page);
  return page.evaluate(() => window.pz.profile());
}

/** The text of a slot's field (default "title"), whitespace collapsed. */
export const slotText = (page, slot, field = 'title') =>
  page
    .locator(`[data-pz-slot="${slot}"] [data-pz-field="${field}"]`)
    .first()
    .evaluate((e) => e.textContent.replace(/\s+/g, ' ').trim());

/** Waits (up to `timeout` ms) until a slot's field shows `text` and the slot is visible. */
export async function expectSlot(page, slot, text, field = 'title', timeout = 10000) {
  await page.waitForFunction(
    ([slot, field, text]) => {
      const el = document.querySelector(`[data-pz-slot="${slot}"]`);
      const f = el && el.querySelector(`[data-pz-field="${field}"]`);
      return (
        f &&
        f.textContent.replace(/\s+/g, ' ').trim() === text &&
        getComputedStyle(el).visibility === 'visible'
      );
    },
    [slot, field, text],
    { timeout },
  ).catch(async () => {
    const now = await slotText(page, slot, field).catch(() => '(no slot)');
    const [want, got] = [text, now].map((x) => JSON.stringify(x));
    assert.fail(`${slot}.${field} on ${page.url()}: expected ${want}, got ${got}`);
  });
}

/** Clicks one of the consent banner's buttons: accept | reject | customise | save. */
export async function bannerChoice(page, choice) {
  await page.locator(`#consent [data-choice="${choice}"]`).click();
}

/** Follows a link of the main navigation by its name (a real click), waits for the page. */
export async function navClick(page, name, urlGlob) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  if (urlGlob) await page.waitForURL(urlGlob);
  await pzReady(page);
}

/**
 * Views the Runner's Club page `n` times through the real navigation link, waiting each time
 * until the runtime has counted the view.
 */
export async function viewPricing(page, n = 3) {
  for (let i = 0; i < n; i++) await navClick(page, "Runner's Club", '**/pricing.html');
}

/**
 * The real "Add to cart" button: a product page's add form, or on the pricing page the plan
 * button of `sku` (default the monthly plan).
 */
export async function addToCart(page, sku = 'club-monthly') {
  const form = page.locator('[data-add-form] button[type="submit"]');
  if (await form.count()) await form.click();
  else await page.locator(`[data-add-sku="${sku}"]`).click();
  await page.locator('[data-add-status]').filter({ hasText: 'Added' }).waitFor();
}

/** Signs in on the account page with the demo form (the shop identifies u-<fnv1a(email)>). */
export async function signIn(page, email) {
  await page.goto('/account.html');
  await page.locator('[data-signin-form] input[name="email"]').fill(email);
  await page.locator('[data-signin-form] input[name="password"]').fill('correct horse');
  await page.locator('[data-signin-form] button[type="submit"]').click();
  await page.locator('[data-signed-in]').waitFor({ state: 'visible' });
}

/** Requests to our endpoints (runtime and edge API, runtime files), with resolved headers. */
export async function ourRequests(requests) {
  const out = [];
  for (const r of requests) {
    if (OURS.test(new URL(r.url).pathname)) out.push({ ...r, headers: await r.headers });
  }
  return out;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` (async) until truthy; fails with `what` after `ms`. */
export async function until(cond, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) assert.fail('timed out waiting for ' + what);
    await sleep(25);
  }
}
