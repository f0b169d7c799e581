// Signed bundles in the browser runtime (option bundlePublicKeys, docs/bundle.md "Signed
// bundles"): a fetched bundle (signature in the Pz-Signature header), the stored copy and an
// inline bundle reach the core only after their Ed25519 signature verified with WebCrypto; a
// missing, malformed, tampered or foreign-key signature is reported and the current bundle stays.
// Keys and signatures are made with node's crypto (an independent Ed25519), in the documented text
// forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEMO,
  captureWarnings,
  demoBundle,
  fakeFetch,
  listen,
  memStorage,
  page,
  runtime,
} from './runtime_harness.test.mjs';
import { Engine } from '../../js/src/host.mjs';
import { parseSignature, verifier } from '../../js/src/signature.mjs';
import { ed25519Key } from './harness.mjs';

const URL_ = 'https://cdn.example/bundle.json';
const HERO = '<div data-pz-slot="hero"><h1 data-pz-field="title">Markup default</h1></div>';
const title = (pg) => pg.doc.querySelector('h1').textContent;

const K1 = ed25519Key();
const K2 = ed25519Key();

/** The demo bundle's JSON text with its own version and hero title. */
const variant = (v, t) =>
  JSON.stringify(
    demoBundle({ version: v, defaults: { ...DEMO.defaults, hero: { content: { title: t } } } }),
  );
/** A bundle response with an ETag and (when given) a Pz-Signature; 304 on If-None-Match. */
const signedRoute = (text, etag, sig) => ({ headers }) =>
  headers['if-none-match'] === etag
    ? new Response(null, { status: 304, headers: { ETag: etag } })
    : new Response(text, {
        status: 200,
        headers: {
          ETag: etag,
          'Content-Type': 'application/json',
          ...(sig ? { 'Pz-Signature': sig } : {}),
        },
      });

/** Records the bundle texts the core is given (Engine#loadBundle). */
function spyLoads() {
  const log = [];
  const orig = Engine.prototype.loadBundle;
  Engine.prototype.loadBundle = function (b) {
    log.push(typeof b === 'string' ? b : JSON.stringify(b));
    return orig.call(this, b);
  };
  Object.defineProperty(log, 'restore', { value: () => (Engine.prototype.loadBundle = orig) });
  return log;
}

test('a good fetched bundle is activated and stored with its signature, verified again from storage', async () => {
  const text = variant('s1', 'Signed hero');
  const sig = K1.sign(text);
  const storage = memStorage();
  const f = fakeFetch({ [URL_]: signedRoute(text, '"e1"', sig) });
  const pg1 = page(HERO);
  const a = runtime(pg1, { storage, bundleUrl: URL_, fetch: f, bundlePublicKeys: [K1.pub] });
  const errors = listen(a.pz, 'error');
  a.pz.consent({ personalization: true });
  await a.pz.flush();
  assert.deepEqual(errors, []);
  assert.equal(title(pg1), 'Signed hero');
  const stored = JSON.parse(storage.getItem('pz.b'));
  assert.deepEqual(stored, { e: '"e1"', b: text, s: sig });
  pg1.win.close();

  // Next page: the stored copy verifies, the server answers 304.
  const loads = spyLoads();
  try {
    const pg2 = page(HERO);
    const b = runtime(pg2, { storage, bundleUrl: URL_, fetch: f, bundlePublicKeys: [K1.pub] });
    const errors2 = listen(b.pz, 'error');
    await b.pz.flush();
    assert.deepEqual(errors2, []);
    assert.equal(f.requests.at(-1).headers['if-none-match'], '"e1"');
    assert.equal(title(pg2), 'Signed hero');
    assert.deepEqual(loads, [text]);
    pg2.win.close();
  } finally {
    loads.restore();
  }
});

