// Tests for pz/jsnum.h: hand-checked tables (expected values verified with node 20) plus
// randomized differential tests against node (which must be on PATH).

#include "pz/jsnum.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace pz {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

double from_bits(uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

// Same value, same sign of zero, or both NaN.
bool same_number(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return bits_of(a) == bits_of(b);
}

std::string hex_bits(double d) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits_of(d)));
  return buf;
}

// --------------------------------------------------------------------------------------------
// Tables.

TEST(JsNumFormat, Table) {
  struct Case {
    double value;
    const char* expected;
  };
  const Case cases[] = {
      {0.0, "0"},
      {-0.0, "0"},
      {kNaN, "NaN"},
      {kInf, "Infinity"},
      {-kInf, "-Infinity"},
      {1, "1"},
      {-1, "-1"},
      {100, "100"},
      {-123.456, "-123.456"},
      {-1.5, "-1.5"},
      {0.1 + 0.2, "0.30000000000000004"},
      {0.3, "0.3"},
      {4.35, "4.35"},
      {1.0 / 3, "0.3333333333333333"},
      {1.0000000000000002, "1.0000000000000002"},
      {1e21, "1e+21"},
      {1.2e21, "1.2e+21"},
      {1e20, "100000000000000000000"},
      {1e20 + 1, "100000000000000000000"},
      {123456789012345680000.0, "123456789012345680000"},
      {9.999999999999999e20, "999999999999999900000"},
      {123e18, "123000000000000000000"},
      {1234567890123456789.0, "1234567890123456800"},
      {1e16, "10000000000000000"},
      {9007199254740991.0, "9007199254740991"},
      {9007199254740992.0, "9007199254740992"},
      {-9007199254740992.0, "-9007199254740992"},
      {9007199254740994.0, "9007199254740994"},
      {9223372036854775808.0, "9223372036854776000"},
      {18446744073709551616.0, "18446744073709552000"},
      {1e100, "1e+100"},
      {1e-6, "0.000001"},
      {1.5e-6, "0.0000015"},
      {0.000001234, "0.000001234"},
      {1e-7, "1e-7"},
      {-1e-7, "-1e-7"},
      {1.5e-7, "1.5e-7"},
      {2.5e-7, "2.5e-7"},
      {5e-7, "5e-7"},
      {9.5367431640625e-7, "9.5367431640625e-7"},
      {123e-20, "1.23e-18"},
      {5e-324, "5e-324"},
      {1.5e-323, "1.5e-323"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {-1.7976931348623157e308, "-1.7976931348623157e+308"},
      // Powers of two whose correctly rounded 16-digit decimal falls just below the (narrower)
      // lower half of the rounding interval; the shortest form rounds the other way.
      {6.256509672447191e-148, "6.256509672447191e-148"},  // 2^-489
      {5.334411546303884e+241, "5.334411546303884e+241"},  // 2^803
  };
  for (const Case& c : cases) {
    EXPECT_EQ(format_js_number(c.value), c.expected) << "bits " << hex_bits(c.value);
  }
  std::string out = "x=";
  append_js_number(out, 2.5);
  append_js_number(out, -0.0);
  EXPECT_EQ(out, "x=2.50");
}

struct ParseCase {
  std::string_view text;
  double number;       // Number(text)
  double parse_float;  // parseFloat(text)
};

TEST(JsNumParse, Table) {
  using namespace std::string_view_literals;
  const ParseCase cases[] = {
      {"", 0, kNaN},
      {"  ", 0, kNaN},
      {" 12 ", 12, 12},
      {"\t\n\v\f\r 3 \r", 3, 3},
      {"\u00a0 5", 5, 5},
      {"\ufeff7\u3000", 7, 7},
      {"\u20281\u2029", 1, 1},  // \u takes exactly four hex digits
      {"\u1680\u2000\u200a\u202f\u205f8", 8, 8},
      {"\u180e1", kNaN, kNaN},  // no longer whitespace since Unicode 6.3
      {"\u0085 1", kNaN, kNaN},
      {"1\u200b", kNaN, 1},
      {"1\0"sv, kNaN, 1},
      {"0x1F", 31, 0},
      {"0X1f", 31, 0},
      {"-0x1F", kNaN, -0.0},
      {"+0x1F", kNaN, 0},
      {"0x", kNaN, 0},
      {"0x1p3", kNaN, 0},
      {"0xg", kNaN, 0},
      {"0xffffffffffffffffff", 4.722366482869645e+21, 0},
      {"0x20000000000001", 9007199254740992.0, 0},  // tie -> even
      {"0x20000000000003", 9007199254740996.0, 0},  // tie -> even (up)
      {"0b101", 5, 0},
      {"0B11", 3, 0},
      {"0b2", kNaN, 0},
      {"0o17", 15, 0},
      {"0O17", 15, 0},
      {"0o8", kNaN, 0},
      {"00012", 12, 12},
      {"0", 0, 0},
      {"-0", -0.0, -0.0},
      {"+0", 0, 0},
      {"1", 1, 1},
      {"1.", 1, 1},
      {".5", 0.5, 0.5},
      {"+.5", 0.5, 0.5},
      {"5.e-1", 0.5, 0.5},
      {"1e3", 1000, 1000},
      {"-1.5E-3", -1.5e-3, -1.5e-3},
      {"-.5e-3", -0.0005, -0.0005},
      {"0.0000001", 1e-7, 1e-7},
      {"1e", kNaN, 1},
      {"1e+", kNaN, 1},
      {".", kNaN, kNaN},
      {".e1", kNaN, kNaN},
      {"e5", kNaN, kNaN},
      {"+", kNaN, kNaN},
      {"--1", kNaN, kNaN},
      {"+-1", kNaN, kNaN},
      {"- 1", kNaN, kNaN},
      {"1 2", kNaN, 1},
      {"1_000", kNaN, 1},
      {"12abc", kNaN, 12},
      {"1e-400", 0, 0},
      {"1e400", kInf, kInf},
      {"-1e1000", -kInf, -kInf},
      {"1e99999999999999999999", kInf, kInf},
      {"Infinity", kInf, kInf},
      {"+Infinity", kInf, kInf},
      {"-Infinity", -kInf, -kInf},
      {"infinity", kNaN, kNaN},
      {"inf", kNaN, kNaN},
      {"-Inf", kNaN, kNaN},
      {"nan", kNaN, kNaN},
      {"NaN", kNaN, kNaN},
      {"3px", kNaN, 3},
      {"-.5e-2x", kNaN, -0.005},
      {"Infinityx", kNaN, kInf},
      {"  -Infinity1", kNaN, -kInf},
      {".5.5", kNaN, 0.5},
      {"1e5e5", kNaN, 100000},
      {"1.e5", 100000, 100000},
      {"-.e5", kNaN, kNaN},
      {"0x10", 16, 0},
      {"1e+x", kNaN, 1},
      {"1E-2", 0.01, 0.01},
      {"0.30000000000000004", 0.30000000000000004, 0.30000000000000004},
      {"2.2250738585072011e-308", 2.225073858507201e-308, 2.225073858507201e-308},
      // Half of the smallest subnormal is 2.4703282292062327208...e-324 (a tie goes to 0, even).
      {"2.4703282292062327e-324", 0, 0},
      {"2.4703282292062328e-324", 5e-324, 5e-324},
      {"-2.4703282292062328e-324", -5e-324, -5e-324},
      {"1.7976931348623158e308", 1.7976931348623157e308, 1.7976931348623157e308},
      {"1.7976931348623159e308", kInf, kInf},  // above DBL_MAX + half an ulp
      {"0.1e310", kInf, kInf},
      {"9007199254740993", 9007199254740992.0, 9007199254740992.0},  // tie -> even
      {"9007199254740995", 9007199254740996.0, 9007199254740996.0},  // tie -> even (up)
      {"18446744073709551615", 18446744073709551616.0, 18446744073709551616.0},
      {"-00.00e5", -0.0, -0.0},
      {"0e99999999999", 0, 0},
      {"+.5e-3", 0.0005, 0.0005},
      {"123456789012345678901234567890e-10", 12345678901234567890.0, 12345678901234567890.0},
  };
  for (const ParseCase& c : cases) {
    const std::string shown(c.text);
    EXPECT_TRUE(same_number(js_string_to_number(c.text), c.number))
        << "Number(\"" << shown << "\") = " << js_string_to_number(c.text);
    EXPECT_TRUE(same_number(js_parse_float(c.text), c.parse_float))
        << "parseFloat(\"" << shown << "\") = " << js_parse_float(c.text);
  }
  // Long inputs and long hex.
  const std::string long_decimal = "0." + std::string(300, '0') + "1e301";
  EXPECT_EQ(js_string_to_number(long_decimal), 1.0);
  // The exponent and the position of the point add up before anything is rounded.
  EXPECT_EQ(js_string_to_number("0." + std::string(700000, '0') + "1e700005"), 10000);
  EXPECT_EQ(js_parse_float("1" + std::string(700000, '0') + "e-700000x"), 1);
  EXPECT_EQ(js_string_to_number("1" + std::string(700000, '0') + "e-99999999999999999999"), 0);
  EXPECT_EQ(js_string_to_number("0." + std::string(700000, '0') + "1e99999999999999999999"), kInf);
  // More digits than any midpoint has (767): only whether a nonzero digit follows matters.
  const std::string ones(1000, '1');
  EXPECT_EQ(js_string_to_number(ones + "e-1000"), 0.1111111111111111);
  EXPECT_EQ(js_string_to_number("1." + std::string(5000, '0') + "1"), 1.0);
  EXPECT_EQ(js_string_to_number("1.00000000000000011102230246251565404236316680908203125"),
            1.0);  // exactly 1 + 2^-53: tie -> even
  EXPECT_EQ(js_string_to_number("1.00000000000000011102230246251565404236316680908203125" +
                                std::string(2000, '0') + "1"),
            1.0000000000000002);
  EXPECT_EQ(js_string_to_number("1.00000000000000011102230246251565404236316680908203124" +
                                std::string(2000, '9')),
            1.0);
  EXPECT_EQ(js_string_to_number("0x" + std::string(256, 'f')), kInf);
  EXPECT_EQ(js_string_to_number("0x" + std::string(255, 'f')), std::ldexp(1.0, 1020));
  EXPECT_EQ(js_string_to_number("0x" + std::string(13, 'f') + "8" + std::string(242, '0')),
            std::numeric_limits<double>::max());
  EXPECT_EQ(js_string_to_number("0x" + std::string(13, 'f') + "c" + std::string(242, '0')), kInf);
  EXPECT_EQ(js_string_to_number("0x" + std::string(13, 'f') + "c" + std::string(241, '0') + "1"),
            kInf);
}

TEST(JsNumInteger, ToIntegerOrInfinity) {
  EXPECT_EQ(js_to_integer_or_infinity(kNaN), 0);
  EXPECT_EQ(js_to_integer_or_infinity(kInf), kInf);
  EXPECT_EQ(js_to_integer_or_infinity(-kInf), -kInf);
  EXPECT_EQ(js_to_integer_or_infinity(2.9), 2);
  EXPECT_EQ(js_to_integer_or_infinity(-2.9), -2);
  EXPECT_EQ(js_to_integer_or_infinity(1e300), 1e300);
  EXPECT_EQ(bits_of(js_to_integer_or_infinity(-0.5)), bits_of(0.0));
  EXPECT_EQ(bits_of(js_to_integer_or_infinity(-0.0)), bits_of(0.0));
}

TEST(JsNumInteger, ToInt32AndUint32) {
  struct Case {
    double value;
    int32_t i32;
    uint32_t u32;
  };
  // Expected values from node: x | 0 and x >>> 0.
  const Case cases[] = {
      {0, 0, 0},
      {-0.0, 0, 0},
      {kNaN, 0, 0},
      {kInf, 0, 0},
      {-kInf, 0, 0},
      {1.9, 1, 1},
      {-1.9, -1, 4294967295u},
      {2147483647, 2147483647, 2147483647u},
      {2147483648.0, -2147483647 - 1, 2147483648u},
      {-2147483648.0, -2147483647 - 1, 2147483648u},
      {-2147483648.9, -2147483647 - 1, 2147483648u},
      {-2147483649.0, 2147483647, 2147483647u},
      {4294967295.0, -1, 4294967295u},
      {4294967296.0, 0, 0},
      {4294967297.5, 1, 1},
      {-4294967297.0, -1, 4294967295u},
      {1e20, 1661992960, 1661992960u},
      {-1e20, -1661992960, 2632974336u},
      {9007199254740993.0, 0, 0},
      {1.7976931348623157e308, 0, 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(js_to_int32(c.value), c.i32) << c.value;
    EXPECT_EQ(js_to_uint32(c.value), c.u32) << c.value;
  }
}

// --------------------------------------------------------------------------------------------
// Differential tests against node.

// Runs `node -e script` and returns its stdout; fails the test when node cannot be run.
bool run_node(const std::string& script, std::string* out) {
  std::string command = "node -e '";
  for (char c : script) {
    if (c == '\'') {
      command += "'\\''";
    } else {
      command += c;
    }
  }
  command += "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed";
    return false;
  }
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out->append(buf, n);
  const int status = pclose(pipe);
  if (status != 0) {
    ADD_FAILURE() << "node exited with status " << status
                  << " (is node on PATH? this differential test requires node >= 12)";
    return false;
  }
  return true;
}

void require_node() {
  std::string version;
  FILE* pipe = popen("node --version 2>/dev/null", "r");
  ASSERT_NE(pipe, nullptr) << "popen failed";
  char buf[64];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) version.append(buf, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(status == 0 && !version.empty() && version[0] == 'v')
      << "node is not on PATH: the jsnum differential tests need node to generate expectations";
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool parse_bits(std::string_view hex, double* out) {
  if (hex.size() != 16) return false;
  uint64_t b = 0;
  for (char c : hex) {
    const int d = hex_digit(c);
    if (d < 0) return false;
    b = b << 4 | static_cast<uint64_t>(d);
  }
  *out = from_bits(b);
  return true;
}

// Shared JS helpers: mulberry32 PRNG and IEEE bit access.
constexpr const char* kJsPrelude = R"JS(
let seed = SEED >>> 0;
function rnd() {
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}
function frac() { return rnd() / 4294967296; }
function pick(n) { return rnd() % n; }
const dv = new DataView(new ArrayBuffer(8));
function hex(x) {
  dv.setFloat64(0, x);
  return dv.getUint32(0).toString(16).padStart(8, "0") +
         dv.getUint32(4).toString(16).padStart(8, "0");
}
function fromBits(hi, lo) { dv.setUint32(0, hi); dv.setUint32(4, lo); return dv.getFloat64(0); }
function nudge(x, ulps) {
  dv.setFloat64(0, x);
  dv.setBigInt64(0, dv.getBigInt64(0) + BigInt(ulps));
  const y = dv.getFloat64(0);
  return Number.isFinite(y) ? y : x;
}
function digits(n) { let s = ""; for (let i = 0; i < n; i++) s += String(pick(10)); return s; }
)JS";

std::string make_script(const char* body, int n, uint32_t seed) {
  return "const N = " + std::to_string(n) + ", SEED = " + std::to_string(seed) + ";\n" +
         kJsPrelude + body;
}

// Prints "<bits> <String(x)>" for N random doubles.
constexpr const char* kJsNumbers = R"JS(
const out = [];
for (let i = 0; i < N; i++) {
  let x;
  switch (pick(9)) {
    case 0: case 1:  // random bit patterns (NaN payloads redrawn)
      do { x = fromBits(rnd(), rnd()); } while (x !== x);
      break;
    case 2:  // integers of every magnitude, around the 2^53 fast path boundary
      x = Math.floor(frac() * Math.pow(2, pick(80)));
      if (pick(4) === 0) x = nudge(Math.pow(2, 53), pick(9) - 4);
      break;
    case 3:  // decimals with few digits
      x = Number((frac() * Math.pow(10, pick(13))).toFixed(pick(12)));
      break;
    case 4:  // short decimal literals over the full exponent range
      x = Number(String(1 + pick(9)) + "." + digits(pick(17)) + "e" + (pick(660) - 335));
      break;
    case 5:  // near powers of ten
      x = nudge(Number("1e" + (pick(650) - 325)), pick(7) - 3);
      break;
    case 6:  // powers of two and neighbours (asymmetric rounding intervals)
      x = nudge(fromBits((1 + pick(2046)) * 0x100000, 0), pick(5) - 2);
      break;
    case 7:  // subnormals
      x = fromBits(pick(2) ? rnd() & 0xfffff : 0, rnd() >>> pick(32));
      break;
    default: {  // specials and display boundaries
      const specials = [0, NaN, Infinity, 1e21, 1e-7, 1e-6, 5e-324, 1.7976931348623157e308,
                        999999999999999900000, 1e21 - 65536, 0.1 + 0.2];
      x = nudge(specials[pick(specials.length)], pick(3) - 1);
    }
  }
  if (pick(2)) x = -x;
  out.push(hex(x) + " " + String(x));
}
process.stdout.write(out.join("\n") + "\n");
)JS";

