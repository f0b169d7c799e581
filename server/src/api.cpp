#include "api.h"

#include <sys/stat.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>

#include "pz/bundle.h"
#include "pz/crdt.h"
#include "pz/engine.h"
#include "pz/json.h"
#include "pz/logic.h"
#include "pz/murmur3.h"
#include "signature.h"

namespace pz::server {

namespace {

constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxEventsPerBatch = 1000;
constexpr size_t kMaxSlots = 64;

const char kCorsMethods[] = "GET, POST, PUT, DELETE, OPTIONS";
const char kCorsHeaders[] = "authorization, content-type, if-none-match";

std::string quote(const std::string& s) { return to_json(Value::String(s)); }

// The signature a bundle version is stored with (docs/bundle.md "Signed bundles"): on a site
// with bundle_public_keys it must verify over the body; elsewhere one given is only checked for
// its form. The canonical text, "" for none; an error says what is wrong.
Result<std::string> checked_signature(const Site& site, const std::string& body,
                                      const std::string& text) {
  if (site.bundle_verifier) {
    Status st = site.bundle_verifier->verify(body, text);
    if (!st.ok()) {
      if (st.message() == "signature missing") {
        return Status(Code::kInvalidArgument,
                      "signature missing: site " + site.id +
                          " accepts only bundles signed by one of its bundle_public_keys "
                          "(Pz-Signature: keyid=<16 hex digits>, sig=<base64>; `pz sign` makes "
                          "one)");
      }
      return st;
    }
  } else if (text.find_first_not_of(" \t") == std::string::npos) {
    return std::string();
  }
  Result<Signature> sig = parse_signature(text);
  if (!sig.ok()) return sig.status();
  return format_signature(sig.value());
}

std::string error_body(const std::string& code, const std::string& message,
                       const std::string& extra = "") {
  return "{\"error\":" + quote(code) + ",\"message\":" + quote(message) + extra + "}";
}

int http_status(Code code) {
  switch (code) {
    case Code::kInvalidJson:
    case Code::kInvalidArgument:
    case Code::kEvalError:
      return 400;
    case Code::kLimitExceeded:
      return 413;
    case Code::kNotFound:
      return 404;
    case Code::kConflict:
      return 409;
    default:
      return 500;
  }
}

const char* error_code(int status, Code code) {
  switch (status) {
    case 400:
      return code == Code::kInvalidJson ? "invalid_json" : "invalid_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "too_large";
    case 422:
      return "invalid_bundle";
    case 429:
      return "rate_limited";
    case 503:
      return "shutting_down";
    default:
      return "store_error";
  }
}

// A quoted strong ETag over the bytes.
std::string etag_of(const std::string& body) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "\"%08x%08x-%zx\"", murmur3_32(body, 0x70a5),
                murmur3_32(body, 0x1b873593), body.size());
  return buf;
}

bool etag_matches(const std::string& header, const std::string& etag) {
  if (header.empty()) return false;
  std::stringstream ss(header);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.rfind("W/", 0) == 0) item.erase(0, 2);
    if (item == "*" || item == etag) return true;
  }
  return false;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; false on a malformed escape or a NUL byte.
bool url_decode(const std::string& in, std::string& out, bool plus_is_space) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out += c;
  }
  return true;
}

std::string query_param(const std::string& query, const std::string& name) {
  std::stringstream ss(query);
  std::string part;
  while (std::getline(ss, part, '&')) {
    auto eq = part.find('=');
    if (part.substr(0, eq) != name) continue;
    std::string value;
    if (eq != std::string::npos && url_decode(part.substr(eq + 1), value, true)) return value;
    return "";
  }
  return "";
}

bool valid_id(const Value* v) {
  return v != nullptr && v->is_string() && !v->as_string().empty() &&
         v->as_string().size() <= kMaxIdBytes;
}

std::string id_error(const std::string& field) {
  return field + ": must be a non-empty string of at most " + std::to_string(kMaxIdBytes) +
         " bytes";
}

// The import error of a sync state, re-rooted at `field` ("delta.components[0]...").
std::string state_error(const std::string& field, const std::string& message) {
  const std::string prefix = "sync state: ";
  std::string rest = message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
  if (rest.rfind("(state)", 0) == 0) return field + rest.substr(7);
  if (rest.rfind("invalid JSON", 0) == 0 || rest.rfind("must be", 0) == 0) {
    return field + ": " + rest;
  }
  return field + "." + rest;
}

Result<ProfileState> state_or_empty(const std::string& text) {
  if (text.empty()) return ProfileState();
  return import_state(text);
}

// The compiled bundle for (site, etag), per thread: values are reference-counted without atomics
// (pz/value.h), so a compiled bundle never crosses threads.
std::shared_ptr<const Bundle> compiled_bundle(const std::string& site, const std::string& etag,
                                              const std::string& body) {
  thread_local std::unordered_map<std::string, std::shared_ptr<const Bundle>> cache;
  const std::string key = site + '\n' + etag;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto b = std::make_shared<Bundle>();
  std::vector<BundleError> errors;
  if (!compile_bundle(body, *b, errors)) return nullptr;  // stored bundles were validated
  if (cache.size() >= 64) cache.clear();
  cache.emplace(key, b);
  return b;
}

// A copy of `v` that shares no reference-counted part with it (values are reference-counted
// without atomics, pz/value.h: a value handed to another thread must be the only one holding its
// parts).
Value detached(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      return Value::String(v.as_string());
    case Value::Kind::kArray: {
      Array items;
      items.reserve(v.as_array().size());
      for (const Value& item : v.as_array()) items.push_back(detached(item));
      return Value::MakeArray(std::move(items));
    }
    case Value::Kind::kObject: {
      std::vector<Member> members;
      members.reserve(v.as_object().size());
      for (const Member& m : v.as_object()) members.emplace_back(m.first, detached(m.second));
      return Value::MakeObject(std::move(members));
    }
    default:
      return v;  // no reference-counted part
  }
}

