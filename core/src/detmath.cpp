#include "pz/detmath.h"

#include <cmath>
#include <cstring>

namespace pz {
namespace {

// ln 2 split so that k * kLn2Hi is exact for |k| < 2^11.
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;

// 2^k for integer k in the normal range, built from the bits (exact).
double pow2(int k) {
  uint64_t bits = static_cast<uint64_t>(k + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

}  // namespace

double det_exp(double x) {
  if (std::isnan(x)) return x;
  if (x > 709.782712893384) return INFINITY;
  if (x < -745.1332191019411) return 0;
  // x = k ln2 + r, |r| <= ln2 / 2.
  double kf = std::floor(x * kInvLn2 + 0.5);
  int k = static_cast<int>(kf);
  double r = (x - kf * kLn2Hi) - kf * kLn2Lo;
  // exp(r) by its Taylor series to degree 13 (|r| < 0.347: error below 2^-60), Horner form.
  double p = 1.0 / 6227020800.0;
  static const double kInvFact[] = {1.0 / 479001600.0,
                                    1.0 / 39916800.0,
                                    1.0 / 3628800.0,
                                    1.0 / 362880.0,
                                    1.0 / 40320.0,
                                    1.0 / 5040.0,
                                    1.0 / 720.0,
                                    1.0 / 120.0,
                                    1.0 / 24.0,
                                    1.0 / 6.0,
                                    0.5,
                                    1.0,
                                    1.0};
  for (double c : kInvFact) p = p * r + c;
  // Scale by 2^k in two steps so that subnormal results are reached without overflow.
  if (k > 1000) return p * pow2(1000) * pow2(k - 1000);
  if (k < -1000) return p * pow2(-1000) * pow2(k + 1000);
  return p * pow2(k);
}

double det_log(double x) {
  if (std::isnan(x) || x < 0) return NAN;
  if (x == 0) return -INFINITY;
  if (std::isinf(x)) return x;
  int e = 0;
  double m = std::frexp(x, &e);  // exact: x = m * 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2;
    e -= 1;
  }
  // log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716: series to s^27.
  double s = (m - 1) / (m + 1);
  double s2 = s * s;
  double sum = 0;
  for (int n = 27; n >= 3; n -= 2) sum = sum * s2 + 1.0 / n;
  double log_m = 2 * s + 2 * s * s2 * sum;
  return (e * kLn2Hi + log_m) + e * kLn2Lo;
}

double det_sigmoid(double x) {
  if (x >= 0) return 1 / (1 + det_exp(-x));
  double e = det_exp(x);
  return e / (1 + e);
}

uint64_t DetRandom::next_u64() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double DetRandom::uniform() {
  // 53 random bits, shifted off zero: (n + 0.5) / 2^53.
  return (static_cast<double>(next_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double DetRandom::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u, v, s;
  do {
    u = 2 * uniform() - 1;
    v = 2 * uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  double f = std::sqrt(-2 * det_log(s) / s);
  spare_ = v * f;
  has_spare_ = true;
  return u * f;
}

double DetRandom::gamma(double shape) {
  if (shape < 1) {
    // Gamma(a) = Gamma(a + 1) * U^(1/a)
    double g = gamma(shape + 1);
    return g * det_exp(det_log(uniform()) / shape);
  }
  double d = shape - 1.0 / 3.0;
  double c = 1 / std::sqrt(9 * d);
  while (true) {
    double x, v;
    do {
      x = normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    double u = uniform();
    if (u < 1 - 0.0331 * (x * x) * (x * x)) return d * v;
    if (det_log(u) < 0.5 * x * x + d * (1 - v + det_log(v))) return d * v;
  }
}

double DetRandom::beta(double alpha, double beta_) {
  double x = gamma(alpha);
  double y = gamma(beta_);
  return x / (x + y);
}

}  // namespace pz
