#include "pz/crdt.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "pz/jsnum.h"
#include "pz/json.h"
#include "pz/text.h"

namespace pz {

Hlc Hlc::next(const Hlc& last, int64_t now, std::string device) {
  Hlc h;
  h.device = std::move(device);
  if (now > last.ms) {
    h.ms = now;
    h.counter = 0;
  } else {
    h.ms = last.ms;
    h.counter = last.counter + 1;
  }
  return h;
}

int compare(const Hlc& a, const Hlc& b) {
  if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.counter != b.counter) return a.counter < b.counter ? -1 : 1;
  return a.device.compare(b.device) < 0 ? -1 : a.device == b.device ? 0 : 1;
}

namespace {

// ---- canonical serialization (also the tie-break of last resort) -------------------------

// Written straight into the output (no Value tree: a sync exports the whole state twice, and
// building it was most of a sync's allocations). Byte for byte what JSON.stringify gives for the
// objects described in docs/sync.md.
Value num(double d) { return Value::Number(d); }

void put_num(std::string& o, double d) {
  if (std::isfinite(d)) {
    append_js_number(o, d);
  } else {
    o += "null";
  }
}
void put_i64(std::string& o, int64_t n) { put_num(o, static_cast<double>(n)); }

// [value, ms, counter, device] without the brackets.
void put_stamp_items(std::string& o, const LwwRegister& r) {
  append_json(o, r.value);
  o += ',';
  put_i64(o, r.stamp.ms);
  o += ',';
  put_num(o, r.stamp.counter);
  o += ',';
  append_json_string(o, r.stamp.device);
}

void put_buckets(std::string& o, const std::vector<Bucket>& bs) {
  o += '[';
  for (size_t i = 0; i < bs.size(); ++i) {
    if (i > 0) o += ',';
    o += '[';
    put_i64(o, bs[i].index);
    o += ',';
    put_num(o, bs[i].value);
    o += ']';
  }
  o += ']';
}

void put_series(std::string& o, const Series& s) {
  o += "{\"total\":";
  put_num(o, s.total);
  o += ",\"last\":";
  if (s.seen) {
    put_i64(o, s.last_t);
  } else {
    o += "null";
  }
  o += ",\"hourly\":";
  put_buckets(o, s.hourly);
  o += ",\"daily\":";
  put_buckets(o, s.daily);
  o += '}';
}

void put_exposure(std::string& o, const Exposure& e) {
  o += '[';
  for (int64_t n : {e.impressions, e.clicks, e.conversions, e.dismisses, e.day, e.day_impressions,
                    e.session, e.session_impressions}) {
    put_i64(o, n);
    o += ',';
  }
  if (e.dismissed) {
    put_i64(o, e.last_dismiss);
  } else {
    o += "null";
  }
  o += ']';
}

template <typename T, typename F>
void put_named_list(std::string& o, const std::vector<std::pair<std::string, T>>& items,
                    F put_item) {
  o += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) o += ',';
    o += '[';
    append_json_string(o, items[i].first);
    o += ',';
    put_item(o, items[i].second);
    o += ']';
  }
  o += ']';
}

void put_component(std::string& o, const Component& c) {
  o += "{\"device\":";
  append_json_string(o, c.device);
  o += ",\"epoch\":";
  put_i64(o, c.epoch);
  o += ",\"version\":";
  put_num(o, static_cast<double>(c.version));
  o += ",\"seen\":";
  o += c.seen ? "true" : "false";
  o += ",\"first_seen\":";
  put_i64(o, c.first_seen);
  o += ",\"last_seen\":";
  put_i64(o, c.last_seen);
  o += ",\"sessions\":";
  put_i64(o, c.sessions);
  o += ",\"metrics\":";
  put_named_list(o, c.metrics, put_series);
  o += ",\"counts\":";
  put_named_list(o, c.counts, put_series);
  o += ",\"exposures\":";
  put_named_list(o, c.exposures, put_exposure);
  o += '}';
}

