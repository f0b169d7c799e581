// JsonLogic, compiled. Rules are compiled once into a flat program (paths split and interned,
// constant sub-expressions folded, references to metrics/events/segments collected so that the
// bundle can resolve them and know each rule's dependencies), then evaluated many times.
// Semantics are those of the reference implementation json-logic-js 2.0.5, i.e. JavaScript's:
// truthiness (empty array falsy), loose `==`, `+` via parseFloat, string comparison by UTF-16
// units, number formatting as Number#toString. Extensions: count, metric, since, in_segment,
// starts_with, ends_with, sem_ver, bucket (see DESIGN.md and docs/rules.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pz/status.h"
#include "pz/value.h"

namespace pz {

// A time window of `count`/`metric`: "<n>m", "<n>h", "<n>d" or "all" (ms == 0).
struct Window {
  int64_t ms = 0;  // 0 means "all"
  bool all() const { return ms == 0; }
};
// Parses a window literal; false with a reason on error.
bool parse_window(std::string_view text, Window& out, std::string& error);

// What a compiled rule reads (for incremental re-evaluation).
enum Dep : uint32_t {
  kDepEvent = 1u << 0,    // event.*
  kDepPage = 1u << 1,     // page.*
  kDepTraits = 1u << 2,   // traits.*
  kDepContext = 1u << 3,  // context.*
  kDepProfile = 1u << 4,  // profile.* (first_seen, last_seen, sessions, ids)
  kDepNow = 1u << 5,      // now, since, or anything whose value moves with every ms
  kDepData = 1u << 6,     // a dynamic or whole-root var: depends on everything
};

// A name a rule refers to, resolved by the bundle after compiling.
struct RuleRef {
  enum class Kind : unsigned char { kCount, kMetric, kSince, kSegment };
  Kind kind;
  std::string name;
  Window window;
  std::string path;           // JSON path of the operator inside the rule, for error messages
  int slot = -1;              // set by the resolver: event-type, metric or segment index
  bool since_metric = false;  // kSince: the name is a metric (else an event type)
};

struct CompileOptions {
  // Bundle rules: unknown operators, unknown var roots and non-literal extension arguments are
  // compile errors, and var roots are the namespaces event/page/traits/segments/context/profile/
  // now. Plain rules (`pz eval`): data is the root, unknown operators fail when evaluated (as in
  // json-logic-js), profile extensions are compile errors.
  bool bundle = false;
};

struct CompileError {
  std::string path;  // relative to the rule, e.g. "and[1]"
  std::string message;
};

// Answers the profile questions of a bundle rule during evaluation.
class RuleHost {
 public:
  enum class Root : unsigned char { kEvent, kPage, kTraits, kContext, kProfile, kNow };
  virtual ~RuleHost() = default;
  virtual Value root(Root ns) = 0;  // the namespace object (kNow: the number)
  // The same without a copy, when the host keeps it (valid during the evaluation); nullptr:
  // use root().
  virtual const Value* root_ref(Root) { return nullptr; }
  virtual Value whole_root() = 0;  // {event, page, traits, segments, context, profile, now}
  virtual double count(int event_type, const Window& window) = 0;
  virtual double metric(int metric, const Window& window) = 0;
  virtual Value since(int slot, bool is_metric) = 0;  // ms since last, or null
  virtual bool in_segment(int segment) = 0;
  virtual std::string_view profile_id() = 0;
};

// A rule that is exactly one count/metric window compared with a constant number, `{">=":
// [{"metric":["m","7d"]},3]}` (compiled to one fused node): the engine's incremental evaluation
// answers it from a cached window sum without running the evaluator. Same answer as the rule.
struct WindowComparison {
  enum class Cmp : unsigned char { kEq, kNe, kLt, kLe, kGt, kGe };
  int ref = -1;  // index into the program's refs(): the window
  Cmp cmp = Cmp::kGe;
  double constant = 0;
  bool constant_first = false;  // `constant cmp window` rather than `window cmp constant`
  // The comparison of the window's value `x` (JavaScript's: false with NaN except !=).
  bool test(double x) const {
    const double a = constant_first ? constant : x, b = constant_first ? x : constant;
    switch (cmp) {
      case Cmp::kEq:
        return a == b;
      case Cmp::kNe:
        return a != b;
      case Cmp::kLt:
        return a < b;
      case Cmp::kLe:
        return a <= b;
      case Cmp::kGt:
        return a > b;
      case Cmp::kGe:
        return a >= b;
    }
    return false;
  }
};

class Program {
 public:
  enum class Op : unsigned char;
  struct Node;

