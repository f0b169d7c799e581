// The Store contract, run against the embedded SQLite store and against the Redis store on a real
// redis-server that the test starts on a free loopback port (no persistence, killed at the end),
// plus what only the Redis store has: two stores (two server processes) on one key, dedup TTLs,
// a batch or link that stopped half-way and is finished by its retry, a Redis that dies and comes
// back, key slots against CLUSTER KEYSLOT, a one-node cluster, and the addresses' syntax.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "redis_store.h"
#include "sqlite_store.h"

namespace pz::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// A redis-server child process.

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisServer {
 public:
  // Starts redis-server on a free 127.0.0.1 port (tries a few ports: another test process may
  // take the same one first). Extra arguments are appended (e.g. cluster mode).
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    dir_ = fs::temp_directory_path() /
           ("pz-redis-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = free_port();
      if (!launch()) stop();
    }
  }
  ~RedisServer() {
    stop();
    fs::remove_all(dir_);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool running() const { return pid_ > 0; }
  void signal(int sig) const { ::kill(pid_, sig); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const {
    std::ifstream in(dir_ / "redis.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // SIGKILL and wait.
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  // Starts again on the same port (after stop()).
  bool restart() { return launch(); }

  // One command on a fresh connection (the test's own view of Redis).
  ReplyPtr command(const std::vector<std::string>& args) const {
    redisContext* c = redisConnect("127.0.0.1", port_);
    if (c == nullptr || c->err != 0) {
      if (c != nullptr) redisFree(c);
      return nullptr;
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
    redisFree(c);
    return ReplyPtr(r);
  }
  std::string str(const std::vector<std::string>& args) const {
    ReplyPtr r = command(args);
    return r != nullptr && r->str != nullptr ? std::string(r->str, r->len) : "";
  }
  long long integer(const std::vector<std::string>& args) const {
    ReplyPtr r = command(args);
    return r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
  }

 private:
  bool launch() {
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_.string(),
                                     "--logfile",
                                     (dir_ / "redis.log").string()};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      std::_Exit(127);
    }
    if (pid_ < 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;  // exited: the port was taken, or redis-server is missing
        return false;
      }
      ReplyPtr pong = command({"PING"});
      if (pong != nullptr && pong->type == REDIS_REPLY_STATUS) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  static inline int counter_ = 0;
  std::vector<std::string> extra_;
  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// One standalone Redis per test process, started on first use, killed (and its directory
// removed) after the last test.
RedisServer* shared_server = nullptr;
RedisServer& shared_redis() {
  if (shared_server == nullptr) shared_server = new RedisServer();
  return *shared_server;
}
class KillRedisAtExit : public testing::Environment {
 public:
  void TearDown() override {
    delete shared_server;
    shared_server = nullptr;
  }
};
const testing::Environment* const kKillRedis =
    testing::AddGlobalTestEnvironment(new KillRedisAtExit);

Result<std::unique_ptr<Store>> open_redis(const std::string& address, int retention_days = 30,
                                          int command_timeout_ms = 3000) {
  Result<std::vector<RedisAddress>> seeds = parse_redis_addresses(address);
  if (!seeds.ok()) return seeds.status();
  RedisOptions o;
  o.seeds = seeds.take();
  o.retention_days = retention_days;
  o.connect_timeout_ms = 500;
  o.command_timeout_ms = command_timeout_ms;
  return open_redis_store(o, nullptr);
}

template <typename T, typename F>
Result<T> wait(F start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

Result<ProfileUpdate> set_state(Store& s, const std::string& site, const std::string& id,
                                const std::string& state) {
  return wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
    s.update_profile(
        site, id,
        [state](const std::string&, const std::string&) -> Result<std::string> { return state; }, 1,
        std::move(d));
  });
}

Result<ProfileUpdate> increment(Store& s, const std::string& site, const std::string& id) {
  return wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
    s.update_profile(
        site, id,
        [](const std::string&, const std::string& cur) -> Result<std::string> {
          return std::to_string((cur.empty() ? 0 : std::stoi(cur)) + 1);
        },
        1, std::move(d));
  });
}

Result<LinkResult> link(Store& s, const std::string& site, const std::string& anon,
                        const std::string& user) {
  return wait<LinkResult>([&](Done<LinkResult> d) {
    s.link(
        site, anon, user,
        [](const std::string& u, const std::string& a) -> Result<std::string> {
          return u + "+" + a;
        },
        2, std::move(d));
  });
}

Result<CollectResult> append(Store& s, const std::string& site, const std::string& profile,
                             std::vector<std::string> ids, const std::string& user = "",
                             int64_t now = 1000) {
  std::vector<StoredEvent> events;
  for (std::string& id : ids) events.push_back(StoredEvent{std::move(id), profile, user, 1, "{}"});
  return wait<CollectResult>(
      [&](Done<CollectResult> d) { s.append_events(site, std::move(events), now, std::move(d)); });
}

std::string state_of(Store& s, const std::string& site, const std::string& id) {
  Result<std::optional<ProfileUpdate>> r = s.get_state(site, id);
  if (!r.ok()) return "<error: " + r.status().message() + ">";
  return r.value().has_value() ? r.value()->state : "<none>";
}

// ---------------------------------------------------------------------------------------------
// The contract, on both stores.

class StoreContract : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '_');
      dir_ = fs::temp_directory_path() / ("pz-contract-" + std::to_string(::getpid()) + "-" + name);
      fs::remove_all(dir_);
      Result<std::unique_ptr<Store>> s = open_sqlite_store(dir_.string(), nullptr);
      ASSERT_TRUE(s.ok()) << s.status().message();
      store_ = s.take();
      return;
    }
    RedisServer& redis = shared_redis();
    ASSERT_TRUE(redis.running())
        << "redis-server did not start (scripts/setup.sh installs redis-server): " << redis.log();
    ASSERT_EQ(redis.str({"FLUSHALL"}), "OK");
    Result<std::unique_ptr<Store>> s = open_redis(redis.address());
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = s.take();
  }
  void TearDown() override {
    if (store_) store_->close();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

std::string backend_name(const testing::TestParamInfo<std::string>& info) { return info.param; }
INSTANTIATE_TEST_SUITE_P(Stores, StoreContract, testing::Values("sqlite", "redis"), backend_name);

TEST_P(StoreContract, EventsAreDeduplicatedPerSiteAndWithinABatch) {
  Result<CollectResult> a = append(*store_, "shop", "anon", {"e1", "e2"});
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a.value().accepted, 2);
  EXPECT_EQ(a.value().duplicates, 0);
  Result<CollectResult> b = append(*store_, "shop", "anon", {"e2", "e3", "e3"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value().accepted, 1);
  EXPECT_EQ(b.value().duplicates, 2);
  // The same id from another device of the site is the same event.
  Result<CollectResult> c = append(*store_, "shop", "other", {"e1"});
  EXPECT_EQ(c.value().duplicates, 1);
  // Another site has its own id space.
  Result<CollectResult> d = append(*store_, "blog", "anon", {"e1"});
  EXPECT_EQ(d.value().accepted, 1);
  EXPECT_TRUE(store_->has_event("shop", "e3").value());
  EXPECT_FALSE(store_->has_event("blog", "e3").value());
  EXPECT_FALSE(store_->has_event("shop", "never").value());
}

TEST_P(StoreContract, ConcurrentUpdatesOfOneProfileLoseNothing) {
  constexpr int kThreads = 8, kEach = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        if (!increment(*store_, "shop", "p1").ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(state_of(*store_, "shop", "p1"), std::to_string(kThreads * kEach));
}

TEST_P(StoreContract, AFailedUpdateWritesNothing) {
  ASSERT_TRUE(set_state(*store_, "shop", "p", "before").ok());
  Result<ProfileUpdate> bad = wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
    store_->update_profile(
        "shop", "p",
        [](const std::string&, const std::string&) -> Result<std::string> {
          return Status(Code::kInvalidArgument, "delta: bad");
        },
        1, std::move(d));
  });
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "delta: bad");
  EXPECT_EQ(state_of(*store_, "shop", "p"), "before");
  Result<ProfileUpdate> fresh = wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
    store_->update_profile(
        "shop", "new",
        [](const std::string&, const std::string&) -> Result<std::string> {
          return Status(Code::kInvalidArgument, "no");
        },
        1, std::move(d));
  });
  EXPECT_FALSE(fresh.ok());
  EXPECT_EQ(state_of(*store_, "shop", "new"), "<none>");
  // The next update of the same profile works (nothing was left half-done).
  Result<ProfileUpdate> good = set_state(*store_, "shop", "p", "after");
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(good.value().id, "p");
  EXPECT_EQ(state_of(*store_, "shop", "p"), "after");
}

