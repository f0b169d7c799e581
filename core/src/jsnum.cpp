#include "pz/jsnum.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace pz {
namespace {

constexpr double kTwo53 = 9007199254740992.0;
constexpr double kTwo32 = 4294967296.0;

uint64_t double_bits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

double from_bits_of(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// v * 10^e in one binary64 operation. REQUIRES: -22 <= e <= 22, so that 10^|e| is an exact
// double. When v is exact too (an integer below 2^53), the result is correctly rounded: Clinger's
// fast path (with SSE2 or wasm arithmetic, not x87).
double scale10(double v, int e) {
  double p = 1;
  for (int i = 0; i < e || i < -e; ++i) p *= 10;
  return e < 0 ? v / p : v * p;
}

// ---------------------------------------------------------------------------------------------
// Formatting.

// The decimal d1.d2...dlen * 10^exp10: `digits` holds len ASCII digits, digits[0] != '0'.
struct Decimal {
  char digits[24];
  int len;
  int exp10;
};

// Adds one unit in the last place to `dec` (carry may bump the exponent).
void increment_last_digit(Decimal* dec) {
  int i = dec->len - 1;
  while (i >= 0 && dec->digits[i] == '9') {
    dec->digits[i] = '0';
    --i;
  }
  if (i >= 0) {
    ++dec->digits[i];
  } else {
    dec->digits[0] = '1';  // 99..9 -> 100..0
    ++dec->exp10;
  }
}

// The exact decimal expansion d1.d2...dlen * 10^exp10 of a positive finite double: digits[0] !=
// '0', digits[len - 1] != '0', and every char from digits[len] on is '0'. A double is m * 2^e with
// m < 2^53 and -1074 <= e <= 971, so it has at most 767 significant digits (m * 5^1074 < 10^767).
struct ExactDecimal {
  char digits[768];
  int len;
  int exp10;
};

// Writes the exact decimal expansion of positive finite v = m * 2^e: for e >= 0 the digits of the
// integer N = m * 2^e (< 2^1024), for e < 0 those of N = m * 5^-e, as v = N * 10^e. N is a big
// integer in base 10^9 (86 limbs hold 774 digits): printing it needs no big division.
void exact_decimal(double v, ExactDecimal* out) {
  constexpr uint32_t kBase = 1000000000;
  const uint64_t bits = double_bits(v);
  const int biased_exp = static_cast<int>(bits >> 52);  // v > 0: no sign bit
  uint64_t m = bits & ((uint64_t{1} << 52) - 1);
  int e = -1074;
  if (biased_exp != 0) {
    m |= uint64_t{1} << 52;
    e = biased_exp - 1075;
  }
  while ((m & 1) == 0) {  // fewer factors of 5 to multiply in (0.5 = 1 * 2^-1)
    m >>= 1;
    ++e;
  }
  uint32_t limbs[86];  // least significant first
  limbs[0] = static_cast<uint32_t>(m % kBase);
  limbs[1] = static_cast<uint32_t>(m / kBase);  // m < 2^53 < 10^18
  int size = limbs[1] != 0 ? 2 : 1;
  for (int k = e < 0 ? -e : e; k > 0;) {
    // Multiply by 5^13 (< 2^31) or 2^31 at a time: limb * factor + carry < 2^62.
    const int step = std::min(k, e < 0 ? 13 : 31);
    uint64_t factor = 1;
    for (int i = 0; i < step; ++i) factor *= e < 0 ? 5 : 2;
    k -= step;
    uint64_t carry = 0;
    for (int i = 0; i < size; ++i) {
      const uint64_t product = limbs[i] * factor + carry;
      limbs[i] = static_cast<uint32_t>(product % kBase);
      carry = product / kBase;
    }
    for (; carry != 0; carry /= kBase) limbs[size++] = static_cast<uint32_t>(carry % kBase);
  }
  std::memset(out->digits, '0', sizeof out->digits);
  int len = 0;
  for (int i = size - 1; i >= 0; --i) {
    char chunk[9];
    uint32_t limb = limbs[i];
    for (int j = 8; j >= 0; --j, limb /= 10) chunk[j] = static_cast<char>('0' + limb % 10);
    for (char c : chunk) {
      if (len > 0 || c != '0') out->digits[len++] = c;  // skips the top limb's leading zeros
    }
  }
  out->exp10 = len - 1 + (e < 0 ? e : 0);
  while (out->digits[len - 1] == '0') --len;
  out->len = len;
}

// `exact` correctly rounded to `precision` (1..17) significant digits, ties to even: what
// printf("%.*e") prints in the default rounding mode.
void round_exact(const ExactDecimal& exact, int precision, Decimal* dec) {
  std::memcpy(dec->digits, exact.digits, precision);
  dec->len = precision;
  dec->exp10 = exact.exp10;
  const char next = exact.digits[precision];
  const bool tie = next == '5' && exact.len == precision + 1;  // no trailing zeros: else above
  const bool odd = (dec->digits[precision - 1] - '0') % 2 != 0;
  if (next > '5' || (next == '5' && (!tie || odd))) increment_last_digit(dec);
}

// ---------------------------------------------------------------------------------------------
// Decimal to double.

// This many significant digits are kept, and whether any nonzero digit was cut off; that decides
// the rounding exactly (a midpoint between two doubles has at most 767 significant digits).
constexpr int kKeptDigits = 768;

// An unsigned big integer: little-endian 32-bit limbs, fixed capacity. 192 limbs (6144 bits) hold
// every number correct_rounding() forms: D < 10^769 (2555 bits), 5^1093 * (2^54 - 1) (2592 bits)
// shifted left by at most 2063 bits (see there).
struct BigNum {
  static constexpr int kCapacity = 192;
  uint32_t limb[kCapacity];
  int size = 0;  // no leading zero limbs; 0 is size 0

  BigNum() = default;
  BigNum(const BigNum& other) { *this = other; }
  BigNum& operator=(const BigNum& other) {  // the limbs in use only
    size = other.size;
    std::memcpy(limb, other.limb, sizeof(uint32_t) * static_cast<size_t>(size));
    return *this;
  }

  void set(uint64_t v) {
    size = 0;
    for (; v != 0; v >>= 32) limb[size++] = static_cast<uint32_t>(v);
  }
  // this = this * m + add
  void mul_add(uint32_t m, uint32_t add) {
    uint64_t carry = add;
    for (int i = 0; i < size; ++i) {
      const uint64_t p = uint64_t{limb[i]} * m + carry;
      limb[i] = static_cast<uint32_t>(p);
      carry = p >> 32;
    }
    if (carry != 0) limb[size++] = static_cast<uint32_t>(carry);
  }
  void mul_pow5(int k) {
    for (; k >= 13; k -= 13) mul_add(1220703125, 0);  // 5^13 < 2^32
    uint32_t rest = 1;
    while (k-- > 0) rest *= 5;
    mul_add(rest, 0);
  }
  void shift_left(int bits) {
    if (size == 0 || bits == 0) return;
    const int limbs = bits / 32;
    const int rem = bits % 32;
    limb[size] = 0;
    for (int i = size; i >= 0; --i) {
      const uint32_t hi = limb[i];
      const uint32_t lo = i > 0 ? limb[i - 1] : 0;
      limb[i + limbs] = rem == 0 ? hi : (hi << rem) | (lo >> (32 - rem));
    }
    for (int i = 0; i < limbs; ++i) limb[i] = 0;
    size += limbs + 1;
    while (size > 0 && limb[size - 1] == 0) --size;
  }
};

int compare(const BigNum& a, const BigNum& b) {
  if (a.size != b.size) return a.size < b.size ? -1 : 1;
  for (int i = a.size - 1; i >= 0; --i) {
    if (a.limb[i] != b.limb[i]) return a.limb[i] < b.limb[i] ? -1 : 1;
  }
  return 0;
}

// The exact value D * 10^exp10 (D the decimal digits given), compared with halfway points between
// neighbouring doubles: as D * 5^exp10 * 2^exp10 (exp10 >= 0), or D * 2^exp10 against the halfway
// point times 5^-exp10 (exp10 < 0), so that both sides are integers times powers of two.
struct ExactValue {
  BigNum scaled;  // D * 5^max(exp10, 0)
  BigNum pow5;    // 5^max(-exp10, 0)
  int exp10;

  // Sign of (this value - (z + next_up(z)) / 2) for finite z >= 0.
  int compare_halfway(double z) const {
    const uint64_t bits = double_bits(z);
    const int biased = static_cast<int>(bits >> 52);
    uint64_t m = bits & ((uint64_t{1} << 52) - 1);
    int e = -1074;
    if (biased != 0) {
      m |= uint64_t{1} << 52;
      e = biased - 1075;
    }
    // halfway = (2m + 1) * 2^(e - 1), times pow5 when exp10 < 0
    BigNum half;
    half.set(2 * m + 1);
    if (exp10 < 0) {
      BigNum product;
      product.size = 0;
      for (int i = 0; i < pow5.size + half.size; ++i) product.limb[i] = 0;
      for (int i = 0; i < half.size; ++i) {
        uint64_t carry = 0;
        for (int j = 0; j < pow5.size; ++j) {
          const uint64_t t = uint64_t{half.limb[i]} * pow5.limb[j] + product.limb[i + j] + carry;
          product.limb[i + j] = static_cast<uint32_t>(t);
          carry = t >> 32;
        }
        product.limb[i + pow5.size] = static_cast<uint32_t>(carry);
      }
      product.size = pow5.size + half.size;
      while (product.size > 0 && product.limb[product.size - 1] == 0) --product.size;
      half = product;
    }
    const int value_pow2 = exp10;
    const int half_pow2 = e - 1;
    if (value_pow2 > half_pow2) {
      BigNum value = scaled;
      value.shift_left(value_pow2 - half_pow2);
      return compare(value, half);
    }
    half.shift_left(half_pow2 - value_pow2);
    return compare(scaled, half);
  }
};

// The double nearest to D * 10^exp10 (ties to even), D being the n digits at `digits` (n <=
// kKeptDigits + 1, digits[0] != '0'), exp10 in [-1093, 309]: a first estimate from the leading 19
// digits in binary64 arithmetic (a few units in the last place off at worst), then moved one
// double at a time until the exact value lies between the halfway points on either side
// (Clinger's AlgorithmR with exact big-integer comparisons; no tables).
double correct_rounding(const char* digits, int n, int exp10) {
  const int lead = n < 19 ? n : 19;
  uint64_t w = 0;
  for (int i = 0; i < lead; ++i) w = w * 10 + static_cast<uint64_t>(digits[i] - '0');
  int e = exp10 + (n - lead);
  double z = static_cast<double>(w);
  for (; e > 22; e -= 22) z *= 1e22;
  for (; e < -22; e += 22) z /= 1e22;
  z = scale10(z, e);
  if (std::isinf(z)) z = std::numeric_limits<double>::max();

  ExactValue x;
  x.exp10 = exp10;
  x.scaled.set(0);
  for (int i = 0; i < n;) {  // nine digits at a time
    uint32_t chunk = 0;
    uint32_t mul = 1;
    for (int k = 0; k < 9 && i < n; ++k, ++i) {
      chunk = chunk * 10 + static_cast<uint32_t>(digits[i] - '0');
      mul *= 10;
    }
    if (x.scaled.size == 0) {
      x.scaled.set(chunk);
    } else {
      x.scaled.mul_add(mul, chunk);
    }
  }
  x.pow5.set(1);
  if (exp10 >= 0) {
    x.scaled.mul_pow5(exp10);
  } else {
    x.pow5.mul_pow5(-exp10);
  }
  const auto up = [](double v) { return from_bits_of(double_bits(v) + 1); };
  const auto down = [](double v) { return from_bits_of(double_bits(v) - 1); };
  const auto even = [](double v) { return (double_bits(v) & 1) == 0; };
  for (;;) {
    const int above = x.compare_halfway(z);
    if (above > 0 || (above == 0 && !even(z))) {
      if (z == std::numeric_limits<double>::max()) return std::numeric_limits<double>::infinity();
      z = up(z);
      continue;
    }
    if (above == 0 || z == 0) return z;
    const double lower = down(z);
    const int below = x.compare_halfway(lower);
    if (below < 0 || (below == 0 && even(lower))) {
      z = lower;
      continue;
    }
    return z;
  }
}

// The double nearest to 0.D * 10^point (ties to even), D being the n digits at buf (n <=
// kKeptDigits + 1, buf[0] != '0' unless n == 0).
double digits_value(const char* buf, int n, int64_t point) {
  // 0.D * 10^point < 10^-325 rounds to 0; >= 10^309 overflows (DBL_MAX < 1.8e308).
  if (n == 0 || point < -324) return 0;
  if (point > 309) return std::numeric_limits<double>::infinity();
  const int exp = static_cast<int>(point) - n;  // value = D * 10^exp, exp in [-1093, 309]
  uint64_t d = 0;
  for (int i = 0; i < n && i < 19; ++i) d = d * 10 + static_cast<uint64_t>(buf[i] - '0');
  if (n <= 19 && d <= uint64_t{1} << 53 && exp >= -22 && exp <= 22) {
    return scale10(static_cast<double>(d), exp);  // Clinger's fast path
  }
  return correct_rounding(buf, n, exp);
}

// The double that reads back from `dec`.
double decimal_to_double(const Decimal& dec) {
  return digits_value(dec.digits, dec.len, dec.exp10 + 1);
}

// True if some `precision`-digit decimal reads back as v (positive, finite); stores the closest
// such decimal in *dec. `asymmetric` means v is a power of two whose lower neighbour is closer than
// the upper one, so the rounding interval is narrower below v: then the correctly rounded decimal
// may fall just outside below while its upper neighbour still reads back as v.
bool find_round_trip(double v, const ExactDecimal& exact, int precision, bool asymmetric,
                     Decimal* dec) {
  round_exact(exact, precision, dec);
  const double back = decimal_to_double(*dec);
  if (back == v) return true;
  if (!asymmetric || back > v) return false;
  increment_last_digit(dec);
  return decimal_to_double(*dec) == v;
}

// Shortest round-trip decimal of positive finite `v`, closest to v among those.
// "Some k-digit decimal round-trips" is monotonic in k (append a zero) and holds for k = 17, so
// this is a search over k in [1, 17]. The first probe is a guess from the exact digits: if those
// from position k through 16 are all 0s or all 9s, k digits probably suffice (e.g. 12.34 ->
// "12339999999999999857..."); otherwise 16. Then the guess's neighbour, then bisection. Typical
// values need 1-2 probes (one decimal-to-double each, two for powers of two), never more than 6.
Decimal shortest_decimal(double v) {
  const uint64_t bits = double_bits(v);
  const bool asymmetric = (bits & ((uint64_t{1} << 52) - 1)) == 0 && (bits >> 52) > 1;
  ExactDecimal exact;
  exact_decimal(v, &exact);
  const char* d = exact.digits;
  int guess = 16;
  for (int k = 1; k < 16; ++k) {
    if (d[k] != '0' && d[k] != '9') continue;
    int i = k + 1;
    while (i < 17 && d[i] == d[k]) ++i;
    if (i == 17) {
      guess = k;
      break;
    }
  }
  Decimal best;
  Decimal candidate;
  int lo = 1;
  int hi = 17;  // invariant: the answer is in [lo, hi]; best holds hi's decimal if have_best
  bool have_best = false;
  for (int step = 0; lo < hi; ++step) {
    int k;
    if (step == 0) {
      k = guess;
    } else if (step == 1) {
      k = have_best ? hi - 1 : lo;
    } else {
      k = (lo + hi) / 2;
    }
    if (find_round_trip(v, exact, k, asymmetric, &candidate)) {
      best = candidate;
      have_best = true;
      hi = k;
    } else {
      lo = k + 1;
    }
  }
  if (!have_best) round_exact(exact, 17, &best);  // 17 correctly rounded digits always round-trip
  while (best.len > 1 && best.digits[best.len - 1] == '0') --best.len;
  return best;
}

void append_uint64(std::string& out, uint64_t n) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  out.append(p, end - p);
}

// ---------------------------------------------------------------------------------------------
// Parsing.

// Length in bytes of the StrWhiteSpaceChar starting at s[i], or 0 if there is none.
size_t whitespace_at(std::string_view s, size_t i) {
  const size_t n = s.size() - i;
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 == ' ' || (b0 >= 0x09 && b0 <= 0x0D)) return 1;
  if (b0 < 0xC2 || n < 2) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b0 == 0xC2) return b1 == 0xA0 ? 2 : 0;  // U+00A0
  if (n < 3) return 0;
  const auto b2 = static_cast<unsigned char>(s[i + 2]);
  switch (b0) {
    case 0xE1:  // U+1680
      return b1 == 0x9A && b2 == 0x80 ? 3 : 0;
    case 0xE2:
      if (b1 == 0x80) {  // U+2000-U+200A, U+2028, U+2029, U+202F
        return (b2 >= 0x80 && b2 <= 0x8A) || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF ? 3 : 0;
      }
      // U+205F
      return b1 == 0x81 && b2 == 0x9F ? 3 : 0;
    case 0xE3:  // U+3000
      return b1 == 0x80 && b2 == 0x80 ? 3 : 0;
    case 0xEF:  // U+FEFF
      return b1 == 0xBB && b2 == 0xBF ? 3 : 0;
    default:
      return 0;
  }
}

