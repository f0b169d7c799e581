// Cross-device in a real chromium: two browser contexts (two devices: separate cookies and
// storage) accept the banner; the first builds high intent and signs in with the demo form; the
// second signs in as the same member and, after its sync, is in the first one's segments and
// shows its offer.
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

const EMAIL = 'runner@example.com';

test('two devices that sign in as one member share segments after sync', async () => {
  const one = await h.visitor(browser, stack.serverUrl);
  const two = await h.visitor(browser, stack.serverUrl);
  try {
    // Device 1: accept, Runner's Club three times, a plan into the cart, sign in.
    await one.page.goto('/');
    await h.bannerChoice(one.page, 'accept');
    await h.viewPricing(one.page, 3);
    await h.addToCart(one.page, 'club-annual');
    await h.expectSlot(one.page, 'offer_bar', h.TEXT.barHighIntent);
    await h.signIn(one.page, EMAIL);
    const member = (await one.page.locator('[data-member-id]').textContent()).trim();
    assert.match(member, /^u-[0-9a-f]{8}$/);
    const userOf = async (page) => (await h.profile(page)).user_id;
    await h.until(async () => (await userOf(one.page)) === member, 'identify on device 1');
    assert.equal(await one.page.evaluate(() => window.pz.sync()), true, 'device 1 synced');
    const p1 = await h.profile(one.page);
    assert.ok(p1.segments.includes('high_intent'));

    // Device 2: a fresh browser profile, accept, sign in as the same member.
    await two.page.goto('/');
    await h.bannerChoice(two.page, 'accept');
    await h.pzReady(two.page);
    const before = await h.profile(two.page);
    assert.ok(!before.segments.includes('high_intent'));
    assert.notEqual(before.anonymous_id, p1.anonymous_id, 'another device, another anonymous id');
    await h.signIn(two.page, EMAIL);
    assert.equal((await two.page.locator('[data-member-id]').textContent()).trim(), member);
    // identify links the anonymous id and syncs as the member; pz.sync() syncs (again) and
    // resolves true once the server's answer is merged.
    await h.until(async () => (await userOf(two.page)) === member, 'identify on device 2');
    assert.equal(await two.page.evaluate(() => window.pz.sync()), true, 'device 2 synced');
    const p2 = await h.profile(two.page);
    assert.deepEqual([...p2.segments].sort(), [...p1.segments].sort(), "device 1's segments");
    assert.ok(p2.segments.includes('high_intent'));
    assert.equal(p2.metrics.pricing_views.total, 3, "device 1's pricing views");
    assert.equal(p2.counts.add_to_cart.total, 1, "device 1's add to cart");
    // And the home page of device 2 shows device 1's offer.
    await two.page.goto('/');
    await h.expectSlot(two.page, 'hero', h.TEXT.heroVip);
    const syncs = (await h.ourRequests(two.requests)).filter((r) => r.url.endsWith('/v1/sync'));
    assert.ok(syncs.some((r) => JSON.parse(r.body).id === member), 'device 2 synced as the member');
  } finally {
    await one.close();
    await two.close();
  }
});