TEST_P(StoreContract, UpdateSeesTheCurrentStateAndTheResolvedId) {
  ASSERT_TRUE(set_state(*store_, "shop", "user", "U").ok());
  ASSERT_TRUE(link(*store_, "shop", "anon", "user").ok());
  std::string seen_id, seen_state;
  Result<ProfileUpdate> r = wait<ProfileUpdate>([&](Done<ProfileUpdate> d) {
    store_->update_profile(
        "shop", "anon",
        [&](const std::string& id, const std::string& cur) -> Result<std::string> {
          seen_id = id;
          seen_state = cur;
          return cur + "!";
        },
        1, std::move(d));
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().id, "user");
  EXPECT_EQ(seen_id, "user");
  EXPECT_EQ(seen_state, "U+");
  EXPECT_EQ(state_of(*store_, "shop", "user"), "U+!");
}

TEST_P(StoreContract, LinkMergesResolvesAndRefusesASecondUser) {
  ASSERT_TRUE(set_state(*store_, "shop", "anon", "A").ok());
  ASSERT_TRUE(set_state(*store_, "shop", "user", "U").ok());
  Result<LinkResult> l = link(*store_, "shop", "anon", "user");
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_TRUE(l.value().merged);
  EXPECT_EQ(l.value().id, "user");
  EXPECT_EQ(state_of(*store_, "shop", "user"), "U+A");
  Result<std::optional<ProfileUpdate>> via = store_->get_state("shop", "anon");
  ASSERT_TRUE(via.ok() && via.value().has_value());
  EXPECT_EQ(via.value()->id, "user");
  Result<std::optional<ProfileRecord>> rec = store_->get_profile("shop", "anon");
  ASSERT_TRUE(rec.ok() && rec.value().has_value());
  EXPECT_EQ(rec.value()->id, "user");
  EXPECT_EQ(rec.value()->aliases, std::vector<std::string>{"anon"});
  // Again: nothing to merge. To another user: a conflict that changes nothing.
  l = link(*store_, "shop", "anon", "user");
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l.value().merged);
  l = link(*store_, "shop", "anon", "other");
  EXPECT_EQ(l.status().code(), Code::kConflict);
  EXPECT_EQ(state_of(*store_, "shop", "user"), "U+A");
  EXPECT_EQ(state_of(*store_, "shop", "other"), "<none>");
  // Linking an id to itself changes nothing.
  l = link(*store_, "shop", "solo", "solo");
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l.value().merged);
  EXPECT_EQ(state_of(*store_, "shop", "solo"), "<none>");
  // A second anonymous id of the same user, without a state of its own.
  l = link(*store_, "shop", "anon2", "user");
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l.value().merged);
  EXPECT_EQ(state_of(*store_, "shop", "user"), "U+A+");
  EXPECT_EQ(store_->get_profile("shop", "user").value()->aliases,
            (std::vector<std::string>{"anon", "anon2"}));
  // Another site does not see the alias.
  EXPECT_EQ(state_of(*store_, "blog", "anon"), "<none>");
}

