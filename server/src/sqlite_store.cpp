#include "sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "log.h"

namespace pz::server {

namespace {

// Migrations in order: migration i brings the schema from version i to i + 1.
const char* const kMigrations[] = {
    // 0 -> 1
    "CREATE TABLE events(site TEXT NOT NULL, id TEXT NOT NULL, profile TEXT NOT NULL,"
    "  user TEXT NOT NULL, t INTEGER NOT NULL, received INTEGER NOT NULL, body TEXT NOT NULL,"
    "  PRIMARY KEY(site, id)) WITHOUT ROWID;"
    "CREATE INDEX events_by_profile ON events(site, profile);"
    "CREATE INDEX events_by_user ON events(site, user) WHERE user <> '';"
    "CREATE INDEX events_by_received ON events(received);"
    "CREATE TABLE profiles(site TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL,"
    "  updated INTEGER NOT NULL, PRIMARY KEY(site, id)) WITHOUT ROWID;"
    "CREATE TABLE aliases(site TEXT NOT NULL, alias TEXT NOT NULL, id TEXT NOT NULL,"
    "  created INTEGER NOT NULL, PRIMARY KEY(site, alias)) WITHOUT ROWID;"
    "CREATE INDEX aliases_by_id ON aliases(site, id);"
    "CREATE TABLE bundles(site TEXT NOT NULL, version INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  bundle_version TEXT NOT NULL, created INTEGER NOT NULL, body TEXT NOT NULL,"
    "  PRIMARY KEY(site, version)) WITHOUT ROWID;"
    "CREATE TABLE active_bundles(site TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL)"
    "  WITHOUT ROWID;",
    // 1 -> 2: events in arrival order (a rowid table, appends at its end) with the dedup key as
    // a unique index; pruning walks the arrival order, so the index on `received` goes
    // (measured: ~1.5x the insert rate of the clustered (site, id) table, bench/README.md).
    "CREATE TABLE events_v2(seq INTEGER PRIMARY KEY, site TEXT NOT NULL, id TEXT NOT NULL,"
    "  profile TEXT NOT NULL, user TEXT NOT NULL, t INTEGER NOT NULL, received INTEGER NOT NULL,"
    "  body TEXT NOT NULL, UNIQUE(site, id));"
    "INSERT INTO events_v2(site, id, profile, user, t, received, body)"
    "  SELECT site, id, profile, user, t, received, body FROM events ORDER BY received;"
    "DROP TABLE events;"
    "ALTER TABLE events_v2 RENAME TO events;"
    "CREATE INDEX events_by_profile ON events(site, profile);"
    "CREATE INDEX events_by_user ON events(site, user) WHERE user <> '';",
    // 2 -> 3: a bundle version keeps its signature (docs/bundle.md "Signed bundles"; '' when
    // it was stored unsigned).
    "ALTER TABLE bundles ADD COLUMN signature TEXT NOT NULL DEFAULT '';",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

// What a failed write tells the client: the cause in words when it is the disk's (full,
// read-only, failing) or the file's, never SQL; and that nothing of the request was written (a
// failed job is rolled back). `rc`: the writer connection's extended error code right after the
// failure; other failures (an unreadable stored state) keep their message.
Status write_failed(const Status& st, int rc) {
  if (st.code() != Code::kUnavailable) return st;  // a refusal (conflict, not found): as it is
  const char* cause = nullptr;
  switch (rc & 0xff) {
    case SQLITE_FULL:
      cause = "the disk of the data directory is full";
      break;
    case SQLITE_READONLY:
      cause = "the data directory is read-only";
      break;
    case SQLITE_IOERR:
      cause = "the data directory cannot be written (I/O error)";
      break;
    case SQLITE_CANTOPEN:
      cause = "the database file cannot be opened";
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      cause = "the database file is damaged";
      break;
    case SQLITE_NOMEM:
      cause = "out of memory";
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      cause = "the database is busy";
      break;
    default:
      break;
  }
  const std::string what =
      cause != nullptr ? "store: cannot write: " + std::string(cause) : st.message();
  return Status(Code::kUnavailable, what + "; nothing of this request was written (retry later)");
}

Status store_error(sqlite3* db, const std::string& what) {
  return Status(Code::kUnavailable,
                "store: " + what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

// One connection with its prepared statements (cached by SQL text).
class Db {
 public:
  ~Db() {
    for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }
  Status open(const std::string& path, bool writer) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      return store_error(db_, "cannot open " + path);
    }
    sqlite3_busy_timeout(db_, 10000);
    if (writer && sqlite3_db_readonly(db_, "main") == 1) {
      return Status(Code::kUnavailable, "store: " + path +
                                            " can be opened only read-only (the file or its "
                                            "directory is read-only); pz-server writes to it");
    }
    if (writer) {
      PZ_TRY(exec("PRAGMA journal_mode=WAL"));
      PZ_TRY(exec("PRAGMA synchronous=FULL"));
    }
    return exec("PRAGMA cache_size=-32768");
  }
  Status exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      Status st(Code::kUnavailable, std::string("store: ") + (err ? err : "error") + " in " +
                                        std::string(sql).substr(0, 60));
      sqlite3_free(err);
      return st;
    }
    return Status::Ok();
  }
  // exec() for a statement run again and again (transaction control): prepared once.
  Status run(const char* sql) {
    Stmt st = stmt(sql);
    if (st.ok()) {
      const int rc = st.step();
      if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
    }
    return Status(Code::kUnavailable, std::string("store: ") + sqlite3_errmsg(db_) + " in " +
                                          std::string(sql).substr(0, 60));
  }
  sqlite3* handle() { return db_; }

