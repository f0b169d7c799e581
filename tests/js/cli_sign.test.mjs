// `pz keygen`, `pz sign`, `pz verify` (native only, libsodium; docs/bundle.md "Signed bundles"):
// the key and signature text forms, interoperability with an independent Ed25519 (node's crypto:
// the same seed gives the same public key and byte-identical signatures), exit codes and messages
// for tampered bundles, wrong keys, missing and malformed input; the wasm CLI refuses them clearly.
//
//   node --test tests/js/cli_sign.test.mjs   (env PZ_BIN: the native pz)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PZ_BIN, PZ_WASM_BIN, ROOT } from './harness.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pz-sign-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const pz = (...args) => {
  const r = spawnSync(PZ_BIN, args, { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const file = (name, text) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
};
const BUNDLE = fs.readFileSync(path.join(ROOT, 'demo-site', 'bundle.json'), 'utf8');

/** node's private key for a pz keygen key pair (JWK from the seed and the public key). */
const nodePrivate = (k) =>
  crypto.createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(k.secret_key, 'base64').toString('base64url'),
      x: Buffer.from(k.public_key, 'base64').toString('base64url'),
    },
    format: 'jwk',
  });

test('keygen: a key pair as JSON; node derives the same public key from the seed', () => {
  const r = pz('keygen');
  assert.equal(r.code, 0, r.err);
  const b64 = '[A-Za-z0-9+/]{43}=';
  assert.match(
    r.out,
    new RegExp(`^\\{"key_id":"[0-9a-f]{16}","public_key":"${b64}","secret_key":"${b64}"\\}\\n$`),
  );
  const k = JSON.parse(r.out);
  const raw = Buffer.from(k.public_key, 'base64');
  assert.equal(raw.length, 32);
  assert.equal(k.key_id, crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16));
  const pub = crypto.createPublicKey(nodePrivate(k)).export({ format: 'jwk' }).x;
  assert.equal(Buffer.from(pub, 'base64url').toString('base64'), k.public_key);
  assert.notEqual(pz('keygen').out, r.out, 'a new key each time');
  assert.equal(pz('keygen', 'extra').code, 2);
});

test('sign writes BUNDLE.sig (and prints it): byte-identical to node\'s Ed25519; verify accepts it', () => {
  const k = JSON.parse(pz('keygen').out);
  const keyFile = file('k.json', JSON.stringify(k));
  const b = file('b.json', BUNDLE);
  const r = pz('sign', '--key', keyFile, b);
  assert.equal(r.code, 0, r.err);
  const nodeSig = crypto.sign(null, Buffer.from(BUNDLE), nodePrivate(k)).toString('base64');
  const expected = `keyid=${k.key_id}, sig=${nodeSig}`;
  assert.equal(r.out, expected + '\n');
  assert.equal(fs.readFileSync(b + '.sig', 'utf8'), expected + '\n');
  // -o FILE, -o - (stdout only); a bare base64 secret key file works too.
  const bare = file('k.txt', k.secret_key + '\n');
  const o = path.join(tmp, 'other.sig');
  assert.equal(pz('sign', '--key', bare, b, '-o', o).code, 0);
  assert.equal(fs.readFileSync(o, 'utf8'), expected + '\n');
  fs.rmSync(b + '.sig');
  assert.equal(pz('sign', '--key', bare, '-o', '-', b).out, expected + '\n');
  assert.equal(fs.existsSync(b + '.sig'), false);

  fs.writeFileSync(b + '.sig', expected + '\n');
  for (const key of [k.public_key, keyFile, file('pub.txt', k.public_key + '\n')]) {
    const v = pz('verify', '--pubkey', key, b);
    assert.equal(v.code, 0, v.err);
    assert.equal(v.out, `${b}: signature ok (key ${k.key_id})\n`);
  }
  assert.equal(pz('verify', '--pubkey', k.public_key, b, o).code, 0, 'an explicit SIG file');
  // node verifies pz's signature too.
  const sig = Buffer.from(expected.split('sig=')[1], 'base64');
  assert.ok(crypto.verify(null, Buffer.from(BUNDLE), crypto.createPublicKey(nodePrivate(k)), sig));
});