TEST_P(StoreContract, ErasureReplacesTheStateAndDeletesEventsOfTheProfileAndItsAliases) {
  ASSERT_TRUE(append(*store_, "shop", "anon", {"a1", "a2"}).ok());
  ASSERT_TRUE(append(*store_, "shop", "other-device", {"u1"}, "user").ok());
  ASSERT_TRUE(append(*store_, "shop", "stranger", {"s1"}).ok());
  ASSERT_TRUE(append(*store_, "blog", "anon", {"b1"}).ok());
  ASSERT_TRUE(set_state(*store_, "shop", "user", "state").ok());
  ASSERT_TRUE(link(*store_, "shop", "anon", "user").ok());
  EXPECT_EQ(store_->get_profile("shop", "user").value()->events, 3);
  Result<ErasureResult> e = wait<ErasureResult>([&](Done<ErasureResult> d) {
    store_->erase_profile("shop", "anon", "erased", 5, std::move(d));
  });
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e.value().id, "user");
  EXPECT_EQ(e.value().events_deleted, 3);
  EXPECT_EQ(state_of(*store_, "shop", "user"), "erased");
  EXPECT_EQ(store_->get_profile("shop", "user").value()->events, 0);
  EXPECT_FALSE(store_->has_event("shop", "a1").value());
  EXPECT_FALSE(store_->has_event("shop", "u1").value());
  EXPECT_TRUE(store_->has_event("shop", "s1").value());
  EXPECT_TRUE(store_->has_event("blog", "b1").value());
  // Erasing again deletes nothing more; an unknown profile is kNotFound and changes nothing.
  e = wait<ErasureResult>([&](Done<ErasureResult> d) {
    store_->erase_profile("shop", "user", "erased2", 6, std::move(d));
  });
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value().events_deleted, 0);
  e = wait<ErasureResult>([&](Done<ErasureResult> d) {
    store_->erase_profile("shop", "nobody", "erased", 5, std::move(d));
  });
  EXPECT_EQ(e.status().code(), Code::kNotFound);
  EXPECT_EQ(state_of(*store_, "shop", "nobody"), "<none>");
}

