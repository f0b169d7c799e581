// The mergeable profile as an algebra: merge is commutative, associative and idempotent;
// replicas converge under reordered, duplicated and dropped messages; export/import round-trips;
// merging never grows a state past its bounds; bad sync input names the field.
#include "pz/crdt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <random>

#include "pz/json.h"

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

// RandomState with register values of every JSON kind (objects, arrays, strings with non-ASCII
// bytes and characters that are escaped in JSON, fractions, -0), which the fast reader builds too.
ProfileState RichState(uint32_t seed) {
  ProfileState s = RandomState(seed);
  std::mt19937 rng(seed);
  const char* values[] = {
      R"({"necessary":true,"analytics":false,"n":1.5,"s":"x","a":[1,null,"y",[]],"o":{}})",
      R"("caf\u00e9 \"q\" \\ \n")",
      R"("é€😀")",
      R"([0.1,-0,1e21,1E-7,-12345678901234567890])",
      R"({"2":1,"1":2,"b":3,"b":4})",
      "true",
      "null",
      "-0.0",
      R"("")"};
  auto reg = [&](LwwRegister& r) {
    r.set = true;
    r.value = testing::J(values[rng() % (sizeof values / sizeof values[0])]);
    r.stamp = Hlc{kT0 + static_cast<int64_t>(rng() % 1000), static_cast<uint32_t>(rng() % 3),
                  rng() % 2 ? "dev" : "dév"};
  };
  if (rng() % 2) reg(s.consent);
  if (rng() % 2) reg(s.user_id);
  for (auto& t : s.traits) {
    if (rng() % 2) reg(t.second);
  }
  return s;
}

// What import_state gives without its fast reader: the document parsed, then read as a Value.
Result<ProfileState> FullImport(std::string_view text) {
  Result<Value> doc = parse_json(text);
  if (!doc.ok()) return Status(Code::kInvalidJson, "sync state: " + doc.status().message());
  return import_state(doc.value());
}

// One random edit of a JSON text: a byte changed, inserted or deleted, whitespace added, or a
// number written another way (valid or not).
std::string Mutate(const std::string& text, std::mt19937& rng) {
  std::string t = text;
  const size_t at = rng() % t.size();
  static const char* bytes[] = {"0",    "9",    ",",        ":",    "[",
                                "]",    "{",    "}",        "\"",   "\\",
                                "-",    ".",    "e",        "E",    "+",
                                "n",    "t",    "f",        "x",    " ",
                                "\n",   "\x01", "\xc3\xa9", "\xc3", "\xed\xa0\x80",
                                "\xff", "\"\"", "null"};
  switch (rng() % 6) {
    case 0:
      t.replace(at, 1, bytes[rng() % (sizeof bytes / sizeof bytes[0])]);
      break;
    case 1:
      t.insert(at, bytes[rng() % (sizeof bytes / sizeof bytes[0])]);
      break;
    case 2:
      t.erase(at, 1);
      break;
    case 3:
      t.insert(at, rng() % 2 ? " " : "\r\n\t");
      break;
    default: {  // a number at or after `at`, written another way
      size_t b = t.find_first_of("-0123456789", at);
      if (b == std::string::npos) break;
      size_t e = t.find_first_not_of("-+.eE0123456789", b);
      static const char* forms[] = {".0", "e0", "E+1", ".5", "e400", "e-400", "0", ".", "e"};
      const std::string form = forms[rng() % (sizeof forms / sizeof forms[0])];
      if (rng() % 4 == 0) {
        t.replace(b, e - b, rng() % 2 ? "-0" : "01");
      } else {
        t.insert(e, form);
      }
      break;
    }
  }
  return t;
}

// import_state reads the common form straight from the text (no Value tree); wherever it does,
// the result must be the full path's, and everywhere else the full path decides (same errors).
void ExpectSameImport(const std::string& text) {
  Result<ProfileState> fast = import_state(text);
  Result<ProfileState> full = FullImport(text);
  ASSERT_EQ(fast.ok(), full.ok()) << text;
  if (!full.ok()) {
    ASSERT_EQ(fast.status().code(), full.status().code()) << text;
    ASSERT_EQ(fast.status().message(), full.status().message()) << text;
    return;
  }
  ASSERT_EQ(export_state(fast.value()), export_state(full.value())) << text;
}

TEST(Crdt, FastReaderTakesTheCanonicalForm) {
  int taken = 0;
  for (uint32_t i = 0; i < 500; ++i) {
    const ProfileState s = RichState(i);
    const std::string text = export_state(s);
    const std::string body = R"({"id":"x","delta": )" + text + R"( ,"versions":[["a",0,1]]})";
    ExpectSameImport(text);
    if (text.find('\\') != std::string::npos) continue;  // escapes: the full path's
    size_t pos = body.find(": ") + 1;
    ProfileState read;
    ASSERT_TRUE(read_state_at(body, pos, read)) << text;
    EXPECT_EQ(body.substr(pos), R"( ,"versions":[["a",0,1]]})");
    ASSERT_EQ(export_state(read), export_state(FullImport(text).value()));
    ++taken;
  }
  EXPECT_GT(taken, 300);
  // Not the canonical layout (a key missing, moved or added; an escape; a lone surrogate):
  // read_state_at leaves it to the full path, and changes nothing.
  for (
      const char* text : {
          R"({"v":1,"erased_at":null,"user_id":null,"consent":null,"traits":[]})",
          R"({"erased_at":null,"v":1,"user_id":null,"consent":null,"traits":[],"components":[]})",
          R"({"v":1,"erased_at":null,"user_id":null,"consent":null,"traits":[],"components":[],"x":1})",
          R"({"v":1,"erased_at":null,"user_id":["\u0041",1,0,"d"],"consent":null,"traits":[],"components":[]})",
          R"({"v":1,"erased_at":null,"user_id":["\ud800",1,0,"d"],"consent":null,"traits":[],"components":[]})",
      }) {
    size_t pos = 0;
    ProfileState read;
    read.erased_at = 7;
    EXPECT_FALSE(read_state_at(text, pos, read)) << text;
    EXPECT_EQ(pos, 0u);
    EXPECT_EQ(read.erased_at, 7);
    ExpectSameImport(text);
  }
}

