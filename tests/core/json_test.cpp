// JSON text <-> Value as JSON.parse / JSON.stringify do it.
#include <gtest/gtest.h>

#include <cmath>

#include "pz/json.h"
#include "test_util.h"

namespace pz {
namespace {

std::string RoundTrip(std::string_view text) {
  Result<Value> r = parse_json(text);
  if (!r.ok()) return "error: " + r.status().message();
  return to_json(r.value());
}

TEST(Json, RoundTripsLikeJavaScript) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {R"({"b":1,"a":2,"10":3,"2":4})", R"({"2":4,"10":3,"b":1,"a":2})"},  // index keys first
      {R"({"a":1,"a":2,"b":3})", R"({"a":2,"b":3})"},  // last value, first position
      {"[1.0,-0,1e400,-1e400,1E2,0.1]", "[1,0,null,null,100,0.1]"},
      {"123456789012345678901234567890", "1.2345678901234568e+29"},
      {R"("\u00e9\n\t\"\\\/\u0001")", R"("é\n\t\"\\/\u0001")"},
      {R"("\ud83d\ude00")", R"("😀")"},
      {" \n[ true , false , null ]\r\n", "[true,false,null]"},
      {R"({"":{"":[]}})", R"({"":{"":[]}})"},
  };
  for (const Case& c : cases) EXPECT_EQ(RoundTrip(c.in), c.out) << c.in;
}

// Regression: simdjson refuses lone surrogate escapes that JSON.parse accepts; they are kept
// (as WTF-8) in strings and keys and printed back as escapes.
TEST(Json, LoneSurrogateEscapesAreKept) {
  EXPECT_EQ(RoundTrip(R"("\ud83d")"), R"("\ud83d")");
  EXPECT_EQ(RoundTrip(R"(["a\udc00b","x"])"), R"(["a\udc00b","x"])");
  EXPECT_EQ(RoundTrip(R"({"\udc00k":1,"b\"c":2})"), R"({"\udc00k":1,"b\"c":2})");
  EXPECT_EQ(RoundTrip(R"("\ud83d\u0041")"), R"("\ud83dA")");
}

TEST(Json, ErrorsSayWhatAndWhere) {
  EXPECT_EQ(RoundTrip(""), "error: invalid JSON: empty input");
  EXPECT_EQ(RoundTrip("   "), "error: invalid JSON: empty input");
  EXPECT_EQ(RoundTrip(R"({"a":1}})"),
            "error: invalid JSON at byte 7: unexpected content after the JSON value");
  EXPECT_EQ(
      RoundTrip(R"({"a":1} x)"),
      "error: invalid JSON: an object or array is not closed, or content follows the JSON value");
  EXPECT_EQ(
      RoundTrip(R"({"a":1)"),
      "error: invalid JSON: an object or array is not closed, or content follows the JSON value");
  EXPECT_EQ(RoundTrip("[1,]"),
            "error: invalid JSON at byte 3: misplaced or missing comma, colon, bracket or brace");
  EXPECT_EQ(RoundTrip("[tru]"), "error: invalid JSON at byte 1: invalid value");
  EXPECT_EQ(RoundTrip(R"(["\q"])"), "error: invalid JSON at byte 1: invalid string escape");
  EXPECT_EQ(RoundTrip(R"({"k\q":1})"), "error: invalid JSON at byte 2: invalid string escape");
  EXPECT_EQ(RoundTrip("{\"a\":\"\xff\"}").rfind("error: invalid JSON", 0), 0u);
  // A raw control character, in a key or a value (JSON.parse refuses both). The message is
  // simdjson's own (kept as it was: the CLI's output for a bad line stays byte for byte).
  for (const char* text : {"{\"a\x01\":1}", "[\"a\tb\"]", "{\"k\":\"\n\"}"}) {
    EXPECT_EQ(RoundTrip(text),
              "error: invalid JSON: UNESCAPED_CHARS: Within strings, some characters must be "
              "escaped, we found unescaped characters")
        << text;
  }
  // Keys without escapes are read up to their closing quote, whatever bytes they hold.
  EXPECT_EQ(RoundTrip("{\"\xc3\xa9t\xc3\xa9\":1,\"a b/c\":2,\"\":3}"),
            "{\"\xc3\xa9t\xc3\xa9\":1,\"a b/c\":2,\"\":3}");
  std::string deep(600, '[');
  deep += std::string(600, ']');
  EXPECT_EQ(RoundTrip(deep).rfind("error: invalid JSON", 0), 0u);
}

// Numbers follow JSON.parse exactly, inside containers and alone: the JSON grammar (no leading
// zeros, no "1.", no lone "-"), correctly rounded values, 1e400 -> Infinity (printed as null),
// -0 kept. Regression: "[01]", "[1.]" and "[-01.5]" used to be read as 1, 1 and -1.5, and a
// lone 1e400 was refused.
TEST(Json, NumbersFollowTheJsonGrammar) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"[01]", "error: invalid JSON at byte 1: invalid number"},
      {"[1.]", "error: invalid JSON at byte 1: invalid number"},
      {"[-01.5]", "error: invalid JSON at byte 1: invalid number"},
      {"[1e5x]", "error: invalid JSON at byte 1: invalid number"},
      {"[1e+]", "error: invalid JSON at byte 1: invalid number"},
      {R"({"a":-})", "error: invalid JSON at byte 5: invalid number"},
      {"01", "error: invalid JSON at byte 0: invalid number"},
      {"1.", "error: invalid JSON at byte 0: invalid number"},
      {" -", "error: invalid JSON at byte 1: invalid number"},
      {"1 2", "error: invalid JSON at byte 2: unexpected content after the JSON value"},
      {"1e400", "null"},
      {" -1e400 ", "null"},
      {"[1e-400,-1e-400]", "[0,0]"},
      {"-0", "0"},
      {"[0.1,1.5e+3,2E-2,-0.0e0]", "[0.1,1500,0.02,0]"},
      {R"({"a":12 ,"b":[3 , 4.25]})", R"({"a":12,"b":[3,4.25]})"},
      {"[2.2250738585072011e-308]", "[2.225073858507201e-308]"},
      {"9007199254740993", "9007199254740992"},  // a tie, to even
      {"[0.30000000000000004]", "[0.30000000000000004]"},
  };
  for (const Case& c : cases) EXPECT_EQ(RoundTrip(c.in), c.out) << c.in;
  Result<Value> minus_zero = parse_json("[-0]");
  ASSERT_TRUE(minus_zero.ok());
  EXPECT_TRUE(std::signbit(minus_zero.value().as_array()[0].as_number()));
}

TEST(Json, PathsForMessages) {
  std::string p = "segments";
  append_path_index(p, 3);
  append_path_key(p, "rule");
  append_path_key(p, "and");
  append_path_index(p, 1);
  EXPECT_EQ(p, "segments[3].rule.and[1]");
  std::string q = "defaults";
  append_path_key(q, "my slot");
  EXPECT_EQ(q, R"(defaults["my slot"])");
}

}  // namespace
}  // namespace pz
