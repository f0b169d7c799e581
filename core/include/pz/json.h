// JSON text <-> Value. Parsing uses simdjson On Demand; serialization is JavaScript's
// JSON.stringify (shortest round-trip numbers, NaN/Infinity as null, undefined members omitted,
// undefined array elements and an undefined top level as null).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "pz/status.h"
#include "pz/value.h"

namespace pz {

// Reusable parser (keeps its buffers between calls). Not thread-safe; one per thread.
class JsonParser {
 public:
  JsonParser();
  ~JsonParser();
  JsonParser(const JsonParser&) = delete;
  JsonParser& operator=(const JsonParser&) = delete;

  // Parses one JSON document. Errors are kInvalidJson with a byte offset when known:
  // "invalid JSON at byte 12: ..." .
  Result<Value> parse(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-off parse with a temporary parser.
Result<Value> parse_json(std::string_view text);

void append_json(std::string& out, const Value& value);
std::string to_json(const Value& value);

// Renders a JSON path the way error messages show it: `segments[3].rule.and[1]`, with
// `["key with spaces"]` for keys that are not identifiers.
void append_path_key(std::string& path, std::string_view key);
void append_path_index(std::string& path, size_t index);

// Short name of a JSON kind for messages: "string", "number", "array", ...
const char* kind_name(const Value& value);

}  // namespace pz
