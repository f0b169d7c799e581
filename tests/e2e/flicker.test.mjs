// No flicker, in a real chromium, for a consenting visitor in the high-intent segment:
// - through the edge worker the hero arrives in the HTML already personalized: the default is
//   never in the DOM, the first frame that shows the slot shows the offer, and nothing shifts;
// - with the snippet alone (pz-server's own pages) the slot is hidden until the runtime has
//   decided: the default is in the DOM but never visible, the first visible frame shows the
//   offer, and it never changes while visible.
// What the slots show is recorded from the first parse by tests/e2e/recorder.mjs (a
// MutationObserver, every animation frame, layout-shift entries).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import fs from 'node:fs';
import { DEMO_BUNDLE_FILE } from '../server/harness.mjs';
import { recorder } from './recorder.mjs';

let stack, browser;
before(async () => {
  stack = await h.startStack();
  browser = await h.launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Accept, Runner's Club three times, a plan into the cart, synced to pz-server. */
async function highIntent(page) {
  await page.goto('/');
  await h.bannerChoice(page, 'accept');
  await h.viewPricing(page, 3);
  await h.addToCart(page, 'club-annual');
  await h.pzReady(page);
  assert.ok((await h.profile(page)).segments.includes('high_intent'));
  assert.equal(await page.evaluate(() => window.pz.sync()), true);
}

/** Loads `url` and returns what the recorder saw once the runtime is done and frames settled. */
async function record(page, url) {
  const res = await page.goto(url);
  await h.pzReady(page);
  await page.evaluate(
    () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))),
  );
  await h.sleep(300); // past the loader's anti-flicker timeout
  const rec = await page.evaluate(() => window.__pzRec);
  return { rec, html: await res.text() };
}

/**
 * The recorded states of a slot. A state with an empty title is the slot's start tag parsed
 * before its children arrived (the edge worker streams): not content, so left out.
 */
const slotLog = (rec, slot) => rec.log.filter((e) => e.slot === slot && e.text !== '');
const shiftTotal = (rec, onlySlots) =>
  rec.shifts
    .filter((s) => !s.hadRecentInput && (!onlySlots || s.sources.some((x) => x.inSlot)))
    .reduce((a, s) => a + s.value, 0);

const texts = (log) => [...new Set(log.map((e) => e.text))];
const report = (t, rec) =>
  t.diagnostic(
    `layout shifts: ${JSON.stringify(rec.shifts)}; paints ${JSON.stringify(rec.paints)}; ` +
      `hero first shown at ${rec.firstShown.hero?.t.toFixed(1)} ms`,
  );
const HERO_VIP = /data-pz-slot="hero"[^>]*data-pz-decided="vip_offer"/;

test('through the edge worker: the personalized hero in the first paint, no swap, no shift', async (t) => {
  const v = await h.visitor(browser, stack.edgeUrl, { init: [recorder] });
  try {
    await highIntent(v.page);
    // A URL the edge worker has not decided yet (its decide cache is per page URL).
    const { rec, html } = await record(v.page, '/?first-paint=edge');
    assert.match(html, HERO_VIP, 'the edge worker painted the offer into the HTML');
    const hero = slotLog(rec, 'hero');
    t.diagnostic('hero: ' + JSON.stringify(hero));
    assert.ok(hero.length >= 1);
    assert.deepEqual(texts(hero), [h.TEXT.heroVip], 'the default never in the DOM');
    // Painted by the edge worker (the runtime drops the marker once it has honoured it).
    assert.equal(hero[0].decided, 'vip_offer');
    assert.ok(hero.every((e) => e.visible), 'never hidden');
    assert.equal(rec.firstShown.hero?.text, h.TEXT.heroVip, 'the first frame with the hero');
    const bar = slotLog(rec, 'offer_bar');
    assert.deepEqual(texts(bar), [h.TEXT.barHighIntent]);
    report(t, rec);
    assert.equal(shiftTotal(rec, true), 0, 'no layout shift from slots');
    assert.equal(shiftTotal(rec, false), 0, 'no layout shift at all');
  } finally {
    await v.close();
  }
});

