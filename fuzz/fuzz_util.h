// Helpers shared by the libFuzzer targets in fuzz/ (built by fuzz/Makefile via scripts/fuzz.sh).
// A violated invariant prints what was seen and stops with __builtin_trap(), which libFuzzer
// reports as a crash with the input saved as a reproducer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "pz/json.h"
#include "pz/value.h"

namespace pz_fuzz {

inline std::string_view bytes(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

[[noreturn]] inline void fail(const char* what, std::string_view a = {}, std::string_view b = {}) {
  std::fprintf(stderr, "\n==== pz fuzz invariant violated: %s\n", what);
  if (!a.empty()) std::fprintf(stderr, "---- first:  %.*s\n", static_cast<int>(a.size()), a.data());
  if (!b.empty()) std::fprintf(stderr, "---- second: %.*s\n", static_cast<int>(b.size()), b.data());
  std::fflush(stderr);
  __builtin_trap();
}

#define PZ_FUZZ_CHECK(cond, ...)                        \
  do {                                                  \
    if (!(cond)) ::pz_fuzz::fail(#cond, ##__VA_ARGS__); \
  } while (0)

// `text` must be JSON that parses, and serializing the parsed value must give `text` back
// (everything the runtime prints is to_json output, which is a fixed point of parse+to_json).
inline void check_serialized(std::string_view text) {
  pz::Result<pz::Value> again = pz::parse_json(text);
  if (!again.ok()) fail("serialized output does not parse", text, again.status().message());
  std::string round = pz::to_json(again.value());
  if (round != text) fail("serialized output is not stable under parse + to_json", text, round);
}

// Serializes `v` and checks the result as above.
inline std::string serialize_checked(const pz::Value& v) {
  std::string text = pz::to_json(v);
  check_serialized(text);
  return text;
}

}  // namespace pz_fuzz
