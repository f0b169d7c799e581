#include "pz/cli.h"

#include <cmath>

#include "pz/logic.h"
#include "pz/tcf.h"

namespace pz::cli {
namespace {

std::string error_line(std::string_view message) {
  std::string out = "{\"error\":";
  append_json(out, Value::String(std::string(message)));
  out += '}';
  return out;
}

std::string line_error(size_t line_no, std::string_view message) {
  return error_line("line " + std::to_string(line_no) + ": " + std::string(message));
}

bool blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

std::string eval_line(std::string_view line, size_t line_no, JsonParser& parser) {
  Result<Value> input = parser.parse(line);
  if (!input.ok()) return line_error(line_no, input.status().message());
  const Value& in = input.value();
  if (!in.is_object()) {
    return line_error(
        line_no, std::string("expected an object {\"rule\":…, \"data\":…}, got ") + kind_name(in));
  }
  const Value* rule = in.find("rule");
  if (rule == nullptr) return line_error(line_no, "missing \"rule\"");
  const Value* data = in.find("data");
  Program program;
  std::vector<CompileError> errors;
  if (!compile_rule(*rule, CompileOptions{}, program, errors)) {
    const CompileError& e = errors.front();
    return line_error(line_no, "rule" + std::string(e.path.empty() || e.path[0] == '[' ? "" : ".") +
                                   e.path + ": " + e.message);
  }
  Result<Value> result = evaluate(program, data != nullptr ? *data : Value(), nullptr);
  if (!result.ok()) return error_line(result.status().message());
  std::string out = "{\"result\":";
  append_json(out, result.value());
  out += '}';
  return out;
}

Status Simulator::init(std::string_view bundle_json, std::string anonymous_id) {
  std::vector<BundleError> errors;
  Status st = engine_.load_bundle(bundle_json, &errors);
  if (!st.ok()) return Status(st.code(), format_errors(errors));
  engine_.set_device_id(anonymous_id);  // an anonymous id is per device
  engine_.set_anonymous_id(std::move(anonymous_id));
  return Status::Ok();
}

bool Simulator::feed(std::string_view line, size_t line_no, std::string& out) {
  if (blank(line)) return false;
  if (line.size() > kMaxEventBytes) {
    out = line_error(line_no, "line is larger than 32768 bytes");
    return true;
  }
  Result<Value> input = parser_.parse(line);
  if (!input.ok()) {
    out = line_error(line_no, input.status().message());
    return true;
  }
  const Value& in = input.value();
  if (!in.is_object()) {
    out = line_error(line_no, std::string("expected an object, got ") + kind_name(in));
    return true;
  }
  const Value* decide = in.find("decide");
  const Value* identify = in.find("identify");
  const Value* consent = in.find("consent");
  const Value* feedback = in.find("feedback");
  const Value* sync = in.find("sync");
  const Value* export_line = in.find("export");
  if (decide == nullptr && identify == nullptr && consent == nullptr && feedback == nullptr &&
      sync == nullptr && export_line == nullptr) {
    Status st = engine_.ingest(in);
    if (!st.ok()) {
      out = line_error(line_no, st.message());
      return true;
    }
    return false;
  }
  const Value* t = in.find("t");
  if (t == nullptr || !t->is_number() || !std::isfinite(t->as_number()) ||
      std::fabs(t->as_number()) > static_cast<double>(kMaxTimeMs)) {
    out =
        line_error(line_no, "t must be a time in ms since the epoch (a number of at most 8.64e15)");
    return true;
  }
  int64_t now = static_cast<int64_t>(std::floor(t->as_number()));
  if (identify != nullptr) {
    if (!identify->is_string() || identify->as_string().empty()) {
      out = line_error(line_no, "identify must be a non-empty user id string");
      return true;
    }
    const Value* traits = in.find("traits");
    Status st = engine_.identify(identify->as_string(), traits ? *traits : Value(), now);
    if (!st.ok()) {
      out = line_error(line_no, st.message());
      return true;
    }
    return false;
  }
  if (consent != nullptr) {
    Status st = engine_.consent(*consent, now);
    if (!st.ok()) {
      out = line_error(line_no, st.message());
      return true;
    }
    return false;
  }
  if (sync != nullptr) {  // a profile state from another device or the server (docs/sync.md)
    Status st = engine_.merge_state(to_json(*sync), now);
    if (!st.ok()) {
      out = line_error(line_no, st.message());
      return true;
    }
    return false;
  }
  if (export_line != nullptr) {  // prints this visitor's mergeable state
    out = "{\"t\":";
    append_json(out, *t);
    out += ",\"state\":";
    out += engine_.export_state();
    out += '}';
    return true;
  }
  if (feedback != nullptr) {
    const Value* action = feedback->is_object() ? feedback->find("action") : nullptr;
    const Value* outcome = feedback->is_object() ? feedback->find("outcome") : nullptr;
    Outcome kind;
    if (action == nullptr || !action->is_string() || outcome == nullptr || !outcome->is_string()) {
      out = line_error(line_no, "feedback must be {\"action\": id, \"outcome\": name}");
      return true;
    }
    if (!parse_outcome(outcome->as_string(), kind)) {
      out =
          line_error(line_no, "feedback outcome must be impression, click, conversion or dismiss");
      return true;
    }
    Status st = engine_.feedback(action->as_string(), kind, now);
    if (!st.ok()) {
      out = line_error(line_no, st.message());
      return true;
    }
    return false;
  }
  // decide
  if (!decide->is_array()) {
    out = line_error(line_no, "decide must be an array of slot names");
    return true;
  }
  std::vector<std::string> slots;
  for (const Value& s : decide->as_array()) {
    if (!s.is_string()) {
      out = line_error(line_no, "decide must be an array of slot names");
      return true;
    }
    slots.push_back(s.as_string());
  }
  Value page;
  if (const Value* p = in.find("page")) {
    if (!p->is_object()) {
      out = line_error(line_no, std::string("page must be an object, got ") + kind_name(*p));
      return true;
    }
    page = *p;
  }
  if (const Value* c = in.find("context")) {
    Status st = engine_.set_context(*c);
    if (!st.ok()) {
      out = line_error(line_no, st.message());
      return true;
    }
  }
  std::vector<Decision> decisions = engine_.decide(slots, now, page, explain_);
  if (explain_) {
    std::vector<Value> whys;
    for (const Decision& d : decisions) whys.push_back(engine_.why(d));
    out = explain_text(*t, engine_.segments(), decisions, whys);
    return true;
  }
  out = "{\"t\":";
  append_json(out, *t);
  out += ",\"segments\":[";
  bool first = true;
  for (const std::string& id : engine_.segments()) {
    if (!first) out += ',';
    first = false;
    append_json(out, Value::String(id));
  }
  out += "],\"decisions\":[";
  first = true;
  for (const Decision& d : decisions) {
    if (!first) out += ',';
    first = false;
    out += "{\"slot\":";
    append_json(out, Value::String(d.slot));
    out += ",\"action\":";
    if (d.action.empty()) {
      out += "null";
    } else {
      append_json(out, Value::String(d.action));
    }
    out += ",\"content\":";
    append_json(out, d.content);
    out += '}';
  }
  out += "]}";
  return true;
}

namespace {

std::string num(const Value* v) {
  return v != nullptr && v->is_number() ? to_json(*v) : std::string("?");
}

void explain_rules(std::string& out, const Value& candidate, const char* indent) {
  const Value* rules = candidate.find("rules");
  if (rules == nullptr) return;
  for (const Value& r : rules->as_array()) {
    const Value* result = r.find("result");
    bool pass = result != nullptr && truthy(*result);
    out += indent;
    out += pass ? "passed: " : "failed: ";
    out += r.find("rule")->as_string();
    out += " -> ";
    out += result != nullptr ? to_json(*result) : "?";
    out += '\n';
  }
}

}  // namespace

std::string explain_text(const Value& t, const std::vector<std::string>& segments,
                         const std::vector<Decision>& decisions, const std::vector<Value>& whys) {
  std::string out = "t=" + to_json(t) + " segments: ";
  for (size_t i = 0; i < segments.size(); ++i) out += (i ? ", " : "") + segments[i];
  if (segments.empty()) out += "(none)";
  out += '\n';
  for (size_t k = 0; k < decisions.size(); ++k) {
    const Decision& d = decisions[k];
    const Value& why = whys[k];
    const Value* candidates = why.find("candidates");
    const Value* runner_up = why.find("runner_up");
    const Value* would_show = why.find("would_show");
    out += "  " + d.slot + ": ";
    const Value* winner = nullptr;
    std::string winner_id = !d.action.empty()       ? d.action
                            : would_show != nullptr ? would_show->as_string()
                                                    : std::string();
    for (const Value& c : candidates->as_array()) {
      if (c.find("action")->as_string() == winner_id) winner = &c;
    }
    if (winner != nullptr) {
      out += winner_id + " (priority " + num(winner->find("score")) + " = propensity " +
             num(winner->find("propensity")) + " x context_weight " +
             num(winner->find("context_weight")) + " x value " + num(winner->find("value")) +
             " x lever " + num(winner->find("lever")) + ")";
      if (would_show != nullptr) out += " not shown: the visitor is in the holdout, default shown";
      out += '\n';
      explain_rules(out, *winner, "    ");
    } else {
      out += "default (no eligible action)\n";
    }
    for (const Value& c : candidates->as_array()) {
      const std::string& id = c.find("action")->as_string();
      if (id == winner_id) continue;
      bool is_runner_up =
          runner_up != nullptr && runner_up->is_string() && runner_up->as_string() == id;
      out += is_runner_up ? "    runner-up " : "    also ";
      out += id + ": ";
      if (const Value* removed = c.find("removed")) {
        out += removed->as_string();
      } else {
        out += "priority " + num(c.find("score"));
      }
      out += '\n';
      if (is_runner_up) explain_rules(out, c, "      ");
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

int tcf(std::string_view tc_string, std::string& out) {
  Result<TcfString> tc = decode_tcf(tc_string);
  if (!tc.ok()) {
    out = error_line(tc.status().message());
    return 1;
  }
  out = tcf_to_json(tc.value());
  return 0;
}

int validate(std::string_view bundle_json, std::string_view file_name, std::string& out) {
  std::vector<BundleError> errors;
  Bundle bundle;
  if (!compile_bundle(bundle_json, bundle, errors)) {
    out = std::string(file_name) + ": invalid bundle, " + std::to_string(errors.size()) +
          (errors.size() == 1 ? " error\n" : " errors\n");
    out += format_errors(errors);
    return 1;
  }
  out = std::string(file_name) + ": ok, bundle \"" + bundle.version +
        "\": " + std::to_string(bundle.metrics.size()) + " metrics, " +
        std::to_string(bundle.segments.size()) + " segments, " +
        std::to_string(bundle.actions.size()) + " actions, " +
        std::to_string(bundle.defaults.size()) + " slots\n";
  return 0;
}

}  // namespace pz::cli