test('snippet alone: the slot is hidden until decided, never the default and then a swap', async (t) => {
  const v = await h.visitor(browser, stack.serverUrl, { init: [recorder] });
  try {
    await highIntent(v.page);
    const { rec, html } = await record(v.page, '/?first-paint=snippet');
    assert.ok(!html.includes('data-pz-decided="'), 'no edge worker here');
    const hero = slotLog(rec, 'hero');
    t.diagnostic('hero: ' + JSON.stringify(hero));
    const shown = hero.filter((e) => e.visible);
    assert.ok(shown.length >= 1, 'shown at all');
    assert.deepEqual(texts(shown), [h.TEXT.heroVip], 'only the offer is ever visible');
    const defaults = hero.filter((e) => e.text === h.TEXT.heroDefault);
    assert.ok(defaults.every((e) => !e.visible), 'the default only while hidden');
    assert.equal(rec.firstShown.hero?.text, h.TEXT.heroVip);
    const bar = slotLog(rec, 'offer_bar').filter((e) => e.visible);
    assert.deepEqual(texts(bar), [h.TEXT.barHighIntent]);
    report(t, rec);
    assert.equal(shiftTotal(rec, true), 0, 'no layout shift from slots');
  } finally {
    await v.close();
  }
});

// The demo's inline init asks for the wasm and the bundle itself (wasm: fetch(...),
// bundleResponse: fetch(...)), so both are on the way while pz.js still loads, and the runtime
// uses those responses instead of asking again. pz.js is held back here: whatever was asked for
// before it arrived was asked for by the page.
test('the page asks for the wasm and the bundle while pz.js loads, and nothing asks again', async () => {
  const v = await h.visitor(browser, stack.serverUrl);
  try {
    const ours = (from) =>
      v.requests
        .slice(from)
        .map((r) => new URL(r.url).pathname)
        .filter((p) => p === '/assets/pz/pz_core.wasm' || p === '/v1/bundle');
    let beforeRuntime = null;
    await v.page.route('**/assets/pz/pz.js', async (route) => {
      await h.sleep(500);
      beforeRuntime = ours(0).sort();
      await route.continue();
    });
    await v.page.goto('/?early=1');
    await h.pzReady(v.page);
    assert.deepEqual(beforeRuntime, ['/assets/pz/pz_core.wasm', '/v1/bundle']);
    assert.deepEqual(ours(0).sort(), ['/assets/pz/pz_core.wasm', '/v1/bundle'], 'once each');
    const version = JSON.parse(fs.readFileSync(DEMO_BUNDLE_FILE, 'utf8')).version;
    assert.equal((await h.profile(v.page)).bundle, version, 'the runtime runs on that bundle');
  } finally {
    await v.close();
  }
});

// The control: the recorder does see a swap when there is one. The runtime held back past the
// loader's anti-flicker timeout (300 ms) means the default is shown, then replaced.
test('control: a runtime later than the anti-flicker timeout swaps, and the recorder sees it', async (t) => {
  const v = await h.visitor(browser, stack.serverUrl, { init: [recorder] });
  try {
    await highIntent(v.page);
    await v.page.route('**/assets/pz/pz.js', async (route) => {
      await h.sleep(800);
      await route.continue();
    });
    const { rec } = await record(v.page, '/?first-paint=slow');
    const shown = slotLog(rec, 'hero').filter((e) => e.visible);
    t.diagnostic('hero: ' + JSON.stringify(slotLog(rec, 'hero')));
    const seq = shown.map((e) => e.text);
    assert.deepEqual(seq, [h.TEXT.heroDefault, h.TEXT.heroVip], 'default, then the offer');
    assert.equal(rec.firstShown.hero?.text, h.TEXT.heroDefault);
    t.diagnostic(`layout shifts: ${JSON.stringify(rec.shifts)}`);
  } finally {
    await v.close();
  }
});
