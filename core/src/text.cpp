#include "pz/text.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pz {
namespace {

constexpr uint32_t kReplacement = 0xFFFD;

// One decoded token of a WTF-8 string: a well-formed sequence (len 1..4) or one invalid byte
// (len 1, cp U+FFFD, invalid true).
struct Token {
  uint32_t cp;
  uint32_t len;
  bool invalid;
};

inline const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

inline bool IsCont(unsigned char c) { return (c & 0xC0) == 0x80; }
inline bool IsSurrogate(uint32_t u) { return u >= 0xD800 && u <= 0xDFFF; }
inline bool IsHigh(uint32_t u) { return u >= 0xD800 && u <= 0xDBFF; }
inline bool IsLow(uint32_t u) { return u >= 0xDC00 && u <= 0xDFFF; }
inline size_t UnitCount(const Token& t) { return t.cp >= 0x10000 ? 2 : 1; }

// Decodes the token starting at s[i]; requires i < n. Never reads s[n] or beyond.
inline Token Decode(const unsigned char* s, size_t n, size_t i) {
  const unsigned char c = s[i];
  if (c < 0x80) return {c, 1, false};
  constexpr Token kInvalid = {kReplacement, 1, true};
  const size_t avail = n - i;
  if (c >= 0xC2 && c <= 0xDF) {
    if (avail < 2 || !IsCont(s[i + 1])) return kInvalid;
    return {(uint32_t{c} & 0x1F) << 6 | (s[i + 1] & 0x3Fu), 2, false};
  }
  if (c >= 0xE0 && c <= 0xEF) {
    // E0 needs A0..BF (no overlongs). ED accepts 80..BF: A0..BF are the WTF-8 surrogates.
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    if (avail < 3 || s[i + 1] < lo || s[i + 1] > 0xBF || !IsCont(s[i + 2])) return kInvalid;
    return {(uint32_t{c} & 0x0F) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3Fu), 3, false};
  }
  if (c >= 0xF0 && c <= 0xF4) {
    // F0 needs 90..BF (no overlongs), F4 needs 80..8F (at most U+10FFFF).
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    if (avail < 4 || s[i + 1] < lo || s[i + 1] > hi || !IsCont(s[i + 2]) || !IsCont(s[i + 3])) {
      return kInvalid;
    }
    return {(uint32_t{c} & 0x07) << 18 | (s[i + 1] & 0x3Fu) << 12 | (s[i + 2] & 0x3Fu) << 6 |
                (s[i + 3] & 0x3Fu),
            4, false};
  }
  return kInvalid;  // 80..C1 and F5..FF never start a sequence.
}

// Appends the UTF-8 (WTF-8 for a surrogate) of a code point <= U+10FFFF.
void AppendCodePoint(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

inline uint32_t CombinePair(uint32_t high, uint32_t low) {
  return 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
}

// Writes a stream of UTF-16 units (and whole tokens) as canonical WTF-8: a high surrogate is held
// back until the next unit shows whether it completes a pair. Call Finish() at the end.
class CanonicalWriter {
 public:
  explicit CanonicalWriter(std::string& out) : out_(out) {}

  void PutUnit(uint32_t u) {
    if (pending_high_ != 0) {
      if (IsLow(u)) {
        AppendCodePoint(CombinePair(pending_high_, u), out_);
        pending_high_ = 0;
        return;
      }
      AppendCodePoint(pending_high_, out_);
      pending_high_ = 0;
    }
    if (IsHigh(u)) {
      pending_high_ = u;
    } else {
      AppendCodePoint(u, out_);
    }
  }

  // Writes the whole token that starts at s[i].
  void PutToken(const unsigned char* s, size_t i, const Token& t) {
    if (t.invalid || IsSurrogate(t.cp)) {
      PutUnit(t.cp);
      return;
    }
    Finish();
    out_.append(reinterpret_cast<const char*>(s + i), t.len);
  }

  void Finish() {
    if (pending_high_ != 0) {
      AppendCodePoint(pending_high_, out_);
      pending_high_ = 0;
    }
  }

 private:
  std::string& out_;
  uint32_t pending_high_ = 0;
};

// Yields the UTF-16 units of s[i..n) one at a time; `i` must be a token boundary.
class UnitReader {
 public:
  UnitReader(const unsigned char* s, size_t n, size_t i) : s_(s), n_(n), i_(i) {}

  // Returns false at the end of the string.
  bool Next(uint32_t& unit) {
    if (pending_low_ != 0) {
      unit = pending_low_;
      pending_low_ = 0;
      return true;
    }
    if (i_ >= n_) return false;
    const Token t = Decode(s_, n_, i_);
    i_ += t.len;
    if (t.cp >= 0x10000) {
      unit = 0xD800 + ((t.cp - 0x10000) >> 10);
      pending_low_ = 0xDC00 + ((t.cp - 0x10000) & 0x3FF);
    } else {
      unit = t.cp;
    }
    return true;
  }

 private:
  const unsigned char* s_;
  size_t n_;
  size_t i_;
  uint32_t pending_low_ = 0;
};

// True when `s` is strict UTF-8: no invalid bytes and no surrogate sequences.
bool IsStrictUtf8(std::string_view sv) {
  const unsigned char* s = Bytes(sv);
  const size_t n = sv.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const Token t = Decode(s, n, i);
    if (t.invalid || IsSurrogate(t.cp)) return false;
    i += t.len;
  }
  return true;
}

