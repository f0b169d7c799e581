// Bundle validation: every error path, reported with its JSON path; all errors at once.
#include <gtest/gtest.h>

#include "pz/bundle.h"
#include "pz/engine.h"
#include "test_util.h"

namespace pz {
namespace {

std::vector<std::string> Errors(const std::string& json) {
  Bundle b;
  std::vector<BundleError> errors;
  bool ok = compile_bundle(json, b, errors);
  std::vector<std::string> out;
  for (const BundleError& e : errors) out.push_back(e.path + ": " + e.message);
  EXPECT_EQ(ok, out.empty());
  return out;
}

using V = std::vector<std::string>;

TEST(Bundle, MinimalIsValid) { EXPECT_EQ(Errors(R"({"version":"1"})"), V{}); }

TEST(Bundle, DemoBundleIsValid) {
  Bundle b;
  std::vector<BundleError> errors;
  ASSERT_TRUE(compile_bundle(testing::ReadFile(PZ_SOURCE_DIR "/demo-site/bundle.json"), b, errors))
      << format_errors(errors);
  EXPECT_EQ(b.metrics.size(), 6u);
  EXPECT_EQ(b.segments.size(), 9u);
  // Segments come after the segments they read.
  std::vector<int> position(b.segments.size());
  for (size_t i = 0; i < b.segment_order.size(); ++i)
    position[static_cast<size_t>(b.segment_order[i])] = static_cast<int>(i);
  for (size_t s = 0; s < b.segments.size(); ++s) {
    for (int dep : b.segments[s].segment_deps)
      EXPECT_LT(position[static_cast<size_t>(dep)], position[s]);
  }
  // Only the event types that count/since name are kept.
  std::vector<std::string> types = b.event_types;
  std::sort(types.begin(), types.end());
  EXPECT_EQ(types, (V{"add_to_cart", "page_view", "purchase"}));
}

// The incremental graph: a top-level and/or without loops is split into conditions, each placed
// before its segment and after the segments it reads; the actions come last; each input's
// readers are the nodes that read it; slots list their actions; ids sort.
TEST(Bundle, GraphSplitsConditionsAndOrdersNodes) {
  Bundle b;
  std::vector<BundleError> errors;
  ASSERT_TRUE(compile_bundle(R"({"version":"1","metrics":[{"id":"m","event":"view"}],
    "segments":[
      {"id":"z_top","rule":{"or":[{"in_segment":["a_base"]},{">":[{"metric":["m","1h"]},2]}]}},
      {"id":"a_base","rule":{">=":[{"count":["buy","7d"]},1]}},
      {"id":"loop","rule":{"and":[{"some":[[1],{"var":""}]},true]}}],
    "actions":[{"id":"x","slots":["hero","side"],"eligible":{"in_segment":["z_top"]},"content":1},
               {"id":"y","slots":["side"],"content":2}],
    "defaults":{"hero":{"content":0},"side":{"content":0}}})",
                             b, errors))
      << format_errors(errors);
  const Bundle::Graph& g = b.graph;
  EXPECT_EQ(b.segments[0].split, SegmentDef::Split::kOr);
  EXPECT_EQ(b.segments[1].split, SegmentDef::Split::kNone);  // not an and/or
  EXPECT_EQ(b.segments[2].split, SegmentDef::Split::kNone);  // loops: kept whole
  ASSERT_EQ(g.part_segment, (std::vector<int>{0, 0}));
  const int actions = 2, segments = 3;
  const int part0 = segments + actions, part1 = part0 + 1, action_x = segments;
  auto pos = [&](int node) { return g.position[static_cast<size_t>(node)]; };
  EXPECT_LT(pos(1), pos(part0));  // a_base before the condition that reads it
  EXPECT_LT(pos(part0), pos(0));
  EXPECT_LT(pos(part1), pos(0));
  EXPECT_EQ(g.eager, 5u);  // 3 segments + 2 conditions, then the actions
  EXPECT_GE(pos(action_x), 5);
  EXPECT_EQ(g.segment_readers[1], (std::vector<int>{part0}));
  EXPECT_EQ(g.segment_readers[0], (std::vector<int>{action_x}));
  EXPECT_EQ(g.metric_readers[0], (std::vector<int>{part1}));
  EXPECT_EQ(g.timed, (std::vector<int>{part1, 1}));  // by segment, conditions first
  EXPECT_EQ(b.slot_names, (V{"hero", "side"}));
  EXPECT_EQ(b.slot_actions, (std::vector<std::vector<int>>{{0}, {0, 1}}));
  EXPECT_EQ(b.segments_by_id, (std::vector<int>{1, 2, 0}));
}