// Prints "s<utf8 hex> <bits of Number(s)> <bits of parseFloat(s)>" for N random strings.
constexpr const char* kJsStrings = R"JS(
const ws = [" ", "\t", "\n", "\v", "\f", "\r", "\u00a0", "\u1680", "\u2000", "\u2005",
            "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"];
const notWs = ["\u180e", "\u200b", "\u0085", "\u00a1", "\u2001x", "\0", "_", "x", "\u00e9"];
const alphabet = "0123456789+-.eExXoObBInfityaf_ ";
function any(arr) { return arr[pick(arr.length)]; }
function space() {
  let s = "";
  const n = pick(4) === 0 ? pick(3) + 1 : 0;
  for (let i = 0; i < n; i++) s += any(ws);
  return s;
}
function sign() { return ["", "", "+", "-"][pick(4)]; }
function decimal() {
  let s = sign();
  const intLen = [0, 1, 1, 2, 5, 17, 25, 40][pick(8)];
  s += digits(intLen);
  if (pick(2)) s += "." + digits([0, 1, 3, 10, 20, 30][pick(6)]);
  if (pick(2)) s += (pick(2) ? "e" : "E") + sign() + digits([0, 1, 2, 3, 4, 25][pick(6)]);
  return s;
}
function radix() {
  const p = any(["0x", "0X", "0o", "0O", "0b", "0B", "0x", "0x"]);
  const set = { x: "0123456789abcdefABCDEF", o: "01234567", b: "01" }[p[1].toLowerCase()];
  const n = [0, 1, 5, 13, 14, 15, 16, 20, 60, 300][pick(10)];
  let s = pick(8) === 0 ? sign() + p : p;
  for (let i = 0; i < n; i++) s += set[pick(set.length)];
  if (pick(10) === 0) s += any(["g", "8", "2", ".", "p3", "_1"]);
  return s;
}
function body() {
  switch (pick(7)) {
    case 0: case 1: return decimal();
    case 2: return radix();
    case 3:
      return sign() + any(["Infinity", "infinity", "Inf", "INFINITY", "Infinityx", "Infinit",
                           "NaN", "nan", "inf"]);
    case 4: {
      let s = "";
      const n = pick(10);
      for (let i = 0; i < n; i++) s += alphabet[pick(alphabet.length)];
      return s;
    }
    case 5: return String(fromBits(rnd(), rnd()));
    default:
      return String(Number(digits(1 + pick(8)) + "e" + (pick(40) - 20)) * (pick(2) ? 1 : -1));
  }
}
const out = [];
for (let i = 0; i < N; i++) {
  let s = space() + body() + space();
  if (pick(8) === 0) s += any(notWs) + (pick(2) ? body() : "");
  if (pick(16) === 0) s = any(notWs) + s;
  out.push("s" + Buffer.from(s, "utf8").toString("hex") + " " + hex(Number(s)) + " " +
           hex(parseFloat(s)));
}
process.stdout.write(out.join("\n") + "\n");
)JS";

