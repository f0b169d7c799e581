// The bundle: the versioned JSON that configures metrics, segments, actions and slot defaults,
// compiled once (rules compiled, names resolved to slots, segment dependencies ordered). Loading
// reports every error with its JSON path; see docs/bundle.md for the format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pz/logic.h"
#include "pz/profile.h"
#include "pz/status.h"
#include "pz/value.h"

namespace pz {

struct BundleError {
  std::string path;  // e.g. "segments[3].rule.and[1]" ("" for the document itself)
  std::string message;
};

struct MetricDef {
  std::string id;
  std::string event;  // event type it counts
  bool has_where = false;
  Program where;
  bool is_sum = false;
  std::vector<std::string> sum_path;  // inside the event, e.g. {"props", "value"}
};

struct SegmentDef {
  std::string id;
  Program rule;
  uint32_t deps = 0;                   // kDep* flags
  std::vector<int> metric_deps;        // metric indices read
  std::vector<int> count_deps;         // counted event-type indices read
  std::vector<int> segment_deps;       // segments read
  std::vector<Window> metric_windows;  // windows over metrics/counts (time dependence)
};

// Impression caps per profile; -1: no cap. A dismiss blocks the action for dismiss_cooldown_ms.
struct Caps {
  int64_t per_session = -1;
  int64_t per_day = -1;  // per UTC calendar day
  int64_t total = -1;
  int64_t dismiss_cooldown_ms = 0;
};

// Where an action's propensity comes from.
struct Propensity {
  enum class Kind : unsigned char { kConstant, kLogistic, kThompson };
  struct Feature {
    Program rule;  // a number (ToNumber of the rule's value; NaN counts as 0)
    double weight = 0;
  };
  Kind kind = Kind::kConstant;
  double constant = 1;
  double intercept = 0;           // logistic: sigmoid(intercept + sum(weight * feature))
  std::vector<Feature> features;  // logistic
  double prior_alpha = 1;         // thompson: Beta(prior_alpha + clicks,
  double prior_beta = 1;          //   prior_beta + impressions - clicks)
};

struct Experiment {
  std::string id;
  std::string salt;
  std::vector<std::string> variants;
  std::vector<double> weights;  // same length as variants, > 0
};

struct ActionDef {
  std::string id;
  std::vector<std::string> slots;
  bool has_eligible = false;
  Program eligible;
  std::string eligible_text;  // the rule as JSON, for explanations
  // For explanations: when `eligible` is an and/or, each of its conditions on its own.
  std::string eligible_op;  // "and", "or" or ""
  std::vector<std::pair<std::string, Program>> eligible_parts;
  Propensity propensity;
  double value = 1;
  double lever = 1;
  double context_weight = 1;
  bool has_context_rule = false;  // context_weight given as a rule returning a number
  Program context_rule;
  Caps caps;
  std::string group;    // mutual exclusion: one action of a group per decision ("" none)
  int experiment = -1;  // shown only to this variant of this experiment
  int variant = -1;
  Value content;
};

struct Holdout {
  double percent = 0;  // share of profiles that get the defaults, in [0, 100]
  std::string salt = "holdout";
};

struct SlotDefault {
  std::string slot;
  Value content;
};

struct Bundle {
  std::string version;
  std::string consent_mode = "opt-in";              // "opt-in" | "opt-out"
  std::string consent_gpc = "personalization_off";  // "personalization_off" | "ignore"
  Retention retention;
  std::vector<MetricDef> metrics;
  std::vector<SegmentDef> segments;  // bundle order
  std::vector<int> segment_order;    // dependencies first
  std::vector<ActionDef> actions;
  std::vector<Experiment> experiments;
  Holdout holdout;
  std::vector<SlotDefault> defaults;
  std::vector<std::string> event_types;  // counted by count/since, by index

  int metric_index(std::string_view id) const;
  int segment_index(std::string_view id) const;
  int event_type_index(std::string_view type) const;
  const SlotDefault* slot_default(std::string_view slot) const;
  int action_index(std::string_view id) const;
};

// Parses and compiles a bundle. On failure `errors` holds every problem found and `out` is
// unspecified (callers keep their previous bundle).
bool compile_bundle(std::string_view json, Bundle& out, std::vector<BundleError>& errors);
bool compile_bundle(const Value& doc, Bundle& out, std::vector<BundleError>& errors);

// "path: message" lines as printed by `pz validate`.
std::string format_errors(const std::vector<BundleError>& errors);

}  // namespace pz
