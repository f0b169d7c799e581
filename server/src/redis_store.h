// The Redis store (docs/server.md "Redis store"): the same Store contract as the embedded SQLite
// store, over one Redis or a Redis Cluster, so that any number of pz-server processes can share
// one set of profiles. hiredis underneath, with our own cluster client: CRC16 key slots with
// {hash tag}s, the slot map from CLUSTER SLOTS, MOVED and ASK redirects, reconnects with a
// bounded number of tries and a short backoff, then kUnavailable (never a hang, never a success
// for a write Redis did not acknowledge).
//
// Threads: writes run on a small pool of worker threads, each with its own connections, and call
// `done` there once Redis acknowledged every command of the write; reads run on the calling
// thread with connections borrowed from a pool.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metrics.h"
#include "store.h"

namespace pz::server {

struct RedisAddress {
  std::string host;
  int port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

// "HOST:PORT[,HOST:PORT...]" (an IPv6 host in brackets: "[::1]:6379"). Errors name the entry.
Result<std::vector<RedisAddress>> parse_redis_addresses(const std::string& text);

struct RedisOptions {
  // Seed nodes: one Redis, or any nodes of a cluster (the rest is learned from CLUSTER SLOTS).
  // Whether it is a cluster is asked at start (INFO cluster: cluster_enabled).
  std::vector<RedisAddress> seeds;
  int retention_days = 30;        // the TTL of deduplication keys and idle event logs
  int workers = 4;                // write threads, each with its own connections
  int connect_timeout_ms = 1000;  // per connection attempt
  int command_timeout_ms = 3000;  // per reply; a node that stops answering fails the request
  int tries = 4;                  // connection failures per operation before kUnavailable
};

// The cluster key slot of `key`: CRC16 (XMODEM) of the key, or of the part between the first
// '{' and the next '}' when that part is not empty, modulo 16384.
int redis_key_slot(std::string_view key);

// Connects to the seeds (the first one that answers decides single or cluster mode) and starts
// the workers. Errors name the addresses tried. `metrics` may be null.
Result<std::unique_ptr<Store>> open_redis_store(const RedisOptions& options, Metrics* metrics);

}  // namespace pz::server
