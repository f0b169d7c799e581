// Devices of one person: each engine keeps its own profile, they exchange sync states in any
// order (duplicated, dropped), and end with the same segments, decisions and state.
#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "pz/crdt.h"
#include "pz/engine.h"
#include "test_util.h"

namespace pz {
namespace {

using testing::J;
const int64_t kT0 = 1793577600000;

const char kBundle[] = R"({"version":"sync","consent":{"mode":"opt-out"},
  "metrics":[{"id":"spend","event":"purchase","sum":"props.value"}],
  "segments":[{"id":"viewer3","rule":{">=":[{"count":["page_view","all"]},3]}},
              {"id":"spender","rule":{">":[{"metric":["spend","7d"]},100]}},
              {"id":"recent","rule":{"and":[{"!==":[{"since":["page_view"]},null]},
                                            {"<":[{"since":["page_view"]},3600000]}]}},
              {"id":"pro","rule":{"==":[{"var":"traits.plan"},"pro"]}},
              {"id":"returning","rule":{">=":[{"var":"profile.sessions"},2]}}],
  "actions":[{"id":"offer","slots":["hero"],"caps":{"total":2},"value":2,"content":"offer"},
             {"id":"fallback","slots":["hero"],"value":1,"content":"fallback"}],
  "defaults":{"hero":{"content":"hello"}}})";

Engine Device(const std::string& id) {
  Engine e;
  EXPECT_TRUE(e.load_bundle(kBundle).ok());
  e.set_anonymous_id("anon-" + id);
  e.set_device_id(id);
  return e;
}

void Ingest(Engine& e, const std::string& event) { ASSERT_TRUE(e.ingest(event).ok()) << event; }

std::string Event(int64_t t, const char* type, const char* props = "{}") {
  return R"({"t":)" + std::to_string(t) + R"(,"type":")" + type + R"(","props":)" + props + "}";
}

std::string Shown(Engine& e, int64_t now) {
  std::vector<Decision> d = e.decide({"hero"}, now);
  return d[0].action.empty() ? "-" : d[0].action;
}

using V = std::vector<std::string>;

TEST(Sync, TwoDevicesAddUpWithoutDoubleCounting) {
  Engine phone = Device("phone"), laptop = Device("laptop");
  Ingest(phone, Event(kT0, "page_view"));
  Ingest(phone, Event(kT0 + 1000, "page_view"));
  Ingest(phone, Event(kT0 + 2000, "purchase", R"({"value":60})"));
  Ingest(laptop, Event(kT0 + 5000, "page_view"));
  Ingest(laptop, Event(kT0 + 6000, "purchase", R"({"value":50})"));
  phone.evaluate(kT0 + 10000);
  EXPECT_EQ(phone.segments(), (V{"recent"}));
  // Exchange twice, in both orders, with a duplicate: the same result, counted once.
  ASSERT_TRUE(phone.merge_state(laptop.export_state(), kT0 + 10000).ok());
  ASSERT_TRUE(phone.merge_state(laptop.export_state(), kT0 + 10000).ok());
  ASSERT_TRUE(laptop.merge_state(phone.export_state(), kT0 + 10000).ok());
  // 3 page views, 110 spent, and a session on each device: 2 sessions.
  EXPECT_EQ(phone.segments(), (V{"recent", "returning", "spender", "viewer3"}));
  EXPECT_EQ(laptop.segments(), (V{"recent", "returning", "spender", "viewer3"}));
  EXPECT_EQ(phone.export_state(), laptop.export_state());
  // Each device's own series still only hold its own events.
  EXPECT_EQ(phone.profile().counts[0].total, 2);
}

TEST(Sync, CapsCountImpressionsFromEveryDevice) {
  Engine phone = Device("phone"), laptop = Device("laptop");
  ASSERT_TRUE(phone.feedback("offer", Outcome::kImpression, kT0).ok());
  ASSERT_TRUE(laptop.feedback("offer", Outcome::kImpression, kT0 + 1).ok());
  EXPECT_EQ(Shown(phone, kT0 + 2), "offer");  // 1 of 2 seen here
  ASSERT_TRUE(phone.merge_state(laptop.export_state(), kT0 + 3).ok());
  EXPECT_EQ(Shown(phone, kT0 + 4), "fallback");  // 2 of 2 across devices
}

