// Runs the shared conformance vectors (tests/vectors/**/*.json with "bundle", "events",
// "expected") through the simulate protocol, byte for byte. The same files run on wasm and edge;
// a case a target may differ on is listed in tests/vectors/exceptions.json, never skipped here
// silently.
#include <gtest/gtest.h>

#include <filesystem>

#include "pz/cli.h"
#include "test_util.h"

namespace pz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> VectorFiles() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(PZ_SOURCE_DIR "/tests/vectors")) {
    if (entry.is_regular_file() && entry.path().extension() == ".json" &&
        entry.path().filename() != "exceptions.json") {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Vectors listed for the native target in exceptions.json (by "vector": relative path).
std::vector<std::string> NativeExceptions() {
  std::vector<std::string> out;
  Value doc = testing::J(testing::ReadFile(PZ_SOURCE_DIR "/tests/vectors/exceptions.json"));
  const Value* list = doc.find("exceptions");
  if (list == nullptr) return out;
  for (const Value& e : list->as_array()) {
    const Value* vector = e.find("vector");
    const Value* targets = e.find("targets");
    if (vector == nullptr || targets == nullptr) continue;
    for (const Value& t : targets->as_array()) {
      if (t.as_string() == "native") out.push_back(vector->as_string());
    }
  }
  return out;
}

TEST(Vectors, SimulateMatchesExpectedBytes) {
  std::vector<fs::path> files = VectorFiles();
  ASSERT_GE(files.size(), 7u);
  std::vector<std::string> exceptions = NativeExceptions();
  for (const fs::path& file : files) {
    std::string rel = fs::relative(file, PZ_SOURCE_DIR "/tests/vectors").string();
    if (std::find(exceptions.begin(), exceptions.end(), rel) != exceptions.end()) continue;
    SCOPED_TRACE(rel);
    Value v = testing::J(testing::ReadFile(file.string()));
    ASSERT_TRUE(v.is_object());
    const Value* bundle = v.find("bundle");
    const Value* events = v.find("events");
    const Value* expected = v.find("expected");
    ASSERT_TRUE(bundle && events && expected && v.find("description"));
    const Value* id = v.find("id");
    cli::Simulator sim;
    Status st = sim.init(to_json(*bundle), id ? id->as_string() : "sim");
    ASSERT_TRUE(st.ok()) << st.message();
    std::vector<std::string> got;
    size_t line_no = 0;
    for (const Value& line : events->as_array()) {
      std::string out;
      if (sim.feed(to_json(line), ++line_no, out)) got.push_back(out);
    }
    std::vector<std::string> want;
    for (const Value& line : expected->as_array()) want.push_back(to_json(line));
    EXPECT_EQ(got, want);
  }
}

}  // namespace
}  // namespace pz
