// Signed bundles, native side (server/src/signature.h, docs/bundle.md "Signed bundles"): the
// RFC 8032 test vector, good signatures, a tampered byte, the wrong key, malformed base64, wrong
// lengths, unknown key ids, key rotation; the keys file's bundle_public_keys; the store keeping a
// version's signature, and a schema-2 data directory migrated with its bundles unsigned.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "config.h"
#include "signature.h"
#include "sqlite_store.h"

namespace pz::server {
namespace {

namespace fs = std::filesystem;

// RFC 8032, 7.1, TEST 1 (the empty message), in base64.
const char kRfcSeed[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
const char kRfcPublic[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const char kRfcSignature[] =
    "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv18FlbviRlUUFDjnoQCw==";
const char kRfcKeyId[] = "21fe31dfa154a261";  // sha256(public key)[0..8], hex

const std::string kBundle = R"({"version":"signed-1","defaults":{"hero":{"content":"Hi"}}})";

KeyPair new_pair() {
  Result<KeyPair> kp = generate_key_pair();
  EXPECT_TRUE(kp.ok()) << kp.status().message();
  return kp.take();
}

BundleVerifier verifier(const std::vector<std::string>& keys) {
  Result<BundleVerifier> v = BundleVerifier::create(keys);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.take();
}

std::string signed_by(const KeyPair& kp, const std::string& bytes) {
  Result<std::string> sig = sign_bundle(bytes, kp.secret_key);
  EXPECT_TRUE(sig.ok()) << sig.status().message();
  return sig.take();
}

TEST(Signature, Rfc8032VectorAndKeyId) {
  Result<KeyPair> kp = parse_secret_key(kRfcSeed);
  ASSERT_TRUE(kp.ok()) << kp.status().message();
  EXPECT_EQ(kp.value().public_key, kRfcPublic);
  EXPECT_EQ(kp.value().key_id, kRfcKeyId);
  EXPECT_EQ(kp.value().secret_key, kRfcSeed);
  const std::string expected = std::string("keyid=") + kRfcKeyId + ", sig=" + kRfcSignature;
  Result<std::string> sig = sign_bundle("", kRfcSeed);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig.value(), expected);  // Ed25519 is deterministic
  EXPECT_TRUE(verifier({kRfcPublic}).verify("", expected).ok());
  EXPECT_FALSE(verifier({kRfcPublic}).verify(" ", expected).ok());
}

TEST(Signature, TheSixtyFourByteSecretKeyIsAcceptedWhenConsistent) {
  std::string seed, pub;
  ASSERT_TRUE(base64_decode(kRfcSeed, seed));
  ASSERT_TRUE(base64_decode(kRfcPublic, pub));
  Result<KeyPair> kp = parse_secret_key(base64_encode(seed + pub));
  ASSERT_TRUE(kp.ok()) << kp.status().message();
  EXPECT_EQ(kp.value().public_key, kRfcPublic);
  std::string other = pub;
  other[0] = static_cast<char>(other[0] ^ 1);
  Result<KeyPair> bad = parse_secret_key(base64_encode(seed + other));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not match"), std::string::npos);
  for (size_t n : {0, 31, 33, 63, 65}) {
    Result<KeyPair> r = parse_secret_key(base64_encode(std::string(n, 'k')));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_NE(r.status().message().find("32-byte seed or a 64-byte secret key, got " +
                                        std::to_string(n) + " bytes"),
              std::string::npos)
        << r.status().message();
  }
  EXPECT_FALSE(parse_secret_key("not base64!").ok());
  EXPECT_FALSE(sign_bundle(kBundle, "AAAA").ok());
}

TEST(Signature, AGoodSignatureVerifiesAndATamperedByteDoesNot) {
  const KeyPair kp = new_pair();
  const BundleVerifier v = verifier({kp.public_key});
  const std::string sig = signed_by(kp, kBundle);
  EXPECT_TRUE(v.verify(kBundle, sig).ok());
  EXPECT_TRUE(v.verify(kBundle, "  " + sig + "\n").ok());  // a FILE.sig's newline
  for (size_t i = 0; i < kBundle.size(); i += 7) {
    std::string tampered = kBundle;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x20);
    Status st = v.verify(tampered, sig);
    ASSERT_FALSE(st.ok()) << i;
    EXPECT_EQ(st.message().rfind("signature does not verify with key " + kp.key_id, 0), 0u)
        << st.message();
  }
  EXPECT_FALSE(v.verify(kBundle + "\n", sig).ok());  // exact bytes: a newline more fails
  EXPECT_FALSE(v.verify(kBundle.substr(1), sig).ok());
  // A flipped bit of the signature itself.
  Result<Signature> parsed = parse_signature(sig);
  ASSERT_TRUE(parsed.ok());
  Signature flipped = parsed.value();
  flipped.bytes[10] = static_cast<char>(flipped.bytes[10] ^ 1);
  EXPECT_FALSE(v.verify(kBundle, format_signature(flipped)).ok());
  EXPECT_EQ(format_signature(parsed.value()), sig);
}

TEST(Signature, TheWrongKeyAndUnknownKeyIdsAreRefused) {
  const KeyPair a = new_pair(), b = new_pair();
  ASSERT_NE(a.key_id, b.key_id);
  const BundleVerifier only_a = verifier({a.public_key});
  // Signed by b: its key id is not configured.
  Status st = only_a.verify(kBundle, signed_by(b, kBundle));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "signature names key id " + b.key_id +
                              ", which is not a configured public key (" + a.key_id + ")");
  // b's signature bytes under a's key id: a's key does not verify them.
  Result<Signature> sb = parse_signature(signed_by(b, kBundle));
  ASSERT_TRUE(sb.ok());
  Signature forged = sb.value();
  forged.key_id = a.key_id;
  st = only_a.verify(kBundle, format_signature(forged));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("signature does not verify with key " + a.key_id, 0), 0u);
  // A made-up key id.
  st = only_a.verify(kBundle, "keyid=0123456789abcdef, sig=" + base64_encode(sb.value().bytes));
  EXPECT_NE(st.message().find("names key id 0123456789abcdef"), std::string::npos);
}

