// The embedded store: one SQLite file (DIR/pz.db) in WAL mode with synchronous=FULL. Writes go
// through one writer thread that commits whatever requests arrived together in one transaction
// (group commit, each request in its own savepoint) and calls their `done` only after COMMIT
// returned: an acknowledged write is on disk. Reads use a small pool of read connections (WAL
// readers never wait for the writer).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "metrics.h"
#include "store.h"

namespace pz::server {

// The schema version this build writes; older files are migrated at open, newer are refused.
constexpr int kSchemaVersion = 3;

struct SqliteOptions {
  // The write-ahead log's bound. A checkpointer thread copies the WAL into the database every
  // 50 ms without blocking anyone; once the WAL holds more than this the writer, between two
  // transactions, copies the few commits left (a short pause) so that the next commit writes the
  // WAL from its start and the file is truncated to this size. Past 4x this (a reader kept the
  // checkpoints from finishing) the writer checkpoints with TRUNCATE, waiting up to 10 s, before
  // it takes more writes (back-pressure): a write load cannot grow the file without bound.
  int64_t wal_limit_bytes = int64_t{64} << 20;
};

// Opens (creating DIR and the file if needed) and migrates. `metrics` may be null.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& dir, Metrics* metrics,
                                                 SqliteOptions options = {});

}  // namespace pz::server