// The common sync body, {"id": "...", "delta": {...}, "versions": [...] or null} (members in
// any order, each at most once, versions optional, nothing else; an id of printable ASCII
// without escapes), read straight from the text (read_state_at, read_versions_at). False on
// anything else, valid or not, and on anything the full path would refuse: Api::sync then takes
// the full path, which decides and names the error. When true, the full path would have read the
// same id, delta and versions.
bool read_sync_body(std::string_view b, std::string& id, ProfileState& delta,
                    VersionVector& versions) {
  size_t p = 0;
  const size_t n = b.size();
  auto ws = [&] {
    while (p < n && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t')) ++p;
  };
  auto ch = [&](char c) {
    ws();
    if (p < n && b[p] == c) {
      ++p;
      return true;
    }
    return false;
  };
  // A string of printable ASCII without escapes.
  auto ascii = [&](std::string_view& out) {
    if (!ch('"')) return false;
    const size_t start = p;
    while (p < n && b[p] != '"') {
      const auto c = static_cast<unsigned char>(b[p]);
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
      ++p;
    }
    if (p == n) return false;
    out = b.substr(start, p - start);
    ++p;
    return true;
  };
  bool has_id = false, has_delta = false, has_versions = false;
  if (!ch('{')) return false;
  do {
    std::string_view name;
    if (!ascii(name) || !ch(':')) return false;
    if (name == "id" && !has_id) {
      std::string_view value;
      if (!ascii(value) || value.empty() || value.size() > kMaxIdBytes) return false;
      id.assign(value.data(), value.size());
      has_id = true;
    } else if (name == "delta" && !has_delta) {
      if (!read_state_at(b, p, delta)) return false;
      has_delta = true;
    } else if (name == "versions" && !has_versions) {
      if (!read_versions_at(b, p, versions)) return false;
      has_versions = true;
    } else {
      return false;
    }
  } while (ch(','));
  if (!ch('}')) return false;
  ws();
  return p == n && has_id && has_delta;
}

}  // namespace

// Parsed states of recently synced profiles, each valid while the stored text is the same: a
// sync then merges without reading the stored state again, whichever thread runs it (the one
// that took the request, or the store's writer when it runs the update again). An entry is
// taken out whole and put back after the merge, detached (values are reference-counted without
// atomics, pz/value.h: a state is used by one thread at a time, and shares nothing with another).
class Api::StateCache {
 public:
  // The state stored as `text`, taken out of the cache; false when it has none.
  bool take(const std::string& key, const std::string& text, ProfileState& out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || !it->second.valid || it->second.text != text) return false;
    out = std::move(it->second.state);
    it->second.valid = false;
    it->second.state = ProfileState();
    return true;
  }
  void put(const std::string& key, const std::string& text, ProfileState state) {
    state.user_id.value = detached(state.user_id.value);
    state.consent.value = detached(state.consent.value);
    for (auto& t : state.traits) t.second.value = detached(t.second.value);
    ProfileState old;  // destroyed outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.size() >= kMaxEntries && entries_.find(key) == entries_.end()) entries_.clear();
    Entry& e = entries_[key];
    e.text = text;
    old = std::move(e.state);
    e.state = std::move(state);
    e.valid = true;
  }

 private:
  static constexpr size_t kMaxEntries = 8192;
  struct Entry {
    bool valid = false;
    std::string text;
    ProfileState state;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

namespace {

JsonParser& thread_parser() {
  thread_local JsonParser parser;
  return parser;
}

// Whether an Accept-Encoding header value takes `coding` ("br", "gzip"): listed by name with a
// q-value above 0 (or none), case-insensitively. "*" is not taken as either: a client that
// names no coding gets the file as it is.
bool accepts_encoding(std::string_view header, std::string_view coding) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const size_t semi = item.find(';');
    const std::string_view name = trim(item.substr(0, semi));
    if (name.size() != coding.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size(); ++i) same = same && lower(name[i]) == coding[i];
    if (!same) continue;
    if (semi == std::string_view::npos) return true;
    std::string_view q = trim(item.substr(semi + 1));
    if (q.size() < 2 || lower(q[0]) != 'q' || q[1] != '=') return true;
    q = trim(q.substr(2));
    // q=0, 0.0, 0.00, 0.000: refused; anything else is a preference above 0.
    bool zero = !q.empty() && q[0] == '0';
    for (size_t i = 1; zero && i < q.size(); ++i) zero = q[i] == '.' || q[i] == '0';
    return !zero;
  }
  return false;
}

std::string content_type_of(const std::string& path) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".wasm", "application/wasm"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  for (const auto& [ext, type] : kTypes) {
    const size_t n = std::char_traits<char>::length(ext);
    if (path.size() >= n && path.compare(path.size() - n, n, ext) == 0) return type;
  }
  return "application/octet-stream";
}

}  // namespace

size_t body_limit(const std::string& method, const std::string& path) {
  if (method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "DELETE") {
    return 0;
  }
  if (path == "/v1/collect") return kMaxBatchBytes;
  return 1024 * 1024;
}

struct Api::Call {
  Request req;
  Respond respond;
  std::string route = "not_found";
  const Key* key = nullptr;
  bool cors = false;  // the Origin may read the answer

