// JavaScript Number <-> string conversions with exact ECMAScript semantics.
//
// All functions are pure and thread-safe, and independent of the C locale: they use neither printf
// nor strtod (formatting works on the exact decimal expansion of the double; decimal strings are
// read with our own correctly rounding conversion, exact big-integer comparisons and no tables).
#ifndef PZ_JSNUM_H_
#define PZ_JSNUM_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace pz {

// Number::toString(value) with radix 10 (what String(x) does): shortest round-trip digits, ties
// resolved toward the closest decimal; "NaN", "Infinity", "-Infinity"; -0 -> "0"; exponent form
// when the decimal exponent is >= 21 or <= -7 (e.g. "1e+21", "1.5e-7", "-1e-7").
// append_js_number appends to `out`; format_js_number returns a new string.
void append_js_number(std::string& out, double value);
std::string format_js_number(double value);

// StringToNumber (what Number(text) does). `text` is UTF-8. Leading/trailing JS whitespace
// (StrWhiteSpaceChar: \t \n \v \f \r space U+00A0 U+1680 U+2000-U+200A U+2028 U+2029 U+202F
// U+205F U+3000 U+FEFF) is ignored; empty or all-whitespace -> 0; "0x"/"0o"/"0b" (any case,
// unsigned, at least one digit) are read in radix 16/8/2 with round-to-nearest-even;
// "[+-]Infinity"; decimal literals such as "1.", ".5", "1e3", "-1.5E-3". Anything else -> NaN.
double js_string_to_number(std::string_view text);

// parseFloat(text): skips leading JS whitespace, then reads the longest prefix that is a
// StrDecimalLiteral (optional sign, then "Infinity" or digits/'.'/exponent). No prefix -> NaN.
// Never reads hex ("0x10" -> 0).
double js_parse_float(std::string_view text);

// JSON.parse of one number token: `text` must be exactly a JSON number (-?(0|[1-9][0-9]*)
// (.[0-9]+)?([eE][+-]?[0-9]+)?, nothing around it), else false and `out` is unchanged. The value
// is correctly rounded; beyond the double range it is +-Infinity and below it +-0, as in
// JavaScript.
bool parse_json_number(std::string_view text, double& out);

// ToIntegerOrInfinity: NaN -> 0, +-Infinity unchanged, otherwise truncation toward zero; never
// returns -0.
double js_to_integer_or_infinity(double value);

// ToInt32 / ToUint32: NaN and +-Infinity -> 0, otherwise truncate and reduce modulo 2^32.
int32_t js_to_int32(double value);
uint32_t js_to_uint32(double value);

}  // namespace pz

#endif  // PZ_JSNUM_H_
