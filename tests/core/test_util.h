// Shared helpers for the core tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "pz/json.h"
#include "pz/logic.h"

namespace pz::testing {

inline Value J(std::string_view text) {
  Result<Value> r = parse_json(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? r.value() : Value();
}

// Evaluates a plain JsonLogic rule (as `pz eval` does) and returns the JSON of the result, or
// "error: <message>".
inline std::string Eval(std::string_view rule, std::string_view data = "null") {
  Program p;
  std::vector<CompileError> errors;
  if (!compile_rule(J(rule), CompileOptions{}, p, errors)) {
    return "compile error: " + errors.front().path + ": " + errors.front().message;
  }
  Result<Value> r = evaluate(p, J(data), nullptr);
  if (!r.ok()) return "error: " + r.status().message();
  return to_json(r.value());
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace pz::testing