TEST(Signature, KeyRotationAcceptsEveryConfiguredKey) {
  const KeyPair old_key = new_pair(), new_key = new_pair();
  const BundleVerifier both = verifier({old_key.public_key, new_key.public_key});
  EXPECT_TRUE(both.verify(kBundle, signed_by(old_key, kBundle)).ok());
  EXPECT_TRUE(both.verify(kBundle, signed_by(new_key, kBundle)).ok());
  const BundleVerifier rotated = verifier({new_key.public_key});
  EXPECT_FALSE(rotated.verify(kBundle, signed_by(old_key, kBundle)).ok());
  EXPECT_TRUE(rotated.verify(kBundle, signed_by(new_key, kBundle)).ok());
  ASSERT_EQ(both.keys().size(), 2u);
  EXPECT_EQ(both.keys()[1].id, new_key.key_id);
}

TEST(Signature, MalformedSignaturesSayWhatIsWrong) {
  const KeyPair kp = new_pair();
  const BundleVerifier v = verifier({kp.public_key});
  const std::string sig64 = base64_encode(std::string(64, 's'));
  struct Case {
    std::string text, message;
  } cases[] = {
      {"", "signature missing"},
      {" \t\r\n", "signature missing"},
      {sig64, "signature malformed: expected \"keyid=<16 hex digits>, sig=<base64 of 64 bytes>\""},
      {"keyid=" + kp.key_id,
       "signature malformed: expected \"keyid=<16 hex digits>, "
       "sig=<base64 of 64 bytes>\" (sig is missing)"},
      {"sig=" + sig64,
       "signature malformed: expected \"keyid=<16 hex digits>, "
       "sig=<base64 of 64 bytes>\" (keyid is missing)"},
      {"keyid=ABCDEF0123456789, sig=" + sig64,
       "signature malformed: keyid must be 16 lowercase hex digits"},
      {"keyid=abc, sig=" + sig64, "signature malformed: keyid must be 16 lowercase hex digits"},
      {"keyid=" + kp.key_id + ", sig=@@@@", "signature malformed: sig is not base64"},
      {"keyid=" + kp.key_id + ", sig=" + sig64.substr(0, sig64.size() - 2),
       "signature malformed: sig is not base64"},  // padding missing
      {"keyid=" + kp.key_id + ", sig=" + sig64.substr(0, 40) + " " + sig64.substr(40),
       "signature malformed: sig is not base64"},
      {"keyid=" + kp.key_id + ", sig=" + base64_encode(std::string(63, 's')),
       "signature malformed: sig must be 64 bytes, got 63"},
      {"keyid=" + kp.key_id + ", sig=" + base64_encode(std::string(65, 's')),
       "signature malformed: sig must be 64 bytes, got 65"},
      {"keyid=" + kp.key_id + ", sig=" + sig64 + ", alg=ed25519",
       "signature malformed: expected \"keyid=<16 hex digits>, sig=<base64 of 64 bytes>\" (field "
       "\"alg\" is unknown or repeated)"},
      {"keyid=" + kp.key_id + ", keyid=" + kp.key_id + ", sig=" + sig64,
       "(field \"keyid\" is unknown or repeated)"},
      {"keyid=" + kp.key_id + ", sig=" + sig64 + ",", "signature malformed: expected"},
  };
  for (const Case& c : cases) {
    Status st = v.verify(kBundle, c.text);
    ASSERT_FALSE(st.ok()) << c.text;
    EXPECT_NE(st.message().find(c.message), std::string::npos)
        << "text: " << c.text << "\nmessage: " << st.message();
  }
  // Field order and spacing are free.
  const std::string good = signed_by(kp, kBundle);
  Result<Signature> p = parse_signature(good);
  ASSERT_TRUE(p.ok());
  const std::string sig_b64 = base64_encode(p.value().bytes);
  EXPECT_TRUE(v.verify(kBundle, "sig=" + sig_b64 + ",keyid=" + kp.key_id).ok());
  EXPECT_TRUE(v.verify(kBundle, "keyid=" + kp.key_id + " ,\tsig=" + sig_b64).ok());
}

