// Structured logs: one JSON object per line on stderr. Callers pass only operational fields:
// never profile ids, event contents, keys or client addresses.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "pz/value.h"

namespace pz::server {

enum class LogLevel : unsigned char { kInfo, kWarn, kError };

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
// {"ts": ISO-8601 UTC ms, "level", "msg", ...fields}. `always`: whatever the level (the start
// and stop lines, which tools wait for).
void log(LogLevel level, const std::string& msg, std::vector<Member> fields = {},
         bool always = false);

}  // namespace pz::server