  // A prepared statement, reset and with bindings cleared when the Stmt goes away.
  class Stmt {
   public:
    Stmt(sqlite3_stmt* st, sqlite3* db) : st_(st), db_(db) {}
    ~Stmt() {
      if (st_ != nullptr) {
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
      }
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    bool ok() const { return st_ != nullptr; }
    Stmt& bind(int i, const std::string& s) {
      sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
      return *this;
    }
    Stmt& bind(int i, int64_t v) {
      sqlite3_bind_int64(st_, i, v);
      return *this;
    }
    void reset() { sqlite3_reset(st_); }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return sqlite3_step(st_); }
    int64_t int64(int col) { return sqlite3_column_int64(st_, col); }
    std::string text(int col) {
      const unsigned char* p = sqlite3_column_text(st_, col);
      return p == nullptr ? std::string()
                          : std::string(reinterpret_cast<const char*>(p),
                                        static_cast<size_t>(sqlite3_column_bytes(st_, col)));
    }
    Status done(const char* what) {
      int rc = step();
      return rc == SQLITE_DONE || rc == SQLITE_ROW ? Status::Ok() : store_error(db_, what);
    }

   private:
    sqlite3_stmt* st_;
    sqlite3* db_;
  };

  Stmt stmt(const char* sql) {
    auto it = stmts_.find(sql);
    if (it == stmts_.end()) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK) {
        return Stmt(nullptr, db_);
      }
      it = stmts_.emplace(sql, st).first;
    }
    return Stmt(it->second, db_);
  }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

#define PZ_STMT(name, db, sql)    \
  Db::Stmt name = (db).stmt(sql); \
  if (!name.ok()) return store_error((db).handle(), "prepare");

// INSERT of `rows` events (1 <= rows <= kMaxInsertRows, a power of two), 7 parameters a row. The
// texts live as long as the process: Db caches statements by the text's address.
constexpr int kMaxInsertRows = 32;
const char* insert_events_sql(int rows) {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out(kMaxInsertRows + 1);
    for (int n = 1; n <= kMaxInsertRows; n *= 2) {
      std::string& sql = out[static_cast<size_t>(n)];
      sql = "INSERT INTO events(site, id, profile, user, t, received, body) VALUES";
      for (int k = 0; k < n; ++k) sql += k == 0 ? "(?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?)";
      sql += " ON CONFLICT DO NOTHING";
    }
    return out;
  }();
  return texts[static_cast<size_t>(rows)].c_str();
}

// The id a profile id stands for: the user it is linked to, or itself.
Result<std::string> resolve(Db& db, const std::string& site, const std::string& id) {
  PZ_STMT(q, db, "SELECT id FROM aliases WHERE site=?1 AND alias=?2");
  q.bind(1, site).bind(2, id);
  int rc = q.step();
  if (rc == SQLITE_ROW) return q.text(0);
  if (rc != SQLITE_DONE) return store_error(db.handle(), "resolve");
  return id;
}

Result<std::optional<std::string>> read_state(Db& db, const std::string& site,
                                              const std::string& id) {
  PZ_STMT(q, db, "SELECT state FROM profiles WHERE site=?1 AND id=?2");
  q.bind(1, site).bind(2, id);
  int rc = q.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(q.text(0));
  if (rc != SQLITE_DONE) return store_error(db.handle(), "read profile");
  return std::optional<std::string>();
}

Status write_state(Db& db, const std::string& site, const std::string& id, const std::string& state,
                   int64_t now) {
  PZ_STMT(q, db,
          "INSERT INTO profiles(site, id, state, updated) VALUES(?1, ?2, ?3, ?4)"
          " ON CONFLICT(site, id) DO UPDATE SET state=excluded.state, updated=excluded.updated");
  q.bind(1, site).bind(2, id).bind(3, state).bind(4, now);
  return q.done("write profile");
}

Result<BundleVersion> read_bundle(Db& db, const std::string& site, int64_t version,
                                  bool with_body) {
  PZ_STMT(q, db,
          "SELECT version, etag, bundle_version, created, body, signature FROM bundles"
          " WHERE site=?1 AND version=?2");
  q.bind(1, site).bind(2, version);
  int rc = q.step();
  if (rc == SQLITE_DONE) {
    return Status(Code::kNotFound, "no bundle version " + std::to_string(version));
  }
  if (rc != SQLITE_ROW) return store_error(db.handle(), "read bundle");
  BundleVersion b;
  b.version = q.int64(0);
  b.etag = q.text(1);
  b.bundle_version = q.text(2);
  b.created = q.int64(3);
  if (with_body) b.body = q.text(4);
  b.signature = q.text(5);
  return b;
}

