// The `pz` binary's entry points as DESIGN.md fixes them: exit codes, stdout bytes.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <unistd.h>

#include "test_util.h"

namespace pz {
namespace {

struct CliRun {
  int code;
  std::string out;
};

CliRun Pz(const std::string& args, const std::string& input) {
  // CTest runs tests in parallel processes: a file of our own per call.
  static int calls = 0;
  std::string in_path = ::testing::TempDir() + "/pz_cli_in." + std::to_string(getpid()) + "." +
                        std::to_string(++calls) + ".txt";
  std::ofstream(in_path, std::ios::binary) << input;
  std::string cmd = std::string(PZ_CLI) + " " + args + " < " + in_path + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::remove(in_path.c_str());
  return r;
}

TEST(Cli, EvalOneLinePerInputLine) {
  CliRun r = Pz("eval", R"({"rule":{"+":[1,2]}}
{"rule":{"var":"a"},"data":{"a":[1,"x"]}}
not json
{"data":1}
{"rule":{"fo":1}}
[1]
)");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, R"({"result":3}
{"result":[1,"x"]}
{"error":"line 3: invalid JSON at byte 0: invalid literal"}
{"error":"line 4: missing \"rule\""}
{"error":"Unrecognized operation fo"}
{"error":"line 6: expected an object {\"rule\":…, \"data\":…}, got array"}
)");
}

TEST(Cli, ValidateExitCodes) {
  CliRun ok = Pz("validate " PZ_SOURCE_DIR "/demo-site/bundle.json", "");
  EXPECT_EQ(ok.code, 0);
  EXPECT_EQ(ok.out, PZ_SOURCE_DIR
            "/demo-site/bundle.json: ok, bundle \"2026-11-23.1\": 6 metrics, "
            "9 segments, 13 actions, 4 slots\n");
  std::string bad = ::testing::TempDir() + "/pz_bad_bundle." + std::to_string(getpid()) + ".json";
  std::ofstream(bad) << R"({"version":"x","segments":[{"id":"a","rule":{"and":[1,{"fo":2}]}},
    {"id":"b","rule":{"count":["x","9y"]}}]})";
  CliRun r = Pz("validate " + bad, "");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(
      r.out,
      bad +
          ": invalid bundle, 2 errors\n"
          "segments[0].rule.and[1]: unknown operator \"fo\"\n"
          "segments[1].rule.count: invalid window \"9y\": expected <n>m, <n>h, <n>d or all\n");
  EXPECT_EQ(Pz("validate /nonexistent/file.json", "").code, 2);
}

TEST(Cli, SimulateDefaultsAndUsage) {
  // The demo bundle is opt-in: before consent nothing is kept (no segments), after it the
  // profile grows.
  CliRun r = Pz("simulate --bundle " PZ_SOURCE_DIR "/demo-site/bundle.json",
                R"({"t":0,"type":"page_view","page":{"path":"/"}}
{"t":1,"decide":["hero"]}
{"t":1,"consent":{"personalization":true,"analytics":true}}
{"t":1,"type":"page_view","page":{"path":"/pricing"}}
{"t":2,"decide":["banner","hero","nope"]}
)");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(
      r.out,
      R"({"t":1,"segments":[],"decisions":[{"slot":"hero","action":null,"content":{"title":"Welcome"}}]}
{"t":2,"segments":["engaged","new"],"decisions":[{"slot":"banner","action":null,"content":{"title":"Free shipping over $50"}},{"slot":"hero","action":null,"content":{"title":"Welcome"}},{"slot":"nope","action":null,"content":null}]}
)");
  EXPECT_EQ(Pz("simulate", "").code, 2);
  EXPECT_EQ(Pz("frobnicate", "").code, 2);
}

// Regression found by fuzz/fuzz_simulate: a huge `t` on a control line overflowed int64.
TEST(Cli, ControlLineTimesAreBounded) {
  CliRun r = Pz("simulate --bundle " PZ_SOURCE_DIR "/demo-site/bundle.json",
                R"({"t":1e30,"decide":[]}
{"t":-1e300,"consent":{"personalization":true}}
{"t":8640000000000000,"decide":["hero"]}
)");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(
      r.out,
      R"x({"error":"line 1: t must be a time in ms since the epoch (a number of at most 8.64e15)"}
{"error":"line 2: t must be a time in ms since the epoch (a number of at most 8.64e15)"}
{"t":8640000000000000,"segments":[],"decisions":[{"slot":"hero","action":null,"content":{"title":"Welcome"}}]}
)x");
}

TEST(Cli, ExplainPrintsWhy) {
  CliRun r = Pz("explain --bundle " PZ_SOURCE_DIR "/demo-site/bundle.json",
                R"({"t":1,"consent":{"personalization":true}}
{"t":2,"type":"page_view","page":{"path":"/pricing"}}
{"t":3,"type":"page_view","page":{"path":"/pricing"}}
{"t":4,"type":"page_view","page":{"path":"/pricing"}}
{"t":5,"type":"add_to_cart"}
{"t":6,"decide":["hero"]}
)");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, R"(t=6 segments: engaged, high_intent, new
  hero: vip_offer (priority 2 = propensity 0.05 x context_weight 1 x value 40 x lever 1)
    passed: {"in_segment":["high_intent"]} -> true
    runner-up cart_reminder: not eligible
      failed: {"in_segment":["cart_abandoner"]} -> false
    also win_back: not eligible
)");
}

}  // namespace
}  // namespace pz
