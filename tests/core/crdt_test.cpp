// The mergeable profile as an algebra: merge is commutative, associative and idempotent;
// replicas converge under reordered, duplicated and dropped messages; export/import round-trips;
// merging never grows a state past its bounds; bad sync input names the field.
#include "pz/crdt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <random>

#include "test_util.h"

namespace pz {
namespace {

const int64_t kT0 = 1793577600000;

// A replica: its merged state, the device it writes as, and its clock.
struct Replica {
  std::string device;
  ProfileState state;
  Hlc clock;
  int64_t now = kT0;
};

Component& Own(Replica& r) {
  int64_t epoch = r.state.erased ? r.state.erased_at : 0;
  auto& cs = r.state.components;
  auto it = std::lower_bound(cs.begin(), cs.end(), r.device,
                             [](const Component& c, const std::string& d) { return c.device < d; });
  if (it == cs.end() || it->device != r.device) {
    Component c;
    c.device = r.device;
    c.epoch = epoch;
    it = cs.insert(it, std::move(c));
  } else if (it->epoch < epoch) {
    Component c;
    c.device = r.device;
    c.epoch = epoch;
    c.version = it->version;
    *it = std::move(c);
  }
  return *it;
}

template <typename T>
T& Named(std::vector<std::pair<std::string, T>>& items, const std::string& name) {
  auto it = std::lower_bound(items.begin(), items.end(), name,
                             [](const auto& e, const std::string& n) { return e.first < n; });
  if (it == items.end() || it->first != name) it = items.emplace(it, name, T{});
  return it->second;
}

// One random local write by a replica's own device.
void LocalWrite(Replica& r, std::mt19937& rng, bool erasures = true) {
  r.now += 1 + static_cast<int64_t>(rng() % 7200000);
  int kind = static_cast<int>(rng() % 10);
  if (kind < 5) {
    Component& c = Own(r);
    ++c.version;
    if (!c.seen || r.now > c.last_seen + 1800000) ++c.sessions;
    if (!c.seen) c.first_seen = r.now;
    c.seen = true;
    c.last_seen = std::max(c.last_seen, r.now);
    Retention retention;
    std::string name = "m" + std::to_string(rng() % 3);
    Named(kind < 3 ? c.metrics : c.counts, name)
        .add(r.now, static_cast<double>(rng() % 5) - 1, retention);
    if (kind == 4) ++Named(c.exposures, "a" + std::to_string(rng() % 2)).impressions;
  } else if (kind < 8) {
    r.clock = Hlc::next(r.clock, r.now, r.device);
    LwwRegister reg;
    reg.set = true;
    reg.stamp = r.clock;
    reg.value = kind == 7 ? Value::Null() : Value::Number(static_cast<double>(rng() % 100));
    Named(r.state.traits, "k" + std::to_string(rng() % 4)) = reg;
  } else if (kind == 8) {
    r.clock = Hlc::next(r.clock, r.now, r.device);
    r.state.user_id.set = true;
    r.state.user_id.stamp = r.clock;
    r.state.user_id.value = Value::String("user-" + std::to_string(rng() % 3));
  } else if (erasures && rng() % 4 == 0) {  // an erasure, now and then
    ProfileState erasure;
    erasure.erased = true;
    erasure.erased_at = r.now;
    r.state = merge(r.state, erasure);
  }
}

struct Message {
  size_t to;
  ProfileState state;
};

// One history: 3 replicas writing and syncing (full states or deltas, sometimes through the
// JSON format) with messages reordered, duplicated and dropped; then every message is delivered
// and a final full exchange runs. All replicas must then be byte-identical.
void RunHistory(uint32_t seed, int steps) {
  std::mt19937 rng(seed);
  std::vector<Replica> replicas(3);
  for (size_t i = 0; i < replicas.size(); ++i) replicas[i].device = "dev" + std::to_string(i);
  std::deque<Message> in_flight;
  for (int step = 0; step < steps; ++step) {
    Replica& r = replicas[rng() % replicas.size()];
    int what = static_cast<int>(rng() % 10);
    if (what < 5) {
      LocalWrite(r, rng);
    } else if (what < 8) {
      size_t to = rng() % replicas.size();
      ProfileState payload = rng() % 2 ? delta(r.state, versions(replicas[to].state)) : r.state;
      if (rng() % 3 == 0) {
        Result<ProfileState> through = import_state(export_state(payload));
        ASSERT_TRUE(through.ok()) << through.status().message();
        payload = through.take();
      }
      if (rng() % 5 != 0) in_flight.push_back({to, payload});  // 1 in 5 dropped
      if (rng() % 5 == 0) in_flight.push_back({to, payload});  // 1 in 5 duplicated
    } else if (!in_flight.empty()) {
      size_t k = rng() % in_flight.size();  // delivered out of order
      Replica& dst = replicas[in_flight[k].to];
      dst.state = merge(dst.state, in_flight[k].state);
      in_flight.erase(in_flight.begin() + static_cast<long>(k));
    }
  }
  while (!in_flight.empty()) {
    Replica& dst = replicas[in_flight.front().to];
    dst.state = merge(dst.state, in_flight.front().state);
    in_flight.pop_front();
  }
  for (int round = 0; round < 2; ++round) {
    for (Replica& a : replicas) {
      for (Replica& b : replicas) b.state = merge(b.state, a.state);
    }
  }
  std::string first = export_state(replicas[0].state);
  for (const Replica& r : replicas) ASSERT_EQ(export_state(r.state), first) << "seed " << seed;
}

TEST(Crdt, ReplicasConvergeUnderReorderedDuplicatedAndDroppedMessages) {
  int histories = 100000;
  if (const char* n = std::getenv("PZ_CRDT_HISTORIES")) histories = std::atoi(n);
  for (int h = 0; h < histories; ++h) {
    RunHistory(static_cast<uint32_t>(h), 12);
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (uint32_t h = 0; h < 200; ++h) {  // fewer, longer histories
    RunHistory(1000000 + h, 300);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

ProfileState RandomState(uint32_t seed, int devices = 3, int writes = 40, bool erasures = true) {
  std::mt19937 rng(seed);
  std::vector<Replica> replicas(static_cast<size_t>(devices));
  ProfileState all;
  for (int i = 0; i < devices; ++i) {
    replicas[static_cast<size_t>(i)].device =
        "d" + std::to_string(seed % 7) + "-" + std::to_string(i);
  }
  for (int w = 0; w < writes; ++w) LocalWrite(replicas[rng() % replicas.size()], rng, erasures);
  for (Replica& r : replicas) {
    if (rng() % 2) all = merge(all, r.state);
  }
  return all;
}

TEST(Crdt, MergeIsCommutativeAssociativeIdempotent) {
  for (uint32_t i = 0; i < 3000; ++i) {
    ProfileState a = RandomState(3 * i), b = RandomState(3 * i + 1), c = RandomState(3 * i + 2);
    std::string ab = export_state(merge(a, b));
    ASSERT_EQ(ab, export_state(merge(b, a)));
    ASSERT_EQ(export_state(merge(merge(a, b), c)), export_state(merge(a, merge(b, c))));
    ASSERT_EQ(export_state(merge(a, a)), export_state(merge(a, ProfileState())));
    ASSERT_EQ(export_state(merge(merge(a, b), b)), ab);
  }
}

TEST(Crdt, DeltaCarriesWhatTheReplicaLacks) {
  for (uint32_t i = 0; i < 2000; ++i) {
    ProfileState s = RandomState(2 * i), replica = RandomState(2 * i + 1);
    replica = merge(replica, RandomState(2 * i));  // the replica already has part of it
    ASSERT_EQ(export_state(merge(replica, delta(s, versions(replica)))),
              export_state(merge(replica, s)));
  }
}

TEST(Crdt, ExportImportRoundTrips) {
  for (uint32_t i = 0; i < 2000; ++i) {
    ProfileState s = RandomState(i);
    std::string text = export_state(s);
    Result<ProfileState> back = import_state(text);
    ASSERT_TRUE(back.ok()) << back.status().message();
    ASSERT_EQ(export_state(back.value()), text);
  }
}

TEST(Crdt, MergingNeverGrowsPastTheBounds) {
  ProfileState all;
  for (uint32_t i = 0; i < 60; ++i) {
    // 60 states of 3 devices each (180 devices), with 4 trait keys each under distinct names.
    ProfileState s = RandomState(i, 3, 60, /*erasures=*/false);
    std::vector<std::pair<std::string, LwwRegister>> renamed;
    for (auto& [k, reg] : s.traits) renamed.emplace_back("s" + std::to_string(100 + i) + k, reg);
    s.traits = renamed;
    all = merge(all, s);
    ASSERT_LE(all.components.size(), kMaxComponents);
    ASSERT_LE(all.traits.size(), kMaxTraits);
  }
  EXPECT_EQ(all.components.size(), kMaxComponents);
  EXPECT_EQ(all.traits.size(), kMaxTraits);
}

TEST(Crdt, ErasureDropsOlderDataOnEveryReplica) {
  ProfileState a = RandomState(7), b = RandomState(8);
  ProfileState erasure;
  erasure.erased = true;
  erasure.erased_at = kT0 + 1000LL * 86400000;  // after every write of the random states
  ProfileState merged = merge(merge(a, erasure), b);
  EXPECT_TRUE(merged.components.empty());
  EXPECT_TRUE(merged.traits.empty());
  EXPECT_FALSE(merged.user_id.set);
  EXPECT_EQ(export_state(merged), export_state(merge(b, merge(erasure, a))));
}

TEST(Crdt, LastWriterWinsByHybridClock) {
  Hlc a = Hlc::next(Hlc(), 1000, "phone");
  Hlc b = Hlc::next(a, 1000, "phone");  // same ms: the counter moves
  EXPECT_EQ(b.ms, 1000);
  EXPECT_EQ(b.counter, 1u);
  EXPECT_LT(compare(a, b), 0);
  Hlc c = Hlc::next(Hlc(), 1000, "laptop");
  EXPECT_LT(compare(c, a), 0);            // same ms and counter: device name breaks the tie
  Hlc late = Hlc::next(b, 500, "phone");  // wall clock went back: still after b
  EXPECT_GT(compare(late, b), 0);
}

TEST(Crdt, BadSyncInputNamesTheField) {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {"[]", "sync state: must be an object"},
      {R"({"v":2})", "sync state: v: unsupported format version 2 (this runtime reads 1)"},
      {R"({"v":1,"erased_at":null,"user_id":null,"consent":null,"traits":[["k",1,"x",0,"d"]],"components":[]})",
       "sync state: traits[0][2]: must be a whole number from -8640000000000000 to "
       "8640000000000000"},
      {R"({"v":1,"erased_at":null,"user_id":null,"consent":null,"traits":[],"components":[{"device":"d","epoch":0,"version":1,"seen":true,"first_seen":1,"last_seen":2,"sessions":1,"metrics":[["m",{"total":1,"last":2,"hourly":[[5,1],[4,1]],"daily":[]}]],"counts":[],"exposures":[]}]})",
       "sync state: components[0].metrics[0][1].hourly[1]: indices must ascend"},
      {R"({"v":1,"erased_at":null,"user_id":null,"consent":null,"traits":[],"components":[{"device":"d"}]})",
       "sync state: components[0].seen: is required"},
      {R"({"v":1,"erased_at":null,"user_id":[1,2,3],"consent":null,"traits":[],"components":[]})",
       "sync state: user_id: must be [value, ms, counter, device]"},
  };
  for (const Case& c : cases) {
    Result<ProfileState> r = import_state(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().message(), c.message);
  }
  EXPECT_EQ(import_state("{").status().code(), Code::kInvalidJson);
}

}  // namespace
}  // namespace pz
