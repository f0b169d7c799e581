// The engine over event streams: incremental re-evaluation equals full re-evaluation, the
// profile stays bounded, bad events change nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "pz/engine.h"
#include "test_util.h"

namespace pz {
namespace {

const int64_t kT0 = 1793577600000;

// A bundle whose segments read every kind of input: windows of several sizes, since, traits,
// context, page, event, profile, now, and other segments (a DAG).
const char kBundle[] = R"({"version":"prop","consent":{"mode":"opt-out"},
  "retention":{"hourly_buckets":6,"daily_buckets":5},
  "metrics":[{"id":"views","event":"view"},
             {"id":"spend","event":"buy","sum":"props.v"},
             {"id":"docs","event":"view","where":{"starts_with":[{"var":"page.path"},"/docs"]}}],
  "segments":[
    {"id":"w30m","rule":{">=":[{"count":["view","30m"]},2]}},
    {"id":"w3h","rule":{">=":[{"metric":["views","3h"]},3]}},
    {"id":"w2d","rule":{">":[{"metric":["spend","2d"]},50]}},
    {"id":"all","rule":{">=":[{"count":["buy","all"]},2]}},
    {"id":"recent","rule":{"<":[{"since":["buy"]},600000]}},
    {"id":"docs","rule":{">=":[{"metric":["docs","5d"]},1]}},
    {"id":"pro","rule":{"==":[{"var":"traits.plan"},"pro"]}},
    {"id":"mobile","rule":{"==":[{"var":"context.device"},"mobile"]}},
    {"id":"on_docs","rule":{"starts_with":[{"var":"page.path"},"/docs"]}},
    {"id":"last_buy","rule":{"==":[{"var":"event.type"},"buy"]}},
    {"id":"returning","rule":{">":[{"var":"profile.sessions"},1]}},
    {"id":"odd_minute","rule":{"==":[{"%":[{"/":[{"var":"now"},60000]},2]},1]}},
    {"id":"combo","rule":{"and":[{"in_segment":["w3h"]},{"!":{"in_segment":["pro"]}}]}},
    {"id":"combo2","rule":{"or":[{"var":"segments.combo"},{"in_segment":["recent"]}]}},
    {"id":"dyn","rule":{"==":[{"var":{"cat":["traits.",{"var":"context.key"}]}},1]}},
    {"id":"bucketed","rule":{"<":[{"bucket":["exp1"]},50]}},
    {"id":"mix","rule":{"and":[{">=":[{"count":["view","30m"]},1]},
                               {"starts_with":[{"var":"page.path"},"/docs"]},
                               {"==":[{"var":"context.device"},"mobile"]}]}},
    {"id":"either","rule":{"or":[{"<":[{"since":["buy"]},300000]},
                                 {">":[{"metric":["spend","2d"]},20]},
                                 {"==":[{"var":"traits.plan"},"free"]}]}},
    {"id":"err_or","rule":{"or":[{"in":["a",{"var":"traits.bad"}]},{"==":[{"var":"traits.k"},1]}]}},
    {"id":"err_and","rule":{"and":[{"==":[{"var":"traits.k"},0]},{"in":["a",{"var":"traits.bad"}]}]}},
    {"id":"dup_mix","rule":{"and":[{"==":[{"var":"context.device"},"mobile"]},
                                   {">=":[{"count":["view","30m"]},1]}]}},
    {"id":"dup_either","rule":{"or":[{"<":[3,{"count":["view","3h"]}]},
                                     {">":[{"metric":["spend","2d"]},20]}]}},
    {"id":"dup_dep","rule":{"and":[{"in_segment":["combo"]},{"!=":[{"metric":["spend","2d"]},0]},
                                   {"==":[{"count":["buy","all"]},1]}]}},
    {"id":"dup_dep2","rule":{"or":[{"==":[{"var":"traits.k"},1]},{"in_segment":["combo"]},
                                   {"==":[{"count":["buy","all"]},1]}]}},
    {"id":"dup_twice","rule":{"and":[{"<=":[{"metric":["views","3h"]},4]},
                                     {"<=":[{"metric":["views","3h"]},4]}]}}],
  "actions":[
    {"id":"a_combo","slots":["hero"],"eligible":{"in_segment":["combo"]},"propensity":0.5,"value":10,"content":1},
    {"id":"a_docs","slots":["hero"],"eligible":{"and":[{"starts_with":[{"var":"page.path"},"/docs"]},
      {">=":[{"count":["view","30m"]},1]}]},"propensity":0.4,"value":10,"content":2},
    {"id":"a_mobile","slots":["hero"],"eligible":{"==":[{"var":"context.device"},"mobile"]},
     "propensity":0.3,"value":10,"content":3},
    {"id":"a_recent","slots":["hero"],"eligible":{"and":[{"!==":[{"since":["buy"]},null]},
      {"<":[{"since":["buy"]},120000]}]},"propensity":0.35,
     "value":10,"content":4},
    {"id":"a_either","slots":["hero"],"eligible":{"in_segment":["either"]},"propensity":0.2,"value":10,"content":5},
    {"id":"a_err","slots":["hero"],"eligible":{"in":["a",{"var":"traits.bad"}]},"propensity":0.9,
     "value":10,"content":4},
    {"id":"a_any","slots":["hero"],"propensity":0.01,"value":1,"content":7}],
  "defaults":{"hero":{"content":"hi"}}})";