TEST_P(StoreContract, BundleVersionsAndRollback) {
  auto put = [&](const std::string& body, const std::string& sig = "") {
    return wait<BundleVersion>([&](Done<BundleVersion> d) {
      store_->put_bundle("shop", BundleVersion{0, "etag-" + body, "v-" + body, 7, body, sig},
                         std::move(d));
    });
  };
  auto activate = [&](int64_t v) {
    return wait<BundleVersion>(
        [&](Done<BundleVersion> d) { store_->activate_bundle("shop", v, std::move(d)); });
  };
  EXPECT_FALSE(store_->active_bundle("shop").value().has_value());
  EXPECT_EQ(store_->bundle_versions("shop").value().active, 0);
  EXPECT_EQ(activate(0).status().code(), Code::kConflict);  // nothing at all
  EXPECT_EQ(put("one").value().version, 1);
  EXPECT_EQ(activate(0).status().code(), Code::kConflict);  // nothing before version 1
  EXPECT_EQ(put("two", "keyid=00, sig=AA").value().version, 2);
  Result<BundleVersion> three = put("three");
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three.value().version, 3);
  EXPECT_EQ(three.value().etag, "etag-three");
  Result<std::optional<BundleVersion>> active = store_->active_bundle("shop");
  ASSERT_TRUE(active.ok() && active.value().has_value());
  EXPECT_EQ(active.value()->body, "three");
  EXPECT_EQ(active.value()->version, 3);
  EXPECT_EQ(active.value()->bundle_version, "v-three");
  EXPECT_EQ(active.value()->created, 7);
  Result<BundleVersion> back = activate(0);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value().version, 2);
  EXPECT_EQ(back.value().body, "two");
  EXPECT_EQ(back.value().signature, "keyid=00, sig=AA");
  EXPECT_EQ(activate(0).value().version, 1);
  EXPECT_EQ(activate(99).status().code(), Code::kNotFound);
  EXPECT_EQ(activate(-1).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->active_bundle("shop").value()->version, 1);  // unchanged by the failures
  EXPECT_EQ(activate(3).value().version, 3);
  Result<BundleList> list = store_->bundle_versions("shop");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list.value().active, 3);
  ASSERT_EQ(list.value().versions.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(list.value().versions[i].version, i + 1);
  EXPECT_TRUE(list.value().versions[0].body.empty());  // listings leave bodies out
  EXPECT_EQ(list.value().versions[1].signature, "keyid=00, sig=AA");
  EXPECT_EQ(list.value().versions[2].etag, "etag-three");
  EXPECT_FALSE(store_->active_bundle("blog").value().has_value());
}

