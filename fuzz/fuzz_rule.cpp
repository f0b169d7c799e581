// libFuzzer target: JsonLogic rules. The input is JSON text; when it parses it is compiled as a
// plain rule (CompileOptions{}) and evaluated against a fixed data document and against the
// parsed value itself as data; it is also compiled in bundle mode (result ignored).
// Invariants: no crash/leak/UB/hang; compile_rule returns false exactly when it reported errors;
// evaluation results serialize to JSON that re-parses to the same text; evaluation is
// deterministic (a second evaluation of the same program gives the same text).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "pz/json.h"
#include "pz/logic.h"

namespace {

const pz::Value& fixed_data() {
  static const pz::Value* data = [] {
    pz::Result<pz::Value> v = pz::parse_json(R"({
      "a": 1, "b": "two", "c": [1, 2, 3, "x", null, true, [4], {"d": 5}],
      "e": {"f": {"g": -0.5, "h": ""}, "0": "zero", "1": [], "k": {}},
      "n": null, "t": true, "f": false, "big": 1e308, "tiny": 5e-324, "neg": -42,
      "s": "Hello, wörld \ud83d\ude00 \ud83d", "num_s": " 12.5e1 ", "hex": "0x1F",
      "list": ["apple", "banana", "cherry"], "nums": [3, 1, 4, 1, 5, 9, 2, 6],
      "version": "1.2.3-beta.1+build.5", "path": "/shop/running-shoes/trail-2",
      "event": {"type": "page_view", "props": {"value": 25}},
      "page": {"path": "/pricing", "url": "https://shop.example/pricing"},
      "traits": {"plan": "pro"}, "profile": {"first_seen": 1700000000000}, "now": 1700000001000
    })");
    if (!v.ok()) pz_fuzz::fail("fixed data does not parse", v.status().message());
    return new pz::Value(v.take());
  }();
  return *data;
}

void evaluate_checked(const pz::Program& program, const pz::Value& data) {
  pz::Result<pz::Value> r = pz::evaluate(program, data, nullptr);
  if (!r.ok()) {
    PZ_FUZZ_CHECK(
        r.status().code() == pz::Code::kEvalError || r.status().code() == pz::Code::kLimitExceeded,
        r.status().message());
    pz::Result<pz::Value> r2 = pz::evaluate(program, data, nullptr);
    PZ_FUZZ_CHECK(!r2.ok() && r2.status().message() == r.status().message(), r.status().message(),
                  r2.ok() ? "ok" : r2.status().message());
    return;
  }
  std::string text = pz_fuzz::serialize_checked(r.value());
  pz::Result<pz::Value> r2 = pz::evaluate(program, data, nullptr);
  PZ_FUZZ_CHECK(r2.ok(), text, r2.status().message());
  std::string text2 = pz::to_json(r2.value());
  PZ_FUZZ_CHECK(text == text2, text, text2);
  (void)pz::truthy(r.value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pz::JsonParser* parser = new pz::JsonParser();
  pz::Result<pz::Value> parsed = parser->parse(pz_fuzz::bytes(data, size));
  if (!parsed.ok()) return 0;
  const pz::Value& rule = parsed.value();

  {
    pz::Program program;
    std::vector<pz::CompileError> errors;
    bool ok = pz::compile_rule(rule, pz::CompileOptions{}, program, errors);
    PZ_FUZZ_CHECK(ok == errors.empty());
    if (ok) {
      (void)program.node_count();
      (void)program.is_constant();
      evaluate_checked(program, fixed_data());
      evaluate_checked(program, rule);
      evaluate_checked(program, pz::Value());
    } else {
      for (const pz::CompileError& e : errors) PZ_FUZZ_CHECK(!e.message.empty(), e.path);
    }
  }
  {
    pz::Program program;
    std::vector<pz::CompileError> errors;
    bool ok = pz::compile_rule(rule, pz::CompileOptions{.bundle = true}, program, errors);
    PZ_FUZZ_CHECK(ok == errors.empty());
    for (const pz::RuleRef& ref : program.refs()) (void)ref.name.size();
  }
  return 0;
}
