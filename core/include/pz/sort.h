// The core's one sort: stable, and the same order on every target.
//
// std::sort and std::stable_sort are templates: each element type and comparator got its own
// copy of introsort or merge sort (60 functions, 23.7 KB of the wasm module's code, measured with
// bench/wasm_size.mjs). Here a single compiled merge sort orders a permutation through a comparator
// behind a function pointer, and each call site only instantiates a small adapter and the moves
// that apply the permutation. Being stable, ties keep their input order, so native (libstdc++)
// and wasm (libc++) builds cannot order equal elements differently.
#ifndef PZ_SORT_H_
#define PZ_SORT_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

namespace pz {

// Stably sorts the indices order[0..n) so that less(ctx, order[i + 1], order[i]) is false for
// every i. REQUIRES: n < 2^32 - 1.
void sort_indices(uint32_t* order, size_t n, bool (*less)(const void* ctx, uint32_t a, uint32_t b),
                  const void* ctx);

// Stably sorts [first, last) by `less` (a strict weak order), like std::stable_sort.
template <typename It, typename Less>
void stable_sort(It first, It last, Less less) {
  const size_t n = static_cast<size_t>(last - first);
  if (n < 2) return;
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  struct Context {
    It first;
    Less* less;
  } ctx{first, &less};
  sort_indices(
      order.data(), n,
      [](const void* c, uint32_t a, uint32_t b) {
        const Context& x = *static_cast<const Context*>(c);
        return (*x.less)(x.first[a], x.first[b]);
      },
      &ctx);
  // Position i takes the element that was at order[i]: follow each cycle of the permutation.
  const uint32_t done = static_cast<uint32_t>(n);
  for (size_t i = 0; i < n; ++i) {
    if (order[i] == done) continue;
    typename std::iterator_traits<It>::value_type held = std::move(first[i]);
    size_t j = i;
    while (order[j] != i) {
      const size_t from = order[j];
      first[j] = std::move(first[from]);
      order[j] = done;
      j = from;
    }
    first[j] = std::move(held);
    order[j] = done;
  }
}

template <typename It>
void stable_sort(It first, It last) {
  pz::stable_sort(first, last, [](const auto& a, const auto& b) { return a < b; });
}

}  // namespace pz

#endif  // PZ_SORT_H_