TEST(Sync, TraitsAndUserIdAreLastWriterWins) {
  Engine phone = Device("phone"), laptop = Device("laptop");
  ASSERT_TRUE(phone.identify("user-1", J(R"({"plan":"pro","seats":3})"), kT0).ok());
  ASSERT_TRUE(laptop.identify("user-1", J(R"({"plan":"team"})"), kT0 + 50).ok());
  ASSERT_TRUE(phone.identify("", J(R"({"seats":null})"), kT0 + 60).ok());  // a deletion
  ASSERT_TRUE(laptop.merge_state(phone.export_state(), kT0 + 100).ok());
  ASSERT_TRUE(phone.merge_state(laptop.export_state(), kT0 + 100).ok());
  EXPECT_EQ(to_json(phone.profile().traits), R"({"plan":"team"})");
  EXPECT_EQ(to_json(laptop.profile().traits), R"({"plan":"team"})");
  EXPECT_EQ(laptop.profile().user_id, "user-1");
}

TEST(Sync, ErasureOnOneDeviceErasesEverywhere) {
  Engine phone = Device("phone"), laptop = Device("laptop");
  for (int i = 0; i < 3; ++i) Ingest(laptop, Event(kT0 + i, "page_view"));
  ASSERT_TRUE(laptop.identify("user-1", J(R"({"plan":"pro"})"), kT0 + 5).ok());
  ASSERT_TRUE(phone.merge_state(laptop.export_state(), kT0 + 10).ok());
  phone.evaluate(kT0 + 10);
  EXPECT_EQ(phone.segments(), (V{"pro", "recent", "viewer3"}));
  // The visitor withdraws consent on the phone: erased there, and on the laptop at its next sync.
  ASSERT_TRUE(phone.consent(J(R"({"personalization":false})"), kT0 + 20).ok());
  ASSERT_TRUE(laptop.merge_state(phone.export_state(), kT0 + 30).ok());
  EXPECT_EQ(laptop.segments(), V{});
  EXPECT_EQ(to_json(laptop.profile().traits), "{}");
  EXPECT_EQ(laptop.profile().user_id, "");
  EXPECT_FALSE(laptop.consent_state().personalization);
  EXPECT_TRUE(laptop.profile().erased);
}

// A withdrawal can come as the consent register alone, without an erasure epoch: from a device
// where the visitor never had personalization (opt-in, and said no there). It erases here as of
// its stamp, and that covers what the same merge brings: older traits and user id, and other
// devices' data from before it. Merging the state again changes nothing. (fuzz/fuzz_profile.cpp
// found the traits of such a merge surviving until the next merge.)
TEST(Sync, WithdrawalWithoutEpochErasesWhatTheSameMergeBrings) {
  Engine laptop = Device("laptop"), tablet = Device("tablet");
  Ingest(laptop, Event(kT0, "page_view"));
  ASSERT_TRUE(laptop.identify("user-1", J(R"({"plan":"pro"})"), kT0 + 5).ok());
  for (int i = 0; i < 3; ++i) Ingest(tablet, Event(kT0 + i, "page_view"));
  ASSERT_TRUE(tablet.identify("user-1", J(R"({"plan":"team"})"), kT0 + 6).ok());
  Result<ProfileState> from_tablet = import_state(tablet.export_state());
  ASSERT_TRUE(from_tablet.ok());
  const std::string withdrawal = R"({"v":1,"erased_at":null,"user_id":null,"consent":[)"
                                 R"({"personalization":false},)" +
                                 std::to_string(kT0 + 20) +
                                 R"(,0,"phone"],"traits":[],"components":[]})";
  Result<ProfileState> from_phone = import_state(withdrawal);
  ASSERT_TRUE(from_phone.ok()) << from_phone.status().message();
  const std::string incoming = export_state(merge(from_tablet.value(), from_phone.value()));

  ASSERT_TRUE(laptop.merge_state(incoming, kT0 + 30).ok());
  EXPECT_FALSE(laptop.consent_state().personalization);
  EXPECT_TRUE(laptop.profile().erased);
  EXPECT_EQ(laptop.profile().erased_at, kT0 + 20);
  EXPECT_EQ(to_json(laptop.profile().traits), "{}");
  EXPECT_EQ(laptop.profile().user_id, "");
  const Profile merged = laptop.merged_profile();
  const int page_view = laptop.bundle().event_type_index("page_view");
  EXPECT_EQ(merged.counts[static_cast<size_t>(page_view)].total, 0);
  EXPECT_EQ(laptop.segments(), V{});
  const std::string state = laptop.export_state();
  const std::string profile = to_json(laptop.profile().to_value());
  ASSERT_TRUE(laptop.merge_state(incoming, kT0 + 40).ok());
  EXPECT_EQ(laptop.export_state(), state);
  EXPECT_EQ(to_json(laptop.profile().to_value()), profile);
}