std::string_view trim_leading(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t w = whitespace_at(s, i);
    if (w == 0) break;
    i += w;
  }
  return s.substr(i);
}

std::string_view trim_trailing(std::string_view s) {
  for (;;) {
    const size_t n = s.size();
    size_t w = 0;
    if (n >= 1 && whitespace_at(s, n - 1) == 1) {
      w = 1;
    } else if (n >= 2 && whitespace_at(s, n - 2) == 2) {
      w = 2;
    } else if (n >= 3 && whitespace_at(s, n - 3) == 3) {
      w = 3;
    }
    if (w == 0) return s;
    s.remove_suffix(w);
  }
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

size_t count_digits(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size() && is_digit(s[j])) ++j;
  return j - i;
}

// Longest prefix of `s` that is a StrDecimalLiteral.
struct DecimalPrefix {
  size_t len;  // 0 if there is no such prefix
  bool infinity;
  bool negative;
};

DecimalPrefix scan_decimal_prefix(std::string_view s) {
  DecimalPrefix r{0, false, false};
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    r.negative = s[i] == '-';
    ++i;
  }
  constexpr std::string_view kInfinity = "Infinity";
  if (s.substr(i, kInfinity.size()) == kInfinity) {
    r.len = i + kInfinity.size();
    r.infinity = true;
    return r;
  }
  const size_t int_digits = count_digits(s, i);
  i += int_digits;
  size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    frac_digits = count_digits(s, i + 1);
    if (int_digits == 0 && frac_digits == 0) return r;  // "." alone
    i += 1 + frac_digits;
  } else if (int_digits == 0) {
    return r;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    const size_t exp_digits = count_digits(s, j);
    if (exp_digits > 0) i = j + exp_digits;
  }
  r.len = i;
  return r;
}