test('bad signatures: the bundle never reaches the core, the current one stays, each reported', async () => {
  const good = variant('s1', 'Hero v1');
  const f = fakeFetch({ [URL_]: signedRoute(good, '"e1"', K1.sign(good)) });
  const storage = memStorage();
  const pg = page(HERO);
  const { pz } = runtime(pg, { storage, bundleUrl: URL_, fetch: f, bundlePublicKeys: [K1.pub] });
  const errors = listen(pz, 'error');
  pz.consent({ personalization: true });
  await pz.flush();
  const hero = async () => (await pz.decide('hero'))[0].content.title;
  assert.equal(await hero(), 'Hero v1');

  const next = variant('s2', 'Hero v2');
  const tampered = next.replace('Hero v2', 'Hero v3');
  assert.notEqual(tampered, next);
  const cases = [
    [undefined, next, /bundle rejected: https:\/\/cdn\.example\/bundle\.json: signature missing$/],
    [
      'not a signature',
      next,
      /signature malformed: expected "keyid=<16 hex digits>, sig=<base64 of 64 bytes>"/,
    ],
    [`keyid=${K1.keyid}, sig=@@@@`, next, /signature malformed: sig is not base64/],
    [`keyid=${K1.keyid}, sig=${Buffer.alloc(63).toString('base64')}`, next, /sig must be 64 bytes/],
    [
      K1.sign(next),
      tampered,
      new RegExp(`signature does not verify with key ${K1.keyid} \\(the bundle was changed`),
    ],
    [
      K2.sign(next),
      next,
      new RegExp(`signature names key id ${K2.keyid}, which is not a configured public key`),
    ],
    // K2's signature under K1's key id: K1's key does not verify it.
    [K2.sign(next, K1.keyid), next, new RegExp(`signature does not verify with key ${K1.keyid}`)],
  ];
  const loads = spyLoads();
  try {
    await captureWarnings(async () => {
      for (const [i, [sig, body, re]] of cases.entries()) {
        f.routes[URL_] = signedRoute(body, `"bad${i}"`, sig);
        const before = errors.length;
        assert.equal(await pz.refresh(), false, String(re));
        assert.equal(errors.length, before + 1, errors.slice(before).join('\n'));
        assert.match(errors.at(-1), re);
        assert.equal(await hero(), 'Hero v1', 'the current bundle stays: ' + re);
      }
    });
    assert.deepEqual(loads, [], 'no refused bundle was given to the core');
  } finally {
    loads.restore();
  }
  assert.deepEqual(JSON.parse(storage.getItem('pz.b')), { e: '"e1"', b: good, s: K1.sign(good) });
  // The ETag of the last good bundle is still the one sent; a good signature then activates.
  f.routes[URL_] = signedRoute(next, '"e2"', K1.sign(next));
  assert.equal(await pz.refresh(), true);
  assert.equal(f.requests.at(-1).headers['if-none-match'], '"e1"');
  assert.equal(await hero(), 'Hero v2');
  pg.win.close();
});

test('a stored bundle changed in storage is refused; the fetch goes without If-None-Match', async () => {
  const good = variant('s1', 'Stored hero');
  const storage = memStorage({
    'pz.b': JSON.stringify({
      e: '"e1"',
      b: good.replace('Stored hero', 'Evil hero'),
      s: K1.sign(good),
    }),
  });
  const f = fakeFetch({ [URL_]: () => new Response('down', { status: 503 }) });
  const pg = page(HERO);
  const loads = spyLoads();
  try {
    await captureWarnings(async () => {
      const opts = { storage, bundleUrl: URL_, fetch: f, bundlePublicKeys: [K1.pub] };
      const { pz } = runtime(pg, opts);
      const errors = listen(pz, 'error');
      await pz.flush();
      const re = `^bundle rejected: the stored bundle: signature does not verify with key ${K1.keyid}`;
      assert.match(errors[0], new RegExp(re));
      assert.match(errors.join('\n'), /no bundle/);
      assert.equal(await pz.decide('hero'), undefined);
    });
    assert.deepEqual(loads, []);
    assert.equal(f.requests[0].headers['if-none-match'], undefined);
    assert.equal(title(pg), 'Markup default');
  } finally {
    loads.restore();
  }
  pg.win.close();

  // A stored copy without a signature (written before signing was configured) is refused too.
  const unsigned = memStorage({ 'pz.b': JSON.stringify({ e: '"e0"', b: good }) });
  f.routes[URL_] = signedRoute(good, '"e1"', K1.sign(good));
  const pg2 = page(HERO);
  await captureWarnings(async () => {
    const opts = { storage: unsigned, bundleUrl: URL_, fetch: f, bundlePublicKeys: [K1.pub] };
    const { pz } = runtime(pg2, opts);
    const errors = listen(pz, 'error');
    await pz.flush();
    assert.deepEqual(errors, ['bundle rejected: the stored bundle: signature missing']);
  });
  assert.equal(f.requests.at(-1).headers['if-none-match'], undefined);
  assert.equal(title(pg2), 'Stored hero', 'the fetched, signed bundle');
  pg2.win.close();
});