// Identical conditions of split segments are one node: the first in dependency order (here in
// the later segment, which the earlier one reads) is evaluated and marks every segment using it;
// window comparisons read shared terms, one per distinct window.
TEST(Bundle, GraphSharesIdenticalConditionsAndWindows) {
  Bundle b;
  std::vector<BundleError> errors;
  ASSERT_TRUE(compile_bundle(R"({"version":"1","metrics":[{"id":"m","event":"view"}],
    "segments":[
      {"id":"late","rule":{"and":[{"in_segment":["early"]},{">=":[{"metric":["m","1h"]},2]},
                                  {"==":[{"var":"page.path"},"/"]}]}},
      {"id":"early","rule":{"or":[{"==":[{"var":"page.path"},"/"]},{"<":[1,{"metric":["m","1h"]}]},
                                  {">=":[{"count":["buy","all"]},1]}]}}],
    "defaults":{}})",
                             b, errors))
      << format_errors(errors);
  const Bundle::Graph& g = b.graph;
  // Conditions: late 0..2, early 3..5. early comes first in dependency order.
  ASSERT_EQ(g.part_segment, (std::vector<int>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(g.part_canon, (std::vector<int>{0, 1, 3, 3, 4, 5}));
  EXPECT_EQ(g.part_users[3], (std::vector<int>{1, 0}));  // early's own, then late's copy
  EXPECT_TRUE(g.part_users[2].empty());
  // The copy is not a node of the graph: nothing marks it.
  const int copy = 2 + 0 + 2;                               // segments + actions + condition 2
  EXPECT_EQ(g.flag_readers[1], (std::vector<int>{2 + 3}));  // page.*: early's condition only
  EXPECT_TRUE(std::find(g.timed.begin(), g.timed.end(), copy) == g.timed.end());
  // Terms: metric m over 1h (read by two conditions, compared differently), count buy over all.
  ASSERT_EQ(g.terms.size(), 2u);
  EXPECT_FALSE(g.terms[0].is_count);
  EXPECT_EQ(g.terms[0].window.ms, 3600000);
  EXPECT_TRUE(g.terms[1].is_count);
  EXPECT_TRUE(g.terms[1].window.all());
  EXPECT_EQ(g.part_test[4].term, 0);
  EXPECT_TRUE(g.part_test[4].cmp.constant_first);
  EXPECT_EQ(g.part_test[4].cmp.cmp, WindowComparison::Cmp::kLt);
  EXPECT_EQ(g.part_test[1].term, 0);
  EXPECT_FALSE(g.part_test[1].cmp.constant_first);
  EXPECT_EQ(g.part_test[5].term, 1);
  EXPECT_EQ(g.part_test[0].term, -1);  // in_segment: runs as a program
  EXPECT_EQ(g.part_test[3].term, -1);
  EXPECT_TRUE(g.part_test[4].cmp.test(2));  // 1 < 2
  EXPECT_FALSE(g.part_test[4].cmp.test(1));
  // What an event of each type updates: "buy" is counted, "view" feeds metric m.
  ASSERT_EQ(b.event_uses.size(), 2u);
  EXPECT_EQ(b.event_uses[0].type, "buy");
  EXPECT_TRUE(b.event_uses[0].metrics.empty());
  EXPECT_EQ(b.event_uses[0].count, 0);
  EXPECT_EQ(b.event_uses[1].type, "view");
  EXPECT_EQ(b.event_uses[1].metrics, (std::vector<int>{0}));
  EXPECT_EQ(b.event_uses[1].count, -1);
  EXPECT_EQ(b.event_use("view"), &b.event_uses[1]);
  EXPECT_EQ(b.event_use("page_view"), nullptr);
}

TEST(Bundle, DocumentErrors) {
  EXPECT_EQ(Errors("[1]"), V{": must be an object, got array"});
  V truncated = Errors(R"({"version":"1",)");
  ASSERT_EQ(truncated.size(), 1u);
  EXPECT_EQ(truncated[0].rfind(": invalid JSON", 0), 0u) << truncated[0];
  EXPECT_EQ(Errors(R"({})"), V{"version: is required: a non-empty string of at most 128 bytes"});
  EXPECT_EQ(Errors(R"({"version":"1","segmnets":[]})"),
            V{"segmnets: unknown field (expected one of: version, consent, retention, metrics, "
              "segments, actions, defaults, experiments, holdout)"});
}

TEST(Bundle, RuleErrorsCarryTheFullPath) {
  EXPECT_EQ(Errors(R"({"version":"1","segments":[
      {"id":"a","rule":true},{"id":"b","rule":true},{"id":"c","rule":true},
      {"id":"d","rule":{"and":[true,{"fo":[1]}]}}]})"),
            V{"segments[3].rule.and[1]: unknown operator \"fo\""});
  EXPECT_EQ(Errors(R"({"version":"1","segments":[{"id":"a","rule":{"fo":1}}]})"),
            V{"segments[0].rule: unknown operator \"fo\""});
}

