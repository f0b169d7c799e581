// Semantic versions and the flagd `sem_ver` targeting operator:
//   {"sem_ver": [version, op, other]}, op one of "=", "!=", "<", "<=", ">", ">=", "^", "~".
//
// Behaviour follows OpenFeature flagd (core/pkg/evaluator/semver.go, which prefixes a "v" and uses
// golang.org/x/mod/semver) and the flagd-testbed sem_ver scenarios:
//   * Versions are Semantic Versioning 2.0.0: MAJOR.MINOR.PATCH, numbers without leading zeros,
//     optional -PRERELEASE (dot-separated identifiers of [0-9A-Za-z-], none empty, numeric ones
//     without leading zeros) and optional +BUILD (dot-separated identifiers of [0-9A-Za-z-], none
//     empty). Build metadata is ignored by every comparison.
//   * One optional leading "v" or "V" ("v1.2.3", "V1.2.3"; not "vv1.2.3").
//   * Shorthands "1" and "1.2" mean "1.0.0" and "1.2.0". As in golang.org/x/mod/semver, a shorthand
//     cannot carry a prerelease or build ("1.2-beta" is invalid).
//   * Anything else is invalid: "1.2.3.4", "01.2.3", " 1.2.3", "1.x", "", "1.2.3-", "1.2.3-01".
//   * Numbers have no size limit (compared by digit count, then digit by digit), like the Go
//     package.
//   * "^" is true when both majors are equal and "~" when both majors and minors are equal;
//     prerelease and build are ignored and major 0 gets no special case (so "0.1.0" ^ "0.9.0" is
//     true). This is flagd's semver.Major / semver.MajorMinor comparison, not npm's ranges.
// Converting a JSON number operand to a string (flagd accepts 1.2 for "1.2") is the caller's job.
// Implemented in core/src/semver.cpp, which also needs core/src/text.cpp (error quoting).
#ifndef PZ_SEMVER_H_
#define PZ_SEMVER_H_

#include <string>
#include <string_view>

namespace pz {

struct SemVer {
  // Decimal digits without leading zeros ("0" allowed); a shorthand's missing parts are "0".
  std::string major;
  std::string minor;
  std::string patch;
  std::string prerelease;  // Without the leading '-'; empty when there is none.
  std::string build;       // Without the leading '+'; empty when there is none. Never compared.
};

// Parses `text` (rules above) into `out` and returns true. On an invalid version returns false,
// leaves `out` unchanged, and sets *error to a short reason when `error` is not null.
bool parse_semver(std::string_view text, SemVer& out, std::string* error);

// Semantic Versioning 2.0.0 precedence: <0, 0 or >0. Major, minor and patch compare numerically; a
// version with a prerelease is lower than the same version without one; prerelease identifiers
// compare left to right, numeric ones numerically, others by ASCII, numeric lower than
// alphanumeric, and a longer list wins when all shared identifiers are equal. Build is ignored.
int compare_semver(const SemVer& a, const SemVer& b);

// Evaluates `version op other`. On success sets `result` and returns true. On bad input returns
// false, leaves `result` unchanged, and sets `error`: `invalid version "1.x"` for either operand
// (checked in the order version, other, as flagd does) or `unknown sem_ver operator "=>"`. The text
// between the quotes is the input written as a JSON string.
bool eval_semver(std::string_view version, std::string_view op, std::string_view other,
                 bool& result, std::string& error);

}  // namespace pz

#endif  // PZ_SEMVER_H_
