// Shared by the node tests: where things are, knobs from the environment, a seeded PRNG.
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The native `pz` under test (env PZ_BIN, default build/pz). */
export const PZ_BIN = process.env.PZ_BIN
  ? path.resolve(process.env.PZ_BIN)
  : path.join(ROOT, 'build', 'pz');

/** A non-negative integer from the environment, or `dflt` when unset or empty. */
export function envInt(name, dflt) {
  const v = process.env[name];
  return v ? Math.max(0, parseInt(v, 10) || 0) : dflt;
}

/** A 32-bit seed from the environment, or `dflt`. */
export function envSeed(name, dflt) {
  const v = process.env[name];
  return v !== undefined && v !== '' ? Number(v) >>> 0 : dflt;
}

/** mulberry32: a small seeded PRNG returning numbers in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `node js/bin/pz.mjs` as one executable path (the wasm CLI). */
export const PZ_WASM_BIN = path.join(ROOT, 'js', 'bin', 'pz-wasm');

/** The wasm module under test (env PZ_WASM, default build-wasm/pz_core.wasm). */
export const PZ_WASM = process.env.PZ_WASM
  ? path.resolve(process.env.PZ_WASM)
  : path.join(ROOT, 'build-wasm', 'pz_core.wasm');

/**
 * A fresh Ed25519 key pair for signed-bundle tests (docs/bundle.md "Signed bundles"): pub (base64
 * of the raw 32 bytes), keyid (16 hex digits of its SHA-256), sign(text, id = keyid) → the
 * Pz-Signature text `keyid=…, sig=…` over the exact bytes of `text`.
 */
export function ed25519Key() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  const keyid = crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16);
  return {
    pub: raw.toString('base64'),
    keyid,
    sign: (text, id = keyid) =>
      `keyid=${id}, sig=${crypto.sign(null, Buffer.from(text), privateKey).toString('base64')}`,
  };
}
