// The SQLite store behind pz-server: atomic read-merge-write under concurrency, aliases,
// erasure, bundle versions, pruning, schema migrations.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sqlite_store.h"

namespace pz::server {
namespace {

namespace fs = std::filesystem;

class StoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("pz-store-test-" + std::to_string(::getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Result<std::unique_ptr<Store>> s = open_sqlite_store(dir_.string(), &metrics_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = s.take();
  }
  void TearDown() override {
    if (store_) store_->close();
    fs::remove_all(dir_);
  }

  // Waits for an asynchronous store call.
  template <typename T, typename F>
  Result<T> wait(F start) {
    std::promise<Result<T>> p;
    auto f = p.get_future();
    start([&p](Result<T> r) { p.set_value(std::move(r)); });
    return f.get();
  }

  Result<CollectResult> append(const std::string& site, const std::string& profile,
                               std::vector<std::string> ids, const std::string& user = "") {
    std::vector<StoredEvent> events;
    for (std::string& id : ids) {
      events.push_back(StoredEvent{std::move(id), profile, user, 1, "{}"});
    }
    return wait<CollectResult>([&](Done<CollectResult> d) {
      store_->append_events(site, std::move(events), 1000, std::move(d));
    });
  }

  fs::path dir_;
  Metrics metrics_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, EventsAreDeduplicatedPerSite) {
  Result<CollectResult> a = append("shop", "anon", {"e1", "e2"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().accepted, 2);
  Result<CollectResult> b = append("shop", "anon", {"e2", "e3", "e3"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value().accepted, 1);
  EXPECT_EQ(b.value().duplicates, 2);
  // Another site has its own id space.
  Result<CollectResult> c = append("blog", "anon", {"e1"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value().accepted, 1);
  EXPECT_TRUE(store_->has_event("shop", "e3").value());
  EXPECT_FALSE(store_->has_event("blog", "e3").value());
}

// Batches are written by statements of 32, 16, ... 1 rows: every size across those boundaries
// counts each id once, whether its twin is in the same statement, another statement of the
// batch, or an earlier batch.
TEST_F(StoreTest, BatchesOfEverySizeCountAcceptedAndDuplicates) {
  ASSERT_TRUE(append("shop", "anon", {"old-0", "old-1"}).ok());
  for (int n : {1, 2, 3, 15, 16, 17, 20, 31, 32, 33, 47, 63, 64, 65, 100}) {
    std::vector<std::string> ids;
    std::set<std::string> fresh;
    for (int i = 0; i < n; ++i) {
      std::string id;
      if (i % 7 == 6) {
        id = ids[static_cast<size_t>(i / 2)];  // a twin earlier in the batch
      } else if (i % 11 == 10) {
        id = "old-" + std::to_string(i % 2);  // stored by the first batch
      } else {
        id = "b" + std::to_string(n) + "-" + std::to_string(i);
      }
      ids.push_back(id);
      if (id.rfind("old-", 0) != 0) fresh.insert(id);
    }
    Result<CollectResult> r = append("shop", "anon", ids);
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_EQ(r.value().accepted, static_cast<int64_t>(fresh.size())) << n;
    EXPECT_EQ(r.value().accepted + r.value().duplicates, n) << n;
    for (const std::string& id : ids) EXPECT_TRUE(store_->has_event("shop", id).value()) << id;
    // The same batch again: all duplicates.
    Result<CollectResult> again = append("shop", "anon", ids);
    ASSERT_TRUE(again.ok()) << n;
    EXPECT_EQ(again.value().accepted, 0) << n;
    EXPECT_EQ(again.value().duplicates, n) << n;
  }
}

// Many threads increment one profile's counter (a read-modify-write through update_profile):
// no increment is lost.
TEST_F(StoreTest, ConcurrentUpdatesOfOneProfileLoseNothing) {
  constexpr int kThreads = 8, kEach = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Result<ProfileUpdate> r = wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
          store_->update_profile(
              "shop", "p1",
              [](const std::string&, const std::string& cur) -> Result<std::string> {
                return std::to_string((cur.empty() ? 0 : std::stoi(cur)) + 1);
              },
              1, std::move(d));
        });
        if (!r.ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Result<std::optional<ProfileUpdate>> s = store_->get_state("shop", "p1");
  ASSERT_TRUE(s.ok() && s.value().has_value());
  EXPECT_EQ(s.value()->state, std::to_string(kThreads * kEach));
  // Requests arriving together were committed together.
  EXPECT_GT(metrics_.commit_batch.count(), 0u);
}

TEST_F(StoreTest, FailedUpdateWritesNothingAndOthersInTheBatchCommit) {
  std::promise<void> both;
  std::atomic<int> left{2};
  Status bad_status, good_status;
  auto finish = [&] {
    if (--left == 0) both.set_value();
  };
  store_->update_profile(
      "shop", "bad",
      [](const std::string&, const std::string&) -> Result<std::string> {
        return Status(Code::kInvalidArgument, "no");
      },
      1,
      [&](Result<ProfileUpdate> r) {
        bad_status = r.status();
        finish();
      });
  store_->update_profile(
      "shop", "good",
      [](const std::string&, const std::string&) -> Result<std::string> {
        return std::string("s");
      },
      1,
      [&](Result<ProfileUpdate> r) {
        good_status = r.status();
        finish();
      });
  both.get_future().wait();
  EXPECT_EQ(bad_status.code(), Code::kInvalidArgument);
  EXPECT_TRUE(good_status.ok());
  EXPECT_FALSE(store_->get_state("shop", "bad").value().has_value());
  EXPECT_EQ(store_->get_state("shop", "good").value()->state, "s");
}

// An update starts from what the database holds, whatever changed it since the profile's last
// update: another connection (another process), a link, an erasure. (The store keeps the states
// it wrote to skip reading them again; these changes must not be missed.)
TEST_F(StoreTest, UpdatesStartFromWhatTheDatabaseHolds) {
  auto add = [&](const std::string& id, const std::string& suffix) {
    Result<ProfileUpdate> r = wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
      store_->update_profile(
          "shop", id,
          [suffix](const std::string&, const std::string& cur) -> Result<std::string> {
            return cur + suffix;
          },
          1, std::move(d));
    });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value().state : std::string("error");
  };
  EXPECT_EQ(add("p1", "a"), "a");
  EXPECT_EQ(add("p1", "b"), "ab");
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "pz.db").c_str(), &h), SQLITE_OK);
  sqlite3_busy_timeout(h, 10000);
  EXPECT_EQ(sqlite3_exec(h, "UPDATE profiles SET state='X' WHERE site='shop' AND id='p1'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(h);
  sqlite3_close(h);
  EXPECT_EQ(add("p1", "c"), "Xc");
  EXPECT_EQ(add("p1", "d"), "Xcd");

  EXPECT_EQ(add("anon", "A"), "A");
  EXPECT_EQ(add("user", "U"), "U");
  ASSERT_TRUE((wait<LinkResult>([&](Done<LinkResult> d) {
                 store_->link(
                     "shop", "anon", "user",
                     [](const std::string& u, const std::string& a) -> Result<std::string> {
                       return u + "+" + a;
                     },
                     2, std::move(d));
               }).ok()));
  EXPECT_EQ(add("anon", "1"), "U+A1");
  EXPECT_EQ(add("user", "2"), "U+A12");
  ASSERT_TRUE((wait<ErasureResult>([&](Done<ErasureResult> d) {
                 store_->erase_profile("shop", "user", "E", 5, std::move(d));
               }).ok()));
  EXPECT_EQ(add("anon", "3"), "E3");
  EXPECT_EQ(add("user", "4"), "E34");
}

TEST_F(StoreTest, LinkMergesAndResolvesAliasesAndRefusesASecondUser) {
  auto set = [&](const std::string& id, const std::string& state) {
    ASSERT_TRUE((wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
                   store_->update_profile(
                       "shop", id,
                       [state](const std::string&, const std::string&) -> Result<std::string> {
                         return state;
                       },
                       1, std::move(d));
                 }).ok()));
  };
  set("anon", "A");
  set("user", "U");
  auto concat = [](const std::string& u, const std::string& a) -> Result<std::string> {
    return u + "+" + a;
  };
  Result<LinkResult> l = wait<LinkResult>(
      [&](Done<LinkResult> d) { store_->link("shop", "anon", "user", concat, 2, std::move(d)); });
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_TRUE(l.value().merged);
  EXPECT_EQ(store_->get_state("shop", "user").value()->state, "U+A");
  // The anonymous id now reads (and writes) the user's profile.
  Result<std::optional<ProfileUpdate>> via = store_->get_state("shop", "anon");
  EXPECT_EQ(via.value()->id, "user");
  Result<std::optional<ProfileRecord>> rec = store_->get_profile("shop", "user");
  EXPECT_EQ(rec.value()->aliases, std::vector<std::string>{"anon"});
  // Linking again is a no-op; to another user a conflict that changes nothing.
  l = wait<LinkResult>(
      [&](Done<LinkResult> d) { store_->link("shop", "anon", "user", concat, 3, std::move(d)); });
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l.value().merged);
  l = wait<LinkResult>(
      [&](Done<LinkResult> d) { store_->link("shop", "anon", "other", concat, 3, std::move(d)); });
  EXPECT_EQ(l.status().code(), Code::kConflict);
  EXPECT_EQ(store_->get_state("shop", "user").value()->state, "U+A");
  EXPECT_FALSE(store_->get_state("shop", "other").value().has_value());
  // Another site does not see the alias.
  EXPECT_FALSE(store_->get_state("blog", "anon").value().has_value());
}

