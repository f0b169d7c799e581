// pz-server: the reference server (docs/server.md).
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "api.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "redis_store.h"
#include "sqlite_store.h"

namespace net = boost::asio;
using namespace pz::server;
using pz::Value;

namespace {

int fail(const std::string& message) {
  log(LogLevel::kError, message);
  return 1;
}

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  pz::Result<Options> parsed = parse_options(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "pz-server: %s\n%s", parsed.status().message().c_str(), kUsage);
    return 2;
  }
  const Options& o = parsed.value();
  if (o.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (const char* level = std::getenv("PZ_LOG_LEVEL"); level != nullptr) {
    const std::string l = level;
    set_log_level(l == "warn"    ? LogLevel::kWarn
                  : l == "error" ? LogLevel::kError
                                 : LogLevel::kInfo);
  }

  RateLimit default_limit;
  default_limit.per_second = o.rate_limit;
  default_limit.burst = o.rate_limit * 2;
  Sites sites;
  if (o.keys_file.empty()) {
    sites = demo_sites(default_limit);
    log(LogLevel::kWarn,
        "no --keys file: serving the development site \"demo\" (keys pk_demo, "
        "sk_demo, any origin); do not expose this server");
  } else {
    std::ifstream in(o.keys_file, std::ios::binary);
    if (!in) return fail("cannot read the keys file " + o.keys_file);
    std::stringstream ss;
    ss << in.rdbuf();
    pz::Result<Sites> s = parse_sites(ss.str(), default_limit);
    if (!s.ok()) return fail(o.keys_file + ": " + s.status().message());
    sites = s.take();
  }
  if (pz::Status st = set_default_bundle_keys(sites, o.bundle_public_keys); !st.ok()) {
    return fail(st.message());
  }

  Metrics metrics;
  pz::Result<std::unique_ptr<Store>> opened = pz::Status(pz::Code::kUnavailable, "no store");
  if (o.store == "redis") {
    RedisOptions redis;
    redis.seeds = parse_redis_addresses(o.redis).take();  // checked by parse_options
    redis.retention_days = o.retention_days;
    opened = open_redis_store(redis, &metrics);
  } else {
    opened = open_sqlite_store(o.data_dir, &metrics);
  }
  if (!opened.ok()) return fail(opened.status().message());
  std::unique_ptr<Store> store = opened.take();

  const int threads = o.threads > 0
                          ? o.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  net::io_context io(threads);
  ApiOptions api_options;
  api_options.defer = [&io](std::function<void()> f) { net::post(io, std::move(f)); };
  api_options.static_dir = o.static_dir;
  api_options.retention_days = o.retention_days;
  api_options.ip_rate_limit = o.ip_rate_limit;
  // Other servers share a Redis store: a bundle one of them activates is served here within 1 s.
  if (o.store == "redis") api_options.bundle_refresh_ms = 1000;
  Api api(std::move(sites), *store, metrics, api_options);
  if (pz::Status st = api.seed_bundles(o.bundle_file); !st.ok()) return fail(st.message());

  HttpTimeouts timeouts;
  timeouts.read = std::chrono::milliseconds(o.read_timeout_ms);
  timeouts.idle = std::chrono::milliseconds(o.idle_timeout_ms);
  HttpServer server(io, api, metrics, timeouts);
  if (pz::Status st = server.listen(o.bind, o.port); !st.ok()) return fail(st.message());

  // Pruning of the event log (deduplication window = retention), hourly and at start.
  net::steady_timer prune_timer(io);
  const int64_t retention_ms = static_cast<int64_t>(o.retention_days) * 86400000;
  std::function<void()> prune = [&] {
    store->prune_events(wall_ms() - retention_ms, [](pz::Result<int64_t> r) {
      if (!r.ok()) {
        log(LogLevel::kError, "prune failed", {{"error", Value::String(r.status().message())}});
      } else if (r.value() > 0) {
        log(LogLevel::kInfo, "pruned events", {{"count", Value::Number(r.value())}});
      }
    });
    prune_timer.expires_after(std::chrono::hours(1));
    prune_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) prune();
    });
  };
  prune();

  // SIGTERM/SIGINT: stop accepting, answer what is in flight (up to 10 s), then stop.
  net::signal_set signals(io, SIGTERM, SIGINT);
  net::steady_timer drain_timer(io);
  auto deadline = std::chrono::steady_clock::now();
  std::function<void()> drain = [&] {
    if (server.in_flight() == 0 || std::chrono::steady_clock::now() > deadline) {
      prune_timer.cancel();
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&](boost::system::error_code) { drain(); });
  };
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    log(LogLevel::kInfo, "shutting down",
        {{"signal", Value::Number(signal)}, {"in_flight", Value::Number(server.in_flight())}});
    server.stop_accepting();
    api.set_shutting_down();
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    drain();
  });

  log(LogLevel::kInfo, "listening",
      {{"port", Value::Number(server.port())},
       {"bind", Value::String(o.bind)},
       {"threads", Value::Number(threads)},
       {"store", Value::String(o.store)},
       {"schema", o.store == "sqlite" ? Value::Number(kSchemaVersion) : Value::Null()}},
      true);

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (std::thread& t : pool) t.join();
  store->close();
  log(LogLevel::kInfo, "stopped", {}, true);
  return 0;
}