  void reply(Response r) {
    r.route = route;
    if (key != nullptr) r.site = key->site->id;
    if (cors) {
      r.headers.emplace_back("Access-Control-Allow-Origin", req.origin);
      r.headers.emplace_back("Vary", "Origin");
      r.headers.emplace_back("Access-Control-Expose-Headers", "ETag, Retry-After, Pz-Signature");
    }
    respond(std::move(r));
  }
  void ok(std::string body, int status = 200) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    reply(std::move(r));
  }
  void fail(int status, const std::string& message, Code code = Code::kInvalidArgument,
            const std::string& extra = "") {
    Response r;
    r.status = status;
    r.body = error_body(error_code(status, code), message, extra);
    reply(std::move(r));
  }
  void fail(const Status& st) { fail(http_status(st.code()), st.message(), st.code()); }
  // An error with a code of its own (invalid_signature).
  void fail_as(int status, const char* error, const std::string& message) {
    Response r;
    r.status = status;
    r.body = error_body(error, message);
    reply(std::move(r));
  }
  // The JSON object body, or a 400 naming the byte offset.
  bool object(Value& out) {
    Result<Value> doc = thread_parser().parse(req.body);
    if (!doc.ok()) {
      fail(400, "body: " + doc.status().message(), Code::kInvalidJson);
      return false;
    }
    if (!doc.value().is_object()) {
      fail(400, std::string("body: must be a JSON object, got ") + kind_name(doc.value()));
      return false;
    }
    out = doc.take();
    return true;
  }
};

