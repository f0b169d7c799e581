// Next-best-action: arbitration, exclusivity, caps and cooldowns, holdout, experiments,
// propensity models, feedback, and the reasons each decision carries.
#include <gtest/gtest.h>

#include <cmath>

#include "pz/engine.h"
#include "test_util.h"

namespace pz {
namespace {

using testing::J;

const int64_t kT0 = 1793577600000;  // 2026-11-02T00:00:00Z
constexpr int64_t kMin = 60000;

std::string Actions(const std::string& actions, const std::string& extra = "") {
  return R"({"version":"t","consent":{"mode":"opt-out"},"defaults":{"hero":{"content":"default hero"},
    "side":{"content":"default side"}},"actions":[)" +
         actions + "]" + extra + "}";
}

Engine Loaded(const std::string& bundle, const std::string& id = "v1") {
  Engine e;
  std::vector<BundleError> errors;
  Status st = e.load_bundle(bundle, &errors);
  EXPECT_TRUE(st.ok()) << format_errors(errors);
  e.set_anonymous_id(id);
  return e;
}

std::vector<std::string> Shown(Engine& e, std::vector<std::string> slots, int64_t now) {
  std::vector<std::string> out;
  for (const Decision& d : e.decide(slots, now)) out.push_back(d.action.empty() ? "-" : d.action);
  return out;
}

using V = std::vector<std::string>;

TEST(Decide, HighestPriorityWinsTiesByBundleOrderZeroNever) {
  Engine e = Loaded(Actions(R"(
    {"id":"a","slots":["hero"],"propensity":0.1,"value":10,"content":"A"},
    {"id":"b","slots":["hero"],"propensity":0.2,"value":10,"lever":0.5,"content":"B"},
    {"id":"c","slots":["hero"],"propensity":0.5,"value":10,"lever":0,"content":"C"})"));
  // a: 0.1*1*10*1 = 1, b: 0.2*1*10*0.5 = 1 (tie: a first in the bundle), c: lever 0 -> never.
  std::vector<Decision> d = e.decide({"hero"}, kT0);
  EXPECT_EQ(d[0].action, "a");
  EXPECT_EQ(to_json(d[0].content), R"("A")");
  EXPECT_EQ(to_json(*e.why(d[0]).find("runner_up")), R"("b")");
  Value why = e.why(d[0]);
  const Array& c = why.find("candidates")->as_array();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(to_json(*c[2].find("removed")), R"("priority is 0")");
}

TEST(Decide, NoActionTwiceAndOnePerGroup) {
  Engine e = Loaded(Actions(R"(
    {"id":"both","slots":["hero","side"],"value":5,"content":1},
    {"id":"side_only","slots":["side"],"value":1,"group":"promo","content":2},
    {"id":"hero_promo","slots":["hero"],"value":3,"group":"promo","content":3})"));
  // hero: both (5) beats hero_promo (3); side: both is taken, side_only (1).
  EXPECT_EQ(Shown(e, {"hero", "side"}, kT0), (V{"both", "side_only"}));
  // Asked the other way round: side takes both; hero gets hero_promo; promo group now used.
  EXPECT_EQ(Shown(e, {"side", "hero"}, kT0), (V{"both", "hero_promo"}));
  // A slot with no candidates or an unknown slot falls back to its default (or null).
  std::vector<Decision> d = e.decide({"nowhere"}, kT0);
  EXPECT_EQ(d[0].action, "");
  EXPECT_EQ(to_json(d[0].content), "null");
}

TEST(Decide, GroupExclusionAcrossSlots) {
  Engine e = Loaded(Actions(R"(
    {"id":"p1","slots":["hero"],"value":5,"group":"promo","content":1},
    {"id":"p2","slots":["side"],"value":5,"group":"promo","content":2},
    {"id":"plain","slots":["side"],"value":1,"content":3})"));
  std::vector<Decision> d = e.decide({"hero", "side"}, kT0);
  EXPECT_EQ(d[1].action, "plain");
  EXPECT_EQ(to_json(*e.why(d[1]).find("candidates")->as_array()[0].find("removed")),
            R"("group promo already has an action in this decision")");
}

TEST(Decide, CapsCountImpressionsPerSessionDayAndTotal) {
  Engine e = Loaded(Actions(R"(
    {"id":"offer","slots":["hero"],"value":2,"caps":{"per_session":2,"per_day":3,"total":4},"content":1},
    {"id":"fallback","slots":["hero"],"value":1,"content":2})"));
  int64_t t = kT0 + 10 * 3600000LL;
  ASSERT_TRUE(e.ingest(R"({"t":)" + std::to_string(t) + R"(,"type":"page_view"})").ok());
  auto show = [&](int64_t at) {
    std::vector<Decision> d = e.decide({"hero"}, at);
    if (d[0].action == "offer") EXPECT_TRUE(e.feedback("offer", Outcome::kImpression, at).ok());
    return d[0].action;
  };
  EXPECT_EQ(show(t + 1), "offer");
  EXPECT_EQ(show(t + 2), "offer");
  EXPECT_EQ(show(t + 3), "fallback");  // 2 per session
  std::vector<Decision> d = e.decide({"hero"}, t + 4);
  EXPECT_EQ(to_json(*e.why(d[0]).find("candidates")->as_array()[0].find("removed")),
            R"x("cap per_session reached (2/2)")x");
  // A new session (31 min later) allows one more today: 3 per day.
  t += 31 * kMin;
  ASSERT_TRUE(e.ingest(R"({"t":)" + std::to_string(t) + R"(,"type":"page_view"})").ok());
  EXPECT_EQ(show(t + 1), "offer");
  EXPECT_EQ(show(t + 2), "fallback");
  // Next day, new session: the total of 4 allows one more, then never again.
  t = kT0 + 24 * 3600000LL + 9 * 3600000LL;
  ASSERT_TRUE(e.ingest(R"({"t":)" + std::to_string(t) + R"(,"type":"page_view"})").ok());
  EXPECT_EQ(show(t + 1), "offer");
  EXPECT_EQ(show(t + 2), "fallback");
  t += 40 * 86400000LL;
  ASSERT_TRUE(e.ingest(R"({"t":)" + std::to_string(t) + R"(,"type":"page_view"})").ok());
  EXPECT_EQ(show(t + 1), "fallback");
  EXPECT_EQ(e.profile().exposures[0].impressions, 4);
}

TEST(Decide, DismissStartsACooldown) {
  Engine e = Loaded(Actions(R"(
    {"id":"offer","slots":["hero"],"value":2,"caps":{"dismiss_cooldown":"7d"},"content":1})"));
  EXPECT_EQ(Shown(e, {"hero"}, kT0), V{"offer"});
  ASSERT_TRUE(e.feedback("offer", Outcome::kDismiss, kT0 + 5).ok());
  EXPECT_EQ(Shown(e, {"hero"}, kT0 + 6), V{"-"});
  EXPECT_EQ(Shown(e, {"hero"}, kT0 + 5 + 7 * 86400000LL - 1), V{"-"});
  EXPECT_EQ(Shown(e, {"hero"}, kT0 + 5 + 7 * 86400000LL), V{"offer"});
}

TEST(Decide, FeedbackForUnknownActionChangesNothing) {
  Engine e = Loaded(Actions(R"({"id":"offer","slots":["hero"],"content":1})"));
  std::string before = to_json(e.profile().to_value());
  Status st = e.feedback("nope", Outcome::kClick, kT0);
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "feedback for unknown action \"nope\"");
  EXPECT_EQ(to_json(e.profile().to_value()), before);
  Outcome o;
  EXPECT_FALSE(parse_outcome("like", o));
}

TEST(Decide, EligibilityAndWhyShowTheRulesOfWinnerAndRunnerUp) {
  Engine e =
      Loaded(R"({"version":"t","consent":{"mode":"opt-out"},"defaults":{"hero":{"content":0}},
    "segments":[{"id":"buyer","rule":{">=":[{"count":["purchase","all"]},1]}}],
    "actions":[
      {"id":"upsell","slots":["hero"],"value":9,"content":1,
       "eligible":{"and":[{"in_segment":["buyer"]},{"==":[{"var":"context.device"},"mobile"]}]}},
      {"id":"welcome","slots":["hero"],"value":1,"content":2,"eligible":{"!":{"in_segment":["buyer"]}}}]})");
  ASSERT_TRUE(e.ingest(R"({"t":1,"type":"purchase"})").ok());
  ASSERT_TRUE(e.set_context(J(R"({"device":"desktop"})")).ok());
  std::vector<Decision> d = e.decide({"hero"}, 2);
  EXPECT_EQ(d[0].action, "");
  // upsell is the runner-up (first ineligible); its two conditions are listed with results.
  EXPECT_EQ(
      to_json(e.why(d[0])),
      R"({"slot":"hero","action":null,"holdout":false,"runner_up":"upsell","candidates":[)"
      R"({"action":"upsell","eligible":false,"removed":"not eligible","rules_op":"and","rules":[)"
      R"({"rule":"{\"in_segment\":[\"buyer\"]}","result":true},)"
      R"({"rule":"{\"==\":[{\"var\":\"context.device\"},\"mobile\"]}","result":false}]},)"
      R"({"action":"welcome","eligible":false,"removed":"not eligible"}]})");
  ASSERT_TRUE(e.set_context(J(R"({"device":"mobile"})")).ok());
  EXPECT_EQ(Shown(e, {"hero"}, 3), V{"upsell"});
}

