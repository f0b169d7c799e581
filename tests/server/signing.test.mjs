// Signed bundles on pz-server (docs/bundle.md "Signed bundles", docs/server.md): a site with
// bundle_public_keys takes PUT /v1/bundle only with a Pz-Signature that verifies (422
// invalid_signature otherwise, naming what is wrong, and nothing changes); GET answers the
// signature with the ETag; the seed bundle needs FILE.sig; rollback re-verifies against the
// current keys; a start with a bad seed signature, a bad key or an active bundle that no longer
// verifies is refused. Keys come from `pz keygen` (PZ_BIN) and from node's crypto (an independent
// Ed25519), signatures from `pz sign` and node.
//
//   node --test tests/server/signing.test.mjs   (env PZ_SERVER, PZ_BIN)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DEMO_BUNDLE, call, startServer, tempDir } from './harness.mjs';
import { PZ_BIN, ed25519Key } from '../js/harness.mjs';

const SK = 'sk_shop_sig1';
const PK = 'pk_shop_sig1';

/** A key pair from `pz keygen`: {key_id, public_key, secret_key, file (the JSON), sign(text)}. */
function pzKey(dir) {
  const json = execFileSync(PZ_BIN, ['keygen'], { encoding: 'utf8' });
  const k = JSON.parse(json);
  k.file = path.join(dir, `key-${k.key_id}.json`);
  fs.writeFileSync(k.file, json);
  k.sign = (text) => {
    const f = path.join(dir, 'to-sign.json');
    fs.writeFileSync(f, text);
    const args = ['sign', '--key', k.file, f, '-o', '-'];
    return execFileSync(PZ_BIN, args, { encoding: 'utf8' }).trim();
  };
  return k;
}
/** A key pair from node's crypto, in the same text forms. */
function nodeKey() {
  const k = ed25519Key();
  return { key_id: k.keyid, public_key: k.pub, sign: (text) => k.sign(text) };
}

function assertError(res, status, code, message) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error, code, JSON.stringify(res.body));
  if (message) assert.match(res.body.message, message);
}

const variant = (v, title = v) => {
  const b = JSON.parse(DEMO_BUNDLE);
  b.version = v;
  b.defaults.hero.content.title = title;
  return JSON.stringify(b);
};
const site = (keys, extra = {}) => ({
  sites: [
    {
      id: 'shop',
      write_keys: [PK],
      secret_keys: [SK],
      origins: ['https://shop.example'],
      bundle_public_keys: keys,
      ...extra,
    },
  ],
});
const put = (s, text, sig) =>
  call(s, 'PUT', '/v1/bundle', {
    key: SK,
    raw: true,
    body: text,
    headers: sig === undefined ? {} : { 'pz-signature': sig },
  });
/** The served bundle: {status, etag, sig, text}. */
async function served(s, headers = {}) {
  const r = await s.fetch('/v1/bundle', { headers: { authorization: 'Bearer ' + PK, ...headers } });
  return {
    status: r.status,
    etag: r.headers.get('etag'),
    sig: r.headers.get('pz-signature'),
    text: await r.text(),
  };
}
/** A seed bundle file (and its .sig when `sig` is given) in dir. */
function seed(dir, text, sig) {
  const file = path.join(dir, `seed-${crypto.randomBytes(4).toString('hex')}.json`);
  fs.writeFileSync(file, text);
  if (sig !== undefined) fs.writeFileSync(file + '.sig', sig);
  return file;
}

