#include "config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <tuple>

#include "pz/json.h"
#include "pz/value.h"
#include "redis_store.h"
#include "signature.h"

namespace pz::server {

const char kUsage[] =
    "usage: pz-server [--port N] [--bind ADDR] [--data DIR] [--keys FILE] [--bundle FILE]\n"
    "                 [--static DIR] [--threads N] [--rate-limit N] [--retention-days N]\n"
    "                 [--ip-rate-limit N] [--read-timeout-ms N] [--idle-timeout-ms N]\n"
    "                 [--bundle-public-key KEY[,KEY...]]\n"
    "                 [--store sqlite|redis] [--redis HOST:PORT[,HOST:PORT...]]\n"
    "Each flag has an environment variable PZ_PORT, PZ_BIND, PZ_DATA, PZ_KEYS, PZ_BUNDLE,\n"
    "PZ_STATIC, PZ_THREADS, PZ_RATE_LIMIT, PZ_RETENTION_DAYS, PZ_BUNDLE_PUBLIC_KEY,\n"
    "PZ_STORE, PZ_REDIS, PZ_IP_RATE_LIMIT, PZ_READ_TIMEOUT_MS, PZ_IDLE_TIMEOUT_MS.\n"
    "See docs/server.md.\n";

namespace {

// Whether `origin` can be a browser's Origin header: "null" or scheme://host[:port], printable
// ASCII, at most 512 bytes. "*" allows any origin, never any text: answers echo the origin in
// Access-Control-Allow-Origin, and an 8 KB "origin" made answers that clients refuse to parse
// (found by fuzz_http).
bool plausible_origin(const std::string& origin) {
  if (origin == "null") return true;
  if (origin.empty() || origin.size() > 512) return false;
  const size_t sep = origin.find("://");
  if (sep == std::string::npos || sep == 0 || sep + 3 == origin.size()) return false;
  for (size_t i = 0; i < origin.size(); ++i) {
    const char c = origin[i];
    if (c <= ' ' || c > '~') return false;
    if (i >= sep + 3 && (c == '/' || c == '?' || c == '#')) return false;
  }
  return true;
}

}  // namespace

bool Site::allows_origin(const std::string& origin) const {
  return std::any_of(origins.begin(), origins.end(), [&](const std::string& o) {
    return o == "*" ? plausible_origin(origin) : o == origin;
  });
}

const Key* Sites::find(const std::string& key) const {
  auto it = keys.find(key);
  return it == keys.end() ? nullptr : &it->second;
}

bool Sites::any_allows(const std::string& origin) const {
  return std::any_of(sites.begin(), sites.end(),
                     [&](const auto& s) { return s->allows_origin(origin); });
}

namespace {

Status at(const std::string& path, const std::string& what) {
  return Status(Code::kInvalidArgument, "keys file: " + path + ": " + what);
}

Status strings(const Value* v, const std::string& path, std::vector<std::string>& out,
               bool required) {
  if (v == nullptr || v->is_undefined()) {
    return required ? at(path, "is required") : Status::Ok();
  }
  if (!v->is_array()) return at(path, "must be an array of strings");
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const Value& s = v->as_array()[i];
    if (!s.is_string() || s.as_string().empty() || s.as_string().size() > 256) {
      return at(path + "[" + std::to_string(i) + "]",
                "must be a non-empty string of at most 256 bytes");
    }
    out.push_back(s.as_string());
  }
  return Status::Ok();
}

}  // namespace