TEST(Signature, PublicKeysMustBeBase64OfThirtyTwoBytes) {
  EXPECT_TRUE(parse_public_key(kRfcPublic).ok());
  EXPECT_TRUE(parse_public_key(std::string(" ") + kRfcPublic + "\n").ok());
  Result<PublicKey> r = parse_public_key("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo");  // no '='
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not base64"), std::string::npos);
  for (size_t n : {0, 16, 31, 33, 64}) {
    Result<PublicKey> k = parse_public_key(base64_encode(std::string(n, 'p')));
    ASSERT_FALSE(k.ok()) << n;
    EXPECT_NE(k.status().message().find("must be 32 bytes, got " + std::to_string(n)),
              std::string::npos)
        << k.status().message();
  }
  Result<BundleVerifier> v = BundleVerifier::create({kRfcPublic, "no key!"});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message().rfind("[1]: not base64", 0), 0u) << v.status().message();
}

TEST(Signature, Base64IsStrict) {
  std::string out;
  EXPECT_TRUE(base64_decode("", out));
  EXPECT_TRUE(base64_decode("QQ==", out));
  EXPECT_EQ(out, "A");
  EXPECT_TRUE(base64_decode("QUJD", out));
  EXPECT_EQ(out, "ABC");
  for (const char* bad : {"QQ", "QQ=", "Q===", "QQ==\n", " QQ==", "QQ==QQ==", "QU-D", "QU_D",
                          "QUJD=", "====", "QQ=A"}) {
    EXPECT_FALSE(base64_decode(bad, out)) << bad;
  }
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
    return s;
  }();
  ASSERT_TRUE(base64_decode(base64_encode(all), out));
  EXPECT_EQ(out, all);
}

