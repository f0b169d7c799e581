// The demo shop in a real chromium, through its real banner, links, buttons and forms: nothing
// about the visitor is stored or sent before consent (snippet alone and through the edge worker);
// after "Accept all" the high-intent offer appears within the page view of the add to cart,
// survives a reload, and a withdrawal (Privacy settings) erases the profile everywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let stack, browser;
before(async () => {
  stack = await h.startStack();
  browser = await h.launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const SECRET = { headers: { authorization: 'Bearer sk_demo' } };

/** Counters of pz-server's /metrics for the routes that carry visitor data. */
async function dataRoutes() {
  const text = await (await stack.server.fetch('/metrics')).text();
  const hits = {};
  for (const m of text.matchAll(/^pz_http_requests_total\{([^}]*)\} (\d+)/gm)) {
    const route = /route="([^"]*)"/.exec(m[1])?.[1] || '';
    if (/collect|sync|identify|decide|profiles/.test(route)) {
      hits[route] = (hits[route] || 0) + Number(m[2]);
    }
  }
  return hits;
}

/** What pz could have stored on the page's origin (stride.*: the shop's own cart and member). */
async function ourStorage(v) {
  const ls = Object.keys(await h.localStore(v.page));
  return {
    cookies: await h.cookieMap(v.context),
    localStorage: ls.filter((k) => !k.startsWith('stride.')),
    sessionStorage: Object.keys(await h.sessionStore(v.page)),
    indexedDB: await h.idbNames(v.page),
    ...(await h.otherStores(v.page)),
  };
}
const NOTHING = {
  cookies: {},
  localStorage: [],
  sessionStorage: [],
  indexedDB: [],
  caches: [],
  serviceWorkers: 0,
};
const posted = (requests) =>
  requests.filter((r) => r.method !== 'GET').map((r) => r.method + ' ' + r.url);

/** Opens a product page from the real navigation: Running shoes → the Trail Runner card. */
async function openTrailRunner(page) {
  await h.navClick(page, 'Running shoes', '**/shop/running-shoes/');
  await page.locator('main a.card[href$="trail-runner.html"]').first().click();
  await page.waitForURL('**/trail-runner.html');
  await h.pzReady(page);
}

