// A screenshot of the demo shop's home page with the debug panel (?pz_debug=1) after some
// browsing, saved for people to look at: tests/e2e/artifacts/demo-debug.png (gitignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './harness.mjs';

let stack, browser;
before(async () => {
  stack = await h.startStack({ edge: false });
  browser = await h.launchBrowser();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('the home page with the debug panel, after browsing, as a PNG artifact', async (t) => {
  const v = await h.visitor(browser, stack.serverUrl, { viewport: { width: 1280, height: 1000 } });
  const { page } = v;
  try {
    await page.goto('/');
    await h.bannerChoice(page, 'accept');
    await h.viewPricing(page, 3);
    await h.addToCart(page, 'club-annual');
    await page.goto('/?pz_debug=1');
    await h.expectSlot(page, 'hero', h.TEXT.heroVip);
    const panel = page.locator('#pzd');
    await panel.waitFor({ state: 'visible' });
    // The panel's why comes from pz-server (POST /v1/decide with why): wait for the answer.
    await page.waitForFunction(() => {
      const el = document.getElementById('pzd');
      const text = el ? el.textContent : '';
      return text.includes('high_intent') && !text.includes('asking pz-server');
    });
    assert.match(await panel.textContent(), /vip_offer/);
    fs.mkdirSync(h.ARTIFACTS, { recursive: true });
    const file = path.join(h.ARTIFACTS, 'demo-debug.png');
    fs.rmSync(file, { force: true });
    await page.screenshot({ path: file, fullPage: false });
    const png = fs.readFileSync(file);
    assert.ok(png.length > 1000, 'a nonzero PNG');
    const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    assert.deepEqual([...png.subarray(0, 8)], signature, 'PNG signature');
    assert.equal(png.readUInt32BE(16), 1280, 'width');
    t.diagnostic(`screenshot: ${path.relative(h.ROOT, file)} (${png.length} bytes)`);
  } finally {
    await v.close();
  }
});
