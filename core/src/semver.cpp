#include "pz/semver.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "pz/text.h"

namespace pz {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsIdentChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

bool IsNumeric(std::string_view s) {
  for (const char c : s) {
    if (!IsDigit(c)) return false;
  }
  return !s.empty();
}

bool Fail(std::string* error, const char* reason) {
  if (error != nullptr) *error = reason;
  return false;
}

// Reads a version number at text[pos]: one or more digits, no leading zero unless it is "0".
// `missing` and `leading_zero` are the error reasons for the two ways it can fail.
bool ReadNumber(std::string_view text, size_t& pos, std::string& out, std::string* error,
                const char* missing, const char* leading_zero) {
  const size_t start = pos;
  while (pos < text.size() && IsDigit(text[pos])) ++pos;
  if (pos == start) return Fail(error, missing);
  if (text[start] == '0' && pos - start > 1) return Fail(error, leading_zero);
  out.assign(text.substr(start, pos - start));
  return true;
}

// Validates dot-separated identifiers (non-empty, [0-9A-Za-z-]); `numeric_rule` additionally
// rejects numeric identifiers with leading zeros (prerelease only).
bool ValidIdentifiers(std::string_view s, bool numeric_rule, std::string* error,
                      const char* what_empty, const char* what_char, const char* what_zero) {
  size_t start = 0;
  while (true) {
    size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view id = s.substr(start, end - start);
    if (id.empty()) return Fail(error, what_empty);
    for (const char c : id) {
      if (!IsIdentChar(c)) return Fail(error, what_char);
    }
    if (numeric_rule && id.size() > 1 && id[0] == '0' && IsNumeric(id)) {
      return Fail(error, what_zero);
    }
    if (end == s.size()) return true;
    start = end + 1;
  }
}

// Compares two decimal numbers without leading zeros: longer is larger, else digit by digit.
int CompareNumbers(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  const int c = a.compare(b);
  return (c > 0) - (c < 0);
}

int ComparePrerelease(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) {
    if (a.empty() && b.empty()) return 0;
    return a.empty() ? 1 : -1;  // No prerelease ranks above any prerelease.
  }
  size_t ia = 0;
  size_t ib = 0;
  while (true) {
    const bool end_a = ia > a.size();
    const bool end_b = ib > b.size();
    if (end_a || end_b) {
      if (end_a && end_b) return 0;
      return end_a ? -1 : 1;  // The shorter list of identifiers ranks lower.
    }
    size_t ea = a.find('.', ia);
    if (ea == std::string_view::npos) ea = a.size();
    size_t eb = b.find('.', ib);
    if (eb == std::string_view::npos) eb = b.size();
    const std::string_view x = a.substr(ia, ea - ia);
    const std::string_view y = b.substr(ib, eb - ib);
    const bool nx = IsNumeric(x);
    const bool ny = IsNumeric(y);
    int c = 0;
    if (nx && ny) {
      c = CompareNumbers(x, y);
    } else if (nx != ny) {
      c = nx ? -1 : 1;  // Numeric identifiers rank below alphanumeric ones.
    } else {
      const int raw = x.compare(y);
      c = (raw > 0) - (raw < 0);
    }
    if (c != 0) return c;
    ia = ea + 1;
    ib = eb + 1;
  }
}

std::string Quoted(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace

bool parse_semver(std::string_view text, SemVer& out, std::string* error) {
  if (text.empty()) return Fail(error, "empty version");
  SemVer v;
  size_t pos = 0;
  if (text[0] == 'v' || text[0] == 'V') pos = 1;
  if (!ReadNumber(text, pos, v.major, error, "expected major version number",
                  "leading zero in major version")) {
    return false;
  }
  v.minor = "0";
  v.patch = "0";
  if (pos < text.size()) {
    if (text[pos] != '.') return Fail(error, "expected '.' after major version");
    ++pos;
    if (!ReadNumber(text, pos, v.minor, error, "expected minor version number",
                    "leading zero in minor version")) {
      return false;
    }
    if (pos < text.size()) {
      if (text[pos] != '.') return Fail(error, "expected '.' after minor version");
      ++pos;
      if (!ReadNumber(text, pos, v.patch, error, "expected patch version number",
                      "leading zero in patch version")) {
        return false;
      }
      if (pos < text.size() && text[pos] == '-') {
        ++pos;
        size_t end = text.find('+', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view pre = text.substr(pos, end - pos);
        if (!ValidIdentifiers(pre, true, error, "empty prerelease identifier",
                              "invalid character in prerelease",
                              "leading zero in numeric prerelease identifier")) {
          return false;
        }
        v.prerelease.assign(pre);
        pos = end;
      }
      if (pos < text.size() && text[pos] == '+') {
        ++pos;
        const std::string_view build = text.substr(pos);
        if (!ValidIdentifiers(build, false, error, "empty build identifier",
                              "invalid character in build metadata", "")) {
          return false;
        }
        v.build.assign(build);
        pos = text.size();
      }
      if (pos < text.size()) return Fail(error, "unexpected characters after patch version");
    }
  }
  out = std::move(v);
  return true;
}

int compare_semver(const SemVer& a, const SemVer& b) {
  int c = CompareNumbers(a.major, b.major);
  if (c == 0) c = CompareNumbers(a.minor, b.minor);
  if (c == 0) c = CompareNumbers(a.patch, b.patch);
  if (c == 0) c = ComparePrerelease(a.prerelease, b.prerelease);
  return c;
}

bool eval_semver(std::string_view version, std::string_view op, std::string_view other,
                 bool& result, std::string& error) {
  SemVer a;
  SemVer b;
  if (!parse_semver(version, a, nullptr)) {
    error = "invalid version " + Quoted(version);
    return false;
  }
  if (!parse_semver(other, b, nullptr)) {
    error = "invalid version " + Quoted(other);
    return false;
  }
  if (op == "^") {
    result = a.major == b.major;
    return true;
  }
  if (op == "~") {
    result = a.major == b.major && a.minor == b.minor;
    return true;
  }
  const int c = compare_semver(a, b);
  if (op == "=") {
    result = c == 0;
  } else if (op == "!=") {
    result = c != 0;
  } else if (op == "<") {
    result = c < 0;
  } else if (op == "<=") {
    result = c <= 0;
  } else if (op == ">") {
    result = c > 0;
  } else if (op == ">=") {
    result = c >= 0;
  } else {
    error = "unknown sem_ver operator " + Quoted(op);
    return false;
  }
  return true;
}

}  // namespace pz