Result<Sites> parse_sites(const std::string& json, const RateLimit& default_limit) {
  Result<Value> doc = parse_json(json);
  if (!doc.ok()) return Status(Code::kInvalidJson, "keys file: " + doc.status().message());
  const Value* list = doc.value().is_object() ? doc.value().find("sites") : nullptr;
  if (list == nullptr || !list->is_array() || list->as_array().empty()) {
    return at("sites", "must be a non-empty array of sites");
  }
  Sites out;
  for (size_t i = 0; i < list->as_array().size(); ++i) {
    const std::string path = "sites[" + std::to_string(i) + "]";
    const Value& s = list->as_array()[i];
    if (!s.is_object()) return at(path, "must be an object");
    auto site = std::make_unique<Site>();
    const Value* id = s.find("id");
    if (id == nullptr || !id->is_string() || id->as_string().empty() ||
        id->as_string().size() > 64) {
      return at(path + ".id", "must be a non-empty string of at most 64 bytes");
    }
    site->id = id->as_string();
    for (const auto& other : out.sites) {
      if (other->id == site->id) return at(path + ".id", "\"" + site->id + "\" appears twice");
    }
    PZ_TRY(strings(s.find("write_keys"), path + ".write_keys", site->write_keys, true));
    PZ_TRY(strings(s.find("secret_keys"), path + ".secret_keys", site->secret_keys, false));
    PZ_TRY(strings(s.find("origins"), path + ".origins", site->origins, false));
    site->rate_limit = default_limit;
    if (const Value* rl = s.find("rate_limit"); rl != nullptr) {
      if (!rl->is_object()) return at(path + ".rate_limit", "must be an object");
      for (const char* field : {"per_second", "burst"}) {
        const Value* n = rl->find(field);
        if (n == nullptr) continue;
        if (!n->is_number() || !std::isfinite(n->as_number()) || n->as_number() < 0) {
          return at(path + ".rate_limit." + field, "must be a number >= 0");
        }
        (std::string(field) == "burst" ? site->rate_limit.burst : site->rate_limit.per_second) =
            n->as_number();
      }
    }
    if (const Value* b = s.find("bundle"); b != nullptr) {
      if (!b->is_string() || b->as_string().empty()) {
        return at(path + ".bundle", "must be a file name");
      }
      site->bundle_file = b->as_string();
    }
    if (const Value* k = s.find("bundle_public_keys"); k != nullptr) {
      const std::string kpath = path + ".bundle_public_keys";
      std::vector<std::string> keys;
      PZ_TRY(strings(k, kpath, keys, false));
      if (keys.empty()) return at(kpath, "must list at least one base64 Ed25519 public key");
      Result<BundleVerifier> v = BundleVerifier::create(keys);
      if (!v.ok())
        return Status(Code::kInvalidArgument, "keys file: " + kpath + v.status().message());
      site->bundle_verifier = std::make_shared<const BundleVerifier>(v.take());
    }
    for (const auto& [list_name, keys, kind] :
         {std::tuple{"write_keys", &site->write_keys, KeyKind::kWrite},
          std::tuple{"secret_keys", &site->secret_keys, KeyKind::kSecret}}) {
      for (size_t k = 0; k < keys->size(); ++k) {
        const std::string& key = (*keys)[k];
        if (key.size() < 6) {
          return at(path + "." + list_name + "[" + std::to_string(k) + "]",
                    "is too short to be a key (at least 6 bytes)");
        }
        if (!out.keys.emplace(key, Key{site.get(), kind, key}).second) {
          return at(path + "." + list_name + "[" + std::to_string(k) + "]",
                    "this key is already used (a key belongs to one site)");
        }
      }
    }
    out.sites.push_back(std::move(site));
  }
  return out;
}

Sites demo_sites(const RateLimit& default_limit) {
  Sites out;
  auto site = std::make_unique<Site>();
  site->id = "demo";
  site->write_keys = {"pk_demo"};
  site->secret_keys = {"sk_demo"};
  site->origins = {"*"};
  site->rate_limit = default_limit;
  out.keys.emplace("pk_demo", Key{site.get(), KeyKind::kWrite, "pk_demo"});
  out.keys.emplace("sk_demo", Key{site.get(), KeyKind::kSecret, "sk_demo"});
  out.sites.push_back(std::move(site));
  out.demo = true;
  return out;
}

Status set_default_bundle_keys(Sites& sites, const std::vector<std::string>& keys) {
  if (keys.empty()) return Status::Ok();
  Result<BundleVerifier> v = BundleVerifier::create(keys);
  if (!v.ok()) return Status(Code::kInvalidArgument, "--bundle-public-key" + v.status().message());
  auto shared = std::make_shared<const BundleVerifier>(v.take());
  for (auto& site : sites.sites) {
    if (!site->bundle_verifier) site->bundle_verifier = shared;
  }
  return Status::Ok();
}

namespace {

Status integer(const std::string& name, const std::string& text, long lo, long hi, int& out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    return Status(Code::kInvalidArgument, name + ": expected a whole number from " +
                                              std::to_string(lo) + " to " + std::to_string(hi) +
                                              ", got \"" + text + "\"");
  }
  out = static_cast<int>(v);
  return Status::Ok();
}

// A rate: "N" or "N/s", a whole number from 0 (off) to 100,000,000.
Status per_second(const std::string& name, const std::string& text, double& out) {
  std::string number = text;
  if (number.size() > 2 && number.compare(number.size() - 2, 2, "/s") == 0) {
    number.resize(number.size() - 2);
  }
  int n = 0;
  Status st = integer(name, number, 0, 100000000, n);
  if (!st.ok()) {
    return Status(
        Code::kInvalidArgument,
        name + ": expected requests per second, N or N/s (0 turns it off), got \"" + text + "\"");
  }
  out = n;
  return Status::Ok();
}

}  // namespace