// Value of a validated decimal literal prefix (not "Infinity"): [+-]? digits? ('.' digits?)?
// ([eE] [+-]? digits)? with at least one mantissa digit.
double decimal_value(std::string_view literal) {
  char buf[kKeptDigits + 1];
  int n = 0;            // significant digits kept in buf
  bool sticky = false;  // a nonzero digit beyond those
  int64_t point = 0;    // literal = 0.D * 10^point, D = the significant digits
  bool after_dot = false;
  size_t i = 0;
  const bool negative = literal[0] == '-';
  if (negative || literal[0] == '+') ++i;
  for (; i < literal.size() && literal[i] != 'e' && literal[i] != 'E'; ++i) {
    const char c = literal[i];
    if (c == '.') {
      after_dot = true;
    } else if (n == 0 && c == '0') {
      if (after_dot) --point;  // leading zero
    } else {
      if (!after_dot) ++point;
      if (n < kKeptDigits) {
        buf[n++] = c;
      } else {
        sticky |= c != '0';
      }
    }
  }
  if (i < literal.size()) {
    ++i;  // 'e'
    const bool negative_exp = literal[i] == '-';
    if (negative_exp || literal[i] == '+') ++i;
    // Saturates far beyond any string length, so that point + exp keeps its sign.
    int64_t exp = 0;
    for (; i < literal.size(); ++i) {
      if (exp < int64_t{1} << 50) exp = exp * 10 + (literal[i] - '0');
    }
    point += negative_exp ? -exp : exp;
  }
  if (sticky) buf[n++] = '1';  // stands for all the cut-off digits
  const double magnitude = digits_value(buf, n, point);
  return negative ? -magnitude : magnitude;
}