for (const via of ['snippet', 'edge']) {
  test(`before consent (${via}): nothing stored or sent about the visitor; context-only decisions`, async () => {
    const base = via === 'edge' ? stack.edgeUrl : stack.serverUrl;
    const before = await dataRoutes();
    const v = await h.visitor(browser, base);
    const { page } = v;
    try {
      await page.goto('/');
      await h.pzReady(page);
      assert.ok(await page.locator('#consent').isVisible(), 'the banner asks');
      await h.expectSlot(page, 'hero', h.TEXT.heroDefault);
      await h.expectSlot(page, 'offer_bar', h.TEXT.barDefault);
      // Browse without answering the banner: pricing three times, a product, adds to cart.
      await h.viewPricing(page, 3);
      await h.addToCart(page, 'club-annual');
      await openTrailRunner(page);
      await h.addToCart(page);
      await page.goto('/');
      await h.pzReady(page);
      await h.expectSlot(page, 'hero', h.TEXT.heroDefault);
      await h.expectSlot(page, 'offer_bar', h.TEXT.barDefault);
      const decisions = await page.evaluate(() => window.pz.decide());
      assert.deepEqual(
        decisions.map((d) => [d.slot, d.action]),
        [
          ['offer_bar', null],
          ['hero', null],
        ],
        'context-only decisions: the defaults',
      );
      const p = await h.profile(page);
      assert.equal(p.consent.personalization, false);
      assert.equal(p.consent.given, false);
      assert.deepEqual(
        [p.first_seen, p.sessions, p.metrics.pricing_views.total, p.counts.add_to_cart.total],
        [null, 0, 0, 0],
        'nothing kept, not even in memory',
      );

      assert.deepEqual(await ourStorage(v), NOTHING, 'nothing stored by pz');
      assert.ok((await h.localStore(page))['stride.cart'], "the shop's cart works without consent");
      const all = await Promise.all(
        v.requests.map(async (r) => ({ ...r, headers: await r.headers })),
      );
      assert.deepEqual(posted(all), [], 'nothing posted (no collect, sync, identify, beacon)');
      const withCookie = all.filter((r) => r.headers.cookie).map((r) => r.url);
      assert.deepEqual(withCookie, [], 'no request carries a cookie');
      const ours = await h.ourRequests(v.requests);
      const paths = [...new Set(ours.map((r) => r.url.slice(base.length)))].sort();
      assert.deepEqual(paths, [
        '/assets/pz/pz.js',
        '/assets/pz/pz_core.wasm',
        '/v1/bundle?key=pk_demo',
      ]);
      assert.ok(ours.every((r) => !r.url.includes(p.anonymous_id)), 'no id in any URL');
      assert.deepEqual(await dataRoutes(), before, 'pz-server got no collect/sync/identify/decide');

      // "Reject all": the shop stores the choice (its pz_consent cookie); pz still keeps nothing.
      await h.bannerChoice(page, 'reject');
      await h.pzReady(page);
      await h.viewPricing(page, 1);
      await h.addToCart(page);
      await h.pzReady(page);
      const s = await ourStorage(v);
      assert.deepEqual(Object.keys(s.cookies), ['pz_consent']);
      assert.deepEqual(JSON.parse(decodeURIComponent(s.cookies.pz_consent)), {
        analytics: false,
        personalization: false,
        marketing: false,
      });
      assert.deepEqual({ ...s, cookies: {} }, NOTHING);
      assert.deepEqual((await h.profile(page)).segments, []);
      assert.deepEqual(posted(v.requests), [], 'nothing posted after reject');
      assert.deepEqual(await dataRoutes(), before);
    } finally {
      await v.close();
    }
  });
}

