// Core benchmark: a bundle of 200 segments x 4 conditions.
//   ingest  = parse + validate one event, update metrics, re-evaluate the segments it affects
//   full    = evaluate all 200 segments from scratch (no incremental shortcut)
// Prints ns per event, per full evaluation, per rule and per condition, with the machine. Ingest
// and event + decide times are medians of chunks (1,000 ingests, 100 pairs).
//   event+decide = ingest one event, then decide 3 slots (what a page does per interaction)
// Usage: pz_bench [--events N] [--json] [--emit DIR [--segments N]]
//   --emit DIR writes the bundle, the visitor set-up and the events to DIR (bundle.json,
//   setup.json, events.jsonl) so that bench/wasm_bench.mjs measures the wasm on the same inputs.
//   --segments N (with --emit only) writes a bundle of N segments instead of 200, same pattern
//   (bench/rules_bench.mjs); the timed runs always use 200.
//   --load-only K loads the bundle (of --segments N, default 200) K times into one engine, prints
//   the median µs per load and exits: for counting a load's instructions under callgrind, run it
//   with K = 1 and K = 3 and halve the difference (the bundle's generation cancels out).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "median.h"
#include "pz/crdt.h"
#include "pz/engine.h"

namespace {

using Clock = std::chrono::steady_clock;

// `live` segments (all by default) read the streamed event types; the others read the same
// kind of metrics and counts of types the stream never has ("quiet"), so that an event touches
// the same segments whatever the bundle's size.
std::string MakeBundle(int segments, int live = -1) {
  if (live < 0) live = segments;
  const char* types[] = {"page_view",  "add_to_cart", "purchase", "search",   "signup",
                         "video_play", "share",       "review",   "wishlist", "checkout"};
  std::string b =
      R"({"version":"bench","consent":{"mode":"opt-out"},"retention":{"hourly_buckets":48,"daily_buckets":90},"metrics":[)";
  for (int m = 0; m < 20; ++m) {
    if (m) b += ",";
    b += R"({"id":"m)" + std::to_string(m) + R"(","event":")" + types[m % 10] + R"(")";
    if (m % 3 == 0)
      b += R"(,"where":{"starts_with":[{"var":"page.path"},"/p)" + std::to_string(m % 5) + R"("]})";
    if (m % 4 == 1) b += R"(,"sum":"props.value")";
    b += "}";
  }
  if (live < segments) {
    for (int m = 0; m < 20; ++m) {
      b += R"(,{"id":"q)" + std::to_string(m) + R"(","event":"quiet)" + std::to_string(m % 10) +
           R"("})";
    }
  }
  b += R"(],"segments":[)";
  const char* windows[] = {"30m", "24h", "7d", "30d"};
  for (int s = 0; s < segments; ++s) {
    if (s) b += ",";
    const bool quiet = s >= live;
    std::string c1 = R"({">=":[{"metric":[")" + std::string(quiet ? "q" : "m") +
                     std::to_string(s % 20) + R"(",")" + windows[s % 4] + R"("]},)" +
                     std::to_string(1 + s % 3) + "]}";
    std::string c2 =
        R"({"<":[{"count":[")" +
        (quiet ? "quiet" + std::to_string((s + 3) % 10) : std::string(types[(s + 3) % 10])) +
        R"(",")" + windows[(s + 1) % 4] + R"("]},)" + std::to_string(5 + s % 7) + "]}";
    // Each segment's own list (an extra plan no visitor has): identical conditions are one node
    // of the engine's graph, and rules_bench.mjs's "all N rules" must evaluate N of them.
    std::string c3 =
        R"({"in":[{"var":"traits.plan"},["free","pro","team","p)" + std::to_string(s) + R"("]]})";
    std::string c4 = s % 2 ? R"({"starts_with":[{"var":"page.path"},"/p"]})"
                           : R"({"==":[{"var":"context.device"},"mobile"]})";
    b += R"({"id":"s)" + std::to_string(s) + R"(","rule":{"and":[)" + c1 + "," + c2 + "," + c3 +
         "," + c4 + "]}}";
  }
  b += R"(],"actions":[)";
  const char* slots[] = {"hero", "banner", "sidebar"};
  for (int a = 0; a < 100; ++a) {
    if (a) b += ",";
    b += R"({"id":"a)" + std::to_string(a) + R"(","slots":[")" + slots[a % 3] + R"(")" +
         (a % 10 == 0 ? std::string(R"(,")") + slots[(a + 1) % 3] + "\"" : std::string()) +
         R"(],"eligible":{"or":[{"in_segment":["s)" + std::to_string(a * 2 % segments) +
         R"("]},{"in_segment":["s)" + std::to_string((a * 2 + 1) % segments) + R"("]},)" +
         (a % 3 ? R"({"==":[{"var":"context.device"},"mobile"]})" : "false") +
         R"(]},"propensity":)" +
         (a % 4 == 0 ? std::string(R"({"thompson":{"prior":[2,50]}})")
          : a % 4 == 1
              ? std::string(R"({"logistic":{"intercept":-3,"features":[{"rule":{"metric":["m)" +
                            std::to_string(a % 20) + R"(","7d"]},"weight":0.1}]}})")
              : "0." + std::to_string(1 + a % 9)) +
         R"(,"value":)" + std::to_string(5 + a % 50) + R"(,"caps":{"per_day":3},"group":"g)" +
         std::to_string(a % 7) + R"(","content":{"title":"offer )" + std::to_string(a) + R"("}})";
  }
  b +=
      R"(],"defaults":{"hero":{"content":{"title":"Welcome"}},"banner":{"content":{"title":"Hi"}},"sidebar":{"content":{"title":"More"}}}})";
  return b;
}