test('an inline bundle needs its JSON text and bundleSignature; an object or bad signature is refused', async () => {
  const text = variant('inline', 'Inline hero');
  const ok = page(HERO);
  const a = runtime(ok, {
    bundle: text,
    bundleSignature: K1.sign(text),
    bundlePublicKeys: [K2.pub, K1.pub],
  });
  const errorsA = listen(a.pz, 'error');
  await a.pz.flush();
  assert.deepEqual(errorsA, []);
  assert.equal(title(ok), 'Inline hero', 'verified with the second of two keys (rotation)');
  ok.win.close();

  for (const [opts, re] of [
    [
      { bundle: JSON.parse(text), bundleSignature: K1.sign(text) },
      /the inline bundle: a signed bundle must be given as its JSON text/,
    ],
    [{ bundle: text }, /the inline bundle: signature missing/],
    [
      { bundle: text.replace('Inline', 'Evil'), bundleSignature: K1.sign(text) },
      /the inline bundle: signature does not verify/,
    ],
  ]) {
    const pg = page(HERO);
    await captureWarnings(async () => {
      const { pz } = runtime(pg, { ...opts, bundlePublicKeys: [K1.pub] });
      const errors = listen(pz, 'error');
      await pz.flush();
      assert.match(errors[0], re);
      assert.match(errors.join('\n'), /no bundle/);
    });
    assert.equal(title(pg), 'Markup default');
    pg.win.close();
  }
});

test('bad bundlePublicKeys fail closed: every bundle is refused with the option named', async () => {
  const text = variant('k', 'K');
  for (const [keys, re] of [
    [['not base64!'], /bundlePublicKeys\[0\]: not base64/],
    [
      [K1.pub, Buffer.alloc(31).toString('base64')],
      /bundlePublicKeys\[1\]: an Ed25519 public key must be 32 bytes, got 31/,
    ],
    [[], /bundlePublicKeys: must be a non-empty array/],
    ['just a string', /bundlePublicKeys: must be a non-empty array/],
  ]) {
    const pg = page(HERO);
    await captureWarnings(async () => {
      const opts = { bundle: text, bundleSignature: K1.sign(text), bundlePublicKeys: keys };
      const { pz } = runtime(pg, opts);
      const errors = listen(pz, 'error');
      await pz.flush();
      assert.match(errors[0], re);
      assert.match(errors[0], /^bundle rejected: the inline bundle: /);
    });
    assert.equal(title(pg), 'Markup default');
    pg.win.close();
  }
});

test('without bundlePublicKeys nothing changes: a Pz-Signature is ignored and not stored', async () => {
  const text = variant('plain', 'Plain hero');
  const storage = memStorage();
  const f = fakeFetch({ [URL_]: signedRoute(text, '"p1"', 'garbage signature') });
  const pg = page(HERO);
  const { pz } = runtime(pg, { storage, bundleUrl: URL_, fetch: f });
  const errors = listen(pz, 'error');
  pz.consent({ personalization: true });
  await pz.flush();
  assert.deepEqual(errors, []);
  assert.equal(title(pg), 'Plain hero');
  assert.equal(storage.getItem('pz.b'), JSON.stringify({ e: '"p1"', b: text }));
  pg.win.close();
});

test('signature.mjs: the text forms and messages of the native verifier', async () => {
  assert.throws(() => parseSignature(''), /^Error: signature missing$/);
  assert.throws(() => parseSignature(`keyid=${K1.keyid}`), /\(sig is missing\)$/);
  assert.throws(() => parseSignature(`keyid=ABCDEF0123456789, sig=x`), /16 lowercase hex digits/);
  assert.throws(
    () => parseSignature(`keyid=${K1.keyid}, keyid=${K1.keyid}`),
    /field "keyid" is unknown or repeated/,
  );
  const sig64 = Buffer.alloc(64, 1).toString('base64');
  const unpadded = `keyid=${K1.keyid}, sig=${sig64.slice(0, -2)}`;
  assert.throws(() => parseSignature(unpadded), /sig is not base64/);
  const p = parseSignature(` sig=${sig64} ,keyid=${K1.keyid}\n`);
  assert.equal(p.keyid, K1.keyid);
  assert.deepEqual([...p.sig], [...Buffer.alloc(64, 1)]);
  // RFC 8032 test 1 (the empty message) through WebCrypto.
  const v = verifier(['11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='], 'k');
  const rfc =
    'keyid=21fe31dfa154a261, sig=5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc' +
    '+bRr0lv18FlbviRlUUFDjnoQCw==';
  assert.equal(await v(new Uint8Array(0), rfc), '21fe31dfa154a261');
  await assert.rejects(v('x', rfc), /does not verify with key 21fe31dfa154a261/);
  // No WebCrypto: refused with the reason.
  await assert.rejects(verifier([K1.pub], 'k', null)('x', K1.sign('x')), /no WebCrypto here/);
});
