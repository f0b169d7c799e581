#include "pz/sort.h"

namespace pz {

void sort_indices(uint32_t* order, size_t n, bool (*less)(const void* ctx, uint32_t a, uint32_t b),
                  const void* ctx) {
  // Insertion sort of runs of 16, then bottom-up merges through a buffer.
  constexpr size_t kRun = 16;
  for (size_t lo = 0; lo < n; lo += kRun) {
    const size_t hi = lo + kRun < n ? lo + kRun : n;
    for (size_t i = lo + 1; i < hi; ++i) {
      const uint32_t v = order[i];
      size_t j = i;
      for (; j > lo && less(ctx, v, order[j - 1]); --j) order[j] = order[j - 1];
      order[j] = v;
    }
  }
  if (n <= kRun) return;
  std::vector<uint32_t> buffer(n);
  uint32_t* from = order;
  uint32_t* to = buffer.data();
  for (size_t width = kRun; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      const size_t mid = lo + width < n ? lo + width : n;
      const size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t a = lo, b = mid, k = lo;
      while (a < mid && b < hi) to[k++] = less(ctx, from[b], from[a]) ? from[b++] : from[a++];
      while (a < mid) to[k++] = from[a++];
      while (b < hi) to[k++] = from[b++];
    }
    std::swap(from, to);
  }
  if (from != order) {
    for (size_t i = 0; i < n; ++i) order[i] = from[i];
  }
}

}  // namespace pz