TEST(Signature, KeysFileBundlePublicKeys) {
  const KeyPair a = new_pair(), b = new_pair();
  RateLimit limit;
  Result<Sites> ok = parse_sites(R"({"sites":[{"id":"shop","write_keys":["pk_shop_1"],
      "bundle_public_keys":[")" + a.public_key +
                                     R"(", ")" + b.public_key +
                                     R"("]},{"id":"blog","write_keys":["pk_blog_1"]}]})",
                                 limit);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_TRUE(ok.value().sites[0]->bundle_verifier);
  EXPECT_EQ(ok.value().sites[0]->bundle_verifier->keys().size(), 2u);
  EXPECT_FALSE(ok.value().sites[1]->bundle_verifier);
  // --bundle-public-key: every site without keys of its own.
  Sites sites = ok.take();
  ASSERT_TRUE(set_default_bundle_keys(sites, {b.public_key}).ok());
  EXPECT_EQ(sites.sites[0]->bundle_verifier->keys().size(), 2u);
  ASSERT_TRUE(sites.sites[1]->bundle_verifier);
  EXPECT_EQ(sites.sites[1]->bundle_verifier->keys()[0].id, b.key_id);
  Status flag = set_default_bundle_keys(sites, {"short"});
  EXPECT_EQ(flag.message().rfind("--bundle-public-key[0]: not base64", 0), 0u) << flag.message();

  struct Case {
    std::string keys, message;
  } cases[] = {
      {"[]", "keys file: sites[0].bundle_public_keys: must list at least one"},
      {"\"" + a.public_key + "\"", "keys file: sites[0].bundle_public_keys: must be an array"},
      {"[\"" + a.public_key + "\", \"AAAA\"]",
       "keys file: sites[0].bundle_public_keys[1]: an Ed25519 public key must be 32 bytes, got 3"},
      {"[\"not a key\"]", "keys file: sites[0].bundle_public_keys[0]: not base64"},
      {"[7]", "keys file: sites[0].bundle_public_keys[0]: must be a non-empty string"},
  };
  for (const Case& c : cases) {
    Result<Sites> r =
        parse_sites(R"({"sites":[{"id":"shop","write_keys":["pk_shop_1"],"bundle_public_keys":)" +
                        c.keys + "}]}",
                    limit);
    ASSERT_FALSE(r.ok()) << c.keys;
    EXPECT_EQ(r.status().message().rfind(c.message, 0), 0u) << r.status().message();
  }
}

// ---- the store keeps a version's signature; a schema-2 file is migrated

template <typename T, typename F>
Result<T> wait(F start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

class SignedStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("pz-sig-test-" + std::to_string(::getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<Store> open() {
    Result<std::unique_ptr<Store>> s = open_sqlite_store(dir_.string(), nullptr);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? s.take() : nullptr;
  }
  fs::path dir_;
};

TEST_F(SignedStoreTest, AVersionKeepsItsSignatureAcrossRollbackAndReopen) {
  std::unique_ptr<Store> store = open();
  ASSERT_TRUE(store);
  auto put = [&](const std::string& body, const std::string& sig) {
    BundleVersion v{0, "etag-" + body, body, 1, body};
    v.signature = sig;
    return wait<BundleVersion>(
        [&](Done<BundleVersion> d) { store->put_bundle("shop", std::move(v), std::move(d)); });
  };
  ASSERT_TRUE(put("one", "keyid=0000000000000001, sig=A").ok());
  Result<BundleVersion> two = put("two", "");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two.value().signature, "");
  Result<BundleVersion> back = wait<BundleVersion>(
      [&](Done<BundleVersion> d) { store->activate_bundle("shop", 0, std::move(d)); });
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().body, "one");
  EXPECT_EQ(back.value().signature, "keyid=0000000000000001, sig=A");
  store->close();
  store.reset();
  store = open();
  ASSERT_TRUE(store);
  Result<std::optional<BundleVersion>> active = store->active_bundle("shop");
  ASSERT_TRUE(active.ok() && active.value().has_value());
  EXPECT_EQ(active.value()->signature, "keyid=0000000000000001, sig=A");
  Result<BundleList> list = store->bundle_versions("shop");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().versions.size(), 2u);
  EXPECT_EQ(list.value().versions[0].signature, "keyid=0000000000000001, sig=A");
  EXPECT_EQ(list.value().versions[1].signature, "");
  store->close();
}