std::string RandomLine(std::mt19937& rng, int64_t& t) {
  std::uniform_int_distribution<int> kind(0, 99), small(0, 9);
  // Time moves by a few seconds to a day, sometimes backwards a little (late events).
  int step = kind(rng);
  if (step < 60) {
    t += 1000 * (1 + small(rng)) * 7;
  } else if (step < 85) {
    t += 60000 * (1 + small(rng)) * 9;
  } else if (step < 97) {
    t += 3600000LL * (1 + small(rng));
  } else {
    t -= 60000 * small(rng);
  }
  std::string ts = std::to_string(t);
  int k = kind(rng);
  static const char* paths[] = {"/", "/docs/a", "/pricing", "/docs"};
  if (k < 40) {
    return R"({"t":)" + ts + R"(,"type":"view","page":{"path":")" + paths[small(rng) % 4] +
           R"("}})";
  }
  if (k < 55) {
    return R"({"t":)" + ts + R"(,"type":"buy","props":{"v":)" + std::to_string(small(rng) * 13) +
           "}}";
  }
  if (k < 65) return R"({"t":)" + ts + R"(,"type":"other"})";
  if (k < 72) {
    // traits.bad an object with its own indexOf makes `in` throw (a rule error) now and then.
    return R"({"t":)" + ts + R"(,"identify":"u1","traits":{"plan":")" +
           (small(rng) < 5 ? "pro" : "free") + R"(","k":)" + std::to_string(small(rng) % 2) +
           (small(rng) < 3 ? R"(,"bad":{"indexOf":1})" : R"(,"bad":"abc")") + "}}";
  }
  if (k < 80) {
    return R"({"t":)" + ts + R"(,"decide":["hero"],"context":{"device":")" +
           (small(rng) < 5 ? "mobile" : "desktop") + R"(","key":")" +
           (small(rng) < 5 ? "k" : "plan") + R"("}})";
  }
  if (k < 88) {
    return R"({"t":)" + ts + R"(,"decide":["hero"],"page":{"path":")" + paths[small(rng) % 4] +
           R"("}})";
  }
  if (k < 92) return R"({"t":)" + ts + R"(,"type":7})";  // rejected
  return R"({"t":)" + ts + R"(,"decide":["hero"]})";
}

