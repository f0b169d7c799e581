// Timing helper shared by the native benches (core_bench.cpp, abi_bench.cpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace pz::bench {

// Seconds per call of fn(i) for i in [0, n): the median of chunks of `chunk` calls (a shared
// machine interrupts some chunks; the median is what the code costs). wasm_bench.mjs does the
// same in node.
template <typename Fn>
double median_seconds(long n, long chunk, Fn fn) {
  std::vector<double> per_call;
  for (long start = 0; start < n; start += chunk) {
    const long end = std::min(n, start + chunk);
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = start; i < end; ++i) fn(i);
    per_call.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
        static_cast<double>(end - start));
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace pz::bench