  Program();
  ~Program();
  Program(Program&&) noexcept;
  Program& operator=(Program&&) noexcept;

  std::vector<RuleRef>& refs() { return refs_; }
  const std::vector<RuleRef>& refs() const { return refs_; }
  uint32_t deps() const { return deps_; }
  size_t node_count() const;
  // True when no operator loops (map, filter, reduce, all, none, some): every node is evaluated
  // at most once per evaluation.
  bool loop_free() const;
  // True when the whole rule folded to a constant.
  bool is_constant() const;
  // True (and `out` filled) when the whole rule is one window comparison (WindowComparison).
  bool window_comparison(WindowComparison& out) const;
  // When the whole rule is one count/metric window, {"metric":["m","7d"]}: its index into refs()
  // (its value is the host's count()/metric() of that ref); else -1.
  int window_read() const;

 private:
  friend class RuleCompiler;
  friend class RuleEvaluator;
  friend bool compile_rule(const Value&, const struct CompileOptions&, Program&,
                           std::vector<struct CompileError>&);
  friend bool compile_rule_parts(const Value&, const struct CompileOptions&, Program&,
                                 std::vector<Program>&, std::vector<struct CompileError>&);
  // Appends `part`'s nodes and tables to this program (indexes shifted); returns where its root
  // went.
  uint32_t append(const Program& part);
  friend Result<Value> evaluate(const Program&, const Value&, class RuleHost*);
  friend bool evaluate_condition(const Program&, class RuleHost*, bool*, std::string*);
  std::vector<Node> nodes_;
  std::vector<uint32_t> kids_;
  std::vector<std::vector<std::string>> paths_;
  std::vector<std::string> names_;  // unknown operator names (plain mode)
  std::vector<RuleRef> refs_;
  uint32_t root_ = 0;
  uint32_t deps_ = 0;
};

// Compiles `rule`. Every error found is appended to `errors` (compilation goes on after an error
// so that a bundle reports them all); returns false if there was any.
bool compile_rule(const Value& rule, const CompileOptions& options, Program& out,
                  std::vector<CompileError>& errors);

// Compiles a rule {"and": [p0, p1, …]} or {"or": […]} (any number of parts) part by part: each
// part's program, compiled alone, goes to `parts`, and `whole` receives the program of the whole
// rule, the same program compile_rule(rule) gives (the parts' nodes in order, then the and/or
// node), built from the parts instead of compiling them a second time. Errors are those of
// compile_rule(rule), paths relative to the whole rule ("and[1].metric"), as are the paths of the
// parts' references. Returns false if there was any error. REQUIRES: `rule` has that shape.
bool compile_rule_parts(const Value& rule, const CompileOptions& options, Program& whole,
                        std::vector<Program>& parts, std::vector<CompileError>& errors);

// Evaluates a compiled program against `data` (plain rules) or the host (bundle rules; `data`
// is then ignored at the root). `host` may be null for plain rules. Errors (what JavaScript would
// throw) come back as kEvalError.
Result<Value> evaluate(const Program& program, const Value& data, RuleHost* host);

// A bundle rule as a condition: truthy result -> true; an evaluation error -> false (and
// *failed = true, *error = its message, when given).
bool evaluate_condition(const Program& program, RuleHost* host, bool* failed = nullptr,
                        std::string* error = nullptr);

// JavaScript's Number(value) (ToNumber).
double to_number_js(const Value& value);

// The deterministic bucket of a profile for a salt: murmur3_x86_32(salt + profile_id, seed 0)
// / 2^32 * 100, a number in [0, 100). The `bucket` operator, experiments and the holdout use it.
double bucket_of(std::string_view salt, std::string_view profile_id);

// JavaScript truthiness as JsonLogic defines it (an empty array is falsy).
bool truthy(const Value& value);

}  // namespace pz