// Feeds the same lines to an incremental and a full-re-evaluation engine and compares
// memberships after every line, and every decision with its trace (cached eligibility equals
// eligibility evaluated afresh).
void CheckIncrementalEqualsFull(uint32_t seed, int lines) {
  Engine inc, full;
  ASSERT_TRUE(inc.load_bundle(kBundle).ok());
  ASSERT_TRUE(full.load_bundle(kBundle).ok());
  inc.set_anonymous_id("visitor-" + std::to_string(seed));
  full.set_anonymous_id("visitor-" + std::to_string(seed));
  full.set_incremental(false);
  std::mt19937 rng(seed);
  int64_t t = kT0;
  JsonParser parser;
  for (int i = 0; i < lines; ++i) {
    std::string line = RandomLine(rng, t);
    Value v = parser.parse(line).value();
    std::vector<Decision> decided[2];
    for (Engine* e : {&inc, &full}) {
      if (const Value* slots = v.find("decide")) {
        if (const Value* c = v.find("context")) ASSERT_TRUE(e->set_context(*c).ok());
        const Value* page = v.find("page");
        decided[e == &full] = e->decide({"hero"}, static_cast<int64_t>(v.find("t")->as_number()),
                                        page ? *page : Value());
        (void)slots;
      } else if (const Value* user = v.find("identify")) {
        ASSERT_TRUE(e->identify(user->as_string(), *v.find("traits"),
                                static_cast<int64_t>(v.find("t")->as_number()))
                        .ok());
      } else {
        (void)e->ingest(v);
      }
    }
    ASSERT_EQ(inc.segments(), full.segments()) << "seed " << seed << " line " << i << ": " << line;
    ASSERT_EQ(decided[0].size(), decided[1].size());
    for (size_t d = 0; d < decided[0].size(); ++d) {
      ASSERT_EQ(to_json(inc.why(decided[0][d])), to_json(full.why(decided[1][d])))
          << "seed " << seed << " line " << i << ": " << line;
    }
  }
  // The incremental engine did less work.
  EXPECT_LT(inc.segment_evaluations(), full.segment_evaluations());
}

TEST(Engine, IncrementalEqualsFullOnRandomStreams) {
  for (uint32_t seed = 1; seed <= 40; ++seed) CheckIncrementalEqualsFull(seed, 400);
}

// The decisions of the random streams above are not all the same one (the check compares
// something), and rule errors happen in them.
TEST(Engine, RandomStreamsDecideVariously) {
  Engine e;
  ASSERT_TRUE(e.load_bundle(kBundle).ok());
  std::mt19937 rng(3);
  int64_t t = kT0;
  JsonParser parser;
  std::set<std::string> actions;
  int failed = 0;
  for (int i = 0; i < 2000; ++i) {
    Value v = parser.parse(RandomLine(rng, t)).value();
    if (v.find("decide") != nullptr) {
      if (const Value* c = v.find("context")) ASSERT_TRUE(e.set_context(*c).ok());
      const Value* page = v.find("page");
      for (const Decision& d : e.decide({"hero"}, static_cast<int64_t>(v.find("t")->as_number()),
                                        page ? *page : Value())) {
        actions.insert(d.action);
        for (const CandidateTrace& c : d.trace.candidates) {
          failed += c.removed == CandidateTrace::Removed::kRuleFailed;
        }
      }
    } else if (const Value* user = v.find("identify")) {
      ASSERT_TRUE(e.identify(user->as_string(), *v.find("traits"),
                             static_cast<int64_t>(v.find("t")->as_number()))
                      .ok());
    } else {
      (void)e.ingest(v);
    }
  }
  EXPECT_GE(actions.size(), 4u);
  EXPECT_GT(failed, 0);
}

