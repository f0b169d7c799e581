// libFuzzer target: event parsing and validation (pz::parse_event) and ingest into an engine with
// the demo bundle (demo-site/bundle.json), as a host ingests what a page sends.
// The input is split into lines (at most 64); each line is one event's JSON text, ingested in
// order into two engines that agree to consent: one through Engine::ingest(text) with
// incremental evaluation, the other through Engine::ingest(parsed value) with full re-evaluation.
// Invariants: no crash/leak/UB/hang; the text path accepts a line exactly when the line is at
// most kMaxEventBytes, parses as JSON and parse_event accepts the value (the reference check
// below), and the value path agrees; every error has a message; a rejected event leaves the
// engine's exported profile state (Engine::export_state), its profile (Profile::to_value) and its
// segments byte-identical; an accepted event becomes the profile's last event as received; both
// engines agree on segments after every line, on the decisions and on the exported state; the
// exported state is canonical (import_state + export_state gives the same bytes) and every output
// serializes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "pz/bundle.h"
#include "pz/crdt.h"
#include "pz/engine.h"
#include "pz/json.h"

namespace {

constexpr int64_t kT0 = 1793610000000;  // 2026-11-02
constexpr size_t kMaxLines = 64;

using pz_fuzz::parse_or_die;

using pz_fuzz::compiled_demo_bundle;

const std::vector<std::string>& slots() {
  static const std::vector<std::string>* out = [] {
    auto* s = new std::vector<std::string>();
    for (const pz::SlotDefault& d : compiled_demo_bundle()->defaults) s->push_back(d.slot);
    s->push_back("no-such-slot");
    return s;
  }();
  return *out;
}

// What an engine shows of its profile: everything a rejected event must leave as it was.
struct Snapshot {
  std::string state, profile, segments;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const pz::Engine& e) {
  Snapshot s;
  s.state = e.export_state();
  s.profile = pz::to_json(e.profile().to_value());
  for (const std::string& id : e.segments()) s.segments += id + ",";
  return s;
}

void check_same(const Snapshot& before, const Snapshot& after, std::string_view line) {
  if (before.state != after.state) pz_fuzz::fail("rejected event changed the state", line);
  if (before.profile != after.profile) pz_fuzz::fail("rejected event changed the profile", line);
  if (before.segments != after.segments) pz_fuzz::fail("rejected event changed segments", line);
}

std::string decisions_text(const std::vector<pz::Decision>& ds) {
  std::string out;
  for (const pz::Decision& d : ds) {
    out += d.slot + "|" + d.action + "|" + pz::to_json(d.content) + "\n";
  }
  return out;
}

void setup(pz::Engine& e) {
  static const pz::Value* consent =
      new pz::Value(parse_or_die(R"({"analytics":true,"personalization":true,"marketing":true})"));
  static const pz::Value* prelude[] = {
      new pz::Value(parse_or_die(
          R"({"t":1793609000000,"type":"page_view","id":"p1","page":{"path":"/pricing","url":"https://shop.example/pricing"}})")),
      new pz::Value(parse_or_die(
          R"({"t":1793609100000,"type":"purchase","id":"p2","props":{"value":120,"currency":"EUR"}})")),
  };
  e.load_bundle(compiled_demo_bundle());
  e.set_anonymous_id("fuzz-visitor");
  e.set_device_id("fuzz-device");
  PZ_FUZZ_CHECK(e.consent(*consent, kT0 - 3600000).ok());
  for (const pz::Value* ev : prelude) PZ_FUZZ_CHECK(e.ingest(*ev).ok());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)compiled_demo_bundle();  // fail at startup when the bundle is missing or invalid
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pz::JsonParser* parser = new pz::JsonParser();
  std::string_view text = pz_fuzz::bytes(data, size);

  pz::Engine inc;   // text path, incremental
  pz::Engine full;  // value path, full re-evaluation (the reference for segments)
  full.set_incremental(false);
  setup(inc);
  setup(full);

  size_t n = 0;
  Snapshot before_inc, before_full;
  bool have_before = false;
  for (std::string_view line : pz_fuzz::lines(text, kMaxLines)) {
    // The reference: what the text path must accept.
    bool expect_ok = false;
    pz::Value parsed;
    bool json_ok = false;
    if (line.size() <= pz::kMaxEventBytes) {
      pz::Result<pz::Value> v = parser->parse(line);
      if (v.ok()) {
        json_ok = true;
        parsed = v.take();
        pz::Result<pz::Event> e = pz::parse_event(parsed);
        expect_ok = e.ok();
        if (e.ok()) {
          PZ_FUZZ_CHECK(!e.value().type.empty() && e.value().type.size() <= 128, line);
          PZ_FUZZ_CHECK(e.value().props.is_undefined() || e.value().props.is_object(), line);
          PZ_FUZZ_CHECK(e.value().page.is_undefined() || e.value().page.is_object(), line);
        } else {
          PZ_FUZZ_CHECK(!e.status().message().empty(), line);
          PZ_FUZZ_CHECK(e.status().message().rfind("event", 0) == 0, line, e.status().message());
        }
      } else {
        PZ_FUZZ_CHECK(!v.status().message().empty(), line);
      }
    }

    // Only a line the reference rejects needs the before picture (the checks below catch an
    // engine that disagrees with the reference); after a rejected line it is still current.
    if (!expect_ok && !have_before) {
      before_inc = snapshot(inc);
      before_full = snapshot(full);
      have_before = true;
    }
    pz::Status a = inc.ingest(line);
    pz::Status b = json_ok ? full.ingest(parsed) : full.ingest(line);
    PZ_FUZZ_CHECK(a.ok() == expect_ok, line, a.message());
    PZ_FUZZ_CHECK(b.ok() == expect_ok, line, b.message());
    if (!expect_ok) {
      PZ_FUZZ_CHECK(!a.message().empty() && !b.message().empty(), line);
      if (line.size() > pz::kMaxEventBytes) PZ_FUZZ_CHECK(a.code() == pz::Code::kLimitExceeded);
      check_same(before_inc, snapshot(inc), line);
      check_same(before_full, snapshot(full), line);
    } else {
      have_before = false;
      // Accepted (with consent): the event as received is event.* for the rules.
      const std::string want = pz::to_json(parsed);
      PZ_FUZZ_CHECK(pz::to_json(inc.profile().last_event) == want, want,
                    pz::to_json(inc.profile().last_event));
      PZ_FUZZ_CHECK(pz::to_json(full.profile().last_event) == want, want);
      PZ_FUZZ_CHECK(inc.profile().seen && full.profile().seen);
    }
    std::string sa, sb;
    for (const std::string& s : inc.segments()) sa += s + ",";
    for (const std::string& s : full.segments()) sb += s + ",";
    if (sa != sb) pz_fuzz::fail("segments differ (incremental vs full)", sa, sb);
    if (++n % 16 == 0) {
      std::string da = decisions_text(inc.decide(slots(), kT0 + 1000, pz::Value()));
      std::string db = decisions_text(full.decide(slots(), kT0 + 1000, pz::Value()));
      PZ_FUZZ_CHECK(da == db, da, db);
      have_before = false;  // deciding at another time re-evaluates the segments
    }
  }

  // After the stream: decisions agree, the state is canonical, the profile serializes.
  std::string da = decisions_text(inc.decide(slots(), kT0 + 7200000, pz::Value()));
  std::string db = decisions_text(full.decide(slots(), kT0 + 7200000, pz::Value()));
  PZ_FUZZ_CHECK(da == db, da, db);
  const std::string state = inc.export_state();
  PZ_FUZZ_CHECK(state == full.export_state(), state, full.export_state());
  pz::Result<pz::ProfileState> again = pz::import_state(state);
  PZ_FUZZ_CHECK(again.ok(), state, again.status().message());
  PZ_FUZZ_CHECK(pz::export_state(again.value()) == state, state, pz::export_state(again.value()));
  (void)pz_fuzz::serialize_checked(inc.profile().to_value());
  return 0;
}
