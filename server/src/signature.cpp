#include "signature.h"

#include <sodium.h>

#include <mutex>

namespace pz::server {

namespace {

Status init_sodium() {
  static std::once_flag once;
  static int rc = 0;
  std::call_once(once, [] { rc = sodium_init(); });
  if (rc < 0) return Status(Code::kUnavailable, "libsodium could not be initialised");
  return Status::Ok();
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string_view::npos) return {};
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

const char kSignatureForm[] = "keyid=<16 hex digits>, sig=<base64 of 64 bytes>";

Status malformed(const std::string& what) {
  return Status(Code::kInvalidArgument, "signature malformed: " + what);
}

}  // namespace

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 != 0) return false;
  // libsodium accepts only the alphabet and the padding; the length check above and the end
  // check below make it strict (no whitespace, no missing padding, nothing after it).
  for (char c : in) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '/' || c == '=')) {
      return false;
    }
  }
  if (in.empty()) return true;
  if (!init_sodium().ok()) return false;
  std::string bin(in.size() / 4 * 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), in.data(),
                        in.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != in.data() + in.size()) {
    return false;
  }
  bin.resize(len);
  out = std::move(bin);
  return true;
}

std::string base64_encode(std::string_view bytes) {
  (void)init_sodium();
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), u8(bytes), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string key_id(std::string_view public_key) {
  (void)init_sodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, u8(public_key), public_key.size());
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 8; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 15];
  }
  return id;
}

Result<PublicKey> parse_public_key(std::string_view base64) {
  std::string bytes;
  if (!base64_decode(trim(base64), bytes)) {
    return Status(Code::kInvalidArgument,
                  "not base64 (an Ed25519 public key is base64, standard alphabet, of 32 bytes)");
  }
  if (bytes.size() != kPublicKeyBytes) {
    return Status(Code::kInvalidArgument,
                  "an Ed25519 public key must be 32 bytes, got " + std::to_string(bytes.size()));
  }
  return PublicKey{key_id(bytes), std::move(bytes)};
}

Result<Signature> parse_signature(std::string_view text) {
  text = trim(text);
  if (text.empty()) return Status(Code::kInvalidArgument, "signature missing");
  Signature sig;
  bool have_id = false, have_sig = false;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view field = trim(text.substr(at, comma - at));
    at = comma + 1;
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) {
      return malformed(std::string("expected \"") + kSignatureForm + "\"");
    }
    const std::string_view name = field.substr(0, eq), value = field.substr(eq + 1);
    if (name == "keyid" && !have_id) {
      have_id = true;
      if (value.size() != 16 || value.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return malformed("keyid must be 16 lowercase hex digits");
      }
      sig.key_id = std::string(value);
    } else if (name == "sig" && !have_sig) {
      have_sig = true;
      if (!base64_decode(value, sig.bytes)) {
        return malformed("sig is not base64 (standard alphabet, padded)");
      }
      if (sig.bytes.size() != kSignatureBytes) {
        return malformed("sig must be 64 bytes, got " + std::to_string(sig.bytes.size()));
      }
    } else {
      return malformed(std::string("expected \"") + kSignatureForm + "\" (field \"" +
                       std::string(name.substr(0, 32)) + "\" is unknown or repeated)");
    }
  }
  if (!have_id || !have_sig) {
    return malformed(std::string("expected \"") + kSignatureForm + "\" (" +
                     (have_id ? "sig" : "keyid") + " is missing)");
  }
  return sig;
}

std::string format_signature(const Signature& sig) {
  return "keyid=" + sig.key_id + ", sig=" + base64_encode(sig.bytes);
}

Result<BundleVerifier> BundleVerifier::create(const std::vector<std::string>& base64_keys) {
  BundleVerifier v;
  for (size_t i = 0; i < base64_keys.size(); ++i) {
    Result<PublicKey> k = parse_public_key(base64_keys[i]);
    if (!k.ok()) {
      return Status(Code::kInvalidArgument, "[" + std::to_string(i) + "]: " + k.status().message());
    }
    v.keys_.push_back(k.take());
  }
  return v;
}

Status BundleVerifier::verify(std::string_view bytes, std::string_view signature) const {
  PZ_TRY(init_sodium());
  Result<Signature> sig = parse_signature(signature);
  if (!sig.ok()) return sig.status();
  std::string ids;
  for (const PublicKey& k : keys_) {
    if (k.id == sig.value().key_id) {
      if (crypto_sign_verify_detached(u8(sig.value().bytes), u8(bytes), bytes.size(),
                                      u8(k.bytes)) != 0) {
        return Status(Code::kInvalidArgument,
                      "signature does not verify with key " + k.id +
                          " (the bundle was changed after it was signed, or signed with another "
                          "key)");
      }
      return Status::Ok();
    }
    ids += (ids.empty() ? "" : ", ") + k.id;
  }
  return Status(Code::kInvalidArgument, "signature names key id " + sig.value().key_id +
                                            ", which is not a configured public key (" + ids + ")");
}

Result<KeyPair> parse_secret_key(std::string_view base64) {
  PZ_TRY(init_sodium());
  std::string bytes;
  if (!base64_decode(trim(base64), bytes)) {
    return Status(Code::kInvalidArgument, "the secret key is not base64 (standard alphabet)");
  }
  if (bytes.size() != crypto_sign_SEEDBYTES && bytes.size() != crypto_sign_SECRETKEYBYTES) {
    sodium_memzero(bytes.data(), bytes.size());
    return Status(Code::kInvalidArgument,
                  "the secret key must be a 32-byte seed or a 64-byte secret key, got " +
                      std::to_string(bytes.size()) + " bytes");
  }
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, u8(bytes));
  const bool consistent = bytes.size() == crypto_sign_SEEDBYTES ||
                          sodium_memcmp(sk, bytes.data(), crypto_sign_SECRETKEYBYTES) == 0;
  sodium_memzero(bytes.data(), bytes.size());
  if (!consistent) {
    sodium_memzero(sk, sizeof sk);
    return Status(Code::kInvalidArgument,
                  "the 64-byte secret key's public half does not match its seed");
  }
  const std::string pub(reinterpret_cast<const char*>(pk), sizeof pk);
  KeyPair kp{
      key_id(pub), base64_encode(pub),
      base64_encode(std::string_view(reinterpret_cast<const char*>(sk), crypto_sign_SEEDBYTES))};
  sodium_memzero(sk, sizeof sk);
  return kp;
}

Result<KeyPair> generate_key_pair() {
  PZ_TRY(init_sodium());
  unsigned char seed[crypto_sign_SEEDBYTES];
  randombytes_buf(seed, sizeof seed);
  Result<KeyPair> kp =
      parse_secret_key(base64_encode(std::string_view(reinterpret_cast<char*>(seed), sizeof seed)));
  sodium_memzero(seed, sizeof seed);
  return kp;
}

Result<std::string> sign_bundle(std::string_view bytes, std::string_view secret_key_base64) {
  Result<KeyPair> kp = parse_secret_key(secret_key_base64);  // checks the key (and libsodium)
  if (!kp.ok()) return kp.status();
  std::string seed;
  (void)base64_decode(trim(secret_key_base64), seed);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, u8(seed));  // the first 32 bytes: the seed
  sodium_memzero(seed.data(), seed.size());
  Signature sig;
  sig.key_id = kp.value().key_id;
  sig.bytes.resize(crypto_sign_BYTES);
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.bytes.data()), nullptr, u8(bytes),
                       bytes.size(), sk);
  sodium_memzero(sk, sizeof sk);
  return format_signature(sig);
}

}  // namespace pz::server