// True when s[i..i+3) is a (3-byte) high or low surrogate sequence; requires i + 3 <= n.
inline bool IsHighSeq(const unsigned char* s, size_t i) {
  return s[i] == 0xED && s[i + 1] >= 0xA0 && s[i + 1] <= 0xAF && IsCont(s[i + 2]);
}
inline bool IsLowSeq(const unsigned char* s, size_t i) {
  return s[i] == 0xED && s[i + 1] >= 0xB0 && s[i + 1] <= 0xBF && IsCont(s[i + 2]);
}

// ToIntegerOrInfinity for an already-numeric value (NaN -> 0, truncation toward zero).
inline double ToIntegerOrInfinity(double d) {
  if (std::isnan(d)) return 0;
  if (std::isinf(d)) return d;
  return std::trunc(d);
}

constexpr char kHex[] = "0123456789abcdef";

void AppendEscapedUnit(uint32_t u, std::string& out) {
  out.append("\\u");
  out.push_back(kHex[(u >> 12) & 0xF]);
  out.push_back(kHex[(u >> 8) & 0xF]);
  out.push_back(kHex[(u >> 4) & 0xF]);
  out.push_back(kHex[u & 0xF]);
}

}  // namespace

void to_utf16(std::string_view wtf8, std::u16string& out) {
  const unsigned char* s = Bytes(wtf8);
  const size_t n = wtf8.size();
  out.reserve(out.size() + n);
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      out.push_back(static_cast<char16_t>(s[i]));
      ++i;
      continue;
    }
    const Token t = Decode(s, n, i);
    i += t.len;
    if (t.cp >= 0x10000) {
      out.push_back(static_cast<char16_t>(0xD800 + ((t.cp - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((t.cp - 0x10000) & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(t.cp));
    }
  }
}

void append_wtf8(std::u16string_view units, std::string& out) {
  CanonicalWriter writer(out);
  for (const char16_t u : units) writer.PutUnit(u);
  writer.Finish();
}

void append_js_concat(std::string& out, std::string_view tail) {
  size_t n = out.size();
  // An incomplete sequence can only be a lead byte (>= 0xC0) among the last 3 bytes followed by
  // continuation bytes. If it does not decode, each of its bytes is one U+FFFD unit now; write them
  // as such so that continuation bytes at the start of `tail` cannot turn them into a character.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(out[n - back]);
    if (IsCont(c)) continue;
    if (c >= 0xC0 &&
        Decode(reinterpret_cast<const unsigned char*>(out.data()), n, n - back).invalid) {
      out.resize(n - back);
      for (size_t k = 0; k < back; ++k) AppendCodePoint(kReplacement, out);
      n = out.size();
    }
    break;
  }
  const unsigned char* o = reinterpret_cast<const unsigned char*>(out.data());
  const unsigned char* t = Bytes(tail);
  // 0xED is never a continuation byte, so out's last three bytes form one token when they match.
  if (n >= 3 && tail.size() >= 3 && IsHighSeq(o, n - 3) && IsLowSeq(t, 0)) {
    const uint32_t high = 0xD000 | (o[n - 2] & 0x3Fu) << 6 | (o[n - 1] & 0x3Fu);
    const uint32_t low = 0xD000 | (t[1] & 0x3Fu) << 6 | (t[2] & 0x3Fu);
    out.resize(n - 3);
    AppendCodePoint(CombinePair(high, low), out);
    out.append(tail.substr(3));
    return;
  }
  out.append(tail);
}

size_t js_length(std::string_view wtf8) {
  const unsigned char* s = Bytes(wtf8);
  const size_t n = wtf8.size();
  size_t units = 0;
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      ++units;
      ++i;
      continue;
    }
    const Token t = Decode(s, n, i);
    units += UnitCount(t);
    i += t.len;
  }
  return units;
}

