// The visitor profile kept on the device: ids, first/last seen, sessions, traits, and for each
// metric and counted event type of the bundle a bucketed time series. No raw event history.
//
// Size bound (documented in docs/profile.md): per series at most hourly_buckets + 1 hourly and
// daily_buckets + 1 daily buckets (16 bytes each) plus a total and a last-seen time; series exist
// only for the bundle's metrics and the event types its count/since operators name (each at most
// kMaxSeries); traits at most kMaxTraits keys of at most kMaxTraitKeyBytes, each value at most
// kMaxTraitValueBytes of JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pz/logic.h"
#include "pz/status.h"
#include "pz/value.h"

namespace pz {

// Times are ms since the epoch within JavaScript's Date range; the engine clamps `now` to it so
// that window arithmetic cannot overflow.
constexpr int64_t kMaxTimeMs = 8640000000000000;
inline int64_t clamp_time(int64_t t) {
  return t > kMaxTimeMs ? kMaxTimeMs : t < -kMaxTimeMs ? -kMaxTimeMs : t;
}

constexpr int64_t kHourMs = 3600000;
constexpr int64_t kDayMs = 86400000;
constexpr int64_t kSessionGapMs = 30 * 60000;  // a new session after 30 min without events
constexpr size_t kMaxTraits = 64;
constexpr size_t kMaxTraitKeyBytes = 64;
constexpr size_t kMaxTraitValueBytes = 1024;
constexpr size_t kMaxSeries = 256;

struct Retention {
  int hourly_buckets = 48;  // answers windows up to this many hours from hourly buckets
  int daily_buckets = 90;   // and up to this many days from daily buckets
};

// floor(a / b) for b > 0, also for negative a.
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

struct Bucket {
  int64_t index;  // floor(t / bucket size)
  double value;
};

// A metric (count or sum) or an event-type count over time.
struct Series {
  std::vector<Bucket> hourly;  // ascending by index, sparse
  std::vector<Bucket> daily;
  double total = 0;
  int64_t last_t = 0;  // time of the latest occurrence, valid when seen
  bool seen = false;

  void add(int64_t t, double amount, const Retention& retention);
  // The value in the window that ends at `now`: every bucket that overlaps (now - window, now].
  // So an answer may include events at most one bucket older than the window, never misses one
  // inside it. Windows up to hourly_buckets hours read hourly buckets, longer ones daily buckets.
  double window_value(int64_t now, const Window& window, const Retention& retention) const;
  // The first time after `now` at which window_value can change without a new event.
  static int64_t next_change(int64_t now, const Window& window, const Retention& retention);

 private:
  // Recent window sums (many segments read the same metric and window at the same time);
  // cleared by add(). Summation order is always newest bucket first, cached or not.
  struct CachedSum {
    int64_t size = 0;  // 0: empty entry
    int64_t first = 0;
    double value = 0;
  };
  mutable CachedSum cache_[4];
  mutable unsigned cache_next_ = 0;
};

// What a visitor has seen of one action and how they responded (caps, cooldowns, bandits).
struct Exposure {
  int64_t impressions = 0;  // lifetime
  int64_t clicks = 0;
  int64_t conversions = 0;
  int64_t dismisses = 0;
  int64_t day = 0;  // UTC day index of day_impressions
  int64_t day_impressions = 0;
  int64_t session = 0;  // profile session number of session_impressions
  int64_t session_impressions = 0;
  bool dismissed = false;
  int64_t last_dismiss = 0;  // ms, valid when dismissed
};

struct Profile {
  std::string anonymous_id;
  std::string user_id;
  std::string device_id;
  bool seen = false;  // any event yet
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  int64_t sessions = 0;
  Value traits = Value::MakeObject({});
  std::vector<Series> metrics;      // by bundle metric index
  std::vector<Series> counts;       // by bundle counted-event-type index
  std::vector<Exposure> exposures;  // by bundle action index
  bool erased = false;  // erasure epoch: data older than erased_at is gone on every replica
  int64_t erased_at = 0;
  Value last_event;  // the latest event as received (event.*)
  Value last_page;   // the latest page_view's page (page.*)

  // Records one event's effect on ids/seen/sessions.
  void touch(int64_t t);
  // Merges traits (a JSON object; a null value removes the key). Fails, changing nothing, when a
  // bound would be exceeded.
  Status set_traits(const Value& traits_update);
  // The profile.* namespace for rules.
  Value profile_object() const;
  // The profile as JSON (for `pz.profile()`, debugging and tests).
  Value to_value() const;
};

}  // namespace pz
