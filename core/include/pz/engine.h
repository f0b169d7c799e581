// The engine for one visitor: a bundle, the visitor's profile, and real-time segment
// memberships. Every call takes `now` (ms since the epoch) from the host; nothing here reads a
// clock. Bad input returns an error and changes nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pz/bundle.h"
#include "pz/json.h"
#include "pz/profile.h"
#include "pz/status.h"
#include "pz/value.h"

namespace pz {

// A validated event.
struct Event {
  std::string type;
  int64_t t = 0;
  std::string id;
  Value props;  // object or undefined
  Value page;   // object or undefined
  Value raw;    // the event object as received (event.* in rules)
};

// Checks an event object: "type" (non-empty string), "t" (ms, a finite number), optional "id"
// (string), "props" (object), "page" (object whose url/path/referrer/title are strings). Unknown
// fields are ignored. Errors name the field.
Result<Event> parse_event(const Value& v);
constexpr size_t kMaxEventBytes = 32 * 1024;

struct Decision {
  std::string slot;
  std::string action;  // empty: the slot's default
  Value content;
  // Why: {"slot", "action", "holdout", "would_show"?, "candidates": [{"action", "score"?,
  // "propensity", "context_weight", "value", "lever", "removed"?, "eligible"?, "rules"?}]},
  // with the eligibility rule's parts for the winner and the runner-up. See docs/decisions.md.
  Value why;
};

// Feedback on an action shown to the visitor.
enum class Outcome : unsigned char { kImpression, kClick, kConversion, kDismiss };
bool parse_outcome(std::string_view name, Outcome& out);

class Engine {
 public:
  Engine();
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  // Loads a bundle. On error the previous bundle (and the profile) stay as they were and
  // `errors` (if given) lists every problem with its JSON path.
  Status load_bundle(std::string_view json, std::vector<BundleError>* errors = nullptr);
  bool has_bundle() const;
  const Bundle& bundle() const;

  void set_anonymous_id(std::string id);

  // Ingests one event (JSON object text or parsed value) and re-evaluates the segments whose
  // inputs it changed. Time is the event's own `t`.
  Status ingest(std::string_view event_json);
  Status ingest(const Value& event);

  // Sets the user id and merges traits (an object; null values remove keys; may be undefined).
  Status identify(std::string_view user_id, const Value& traits, int64_t now);

  // Host-supplied context (device, locale, geo, ...): an object, kept until replaced.
  Status set_context(const Value& context);

  // Brings memberships up to `now`. `page` (object or undefined) overrides page.* for this
  // evaluation only.
  void evaluate(int64_t now, const Value& page = Value());
  // Sorted ids of the segments the visitor is in (as of the last evaluate/ingest).
  std::vector<std::string> segments() const;

  // Decisions for the slots, in the order asked: per slot the eligible, uncapped action with the
  // highest priority = propensity x context_weight x value x lever (> 0; ties by bundle order),
  // never one action twice nor two of one group; otherwise the slot's default. A visitor in
  // the holdout gets the defaults (why.would_show says what they would have seen).
  std::vector<Decision> decide(const std::vector<std::string>& slots, int64_t now,
                               const Value& page = Value());

  // Records feedback (impressions count towards caps; clicks and impressions feed bandits; a
  // dismiss starts the action's cooldown). Unknown action: kNotFound, nothing changes.
  Status feedback(std::string_view action, Outcome outcome, int64_t now);

  const Profile& profile() const;

  // Testing aid: when false every evaluation re-evaluates every segment (the reference the
  // incremental path is checked against).
  void set_incremental(bool on);
  // Number of segment rule evaluations so far (for tests and benchmarks).
  uint64_t segment_evaluations() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace pz
