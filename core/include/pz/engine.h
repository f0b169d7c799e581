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
#include "pz/consent.h"
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

// What arbitration saw of one candidate action (rendered to JSON by Engine::why).
struct CandidateTrace {
  enum class Removed : unsigned char {
    kNo,
    kAlreadyChosen,
    kGroupTaken,
    kOtherVariant,
    kNotEligible,
    kRuleFailed,
    kCapTotal,
    kCapPerDay,
    kCapPerSession,
    kCooldown,
    kZeroPriority,
  };
  int action = -1;  // bundle action index
  Removed removed = Removed::kNo;
  bool eligible_checked = false;
  bool eligible = false;
  bool scored = false;
  double score = 0, propensity = 0, context_weight = 0;
  int64_t have = 0, limit = 0;  // caps: have/limit; cooldown: limit = until (ms); variant: have
  std::string error;            // kRuleFailed
};

struct DecisionTrace {
  bool holdout = false;
  int winner = -1;  // the action shown, or that would be shown (holdout)
  int runner_up = -1;
  std::vector<CandidateTrace> candidates;
  // The eligibility conditions of the winner and the runner-up with their results.
  std::vector<Value> winner_rules, runner_up_rules;
};

struct Decision {
  std::string slot;
  std::string action;  // empty: the slot's default
  Value content;
  DecisionTrace trace;  // why; Engine::why renders it
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
  // Loads a bundle compiled once (compile_bundle) and shared, read-only, by many engines (a
  // server keeps one per site and thread and builds an engine per request from it). Within one
  // thread only: values are reference-counted without atomics.
  void load_bundle(std::shared_ptr<const Bundle> compiled);
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
  // Membership per bundle segment (by index; 1 = in), as of the last evaluate/ingest: a cheap
  // snapshot for hosts that report which segments were entered or exited.
  const std::vector<char>& memberships() const;

  // Decisions for the slots, in the order asked: per slot the eligible, uncapped action with the
  // highest priority = propensity x context_weight x value x lever (> 0; ties by bundle order),
  // never one action twice nor two of one group; otherwise the slot's default. A visitor in
  // the holdout gets the defaults (why.would_show says what they would have seen).
  // `explain` false skips what only why() reads (the candidates' traces and the rules of the
  // winner and runner-up): the same decisions, cheaper; why() then shows no candidates.
  // Eligibility rules are cached between decisions and re-evaluated only when what they read
  // changed (the same dependency tracking as segments).
  std::vector<Decision> decide(const std::vector<std::string>& slots, int64_t now,
                               const Value& page = Value(), bool explain = true);

  // Why a decision came out as it did: {"slot", "action", "holdout", "would_show"?,
  // "runner_up", "candidates": [{"action", "eligible"?, "removed"?, "score"?, "propensity"?,
  // "context_weight"?, "value"?, "lever"?, "rules_op"?, "rules"?}]}. See docs/decisions.md.
  // REQUIRES: the decision came from this engine's current bundle.
  Value why(const Decision& decision) const;

  // Records feedback (impressions count towards caps; clicks and impressions feed bandits; a
  // dismiss starts the action's cooldown). Unknown action: kNotFound, nothing changes.
  Status feedback(std::string_view action, Outcome outcome, int64_t now);

  // Applies a consent object (see consent.h). Withdrawing personalization erases the profile.
  // Without personalization consent nothing about the visitor is kept: events only set the
  // current page, identify and feedback are ignored, and decisions use context only.
  Status consent(const Value& consent, int64_t now);
  const ConsentState& consent_state() const;
  // Erases the profile's personal data (ids but the anonymous one, traits, series, exposures)
  // and records the erasure epoch `now`.
  void erase(int64_t now);

  // Sync (pz/crdt.h, docs/sync.md). The device id names this engine's component (default
  // "device"; hosts set a stable random id per device).
  void set_device_id(std::string id);
  // The merged profile state this engine knows: its own writes and what it merged from others.
  std::string export_state() const;
  // Merges a state (from the server or another device): windows, sessions, caps and traits then
  // count every device; an erasure epoch erases older data here too. A malformed state changes
  // nothing and the error names the field.
  Status merge_state(std::string_view state_json, int64_t now);
  // One side of the HTTP sync exchange (docs/server.md): given `cursor` (the server's version
  // vector from its last sync answer, JSON; "" for none), what the server lacks (`delta`, a
  // state) and what this engine has (`versions`, its version vector), as
  // {"delta": state, "versions": [...]}. A malformed cursor is an error naming the entry.
  Result<std::string> sync_request(std::string_view cursor_json) const;

  const Profile& profile() const;
  // The profile as rules read it: this device's data plus every merged device's (first seen the
  // earliest, last seen the latest, sessions, series and exposure counters added up, a series'
  // buckets added by index). For a debug panel; profile() is this device's own part.
  Profile merged_profile() const;

  // Testing aid: when false every evaluation re-evaluates every segment (the reference the
  // incremental path is checked against).
  void set_incremental(bool on);
  // Number of segment rule evaluations so far (for tests and benchmarks).
  uint64_t segment_evaluations() const;
  // Number of action eligibility rule evaluations so far (for tests and benchmarks).
  uint64_t eligibility_evaluations() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace pz
