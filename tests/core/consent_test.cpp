// Consent: purposes from the site's banner, TCF v2.2, Consent Mode v2 and GPC; opt-in/opt-out;
// nothing kept without personalization consent; withdrawal erases with an epoch.
#include "pz/consent.h"

#include <gtest/gtest.h>

#include "pz/engine.h"
#include "test_util.h"

namespace pz {
namespace {

using testing::J;

// TC strings encoded by @iabtcf/core 1.5.6 (SegmentEncoder.encode(model, Segment.CORE)) from
// TCModels with cmpId 10, vendor consents {1, 2} and these purpose consents:
const char kTcPurposes156[] = "CQtAQoAQtAQoAAKACAENCWEgAIwAAAAAAAYgABMAAAAA";    // {1, 5, 6}
const char kTcPurposes1to10[] = "CQtAQoAQtAQoAAKACAENCWEgAP_AAAAAAAYgABMAAAAA";  // {1..10}
const char kTcPurposes18[] = "CQtAQoAQtAQoAAKACAENCWEgAIEAAAAAAAYgABMAAAAA";     // {1, 8}
const char kTcNoPurposes[] = "CQtAQoAQtAQoAAKACAENCWEgAAAAAAAAAAYgABMAAAAA";     // {}

std::string State(const ConsentState& s) { return to_json(consent_to_value(s)); }

ConsentState Apply(const std::string& consent, ConsentPolicy policy = {}) {
  ConsentState s = initial_consent(policy);
  Status st = apply_consent(J(consent), policy, s);
  EXPECT_TRUE(st.ok()) << consent << ": " << st.message();
  return s;
}

TEST(Consent, ModesDecideBeforeAnySignal) {
  ConsentPolicy opt_in, opt_out;
  opt_out.opt_in = false;
  EXPECT_EQ(
      State(initial_consent(opt_in)),
      R"({"necessary":true,"analytics":false,"personalization":false,"marketing":false,"given":false})");
  EXPECT_EQ(
      State(initial_consent(opt_out)),
      R"({"necessary":true,"analytics":true,"personalization":true,"marketing":true,"given":false})");
}

TEST(Consent, TcfPurposesMapToOurPurposes) {
  auto tcf = [](const char* s) { return State(Apply(std::string(R"({"tcf":")") + s + "\"}")); };
  EXPECT_EQ(
      tcf(kTcPurposes156),
      R"({"necessary":true,"analytics":false,"personalization":true,"marketing":false,"given":true})");
  EXPECT_EQ(
      tcf(kTcPurposes1to10),
      R"({"necessary":true,"analytics":true,"personalization":true,"marketing":true,"given":true})");
  EXPECT_EQ(
      tcf(kTcPurposes18),
      R"({"necessary":true,"analytics":true,"personalization":false,"marketing":false,"given":true})");
  EXPECT_EQ(
      tcf(kTcNoPurposes),
      R"({"necessary":true,"analytics":false,"personalization":false,"marketing":false,"given":true})");
}

TEST(Consent, ConsentModeV2) {
  EXPECT_EQ(
      State(Apply(
          R"({"consent_mode":{"analytics_storage":"granted","personalization_storage":"granted",
      "ad_storage":"granted","ad_user_data":"granted","ad_personalization":"denied"}})")),
      R"({"necessary":true,"analytics":true,"personalization":true,"marketing":false,"given":true})");
  EXPECT_EQ(
      State(Apply(R"({"consent_mode":{"ad_storage":"granted","ad_user_data":"granted",
      "ad_personalization":"granted","functionality_storage":"denied"}})")),
      R"({"necessary":true,"analytics":false,"personalization":false,"marketing":true,"given":true})");
}

TEST(Consent, GpcFollowsTheBundle) {
  ConsentPolicy off, ignore;
  ignore.gpc_personalization_off = false;
  EXPECT_EQ(
      State(Apply(R"({"analytics":true,"personalization":true,"marketing":true,"gpc":true})", off)),
      R"({"necessary":true,"analytics":true,"personalization":false,"marketing":false,"given":true})");
  EXPECT_EQ(
      State(Apply(R"({"analytics":true,"personalization":true,"marketing":true,"gpc":true})",
                  ignore)),
      R"({"necessary":true,"analytics":true,"personalization":true,"marketing":true,"given":true})");
  // GPC never grants.
  EXPECT_EQ(
      State(Apply(R"({"gpc":false})", off)),
      R"({"necessary":true,"analytics":false,"personalization":false,"marketing":false,"given":true})");
}