Result<Options> parse_options(int argc, char** argv) {
  Options o;
  struct Flag {
    const char* flag;
    const char* env;
    std::string value = {};
    bool set = false;
  } flags[] = {{"--port", "PZ_PORT", {}, false},
               {"--bind", "PZ_BIND", {}, false},
               {"--data", "PZ_DATA", {}, false},
               {"--keys", "PZ_KEYS", {}, false},
               {"--bundle", "PZ_BUNDLE", {}, false},
               {"--static", "PZ_STATIC", {}, false},
               {"--threads", "PZ_THREADS", {}, false},
               {"--rate-limit", "PZ_RATE_LIMIT", {}, false},
               {"--retention-days", "PZ_RETENTION_DAYS", {}, false},
               {"--bundle-public-key", "PZ_BUNDLE_PUBLIC_KEY", {}, false},
               {"--store", "PZ_STORE", {}, false},
               {"--redis", "PZ_REDIS", {}, false},
               {"--ip-rate-limit", "PZ_IP_RATE_LIMIT", {}, false},
               {"--read-timeout-ms", "PZ_READ_TIMEOUT_MS", {}, false},
               {"--idle-timeout-ms", "PZ_IDLE_TIMEOUT_MS", {}, false}};
  for (Flag& f : flags) {
    if (const char* v = std::getenv(f.env); v != nullptr && *v != '\0') {
      f.value = v;
      f.set = true;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      return o;
    }
    std::string value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    Flag* f = nullptr;
    for (Flag& candidate : flags) {
      if (arg == candidate.flag) f = &candidate;
    }
    if (f == nullptr) return Status(Code::kInvalidArgument, "unknown flag " + arg);
    if (!inline_value) {
      if (i + 1 >= argc) return Status(Code::kInvalidArgument, arg + ": expected a value");
      value = argv[++i];
    }
    f->value = value;
    f->set = true;
  }
  auto get = [&](const char* flag) -> const Flag& {
    for (const Flag& f : flags) {
      if (std::string(f.flag) == flag) return f;
    }
    return flags[0];
  };
  if (const Flag& f = get("--port"); f.set) PZ_TRY(integer(f.flag, f.value, 0, 65535, o.port));
  if (const Flag& f = get("--threads"); f.set) {
    PZ_TRY(integer(f.flag, f.value, 0, 256, o.threads));
  }
  if (const Flag& f = get("--retention-days"); f.set) {
    PZ_TRY(integer(f.flag, f.value, 7, 3650, o.retention_days));
  }
  if (const Flag& f = get("--rate-limit"); f.set) {
    PZ_TRY(per_second(f.flag, f.value, o.rate_limit));
  }
  if (const Flag& f = get("--ip-rate-limit"); f.set) {
    PZ_TRY(per_second(f.flag, f.value, o.ip_rate_limit));
  }
  if (const Flag& f = get("--read-timeout-ms"); f.set) {
    PZ_TRY(integer(f.flag, f.value, 100, 3600000, o.read_timeout_ms));
  }
  if (const Flag& f = get("--idle-timeout-ms"); f.set) {
    PZ_TRY(integer(f.flag, f.value, 100, 3600000, o.idle_timeout_ms));
  }
  if (const Flag& f = get("--bind"); f.set) o.bind = f.value;
  if (const Flag& f = get("--data"); f.set) o.data_dir = f.value;
  if (const Flag& f = get("--keys"); f.set) o.keys_file = f.value;
  if (const Flag& f = get("--bundle"); f.set) o.bundle_file = f.value;
  if (const Flag& f = get("--static"); f.set) o.static_dir = f.value;
  if (const Flag& f = get("--store"); f.set) {
    if (f.value != "sqlite" && f.value != "redis") {
      return Status(Code::kInvalidArgument,
                    "--store: expected sqlite or redis, got \"" + f.value + "\"");
    }
    o.store = f.value;
  }
  if (const Flag& f = get("--redis"); f.set) {
    Result<std::vector<RedisAddress>> seeds = parse_redis_addresses(f.value);
    if (!seeds.ok()) return Status(Code::kInvalidArgument, "--redis: " + seeds.status().message());
    o.redis = f.value;
  }
  if (const Flag& f = get("--bundle-public-key"); f.set) {
    std::stringstream list(f.value);
    std::string key;
    while (std::getline(list, key, ',')) {
      key.erase(0, key.find_first_not_of(" \t"));
      key.erase(key.find_last_not_of(" \t") + 1);
      if (!key.empty()) o.bundle_public_keys.push_back(key);
    }
  }
  for (const std::string* s : {&o.bind, &o.data_dir}) {
    if (s->empty()) return Status(Code::kInvalidArgument, "--bind and --data must not be empty");
  }
  return o;
}

}  // namespace pz::server
