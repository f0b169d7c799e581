// JavaScript string semantics over the runtime's internal strings.
//
// Internal strings are std::string holding WTF-8: UTF-8, except that a lone UTF-16 surrogate
// (U+D800..U+DFFF) may appear encoded as a 3-byte sequence (ED A0..BF 80..BF), because JavaScript
// operations such as substr can split a surrogate pair. The canonical form never holds a high
// surrogate sequence immediately followed by a low surrogate sequence (that pair is written as the
// 4-byte UTF-8 of its code point); every function that produces strings here produces canonical
// form, and every function that reads strings also accepts the non-canonical form, treating it by
// its UTF-16 code units.
//
// Decoding rules shared by every function (the "JS view" of a byte string):
//   * well-formed UTF-8 sequences (shortest form, at most U+10FFFF) give their code point: one
//     UTF-16 unit, or two (a surrogate pair) above U+FFFF;
//   * a 3-byte sequence ED A0..BF xx gives that one surrogate unit;
//   * any other byte (stray continuation byte, overlong or out-of-range lead, truncated sequence)
//     is invalid and gives one U+FFFD unit per invalid byte (so "\xE2\x82" is two U+FFFD units).
//
// Everything here is pure: no I/O, no exceptions, no global state. Sizes and indices are in UTF-16
// code units unless a comment says bytes.
#ifndef PZ_TEXT_H_
#define PZ_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pz {

// Appends the UTF-16 code units of a WTF-8 string to `out` (invalid bytes map to U+FFFD, one unit
// per invalid byte).
void to_utf16(std::string_view wtf8, std::u16string& out);

// Appends UTF-16 code units to `out` as canonical WTF-8: well-formed surrogate pairs become 4-byte
// UTF-8, lone surrogates become 3-byte sequences. Only pairs inside `units` are joined; `out`'s
// existing bytes are not looked at (use append_js_concat to join two strings).
void append_wtf8(std::u16string_view units, std::string& out);

// Appends `tail` to `out` the way JavaScript's string concatenation does: the result's UTF-16 units
// are exactly out's followed by tail's. Plain byte appending is not enough in two cases, handled
// here: a lone high surrogate ending `out` and a lone low surrogate starting `tail` become one
// 4-byte sequence (so canonical inputs give a canonical result), and an incomplete sequence ending
// `out` (invalid bytes, i.e. U+FFFD units) is first rewritten as that many encoded U+FFFD so that
// tail's bytes cannot complete it. All other bytes are copied unchanged.
void append_js_concat(std::string& out, std::string_view tail);

// Number of UTF-16 code units (JavaScript "length") without allocating.
size_t js_length(std::string_view wtf8);

// JavaScript string comparison: lexicographic by UTF-16 code units. Returns <0, 0 or >0. Strings
// whose bytes differ can still compare equal (an invalid byte and "\uFFFD"; a non-canonical pair
// and its 4-byte form). Correct where UTF-8 byte order and UTF-16 order disagree (code points above
// U+FFFF sort between U+D7FF and U+E000 in UTF-16). Cost: one byte scan of the common prefix plus
// decoding from the first difference.
int js_compare(std::string_view a, std::string_view b);

// String.prototype.substr(start, length) on UTF-16 units with the specification's clamping.
// `start` and `length` were already converted by the caller with ToIntegerOrInfinity (integral
// doubles, possibly +-infinity; a NaN is treated as 0). has_length = false means length was
// undefined (take the rest of the string). A split surrogate pair yields a lone surrogate (3
// bytes); invalid input bytes come out as U+FFFD. The result is canonical WTF-8.
std::string js_substr(std::string_view wtf8, double start, double length, bool has_length);

// String.prototype.includes / indexOf(needle) != -1, by UTF-16 code units. An empty needle is
// always found. When both strings are strict UTF-8 (no surrogate sequences, no invalid bytes) this
// is a plain byte search; otherwise both are compared as UTF-16 (so a lone "\uD83D" needle is found
// inside an emoji).
bool js_includes(std::string_view haystack, std::string_view needle);

// The character at UTF-16 index `index` as a one-unit string (JavaScript "abc"[1]): replaces `out`
// with its WTF-8 (a lone surrogate when `index` is inside a pair, "\uFFFD" for an invalid byte) and
// returns true; returns false and leaves `out` untouched when index >= js_length(wtf8).
bool js_char_at(std::string_view wtf8, size_t index, std::string& out);

// Appends a JSON string literal (with the quotes) for `wtf8` exactly as JavaScript's JSON.stringify
// does (well-formed JSON.stringify, ES2019): escapes \" \\ \b \f \n \r \t, other code units below
// 0x20 as \u00xx (lowercase hex), lone surrogates as \udxxx (lowercase hex); everything else,
// including U+007F, U+2028, U+2029 and all other non-ASCII, as raw UTF-8. Invalid bytes are U+FFFD
// (raw), and a non-canonical surrogate pair is written as its 4-byte UTF-8.
void append_json_string(std::string& out, std::string_view wtf8);

// Canonical array index as a JavaScript property key: "0", "1", ... "4294967294" (no sign, no
// leading zeros, no whitespace, at most 2^32 - 2). Sets `index` and returns true; otherwise returns
// false and leaves `index` untouched.
bool parse_array_index(std::string_view key, uint32_t& index);

}  // namespace pz

#endif  // PZ_TEXT_H_