// ---- merge ----------------------------------------------------------------------------------

const LwwRegister& lww_max(const LwwRegister& a, const LwwRegister& b) {
  if (!a.set) return b;
  if (!b.set) return a;
  int c = compare(a.stamp, b.stamp);
  if (c != 0) return c > 0 ? a : b;
  // The same stamp twice with different values only comes from a misbehaving writer; decide
  // by the values' JSON so that every replica still decides alike.
  return to_json(a.value) >= to_json(b.value) ? a : b;
}

const Component& component_max(const Component& a, const Component& b) {
  if (a.epoch != b.epoch) return a.epoch > b.epoch ? a : b;
  if (a.version != b.version) return a.version > b.version ? a : b;
  std::string x, y;
  put_component(x, a);
  put_component(y, b);
  return x >= y ? a : b;
}

// Drops what the erasure epoch covers and applies the (deterministic) bounds.
void normalize(ProfileState& s) {
  if (s.erased) {
    auto drop = [&](LwwRegister& r) {
      if (r.set && r.stamp.ms < s.erased_at) r = LwwRegister();
    };
    drop(s.user_id);
    drop(s.consent);
    for (auto& t : s.traits) drop(t.second);
    std::erase_if(s.components, [&](const Component& c) { return c.epoch < s.erased_at; });
  }
  std::erase_if(s.traits, [](const auto& t) { return !t.second.set; });
  if (s.traits.size() > kMaxTraits) {
    std::vector<std::pair<std::string, LwwRegister>> keep = s.traits;
    std::sort(keep.begin(), keep.end(), [](const auto& x, const auto& y) {
      int c = compare(x.second.stamp, y.second.stamp);
      return c != 0 ? c > 0 : x.first < y.first;
    });
    keep.resize(kMaxTraits);
    std::sort(keep.begin(), keep.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    s.traits = std::move(keep);
  }
  if (s.components.size() > kMaxComponents) {
    std::sort(s.components.begin(), s.components.end(), [](const Component& x, const Component& y) {
      return std::tie(x.epoch, x.last_seen, x.device) > std::tie(y.epoch, y.last_seen, y.device);
    });
    s.components.resize(kMaxComponents);
    std::sort(s.components.begin(), s.components.end(),
              [](const Component& x, const Component& y) { return x.device < y.device; });
  }
}

}  // namespace

ProfileState merge(const ProfileState& a, const ProfileState& b) {
  ProfileState out;
  out.erased = a.erased || b.erased;
  out.erased_at = a.erased && b.erased ? std::max(a.erased_at, b.erased_at)
                  : a.erased           ? a.erased_at
                                       : b.erased_at;
  out.user_id = lww_max(a.user_id, b.user_id);
  out.consent = lww_max(a.consent, b.consent);
  // Sorted merges of traits (by key) and components (by device).
  size_t i = 0, j = 0;
  while (i < a.traits.size() || j < b.traits.size()) {
    if (j == b.traits.size() || (i < a.traits.size() && a.traits[i].first < b.traits[j].first)) {
      out.traits.push_back(a.traits[i++]);
    } else if (i == a.traits.size() || b.traits[j].first < a.traits[i].first) {
      out.traits.push_back(b.traits[j++]);
    } else {
      out.traits.emplace_back(a.traits[i].first, lww_max(a.traits[i].second, b.traits[j].second));
      ++i;
      ++j;
    }
  }
  i = j = 0;
  while (i < a.components.size() || j < b.components.size()) {
    if (j == b.components.size() ||
        (i < a.components.size() && a.components[i].device < b.components[j].device)) {
      out.components.push_back(a.components[i++]);
    } else if (i == a.components.size() || b.components[j].device < a.components[i].device) {
      out.components.push_back(b.components[j++]);
    } else {
      out.components.push_back(component_max(a.components[i], b.components[j]));
      ++i;
      ++j;
    }
  }
  normalize(out);
  return out;
}