TEST(Sync, BadStateChangesNothing) {
  Engine phone = Device("phone");
  Ingest(phone, Event(kT0, "page_view"));
  std::string before = phone.export_state();
  Status st = phone.merge_state(R"({"v":1,"erased_at":"yesterday"})", kT0);
  EXPECT_EQ(
      st.message(),
      "sync state: erased_at: must be a whole number from -8640000000000000 to 8640000000000000");
  EXPECT_EQ(phone.export_state(), before);
  EXPECT_EQ(phone.merge_state("{", kT0).code(), Code::kInvalidJson);
  EXPECT_EQ(phone.export_state(), before);
}

// The debug view counts every device, as the rules do; profile() stays this device's own part.
TEST(Sync, MergedProfileAddsUpEveryDevice) {
  Engine phone = Device("phone"), laptop = Device("laptop");
  Ingest(phone, Event(kT0, "page_view"));
  Ingest(phone, Event(kT0 + 1000, "purchase", R"({"value":60})"));
  Ingest(laptop, Event(kT0 - 5000, "page_view"));
  Ingest(laptop, Event(kT0 + 7200000, "page_view"));
  Ingest(laptop, Event(kT0 + 7200001, "purchase", R"({"value":50})"));
  ASSERT_TRUE(phone.merge_state(laptop.export_state(), kT0 + 7300000).ok());
  const Profile merged = phone.merged_profile();
  const Bundle& b = phone.bundle();
  const Series& views = merged.counts[static_cast<size_t>(b.event_type_index("page_view"))];
  EXPECT_EQ(views.total, 3);
  EXPECT_EQ(views.last_t, kT0 + 7200000);
  // Buckets add up by index: hour of kT0 has 1 (phone), the hour before 1 (laptop), two hours
  // later 1 (laptop).
  ASSERT_EQ(views.hourly.size(), 3u);
  EXPECT_EQ(views.hourly[0].value + views.hourly[1].value + views.hourly[2].value, 3);
  EXPECT_LT(views.hourly[0].index, views.hourly[1].index);
  EXPECT_LT(views.hourly[1].index, views.hourly[2].index);
  const Series& spend = merged.metrics[static_cast<size_t>(b.metric_index("spend"))];
  EXPECT_EQ(spend.total, 110);
  EXPECT_EQ(merged.first_seen, kT0 - 5000);
  EXPECT_EQ(merged.last_seen, kT0 + 7200001);
  // This device's own part is unchanged.
  EXPECT_EQ(phone.profile().counts[static_cast<size_t>(b.event_type_index("page_view"))].total, 1);
}

// The HTTP exchange (docs/server.md): the device sends what the server lacks given its cursor
// and its version vector; the server answers what the device lacks and its new cursor.
TEST(Sync, SyncRequestSendsOnlyWhatTheCursorLacks) {
  Engine phone = Device("phone"), laptop = Device("laptop");
  Ingest(phone, Event(kT0, "page_view"));
  Ingest(laptop, Event(kT0 + 1000, "page_view"));
  ASSERT_TRUE(phone.merge_state(laptop.export_state(), kT0 + 2000).ok());

  Result<std::string> first = phone.sync_request("");
  ASSERT_TRUE(first.ok()) << first.status().message();
  Value req = J(first.value());
  // No cursor: both components; the versions name both devices, sorted.
  EXPECT_EQ(req.find("delta")->find("components")->as_array().size(), 2u);
  const Array& vv = req.find("versions")->as_array();
  ASSERT_EQ(vv.size(), 2u);
  EXPECT_EQ(vv[0].as_array()[0].as_string(), "laptop");
  EXPECT_EQ(vv[1].as_array()[0].as_string(), "phone");

  // A cursor holding the laptop's component at its version: only the phone's is sent.
  const std::string cursor = to_json(Value::MakeArray({vv[0]}));
  Result<std::string> second = phone.sync_request(cursor);
  ASSERT_TRUE(second.ok());
  const Value second_req = J(second.value());
  const Array& comps = second_req.find("delta")->find("components")->as_array();
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_EQ(comps[0].find("device")->as_string(), "phone");

  // A server holding the laptop's state that merges the delta ends with the phone's state.
  Engine server = Device("server");
  ASSERT_TRUE(server.merge_state(laptop.export_state(), kT0 + 2000).ok());
  ASSERT_TRUE(server.merge_state(to_json(*second_req.find("delta")), kT0 + 2000).ok());
  EXPECT_EQ(server.export_state(), phone.export_state());

  // A cursor at everything: no component to send.
  Result<std::string> none = phone.sync_request(to_json(*req.find("versions")));
  ASSERT_TRUE(none.ok());
  const Value none_req = J(none.value());
  EXPECT_TRUE(none_req.find("delta")->find("components")->as_array().empty());
}