test('verify: tampered bundle, wrong key, several keys, missing and malformed signatures', () => {
  const k1 = JSON.parse(pz('keygen').out);
  const k2 = JSON.parse(pz('keygen').out);
  const key1 = file('k1.json', JSON.stringify(k1));
  const b = file('v.json', BUNDLE);
  assert.equal(pz('sign', '--key', key1, b).code, 0);
  const sig = fs.readFileSync(b + '.sig', 'utf8');

  const tampered = file('t.json', BUNDLE.replace('Welcome', 'Welcomf'));
  fs.writeFileSync(tampered + '.sig', sig);
  let r = pz('verify', '--pubkey', k1.public_key, tampered);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.equal(
    r.err,
    `pz verify: ${tampered}: signature does not verify with key ${k1.key_id} (the bundle was ` +
      'changed after it was signed, or signed with another key)\n',
  );

  r = pz('verify', '--pubkey', k2.public_key, b);
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    `pz verify: ${b}: signature names key id ${k1.key_id}, which is not a configured public key ` +
      `(${k2.key_id})\n`,
  );
  assert.equal(pz('verify', '--pubkey', k2.public_key, '--pubkey', k1.public_key, b).code, 0);

  r = pz('verify', '--pubkey', k1.public_key, b, path.join(tmp, 'none.sig'));
  assert.equal(r.code, 1);
  assert.match(r.err, /: signature missing \(cannot read .*none\.sig\)\n$/);
  r = pz('verify', '--pubkey', k1.public_key, b, file('bad.sig', `keyid=${k1.key_id}, sig=AAAA\n`));
  assert.equal(r.code, 1);
  assert.match(r.err, /signature malformed: sig must be 64 bytes, got 3\n$/);
  r = pz('verify', '--pubkey', 'AAAA', b);
  assert.equal(r.code, 2);
  assert.match(r.err, /^pz verify: --pubkey\[0\]: an Ed25519 public key must be 32 bytes, got 3/);
  r = pz('verify', '--pubkey', file('nokey.json', '{"x":1}'), b);
  assert.equal(r.code, 2);
  assert.match(r.err, /a JSON key file needs a "public_key" string/);
});

test('sign and verify: usage and unreadable inputs are exit 2, a bad secret key exit 1', () => {
  const b = file('u.json', BUNDLE);
  const usages = [
    ['sign'],
    ['sign', b],
    ['sign', '--key'],
    ['verify', b],
    ['verify', '--pubkey', 'x'],
    ['sign', '--frob', b],
  ];
  for (const args of usages) {
    const r = pz(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, /usage|unexpected argument/);
  }
  let r = pz('sign', '--key', path.join(tmp, 'missing.json'), b);
  assert.equal(r.code, 2);
  assert.match(r.err, /cannot read the key file/);
  const k = JSON.parse(pz('keygen').out);
  r = pz('sign', '--key', file('k3.json', JSON.stringify(k)), path.join(tmp, 'missing-bundle.json'));
  assert.equal(r.code, 2);
  assert.match(r.err, /cannot read .*missing-bundle\.json/);
  r = pz('sign', '--key', file('short.key', 'AAAA'), b);
  assert.equal(r.code, 1);
  assert.match(r.err, /the secret key must be a 32-byte seed or a 64-byte secret key, got 3 bytes/);
});

test('the wasm CLI answers keygen, sign and verify with a clear "not supported"', () => {
  for (const cmd of ['keygen', 'sign', 'verify']) {
    const r = spawnSync(PZ_WASM_BIN, [cmd, '--key', 'x', 'y'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `pz: ${cmd} is not supported in the wasm CLI; use the native pz\n`);
  }
});
