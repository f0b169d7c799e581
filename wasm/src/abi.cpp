// The C ABI of pz_core.wasm (Emscripten -sSTANDALONE_WASM, a WASI "reactor").
//
// Host protocol: instantiate with the imports listed in wasm/allowed-imports.txt, call the export
// `_initialize` once (runs static constructors), then use the functions below. Pointers are byte
// offsets into the exported `memory`; after any call that may allocate, re-read `memory.buffer`
// (it is replaced when memory grows; env.emscripten_notify_memory_growth is called then).
//
// Every export is extern "C" with only i32/i64/f64 parameters, so it is callable from any wasm
// host.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pz/cli.h"

#define PZ_EXPORT(name) extern "C" __attribute__((export_name(#name), used))

// Version of this ABI. Bumped on any incompatible change of the exports below.
PZ_EXPORT(pz_abi_version) int32_t pz_abi_version(void) { return 1; }

// Allocates `size` bytes (alignment 16, as malloc) in the module's memory for the host to fill.
// Returns 0 on failure. pz_alloc(0) returns a unique non-null pointer.
PZ_EXPORT(pz_alloc) void* pz_alloc(size_t size) { return std::malloc(size == 0 ? 1 : size); }

// Frees a pointer returned by pz_alloc (or 0, which is a no-op).
PZ_EXPORT(pz_free) void pz_free(void* ptr) { std::free(ptr); }

// Smoke test that runs the whole core (JSON, rules, bundle, profile, segments, the CLI
// protocols) and compares bytes with what the native build prints: 1 if all match, else 0.
// (Until the JSON ABI of the SDK issue lands, this export is also what links the core in.)
PZ_EXPORT(pz_selftest) int32_t pz_selftest(void) {
  pz::JsonParser parser;
  if (pz::cli::eval_line(R"({"rule":{"+":[0.1,0.2]}})", 1, parser) !=
      R"({"result":0.30000000000000004})") {
    return 0;
  }
  pz::cli::Simulator sim;
  if (!sim.init(R"({"version":"selftest","consent":{"mode":"opt-out"},
      "metrics":[{"id":"pv","event":"page_view","where":{"starts_with":[{"var":"page.path"},"/p"]}}],
      "segments":[{"id":"seen","rule":{">=":[{"metric":["pv","7d"]},1]}}],
      "defaults":{"hero":{"content":{"title":"Welcome"}}}})",
                "sim")
           .ok()) {
    return 0;
  }
  std::string out;
  if (sim.feed(R"({"t":1000,"type":"page_view","page":{"path":"/pricing"}})", 1, out)) return 0;
  if (!sim.feed(R"({"t":2000,"decide":["hero"]})", 2, out)) return 0;
  return out == R"({"t":2000,"segments":["seen"],"decisions":[{"slot":"hero","action":null,"content":{"title":"Welcome"}}]})"
             ? 1
             : 0;
}
