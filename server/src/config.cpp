#include "config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <tuple>

#include "pz/json.h"
#include "pz/value.h"

namespace pz::server {

const char kUsage[] =
    "usage: pz-server [--port N] [--bind ADDR] [--data DIR] [--keys FILE] [--bundle FILE]\n"
    "                 [--static DIR] [--threads N] [--rate-limit N] [--retention-days N]\n"
    "Each flag has an environment variable PZ_PORT, PZ_BIND, PZ_DATA, PZ_KEYS, PZ_BUNDLE,\n"
    "PZ_STATIC, PZ_THREADS, PZ_RATE_LIMIT, PZ_RETENTION_DAYS. See docs/server.md.\n";

bool Site::allows_origin(const std::string& origin) const {
  return std::any_of(origins.begin(), origins.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
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
               {"--retention-days", "PZ_RETENTION_DAYS", {}, false}};
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
    int n = 0;
    PZ_TRY(integer(f.flag, f.value, 0, 100000000, n));
    o.rate_limit = n;
  }
  if (const Flag& f = get("--bind"); f.set) o.bind = f.value;
  if (const Flag& f = get("--data"); f.set) o.data_dir = f.value;
  if (const Flag& f = get("--keys"); f.set) o.keys_file = f.value;
  if (const Flag& f = get("--bundle"); f.set) o.bundle_file = f.value;
  if (const Flag& f = get("--static"); f.set) o.static_dir = f.value;
  for (const std::string* s : {&o.bind, &o.data_dir}) {
    if (s->empty()) return Status(Code::kInvalidArgument, "--bind and --data must not be empty");
  }
  return o;
}

}  // namespace pz::server