TEST(Bundle, EveryErrorIsReported) {
  V errors = Errors(R"({"version":"1",
    "consent":{"mode":"maybe","gpc":true},
    "retention":{"hourly_buckets":0,"daily_buckets":1.5},
    "metrics":[{"id":"m","event":"x"},{"id":"m","event":""},{"id":"bad id"},
               {"id":"w","event":"x","where":{"count":["x","1d"]}},{"id":"s","event":"x","sum":3}],
    "segments":[{"id":"s1","rule":{"metric":["nope","7d"]}},
                {"id":"s2","rule":{"in_segment":["ghost"]}},
                {"id":"s3","rule":{"count":["x","400d"]}},
                {"id":"s1","rule":true},
                {"id":"s4"},
                {"id":"s5","rule":{"var":"user.plan"}}],
    "defaults":{"hero":{"content":{"t":1}},"side":{}},
    "actions":[{"id":"a","slots":["hero","nowhere"],"propensity":2,"value":-1,
                "caps":{"per_day":-1,"total":1.5},"content":{}},
               {"id":"a","slots":[],"content":1},{"id":"b","slots":["hero"]}]})");
  V expected = {
      "consent.mode: must be \"opt-in\" or \"opt-out\"",
      "consent.gpc: must be \"personalization_off\" or \"ignore\"",
      "retention.daily_buckets: must be a whole number from 0 to 400, got 1.5",
      "retention.hourly_buckets: must be at least 1",
      "metrics[1].id: duplicate metric id \"m\"",
      "metrics[1].event: is required: the event type to count (a non-empty string)",
      "metrics[2].id: must be a string of 1 to 64 letters, digits, or _ - . :",
      "metrics[2].event: is required: the event type to count (a non-empty string)",
      "metrics[3].where: a metric's where-rule sees the event only: count, metric, since, "
      "in_segment and segments.* are not allowed here",
      "metrics[4].sum: must be a path inside the event, e.g. \"props.value\"",
      "segments[3].id: duplicate segment id \"s1\"",
      "segments[4].rule: is required",
      "segments[5].rule.var: unknown variable \"user\": rules read event.*, page.*, traits.*, "
      "segments.*, context.*, profile.* or now",
      "defaults.side.content: is required",
      "actions[0].slots[1]: unknown slot \"nowhere\": every slot needs an entry in defaults",
      "actions[0].propensity: must be a number in [0, 1], got 2",
      "actions[0].value: must be a number in [0, 1000000000000000], got -1",
      "actions[0].caps.per_day: must be a whole number from 0 to 1000000000, got -1",
      "actions[0].caps.total: must be a whole number from 0 to 1000000000, got 1.5",
      "actions[1].id: duplicate action id \"a\"",
      "actions[1].slots: is required: a non-empty array of slot names",
      "actions[2].content: is required",
      "segments[0].rule.metric: unknown metric \"nope\"",
      "segments[1].rule.in_segment: unknown segment \"ghost\"",
      "segments[2].rule.count: window is longer than the retention (90 daily buckets): raise "
      "retention.daily_buckets or use \"all\"",
  };
  EXPECT_EQ(errors, expected);
}