// Prints "<bits> <String(x)>" for a fixed list of hard doubles (N and SEED only vary the random
// parts): every power of two and its neighbours, subnormals, DBL_MAX, integers near 2^53 and 2^64,
// powers of ten, and values whose exact decimal expansion ends in a 5 right after digit p
// (p = 1..20), so that rounding to p digits is an exact tie.
constexpr const char* kJsHardNumbers = R"JS(
const xs = [];
for (let be = 0; be < 2047; be++) {
  for (let d = -2; d <= 2; d++) xs.push(nudge(fromBits(be * 0x100000, 0), d));
}
for (let k = 0; k < 52; k++) xs.push(fromBits(0, 0) + Math.pow(2, -1074 + k));
for (let i = 0; i < 200; i++) xs.push(fromBits(rnd() & 0xfffff, rnd()), fromBits(0, rnd() >>> pick(32)));
for (const c of [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, Math.pow(2, 53),
                 Math.pow(2, 64), Math.pow(2, 63), 1e21, 1e17, 1e16, 1e22, 1e23]) {
  for (let d = -64; d <= 64; d++) xs.push(nudge(c, d));
}
for (let k = -325; k <= 308; k++) for (let d = -2; d <= 2; d++) xs.push(nudge(Number("1e" + k), d));
for (let p = 1; p <= 20; p++) {
  for (let i = 0; i < 100; i++) {
    // N = j * 5^t with p + 1 digits, j odd: N * 10^-t = j * 2^-t is a double ending in 5.
    const t = 1 + pick(Math.floor((p + 1) * Math.log(10) / Math.log(5)));
    const lo = 10n ** BigInt(p) / 5n ** BigInt(t) + 1n, hi = 10n ** BigInt(p + 1) / 5n ** BigInt(t);
    if (hi <= lo) continue;
    let j = lo + BigInt(Math.floor(frac() * Number(hi - lo)));
    if (j % 2n === 0n) j += 1n;
    if (j >= hi || j >= 2n ** 53n) continue;
    const x = Number(j) / Math.pow(2, t);
    // And the integer (10q + 5) * 10^r, when it is a double.
    const q = 10n ** BigInt(p - 1) + BigInt(Math.floor(frac() * 9 * Math.pow(10, p - 1)));
    const n = (10n * q + 5n) * 10n ** BigInt(pick(4));
    const y = Number(n);
    xs.push(x, x * Math.pow(2, pick(40)));
    if (Number.isFinite(y) && BigInt(y) === n) xs.push(y);
  }
}
process.stdout.write(xs.filter(x => x > 0).map(x => hex(x) + " " + String(x)).join("\n") + "\n");
)JS";

