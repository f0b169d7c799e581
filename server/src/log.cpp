#include "log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "pz/json.h"

namespace pz::server {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mu;

std::string timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const int64_t ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int fields (the compiler cannot see the ranges)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}
}  // namespace

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
bool log_enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void log(LogLevel level, const std::string& msg, std::vector<Member> fields, bool always) {
  if (!always && !log_enabled(level)) return;
  static const char* const kNames[] = {"info", "warn", "error"};
  std::vector<Member> all;
  all.reserve(fields.size() + 3);
  all.emplace_back("ts", Value::String(timestamp()));
  all.emplace_back("level", Value::String(kNames[static_cast<int>(level)]));
  all.emplace_back("msg", Value::String(msg));
  for (Member& f : fields) all.push_back(std::move(f));
  std::string line = to_json(Value::MakeObject(std::move(all)));
  line += '\n';
  std::lock_guard<std::mutex> lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace pz::server
