// Signed bundles in the edge worker (PZ_BUNDLE_PUBLIC_KEYS, docs/bundle.md "Signed bundles"): a
// bundle from the server is used only after its Pz-Signature verified (WebCrypto Ed25519 in
// workerd); a tampered or unsigned one is never activated and the held bundle stays; an embedded
// PZ_BUNDLE needs PZ_BUNDLE_SIGNATURE; /pz/bundle passes the signature on to the browser; and a
// real pz-server with a signed seed bundle works end to end.
//
//   node --test tests/edge/signed.test.mjs   (needs build-wasm/pz_core.wasm and pz-server)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tempDir } from '../server/harness.mjs';
import { get, listen, startOrigin, startWorkerd } from './harness.mjs';
import { ed25519Key } from '../js/harness.mjs';

const K1 = ed25519Key();
const K2 = ed25519Key();

const bundle = (v, t) =>
  JSON.stringify({ version: v, defaults: { hero: { content: { title: t } } } });
const PAGE =
  '<!doctype html><div data-pz-slot="hero"><h1 data-pz-field="title">Origin</h1></div>\n';
const hero = (text) => /<h1 data-pz-field="title">([^<]*)<\/h1>/.exec(text)[1];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Requests pages until the worker logged a line matching re (up to 15 s; a refused bundle is
 * fetched again after 1 s). Every page must show the hero `title` meanwhile.
 */
async function pagesUntilLogged(w, re, title) {
  for (let i = 0; i < 150; i++) {
    const r = await get(w.url + '/');
    assert.equal(hero(r.text), title);
    if (w.logs.some((l) => re.test(l))) return;
    await sleep(100);
  }
  assert.fail(`no log line matches ${re}:\n${w.logs.join('\n')}`);
}
/** Polls until the worker's log has a line matching re (up to 15 s). */
async function logged(w, re) {
  for (let i = 0; i < 300; i++) {
    if (w.logs.some((l) => re.test(l))) return;
    await sleep(50);
  }
  assert.fail(`no log line matches ${re}:\n${w.logs.join('\n')}`);
}

/** A bundle server: GET /v1/bundle answers `state` ({body, sig, etag}), 304 on If-None-Match. */
async function bundleServer(state) {
  const requests = [];
  const s = await listen((req, res) => {
    requests.push(req.url);
    if (!req.url.startsWith('/v1/bundle')) {
      res.writeHead(404);
      return res.end();
    }
    const headers = { etag: state.etag, 'content-type': 'application/json' };
    if (state.sig) headers['pz-signature'] = state.sig;
    if (req.headers['if-none-match'] === state.etag) {
      res.writeHead(304, headers);
      return res.end();
    }
    res.writeHead(200, headers);
    res.end(state.body);
  });
  return { ...s, requests, stop: () => new Promise((r) => s.server.close(r)) };
}

let origin;
before(async () => {
  origin = await startOrigin({ '/': PAGE });
});
after(() => origin?.stop());

describe('bundles from the server', () => {
  const A = bundle('a', 'Signed A');
  const state = { body: A, sig: K1.sign(A), etag: '"a"' };
  let srv;
  let edge;
  before(async () => {
    srv = await bundleServer(state);
    edge = await startWorkerd({
      bindings: {
        PZ_ORIGIN: origin.url,
        PZ_SERVER: srv.url,
        PZ_SLOTS: '',
        PZ_BUDGET_MS: 5000,
        PZ_BUNDLE_TTL_MS: 0, // revalidated on every page
        PZ_BUNDLE_PUBLIC_KEYS: `${K2.pub}, ${K1.pub}`,
      },
    });
  });
  after(async () => {
    await edge?.stop();
    await srv?.stop();
  });

  test('a signed bundle is used, and /pz/bundle passes its signature on', async () => {
    const r = await get(edge.url + '/');
    assert.equal(hero(r.text), 'Signed A');
    const b = await get(edge.url + '/pz/bundle');
    assert.equal(b.status, 200);
    assert.equal(b.text, A);
    assert.equal(b.headers.get('pz-signature'), state.sig);
    assert.equal(b.headers.get('etag'), '"a"');
  });

  test('a tampered bundle is never activated: the held one stays; a good one then replaces it', async () => {
    const B = bundle('b', 'Signed B');
    Object.assign(state, { body: B.replace('Signed B', 'Tampered'), sig: K1.sign(B), etag: '"t"' });
    const tampered = new RegExp(
      `pz-edge: bundle rejected: signature does not verify with key ${K1.keyid}`,
    );
    await pagesUntilLogged(edge, tampered, 'Signed A');
    for (let i = 0; i < 3; i++) {
      assert.equal(hero((await get(edge.url + '/')).text), 'Signed A');
    }
    let b = await get(edge.url + '/pz/bundle');
    assert.equal(b.text, A);
    assert.equal(b.headers.get('pz-signature'), K1.sign(A));

    // Unsigned, and signed by a key that is not configured: refused too.
    Object.assign(state, { body: B, sig: undefined, etag: '"u"' });
    await pagesUntilLogged(edge, /pz-edge: bundle rejected: signature missing/, 'Signed A');
    const K3 = ed25519Key();
    Object.assign(state, { body: B, sig: K3.sign(B), etag: '"k3"' });
    const foreign = new RegExp(`signature names key id ${K3.keyid}, which is not a configured`);
    await pagesUntilLogged(edge, foreign, 'Signed A');

    // Signed by the other configured key (rotation): used once fetched.
    Object.assign(state, { body: B, sig: K2.sign(B), etag: '"b"' });
    let seen = '';
    for (let i = 0; i < 100 && seen !== 'Signed B'; i++) {
      await sleep(100);
      seen = hero((await get(edge.url + '/')).text);
    }
    assert.equal(seen, 'Signed B');
    b = await get(edge.url + '/pz/bundle');
    assert.equal(b.text, B);
    assert.equal(b.headers.get('pz-signature'), K2.sign(B));
  });
});