TEST_F(StoreTest, ErasureReplacesTheStateAndDeletesEventsOfTheProfileAndItsAliases) {
  ASSERT_TRUE(append("shop", "anon", {"a1", "a2"}).ok());
  ASSERT_TRUE(append("shop", "other-device", {"u1"}, "user").ok());
  ASSERT_TRUE(append("shop", "stranger", {"s1"}).ok());
  ASSERT_TRUE(append("blog", "anon", {"b1"}).ok());
  auto ok_state = [](const std::string&, const std::string&) -> Result<std::string> {
    return std::string("state");
  };
  ASSERT_TRUE((wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
                 store_->update_profile("shop", "user", ok_state, 1, std::move(d));
               }).ok()));
  ASSERT_TRUE(
      (wait<LinkResult>([&](Done<LinkResult> d) {
         store_->link(
             "shop", "anon", "user",
             [](const std::string& u, const std::string&) -> Result<std::string> { return u; }, 2,
             std::move(d));
       }).ok()));
  EXPECT_EQ(store_->get_profile("shop", "user").value()->events, 3);
  // Erasing through the anonymous id erases the person.
  Result<ErasureResult> e = wait<ErasureResult>([&](Done<ErasureResult> d) {
    store_->erase_profile("shop", "anon", "erased", 5, std::move(d));
  });
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e.value().id, "user");
  EXPECT_EQ(e.value().events_deleted, 3);
  EXPECT_EQ(store_->get_state("shop", "user").value()->state, "erased");
  EXPECT_FALSE(store_->has_event("shop", "a1").value());
  EXPECT_FALSE(store_->has_event("shop", "u1").value());
  EXPECT_TRUE(store_->has_event("shop", "s1").value());
  EXPECT_TRUE(store_->has_event("blog", "b1").value());
  e = wait<ErasureResult>([&](Done<ErasureResult> d) {
    store_->erase_profile("shop", "nobody", "erased", 5, std::move(d));
  });
  EXPECT_EQ(e.status().code(), Code::kNotFound);
}

