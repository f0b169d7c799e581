// The `pz` command protocols (eval, simulate, validate) as pure functions over text, so that the
// native CLI and the wasm CLI (`node js/bin/pz.mjs`) print the same bytes: hosts only move lines
// between stdin/stdout/files and these functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pz/engine.h"
#include "pz/json.h"
#include "pz/status.h"

namespace pz::cli {

// `pz eval`: one input line `{"rule":…, "data":…}` -> one output line (no newline) `{"result":…}`
// or `{"error":"…"}`. `line_no` (1-based) prefixes input errors.
std::string eval_line(std::string_view line, size_t line_no, JsonParser& parser);

// `pz simulate`: one visitor driven by event and control lines. Besides DESIGN.md's lines:
// {"t":…,"sync":<state>} merges a profile state from another device (docs/sync.md), and
// {"t":…,"export":true} prints {"t":…,"state":<this visitor's state>}.
class Simulator {
 public:
  // Loads the bundle; on error returns the `pz validate`-style error text in the Status message.
  Status init(std::string_view bundle_json, std::string anonymous_id);
  // Processes one line. Returns true and sets `out` (no newline) when the line produces output:
  // a decide line's result or an error line. Blank lines are ignored.
  bool feed(std::string_view line, size_t line_no, std::string& out);
  Engine& engine() { return engine_; }
  // `pz explain`: decide lines print the decisions' reasons as text instead of JSON.
  void set_explain(bool on) { explain_ = on; }

 private:
  bool explain_ = false;
  Engine engine_;
  JsonParser parser_;
};

// The readable form of decisions' `why` (`pz explain`), several lines without a final newline.
std::string explain_text(const Value& t, const std::vector<std::string>& segments,
                         const std::vector<Decision>& decisions, const std::vector<Value>& whys);

// `pz tcf STRING`: the decoded TC string as JSON, or {"error": …}; returns the exit code (0 or 1).
int tcf(std::string_view tc_string, std::string& out);

// `pz validate`: returns the process exit code (0 valid, 1 invalid) and sets `out`.
int validate(std::string_view bundle_json, std::string_view file_name, std::string& out);

}  // namespace pz::cli
