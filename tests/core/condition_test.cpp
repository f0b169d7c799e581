// evaluate_condition (what segments, metric filters and eligibility run) answers exactly what
// truthy(evaluate(...)) answers, the same error message included, over bundle rules of every
// shape it has a shortcut for (and/or, comparisons, in, starts_with, windows) and some it has not.
#include <gtest/gtest.h>

#include "pz/logic.h"
#include "test_util.h"

namespace pz {
namespace {

using testing::J;

// Namespaces from fixed objects; count/metric answer slot * 1.5; since answers slot ms.
class FixedHost : public RuleHost {
 public:
  Value traits = J(R"({"plan":"pro","n":3,"s":"abc","bad":{"indexOf":1},"list":["a",1,null],
                       "empty":[],"zero":0})");
  Value page = J(R"({"path":"/docs/a","title":5})");
  Value root(Root ns) override {
    switch (ns) {
      case Root::kTraits:
        return traits;
      case Root::kPage:
        return page;
      case Root::kNow:
        return Value::Number(1000);
      default:
        return Value::MakeObject({});
    }
  }
  Value whole_root() override {
    return Value::MakeObject({{"traits", traits}, {"page", page}, {"now", Value::Number(1000)}});
  }
  double count(int slot, const Window&) override { return slot * 1.5; }
  double metric(int slot, const Window&) override { return slot * 1.5; }
  Value since(int slot, bool) override { return Value::Number(slot); }
  bool in_segment(int segment) override { return segment == 1; }
  std::string_view profile_id() override { return "p"; }
};

TEST(Condition, EqualsTruthinessOfEvaluate) {
  const char* rules[] = {
      R"({"==":[{"var":"traits.plan"},"pro"]})",
      R"({"!=":[{"var":"traits.n"},"3"]})",
      R"({"===":[{"var":"traits.n"},3]})",
      R"({"<":[{"var":"traits.s"},"abd"]})",
      R"({">=":[{"var":"traits.list"},0]})",
      R"({"in":["b",{"var":"traits.s"}]})",
      R"({"in":[1,{"var":"traits.list"}]})",
      R"({"in":["a",{"var":"traits.bad"}]})",  // an own indexOf that is no function: throws
      R"({"in":["a",{"var":"traits.missing"}]})",
      R"({"starts_with":[{"var":"page.path"},"/docs"]})",
      R"({"starts_with":[{"var":"page.title"},"5"]})",
      R"({"ends_with":[{"var":"page.path"},"/a"]})",
      R"({"and":[{"var":"traits.n"},{"var":"traits.empty"}]})",
      R"({"and":[]})",
      R"({"or":[{"var":"traits.zero"},{"in":["a",{"var":"traits.bad"}]},true]})",
      R"({"or":[{"var":"traits.zero"},{"var":"traits.s"}]})",
      R"({"!":{"var":"traits.empty"}})",
      R"({"var":"traits.list"})",
      R"({">=":[{"count":["view","7d"]},1.5]})",
      R"({"<":[3,{"metric":["m","all"]}]})",
      R"({"==":[{"count":["view","1h"]},"1.5"]})",
      R"({"<":[{"since":["view"]},1]})",
      R"({"in_segment":["b"]})",
      R"({"if":[{"var":"traits.zero"},1,{"cat":["",{"var":"traits.empty"}]}]})",
      R"({"+":[{"var":"traits.n"},-3]})",
      R"({"some":[{"var":"traits.list"},{"==":[{"var":""},1]}]})",
      R"({"<":[1,{"var":"traits.n"},5]})",
  };
  FixedHost host;
  int failures = 0;
  for (const char* text : rules) {
    Program p;
    std::vector<CompileError> errors;
    ASSERT_TRUE(compile_rule(J(text), CompileOptions{true}, p, errors)) << text;
    // Resolve the refs as a bundle would: the slot is the index of the name in this list.
    for (RuleRef& ref : p.refs()) ref.slot = ref.name == "m" || ref.name == "view" ? 1 : 2;
    Result<Value> full = evaluate(p, Value(), &host);
    bool failed = false;
    std::string error = "unset";
    const bool t = evaluate_condition(p, &host, &failed, &error);
    EXPECT_EQ(failed, !full.ok()) << text;
    if (full.ok()) {
      EXPECT_EQ(t, truthy(full.value())) << text;
      EXPECT_EQ(error, "unset") << text;  // left alone without an error
    } else {
      ++failures;
      EXPECT_FALSE(t) << text;
      EXPECT_EQ(error, full.status().message()) << text;
    }
  }
  EXPECT_EQ(failures, 2);  // the two `in` over traits.bad
}

// window_read: the whole rule is one count/metric (its ref), nothing else is.
TEST(Condition, WindowRead) {
  auto read = [](const char* text) {
    Program p;
    std::vector<CompileError> errors;
    EXPECT_TRUE(compile_rule(J(text), CompileOptions{true}, p, errors)) << text;
    return p.window_read();
  };
  EXPECT_EQ(read(R"({"metric":["m","7d"]})"), 0);
  EXPECT_EQ(read(R"({"count":["view","all"]})"), 0);
  EXPECT_EQ(read(R"({"+":[{"metric":["m","7d"]},0]})"), -1);
  EXPECT_EQ(read(R"({">":[{"metric":["m","7d"]},0]})"), -1);
  EXPECT_EQ(read(R"({"since":["view"]})"), -1);
  EXPECT_EQ(read("3"), -1);
}

}  // namespace
}  // namespace pz
