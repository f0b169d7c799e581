// Counters and histograms of the server, rendered as Prometheus text (GET /metrics). Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pz::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Appends `name_bucket{labels,le=...}`, `_sum` and `_count` lines.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> sum_micros_{0};        // sum in millionths
  std::atomic<uint64_t> count_{0};
};

class Metrics {
 public:
  Metrics();

  // One HTTP request: its route (a fixed name, never a raw path), status and duration (s).
  void request(const std::string& route, int status, double seconds);

  std::atomic<uint64_t> events{0}, events_duplicate{0}, events_rejected{0}, syncs{0}, identifies{0},
      decisions{0}, erasures{0}, bundle_updates{0}, store_errors{0}, rate_limited{0};
  Histogram commit_batch;  // requests per group commit
  // The SQLite writer's pause (s) when it finishes the checkpoint at the WAL's size limit, so
  // that the WAL starts over: no write commits meanwhile.
  Histogram wal_reset_seconds;
  // Requests refused by the per-address limit (also counted in rate_limited).
  std::atomic<uint64_t> ip_rate_limited{0};
  // Connections closed because a request did not arrive whole within the read timeout
  // (`read`), or the client did not take an answer within it (`write`).
  std::atomic<uint64_t> read_timeouts{0}, write_timeouts{0};
  // The Redis store: MOVED and ASK redirects followed, connections that broke.
  std::atomic<uint64_t> store_moved{0}, store_asked{0}, store_connection_errors{0};
  // Bundles another server activated (a shared store) that failed this server's signature check.
  std::atomic<uint64_t> bundle_refresh_rejected{0};

  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, std::unique_ptr<Histogram>> latency_;
};

}  // namespace pz::server