// Prints "<bits of Number(s)> <s>" for decimal strings at and around the exact midpoint between a
// random double and the next one up: the midpoint itself (a tie), followed by zeros, by zeros and
// a 1 past the 768th digit, just below it, in several spellings; and random long digit strings.
constexpr const char* kJsHardStrings = R"JS(
function midpoint(x) {  // [digits, exp10]: the exact midpoint as digits * 10^exp10
  dv.setFloat64(0, x);
  const b = dv.getBigUint64(0);
  let e = Number(b >> 52n), m = b & ((1n << 52n) - 1n);
  if (e === 0) e = 1; else m |= 1n << 52n;
  const k = e - 1075 - 1, n = 2n * m + 1n;  // midpoint = (2m + 1) * 2^k
  return k >= 0 ? [(n << BigInt(k)).toString(), 0] : [(n * 5n ** BigInt(-k)).toString(), k];
}
const out = [];
function emit(s) { out.push(hex(Number(s)) + " " + s); }
for (let i = 0; i < N; i++) {
  let x;
  switch (pick(4)) {
    case 0: x = fromBits(rnd() & 0xfffff, rnd()); break;
    case 1: x = nudge(fromBits((1 + pick(2046)) * 0x100000, 0), pick(3) - 1); break;
    case 2: x = nudge(1.7976931348623157e308, -pick(2)); break;
    default: do { x = Math.abs(fromBits(rnd(), rnd())); } while (!Number.isFinite(x));
  }
  if (x === 0) continue;
  const [d, e] = midpoint(x);
  const z = [0, 1, 10, 700, 800][pick(5)];
  const sign = ["", "-", "+"][pick(3)];
  emit(sign + d + "e" + e);
  emit(sign + d + "0".repeat(z) + "1e" + (e - z - 1));
  emit(sign + d + "0".repeat(z) + "e" + (e - z));
  const below = String(BigInt(d) - 1n);
  emit(sign + below + "9".repeat(z) + "e" + (e - z));
  const lz = pick(3);
  emit(sign + "0." + "0".repeat(lz) + d + "E" + (e + d.length + lz));
  emit(sign + "0".repeat(pick(3)) + d.slice(0, 1) + "." + d.slice(1) + "e" + (e + d.length - 1));
}
for (let i = 0; i < N; i++) {
  const n = [20, 100, 767, 768, 769, 1500][pick(6)];
  let s = String(1 + pick(9)) + digits(n - 1);
  if (pick(2)) s = s.slice(0, 1 + pick(n)) + "." + s.slice(1 + pick(n));
  if (s.endsWith(".") && pick(2)) s += "5";
  emit(s + "e" + (pick(800) - 400 - (pick(2) ? n : 0)));
}
process.stdout.write(out.join("\n") + "\n");
)JS";

