// The C ABI of pz_core.wasm (Emscripten -sSTANDALONE_WASM, a WASI "reactor"). docs/abi.md is the
// reference: every export, who owns which buffer, and what each ABI version added.
//
// Host protocol: instantiate with the imports listed in wasm/allowed-imports.txt, call the export
// `_initialize` once (runs static constructors), then use the functions below. Pointers are byte
// offsets into the exported `memory`; after any call that may allocate, re-read `memory.buffer`
// (it is replaced when memory grows; env.emscripten_notify_memory_growth is called then).
//
// Every export is extern "C" with only i32/f64 parameters. Nothing throws or aborts across the
// boundary: bad input (a bad handle, an unknown op, malformed JSON, a rejected bundle) comes back
// as an error result and changes nothing.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pz/cli.h"
#include "pz/engine.h"
#include "pz/json.h"
#include "pz/text.h"

#if defined(__EMSCRIPTEN__)
#define PZ_EXPORT(name) extern "C" __attribute__((export_name(#name), used))
#else  // compiled natively for bench/abi_bench.cpp: the same entry points, called in-process
#define PZ_EXPORT(name) extern "C"
#endif

namespace {

// Version of this ABI: bumped on any incompatible change of the exports or ops below.
constexpr int32_t kAbiVersion = 1;

// Ops of pz_call (docs/abi.md). Engine ops answer a JSON envelope {"ok":true,"value":…} or
// {"ok":false,"error":"…"}; CLI ops answer the exact bytes the native `pz` prints.
enum Op : int32_t {
  kLoadBundle = 1,
  kSetIds = 2,
  kIngest = 3,
  kEvaluate = 4,
  kIdentify = 5,
  kContext = 6,
  kConsent = 7,
  kDecide = 8,
  kFeedback = 9,
  kSegments = 10,
  kExport = 11,
  kMerge = 12,
  kErase = 13,
  kProfile = 14,
  kSyncRequest = 15,
  kCliEval = 64,
  kCliTcf = 65,
  kCliValidate = 66,
  kSimInit = 80,
  kSimFeed = 81,
};

// Return codes of pz_call.
constexpr int32_t kOk = 0;       // the result holds the value (envelope with ok:true, or output)
constexpr int32_t kError = 1;    // the result holds the error (envelope with ok:false, or output)
constexpr int32_t kNothing = 2;  // no output (a simulate line that prints nothing)

struct Handle {
  enum class Kind { kEngine, kSimulator } kind;
  pz::Engine engine;  // kEngine
  pz::JsonParser parser;
  std::unique_ptr<pz::cli::Simulator> sim;  // kSimulator
  std::vector<char> before;                 // memberships before an op (its capacity reused)
};

std::vector<std::unique_ptr<Handle>> g_handles;  // handle h is g_handles[h - 1]
std::string g_result;                            // the latest result; owned here

Handle* lookup(int32_t h) {
  if (h <= 0 || static_cast<size_t>(h) > g_handles.size()) return nullptr;
  return g_handles[h - 1].get();
}

int32_t add_handle(std::unique_ptr<Handle> handle) {
  for (size_t i = 0; i < g_handles.size(); ++i) {
    if (!g_handles[i]) {
      g_handles[i] = std::move(handle);
      return static_cast<int32_t>(i + 1);
    }
  }
  g_handles.push_back(std::move(handle));
  return static_cast<int32_t>(g_handles.size());
}

int32_t ok_raw(std::string_view json) {
  g_result.assign("{\"ok\":true,\"value\":");
  g_result.append(json);
  g_result.push_back('}');
  return kOk;
}

int32_t ok(const pz::Value& value) {
  g_result.assign("{\"ok\":true,\"value\":");
  pz::append_json(g_result, value.is_undefined() ? pz::Value::Null() : value);
  g_result.push_back('}');
  return kOk;
}

int32_t fail(std::string_view message) {
  g_result.assign("{\"ok\":false,\"error\":");
  pz::append_json(g_result, pz::Value::String(std::string(message)));
  g_result.push_back('}');
  return kError;
}

int32_t fail(const pz::Status& st) { return fail(st.message()); }

// `now` from the host: a finite number of ms since the epoch, within ECMAScript's time range.
bool to_time(double now, int64_t& out) {
  if (!std::isfinite(now) || std::fabs(now) > static_cast<double>(pz::kMaxTimeMs)) return false;
  out = static_cast<int64_t>(std::floor(now));
  return true;
}

pz::Value string_array(const std::vector<std::string>& ids) {
  pz::Array items;
  items.reserve(ids.size());
  for (const std::string& id : ids) items.push_back(pz::Value::String(id));
  return pz::Value::MakeArray(std::move(items));
}

// {"ok":true,"value":{"entered":[…],"exited":[…]}}: sorted ids of the segments whose membership
// changed since `before` (a copy of Engine::memberships(); a new bundle in between counts as all
// changed), written straight into the result (once per event: no Values built).
int32_t ok_changes(const pz::Engine& e, const std::vector<char>& before) {
  const std::vector<char>& after = e.memberships();
  g_result.assign("{\"ok\":true,\"value\":{\"entered\":[");
  // The segments that changed, found 8 memberships at a time; usually none or a few.
  static std::vector<size_t> changed;
  changed.clear();
  size_t i = 0;
  if (before.size() == after.size()) {
    for (; i + 8 <= after.size(); i += 8) {
      uint64_t a, b;
      std::memcpy(&a, after.data() + i, 8);
      std::memcpy(&b, before.data() + i, 8);
      if (a == b) continue;
      for (size_t k = i; k < i + 8; ++k) {
        if ((after[k] != 0) != (before[k] != 0)) changed.push_back(k);
      }
    }
  }
  for (; i < after.size(); ++i) {
    if ((after[i] != 0) != (i < before.size() && before[i] != 0)) changed.push_back(i);
  }
  const pz::Bundle& b = e.bundle();
  if (changed.size() <= 32) {  // by id: an insertion sort of a few entries
    for (size_t x = 1; x < changed.size(); ++x) {
      for (size_t y = x; y > 0 && b.segments[changed[y]].id < b.segments[changed[y - 1]].id; --y) {
        std::swap(changed[y], changed[y - 1]);
      }
    }
  } else {  // many (consent withdrawn, a merge): the bundle's id order, filtered
    std::vector<char> is_changed(after.size(), 0);
    for (size_t k : changed) is_changed[k] = 1;
    changed.clear();
    for (int k : b.segments_by_id) {
      if (is_changed[static_cast<size_t>(k)]) changed.push_back(static_cast<size_t>(k));
    }
  }
  for (int pass = 0; pass < 2; ++pass) {  // entered, then exited
    if (pass == 1) g_result.append("],\"exited\":[");
    bool first = true;
    for (size_t k : changed) {
      if ((after[k] != 0) != (pass == 0)) continue;
      if (!first) g_result.push_back(',');
      first = false;
      pz::append_json_string(g_result, b.segments[k].id);
    }
  }
  g_result.append("]}}");
  return kOk;
}

// Parses the input of an engine op that takes a JSON document.
bool parse_input(Handle& h, std::string_view in, pz::Value& out, int32_t& rc) {
  pz::Result<pz::Value> v = h.parser.parse(in);
  if (!v.ok()) {
    rc = fail(v.status());
    return false;
  }
  out = std::move(v).value();
  return true;
}

bool optional_object(const pz::Value& in, const char* field, pz::Value& out, int32_t& rc) {
  const pz::Value* v = in.find(field);
  if (v == nullptr || v->is_undefined()) return true;
  if (!v->is_object()) {
    rc = fail(std::string(field) + " must be an object, got " + pz::kind_name(*v));
    return false;
  }
  out = *v;
  return true;
}

int32_t engine_op(Handle& h, int32_t op, std::string_view in, double num) {
  pz::Engine& e = h.engine;
  int32_t rc = kOk;
  int64_t now = 0;
  const bool timed = op == kEvaluate || op == kIdentify || op == kConsent || op == kDecide ||
                     op == kFeedback || op == kMerge || op == kErase || op == kProfile;
  if (timed && !to_time(num, now)) {
    return fail("now must be a time in ms since the epoch (a number of at most 8.64e15)");
  }
  if (op != kLoadBundle && op != kSetIds && !e.has_bundle()) {
    return fail("no bundle loaded");
  }
  switch (op) {
    case kLoadBundle: {
      std::vector<pz::BundleError> errors;
      pz::Status st = e.load_bundle(in, &errors);
      if (!st.ok()) return fail(errors.empty() ? st.message() : pz::format_errors(errors));
      const pz::Bundle& b = e.bundle();
      return ok(pz::Value::MakeObject(
          {{"version", pz::Value::String(b.version)},
           {"metrics", pz::Value::Number(static_cast<double>(b.metrics.size()))},
           {"segments", pz::Value::Number(static_cast<double>(b.segments.size()))},
           {"actions", pz::Value::Number(static_cast<double>(b.actions.size()))},
           {"slots", pz::Value::Number(static_cast<double>(b.defaults.size()))}}));
    }
    case kSetIds: {
      pz::Value v;
      if (!parse_input(h, in, v, rc)) return rc;
      if (!v.is_object()) return fail("expected {\"anonymous_id\":…, \"device_id\":…}");
      const pz::Value* anon = v.find("anonymous_id");
      const pz::Value* device = v.find("device_id");
      for (const pz::Value* id : {anon, device}) {
        if (id != nullptr &&
            (!id->is_string() || id->as_string().empty() || id->as_string().size() > 128)) {
          return fail(std::string(id == anon ? "anonymous_id" : "device_id") +
                      " must be a non-empty string of at most 128 bytes");
        }
      }
      if (anon != nullptr) e.set_anonymous_id(anon->as_string());
      if (device != nullptr) e.set_device_id(device->as_string());
      return ok(pz::Value::Null());
    }
    case kIngest: {
      if (in.size() > pz::kMaxEventBytes) return fail("event is larger than 32768 bytes");
      pz::Value v;
      if (!parse_input(h, in, v, rc)) return rc;
      std::vector<char>& before = h.before;
      before = e.memberships();
      pz::Status st = e.ingest(v);
      if (!st.ok()) return fail(st);
      return ok_changes(e, before);
    }
    case kEvaluate: {
      std::vector<char>& before = h.before;
      before = e.memberships();
      e.evaluate(now);
      return ok_changes(e, before);
    }
    case kIdentify: {
      pz::Value v;
      if (!parse_input(h, in, v, rc)) return rc;
      const pz::Value* user = v.is_object() ? v.find("user_id") : nullptr;
      if (user == nullptr || !user->is_string() || user->as_string().empty()) {
        return fail("user_id must be a non-empty string");
      }
      const pz::Value* traits = v.find("traits");
      std::vector<char>& before = h.before;
      before = e.memberships();
      pz::Status st = e.identify(user->as_string(), traits ? *traits : pz::Value(), now);
      if (!st.ok()) return fail(st);
      e.evaluate(now);
      return ok_changes(e, before);
    }
    case kContext: {
      pz::Value v;
      if (!parse_input(h, in, v, rc)) return rc;
      pz::Status st = e.set_context(v);
      return st.ok() ? ok(pz::Value::Null()) : fail(st);
    }
    case kConsent: {
      pz::Value v;
      if (!parse_input(h, in, v, rc)) return rc;
      pz::Status st = e.consent(v, now);
      return st.ok() ? ok(pz::consent_to_value(e.consent_state())) : fail(st);
    }
    case kDecide: {
      pz::Value v;
      if (!parse_input(h, in, v, rc)) return rc;
      const pz::Value* slots_v = v.is_object() ? v.find("slots") : nullptr;
      if (slots_v == nullptr || !slots_v->is_array()) {
        return fail("expected {\"slots\":[names], \"page\"?, \"context\"?, \"why\"?}");
      }
      std::vector<std::string> slots;
      for (const pz::Value& s : slots_v->as_array()) {
        if (!s.is_string()) return fail("slots must be an array of slot names");
        slots.push_back(s.as_string());
      }
      pz::Value page, context;
      if (!optional_object(v, "page", page, rc) || !optional_object(v, "context", context, rc)) {
        return rc;
      }
      if (context.is_object()) {
        pz::Status st = e.set_context(context);
        if (!st.ok()) return fail(st);
      }
      const pz::Value* why = v.find("why");
      const bool with_why = why != nullptr && pz::truthy(*why);
      std::vector<pz::Decision> decisions = e.decide(slots, now, page, with_why);
      // {"segments":[ids],"decisions":[{slot, action, content, why?}]}, written directly.
      g_result.assign("{\"ok\":true,\"value\":{\"segments\":[");
      const pz::Bundle& b = e.bundle();
      const std::vector<char>& member = e.memberships();
      bool first = true;
      for (int i : b.segments_by_id) {
        if (!member[static_cast<size_t>(i)]) continue;
        if (!first) g_result.push_back(',');
        first = false;
        pz::append_json_string(g_result, b.segments[static_cast<size_t>(i)].id);
      }
      g_result.append("],\"decisions\":[");
      for (size_t k = 0; k < decisions.size(); ++k) {
        const pz::Decision& d = decisions[k];
        g_result.append(k == 0 ? "{\"slot\":" : ",{\"slot\":");
        pz::append_json_string(g_result, d.slot);
        g_result.append(",\"action\":");
        if (d.action.empty()) {
          g_result.append("null");
        } else {
          pz::append_json_string(g_result, d.action);
        }
        g_result.append(",\"content\":");
        pz::append_json(g_result, d.content.is_undefined() ? pz::Value::Null() : d.content);
        if (with_why) {
          g_result.append(",\"why\":");
          pz::append_json(g_result, e.why(d));
        }
        g_result.push_back('}');
      }
      g_result.append("]}}");
      return kOk;
    }
    case kFeedback: {
      pz::Value v;
      if (!parse_input(h, in, v, rc)) return rc;
      const pz::Value* action = v.is_object() ? v.find("action") : nullptr;
      const pz::Value* outcome = v.is_object() ? v.find("outcome") : nullptr;
      pz::Outcome kind;
      if (action == nullptr || !action->is_string() || outcome == nullptr ||
          !outcome->is_string()) {
        return fail("feedback must be {\"action\": id, \"outcome\": name}");
      }
      if (!pz::parse_outcome(outcome->as_string(), kind)) {
        return fail("feedback outcome must be impression, click, conversion or dismiss");
      }
      pz::Status st = e.feedback(action->as_string(), kind, now);
      return st.ok() ? ok(pz::Value::Null()) : fail(st);
    }
    case kSegments:
      return ok(string_array(e.segments()));
    case kExport:
      return ok_raw(e.export_state());
    case kSyncRequest: {
      pz::Result<std::string> req = e.sync_request(in);
      return req.ok() ? ok_raw(req.value()) : fail(req.status());
    }
    case kMerge: {
      std::vector<char>& before = h.before;
      before = e.memberships();
      pz::Status st = e.merge_state(in, now);
      if (!st.ok()) return fail(st);
      e.evaluate(now);
      return ok_changes(e, before);
    }
    case kErase: {
      std::vector<char>& before = h.before;
      before = e.memberships();
      e.erase(now);
      e.evaluate(now);
      return ok_changes(e, before);
    }
    case kProfile: {
      e.evaluate(now);
      pz::Value p = e.merged_profile().to_value();
      std::vector<pz::Member> m(p.as_object().begin(), p.as_object().end());
      // Metrics, counts and exposures keyed by their names, for a debug panel.
      const pz::Bundle& b = e.bundle();
      auto by_name = [](pz::Value& list, const auto& defs, auto name_of) {
        if (!list.is_array() || list.as_array().size() != defs.size()) return;
        std::vector<pz::Member> named;
        for (size_t i = 0; i < defs.size(); ++i) {
          named.emplace_back(name_of(defs[i]), list.as_array()[i]);
        }
        list = pz::Value::MakeObject(std::move(named));
      };
      for (pz::Member& f : m) {
        if (f.first == "metrics") {
          by_name(f.second, b.metrics, [](const pz::MetricDef& d) { return d.id; });
        } else if (f.first == "counts") {
          by_name(f.second, b.event_types, [](const std::string& type) { return type; });
        } else if (f.first == "exposures") {
          by_name(f.second, b.actions, [](const pz::ActionDef& d) { return d.id; });
        }
      }
      const std::string& device = e.profile().device_id;
      m.emplace_back("device_id", device.empty() ? pz::Value::Null() : pz::Value::String(device));
      m.emplace_back("segments", string_array(e.segments()));
      m.emplace_back("consent", pz::consent_to_value(e.consent_state()));
      m.emplace_back("bundle", pz::Value::String(b.version));
      return ok(pz::Value::MakeObject(std::move(m)));
    }
    default:
      return fail("unknown op " + std::to_string(op) + " for an engine");
  }
}

}  // namespace

