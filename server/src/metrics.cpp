#include "metrics.h"

#include <cmath>
#include <cstdio>

namespace pz::server {

namespace {

std::string number(double v) {
  if (std::isinf(v)) return "+Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                            0.05,   0.1,   0.25,   0.5,   1,    2.5};

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(std::max(v, 0.0) * 1e6)),
                        std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    out += name + "_bucket{" + labels + sep + "le=\"" + number(le) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " +
         number(static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_.load(std::memory_order_relaxed)) +
         "\n";
}

Metrics::Metrics()
    : commit_batch({1, 2, 4, 8, 16, 32, 64, 128, 256, 512}),
      wal_reset_seconds({0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1}) {}

void Metrics::request(const std::string& route, int status, double seconds) {
  Histogram* h;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[{route, status}];
    auto& slot = latency_[route];
    if (!slot) slot = std::make_unique<Histogram>(kLatencyBounds);
    h = slot.get();
  }
  h->observe(seconds);
}

std::string Metrics::render() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, const std::atomic<uint64_t>& v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(v.load(std::memory_order_relaxed)) + "\n";
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    out += "# HELP pz_http_requests_total HTTP requests by route and status.\n";
    out += "# TYPE pz_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      out += "pz_http_requests_total{route=\"" + key.first + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP pz_http_request_duration_seconds Time from request read to response queued.\n";
    out += "# TYPE pz_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
      h->render(out, "pz_http_request_duration_seconds", "route=\"" + route + "\"");
    }
  }
  counter("pz_events_total", "Events accepted into the event log.", events);
  counter("pz_events_duplicate_total", "Events skipped as duplicates (same id).", events_duplicate);
  counter("pz_events_rejected_total", "Events rejected as invalid.", events_rejected);
  counter("pz_syncs_total", "Profile syncs merged.", syncs);
  counter("pz_identifies_total", "Anonymous ids linked to users.", identifies);
  counter("pz_decisions_total", "Slot decisions made by /v1/decide.", decisions);
  counter("pz_erasures_total", "Profiles erased.", erasures);
  counter("pz_bundle_updates_total", "Bundle versions stored or activated.", bundle_updates);
  counter("pz_rate_limited_total", "Requests refused by the rate limit.", rate_limited);
  counter("pz_rate_limited_ip_total", "Requests refused by the per-address rate limit.",
          ip_rate_limited);
  out +=
      "# HELP pz_http_timeouts_total Connections closed because a request did not arrive "
      "whole in time (read) or its answer was not taken in time (write).\n"
      "# TYPE pz_http_timeouts_total counter\n";
  out += "pz_http_timeouts_total{phase=\"read\"} " +
         std::to_string(read_timeouts.load(std::memory_order_relaxed)) + "\n";
  out += "pz_http_timeouts_total{phase=\"write\"} " +
         std::to_string(write_timeouts.load(std::memory_order_relaxed)) + "\n";
  counter("pz_store_errors_total", "Store operations that failed.", store_errors);
  counter("pz_store_moved_total", "Redis Cluster MOVED redirects followed.", store_moved);
  counter("pz_store_ask_total", "Redis Cluster ASK redirects followed.", store_asked);
  counter("pz_store_connection_errors_total", "Redis connections that broke or timed out.",
          store_connection_errors);
  counter("pz_bundle_refresh_rejected_total",
          "Bundles activated by another server that failed this server's signature check.",
          bundle_refresh_rejected);
  out += "# HELP pz_store_commit_batch Requests committed per group commit.\n";
  out += "# TYPE pz_store_commit_batch histogram\n";
  commit_batch.render(out, "pz_store_commit_batch", "");
  out +=
      "# HELP pz_store_wal_reset_seconds Writer pauses to finish the checkpoint at the WAL's size "
      "limit (SQLite).\n";
  out += "# TYPE pz_store_wal_reset_seconds histogram\n";
  wal_reset_seconds.render(out, "pz_store_wal_reset_seconds", "");
  return out;
}

}  // namespace pz::server