TEST(JsNumDifferential, FormatMatchesNode) {
  require_node();
  if (HasFatalFailure()) return;
  constexpr int kCount = 200000;
  std::string output;
  ASSERT_TRUE(run_node(make_script(kJsNumbers, kCount, 20240601u), &output));
  const std::vector<std::string_view> lines = split_lines(output);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kCount));
  int failures = 0;
  std::string formatted;
  for (std::string_view line : lines) {
    const size_t space = line.find(' ');
    double x;
    ASSERT_TRUE(space == 16 && parse_bits(line.substr(0, 16), &x)) << "bad line: " << line;
    const std::string_view expected = line.substr(17);
    formatted.clear();
    append_js_number(formatted, x);
    const double back = js_string_to_number(expected);
    const double want_back = x == 0 ? 0.0 : x;  // String(-0) is "0"
    const bool ok = formatted == expected && same_number(back, want_back);
    if (!ok && ++failures <= 20) {
      ADD_FAILURE() << "bits " << line.substr(0, 16) << ": node \"" << expected << "\", ours \""
                    << formatted << "\", Number(node string) bits " << hex_bits(back);
    }
  }
  EXPECT_EQ(failures, 0) << "of " << lines.size() << " random doubles";
}

TEST(JsNumDifferential, ParseMatchesNode) {
  require_node();
  if (HasFatalFailure()) return;
  constexpr int kCount = 100000;
  std::string output;
  ASSERT_TRUE(run_node(make_script(kJsStrings, kCount, 777u), &output));
  const std::vector<std::string_view> lines = split_lines(output);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kCount));
  int failures = 0;
  std::string text;
  for (std::string_view line : lines) {
    const size_t space = line.find(' ');
    ASSERT_TRUE(line.size() > 0 && line[0] == 's' && space != std::string_view::npos &&
                line.size() == space + 34)
        << "bad line: " << line;
    const std::string_view hex = line.substr(1, space - 1);
    text.clear();
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      text += static_cast<char>(hex_digit(hex[i]) * 16 + hex_digit(hex[i + 1]));
    }
    double want_number;
    double want_parse_float;
    ASSERT_TRUE(parse_bits(line.substr(space + 1, 16), &want_number) &&
                parse_bits(line.substr(space + 18, 16), &want_parse_float))
        << "bad line: " << line;
    const double number = js_string_to_number(text);
    const double parse_float = js_parse_float(text);
    if (!same_number(number, want_number) && ++failures <= 20) {
      ADD_FAILURE() << "Number(\"" << text << "\") (utf8 " << hex << "): node "
                    << hex_bits(want_number) << ", ours " << hex_bits(number);
    }
    if (!same_number(parse_float, want_parse_float) && ++failures <= 20) {
      ADD_FAILURE() << "parseFloat(\"" << text << "\") (utf8 " << hex << "): node "
                    << hex_bits(want_parse_float) << ", ours " << hex_bits(parse_float);
    }
  }
  EXPECT_EQ(failures, 0) << "of " << lines.size() << " random strings";
}