TEST(Sync, BadCursorNamesTheEntry) {
  Engine phone = Device("phone");
  struct Case {
    const char* cursor;
    const char* error;
  } cases[] = {
      {"{", "cursor: invalid JSON"},
      {"{}", "cursor: must be an array"},
      {"[[\"a\",0]]", "cursor[0]: must be [device, epoch, version]"},
      {"[[\"\",0,1]]", "cursor[0][0]: must be a non-empty string"},
      {"[[\"a\",0.5,1]]", "cursor[0][1]: must be a whole number"},
      {"[[\"a\",0,-1]]", "cursor[0][2]: must be a whole number"},
      {"[[\"b\",0,1],[\"a\",0,1]]", "cursor[1]: devices must ascend"},
  };
  for (const Case& c : cases) {
    Result<std::string> r = phone.sync_request(c.cursor);
    ASSERT_FALSE(r.ok()) << c.cursor;
    EXPECT_EQ(r.status().message().rfind(c.error, 0), 0u)
        << c.cursor << " -> " << r.status().message();
  }
  // Round trip of a valid vector.
  Result<VersionVector> v = import_versions(R"([["a",0,3],["b",1700000000000,9]])");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(export_versions(v.value()), R"([["a",0,3],["b",1700000000000,9]])");
  EXPECT_TRUE(import_versions("").value().empty());
  EXPECT_TRUE(import_versions("null").value().empty());
}

// Three devices, random events, identifies and impressions, random syncs of full states with
// drops and duplicates and out-of-order delivery; after everything is delivered and a final
// exchange, every device shows the same segments and decisions and holds the same state.
TEST(Sync, RandomDevicesConverge) {
  for (uint32_t seed = 0; seed < 150; ++seed) {
    std::mt19937 rng(seed);
    std::vector<Engine> devices;
    for (int i = 0; i < 3; ++i) devices.push_back(Device("d" + std::to_string(i)));
    struct Msg {
      size_t to;
      std::string state;
    };
    std::deque<Msg> flight;
    int64_t t = kT0;
    for (int step = 0; step < 60; ++step) {
      t += 1000 * static_cast<int64_t>(rng() % 900);
      size_t who = rng() % devices.size();
      Engine& e = devices[who];
      int k = static_cast<int>(rng() % 10);
      if (k < 4) {
        Ingest(e, Event(t, rng() % 2 ? "page_view" : "purchase", R"({"value":40})"));
      } else if (k == 4) {
        ASSERT_TRUE(
            e.identify("user-1", J(rng() % 2 ? R"({"plan":"pro"})" : R"({"plan":"free"})"), t)
                .ok());
      } else if (k == 5) {
        ASSERT_TRUE(e.feedback("offer", Outcome::kImpression, t).ok());
      } else if (k < 9) {
        Msg m{rng() % devices.size(), e.export_state()};
        if (rng() % 5) flight.push_back(m);
        if (rng() % 5 == 0) flight.push_back(m);
      } else if (!flight.empty()) {
        size_t i = rng() % flight.size();
        ASSERT_TRUE(devices[flight[i].to].merge_state(flight[i].state, t).ok());
        flight.erase(flight.begin() + static_cast<long>(i));
      }
    }
    for (const Msg& m : flight) ASSERT_TRUE(devices[m.to].merge_state(m.state, t).ok());
    for (int round = 0; round < 2; ++round) {
      for (Engine& from : devices) {
        std::string state = from.export_state();
        for (Engine& to : devices) ASSERT_TRUE(to.merge_state(state, t).ok());
      }
    }
    std::string state = devices[0].export_state();
    V segments = devices[0].segments();
    std::string shown = Shown(devices[0], t + 1);
    for (Engine& e : devices) {
      ASSERT_EQ(e.export_state(), state) << "seed " << seed;
      ASSERT_EQ(e.segments(), segments) << "seed " << seed;
      ASSERT_EQ(Shown(e, t + 1), shown) << "seed " << seed;
    }
  }
}

}  // namespace
}  // namespace pz
