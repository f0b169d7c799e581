#include "pz/consent.h"

#include <algorithm>

#include "pz/json.h"
#include "pz/tcf.h"

namespace pz {
namespace {

bool has_all(const std::vector<int>& granted, std::initializer_list<int> needed) {
  for (int p : needed) {
    if (!std::binary_search(granted.begin(), granted.end(), p)) return false;
  }
  return true;
}

}  // namespace

ConsentState initial_consent(const ConsentPolicy& policy) {
  ConsentState s;
  s.analytics = s.personalization = s.marketing = !policy.opt_in;
  return s;
}

Status apply_consent(const Value& consent, const ConsentPolicy& policy, ConsentState& state) {
  if (!consent.is_object()) {
    return Status(Code::kInvalidArgument,
                  std::string("consent must be an object, got ") + kind_name(consent));
  }
  ConsentState next = state;
  next.given = true;
  for (const Member& m : consent.as_object()) {
    static const char* const kKnown[] = {
        "necessary", "analytics", "personalization", "marketing", "tcf", "consent_mode", "gpc"};
    if (std::find_if(std::begin(kKnown), std::end(kKnown),
                     [&](const char* k) { return m.first == k; }) == std::end(kKnown)) {
      return Status(Code::kInvalidArgument,
                    "consent." + m.first +
                        ": unknown field (expected analytics, personalization, marketing, "
                        "necessary, tcf, consent_mode or gpc)");
    }
  }
  // IAB TCF v2.2: personalization needs consent to purposes 1 (store and access information),
  // 5 (create profiles for personalised content) and 6 (use them to select content); analytics
  // 1 and 8 (measure content performance); marketing 1, 3 and 4 (advertising profiles).
  if (const Value* tcf = consent.find("tcf")) {
    if (!tcf->is_string()) {
      return Status(Code::kInvalidArgument,
                    std::string("consent.tcf must be a TC string, got ") + kind_name(*tcf));
    }
    Result<TcfString> tc = decode_tcf(tcf->as_string());
    if (!tc.ok()) return Status(Code::kInvalidArgument, "consent.tcf: " + tc.status().message());
    const std::vector<int>& p = tc.value().purpose_consents;
    next.personalization = has_all(p, {1, 5, 6});
    next.analytics = has_all(p, {1, 8});
    next.marketing = has_all(p, {1, 3, 4});
  }
  // Google Consent Mode v2.
  if (const Value* mode = consent.find("consent_mode")) {
    if (!mode->is_object()) {
      return Status(Code::kInvalidArgument,
                    std::string("consent.consent_mode must be an object, got ") + kind_name(*mode));
    }
    int ad_granted = 0, ad_denied = 0;
    for (const Member& m : mode->as_object()) {
      std::string path = "consent.consent_mode." + m.first;
      if (!m.second.is_string() ||
          (m.second.as_string() != "granted" && m.second.as_string() != "denied")) {
        return Status(Code::kInvalidArgument, path + " must be \"granted\" or \"denied\"");
      }
      bool granted = m.second.as_string() == "granted";
      if (m.first == "analytics_storage") {
        next.analytics = granted;
      } else if (m.first == "personalization_storage") {
        next.personalization = granted;
      } else if (m.first == "ad_storage" || m.first == "ad_user_data" ||
                 m.first == "ad_personalization") {
        (granted ? ad_granted : ad_denied)++;
      } else if (m.first != "functionality_storage" && m.first != "security_storage") {
        return Status(Code::kInvalidArgument, path + ": unknown Consent Mode state");
      }
    }
    // Marketing needs all three advertising states granted; any one denied withdraws it.
    if (ad_denied > 0) next.marketing = false;
    if (ad_denied == 0 && ad_granted == 3) next.marketing = true;
  }
  for (const char* purpose : {"necessary", "analytics", "personalization", "marketing"}) {
    const Value* v = consent.find(purpose);
    if (v == nullptr) continue;
    if (!v->is_bool()) {
      return Status(Code::kInvalidArgument, std::string("consent.") + purpose +
                                                " must be true or false, got " + kind_name(*v));
    }
    std::string_view name = purpose;
    if (name == "necessary") {
      if (!v->as_bool()) {
        return Status(Code::kInvalidArgument, "consent.necessary cannot be withdrawn");
      }
    } else if (name == "analytics") {
      next.analytics = v->as_bool();
    } else if (name == "personalization") {
      next.personalization = v->as_bool();
    } else {
      next.marketing = v->as_bool();
    }
  }
  // Global Privacy Control: an opt-out of sale/sharing; with the bundle's "personalization_off"
  // it also turns personalization off. It never grants anything.
  if (const Value* gpc = consent.find("gpc")) {
    if (!gpc->is_bool()) {
      return Status(Code::kInvalidArgument,
                    std::string("consent.gpc must be true or false, got ") + kind_name(*gpc));
    }
    if (gpc->as_bool() && policy.gpc_personalization_off) {
      next.personalization = false;
      next.marketing = false;
    }
  }
  state = next;
  return Status::Ok();
}

Value consent_to_value(const ConsentState& s) {
  return Value::MakeObject({{"necessary", Value::Bool(true)},
                            {"analytics", Value::Bool(s.analytics)},
                            {"personalization", Value::Bool(s.personalization)},
                            {"marketing", Value::Bool(s.marketing)},
                            {"given", Value::Bool(s.given)}});
}

}  // namespace pz