int js_compare(std::string_view a, std::string_view b) {
  const unsigned char* sa = Bytes(a);
  const unsigned char* sb = Bytes(b);
  const size_t na = a.size();
  const size_t nb = b.size();
  const size_t common = std::min(na, nb);
  size_t m = 0;
  while (m < common && sa[m] == sb[m]) ++m;
  if (m == na && m == nb) return 0;
  // Fast path: both differing bytes are ASCII (or one string ended at a token boundary followed by
  // ASCII in the other). Every token before m then decodes identically in both strings (a token
  // that starts before m stops at the first non-continuation byte), so the answer is the bytes'.
  const bool a_ascii_or_end = m == na || sa[m] < 0x80;
  const bool b_ascii_or_end = m == nb || sb[m] < 0x80;
  if (a_ascii_or_end && b_ascii_or_end) {
    const int ca = m == na ? -1 : sa[m];
    const int cb = m == nb ? -1 : sb[m];
    return ca < cb ? -1 : 1;
  }
  // General path: back up to a position that is a token boundary in both strings (the start, or a
  // non-continuation byte; at m itself it must be one in both), then compare UTF-16 units from
  // there. Tokens before that position are identical in both, because none of them reaches past it.
  size_t start = m;
  while (start > 0) {
    if (start == m) {
      const bool a_boundary = m == na || !IsCont(sa[m]);
      const bool b_boundary = m == nb || !IsCont(sb[m]);
      if (a_boundary && b_boundary) break;
    } else if (!IsCont(sa[start])) {
      break;
    }
    --start;
  }
  UnitReader ra(sa, na, start);
  UnitReader rb(sb, nb, start);
  while (true) {
    uint32_t ua = 0;
    uint32_t ub = 0;
    const bool has_a = ra.Next(ua);
    const bool has_b = rb.Next(ub);
    if (!has_a || !has_b) return has_a == has_b ? 0 : (has_a ? 1 : -1);
    if (ua != ub) return ua < ub ? -1 : 1;
  }
}

std::string js_substr(std::string_view wtf8, double start, double length, bool has_length) {
  const unsigned char* s = Bytes(wtf8);
  const size_t n = wtf8.size();
  bool ascii = true;
  for (size_t i = 0; i < n && ascii; ++i) ascii = s[i] < 0x80;
  const size_t size_units = ascii ? n : js_length(wtf8);
  const double size = static_cast<double>(size_units);

  // Steps of String.prototype.substr (ECMA-262 B.2.2.1).
  double int_start = ToIntegerOrInfinity(start);
  if (int_start == -INFINITY) {
    int_start = 0;
  } else if (int_start < 0) {
    int_start = std::max(size + int_start, 0.0);
  } else {
    int_start = std::min(int_start, size);
  }
  double int_length = has_length ? ToIntegerOrInfinity(length) : size;
  int_length = std::min(std::max(int_length, 0.0), size);
  const double int_end = std::min(int_start + int_length, size);
  if (int_start >= int_end) return std::string();
  // Both are integral and within [0, size], so the conversions are exact.
  const size_t begin = static_cast<size_t>(int_start);
  const size_t end = static_cast<size_t>(int_end);
  if (ascii) return std::string(wtf8.substr(begin, end - begin));

  std::string out;
  out.reserve(std::min(n, (end - begin) * 3));
  CanonicalWriter writer(out);
  size_t pos = 0;  // UTF-16 index of the current token's first unit.
  size_t i = 0;
  while (i < n && pos < end) {
    const Token t = Decode(s, n, i);
    const size_t k = UnitCount(t);
    if (pos >= begin && pos + k <= end) {
      writer.PutToken(s, i, t);
    } else if (k == 2) {
      // A pair cut by the range: keep whichever half lies inside it.
      if (pos >= begin && pos < end) writer.PutUnit(0xD800 + ((t.cp - 0x10000) >> 10));
      if (pos + 1 >= begin && pos + 1 < end) writer.PutUnit(0xDC00 + ((t.cp - 0x10000) & 0x3FF));
    }
    pos += k;
    i += t.len;
  }
  writer.Finish();
  return out;
}

