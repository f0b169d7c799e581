#include "pz/logic.h"

#include <cmath>
#include <cstring>
#include <span>

#include "pz/jsnum.h"
#include "pz/json.h"
#include "pz/murmur3.h"
#include "pz/semver.h"
#include "pz/text.h"

namespace pz {

enum class Program::Op : unsigned char {
  kConst,
  kArray,       // array literal: elements are evaluated, a new array each time
  kVar,         // aux >= 0: constant path (paths_[aux]); kids: default and extra args
  kRootVar,     // bundle mode, root scope: paths_[aux][0] names the namespace
  kSegmentVar,  // segments.<id>: refs_[aux]
  kUnknown,     // plain mode: throws "Unrecognized operation" after evaluating its args
  kMissing,
  kMissingSome,
  kIf,
  kEq,
  kStrictEq,
  kNe,
  kStrictNe,
  kNot,
  kNotNot,
  kOr,
  kAnd,
  kLt,
  kLe,
  kGt,
  kGe,
  kMax,
  kMin,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kMap,
  kFilter,
  kReduce,
  kAll,
  kNone,
  kSome,
  kMerge,
  kIn,
  kCat,
  kSubstr,
  kLog,
  kCount,
  kMetric,
  kSince,
  kInSegment,
  kStartsWith,
  kEndsWith,
  kSemVer,
  kBucket,
  kCmpWindow,  // fused `count|metric` compared with a constant number; ns: the comparison,
               // shared: the constant is on the left
};

struct Program::Node {
  Op op = Op::kConst;
  bool shared = false;      // kArray: constant elements, read-only consumer: reuse `constant`
  bool root_scope = false;  // kVar/kMissing/kMissingSome in bundle mode at the root scope
  unsigned char ns = 0;     // kRootVar: RuleHost::Root
  uint32_t first = 0;
  uint32_t count = 0;
  int32_t aux = -1;
  Value constant;
};

Program::Program() = default;
Program::~Program() = default;
Program::Program(Program&&) noexcept = default;
Program& Program::operator=(Program&&) noexcept = default;

size_t Program::node_count() const { return nodes_.size(); }
bool Program::loop_free() const {
  for (const Node& n : nodes_) {
    switch (n.op) {
      case Op::kMap:
      case Op::kFilter:
      case Op::kReduce:
      case Op::kAll:
      case Op::kNone:
      case Op::kSome:
        return false;
      default:
        break;
    }
  }
  return true;
}
bool Program::is_constant() const { return !nodes_.empty() && nodes_[root_].op == Op::kConst; }
int Program::window_read() const {
  if (nodes_.empty()) return -1;
  const Node& n = nodes_[root_];
  return n.op == Op::kCount || n.op == Op::kMetric ? n.aux : -1;
}
bool Program::window_comparison(WindowComparison& out) const {
  if (nodes_.empty() || nodes_[root_].op != Op::kCmpWindow) return false;
  const Node& n = nodes_[root_];
  const Node& w = nodes_[kids_[n.first]];
  using Cmp = WindowComparison::Cmp;
  switch (static_cast<Op>(n.ns)) {  // as RuleEvaluator::compare_window
    case Op::kEq:
    case Op::kStrictEq:
      out.cmp = Cmp::kEq;
      break;
    case Op::kNe:
    case Op::kStrictNe:
      out.cmp = Cmp::kNe;
      break;
    case Op::kLt:
      out.cmp = Cmp::kLt;
      break;
    case Op::kLe:
      out.cmp = Cmp::kLe;
      break;
    case Op::kGt:
      out.cmp = Cmp::kGt;
      break;
    default:
      out.cmp = Cmp::kGe;
      break;
  }
  out.ref = w.aux;
  out.constant = nodes_[kids_[n.first + 1]].constant.as_number();
  out.constant_first = n.shared;
  return true;
}

using Op = Program::Op;
using Node = Program::Node;

// ---------------------------------------------------------------------------------------------
// JavaScript abstract operations over Value.

namespace {

bool js_truthy(const Value& v) {  // JavaScript's ToBoolean
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNull:
      return false;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kNumber:
      return !(v.as_number() == 0 || std::isnan(v.as_number()));
    case Value::Kind::kString:
      return !v.as_string().empty();
    default:
      return true;
  }
}

void append_to_string(std::string& out, const Value& v);

void append_array_join(std::string& out, const Array& items) {
  bool first = true;
  for (const Value& item : items) {
    if (!first) out += ',';
    first = false;
    if (!item.is_nullish()) append_to_string(out, item);
  }
}

// ToString (for arrays: Array.prototype.join(","), objects: "[object Object]").
void append_to_string(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      out += "undefined";
      return;
    case Value::Kind::kNull:
      out += "null";
      return;
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::kNumber:
      append_js_number(out, v.as_number());
      return;
    case Value::Kind::kString:
      append_js_concat(out, v.as_string());  // joins surrogate halves as JavaScript does
      return;
    case Value::Kind::kArray:
      append_array_join(out, v.as_array());
      return;
    case Value::Kind::kObject:
      out += "[object Object]";
      return;
  }
}

std::string to_string(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  append_to_string(out, v);
  return out;
}

// ToPrimitive: arrays and objects become their string form; primitives stay.
Value to_primitive(const Value& v) {
  if (!v.is_reference()) return v;
  return Value::String(to_string(v));
}

double to_number(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return NAN;
    case Value::Kind::kNull:
      return 0;
    case Value::Kind::kBool:
      return v.as_bool() ? 1 : 0;
    case Value::Kind::kNumber:
      return v.as_number();
    case Value::Kind::kString:
      return js_string_to_number(v.as_string());
    case Value::Kind::kArray: {
      const Array& a = v.as_array();
      if (a.empty()) return 0;
      if (a.size() == 1 && a[0].is_number()) return a[0].as_number();
      return js_string_to_number(to_string(v));
    }
    case Value::Kind::kObject:
      return NAN;
  }
  return NAN;
}

// parseFloat(ToString(v)).
double parse_float_value(const Value& v) {
  if (v.is_number()) {
    double d = v.as_number();
    return d == 0 ? 0.0 : d;  // String(-0) is "0"
  }
  if (v.is_string()) return js_parse_float(v.as_string());
  return js_parse_float(to_string(v));
}

bool strict_equal(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Value::Kind::kNumber:
      return a.as_number() == b.as_number();
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    default:
      return a.identity() == b.identity();
  }
}

// IsLooselyEqual (ECMAScript 7.2.14).
bool loose_equal(const Value& x, const Value& y) {
  if (x.is_number() && y.is_number()) return x.as_number() == y.as_number();
  bool x_ref = x.is_reference(), y_ref = y.is_reference();
  if (x.kind() == y.kind() || (x_ref && y_ref)) return strict_equal(x, y);
  if (x.is_nullish() && y.is_nullish()) return true;
  if (x.is_nullish() || y.is_nullish()) return false;
  if (x.is_number() && y.is_string()) return x.as_number() == js_string_to_number(y.as_string());
  if (x.is_string() && y.is_number()) return js_string_to_number(x.as_string()) == y.as_number();
  if (x.is_bool()) return loose_equal(Value::Number(x.as_bool() ? 1 : 0), y);
  if (y.is_bool()) return loose_equal(x, Value::Number(y.as_bool() ? 1 : 0));
  if (y_ref && (x.is_number() || x.is_string())) return loose_equal(x, to_primitive(y));
  if (x_ref && (y.is_number() || y.is_string())) return loose_equal(to_primitive(x), y);
  return false;
}

