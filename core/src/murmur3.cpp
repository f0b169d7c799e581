#include "pz/murmur3.h"

#include <cstddef>
#include <cstdint>

namespace pz {
namespace {

constexpr uint32_t kC1 = 0xcc9e2d51u;
constexpr uint32_t kC2 = 0x1b873593u;

// Rotate left; `r` is in 1..31 at every call site, so neither shift is by 32.
constexpr uint32_t Rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Final avalanche of the reference implementation.
constexpr uint32_t Fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// Mixes one 32-bit block (or the zero-padded tail) before it is xored into the state.
constexpr uint32_t MixK(uint32_t k) {
  k *= kC1;
  k = Rotl32(k, 15);
  k *= kC2;
  return k;
}

}  // namespace

uint32_t murmur3_32(std::string_view bytes, uint32_t seed) {
  // All arithmetic is on uint32_t (unsigned, wraps modulo 2^32: no overflow UB). uint32_t is at
  // least as wide as int on every target we build for, so nothing is promoted to signed int.
  const size_t len = bytes.size();
  const size_t nblocks = len / 4;
  uint32_t h = seed;

  // Body: little-endian 32-bit blocks read one byte at a time (no unaligned or type-punned loads).
  for (size_t i = 0; i < nblocks; ++i) {
    const size_t o = i * 4;
    const uint32_t k = static_cast<uint32_t>(static_cast<unsigned char>(bytes[o])) |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[o + 1])) << 8 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[o + 2])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[o + 3])) << 24;
    h ^= MixK(k);
    h = Rotl32(h, 13);
    h = h * 5u + 0xe6546b64u;
  }

  // Tail: the 0..3 bytes after the last full block, little-endian, zero-padded.
  const size_t tail = nblocks * 4;
  uint32_t k1 = 0;
  switch (len & 3u) {
    case 3:
      k1 ^= static_cast<uint32_t>(static_cast<unsigned char>(bytes[tail + 2])) << 16;
      [[fallthrough]];
    case 2:
      k1 ^= static_cast<uint32_t>(static_cast<unsigned char>(bytes[tail + 1])) << 8;
      [[fallthrough]];
    case 1:
      k1 ^= static_cast<uint32_t>(static_cast<unsigned char>(bytes[tail]));
      h ^= MixK(k1);
      break;
    default:
      break;
  }

  // Finalization: the length is mixed in modulo 2^32, as the reference does with its int length.
  h ^= static_cast<uint32_t>(len);
  return Fmix32(h);
}

}  // namespace pz
