// Errors without exceptions: a Status is ok or carries a code and a message a person can act on
// (what was wrong and where, e.g. `segments[3].rule.and[1]: unknown operator "fo"`).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace pz {

enum class Code : unsigned char {
  kOk = 0,
  kInvalidJson,      // input is not JSON (message has the byte offset)
  kInvalidArgument,  // JSON, but not what was expected (message has the path)
  kEvalError,        // a rule failed while evaluating (as JavaScript would throw)
  kLimitExceeded,    // a documented size bound was hit
  kNotFound,
  kConflict,     // the request contradicts the current state (hosts: an HTTP 409)
  kUnavailable,  // a host's resource failed (a store write); nothing was changed
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T&& take() { return std::move(*value_); }

 private:
  std::optional<T> value_;
  Status status_;
};

#define PZ_TRY(expr)                               \
  do {                                             \
    ::pz::Status pz_try_status = (expr);           \
    if (!pz_try_status.ok()) return pz_try_status; \
  } while (0)

}  // namespace pz