// IsLessThan: 1 true, 0 false, -1 undefined (a NaN was involved).
int less_than(const Value& x, const Value& y) {
  if (x.is_number() && y.is_number()) {
    double a = x.as_number(), b = y.as_number();
    if (std::isnan(a) || std::isnan(b)) return -1;
    return a < b ? 1 : 0;
  }
  Value px = to_primitive(x), py = to_primitive(y);
  if (px.is_string() && py.is_string()) {
    return js_compare(px.as_string(), py.as_string()) < 0 ? 1 : 0;
  }
  double nx = to_number(px), ny = to_number(py);
  if (std::isnan(nx) || std::isnan(ny)) return -1;
  return nx < ny ? 1 : 0;
}

bool js_lt(const Value& a, const Value& b) { return less_than(a, b) == 1; }
bool js_gt(const Value& a, const Value& b) { return less_than(b, a) == 1; }
bool js_le(const Value& a, const Value& b) { return less_than(b, a) == 0; }
bool js_ge(const Value& a, const Value& b) { return less_than(a, b) == 0; }

// The JavaScript `+` operator on two values.
Value js_plus(const Value& a, const Value& b) {
  Value pa = to_primitive(a), pb = to_primitive(b);
  if (pa.is_string() || pb.is_string()) {
    std::string s = to_string(pa);
    append_to_string(s, pb);
    return Value::String(std::move(s));
  }
  return Value::Number(to_number(pa) + to_number(pb));
}

// Property access `v[key]` for the own properties JSON data has: object members, array indices
// and length, string indices and length. Anything else is undefined (see exceptions.json: the
// prototype chain is not modelled).
Value get_property(const Value& v, std::string_view key) {
  switch (v.kind()) {
    case Value::Kind::kObject: {
      const Value* found = v.find(key);
      return found != nullptr ? *found : Value();
    }
    case Value::Kind::kArray: {
      const Array& a = v.as_array();
      uint32_t index;
      if (parse_array_index(key, index)) return index < a.size() ? a[index] : Value();
      if (key == "length") return Value::Number(static_cast<double>(a.size()));
      return Value();
    }
    case Value::Kind::kString: {
      uint32_t index;
      if (parse_array_index(key, index)) {
        std::string ch;
        if (js_char_at(v.as_string(), index, ch)) return Value::String(std::move(ch));
        return Value();
      }
      if (key == "length") return Value::Number(static_cast<double>(js_length(v.as_string())));
      return Value();
    }
    default:
      return Value();
  }
}

// The walk of json-logic-js's `var` over a dotted path.
template <typename Parts>
Value walk_path(Value data, const Parts& parts, const Value& not_found) {
  for (const auto& part : parts) {
    if (data.is_nullish()) return not_found;
    data = get_property(data, part);
    if (data.is_undefined()) return not_found;
  }
  return data;
}

void split_path(std::string_view path, std::vector<std::string>& parts) {
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) {
      parts.emplace_back(path.substr(start));
      return;
    }
    parts.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
}

Value var_lookup(const Value& data, const Value& key, const Value& fallback) {
  Value not_found = fallback.is_undefined() ? Value::Null() : fallback;
  if (key.is_undefined() || key.is_null() || (key.is_string() && key.as_string().empty())) {
    return data;
  }
  std::vector<std::string> parts;
  split_path(to_string(key), parts);
  return walk_path(data, parts, not_found);
}

// Math.max / Math.min over ToNumber of each argument.
double js_max(std::span<const Value> args, bool is_max) {
  double result = is_max ? -INFINITY : INFINITY;
  bool nan = false;
  for (const Value& a : args) {
    double x = to_number(a);
    if (std::isnan(x)) {
      nan = true;
      continue;
    }
    if (is_max ? (x > result || (x == 0 && result == 0 && !std::signbit(x)))
               : (x < result || (x == 0 && result == 0 && std::signbit(x)))) {
      result = x;
    }
  }
  return nan ? NAN : result;
}

}  // namespace

double to_number_js(const Value& value) { return to_number(value); }

double bucket_of(std::string_view salt, std::string_view profile_id) {
  std::string key(salt);
  key.append(profile_id.data(), profile_id.size());
  return static_cast<double>(murmur3_32(key, 0)) / 4294967296.0 * 100.0;
}

bool truthy(const Value& value) {
  if (value.is_array() && value.as_array().empty()) return false;
  return js_truthy(value);
}

// ---------------------------------------------------------------------------------------------
// Windows.

