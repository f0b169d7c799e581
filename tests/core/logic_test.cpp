// Every JsonLogic operator with its JavaScript edge cases. Expected values are reasoned from the
// ECMAScript spec and json-logic-js 2.0.5's source; tests/js/jsonlogic_diff.test.mjs checks the
// same engine against json-logic-js itself on random rules.
#include <gtest/gtest.h>

#include "pz/logic.h"
#include "test_util.h"

namespace pz {
namespace {

using testing::Eval;
using testing::J;

struct Case {
  const char* rule;
  const char* data;
  const char* expected;
};

void RunTable(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    EXPECT_EQ(Eval(c.rule, c.data), c.expected) << "rule " << c.rule << " data " << c.data;
  }
}

TEST(Logic, Var) {
  RunTable({
      {R"({"var":"a"})", R"({"a":1})", "1"},
      {R"({"var":["a"]})", R"({"a":1})", "1"},
      {R"({"var":"a.b.c"})", R"({"a":{"b":{"c":"deep"}}})", R"("deep")"},
      {R"({"var":["x",5]})", R"({"a":1})", "5"},
      {R"({"var":["a",5]})", R"({"a":null})", "null"},  // present null is not "not found"
      {R"({"var":["a.b",5]})", R"({"a":null})", "5"},   // null on the way is
      {R"({"var":""})", R"({"a":1})", R"({"a":1})"},
      {R"({"var":null})", R"([1,2])", "[1,2]"},
      {R"({"var":[]})", R"(7)", "7"},
      {R"({"var":1})", R"(["a","b"])", R"("b")"},
      {R"({"var":"1"})", R"(["a","b"])", R"("b")"},
      {R"({"var":"01"})", R"(["a","b"])", "null"},  // not a canonical index
      {R"({"var":"a.length"})", R"({"a":[1,2,3]})", "3"},
      {R"({"var":"s.length"})", R"({"s":"h😀"})", "3"},  // UTF-16 units
      {R"({"var":"s.1"})", R"({"s":"abc"})", R"("b")"},
      {R"({"var":"n.x"})", R"({"n":5})", "null"},
      {R"({"var":"a"})", "null", "null"},
      {R"({"var":{"cat":["a",".b"]}})", R"({"a":{"b":2}})", "2"},  // computed path
      {R"({"var":[["a"]]})", R"({"a":3})", "3"},                   // String(["a"]) is "a"
      {R"({"var":"a..b"})", R"({"a":{"":{"b":4}}})", "4"},
  });
}

TEST(Logic, MissingAndMissingSome) {
  RunTable({
      {R"({"missing":["a","b"]})", R"({"a":1})", R"(["b"])"},
      {R"({"missing":["a","b"]})", R"({"a":"","b":null})", R"(["a","b"])"},
      {R"({"missing":[["a","b"],"c"]})", R"({})", R"(["a","b"])"},  // leading array wins
      {R"({"missing":{"merge":["a",["b"]]}})", R"({"b":0})", R"(["a"])"},
      {R"({"missing":[]})", R"({})", "[]"},
      {R"({"missing_some":[1,["a","b"]]})", R"({"a":1})", "[]"},
      {R"({"missing_some":[2,["a","b","c"]]})", R"({"a":1})", R"(["b","c"])"},
      {R"({"missing_some":[1,"ab"]})", R"({})", "[]"},  // "ab".length 2 - 1 missing >= 1
      {R"({"missing_some":[1]})", R"({})",
       "error: TypeError: Cannot read properties of undefined (reading 'length')"},
  });
}

TEST(Logic, IfAndOr) {
  RunTable({
      {R"({"if":[true,"yes","no"]})", "null", R"("yes")"},
      {R"({"if":[[],"yes","no"]})", "null", R"("no")"},    // empty array is falsy
      {R"({"if":["0","yes","no"]})", "null", R"("yes")"},  // "0" is truthy
      {R"({"if":[false,1,false,2,3]})", "null", "3"},
      {R"({"if":[false,1,false,2]})", "null", "null"},
      {R"({"if":[]})", "null", "null"},
      {R"({"if":5})", "null", "5"},
      {R"({"?:":[1,"a","b"]})", "null", R"("a")"},
      {R"({"and":[1,"",2]})", "null", R"("")"},
      {R"({"and":[1,2]})", "null", "2"},
      {R"({"and":[]})", "null", "null"},  // undefined prints as null
      {R"({"or":[0,[],"x"]})", "null", R"("x")"},
      {R"({"or":[0,false]})", "null", "false"},
      {R"({"if":[true,1,{"nope":[]}]})", "null", "1"},  // untaken branch never throws
  });
}

TEST(Logic, Equality) {
  RunTable({
      {R"({"==":[1,"1"]})", "null", "true"},
      {R"({"==":[0,""]})", "null", "true"},
      {R"({"==":[null,0]})", "null", "false"},
      {R"({"==":[null]})", "null", "true"},  // null == undefined
      {R"({"==":[[],false]})", "null", "true"},
      {R"({"==":[[0],false]})", "null", "true"},
      {R"({"==":[[1,2],"1,2"]})", "null", "true"},
      {R"({"==":[[1],[1]]})", "null", "false"},  // two arrays, two identities
      {R"({"==":[{"var":"a"},{"var":"a"}]})", R"({"a":[1]})", "true"},  // one identity
      {R"({"==":[true,"1"]})", "null", "true"},
      {R"({"==":["true",true]})", "null", "false"},
      {R"({"==":[{"/":[0,0]},{"/":[0,0]}]})", "null", "false"},  // NaN
      {R"({"===":[1,"1"]})", "null", "false"},
      {R"({"===":[0,-0]})", "null", "true"},
      {R"({"!=":[1,"2"]})", "null", "true"},
      {R"({"!==":[1,1]})", "null", "false"},
  });
}

TEST(Logic, Comparison) {
  RunTable({
      {R"({"<":["10","9"]})", "null", "true"},  // both strings: by code units
      {R"({"<":["10",9]})", "null", "false"},
      {R"({"<":[1,2,3]})", "null", "true"},
      {R"({"<":[1,3,2]})", "null", "false"},
      {R"({"<=":[1,1,1]})", "null", "true"},
      {R"({"<":[1]})", "null", "false"},
      {R"({">":["b","a"]})", "null", "true"},
      {R"({">=":[null,0]})", "null", "true"},
      {R"({">":[null,-1]})", "null", "true"},
      {R"({"<=":["abc",1]})", "null", "false"},  // NaN compares false
      {R"({">=":["abc",1]})", "null", "false"},
      {R"({"<":[[2],[10]]})", "null", "false"},  // "2" < "10" as strings
      {R"({"<":["￡","😀"]})", "null", "false"},  // U+FFE1 > U+D83D
  });
}

TEST(Logic, Negation) {
  RunTable({
      {R"({"!":[true]})", "null", "false"},
      {R"({"!":true})", "null", "false"},
      {R"({"!":[[]]})", "null", "true"},
      {R"({"!":[]})", "null", "true"},  // !undefined
      {R"({"!!":["0"]})", "null", "true"},
      {R"({"!!":[[0]]})", "null", "true"},
      {R"({"!!":[{"/":[0,0]}]})", "null", "false"},
  });
}

TEST(Logic, Arithmetic) {
  RunTable({
      {R"({"+":[1,"2"]})", "null", "3"},
      {R"({"+":["3px",1]})", "null", "4"},  // parseFloat
      {R"({"+":"3"})", "null", "3"},
      {R"({"+":[]})", "null", "0"},
      {R"({"+":[true]})", "null", "null"},  // parseFloat("true") is NaN
      {R"({"+":[0.1,0.2]})", "null", "0.30000000000000004"},
      {R"({"*":["3"]})", "null", R"("3")"},  // reduce without initial returns the element
      {R"({"*":[2,"3"]})", "null", "6"},
      {R"({"*":[]})", "null", "error: TypeError: Reduce of empty array with no initial value"},
      {R"({"-":[5]})", "null", "-5"},
      {R"({"-":["3px",1]})", "null", "null"},  // ToNumber, not parseFloat
      {R"({"-":[[],1]})", "null", "-1"},
      {R"({"-":[5,{"and":[]}]})", "null", "-5"},  // b === undefined -> negation
      {R"({"/":[1,0]})", "null", "null"},         // Infinity prints as null
      {R"({"/":[" 6 ","3"]})", "null", "2"},
      {R"({"%":[-5,3]})", "null", "-2"},
      {R"({"%":[5.5,2]})", "null", "1.5"},
      {R"({"max":[1,"3",2]})", "null", "3"},
      {R"({"max":[]})", "null", "null"},  // -Infinity
      {R"({"min":[1,"x"]})", "null", "null"},
      {R"({"min":[null,1]})", "null", "0"},
      {R"({"*":[1e21,1]})", "null", "1e+21"},
      {R"({"/":[1,3]})", "null", "0.3333333333333333"},
      {R"({"*":[1e-7,1]})", "null", "1e-7"},
  });
}

TEST(Logic, ArrayOperators) {
  RunTable({
      {R"({"map":[[1,2],{"*":[{"var":""},2]}]})", "null", "[2,4]"},
      {R"({"map":[{"var":"xs"},{"+":[{"var":""},1]}]})", R"({"xs":[1]})", "[2]"},
      {R"({"map":["abc",{"var":""}]})", "null", "[]"},
      {R"({"filter":[[1,2,3,4],{"%":[{"var":""},2]}]})", "null", "[1,3]"},
      {R"({"reduce":[[1,2,3],{"+":[{"var":"current"},{"var":"accumulator"}]},10]})", "null", "16"},
      {R"({"reduce":[[1,2],{"var":"current"}]})", "null", "2"},
      {R"({"reduce":[5,{"var":"current"},"init"]})", "null", R"("init")"},
      {R"({"all":[[1,2],{">":[{"var":""},0]}]})", "null", "true"},
      {R"({"all":[[],{">":[{"var":""},0]}]})", "null", "false"},
      {R"({"none":[[],{">":[{"var":""},0]}]})", "null", "true"},
      {R"({"some":[[0,"",1],{"var":""}]})", "null", "true"},
      {R"({"some":[{"var":"items"},{">=":[{"var":"qty"},2]}]})",
       R"({"items":[{"qty":1},{"qty":2}]})", "true"},
      {R"({"merge":[[1,2],3,[[4]]]})", "null", "[1,2,3,[4]]"},
      {R"({"merge":[]})", "null", "[]"},
      {R"({"in":["a",["a","b"]]})", "null", "true"},
      {R"({"in":["a",[["a"]]]})", "null", "false"},
      {R"({"in":[1,"a1"]})", "null", "true"},  // indexOf(String(1))
      {R"({"in":["x",[]]})", "null", "false"},
      {R"({"in":["x",""]})", "null", "false"},
      {R"({"in":[1,[1]]})", "null", "true"},
      {R"({"in":["1",[1]]})", "null", "false"},  // strict equality inside arrays
  });
}

TEST(Logic, Strings) {
  RunTable({
      {R"({"cat":["a",1,null,true]})", "null", R"("a1true")"},
      {R"({"cat":[[1,[2,null]],{}]})", "null", R"("1,2,[object Object]")"},
      {R"({"cat":[1.5e300,-0]})", "null", R"("1.5e+3000")"},
      {R"({"substr":["jsonlogic",4]})", "null", R"("logic")"},
      {R"({"substr":["jsonlogic",-5]})", "null", R"("logic")"},
      {R"({"substr":["jsonlogic",1,3]})", "null", R"("son")"},
      {R"({"substr":["jsonlogic",4,-2]})", "null", R"("log")"},
      {R"({"substr":["jsonlogic",0,"-2"]})", "null", R"("")"},  // length + "-2" concatenates
      {R"({"substr":[null,1]})", "null", R"("ull")"},
      {R"({"substr":["😀abc",1]})", "null", R"("\ude00abc")"},  // splits a surrogate pair
      {R"({"cat":[{"substr":["😀",0,1]},{"substr":["😀",1]}]})", "null", R"("😀")"},
  });
}

TEST(Logic, Extensions) {
  RunTable({
      {R"({"starts_with":[{"var":"p"},"/pri"]})", R"({"p":"/pricing"})", "true"},
      {R"({"starts_with":[5,"5"]})", "null", "false"},  // strings only
      {R"({"ends_with":["shoe.png",".png"]})", "null", "true"},
      {R"({"ends_with":["a","abc"]})", "null", "false"},
      {R"({"sem_ver":["1.2.3",">=","1.2.0"]})", "null", "true"},
      {R"({"sem_ver":["1.0.0-beta","<","1.0.0"]})", "null", "true"},
      {R"({"sem_ver":["1.2.3","^","1.9.0"]})", "null", "true"},
      {R"({"sem_ver":["1.x","=","1.0.0"]})", "null", "false"},
  });
}

TEST(Logic, UnknownOperators) {
  RunTable({
      {R"({"fo":[1]})", "null", "error: Unrecognized operation fo"},
      {R"({"a.b":[1]})", "null", "error: Unrecognized operation a.b (failed at a)"},
      {R"({"fo":[{"*":[]}]})", "null",  // arguments are evaluated first
       "error: TypeError: Reduce of empty array with no initial value"},
      {R"({})", "null", "{}"},  // not logic: a literal
      {R"({"a":1,"b":2})", "null", R"({"a":1,"b":2})"},
      {R"([{"var":"a"},1])", R"({"a":0})", "[0,1]"},  // arrays are evaluated element-wise
      {R"({"count":["x","7d"]})", "null",
       "compile error: count: count needs a visitor profile: it is available in bundle rules only"},
  });
}

TEST(Logic, ConstantFolding) {
  Program p;
  std::vector<CompileError> errors;
  ASSERT_TRUE(compile_rule(J(R"({"and":[{">":[3,2]},{"in":["b",["a","b"]]}]})"), {}, p, errors));
  EXPECT_TRUE(p.is_constant());
  ASSERT_TRUE(compile_rule(J(R"({"==":[{"var":"x"},{"+":[1,2]}]})"), {}, p, errors));
  EXPECT_FALSE(p.is_constant());
  // {"merge":…} builds a new array every time: never folded into one shared value.
  ASSERT_TRUE(compile_rule(J(R"({"==":[{"merge":[1]},{"merge":[1]}]})"), {}, p, errors));
  EXPECT_EQ(to_json(evaluate(p, Value(), nullptr).value()), "false");
}

TEST(Logic, BundleModeErrorsCarryPaths) {
  CompileOptions bundle;
  bundle.bundle = true;
  struct E {
    const char* rule;
    const char* path;
    const char* message;
  };
  for (const E& e : std::vector<E>{
           {R"({"and":[true,{"fo":1}]})", "and[1]", "unknown operator \"fo\""},
           {R"({"var":"user.plan"})", "var",
            "unknown variable \"user\": rules read event.*, "
            "page.*, traits.*, segments.*, context.*, profile.* or now"},
           {R"({"count":[{"var":"t"},"7d"]})", "count",
            "count expects an event type as a literal string"},
           {R"({"count":["buy","7w"]})", "count",
            "invalid window \"7w\": expected <n>m, <n>h, <n>d or all"},
           {R"({"metric":["x"]})", "metric", "metric takes 2 arguments, got 1"},
           {R"({"var":"segments"})", "var", "segments must be read as segments.<id>"},
       }) {
    Program p;
    std::vector<CompileError> errors;
    EXPECT_FALSE(compile_rule(J(e.rule), bundle, p, errors)) << e.rule;
    ASSERT_EQ(errors.size(), 1u) << e.rule;
    EXPECT_EQ(errors[0].path, e.path) << e.rule;
    EXPECT_EQ(errors[0].message, e.message) << e.rule;
  }
}

TEST(Logic, Windows) {
  Window w;
  std::string error;
  ASSERT_TRUE(parse_window("30m", w, error));
  EXPECT_EQ(w.ms, 30 * 60000);
  ASSERT_TRUE(parse_window("48h", w, error));
  EXPECT_EQ(w.ms, 48 * 3600000LL);
  ASSERT_TRUE(parse_window("90d", w, error));
  EXPECT_EQ(w.ms, 90 * 86400000LL);
  ASSERT_TRUE(parse_window("all", w, error));
  EXPECT_TRUE(w.all());
  for (const char* bad : {"", "d", "0d", "07d", "-1d", "1.5h", "7w", "1000000d", "All"}) {
    EXPECT_FALSE(parse_window(bad, w, error)) << bad;
  }
}

}  // namespace
}  // namespace pz

