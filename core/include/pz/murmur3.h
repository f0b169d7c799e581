// MurmurHash3, x86 32-bit variant (Austin Appleby's MurmurHash3_x86_32).
//
// Contract: the result depends only on the byte values of `bytes` and on `seed`, never on the
// host's endianness or on the alignment of the data (blocks are assembled byte by byte,
// little-endian, exactly as the reference implementation does on a little-endian machine). Pure,
// no allocation, no UB for any input, including an empty view with a null data pointer.
#ifndef PZ_MURMUR3_H_
#define PZ_MURMUR3_H_

#include <cstdint>
#include <string_view>

namespace pz {

// Hashes `bytes` (arbitrary bytes; a string is hashed as its raw bytes, e.g. its UTF-8 encoding).
uint32_t murmur3_32(std::string_view bytes, uint32_t seed = 0);

}  // namespace pz

#endif  // PZ_MURMUR3_H_