TEST_P(StoreContract, PruningForgetsOldEvents) {
  ASSERT_TRUE(append(*store_, "shop", "anon", {"old"}, "", 1000).ok());
  ASSERT_TRUE(append(*store_, "shop", "anon", {"new"}, "", 5000).ok());
  Result<int64_t> pruned =
      wait<int64_t>([&](Done<int64_t> d) { store_->prune_events(1001, std::move(d)); });
  ASSERT_TRUE(pruned.ok()) << pruned.status().message();
  EXPECT_EQ(pruned.value(), 1);
  EXPECT_FALSE(store_->has_event("shop", "old").value());
  EXPECT_TRUE(store_->has_event("shop", "new").value());
  ASSERT_TRUE(set_state(*store_, "shop", "anon", "s").ok());
  EXPECT_EQ(store_->get_profile("shop", "anon").value()->events, 1);
}

// Ids are arbitrary strings: characters that mean something in keys or hash tags never mix two
// sites or two profiles.
TEST_P(StoreContract, IdsWithKeySyntaxStayApart) {
  const std::vector<std::pair<std::string, std::string>> ids = {
      {"a:b", "c"}, {"a", "b:c"}, {"{x}", "y"}, {"x", "{y}"},
      {"s", "}{"},  {"s", "%7D"}, {"s", "}"}};
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(set_state(*store_, ids[i].first, ids[i].second, std::to_string(i)).ok());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(state_of(*store_, ids[i].first, ids[i].second), std::to_string(i))
        << ids[i].first << " / " << ids[i].second;
  }
  Result<LinkResult> l = link(*store_, "s", "}{", "}");
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(state_of(*store_, "s", "}{"), "6+4");
  EXPECT_EQ(state_of(*store_, "s", "%7D"), "5");
}

TEST_P(StoreContract, WritesAfterCloseFailWithoutBlocking) {
  store_->close();
  Result<CollectResult> r = append(*store_, "shop", "anon", {"late"});
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  Result<ProfileUpdate> u = set_state(*store_, "shop", "p", "x");
  EXPECT_EQ(u.status().code(), Code::kUnavailable);
}

// ---------------------------------------------------------------------------------------------
// Redis only.

class RedisStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().running()) << "redis-server did not start: " << redis().log();
    ASSERT_EQ(redis().str({"FLUSHALL"}), "OK");
  }
  static RedisServer& redis() { return shared_redis(); }
  static std::unique_ptr<Store> open(int retention_days = 30) {
    Result<std::unique_ptr<Store>> s = open_redis(redis().address(), retention_days);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? s.take() : nullptr;
  }
};

