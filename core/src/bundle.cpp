#include "pz/bundle.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>

#include "pz/json.h"
#include "pz/sort.h"

namespace pz {

int Bundle::metric_index(std::string_view id) const {
  for (size_t i = 0; i < metrics.size(); ++i) {
    if (metrics[i].id == id) return static_cast<int>(i);
  }
  return -1;
}
const Bundle::EventUse* Bundle::event_use(std::string_view type) const {
  size_t lo = 0, hi = event_uses.size();
  while (lo < hi) {  // binary search by type
    const size_t mid = (lo + hi) / 2;
    const int c = std::string_view(event_uses[mid].type).compare(type);
    if (c == 0) return &event_uses[mid];
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return nullptr;
}
int Bundle::event_type_index(std::string_view type) const {
  for (size_t i = 0; i < event_types.size(); ++i) {
    if (event_types[i] == type) return static_cast<int>(i);
  }
  return -1;
}
int Bundle::action_index(std::string_view id) const {
  for (size_t i = 0; i < actions.size(); ++i) {
    if (actions[i].id == id) return static_cast<int>(i);
  }
  return -1;
}
int Bundle::slot_index(std::string_view slot) const {
  for (size_t i = 0; i < slot_names.size(); ++i) {
    if (slot_names[i] == slot) return static_cast<int>(i);
  }
  return -1;
}
const SlotDefault* Bundle::slot_default(std::string_view slot) const {
  for (const SlotDefault& d : defaults) {
    if (d.slot == slot) return &d;
  }
  return nullptr;
}

std::string format_errors(const std::vector<BundleError>& errors) {
  std::string out;
  for (const BundleError& e : errors) {
    out += e.path.empty() ? "(bundle)" : e.path;
    out += ": ";
    out += e.message;
    out += '\n';
  }
  return out;
}

namespace {

constexpr size_t kMaxMetrics = kMaxSeries;
constexpr size_t kMaxSegments = 1000;
constexpr size_t kMaxActions = 1000;
constexpr size_t kMaxSlots = 64;

std::string join(const std::string& base, std::string_view key) {
  std::string p = base;
  append_path_key(p, key);
  return p;
}
std::string join(const std::string& base, size_t index) {
  std::string p = base;
  append_path_index(p, index);
  return p;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

class Compiler {
 public:
  Compiler(Bundle& out, std::vector<BundleError>& errors)
      : b_(out), errors_(errors), errors_before_(errors.size()) {}

  void run(const Value& doc);

 private:
  void error(const std::string& path, std::string message) {
    errors_.push_back({path, std::move(message)});
  }
  // Reports members not in `known` as errors (a typo must not be silently ignored).
  void check_fields(const Value& obj, const std::string& path,
                    std::initializer_list<const char*> known) {
    for (const Member& m : obj.as_object()) {
      bool ok = false;
      for (const char* k : known) ok = ok || m.first == k;
      if (!ok) {
        std::string names;
        for (const char* k : known) names += names.empty() ? k : std::string(", ") + k;
        error(join(path, m.first), "unknown field (expected one of: " + names + ")");
      }
    }
  }
  bool expect_object(const Value* v, const std::string& path) {
    if (v != nullptr && v->is_object()) return true;
    error(path, std::string("must be an object, got ") + (v ? kind_name(*v) : "nothing"));
    return false;
  }
  // A top-level list of the bundle: present, an array, and at most `max` entries.
  bool expect_list(const Value* v, const char* name, size_t max) {
    if (v == nullptr) return false;
    if (!v->is_array()) {
      error(name, std::string("must be an array, got ") + kind_name(*v));
      return false;
    }
    if (v->as_array().size() > max) {
      error(name, "at most " + std::to_string(max) + " " + name);
      return false;
    }
    return true;
  }
  bool read_id(const Value& obj, const std::string& path, std::string& out) {
    const Value* id = obj.find("id");
    std::string p = join(path, "id");
    if (id == nullptr) {
      error(p, "is required");
      return false;
    }
    if (!id->is_string() || !valid_id(id->as_string())) {
      error(p, "must be a string of 1 to 64 letters, digits, or _ - . :");
      return false;
    }
    out = id->as_string();
    return true;
  }
  bool read_number(const Value& obj, const char* key, const std::string& path, double& out,
                   double min, double max) {
    const Value* v = obj.find(key);
    if (v == nullptr) return true;
    if (!v->is_number() || !std::isfinite(v->as_number()) || v->as_number() < min ||
        v->as_number() > max) {
      std::string range = "[" + to_json(Value::Number(min)) + ", " +
                          (std::isinf(max) ? std::string("∞") : to_json(Value::Number(max))) + "]";
      error(join(path, key), std::string("must be a number in ") + range + ", got " +
                                 (v->is_number() ? to_json(*v) : kind_name(*v)));
      return false;
    }
    out = v->as_number();
    return true;
  }
  bool read_count(const Value& obj, const char* key, const std::string& path, int64_t& out,
                  int64_t max) {
    const Value* v = obj.find(key);
    if (v == nullptr) return true;
    double d = v->is_number() ? v->as_number() : -1;
    if (!v->is_number() || d < 0 || d > static_cast<double>(max) || d != std::floor(d)) {
      error(join(path, key), "must be a whole number from 0 to " + std::to_string(max) + ", got " +
                                 (v->is_number() ? to_json(*v) : std::string(kind_name(*v))));
      return false;
    }
    out = static_cast<int64_t>(d);
    return true;
  }
  void compile(const Value& rule, const std::string& path, Program& out) {
    std::vector<CompileError> errs;
    CompileOptions options;
    options.bundle = true;
    compile_rule(rule, options, out, errs);
    report(path, errs);
  }
  // compile() of an {"and"|"or": [parts]} rule, and each part's own program (compile_rule_parts:
  // each part is compiled once).
  void compile_parts(const Value& rule, const std::string& path, Program& whole,
                     std::vector<Program>& parts) {
    std::vector<CompileError> errs;
    CompileOptions options;
    options.bundle = true;
    compile_rule_parts(rule, options, whole, parts, errs);
    report(path, errs);
  }
  // A rule's compile errors, their paths below the rule's own.
  void report(const std::string& path, std::vector<CompileError>& errs) {
    for (CompileError& e : errs) {
      std::string p = path;
      if (!e.path.empty()) {
        if (e.path[0] != '[') p += '.';
        p += e.path;
      }
      error(p, std::move(e.message));
    }
  }

  void consent(const Value* v);
  void retention(const Value* v);
  void metrics(const Value* v);
  void segments(const Value* v);
  void actions(const Value* v);
  void experiments(const Value* v);
  void holdout(const Value* v);
  void propensity(const Value& v, const std::string& path, Propensity& out);
  void defaults(const Value* v);
  void resolve_segment_refs();
  void order_segments();
  void build_indexes();

  Bundle& b_;
  std::vector<BundleError>& errors_;
  size_t errors_before_;
  std::vector<std::string> segment_paths_;
  std::vector<std::vector<std::string>> part_texts_;  // by segment: its conditions' JSON
  // Segment indexes sorted by id (the first of equal ids first), kept as segments are read: the
  // duplicate check and the references look ids up in O(log n), not O(n) (1000 segments: ~15 M
  // fewer instructions per load).
  std::vector<int> segment_order_;
  // Where id is or would go in segment_order_: before the segments with that id, or (after)
  // behind them.
  int segment_position(std::string_view id, bool after = false) const {
    size_t lo = 0, hi = segment_order_.size();
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      const std::string& at = b_.segments[static_cast<size_t>(segment_order_[mid])].id;
      if (at < id || (after && at == id)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return static_cast<int>(lo);
  }
  int find_segment(std::string_view id) const {
    const size_t at = static_cast<size_t>(segment_position(id));
    if (at < segment_order_.size() &&
        b_.segments[static_cast<size_t>(segment_order_[at])].id == id) {
      return segment_order_[at];
    }
    return -1;
  }
};

void Compiler::run(const Value& doc) {
  if (!expect_object(&doc, "")) return;
  check_fields(doc, "",
               {"version", "consent", "retention", "metrics", "segments", "actions", "defaults",
                "experiments", "holdout"});
  const Value* version = doc.find("version");
  if (version == nullptr || !version->is_string() || version->as_string().empty() ||
      version->as_string().size() > 128) {
    error("version", "is required: a non-empty string of at most 128 bytes");
  } else {
    b_.version = version->as_string();
  }
  consent(doc.find("consent"));
  retention(doc.find("retention"));
  metrics(doc.find("metrics"));
  segments(doc.find("segments"));
  defaults(doc.find("defaults"));
  experiments(doc.find("experiments"));
  holdout(doc.find("holdout"));
  actions(doc.find("actions"));
  resolve_segment_refs();
  order_segments();
  if (errors_.size() == errors_before_) build_indexes();
}

void Compiler::consent(const Value* v) {
  if (v == nullptr) return;
  if (!expect_object(v, "consent")) return;
  check_fields(*v, "consent", {"mode", "gpc"});
  if (const Value* mode = v->find("mode")) {
    if (mode->is_string() && (mode->as_string() == "opt-in" || mode->as_string() == "opt-out")) {
      b_.consent_mode = mode->as_string();
    } else {
      error("consent.mode", "must be \"opt-in\" or \"opt-out\"");
    }
  }
  if (const Value* gpc = v->find("gpc")) {
    if (gpc->is_string() &&
        (gpc->as_string() == "personalization_off" || gpc->as_string() == "ignore")) {
      b_.consent_gpc = gpc->as_string();
    } else {
      error("consent.gpc", "must be \"personalization_off\" or \"ignore\"");
    }
  }
}

void Compiler::retention(const Value* v) {
  if (v == nullptr) return;
  if (!expect_object(v, "retention")) return;
  check_fields(*v, "retention", {"hourly_buckets", "daily_buckets"});
  int64_t hourly = b_.retention.hourly_buckets, daily = b_.retention.daily_buckets;
  read_count(*v, "hourly_buckets", "retention", hourly, 24 * 31);
  read_count(*v, "daily_buckets", "retention", daily, 400);
  if (hourly < 1) error("retention.hourly_buckets", "must be at least 1");
  if (daily < 1) error("retention.daily_buckets", "must be at least 1");
  b_.retention.hourly_buckets = static_cast<int>(std::max<int64_t>(hourly, 1));
  b_.retention.daily_buckets = static_cast<int>(std::max<int64_t>(daily, 1));
}

void Compiler::metrics(const Value* v) {
  if (!expect_list(v, "metrics", kMaxMetrics)) return;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const Value& m = v->as_array()[i];
    std::string path = join("metrics", i);
    MetricDef def;
    if (!expect_object(&m, path)) {
      b_.metrics.push_back(std::move(def));
      continue;
    }
    check_fields(m, path, {"id", "event", "where", "sum", "description"});
    if (read_id(m, path, def.id) && b_.metric_index(def.id) >= 0) {
      error(join(path, "id"), "duplicate metric id \"" + def.id + "\"");
    }
    const Value* event = m.find("event");
    if (event == nullptr || !event->is_string() || event->as_string().empty() ||
        event->as_string().size() > 128) {
      error(join(path, "event"), "is required: the event type to count (a non-empty string)");
    } else {
      def.event = event->as_string();
    }
    if (const Value* where = m.find("where")) {
      def.has_where = true;
      std::string wpath = join(path, "where");
      compile(*where, wpath, def.where);
      if (!def.where.refs().empty() || (def.where.deps() & kDepNow)) {
        error(wpath,
              "a metric's where-rule sees the event only: count, metric, since, "
              "in_segment and segments.* are not allowed here");
      }
    }
    if (const Value* sum = m.find("sum")) {
      if (!sum->is_string() || sum->as_string().empty()) {
        error(join(path, "sum"), "must be a path inside the event, e.g. \"props.value\"");
      } else {
        def.is_sum = true;
        std::string_view s = sum->as_string();
        size_t start = 0;
        while (true) {
          size_t dot = s.find('.', start);
          def.sum_path.emplace_back(
              s.substr(start, dot == std::string_view::npos ? dot : dot - start));
          if (dot == std::string_view::npos) break;
          start = dot + 1;
        }
      }
    }
    b_.metrics.push_back(std::move(def));
  }
}

void Compiler::segments(const Value* v) {
  if (!expect_list(v, "segments", kMaxSegments)) return;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const Value& s = v->as_array()[i];
    std::string path = join("segments", i);
    segment_paths_.push_back(path);
    SegmentDef def;
    if (expect_object(&s, path)) {
      check_fields(s, path, {"id", "rule", "description"});
      if (read_id(s, path, def.id) && find_segment(def.id) >= 0) {
        error(join(path, "id"), "duplicate segment id \"" + def.id + "\"");
      }
      const Value* rule = s.find("rule");
      if (rule == nullptr) {
        error(join(path, "rule"), "is required");
      } else {
        const Value* list = rule->is_object() && rule->as_object().size() == 1
                                ? &rule->as_object()[0].second
                                : nullptr;
        const std::string* op = list != nullptr ? &rule->as_object()[0].first : nullptr;
        if (list != nullptr && list->is_array() && list->as_array().size() >= 2 &&
            (*op == "and" || *op == "or")) {
          // Split into its conditions when it compiles and has no loop.
          size_t errors_before = errors_.size();
          compile_parts(*rule, join(path, "rule"), def.rule, def.parts);
          if (errors_.size() == errors_before && def.rule.loop_free()) {
            def.split = *op == "and" ? SegmentDef::Split::kAnd : SegmentDef::Split::kOr;
            part_texts_.resize(b_.segments.size() + 1);
            for (const Value& part : list->as_array()) part_texts_.back().push_back(to_json(part));
          } else {
            def.parts.clear();
          }
        } else {
          compile(*rule, join(path, "rule"), def.rule);
        }
      }
    }
    // Behind the segments with the same id: the first one wins.
    segment_order_.insert(segment_order_.begin() + segment_position(def.id, true),
                          static_cast<int>(b_.segments.size()));
    b_.segments.push_back(std::move(def));
  }
}

void Compiler::defaults(const Value* v) {
  if (v == nullptr) return;
  if (!expect_object(v, "defaults")) return;
  if (v->as_object().size() > kMaxSlots) error("defaults", "at most 64 slots");
  for (const Member& m : v->as_object()) {
    std::string path = join("defaults", m.first);
    if (!valid_id(m.first)) {
      error(path, "slot names are 1 to 64 letters, digits, or _ - . :");
      continue;
    }
    if (!expect_object(&m.second, path)) continue;
    check_fields(m.second, path, {"content"});
    const Value* content = m.second.find("content");
    if (content == nullptr) {
      error(join(path, "content"), "is required");
      continue;
    }
    b_.defaults.push_back({m.first, *content});
  }
}

void Compiler::actions(const Value* v) {
  if (!expect_list(v, "actions", kMaxActions)) return;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const Value& a = v->as_array()[i];
    std::string path = join("actions", i);
    ActionDef def;
    if (!expect_object(&a, path)) continue;
    check_fields(a, path,
                 {"id", "slots", "eligible", "propensity", "value", "lever", "context_weight",
                  "caps", "content", "description", "group", "experiment"});
    if (read_id(a, path, def.id)) {
      for (const ActionDef& other : b_.actions) {
        if (other.id == def.id) error(join(path, "id"), "duplicate action id \"" + def.id + "\"");
      }
    }
    const Value* slots = a.find("slots");
    std::string spath = join(path, "slots");
    if (slots == nullptr || !slots->is_array() || slots->as_array().empty()) {
      error(spath, "is required: a non-empty array of slot names");
    } else {
      for (size_t j = 0; j < slots->as_array().size(); ++j) {
        const Value& s = slots->as_array()[j];
        if (!s.is_string()) {
          error(join(spath, j), std::string("must be a slot name, got ") + kind_name(s));
        } else if (b_.slot_default(s.as_string()) == nullptr) {
          error(join(spath, j),
                "unknown slot \"" + s.as_string() + "\": every slot needs an entry in defaults");
        } else {
          def.slots.push_back(s.as_string());
        }
      }
    }
    if (const Value* eligible = a.find("eligible")) {
      def.has_eligible = true;
      std::string epath = join(path, "eligible");
      def.eligible_text = to_json(*eligible);
      if (eligible->is_object() && eligible->as_object().size() == 1 &&
          eligible->as_object()[0].second.is_array() &&
          (eligible->as_object()[0].first == "and" || eligible->as_object()[0].first == "or")) {
        // Its conditions, each explained on its own (Engine::why).
        size_t errors_before = errors_.size();
        compile_parts(*eligible, epath, def.eligible, def.eligible_parts);
        if (errors_.size() == errors_before) {
          def.eligible_op = eligible->as_object()[0].first;
          for (const Value& part : eligible->as_object()[0].second.as_array()) {
            def.eligible_part_texts.push_back(to_json(part));
          }
        } else {
          def.eligible_parts.clear();
        }
      } else {
        compile(*eligible, epath, def.eligible);
      }
    }
    if (const Value* p = a.find("propensity"))
      propensity(*p, join(path, "propensity"), def.propensity);
    read_number(a, "value", path, def.value, 0, 1e15);
    read_number(a, "lever", path, def.lever, 0, 1e15);
    if (const Value* cw = a.find("context_weight")) {
      if (cw->is_number()) {
        read_number(a, "context_weight", path, def.context_weight, 0, 1e15);
      } else {
        def.has_context_rule = true;
        compile(*cw, join(path, "context_weight"), def.context_rule);
      }
    }
    if (const Value* caps = a.find("caps")) {
      std::string cpath = join(path, "caps");
      if (expect_object(caps, cpath)) {
        check_fields(*caps, cpath, {"per_session", "per_day", "total", "dismiss_cooldown"});
        read_count(*caps, "per_session", cpath, def.caps.per_session, 1000000000);
        read_count(*caps, "per_day", cpath, def.caps.per_day, 1000000000);
        read_count(*caps, "total", cpath, def.caps.total, 1000000000);
        if (const Value* cd = caps->find("dismiss_cooldown")) {
          Window w;
          std::string why;
          if (!cd->is_string() || !parse_window(cd->as_string(), w, why) || w.all()) {
            error(join(cpath, "dismiss_cooldown"),
                  "must be a duration such as \"30m\", \"12h\" or \"7d\"");
          } else {
            def.caps.dismiss_cooldown_ms = w.ms;
          }
        }
      }
    }
    if (const Value* group = a.find("group")) {
      if (!group->is_string() || !valid_id(group->as_string())) {
        error(join(path, "group"), "must be a name of 1 to 64 letters, digits, or _ - . :");
      } else {
        def.group = group->as_string();
      }
    }
    if (const Value* exp = a.find("experiment")) {
      std::string epath = join(path, "experiment");
      if (expect_object(exp, epath)) {
        check_fields(*exp, epath, {"id", "variant"});
        const Value* id = exp->find("id");
        const Value* variant = exp->find("variant");
        for (size_t e = 0; id != nullptr && id->is_string() && e < b_.experiments.size(); ++e) {
          if (b_.experiments[e].id == id->as_string()) def.experiment = static_cast<int>(e);
        }
        if (def.experiment < 0) {
          error(join(epath, "id"), "must name one of the bundle's experiments");
        } else {
          const Experiment& x = b_.experiments[static_cast<size_t>(def.experiment)];
          for (size_t k = 0; variant != nullptr && variant->is_string() && k < x.variants.size();
               ++k) {
            if (x.variants[k] == variant->as_string()) def.variant = static_cast<int>(k);
          }
          if (def.variant < 0) {
            error(join(epath, "variant"),
                  "must be one of the variants of experiment \"" + x.id + "\"");
          }
        }
      }
    }
    const Value* content = a.find("content");
    if (content == nullptr) {
      error(join(path, "content"), "is required");
    } else {
      def.content = *content;
    }
    b_.actions.push_back(std::move(def));
  }
}

void Compiler::experiments(const Value* v) {
  if (!expect_list(v, "experiments", SIZE_MAX)) return;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const Value& e = v->as_array()[i];
    std::string path = join("experiments", i);
    Experiment x;
    if (!expect_object(&e, path)) continue;
    check_fields(e, path, {"id", "salt", "variants", "description"});
    if (read_id(e, path, x.id)) {
      for (const Experiment& other : b_.experiments) {
        if (other.id == x.id) error(join(path, "id"), "duplicate experiment id \"" + x.id + "\"");
      }
    }
    x.salt = x.id;
    if (const Value* salt = e.find("salt")) {
      if (!salt->is_string() || salt->as_string().empty()) {
        error(join(path, "salt"), "must be a non-empty string");
      } else {
        x.salt = salt->as_string();
      }
    }
    const Value* variants = e.find("variants");
    std::string vpath = join(path, "variants");
    if (variants == nullptr || !variants->is_array() || variants->as_array().size() < 2) {
      error(vpath, "is required: at least 2 variants {\"id\", \"weight\"}");
    } else {
      for (size_t k = 0; k < variants->as_array().size(); ++k) {
        const Value& var = variants->as_array()[k];
        std::string p = join(vpath, k);
        if (!expect_object(&var, p)) continue;
        check_fields(var, p, {"id", "weight"});
        std::string id;
        if (!read_id(var, p, id)) continue;
        const Value* weight = var.find("weight");
        if (weight == nullptr || !weight->is_number() || !(weight->as_number() > 0) ||
            weight->as_number() > 1e9) {
          error(join(p, "weight"), "is required: a number greater than 0");
          continue;
        }
        x.variants.push_back(id);
        x.weights.push_back(weight->as_number());
      }
    }
    b_.experiments.push_back(std::move(x));
  }
}

void Compiler::holdout(const Value* v) {
  if (v == nullptr) return;
  if (!expect_object(v, "holdout")) return;
  check_fields(*v, "holdout", {"percent", "salt"});
  read_number(*v, "percent", "holdout", b_.holdout.percent, 0, 100);
  if (const Value* salt = v->find("salt")) {
    if (!salt->is_string() || salt->as_string().empty()) {
      error("holdout.salt", "must be a non-empty string");
    } else {
      b_.holdout.salt = salt->as_string();
    }
  }
}

void Compiler::propensity(const Value& v, const std::string& path, Propensity& out) {
  if (v.is_number()) {
    if (!(v.as_number() >= 0 && v.as_number() <= 1)) {
      error(path, "must be a number in [0, 1], got " + to_json(v));
      return;
    }
    out.kind = Propensity::Kind::kConstant;
    out.constant = v.as_number();
    return;
  }
  if (!v.is_object() || v.as_object().size() != 1) {
    error(path, "must be a number in [0, 1], {\"logistic\": {…}} or {\"thompson\": {…}}");
    return;
  }
  const Member& m = v.as_object()[0];
  std::string mpath = join(path, m.first);
  if (m.first == "logistic") {
    out.kind = Propensity::Kind::kLogistic;
    if (!expect_object(&m.second, mpath)) return;
    check_fields(m.second, mpath, {"intercept", "features"});
    read_number(m.second, "intercept", mpath, out.intercept, -1e6, 1e6);
    const Value* features = m.second.find("features");
    std::string fpath = join(mpath, "features");
    if (features == nullptr || !features->is_array()) {
      error(fpath, "is required: an array of {\"rule\": …, \"weight\": number}");
      return;
    }
    for (size_t i = 0; i < features->as_array().size(); ++i) {
      const Value& f = features->as_array()[i];
      std::string p = join(fpath, i);
      if (!expect_object(&f, p)) continue;
      check_fields(f, p, {"rule", "weight", "description"});
      Propensity::Feature feature;
      const Value* rule = f.find("rule");
      if (rule == nullptr) {
        error(join(p, "rule"), "is required: the feature's value as a rule");
      } else {
        compile(*rule, join(p, "rule"), feature.rule);
      }
      if (f.find("weight") == nullptr) {
        error(join(p, "weight"), "is required");
      } else {
        read_number(f, "weight", p, feature.weight, -1e6, 1e6);
      }
      out.features.push_back(std::move(feature));
    }
  } else if (m.first == "thompson") {
    out.kind = Propensity::Kind::kThompson;
    if (!expect_object(&m.second, mpath)) return;
    check_fields(m.second, mpath, {"prior"});
    const Value* prior = m.second.find("prior");
    if (prior == nullptr) return;  // Beta(1, 1)
    const Array* ab = prior->is_array() ? &prior->as_array() : nullptr;
    auto ok = [](const Value& x) {
      return x.is_number() && x.as_number() > 0 && x.as_number() <= 1e6;
    };
    if (ab == nullptr || ab->size() != 2 || !ok((*ab)[0]) || !ok((*ab)[1])) {
      error(join(mpath, "prior"), "must be [alpha, beta] with 0 < alpha, beta <= 1000000");
      return;
    }
    out.prior_alpha = (*ab)[0].as_number();
    out.prior_beta = (*ab)[1].as_number();
  } else {
    error(path, "unknown propensity model \"" + m.first + "\": use a number, logistic or thompson");
  }
}

// Resolves count/metric/since/in_segment names in every rule, collects each segment's inputs,
// and checks windows against the retention.
void Compiler::resolve_segment_refs() {
  auto resolve = [&](Program& program, const std::string& base, RuleInputs* in) {
    for (RuleRef& ref : program.refs()) {
      // The reference's path, made only for an error message.
      auto error = [&](std::string message) {
        std::string path = base;
        if (!ref.path.empty()) path += (ref.path[0] == '[' ? "" : ".") + ref.path;
        this->error(path, std::move(message));
      };
      bool windowed = false;
      switch (ref.kind) {
        case RuleRef::Kind::kMetric:
          ref.slot = b_.metric_index(ref.name);
          if (ref.slot < 0) {
            error("unknown metric \"" + ref.name + "\"");
            continue;
          }
          if (in) in->metrics.push_back(ref.slot);
          windowed = true;
          break;
        case RuleRef::Kind::kSince:
          if (int m = b_.metric_index(ref.name); m >= 0) {
            ref.slot = m;
            ref.since_metric = true;
            if (in) in->metrics.push_back(m);
            break;
          }
          [[fallthrough]];
        case RuleRef::Kind::kCount: {
          int t = b_.event_type_index(ref.name);
          if (t < 0) {
            if (b_.event_types.size() >= kMaxSeries) {
              error("too many counted event types (at most 256)");
              continue;
            }
            t = static_cast<int>(b_.event_types.size());
            b_.event_types.push_back(ref.name);
          }
          ref.slot = t;
          if (in) in->counts.push_back(t);
          windowed = ref.kind == RuleRef::Kind::kCount;
          break;
        }
        case RuleRef::Kind::kSegment:
          ref.slot = find_segment(ref.name);
          if (ref.slot < 0) {
            error("unknown segment \"" + ref.name + "\"");
            continue;
          }
          if (in) in->segments.push_back(ref.slot);
          break;
      }
      if (windowed && !ref.window.all()) {
        int64_t hourly_max = b_.retention.hourly_buckets * kHourMs;
        int64_t daily_max = b_.retention.daily_buckets * kDayMs;
        if (ref.window.ms > hourly_max && ref.window.ms > daily_max) {
          error("window is longer than the retention (" +
                std::to_string(b_.retention.daily_buckets) +
                " daily buckets): raise retention.daily_buckets or use \"all\"");
        }
        if (in) in->windows.push_back(ref.window);
      }
    }
    if (in) {
      in->deps = program.deps();
      auto dedupe = [](std::vector<int>& v) {
        pz::stable_sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
      };
      dedupe(in->metrics);
      dedupe(in->counts);
      dedupe(in->segments);
    }
  };
  for (size_t i = 0; i < b_.segments.size(); ++i) {
    SegmentDef& seg = b_.segments[i];
    RuleInputs in;
    resolve(seg.rule, join(segment_paths_[i], "rule"), &in);
    seg.deps = in.deps;
    seg.metric_deps = std::move(in.metrics);
    seg.count_deps = std::move(in.counts);
    seg.segment_deps = std::move(in.segments);
    seg.metric_windows = std::move(in.windows);
    seg.part_inputs.assign(seg.parts.size(), RuleInputs());
    for (size_t k = 0; k < seg.parts.size(); ++k) {
      size_t before = errors_.size();
      resolve(seg.parts[k], join(segment_paths_[i], "rule"), &seg.part_inputs[k]);
      errors_.resize(before);  // already reported for the whole rule
    }
  }
  for (size_t i = 0; i < b_.actions.size(); ++i) {
    ActionDef& a = b_.actions[i];
    std::string path = join("actions", i);
    if (a.has_eligible) resolve(a.eligible, join(path, "eligible"), &a.eligible_inputs);
    for (Program& part : a.eligible_parts) {
      size_t before = errors_.size();
      resolve(part, join(path, "eligible"), nullptr);
      errors_.resize(before);  // already reported for the whole rule
    }
    if (a.has_context_rule) resolve(a.context_rule, join(path, "context_weight"), nullptr);
    for (size_t f = 0; f < a.propensity.features.size(); ++f) {
      resolve(a.propensity.features[f].rule,
              join(join(join(join(path, "propensity"), "logistic"), "features"), f) + ".rule",
              nullptr);
    }
  }
}

// The incremental evaluation graph (Bundle::Graph), slot -> actions, segments by id.
void Compiler::build_indexes() {
  const size_t segments = b_.segments.size(), actions = b_.actions.size();
  Bundle::Graph& g = b_.graph;
  g.part_segment.clear();
  g.first_part.assign(segments, -1);
  for (size_t i = 0; i < segments; ++i) {
    if (b_.segments[i].parts.empty()) continue;
    g.first_part[i] = static_cast<int>(g.part_segment.size());
    for (size_t k = 0; k < b_.segments[i].parts.size(); ++k) {
      g.part_segment.push_back(static_cast<int>(i));
    }
  }
  const size_t parts = g.part_segment.size(), nodes = segments + actions + parts;
  g.metric_readers.assign(b_.metrics.size(), {});
  g.count_readers.assign(b_.event_types.size(), {});
  g.segment_readers.assign(segments, {});
  g.flag_readers.assign(32, {});
  g.timed.clear();
  g.every_ms.clear();
  g.position.assign(nodes, 0);
  g.node_at.clear();
  g.windows.assign(nodes, {});
  for (int s : b_.segment_order) {
    const SegmentDef& seg = b_.segments[static_cast<size_t>(s)];
    for (size_t k = 0; k < seg.parts.size(); ++k) {
      g.node_at.push_back(static_cast<int>(segments + actions) +
                          g.first_part[static_cast<size_t>(s)] + static_cast<int>(k));
    }
    g.node_at.push_back(s);
  }
  g.eager = g.node_at.size();
  for (size_t a = 0; a < actions; ++a) g.node_at.push_back(static_cast<int>(segments + a));
  for (size_t p = 0; p < g.node_at.size(); ++p) {
    g.position[static_cast<size_t>(g.node_at[p])] = static_cast<int>(p);
  }
  // Identical conditions: the first in dependency order is evaluated for all (it comes before
  // every segment that reads it, and after what it reads).
  part_texts_.resize(segments);
  g.part_canon.assign(parts, -1);
  g.part_users.assign(parts, {});
  g.part_test.assign(parts, Bundle::Graph::Test());
  g.terms.clear();
  {
    std::map<std::string_view, int> first_of;
    for (int s : b_.segment_order) {
      const std::vector<std::string>& texts = part_texts_[static_cast<size_t>(s)];
      const SegmentDef& seg = b_.segments[static_cast<size_t>(s)];
      for (size_t k = 0; k < seg.parts.size(); ++k) {
        const int part = g.first_part[static_cast<size_t>(s)] + static_cast<int>(k);
        int canon = part;
        if (k < texts.size()) canon = first_of.emplace(texts[k], part).first->second;
        g.part_canon[static_cast<size_t>(part)] = canon;
        std::vector<int>& users = g.part_users[static_cast<size_t>(canon)];
        if (users.empty() || users.back() != s) users.push_back(s);
        if (canon != part) continue;
        WindowComparison cmp;
        if (!seg.parts[k].window_comparison(cmp)) continue;
        const RuleRef& ref = seg.parts[k].refs()[static_cast<size_t>(cmp.ref)];
        Bundle::Graph::Term term;
        term.is_count = ref.kind == RuleRef::Kind::kCount;
        term.slot = ref.slot;
        term.window = ref.window;
        if (term.slot < 0) continue;
        size_t t = 0;
        while (t < g.terms.size() &&
               !(g.terms[t].is_count == term.is_count && g.terms[t].slot == term.slot &&
                 g.terms[t].window.ms == term.window.ms))
          ++t;
        if (t == g.terms.size()) g.terms.push_back(term);
        g.part_test[static_cast<size_t>(part)] = {static_cast<int>(t), cmp};
      }
    }
  }
  auto add = [&](int node, uint32_t deps, const std::vector<int>& metrics,
                 const std::vector<int>& counts, const std::vector<int>& segs,
                 const std::vector<Window>& windows) {
    for (int m : metrics) g.metric_readers[static_cast<size_t>(m)].push_back(node);
    for (int c : counts) g.count_readers[static_cast<size_t>(c)].push_back(node);
    for (int d : segs) g.segment_readers[static_cast<size_t>(d)].push_back(node);
    for (uint32_t bit = 0; bit < 32; ++bit) {
      if (deps & (1u << bit)) g.flag_readers[bit].push_back(node);
    }
    if (deps & kDepNow) {
      g.every_ms.push_back(node);
    } else if (!windows.empty()) {
      g.timed.push_back(node);
    }
    g.windows[static_cast<size_t>(node)] = windows;
  };
  for (size_t i = 0; i < segments; ++i) {
    const SegmentDef& seg = b_.segments[i];
    if (seg.parts.empty()) {
      add(static_cast<int>(i), seg.deps, seg.metric_deps, seg.count_deps, seg.segment_deps,
          seg.metric_windows);
      continue;
    }
    for (size_t k = 0; k < seg.parts.size(); ++k) {  // the segment is marked by its conditions
      const RuleInputs& in = seg.part_inputs[k];
      const int part = g.first_part[i] + static_cast<int>(k);
      if (g.part_canon[static_cast<size_t>(part)] != part) continue;  // evaluated as its twin
      add(static_cast<int>(segments + actions) + g.first_part[i] + static_cast<int>(k), in.deps,
          in.metrics, in.counts, in.segments, in.windows);
    }
  }
  for (size_t a = 0; a < b_.actions.size(); ++a) {
    const RuleInputs& in = b_.actions[a].eligible_inputs;
    if (!b_.actions[a].has_eligible) continue;  // nothing to evaluate: never marked
    add(static_cast<int>(segments + a), in.deps, in.metrics, in.counts, in.segments, in.windows);
  }
  b_.event_uses.clear();
  {
    std::vector<std::string> types = b_.event_types;
    for (const MetricDef& m : b_.metrics) types.push_back(m.event);
    pz::stable_sort(types.begin(), types.end());
    types.erase(std::unique(types.begin(), types.end()), types.end());
    for (std::string& type : types) {
      Bundle::EventUse use{std::move(type), {}, -1};
      for (size_t m = 0; m < b_.metrics.size(); ++m) {
        if (b_.metrics[m].event == use.type) use.metrics.push_back(static_cast<int>(m));
      }
      use.count = b_.event_type_index(use.type);
      b_.event_uses.push_back(std::move(use));
    }
  }
  b_.group_names.clear();
  for (ActionDef& a : b_.actions) {
    if (a.group.empty()) continue;
    auto it = std::find(b_.group_names.begin(), b_.group_names.end(), a.group);
    a.group_index = static_cast<int>(it - b_.group_names.begin());
    if (it == b_.group_names.end()) b_.group_names.push_back(a.group);
  }
  b_.slot_names.clear();
  b_.slot_actions.clear();
  for (size_t a = 0; a < b_.actions.size(); ++a) {
    for (const std::string& slot : b_.actions[a].slots) {
      int k = b_.slot_index(slot);
      if (k < 0) {
        k = static_cast<int>(b_.slot_names.size());
        b_.slot_names.push_back(slot);
        b_.slot_actions.emplace_back();
      }
      std::vector<int>& list = b_.slot_actions[static_cast<size_t>(k)];
      if (list.empty() || list.back() != static_cast<int>(a)) list.push_back(static_cast<int>(a));
    }
  }
  b_.segments_by_id.resize(segments);
  for (size_t i = 0; i < segments; ++i) b_.segments_by_id[i] = static_cast<int>(i);
  pz::stable_sort(b_.segments_by_id.begin(), b_.segments_by_id.end(), [&](int x, int y) {
    return b_.segments[static_cast<size_t>(x)].id < b_.segments[static_cast<size_t>(y)].id;
  });
}

// Orders segments so that each comes after the segments it reads; a cycle is an error.
void Compiler::order_segments() {
  size_t n = b_.segments.size();
  std::vector<int> state(n, 0);  // 0 new, 1 on stack, 2 done
  std::vector<int> stack;
  bool reported = false;
  std::vector<int>& order = b_.segment_order;
  // Iterative DFS keeps deep chains off the call stack.
  for (size_t start = 0; start < n; ++start) {
    if (state[start] != 0) continue;
    std::vector<std::pair<int, size_t>> work{{static_cast<int>(start), 0}};
    state[start] = 1;
    while (!work.empty()) {
      auto& [node, next] = work.back();
      const std::vector<int>& deps = b_.segments[static_cast<size_t>(node)].segment_deps;
      if (next < deps.size()) {
        int dep = deps[next++];
        if (state[static_cast<size_t>(dep)] == 0) {
          state[static_cast<size_t>(dep)] = 1;
          work.push_back({dep, 0});
        } else if (state[static_cast<size_t>(dep)] == 1 && !reported) {
          std::string cycle = b_.segments[static_cast<size_t>(dep)].id;
          bool in_cycle = false;
          for (auto& w : work) {
            if (w.first == dep) in_cycle = true;
            if (in_cycle && w.first != dep)
              cycle += " -> " + b_.segments[static_cast<size_t>(w.first)].id;
          }
          cycle += " -> " + b_.segments[static_cast<size_t>(dep)].id;
          error(join(segment_paths_[static_cast<size_t>(dep)], "rule"),
                "segments depend on each other in a cycle: " + cycle);
          reported = true;
        }
      } else {
        state[static_cast<size_t>(node)] = 2;
        order.push_back(node);
        work.pop_back();
      }
    }
  }
}

}  // namespace

bool compile_bundle(const Value& doc, Bundle& out, std::vector<BundleError>& errors) {
  out = Bundle();
  size_t before = errors.size();
  Compiler compiler(out, errors);
  compiler.run(doc);
  return errors.size() == before;
}

bool compile_bundle(std::string_view json, Bundle& out, std::vector<BundleError>& errors) {
  Result<Value> doc = parse_json(json);
  if (!doc.ok()) {
    errors.push_back({"", doc.status().message()});
    return false;
  }
  return compile_bundle(doc.value(), out, errors);
}

}  // namespace pz
