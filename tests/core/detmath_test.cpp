// Deterministic math against libm (accuracy) and as distributions (sampling).
#include "pz/detmath.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace pz {
namespace {

double UlpDistance(double a, double b) {
  if (a == b) return 0;
  return std::fabs(a - b) / std::fabs(std::nextafter(b, INFINITY) - b);
}

TEST(DetMath, ExpAndLogAreWithinTwoUlpOfLibm) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> wide(-700, 700), unit(0, 1);
  for (int i = 0; i < 200000; ++i) {
    double x = i % 2 ? wide(rng) : unit(rng) * 2 - 1;
    EXPECT_LE(UlpDistance(det_exp(x), std::exp(x)), 2.0) << x;
    double y = std::ldexp(unit(rng) + 0.5, static_cast<int>(rng() % 2000) - 1000);
    EXPECT_LE(UlpDistance(det_log(y), std::log(y)), 2.0) << y;
  }
  EXPECT_EQ(det_exp(0), 1);
  EXPECT_EQ(det_log(1), 0);
  EXPECT_EQ(det_exp(1000), INFINITY);
  EXPECT_EQ(det_exp(-1000), 0);
  EXPECT_TRUE(std::isnan(det_log(-1)));
  EXPECT_EQ(det_log(0), -INFINITY);
  EXPECT_GT(det_exp(-740), 0);  // subnormal results are reached
  EXPECT_EQ(det_sigmoid(0), 0.5);
  EXPECT_NEAR(det_sigmoid(3), 1 / (1 + std::exp(-3)), 1e-15);
  EXPECT_NEAR(det_sigmoid(-800), 0, 1e-300);
}

TEST(DetMath, SameSeedSameSequence) {
  DetRandom a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    double x = a.beta(3, 7);
    EXPECT_EQ(x, b.beta(3, 7));
    EXPECT_NE(x, c.beta(3, 7));
  }
}

TEST(DetMath, BetaSamplesHaveTheRightMoments) {
  struct Case {
    double a, b;
  } cases[] = {{1, 1}, {2, 5}, {0.5, 0.5}, {30, 970}, {0.2, 3}};
  for (const Case& c : cases) {
    DetRandom r(7);
    const int n = 40000;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; ++i) {
      double x = r.beta(c.a, c.b);
      ASSERT_GT(x, 0);
      ASSERT_LT(x, 1);
      sum += x;
      sum2 += x * x;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    double want_mean = c.a / (c.a + c.b);
    double want_var = c.a * c.b / ((c.a + c.b) * (c.a + c.b) * (c.a + c.b + 1));
    // Standard error of the mean is sqrt(var/n); allow 5 of them.
    EXPECT_NEAR(mean, want_mean, 5 * std::sqrt(want_var / n)) << c.a << "," << c.b;
    EXPECT_NEAR(var, want_var, 0.1 * want_var) << c.a << "," << c.b;
  }
}

}  // namespace
}  // namespace pz
