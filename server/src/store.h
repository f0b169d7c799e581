// The server's store: the event log, profiles (sync-format states, docs/sync.md), aliases and
// bundle versions, per site. An interface, so that the embedded SQLite store and a Redis Cluster
// store can sit behind the same API.
//
// Contracts every implementation keeps:
// - Writes are asynchronous: `done` runs (on an unspecified thread) only after the write is
//   durable, so the caller acknowledges a request only then. A failed write changes nothing and
//   reports kUnavailable.
// - update_profile and link are atomic read-modify-writes of one profile: concurrent calls on one
//   profile are applied one after the other, never losing one. Their functions may run more than
//   once (an optimistic store retries them) and must depend only on their arguments.
// - Reads see every write whose `done` has run.
// - Sites never see each other's data: every key includes the site.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pz/status.h"

namespace pz::server {

template <typename T>
using Done = std::function<void(Result<T>)>;

struct StoredEvent {
  std::string id;       // unique per event (deduplication key)
  std::string profile;  // the anonymous id of the device that sent it
  std::string user;     // its user id, "" when not identified
  int64_t t = 0;        // the event's own time (ms)
  std::string body;     // the event JSON as received
};

struct CollectResult {
  int64_t accepted = 0;
  int64_t duplicates = 0;
};

struct ProfileRecord {
  std::string id;
  std::vector<std::string> aliases;  // anonymous ids linked to it
  std::string state;                 // sync format
  int64_t events = 0;                // events in the log for it and its aliases
};

struct ProfileUpdate {
  std::string id;     // the profile written (the alias resolved)
  std::string state;  // its new state
};

struct LinkResult {
  std::string id;  // the user id
  bool merged = false;
};

struct ErasureResult {
  std::string id;
  int64_t events_deleted = 0;
};

struct BundleVersion {
  int64_t version = 0;  // 1, 2, ... per site
  std::string etag;
  std::string bundle_version;  // the bundle's own "version" field
  int64_t created = 0;         // ms
  std::string body;            // empty in listings
  std::string signature;       // its Pz-Signature text ("" when unsigned), kept in listings too
};

struct BundleList {
  int64_t active = 0;  // 0: none
  std::vector<BundleVersion> versions;
};

class Store {
 public:
  virtual ~Store() = default;

  // Appends events, skipping those whose id the site already has (within the retention).
  virtual void append_events(const std::string& site, std::vector<StoredEvent> events, int64_t now,
                             Done<CollectResult> done) = 0;

  // Resolves `id` through the aliases, then replaces the profile's state with
  // update(resolved_id, current_state) ("" when the profile has none yet). An error from
  // `update` writes nothing and is passed to `done`.
  using StateUpdate =
      std::function<Result<std::string>(const std::string& id, const std::string& current)>;
  virtual void update_profile(const std::string& site, const std::string& id, StateUpdate update,
                              int64_t now, Done<ProfileUpdate> done) = 0;

  // Links `anonymous_id` to `user_id` and replaces the user's state with
  // merge(user_state, anonymous_state) (either may be ""); the anonymous profile is then read
  // through the alias. kConflict when the anonymous id is already linked to another user.
  using StateMerge =
      std::function<Result<std::string>(const std::string& user, const std::string& anonymous)>;
  virtual void link(const std::string& site, const std::string& anonymous_id,
                    const std::string& user_id, StateMerge merge, int64_t now,
                    Done<LinkResult> done) = 0;

  // Replaces the profile's state with `erased_state` and deletes its events and those of its
  // aliases. kNotFound for an unknown profile.
  virtual void erase_profile(const std::string& site, const std::string& id,
                             std::string erased_state, int64_t now, Done<ErasureResult> done) = 0;

  // Stores a new bundle version and makes it active.
  virtual void put_bundle(const std::string& site, BundleVersion bundle,
                          Done<BundleVersion> done) = 0;
  // Makes `version` active (0: the one before the active one). kNotFound for an unknown
  // version, kConflict when there is none before.
  virtual void activate_bundle(const std::string& site, int64_t version,
                               Done<BundleVersion> done) = 0;

  // Deletes deduplication keys and events received before `before` (ms).
  virtual void prune_events(int64_t before, Done<int64_t> done) = 0;

  // Reads (synchronous, from the calling thread).
  virtual Result<std::optional<ProfileRecord>> get_profile(const std::string& site,
                                                           const std::string& id) = 0;
  // Only the state (and the resolved id): what a decision reads.
  virtual Result<std::optional<ProfileUpdate>> get_state(const std::string& site,
                                                         const std::string& id) = 0;
  virtual Result<std::optional<BundleVersion>> active_bundle(const std::string& site) = 0;
  virtual Result<BundleList> bundle_versions(const std::string& site) = 0;
  virtual Result<bool> has_event(const std::string& site, const std::string& id) = 0;

  // Finishes the writes queued so far and closes; later writes fail.
  virtual void close() = 0;
};

}  // namespace pz::server