// Two stores stand for two pz-server processes: increments of one profile through both, from
// several threads each, all land (WATCH/MULTI/EXEC retries a lost race).
TEST_F(RedisStoreTest, TwoStoresOnOneProfileNeverLoseAnUpdate) {
  std::unique_ptr<Store> a = open(), b = open();
  ASSERT_TRUE(a && b);
  constexpr int kThreadsEach = 4, kEach = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (Store* s : {a.get(), b.get()}) {
    for (int t = 0; t < kThreadsEach; ++t) {
      threads.emplace_back([&, s] {
        for (int i = 0; i < kEach; ++i) {
          if (!increment(*s, "shop", "hot").ok()) failures.fetch_add(1);
        }
      });
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(state_of(*a, "shop", "hot"), std::to_string(2 * kThreadsEach * kEach));
  EXPECT_EQ(state_of(*b, "shop", "hot"), std::to_string(2 * kThreadsEach * kEach));
  a->close();
  b->close();
}

// A sync through one store while the other links the same anonymous id: the update lands in
// the user's profile (the alias was watched) or before the link (and is merged), never lost.
TEST_F(RedisStoreTest, UpdatesRacingALinkAreNeverLost) {
  std::unique_ptr<Store> a = open(), b = open();
  ASSERT_TRUE(a && b);
  for (int round = 0; round < 20; ++round) {
    const std::string anon = "anon-" + std::to_string(round),
                      user = "user-" + std::to_string(round);
    ASSERT_TRUE(set_state(*a, "shop", user, "0").ok());
    std::thread updates([&] {
      for (int i = 0; i < 10; ++i) ASSERT_TRUE(increment(*a, "shop", anon).ok());
    });
    Result<LinkResult> l = wait<LinkResult>([&](Done<LinkResult> d) {
      b->link(
          "shop", anon, user,
          [](const std::string& u, const std::string& an) -> Result<std::string> {
            return std::to_string(std::stoi(u.empty() ? "0" : u) +
                                  std::stoi(an.empty() ? "0" : an));
          },
          2, std::move(d));
    });
    updates.join();
    ASSERT_TRUE(l.ok()) << l.status().message();
    EXPECT_EQ(state_of(*a, "shop", user), "10") << "round " << round;
    EXPECT_EQ(state_of(*b, "shop", anon), "10");
  }
  a->close();
  b->close();
}

TEST_F(RedisStoreTest, DedupKeysAndEventLogsExpireAfterTheRetention) {
  std::unique_ptr<Store> s = open(7);
  ASSERT_TRUE(s);
  ASSERT_TRUE(append(*s, "shop", "anon", {"e1"}).ok());
  const long long ttl = redis().integer({"TTL", "pz:{e:shop:e1}:dedup"});
  EXPECT_GT(ttl, 7 * 86400 - 60);
  EXPECT_LE(ttl, 7 * 86400);
  EXPECT_EQ(redis().str({"GET", "pz:{e:shop:e1}:dedup"}), "1anon");  // done, owner anon
  const long long log_ttl = redis().integer({"PTTL", "pz:{p:shop:anon}:events"});
  EXPECT_GT(log_ttl, (7LL * 86400 - 60) * 1000);
  EXPECT_LE(log_ttl, 7LL * 86400 * 1000);
  EXPECT_GT(redis().integer({"PTTL", "pz:{p:shop:anon}:bodies"}), 0);
  // The stored record keeps the event as received, its devices and times.
  const std::string record = redis().str({"HGET", "pz:{p:shop:anon}:bodies", "e1"});
  EXPECT_EQ(record, "{\"profile\":\"anon\",\"user\":\"\",\"t\":1,\"received\":1000,\"event\":{}}");
  // An event of an identified device lives in the user's log.
  ASSERT_TRUE(append(*s, "shop", "anon", {"e2"}, "u\"1").ok());
  EXPECT_EQ(redis().integer({"ZCARD", "pz:{p:shop:u\"1}:events"}), 1);
  s->close();
}

// A batch that stopped after claiming its dedup keys (a server died, the connection broke):
// its retry writes the events (counted as accepted) instead of calling them duplicates.
TEST_F(RedisStoreTest, AnInterruptedBatchIsFinishedByItsRetry) {
  std::unique_ptr<Store> s = open();
  ASSERT_TRUE(s);
  ASSERT_EQ(redis().str({"SET", "pz:{e:shop:e1}:dedup", "0anon", "EX", "600"}), "OK");
  EXPECT_FALSE(s->has_event("shop", "e1").value());
  Result<CollectResult> r = append(*s, "shop", "anon", {"e1", "e2"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().accepted, 2);
  EXPECT_EQ(r.value().duplicates, 0);
  EXPECT_TRUE(s->has_event("shop", "e1").value());
  r = append(*s, "shop", "anon", {"e1", "e2"});
  EXPECT_EQ(r.value().duplicates, 2);
  s->close();
}

// A link that stopped after claiming the alias (before merging): the repeated identify merges.
TEST_F(RedisStoreTest, AnInterruptedLinkIsFinishedByItsRetry) {
  std::unique_ptr<Store> s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(set_state(*s, "shop", "anon", "A").ok());
  ASSERT_TRUE(set_state(*s, "shop", "user", "U").ok());
  ASSERT_EQ(redis().integer({"HSET", "pz:{p:shop:anon}:profile", "alias", "user"}), 1);
  Result<LinkResult> l = link(*s, "shop", "anon", "user");
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_TRUE(l.value().merged);
  EXPECT_EQ(state_of(*s, "shop", "user"), "U+A");
  EXPECT_EQ(redis().integer({"HEXISTS", "pz:{p:shop:anon}:profile", "state"}), 0);
  EXPECT_EQ(redis().str({"HGET", "pz:{p:shop:user}:profile", "linked:anon"}), "1");
  l = link(*s, "shop", "anon", "user");
  EXPECT_FALSE(l.value().merged);
  EXPECT_EQ(state_of(*s, "shop", "user"), "U+A");
  s->close();
}

// Redis dies: writes and reads fail with kUnavailable after a bounded number of tries (and the
// write's `done` runs); when Redis is back, the same store reconnects and works.
TEST_F(RedisStoreTest, ADeadRedisFailsClearlyAndTheStoreReconnectsWhenItIsBack) {
  RedisServer own;
  ASSERT_TRUE(own.running()) << own.log();
  Result<std::unique_ptr<Store>> opened = open_redis(own.address());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<Store> s = opened.take();
  ASSERT_TRUE(set_state(*s, "shop", "p", "before").ok());
  own.stop();
  Result<ProfileUpdate> w = set_state(*s, "shop", "p", "lost");
  EXPECT_EQ(w.status().code(), Code::kUnavailable);
  EXPECT_NE(w.status().message().find(own.address()), std::string::npos) << w.status().message();
  Result<CollectResult> e = append(*s, "shop", "anon", {"e1"});
  EXPECT_EQ(e.status().code(), Code::kUnavailable);
  Result<std::optional<ProfileUpdate>> r = s->get_state("shop", "p");
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  ASSERT_TRUE(own.restart()) << own.log();
  // A Redis without persistence comes back empty: what was acknowledged before is gone (the
  // documented cost of running without persistence or replicas).
  EXPECT_EQ(state_of(*s, "shop", "p"), "<none>");
  ASSERT_TRUE(set_state(*s, "shop", "p", "after").ok());
  EXPECT_EQ(state_of(*s, "shop", "p"), "after");
  s->close();
}

// A Redis that stops answering (SIGSTOP: connections are accepted, nothing is answered) fails
// requests after the reply timeout and a bounded number of tries, instead of hanging them.
TEST_F(RedisStoreTest, ARedisThatStopsAnsweringFailsRequestsInsteadOfHangingThem) {
  RedisServer own;
  ASSERT_TRUE(own.running()) << own.log();
  Result<std::unique_ptr<Store>> opened = open_redis(own.address(), 30, 200);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<Store> s = opened.take();
  ASSERT_TRUE(set_state(*s, "shop", "p", "before").ok());
  own.signal(SIGSTOP);
  Result<ProfileUpdate> w = set_state(*s, "shop", "p", "never");
  EXPECT_EQ(w.status().code(), Code::kUnavailable);
  EXPECT_NE(w.status().message().find("no reply within 200 ms"), std::string::npos)
      << w.status().message();
  Result<std::optional<ProfileUpdate>> r = s->get_state("shop", "p");
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  own.signal(SIGCONT);
  EXPECT_EQ(state_of(*s, "shop", "p"), "before");  // the failed write did not happen
  ASSERT_TRUE(set_state(*s, "shop", "p", "after").ok());
  EXPECT_EQ(state_of(*s, "shop", "p"), "after");
  s->close();
}

TEST(RedisStoreOpen, AnUnreachableRedisIsAnErrorNamingTheAddress) {
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  Result<std::unique_ptr<Store>> s = open_redis(address);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_NE(s.status().message().find(address), std::string::npos) << s.status().message();
}

TEST(RedisStoreOpen, SeveralAddressesOfASingleRedisAreRefused) {
  RedisServer& redis = shared_redis();
  ASSERT_TRUE(redis.running());
  Result<std::unique_ptr<Store>> s =
      open_redis(redis.address() + ",127.0.0.1:" + std::to_string(free_port()));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not a cluster node"), std::string::npos)
      << s.status().message();
}

TEST(RedisAddresses, ParseAndErrorsNameTheEntry) {
  Result<std::vector<RedisAddress>> a =
      parse_redis_addresses("127.0.0.1:7000,redis-2:7001,[::1]:7002");
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_EQ(a.value().size(), 3u);
  EXPECT_EQ(a.value()[0].text(), "127.0.0.1:7000");
  EXPECT_EQ(a.value()[1].host, "redis-2");
  EXPECT_EQ(a.value()[2].host, "::1");
  EXPECT_EQ(a.value()[2].port, 7002);
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":7000", "h:0", "h:65536", "h:70x",
                          "h:7000,", "::1:7000", "[::1]7000", "h:7000,,h:7001"}) {
    Result<std::vector<RedisAddress>> r = parse_redis_addresses(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("is not HOST:PORT"), std::string::npos)
        << r.status().message();
  }
}

// ---------------------------------------------------------------------------------------------
// Cluster mode on a one-node cluster (the three-master cluster with redirects and a dead master
// is tests/server/redis_cluster.test.mjs).

class OneNodeCluster : public testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<RedisServer>(std::vector<std::string>{
        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"});
    ASSERT_TRUE(node_->running()) << node_->log();
  }
  std::unique_ptr<RedisServer> node_;
};

TEST_F(OneNodeCluster, KeySlotsAreThoseRedisComputes) {
  std::vector<std::string> keys = {"foo",
                                   "{user1000}.following",
                                   "{user1000}.followers",
                                   "{}",
                                   "{}x",
                                   "a{",
                                   "a}",
                                   "}{",
                                   "{a}{b}",
                                   "{{a}}",
                                   "x{}{a}",
                                   "pz:{p:shop:u1}:state",
                                   "",
                                   "\xff\x01"};
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string k;
    const int n = static_cast<int>(rng() % 24);
    for (int j = 0; j < n; ++j) k += "ab{}:%\x01\xfe"[rng() % 9];
    keys.push_back(k);
  }
  for (const std::string& k : keys) {
    EXPECT_EQ(redis_key_slot(k), node_->integer({"CLUSTER", "KEYSLOT", k})) << "key " << k;
  }
  EXPECT_EQ(redis_key_slot("foo"), 12182);
}

