// pz::stable_sort (pz/sort.h): the core's one sort, against std::stable_sort on random inputs.
#include "pz/sort.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace pz {
namespace {

// Sizes around the insertion-sort runs (16) and the merge widths, with many ties: the result must
// be std::stable_sort's, element for element (ties in input order).
TEST(Sort, EqualsStdStableSortWithTies) {
  std::mt19937 rng(20261207);
  for (size_t n : {0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 64, 100, 257, 1000, 4099}) {
    for (int round = 0; round < 5; ++round) {
      std::vector<std::pair<int, int>> items(n);  // (key, original position)
      const int keys = round == 0 ? 1 : static_cast<int>(n / (round + 1)) + 1;
      for (size_t i = 0; i < n; ++i) {
        items[i] = {static_cast<int>(rng() % static_cast<uint32_t>(keys)), static_cast<int>(i)};
      }
      auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
      std::vector<std::pair<int, int>> expected = items;
      std::stable_sort(expected.begin(), expected.end(), by_key);
      pz::stable_sort(items.begin(), items.end(), by_key);
      ASSERT_EQ(items, expected) << "n=" << n << " round=" << round;
    }
  }
}

// Elements that own memory are moved along the permutation's cycles, none lost or duplicated.
TEST(Sort, MovesStringsAlongThePermutation) {
  std::mt19937 rng(7);
  std::vector<std::string> words;
  for (int i = 0; i < 500; ++i) {
    words.push_back(std::string(1 + rng() % 40, static_cast<char>('a' + rng() % 26)) +
                    std::to_string(i));
  }
  std::vector<std::string> expected = words;
  std::sort(expected.begin(), expected.end());
  pz::stable_sort(words.begin(), words.end());
  EXPECT_EQ(words, expected);
}

TEST(Sort, AlreadySortedAndReversed) {
  std::vector<int> up(300), down(300);
  for (int i = 0; i < 300; ++i) {
    up[i] = i;
    down[i] = 299 - i;
  }
  pz::stable_sort(up.begin(), up.end());
  pz::stable_sort(down.begin(), down.end());
  EXPECT_EQ(up, down);
  EXPECT_TRUE(std::is_sorted(up.begin(), up.end()));
  std::vector<int> descending = up;
  pz::stable_sort(descending.begin(), descending.end(), [](int a, int b) { return a > b; });
  EXPECT_EQ(descending.front(), 299);
  EXPECT_EQ(descending.back(), 0);
}

}  // namespace
}  // namespace pz
