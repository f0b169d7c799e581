// Helpers shared by the libFuzzer targets in fuzz/ (built by fuzz/Makefile via scripts/fuzz.sh).
// A violated invariant prints what was seen and stops with __builtin_trap(), which libFuzzer
// reports as a crash with the input saved as a reproducer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "pz/bundle.h"
#include "pz/json.h"
#include "pz/value.h"

#ifndef PZ_FUZZ_DEMO_BUNDLE
#define PZ_FUZZ_DEMO_BUNDLE "demo-site/bundle.json"
#endif

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
  static pz::JsonParser* parser = new pz::JsonParser();  // reused: its buffers stay allocated
  pz::Result<pz::Value> again = parser->parse(text);
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

// The demo bundle's text (demo-site/bundle.json), read once: $PZ_FUZZ_DEMO_BUNDLE if set (fuzz.sh
// sets it), else the path baked in at compile time (-DPZ_FUZZ_DEMO_BUNDLE=..., fuzz/Makefile).
// Aborts when it cannot be read: a fuzzer without its bundle would test nothing.
inline const std::string& demo_bundle() {
  static const std::string* text = [] {
    const char* path = std::getenv("PZ_FUZZ_DEMO_BUNDLE");
    if (path == nullptr || *path == '\0') path = PZ_FUZZ_DEMO_BUNDLE;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "pz fuzz: cannot read the demo bundle %s\n", path);
      std::abort();
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return new std::string(ss.str());
  }();
  return *text;
}

// JSON the fuzzer itself wrote, parsed; aborts (a bug in the fuzzer) when it does not parse.
inline pz::Value parse_or_die(std::string_view text) {
  pz::Result<pz::Value> v = pz::parse_json(text);
  if (!v.ok()) fail("fixed JSON does not parse", text, v.status().message());
  return v.take();
}

// The demo bundle compiled once, shared by every engine of a fuzzer; aborts when it does not
// compile.
inline std::shared_ptr<const pz::Bundle> compiled_demo_bundle() {
  static const std::shared_ptr<const pz::Bundle>* compiled = [] {
    auto b = std::make_shared<pz::Bundle>();
    std::vector<pz::BundleError> errors;
    if (!pz::compile_bundle(demo_bundle(), *b, errors)) {
      std::fprintf(stderr, "pz fuzz: the demo bundle does not compile:\n%s\n",
                   pz::format_errors(errors).c_str());
      std::abort();
    }
    return new std::shared_ptr<const pz::Bundle>(std::move(b));
  }();
  return *compiled;
}

// The input split at '\n' (a trailing newline gives no empty last line), at most `max` lines.
inline std::vector<std::string_view> lines(std::string_view text, size_t max) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size() && out.size() < max) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace pz_fuzz