test('after accept: the offer in the page view of the add to cart, after a reload; withdrawal erases', async () => {
  const v = await h.visitor(browser, stack.serverUrl);
  const { page, context } = v;
  try {
    await page.goto('/');
    await h.pzReady(page);
    await h.bannerChoice(page, 'accept');
    await h.pzReady(page);
    const p0 = await h.profile(page);
    assert.equal(p0.consent.personalization, true);
    const cookies = await h.cookieMap(context);
    assert.equal(cookies.pz_id, p0.anonymous_id, 'the id cookie for an edge worker, only now');
    assert.deepEqual(Object.keys(await h.localStore(page)).sort(), ['pz', 'pz.b']);

    await h.viewPricing(page, 3);
    await openTrailRunner(page);
    await h.expectSlot(page, 'offer_bar', h.TEXT.barWelcome);
    // The product page has the offer bar and recommendations (the hero is on the home page
    // only): the add to cart must switch the bar to the high-intent offer in this page view.
    let navigations = 0;
    page.on('framenavigated', (f) => f === page.mainFrame() && navigations++);
    await page.evaluate(() => (window.__sameView = 'before add'));
    await h.addToCart(page);
    await h.expectSlot(page, 'offer_bar', h.TEXT.barHighIntent);
    assert.equal(await page.evaluate(() => window.__sameView), 'before add', 'same document');
    assert.equal(navigations, 0, 'no navigation');
    assert.ok((await h.profile(page)).segments.includes('high_intent'));
    const link = await page.locator('[data-pz-slot="offer_bar"]').getAttribute('href');
    assert.equal(link, '/pricing.html', "the offer's link");

    // The home page's hero shows the high-intent offer, and still after a reload.
    await page.locator('a.logo').click();
    await page.waitForURL(stack.serverUrl + '/');
    await h.expectSlot(page, 'hero', h.TEXT.heroVip);
    await page.reload();
    await h.expectSlot(page, 'hero', h.TEXT.heroVip);
    await h.expectSlot(page, 'offer_bar', h.TEXT.barHighIntent);
    const p1 = await h.profile(page);
    assert.ok(p1.segments.includes('high_intent'), 'persisted');
    assert.equal(p1.anonymous_id, p0.anonymous_id);
    const serverCopy = () => stack.server.fetch('/v1/profiles/' + p0.anonymous_id, SECRET);
    await h.until(async () => (await serverCopy()).ok, 'the synced profile on the server');

    // Withdraw: Privacy settings → personalization off → Save my choices.
    await page.getByRole('button', { name: 'Privacy settings' }).click();
    const form = page.locator('#consent [data-consent-form]');
    await form.waitFor({ state: 'visible' });
    assert.equal(await form.locator('input[name="personalization"]').isChecked(), true);
    await form.locator('input[name="personalization"]').uncheck();
    await h.bannerChoice(page, 'save');
    await h.pzReady(page);
    // The slots go back to their defaults at once, in this page view.
    await h.expectSlot(page, 'hero', h.TEXT.heroDefault);
    await h.expectSlot(page, 'offer_bar', h.TEXT.barDefault);
    const ls = await h.localStore(page);
    assert.deepEqual(h.PZ_KEYS.filter((k) => k in ls), [], 'pz, pz.b, pz.q removed');
    const c2 = await h.cookieMap(context);
    assert.equal(c2.pz_id, undefined, 'pz_id cookie removed');
    assert.deepEqual(JSON.parse(decodeURIComponent(c2.pz_consent)).personalization, false);
    const p2 = await h.profile(page);
    assert.equal(p2.consent.personalization, false);
    assert.notEqual(p2.anonymous_id, p0.anonymous_id, 'a new anonymous id');
    assert.deepEqual(p2.segments, []);
    assert.equal(p2.metrics.pricing_views.total, 0);
    assert.equal(p2.counts.add_to_cart.total, 0);
    assert.equal(p2.first_seen, null);
    // The withdrawal reached the server as the old id: its copy is erased too.
    await h.until(async () => {
      const r = await serverCopy();
      const j = r.ok ? await r.json() : null;
      return j && j.state.erased_at != null;
    }, 'the server-side erasure');
    // A reload keeps it erased.
    await page.reload();
    await h.expectSlot(page, 'hero', h.TEXT.heroDefault);
    const ls3 = await h.localStore(page);
    assert.deepEqual(h.PZ_KEYS.filter((k) => k in ls3), []);
    const p3 = await h.profile(page);
    assert.deepEqual([p3.segments, p3.metrics.pricing_views.total], [[], 0]);
    assert.equal((await h.cookieMap(context)).pz_id, undefined);
  } finally {
    await v.close();
  }
});

// The edge worker paints the offer bar; the runtime honours its marker for the first decision
// only, so the add to cart's decision switches it in the same page view (a regression test: the
// marker used to hold the slot for the whole view).
test(
  'through the edge worker: the add to cart switches the edge-painted offer bar in the same view',
  async () => {
    const v = await h.visitor(browser, stack.edgeUrl);
    const { page } = v;
    try {
      await page.goto('/');
      await h.pzReady(page);
      await h.bannerChoice(page, 'accept');
      await h.viewPricing(page, 3);
      await openTrailRunner(page);
      await h.expectSlot(page, 'offer_bar', h.TEXT.barWelcome);
      // The edge worker painted it (the runtime drops the marker once it has honoured it).
      const html = await (await page.request.get(page.url())).text();
      assert.ok(html.includes('data-pz-decided="bar_welcome"'), 'painted by the edge worker');
      await h.addToCart(page);
      await h.pzReady(page);
      assert.ok((await h.profile(page)).segments.includes('high_intent'));
      await h.expectSlot(page, 'offer_bar', h.TEXT.barHighIntent, 'title', 3000);
    } finally {
      await v.close();
    }
  },
);
