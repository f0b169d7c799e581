#include "pz/profile.h"

#include <algorithm>

#include "pz/json.h"

namespace pz {
namespace {

void add_bucket(std::vector<Bucket>& buckets, int64_t index, double amount, int keep) {
  auto it = std::lower_bound(buckets.begin(), buckets.end(), index,
                             [](const Bucket& b, int64_t i) { return b.index < i; });
  if (it != buckets.end() && it->index == index) {
    it->value += amount;
  } else {
    int64_t newest = buckets.empty() ? index : std::max(index, buckets.back().index);
    if (index < newest - keep) return;  // older than what this tier keeps: total only
    buckets.insert(it, Bucket{index, amount});
  }
  // Roll off what the newest bucket pushed out of retention.
  int64_t oldest_kept = buckets.back().index - keep;
  auto keep_from = std::lower_bound(buckets.begin(), buckets.end(), oldest_kept,
                                    [](const Bucket& b, int64_t i) { return b.index < i; });
  buckets.erase(buckets.begin(), keep_from);
}

double sum_from(const std::vector<Bucket>& buckets, int64_t first_index) {
  double sum = 0;
  for (auto it = buckets.rbegin(); it != buckets.rend() && it->index >= first_index; ++it) {
    sum += it->value;
  }
  return sum;
}

int64_t tier_size(const Window& window, const Retention& retention) {
  return window.ms <= retention.hourly_buckets * kHourMs ? kHourMs : kDayMs;
}

}  // namespace

void Series::add(int64_t t, double amount, const Retention& retention) {
  add_bucket(hourly, floor_div(t, kHourMs), amount, retention.hourly_buckets);
  add_bucket(daily, floor_div(t, kDayMs), amount, retention.daily_buckets);
  total += amount;
  for (CachedSum& c : cache_) c.size = 0;
  if (!seen || t > last_t) last_t = t;
  seen = true;
}

double Series::window_value(int64_t now, const Window& window, const Retention& retention) const {
  if (window.all()) return total;
  int64_t size = tier_size(window, retention);
  int64_t first = floor_div(now - window.ms, size);
  for (const CachedSum& c : cache_) {
    if (c.size == size && c.first == first) return c.value;
  }
  double value = sum_from(size == kHourMs ? hourly : daily, first);
  cache_[cache_next_++ % 4] = CachedSum{size, first, value};
  return value;
}

int64_t Series::next_change(int64_t now, const Window& window, const Retention& retention) {
  if (window.all()) return INT64_MAX;
  int64_t size = tier_size(window, retention);
  int64_t first = floor_div(now - window.ms, size);
  return (first + 1) * size + window.ms;
}

void Profile::touch(int64_t t) {
  if (!seen) {
    seen = true;
    first_seen = last_seen = t;
    sessions = 1;
    return;
  }
  if (t > last_seen + kSessionGapMs) ++sessions;
  if (t < first_seen) first_seen = t;
  if (t > last_seen) last_seen = t;
}

Status Profile::set_traits(const Value& update) {
  if (!update.is_object()) {
    return Status(Code::kInvalidArgument,
                  std::string("traits must be an object, got ") + kind_name(update));
  }
  std::vector<Member> merged = traits.as_object();
  for (const Member& m : update.as_object()) {
    if (m.first.empty() || m.first.size() > kMaxTraitKeyBytes) {
      return Status(Code::kLimitExceeded,
                    "traits: key \"" + m.first.substr(0, 80) + "\" must be 1 to 64 bytes");
    }
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const Member& e) { return e.first == m.first; });
    if (m.second.is_null()) {
      if (it != merged.end()) merged.erase(it);
      continue;
    }
    if (to_json(m.second).size() > kMaxTraitValueBytes) {
      std::string path = "traits";
      append_path_key(path, m.first);
      return Status(Code::kLimitExceeded, path + ": value is larger than 1024 bytes of JSON");
    }
    if (it != merged.end()) {
      it->second = m.second;
    } else {
      merged.push_back(m);
    }
  }
  if (merged.size() > kMaxTraits) {
    return Status(Code::kLimitExceeded, "traits: more than 64 keys");
  }
  traits = Value::MakeObject(std::move(merged));
  return Status::Ok();
}

Value Profile::profile_object() const {
  std::vector<Member> m;
  m.emplace_back("anonymous_id", Value::String(anonymous_id));
  m.emplace_back("user_id", user_id.empty() ? Value::Null() : Value::String(user_id));
  m.emplace_back("first_seen",
                 seen ? Value::Number(static_cast<double>(first_seen)) : Value::Null());
  m.emplace_back("last_seen", seen ? Value::Number(static_cast<double>(last_seen)) : Value::Null());
  m.emplace_back("sessions", Value::Number(static_cast<double>(sessions)));
  return Value::MakeObject(std::move(m));
}

namespace {

Value series_value(const Series& s) {
  auto buckets = [](const std::vector<Bucket>& bs) {
    Array out;
    for (const Bucket& b : bs) {
      out.push_back(
          Value::MakeArray({Value::Number(static_cast<double>(b.index)), Value::Number(b.value)}));
    }
    return Value::MakeArray(std::move(out));
  };
  return Value::MakeObject(
      {{"total", Value::Number(s.total)},
       {"last", s.seen ? Value::Number(static_cast<double>(s.last_t)) : Value::Null()},
       {"hourly", buckets(s.hourly)},
       {"daily", buckets(s.daily)}});
}

}  // namespace

Value Profile::to_value() const {
  std::vector<Member> m;
  Value p = profile_object();
  for (const Member& f : p.as_object()) m.push_back(f);
  m.emplace_back("erased_at",
                 erased ? Value::Number(static_cast<double>(erased_at)) : Value::Null());
  m.emplace_back("traits", traits);
  Array metric_values, count_values;
  for (const Series& s : metrics) metric_values.push_back(series_value(s));
  for (const Series& s : counts) count_values.push_back(series_value(s));
  m.emplace_back("metrics", Value::MakeArray(std::move(metric_values)));
  m.emplace_back("counts", Value::MakeArray(std::move(count_values)));
  Array exposure_values;
  for (const Exposure& e : exposures) {
    auto num = [](int64_t n) { return Value::Number(static_cast<double>(n)); };
    exposure_values.push_back(
        Value::MakeObject({{"impressions", num(e.impressions)},
                           {"clicks", num(e.clicks)},
                           {"conversions", num(e.conversions)},
                           {"dismisses", num(e.dismisses)},
                           {"day", num(e.day)},
                           {"day_impressions", num(e.day_impressions)},
                           {"session", num(e.session)},
                           {"session_impressions", num(e.session_impressions)},
                           {"last_dismiss", e.dismissed ? num(e.last_dismiss) : Value::Null()}}));
  }
  m.emplace_back("exposures", Value::MakeArray(std::move(exposure_values)));
  return Value::MakeObject(std::move(m));
}

}  // namespace pz
