// libFuzzer target: pz::compile_bundle on arbitrary bytes, then the engine.
// Invariants: no crash/leak/UB/hang; compile_bundle fails exactly when it reports errors;
// Engine::load_bundle agrees with compile_bundle; a rejected bundle leaves the engine's previous
// bundle (version) active and the engine usable; an accepted bundle runs a fixed event stream
// (plus events built from the bundle's own metric and event names), identify, context and
// decide, with the incremental engine agreeing with full re-evaluation (set_incremental(false))
// on the segments after every step and on the decisions; decision contents serialize.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "pz/bundle.h"
#include "pz/engine.h"
#include "pz/json.h"

namespace {

constexpr int64_t kT0 = 1793610000000;  // 2026-11-02
constexpr int64_t kHour = 3600000;

constexpr const char* kBaseline = R"({
  "version": "fuzz-baseline",
  "metrics": [
    {"id": "pricing_views", "event": "page_view", "where": {"starts_with": [{"var": "page.path"}, "/pricing"]}},
    {"id": "spend", "event": "purchase", "sum": "props.value"}
  ],
  "segments": [
    {"id": "engaged", "rule": {">=": [{"count": ["page_view", "48h"]}, 1]}},
    {"id": "buyer", "rule": {">": [{"metric": ["spend", "30d"]}, 10]}}
  ],
  "actions": [{"id": "offer", "slots": ["hero"], "eligible": {"in_segment": ["buyer"]}, "content": {"x": 1}}],
  "defaults": {"hero": {"content": {"title": "Welcome"}}}
})";

using pz_fuzz::parse_or_die;

const std::vector<pz::Value>& fixed_events() {
  static const std::vector<pz::Value>* events = [] {
    auto* out = new std::vector<pz::Value>();
    const char* lines[] = {
        R"({"t":0,"type":"page_view","page":{"path":"/","url":"https://shop.example/","title":"Home"}})",
        R"({"t":0,"type":"page_view","page":{"path":"/pricing","url":"https://shop.example/pricing"}})",
        R"({"t":0,"type":"page_view","page":{"path":"/shop/running-shoes/trail-2"}})",
        R"({"t":0,"type":"add_to_cart","id":"e4","props":{"sku":"trail-2","value":"129.5"}})",
        R"({"t":0,"type":"purchase","props":{"value":1200,"currency":"USD"}})",
        R"({"t":0,"type":"signup","props":{"plan":"pro","tags":["a","b"]}})",
        R"({"t":0,"type":"page_view","page":{"path":"/pricing/teams","referrer":"https://x.example/"}})",
    };
    for (const char* line : lines) out->push_back(parse_or_die(line));
    return out;
  }();
  return *events;
}

// {"t": t, "type": type, ...events} with members in the given order (later keys win).
pz::Value with_time(const pz::Value& event, int64_t t) {
  std::vector<pz::Member> members = event.as_object();
  members.emplace_back("t", pz::Value::Number(static_cast<double>(t)));
  return pz::Value::MakeObject(std::move(members));
}