TEST(Crdt, FastReaderAgreesWithTheFullPathOnEditedTexts) {
  std::mt19937 rng(42);
  int taken = 0, left = 0;
  for (uint32_t i = 0; i < 400; ++i) {
    const std::string text = export_state(RichState(i));
    for (int k = 0; k < 60; ++k) {
      std::string t = Mutate(text, rng);
      if (k % 3 == 0) t = Mutate(t, rng);
      ExpectSameImport(t);
      if (::testing::Test::HasFatalFailure()) return;
      size_t pos = 0;
      ProfileState read;
      if (read_state_at(t, pos, read)) {
        ++taken;
      } else {
        ++left;
      }
    }
  }
  // Both sides are exercised: edits the fast reader takes (whitespace, other number forms) and
  // edits it leaves to the full path (valid or not).
  EXPECT_GT(taken, 2000);
  EXPECT_GT(left, 2000);
}

TEST(Crdt, FastVersionReaderAgreesWithImportVersions) {
  std::mt19937 rng(7);
  for (uint32_t i = 0; i < 300; ++i) {
    const std::string text = export_versions(versions(RichState(i)));
    for (int k = 0; k < 30; ++k) {
      const std::string t = k == 0 ? text : Mutate(text, rng);
      size_t pos = 0;
      VersionVector fast;
      const bool taken = read_versions_at(t, pos, fast);
      if (k == 0) ASSERT_TRUE(taken) << t;
      if (!taken) continue;
      Result<VersionVector> full = import_versions(t.substr(0, pos), "versions");
      ASSERT_TRUE(full.ok()) << t;
      ASSERT_EQ(export_versions(fast), export_versions(full.value())) << t;
    }
  }
  size_t pos = 0;
  VersionVector v = {{"x", {0, 1}}};
  ASSERT_TRUE(read_versions_at(" null", pos, v));
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(pos, 5u);
}

TEST(Crdt, MergeInPlaceIsMerge) {
  for (uint32_t i = 0; i < 3000; ++i) {
    ProfileState a = i % 5 == 0 ? RichState(2 * i) : RandomState(2 * i, 1 + i % 20);
    ProfileState b = i % 7 == 0 ? a : RichState(2 * i + 1);
    if (i % 11 == 0) {  // a misbehaving writer: b's component under a's version, other content
      b = a;
      for (Component& c : b.components) ++c.sessions;
    }
    const std::string want = export_state(merge(a, b));
    ProfileState moved = a;
    ASSERT_EQ(export_state(merge(std::move(moved), b)), want);
    ProfileState back = b;
    ASSERT_EQ(export_state(merge(std::move(back), a)), want);
  }
}

TEST(Crdt, SameStampTiesResolveAlikeWhateverTheValues) {
  // Equal values under one stamp (a repeated sync) and different ones (a misbehaving writer)
  // resolve by the values' JSON, whichever side each is on.
  const char* values[] = {"0",
                          "-0",
                          "1",
                          "1.0",
                          R"("a")",
                          R"({"a":1,"b":[1,2]})",
                          R"({"b":[1,2],"a":1})",
                          R"({"a":1,"b":[1,3]})",
                          "[]",
                          "null",
                          "true"};
  for (const char* x : values) {
    for (const char* y : values) {
      ProfileState a, b;
      a.consent = {true, testing::J(x), Hlc{5, 0, "d"}};
      b.consent = {true, testing::J(y), Hlc{5, 0, "d"}};
      const std::string ab = export_state(merge(a, b));
      EXPECT_EQ(ab, export_state(merge(b, a))) << x << " " << y;
      const std::string bigger = std::max(to_json(a.consent.value), to_json(b.consent.value));
      EXPECT_NE(ab.find("\"consent\":[" + bigger + ","), std::string::npos) << ab;
    }
  }
}

TEST(Crdt, ExportWithDeltaIsBothExports) {
  for (uint32_t i = 0; i < 2000; ++i) {
    ProfileState s = i % 3 == 0 ? RichState(2 * i) : RandomState(2 * i, 1 + i % 6);
    ProfileState replica = RandomState(2 * i + 1, 1 + i % 4);
    if (i % 2) replica = merge(replica, RandomState(2 * i));
    std::string state = "stale", delta_text = "stale";
    export_state_and_delta(s, versions(replica), state, delta_text);
    ASSERT_EQ(state, export_state(s));
    ASSERT_EQ(delta_text, export_state(delta(s, versions(replica))));
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
