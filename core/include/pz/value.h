// A JavaScript value as JsonLogic sees it: undefined, null, boolean, number (double), string
// (WTF-8), array, object. Arrays and objects are reference-counted and immutable once built, and
// compare by identity as in JavaScript (`[1] == [1]` is false; a `var` read twice is the same
// object). Object keys keep JavaScript's property order: array-index keys ascending, then the
// other keys in insertion order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pz {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;

namespace detail {
struct Heap {
  mutable uint32_t refs = 1;
};
}  // namespace detail

class Value {
 public:
  enum class Kind : unsigned char { kUndefined, kNull, kBool, kNumber, kString, kArray, kObject };

  Value() : kind_(Kind::kUndefined) { u_.number = 0; }
  static Value Undefined() { return Value(); }
  static Value Null() {
    Value v;
    v.kind_ = Kind::kNull;
    return v;
  }
  static Value Bool(bool b) {
    Value v;
    v.kind_ = Kind::kBool;
    v.u_.boolean = b;
    return v;
  }
  static Value Number(double n) {
    Value v;
    v.kind_ = Kind::kNumber;
    v.u_.number = n;
    return v;
  }
  static Value String(std::string s);
  static Value MakeArray(Array items);
  // Builds an object from members in the given order; a repeated key keeps its first position and
  // its last value (as JSON.parse does). Array-index keys are moved first, ascending.
  static Value MakeObject(std::vector<Member> members);

  Value(const Value& other) : kind_(other.kind_), u_(other.u_) { retain(); }
  Value(Value&& other) noexcept : kind_(other.kind_), u_(other.u_) {
    other.kind_ = Kind::kUndefined;
  }
  Value& operator=(const Value& other) {
    if (this != &other) {
      other.retain();
      release();
      kind_ = other.kind_;
      u_ = other.u_;
    }
    return *this;
  }
  Value& operator=(Value&& other) noexcept {
    if (this != &other) {
      release();
      kind_ = other.kind_;
      u_ = other.u_;
      other.kind_ = Kind::kUndefined;
    }
    return *this;
  }
  ~Value() { release(); }

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_nullish() const { return kind_ <= Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }
  // Array or object: the JavaScript "Object" type.
  bool is_reference() const { return kind_ >= Kind::kArray; }

  // REQUIRES: the matching kind.
  bool as_bool() const { return u_.boolean; }
  double as_number() const { return u_.number; }
  const std::string& as_string() const;
  const Array& as_array() const;
  const std::vector<Member>& as_object() const;

  // Object member by key, or nullptr. REQUIRES: is_object().
  const Value* find(std::string_view key) const;
  // Identity of an array/object (for JavaScript reference equality).
  const void* identity() const { return is_reference() ? u_.heap : nullptr; }

 private:
  void retain() const {
    if (kind_ >= Kind::kString) ++u_.heap->refs;
  }
  void release() {
    if (kind_ >= Kind::kString && --u_.heap->refs == 0) destroy();
  }
  void destroy();  // frees the heap part; REQUIRES: last reference

  Kind kind_;
  union {
    bool boolean;
    double number;
    detail::Heap* heap;
  } u_;
};

}  // namespace pz
