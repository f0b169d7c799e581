// The per-address rate limit (server/src/ip_limit.h): a token bucket per address with its burst
// and refill, IPv6 counted by /64 and IPv4-mapped addresses as IPv4, unreadable addresses not
// limited, 0 turning it off, and memory bounded by its maximum number of addresses (the least
// recently seen go first). The HTTP side is tests/server/limits.test.mjs.
#include <gtest/gtest.h>

#include <string>

#include "ip_limit.h"

namespace pz::server {
namespace {

TEST(IpLimiter, BurstThenRefillAtTheRate) {
  IpLimiter l(2, 4);
  double retry = 0;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(l.take("10.0.0.1", 100, retry)) << i;
  EXPECT_FALSE(l.take("10.0.0.1", 100, retry));
  EXPECT_DOUBLE_EQ(retry, 0.5);  // one token at 2/s
  EXPECT_FALSE(l.take("10.0.0.1", 100.25, retry));
  EXPECT_DOUBLE_EQ(retry, 0.25);
  EXPECT_TRUE(l.take("10.0.0.1", 100.5, retry));
  // Never more than the burst, however long it was idle.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(l.take("10.0.0.1", 1000, retry)) << i;
  EXPECT_FALSE(l.take("10.0.0.1", 1000, retry));
  // Other addresses have buckets of their own.
  EXPECT_TRUE(l.take("10.0.0.2", 1000, retry));
}

TEST(IpLimiter, AddressesAndTheirKeys) {
  EXPECT_EQ(IpLimiter::key_of("10.1.2.3"), std::string("\x0a\x01\x02\x03", 4));
  EXPECT_EQ(IpLimiter::key_of("::ffff:10.1.2.3"), IpLimiter::key_of("10.1.2.3"));
  EXPECT_EQ(IpLimiter::key_of("2001:db8:1:2::1"), IpLimiter::key_of("2001:db8:1:2:ffff::9"));
  EXPECT_NE(IpLimiter::key_of("2001:db8:1:2::1"), IpLimiter::key_of("2001:db8:1:3::1"));
  EXPECT_EQ(IpLimiter::key_of("2001:db8:1:2::1").size(), 8u);
  EXPECT_EQ(IpLimiter::key_of(""), "");
  EXPECT_EQ(IpLimiter::key_of("not an address"), "");

  IpLimiter l(1, 1);
  double retry = 0;
  EXPECT_TRUE(l.take("2001:db8::1", 0, retry));
  EXPECT_FALSE(l.take("2001:db8::2", 0, retry)) << "the same /64";
  EXPECT_TRUE(l.take("2001:db8:0:1::1", 0, retry)) << "another /64";
  EXPECT_TRUE(l.take("192.0.2.7", 0, retry));
  EXPECT_FALSE(l.take("::ffff:192.0.2.7", 0, retry)) << "IPv4-mapped is the IPv4 address";
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(l.take("", 0, retry)) << "an unknown address is not limited";
    EXPECT_TRUE(l.take("x", 0, retry));
  }
}

TEST(IpLimiter, ZeroIsOff) {
  IpLimiter l(0, 0);
  EXPECT_FALSE(l.enabled());
  double retry = 0;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(l.take("10.0.0.1", 0, retry));
  EXPECT_EQ(l.size(), 0u);
}

TEST(IpLimiter, MemoryIsBoundedAndTheLeastRecentlySeenGoFirst) {
  IpLimiter l(1, 1, 64);
  double retry = 0;
  auto addr = [](int i) {
    return "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
           std::to_string(i % 256);
  };
  for (int i = 0; i < 100000; ++i) l.take(addr(i), 0, retry);
  EXPECT_LE(l.size(), 64u);
  EXPECT_GE(l.size(), 32u);
  // An address seen again and again stays limited while others come and go: it is never the
  // least recently seen.
  EXPECT_TRUE(l.take("192.0.2.1", 1, retry));
  for (int i = 0; i < 10000; ++i) {
    EXPECT_FALSE(l.take("192.0.2.1", 1, retry)) << i;
    l.take(addr(i), 1, retry);
  }
  EXPECT_LE(l.size(), 64u);
}

}  // namespace
}  // namespace pz::server