bool parse_window(std::string_view text, Window& out, std::string& error) {
  if (text == "all") {
    out.ms = 0;
    return true;
  }
  if (text.size() < 2) {
    error = "invalid window \"" + std::string(text) + "\": expected <n>m, <n>h, <n>d or all";
    return false;
  }
  char unit = text.back();
  std::string_view digits = text.substr(0, text.size() - 1);
  int64_t n = 0;
  bool ok = !digits.empty() && digits.size() <= 6 && digits[0] != '0';
  for (char c : digits) {
    if (c < '0' || c > '9') ok = false;
    if (ok) n = n * 10 + (c - '0');
  }
  int64_t unit_ms = unit == 'm' ? 60000 : unit == 'h' ? 3600000 : unit == 'd' ? 86400000 : 0;
  if (!ok || unit_ms == 0) {
    error = "invalid window \"" + std::string(text) + "\": expected <n>m, <n>h, <n>d or all";
    return false;
  }
  out.ms = n * unit_ms;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

// Evaluated arguments of one operator: up to 4 inline, more on the heap.
class ArgList {
 public:
  void reserve(size_t n) {
    if (n > kInline) heap_.reserve(n);
  }
  void push_back(Value v) {
    if (size_ < kInline && heap_.empty()) {
      inline_[size_++] = std::move(v);
      return;
    }
    if (heap_.empty()) {
      for (size_t i = 0; i < size_; ++i) heap_.push_back(std::move(inline_[i]));
    }
    heap_.push_back(std::move(v));
    ++size_;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Value* data() const { return heap_.empty() ? inline_ : heap_.data(); }
  const Value& operator[](size_t i) const { return data()[i]; }
  const Value* begin() const { return data(); }
  const Value* end() const { return data() + size_; }

 private:
  static constexpr size_t kInline = 4;
  Value inline_[kInline];
  std::vector<Value> heap_;
  size_t size_ = 0;
};

class RuleEvaluator {
 public:
  RuleEvaluator(const Program& p, RuleHost* host) : p_(p), host_(host) {}

  // `data` null means the bundle root (built lazily from the host).
  Value eval(uint32_t index, const Value* data);
  // Resource bounds (json-logic-js has none and runs out of memory instead): evaluation steps
  // per call, and the size of strings and arrays a rule builds. See exceptions.json.
  static constexpr uint64_t kMaxSteps = 1000000;
  static constexpr size_t kMaxStringBytes = 1 << 20;
  static constexpr size_t kMaxArrayItems = 100000;
  uint64_t steps_ = 0;
  Value eval_node(const Node& n, const Value* data);
  // truthy(eval(index, data)) without building Values for and/or/!/comparisons of windows.
  bool test(uint32_t index, const Value* data);
  bool compare_window(const Node& n);
  // The value of node `index` without copying it where it already exists (a constant, a root
  // var path through objects); otherwise evaluated into `tmp`. Counts steps like eval().
  const Value* peek(uint32_t index, const Value* data, Value& tmp);
  // test() of a binary comparison, `in`, starts_with or ends_with (n.count == 2) over peek().
  bool test_binary(const Node& n, const Value* data);
  // JsonLogic's `in` (b.indexOf(a) !== -1, or String#includes); an own indexOf member of an
  // object throws as in JavaScript.
  bool js_in(const Value& a, const Value& b);
  // starts_with / ends_with: both strings, and the affix at that end.
  static bool affix_match(Op op, const Value& a, const Value& b);

  bool failed() const { return failed_; }
  std::string& error() { return error_; }

 private:
  Value fail(std::string message) {
    if (!failed_) {
      failed_ = true;
      error_ = std::move(message);
    }
    return Value();
  }
  const Value& resolve(const Value* data) {
    if (data != nullptr) return *data;
    if (!root_built_) {
      root_built_ = true;
      if (host_ != nullptr) root_ = host_->whole_root();
    }
    return root_;
  }
  uint32_t kid(const Node& n, uint32_t i) const { return p_.kids_[n.first + i]; }
  // Evaluates every argument (JsonLogic's depth-first step).
  bool eval_args(const Node& n, const Value* data, ArgList& out) {
    out.reserve(n.count);
    for (uint32_t i = 0; i < n.count; ++i) {
      out.push_back(eval(kid(n, i), data));
      if (failed_) return false;
    }
    return true;
  }
  Value missing(const Value& data, std::span<const Value> args);
  Value scoped(const Node& n, const Value* data);

  const Program& p_;
  RuleHost* host_;
  bool failed_ = false;
  bool root_built_ = false;
  Value root_;
  std::string error_;
};

#define PZ_EVAL(dst, idx, data)  \
  do {                           \
    dst = eval((idx), (data));   \
    if (failed_) return Value(); \
  } while (0)

Value RuleEvaluator::missing(const Value& data, std::span<const Value> args) {
  std::span<const Value> keys = args;
  if (!args.empty() && args[0].is_array()) keys = args[0].as_array();
  Array result;
  for (const Value& key : keys) {
    Value found;
    if (key.is_array()) {  // apply({"var": key}) spreads an array key as (path, default)
      const Array& a = key.as_array();
      found = var_lookup(data, a.empty() ? Value() : a[0], a.size() > 1 ? a[1] : Value());
    } else {
      found = var_lookup(data, key, Value());
    }
    if (found.is_null() || (found.is_string() && found.as_string().empty())) {
      result.push_back(key);
    }
  }
  return Value::MakeArray(std::move(result));
}

Value RuleEvaluator::scoped(const Node& n, const Value* data) {
  Value items;
  if (n.count > 0) PZ_EVAL(items, kid(n, 0), data);
  bool has_logic = n.count > 1;
  uint32_t logic = has_logic ? kid(n, 1) : 0;
  auto apply = [&](const Value& datum) -> Value {
    if (!has_logic) return Value();
    return eval(logic, &datum);
  };
  switch (n.op) {
    case Op::kMap: {
      if (!items.is_array()) return Value::MakeArray({});
      Array out;
      out.reserve(items.as_array().size());
      for (const Value& datum : items.as_array()) {
        out.push_back(apply(datum));
        if (failed_) return Value();
      }
      return Value::MakeArray(std::move(out));
    }
    case Op::kFilter: {
      if (!items.is_array()) return Value::MakeArray({});
      Array out;
      for (const Value& datum : items.as_array()) {
        Value keep = apply(datum);
        if (failed_) return Value();
        if (truthy(keep)) out.push_back(datum);
      }
      return Value::MakeArray(std::move(out));
    }
    case Op::kReduce: {
      Value acc = Value::Null();
      if (n.count > 2) PZ_EVAL(acc, kid(n, 2), data);
      if (!items.is_array()) return acc;
      for (const Value& datum : items.as_array()) {
        Value scope = Value::MakeObject({{"current", datum}, {"accumulator", acc}});
        acc = apply(scope);
        if (failed_) return Value();
      }
      return acc;
    }
    case Op::kAll:
    case Op::kNone:
    case Op::kSome: {
      bool empty = !items.is_array() || items.as_array().empty();
      if (empty) return Value::Bool(n.op == Op::kNone);
      for (const Value& datum : items.as_array()) {
        Value r = apply(datum);
        if (failed_) return Value();
        bool t = truthy(r);
        if (n.op == Op::kAll && !t) return Value::Bool(false);
        if (n.op == Op::kNone && t) return Value::Bool(false);
        if (n.op == Op::kSome && t) return Value::Bool(true);
      }
      return Value::Bool(n.op != Op::kSome);
    }
    default:
      return Value();
  }
}

// The hot operators of segment rules stay in this small frame; the rest go to eval_node.
Value RuleEvaluator::eval(uint32_t index, const Value* data) {
  if (++steps_ > kMaxSteps) return fail("rule evaluation exceeded 1000000 steps");
  const Node& n = p_.nodes_[index];
  switch (n.op) {
    case Op::kConst:
      return n.constant;
    case Op::kCmpWindow:
      return Value::Bool(compare_window(n));
    case Op::kAnd:
    case Op::kOr: {
      Value current;
      for (uint32_t i = 0; i < n.count; ++i) {
        PZ_EVAL(current, kid(n, i), data);
        bool t = current.is_bool() ? current.as_bool() : truthy(current);
        if (t == (n.op == Op::kOr)) return current;
      }
      return current;
    }
    default:
      return eval_node(n, data);
  }
}

bool RuleEvaluator::test(uint32_t index, const Value* data) {
  const Node& n = p_.nodes_[index];
  switch (n.op) {
    case Op::kCmpWindow:
      if (++steps_ > kMaxSteps) {
        fail("rule evaluation exceeded 1000000 steps");
        return false;
      }
      return compare_window(n);
    case Op::kAnd:
    case Op::kOr: {
      if (++steps_ > kMaxSteps) {
        fail("rule evaluation exceeded 1000000 steps");
        return false;
      }
      // and: the first falsy value or the last; or: the first truthy or the last. As a truth
      // value: all/any of the arguments (no arguments: undefined, falsy).
      bool want = n.op == Op::kOr;
      for (uint32_t i = 0; i < n.count; ++i) {
        bool t = test(kid(n, i), data);
        if (failed_) return false;
        if (t == want) return want;
      }
      return n.count == 0 ? false : !want;
    }
    case Op::kInSegment:
    case Op::kSegmentVar:
      if (++steps_ > kMaxSteps) {
        fail("rule evaluation exceeded 1000000 steps");
        return false;
      }
      return host_ != nullptr && host_->in_segment(p_.refs_[static_cast<size_t>(n.aux)].slot);
    case Op::kEq:
    case Op::kNe:
    case Op::kStrictEq:
    case Op::kStrictNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
    case Op::kIn:
    case Op::kStartsWith:
    case Op::kEndsWith:
      if (n.count == 2) {
        if (++steps_ > kMaxSteps) {
          fail("rule evaluation exceeded 1000000 steps");
          return false;
        }
        return test_binary(n, data);
      }
      [[fallthrough]];
    default: {
      Value v = eval(index, data);
      return !failed_ && (v.is_bool() ? v.as_bool() : truthy(v));
    }
  }
}

const Value* RuleEvaluator::peek(uint32_t index, const Value* data, Value& tmp) {
  const Node& n = p_.nodes_[index];
  if (n.op == Op::kConst) {
    if (++steps_ > kMaxSteps) {
      fail("rule evaluation exceeded 1000000 steps");
      return &tmp;
    }
    return &n.constant;
  }
  if (n.op == Op::kRootVar && n.count == 0 && host_ != nullptr) {
    // As eval_node's kRootVar (no default: a missing value is null), through objects only.
    const Value* base = host_->root_ref(static_cast<RuleHost::Root>(n.ns));
    const std::vector<std::string>& parts = p_.paths_[static_cast<size_t>(n.aux)];
    bool plain = base != nullptr;
    for (size_t i = 1; plain && i < parts.size(); ++i) {
      if (base->is_nullish()) break;
      if (!base->is_object()) {
        plain = false;  // a string or array member (length, an index): the general path
        break;
      }
      base = base->find(parts[i]);
      if (base == nullptr) break;
    }
    if (plain) {
      if (++steps_ > kMaxSteps) {
        fail("rule evaluation exceeded 1000000 steps");
        return &tmp;
      }
      static const Value kNull = Value::Null();
      return base == nullptr || base->is_undefined() || base->is_nullish() ? &kNull : base;
    }
  }
  tmp = eval(index, data);
  return &tmp;
}

bool RuleEvaluator::test_binary(const Node& n, const Value* data) {
  Value ta, tb;
  const Value* pa = peek(kid(n, 0), data, ta);
  if (failed_) return false;
  const Value* pb = peek(kid(n, 1), data, tb);
  if (failed_) return false;
  const Value& a = *pa;
  const Value& b = *pb;
  switch (n.op) {
    case Op::kEq:
      return loose_equal(a, b);
    case Op::kNe:
      return !loose_equal(a, b);
    case Op::kStrictEq:
      return strict_equal(a, b);
    case Op::kStrictNe:
      return !strict_equal(a, b);
    case Op::kLt:
      return js_lt(a, b);
    case Op::kLe:
      return js_le(a, b);
    case Op::kGt:
      return js_gt(a, b);
    case Op::kGe:
      return js_ge(a, b);
    case Op::kIn:
      return js_in(a, b);
    default:  // starts_with, ends_with
      return affix_match(n.op, a, b);
  }
}

bool RuleEvaluator::js_in(const Value& a, const Value& b) {
  if (!js_truthy(b)) return false;
  if (b.is_string()) {
    if (a.is_string()) return js_includes(b.as_string(), a.as_string());
    return js_includes(b.as_string(), to_string(a));
  }
  if (b.is_array()) {
    for (const Value& item : b.as_array()) {
      if (strict_equal(item, a)) return true;
    }
  }
  if (b.is_object()) {
    const Value* own = b.find("indexOf");
    if (own != nullptr && !own->is_undefined()) fail("TypeError: b.indexOf is not a function");
  }
  return false;
}

bool RuleEvaluator::affix_match(Op op, const Value& a, const Value& b) {
  if (!a.is_string() || !b.is_string()) return false;
  std::string_view s = a.as_string(), affix = b.as_string();
  return affix.size() <= s.size() &&
         (op == Op::kStartsWith ? s.compare(0, affix.size(), affix) == 0
                                : s.compare(s.size() - affix.size(), affix.size(), affix) == 0);
}

bool RuleEvaluator::compare_window(const Node& n) {
  const Node& w = p_.nodes_[kid(n, 0)];
  const RuleRef& ref = p_.refs_[static_cast<size_t>(w.aux)];
  double x = 0;
  if (host_ != nullptr) {
    x = w.op == Op::kCount ? host_->count(ref.slot, ref.window)
                           : host_->metric(ref.slot, ref.window);
  }
  double k = p_.nodes_[kid(n, 1)].constant.as_number();
  double a = n.shared ? k : x, b = n.shared ? x : k;
  switch (static_cast<Op>(n.ns)) {
    case Op::kEq:
    case Op::kStrictEq:
      return a == b;
    case Op::kNe:
    case Op::kStrictNe:
      return a != b;
    case Op::kLt:
      return a < b;
    case Op::kLe:
      return a <= b;  // false with NaN, as JavaScript's IsLessThan gives undefined
    case Op::kGt:
      return a > b;
    default:
      return a >= b;
  }
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
Value RuleEvaluator::eval_node(const Node& n, const Value* data) {
  switch (n.op) {
    case Op::kConst:
      return n.constant;
    case Op::kArray: {
      if (n.shared) return n.constant;
      Array out;
      out.reserve(n.count);
      for (uint32_t i = 0; i < n.count; ++i) {
        out.push_back(eval(kid(n, i), data));
        if (failed_) return Value();
      }
      return Value::MakeArray(std::move(out));
    }
    case Op::kVar: {
      const Value& scope = n.root_scope ? resolve(nullptr) : resolve(data);
      if (n.aux >= 0) {
        Value fallback;
        for (uint32_t i = 0; i < n.count; ++i) {
          Value v;
          PZ_EVAL(v, kid(n, i), data);
          if (i == 0) fallback = std::move(v);
        }
        const std::vector<std::string>& parts = p_.paths_[static_cast<size_t>(n.aux)];
        if (parts.empty()) return scope;
        return walk_path(scope, parts, fallback.is_undefined() ? Value::Null() : fallback);
      }
      ArgList args;
      if (!eval_args(n, data, args)) return Value();
      return var_lookup(scope, args.empty() ? Value() : args[0],
                        args.size() > 1 ? args[1] : Value());
    }
    case Op::kRootVar: {
      Value fallback;
      for (uint32_t i = 0; i < n.count; ++i) {
        Value v;
        PZ_EVAL(v, kid(n, i), data);
        if (i == 0) fallback = std::move(v);
      }
      Value base = host_ != nullptr ? host_->root(static_cast<RuleHost::Root>(n.ns)) : Value();
      const std::vector<std::string>& parts = p_.paths_[static_cast<size_t>(n.aux)];
      Value not_found = fallback.is_undefined() ? Value::Null() : fallback;
      if (base.is_undefined()) return not_found;
      for (size_t i = 1; i < parts.size(); ++i) {
        if (base.is_nullish()) return not_found;
        base = get_property(base, parts[i]);
        if (base.is_undefined()) return not_found;
      }
      return base;
    }
    case Op::kSegmentVar:
    case Op::kInSegment: {
      const RuleRef& ref = p_.refs_[static_cast<size_t>(n.aux)];
      return Value::Bool(host_ != nullptr && host_->in_segment(ref.slot));
    }
    case Op::kCount:
    case Op::kMetric: {
      const RuleRef& ref = p_.refs_[static_cast<size_t>(n.aux)];
      if (host_ == nullptr) return Value::Number(0);
      return Value::Number(n.op == Op::kCount ? host_->count(ref.slot, ref.window)
                                              : host_->metric(ref.slot, ref.window));
    }
    case Op::kSince: {
      const RuleRef& ref = p_.refs_[static_cast<size_t>(n.aux)];
      if (host_ == nullptr) return Value::Null();
      return host_->since(ref.slot, ref.since_metric);
    }
    case Op::kIf: {
      uint32_t i = 0;
      for (; i + 1 < n.count; i += 2) {
        Value cond;
        PZ_EVAL(cond, kid(n, i), data);
        if (truthy(cond)) return eval(kid(n, i + 1), data);
      }
      if (n.count == i + 1) return eval(kid(n, i), data);
      return Value::Null();
    }
    case Op::kAnd:
    case Op::kOr: {
      Value current;
      for (uint32_t i = 0; i < n.count; ++i) {
        PZ_EVAL(current, kid(n, i), data);
        if (truthy(current) == (n.op == Op::kOr)) return current;
      }
      return current;
    }
    case Op::kMap:
    case Op::kFilter:
    case Op::kReduce:
    case Op::kAll:
    case Op::kNone:
    case Op::kSome:
      return scoped(n, data);
    default:
      break;
  }

  // Binary comparisons, the bulk of segment rules: two locals, no argument list.
  if (n.count == 2) {
    switch (n.op) {
      case Op::kEq:
      case Op::kNe:
      case Op::kStrictEq:
      case Op::kStrictNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe: {
        Value a, b;
        PZ_EVAL(a, kid(n, 0), data);
        PZ_EVAL(b, kid(n, 1), data);
        switch (n.op) {
          case Op::kEq:
            return Value::Bool(loose_equal(a, b));
          case Op::kNe:
            return Value::Bool(!loose_equal(a, b));
          case Op::kStrictEq:
            return Value::Bool(strict_equal(a, b));
          case Op::kStrictNe:
            return Value::Bool(!strict_equal(a, b));
          case Op::kLt:
            return Value::Bool(js_lt(a, b));
          case Op::kLe:
            return Value::Bool(js_le(a, b));
          case Op::kGt:
            return Value::Bool(js_gt(a, b));
          default:
            return Value::Bool(js_ge(a, b));
        }
      }
      default:
        break;
    }
  }

  // Everyone else: arguments first, depth-first.
  ArgList args;
  if (!eval_args(n, data, args)) return Value();
  static const Value kUndefined;
  auto arg = [&](size_t i) -> const Value& { return i < args.size() ? args[i] : kUndefined; };

  switch (n.op) {
    case Op::kUnknown: {
      const std::string& name = p_.names_[static_cast<size_t>(n.aux)];
      std::string message = "Unrecognized operation " + name;
      size_t dot = name.find('.');
      if (dot != std::string::npos && dot > 0)
        message += " (failed at " + name.substr(0, dot) + ")";
      return fail(std::move(message));
    }
    case Op::kEq:
      return Value::Bool(loose_equal(arg(0), arg(1)));
    case Op::kNe:
      return Value::Bool(!loose_equal(arg(0), arg(1)));
    case Op::kStrictEq:
      return Value::Bool(strict_equal(arg(0), arg(1)));
    case Op::kStrictNe:
      return Value::Bool(!strict_equal(arg(0), arg(1)));
    case Op::kNot:
      return Value::Bool(!truthy(arg(0)));
    case Op::kNotNot:
      return Value::Bool(truthy(arg(0)));
    case Op::kGt:
      return Value::Bool(js_gt(arg(0), arg(1)));
    case Op::kGe:
      return Value::Bool(js_ge(arg(0), arg(1)));
    case Op::kLt:
    case Op::kLe: {
      bool (*cmp)(const Value&, const Value&) = n.op == Op::kLt ? js_lt : js_le;
      if (arg(2).is_undefined()) return Value::Bool(cmp(arg(0), arg(1)));
      return Value::Bool(cmp(arg(0), arg(1)) && cmp(arg(1), arg(2)));
    }
    case Op::kMax:
    case Op::kMin:
      return Value::Number(
          js_max(std::span<const Value>(args.data(), args.size()), n.op == Op::kMax));
    case Op::kAdd: {
      double acc = 0;
      for (const Value& a : args) acc = (acc == 0 ? 0.0 : acc) + parse_float_value(a);
      return Value::Number(acc);
    }
    case Op::kMul: {
      if (args.empty()) return fail("TypeError: Reduce of empty array with no initial value");
      if (args.size() == 1) return args[0];
      double acc = parse_float_value(args[0]);
      for (size_t i = 1; i < args.size(); ++i) {
        acc = (acc == 0 ? 0.0 : acc) * parse_float_value(args[i]);
      }
      return Value::Number(acc);
    }
    case Op::kSub:
      if (arg(1).is_undefined()) return Value::Number(-to_number(arg(0)));
      return Value::Number(to_number(arg(0)) - to_number(arg(1)));
    case Op::kDiv:
      return Value::Number(to_number(arg(0)) / to_number(arg(1)));
    case Op::kMod:
      return Value::Number(std::fmod(to_number(arg(0)), to_number(arg(1))));
    case Op::kMerge: {
      Array out;
      for (const Value& a : args) {
        if (a.is_array()) {
          out.insert(out.end(), a.as_array().begin(), a.as_array().end());
        } else {
          out.push_back(a);
        }
      }
      if (out.size() > kMaxArrayItems) return fail("rule result too large: more than 100000 items");
      return Value::MakeArray(std::move(out));
    }
    case Op::kIn: {
      bool found = js_in(arg(0), arg(1));
      return failed_ ? Value() : Value::Bool(found);
    }
    case Op::kCat: {
      std::string out;
      for (const Value& a : args) {
        if (!a.is_nullish()) append_to_string(out, a);
      }
      if (out.size() > kMaxStringBytes)
        return fail("rule result too large: more than 1 MiB of text");
      return Value::String(std::move(out));
    }
    case Op::kSubstr: {
      std::string source = to_string(arg(0));
      double start = js_to_integer_or_infinity(to_number(arg(1)));
      const Value& end = arg(2);
      if (less_than(end, Value::Number(0)) == 1) {
        std::string temp = js_substr(source, start, 0, false);
        Value length = js_plus(Value::Number(static_cast<double>(js_length(temp))), end);
        return Value::String(
            js_substr(temp, 0, js_to_integer_or_infinity(to_number(length)), true));
      }
      if (end.is_undefined()) return Value::String(js_substr(source, start, 0, false));
      return Value::String(
          js_substr(source, start, js_to_integer_or_infinity(to_number(end)), true));
    }
    case Op::kLog:
      return arg(0);
    case Op::kMissing:
      return missing(n.root_scope ? resolve(nullptr) : resolve(data),
                     std::span<const Value>(args.data(), args.size()));
    case Op::kMissingSome: {
      const Value& options = arg(1);
      if (options.is_nullish()) {
        return fail("TypeError: Cannot read properties of " + to_string(options) +
                    " (reading 'length')");
      }
      const Value& scope = n.root_scope ? resolve(nullptr) : resolve(data);
      // apply({"missing": options}): a non-array is wrapped, then missing() unwraps a leading
      // array.
      std::vector<Value> keys;
      if (options.is_array()) {
        keys = options.as_array();
      } else {
        keys.push_back(options);
      }
      Value are_missing = missing(scope, keys);
      double have = to_number(get_property(options, "length")) -
                    static_cast<double>(are_missing.as_array().size());
      if (js_ge(Value::Number(have), arg(0))) return Value::MakeArray({});
      return are_missing;
    }
    case Op::kStartsWith:
    case Op::kEndsWith:
      return Value::Bool(affix_match(n.op, arg(0), arg(1)));
    case Op::kSemVer: {
      if (!arg(0).is_string() || !arg(1).is_string() || !arg(2).is_string()) {
        return Value::Bool(false);
      }
      bool result = false;
      std::string error;
      if (!eval_semver(arg(0).as_string(), arg(1).as_string(), arg(2).as_string(), result, error)) {
        return Value::Bool(false);
      }
      return Value::Bool(result);
    }
    case Op::kBucket: {
      return Value::Number(bucket_of(to_string(arg(0)),
                                     host_ != nullptr ? host_->profile_id() : std::string_view()));
    }
    default:
      return fail("internal error: unhandled operator");
  }
}

bool evaluate_condition(const Program& program, RuleHost* host, bool* failed, std::string* error) {
  static const Value kNoData;
  RuleEvaluator ev(program, host);
  bool t = ev.test(program.root_, &kNoData);
  if (failed != nullptr) *failed = ev.failed();
  if (error != nullptr && ev.failed()) *error = std::move(ev.error());
  return !ev.failed() && t;
}

Result<Value> evaluate(const Program& program, const Value& data, RuleHost* host) {
  RuleEvaluator ev(program, host);
  Value out = ev.eval(program.root_, &data);
  if (ev.failed()) return Status(Code::kEvalError, std::move(ev.error()));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Compilation.

namespace {

struct OpInfo {
  std::string_view name;  // its length known at compile time: no strlen per comparison
  Op op;
};

constexpr OpInfo kOps[] = {
    {"var", Op::kVar},
    {"missing", Op::kMissing},
    {"missing_some", Op::kMissingSome},
    {"if", Op::kIf},
    {"?:", Op::kIf},
    {"==", Op::kEq},
    {"===", Op::kStrictEq},
    {"!=", Op::kNe},
    {"!==", Op::kStrictNe},
    {"!", Op::kNot},
    {"!!", Op::kNotNot},
    {"or", Op::kOr},
    {"and", Op::kAnd},
    {"<", Op::kLt},
    {"<=", Op::kLe},
    {">", Op::kGt},
    {">=", Op::kGe},
    {"max", Op::kMax},
    {"min", Op::kMin},
    {"+", Op::kAdd},
    {"-", Op::kSub},
    {"*", Op::kMul},
    {"/", Op::kDiv},
    {"%", Op::kMod},
    {"map", Op::kMap},
    {"filter", Op::kFilter},
    {"reduce", Op::kReduce},
    {"all", Op::kAll},
    {"none", Op::kNone},
    {"some", Op::kSome},
    {"merge", Op::kMerge},
    {"in", Op::kIn},
    {"cat", Op::kCat},
    {"substr", Op::kSubstr},
    {"log", Op::kLog},
    {"count", Op::kCount},
    {"metric", Op::kMetric},
    {"since", Op::kSince},
    {"in_segment", Op::kInSegment},
    {"starts_with", Op::kStartsWith},
    {"ends_with", Op::kEndsWith},
    {"sem_ver", Op::kSemVer},
    {"bucket", Op::kBucket},
};

bool lookup_op(std::string_view name, Op& op) {
  for (const OpInfo& info : kOps) {
    if (name == info.name) {
      op = info.op;
      return true;
    }
  }
  return false;
}

bool is_profile_op(Op op) {
  return op == Op::kCount || op == Op::kMetric || op == Op::kSince || op == Op::kInSegment ||
         op == Op::kBucket;
}

// Operators whose result never depends on anything but their arguments (foldable), and which
// never hand an argument back (so a constant array argument can be shared between calls).
bool is_pure(Op op) {
  switch (op) {
    case Op::kConst:
    case Op::kArray:
    case Op::kVar:
    case Op::kRootVar:
    case Op::kSegmentVar:
    case Op::kUnknown:
    case Op::kMissing:
    case Op::kMissingSome:
    case Op::kMap:
    case Op::kFilter:
    case Op::kReduce:
    case Op::kAll:
    case Op::kNone:
    case Op::kSome:
    case Op::kCount:
    case Op::kMetric:
    case Op::kSince:
    case Op::kInSegment:
    case Op::kBucket:
      return false;
    default:
      return true;
  }
}

bool is_comparison(Op op) {
  switch (op) {
    case Op::kEq:
    case Op::kStrictEq:
    case Op::kNe:
    case Op::kStrictNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
      return true;
    default:
      return false;
  }
}

bool reads_args_only(Op op) {
  switch (op) {
    case Op::kEq:
    case Op::kStrictEq:
    case Op::kNe:
    case Op::kStrictNe:
    case Op::kNot:
    case Op::kNotNot:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
    case Op::kMax:
    case Op::kMin:
    case Op::kAdd:
    case Op::kSub:
    case Op::kDiv:
    case Op::kMod:
    case Op::kIn:
    case Op::kCat:
    case Op::kSubstr:
    case Op::kStartsWith:
    case Op::kEndsWith:
    case Op::kSemVer:
      return true;
    default:
      return false;
  }
}

struct RootName {
  const char* name;
  RuleHost::Root ns;
  uint32_t dep;
};
constexpr RootName kRoots[] = {
    {"event", RuleHost::Root::kEvent, kDepEvent},
    {"page", RuleHost::Root::kPage, kDepPage},
    {"traits", RuleHost::Root::kTraits, kDepTraits},
    {"context", RuleHost::Root::kContext, kDepContext},
    {"profile", RuleHost::Root::kProfile, kDepProfile},
    {"now", RuleHost::Root::kNow, kDepNow},
};

constexpr int kMaxRuleDepth = 256;

}  // namespace

class RuleCompiler {
 public:
  RuleCompiler(const CompileOptions& options, Program& out, std::vector<CompileError>& errors)
      : options_(options), p_(out), errors_(errors) {}

  uint32_t compile(const Value& rule, bool scoped, std::string& path, int depth);

 private:
  friend bool compile_rule_parts(const Value&, const CompileOptions&, Program&,
                                 std::vector<Program>&, std::vector<CompileError>&);
  void error(const std::string& path, std::string message) {
    errors_.push_back({path, std::move(message)});
    ok_ = false;
  }
  uint32_t add(Node node) {
    p_.nodes_.push_back(std::move(node));
    return static_cast<uint32_t>(p_.nodes_.size() - 1);
  }
  uint32_t constant(Value v) {
    Node n;
    n.op = Op::kConst;
    n.constant = std::move(v);
    return add(std::move(n));
  }
  uint32_t finish(Node node, const std::vector<uint32_t>& kids);
  uint32_t compile_extension(Op op, std::span<const Value> args, const std::string& path);
  bool literal_string(std::span<const Value> args, size_t i, const std::string& path,
                      const char* op, const char* what, std::string& out);

 public:
  bool ok_ = true;

 private:
  const CompileOptions& options_;
  Program& p_;
  std::vector<CompileError>& errors_;
};

uint32_t RuleCompiler::finish(Node node, const std::vector<uint32_t>& kids) {
  node.first = static_cast<uint32_t>(p_.kids_.size());
  node.count = static_cast<uint32_t>(kids.size());
  p_.kids_.insert(p_.kids_.end(), kids.begin(), kids.end());
  bool all_const = true;
  for (uint32_t k : kids) {
    const Node& child = p_.nodes_[k];
    if (child.op != Op::kConst && !(child.op == Op::kArray && !child.constant.is_undefined())) {
      all_const = false;
    }
  }
  if (reads_args_only(node.op)) {
    for (uint32_t k : kids) {
      Node& child = p_.nodes_[k];
      if (child.op == Op::kArray && !child.constant.is_undefined()) child.shared = true;
    }
  }
  Op op = node.op;
  uint32_t index = add(std::move(node));
  if (op == Op::kArray && all_const) {
    // Keep a built copy for read-only consumers; others still get a fresh array each time.
    RuleEvaluator ev(p_, nullptr);
    p_.nodes_[index].constant = ev.eval(index, nullptr);
  } else if (!all_const && p_.nodes_[index].count == 2 && is_comparison(op)) {
    // count/metric compared with a number: read the window as a double, compare, no Values.
    Node& n = p_.nodes_[index];
    uint32_t k0 = p_.kids_[n.first], k1 = p_.kids_[n.first + 1];
    auto is_window = [&](uint32_t k) {
      return p_.nodes_[k].op == Op::kCount || p_.nodes_[k].op == Op::kMetric;
    };
    auto is_number = [&](uint32_t k) {
      return p_.nodes_[k].op == Op::kConst && p_.nodes_[k].constant.is_number();
    };
    if ((is_window(k0) && is_number(k1)) || (is_number(k0) && is_window(k1))) {
      n.shared = !is_window(k0);
      if (n.shared) std::swap(p_.kids_[n.first], p_.kids_[n.first + 1]);
      n.ns = static_cast<unsigned char>(op);
      n.op = Op::kCmpWindow;
    }
  } else if (all_const && (is_pure(op) || op == Op::kIf || op == Op::kAnd || op == Op::kOr)) {
    RuleEvaluator ev(p_, nullptr);
    static const Value kEmpty;
    Value folded = ev.eval(index, &kEmpty);
    if (!ev.failed() && !folded.is_reference()) {
      Node& n = p_.nodes_[index];
      n.op = Op::kConst;
      n.constant = std::move(folded);
      n.count = 0;
    }
  }
  return index;
}

bool RuleCompiler::literal_string(std::span<const Value> args, size_t i, const std::string& path,
                                  const char* op, const char* what, std::string& out) {
  if (i >= args.size() || !args[i].is_string() || args[i].as_string().empty()) {
    error(path, std::string(op) + " expects " + what + " as a literal string");
    return false;
  }
  out = args[i].as_string();
  return true;
}

uint32_t RuleCompiler::compile_extension(Op op, std::span<const Value> args,
                                         const std::string& path) {
  const char* name = op == Op::kCount    ? "count"
                     : op == Op::kMetric ? "metric"
                     : op == Op::kSince  ? "since"
                                         : "in_segment";
  RuleRef ref;
  ref.path = path;
  size_t arity = (op == Op::kCount || op == Op::kMetric) ? 2 : 1;
  if (args.size() != arity) {
    error(path, std::string(name) + " takes " + (arity == 2 ? "2 arguments" : "1 argument") +
                    ", got " + std::to_string(args.size()));
    return constant(Value::Null());
  }
  switch (op) {
    case Op::kCount:
      ref.kind = RuleRef::Kind::kCount;
      if (!literal_string(args, 0, path, name, "an event type", ref.name)) return constant(Value());
      break;
    case Op::kMetric:
      ref.kind = RuleRef::Kind::kMetric;
      if (!literal_string(args, 0, path, name, "a metric id", ref.name)) return constant(Value());
      break;
    case Op::kSince:
      ref.kind = RuleRef::Kind::kSince;
      if (!literal_string(args, 0, path, name, "an event type or metric id", ref.name)) {
        return constant(Value());
      }
      p_.deps_ |= kDepNow;
      break;
    default:
      ref.kind = RuleRef::Kind::kSegment;
      if (!literal_string(args, 0, path, name, "a segment id", ref.name)) return constant(Value());
      break;
  }
  if (arity == 2) {
    std::string text;
    if (!literal_string(args, 1, path, name, "a window", text)) return constant(Value());
    std::string why;
    if (!parse_window(text, ref.window, why)) {
      error(path, why);
      return constant(Value());
    }
  }
  Node n;
  n.op = op;
  n.aux = static_cast<int32_t>(p_.refs_.size());
  p_.refs_.push_back(std::move(ref));
  return finish(std::move(n), {});
}

uint32_t RuleCompiler::compile(const Value& rule, bool scoped, std::string& path, int depth) {
  if (depth > kMaxRuleDepth) {
    error(path, "rule nested deeper than 256 levels");
    return constant(Value::Null());
  }
  if (rule.is_array()) {
    std::vector<uint32_t> kids;
    size_t base = path.size();
    for (size_t i = 0; i < rule.as_array().size(); ++i) {
      append_path_index(path, i);
      kids.push_back(compile(rule.as_array()[i], scoped, path, depth + 1));
      path.resize(base);
    }
    Node n;
    n.op = Op::kArray;
    return finish(std::move(n), kids);
  }
  if (!rule.is_object() || rule.as_object().size() != 1) return constant(rule);

  const Member& m = rule.as_object()[0];
  const std::string& name = m.first;
  size_t base = path.size();
  append_path_key(path, name);
  // The arguments: the array's items, or the one value of the unary sugar {"op": x}. Read in
  // place (the rule outlives this call).
  const bool unary_sugar = !m.second.is_array();
  const std::span<const Value> args = unary_sugar ? std::span<const Value>(&m.second, 1)
                                                  : std::span<const Value>(m.second.as_array());

  Op op;
  bool known = lookup_op(name, op);
  if (!known) {
    if (options_.bundle) {
      error(path.substr(0, base), "unknown operator \"" + name + "\"");
      path.resize(base);
      return constant(Value::Null());
    }
    op = Op::kUnknown;
  }
  if (known && is_profile_op(op)) {
    if (!options_.bundle) {
      error(path, name + " needs a visitor profile: it is available in bundle rules only");
      path.resize(base);
      return constant(Value::Null());
    }
    if (op != Op::kBucket) {
      uint32_t index = compile_extension(op, args, path);
      path.resize(base);
      return index;
    }
  }

  auto arg_path = [&](size_t i) {
    if (!unary_sugar) append_path_index(path, i);
  };
  auto compile_args = [&](size_t from, bool scoped_from_second) {
    std::vector<uint32_t> kids;
    size_t here = path.size();
    for (size_t i = from; i < args.size(); ++i) {
      arg_path(i);
      bool child_scoped = scoped || (scoped_from_second && i == 1);
      kids.push_back(compile(args[i], child_scoped, path, depth + 1));
      path.resize(here);
    }
    return kids;
  };

  Node n;
  n.op = op;
  uint32_t index;
  switch (op) {
    case Op::kMap:
    case Op::kFilter:
    case Op::kReduce:
    case Op::kAll:
    case Op::kNone:
    case Op::kSome: {
      std::vector<uint32_t> kids = compile_args(0, true);
      if (op != Op::kReduce && kids.size() > 2) kids.resize(2);  // extra args are never evaluated
      if (op == Op::kReduce && kids.size() > 3) kids.resize(3);
      index = finish(std::move(n), kids);
      break;
    }
    case Op::kVar: {
      bool const_path =
          !args.empty() && (args[0].is_string() || args[0].is_number() || args[0].is_null());
      if (!const_path) {
        if (options_.bundle && !scoped) {
          n.root_scope = true;
          p_.deps_ |= kDepData;
        }
        index = finish(std::move(n), compile_args(0, false));
        break;
      }
      std::vector<std::string> parts;
      if (!args[0].is_null()) {
        std::string key = to_string(args[0]);
        if (!key.empty()) split_path(key, parts);
      }
      std::vector<uint32_t> kids = compile_args(1, false);
      if (options_.bundle && !scoped) {
        if (parts.empty()) {
          n.root_scope = true;
          p_.deps_ |= kDepData;
        } else if (parts[0] == "segments") {
          if (parts.size() != 2 || parts[1].empty()) {
            error(path, "segments must be read as segments.<id>");
            index = constant(Value::Null());
            break;
          }
          RuleRef ref;
          ref.kind = RuleRef::Kind::kSegment;
          ref.name = parts[1];
          ref.path = path;
          n.op = Op::kSegmentVar;
          n.aux = static_cast<int32_t>(p_.refs_.size());
          p_.refs_.push_back(std::move(ref));
          index = finish(std::move(n), kids);
          break;
        } else {
          const RootName* root = nullptr;
          for (const RootName& r : kRoots) {
            if (parts[0] == r.name) root = &r;
          }
          if (root == nullptr) {
            error(path, "unknown variable \"" + parts[0] +
                            "\": rules read event.*, page.*, traits.*, segments.*, context.*, "
                            "profile.* or now");
            index = constant(Value::Null());
            break;
          }
          if (root->ns == RuleHost::Root::kNow && parts.size() > 1) {
            error(path, "now is a number and has no fields");
          }
          p_.deps_ |= root->dep;
          n.op = Op::kRootVar;
          n.ns = static_cast<unsigned char>(root->ns);
        }
      }
      n.aux = static_cast<int32_t>(p_.paths_.size());
      p_.paths_.push_back(std::move(parts));
      index = finish(std::move(n), kids);
      break;
    }
    case Op::kMissing:
    case Op::kMissingSome:
      if (options_.bundle && !scoped) {
        n.root_scope = true;
        p_.deps_ |= kDepData;
      }
      index = finish(std::move(n), compile_args(0, false));
      break;
    case Op::kUnknown:
      n.aux = static_cast<int32_t>(p_.names_.size());
      p_.names_.push_back(name);
      index = finish(std::move(n), compile_args(0, false));
      break;
    case Op::kBucket:
      p_.deps_ |= kDepProfile;
      index = finish(std::move(n), compile_args(0, false));
      break;
    default:
      index = finish(std::move(n), compile_args(0, false));
      break;
  }
  path.resize(base);
  return index;
}

bool compile_rule(const Value& rule, const CompileOptions& options, Program& out,
                  std::vector<CompileError>& errors) {
  out = Program();
  RuleCompiler compiler(options, out, errors);
  std::string path;
  out.root_ = compiler.compile(rule, false, path, 0);
  return compiler.ok_;
}

uint32_t Program::append(const Program& part) {
  const auto node_at = static_cast<uint32_t>(nodes_.size());
  const auto kid_at = static_cast<uint32_t>(kids_.size());
  const auto ref_at = static_cast<int32_t>(refs_.size());
  const auto path_at = static_cast<int32_t>(paths_.size());
  const auto name_at = static_cast<int32_t>(names_.size());
  for (const Node& node : part.nodes_) {
    Node& n = nodes_.emplace_back(node);
    if (n.count > 0) n.first += kid_at;
    if (n.aux < 0) continue;
    switch (n.op) {  // the ops whose aux indexes a table (RuleCompiler::compile)
      case Op::kCount:
      case Op::kMetric:
      case Op::kSince:
      case Op::kInSegment:
      case Op::kSegmentVar:
        n.aux += ref_at;
        break;
      case Op::kVar:
      case Op::kRootVar:
        n.aux += path_at;
        break;
      case Op::kUnknown:
        n.aux += name_at;
        break;
      default:
        break;
    }
  }
  // Element by element: smaller in the wasm than the range inserts (~600 bytes brotli).
  for (uint32_t k : part.kids_) kids_.push_back(k + node_at);
  for (const RuleRef& r : part.refs_) refs_.push_back(r);
  for (const std::vector<std::string>& p : part.paths_) paths_.push_back(p);
  for (const std::string& n : part.names_) names_.push_back(n);
  deps_ |= part.deps_;
  return part.root_ + node_at;
}

bool compile_rule_parts(const Value& rule, const CompileOptions& options, Program& whole,
                        std::vector<Program>& parts, std::vector<CompileError>& errors) {
  const Member& m = rule.as_object()[0];
  const Array& items = m.second.as_array();
  whole = Program();
  parts.clear();
  parts.resize(items.size());
  bool ok = true;
  std::vector<uint32_t> roots;
  roots.reserve(items.size());
  std::string path;
  for (size_t i = 0; i < items.size(); ++i) {
    // As compile_rule(rule) reaches the part: path "and[i]", depth 1, not in a scope.
    path.clear();
    append_path_key(path, m.first);
    append_path_index(path, i);
    RuleCompiler compiler(options, parts[i], errors);
    parts[i].root_ = compiler.compile(items[i], false, path, 1);
    ok = ok && compiler.ok_;
    roots.push_back(whole.append(parts[i]));
  }
  RuleCompiler compiler(options, whole, errors);
  Program::Node node;
  node.op = m.first == "and" ? Program::Op::kAnd : Program::Op::kOr;
  whole.root_ = compiler.finish(std::move(node), roots);
  return ok;
}

}  // namespace pz
