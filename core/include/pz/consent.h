// Consent: the purposes a visitor has agreed to, from the site's own banner, IAB TCF v2.2 TC
// strings, Google Consent Mode v2 states and Global Privacy Control. The mapping from each
// source to purposes lives here and only here (docs/consent.md).
#pragma once

#include "pz/status.h"
#include "pz/value.h"

namespace pz {

struct ConsentState {
  // `necessary` is always granted.
  bool analytics = false;
  bool personalization = false;
  bool marketing = false;
  bool given = false;  // a consent signal has been received (else the bundle's mode decides)
};

struct ConsentPolicy {
  bool opt_in = true;  // opt-in: nothing before consent; opt-out: all until withdrawn
  bool gpc_personalization_off = true;  // GPC turns personalization and marketing off
};

// The state before any signal: opt-in denies everything, opt-out grants everything.
ConsentState initial_consent(const ConsentPolicy& policy);

// Applies one consent object: purpose booleans ("analytics", "personalization", "marketing";
// "necessary": true is accepted) and/or sources ("tcf": TC string, "consent_mode": {state:
// "granted"|"denied"}, "gpc": bool). Sources apply in the order tcf, consent_mode, purpose
// booleans, gpc (which can only take away). On any error nothing changes; the message names the
// field (and, for TC strings, the bit offset).
Status apply_consent(const Value& consent, const ConsentPolicy& policy, ConsentState& state);

Value consent_to_value(const ConsentState& state);

}  // namespace pz
