// libFuzzer target: profile state import (the sync format, docs/sync.md, pz/crdt.h), the CRDT
// merge, and Engine::merge_state / Engine::sync_request.
// The input is split into lines; the first three are sync states (a, b, c) as a device or the
// server would send them; each is also read as a sync cursor (a version vector).
// Invariants: no crash/leak/UB/hang; import errors carry a message; an imported state is within
// the bounds and canonical (export + import + export gives the same bytes); merge is idempotent
// (a∪a = a), commutative (a∪b = b∪a), absorbs its inputs ((a∪b)∪a = (a∪b)∪b = a∪b) and is
// associative ((a∪b)∪c = a∪(b∪c)), all compared by their canonical export; a delta against a
// replica's versions brings what the full state brings (a ∪ delta(b, versions(a)) = a∪b, for
// pairs that keep delta's precondition, see well_formed_pair); a
// version vector round-trips. Engine::merge_state on an engine with the demo bundle accepts
// exactly what import_state accepts; a rejected state leaves the engine's exported state, profile
// and segments byte-identical; merging an accepted state a second time changes nothing; the
// engine's export imports; sync_request fails exactly on a malformed cursor and otherwise
// answers {"delta": state, "versions": cursor} that import.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "pz/bundle.h"
#include "pz/crdt.h"
#include "pz/engine.h"
#include "pz/json.h"

namespace {

constexpr int64_t kNow = 1793613600000;  // 2026-11-02 13:00 UTC

using pz_fuzz::parse_or_die;

using pz_fuzz::compiled_demo_bundle;

// An engine with the demo bundle, consent, a few events and an identify: a device with data.
void setup(pz::Engine& e) {
  static const pz::Value* consent =
      new pz::Value(parse_or_die(R"({"analytics":true,"personalization":true,"marketing":true})"));
  static const pz::Value* traits = new pz::Value(parse_or_die(R"({"plan":"pro","age":41})"));
  static const char* events[] = {
      R"({"t":1793610000000,"type":"page_view","page":{"path":"/pricing"}})",
      R"({"t":1793610060000,"type":"add_to_cart","props":{"sku":"trail-2","value":129}})",
      R"({"t":1793610120000,"type":"purchase","props":{"value":1200}})",
  };
  e.load_bundle(compiled_demo_bundle());
  e.set_anonymous_id("fuzz-visitor");
  e.set_device_id("fuzz-device");
  PZ_FUZZ_CHECK(e.consent(*consent, kNow - 7200000).ok());
  for (const char* ev : events) PZ_FUZZ_CHECK(e.ingest(ev).ok(), ev);
  PZ_FUZZ_CHECK(e.identify("user-1", *traits, kNow - 3600000).ok());
}

struct Picture {
  std::string state, profile, segments;
  bool operator==(const Picture&) const = default;
};

Picture picture(const pz::Engine& e) {
  Picture p;
  p.state = e.export_state();
  p.profile = pz::to_json(e.profile().to_value());
  for (const std::string& s : e.segments()) p.segments += s + ",";
  return p;
}

std::string ex(const pz::ProfileState& s) { return pz::export_state(s); }

void check_equal(const char* what, const pz::ProfileState& x, const pz::ProfileState& y) {
  const std::string a = ex(x), b = ex(y);
  if (a != b) pz_fuzz::fail(what, a, b);
}

void check_imported(const pz::ProfileState& s) {
  PZ_FUZZ_CHECK(s.components.size() <= pz::kMaxComponents);
  PZ_FUZZ_CHECK(s.traits.size() <= pz::kMaxTraits);
  const std::string text = ex(s);
  pz_fuzz::check_serialized(text);
  pz::Result<pz::ProfileState> again = pz::import_state(text);
  if (!again.ok()) pz_fuzz::fail("exported state does not import", text, again.status().message());
  if (ex(again.value()) != text) pz_fuzz::fail("export is not canonical", text, ex(again.value()));
  check_equal("merge is not idempotent (a ∪ a != a)", pz::merge(s, s), s);
}

// The precondition of delta: a device writes only its own component and bumps its version on
// every write, so two replicas never hold different components under one (device, epoch,
// version). delta leaves out what the replica's version vector covers and cannot see such a
// conflict (merge alone resolves it, by the components' JSON).
bool well_formed_pair(const pz::ProfileState& a, const pz::ProfileState& b) {
  for (const pz::Component& x : a.components) {
    for (const pz::Component& y : b.components) {
      if (x.device != y.device || x.epoch != y.epoch || x.version != y.version) continue;
      pz::ProfileState sx, sy;
      sx.components = {x};
      sy.components = {y};
      if (ex(sx) != ex(sy)) return false;
    }
  }
  return true;
}

void check_versions(const pz::VersionVector& v) {
  const std::string text = pz::export_versions(v);
  pz::Result<pz::VersionVector> again = pz::import_versions(text, "cursor");
  if (!again.ok()) pz_fuzz::fail("exported versions do not import", text, again.status().message());
  PZ_FUZZ_CHECK(pz::export_versions(again.value()) == text, text);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)compiled_demo_bundle();  // fail at startup when the bundle is missing or invalid
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts = pz_fuzz::lines(pz_fuzz::bytes(data, size), 3);