TEST(Decide, ContextWeightRuleScalesPriority) {
  Engine e = Loaded(Actions(R"(
    {"id":"app","slots":["hero"],"value":1,"context_weight":{"if":[{"==":[{"var":"context.device"},"mobile"]},3,0.5]},"content":1},
    {"id":"web","slots":["hero"],"value":2,"content":2})"));
  ASSERT_TRUE(e.set_context(J(R"({"device":"mobile"})")).ok());
  EXPECT_EQ(Shown(e, {"hero"}, kT0), V{"app"});  // 3 > 2
  ASSERT_TRUE(e.set_context(J(R"({"device":"desktop"})")).ok());
  EXPECT_EQ(Shown(e, {"hero"}, kT0), V{"web"});  // 0.5 < 2
}

TEST(Decide, LogisticPropensityFromProfileFeatures) {
  Engine e =
      Loaded(R"({"version":"t","consent":{"mode":"opt-out"},"defaults":{"hero":{"content":0}},
    "metrics":[{"id":"views","event":"page_view"}],
    "actions":[
      {"id":"model","slots":["hero"],"value":1,"content":1,
       "propensity":{"logistic":{"intercept":-2,"features":[{"rule":{"metric":["views","7d"]},"weight":0.5},
         {"rule":{"if":[true,{"count":["page_view","7d"]},0]},"weight":0.25}]}}},
      {"id":"flat","slots":["hero"],"value":1,"propensity":0.5,"content":2}]})");
  // A feature that is one window is read directly, another runs as a rule: both count.
  // 2 views: sigmoid(-2 + 1 + 0.5) = 0.378 < 0.5; 6 views: sigmoid(-2 + 3 + 1.5) = 0.924 > 0.5.
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(e.ingest(R"({"t":)" + std::to_string(kT0 + i) + R"(,"type":"page_view"})").ok());
  std::vector<Decision> d = e.decide({"hero"}, kT0 + 10);
  EXPECT_EQ(d[0].action, "flat");
  EXPECT_NEAR(e.why(d[0]).find("candidates")->as_array()[0].find("propensity")->as_number(),
              1 / (1 + std::exp(0.5)), 1e-15);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(
        e.ingest(R"({"t":)" + std::to_string(kT0 + 20 + i) + R"(,"type":"page_view"})").ok());
  EXPECT_EQ(Shown(e, {"hero"}, kT0 + 30), V{"model"});
}