double prefix_value(std::string_view s, const DecimalPrefix& p) {
  if (p.infinity) {
    return p.negative ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
  }
  return decimal_value(s.substr(0, p.len));
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// Digits in radix 2^bits_per_digit (no prefix), correctly rounded to nearest-even; NaN if empty or
// any digit is invalid.
double radix_pow2_value(std::string_view digits, int bits_per_digit) {
  const int radix = 1 << bits_per_digit;
  if (digits.empty()) return std::numeric_limits<double>::quiet_NaN();
  uint64_t mantissa = 0;  // first (up to) 54 significant bits: 53 + the round bit
  int mantissa_bits = 0;
  bool sticky = false;  // any 1 bit beyond the round bit
  int64_t dropped_bits = 0;
  for (char c : digits) {
    const int d = digit_value(c);
    if (d >= radix) return std::numeric_limits<double>::quiet_NaN();
    for (int b = bits_per_digit - 1; b >= 0; --b) {
      const int bit = (d >> b) & 1;
      if (mantissa_bits == 0 && bit == 0) continue;  // leading zero
      if (mantissa_bits < 54) {
        mantissa = (mantissa << 1) | static_cast<uint64_t>(bit);
        ++mantissa_bits;
      } else {
        sticky |= bit != 0;
        if (dropped_bits < 4096) ++dropped_bits;  // beyond that the result is Infinity anyway
      }
    }
  }
  if (mantissa_bits == 54) {
    const bool round_bit = (mantissa & 1) != 0;
    mantissa >>= 1;
    ++dropped_bits;
    if (round_bit && (sticky || (mantissa & 1) != 0)) ++mantissa;  // may reach 2^53: still exact
  }
  return std::ldexp(static_cast<double>(mantissa), static_cast<int>(dropped_bits));
}

}  // namespace