  std::vector<std::optional<pz::ProfileState>> states;
  for (std::string_view part : parts) {
    pz::Result<pz::ProfileState> s = pz::import_state(part);
    if (!s.ok()) {
      PZ_FUZZ_CHECK(!s.status().message().empty(), part);
      states.emplace_back();
    } else {
      check_imported(s.value());
      check_versions(pz::versions(s.value()));
      states.emplace_back(s.take());
    }
    // The same text as a cursor.
    pz::Result<pz::VersionVector> v = pz::import_versions(part, "cursor");
    if (v.ok()) {
      check_versions(v.value());
    } else {
      PZ_FUZZ_CHECK(!v.status().message().empty(), part);
    }
  }

  // The algebra on what imported.
  for (size_t i = 0; i < states.size(); ++i) {
    for (size_t j = i + 1; j < states.size(); ++j) {
      if (!states[i] || !states[j]) continue;
      const pz::ProfileState& a = *states[i];
      const pz::ProfileState& b = *states[j];
      const pz::ProfileState ab = pz::merge(a, b);
      check_equal("merge is not commutative (a ∪ b != b ∪ a)", ab, pz::merge(b, a));
      check_equal("(a ∪ b) ∪ a != a ∪ b", pz::merge(ab, a), ab);
      check_equal("(a ∪ b) ∪ b != a ∪ b", pz::merge(ab, b), ab);
      check_equal("(a ∪ b) ∪ (a ∪ b) != a ∪ b", pz::merge(ab, ab), ab);
      if (!well_formed_pair(a, b)) continue;
      check_equal("a ∪ delta(b, versions(a)) != a ∪ b", pz::merge(a, pz::delta(b, pz::versions(a))),
                  ab);
      check_equal("b ∪ delta(a, versions(b)) != a ∪ b", pz::merge(b, pz::delta(a, pz::versions(b))),
                  ab);
    }
  }
  if (states.size() == 3 && states[0] && states[1] && states[2]) {
    const pz::ProfileState& a = *states[0];
    const pz::ProfileState& b = *states[1];
    const pz::ProfileState& c = *states[2];
    check_equal("merge is not associative ((a ∪ b) ∪ c != a ∪ (b ∪ c))",
                pz::merge(pz::merge(a, b), c), pz::merge(a, pz::merge(b, c)));
  }

  // An engine: merge_state agrees with import_state; rejects change nothing; accepting twice is
  // accepting once.
  pz::Engine engine;
  setup(engine);
  for (size_t i = 0; i < parts.size(); ++i) {
    const Picture before = picture(engine);
    pz::Status st = engine.merge_state(parts[i], kNow + static_cast<int64_t>(i) * 1000);
    PZ_FUZZ_CHECK(st.ok() == states[i].has_value(), parts[i], st.message());
    if (!st.ok()) {
      PZ_FUZZ_CHECK(!st.message().empty());
      const Picture after = picture(engine);
      if (after.state != before.state) {
        pz_fuzz::fail("rejected state changed the engine's state", before.state, after.state);
      }
      PZ_FUZZ_CHECK(after == before, before.profile, after.profile);
      continue;
    }
    const Picture once = picture(engine);
    PZ_FUZZ_CHECK(engine.merge_state(parts[i], kNow + static_cast<int64_t>(i) * 1000).ok());
    const Picture twice = picture(engine);
    if (twice.state != once.state) {
      pz_fuzz::fail("merging a state twice changed the engine's state", once.state, twice.state);
    }
    PZ_FUZZ_CHECK(twice == once, once.profile, twice.profile);
  }
  const std::string state = engine.export_state();
  pz::Result<pz::ProfileState> exported = pz::import_state(state);
  if (!exported.ok()) pz_fuzz::fail("engine export does not import", state);
  check_imported(exported.value());

  // sync_request with each part as the cursor.
  for (std::string_view part : parts) {
    pz::Result<std::string> req = engine.sync_request(part);
    pz::Result<pz::VersionVector> cursor = pz::import_versions(part, "cursor");
    PZ_FUZZ_CHECK(req.ok() == cursor.ok(), part);
    if (!req.ok()) {
      PZ_FUZZ_CHECK(req.status().message() == cursor.status().message(), req.status().message(),
                    cursor.status().message());
      continue;
    }
    pz_fuzz::check_serialized(req.value());
    pz::Result<pz::Value> doc = pz::parse_json(req.value());
    PZ_FUZZ_CHECK(doc.ok() && doc.value().is_object(), req.value());
    const pz::Value* delta = doc.value().find("delta");
    const pz::Value* versions = doc.value().find("versions");
    PZ_FUZZ_CHECK(delta != nullptr && versions != nullptr, req.value());
    pz::Result<pz::ProfileState> d = pz::import_state(*delta);
    PZ_FUZZ_CHECK(d.ok(), req.value(), d.status().message());
    PZ_FUZZ_CHECK(pz::import_versions(pz::to_json(*versions), "versions").ok(), req.value());
    // What the engine sends plus what the cursor's owner has is everything the engine has, as
    // far as the cursor's devices go: merging the delta into the engine's state changes nothing.
    check_equal("state ∪ its delta != state", pz::merge(exported.value(), d.value()),
                exported.value());
  }
  return 0;
}
