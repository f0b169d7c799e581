// Signed bundles (docs/bundle.md "Signed bundles"): a detached Ed25519 signature over the exact
// bundle bytes, verified with libsodium before a bundle is activated. Used by pz-server (PUT
// /v1/bundle, the seed bundle's FILE.sig, rollback) and by the `pz` CLI (keygen, sign, verify).
//
// Text forms (the same in the browser runtime and the edge worker, js/src/signature.mjs):
// - a public key: base64 (standard alphabet, padded) of the 32-byte Ed25519 public key;
// - a secret key: base64 of the 32-byte seed (the 64-byte libsodium secret key, seed then public
//   key, is accepted too);
// - a key id: the first 8 bytes of SHA-256 of the 32-byte public key, 16 lowercase hex digits;
// - a signature (the Pz-Signature header, a FILE.sig file): `keyid=<key id>, sig=<base64 of the
//   64-byte signature>`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pz/status.h"

namespace pz::server {

constexpr size_t kPublicKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;

// Strict standard base64 with padding; false on anything else.
bool base64_decode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view bytes);

// The key id of a 32-byte public key.
std::string key_id(std::string_view public_key);

struct PublicKey {
  std::string id;     // key_id()
  std::string bytes;  // 32
};
// A base64 public key; errors say what is wrong ("not base64", "must be 32 bytes, got N").
Result<PublicKey> parse_public_key(std::string_view base64);

struct Signature {
  std::string key_id;  // 16 hex digits
  std::string bytes;   // 64
};
// `keyid=<16 hex>, sig=<base64>` (spaces around the comma optional). "" is `signature missing`;
// anything else that is not this form is `signature malformed: ...`.
Result<Signature> parse_signature(std::string_view text);
// The canonical text of a signature.
std::string format_signature(const Signature& sig);

// The public keys a site accepts (several while keys are rotated).
class BundleVerifier {
 public:
  // Errors name the key's index: `[1]: not base64 ...`.
  static Result<BundleVerifier> create(const std::vector<std::string>& base64_keys);
  // Ok when `signature` (the header text) names one of the keys and verifies over `bytes`.
  Status verify(std::string_view bytes, std::string_view signature) const;
  const std::vector<PublicKey>& keys() const { return keys_; }

 private:
  std::vector<PublicKey> keys_;
};

// The CLI's side: a new key pair (base64 texts) and signing.
struct KeyPair {
  std::string key_id, public_key, secret_key;  // secret_key: the 32-byte seed
};
Result<KeyPair> generate_key_pair();
// A secret key (base64 seed or 64-byte secret key) → its key pair.
Result<KeyPair> parse_secret_key(std::string_view base64);
// The signature text (format_signature) of `bytes` with the secret key.
Result<std::string> sign_bundle(std::string_view bytes, std::string_view secret_key_base64);

}  // namespace pz::server
