#include "pz/crdt.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "pz/json.h"

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

Value num(double d) { return Value::Number(d); }
Value num64(int64_t n) { return Value::Number(static_cast<double>(n)); }

Value stamp_value(const LwwRegister& r) {
  return Value::MakeArray(
      {r.value, num64(r.stamp.ms), num(r.stamp.counter), Value::String(r.stamp.device)});
}

Value buckets_value(const std::vector<Bucket>& bs) {
  Array out;
  for (const Bucket& b : bs) out.push_back(Value::MakeArray({num64(b.index), num(b.value)}));
  return Value::MakeArray(std::move(out));
}

Value series_value(const Series& s) {
  return Value::MakeObject({{"total", num(s.total)},
                            {"last", s.seen ? num64(s.last_t) : Value::Null()},
                            {"hourly", buckets_value(s.hourly)},
                            {"daily", buckets_value(s.daily)}});
}

Value exposure_value(const Exposure& e) {
  return Value::MakeArray({num64(e.impressions), num64(e.clicks), num64(e.conversions),
                           num64(e.dismisses), num64(e.day), num64(e.day_impressions),
                           num64(e.session), num64(e.session_impressions),
                           e.dismissed ? num64(e.last_dismiss) : Value::Null()});
}

template <typename T, typename F>
Value named_list(const std::vector<std::pair<std::string, T>>& items, F to_value) {
  Array out;
  for (const auto& [name, item] : items) {
    out.push_back(Value::MakeArray({Value::String(name), to_value(item)}));
  }
  return Value::MakeArray(std::move(out));
}

Value component_value(const Component& c) {
  return Value::MakeObject({{"device", Value::String(c.device)},
                            {"epoch", num64(c.epoch)},
                            {"version", num(static_cast<double>(c.version))},
                            {"seen", Value::Bool(c.seen)},
                            {"first_seen", num64(c.first_seen)},
                            {"last_seen", num64(c.last_seen)},
                            {"sessions", num64(c.sessions)},
                            {"metrics", named_list(c.metrics, series_value)},
                            {"counts", named_list(c.counts, series_value)},
                            {"exposures", named_list(c.exposures, exposure_value)}});
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
  return to_json(component_value(a)) >= to_json(component_value(b)) ? a : b;
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
  Array traits;
  for (const auto& [key, reg] : s.traits) {
    Array entry{Value::String(key)};
    Value stamped = stamp_value(reg);  // keep it alive while iterating
    for (const Value& v : stamped.as_array()) entry.push_back(v);
    traits.push_back(Value::MakeArray(std::move(entry)));
  }
  Array components;
  for (const Component& c : s.components) components.push_back(component_value(c));
  return to_json(
      Value::MakeObject({{"v", num(kSyncFormatVersion)},
                         {"erased_at", s.erased ? num64(s.erased_at) : Value::Null()},
                         {"user_id", s.user_id.set ? stamp_value(s.user_id) : Value::Null()},
                         {"consent", s.consent.set ? stamp_value(s.consent) : Value::Null()},
                         {"traits", Value::MakeArray(std::move(traits))},
                         {"components", Value::MakeArray(std::move(components))}}));
}

// ---- import ---------------------------------------------------------------------------------

namespace {

class Reader {
 public:
  bool failed() const { return !error_.empty(); }
  Status status() const { return Status(Code::kInvalidArgument, "sync state: " + error_); }