TEST_F(OneNodeCluster, TheStoreRunsInClusterModeAndRefusesAClusterWithoutSlots) {
  Result<std::unique_ptr<Store>> none = open_redis(node_->address());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("serves no slots"), std::string::npos)
      << none.status().message();
  ASSERT_EQ(node_->str({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}), "OK");
  for (int i = 0;
       i < 500 && node_->str({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(10ms);
  }
  Result<std::unique_ptr<Store>> s = open_redis(node_->address());
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::unique_ptr<Store> store = s.take();
  ASSERT_TRUE(set_state(*store, "shop", "anon", "A").ok());
  ASSERT_TRUE(set_state(*store, "shop", "user", "U").ok());
  ASSERT_TRUE(link(*store, "shop", "anon", "user").ok());
  EXPECT_EQ(state_of(*store, "shop", "anon"), "U+A");
  ASSERT_TRUE(append(*store, "shop", "anon", {"e1", "e2"}).ok());
  EXPECT_EQ(store->get_profile("shop", "user").value()->events, 2);
  Result<int64_t> pruned =
      wait<int64_t>([&](Done<int64_t> d) { store->prune_events(1001, std::move(d)); });
  ASSERT_TRUE(pruned.ok()) << pruned.status().message();
  EXPECT_EQ(pruned.value(), 2);
  store->close();
}

}  // namespace
}  // namespace pz::server