void append_js_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (value == 0) {
    out += '0';  // also -0
    return;
  }
  if (value < 0) {
    out += '-';
    value = -value;
  }
  if (std::isinf(value)) {
    out += "Infinity";
    return;
  }
  if (value < kTwo53 && value == std::trunc(value)) {
    append_uint64(out, static_cast<uint64_t>(value));
    return;
  }
  const Decimal dec = shortest_decimal(value);
  const int k = dec.len;
  const int n = dec.exp10 + 1;  // value = 0.d1d2...dk * 10^n
  if (k <= n && n <= 21) {
    out.append(dec.digits, k);
    out.append(n - k, '0');
  } else if (0 < n && n <= 21) {
    out.append(dec.digits, n);
    out += '.';
    out.append(dec.digits + n, k - n);
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(-n, '0');
    out.append(dec.digits, k);
  } else {
    out += dec.digits[0];
    if (k > 1) {
      out += '.';
      out.append(dec.digits + 1, k - 1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    append_uint64(out, static_cast<uint64_t>(n - 1 >= 0 ? n - 1 : 1 - n));
  }
}

std::string format_js_number(double value) {
  std::string out;
  append_js_number(out, value);
  return out;
}

double js_string_to_number(std::string_view text) {
  const std::string_view s = trim_trailing(trim_leading(text));
  if (s.empty()) return 0;
  if (s.size() >= 2 && s[0] == '0') {
    switch (s[1]) {
      case 'x':
      case 'X':
        return radix_pow2_value(s.substr(2), 4);
      case 'o':
      case 'O':
        return radix_pow2_value(s.substr(2), 3);
      case 'b':
      case 'B':
        return radix_pow2_value(s.substr(2), 1);
      default:
        break;
    }
  }
  const DecimalPrefix p = scan_decimal_prefix(s);
  if (p.len != s.size()) return std::numeric_limits<double>::quiet_NaN();
  return prefix_value(s, p);
}

double js_parse_float(std::string_view text) {
  const std::string_view s = trim_leading(text);
  const DecimalPrefix p = scan_decimal_prefix(s);
  if (p.len == 0) return std::numeric_limits<double>::quiet_NaN();
  return prefix_value(s, p);
}

bool parse_json_number(std::string_view text, double& out) {
  const char* p = text.data();
  const char* const end = p + text.size();
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  if (p == end || !is_digit(*p)) return false;
  uint64_t mantissa = 0;  // meaningful while digits <= 19
  int digits = 0;         // integer and fraction digits read into mantissa
  if (*p == '0') {
    ++p;
  } else {
    for (; p < end && is_digit(*p); ++p, ++digits) mantissa = mantissa * 10 + (*p - '0');
  }
  int fraction = 0;
  if (p < end && *p == '.') {
    ++p;
    if (p == end || !is_digit(*p)) return false;
    for (; p < end && is_digit(*p); ++p, ++digits, ++fraction) {
      mantissa = mantissa * 10 + (*p - '0');
    }
  }
  int64_t exp = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool negative_exp = p < end && *p == '-';
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !is_digit(*p)) return false;
    for (; p < end && is_digit(*p); ++p) {
      if (exp < 100000) exp = exp * 10 + (*p - '0');
    }
    if (negative_exp) exp = -exp;
  }
  if (p != end) return false;
  const int64_t e = exp - fraction;
  if (digits <= 15 && e >= -22 && e <= 22) {
    // Clinger's fast path (mantissa < 10^15 < 2^53): one correctly rounded operation.
    const double v = scale10(static_cast<double>(mantissa), static_cast<int>(e));
    out = negative ? -v : v;
    return true;
  }
  out = decimal_value(text);
  return true;
}

double js_to_integer_or_infinity(double value) {
  if (std::isnan(value)) return 0;
  const double t = std::trunc(value);
  return t == 0 ? 0.0 : t;
}

uint32_t js_to_uint32(double value) {
  if (value >= 0 && value < kTwo32) return static_cast<uint32_t>(value);  // NaN fails both
  if (!std::isfinite(value)) return 0;
  double m = std::fmod(std::trunc(value), kTwo32);  // exact; sign of value
  if (m < 0) m += kTwo32;                           // exact: |m| < 2^32
  return static_cast<uint32_t>(m);
}

int32_t js_to_int32(double value) {
  if (value > -2147483649.0 && value < 2147483648.0) return static_cast<int32_t>(value);
  return static_cast<int32_t>(js_to_uint32(value));  // two's complement wrap (C++20)
}

}  // namespace pz
