#include "pz/crdt.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <tuple>

#include "pz/jsnum.h"
#include "pz/json.h"
#include "pz/sort.h"
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

// A whole number below 2^53 in magnitude, as JavaScript writes it (-0 as 0); what
// append_js_number writes for it, without its general path (most numbers of a state are these).
void put_whole(std::string& o, int64_t n) {
  char buf[24];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, n);
  o.append(buf, static_cast<size_t>(r.ptr - buf));
}

constexpr double kTwo53 = 9007199254740992.0;

void put_num(std::string& o, double d) {
  if (d > -kTwo53 && d < kTwo53 && d == std::trunc(d)) {
    put_whole(o, static_cast<int64_t>(d));
  } else if (std::isfinite(d)) {
    append_js_number(o, d);
  } else {
    o += "null";
  }
}
void put_i64(std::string& o, int64_t n) {
  if (n > -(int64_t{1} << 53) && n < (int64_t{1} << 53)) {
    put_whole(o, n);
  } else {
    put_num(o, static_cast<double>(n));
  }
}

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

// True when a and b certainly have the same JSON (a false answer is only "not known": the
// callers then compare the JSON). Equal numbers write alike (-0 and 0 both as 0).
bool same_json(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
      return false;  // written as null in an array, left out in an object: not worth deciding
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Value::Kind::kNumber:
      return a.as_number() == b.as_number();
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    case Value::Kind::kArray: {
      if (a.identity() == b.identity()) return true;
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!same_json(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kObject: {
      if (a.identity() == b.identity()) return true;
      const std::vector<Member>& x = a.as_object();
      const std::vector<Member>& y = b.as_object();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (x[i].first != y[i].first || !same_json(x[i].second, y[i].second)) return false;
      }
      return true;
    }
  }
  return false;
}

const LwwRegister& lww_max(const LwwRegister& a, const LwwRegister& b) {
  if (!a.set) return b;
  if (!b.set) return a;
  int c = compare(a.stamp, b.stamp);
  if (c != 0) return c > 0 ? a : b;
  // The same register twice (a repeated sync): either.
  if (same_json(a.value, b.value)) return a;
  // The same stamp twice with different values only comes from a misbehaving writer; decide
  // by the values' JSON so that every replica still decides alike.
  return to_json(a.value) >= to_json(b.value) ? a : b;
}

// True when put_series writes a and b alike (a false answer may still be alike: see callers).
bool same_buckets(const std::vector<Bucket>& a, const std::vector<Bucket>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].index != b[i].index || !(a[i].value == b[i].value)) return false;
  }
  return true;
}
bool same_series(const Series& a, const Series& b) {
  return a.total == b.total && a.seen == b.seen && (!a.seen || a.last_t == b.last_t) &&
         same_buckets(a.hourly, b.hourly) && same_buckets(a.daily, b.daily);
}
bool same_exposure(const Exposure& a, const Exposure& b) {
  return a.impressions == b.impressions && a.clicks == b.clicks && a.conversions == b.conversions &&
         a.dismisses == b.dismisses && a.day == b.day && a.day_impressions == b.day_impressions &&
         a.session == b.session && a.session_impressions == b.session_impressions &&
         a.dismissed == b.dismissed && (!a.dismissed || a.last_dismiss == b.last_dismiss);
}
template <typename T, typename F>
bool same_named(const std::vector<std::pair<std::string, T>>& a,
                const std::vector<std::pair<std::string, T>>& b, F same) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || !same(a[i].second, b[i].second)) return false;
  }
  return true;
}
// True when put_component writes a and b alike (equal numbers write alike; a false answer is
// only "not known").
bool same_component(const Component& a, const Component& b) {
  return a.device == b.device && a.epoch == b.epoch && a.version == b.version && a.seen == b.seen &&
         a.first_seen == b.first_seen && a.last_seen == b.last_seen && a.sessions == b.sessions &&
         same_named(a.metrics, b.metrics, same_series) &&
         same_named(a.counts, b.counts, same_series) &&
         same_named(a.exposures, b.exposures, same_exposure);
}

const Component& component_max(const Component& a, const Component& b) {
  if (a.epoch != b.epoch) return a.epoch > b.epoch ? a : b;
  if (a.version != b.version) return a.version > b.version ? a : b;
  // The same component twice (a repeated sync, or a delta the other side had): either.
  if (same_component(a, b)) return a;
  std::string x, y;
  put_component(x, a);
  put_component(y, b);
  return x >= y ? a : b;
}

