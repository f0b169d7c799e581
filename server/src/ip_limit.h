// The per-address rate limit of pz-server (docs/server.md "Rate limits"): a token bucket per
// client address, taken by every request before its key is looked at, so that a flood without
// a key (or with many keys) from one address is limited too. IPv4 addresses count one by one,
// IPv6 addresses by their /64 (one host usually owns a whole /64). Memory is bounded: at most
// `max_addresses` buckets are kept, the least recently seen go first (a bucket that went is
// full again, which is what an address not seen for a while has anyway). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace pz::server {

class IpLimiter {
 public:
  // `per_second` <= 0: no limit (take() always succeeds). `burst` < 1 counts as 1.
  IpLimiter(double per_second, double burst, size_t max_addresses = 65536);

  bool enabled() const { return per_second_ > 0; }

  // Takes a token for the address (its text, as the socket gives it: "127.0.0.1", "::1",
  // "::ffff:10.0.0.1"). False when the address has none left: `retry_after_s` says when it has
  // one again. An empty or unreadable address is not limited.
  bool take(const std::string& address, double now_s, double& retry_after_s);

  // Buckets kept (for tests and metrics).
  size_t size() const;

  // The key of an address: 4 bytes for IPv4 (also IPv4-mapped IPv6), the first 8 for IPv6; ""
  // when the text is not an address.
  static std::string key_of(const std::string& address);

 private:
  struct Bucket {
    double tokens;
    double at;  // s
    std::list<std::string>::iterator lru;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    std::list<std::string> lru;  // most recently seen first
  };

  double per_second_, burst_;
  size_t per_shard_;
  std::vector<Shard> shards_;
};

}  // namespace pz::server
