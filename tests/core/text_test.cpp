// Tests for pz/text.h. Expected values for comparison, substr, indexing and JSON output were
// checked against Node.js 20 (`node -e` with the same strings, e.g.
// JSON.stringify("a\u{1F600}b".substr(0, 2)) === '"a\\ud83d"').
//
// Byte strings are written with \x escapes; a literal is split ("\xFF" "b") wherever the next
// character would otherwise be read as part of the hex escape.
#include "pz/text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace pz {
namespace {

constexpr double kInf = INFINITY;

// Frequently used byte strings.
constexpr std::string_view kEmoji = "\xF0\x9F\x98\x80";              // U+1F600 😀 = D83D DE00
constexpr std::string_view kEmoji2 = "\xF0\x9F\x98\x81";             // U+1F601 😁 = D83D DE01
constexpr std::string_view kHigh = "\xED\xA0\xBD";                   // lone U+D83D
constexpr std::string_view kLow = "\xED\xB8\x80";                    // lone U+DE00
constexpr std::string_view kPairSplit = "\xED\xA0\xBD\xED\xB8\x80";  // non-canonical 😀
constexpr std::string_view kHalfwidth = "\xEF\xBD\xA1";              // U+FF61 ｡
constexpr std::string_view kFffd = "\xEF\xBF\xBD";                   // U+FFFD

std::string S(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
  std::string s(a);
  s.append(b);
  s.append(c);
  return s;
}

std::u16string U16(std::string_view wtf8) {
  std::u16string out;
  to_utf16(wtf8, out);
  return out;
}

std::string Wtf8(std::u16string_view units) {
  std::string out;
  append_wtf8(units, out);
  return out;
}

std::string Json(std::string_view wtf8) {
  std::string out;
  append_json_string(out, wtf8);
  return out;
}

// ---------------------------------------------------------------------------------------------
// to_utf16

TEST(TextTest, ToUtf16) {
  struct Case {
    std::string input;
    std::u16string expected;
  };
  const Case cases[] = {
      {"", u""},
      {"abc", u"abc"},
      {"\xC3\xA9", u"\u00E9"},
      {"\xE2\x82\xAC", u"\u20AC"},
      {S(kEmoji), u"\xD83D\xDE00"},
      {S("a", kEmoji, "b"),
       u"a\xD83D\xDE00"
       u"b"},
      {"\xF4\x8F\xBF\xBF", u"\xDBFF\xDFFF"},  // U+10FFFF
      {S(kHigh), u"\xD83D"},
      {S(kLow), u"\xDE00"},
      {S(kPairSplit), u"\xD83D\xDE00"},
      // Invalid bytes: one U+FFFD per byte.
      {"\xFF", u"\xFFFD"},
      {"\x80", u"\xFFFD"},
      {"a\xC3", u"a\xFFFD"},
      {"\xC0\x80", u"\xFFFD\xFFFD"},  // overlong NUL
      {"\xE2\x82", u"\xFFFD\xFFFD"},  // truncated
      {"\xE2\x82"
       "a",
       u"\xFFFD\xFFFD"
       u"a"},
      {"\xE0\x80\x80", u"\xFFFD\xFFFD\xFFFD"},            // overlong
      {"\xF0\x9F\x98", u"\xFFFD\xFFFD\xFFFD"},            // truncated 4-byte
      {"\xF4\x90\x80\x80", u"\xFFFD\xFFFD\xFFFD\xFFFD"},  // above U+10FFFF
      {"\xF8\x88\x80\x80\x80", u"\xFFFD\xFFFD\xFFFD\xFFFD\xFFFD"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(U16(c.input), c.expected) << Json(c.input);
  }
}

TEST(TextTest, ToUtf16Appends) {
  std::u16string out = u"x";
  to_utf16("y", out);
  EXPECT_EQ(out, u"xy");
}

// ---------------------------------------------------------------------------------------------
// append_wtf8 / append_js_concat

TEST(TextTest, AppendWtf8) {
  struct Case {
    std::u16string input;
    std::string expected;
  };
  const Case cases[] = {
      {u"", ""},
      {u"abc", "abc"},
      {u"\u00E9\u20AC", "\xC3\xA9\xE2\x82\xAC"},
      {u"\xD83D\xDE00", S(kEmoji)},
      {u"\xD83D", S(kHigh)},
      {u"\xDE00", S(kLow)},
      {u"\xDE00\xD83D", S(kLow, kHigh)},          // reversed: two lone surrogates
      {u"\xD83D\xD83D\xDE00", S(kHigh, kEmoji)},  // high, then a pair
      {u"\xD83D"
       u"a\xDE00",
       S(kHigh, "a", kLow)},
      {u"\xDBFF\xDFFF", "\xF4\x8F\xBF\xBF"},
      {u"\xFFFD", S(kFffd)},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Wtf8(c.input), c.expected);
  }
  std::string out = "x";
  append_wtf8(u"y", out);
  EXPECT_EQ(out, "xy");
}

TEST(TextTest, Utf16RoundTripOfCanonicalStrings) {
  const std::string inputs[] = {"",       "hello",        S("a", kEmoji, "b"),
                                S(kHigh), S(kLow, kHigh), "\xC3\xA9\xE2\x82\xAC\xF4\x8F\xBF\xBF"};
  for (const std::string& s : inputs) EXPECT_EQ(Wtf8(U16(s)), s);
  // Non-canonical input comes back canonical.
  EXPECT_EQ(Wtf8(U16(kPairSplit)), kEmoji);
}

TEST(TextTest, AppendJsConcatRejoinsSplitPair) {
  const std::string s = S("a", kEmoji, "b");
  std::string left = js_substr(s, 0, 2, true);
  const std::string right = js_substr(s, 2, 0, false);
  EXPECT_EQ(left, S("a", kHigh));
  EXPECT_EQ(right, S(kLow, "b"));
  append_js_concat(left, right);
  EXPECT_EQ(left, s);

  std::string a = S(kHigh);
  append_js_concat(a, "x");
  EXPECT_EQ(a, S(kHigh, "x"));
  std::string b = "x";
  append_js_concat(b, kLow);
  EXPECT_EQ(b, S("x", kLow));
  std::string c = S(kLow);
  append_js_concat(c, kHigh);  // low then high is not a pair
  EXPECT_EQ(c, S(kLow, kHigh));
  std::string d;
  append_js_concat(d, "");
  EXPECT_EQ(d, "");
}

TEST(TextTest, AppendJsConcatKeepsInvalidBytesInvalid) {
  // "\xF0\x9F" is two U+FFFD units; appending "\x98\x80" (two more) must not make an emoji.
  std::string a = "\xF0\x9F";
  append_js_concat(a, "\x98\x80");
  EXPECT_EQ(U16(a), u"\xFFFD\xFFFD\xFFFD\xFFFD");
  std::string b = "x\xC3";
  append_js_concat(b, "\xA9");
  EXPECT_EQ(U16(b), u"x\xFFFD\xFFFD");
  std::string c = "\xC3\xA9";  // complete: left alone
  append_js_concat(c, "\xA9");
  EXPECT_EQ(c, "\xC3\xA9\xA9");
}

// ---------------------------------------------------------------------------------------------
// js_length

TEST(TextTest, JsLength) {
  struct Case {
    std::string input;
    size_t expected;
  };
  const Case cases[] = {
      {"", 0},         {"abc", 3},
      {"\xC3\xA9", 1}, {"\xE2\x82\xAC", 1},
      {S(kEmoji), 2},  {S("a", kEmoji, "b"), 4},
      {S(kHigh), 1},   {S(kPairSplit), 2},
      {"\xE2\x82", 2}, {"\xFF\xFE", 2},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(js_length(c.input), c.expected) << Json(c.input);
    EXPECT_EQ(js_length(c.input), U16(c.input).size());
  }
}

// ---------------------------------------------------------------------------------------------
// js_compare

int Sign(int x) { return (x > 0) - (x < 0); }

TEST(TextTest, JsCompare) {
  struct Case {
    std::string a;
    std::string b;
    int expected;  // JavaScript: a < b ? -1 : a > b ? 1 : 0 (checked with node)
  };
  const Case cases[] = {
      // UTF-8 byte order and UTF-16 order disagree: U+FF61 > U+1F600 in JavaScript.
      {S(kHalfwidth), S(kEmoji), 1},
      {S(kEmoji), S(kHalfwidth), -1},
      {S("a", kHalfwidth), S("a", kEmoji), 1},
      {"\xEE\x80\x80", "\xF0\x90\x80\x80", 1},   // U+E000 vs U+10000
      {"\xED\x9F\xBF", "\xF0\x90\x80\x80", -1},  // U+D7FF vs U+10000
      {"\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF", 1},   // U+FFFF vs U+10FFFF
      {S(kFffd), S(kEmoji), 1},
      {S(kEmoji), S(kEmoji2), -1},
      {S(kHigh), S(kEmoji), -1},  // prefix in units
      {S(kLow), S(kEmoji), 1},
      {S(kHigh), "\xEE\x80\x80", -1},  // U+D83D vs U+E000
      // ASCII and BMP.
      {"a", "b", -1},
      {"ab", "a", 1},
      {"", "a", -1},
      {"", "", 0},
      {"abc", "abc", 0},
      {"Z", "a", -1},
      {"10", "9", -1},
      {"\xC3\xA9", "e", 1},
      {"\xC3\xA9",
       "\xC3\xA9"
       "a",
       -1},
      {"\xE2\x82\xAC", S(kFffd), -1},
      {S(kFffd), "\xEF\xBF\xBF", -1},
      // Different bytes, same UTF-16 units.
      {S(kPairSplit), S(kEmoji), 0},
      {S("x", kPairSplit, "y"), S("x", kEmoji, "y"), 0},
      {S("x", kPairSplit, "z"), S("x", kEmoji, "y"), 1},
      {"\xFF", S(kFffd), 0},
      // Invalid bytes compare as U+FFFD.
      {"\xFF", "\xEF\xBF\xBF", -1},     // U+FFFD < U+FFFF (bytes say otherwise)
      {"\x80", "\xC3\xA9", 1},          // U+FFFD > U+00E9 (bytes say otherwise)
      {"\xE2\x82", "\xE2\x82\xAC", 1},  // FFFD FFFD vs 20AC
      {"\xE2\x82"
       "a",
       "\xE2\x82"
       "b",
       -1},
      {"a\xE2\x82", "a\xE2\x82\xAC", 1},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Sign(js_compare(c.a, c.b)), c.expected) << Json(c.a) << " vs " << Json(c.b);
    EXPECT_EQ(Sign(js_compare(c.b, c.a)), -c.expected) << Json(c.b) << " vs " << Json(c.a);
    EXPECT_EQ(Sign(U16(c.a).compare(U16(c.b))), c.expected) << Json(c.a) << " vs " << Json(c.b);
  }
}