// Eligibility is evaluated when a decision needs it and its inputs moved, not on every decision.
TEST(Engine, EligibilityIsCachedUntilItsInputsChange) {
  Engine e;
  ASSERT_TRUE(e.load_bundle(kBundle).ok());
  JsonParser parser;
  ASSERT_TRUE(e.set_context(parser.parse(R"({"device":"desktop"})").value()).ok());
  const int64_t t = kT0 + 1000;
  ASSERT_TRUE(
      e.ingest(R"({"t":)" + std::to_string(t) + R"(,"type":"view","page":{"path":"/x"}})").ok());
  std::vector<Decision> first = e.decide({"hero"}, t);
  uint64_t after_first = e.eligibility_evaluations();
  EXPECT_GT(after_first, 0u);
  std::vector<Decision> again = e.decide({"hero"}, t);
  EXPECT_EQ(e.eligibility_evaluations(), after_first);  // nothing moved: all cached
  EXPECT_EQ(again[0].action, first[0].action);
  // The context changes: only a_mobile (and nothing else) reads it.
  ASSERT_TRUE(e.set_context(parser.parse(R"({"device":"mobile"})").value()).ok());
  std::vector<Decision> mobile = e.decide({"hero"}, t);
  EXPECT_EQ(e.eligibility_evaluations(), after_first + 1);
  EXPECT_EQ(mobile[0].action, "a_mobile");
  // A purchase: a_recent reads since(buy), so it moves with every ms from now on.
  ASSERT_TRUE(
      e.ingest(R"({"t":)" + std::to_string(t + 10) + R"(,"type":"buy","props":{"v":1}})").ok());
  EXPECT_EQ(e.decide({"hero"}, t + 10)[0].action, "a_recent");
  EXPECT_EQ(e.decide({"hero"}, t + 10 + 120000)[0].action, "a_mobile");  // 2 min later: not recent
  // explain=false: the same decision, without the candidates' traces.
  std::vector<Decision> quiet = e.decide({"hero"}, t + 10 + 120000, Value(), false);
  EXPECT_EQ(quiet[0].action, "a_mobile");
  EXPECT_TRUE(quiet[0].trace.candidates.empty());
  EXPECT_FALSE(e.decide({"hero"}, t + 10 + 120000)[0].trace.candidates.empty());
}

TEST(Engine, ProfileStaysBoundedUnderALongStream) {
  Engine e;
  ASSERT_TRUE(e.load_bundle(kBundle).ok());
  int64_t t = kT0;
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) {
    t += 1000 + static_cast<int64_t>(rng() % 600000);
    std::string type = (i % 3 == 0) ? "buy" : (i % 3 == 1 ? "view" : "type" + std::to_string(i));
    ASSERT_TRUE(
        e.ingest(R"({"t":)" + std::to_string(t) + R"(,"type":")" + type + R"(","props":{"v":3}})")
            .ok());
  }
  const Profile& p = e.profile();
  // Series only for what the bundle names: 3 metrics, 2 counted types (view, buy).
  EXPECT_EQ(p.metrics.size(), 3u);
  EXPECT_EQ(p.counts.size(), 2u);
  for (const std::vector<Series>* all : {&p.metrics, &p.counts}) {
    for (const Series& s : *all) {
      EXPECT_LE(s.hourly.size(), 7u);  // hourly_buckets + 1
      EXPECT_LE(s.daily.size(), 6u);   // daily_buckets + 1
    }
  }
  EXPECT_LT(to_json(p.to_value()).size(), 4096u);
}

TEST(Engine, RejectedEventChangesNothing) {
  Engine e;
  ASSERT_TRUE(e.load_bundle(kBundle).ok());
  ASSERT_TRUE(e.ingest(R"({"t":1000,"type":"view","page":{"path":"/docs"}})").ok());
  std::string before = to_json(e.profile().to_value());
  for (const char* bad :
       {R"({"t":2000,"type":"view","page":{"path":5}})", R"({"t":"2000","type":"view"})",
        R"({"t":2000})", "[1]", "{", R"({"t":1e300,"type":"view"})",
        R"({"t":2000,"type":"buy","props":3})", R"({"t":2000,"type":"buy","id":5})"}) {
    EXPECT_FALSE(e.ingest(bad).ok()) << bad;
  }
  EXPECT_EQ(to_json(e.profile().to_value()), before);
  std::string huge =
      R"({"t":2000,"type":"view","props":{"x":")" + std::string(40000, 'a') + R"("}})";
  EXPECT_EQ(e.ingest(huge).message(), "event is larger than 32768 bytes");
  EXPECT_EQ(to_json(e.profile().to_value()), before);
}