TEST(Consent, BadInputChangesNothing) {
  ConsentPolicy policy;
  ConsentState s = Apply(R"({"personalization":true})");
  std::string before = State(s);
  struct Bad {
    const char* consent;
    const char* message;
  } cases[] = {
      {"[1]", "consent must be an object, got array"},
      {R"({"personalisation":true})",
       "consent.personalisation: unknown field (expected analytics, personalization, marketing, "
       "necessary, tcf, consent_mode or gpc)"},
      {R"({"analytics":"yes"})", "consent.analytics must be true or false, got string"},
      {R"({"necessary":false})", "consent.necessary cannot be withdrawn"},
      {R"({"consent_mode":{"ad_storage":"maybe"}})",
       "consent.consent_mode.ad_storage must be \"granted\" or \"denied\""},
      {R"({"consent_mode":{"fun_storage":"granted"}})",
       "consent.consent_mode.fun_storage: unknown Consent Mode state"},
      {R"({"tcf":5})", "consent.tcf must be a TC string, got number"},
      {R"({"analytics":false,"tcf":"!!"})", nullptr},  // the decoder's message, prefixed
  };
  for (const Bad& b : cases) {
    Status st = apply_consent(J(b.consent), policy, s);
    EXPECT_FALSE(st.ok()) << b.consent;
    if (b.message != nullptr) {
      EXPECT_EQ(st.message(), b.message);
    } else {
      EXPECT_EQ(st.message().rfind("consent.tcf: ", 0), 0u) << st.message();
    }
    EXPECT_EQ(State(s), before) << b.consent;
  }
}

const char kBundle[] = R"({"version":"c","consent":{"mode":"opt-in"},
  "segments":[{"id":"viewer","rule":{">=":[{"count":["page_view","all"]},1]}},
              {"id":"on_pricing","rule":{"starts_with":[{"var":"page.path"},"/pricing"]}}],
  "defaults":{"hero":{"content":0}}})";

TEST(Consent, OptInKeepsNothingBeforeConsent) {
  Engine e;
  ASSERT_TRUE(e.load_bundle(kBundle).ok());
  ASSERT_TRUE(e.ingest(R"({"t":1000,"type":"page_view","page":{"path":"/pricing"}})").ok());
  ASSERT_TRUE(e.identify("user-1", J(R"({"plan":"pro"})"), 1001).ok());
  // Context-only personalization: the page counts, the profile stays empty.
  EXPECT_EQ(e.segments(), std::vector<std::string>{"on_pricing"});
  EXPECT_EQ(
      to_json(e.profile().to_value()),
      R"({"anonymous_id":"anonymous","user_id":null,"first_seen":null,"last_seen":null,)"
      R"("sessions":0,"erased_at":null,"traits":{},"metrics":[],"counts":[{"total":0,"last":null,)"
      R"("hourly":[],"daily":[]}],"exposures":[]})");
  ASSERT_TRUE(e.consent(J(R"({"personalization":true})"), 2000).ok());
  ASSERT_TRUE(e.ingest(R"({"t":3000,"type":"page_view","page":{"path":"/"}})").ok());
  EXPECT_EQ(e.segments(), std::vector<std::string>{"viewer"});
  EXPECT_EQ(e.profile().counts[0].total, 1);
}

TEST(Consent, WithdrawalErasesWithAnEpoch) {
  Engine e;
  ASSERT_TRUE(e.load_bundle(kBundle).ok());
  e.set_anonymous_id("anon-7");
  ASSERT_TRUE(e.consent(J(R"({"personalization":true})"), 10).ok());
  ASSERT_TRUE(e.ingest(R"({"t":1000,"type":"page_view","page":{"path":"/pricing"}})").ok());
  ASSERT_TRUE(e.identify("user-1", J(R"({"plan":"pro"})"), 1001).ok());
  EXPECT_EQ(e.profile().user_id, "user-1");
  ASSERT_TRUE(e.consent(J(R"({"gpc":true})"), 5000).ok());
  const Profile& p = e.profile();
  EXPECT_EQ(
      to_json(p.to_value()),
      R"({"anonymous_id":"anon-7","user_id":null,"first_seen":null,"last_seen":null,)"
      R"("sessions":0,"erased_at":5000,"traits":{},"metrics":[],"counts":[{"total":0,"last":null,)"
      R"("hourly":[],"daily":[]}],"exposures":[]})");
  // The page stays context: on_pricing still applies; viewer is gone.
  EXPECT_EQ(e.segments(), std::vector<std::string>{"on_pricing"});
}

TEST(Consent, OptOutKeepsUntilWithdrawn) {
  std::string bundle = kBundle;
  bundle.replace(bundle.find("opt-in"), 6, "opt-out");
  Engine e;
  ASSERT_TRUE(e.load_bundle(bundle).ok());
  ASSERT_TRUE(e.ingest(R"({"t":1000,"type":"page_view","page":{"path":"/"}})").ok());
  EXPECT_EQ(e.segments(), std::vector<std::string>{"viewer"});
  ASSERT_TRUE(e.consent(J(R"({"consent_mode":{"personalization_storage":"denied"}})"), 2000).ok());
  EXPECT_EQ(e.segments(), std::vector<std::string>{});
  EXPECT_TRUE(e.profile().erased);
}

}  // namespace
}  // namespace pz