// ---------------------------------------------------------------------------------------------
// js_substr

TEST(TextTest, JsSubstr) {
  struct Case {
    std::string input;
    double start;
    double length;
    bool has_length;
    std::string expected;
  };
  const std::string e = S("a", kEmoji, "b");  // "a😀b": units a D83D DE00 b
  const Case cases[] = {
      {"hello", 1, 3, true, "ell"},
      {"hello", -3, 0, false, "llo"},
      {"hello", -10, 2, true, "he"},
      {"hello", 2, kInf, true, "llo"},
      {"hello", -kInf, 2, true, "he"},
      {"hello", -kInf, 0, false, "hello"},
      {"hello", kInf, 0, false, ""},
      {"hello", 1, -1, true, ""},
      {"hello", 1, -kInf, true, ""},
      {"hello", 5, 0, false, ""},
      {"hello", 0, 0, true, ""},
      {"hello", NAN, 2, true, "he"},  // NaN acts as 0 (ToIntegerOrInfinity)
      {"hello", 0, NAN, true, ""},
      {"hello", 1.9, 2.9, true, "el"},  // truncation toward zero
      {"", 0, 0, false, ""},
      // Surrogate pairs split by the range become lone surrogates.
      {e, 0, 2, true, S("a", kHigh)},
      {e, 2, 0, false, S(kLow, "b")},
      {e, 1, 2, true, S(kEmoji)},
      {e, 1, 1, true, S(kHigh)},
      {e, -2, 1, true, S(kLow)},
      {e, -3, 1, true, S(kHigh)},
      {e, -3, kInf, true, S(kEmoji, "b")},
      {S(kEmoji, kEmoji2), 1, 2, true, S(kLow, kHigh)},  // "\ude00\ud83d"
      {"\xC3\xA9\xE2\x82\xAC", 1, 0, false, "\xE2\x82\xAC"},
      // Invalid bytes come out as U+FFFD; non-canonical pairs come out canonical.
      {"a\xFF"
       "b",
       1, 1, true, S(kFffd)},
      {"\xE2\x82"
       "c",
       0, 0, false, S(kFffd, kFffd, "c")},
      {S(kPairSplit), 0, 0, false, S(kEmoji)},
      {S(kPairSplit), 1, 0, false, S(kLow)},
      {S(kHigh, "x"), 0, 0, false, S(kHigh, "x")},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(js_substr(c.input, c.start, c.length, c.has_length), c.expected)
        << Json(c.input) << ".substr(" << c.start << ", "
        << (c.has_length ? std::to_string(c.length) : "undefined") << ")";
  }
}

