// Signed bundles in a real chromium (Debian's; WebCrypto Ed25519 is unflagged from Chrome 137):
// the script-tag runtime (js/dist/pz.js) with bundlePublicKeys renders a bundle whose Pz-Signature
// verifies, refuses a tampered one (the markup stays, the error is reported), and re-verifies the
// stored copy on the next page. A tiny node server on 127.0.0.1 (a secure context) serves the
// page, the runtime, the wasm and the bundle.
//
//   node --test tests/e2e/signed.test.mjs   (needs js/dist from node scripts/build-js.mjs)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as h from './harness.mjs';
import { ed25519Key } from '../js/harness.mjs';

const DIST = path.join(h.ROOT, 'js', 'dist');
const { pub: PUB, keyid: KEYID, sign } = ed25519Key();
const bundle = (v, title) =>
  JSON.stringify({
    version: v,
    consent: { mode: 'opt-out' },
    defaults: { hero: { content: { title } } },
  });

const PAGE = `<!doctype html><html><head><title>Signed</title></head><body>
<div data-pz-slot="hero"><h1 data-pz-field="title">Markup</h1></div>
<script src="/pz.js"></script>
<script>
  window.errors = [];
  pz.on('error', (e) => window.errors.push(e));
  pz('init', { bundleUrl: '/bundle.json', bundlePublicKeys: ['${PUB}'] });
</script></body></html>`;

const state = { body: '', sig: '', etag: '' };
let server;
let url;
let browser;
before(async () => {
  for (const f of ['pz.js', 'pz_core.wasm']) {
    assert.ok(fs.existsSync(path.join(DIST, f)), `js/dist/${f} missing: node scripts/build-js.mjs`);
  }
  server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (p === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(PAGE);
    }
    if (p === '/pz.js' || p === '/pz_core.wasm') {
      const type = p.endsWith('.js') ? 'text/javascript' : 'application/wasm';
      res.writeHead(200, { 'content-type': type });
      return res.end(fs.readFileSync(path.join(DIST, p.slice(1))));
    }
    if (p === '/bundle.json') {
      if (req.headers['if-none-match'] === state.etag) {
        res.writeHead(304, { etag: state.etag });
        return res.end();
      }
      const headers = { 'content-type': 'application/json', etag: state.etag };
      if (state.sig) headers['pz-signature'] = state.sig;
      res.writeHead(200, headers);
      return res.end(state.body);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${server.address().port}/`;
  browser = await h.launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r()));
});

const heroText = (page) => page.locator('h1').textContent();

test('chromium has WebCrypto Ed25519; a signed bundle renders, a tampered one is refused', async () => {
  const v = await h.visitor(browser, url);
  try {
    await v.page.goto(url);
    const ed25519 = await v.page.evaluate(() =>
      crypto.subtle
        .importKey('raw', new Uint8Array(32).fill(1), { name: 'Ed25519' }, false, ['verify'])
        .then(() => 'yes', (e) => e.name),
    );
    assert.equal(ed25519, 'yes', (await browser.version()) + ' has no WebCrypto Ed25519');

    const A = bundle('a', 'Signed in chromium');
    Object.assign(state, { body: A, sig: sign(A), etag: '"a"' });
    await v.page.goto(url);
    await h.until(async () => (await heroText(v.page)) === 'Signed in chromium', 'the signed hero');
    assert.deepEqual(await v.page.evaluate(() => window.errors), []);
    const stored = await v.page.evaluate(() => JSON.parse(localStorage.getItem('pz.b')));
    assert.deepEqual(stored, { e: '"a"', b: A, s: sign(A) });

    // Next page: the stored copy verifies again and the server says 304.
    await v.page.goto(url);
    await h.until(async () => (await heroText(v.page)) === 'Signed in chromium', 'the stored hero');
    assert.deepEqual(await v.page.evaluate(() => window.errors), []);

    // A tampered bundle on the server: refused, the stored (verified) one is used.
    const B = bundle('b', 'Tampered');
    Object.assign(state, { body: B, sig: sign(bundle('b', 'Original')), etag: '"b"' });
    await v.page.goto(url);
    const errors = await h.until(
      async () => (await v.page.evaluate(() => window.errors)).join('\n'),
      'the reported refusal',
    );
    const re = `bundle rejected: /bundle\\.json: signature does not verify with key ${KEYID}`;
    assert.match(errors, new RegExp(re));
    assert.equal(await heroText(v.page), 'Signed in chromium');
  } finally {
    await v.close();
  }

  // A fresh visitor with only the tampered bundle: nothing renders, the markup stays.
  const w = await h.visitor(browser, url);
  try {
    await w.page.goto(url);
    const errors = await h.until(
      async () => (await w.page.evaluate(() => window.errors)).join('\n'),
      'the reported refusal',
    );
    assert.match(errors, /signature does not verify/);
    assert.equal(await heroText(w.page), 'Markup');
  } finally {
    await w.close();
  }
});
