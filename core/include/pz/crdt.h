// The mergeable profile: the state a device and the server exchange (the sync format). A
// state-based CRDT:
//   - components: one per device (and erasure epoch), written by that device only; replicas keep
//     per device the component with the greatest (epoch, version). Metric/count series, sessions,
//     first/last seen and action exposures live here, so counts add up across devices without
//     double counting, whatever the order and repetition of syncs.
//   - registers: user id, consent and each trait are last-writer-wins by a hybrid logical clock
//     stamp (ms, counter, device) — a total order, so concurrent writes resolve the same way on
//     every replica. A deleted trait is a tombstone (null value) so that it stays deleted.
//   - erased_at: the erasure epoch, merged by max; every component started before it and every
//     register stamped before it is dropped on every replica.
// merge() is commutative, associative and idempotent (tests/core/crdt_test.cpp checks it on
// random states, and convergence of replicas under reordered, duplicated and dropped messages).
// Bounded: at most kMaxComponents components (the most recent by (epoch, last_seen, device)) and
// kMaxTraits traits including tombstones (the newest by stamp) — both deterministic, so the bound
// keeps the algebra. Format and versions: docs/sync.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pz/profile.h"
#include "pz/status.h"
#include "pz/value.h"

namespace pz {

constexpr int kSyncFormatVersion = 1;
constexpr size_t kMaxComponents = 16;

// Hybrid logical clock stamp; ordered by (ms, counter, device).
struct Hlc {
  int64_t ms = 0;
  uint32_t counter = 0;
  std::string device;
  // The next stamp of `device` after `last`, at wall time `now`.
  static Hlc next(const Hlc& last, int64_t now, std::string device);
};
int compare(const Hlc& a, const Hlc& b);

struct LwwRegister {
  bool set = false;  // unset: never written (or dropped by an erasure)
  Value value;       // null: deleted (a tombstone)
  Hlc stamp;
};

struct Component {
  std::string device;
  int64_t epoch = 0;     // the erasure epoch it was started under
  uint64_t version = 0;  // bumped by its device on every write
  bool seen = false;
  int64_t first_seen = 0, last_seen = 0, sessions = 0;
  std::vector<std::pair<std::string, Series>> metrics;      // by metric id, sorted
  std::vector<std::pair<std::string, Series>> counts;       // by event type, sorted
  std::vector<std::pair<std::string, Exposure>> exposures;  // by action id, sorted
};

struct ProfileState {
  bool erased = false;
  int64_t erased_at = 0;
  LwwRegister user_id;
  LwwRegister consent;
  std::vector<std::pair<std::string, LwwRegister>> traits;  // sorted by key
  std::vector<Component> components;                        // sorted by (device, epoch)
};

// The join of two states (see above). merge(a, b) == merge(b, a); merge(a, merge(b, c)) ==
// merge(merge(a, b), c); merge(a, a) == a.
ProfileState merge(const ProfileState& a, const ProfileState& b);
// The same, made in a's place: what of `a` wins is moved, not copied (a server merging a delta
// into a state it owns).
ProfileState merge(ProfileState&& a, const ProfileState& b);

// Per device, the greatest (epoch, version) a replica has: what delta() may leave out.
using VersionVector = std::vector<std::pair<std::string, std::pair<int64_t, uint64_t>>>;
VersionVector versions(const ProfileState& s);
// What a replica that has `since` lacks: newer components, and every register (they are few
// and bounded). merge(replica, delta(s, versions(replica))) == merge(replica, s) as long as no
// two states hold different components under one (device, epoch, version), which holds when a
// device writes only its own component and bumps its version on every write (a misbehaving
// writer that reuses a version is resolved by merge alone, which a delta cannot carry).
ProfileState delta(const ProfileState& s, const VersionVector& since);

// A version vector as JSON, the sync cursor: [["device", epoch, version], ...] sorted by device.
// The reader checks every entry (errors name it: `cursor[2][1]: ...`) and accepts at most
// 4 x kMaxComponents entries; "" or "null" is the empty vector.
std::string export_versions(const VersionVector& v);
Result<VersionVector> import_versions(std::string_view json, std::string_view name = "cursor");

// The canonical JSON form (equal states give equal bytes) and its reader; the reader checks
// every field and reports errors with a JSON path; it never produces a state past the bounds.
std::string export_state(const ProfileState& s);
// export_state(s) and export_state(delta(s, since)) in one pass (what a sync answers).
void export_state_and_delta(const ProfileState& s, const VersionVector& since, std::string& state,
                            std::string& delta_text);
Result<ProfileState> import_state(std::string_view json);
// The same from a parsed document (a host that parsed a request holding a state).
Result<ProfileState> import_state(const Value& state);

// For a host that holds a state or a version vector inside a larger JSON text (a request body):
// reads the value that starts at `pos` (after whitespace) straight from the text and moves `pos`
// past it. Only the common case: the layout export_state / export_versions write, strings
// without escapes, numbers in JSON's grammar. On anything else, valid or not, they return false
// and change nothing, without judging: the host then parses the whole text and calls
// import_state(const Value&) / import_versions, which decide and name the errors. When they
// return true, the result is what those give for the same value (a state: import_state; a
// version vector, or null for the empty one: import_versions). The text before `pos` and after
// the value is the host's to check.
bool read_state_at(std::string_view json, size_t& pos, ProfileState& out);
bool read_versions_at(std::string_view json, size_t& pos, VersionVector& out);

}  // namespace pz