bool js_includes(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (IsStrictUtf8(needle) && IsStrictUtf8(haystack)) {
    // Strict UTF-8 is self-synchronizing and a strict needle has no lone surrogates, so a byte
    // match is exactly a UTF-16 unit match.
    return haystack.find(needle) != std::string_view::npos;
  }
  std::u16string h;
  std::u16string nd;
  to_utf16(haystack, h);
  to_utf16(needle, nd);
  return h.find(nd) != std::u16string::npos;
}

bool js_char_at(std::string_view wtf8, size_t index, std::string& out) {
  const unsigned char* s = Bytes(wtf8);
  const size_t n = wtf8.size();
  size_t pos = 0;
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      if (pos == index) {
        out.assign(1, static_cast<char>(s[i]));
        return true;
      }
      ++pos;
      ++i;
      continue;
    }
    const Token t = Decode(s, n, i);
    const size_t k = UnitCount(t);
    if (index < pos + k) {
      uint32_t unit = t.cp;
      if (k == 2) {
        unit =
            index == pos ? 0xD800 + ((t.cp - 0x10000) >> 10) : 0xDC00 + ((t.cp - 0x10000) & 0x3FF);
      }
      out.clear();
      AppendCodePoint(unit, out);
      return true;
    }
    pos += k;
    i += t.len;
  }
  return false;
}

void append_json_string(std::string& out, std::string_view wtf8) {
  const unsigned char* s = Bytes(wtf8);
  const size_t n = wtf8.size();
  out.reserve(out.size() + n + 2);
  out.push_back('"');
  size_t run = 0;  // Start of the pending run of bytes that are copied unchanged.
  size_t i = 0;
  auto flush_run = [&](size_t upto) { out.append(wtf8.substr(run, upto - run)); };
  while (i < n) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c < 0x80) {
      flush_run(i);
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default:
          AppendEscapedUnit(c, out);
          break;
      }
      run = ++i;
      continue;
    }
    const Token t = Decode(s, n, i);
    if (!t.invalid && !IsSurrogate(t.cp)) {
      i += t.len;  // Non-ASCII scalar value: raw UTF-8, part of the run.
      continue;
    }
    flush_run(i);
    if (t.invalid) {
      AppendCodePoint(kReplacement, out);
      i += 1;
    } else if (IsHigh(t.cp) && i + 6 <= n && IsLowSeq(s, i + 3)) {
      // Non-canonical pair (two 3-byte halves): JSON.stringify sees a well-formed pair.
      const uint32_t low = 0xD000 | (s[i + 4] & 0x3Fu) << 6 | (s[i + 5] & 0x3Fu);
      AppendCodePoint(CombinePair(t.cp, low), out);
      i += 6;
    } else {
      AppendEscapedUnit(t.cp, out);  // Lone surrogate.
      i += 3;
    }
    run = i;
  }
  flush_run(n);
  out.push_back('"');
}

bool parse_array_index(std::string_view key, uint32_t& index) {
  if (key.empty() || key.size() > 10) return false;
  if (key[0] == '0' && key.size() > 1) return false;
  uint64_t value = 0;
  for (const char c : key) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > 4294967294u) return false;
  index = static_cast<uint32_t>(value);
  return true;
}

}  // namespace pz