// Whether delta(s, since) carries the component.
bool in_delta(const Component& c, const VersionVector& since) {
  auto it =
      std::find_if(since.begin(), since.end(), [&](const auto& e) { return e.first == c.device; });
  return it == since.end() || it->second < std::make_pair(c.epoch, c.version);
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
    pz::stable_sort(keep.begin(), keep.end(), [](const auto& x, const auto& y) {
      int c = compare(x.second.stamp, y.second.stamp);
      return c != 0 ? c > 0 : x.first < y.first;
    });
    keep.resize(kMaxTraits);
    pz::stable_sort(keep.begin(), keep.end(),
                    [](const auto& x, const auto& y) { return x.first < y.first; });
    s.traits = std::move(keep);
  }
  if (s.components.size() > kMaxComponents) {
    pz::stable_sort(s.components.begin(), s.components.end(),
                    [](const Component& x, const Component& y) {
                      return std::tie(x.epoch, x.last_seen, x.device) >
                             std::tie(y.epoch, y.last_seen, y.device);
                    });
    s.components.resize(kMaxComponents);
    pz::stable_sort(s.components.begin(), s.components.end(),
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

ProfileState merge(ProfileState&& a, const ProfileState& b) {
  if (&a == &b) return merge(static_cast<const ProfileState&>(a), b);
  // What merge(const&, const&) gives, made in a's place: a's parts that win stay where they are
  // (moved, never copied), b's that win are copied in.
  const bool erased = a.erased || b.erased;
  const int64_t erased_at = a.erased && b.erased ? std::max(a.erased_at, b.erased_at)
                            : a.erased           ? a.erased_at
                                                 : b.erased_at;
  a.erased = erased;
  a.erased_at = erased_at;
  if (&lww_max(a.user_id, b.user_id) == &b.user_id) a.user_id = b.user_id;
  if (&lww_max(a.consent, b.consent) == &b.consent) a.consent = b.consent;
  size_t i = 0, j = 0;
  if (!b.traits.empty()) {
    std::vector<std::pair<std::string, LwwRegister>> traits;
    traits.reserve(a.traits.size() + b.traits.size());
    while (i < a.traits.size() || j < b.traits.size()) {
      if (j == b.traits.size() || (i < a.traits.size() && a.traits[i].first < b.traits[j].first)) {
        traits.push_back(std::move(a.traits[i++]));
      } else if (i == a.traits.size() || b.traits[j].first < a.traits[i].first) {
        traits.push_back(b.traits[j++]);
      } else {
        if (&lww_max(a.traits[i].second, b.traits[j].second) == &b.traits[j].second) {
          a.traits[i].second = b.traits[j].second;
        }
        traits.push_back(std::move(a.traits[i]));
        ++i;
        ++j;
      }
    }
    a.traits = std::move(traits);
  }
  if (!b.components.empty()) {
    std::vector<Component> components;
    components.reserve(a.components.size() + b.components.size());
    i = j = 0;
    while (i < a.components.size() || j < b.components.size()) {
      if (j == b.components.size() ||
          (i < a.components.size() && a.components[i].device < b.components[j].device)) {
        components.push_back(std::move(a.components[i++]));
      } else if (i == a.components.size() || b.components[j].device < a.components[i].device) {
        components.push_back(b.components[j++]);
      } else {
        if (&component_max(a.components[i], b.components[j]) == &b.components[j]) {
          components.push_back(b.components[j]);
        } else {
          components.push_back(std::move(a.components[i]));
        }
        ++i;
        ++j;
      }
    }
    a.components = std::move(components);
  }
  normalize(a);
  return std::move(a);
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
    if (in_delta(c, since)) d.components.push_back(c);
  }
  return d;
}

namespace {

// Everything of the canonical form up to the components' entries.
void put_head(std::string& o, const ProfileState& s) {
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
}

}  // namespace

std::string export_state(const ProfileState& s) {
  std::string o;
  o.reserve(256 + 1024 * s.components.size());
  put_head(o, s);
  for (size_t i = 0; i < s.components.size(); ++i) {
    if (i > 0) o += ',';
    put_component(o, s.components[i]);
  }
  o += "]}";
  return o;
}

void export_state_and_delta(const ProfileState& s, const VersionVector& since, std::string& state,
                            std::string& delta_text) {
  state.clear();
  state.reserve(256 + 1024 * s.components.size());
  put_head(state, s);
  delta_text.reserve(state.capacity());
  delta_text.assign(state);
  bool first = true;
  for (size_t i = 0; i < s.components.size(); ++i) {
    if (i > 0) state += ',';
    const size_t start = state.size();
    put_component(state, s.components[i]);
    if (in_delta(s.components[i], since)) {
      if (!first) delta_text += ',';
      first = false;
      delta_text.append(state, start, std::string::npos);
    }
  }
  state += "]}";
  delta_text += "]}";
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

// ---- the fast reader ---------------------------------------------------------------------
// Reads the common case straight from the text, with no Value tree: the layout export_state
// writes (these keys, in this order), strings without escapes, numbers in JSON's grammar. It
// never judges: on anything else, valid or not, it gives up (false) and the caller takes the
// full path (a JSON parse, then the Reader above), which decides and names the errors. So where
// it succeeds its state is the full path's, field for field (tests/core/crdt_test.cpp compares
// the two on random and on mutated texts).
class FastReader {
 public:
  FastReader(std::string_view text, size_t pos)
      : begin_(text.data()), p_(text.data() + pos), end_(text.data() + text.size()) {}
  size_t pos() const { return static_cast<size_t>(p_ - begin_); }
  bool at_end() {
    ws();
    return p_ == end_;
  }

  bool state(ProfileState& s) {
    double v = 0;
    if (!ch('{') || !key("v") || !number(v) || v != kSyncFormatVersion) return false;
    if (!ch(',') || !key("erased_at")) return false;
    if (!null()) {
      s.erased = true;
      if (!integer(s.erased_at, -8.64e15, 8.64e15)) return false;
    }
    if (!ch(',') || !key("user_id") || !register_(s.user_id)) return false;
    if (!ch(',') || !key("consent") || !register_(s.consent)) return false;
    if (!ch(',') || !key("traits") || !ch('[')) return false;
    if (!ch(']')) {
      do {
        if (s.traits.size() == kMaxTraits) return false;
        std::string_view key;
        LwwRegister reg;
        if (!ch('[') || !text(key, kMaxTraitKeyBytes) || !ch(',') || !stamped(reg) || !ch(']'))
          return false;
        if (!s.traits.empty() && key <= s.traits.back().first) return false;
        s.traits.emplace_back(std::string(key), std::move(reg));
      } while (ch(','));
      if (!ch(']')) return false;
    }
    if (!ch(',') || !key("components") || !ch('[')) return false;
    if (!ch(']')) {
      do {
        if (s.components.size() == kMaxComponents) return false;
        Component c;
        if (!component(c)) return false;
        if (!s.components.empty() && c.device <= s.components.back().device) return false;
        s.components.push_back(std::move(c));
      } while (ch(','));
      if (!ch(']')) return false;
    }
    if (!ch('}')) return false;
    normalize(s);
    return true;
  }

  bool versions(VersionVector& out) {
    if (null()) return true;
    if (!ch('[')) return false;
    if (ch(']')) return true;
    do {
      if (out.size() == 4 * kMaxComponents) return false;
      std::string_view device;
      int64_t epoch = 0, version = 0;
      if (!ch('[') || !text(device, 128) || !ch(',') || !integer(epoch, -8.64e15, 8.64e15) ||
          !ch(',') || !integer(version, 0, 9007199254740991.0) || !ch(']')) {
        return false;
      }
      if (!out.empty() && device <= out.back().first) return false;
      out.push_back({std::string(device), {epoch, static_cast<uint64_t>(version)}});
    } while (ch(','));
    return ch(']');
  }

 private:
  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool ch(char c) {
    ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool word(const char* w, size_t n) {
    ws();
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, w, n) != 0) return false;
    p_ += n;
    return true;
  }
  bool null() { return word("null", 4); }
  // "name": (a name written without escapes)
  bool key(std::string_view name) {
    ws();
    const size_t n = name.size();
    if (static_cast<size_t>(end_ - p_) < n + 2 || p_[0] != '"' ||
        std::memcmp(p_ + 1, name.data(), n) != 0 || p_[n + 1] != '"') {
      return false;
    }
    p_ += n + 2;
    return ch(':');
  }
  // A string without escapes or control characters, in valid UTF-8 (what JSON.parse and the
  // full path give for it are then its bytes).
  bool string(std::string_view& out) {
    if (!ch('"')) return false;
    const char* start = p_;
    while (p_ < end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c < 0x20 || c == '\\') return false;
      if (c < 0x80) {
        ++p_;
      } else if (!utf8()) {
        return false;
      }
    }
    return false;
  }
  // One multi-byte UTF-8 sequence at p_ (RFC 3629: no overlong forms, no surrogates, at most
  // U+10FFFF).
  bool utf8() {
    const auto* u = reinterpret_cast<const unsigned char*>(p_);
    const size_t left = static_cast<size_t>(end_ - p_);
    const unsigned char c = u[0];
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (left < n || u[1] < lo || u[1] > hi) return false;
    for (size_t i = 2; i < n; ++i) {
      if (u[i] < 0x80 || u[i] > 0xBF) return false;
    }
    p_ += n;
    return true;
  }
  // A non-empty string of at most `max` bytes (Reader::text).
  bool text(std::string_view& out, size_t max) {
    return string(out) && !out.empty() && out.size() <= max;
  }
  // A number in JSON's grammar, as the full path reads it (a correctly rounded double); gives up
  // on a number past the double range (the full path's own rules decide those).
  bool number(double& out) {
    ws();
    const char* start = p_;
    const char* p = p_;
    const bool negative = p < end_ && *p == '-';
    if (negative) ++p;
    if (p == end_) return false;
    const char* digits = p;
    if (*p == '0') {
      ++p;
    } else if (*p >= '1' && *p <= '9') {
      while (p < end_ && *p >= '0' && *p <= '9') ++p;
    } else {
      return false;
    }
    const size_t whole = static_cast<size_t>(p - digits);
    bool plain = true;
    if (p < end_ && *p == '.') {
      plain = false;
      ++p;
      const char* f = p;
      while (p < end_ && *p >= '0' && *p <= '9') ++p;
      if (p == f) return false;
    }
    if (p < end_ && (*p == 'e' || *p == 'E')) {
      plain = false;
      ++p;
      if (p < end_ && (*p == '+' || *p == '-')) ++p;
      const char* e = p;
      while (p < end_ && *p >= '0' && *p <= '9') ++p;
      if (p == e) return false;
    }
    if (plain && whole <= 15) {
      int64_t n = 0;
      for (const char* d = digits; d < p; ++d) n = n * 10 + (*d - '0');
      const double d = static_cast<double>(n);  // exact: below 10^15
      out = negative ? -d : d;
    } else {
      if (p - start > 64) return false;
      // Correctly rounded, as the full path's parse (JSON.parse's number, pz/jsnum.h): the
      // token is in JSON's grammar (checked above).
      const double d = js_string_to_number(std::string_view(start, static_cast<size_t>(p - start)));
      if (!std::isfinite(d)) return false;
      out = d;
    }
    p_ = p;
    return true;
  }
  // Reader::integer and Reader::finite.
  bool integer(int64_t& out, double lo, double hi) {
    double v = 0;
    if (!number(v) || v != std::floor(v) || v < lo || v > hi) return false;
    out = static_cast<int64_t>(v);
    return true;
  }
  bool finite(double& out) { return number(out); }  // number() gives up past the range
  // Any JSON value, as the full path's parse builds it (Value::MakeObject orders and
  // deduplicates the members alike).
  bool value(Value& out, int depth) {
    if (depth > 32) return false;
    ws();
    if (p_ == end_) return false;
    switch (*p_) {
      case 'n':
        if (!null()) return false;
        out = Value::Null();
        return true;
      case 't':
        if (!word("true", 4)) return false;
        out = Value::Bool(true);
        return true;
      case 'f':
        if (!word("false", 5)) return false;
        out = Value::Bool(false);
        return true;
      case '"': {
        std::string_view sv;
        if (!string(sv)) return false;
        out = Value::String(std::string(sv));
        return true;
      }
      case '[': {
        ++p_;
        Array items;
        if (!ch(']')) {
          do {
            Value item;
            if (!value(item, depth + 1)) return false;
            items.push_back(std::move(item));
          } while (ch(','));
          if (!ch(']')) return false;
        }
        out = Value::MakeArray(std::move(items));
        return true;
      }
      case '{': {
        ++p_;
        std::vector<Member> members;
        if (!ch('}')) {
          do {
            std::string_view name;
            Value item;
            if (!string(name) || !ch(':') || !value(item, depth + 1)) return false;
            members.emplace_back(std::string(name), std::move(item));
          } while (ch(','));
          if (!ch('}')) return false;
        }
        out = Value::MakeObject(std::move(members));
        return true;
      }
      default: {
        double d = 0;
        if (!number(d)) return false;
        out = Value::Number(d);
        return true;
      }
    }
  }
  // value, ms, counter, device (Reader::stamped).
  bool stamped(LwwRegister& out) {
    out.set = true;
    if (!value(out.value, 0) || !ch(',')) return false;
    thread_local std::string json;
    json.clear();
    append_json(json, out.value);
    if (json.size() > kMaxTraitValueBytes * 4) return false;
    int64_t counter = 0;
    std::string_view device;
    if (!integer(out.stamp.ms, -8.64e15, 8.64e15) || !ch(',') ||
        !integer(counter, 0, 4294967295.0) || !ch(',') || !text(device, 128)) {
      return false;
    }
    out.stamp.counter = static_cast<uint32_t>(counter);
    out.stamp.device.assign(device.data(), device.size());
    return true;
  }
  bool register_(LwwRegister& out) {
    if (null()) return true;
    return ch('[') && stamped(out) && ch(']');
  }
  bool buckets(size_t max, std::vector<Bucket>& out) {
    if (!ch('[')) return false;
    if (ch(']')) return true;
    do {
      if (out.size() == max) return false;
      Bucket b{};
      if (!ch('[') || !integer(b.index, -3e12, 3e12) || !ch(',') || !finite(b.value) || !ch(']')) {
        return false;
      }
      if (!out.empty() && b.index <= out.back().index) return false;
      out.push_back(b);
    } while (ch(','));
    return ch(']');
  }
  bool series(Series& out) {
    if (!ch('{') || !key("total") || !finite(out.total) || !ch(',') || !key("last")) return false;
    if (!null()) {
      out.seen = true;
      if (!integer(out.last_t, -8.64e15, 8.64e15)) return false;
    }
    return ch(',') && key("hourly") && buckets(24 * 31 + 1, out.hourly) && ch(',') &&
           key("daily") && buckets(401, out.daily) && ch('}');
  }
  bool exposure(Exposure& e) {
    if (!ch('[')) return false;
    int64_t* fields[] = {
        &e.impressions, &e.clicks,          &e.conversions, &e.dismisses,
        &e.day,         &e.day_impressions, &e.session,     &e.session_impressions};
    for (int64_t* f : fields) {
      if (!integer(*f, -1e12, 1e15) || !ch(',')) return false;
    }
    if (!null()) {
      e.dismissed = true;
      if (!integer(e.last_dismiss, -8.64e15, 8.64e15)) return false;
    }
    return ch(']');
  }
  template <typename T, typename F>
  bool named(std::vector<std::pair<std::string, T>>& out, F read) {
    if (!ch('[')) return false;
    if (ch(']')) return true;
    do {
      if (out.size() == kMaxSeries) return false;
      std::string_view name;
      T item{};
      if (!ch('[') || !text(name, 128) || !ch(',') || !read(item) || !ch(']')) return false;
      if (!out.empty() && name <= out.back().first) return false;
      out.emplace_back(std::string(name), std::move(item));
    } while (ch(','));
    return ch(']');
  }
  bool component(Component& c) {
    std::string_view device;
    int64_t version = 0;
    if (!ch('{') || !key("device") || !text(device, 128)) return false;
    c.device.assign(device.data(), device.size());
    if (!ch(',') || !key("epoch") || !integer(c.epoch, -8.64e15, 8.64e15) || !ch(',') ||
        !key("version") || !integer(version, 0, 9007199254740991.0) || !ch(',') || !key("seen")) {
      return false;
    }
    c.version = static_cast<uint64_t>(version);
    if (word("true", 4)) {
      c.seen = true;
    } else if (!word("false", 5)) {
      return false;
    }
    auto read_series = [this](Series& x) { return series(x); };
    auto read_exposure = [this](Exposure& x) { return exposure(x); };
    return ch(',') && key("first_seen") && integer(c.first_seen, -8.64e15, 8.64e15) && ch(',') &&
           key("last_seen") && integer(c.last_seen, -8.64e15, 8.64e15) && ch(',') &&
           key("sessions") && integer(c.sessions, 0, 1e12) && ch(',') && key("metrics") &&
           named(c.metrics, read_series) && ch(',') && key("counts") &&
           named(c.counts, read_series) && ch(',') && key("exposures") &&
           named(c.exposures, read_exposure) && ch('}');
  }

  const char* begin_;
  const char* p_;
  const char* end_;
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

bool read_state_at(std::string_view json, size_t& pos, ProfileState& out) {
  ProfileState s;
  FastReader r(json, pos);
  if (!r.state(s)) return false;
  pos = r.pos();
  out = std::move(s);
  return true;
}

bool read_versions_at(std::string_view json, size_t& pos, VersionVector& out) {
  VersionVector v;
  FastReader r(json, pos);
  if (!r.versions(v)) return false;
  pos = r.pos();
  out = std::move(v);
  return true;
}

Result<ProfileState> import_state(std::string_view json) {
  {
    ProfileState s;
    FastReader r(json, 0);
    if (r.state(s) && r.at_end()) return s;
  }
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