// Segment ids are looked up through a sorted index while the bundle compiles: ids given in no
// particular order, references forward and backward, each resolved to its own segment.
TEST(Bundle, SegmentReferencesResolveAmongManySegments) {
  const int n = 300;
  auto id = [](int i) { return "s" + std::to_string((i * 7919) % 300); };  // a permutation
  std::string json = R"({"version":"1","segments":[)";
  for (int i = 0; i < n; ++i) {
    if (i) json += ",";
    // An even segment reads the next one (a forward reference), an odd one from 3 on reads the
    // odd one two before it (backward): no cycle.
    std::string rule = "true";
    if (i % 2 == 0) rule = R"({"in_segment":[")" + id(i + 1) + R"("]})";
    if (i % 2 == 1 && i >= 3) rule = R"({"var":"segments.)" + id(i - 2) + R"("})";
    json += R"({"id":")" + id(i) + R"(","rule":)" + rule + "}";
  }
  json += "]}";
  Bundle b;
  std::vector<BundleError> errors;
  ASSERT_TRUE(compile_bundle(json, b, errors)) << format_errors(errors);
  ASSERT_EQ(b.segments.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::vector<int> want;
    if (i % 2 == 0) want.push_back(i + 1);
    if (i % 2 == 1 && i >= 3) want.push_back(i - 2);
    EXPECT_EQ(b.segments[static_cast<size_t>(i)].segment_deps, want) << "segment " << i;
  }
  // The same id three times: the second and the third are duplicates of the first, and a
  // reference to it is not an "unknown segment".
  EXPECT_EQ(Errors(R"({"version":"1","segments":[
      {"id":"m","rule":true},{"id":"d","rule":true},{"id":"a","rule":{"in_segment":["d"]}},
      {"id":"d","rule":false},{"id":"z","rule":true},{"id":"d","rule":true}]})"),
            (V{"segments[3].id: duplicate segment id \"d\"",
               "segments[5].id: duplicate segment id \"d\""}));
}

TEST(Bundle, SegmentCyclesAreErrors) {
  EXPECT_EQ(Errors(R"({"version":"1","segments":[
      {"id":"a","rule":{"in_segment":["b"]}},
      {"id":"b","rule":{"var":"segments.c"}},
      {"id":"c","rule":{"or":[{"in_segment":["a"]},true]}}]})"),
            V{"segments[0].rule: segments depend on each other in a cycle: a -> b -> c -> a"});
  EXPECT_EQ(Errors(R"({"version":"1","segments":[{"id":"self","rule":{"in_segment":["self"]}}]})"),
            V{"segments[0].rule: segments depend on each other in a cycle: self -> self"});
}

TEST(Bundle, RejectedBundleKeepsThePreviousOneActive) {
  Engine engine;
  ASSERT_TRUE(engine
                  .load_bundle(R"({"version":"good","consent":{"mode":"opt-out"},"segments":[
      {"id":"viewer","rule":{">=":[{"count":["page_view","all"]},1]}}],
      "defaults":{"hero":{"content":"hi"}}})")
                  .ok());
  ASSERT_TRUE(engine.ingest(R"({"type":"page_view","t":1000})").ok());
  std::vector<BundleError> errors;
  Status st =
      engine.load_bundle(R"({"version":"bad","segments":[{"id":"x","rule":{"fo":1}}]})", &errors);
  EXPECT_EQ(st.message(), "bundle rejected: segments[0].rule: unknown operator \"fo\"");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(engine.bundle().version, "good");
  EXPECT_EQ(engine.segments(), V{"viewer"});
  EXPECT_EQ(engine.profile().counts[0].total, 1);
  ASSERT_TRUE(engine.ingest(R"({"type":"page_view","t":2000})").ok());
  EXPECT_EQ(engine.profile().counts[0].total, 2);
}

TEST(Bundle, ReloadKeepsSeriesOfMetricsItStillHas) {
  Engine engine;
  ASSERT_TRUE(
      engine
          .load_bundle(
              R"({"version":"1","consent":{"mode":"opt-out"},"metrics":[{"id":"buys","event":"purchase"}],
      "segments":[{"id":"buyer","rule":{">=":[{"metric":["buys","all"]},1]}}]})")
          .ok());
  ASSERT_TRUE(engine.ingest(R"({"type":"purchase","t":5})").ok());
  ASSERT_TRUE(
      engine
          .load_bundle(
              R"({"version":"2","consent":{"mode":"opt-out"},"metrics":[{"id":"other","event":"x"},
      {"id":"buys","event":"purchase"}],
      "segments":[{"id":"buyer","rule":{">=":[{"metric":["buys","all"]},1]}}]})")
          .ok());
  engine.evaluate(10);
  EXPECT_EQ(engine.segments(), V{"buyer"});
}

}  // namespace
}  // namespace pz