Result<int64_t> active_version(Db& db, const std::string& site) {
  PZ_STMT(q, db, "SELECT version FROM active_bundles WHERE site=?1");
  q.bind(1, site);
  int rc = q.step();
  if (rc == SQLITE_ROW) return q.int64(0);
  if (rc != SQLITE_DONE) return store_error(db.handle(), "read active bundle");
  return int64_t{0};
}

Status set_active(Db& db, const std::string& site, int64_t version) {
  PZ_STMT(q, db,
          "INSERT INTO active_bundles(site, version) VALUES(?1, ?2)"
          " ON CONFLICT(site) DO UPDATE SET version=excluded.version");
  q.bind(1, site).bind(2, version);
  return q.done("activate bundle");
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, Metrics* metrics, SqliteOptions options)
      : path_(std::move(path)), metrics_(metrics), options_(options) {}
  ~SqliteStore() override { close(); }

  Status start() {
    writer_db_ = std::make_unique<Db>();
    PZ_TRY(writer_db_->open(path_, true));
    PZ_TRY(migrate(*writer_db_));
    // Checkpoints (copying the WAL into the database) run on their own connection and thread,
    // never inside a COMMIT on the writer.
    PZ_TRY(writer_db_->exec("PRAGMA wal_autocheckpoint=0"));
    // A multi-row INSERT inside the transaction keeps a statement journal (the pages it changed,
    // to undo it alone). On a temporary file it measured collect's p99 at 50k events/s up to 2x
    // that of one-row INSERTs; in memory (at most the pages of one statement of 32 rows) it is
    // at par or better.
    PZ_TRY(writer_db_->exec("PRAGMA temp_store=MEMORY"));
    // A reset WAL is truncated to the limit (it would otherwise keep its largest size forever).
    PZ_TRY(writer_db_->exec(
        ("PRAGMA journal_size_limit=" + std::to_string(options_.wal_limit_bytes)).c_str()));
    sqlite3_wal_hook(writer_db_->handle(), &SqliteStore::on_commit, this);
    {
      PZ_STMT(q, *writer_db_, "PRAGMA page_size");
      if (q.step() == SQLITE_ROW) page_size_ = q.int64(0);
    }
    checkpoint_db_ = std::make_unique<Db>();
    PZ_TRY(checkpoint_db_->open(path_, false));
    writer_ = std::thread([this] { write_loop(); });
    checkpointer_ = std::thread([this] { checkpoint_loop(); });
    return Status::Ok();
  }

  void append_events(const std::string& site, std::vector<StoredEvent> events, int64_t now,
                     Done<CollectResult> done) override {
    write<CollectResult>(
        [site, events = std::move(events), now](Db& db, CollectResult& result) -> Status {
          // Rows go in by statements of 32, 16, ... 1 rows (20 events: 16 + 4): one statement
          // per row spent ~30 % of the writer's instructions starting and ending statements
          // (callgrind). A row whose id is already stored, or repeats an earlier row's, is
          // skipped (DO NOTHING) and is not among the statement's changes.
          CollectResult r;
          size_t next = 0;
          for (int rows = kMaxInsertRows; rows >= 1; rows /= 2) {
            while (events.size() - next >= static_cast<size_t>(rows)) {
              PZ_STMT(q, db, insert_events_sql(rows));
              for (int k = 0; k < rows; ++k) {
                const StoredEvent& e = events[next + static_cast<size_t>(k)];
                const int at = k * 7;
                q.bind(at + 1, site).bind(at + 2, e.id).bind(at + 3, e.profile);
                q.bind(at + 4, e.user).bind(at + 5, e.t).bind(at + 6, now).bind(at + 7, e.body);
              }
              if (q.step() != SQLITE_DONE) return store_error(db.handle(), "append event");
              const int64_t inserted = sqlite3_changes(db.handle());
              r.accepted += inserted;
              r.duplicates += rows - inserted;
              next += static_cast<size_t>(rows);
            }
          }
          result = r;
          return Status::Ok();
        },
        std::move(done));
  }

  // Optimistic: the update (a merge, the costly part) runs first on the caller's thread against
  // the state read there, so that merges run in parallel and beside the writer's fsync; the
  // writer then only checks that the profile still resolves to the same id with the same state
  // and writes the result. When another write came in between, the writer runs the update again
  // on the state it reads (the update may run more than once: store.h).
  void update_profile(const std::string& site, const std::string& id, StateUpdate update,
                      int64_t now, Done<ProfileUpdate> done) override {
    struct Prepared {
      bool valid = false;
      std::string target;
      std::shared_ptr<const std::string> current;
      std::string next;
    };
    auto pre = std::make_shared<Prepared>();
    Status read_st = Status::Ok();
    // The state as the writer last wrote it, when it has it for `id` itself (a guess: the writer
    // checks it below), else from the database.
    if (std::shared_ptr<const std::string> known = known_state(site, id)) {
      pre->target = id;
      pre->current = std::move(known);
    } else {
      read_st = read([&](Db& db) -> Status {
        Result<std::string> target = resolve(db, site, id);
        if (!target.ok()) return target.status();
        Result<std::optional<std::string>> current = read_state(db, site, target.value());
        if (!current.ok()) return current.status();
        pre->target = target.take();
        pre->current = std::make_shared<const std::string>(current.take().value_or(""));
        return Status::Ok();
      });
    }
    if (read_st.ok()) {
      Result<std::string> next = update(pre->target, *pre->current);
      if (next.ok()) {
        pre->next = next.take();
        pre->valid = true;
      }
    }
    write<ProfileUpdate>(
        [this, site, id, update = std::move(update), now, pre](Db& db,
                                                               ProfileUpdate& result) -> Status {
          Result<std::string> target = resolve(db, site, id);
          if (!target.ok()) return target.status();
          std::shared_ptr<const std::string> now_state = known_state(site, target.value());
          if (!now_state) {
            Result<std::optional<std::string>> current = read_state(db, site, target.value());
            if (!current.ok()) return current.status();
            now_state = std::make_shared<const std::string>(current.take().value_or(""));
          }
          if (pre->valid && pre->target == target.value() &&
              (pre->current == now_state || *pre->current == *now_state)) {
            result.state = std::move(pre->next);
          } else {
            Result<std::string> next = update(target.value(), *now_state);
            if (!next.ok()) return next.status();
            result.state = next.take();
          }
          PZ_TRY(write_state(db, site, target.value(), result.state, now));
          remember_state(site, target.value(), result.state);
          result.id = target.take();
          return Status::Ok();
        },
        std::move(done));
  }

  void link(const std::string& site, const std::string& anonymous_id, const std::string& user_id,
            StateMerge merge, int64_t now, Done<LinkResult> done) override {
    write<LinkResult>(
        [this, site, anonymous_id, user_id, merge = std::move(merge), now](
            Db& db, LinkResult& result) -> Status {
          forget_states();  // profiles and aliases change
          result.id = user_id;
          Result<std::string> linked = resolve(db, site, anonymous_id);
          if (!linked.ok()) return linked.status();
          if (linked.value() == user_id && anonymous_id != user_id) {
            return Status::Ok();  // linked before: nothing to merge
          }
          if (linked.value() != anonymous_id) {
            return Status(Code::kConflict, "anonymous_id is linked to another user");
          }
          if (anonymous_id == user_id) return Status::Ok();
          Result<std::optional<std::string>> anon = read_state(db, site, anonymous_id);
          Result<std::optional<std::string>> user = read_state(db, site, user_id);
          if (!anon.ok()) return anon.status();
          if (!user.ok()) return user.status();
          Result<std::string> merged = merge(user.value().value_or(""), anon.value().value_or(""));
          if (!merged.ok()) return merged.status();
          PZ_TRY(write_state(db, site, user_id, merged.value(), now));
          {
            PZ_STMT(del, db, "DELETE FROM profiles WHERE site=?1 AND id=?2");
            del.bind(1, site).bind(2, anonymous_id);
            PZ_TRY(del.done("link"));
          }
          {
            // Anonymous ids linked to the anonymous id (none in practice) follow it.
            PZ_STMT(move, db, "UPDATE aliases SET id=?3 WHERE site=?1 AND id=?2");
            move.bind(1, site).bind(2, anonymous_id).bind(3, user_id);
            PZ_TRY(move.done("link"));
          }
          PZ_STMT(ins, db, "INSERT INTO aliases(site, alias, id, created) VALUES(?1, ?2, ?3, ?4)");
          ins.bind(1, site).bind(2, anonymous_id).bind(3, user_id).bind(4, now);
          PZ_TRY(ins.done("link"));
          result.merged = true;
          return Status::Ok();
        },
        std::move(done));
  }

  void erase_profile(const std::string& site, const std::string& id, std::string erased_state,
                     int64_t now, Done<ErasureResult> done) override {
    write<ErasureResult>(
        [this, site, id, erased_state = std::move(erased_state), now](
            Db& db, ErasureResult& result) -> Status {
          forget_states();
          Result<std::string> target = resolve(db, site, id);
          if (!target.ok()) return target.status();
          Result<std::optional<std::string>> current = read_state(db, site, target.value());
          if (!current.ok()) return current.status();
          if (!current.value().has_value()) {
            return Status(Code::kNotFound, "no profile with this id");
          }
          PZ_TRY(write_state(db, site, target.value(), erased_state, now));
          PZ_STMT(del, db,
                  "DELETE FROM events WHERE site=?1 AND (profile=?2 OR user=?2 OR profile IN"
                  " (SELECT alias FROM aliases WHERE site=?1 AND id=?2) OR user IN"
                  " (SELECT alias FROM aliases WHERE site=?1 AND id=?2))");
          del.bind(1, site).bind(2, target.value());
          PZ_TRY(del.done("erase events"));
          result.events_deleted = sqlite3_changes(db.handle());
          result.id = target.take();
          return Status::Ok();
        },
        std::move(done));
  }

  void put_bundle(const std::string& site, BundleVersion bundle,
                  Done<BundleVersion> done) override {
    write<BundleVersion>(
        [site](Db& db, BundleVersion& result) -> Status {
          PZ_STMT(q, db, "SELECT COALESCE(MAX(version), 0) FROM bundles WHERE site=?1");
          q.bind(1, site);
          if (q.step() != SQLITE_ROW) return store_error(db.handle(), "bundle version");
          result.version = q.int64(0) + 1;
          PZ_STMT(ins, db,
                  "INSERT INTO bundles(site, version, etag, bundle_version, created, body,"
                  " signature) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
          ins.bind(1, site).bind(2, result.version).bind(3, result.etag);
          ins.bind(4, result.bundle_version).bind(5, result.created).bind(6, result.body);
          ins.bind(7, result.signature);
          PZ_TRY(ins.done("store bundle"));
          return set_active(db, site, result.version);
        },
        std::move(done), std::move(bundle));
  }

  void activate_bundle(const std::string& site, int64_t version,
                       Done<BundleVersion> done) override {
    write<BundleVersion>(
        [site, version](Db& db, BundleVersion& result) -> Status {
          int64_t target = version;
          if (target == 0) {
            Result<int64_t> active = active_version(db, site);
            if (!active.ok()) return active.status();
            PZ_STMT(q, db, "SELECT MAX(version) FROM bundles WHERE site=?1 AND version<?2");
            q.bind(1, site).bind(2, active.value());
            if (q.step() != SQLITE_ROW) return store_error(db.handle(), "rollback");
            if (q.int64(0) == 0) {  // MAX() of nothing is NULL, read as 0
              return Status(Code::kConflict, "there is no bundle version before the active one");
            }
            target = q.int64(0);
          }
          Result<BundleVersion> b = read_bundle(db, site, target, true);
          if (!b.ok()) return b.status();
          PZ_TRY(set_active(db, site, target));
          result = b.take();
          return Status::Ok();
        },
        std::move(done));
  }

  void prune_events(int64_t before, Done<int64_t> done) override {
    write<int64_t>(
        [before](Db& db, int64_t& result) -> Status {
          // Events are in arrival order: find the last one received before `before` by
          // bisecting on seq, then delete everything up to it.
          int64_t lo = 0, hi = 0;
          {
            PZ_STMT(q, db, "SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM events");
            if (q.step() != SQLITE_ROW) return store_error(db.handle(), "prune events");
            lo = q.int64(0);
            hi = q.int64(1);
          }
          PZ_STMT(at, db, "SELECT seq, received FROM events WHERE seq >= ?1 ORDER BY seq LIMIT 1");
          int64_t last_old = lo - 1;  // the greatest seq known to be older than `before`
          while (lo <= hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            at.bind(1, mid);
            const int rc = at.step();
            const bool found = rc == SQLITE_ROW;
            const int64_t seq = found ? at.int64(0) : 0, received = found ? at.int64(1) : 0;
            at.reset();
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store_error(db.handle(), "prune");
            if (!found || received >= before) {
              hi = mid - 1;
            } else {
              last_old = seq;
              lo = seq + 1;
            }
          }
          PZ_STMT(q, db, "DELETE FROM events WHERE seq <= ?1");
          q.bind(1, last_old);
          PZ_TRY(q.done("prune events"));
          result = sqlite3_changes(db.handle());
          return Status::Ok();
        },
        std::move(done), 0);
  }

  Result<std::optional<ProfileRecord>> get_profile(const std::string& site,
                                                   const std::string& id) override {
    return read([&](Db& db) -> Result<std::optional<ProfileRecord>> {
      Result<std::string> target = resolve(db, site, id);
      if (!target.ok()) return target.status();
      Result<std::optional<std::string>> state = read_state(db, site, target.value());
      if (!state.ok()) return state.status();
      if (!state.value().has_value()) return std::optional<ProfileRecord>();
      ProfileRecord r;
      r.id = target.value();
      r.state = std::move(*state.value());
      {
        PZ_STMT(q, db, "SELECT alias FROM aliases WHERE site=?1 AND id=?2 ORDER BY alias");
        q.bind(1, site).bind(2, r.id);
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) r.aliases.push_back(q.text(0));
        if (rc != SQLITE_DONE) return store_error(db.handle(), "read aliases");
      }
      PZ_STMT(q, db,
              "SELECT COUNT(*) FROM events WHERE site=?1 AND (profile=?2 OR user=?2 OR profile IN"
              " (SELECT alias FROM aliases WHERE site=?1 AND id=?2))");
      q.bind(1, site).bind(2, r.id);
      if (q.step() != SQLITE_ROW) return store_error(db.handle(), "count events");
      r.events = q.int64(0);
      return std::optional<ProfileRecord>(std::move(r));
    });
  }

  Result<std::optional<ProfileUpdate>> get_state(const std::string& site,
                                                 const std::string& id) override {
    return read([&](Db& db) -> Result<std::optional<ProfileUpdate>> {
      Result<std::string> target = resolve(db, site, id);
      if (!target.ok()) return target.status();
      Result<std::optional<std::string>> state = read_state(db, site, target.value());
      if (!state.ok()) return state.status();
      if (!state.value().has_value()) return std::optional<ProfileUpdate>();
      return std::optional<ProfileUpdate>(ProfileUpdate{target.take(), std::move(*state.value())});
    });
  }

  Result<std::optional<BundleVersion>> active_bundle(const std::string& site) override {
    return read([&](Db& db) -> Result<std::optional<BundleVersion>> {
      Result<int64_t> active = active_version(db, site);
      if (!active.ok()) return active.status();
      if (active.value() == 0) return std::optional<BundleVersion>();
      Result<BundleVersion> b = read_bundle(db, site, active.value(), true);
      if (!b.ok()) return b.status();
      return std::optional<BundleVersion>(b.take());
    });
  }

  Result<BundleList> bundle_versions(const std::string& site) override {
    return read([&](Db& db) -> Result<BundleList> {
      BundleList list;
      Result<int64_t> active = active_version(db, site);
      if (!active.ok()) return active.status();
      list.active = active.value();
      PZ_STMT(q, db,
              "SELECT version, etag, bundle_version, created, signature FROM bundles"
              " WHERE site=?1 ORDER BY version");
      q.bind(1, site);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        BundleVersion b;
        b.version = q.int64(0);
        b.etag = q.text(1);
        b.bundle_version = q.text(2);
        b.created = q.int64(3);
        b.signature = q.text(4);
        list.versions.push_back(std::move(b));
      }
      if (rc != SQLITE_DONE) return store_error(db.handle(), "list bundles");
      return list;
    });
  }

  Result<bool> has_event(const std::string& site, const std::string& id) override {
    return read([&](Db& db) -> Result<bool> {
      PZ_STMT(q, db, "SELECT 1 FROM events WHERE site=?1 AND id=?2");
      q.bind(1, site).bind(2, id);
      int rc = q.step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store_error(db.handle(), "read event");
      return rc == SQLITE_ROW;
    });
  }

  void close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      closing_ = true;
    }
    cv_.notify_all();
    ckpt_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    if (checkpointer_.joinable()) checkpointer_.join();
    checkpoint_db_.reset();
    if (writer_db_) {
      (void)writer_db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
      writer_db_.reset();
    }
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_.clear();
  }

 private:
  struct Job {
    std::function<Status(Db&)> run;
    std::function<void(Status)> finish;
  };

  // Runs `run` in the next group commit; after the commit, `done` gets what it filled in (or
  // the error).
  template <typename T>
  void write(std::function<Status(Db&, T&)> run, Done<T> done, T initial = T()) {
    auto result = std::make_shared<T>(std::move(initial));
    submit([run = std::move(run), result](Db& db) { return run(db, *result); },
           [done = std::move(done), result](Status st) {
             if (!st.ok()) return done(st);
             done(std::move(*result));
           });
  }

  void submit(std::function<Status(Db&)> run, std::function<void(Status)> finish) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closing_) {
        jobs_.push_back(Job{std::move(run), std::move(finish)});
        cv_.notify_one();
        return;
      }
    }
    finish(Status(Code::kUnavailable, "store: closed"));
  }

  void write_loop() {
    Db& db = *writer_db_;
    std::vector<Job> batch;
    std::vector<Status> results;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closing_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // closing and drained
        while (!jobs_.empty() && batch.size() < 1024) {
          batch.push_back(std::move(jobs_.front()));
          jobs_.pop_front();
        }
      }
      results.assign(batch.size(), Status::Ok());
      Status detail = Status::Ok();  // the last failure as SQLite told it (for the log)
      Status begin = db.run("BEGIN IMMEDIATE");
      if (begin.ok()) {
        // Another connection (another process) wrote since the last batch: the states the
        // writer knows may be stale.
        {
          Db::Stmt q = db.stmt("PRAGMA data_version");
          const int64_t version = q.ok() && q.step() == SQLITE_ROW ? q.int64(0) : -1;
          if (version < 0 || version != data_version_) forget_states();
          data_version_ = version;
        }
        bool lost = false;
        for (size_t i = 0; i < batch.size(); ++i) {
          Status sp = db.run("SAVEPOINT job");
          results[i] = sp.ok() ? batch[i].run(db) : sp;
          if (!results[i].ok()) {
            detail = results[i];
            results[i] = write_failed(results[i], sqlite3_extended_errcode(db.handle()));
          }
          // SQLite rolls the whole transaction back by itself after some errors (disk full, an
          // I/O error, out of memory): then the jobs before this one are undone too, and a
          // SAVEPOINT of the next job would start a transaction of its own outside this one.
          if (sqlite3_get_autocommit(db.handle()) != 0) {
            const Status undone = results[i].ok()
                                      ? write_failed(Status(Code::kUnavailable,
                                                            "store: the transaction was "
                                                            "rolled back"),
                                                     sqlite3_extended_errcode(db.handle()))
                                      : results[i];
            for (Status& r : results) r = undone;
            lost = true;
            break;
          }
          if (!results[i].ok() && sp.ok()) (void)db.run("ROLLBACK TO job");
          if (sp.ok() && !db.run("RELEASE job").ok()) forget_states();
        }
        Status commit = lost ? Status::Ok() : db.run("COMMIT");
        if (!commit.ok()) {
          detail = commit;
          const Status failed = write_failed(commit, sqlite3_extended_errcode(db.handle()));
          if (sqlite3_get_autocommit(db.handle()) == 0) (void)db.exec("ROLLBACK");
          for (Status& r : results) r = failed;
        }
      } else {
        detail = begin;
        const Status failed = write_failed(begin, sqlite3_extended_errcode(db.handle()));
        for (Status& r : results) r = failed;
      }
      // Whatever was undone: the known states may say what is no longer in the database.
      if (!detail.ok()) forget_states();
      if (detail.code() == Code::kUnavailable) log_write_error(detail);
      if (metrics_ != nullptr) {
        metrics_->commit_batch.observe(static_cast<double>(batch.size()));
        for (const Status& r : results) {
          if (r.code() == Code::kUnavailable) metrics_->store_errors.fetch_add(1);
        }
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i].finish(std::move(results[i]));
      batch.clear();
      if (wal_bytes() > options_.wal_limit_bytes && wal_bytes() <= 4 * options_.wal_limit_bytes) {
        // Over the limit: finish the checkpoint here, between transactions. The checkpointer
        // thread has already copied all but the last few commits, so this is short; with
        // nothing left to copy, the next transaction writes the WAL from its start and
        // journal_size_limit truncates the file. (The checkpointer cannot get there on its own
        // while the writer keeps committing, and a RESTART there blocked writes for up to 2 s.)
        // While a pass of the checkpointer thread runs (it would make this one SQLITE_BUSY),
        // the writer goes on committing and tries again after the next batch, unless the WAL is
        // already half again over its limit: then it waits for that pass to end.
        const auto started = std::chrono::steady_clock::now();
        std::unique_lock<std::mutex> pass(checkpoint_pass_mu_, std::try_to_lock);
        if (!pass.owns_lock() && wal_bytes() > options_.wal_limit_bytes / 2 * 3) pass.lock();
        if (pass.owns_lock()) {
          const int rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                                   nullptr, nullptr);
          pass.unlock();
          if (rc == SQLITE_OK && metrics_ != nullptr) {
            metrics_->wal_reset_seconds.observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          }
        }
      } else if (wal_bytes() > 4 * options_.wal_limit_bytes) {
        // The checkpointer fell behind (a reader kept it from finishing, or the writes outran
        // it): checkpoint here before taking more writes (back-pressure), after the checkpointer's
        // pass if one runs. SQLITE_BUSY (another connection in the way): retry for up to 10 s,
        // then go on (counted as a store error) rather than stop writing.
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        int rc = SQLITE_BUSY;
        for (;;) {
          {
            std::lock_guard<std::mutex> pass(checkpoint_pass_mu_);
            rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           nullptr, nullptr);
          }
          if (rc != SQLITE_BUSY || std::chrono::steady_clock::now() >= give_up) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (rc == SQLITE_OK) {
          wal_pages_.store(0);
        } else if (metrics_ != nullptr) {
          metrics_->store_errors.fetch_add(1);
        }
      }
    }
  }

  // The cause of failed writes, for the operator (clients get write_failed's words): at most one
  // line a second while writes keep failing (a full disk would otherwise be filled with them),
  // with the number of failures it stands for.
  void log_write_error(const Status& st) {
    const auto now = std::chrono::steady_clock::now();
    ++unlogged_errors_;
    if (logged_error_ != std::chrono::steady_clock::time_point() &&
        now - logged_error_ < std::chrono::seconds(1)) {
      return;
    }
    log(LogLevel::kError, "store write failed",
        {{"error", Value::String(st.message())},
         {"failures", Value::Number(static_cast<double>(unlogged_errors_))}});
    logged_error_ = now;
    unlogged_errors_ = 0;
  }

  void checkpoint_loop() {
    std::unique_lock<std::mutex> lock(mu_);
    int64_t seen_pages = -1;  // the WAL's frames after the latest commit, at the last look
    while (!closing_) {
      // Every 50 ms; back to back (1 ms apart) while the WAL is within 1/8 under its limit and
      // commits keep coming, so that the writer, when it finishes the checkpoint at the limit
      // (write_loop), has only the last few commits left to copy. Measured at 50k events/s
      // (bench/loadgen.cpp --timeline): the writer's pause every 64 MiB went from 8-16 ms to
      // 1-6 ms.
      const int64_t limit = options_.wal_limit_bytes;
      const bool near = wal_bytes() > limit / 8 * 7 && wal_bytes() <= limit;
      const bool hurry = near && wal_pages_.load() != seen_pages;
      ckpt_cv_.wait_for(lock, std::chrono::milliseconds(hurry ? 1 : 50));
      if (closing_) break;
      const int64_t pages = wal_pages_.load();
      const bool writing = pages != seen_pages;
      seen_pages = pages;
      // Over the limit while commits keep coming, finishing the checkpoint is the writer's: a
      // pass here would hold the checkpoint lock it needs, and the WAL would grow meanwhile.
      if (wal_bytes() > limit && writing) continue;
      lock.unlock();
      int log_frames = 0, done_frames = 0;
      // PASSIVE: copies what it can without waiting for anyone. Resetting the WAL past the
      // limit is the writer's (write_loop), between its transactions.
      int rc;
      {
        std::lock_guard<std::mutex> pass(checkpoint_pass_mu_);
        rc = sqlite3_wal_checkpoint_v2(checkpoint_db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       &log_frames, &done_frames);
      }
      if (rc != SQLITE_OK && rc != SQLITE_BUSY && metrics_ != nullptr) {
        metrics_->store_errors.fetch_add(1);
      }
      lock.lock();
    }
  }

  template <typename F>
  auto read(F f) -> decltype(f(std::declval<Db&>())) {
    std::unique_ptr<Db> db;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        db = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (!db) {
      db = std::make_unique<Db>();
      Status st = db->open(path_, false);
      if (!st.ok()) return st;
    }
    auto r = f(*db);
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.size() < 16) pool_.push_back(std::move(db));
    return r;
  }

  Status migrate(Db& db) {
    int64_t have = 0;
    {
      PZ_STMT(q, db, "PRAGMA user_version");  // reset at the end of this scope (no open read)
      if (q.step() != SQLITE_ROW) return store_error(db.handle(), "schema version");
      have = q.int64(0);
    }
    if (have > kSchemaVersion) {
      return Status(Code::kUnavailable, "store: " + path_ + " has schema version " +
                                            std::to_string(have) + ", newer than this server's " +
                                            std::to_string(kSchemaVersion));
    }
    for (int64_t v = have; v < kSchemaVersion; ++v) {
      PZ_TRY(db.exec("BEGIN IMMEDIATE"));
      Status st = db.exec(kMigrations[v]);
      if (st.ok()) st = db.exec(("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
      if (!st.ok()) {
        (void)db.exec("ROLLBACK");
        return st;
      }
      PZ_TRY(db.exec("COMMIT"));
    }
    return Status::Ok();
  }

  // The state of (site, id) as the writer last wrote it, or null when it does not know it.
  std::shared_ptr<const std::string> known_state(const std::string& site, const std::string& id) {
    std::string key = site + '\n' + id;
    std::lock_guard<std::mutex> lock(known_mu_);
    auto it = known_.find(key);
    return it == known_.end() ? nullptr : it->second;
  }
  // On the writer, after writing a profile's state (in the open transaction: a failed batch
  // forgets every known state).
  void remember_state(const std::string& site, const std::string& id, const std::string& state) {
    auto text = std::make_shared<const std::string>(state);
    std::shared_ptr<const std::string> old;  // freed outside the lock
    std::lock_guard<std::mutex> lock(known_mu_);
    std::shared_ptr<const std::string>& slot = known_[site + '\n' + id];
    if (slot) known_bytes_ -= slot->size();
    old = std::move(slot);
    known_bytes_ += text->size();
    slot = std::move(text);
    if (known_bytes_ > kMaxKnownBytes) {
      known_.clear();
      known_bytes_ = 0;
    }
  }
  void forget_states() {
    std::unordered_map<std::string, std::shared_ptr<const std::string>> old;
    std::lock_guard<std::mutex> lock(known_mu_);
    old.swap(known_);
    known_bytes_ = 0;
  }

  static int on_commit(void* self, sqlite3*, const char*, int pages) {
    static_cast<SqliteStore*>(self)->wal_pages_.store(pages);
    return SQLITE_OK;
  }
  int64_t wal_bytes() const { return wal_pages_.load() * page_size_; }

  std::string path_;
  Metrics* metrics_;
  SqliteOptions options_;
  std::atomic<int64_t> wal_pages_{0};                   // frames in the WAL after the last commit
  std::chrono::steady_clock::time_point logged_error_;  // the writer's (log_write_error)
  int64_t unlogged_errors_ = 0;
  int64_t page_size_ = 4096;
  std::unique_ptr<Db> writer_db_;
  std::thread writer_;
  std::unique_ptr<Db> checkpoint_db_;
  std::thread checkpointer_;
  std::mutex mu_;
  std::condition_variable cv_;       // the writer's
  std::condition_variable ckpt_cv_;  // the checkpointer's
  // Held through every checkpoint pass, the checkpointer's and the writer's, so that the two
  // never meet as SQLITE_BUSY: the writer sees a running pass and goes on or waits (write_loop).
  std::mutex checkpoint_pass_mu_;
  std::deque<Job> jobs_;
  bool closing_ = false;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> pool_;
  // The state text of the profiles the writer wrote lately, keyed by site and profile id,
  // exactly as in the database (with the open transaction's writes): the writer checks an
  // update's first run against it without reading the profile again, and update_profile starts
  // from it without reading the database. Only the writer changes it; forgotten whenever the
  // database may say otherwise (a failed or undone write, a link or an erasure, a write by
  // another connection).
  static constexpr size_t kMaxKnownBytes = 64 << 20;
  std::mutex known_mu_;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> known_;
  size_t known_bytes_ = 0;
  int64_t data_version_ = -1;  // the writer's
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& dir, Metrics* metrics,
                                                 SqliteOptions options) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status(Code::kUnavailable, "store: cannot create the data directory " + dir + " (" +
                                          std::strerror(errno) + ")");
  }
  // A data directory the server cannot write to (a read-only mount, its permissions) stops the
  // start: SQLite would open the database read-only and fail on the first write.
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status(Code::kUnavailable, "store: the data directory " + dir + " is not writable (" +
                                          std::strerror(errno) +
                                          "): pz-server keeps its database there");
  }
  auto store = std::make_unique<SqliteStore>(dir + "/pz.db", metrics, options);
  PZ_TRY(store->start());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace pz::server