std::string Machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores";
}

// ns per call: the median of chunks (bench/median.h).
template <typename Fn>
double MedianNs(int n, int chunk, Fn fn) {
  return pz::bench::median_seconds(n, chunk, [&](long i) { fn(static_cast<int>(i)); }) * 1e9;
}
}  // namespace

int main(int argc, char** argv) {
  int events = 200000;
  bool json = false;
  std::string emit_dir;
  int emit_segments = 200;
  int load_only = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--load-only") && i + 1 < argc) {
      load_only = std::atoi(argv[++i]);
      if (load_only < 1) {
        std::fprintf(stderr, "--load-only: expected a whole number >= 1\n");
        return 2;
      }
    }
    if (!std::strcmp(argv[i], "--emit") && i + 1 < argc) emit_dir = argv[++i];
    if (!std::strcmp(argv[i], "--segments") && i + 1 < argc) {
      emit_segments = std::atoi(argv[++i]);
      if (emit_segments < 1) {
        std::fprintf(stderr, "--segments: expected a whole number >= 1\n");
        return 2;
      }
    }
    if (!std::strcmp(argv[i], "--events") && i + 1 < argc) events = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--json")) json = true;
  }
  if (load_only > 0) {
    const std::string text = MakeBundle(emit_segments);
    pz::Engine engine;
    std::vector<double> us;
    for (int k = 0; k < load_only; ++k) {
      auto start = Clock::now();
      pz::Status loaded = engine.load_bundle(text);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      if (!loaded.ok()) {
        std::fprintf(stderr, "bundle: %s\n", loaded.message().c_str());
        return 1;
      }
    }
    std::sort(us.begin(), us.end());
    std::printf("{\"segments\":%d,\"loads\":%d,\"load_us\":%.1f,\"bundle_bytes\":%zu}\n",
                emit_segments, load_only, us[us.size() / 2], text.size());
    return 0;
  }
  const int kSegments = 200;
  std::string bundle = MakeBundle(kSegments);
  pz::Engine engine;
  auto t0 = Clock::now();
  pz::Status st = engine.load_bundle(bundle);
  double load_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  if (!st.ok()) {
    std::fprintf(stderr, "bundle: %s\n", st.message().c_str());
    return 1;
  }
  pz::JsonParser parser;
  if (!engine.identify("u", parser.parse(R"({"plan":"pro"})").value(), 0).ok()) return 1;
  if (!engine.set_context(parser.parse(R"({"device":"mobile"})").value()).ok()) return 1;

  // Pre-render the event texts so that the timing covers the engine, not string building.
  const char* types[] = {"page_view",  "add_to_cart", "purchase", "search",   "signup",
                         "video_play", "share",       "review",   "wishlist", "checkout"};
  std::mt19937 rng(42);
  std::vector<std::string> lines;
  std::vector<int64_t> times;
  int64_t t = 1793577600000;
  for (int i = 0; i < 10000; ++i) {
    t += 1000 + rng() % 120000;
    int type = static_cast<int>(rng() % 10);
    times.push_back(t);
    lines.push_back(R"({"t":)" + std::to_string(t) + R"(,"type":")" + types[type] +
                    R"(","props":{"value":)" + std::to_string(rng() % 200) +
                    R"(},"page":{"path":"/p)" + std::to_string(rng() % 7) + R"(/x"}})");
  }
  if (!emit_dir.empty()) {
    std::ofstream(emit_dir + "/bundle.json")
        << (emit_segments == kSegments ? bundle : MakeBundle(emit_segments));
    std::ofstream(emit_dir + "/setup.json")
        << R"({"user_id":"u","traits":{"plan":"pro"},"context":{"device":"mobile"},"now":0})";
    std::ofstream out(emit_dir + "/events.jsonl");
    for (const std::string& l : lines) out << l << '\n';
    return out ? 0 : 1;
  }
  // Warm up, then time ingest (each event has a later t than the previous one).
  for (int i = 0; i < 2000; ++i) (void)engine.ingest(lines[static_cast<size_t>(i) % lines.size()]);
  uint64_t evals_before = engine.segment_evaluations();
  double ingest_ns = MedianNs(events, 1000, [&](int i) {
    (void)engine.ingest(lines[static_cast<size_t>(i) % lines.size()]);
  });
  double evals_per_event =
      static_cast<double>(engine.segment_evaluations() - evals_before) / events;

  // Full evaluation of all 200 segments.
  engine.set_incremental(false);
  int rounds = events / 20;
  uint64_t before = engine.segment_evaluations();
  t0 = Clock::now();
  for (int i = 0; i < rounds; ++i) engine.evaluate(t + i);
  double full_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / rounds;
  uint64_t evaluated = engine.segment_evaluations() - before;
  double rules = static_cast<double>(evaluated) / rounds;

  // Decide 3 slots over the 100 actions on the warm profile.
  engine.set_incremental(true);
  int decides = events / 40;
  size_t shown = 0;
  t0 = Clock::now();
  for (int i = 0; i < decides; ++i) {
    std::vector<pz::Decision> d = engine.decide({"hero", "banner", "sidebar"}, t + rounds + i);
    for (const pz::Decision& x : d) shown += !x.action.empty();
  }
  double decide_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / decides;
  int in_segments = static_cast<int>(engine.segments().size());

  // An event and a 3-slot decision at its time, per event (a fresh engine, same set-up).
  pz::Engine e2;
  if (!e2.load_bundle(bundle).ok() ||
      !e2.identify("u", parser.parse(R"({"plan":"pro"})").value(), 0).ok() ||
      !e2.set_context(parser.parse(R"({"device":"mobile"})").value()).ok()) {
    return 1;
  }
  for (int i = 0; i < 2000; ++i) (void)e2.ingest(lines[static_cast<size_t>(i) % lines.size()]);
  int pairs = events / 20;
  const std::vector<std::string> three = {"hero", "banner", "sidebar"};
  double event_decide_ns = MedianNs(pairs, 100, [&](int i) {
    const std::string& l = lines[static_cast<size_t>(i) % lines.size()];
    (void)e2.ingest(l);
    // At the event's own time (a page decides right after its event), without the why traces
    // (what the wasm DECIDE op does unless asked for why).
    shown +=
        e2.decide(three, times[static_cast<size_t>(i) % times.size()], pz::Value(), false).size();
  });

  // Scaling: ingest when 20 segments read the streamed types and the rest of a 200- or
  // 1000-segment bundle reads types the stream never has: the cost follows the 20.
  double scale_ns[2] = {0, 0}, scale_evals[2] = {0, 0};
  const int scale_sizes[2] = {200, 1000};
  for (int k = 0; k < 2; ++k) {
    pz::Engine e3;
    if (!e3.load_bundle(MakeBundle(scale_sizes[k], 20)).ok() ||
        !e3.identify("u", parser.parse(R"({"plan":"pro"})").value(), 0).ok() ||
        !e3.set_context(parser.parse(R"({"device":"mobile"})").value()).ok()) {
      return 1;
    }
    for (int i = 0; i < 2000; ++i) (void)e3.ingest(lines[static_cast<size_t>(i) % lines.size()]);
    const uint64_t evals = e3.segment_evaluations();
    scale_ns[k] = MedianNs(events, 1000, [&](int i) {
      (void)e3.ingest(lines[static_cast<size_t>(i) % lines.size()]);
    });
    scale_evals[k] = static_cast<double>(e3.segment_evaluations() - evals) / events;
  }

  // Merge two 30-day profiles of different devices: 20 metrics and 10 counted types each, an
  // event every ~10 minutes for 30 days (hourly and daily buckets full), 64 traits.
  auto thirty_days = [](const std::string& device, uint32_t seed) {
    pz::ProfileState s;
    pz::Component c;
    c.device = device;
    c.version = 1;
    c.seen = true;
    std::mt19937 r(seed);
    pz::Retention retention;
    int64_t t0 = 1793577600000;
    c.first_seen = t0;
    for (int m = 0; m < 30; ++m) {
      pz::Series series;
      for (int64_t t = t0; t < t0 + 30 * 86400000LL; t += 300000 + r() % 600000) {
        series.add(t, 1 + r() % 5, retention);
        c.last_seen = std::max(c.last_seen, t);
      }
      (m < 20 ? c.metrics : c.counts).emplace_back("s" + std::to_string(100 + m), series);
    }
    s.components.push_back(c);
    for (int k = 0; k < 64; ++k) {
      pz::LwwRegister reg;
      reg.set = true;
      reg.value = pz::Value::Number(k);
      reg.stamp = pz::Hlc{t0 + k, 0, device};
      s.traits.emplace_back("t" + std::to_string(100 + k), reg);
    }
    return s;
  };
  pz::ProfileState a = thirty_days("phone", 1), b = thirty_days("laptop", 2);
  int merges = std::max(1, events / 400);
  size_t sink = 0;
  t0 = Clock::now();
  for (int i = 0; i < merges; ++i) sink += pz::merge(a, b).components.size();
  double merge_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / merges;
  std::string exported = pz::export_state(pz::merge(a, b));

  if (json) {
    std::printf(
        "{\"machine\":\"%s\",\"segments\":%d,\"bundle_load_us\":%.1f,\"ingest_ns_per_event\":%.1f,"
        "\"segments_evaluated_per_event\":%.1f,\"full_eval_ns\":%.1f,\"ns_per_rule\":%.2f,"
        "\"ns_per_condition\":%.2f,\"decide_3_slots_100_actions_ns\":%.1f,"
        "\"event_and_decide_3_slots_ns\":%.1f,"
        "\"ingest_ns_20_of_200\":%.1f,\"ingest_ns_20_of_1000\":%.1f,"
        "\"evaluated_per_event_20_of_200\":%.1f,\"evaluated_per_event_20_of_1000\":%.1f,"
        "\"merge_two_30_day_profiles_us\":%.1f,\"sync_json_bytes\":%zu}\n",
        Machine().c_str(), kSegments, load_us, ingest_ns, evals_per_event, full_ns, full_ns / rules,
        full_ns / rules / 4, decide_ns, event_decide_ns, scale_ns[0], scale_ns[1], scale_evals[0],
        scale_evals[1], merge_us, exported.size());
    return sink == 0 ? 1 : 0;
  }
  std::printf("machine: %s\n", Machine().c_str());
  std::printf("bundle: %d segments x 4 conditions, 20 metrics; load+compile %.1f us\n", kSegments,
              load_us);
  std::printf(
      "ingest one event + incremental re-evaluation: %8.1f ns/event  (%.1f segment rules or "
      "conditions evaluated "
      "per event)\n",
      ingest_ns, evals_per_event);
  std::printf(
      "full evaluation of all %d segments:          %8.1f ns  (%.2f ns/rule, %.2f ns/condition)\n",
      kSegments, full_ns, full_ns / rules, full_ns / rules / 4);
  std::printf(
      "decide 3 slots over 100 actions (warm profile, %d segments in): %8.1f ns  (%.2f slots "
      "filled)\n",
      in_segments, decide_ns, static_cast<double>(shown) / decides);
  std::printf("one event + decide 3 slots at its time:       %8.1f ns/event\n", event_decide_ns);
  for (int k = 0; k < 2; ++k) {
    std::printf(
        "ingest, the stream's types read by 20 of %4d segments: %8.1f ns/event  (%.1f "
        "evaluated per event)\n",
        scale_sizes[k], scale_ns[k], scale_evals[k]);
  }
  std::printf(
      "merge two 30-day profiles (2 devices x 30 series, 64 traits): %8.1f us  (sync JSON %zu "
      "bytes)\n",
      merge_us, exported.size());
  return 0;
}
