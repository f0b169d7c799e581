// Windows at bucket boundaries, retention roll-off, sessions, traits bounds.
#include <gtest/gtest.h>

#include "pz/profile.h"
#include "test_util.h"

namespace pz {
namespace {

constexpr int64_t kMin = 60000;
const int64_t kT0 = 1793577600000;  // 2026-11-02T00:00:00Z, a day and hour boundary

Window W(const char* text) {
  Window w;
  std::string error;
  EXPECT_TRUE(parse_window(text, w, error)) << error;
  return w;
}

TEST(Series, HourlyWindowCountsEveryOverlappingBucket) {
  Retention r;  // 48 hourly, 90 daily
  Series s;
  s.add(kT0 + 10 * kHourMs + 10 * kMin, 1, r);  // 10:10
  // 30m window at 10:39: (10:09, 10:39] contains the event.
  EXPECT_EQ(s.window_value(kT0 + 10 * kHourMs + 39 * kMin, W("30m"), r), 1);
  // At 10:50 the window starts at 10:20, after the event, but inside its hour bucket: counted
  // (the documented over-count of at most one bucket).
  EXPECT_EQ(s.window_value(kT0 + 10 * kHourMs + 50 * kMin, W("30m"), r), 1);
  // At 11:30 the window starts at 11:00: the 10:00 bucket no longer overlaps.
  EXPECT_EQ(s.window_value(kT0 + 11 * kHourMs + 30 * kMin, W("30m"), r), 0);
  // Exactly on the boundary: window (10:00, 11:00] still overlaps the 10:00 bucket? Its start is
  // 10:00 and bucket 10 is [10:00, 11:00): yes.
  EXPECT_EQ(s.window_value(kT0 + 11 * kHourMs, W("1h"), r), 1);
  EXPECT_EQ(s.window_value(kT0 + 11 * kHourMs + 1, W("1h"), r), 1);
  EXPECT_EQ(s.window_value(kT0 + 12 * kHourMs, W("1h"), r), 0);
}

TEST(Series, NeverMissesAnEventInsideTheWindow) {
  Retention r;
  Series s;
  int64_t t = kT0 + 5 * kHourMs + 59 * kMin;
  s.add(t, 1, r);
  for (int64_t now = t; now < t + 47 * kHourMs; now += 7 * kMin) {
    EXPECT_EQ(s.window_value(now, W("48h"), r), 1) << (now - t);
  }
  for (int64_t now = t; now < t + 89 * kDayMs; now += 13 * kHourMs) {
    EXPECT_EQ(s.window_value(now, W("90d"), r), 1) << (now - t);
  }
}

TEST(Series, LongWindowsReadDailyBuckets) {
  Retention r;
  Series s;
  s.add(kT0 + 23 * kHourMs, 5, r);          // day 0, 23:00
  s.add(kT0 + kDayMs + 1 * kHourMs, 7, r);  // day 1, 01:00
  // 7d window at day 7 12:00 starts at day 0 12:00: day-0 bucket overlaps -> both count.
  EXPECT_EQ(s.window_value(kT0 + 7 * kDayMs + 12 * kHourMs, W("7d"), r), 12);
  // At day 8 00:00 the window starts at day 1 00:00: day 0 is out.
  EXPECT_EQ(s.window_value(kT0 + 8 * kDayMs, W("7d"), r), 7);
  EXPECT_EQ(s.window_value(kT0 + 9 * kDayMs, W("7d"), r), 0);
  EXPECT_EQ(s.window_value(kT0 + 900 * kDayMs, W("all"), r), 12);
}

TEST(Series, NextChangeIsWhenTheOldestBucketLeaves) {
  Retention r;
  int64_t now = kT0 + 10 * kHourMs + 50 * kMin;
  // 30m window starts at 10:20 (bucket 10); it moves to bucket 11 when now - 30m reaches 11:00.
  EXPECT_EQ(Series::next_change(now, W("30m"), r), kT0 + 11 * kHourMs + 30 * kMin);
  // 7d window starts at day -7 10:50 (bucket -7); it moves on when now - 7d reaches day -6.
  EXPECT_EQ(Series::next_change(now, W("7d"), r), kT0 + kDayMs);
  EXPECT_EQ(Series::next_change(now, W("all"), r), INT64_MAX);
}

TEST(Series, RetentionRollsOffOldBucketsAndBoundsSize) {
  Retention r;
  r.hourly_buckets = 3;
  r.daily_buckets = 2;
  Series s;
  for (int i = 0; i < 1000; ++i) s.add(kT0 + i * 17 * kMin, 1, r);
  EXPECT_LE(s.hourly.size(), 4u);
  EXPECT_LE(s.daily.size(), 3u);
  EXPECT_EQ(s.total, 1000);
  // An event older than what the tier keeps only moves the total.
  s.add(kT0, 1, r);
  EXPECT_EQ(s.total, 1001);
  EXPECT_LE(s.hourly.size(), 4u);
  EXPECT_EQ(s.hourly.front().index, s.hourly.back().index - 3);
}

TEST(Series, OutOfOrderEventsLandInTheirBuckets) {
  Retention r;
  Series a, b;
  std::vector<int64_t> times = {kT0 + 5 * kHourMs, kT0 + kHourMs, kT0 + 30 * kHourMs,
                                kT0 + 2 * kHourMs, kT0 + 29 * kHourMs + 5};
  for (int64_t t : times) a.add(t, 1, r);
  std::sort(times.begin(), times.end());
  for (int64_t t : times) b.add(t, 1, r);
  ASSERT_EQ(a.hourly.size(), b.hourly.size());
  for (size_t i = 0; i < a.hourly.size(); ++i) {
    EXPECT_EQ(a.hourly[i].index, b.hourly[i].index);
    EXPECT_EQ(a.hourly[i].value, b.hourly[i].value);
  }
  EXPECT_EQ(a.last_t, kT0 + 30 * kHourMs);
}

TEST(Profile, SessionsRollOverAfterThirtyMinutes) {
  Profile p;
  p.touch(kT0);
  EXPECT_EQ(p.sessions, 1);
  p.touch(kT0 + 30 * kMin);  // exactly 30 min: same session
  EXPECT_EQ(p.sessions, 1);
  p.touch(kT0 + 60 * kMin + 1);  // 30 min + 1 ms after the last event
  EXPECT_EQ(p.sessions, 2);
  p.touch(kT0 + 10 * kMin);  // late arrival: no new session, first/last unchanged
  EXPECT_EQ(p.sessions, 2);
  EXPECT_EQ(p.first_seen, kT0);
  EXPECT_EQ(p.last_seen, kT0 + 60 * kMin + 1);
  p.touch(kT0 - 5);
  EXPECT_EQ(p.first_seen, kT0 - 5);
}

TEST(Profile, TraitsMergeDeleteAndBounds) {
  using testing::J;
  Profile p;
  ASSERT_TRUE(p.set_traits(J(R"({"plan":"pro","seats":5})")).ok());
  ASSERT_TRUE(p.set_traits(J(R"({"plan":"team","seats":null})")).ok());
  EXPECT_EQ(to_json(p.traits), R"({"plan":"team"})");

  Value before = p.traits;
  Status st = p.set_traits(J(R"({"bio":")" + std::string(1100, 'x') + R"("})"));
  EXPECT_EQ(st.message(), "traits.bio: value is larger than 1024 bytes of JSON");
  EXPECT_EQ(p.traits.identity(), before.identity());  // unchanged

  std::string many = "{";
  for (int i = 0; i < 70; ++i)
    many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
  many += "}";
  st = p.set_traits(J(many));
  EXPECT_EQ(st.message(), "traits: more than 64 keys");
  EXPECT_EQ(to_json(p.traits), R"({"plan":"team"})");
  EXPECT_EQ(p.set_traits(J("[1]")).message(), "traits must be an object, got array");
  EXPECT_EQ(p.set_traits(J(R"({"":1})")).message(), "traits: key \"\" must be 1 to 64 bytes");
}

}  // namespace
}  // namespace pz