TEST(JsNumDifferential, HardNumbersMatchNode) {
  require_node();
  if (HasFatalFailure()) return;
  std::string output;
  ASSERT_TRUE(run_node(make_script(kJsHardNumbers, 0, 99u), &output));
  const std::vector<std::string_view> lines = split_lines(output);
  ASSERT_GT(lines.size(), 15000u);
  int failures = 0;
  std::string formatted;
  for (std::string_view line : lines) {
    double x;
    ASSERT_TRUE(line.size() > 17 && line[16] == ' ' && parse_bits(line.substr(0, 16), &x))
        << "bad line: " << line;
    const std::string_view expected = line.substr(17);
    formatted.clear();
    append_js_number(formatted, x);
    const bool ok = formatted == expected && same_number(js_string_to_number(expected), x);
    if (!ok && ++failures <= 20) {
      ADD_FAILURE() << "bits " << line.substr(0, 16) << ": node \"" << expected << "\", ours \""
                    << formatted << "\", Number(node string) bits "
                    << hex_bits(js_string_to_number(expected));
    }
  }
  EXPECT_EQ(failures, 0) << "of " << lines.size() << " hard doubles";
}

TEST(JsNumDifferential, MidpointsAndLongStringsMatchNode) {
  require_node();
  if (HasFatalFailure()) return;
  constexpr int kCount = 1000;
  std::string output;
  ASSERT_TRUE(run_node(make_script(kJsHardStrings, kCount, 4242u), &output));
  const std::vector<std::string_view> lines = split_lines(output);
  ASSERT_GT(lines.size(), static_cast<size_t>(6 * kCount));
  int failures = 0;
  for (std::string_view line : lines) {
    double want;
    ASSERT_TRUE(line.size() > 17 && line[16] == ' ' && parse_bits(line.substr(0, 16), &want))
        << "bad line: " << line.substr(0, 100);
    const std::string_view text = line.substr(17);
    const double number = js_string_to_number(text);
    const double parse_float = js_parse_float(text);
    if (!(same_number(number, want) && same_number(parse_float, want)) && ++failures <= 20) {
      ADD_FAILURE() << "Number(\"" << text << "\") (" << text.size() << " chars): node "
                    << hex_bits(want) << ", ours " << hex_bits(number) << ", parseFloat "
                    << hex_bits(parse_float);
    }
  }
  EXPECT_EQ(failures, 0) << "of " << lines.size() << " strings";
}

// Every double reads back from its String() (no node needed): random bit patterns.
TEST(JsNumRoundTrip, RandomBitPatterns) {
  uint64_t state = 0x9E3779B97F4A7C15u;
  int failures = 0;
  std::string text;
  for (int i = 0; i < 100000; ++i) {
    state ^= state << 13;  // xorshift64
    state ^= state >> 7;
    state ^= state << 17;
    const double x = from_bits(state);
    if (std::isnan(x)) continue;
    text.clear();
    append_js_number(text, x);
    const double back = js_string_to_number(text);
    if (!same_number(back, x == 0 ? 0.0 : x) && ++failures <= 20) {
      ADD_FAILURE() << "bits " << hex_bits(x) << ": \"" << text << "\" reads back as "
                    << hex_bits(back);
    }
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace pz