// An event of `type` carrying 7 at `path` (a metric's sum path), on a pricing page.
pz::Value event_for(const std::string& type, const std::vector<std::string>& path) {
  std::vector<pz::Member> members;
  members.emplace_back("page",
                       parse_or_die(R"({"path":"/pricing","url":"https://shop.example/pricing"})"));
  if (!path.empty() && path.size() <= 8) {
    pz::Value v = pz::Value::Number(7);
    for (size_t i = path.size(); i-- > 1;) v = pz::Value::MakeObject({{path[i], v}});
    members.emplace_back(path[0], v);
  }
  members.emplace_back("type", pz::Value::String(type));
  return pz::Value::MakeObject(std::move(members));
}

std::string segments_text(const pz::Engine& e) {
  std::string out;
  for (const std::string& s : e.segments()) {
    pz::append_json(out, pz::Value::String(s));
    out += ',';
  }
  return out;
}

std::string decisions_text(const std::vector<pz::Decision>& ds) {
  std::string out;
  for (const pz::Decision& d : ds) {
    out += d.slot + "|" + d.action + "|" + pz_fuzz::serialize_checked(d.content) + "\n";
  }
  return out;
}

struct Pair {
  pz::Engine inc;   // incremental (the default)
  pz::Engine full;  // re-evaluates every segment every time: the reference

  Pair() { full.set_incremental(false); }

  void check_same(const char* step) {
    std::string a = segments_text(inc), b = segments_text(full);
    if (a != b) pz_fuzz::fail(step, "incremental: " + a, "full: " + b);
  }
  void ingest(const pz::Value& event) {
    pz::Status a = inc.ingest(event);
    pz::Status b = full.ingest(event);
    PZ_FUZZ_CHECK(a.ok() == b.ok(), a.message(), b.message());
    check_same("segments differ after ingest");
  }
  void decide(const std::vector<std::string>& slots, int64_t now, const pz::Value& page) {
    std::string a = decisions_text(inc.decide(slots, now, page));
    std::string b = decisions_text(full.decide(slots, now, page));
    PZ_FUZZ_CHECK(a == b, a, b);
    check_same("segments differ after decide");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = pz_fuzz::bytes(data, size);

  pz::Bundle bundle;
  std::vector<pz::BundleError> errors;
  bool ok = pz::compile_bundle(text, bundle, errors);
  PZ_FUZZ_CHECK(ok == errors.empty());
  if (!ok) {
    for (const pz::BundleError& e : errors) PZ_FUZZ_CHECK(!e.message.empty(), e.path);
    PZ_FUZZ_CHECK(!pz::format_errors(errors).empty());
  }

  Pair engines;
  for (pz::Engine* e : {&engines.inc, &engines.full}) {
    pz::Status st = e->load_bundle(kBaseline);
    PZ_FUZZ_CHECK(st.ok(), st.message());
    e->set_anonymous_id("fuzz-visitor");
  }
  engines.ingest(with_time(fixed_events()[1], kT0 - 2 * kHour));
  engines.ingest(with_time(fixed_events()[4], kT0 - kHour));

  std::vector<pz::BundleError> load_errors;
  pz::Status st = engines.inc.load_bundle(text, &load_errors);
  PZ_FUZZ_CHECK(st.ok() == ok, st.message());
  if (!ok) {
    // Rejected: the previous bundle stays active and the engine keeps working.
    PZ_FUZZ_CHECK(!st.message().empty());
    PZ_FUZZ_CHECK(load_errors.size() == errors.size());
    PZ_FUZZ_CHECK(engines.inc.has_bundle());
    PZ_FUZZ_CHECK(engines.inc.bundle().version == "fuzz-baseline", engines.inc.bundle().version);
    engines.ingest(with_time(fixed_events()[0], kT0));
    engines.decide({"hero", "banner"}, kT0 + 1000, pz::Value());
    return 0;
  }
  PZ_FUZZ_CHECK(engines.inc.bundle().version == bundle.version, engines.inc.bundle().version,
                bundle.version);
  st = engines.full.load_bundle(text);
  PZ_FUZZ_CHECK(st.ok(), st.message());
  engines.check_same("segments differ after load_bundle");

  // Events: the fixed stream, then one per event type / metric the bundle names.
  std::vector<pz::Value> events = fixed_events();
  for (size_t i = 0; i < bundle.event_types.size() && i < 8; ++i) {
    events.push_back(event_for(bundle.event_types[i], {"props", "value"}));
  }
  for (size_t i = 0; i < bundle.metrics.size() && i < 8; ++i) {
    events.push_back(event_for(bundle.metrics[i].event, bundle.metrics[i].sum_path));
  }
  int64_t t = kT0;
  for (const pz::Value& e : events) {
    t += 7 * 60 * 1000;
    engines.ingest(with_time(e, t));
  }

  std::vector<std::string> slots = {"hero", "banner", "no-such-slot"};
  for (const pz::SlotDefault& d : bundle.defaults) slots.push_back(d.slot);
  for (size_t i = 0; i < bundle.actions.size() && i < 8; ++i) {
    for (const std::string& s : bundle.actions[i].slots) slots.push_back(s);
  }
  pz::Value page = parse_or_die(R"({"path":"/pricing","url":"https://shop.example/pricing"})");
  engines.decide(slots, t + 1000, pz::Value());

  pz::Value traits = parse_or_die(R"({"plan":"pro","age":41,"tags":["vip"]})");
  for (pz::Engine* e : {&engines.inc, &engines.full}) {
    PZ_FUZZ_CHECK(e->identify("user-1", traits, t + 2000).ok());
    PZ_FUZZ_CHECK(e->set_context(parse_or_die(R"({"device":"mobile","locale":"en-US"})")).ok());
  }
  engines.check_same("segments differ after identify");
  engines.decide(slots, t + 3000, page);
  engines.decide(slots, t + 31LL * 60 * 1000, pz::Value());  // past 30-minute boundaries
  engines.decide(slots, t + 50LL * 24 * kHour, page);        // windows expire
  engines.decide(slots, t - 24 * kHour, page);               // time going backwards
  for (pz::Engine* e : {&engines.inc, &engines.full}) e->evaluate(t + 60LL * 24 * kHour);
  engines.check_same("segments differ after evaluate");
  (void)pz_fuzz::serialize_checked(engines.inc.profile().to_value());

  // A rejected reload keeps this bundle.
  st = engines.inc.load_bundle(R"({"version": 1, "segments": "x"})");
  PZ_FUZZ_CHECK(!st.ok());
  PZ_FUZZ_CHECK(engines.inc.bundle().version == bundle.version, engines.inc.bundle().version);
  (void)engines.inc.decide(slots, t + 61LL * 24 * kHour, pz::Value());
  return 0;
}