describe('no good bundle at all', () => {
  test('an unsigned server bundle: the page exactly as the origin sent it', async () => {
    const A = bundle('a', 'Unsigned');
    const srv = await bundleServer({ body: A, etag: '"a"' });
    const w = await startWorkerd({
      bindings: {
        PZ_ORIGIN: origin.url,
        PZ_SERVER: srv.url,
        PZ_SLOTS: '',
        PZ_BUNDLE_PUBLIC_KEYS: K1.pub,
      },
    });
    try {
      const r = await get(w.url + '/');
      assert.equal(r.text, PAGE);
      await logged(w, /pz-edge: bundle rejected: signature missing/);
      assert.equal((await get(w.url + '/pz/bundle')).status, 503);
      assert.ok(srv.requests.length >= 1);
    } finally {
      await w.stop();
      await srv.stop();
    }
  });

  test('bad PZ_BUNDLE_PUBLIC_KEYS: every bundle is refused, naming the binding', async () => {
    const A = bundle('a', 'A');
    const w = await startWorkerd({
      bindings: {
        PZ_ORIGIN: origin.url,
        PZ_SERVER: '',
        PZ_SLOTS: '',
        PZ_BUNDLE: A,
        PZ_BUNDLE_SIGNATURE: K1.sign(A),
        PZ_BUNDLE_PUBLIC_KEYS: 'AAAA',
      },
    });
    try {
      assert.equal((await get(w.url + '/')).text, PAGE);
      await logged(w, /PZ_BUNDLE_PUBLIC_KEYS\[0\]: an Ed25519 public key must be 32 bytes, got 3/);
    } finally {
      await w.stop();
    }
  });
});

describe('without PZ_BUNDLE_PUBLIC_KEYS', () => {
  test('bundles are used unchecked, and the server\'s signature is still passed on', async () => {
    const A = bundle('a', 'Unchecked');
    const srv = await bundleServer({ body: A, sig: 'keyid=0000000000000000, sig=x', etag: '"a"' });
    const w = await startWorkerd({
      bindings: { PZ_ORIGIN: origin.url, PZ_SERVER: srv.url, PZ_SLOTS: '', PZ_BUDGET_MS: 5000 },
    });
    try {
      assert.equal(hero((await get(w.url + '/')).text), 'Unchecked');
      const b = await get(w.url + '/pz/bundle');
      assert.equal(b.text, A);
      assert.equal(b.headers.get('pz-signature'), 'keyid=0000000000000000, sig=x');
    } finally {
      await w.stop();
      await srv.stop();
    }
  });
});

describe('an embedded bundle (PZ_BUNDLE + PZ_BUNDLE_SIGNATURE)', () => {
  const A = bundle('e', 'Embedded');
  for (const [name, sig, used, re] of [
    ['a good signature: used, and served with it', K1.sign(A), true, null],
    [
      'a bad signature: not used',
      K1.sign(A + ' '),
      false,
      /the embedded PZ_BUNDLE: signature does not verify/,
    ],
    ['no signature: not used', '', false, /the embedded PZ_BUNDLE: signature missing/],
  ]) {
    test(name, async () => {
      const w = await startWorkerd({
        bindings: {
          PZ_ORIGIN: origin.url,
          PZ_SERVER: '',
          PZ_SLOTS: '',
          PZ_BUNDLE: A,
          PZ_BUNDLE_SIGNATURE: sig,
          PZ_BUNDLE_PUBLIC_KEYS: K1.pub,
        },
      });
      try {
        const r = await get(w.url + '/');
        if (used) {
          assert.equal(hero(r.text), 'Embedded');
          const b = await get(w.url + '/pz/bundle');
          assert.equal(b.text, A);
          assert.equal(b.headers.get('pz-signature'), sig);
        } else {
          assert.equal(r.text, PAGE);
          await logged(w, re);
        }
      } finally {
        await w.stop();
      }
    });
  }
});

describe('with a real pz-server', () => {
  test('a signed seed bundle is served with its signature and used by the worker', async () => {
    const data = tempDir();
    const file = path.join(data, 'seed.json');
    const A = bundle('seed', 'From pz-server');
    fs.writeFileSync(file, A);
    fs.writeFileSync(file + '.sig', K1.sign(A) + '\n');
    const server = await startServer({
      data,
      bundle: file,
      keys: {
        sites: [
          {
            id: 'shop',
            write_keys: ['pk_shop_edge'],
            secret_keys: ['sk_shop_edge'],
            bundle_public_keys: [K1.pub],
          },
        ],
      },
    });
    const w = await startWorkerd({
      bindings: {
        PZ_ORIGIN: origin.url,
        PZ_SERVER: server.url,
        PZ_WRITE_KEY: 'pk_shop_edge',
        PZ_SLOTS: '',
        PZ_BUDGET_MS: 5000,
        PZ_BUNDLE_PUBLIC_KEYS: K1.pub,
      },
    });
    try {
      assert.equal(hero((await get(w.url + '/')).text), 'From pz-server');
      const b = await get(w.url + '/pz/bundle');
      assert.equal(b.text, A);
      assert.equal(b.headers.get('pz-signature'), K1.sign(A));
    } finally {
      await w.stop();
      await server.stop();
      fs.rmSync(data, { recursive: true, force: true });
    }
  });
});