// Regression found by fuzz/fuzz_simulate: a host `now` near INT64_MAX overflowed the window
// arithmetic (signed overflow, caught by UBSan); times are clamped to JavaScript's Date range.
// parse_event reads the fields in one pass over the members: the error for an event with
// several bad fields is still the first in the documented order (type, t, id, props, page, then
// page.url, path, referrer, title), whatever the key order; unknown keys never matter.
TEST(Engine, EventErrorsFollowTheFieldOrderNotTheKeyOrder) {
  struct Case {
    std::vector<std::string> members;  // "key":value pairs, tried in every order
    std::string error;
  };
  const std::vector<Case> cases = {
      {{R"("type":7)", R"("t":"x")", R"("page":5)", R"("x":1)"}, "event.type must be"},
      {{R"("type":"v")", R"("t":"x")", R"("id":3)", R"("props":[])"}, "event.t must be"},
      {{R"("type":"v")", R"("t":1)", R"("id":3)", R"("props":[])"}, "event.id must be"},
      {{R"("type":"v")", R"("t":1)", R"("props":[])", R"("page":5)"}, "event.props must be"},
      {{R"("type":"v")", R"("t":1)", R"("page":5)", R"("ty":1)"}, "event.page must be"},
      {{R"("type":"v")", R"("t":1)", R"("page":{"title":1,"referrer":2,"path":3})"},
       "event.page.path must be"},
      {{R"("t":1)", R"("page":{"title":1,"urls":"","url":4})", R"("type":"v")"},
       "event.page.url must be"},
      {{R"("tt":1)", R"("type":"v")", R"("typ":"x")", R"("pag":5)", R"("prop":[])", R"("t":1)"},
       ""},
  };
  for (const Case& c : cases) {
    std::vector<std::string> order = c.members;
    std::sort(order.begin(), order.end());
    do {
      std::string json = "{";
      for (size_t i = 0; i < order.size(); ++i) json += (i ? "," : "") + order[i];
      json += "}";
      Result<Value> v = parse_json(json);
      ASSERT_TRUE(v.ok()) << json;
      Result<Event> e = parse_event(v.value());
      if (c.error.empty()) {
        EXPECT_TRUE(e.ok()) << json;
      } else {
        ASSERT_FALSE(e.ok()) << json;
        EXPECT_EQ(e.status().message().rfind(c.error, 0), 0u)
            << json << " -> " << e.status().message();
      }
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

TEST(Engine, ExtremeNowIsClamped) {
  Engine e;
  ASSERT_TRUE(e.load_bundle(kBundle).ok());
  ASSERT_TRUE(e.ingest(R"({"t":1000,"type":"view"})").ok());
  e.decide({"hero"}, INT64_MAX - 5);
  e.decide({"hero"}, INT64_MIN + 5);
  e.evaluate(INT64_MAX);
  ASSERT_TRUE(e.identify("u", Value(), INT64_MAX).ok());
  std::vector<std::string> segments = e.segments();
  // Far in the future the 3h window is empty; the lifetime count is still there.
  EXPECT_TRUE(std::find(segments.begin(), segments.end(), "w3h") == segments.end());
  EXPECT_EQ(e.profile().counts[0].total, 1);
}

TEST(Engine, SegmentsFollowTimeWithoutEvents) {
  Engine e;
  ASSERT_TRUE(
      e.load_bundle(
           R"({"version":"t","consent":{"mode":"opt-out"},"metrics":[{"id":"spend","event":"buy","sum":"props.v"}],
    "segments":[{"id":"recent","rule":{"<":[{"since":["buy"]},600000]}},
                {"id":"w2d","rule":{">":[{"metric":["spend","2d"]},50]}},
                {"id":"last_buy","rule":{"==":[{"var":"event.type"},"buy"]}}]})")
          .ok());
  ASSERT_TRUE(
      e.ingest(R"({"t":)" + std::to_string(kT0) + R"(,"type":"buy","props":{"v":60}})").ok());
  EXPECT_EQ(e.segments(), (std::vector<std::string>{"last_buy", "recent", "w2d"}));
  e.evaluate(kT0 + 11 * 60000);  // since(buy) is now 11 min
  EXPECT_EQ(e.segments(), (std::vector<std::string>{"last_buy", "w2d"}));
  e.evaluate(kT0 + 3 * 86400000LL);  // the 2d window has moved past the purchase day
  EXPECT_EQ(e.segments(), (std::vector<std::string>{"last_buy"}));
}

}  // namespace
}  // namespace pz