VersionVector versions(const ProfileState& s) {
  VersionVector v;
  for (const Component& c : s.components) v.push_back({c.device, {c.epoch, c.version}});
  return v;
}

ProfileState delta(const ProfileState& s, const VersionVector& since) {
  ProfileState d;
  d.erased = s.erased;
  d.erased_at = s.erased_at;
  d.user_id = s.user_id;
  d.consent = s.consent;
  d.traits = s.traits;
  for (const Component& c : s.components) {
    auto it = std::find_if(since.begin(), since.end(),
                           [&](const auto& e) { return e.first == c.device; });
    if (it == since.end() || it->second < std::make_pair(c.epoch, c.version)) {
      d.components.push_back(c);
    }
  }
  return d;
}

std::string export_state(const ProfileState& s) {
  std::string o;
  o.reserve(256 + 1024 * s.components.size());
  o += "{\"v\":";
  put_num(o, kSyncFormatVersion);
  o += ",\"erased_at\":";
  if (s.erased) {
    put_i64(o, s.erased_at);
  } else {
    o += "null";
  }
  for (auto [name, reg] : {std::pair<const char*, const LwwRegister*>{"user_id", &s.user_id},
                           {"consent", &s.consent}}) {
    o += ",\"";
    o += name;
    o += "\":";
    if (reg->set) {
      o += '[';
      put_stamp_items(o, *reg);
      o += ']';
    } else {
      o += "null";
    }
  }
  o += ",\"traits\":[";
  bool first = true;
  for (const auto& [key, reg] : s.traits) {
    if (!first) o += ',';
    first = false;
    o += '[';
    append_json_string(o, key);
    o += ',';
    put_stamp_items(o, reg);
    o += ']';
  }
  o += "],\"components\":[";
  for (size_t i = 0; i < s.components.size(); ++i) {
    if (i > 0) o += ',';
    put_component(o, s.components[i]);
  }
  o += "]}";
  return o;
}

// ---- import ---------------------------------------------------------------------------------

namespace {

// A JSON path rendered only when an error needs it: a chain of parents on the stack (building
// the path of every bucket as a string was most of an import's allocations).
class Path {
 public:
  Path() = default;
  explicit Path(const char* root) : key_(root) {}
  Path(const Path& parent, const char* key) : parent_(&parent), key_(key) {}
  Path(const Path& parent, size_t index) : parent_(&parent), index_(index), is_index_(true) {}
  Path(const Path&) = delete;
  Path& operator=(const Path&) = delete;

  std::string str() const {
    std::string out = parent_ != nullptr ? parent_->str() : std::string();
    if (is_index_) {
      out += '[';
      out += std::to_string(index_);
      out += ']';
    } else if (key_ != nullptr) {
      if (!out.empty()) out += '.';
      out += key_;
    }
    return out;
  }

 private:
  const Path* parent_ = nullptr;
  const char* key_ = nullptr;
  size_t index_ = 0;
  bool is_index_ = false;
};

class Reader {
 public:
  bool failed() const { return !error_.empty(); }
  Status status() const { return Status(Code::kInvalidArgument, "sync state: " + error_); }

