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

// What a compiled rule reads, resolved to bundle indices (for incremental re-evaluation).
struct RuleInputs {
  uint32_t deps = 0;            // kDep* flags
  std::vector<int> metrics;     // metric indices read
  std::vector<int> counts;      // counted event-type indices read
  std::vector<int> segments;    // segments read
  std::vector<Window> windows;  // windows over metrics/counts (time dependence)
};

struct SegmentDef {
  std::string id;
  Program rule;
  // A top-level and/or of two or more conditions without loops is also kept split: each
  // condition is a node of its own in the incremental graph, re-evaluated only when what it
  // reads changes, and the segment combines the conditions' cached results in order (the same
  // answer as the whole rule: and/or short-circuit, an error makes the rule false).
  enum class Split : unsigned char { kNone, kAnd, kOr } split = Split::kNone;
  std::vector<Program> parts;
  std::vector<RuleInputs> part_inputs;
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
  RuleInputs eligible_inputs;  // what `eligible` reads (its cached result is re-evaluated then)
  std::string eligible_text;   // the rule as JSON, for explanations
  // For explanations: when `eligible` is an and/or, each of its conditions on its own.
  std::string eligible_op;  // "and", "or" or ""
  std::vector<Program> eligible_parts;
  std::vector<std::string> eligible_part_texts;  // each as JSON
  Propensity propensity;
  double value = 1;
  double lever = 1;
  double context_weight = 1;
  bool has_context_rule = false;  // context_weight given as a rule returning a number
  Program context_rule;
  Caps caps;
  std::string group;     // mutual exclusion: one action of a group per decision ("" none)
  int group_index = -1;  // index into Bundle::group_names (-1: no group)
  int experiment = -1;   // shown only to this variant of this experiment
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

  // The incremental evaluation graph, built once per bundle and shared by every engine that
  // loads it. Nodes: segment i is node i, the eligibility rule of action a is node
  // segments.size() + a, condition k of the split segments (in segment order) is node
  // segments.size() + actions.size() + k. A change of an input marks exactly the nodes that read
  // it. Positions: per segment in dependency order its conditions then itself (the first
  // `eager` positions, evaluated at once), then the actions (evaluated when a decision needs them).
  struct Graph {
    size_t eager = 0;
    std::vector<int> part_segment;  // condition k -> its segment
    std::vector<int> first_part;    // segment -> its first condition k (-1: not split)
    std::vector<std::vector<int>> metric_readers, count_readers, segment_readers;
    std::vector<std::vector<int>> flag_readers;  // by kDep* bit (32)
    std::vector<int> timed;                      // nodes whose windows move with time
    std::vector<int> every_ms;                   // nodes that read now/since: every new time
    std::vector<int> position;  // node -> position: segments in dependency order, then actions
    std::vector<int> node_at;   // position -> node
    std::vector<std::vector<Window>> windows;  // node -> its windows
    // Identical conditions (the same JSON) of different split segments are one node: condition
    // k is evaluated only when part_canon[k] == k (the first in dependency order), the others
    // read its value; a change of k marks every segment in part_users[k].
    std::vector<int> part_canon;
    std::vector<std::vector<int>> part_users;
    // The count/metric windows that conditions compare with a constant (WindowComparison), each
    // once; per condition its test (term -1: the condition runs as a program).
    struct Term {
      bool is_count = false;  // else a metric
      int slot = -1;
      Window window;
    };
    std::vector<Term> terms;
    struct Test {
      int term = -1;
      WindowComparison cmp;
    };
    std::vector<Test> part_test;
  } graph;
  // Per event type that a metric or count reads, sorted by type: what an event of it updates.
  struct EventUse {
    std::string type;
    std::vector<int> metrics;  // metric indices, in bundle order
    int count = -1;            // event_types index, -1: not counted
  };
  std::vector<EventUse> event_uses;
  const EventUse* event_use(std::string_view type) const;
  std::vector<std::string> group_names;  // the actions' groups, first use first
  // Slots named by actions, and per slot its actions in bundle order.
  std::vector<std::string> slot_names;
  std::vector<std::vector<int>> slot_actions;
  // Segment indices sorted by id (Engine::segments lists ids in this order).
  std::vector<int> segments_by_id;

  int metric_index(std::string_view id) const;
  int event_type_index(std::string_view type) const;
  const SlotDefault* slot_default(std::string_view slot) const;
  int action_index(std::string_view id) const;
  // Index into slot_names/slot_actions, or -1 for a slot no action fills.
  int slot_index(std::string_view slot) const;
};

// Parses and compiles a bundle. On failure `errors` holds every problem found and `out` is
// unspecified (callers keep their previous bundle).
bool compile_bundle(std::string_view json, Bundle& out, std::vector<BundleError>& errors);
bool compile_bundle(const Value& doc, Bundle& out, std::vector<BundleError>& errors);

// "path: message" lines as printed by `pz validate`.
std::string format_errors(const std::vector<BundleError>& errors);

}  // namespace pz
