// Server options (flags and PZ_* environment variables) and the sites with their keys
// (docs/server.md "Keys and sites").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "pz/status.h"

namespace pz::server {

class BundleVerifier;  // signature.h

struct RateLimit {
  double per_second = 1000;  // requests per second per key; 0: unlimited
  double burst = 2000;
};

struct Site {
  std::string id;
  std::vector<std::string> write_keys, secret_keys;
  std::vector<std::string> origins;  // "*" allows every origin
  RateLimit rate_limit;
  std::string bundle_file;  // the bundle the site starts with when the store has none
  // Signed bundles (docs/bundle.md): with keys, every bundle the site activates must carry a
  // signature by one of them. Null: bundles need no signature.
  std::shared_ptr<const BundleVerifier> bundle_verifier;

  bool allows_origin(const std::string& origin) const;
};

enum class KeyKind : unsigned char { kWrite, kSecret };

struct Key {
  const Site* site;
  KeyKind kind;
  std::string key;
};

struct Sites {
  std::vector<std::unique_ptr<Site>> sites;
  std::unordered_map<std::string, Key> keys;
  bool demo = false;  // the embedded development site

  const Key* find(const std::string& key) const;
  // True when any site allows the origin (CORS preflights carry no key).
  bool any_allows(const std::string& origin) const;
};

// Reads a keys file's JSON; errors name the JSON path (`sites[1].write_keys[0]: ...`). A key may
// belong to one site only.
Result<Sites> parse_sites(const std::string& json, const RateLimit& default_limit);
// The development site: `demo`, write key pk_demo, secret key sk_demo, every origin.
Sites demo_sites(const RateLimit& default_limit);
// Gives every site without `bundle_public_keys` of its own these keys (--bundle-public-key);
// errors name the flag.
Status set_default_bundle_keys(Sites& sites, const std::vector<std::string>& keys);

struct Options {
  int port = 8080;
  std::string bind = "127.0.0.1";
  std::string data_dir = "pz-data";
  std::string keys_file;
  std::string bundle_file;
  std::vector<std::string> bundle_public_keys;  // --bundle-public-key KEY[,KEY...]
  std::string static_dir;
  int threads = 0;  // 0: one per core
  double rate_limit = 1000;
  // Per client address (ip_limit.h), before any key is looked at: requests per second, burst
  // twice that. 0: off (the default: behind a proxy, a load balancer or the edge worker every
  // request comes from the proxy's address; docs/server.md "Rate limits").
  double ip_rate_limit = 0;
  // A request (headers and body) must arrive whole within this time from its first byte (from
  // the connection's start for the first request), and an answer must be taken by the client
  // within it; else the connection is closed.
  int read_timeout_ms = 30000;
  // A keep-alive connection with no request for this long is closed.
  int idle_timeout_ms = 75000;
  int retention_days = 30;
  std::string store = "sqlite";          // --store sqlite|redis
  std::string redis = "127.0.0.1:6379";  // --redis HOST:PORT[,...]: seed nodes (checked)
  bool help = false;
};

// Flags override PZ_* variables, which override the defaults. Errors name the flag.
Result<Options> parse_options(int argc, char** argv);
extern const char kUsage[];

}  // namespace pz::server