  bool fail(const Path& path, const std::string& what) {
    if (error_.empty()) {
      std::string p = path.str();
      error_ = (p.empty() ? std::string("(state)") : p) + ": " + what;
    }
    return false;
  }
  const Value* field(const Value& obj, const char* key, const Path& path) {
    const Value* v = obj.is_object() ? obj.find(key) : nullptr;
    if (v == nullptr) fail(Path(path, key), "is required");
    return v;
  }
  bool integer(const Value& v, const Path& path, int64_t& out, double lo, double hi) {
    if (!v.is_number() || v.as_number() != std::floor(v.as_number()) || v.as_number() < lo ||
        v.as_number() > hi) {
      return fail(path,
                  "must be a whole number from " + to_json(num(lo)) + " to " + to_json(num(hi)));
    }
    out = static_cast<int64_t>(v.as_number());
    return true;
  }
  bool finite(const Value& v, const Path& path, double& out) {
    if (!v.is_number() || !std::isfinite(v.as_number()))
      return fail(path, "must be a finite number");
    out = v.as_number();
    return true;
  }
  bool text(const Value& v, const Path& path, std::string& out, size_t max) {
    if (!v.is_string() || v.as_string().empty() || v.as_string().size() > max) {
      return fail(path, "must be a non-empty string of at most " + std::to_string(max) + " bytes");
    }
    out = v.as_string();
    return true;
  }
  const Array* array(const Value* v, const Path& path, size_t max) {
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      fail(path, "must be an array");
      return nullptr;
    }
    if (v->as_array().size() > max) {
      fail(path, "has more than " + std::to_string(max) + " entries");
      return nullptr;
    }
    return &v->as_array();
  }
  bool stamped(const Value& v, const Path& path, size_t offset, LwwRegister& out) {
    const Array& a = v.as_array();
    if (a.size() != offset + 4) return fail(path, "must be [value, ms, counter, device]");
    out.set = true;
    out.value = a[offset];
    if (to_json(out.value).size() > kMaxTraitValueBytes * 4)
      return fail(path, "value is too large");
    int64_t counter = 0;
    return integer(a[offset + 1], Path(path, offset + 1), out.stamp.ms, -8.64e15, 8.64e15) &&
           integer(a[offset + 2], Path(path, offset + 2), counter, 0, 4294967295.0) &&
           (out.stamp.counter = static_cast<uint32_t>(counter), true) &&
           text(a[offset + 3], Path(path, offset + 3), out.stamp.device, 128);
  }
  bool register_(const Value* v, const Path& path, LwwRegister& out) {
    if (v == nullptr || v->is_null()) return !failed();
    if (!v->is_array()) return fail(path, "must be null or [value, ms, counter, device]");
    return stamped(*v, path, 0, out);
  }
  bool buckets(const Value* v, const Path& path, size_t max, std::vector<Bucket>& out) {
    const Array* a = array(v, path, max);
    if (a == nullptr) return false;
    out.reserve(a->size());
    for (size_t i = 0; i < a->size(); ++i) {
      const Path p(path, i);
      const Value& b = (*a)[i];
      if (!b.is_array() || b.as_array().size() != 2) return fail(p, "must be [index, value]");
      Bucket bucket{};
      if (!integer(b.as_array()[0], Path(p, size_t{0}), bucket.index, -3e12, 3e12) ||
          !finite(b.as_array()[1], Path(p, size_t{1}), bucket.value)) {
        return false;
      }
      if (!out.empty() && bucket.index <= out.back().index) return fail(p, "indices must ascend");
      out.push_back(bucket);
    }
    return true;
  }
  bool series(const Value& v, const Path& path, Series& out) {
    if (!v.is_object()) return fail(path, "must be an object");
    const Value* total = field(v, "total", path);
    const Value* last = field(v, "last", path);
    if (total == nullptr || last == nullptr || !finite(*total, Path(path, "total"), out.total))
      return false;
    if (!last->is_null()) {
      out.seen = true;
      if (!integer(*last, Path(path, "last"), out.last_t, -8.64e15, 8.64e15)) return false;
    }
    return buckets(field(v, "hourly", path), Path(path, "hourly"), 24 * 31 + 1, out.hourly) &&
           buckets(field(v, "daily", path), Path(path, "daily"), 401, out.daily);
  }
  bool exposure(const Value& v, const Path& path, Exposure& e) {
    if (!v.is_array() || v.as_array().size() != 9)
      return fail(path, "must be an array of 9 counters");
    const Array& a = v.as_array();
    int64_t* fields[] = {
        &e.impressions, &e.clicks,          &e.conversions, &e.dismisses,
        &e.day,         &e.day_impressions, &e.session,     &e.session_impressions};
    for (size_t i = 0; i < 8; ++i) {
      if (!integer(a[i], Path(path, i), *fields[i], -1e12, 1e15)) return false;
    }
    if (!a[8].is_null()) {
      e.dismissed = true;
      if (!integer(a[8], Path(path, size_t{8}), e.last_dismiss, -8.64e15, 8.64e15)) return false;
    }
    return true;
  }
  template <typename T, typename F>
  bool named(const Value* v, const Path& path, std::vector<std::pair<std::string, T>>& out,
             F read) {
    const Array* a = array(v, path, kMaxSeries);
    if (a == nullptr) return false;
    out.reserve(a->size());
    for (size_t i = 0; i < a->size(); ++i) {
      const Path p(path, i);
      const Value& entry = (*a)[i];
      if (!entry.is_array() || entry.as_array().size() != 2)
        return fail(p, "must be [name, state]");
      std::string name;
      T item{};
      if (!text(entry.as_array()[0], Path(p, size_t{0}), name, 128) ||
          !read(entry.as_array()[1], Path(p, size_t{1}), item)) {
        return false;
      }
      if (!out.empty() && name <= out.back().first) return fail(p, "names must ascend");
      out.emplace_back(std::move(name), std::move(item));
    }
    return true;
  }
  bool component(const Value& v, const Path& path, Component& c) {
    if (!v.is_object()) return fail(path, "must be an object");
    int64_t version = 0;
    const Value* seen = field(v, "seen", path);
    if (seen == nullptr) return false;
    if (!seen->is_bool()) return fail(Path(path, "seen"), "must be true or false");
    c.seen = seen->as_bool();
    const Value* device = field(v, "device", path);
    const Value* epoch = field(v, "epoch", path);
    const Value* ver = field(v, "version", path);
    const Value* first = field(v, "first_seen", path);
    const Value* last = field(v, "last_seen", path);
    const Value* sessions = field(v, "sessions", path);
    if (failed()) return false;
    if (!text(*device, Path(path, "device"), c.device, 128) ||
        !integer(*epoch, Path(path, "epoch"), c.epoch, -8.64e15, 8.64e15) ||
        !integer(*ver, Path(path, "version"), version, 0, 9007199254740991.0) ||
        !integer(*first, Path(path, "first_seen"), c.first_seen, -8.64e15, 8.64e15) ||
        !integer(*last, Path(path, "last_seen"), c.last_seen, -8.64e15, 8.64e15) ||
        !integer(*sessions, Path(path, "sessions"), c.sessions, 0, 1e12)) {
      return false;
    }
    c.version = static_cast<uint64_t>(version);
    auto read_series = [&](const Value& x, const Path& p, Series& s) { return series(x, p, s); };
    auto read_exposure = [&](const Value& x, const Path& p, Exposure& e) {
      return exposure(x, p, e);
    };
    return named(field(v, "metrics", path), Path(path, "metrics"), c.metrics, read_series) &&
           named(field(v, "counts", path), Path(path, "counts"), c.counts, read_series) &&
           named(field(v, "exposures", path), Path(path, "exposures"), c.exposures, read_exposure);
  }

