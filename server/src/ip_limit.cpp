#include "ip_limit.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <functional>

namespace pz::server {

namespace {

constexpr size_t kShards = 16;

}  // namespace

IpLimiter::IpLimiter(double per_second, double burst, size_t max_addresses)
    : per_second_(per_second),
      burst_(std::max(burst, 1.0)),
      per_shard_(std::max<size_t>(1, max_addresses / kShards)),
      shards_(kShards) {}

std::string IpLimiter::key_of(const std::string& address) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address, ec);
  if (ec) return "";
  if (ip.is_v4()) {
    const auto b = ip.to_v4().to_bytes();
    return std::string(b.begin(), b.end());
  }
  const auto v6 = ip.to_v6();
  if (v6.is_v4_mapped()) {
    const auto b = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_bytes();
    return std::string(b.begin(), b.end());
  }
  const auto b = v6.to_bytes();
  return std::string(b.begin(), b.begin() + 8);  // the /64
}

bool IpLimiter::take(const std::string& address, double now_s, double& retry_after_s) {
  if (per_second_ <= 0) return true;
  const std::string key = key_of(address);
  if (key.empty()) return true;
  Shard& shard = shards_[std::hash<std::string>()(key) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= per_shard_) {
      shard.buckets.erase(shard.lru.back());
      shard.lru.pop_back();
    }
    shard.lru.push_front(key);
    it = shard.buckets.emplace(key, Bucket{burst_, now_s, shard.lru.begin()}).first;
  } else {
    Bucket& b = it->second;
    b.tokens = std::min(burst_, b.tokens + std::max(0.0, now_s - b.at) * per_second_);
    b.at = now_s;
    shard.lru.splice(shard.lru.begin(), shard.lru, b.lru);
  }
  Bucket& b = it->second;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retry_after_s = (1 - b.tokens) / per_second_;
  return false;
}

size_t IpLimiter::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace pz::server