TEST_F(StoreTest, BundleVersionsAndRollback) {
  auto put = [&](const std::string& body) {
    return wait<BundleVersion>([&](Done<BundleVersion> d) {
      store_->put_bundle("shop", BundleVersion{0, "etag-" + body, body, 1, body}, std::move(d));
    });
  };
  auto activate = [&](int64_t v) {
    return wait<BundleVersion>(
        [&](Done<BundleVersion> d) { store_->activate_bundle("shop", v, std::move(d)); });
  };
  EXPECT_FALSE(store_->active_bundle("shop").value().has_value());
  EXPECT_EQ(put("one").value().version, 1);
  EXPECT_EQ(activate(0).status().code(), Code::kConflict);  // nothing before version 1
  EXPECT_EQ(put("two").value().version, 2);
  EXPECT_EQ(put("three").value().version, 3);
  EXPECT_EQ(store_->active_bundle("shop").value()->body, "three");
  Result<BundleVersion> back = activate(0);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().version, 2);
  EXPECT_EQ(back.value().body, "two");
  EXPECT_EQ(activate(0).value().version, 1);
  EXPECT_EQ(activate(99).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->active_bundle("shop").value()->version, 1);  // unchanged by the failure
  EXPECT_EQ(activate(3).value().version, 3);
  Result<BundleList> list = store_->bundle_versions("shop");
  EXPECT_EQ(list.value().active, 3);
  EXPECT_EQ(list.value().versions.size(), 3u);
  EXPECT_TRUE(list.value().versions[0].body.empty());  // listings leave bodies out
  EXPECT_FALSE(store_->active_bundle("blog").value().has_value());
}