let dir;
let K1; // pz keygen, configured
let K2; // node crypto, configured
let K3; // node crypto, not configured
before(() => {
  dir = tempDir('pz-signing-');
  K1 = pzKey(dir);
  K2 = nodeKey();
  K3 = nodeKey();
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a site with bundle_public_keys', () => {
  let s;
  const V1 = variant('signed-1', 'Seed');
  before(async () => {
    const data = tempDir();
    const file = seed(dir, V1, '');
    fs.writeFileSync(file + '.sig', K1.sign(V1) + '\n'); // as `pz sign` writes it
    s = await startServer({ data, bundle: file, keys: site([K1.public_key, K2.public_key]) });
  });
  after(() => s.stop());

  test('the signed seed bundle is served with its signature and ETag; a 304 carries it too', async () => {
    const b = await served(s);
    assert.equal(b.status, 200);
    assert.equal(b.text, V1);
    assert.equal(b.sig, K1.sign(V1));
    assert.match(b.sig, new RegExp(`^keyid=${K1.key_id}, sig=[A-Za-z0-9+/]{86}==$`));
    const nm = await served(s, { 'if-none-match': b.etag });
    assert.equal(nm.status, 304);
    assert.equal(nm.sig, b.sig);
  });

  test('unsigned, malformed, tampered and foreign-key PUTs are 422 invalid_signature; nothing changes', async () => {
    const before = await served(s);
    const versionsBefore = (await call(s, 'GET', '/v1/bundle/versions', { key: SK })).body;
    const next = variant('signed-2');
    const sig64 = Buffer.alloc(64, 7).toString('base64');
    const short = Buffer.alloc(32).toString('base64');
    const cases = [
      [
        undefined,
        next,
        new RegExp(
          '^bundle rejected \\(the active bundle stays\\): signature missing: site shop accepts ' +
            'only bundles signed by one of its bundle_public_keys',
        ),
      ],
      ['', next, /signature missing/],
      [sig64, next, /signature malformed: expected "keyid=<16 hex digits>, sig=<base64 of 64 bytes>"/],
      [`keyid=${K1.key_id}, sig=${sig64.slice(0, -2)}`, next, /malformed: sig is not base64/],
      [`keyid=${K1.key_id}, sig=${short}`, next, /malformed: sig must be 64 bytes, got 32/],
      [`keyid=XYZ, sig=${sig64}`, next, /malformed: keyid must be 16 lowercase hex digits/],
      [
        K1.sign(next),
        next.replace('signed-2', 'signed-3'),
        new RegExp(`signature does not verify with key ${K1.key_id} \\(the bundle was changed after`),
      ],
      [K1.sign(next), next + '\n', /signature does not verify/], // exact bytes
      [
        K3.sign(next),
        next,
        new RegExp(
          `signature names key id ${K3.key_id}, which is not a configured public key ` +
            `\\(${K1.key_id}, ${K2.key_id}\\)`,
        ),
      ],
      [
        `keyid=${K2.key_id}, sig=${K3.sign(next).split('sig=')[1]}`,
        next,
        new RegExp(`does not verify with key ${K2.key_id}`),
      ],
    ];
    for (const [sig, body, re] of cases) {
      assertError(await put(s, body, sig), 422, 'invalid_signature', re);
    }
    const after = await served(s);
    assert.deepEqual(after, before);
    const versionsAfter = (await call(s, 'GET', '/v1/bundle/versions', { key: SK })).body;
    assert.deepEqual(versionsAfter, versionsBefore);
    const body = { id: 'sig-d1', slots: ['hero'] };
    const d = await call(s, 'POST', '/v1/decide', { key: PK, body });
    assert.equal(d.body.decisions[0].content.title, 'Seed');
  });

  test('a signed but invalid bundle is still 422 invalid_bundle', async () => {
    const bad = JSON.parse(variant('signed-bad'));
    bad.segments[0].rule = { fo: [1] };
    const text = JSON.stringify(bad);
    const r = await put(s, text, K1.sign(text));
    assertError(r, 422, 'invalid_bundle', /segments\[0\]\.rule/);
  });

  test('valid signatures by either configured key (pz sign, node crypto) are accepted and served back', async () => {
    const v2 = variant('signed-2', 'Two');
    let r = await put(s, v2, K1.sign(v2));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    let b = await served(s);
    assert.equal(b.text, v2);
    assert.equal(b.sig, K1.sign(v2));
    assert.equal(b.etag, r.body.etag);

    const v3 = variant('signed-3', 'Three');
    // Field order and spacing are free; the server stores the canonical form.
    const [, sigB64] = K2.sign(v3).split('sig=');
    r = await put(s, v3, ` sig=${sigB64} ,keyid=${K2.key_id}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    b = await served(s);
    assert.equal(b.text, v3);
    assert.equal(b.sig, K2.sign(v3));
    const list = (await call(s, 'GET', '/v1/bundle/versions', { key: SK })).body;
    assert.equal(list.active, r.body.version);
    assert.equal(list.versions.at(-1).signature, K2.sign(v3));
    assert.equal(list.versions.at(-2).signature, K1.sign(v2));
    const body = { id: 'sig-d2', slots: ['hero'] };
    const d = await call(s, 'POST', '/v1/decide', { key: PK, body });
    assert.equal(d.body.decisions[0].content.title, 'Three');
  });

  test('a browser reads the signature cross-origin (Access-Control-Expose-Headers)', async () => {
    const r = await s.fetch('/v1/bundle', {
      headers: { authorization: 'Bearer ' + PK, origin: 'https://shop.example' },
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('access-control-expose-headers'), /(^|, )Pz-Signature(,|$)/);
    assert.ok(r.headers.get('pz-signature'));
  });

  test('concurrent signed PUTs: each is 200 or 409 conflict, and the last accepted one is active', async () => {
    const texts = [0, 1, 2, 3, 4, 5].map((i) => variant(`race-${i}`));
    const answers = await Promise.all(texts.map((t) => put(s, t, K1.sign(t))));
    const ok = answers.filter((a) => a.status === 200);
    for (const a of answers) {
      if (a.status !== 200) assertError(a, 409, 'conflict', /another change of this site's bundle/);
    }
    assert.ok(ok.length >= 1);
    const last = ok.reduce((m, a) => (a.body.version > m.body.version ? a : m));
    const b = await served(s);
    assert.equal(b.etag, last.body.etag);
    assert.equal(b.text, texts.find((t) => JSON.parse(t).version === last.body.bundle_version));
    assert.equal(b.sig, K1.sign(b.text));
  });
});

describe('rollback re-verifies against the current keys', () => {
  test('a version signed by a key no longer configured is not activated; the active one stays', async () => {
    const data = tempDir();
    const v1 = variant('rb-1', 'One');
    const file = seed(dir, v1, K1.sign(v1));
    let s = await startServer({ data, bundle: file, keys: site([K1.public_key, K2.public_key]) });
    const v2 = variant('rb-2', 'Two');
    const v3 = variant('rb-3', 'Three');
    assert.equal((await put(s, v2, K2.sign(v2))).status, 200);
    assert.equal((await put(s, v3, K1.sign(v3))).status, 200);
    await s.stop();

    // K2 is rotated out.
    s = await startServer({ data, bundle: file, keys: site([K1.public_key]) });
    try {
      const before = await served(s);
      assert.equal(before.text, v3);
      const rb = await call(s, 'POST', '/v1/bundle/rollback', { key: SK });
      const refusal = new RegExp(
        '^version 2 was not activated \\(the active bundle stays\\): ' +
          `signature names key id ${K2.key_id}`,
      );
      assertError(rb, 422, 'invalid_signature', refusal);
      assert.deepEqual(await served(s), before);
      const active = async () => (await call(s, 'GET', '/v1/bundle/versions', { key: SK })).body.active;
      assert.equal(await active(), 3);
      const rollback = (body) => call(s, 'POST', '/v1/bundle/rollback', { key: SK, body });
      const byNumber = await rollback({ version: 2 });
      assertError(byNumber, 422, 'invalid_signature', /^version 2 was not activated/);
      assert.equal(await active(), 3);
      // Version 1 (K1) verifies: activated, with its signature.
      const ok = await rollback({ version: 1 });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const b = await served(s);
      assert.equal(b.text, v1);
      assert.equal(b.sig, K1.sign(v1));
      assert.equal(await active(), 1);
      // 404 and 409 as before.
      assertError(await rollback({ version: 9 }), 404, 'not_found');
      assertError(await rollback(undefined), 409, 'conflict');
    } finally {
      await s.stop();
    }
    // After a restart the store's active version is the one served (1), not the refused one.
    s = await startServer({ data, bundle: file, keys: site([K1.public_key]) });
    try {
      assert.equal((await served(s)).text, v1);
    } finally {
      await s.stop();
      fs.rmSync(data, { recursive: true, force: true });
    }
  });
});

describe('refused starts', () => {
  const V = variant('start-1');
  const refused = async (opts, re) =>
    assert.rejects(startServer(opts), (e) => {
      assert.match(e.message, re);
      assert.match(e.message, /"code":1/);
      return true;
    });

  test('a seed bundle without FILE.sig, with a tampered or malformed one', async () => {
    const keys = site([K1.public_key]);
    await refused(
      { bundle: seed(dir, V), keys },
      new RegExp(
        'bundle file .*seed-[0-9a-f]+\\.json: site shop accepts only signed bundles ' +
          '\\(bundle_public_keys\\), and its signature .*\\.json\\.sig cannot be read ' +
          '\\(make it with `pz sign --key KEY_FILE',
      ),
    );
    await refused(
      { bundle: seed(dir, V, K1.sign(V.replace('start-1', 'start-2'))), keys },
      new RegExp(`\\.json\\.sig: signature does not verify with key ${K1.key_id}`),
    );
    await refused({ bundle: seed(dir, V, 'rubbish'), keys }, /\.json\.sig: signature malformed/);
    const foreign = new RegExp(`names key id ${K3.key_id}`);
    await refused({ bundle: seed(dir, V, K3.sign(V)), keys }, foreign);
  });

  test('bad bundle_public_keys in the keys file, or a bad --bundle-public-key', async () => {
    await refused(
      { bundle: seed(dir, V, K1.sign(V)), keys: site(['not base64!']) },
      /keys file: sites\[0\]\.bundle_public_keys\[0\]: not base64/,
    );
    await refused(
      { bundle: seed(dir, V, K1.sign(V)), keys: site([]) },
      /sites\[0\]\.bundle_public_keys: must list at least one base64 Ed25519 public key/,
    );
    await refused(
      { bundle: seed(dir, V, K1.sign(V)), args: ['--bundle-public-key', 'AAAA'] },
      /--bundle-public-key\[0\]: an Ed25519 public key must be 32 bytes, got 3/,
    );
  });

  test('an active bundle that no longer verifies (its key rotated out)', async () => {
    const data = tempDir();
    try {
      const bundle = seed(dir, V, K2.sign(V));
      let s = await startServer({ data, bundle, keys: site([K2.public_key]) });
      await s.stop();
      await refused(
        { data, bundle: null, keys: site([K1.public_key]) },
        new RegExp(
          "site shop: the active bundle \\(version 1\\) does not pass the site's " +
            `bundle_public_keys: signature names key id ${K2.key_id}.*Keep its key configured`,
        ),
      );
      // Unsigned bundles stored before signing was configured are refused the same way.
      const plain = tempDir();
      s = await startServer({ data: plain });
      await s.stop();
      await refused({ data: plain, bundle: null, args: ['--bundle-public-key', K1.public_key] },
        /site demo: the active bundle \(version 1\) does not pass .*: signature missing/);
      fs.rmSync(plain, { recursive: true, force: true });
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
    }
  });
});

