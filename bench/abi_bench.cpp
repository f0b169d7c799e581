// The wasm module's C ABI (wasm/src/abi.cpp) compiled natively and driven exactly as
// bench/wasm_bench.mjs drives the wasm module: the same pz_call ops with the same JSON text in
// and the same envelope JSON out. wasm_bench.mjs runs this next to the wasm core, so that the
// wasm/native ratio compares one program on two targets (bench/core_bench.cpp measures the
// core's C++ API instead, without the envelope).
//
// Usage: pz_abi_bench DIR [--events N] [--no-decide]
//   DIR is what `pz_bench --emit DIR` writes (bundle.json, setup.json, events.jsonl).
//   --no-decide: the ingest loop only (to count an ingest's instructions under callgrind).
// Prints one JSON line: {"ingest_us":…,"event_and_decide_us":…,"decisions":…}, µs per call
// as the median of chunks (1,000 ingests, 100 event + decide pairs).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "median.h"
#include "pz/json.h"

extern "C" {
int32_t pz_engine_new(void);
int32_t pz_release(int32_t h);
const char* pz_result_ptr(void);
int32_t pz_result_len(void);
int32_t pz_call(int32_t h, int32_t op, const char* a_ptr, int32_t a_len, const char* b_ptr,
                int32_t b_len, double num);
}

namespace {

// Ops of pz_call (docs/abi.md).
constexpr int32_t kLoadBundle = 1, kIngest = 3, kIdentify = 5, kContext = 6, kDecide = 8;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "abi_bench: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string_view result() {
  return std::string_view(pz_result_ptr(), static_cast<size_t>(pz_result_len()));
}

// Runs an op; exits with the envelope when it is not {"ok":true,...}.
std::string_view call(int32_t h, int32_t op, std::string_view in, double now) {
  pz_call(h, op, in.data(), static_cast<int32_t>(in.size()), nullptr, 0, now);
  std::string_view out = result();
  if (out.substr(0, 10) != "{\"ok\":true") {
    std::fprintf(stderr, "abi_bench: op %d failed: %.*s\n", op, static_cast<int>(out.size()),
                 out.data());
    std::exit(1);
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// µs per call: the median of chunks (bench/median.h).
template <typename Fn>
double median_us(long n, long chunk, Fn fn) {
  return pz::bench::median_seconds(n, chunk, fn) * 1e6;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pz_abi_bench DIR [--events N]\n");
    return 2;
  }
  const std::string dir = argv[1];
  long n = 100000;
  bool decide_too = true;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--events") && i + 1 < argc) n = std::atol(argv[i + 1]);
    if (!std::strcmp(argv[i], "--no-decide")) decide_too = false;
  }
  if (n < 1) n = 1;
  const std::string bundle = slurp(dir + "/bundle.json");
  pz::Result<pz::Value> setup = pz::parse_json(slurp(dir + "/setup.json"));
  if (!setup.ok()) {
    std::fprintf(stderr, "abi_bench: setup.json: %s\n", setup.status().message().c_str());
    return 2;
  }
  const pz::Value& s = setup.value();
  const double now = s.find("now")->as_number();
  const std::string identify = "{\"user_id\":" + pz::to_json(*s.find("user_id")) +
                               ",\"traits\":" + pz::to_json(*s.find("traits")) + "}";
  const std::string context = pz::to_json(*s.find("context"));
  std::vector<std::string> lines;
  std::vector<double> times;
  {
    std::istringstream in(slurp(dir + "/events.jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      pz::Result<pz::Value> e = pz::parse_json(line);
      if (!e.ok()) return 2;
      times.push_back(e.value().find("t")->as_number());
      lines.push_back(std::move(line));
    }
  }
  if (lines.empty()) return 2;
  const std::string decide = "{\"slots\":[\"hero\",\"banner\",\"sidebar\"]}";

  auto fresh = [&] {
    int32_t h = pz_engine_new();
    call(h, kLoadBundle, bundle, 0);
    call(h, kIdentify, identify, now);
    call(h, kContext, context, 0);
    for (size_t i = 0; i < 2000; ++i) call(h, kIngest, lines[i % lines.size()], 0);
    return h;
  };

  // Ingest + incremental re-segmentation, per event (as wasm_bench.mjs).
  int32_t h = fresh();
  const double ingest_us = median_us(
      n, 1000, [&](long i) { call(h, kIngest, lines[static_cast<size_t>(i) % lines.size()], 0); });
  pz_release(h);

  // An event and a 3-slot decision at its time (a fresh engine, same set-up).
  h = fresh();
  const long pairs = decide_too ? std::max(1L, n / 20) : 0;
  size_t decided = 0;
  const double pair_us = pairs > 0
                             ? median_us(pairs, 100,
                                         [&](long i) {
                                           size_t k = static_cast<size_t>(i) % lines.size();
                                           call(h, kIngest, lines[k], 0);
                                           decided += call(h, kDecide, decide, times[k]).size();
                                         })
                             : 0;
  pz_release(h);
  std::printf("{\"ingest_us\":%.3f,\"event_and_decide_us\":%.3f,\"decide_bytes\":%zu}\n", ingest_us,
              pair_us, pairs > 0 ? decided / static_cast<size_t>(pairs) : 0);
  return 0;
}