TEST_F(SignedStoreTest, ASchemaTwoFileIsMigratedWithItsBundlesUnsigned) {
  fs::create_directories(dir_);
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "pz.db").c_str(), &h), SQLITE_OK);
  const char* v2 =
      "CREATE TABLE events(seq INTEGER PRIMARY KEY, site TEXT NOT NULL, id TEXT NOT NULL,"
      "  profile TEXT NOT NULL, user TEXT NOT NULL, t INTEGER NOT NULL, received INTEGER NOT NULL,"
      "  body TEXT NOT NULL, UNIQUE(site, id));"
      "CREATE INDEX events_by_profile ON events(site, profile);"
      "CREATE INDEX events_by_user ON events(site, user) WHERE user <> '';"
      "CREATE TABLE profiles(site TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL,"
      "  updated INTEGER NOT NULL, PRIMARY KEY(site, id)) WITHOUT ROWID;"
      "CREATE TABLE aliases(site TEXT NOT NULL, alias TEXT NOT NULL, id TEXT NOT NULL,"
      "  created INTEGER NOT NULL, PRIMARY KEY(site, alias)) WITHOUT ROWID;"
      "CREATE INDEX aliases_by_id ON aliases(site, id);"
      "CREATE TABLE bundles(site TEXT NOT NULL, version INTEGER NOT NULL, etag TEXT NOT NULL,"
      "  bundle_version TEXT NOT NULL, created INTEGER NOT NULL, body TEXT NOT NULL,"
      "  PRIMARY KEY(site, version)) WITHOUT ROWID;"
      "CREATE TABLE active_bundles(site TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL)"
      "  WITHOUT ROWID;"
      "INSERT INTO bundles VALUES('shop', 1, '\"e1\"', 'v1', 5, '{\"version\":\"v1\"}');"
      "INSERT INTO active_bundles VALUES('shop', 1);"
      "PRAGMA user_version=2;";
  ASSERT_EQ(sqlite3_exec(h, v2, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  sqlite3_close(h);

  std::unique_ptr<Store> store = open();
  ASSERT_TRUE(store);
  Result<std::optional<BundleVersion>> active = store->active_bundle("shop");
  ASSERT_TRUE(active.ok() && active.value().has_value());
  EXPECT_EQ(active.value()->body, "{\"version\":\"v1\"}");
  EXPECT_EQ(active.value()->etag, "\"e1\"");
  EXPECT_EQ(active.value()->signature, "");
  BundleVersion next{0, "\"e2\"", "v2", 6, "{\"version\":\"v2\"}"};
  next.signature = "keyid=00000000000000aa, sig=B";
  Result<BundleVersion> put = wait<BundleVersion>(
      [&](Done<BundleVersion> d) { store->put_bundle("shop", next, std::move(d)); });
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_EQ(put.value().version, 2);
  EXPECT_EQ(store->active_bundle("shop").value()->signature, "keyid=00000000000000aa, sig=B");
  store->close();
  store.reset();

  ASSERT_EQ(sqlite3_open((dir_ / "pz.db").c_str(), &h), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), kSchemaVersion);
  sqlite3_finalize(q);
  sqlite3_close(h);
}

}  // namespace
}  // namespace pz::server