 private:
  std::string error_;
};

}  // namespace

std::string export_versions(const VersionVector& v) {
  std::string o = "[";
  bool first = true;
  for (const auto& [device, at] : v) {
    if (!first) o += ',';
    first = false;
    o += '[';
    append_json_string(o, device);
    o += ',';
    put_i64(o, at.first);
    o += ',';
    put_i64(o, static_cast<int64_t>(at.second));
    o += ']';
  }
  o += ']';
  return o;
}

Result<VersionVector> import_versions(std::string_view json, std::string_view name) {
  VersionVector out;
  if (json.empty() || json == "null") return out;
  const std::string label(name);
  Result<Value> doc = parse_json(json);
  if (!doc.ok()) return Status(Code::kInvalidJson, label + ": " + doc.status().message());
  Reader r;
  const Path root(label.c_str());
  const Array* a = r.array(&doc.value(), root, 4 * kMaxComponents);
  for (size_t i = 0; a != nullptr && i < a->size(); ++i) {
    const Path p(root, i);
    const Value& e = (*a)[i];
    if (!e.is_array() || e.as_array().size() != 3) {
      r.fail(p, "must be [device, epoch, version]");
      break;
    }
    std::string device;
    int64_t epoch = 0, version = 0;
    if (!r.text(e.as_array()[0], Path(p, size_t{0}), device, 128) ||
        !r.integer(e.as_array()[1], Path(p, size_t{1}), epoch, -8.64e15, 8.64e15) ||
        !r.integer(e.as_array()[2], Path(p, size_t{2}), version, 0, 9007199254740991.0)) {
      break;
    }
    if (!out.empty() && device <= out.back().first) {
      r.fail(p, "devices must ascend");
      break;
    }
    out.push_back({std::move(device), {epoch, static_cast<uint64_t>(version)}});
  }
  if (r.failed()) {
    // Reader prefixes "sync state: "; a cursor is not a state.
    std::string msg = r.status().message();
    const std::string prefix = "sync state: ";
    if (msg.compare(0, prefix.size(), prefix) == 0) msg.erase(0, prefix.size());
    return Status(Code::kInvalidArgument, msg);
  }
  return out;
}

