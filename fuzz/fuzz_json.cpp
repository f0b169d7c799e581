// libFuzzer target: pz::parse_json on arbitrary bytes.
// Invariants: no crash/leak/UB; when the input parses, to_json(value) re-parses and the second
// to_json is byte-identical (round-trip stability); the reusable JsonParser agrees with the
// one-off parse_json (same success, same serialization), also when reused after other input.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "pz/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = pz_fuzz::bytes(data, size);
  static pz::JsonParser* reused = new pz::JsonParser();  // keeps buffers across inputs

  pz::Result<pz::Value> once = pz::parse_json(text);
  pz::Result<pz::Value> again = reused->parse(text);
  PZ_FUZZ_CHECK(once.ok() == again.ok(), once.ok() ? "parse_json ok" : once.status().message(),
                again.ok() ? "JsonParser ok" : again.status().message());
  if (!once.ok()) {
    PZ_FUZZ_CHECK(once.status().code() == pz::Code::kInvalidJson ||
                      once.status().code() == pz::Code::kLimitExceeded,
                  once.status().message());
    PZ_FUZZ_CHECK(!once.status().message().empty());
    return 0;
  }
  std::string first = pz::to_json(once.value());
  std::string reused_text = pz::to_json(again.value());
  PZ_FUZZ_CHECK(first == reused_text, first, reused_text);
  pz_fuzz::check_serialized(first);

  // A value survives being held and copied after the parser moved on.
  pz::Value copy = once.value();
  (void)reused->parse("[1,{\"a\":\"b\"}]");
  PZ_FUZZ_CHECK(pz::to_json(copy) == first);
  return 0;
}
