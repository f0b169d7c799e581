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

struct Caps {
  int64_t per_session = -1;  // -1: no cap
  int64_t per_day = -1;
  int64_t total = -1;
};

struct ActionDef {
  std::string id;
  std::vector<std::string> slots;
  bool has_eligible = false;
  Program eligible;
  double propensity = 1;
  double value = 1;
  double lever = 1;
  double context_weight = 1;
  Caps caps;
  Value content;
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
  std::vector<SlotDefault> defaults;
  std::vector<std::string> event_types;  // counted by count/since, by index

  int metric_index(std::string_view id) const;
  int segment_index(std::string_view id) const;
  int event_type_index(std::string_view type) const;
  const SlotDefault* slot_default(std::string_view slot) const;
};

// Parses and compiles a bundle. On failure `errors` holds every problem found and `out` is
// unspecified (callers keep their previous bundle).
bool compile_bundle(std::string_view json, Bundle& out, std::vector<BundleError>& errors);
bool compile_bundle(const Value& doc, Bundle& out, std::vector<BundleError>& errors);

// "path: message" lines as printed by `pz validate`.
std::string format_errors(const std::vector<BundleError>& errors);

}  // namespace pz