PZ_EXPORT(pz_abi_version) int32_t pz_abi_version(void) { return kAbiVersion; }

// Allocates `size` bytes (alignment 8 or more) in the module's memory for the host to fill.
// Returns 0 on failure. pz_alloc(0) returns a unique non-null pointer. The host owns the block
// and frees it with pz_free.
PZ_EXPORT(pz_alloc) void* pz_alloc(size_t size) { return std::malloc(size == 0 ? 1 : size); }

// Frees a pointer returned by pz_alloc (or 0, which is a no-op).
PZ_EXPORT(pz_free) void pz_free(void* ptr) { std::free(ptr); }

// A new engine (one visitor) or simulator (`pz simulate`/`pz explain`). Returns a handle > 0.
PZ_EXPORT(pz_engine_new) int32_t pz_engine_new(void) {
  auto h = std::make_unique<Handle>();
  h->kind = Handle::Kind::kEngine;
  return add_handle(std::move(h));
}

PZ_EXPORT(pz_sim_new) int32_t pz_sim_new(void) {
  auto h = std::make_unique<Handle>();
  h->kind = Handle::Kind::kSimulator;
  h->sim = std::make_unique<pz::cli::Simulator>();
  return add_handle(std::move(h));
}

// Releases a handle (unknown handles are ignored). Returns 1 if it existed.
PZ_EXPORT(pz_release) int32_t pz_release(int32_t h) {
  if (lookup(h) == nullptr) return 0;
  g_handles[h - 1].reset();
  return 1;
}