TEST(Decide, ThompsonSamplingIsReproducibleAndLearns) {
  const std::string bundle = Actions(R"(
    {"id":"a","slots":["hero"],"propensity":{"thompson":{"prior":[1,1]}},"content":1},
    {"id":"b","slots":["hero"],"propensity":{"thompson":{"prior":[1,1]}},"content":2})");
  // Same profile, time and slot -> same draw, on a fresh engine too.
  Engine e1 = Loaded(bundle, "visitor-9"), e2 = Loaded(bundle, "visitor-9");
  for (int64_t t = 0; t < 50; ++t) {
    std::vector<Decision> d1 = e1.decide({"hero"}, kT0 + t), d2 = e2.decide({"hero"}, kT0 + t);
    ASSERT_EQ(to_json(e1.why(d1[0])), to_json(e2.why(d2[0])));
  }
  // Both arms are drawn over time with a flat prior...
  int a_wins = 0;
  for (int64_t t = 0; t < 400; ++t) a_wins += Shown(e1, {"hero"}, kT0 + t)[0] == "a";
  EXPECT_GT(a_wins, 120);
  EXPECT_LT(a_wins, 280);
  // ...and after feedback (a: 40 clicks of 50, b: 2 of 50) a wins almost always.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(e1.feedback("a", Outcome::kImpression, kT0).ok());
    ASSERT_TRUE(e1.feedback("b", Outcome::kImpression, kT0).ok());
    if (i < 40) ASSERT_TRUE(e1.feedback("a", Outcome::kClick, kT0).ok());
    if (i < 2) ASSERT_TRUE(e1.feedback("b", Outcome::kClick, kT0).ok());
  }
  a_wins = 0;
  for (int64_t t = 0; t < 400; ++t) a_wins += Shown(e1, {"hero"}, kT0 + 1000 + t)[0] == "a";
  EXPECT_EQ(a_wins, 400);
}

