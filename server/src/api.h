// The HTTP API of pz-server (docs/server.md), independent of the transport: a Request in, a
// Response out through a callback (store writes answer after their commit, from the store's
// thread). The Beast layer (http.h) only moves bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "config.h"
#include "ip_limit.h"
#include "metrics.h"
#include "pz/crdt.h"
#include "store.h"

namespace pz::server {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::string query;   // after '?', "" when none
  std::string authorization, origin, if_none_match, accept_encoding;
  std::string signature;  // Pz-Signature (PUT /v1/bundle)
  std::string body;
  std::string remote;  // the client's address ("" when unknown: not rate-limited by address)
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string route;  // the route's fixed name (metrics and logs)
  std::string site;   // the site id when a key was given ("" otherwise)
};

using Respond = std::function<void(Response)>;

// Bodies are limited while they are read: this many bytes for this request line.
constexpr size_t kMaxBatchBytes = 512 * 1024;
size_t body_limit(const std::string& method, const std::string& path);

struct ApiOptions {
  std::string static_dir;  // "" serves no files
  int retention_days = 30;
  std::function<int64_t()> clock;  // ms since the epoch; default: the system clock
  // Runs work off the store's writer thread (the server posts it to its HTTP threads); default:
  // at once, on the calling thread.
  std::function<void(std::function<void()>)> defer;
  // With a store shared by other servers (Redis): the active bundle is read from the store again
  // at most this often (ms), so a bundle activated elsewhere is served here within that time.
  // 0: never (this process is the only writer).
  int64_t bundle_refresh_ms = 0;
  // Requests per second per client address before any key is looked at (burst twice that);
  // 0: off. See ip_limit.h.
  double ip_rate_limit = 0;
};

class Api {
 public:
  Api(Sites sites, Store& store, Metrics& metrics, ApiOptions options);

  // Gives every site without a stored bundle the one from its file (or `default_file`).
  // Errors name the file and the bundle's JSON path.
  Status seed_bundles(const std::string& default_file);

  void handle(Request request, Respond respond);

  // Later requests get 503 (healthz too), so that load balancers move away.
  void set_shutting_down() { shutting_down_ = true; }
  const Sites& sites() const { return sites_; }

 private:
  struct ActiveBundle {
    int64_t version = 0;
    std::string etag;
    std::string bundle_version;
    std::string body;
    std::string signature;  // "" when unsigned
  };
  struct Call;  // one request being handled
  using CallPtr = std::shared_ptr<Call>;
  class StateCache;  // parsed states of recently synced profiles (api.cpp)

  void route(const CallPtr& call);
  bool authorize(const CallPtr& call, bool secret, bool key_in_query);
  void collect(const CallPtr& call);
  void sync(const CallPtr& call);
  void identify(const CallPtr& call);
  void decide(const CallPtr& call);
  void get_bundle(const CallPtr& call);
  void put_bundle(const CallPtr& call);
  void bundle_versions(const CallPtr& call);
  void rollback(const CallPtr& call);
  // Answers a stored or re-activated bundle version and makes it the site's active one.
  Done<BundleVersion> activated(const CallPtr& call, const std::string& site);
  // On a site with bundle_public_keys, bundle changes (PUT, rollback) run one at a time: false
  // (and a 409 answered) while another is being written.
  bool begin_bundle_change(const CallPtr& call);
  void end_bundle_change(const Site& site);
  void profile(const CallPtr& call, const std::string& id);
  void serve_static(const CallPtr& call);

  std::shared_ptr<const ActiveBundle> active(const std::string& site);
  void set_active(const std::string& site, std::shared_ptr<const ActiveBundle> bundle);
  void refresh_active(const std::string& site);
  bool take_token(const Key& key, double& retry_after_s);
  int64_t now() const;

  Sites sites_;
  Store& store_;
  Metrics& metrics_;
  ApiOptions options_;
  std::atomic<bool> shutting_down_{false};
  std::mutex bundles_mu_;
  std::unordered_map<std::string, std::shared_ptr<const ActiveBundle>> bundles_;
  struct BundleCheck {
    int64_t at = 0;        // steady ms of the last read from the store
    uint64_t changes = 0;  // set_active calls (a read older than one is not installed)
  };
  std::unordered_map<std::string, BundleCheck> bundle_checks_;
  std::unordered_set<std::string> bundle_changing_;  // sites (under bundles_mu_)
  struct Bucket {
    double tokens = 0;
    double at = 0;  // s
    bool started = false;
  };
  std::mutex buckets_mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  IpLimiter ip_limiter_;
  std::shared_ptr<StateCache> states_;
};

}  // namespace pz::server