Result<ProfileState> import_state(std::string_view json) {
  // One parser per thread: its buffers are reused (a server imports states all the time).
  thread_local JsonParser parser;
  Result<Value> doc = parser.parse(json);
  if (!doc.ok()) return Status(Code::kInvalidJson, "sync state: " + doc.status().message());
  return import_state(doc.value());
}

Result<ProfileState> import_state(const Value& v) {
  Reader r;
  ProfileState s;
  const Path root, traits_path("traits"), components_path("components");
  if (!v.is_object()) return Status(Code::kInvalidArgument, "sync state: must be an object");
  const Value* version = r.field(v, "v", root);
  if (version == nullptr) return r.status();
  if (!version->is_number() || version->as_number() != kSyncFormatVersion) {
    return Status(Code::kInvalidArgument, "sync state: v: unsupported format version " +
                                              to_json(*version) + " (this runtime reads 1)");
  }
  const Value* erased = r.field(v, "erased_at", root);
  if (erased != nullptr && !erased->is_null()) {
    s.erased = true;
    r.integer(*erased, Path("erased_at"), s.erased_at, -8.64e15, 8.64e15);
  }
  r.register_(r.field(v, "user_id", root), Path("user_id"), s.user_id);
  r.register_(r.field(v, "consent", root), Path("consent"), s.consent);
  if (const Array* traits = r.array(r.field(v, "traits", root), traits_path, kMaxTraits)) {
    for (size_t i = 0; i < traits->size() && !r.failed(); ++i) {
      const Path p(traits_path, i);
      const Value& t = (*traits)[i];
      std::string key;
      LwwRegister reg;
      if (!t.is_array() || t.as_array().size() != 5) {
        r.fail(p, "must be [key, value, ms, counter, device]");
        break;
      }
      if (!r.text(t.as_array()[0], Path(p, size_t{0}), key, kMaxTraitKeyBytes) ||
          !r.stamped(t, p, 1, reg))
        break;
      if (!s.traits.empty() && key <= s.traits.back().first) {
        r.fail(p, "keys must ascend");
        break;
      }
      s.traits.emplace_back(std::move(key), std::move(reg));
    }
  }
  if (const Array* components =
          r.array(r.field(v, "components", root), components_path, kMaxComponents)) {
    for (size_t i = 0; i < components->size() && !r.failed(); ++i) {
      Component c;
      const Path p(components_path, i);
      if (!r.component((*components)[i], p, c)) break;
      if (!s.components.empty() && c.device <= s.components.back().device) {
        r.fail(p, "devices must ascend");
        break;
      }
      s.components.push_back(std::move(c));
    }
  }
  if (r.failed()) return r.status();
  normalize(s);
  return s;
}

}  // namespace pz