namespace pz {
namespace {

// Regressions found by fuzz/fuzz_rule: tiny rules that json-logic-js would run until memory or
// time runs out are stopped with an error (tests/vectors/exceptions.json: resource-limits).
TEST(Logic, DoublingStringsAndArraysAreBounded) {
  std::string items = "[0";
  for (int i = 1; i < 40; ++i) items += "," + std::to_string(i);
  items += "]";
  EXPECT_EQ(testing::Eval(R"({"reduce":[)" + items +
                          R"(,{"cat":[{"var":"accumulator"},{"var":"accumulator"}]},"ab"]})"),
            "error: rule result too large: more than 1 MiB of text");
  EXPECT_EQ(testing::Eval(R"({"reduce":[)" + items +
                          R"(,{"merge":[{"var":"accumulator"},{"var":"accumulator"}]},[1]]})"),
            "error: rule result too large: more than 100000 items");
}

TEST(Logic, EvaluationStepsAreBounded) {
  std::string big = "[0";
  for (int i = 1; i < 400; ++i) big += ",0";
  big += "]";
  EXPECT_EQ(testing::Eval(R"({"map":[)" + big + R"(,{"map":[)" + big + R"(,{"map":[)" + big +
                          R"(,1]}]}]})"),
            "error: rule evaluation exceeded 1000000 steps");
  // A large but reasonable rule is fine: 400 x 400 = 160,000 inner evaluations.
  EXPECT_EQ(
      testing::Eval(
          R"({"reduce":[{"map":[)" + big + R"(,{"reduce":[)" + big +
          R"(,{"+":[{"var":"accumulator"},1]},0]}]},{"+":[{"var":"accumulator"},{"var":"current"}]},0]})"),
      "160000");
}

// compile_rule_parts builds the whole rule's program from its parts: the same program as
// compile_rule (node for node), and each part's program evaluates as the part compiled alone.
TEST(Logic, CompileRuleParts) {
  const char* rules[] = {
      R"({"and":[{"var":"a"},{"var":["b.c",3]},{"missing":["x","a"]}]})",
      R"({"or":[{"==":[{"var":"a"},1]},{"in":[{"var":"s"},["x","y"]]},{"map":[{"var":"list"},{"*":[{"var":""},2]}]}]})",
      R"({"or":[false,0,""]})",
      R"({"and":[[1,2],{"cat":["a",{"var":"a"}]},{"if":[{"var":"a"},"y","n"]}]})",
      R"({"and":[]})",
      R"({"or":[{"var":"z"}]})",
      R"({"and":[{"reduce":[{"var":"list"},{"+":[{"var":"current"},{"var":"accumulator"}]},0]},{"some":[{"var":"list"},{">":[{"var":""},2]}]},{"var":"a"}]})",
      // Each part reads its own path and names its own operator: the tables are shifted.
      R"({"or":[{"var":"x.y"},{"var":"b.c"},{"var":"q"}]})",
      R"({"or":[{"if":[false,{"foo":[]},0]},{"var":"a"},{"bar":[]}]})",
      R"({"and":[{"var":"a"},{"if":[{"var":"a"},{"baz":[1]},true]}]})",
  };
  const char* data[] = {
      R"({"a":1,"b":{"c":2},"s":"x","list":[1,2,3],"x":{"y":0},"q":"z"})",
      R"({"a":0,"x":{"y":"w"}})",
      "{}",
      "null",
      R"({"a":"","list":[]})",
  };
  auto show = [](const Result<Value>& r) {
    return r.ok() ? to_json(r.value()) : "error: " + r.status().message();
  };
  for (const char* text : rules) {
    const Value rule = J(text);
    Program direct, whole;
    std::vector<Program> parts;
    std::vector<CompileError> e1, e2;
    ASSERT_TRUE(compile_rule(rule, CompileOptions{}, direct, e1)) << text;
    ASSERT_TRUE(compile_rule_parts(rule, CompileOptions{}, whole, parts, e2)) << text;
    const Array& items = rule.as_object()[0].second.as_array();
    ASSERT_EQ(parts.size(), items.size()) << text;
    EXPECT_EQ(whole.node_count(), direct.node_count()) << text;
    EXPECT_EQ(whole.deps(), direct.deps()) << text;
    EXPECT_EQ(whole.loop_free(), direct.loop_free()) << text;
    EXPECT_EQ(whole.is_constant(), direct.is_constant()) << text;
    for (const char* d : data) {
      EXPECT_EQ(show(evaluate(whole, J(d), nullptr)), show(evaluate(direct, J(d), nullptr)))
          << text << " on " << d;
      for (size_t k = 0; k < items.size(); ++k) {
        Program alone;
        std::vector<CompileError> e3;
        ASSERT_TRUE(compile_rule(items[k], CompileOptions{}, alone, e3));
        EXPECT_EQ(show(evaluate(parts[k], J(d), nullptr)), show(evaluate(alone, J(d), nullptr)))
            << text << " part " << k << " on " << d;
      }
    }
  }
  // Errors: the same messages, in the same order, paths relative to the whole rule.
  CompileOptions bundle;
  bundle.bundle = true;
  std::string deep = "true";
  for (int i = 0; i < 256; ++i) deep = R"({"!":)" + deep + "}";  // 256 rule levels
  const std::string bad[] = {
      R"({"and":[{"metric":["m"]},{"var":"user.x"},{"count":["e","bad"]},{"nope":[1]}]})",
      R"({"or":[true,[{"var":"segments"}]]})",
      R"({"or":[true,)" + deep + "]}",  // the part is at depth 1, as in the whole rule
  };
  for (const std::string& text : bad) {
    Program direct, whole;
    std::vector<Program> parts;
    std::vector<CompileError> e1, e2;
    EXPECT_FALSE(compile_rule(J(text), bundle, direct, e1));
    EXPECT_FALSE(compile_rule_parts(J(text), bundle, whole, parts, e2));
    ASSERT_EQ(e2.size(), e1.size()) << text;
    ASSERT_FALSE(e1.empty());
    for (size_t i = 0; i < e1.size(); ++i) {
      EXPECT_EQ(e2[i].path, e1[i].path) << text;
      EXPECT_EQ(e2[i].message, e1[i].message) << text;
    }
  }
}

}  // namespace
}  // namespace pz