TEST_F(StoreTest, PruningForgetsOldEventsAndTheirDedupKeys) {
  ASSERT_TRUE(append("shop", "anon", {"old"}).ok());  // received at 1000 ms
  Result<int64_t> pruned =
      wait<int64_t>([&](Done<int64_t> d) { store_->prune_events(1001, std::move(d)); });
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned.value(), 1);
  EXPECT_FALSE(store_->has_event("shop", "old").value());
}

TEST_F(StoreTest, DataSurvivesReopenAndANewerSchemaIsRefused) {
  ASSERT_TRUE(append("shop", "anon", {"kept"}).ok());
  store_->close();
  store_.reset();
  Result<std::unique_ptr<Store>> again = open_sqlite_store(dir_.string(), nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.value()->has_event("shop", "kept").value());
  again.value()->close();
  again.value().reset();

  const std::string db = (dir_ / "pz.db").string();
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(h, ("PRAGMA user_version=" + std::to_string(kSchemaVersion + 1)).c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(h);
  Result<std::unique_ptr<Store>> newer = open_sqlite_store(dir_.string(), nullptr);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("newer than this server's"), std::string::npos)
      << newer.status().message();
}

// A file written by the first release (schema 1: events clustered by (site, id)) is migrated
// at open: its events keep their dedup keys and can be pruned and erased.
TEST_F(StoreTest, ASchemaOneFileIsMigrated) {
  store_->close();
  store_.reset();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  const std::string db = (dir_ / "pz.db").string();
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  const char* v1 =
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
      "  WITHOUT ROWID;"
      "INSERT INTO events VALUES('shop', 'new', 'anon', '', 1, 5000, '{}');"
      "INSERT INTO events VALUES('shop', 'old', 'anon', '', 1, 1000, '{}');"
      "INSERT INTO profiles VALUES('shop', 'anon', 'S', 1);"
      "PRAGMA user_version=1;";
  ASSERT_EQ(sqlite3_exec(h, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  sqlite3_close(h);

  Result<std::unique_ptr<Store>> s = open_sqlite_store(dir_.string(), &metrics_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  store_ = s.take();
  EXPECT_TRUE(store_->has_event("shop", "old").value());
  EXPECT_EQ(store_->get_state("shop", "anon").value()->state, "S");
  Result<CollectResult> again = append("shop", "anon", {"old", "new", "newer"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().duplicates, 2);
  EXPECT_EQ(again.value().accepted, 1);
  // Pruning follows arrival order: the event received at 1000 ms goes, the others stay.
  Result<int64_t> pruned =
      wait<int64_t>([&](Done<int64_t> d) { store_->prune_events(2000, std::move(d)); });
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned.value(), 1);
  EXPECT_FALSE(store_->has_event("shop", "old").value());
  EXPECT_TRUE(store_->has_event("shop", "new").value());
  EXPECT_TRUE(store_->has_event("shop", "newer").value());
  EXPECT_EQ(store_->get_profile("shop", "anon").value()->events, 2);
}

TEST_F(StoreTest, WritesAfterCloseFailWithoutBlocking) {
  store_->close();
  Result<CollectResult> r = append("shop", "anon", {"late"});
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

// A write load the checkpointer cannot keep up with (here: a reader that holds a snapshot open,
// so that no checkpoint can finish, then releases it) must not grow the WAL past its bound: the
// writer checkpoints itself past 4x the limit. Nothing written is lost on the way.
// Appends batch `b` of the WAL tests (`per` events "e<n>" of `body` for profile "anon") and
// waits for the commit.
Result<CollectResult> AppendBatch(Store& store, int b, int per, const std::string& body) {
  std::vector<StoredEvent> events;
  for (int i = 0; i < per; ++i) {
    events.push_back(StoredEvent{"e" + std::to_string(b * per + i), "anon", "", 1, body});
  }
  std::promise<Result<CollectResult>> p;
  auto f = p.get_future();
  store.append_events("shop", std::move(events), 1000,
                      [&p](Result<CollectResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

// A fresh store in `dir` (emptied first) with a WAL limit of `limit` bytes.
Result<std::unique_ptr<Store>> OpenWithWalLimit(const fs::path& dir, int64_t limit) {
  fs::remove_all(dir);
  SqliteOptions options;
  options.wal_limit_bytes = limit;
  return open_sqlite_store(dir.string(), nullptr, options);
}

// Writes one after another, nobody reading: once the WAL is over its limit the writer finishes
// the checkpoint between two transactions, so the WAL restarts at about the limit instead of
// growing while it waits for a checkpoint that needs the writer to stop.
TEST(SqliteWal, RestartsAtTheLimitUnderBackToBackWrites) {
  const fs::path dir = fs::temp_directory_path() / ("pz-wal-limit-" + std::to_string(::getpid()));
  Result<std::unique_ptr<Store>> opened = OpenWithWalLimit(dir, 256 << 10);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<Store> store = opened.take();
  const fs::path wal = dir / "pz.db-wal";
  const std::string body(1000, 'x');
  uintmax_t largest = 0;
  int restarts = 0;
  uintmax_t last = 0;
  for (int b = 0; b < 400; ++b) {
    ASSERT_TRUE(AppendBatch(*store, b, 20, body).ok());
    std::error_code ec;
    const uintmax_t size = fs::file_size(wal, ec);
    if (ec) continue;
    largest = std::max(largest, size);
    restarts += size < last;  // truncated: the WAL started over
    last = size;
  }
  store->close();
  fs::remove_all(dir);
  // ~10 MB went through a 256 KB WAL. A commit of 20 events is ~30 KB; the writer may find the
  // checkpointer thread holding the checkpoint a few commits in a row (measured up to 420 KB).
  // A checkpoint that waits for the writer to stop let it reach 1.1 MB here.
  EXPECT_LE(largest, uintmax_t{2 * (256 << 10)});
  EXPECT_GE(restarts, 10);
}

TEST(SqliteWal, StaysBoundedUnderSustainedWrites) {
  const fs::path dir = fs::temp_directory_path() / ("pz-wal-test-" + std::to_string(::getpid()));
  Result<std::unique_ptr<Store>> opened = OpenWithWalLimit(dir, 128 << 10);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<Store> store = opened.take();
  const fs::path wal = dir / "pz.db-wal";
  const std::string body(1000, 'x');

  // A reader in the middle of a transaction pins the WAL's first frames for a while.
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "pz.db").c_str(), &reader), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM events;", nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::thread release([reader] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  });

  uintmax_t largest = 0;
  const int kBatches = 600, kPerBatch = 20;
  for (int b = 0; b < kBatches; ++b) {
    Result<CollectResult> r = AppendBatch(*store, b, kPerBatch, body);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r.value().accepted, kPerBatch);
    std::error_code ec;
    uintmax_t size = fs::file_size(wal, ec);
    if (!ec) largest = std::max(largest, size);
  }
  release.join();
  // 12 MB went through the WAL; it never held more than 4x the limit plus one commit (~30 KB).
  // (Frames carry 24-byte headers; a commit of 20 events writes ~20 pages.)
  EXPECT_LE(largest, uintmax_t{4 * (128 << 10) + (128 << 10)});
  EXPECT_GT(largest, uintmax_t{128 << 10});  // the limit was reached (the test tests something)
  int found = 0;
  for (int i = 0; i < kBatches * kPerBatch; ++i) {
    found += store->has_event("shop", "e" + std::to_string(i)).value() ? 1 : 0;
  }
  EXPECT_EQ(found, kBatches * kPerBatch);
  store->close();
  sqlite3_close(reader);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pz::server