Api::Api(Sites sites, Store& store, Metrics& metrics, ApiOptions options)
    : sites_(std::move(sites)),
      store_(store),
      metrics_(metrics),
      options_(std::move(options)),
      ip_limiter_(options_.ip_rate_limit, options_.ip_rate_limit * 2),
      states_(std::make_shared<StateCache>()) {
  if (!options_.defer) options_.defer = [](std::function<void()> f) { f(); };
  if (!options_.clock) {
    options_.clock = [] {
      using namespace std::chrono;
      return static_cast<int64_t>(
          duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
    };
  }
}

int64_t Api::now() const { return options_.clock(); }

Status Api::seed_bundles(const std::string& default_file) {
  for (const auto& site : sites_.sites) {
    Result<std::optional<BundleVersion>> stored = store_.active_bundle(site->id);
    if (!stored.ok()) return stored.status();
    if (stored.value().has_value()) {
      const BundleVersion& b = *stored.value();
      if (site->bundle_verifier) {
        Status st = site->bundle_verifier->verify(b.body, b.signature);
        if (!st.ok()) {
          return Status(Code::kInvalidArgument,
                        "site " + site->id + ": the active bundle (version " +
                            std::to_string(b.version) +
                            ") does not pass the site's bundle_public_keys: " + st.message() +
                            ". Keep its key configured until a bundle signed with a current key "
                            "is PUT (docs/bundle.md \"Signed bundles\")");
        }
      }
      set_active(site->id, std::make_shared<ActiveBundle>(ActiveBundle{
                               b.version, b.etag, b.bundle_version, b.body, b.signature}));
      continue;
    }
    const std::string file = site->bundle_file.empty() ? default_file : site->bundle_file;
    if (file.empty()) continue;
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status(Code::kNotFound, "bundle file " + file + ": cannot read it");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string body = ss.str();
    // Its signature, when there is one, is FILE.sig (`pz sign` writes it); on a site with
    // bundle_public_keys it is required and must verify.
    const std::string sig_file = file + ".sig";
    std::string sig_text;
    std::ifstream sig_in(sig_file, std::ios::binary);
    if (sig_in) {
      std::stringstream sig_ss;
      sig_ss << sig_in.rdbuf();
      sig_text = sig_ss.str();
    } else if (site->bundle_verifier) {
      return Status(Code::kInvalidArgument,
                    "bundle file " + file + ": site " + site->id +
                        " accepts only signed bundles (bundle_public_keys), and its signature " +
                        sig_file + " cannot be read (make it with `pz sign --key KEY_FILE " + file +
                        "`)");
    }
    Result<std::string> signature = checked_signature(*site, body, sig_text);
    if (!signature.ok()) {
      return Status(Code::kInvalidArgument,
                    "bundle file " + file + ": " + sig_file + ": " + signature.status().message());
    }
    Bundle compiled;
    std::vector<BundleError> errors;
    if (!compile_bundle(body, compiled, errors)) {
      return Status(Code::kInvalidArgument, "bundle file " + file + ": " + format_errors(errors));
    }
    BundleVersion v;
    v.etag = etag_of(body);
    v.bundle_version = compiled.version;
    v.created = now();
    v.body = body;
    v.signature = signature.take();
    std::promise<Result<BundleVersion>> done;
    auto future = done.get_future();
    store_.put_bundle(site->id, v, [&done](Result<BundleVersion> r) { done.set_value(r); });
    Result<BundleVersion> stored_v = future.get();
    if (!stored_v.ok()) return stored_v.status();
    set_active(site->id,
               std::make_shared<ActiveBundle>(ActiveBundle{stored_v.value().version, v.etag,
                                                           v.bundle_version, body, v.signature}));
  }
  return Status::Ok();
}

std::shared_ptr<const Api::ActiveBundle> Api::active(const std::string& site) {
  if (options_.bundle_refresh_ms > 0) refresh_active(site);
  std::lock_guard<std::mutex> lock(bundles_mu_);
  auto it = bundles_.find(site);
  return it == bundles_.end() ? nullptr : it->second;
}

void Api::set_active(const std::string& site, std::shared_ptr<const ActiveBundle> bundle) {
  std::lock_guard<std::mutex> lock(bundles_mu_);
  bundles_[site] = std::move(bundle);
  ++bundle_checks_[site].changes;
}

// Another server may have activated a bundle (a shared store): read the active one again when
// the last read is older than bundle_refresh_ms. A failed read keeps the one we have; a read
// that a local activation overtook is dropped.
void Api::refresh_active(const std::string& site) {
  using namespace std::chrono;
  const int64_t t = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  uint64_t changes = 0;
  {
    std::lock_guard<std::mutex> lock(bundles_mu_);
    BundleCheck& check = bundle_checks_[site];
    if (check.at != 0 && t - check.at < options_.bundle_refresh_ms) return;
    check.at = t;
    changes = check.changes;
  }
  Result<std::optional<BundleVersion>> stored = store_.active_bundle(site);
  if (!stored.ok() || !stored.value().has_value()) return;
  const BundleVersion& b = *stored.value();
  // A bundle another server activated is verified here too (signed bundles are verified before
  // they are activated anywhere): one that fails keeps the current bundle.
  for (const auto& s : sites_.sites) {
    if (s->id != site || !s->bundle_verifier) continue;
    if (!s->bundle_verifier->verify(b.body, b.signature).ok()) {
      metrics_.bundle_refresh_rejected.fetch_add(1);
      return;
    }
  }
  std::lock_guard<std::mutex> lock(bundles_mu_);
  if (bundle_checks_[site].changes != changes) return;
  auto it = bundles_.find(site);
  if (it != bundles_.end() && it->second->version == b.version && it->second->etag == b.etag) {
    return;
  }
  bundles_[site] = std::make_shared<ActiveBundle>(
      ActiveBundle{b.version, b.etag, b.bundle_version, b.body, b.signature});
}

bool Api::take_token(const Key& key, double& retry_after_s) {
  const RateLimit& rl = key.site->rate_limit;
  if (rl.per_second <= 0) return true;
  using namespace std::chrono;
  const double t = duration<double>(steady_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(buckets_mu_);
  Bucket& b = buckets_[key.key];
  const double burst = std::max(rl.burst, 1.0);
  if (!b.started) {
    b = Bucket{burst, t, true};
  } else {
    b.tokens = std::min(burst, b.tokens + (t - b.at) * rl.per_second);
    b.at = t;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retry_after_s = (1 - b.tokens) / rl.per_second;
  return false;
}

void Api::handle(Request request, Respond respond) {
  auto call = std::make_shared<Call>();
  call->req = std::move(request);
  call->respond = std::move(respond);
  route(call);
}

void Api::route(const CallPtr& call) {
  const Request& req = call->req;
  const std::string& path = req.path;
  const bool v1 = path.rfind("/v1/", 0) == 0;
  if (shutting_down_) {
    call->route = "shutdown";
    return call->fail(503, "the server is shutting down");
  }
  // The per-address limit comes before everything that costs (a key lookup, a body parse), so
  // that a flood without a key, or with many keys, from one address is limited too. Health
  // checks and metrics scrapes are cheap and come from the operator's own probes: not limited.
  if (ip_limiter_.enabled() && path != "/healthz" && path != "/metrics") {
    using namespace std::chrono;
    const double t = duration<double>(steady_clock::now().time_since_epoch()).count();
    double retry_after = 0;
    if (!ip_limiter_.take(req.remote, t, retry_after)) {
      metrics_.rate_limited.fetch_add(1);
      metrics_.ip_rate_limited.fetch_add(1);
      call->route = "rate_limited";
      call->cors = v1 && !req.origin.empty() && sites_.any_allows(req.origin);
      Response r;
      r.status = 429;
      r.body = error_body("rate_limited", "too many requests from this address; retry later");
      r.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(
                                                1, std::llround(std::ceil(retry_after)))));
      return call->reply(std::move(r));
    }
  }
  // CORS preflight: it carries no key, so it is answered for any origin some site allows.
  if (req.method == "OPTIONS") {
    call->route = "preflight";
    if (!v1 || req.origin.empty() || !sites_.any_allows(req.origin)) {
      return call->fail(403, "origin not allowed");
    }
    Response r;
    r.status = 204;
    r.content_type.clear();
    r.headers = {{"Access-Control-Allow-Origin", req.origin},
                 {"Access-Control-Allow-Methods", kCorsMethods},
                 {"Access-Control-Allow-Headers", kCorsHeaders},
                 {"Access-Control-Max-Age", "600"},
                 {"Vary", "Origin"}};
    return call->reply(std::move(r));
  }
  // Errors before the key is known are readable by an origin some site allows.
  call->cors = v1 && !req.origin.empty() && sites_.any_allows(req.origin);
  auto not_allowed = [&](const std::string& list) {
    Response r;
    r.status = 405;
    r.body = error_body("method_not_allowed", req.method + " " + path + ": use " + list);
    r.headers.emplace_back("Allow", list);
    call->reply(std::move(r));
  };
  auto method_is = [&](std::initializer_list<const char*> allowed) {
    std::string list;
    for (const char* m : allowed) {
      if (req.method == m) return true;
      list += (list.empty() ? "" : ", ") + std::string(m);
    }
    not_allowed(list);
    return false;
  };
  if (path == "/healthz") {
    call->route = "healthz";
    if (method_is({"GET", "HEAD"})) call->ok("{\"status\":\"ok\"}");
    return;
  }
  if (path == "/metrics") {
    call->route = "metrics";
    if (!method_is({"GET"})) return;
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.render();
    return call->reply(std::move(r));
  }
  // The keyed endpoints: path, method, route name, the key they need, whether a write key may
  // come in the query string (sendBeacon cannot set headers), the handler.
  struct Endpoint {
    const char* path;
    const char* method;
    const char* route;
    bool secret;
    bool key_in_query;
    void (Api::*handler)(const CallPtr&);
  };
  static const Endpoint kEndpoints[] = {
      {"/v1/collect", "POST", "collect", false, true, &Api::collect},
      {"/v1/sync", "POST", "sync", false, false, &Api::sync},
      {"/v1/identify", "POST", "identify", false, false, &Api::identify},
      {"/v1/decide", "POST", "decide", false, false, &Api::decide},
      {"/v1/bundle", "GET", "bundle", false, true, &Api::get_bundle},
      {"/v1/bundle", "PUT", "bundle", true, false, &Api::put_bundle},
      {"/v1/bundle/versions", "GET", "bundle_versions", true, false, &Api::bundle_versions},
      {"/v1/bundle/rollback", "POST", "bundle_rollback", true, false, &Api::rollback},
  };
  std::string allowed;
  for (const Endpoint& e : kEndpoints) {
    if (path != e.path) continue;
    call->route = e.route;
    if (req.method == e.method) {
      if (authorize(call, e.secret, e.key_in_query)) (this->*e.handler)(call);
      return;
    }
    allowed += std::string(allowed.empty() ? "" : ", ") + e.method;
  }
  if (!allowed.empty()) return not_allowed(allowed);
  const std::string profiles = "/v1/profiles/";
  if (path.rfind(profiles, 0) == 0) {
    call->route = "profiles";
    std::string id;
    if (!url_decode(path.substr(profiles.size()), id, false) || id.empty() ||
        id.size() > kMaxIdBytes) {
      return call->fail(400, "the profile id in the path must be 1 to 128 bytes");
    }
    if (method_is({"GET", "DELETE"}) && authorize(call, true, false)) profile(call, id);
    return;
  }
  if (!v1 && !options_.static_dir.empty() && (req.method == "GET" || req.method == "HEAD")) {
    call->route = "static";
    return serve_static(call);
  }
  call->fail(404, "no such endpoint: " + req.method + " " + path);
}

bool Api::authorize(const CallPtr& call, bool secret, bool key_in_query) {
  const Request& req = call->req;
  std::string key;
  bool from_query = false;
  const std::string bearer = "Bearer ";
  if (req.authorization.size() > bearer.size() &&
      std::equal(bearer.begin(), bearer.end(), req.authorization.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    key = req.authorization.substr(bearer.size());
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
  } else if (key_in_query) {
    key = query_param(req.query, "key");
    from_query = true;
  }
  if (key.empty()) {
    call->fail(401, "a key is required: Authorization: Bearer <key>");
    return false;
  }
  const Key* k = sites_.find(key);
  if (k == nullptr) {
    call->fail(401, "unknown key");
    return false;
  }
  if (k->kind == KeyKind::kSecret && from_query) {
    call->fail(403, "a secret key goes in the Authorization header, never in a URL");
    return false;
  }
  if (k->kind == KeyKind::kSecret && !req.origin.empty()) {
    call->fail(403, "a secret key must not be used from a browser (the request has an Origin)");
    return false;
  }
  if (secret && k->kind != KeyKind::kSecret) {
    call->fail(403, "this needs the site's secret key");
    return false;
  }
  if (!req.origin.empty() && !k->site->allows_origin(req.origin)) {
    call->cors = false;
    call->fail(403, "origin " + req.origin + " is not allowed for this site");
    return false;
  }
  call->key = k;
  call->cors = !req.origin.empty();
  double retry_after = 0;
  if (!take_token(*k, retry_after)) {
    metrics_.rate_limited.fetch_add(1);
    Response r;
    r.status = 429;
    r.body = error_body("rate_limited", "too many requests for this key; retry later");
    r.headers.emplace_back(
        "Retry-After", std::to_string(std::max<int64_t>(1, std::llround(std::ceil(retry_after)))));
    call->reply(std::move(r));
    return false;
  }
  return true;
}

void Api::collect(const CallPtr& call) {
  if (call->req.body.size() > kMaxBatchBytes) {
    return call->fail(
        413, "the batch is " + std::to_string(call->req.body.size()) + " bytes, more than 524288");
  }
  Value body;
  if (!call->object(body)) return;
  const Value* anon = body.find("anonymous_id");
  if (!valid_id(anon)) return call->fail(400, id_error("anonymous_id"));
  const Value* user = body.find("user_id");
  if (user != nullptr && !user->is_nullish() && !valid_id(user)) {
    return call->fail(400, id_error("user_id"));
  }
  const Value* events = body.find("events");
  if (events == nullptr || !events->is_array()) {
    return call->fail(400, "events: must be an array of events");
  }
  const Array& list = events->as_array();
  if (list.size() > kMaxEventsPerBatch) {
    return call->fail(
        413, "events: " + std::to_string(list.size()) + " events, more than 1000 per batch");
  }
  std::vector<StoredEvent> stored;
  stored.reserve(list.size());
  std::string rejected;
  int64_t rejected_count = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = "events[" + std::to_string(i) + "]";
    std::string json = to_json(list[i]);
    if (json.size() > kMaxEventBytes) {
      return call->fail(
          413, at + ": " + std::to_string(json.size()) + " bytes, more than 32768 per event");
    }
    std::string error;
    Result<Event> e = parse_event(list[i]);
    if (!e.ok()) {
      // "event.type must be ..." -> "events[1].type: must be ..."
      error = e.status().message();
      if (error.rfind("event", 0) == 0) {
        const size_t space = error.find(' ');
        error = at + error.substr(5, space - 5) + ":" + error.substr(space);
      }
    } else if (const Value* id = list[i].find("id"); !valid_id(id)) {
      error = at +
              ".id: must be a non-empty string of at most 128 bytes (a unique id per "
              "event; retries are deduplicated by it)";
    }
    if (!error.empty()) {
      rejected += std::string(rejected.empty() ? "" : ",") + "{\"index\":" + std::to_string(i) +
                  ",\"error\":" + quote(error) + "}";
      ++rejected_count;
      continue;
    }
    StoredEvent s;
    s.id = e.value().id;
    s.profile = anon->as_string();
    s.user = user != nullptr && user->is_string() ? user->as_string() : "";
    s.t = e.value().t;
    s.body = std::move(json);
    stored.push_back(std::move(s));
  }
  metrics_.events_rejected.fetch_add(static_cast<uint64_t>(rejected_count));
  auto answer = [call, rejected](int64_t accepted, int64_t duplicates) {
    call->ok("{\"accepted\":" + std::to_string(accepted) +
             ",\"duplicates\":" + std::to_string(duplicates) + ",\"rejected\":[" + rejected + "]}");
  };
  if (stored.empty()) return answer(0, 0);
  store_.append_events(
      call->key->site->id, std::move(stored), now(), [this, call, answer](Result<CollectResult> r) {
        if (!r.ok()) return call->fail(r.status());
        metrics_.events.fetch_add(static_cast<uint64_t>(r.value().accepted));
        metrics_.events_duplicate.fetch_add(static_cast<uint64_t>(r.value().duplicates));
        answer(r.value().accepted, r.value().duplicates);
      });
}

void Api::sync(const CallPtr& call) {
  std::string id;
  ProfileState delta;
  VersionVector device;
  // The common body straight from its text; anything else (and every error) the full way.
  if (!read_sync_body(call->req.body, id, delta, device)) {
    Value body;
    if (!call->object(body)) return;
    const Value* id_v = body.find("id");
    if (!valid_id(id_v)) return call->fail(400, id_error("id"));
    const Value* delta_v = body.find("delta");
    if (delta_v == nullptr || !delta_v->is_object()) {
      return call->fail(400, "delta: must be a sync state object (docs/sync.md)");
    }
    Result<ProfileState> imported = import_state(*delta_v);
    if (!imported.ok()) {
      return call->fail(400, state_error("delta", imported.status().message()));
    }
    if (const Value* v = body.find("versions"); v != nullptr && !v->is_nullish()) {
      Result<VersionVector> parsed = import_versions(to_json(*v), "versions");
      if (!parsed.ok()) return call->fail(400, parsed.status().message());
      device = parsed.take();
    }
    id = id_v->as_string();
    delta = imported.take();
  }
  // The answer's delta and cursor, made with the merge (the update may run more than once: the
  // last run's answer is the one committed).
  auto answer = std::make_shared<std::string>();
  auto incoming = std::make_shared<const ProfileState>(std::move(delta));
  const std::string site = call->key->site->id;
  store_.update_profile(
      site, id,
      [site, incoming, answer, device = std::move(device), states = states_](
          const std::string& resolved, const std::string& current) -> Result<std::string> {
        const std::string key = site + '\n' + resolved;
        ProfileState have;
        if (!current.empty() && !states->take(key, current, have)) {
          Result<ProfileState> parsed = import_state(current);
          if (!parsed.ok()) {
            return Status(Code::kUnavailable,
                          "stored state unreadable: " + parsed.status().message());
          }
          have = parsed.take();
        }
        ProfileState next = merge(std::move(have), *incoming);
        std::string text, delta_text;
        export_state_and_delta(next, device, text, delta_text);
        std::string& a = *answer;
        a.clear();
        a.reserve(delta_text.size() + 64 * next.components.size() + 32);
        a += ",\"delta\":";
        a += delta_text;
        a += ",\"cursor\":";
        a += export_versions(versions(next));
        a += '}';
        states->put(key, text, std::move(next));
        return text;
      },
      now(),
      [this, call, answer](Result<ProfileUpdate> r) {
        if (!r.ok()) return call->fail(r.status());
        metrics_.syncs.fetch_add(1);
        // Answered on the store's thread, not deferred: the answer is one copy, cheaper than a
        // hop to an HTTP thread (the session posts its write to its own strand anyway).
        std::string body = "{\"id\":" + quote(r.value().id);
        body += *answer;
        call->ok(std::move(body));
      });
}

void Api::identify(const CallPtr& call) {
  Value body;
  if (!call->object(body)) return;
  const Value* anon = body.find("anonymous_id");
  const Value* user = body.find("user_id");
  if (!valid_id(anon)) return call->fail(400, id_error("anonymous_id"));
  if (!valid_id(user)) return call->fail(400, id_error("user_id"));
  store_.link(
      call->key->site->id, anon->as_string(), user->as_string(),
      [](const std::string& user_state, const std::string& anon_state) -> Result<std::string> {
        Result<ProfileState> u = state_or_empty(user_state);
        Result<ProfileState> a = state_or_empty(anon_state);
        if (!u.ok() || !a.ok()) {
          return Status(Code::kUnavailable,
                        "stored state unreadable: " + (u.ok() ? a : u).status().message());
        }
        return export_state(merge(u.value(), a.value()));
      },
      now(),
      [this, call](Result<LinkResult> r) {
        if (!r.ok()) return call->fail(r.status());
        if (r.value().merged) metrics_.identifies.fetch_add(1);
        call->ok("{\"id\":" + quote(r.value().id) +
                 ",\"merged\":" + (r.value().merged ? "true" : "false") + "}");
      });
}

void Api::decide(const CallPtr& call) {
  Value body;
  if (!call->object(body)) return;
  const Value* id = body.find("id");
  if (!valid_id(id)) return call->fail(400, id_error("id"));
  const Value* slots_v = body.find("slots");
  if (slots_v == nullptr || !slots_v->is_array() || slots_v->as_array().empty() ||
      slots_v->as_array().size() > kMaxSlots) {
    return call->fail(400, "slots: must be an array of 1 to 64 slot names");
  }
  std::vector<std::string> slots;
  for (size_t i = 0; i < slots_v->as_array().size(); ++i) {
    const Value& s = slots_v->as_array()[i];
    if (!s.is_string() || s.as_string().empty()) {
      return call->fail(400, "slots[" + std::to_string(i) + "]: must be a slot name");
    }
    slots.push_back(s.as_string());
  }
  Value page, context, consent;
  for (auto [name, out] :
       {std::pair{"page", &page}, std::pair{"context", &context}, std::pair{"consent", &consent}}) {
    const Value* v = body.find(name);
    if (v == nullptr || v->is_undefined()) continue;
    if (!v->is_object()) {
      return call->fail(400, std::string(name) + ": must be an object, got " + kind_name(*v));
    }
    *out = *v;
  }
  int64_t at = now();
  if (const Value* t = body.find("now"); t != nullptr) {
    if (!t->is_number() || !std::isfinite(t->as_number()) || std::fabs(t->as_number()) > 8.64e15) {
      return call->fail(400, "now: must be a time in ms since the epoch");
    }
    at = static_cast<int64_t>(std::floor(t->as_number()));
  }
  const Value* why_v = body.find("why");
  const bool with_why = why_v != nullptr && truthy(*why_v);

  std::shared_ptr<const ActiveBundle> active_bundle = active(call->key->site->id);
  if (!active_bundle) return call->fail(404, "this site has no bundle yet (PUT /v1/bundle)");
  std::shared_ptr<const Bundle> compiled =
      compiled_bundle(call->key->site->id, active_bundle->etag, active_bundle->body);
  if (!compiled) return call->fail(500, "the active bundle does not compile", Code::kUnavailable);

  Result<std::optional<ProfileUpdate>> stored =
      store_.get_state(call->key->site->id, id->as_string());
  if (!stored.ok()) return call->fail(stored.status());
  Engine engine;
  engine.load_bundle(compiled);
  engine.set_device_id("server");
  std::string resolved = id->as_string();
  if (stored.value().has_value()) {
    resolved = stored.value()->id;
    Status st = engine.merge_state(stored.value()->state, at);
    if (!st.ok()) {
      return call->fail(500, "stored state unreadable: " + st.message(), Code::kUnavailable);
    }
  }
  // The anonymous id seeds holdout and experiment buckets, as on the device.
  engine.set_anonymous_id(id->as_string());
  if (consent.is_object()) {
    Status st = engine.consent(consent, at);
    if (!st.ok()) return call->fail(400, "consent: " + st.message());
  }
  if (context.is_object()) {
    Status st = engine.set_context(context);
    if (!st.ok()) return call->fail(400, "context: " + st.message());
  }
  engine.evaluate(at, page);
  std::vector<Decision> decisions = engine.decide(slots, at, page, with_why);
  Array out;
  for (Decision& d : decisions) {
    std::vector<Member> m;
    m.emplace_back("slot", Value::String(d.slot));
    m.emplace_back("action", d.action.empty() ? Value::Null() : Value::String(d.action));
    m.emplace_back("content", d.content.is_undefined() ? Value::Null() : d.content);
    if (with_why) m.emplace_back("why", engine.why(d));
    out.push_back(Value::MakeObject(std::move(m)));
  }
  Array segs;
  for (std::string& s : engine.segments()) segs.push_back(Value::String(std::move(s)));
  metrics_.decisions.fetch_add(decisions.size());
  call->ok(to_json(Value::MakeObject({{"id", Value::String(resolved)},
                                      {"segments", Value::MakeArray(std::move(segs))},
                                      {"decisions", Value::MakeArray(std::move(out))}})));
}

void Api::get_bundle(const CallPtr& call) {
  std::shared_ptr<const ActiveBundle> b = active(call->key->site->id);
  if (!b) return call->fail(404, "this site has no bundle yet (PUT /v1/bundle)");
  Response r;
  r.headers = {{"ETag", b->etag}, {"Cache-Control", "no-cache"}};
  if (!b->signature.empty()) r.headers.emplace_back("Pz-Signature", b->signature);
  if (etag_matches(call->req.if_none_match, b->etag)) {
    r.status = 304;
    r.content_type.clear();
  } else {
    r.body = b->body;
  }
  call->reply(std::move(r));
}

void Api::put_bundle(const CallPtr& call) {
  const Site& site_ref = *call->key->site;
  Result<std::string> signature = checked_signature(site_ref, call->req.body, call->req.signature);
  if (!signature.ok()) {
    return call->fail_as(
        422, "invalid_signature",
        "bundle rejected (the active bundle stays): " + signature.status().message());
  }
  Bundle compiled;
  std::vector<BundleError> errors;
  if (!compile_bundle(call->req.body, compiled, errors)) {
    std::string list;
    for (const BundleError& e : errors) {
      list += std::string(list.empty() ? "" : ",") + "{\"path\":" + quote(e.path) +
              ",\"message\":" + quote(e.message) + "}";
    }
    const std::string first =
        errors.empty() ? "invalid bundle"
                       : (errors[0].path.empty() ? "" : errors[0].path + ": ") + errors[0].message;
    return call->fail(422, "bundle rejected (the active bundle stays): " + first,
                      Code::kInvalidArgument, ",\"errors\":[" + list + "]");
  }
  BundleVersion v;
  v.etag = etag_of(call->req.body);
  v.bundle_version = compiled.version;
  v.created = now();
  v.body = call->req.body;
  v.signature = signature.take();
  const std::string site = call->key->site->id;
  if (!begin_bundle_change(call)) return;
  store_.put_bundle(site, std::move(v), activated(call, site));
}

bool Api::begin_bundle_change(const CallPtr& call) {
  const Site& site = *call->key->site;
  if (!site.bundle_verifier) return true;
  std::lock_guard<std::mutex> lock(bundles_mu_);
  if (!bundle_changing_.insert(site.id).second) {
    call->fail(409, "another change of this site's bundle is being written; retry",
               Code::kConflict);
    return false;
  }
  return true;
}

void Api::end_bundle_change(const Site& site) {
  if (!site.bundle_verifier) return;
  std::lock_guard<std::mutex> lock(bundles_mu_);
  bundle_changing_.erase(site.id);
}

Done<BundleVersion> Api::activated(const CallPtr& call, const std::string& site) {
  return [this, call, site](Result<BundleVersion> r) {
    end_bundle_change(*call->key->site);
    if (!r.ok()) return call->fail(r.status());
    const BundleVersion& b = r.value();
    set_active(site, std::make_shared<ActiveBundle>(
                         ActiveBundle{b.version, b.etag, b.bundle_version, b.body, b.signature}));
    metrics_.bundle_updates.fetch_add(1);
    call->ok("{\"version\":" + std::to_string(b.version) + ",\"etag\":" + quote(b.etag) +
             ",\"bundle_version\":" + quote(b.bundle_version) + "}");
  };
}

void Api::bundle_versions(const CallPtr& call) {
  Result<BundleList> list = store_.bundle_versions(call->key->site->id);
  if (!list.ok()) return call->fail(list.status());
  std::string out = "{\"active\":" + std::to_string(list.value().active) + ",\"versions\":[";
  bool first = true;
  for (const BundleVersion& b : list.value().versions) {
    out += std::string(first ? "" : ",") + "{\"version\":" + std::to_string(b.version) +
           ",\"etag\":" + quote(b.etag) + ",\"bundle_version\":" + quote(b.bundle_version) +
           ",\"created\":" + std::to_string(b.created) +
           ",\"signature\":" + (b.signature.empty() ? "null" : quote(b.signature)) + "}";
    first = false;
  }
  call->ok(out + "]}");
}

void Api::rollback(const CallPtr& call) {
  int64_t version = 0;
  if (!call->req.body.empty()) {
    Value body;
    if (!call->object(body)) return;
    if (const Value* v = body.find("version"); v != nullptr) {
      if (!v->is_number() || v->as_number() < 1 || v->as_number() > 9e15 ||
          v->as_number() != std::floor(v->as_number())) {
        return call->fail(400, "version: must be a version number (1, 2, ...)");
      }
      version = static_cast<int64_t>(v->as_number());
    }
  }
  const std::string site = call->key->site->id;
  if (!call->key->site->bundle_verifier) {
    return store_.activate_bundle(site, version, activated(call, site));
  }
  // A signed site re-verifies the version against the current keys before it serves it: the
  // store activates it, and when it does not verify the previous version is activated again
  // (the served bundle never changes meanwhile; other changes wait, begin_bundle_change).
  if (!begin_bundle_change(call)) return;
  std::shared_ptr<const ActiveBundle> previous = active(site);
  store_.activate_bundle(site, version, [this, call, site, previous](Result<BundleVersion> r) {
    if (!r.ok()) return activated(call, site)(std::move(r));
    options_.defer([this, call, site, previous, r = std::move(r)]() mutable {
      Status st = call->key->site->bundle_verifier->verify(r.value().body, r.value().signature);
      if (st.ok()) return activated(call, site)(std::move(r));
      const std::string message = "version " + std::to_string(r.value().version) +
                                  " was not activated (the active bundle stays): " + st.message();
      if (!previous) {
        end_bundle_change(*call->key->site);
        return call->fail_as(422, "invalid_signature", message);
      }
      store_.activate_bundle(site, previous->version,
                             [this, call, message](Result<BundleVersion> back) {
                               end_bundle_change(*call->key->site);
                               if (!back.ok()) return call->fail(back.status());
                               call->fail_as(422, "invalid_signature", message);
                             });
    });
  });
}

void Api::profile(const CallPtr& call, const std::string& id) {
  const std::string site = call->key->site->id;
  if (call->req.method == "GET") {
    Result<std::optional<ProfileRecord>> r = store_.get_profile(site, id);
    if (!r.ok()) return call->fail(r.status());
    if (!r.value().has_value()) return call->fail(404, "no profile with this id");
    const ProfileRecord& p = *r.value();
    std::string aliases;
    for (const std::string& a : p.aliases) aliases += (aliases.empty() ? "" : ",") + quote(a);
    return call->ok("{\"id\":" + quote(p.id) + ",\"aliases\":[" + aliases +
                    "],\"state\":" + p.state + ",\"events\":" + std::to_string(p.events) + "}");
  }
  ProfileState erased;
  erased.erased = true;
  erased.erased_at = now();
  const int64_t at = erased.erased_at;
  store_.erase_profile(
      site, id, export_state(erased), at, [this, call, at](Result<ErasureResult> r) {
        if (!r.ok()) return call->fail(r.status());
        metrics_.erasures.fetch_add(1);
        call->ok("{\"id\":" + quote(r.value().id) + ",\"erased_at\":" + std::to_string(at) +
                 ",\"events_deleted\":" + std::to_string(r.value().events_deleted) + "}");
      });
}

void Api::serve_static(const CallPtr& call) {
  std::string rel;
  if (!url_decode(call->req.path, rel, false) || rel.empty() || rel[0] != '/') {
    return call->fail(400, "malformed path");
  }
  // No segment may be "." or ".." (the path never leaves the directory).
  std::stringstream ss(rel.substr(1));
  std::string seg;
  while (std::getline(ss, seg, '/')) {
    if (seg == "." || seg == ".." || seg.find('\\') != std::string::npos) {
      return call->fail(404, "no such file");
    }
  }
  std::string file = options_.static_dir + rel;
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (file.back() != '/') file += '/';
    file += "index.html";
  }
  auto regular = [&st](const std::string& f) {
    return ::stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (64 << 20);
  };
  if (!regular(file)) return call->fail(404, "no such file");
  // A precompressed copy beside the file (FILE.br, FILE.gz, as scripts/build-js.mjs writes for
  // the runtime and the wasm) goes out instead when the client takes that encoding.
  Response r;
  r.content_type = content_type_of(file);
  std::string served = file;
  bool has_encoded = false;
  static const std::pair<const char*, const char*> kEncoded[] = {{"br", ".br"}, {"gzip", ".gz"}};
  for (const auto& [coding, ext] : kEncoded) {
    const std::string sibling = file + ext;
    if (!regular(sibling)) continue;
    has_encoded = true;
    if (served == file && accepts_encoding(call->req.accept_encoding, coding)) {
      served = sibling;
      r.headers.emplace_back("Content-Encoding", coding);
    }
  }
  if (has_encoded) r.headers.emplace_back("Vary", "Accept-Encoding");
  std::ifstream in(served, std::ios::binary);
  if (!in) return call->fail(404, "no such file");
  std::stringstream data;
  data << in.rdbuf();
  // Revalidated on every use (no-cache) against a strong ETag (one per encoding): an unchanged
  // file costs a 304.
  r.body = data.str();
  const std::string etag = etag_of(r.body);
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("ETag", etag);
  if (etag_matches(call->req.if_none_match, etag)) {
    r.status = 304;
    r.body.clear();
    r.content_type.clear();
  }
  call->reply(std::move(r));
}

}  // namespace pz::server
