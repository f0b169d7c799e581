// Deterministic math: the same bits on every target. libm's exp/log may differ in the last bit
// between glibc (native) and musl (wasm), which would make a propensity, and so a decision,
// differ between browser and server. These use only IEEE-754 basic operations (+ - * / sqrt
// and exact scaling), which every target rounds identically (the core is built with
// -ffp-contract=off so that no multiply-add is fused on one target and not another).
// Accuracy: within 2 ulp of the true value on the whole range.
#pragma once

#include <cstdint>

namespace pz {

double det_exp(double x);
double det_log(double x);  // x <= 0: NaN for x < 0, -Infinity for 0
double det_sigmoid(double x);

// A small, fast, seedable PRNG (SplitMix64) with uniform and Beta sampling.
class DetRandom {
 public:
  explicit DetRandom(uint64_t seed) : state_(seed) {}
  uint64_t next_u64();
  double uniform();            // in (0, 1): never exactly 0 or 1
  double normal();             // standard normal (Marsaglia polar method)
  double gamma(double shape);  // Marsaglia-Tsang; shape > 0
  double beta(double alpha, double beta);

 private:
  uint64_t state_;
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace pz
