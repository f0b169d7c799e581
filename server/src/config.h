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

struct Options {
  int port = 8080;
  std::string bind = "127.0.0.1";
  std::string data_dir = "pz-data";
  std::string keys_file;
  std::string bundle_file;
  std::string static_dir;
  int threads = 0;  // 0: one per core
  double rate_limit = 1000;
  int retention_days = 30;
  bool help = false;
};

// Flags override PZ_* variables, which override the defaults. Errors name the flag.
Result<Options> parse_options(int argc, char** argv);
extern const char kUsage[];

}  // namespace pz::server