  bool fail(const std::string& path, const std::string& what) {
    if (error_.empty()) error_ = (path.empty() ? std::string("(state)") : path) + ": " + what;
    return false;
  }
  const Value* field(const Value& obj, const char* key, const std::string& path) {
    const Value* v = obj.is_object() ? obj.find(key) : nullptr;
    if (v == nullptr) fail(path.empty() ? key : path + "." + key, "is required");
    return v;
  }
  bool integer(const Value& v, const std::string& path, int64_t& out, double lo, double hi) {
    if (!v.is_number() || v.as_number() != std::floor(v.as_number()) || v.as_number() < lo ||
        v.as_number() > hi) {
      return fail(path,
                  "must be a whole number from " + to_json(num(lo)) + " to " + to_json(num(hi)));
    }
    out = static_cast<int64_t>(v.as_number());
    return true;
  }
  bool finite(const Value& v, const std::string& path, double& out) {
    if (!v.is_number() || !std::isfinite(v.as_number()))
      return fail(path, "must be a finite number");
    out = v.as_number();
    return true;
  }
  bool text(const Value& v, const std::string& path, std::string& out, size_t max) {
    if (!v.is_string() || v.as_string().empty() || v.as_string().size() > max) {
      return fail(path, "must be a non-empty string of at most " + std::to_string(max) + " bytes");
    }
    out = v.as_string();
    return true;
  }
  const Array* array(const Value* v, const std::string& path, size_t max) {
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
  bool stamped(const Value& v, const std::string& path, size_t offset, LwwRegister& out) {
    const Array& a = v.as_array();
    if (a.size() != offset + 4) return fail(path, "must be [value, ms, counter, device]");
    out.set = true;
    out.value = a[offset];
    if (to_json(out.value).size() > kMaxTraitValueBytes * 4)
      return fail(path, "value is too large");
    int64_t counter = 0;
    return integer(a[offset + 1], path + "[" + std::to_string(offset + 1) + "]", out.stamp.ms,
                   -8.64e15, 8.64e15) &&
           integer(a[offset + 2], path + "[" + std::to_string(offset + 2) + "]", counter, 0,
                   4294967295.0) &&
           (out.stamp.counter = static_cast<uint32_t>(counter), true) &&
           text(a[offset + 3], path + "[" + std::to_string(offset + 3) + "]", out.stamp.device,
                128);
  }
  bool register_(const Value* v, const std::string& path, LwwRegister& out) {
    if (v == nullptr || v->is_null()) return !failed();
    if (!v->is_array()) return fail(path, "must be null or [value, ms, counter, device]");
    return stamped(*v, path, 0, out);
  }
  bool buckets(const Value* v, const std::string& path, size_t max, std::vector<Bucket>& out) {
    const Array* a = array(v, path, max);
    if (a == nullptr) return false;
    for (size_t i = 0; i < a->size(); ++i) {
      std::string p = path + "[" + std::to_string(i) + "]";
      const Value& b = (*a)[i];
      if (!b.is_array() || b.as_array().size() != 2) return fail(p, "must be [index, value]");
      Bucket bucket{};
      if (!integer(b.as_array()[0], p + "[0]", bucket.index, -3e12, 3e12) ||
          !finite(b.as_array()[1], p + "[1]", bucket.value)) {
        return false;
      }
      if (!out.empty() && bucket.index <= out.back().index) return fail(p, "indices must ascend");
      out.push_back(bucket);
    }
    return true;
  }
  bool series(const Value& v, const std::string& path, Series& out) {
    if (!v.is_object()) return fail(path, "must be an object");
    const Value* total = field(v, "total", path);
    const Value* last = field(v, "last", path);
    if (total == nullptr || last == nullptr || !finite(*total, path + ".total", out.total))
      return false;
    if (!last->is_null()) {
      out.seen = true;
      if (!integer(*last, path + ".last", out.last_t, -8.64e15, 8.64e15)) return false;
    }
    return buckets(field(v, "hourly", path), path + ".hourly", 24 * 31 + 1, out.hourly) &&
           buckets(field(v, "daily", path), path + ".daily", 401, out.daily);
  }
  bool exposure(const Value& v, const std::string& path, Exposure& e) {
    if (!v.is_array() || v.as_array().size() != 9)
      return fail(path, "must be an array of 9 counters");
    const Array& a = v.as_array();
    int64_t* fields[] = {
        &e.impressions, &e.clicks,          &e.conversions, &e.dismisses,
        &e.day,         &e.day_impressions, &e.session,     &e.session_impressions};
    for (size_t i = 0; i < 8; ++i) {
      if (!integer(a[i], path + "[" + std::to_string(i) + "]", *fields[i], -1e12, 1e15))
        return false;
    }
    if (!a[8].is_null()) {
      e.dismissed = true;
      if (!integer(a[8], path + "[8]", e.last_dismiss, -8.64e15, 8.64e15)) return false;
    }
    return true;
  }
  template <typename T, typename F>
  bool named(const Value* v, const std::string& path, std::vector<std::pair<std::string, T>>& out,
             F read) {
    const Array* a = array(v, path, kMaxSeries);
    if (a == nullptr) return false;
    for (size_t i = 0; i < a->size(); ++i) {
      std::string p = path + "[" + std::to_string(i) + "]";
      const Value& entry = (*a)[i];
      if (!entry.is_array() || entry.as_array().size() != 2)
        return fail(p, "must be [name, state]");
      std::string name;
      T item{};
      if (!text(entry.as_array()[0], p + "[0]", name, 128) ||
          !read(entry.as_array()[1], p + "[1]", item)) {
        return false;
      }
      if (!out.empty() && name <= out.back().first) return fail(p, "names must ascend");
      out.emplace_back(std::move(name), std::move(item));
    }
    return true;
  }
  bool component(const Value& v, const std::string& path, Component& c) {
    if (!v.is_object()) return fail(path, "must be an object");
    int64_t version = 0;
    const Value* seen = field(v, "seen", path);
    if (seen == nullptr) return false;
    if (!seen->is_bool()) return fail(path + ".seen", "must be true or false");
    c.seen = seen->as_bool();
    const Value* device = field(v, "device", path);
    const Value* epoch = field(v, "epoch", path);
    const Value* ver = field(v, "version", path);
    const Value* first = field(v, "first_seen", path);
    const Value* last = field(v, "last_seen", path);
    const Value* sessions = field(v, "sessions", path);
    if (failed()) return false;
    if (!text(*device, path + ".device", c.device, 128) ||
        !integer(*epoch, path + ".epoch", c.epoch, -8.64e15, 8.64e15) ||
        !integer(*ver, path + ".version", version, 0, 9007199254740991.0) ||
        !integer(*first, path + ".first_seen", c.first_seen, -8.64e15, 8.64e15) ||
        !integer(*last, path + ".last_seen", c.last_seen, -8.64e15, 8.64e15) ||
        !integer(*sessions, path + ".sessions", c.sessions, 0, 1e12)) {
      return false;
    }
    c.version = static_cast<uint64_t>(version);
    auto read_series = [&](const Value& x, const std::string& p, Series& s) {
      return series(x, p, s);
    };
    auto read_exposure = [&](const Value& x, const std::string& p, Exposure& e) {
      return exposure(x, p, e);
    };
    return named(field(v, "metrics", path), path + ".metrics", c.metrics, read_series) &&
           named(field(v, "counts", path), path + ".counts", c.counts, read_series) &&
           named(field(v, "exposures", path), path + ".exposures", c.exposures, read_exposure);
  }

 private:
  std::string error_;
};

}  // namespace

std::string export_versions(const VersionVector& v) {
  Array out;
  out.reserve(v.size());
  for (const auto& [device, at] : v) {
    out.push_back(Value::MakeArray(
        {Value::String(device), num64(at.first), num64(static_cast<int64_t>(at.second))}));
  }
  return to_json(Value::MakeArray(std::move(out)));
}

Result<VersionVector> import_versions(std::string_view json, std::string_view name) {
  VersionVector out;
  if (json.empty() || json == "null") return out;
  const std::string label(name);
  Result<Value> doc = parse_json(json);
  if (!doc.ok()) return Status(Code::kInvalidJson, label + ": " + doc.status().message());
  Reader r;
  const Array* a = r.array(&doc.value(), label, 4 * kMaxComponents);
  for (size_t i = 0; a != nullptr && i < a->size(); ++i) {
    const std::string p = label + "[" + std::to_string(i) + "]";
    const Value& e = (*a)[i];
    if (!e.is_array() || e.as_array().size() != 3) {
      r.fail(p, "must be [device, epoch, version]");
      break;
    }
    std::string device;
    int64_t epoch = 0, version = 0;
    if (!r.text(e.as_array()[0], p + "[0]", device, 128) ||
        !r.integer(e.as_array()[1], p + "[1]", epoch, -8.64e15, 8.64e15) ||
        !r.integer(e.as_array()[2], p + "[2]", version, 0, 9007199254740991.0)) {
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
  if (!v.is_object()) return Status(Code::kInvalidArgument, "sync state: must be an object");
  const Value* version = r.field(v, "v", "");
  if (version == nullptr) return r.status();
  if (!version->is_number() || version->as_number() != kSyncFormatVersion) {
    return Status(Code::kInvalidArgument, "sync state: v: unsupported format version " +
                                              to_json(*version) + " (this runtime reads 1)");
  }
  const Value* erased = r.field(v, "erased_at", "");
  if (erased != nullptr && !erased->is_null()) {
    s.erased = true;
    r.integer(*erased, "erased_at", s.erased_at, -8.64e15, 8.64e15);
  }
  r.register_(r.field(v, "user_id", ""), "user_id", s.user_id);
  r.register_(r.field(v, "consent", ""), "consent", s.consent);
  if (const Array* traits = r.array(r.field(v, "traits", ""), "traits", kMaxTraits)) {
    for (size_t i = 0; i < traits->size() && !r.failed(); ++i) {
      std::string p = "traits[" + std::to_string(i) + "]";
      const Value& t = (*traits)[i];
      std::string key;
      LwwRegister reg;
      if (!t.is_array() || t.as_array().size() != 5) {
        r.fail(p, "must be [key, value, ms, counter, device]");
        break;
      }
      if (!r.text(t.as_array()[0], p + "[0]", key, kMaxTraitKeyBytes) || !r.stamped(t, p, 1, reg))
        break;
      if (!s.traits.empty() && key <= s.traits.back().first) {
        r.fail(p, "keys must ascend");
        break;
      }
      s.traits.emplace_back(std::move(key), std::move(reg));
    }
  }
  if (const Array* components =
          r.array(r.field(v, "components", ""), "components", kMaxComponents)) {
    for (size_t i = 0; i < components->size() && !r.failed(); ++i) {
      Component c;
      if (!r.component((*components)[i], "components[" + std::to_string(i) + "]", c)) break;
      if (!s.components.empty() && c.device <= s.components.back().device) {
        r.fail("components[" + std::to_string(i) + "]", "devices must ascend");
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