TEST(Decide, HoldoutGetsDefaultsAndRecordsWhatItWouldHaveSeen) {
  Engine all = Loaded(Actions(R"({"id":"offer","slots":["hero"],"content":1})",
                              R"(,"holdout":{"percent":100,"salt":"h"})"));
  std::vector<Decision> d = all.decide({"hero"}, kT0);
  EXPECT_EQ(d[0].action, "");
  EXPECT_EQ(to_json(d[0].content), R"("default hero")");
  EXPECT_EQ(to_json(*all.why(d[0]).find("would_show")), R"("offer")");
  EXPECT_EQ(to_json(*all.why(d[0]).find("holdout")), "true");
  // 10%: about a tenth of profiles, the same ones every time.
  const std::string ten = Actions(R"({"id":"offer","slots":["hero"],"content":1})",
                                  R"(,"holdout":{"percent":10,"salt":"h"})");
  int held = 0;
  for (int i = 0; i < 2000; ++i) {
    Engine e = Loaded(ten, "visitor-" + std::to_string(i));
    bool out = e.decide({"hero"}, kT0)[0].action.empty();
    EXPECT_EQ(out, e.decide({"hero"}, kT0 + 999)[0].action.empty());
    EXPECT_EQ(out, bucket_of("h", "visitor-" + std::to_string(i)) < 10);
    held += out;
  }
  EXPECT_GT(held, 150);
  EXPECT_LT(held, 250);
}

TEST(Decide, ExperimentVariantsSplitByWeight) {
  const std::string bundle = Actions(R"(
    {"id":"copy_a","slots":["hero"],"experiment":{"id":"hero_copy","variant":"a"},"content":"A"},
    {"id":"copy_b","slots":["hero"],"experiment":{"id":"hero_copy","variant":"b"},"content":"B"})",
                                     R"(,"experiments":[{"id":"hero_copy","salt":"s1",
      "variants":[{"id":"a","weight":1},{"id":"b","weight":3}]}])");
  int b = 0;
  for (int i = 0; i < 4000; ++i) {
    Engine e = Loaded(bundle, "u" + std::to_string(i));
    std::string shown = Shown(e, {"hero"}, kT0)[0];
    ASSERT_TRUE(shown == "copy_a" || shown == "copy_b");
    // Deterministic: bucket < 25 is variant a.
    EXPECT_EQ(shown == "copy_a", bucket_of("s1", "u" + std::to_string(i)) < 25);
    b += shown == "copy_b";
  }
  EXPECT_GT(b, 2800);
  EXPECT_LT(b, 3200);
}

TEST(Decide, BundleErrorsForActions) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"id":"x","slots":["hero"],"content":1,"caps":{"total":-1}})",
       "actions[0].caps.total: must be a whole number from 0 to 1000000000, got -1"},
      {R"({"id":"x","slots":["footer"],"content":1})",
       "actions[0].slots[0]: unknown slot \"footer\": every slot needs an entry in defaults"},
      {R"({"id":"x","slots":["hero"],"content":1,"propensity":{"logistic":{"features":[{"weight":1}]}}})",
       "actions[0].propensity.logistic.features[0].rule: is required: the feature's value as a "
       "rule"},
      {R"({"id":"x","slots":["hero"],"content":1,"propensity":{"neural":{}}})",
       "actions[0].propensity: unknown propensity model \"neural\": use a number, logistic or "
       "thompson"},
      {R"({"id":"x","slots":["hero"],"content":1,"propensity":{"thompson":{"prior":[0,1]}}})",
       "actions[0].propensity.thompson.prior: must be [alpha, beta] with 0 < alpha, beta <= "
       "1000000"},
      {R"({"id":"x","slots":["hero"],"content":1,"caps":{"dismiss_cooldown":"soon"}})",
       "actions[0].caps.dismiss_cooldown: must be a duration such as \"30m\", \"12h\" or \"7d\""},
      {R"({"id":"x","slots":["hero"],"content":1,"experiment":{"id":"nope","variant":"a"}})",
       "actions[0].experiment.id: must name one of the bundle's experiments"},
      {R"({"id":"x","slots":["hero"],"content":1,"propensity":{"logistic":{"features":[{"rule":{"metric":["ghost","1d"]},"weight":1}]}}})",
       "actions[0].propensity.logistic.features[0].rule.metric: unknown metric \"ghost\""},
  };
  for (const auto& [action, message] : cases) {
    Bundle b;
    std::vector<BundleError> errors;
    EXPECT_FALSE(compile_bundle(Actions(action), b, errors)) << action;
    ASSERT_EQ(errors.size(), 1u) << action << "\n" << format_errors(errors);
    EXPECT_EQ(errors[0].path + ": " + errors[0].message, message);
  }
}

}  // namespace
}  // namespace pz