// ---------------------------------------------------------------------------------------------
// js_includes

TEST(TextTest, JsIncludes) {
  struct Case {
    std::string haystack;
    std::string needle;
    bool expected;
  };
  const std::string e = S("a", kEmoji, "b");
  const Case cases[] = {
      {"hello", "ell", true},
      {"hello", "", true},
      {"", "", true},
      {"", "a", false},
      {"hello", "xyz", false},
      {"hello", "hello!", false},
      {e, S(kEmoji), true},
      {e, S(kHigh), true},      // "a😀b".includes("\ud83d") === true
      {e, S(kLow, "b"), true},  // "a😀b".includes("\ude00b") === true
      {e, S(kLow, "a"), false},
      {e, S(kPairSplit), true},
      {S("x", kPairSplit), S(kEmoji), true},
      {"\xE2\x82\xAC", "\x82", false},  // an invalid needle byte is U+FFFD, not a byte match
      {"\xFF", S(kFffd), true},
      {"\xC3\xA9t\xC3\xA9", "t\xC3\xA9", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(js_includes(c.haystack, c.needle), c.expected)
        << Json(c.haystack) << ".includes(" << Json(c.needle) << ")";
  }
}

// ---------------------------------------------------------------------------------------------
// js_char_at

TEST(TextTest, JsCharAt) {
  struct Case {
    std::string input;
    size_t index;
    bool found;
    std::string expected;
  };
  const std::string e = S("a", kEmoji, "b");
  const Case cases[] = {
      {"abc", 0, true, "a"},
      {"abc", 1, true, "b"},
      {"abc", 3, false, "untouched"},
      {"", 0, false, "untouched"},
      {e, 0, true, "a"},
      {e, 1, true, S(kHigh)},
      {e, 2, true, S(kLow)},
      {e, 3, true, "b"},
      {e, 4, false, "untouched"},
      {"\xC3\xA9"
       "x",
       0, true, "\xC3\xA9"},
      {"\xC3\xA9"
       "x",
       1, true, "x"},
      {"a\xFF"
       "b",
       1, true, S(kFffd)},
      {"a\xFF"
       "b",
       2, true, "b"},
      {S(kPairSplit), 1, true, S(kLow)},
  };
  for (const Case& c : cases) {
    std::string out = "untouched";
    EXPECT_EQ(js_char_at(c.input, c.index, out), c.found) << Json(c.input) << "[" << c.index << "]";
    EXPECT_EQ(out, c.expected) << Json(c.input) << "[" << c.index << "]";
  }
}

// ---------------------------------------------------------------------------------------------
// append_json_string

TEST(TextTest, AppendJsonString) {
  struct Case {
    std::string input;
    std::string expected;  // JSON.stringify(input), checked with node
  };
  const Case cases[] = {
      {"", R"("")"},
      {"hello", R"("hello")"},
      {"a\"b\\c", R"("a\"b\\c")"},
      {std::string("\b\f\n\r\t\x00\x01\x1f", 8), R"("\b\f\n\r\t\u0000\u0001\u001f")"},
      {"\x0b\x1b", R"("\u000b\u001b")"},
      {"\x7f", "\"\x7f\""},  // DEL is not escaped
      {"/<>&'", R"("/<>&'")"},
      {"\xE2\x80\xA8\xE2\x80\xA9", "\"\xE2\x80\xA8\xE2\x80\xA9\""},  // U+2028/2029 raw
      {S("\xC3\xA9", kEmoji), S("\"\xC3\xA9", kEmoji, "\"")},
      {S(kHigh), R"("\ud83d")"},
      {S(kLow), R"("\ude00")"},
      {"\xED\xAF\xBF", R"("\udbff")"},  // lowercase hex
      {S(kLow, kHigh), R"("\ude00\ud83d")"},
      {S(kPairSplit), S("\"", kEmoji, "\"")},  // a pair, even if split in bytes
      {S(kHigh, "x", kLow), R"("\ud83dx\ude00")"},
      {"a\xFF"
       "b",
       S("\"a", kFffd, "b\"")},  // invalid byte -> U+FFFD
      {"\xE2\x82", S("\"", kFffd, S(kFffd, "\""))},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Json(c.input), c.expected);
  }
}

TEST(TextTest, AppendJsonStringOfSplitPair) {
  // JSON.stringify("a\u{1F600}b".substr(0, 2)) === '"a\\ud83d"'
  const std::string s = S("a", kEmoji, "b");
  EXPECT_EQ(Json(js_substr(s, 0, 2, true)), R"("a\ud83d")");
  EXPECT_EQ(Json(js_substr(s, 2, 0, false)), R"("\ude00b")");
}

TEST(TextTest, AppendJsonStringAppends) {
  std::string out = "[";
  append_json_string(out, "x");
  out.push_back(',');
  append_json_string(out, "\n");
  EXPECT_EQ(out, R"(["x","\n")");
}

// ---------------------------------------------------------------------------------------------
// parse_array_index

TEST(TextTest, ParseArrayIndex) {
  struct Case {
    std::string_view key;
    bool ok;
    uint32_t expected;
  };
  const Case cases[] = {
      {"0", true, 0},
      {"1", true, 1},
      {"42", true, 42},
      {"1000000", true, 1000000},
      {"4294967294", true, 4294967294u},
      {"4294967295", false, 0},  // 2^32 - 1 is not an array index
      {"4294967296", false, 0},
      {"9999999999", false, 0},
      {"10000000000", false, 0},
      {"", false, 0},
      {"00", false, 0},
      {"01", false, 0},
      {"-0", false, 0},
      {"-1", false, 0},
      {"+1", false, 0},
      {" 1", false, 0},
      {"1 ", false, 0},
      {"1.0", false, 0},
      {"1e3", false, 0},
      {"0x1", false, 0},
      {"a", false, 0},
      {std::string_view("1\0", 2), false, 0},
  };
  for (const Case& c : cases) {
    uint32_t index = 12345;
    EXPECT_EQ(parse_array_index(c.key, index), c.ok) << c.key;
    EXPECT_EQ(index, c.ok ? c.expected : 12345u) << c.key;
  }
}

// ---------------------------------------------------------------------------------------------
// Differential test: every function against the obvious model "decode to UTF-16 with to_utf16,
// operate on the units" over many pseudo-random strings built from tricky fragments (ASCII,
// 2/3/4-byte sequences, lone and split surrogates, invalid and truncated bytes). Deterministic.

class Lcg {
 public:
  explicit Lcg(uint64_t seed) : state_(seed) {}
  uint32_t Next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state_ >> 33);
  }
  uint32_t Below(uint32_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

std::string RandomWtf8(Lcg& rng) {
  static const std::string_view kFragments[] = {
      "a",
      "b",
      "z",
      "\"",
      "\\",
      "\n",
      std::string_view("\0", 1),
      "\x1f",
      "\x7f",
      "\xC3\xA9",
      "\xE2\x82\xAC",
      "\xEF\xBD\xA1",
      "\xEF\xBF\xBD",
      "\xEF\xBF\xBF",
      "\xEE\x80\x80",
      "\xF0\x9F\x98\x80",
      "\xF0\x9F\x98\x81",
      "\xF4\x8F\xBF\xBF",
      "\xF0\x90\x80\x80",
      "\xED\xA0\xBD",
      "\xED\xB8\x80",
      "\xED\xAF\xBF",
      "\xED\x9F\xBF",
      "\xFF",
      "\x80",
      "\xC3",
      "\xE2\x82",
      "\xF0\x9F\x98",
      "\xC0\xAF",
      "\xF5",
      "\xBF",
  };
  constexpr uint32_t kCount = sizeof(kFragments) / sizeof(kFragments[0]);
  std::string s;
  const uint32_t pieces = rng.Below(7);
  for (uint32_t i = 0; i < pieces; ++i) s.append(kFragments[rng.Below(kCount)]);
  return s;
}

std::u16string ModelSubstr(const std::u16string& u, double start, double length, bool has_length) {
  const double size = static_cast<double>(u.size());
  double s = std::isnan(start) ? 0 : std::trunc(start);
  s = s < 0 ? std::max(size + s, 0.0) : std::min(s, size);
  double l = has_length ? (std::isnan(length) ? 0 : std::trunc(length)) : size;
  l = std::min(std::max(l, 0.0), size);
  const double e = std::min(s + l, size);
  if (s >= e) return u"";
  return u.substr(static_cast<size_t>(s), static_cast<size_t>(e - s));
}

TEST(TextTest, DifferentialAgainstUtf16Model) {
  Lcg rng(20240601);
  const double kStarts[] = {-kInf, -5, -3, -2, -1, 0, 1, 2, 3, 5, 8, kInf};
  for (int iter = 0; iter < 20000; ++iter) {
    const std::string a = RandomWtf8(rng);
    const std::string b = rng.Below(4) == 0 ? a : RandomWtf8(rng);
    const std::u16string ua = U16(a);
    const std::u16string ub = U16(b);

    ASSERT_EQ(js_length(a), ua.size()) << Json(a);
    ASSERT_EQ(Sign(js_compare(a, b)), Sign(ua.compare(ub))) << Json(a) << " vs " << Json(b);
    ASSERT_EQ(js_includes(a, b), ua.find(ub) != std::u16string::npos)
        << Json(a) << ".includes(" << Json(b) << ")";

    const double start = kStarts[rng.Below(12)];
    const double length = kStarts[rng.Below(12)];
    const bool has_length = rng.Below(3) != 0;
    const std::string sub = js_substr(a, start, length, has_length);
    ASSERT_EQ(U16(sub), ModelSubstr(ua, start, length, has_length)) << Json(a);
    ASSERT_EQ(sub, Wtf8(U16(sub))) << "substr output is canonical: " << Json(a);

    const size_t index = rng.Below(10);
    std::string ch;
    ASSERT_EQ(js_char_at(a, index, ch), index < ua.size()) << Json(a);
    if (index < ua.size()) {
      ASSERT_EQ(U16(ch), ua.substr(index, 1)) << Json(a);
    }

    // JSON output equals the JSON of the canonical re-encoding (same UTF-16 units).
    ASSERT_EQ(Json(a), Json(Wtf8(ua))) << Json(a);

    std::string joined = a;
    append_js_concat(joined, b);
    ASSERT_EQ(U16(joined), ua + ub) << Json(a) << " + " << Json(b);
  }
}

}  // namespace
}  // namespace pz
