// libFuzzer target: the `pz simulate` and `pz eval` line protocols (pz::cli).
// The input is split into lines; each line is fed to a fresh pz::cli::Simulator initialised with
// the demo bundle (demo-site/bundle.json, read once at startup) and to pz::cli::eval_line.
// Invariants: no crash/leak/UB/hang; every output line is a JSON object that re-parses and
// re-serializes to the same bytes; eval_line output is {"result":…} or {"error":…}.
//
// The bundle path is $PZ_FUZZ_DEMO_BUNDLE if set, else the path baked in at compile time
// (-DPZ_FUZZ_DEMO_BUNDLE=…, set by fuzz/Makefile).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "pz/cli.h"
#include "pz/json.h"

namespace {

using pz_fuzz::demo_bundle;

void check_line(const std::string& out, bool eval) {
  PZ_FUZZ_CHECK(!out.empty());
  PZ_FUZZ_CHECK(out.find('\n') == std::string::npos, out);
  pz_fuzz::check_serialized(out);
  pz::Result<pz::Value> v = pz::parse_json(out);
  PZ_FUZZ_CHECK(v.ok() && v.value().is_object(), out);
  if (eval) {
    PZ_FUZZ_CHECK(v.value().as_object().size() == 1, out);
    const std::string& key = v.value().as_object()[0].first;
    PZ_FUZZ_CHECK(key == "result" || key == "error", out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Fail at startup, not on the first input, when the demo bundle is missing or invalid.
  pz::cli::Simulator probe;
  pz::Status st = probe.init(demo_bundle(), "fuzz-visitor");
  if (!st.ok()) {
    std::fprintf(stderr, "fuzz_simulate: the demo bundle does not load:\n%s\n",
                 st.message().c_str());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = pz_fuzz::bytes(data, size);
  static pz::JsonParser* eval_parser = new pz::JsonParser();

  pz::cli::Simulator sim;
  pz::Status st = sim.init(demo_bundle(), "fuzz-visitor");
  PZ_FUZZ_CHECK(st.ok(), st.message());

  size_t line_no = 0;
  size_t start = 0;
  std::string out;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    ++line_no;
    out.clear();
    if (sim.feed(line, line_no, out)) check_line(out, false);
    check_line(pz::cli::eval_line(line, line_no, *eval_parser), true);
    start = nl + 1;
  }
  // A final decision after whatever the lines did.
  out.clear();
  PZ_FUZZ_CHECK(sim.feed(R"({"t":1793700000000,"decide":["hero","banner"]})", line_no + 1, out));
  check_line(out, false);
  return 0;
}