describe('--bundle-public-key (every site without keys of its own)', () => {
  test('the demo site requires signatures with the flag, and accepts the signed ones', async () => {
    const V = variant('flag-1');
    const s = await startServer({
      bundle: seed(dir, V, K1.sign(V)),
      env: { PZ_BUNDLE_PUBLIC_KEY: `${K2.public_key}, ${K1.public_key}` },
    });
    try {
      const b = await call(s, 'GET', '/v1/bundle', { key: 'pk_demo' });
      assert.equal(b.headers.get('pz-signature'), K1.sign(V));
      const next = variant('flag-2');
      const bad = await call(s, 'PUT', '/v1/bundle', { key: 'sk_demo', raw: true, body: next });
      assertError(bad, 422, 'invalid_signature', /signature missing: site demo/);
      const good = await call(s, 'PUT', '/v1/bundle', {
        key: 'sk_demo',
        raw: true,
        body: next,
        headers: { 'pz-signature': K2.sign(next) },
      });
      assert.equal(good.status, 200);
    } finally {
      await s.stop();
    }
  });
});

describe('a site without keys', () => {
  test('unsigned PUTs work as before; a well-formed signature is stored and served, a malformed one refused', async () => {
    const V = variant('plain-1');
    const s = await startServer({ bundle: seed(dir, V) });
    try {
      let b = await call(s, 'GET', '/v1/bundle', { key: 'pk_demo' });
      assert.equal(b.headers.get('pz-signature'), null);
      const v2 = variant('plain-2');
      const r = await call(s, 'PUT', '/v1/bundle', {
        key: 'sk_demo',
        raw: true,
        body: v2,
        headers: { 'pz-signature': K3.sign(v2) },
      });
      assert.equal(r.status, 200);
      b = await call(s, 'GET', '/v1/bundle', { key: 'pk_demo' });
      assert.equal(b.headers.get('pz-signature'), K3.sign(v2));
      const bad = await call(s, 'PUT', '/v1/bundle', {
        key: 'sk_demo',
        raw: true,
        body: variant('plain-3'),
        headers: { 'pz-signature': 'keyid=1, sig=2' },
      });
      assertError(bad, 422, 'invalid_signature', /signature malformed/);
      const v4 = variant('plain-4');
      const r4 = await call(s, 'PUT', '/v1/bundle', { key: 'sk_demo', raw: true, body: v4 });
      assert.equal(r4.status, 200);
      b = await call(s, 'GET', '/v1/bundle', { key: 'pk_demo' });
      assert.equal(b.headers.get('pz-signature'), null);
      assert.equal(JSON.stringify(b.body), v4);
    } finally {
      await s.stop();
    }
  });

  test('a seed FILE.sig next to an unsigned site\'s bundle is stored with it', async () => {
    const V = variant('plain-seed');
    const s = await startServer({ bundle: seed(dir, V, K3.sign(V) + '\n') });
    try {
      const b = await call(s, 'GET', '/v1/bundle', { key: 'pk_demo' });
      assert.equal(b.headers.get('pz-signature'), K3.sign(V));
    } finally {
      await s.stop();
    }
  });
});
