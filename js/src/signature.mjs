// Signed bundles (docs/bundle.md "Signed bundles"), for the browser runtime and the edge worker:
// a detached Ed25519 signature over the exact bundle bytes, checked with WebCrypto before a bundle
// reaches the core. Same text forms and messages as the native verifier (server/src/signature.cpp):
// a public key is base64 (standard alphabet, padded) of 32 bytes, its key id the first 8 bytes of
// SHA-256 of those bytes in hex, a signature `keyid=<16 hex digits>, sig=<base64 of 64 bytes>`.

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Strict base64 → bytes, or null. */
const unb64 = (s) => (B64.test(s) ? Uint8Array.from(atob(s), (c) => c.charCodeAt(0)) : null);
const FORM = 'expected "keyid=<16 hex digits>, sig=<base64 of 64 bytes>"';
const fail = (m) => {
  throw new Error(m);
};
const bad = (m) => fail('signature malformed: ' + m);

/** {keyid, sig (64 bytes)} of a signature text; throws with what is wrong. */
export function parseSignature(text) {
  text = String(text ?? '').trim();
  if (!text) fail('signature missing');
  const f = {};
  for (const part of text.split(',')) {
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq < 0) bad(FORM);
    const name = p.slice(0, eq);
    const v = p.slice(eq + 1);
    if ((name !== 'keyid' && name !== 'sig') || name in f)
      bad(`${FORM} (field "${name.slice(0, 32)}" is unknown or repeated)`);
    if (name === 'keyid') {
      if (!/^[0-9a-f]{16}$/.test(v)) bad('keyid must be 16 lowercase hex digits');
      f.keyid = v;
    } else {
      const b = unb64(v) || bad('sig is not base64 (standard alphabet, padded)');
      if (b.length !== 64) bad('sig must be 64 bytes, got ' + b.length);
      f.sig = b;
    }
  }
  if (!f.keyid || !f.sig) bad(`${FORM} (${f.keyid ? 'sig' : 'keyid'} is missing)`);
  return f;
}

/**
 * A verifier for base64 public keys (`name` labels them in errors): an async function
 * (bytes or text, signature text) that resolves the key id that signed, or rejects with what is
 * wrong. The keys are imported at the first call; a bad key list fails every call.
 */
export function verifier(keys, name, subtle = globalThis.crypto && globalThis.crypto.subtle) {
  let ready;
  const load = async () => {
    if (!Array.isArray(keys) || !keys.length)
      fail(name + ': must be a non-empty array of base64 Ed25519 public keys');
    if (!subtle) fail('no WebCrypto here (crypto.subtle needs a secure context: https)');
    const m = new Map();
    for (let i = 0; i < keys.length; i++) {
      const raw = unb64(String(keys[i]).trim());
      if (!raw || raw.length !== 32)
        fail(
          `${name}[${i}]: ` +
            (raw
              ? 'an Ed25519 public key must be 32 bytes, got ' + raw.length
              : 'not base64 (an Ed25519 public key is base64, standard alphabet, of 32 bytes)'),
        );
      const id = [...new Uint8Array(await subtle.digest('SHA-256', raw)).subarray(0, 8)]
        .map((b) => (b + 256).toString(16).slice(1))
        .join('');
      try {
        m.set(id, await subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']));
      } catch (e) {
        fail(`this platform's WebCrypto has no Ed25519 (${e && e.name}: ${e && e.message})`);
      }
    }
    return m;
  };
  return async (bytes, text) => {
    const m = await (ready ||= load());
    const s = parseSignature(text);
    const key =
      m.get(s.keyid) ||
      fail(
        `signature names key id ${s.keyid}, which is not a configured public key (` +
          [...m.keys()].join(', ') +
          ')',
      );
    if (typeof bytes === 'string') bytes = new TextEncoder().encode(bytes);
    if (!(await subtle.verify('Ed25519', key, s.sig, bytes)))
      fail(
        `signature does not verify with key ${s.keyid} (the bundle was changed after it was ` +
          'signed, or signed with another key)',
      );
    return s.keyid;
  };
}