// The result of the latest pz_call: a module-owned buffer, valid until the next pz_call.
PZ_EXPORT(pz_result_ptr) const char* pz_result_ptr(void) { return g_result.data(); }
PZ_EXPORT(pz_result_len) int32_t pz_result_len(void) {
  return static_cast<int32_t>(g_result.size());
}

// Runs op `op` on handle `h` (0 for stateless ops) with two byte inputs a and b (host-owned,
// either may be empty with ptr 0) and a number (`now` in ms, a line number, or a flag). Returns
// kOk/kError/kNothing; the output is at pz_result_ptr()/pz_result_len().
PZ_EXPORT(pz_call)
int32_t pz_call(int32_t h, int32_t op, const char* a_ptr, int32_t a_len, const char* b_ptr,
                int32_t b_len, double num) {
  g_result.clear();
  if (a_len < 0 || b_len < 0 || (a_len > 0 && a_ptr == nullptr) ||
      (b_len > 0 && b_ptr == nullptr)) {
    return fail("bad input buffer");
  }
  const std::string_view a(a_len > 0 ? a_ptr : "", static_cast<size_t>(a_len));
  const std::string_view b(b_len > 0 ? b_ptr : "", static_cast<size_t>(b_len));
  if (op == kCliEval || op == kCliTcf || op == kCliValidate) {
    if (h != 0) return fail("CLI ops take handle 0");
    if (op == kCliEval) {
      static pz::JsonParser parser;  // reused across eval lines
      g_result = pz::cli::eval_line(a, num >= 1 ? static_cast<size_t>(num) : 1, parser);
      return kOk;
    }
    if (op == kCliTcf) return pz::cli::tcf(a, g_result) == 0 ? kOk : kError;
    return pz::cli::validate(a, b, g_result) == 0 ? kOk : kError;
  }
  Handle* handle = lookup(h);
  if (handle == nullptr) return fail("unknown handle " + std::to_string(h));
  if (handle->kind == Handle::Kind::kSimulator) {
    if (op == kSimInit) {  // a: bundle text, b: anonymous id, num: 1 = explain
      handle->sim->set_explain(num == 1);
      pz::Status st = handle->sim->init(a, std::string(b.empty() ? std::string_view("sim") : b));
      if (!st.ok()) {
        g_result = st.message();
        return kError;
      }
      return kOk;
    }
    if (op == kSimFeed) {  // a: one line, num: its line number
      return handle->sim->feed(a, num >= 1 ? static_cast<size_t>(num) : 1, g_result) ? kOk
                                                                                     : kNothing;
    }
    return fail("unknown op " + std::to_string(op) + " for a simulator");
  }
  return engine_op(*handle, op, a, num);
}
