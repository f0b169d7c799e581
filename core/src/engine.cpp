#include "pz/engine.h"

#include <algorithm>
#include <cmath>

#include "pz/crdt.h"
#include "pz/detmath.h"
#include "pz/jsnum.h"
#include "pz/murmur3.h"
#include "pz/sort.h"

namespace pz {

// ---------------------------------------------------------------------------------------------
// Events.

Result<Event> parse_event(const Value& v) {
  if (!v.is_object()) {
    return Status(Code::kInvalidArgument,
                  std::string("event must be an object, got ") + kind_name(v));
  }
  // The fields in one pass over the members (keys are unique in a Value object); checked below
  // in the documented order, so that the first error is the same whatever the key order.
  const Value* type = nullptr;
  const Value* t = nullptr;
  const Value* id = nullptr;
  const Value* props = nullptr;
  const Value* page = nullptr;
  for (const Member& m : v.as_object()) {
    const std::string_view k = m.first;
    switch (k.size()) {  // by length first: most keys are told apart without a comparison
      case 1:
        if (k[0] == 't') t = &m.second;
        break;
      case 2:
        if (k == "id") id = &m.second;
        break;
      case 4:
        if (k == "type") {
          type = &m.second;
        } else if (k == "page") {
          page = &m.second;
        }
        break;
      case 5:
        if (k == "props") props = &m.second;
        break;
      default:
        break;
    }
  }
  Event e;
  if (type == nullptr || !type->is_string() || type->as_string().empty() ||
      type->as_string().size() > 128) {
    std::string got =
        type == nullptr ? " (missing)"
        : !type->is_string()
            ? std::string(", got ") + kind_name(*type)
            : ", got a string of " + std::to_string(type->as_string().size()) + " bytes";
    return Status(Code::kInvalidArgument,
                  "event.type must be a non-empty string of at most 128 bytes" + got);
  }
  e.type = type->as_string();
  if (t == nullptr || !t->is_number() || !std::isfinite(t->as_number()) ||
      std::fabs(t->as_number()) > static_cast<double>(kMaxTimeMs)) {
    return Status(Code::kInvalidArgument,
                  std::string("event.t must be a time in ms since the epoch (a number)") +
                      (t == nullptr ? " (missing)" : ", got " + to_json(*t)));
  }
  e.t = static_cast<int64_t>(std::floor(t->as_number()));
  if (id != nullptr) {
    if (!id->is_string()) {
      return Status(Code::kInvalidArgument,
                    std::string("event.id must be a string, got ") + kind_name(*id));
    }
    e.id = id->as_string();
  }
  if (props != nullptr) {
    if (!props->is_object()) {
      return Status(Code::kInvalidArgument,
                    std::string("event.props must be an object, got ") + kind_name(*props));
    }
    e.props = *props;
  }
  if (page != nullptr) {
    if (!page->is_object()) {
      return Status(Code::kInvalidArgument,
                    std::string("event.page must be an object, got ") + kind_name(*page));
    }
    static constexpr std::string_view kPageFields[] = {"url", "path", "referrer", "title"};
    const Value* fields[4] = {nullptr, nullptr, nullptr, nullptr};
    for (const Member& m : page->as_object()) {
      for (int f = 0; f < 4; ++f) {
        if (m.first.size() == kPageFields[f].size() && m.first == kPageFields[f]) {
          fields[f] = &m.second;
        }
      }
    }
    for (int f = 0; f < 4; ++f) {
      if (fields[f] != nullptr && !fields[f]->is_string()) {
        return Status(Code::kInvalidArgument, "event.page." + std::string(kPageFields[f]) +
                                                  " must be a string, got " +
                                                  kind_name(*fields[f]));
      }
    }
    e.page = *page;
  }
  e.raw = v;
  return e;
}

// ---------------------------------------------------------------------------------------------
// Engine state.

struct Engine::State : RuleHost {
  bool has_bundle = false;
  std::shared_ptr<const Bundle> bundle = std::make_shared<const Bundle>();  // shared, immutable
  Profile profile;
  JsonParser parser;
  Value context = Value::MakeObject({});
  ConsentPolicy policy;
  ConsentState consent = initial_consent(ConsentPolicy());

  // Sync (pz/crdt.h): this device's writes are versioned, registers stamped by a hybrid clock;
  // what other devices wrote is kept in `remote` and read alongside the local profile.
  std::string device_id = "device";
  uint64_t local_version = 0;
  Hlc clock;
  LwwRegister user_reg, consent_reg;
  std::vector<std::pair<std::string, LwwRegister>> trait_regs;  // sorted by key
  ProfileState remote;                                          // other devices' components
  std::vector<std::vector<const Series*>> remote_metrics, remote_counts;
  std::vector<std::vector<const Exposure*>> remote_exposures;

  Hlc stamp(int64_t at) {
    clock = Hlc::next(clock, at, device_id);
    return clock;
  }
  void index_remote();
  Component local_component() const;
  ProfileState local_state() const;
  Exposure exposure(size_t action, int64_t at) const;
  Value profile_fields() const;
  bool incremental = true;
  uint64_t evaluations = 0;

  // Segment state.
  std::vector<char> member;
  std::vector<int64_t> valid_until;
  bool evaluated = false;
  int64_t last_now = 0;
  Value seen_event, seen_page, seen_traits, seen_context;
  std::vector<char> metric_changed, count_changed;
  bool profile_changed = false;

  // Incremental evaluation over bundle->graph: dirty nodes by position, 64 per word. Segments
  // are evaluated at once; an action's eligibility rule (node segments + action) stays dirty
  // until a decision needs it (lazy), its result cached in `eligible` meanwhile.
  int64_t next_wakeup = INT64_MIN;  // min valid_until over the graph's timed nodes
  std::vector<uint64_t> dirty;
  std::vector<char> part_value;  // by split condition: 0 falsy, 1 truthy, 2 failed
  // Window sums of graph.terms, valid while term_gen[t] == gen (begin() moves gen).
  std::vector<double> term_value;
  std::vector<int64_t> term_next;  // Series::next_change of the term's window
  std::vector<uint32_t> term_gen;
  uint32_t gen = 1;
  std::vector<char> eligible;               // by action: 0 no, 1 yes, 2 the rule failed
  std::vector<std::string> eligible_error;  // by action, when eligible == 2
  uint64_t eligibility_evaluations = 0;

  // What the rules see during an evaluation.
  int64_t now = 0;
  Value page;
  Value event;
  bool profile_built = false;
  Value profile_value;

  void reset_for_bundle() {
    profile.metrics.assign(bundle->metrics.size(), Series());
    profile.counts.assign(bundle->event_types.size(), Series());
    profile.exposures.assign(bundle->actions.size(), Exposure());
    const size_t nodes = bundle->graph.position.size();
    part_value.assign(bundle->graph.part_segment.size(), 0);
    term_value.assign(bundle->graph.terms.size(), 0);
    term_next.assign(bundle->graph.terms.size(), 0);
    term_gen.assign(bundle->graph.terms.size(), 0);
    gen = 1;
    member.assign(bundle->segments.size(), 0);
    valid_until.assign(nodes, 0);
    metric_changed.assign(bundle->metrics.size(), 0);
    count_changed.assign(bundle->event_types.size(), 0);
    evaluated = false;
    dirty.assign((nodes + 63) / 64, 0);
    eligible.assign(bundle->actions.size(), 0);
    eligible_error.assign(bundle->actions.size(), std::string());
    next_wakeup = INT64_MIN;
    index_remote();
  }

  // When a node's windows next move (INT64_MAX: never); keeps next_wakeup at most that.
  void schedule(int node, int64_t at) {
    const std::vector<Window>& windows = bundle->graph.windows[static_cast<size_t>(node)];
    if (windows.empty()) return;
    int64_t until = INT64_MAX;
    for (const Window& w : windows) {
      until = std::min(until, Series::next_change(at, w, bundle->retention));
    }
    valid_until[static_cast<size_t>(node)] = until;
    next_wakeup = std::min(next_wakeup, until);  // may be early: a wake-up re-checks
  }
  // Action `a`'s eligibility as of the last evaluate(), re-evaluated if its inputs moved.
  char eligibility(size_t a);

  // RuleHost.
  Value root(Root ns) override {
    switch (ns) {
      case Root::kEvent:
        return event;
      case Root::kPage:
        return page;
      case Root::kTraits:
        return profile.traits;
      case Root::kContext:
        return context;
      case Root::kProfile:
        if (!profile_built) {
          profile_value = profile_fields();
          profile_built = true;
        }
        return profile_value;
      case Root::kNow:
        return Value::Number(static_cast<double>(now));
    }
    return Value();
  }
  const Value* root_ref(Root ns) override {
    switch (ns) {
      case Root::kEvent:
        return &event;
      case Root::kPage:
        return &page;
      case Root::kTraits:
        return &profile.traits;
      case Root::kContext:
        return &context;
      case Root::kProfile:
        if (!profile_built) {
          profile_value = profile_fields();
          profile_built = true;
        }
        return &profile_value;
      default:
        return nullptr;
    }
  }
  Value whole_root() override {
    std::vector<Member> segs;
    for (size_t i = 0; i < bundle->segments.size(); ++i) {
      segs.emplace_back(bundle->segments[i].id, Value::Bool(member[i] != 0));
    }
    return Value::MakeObject({{"event", event},
                              {"page", page},
                              {"traits", profile.traits},
                              {"segments", Value::MakeObject(std::move(segs))},
                              {"context", context},
                              {"profile", root(Root::kProfile)},
                              {"now", Value::Number(static_cast<double>(now))}});
  }
  // A window over this device's series plus every other device's.
  double window_sum(const std::vector<Series>& local,
                    const std::vector<std::vector<const Series*>>& others, int slot,
                    const Window& window) {
    if (slot < 0 || static_cast<size_t>(slot) >= local.size()) return 0;
    size_t i = static_cast<size_t>(slot);
    double sum = local[i].window_value(now, window, bundle->retention);
    if (i < others.size()) {
      for (const Series* s : others[i]) sum += s->window_value(now, window, bundle->retention);
    }
    return sum;
  }
  double count(int type, const Window& window) override {
    return window_sum(profile.counts, remote_counts, type, window);
  }
  double metric(int m, const Window& window) override {
    return window_sum(profile.metrics, remote_metrics, m, window);
  }
  Value since(int slot, bool is_metric) override {
    const std::vector<Series>& all = is_metric ? profile.metrics : profile.counts;
    const auto& others = is_metric ? remote_metrics : remote_counts;
    if (slot < 0 || static_cast<size_t>(slot) >= all.size()) return Value::Null();
    size_t i = static_cast<size_t>(slot);
    bool seen = all[i].seen;
    int64_t last = all[i].last_t;
    if (i < others.size()) {
      for (const Series* s : others[i]) {
        if (s->seen && (!seen || s->last_t > last)) last = s->last_t;
        seen = seen || s->seen;
      }
    }
    if (!seen) return Value::Null();
    return Value::Number(static_cast<double>(now - last));
  }
  bool in_segment(int segment) override {
    return segment >= 0 && static_cast<size_t>(segment) < member.size() &&
           member[static_cast<size_t>(segment)] != 0;
  }
  std::string_view profile_id() override {
    return profile.user_id.empty() ? std::string_view(profile.anonymous_id)
                                   : std::string_view(profile.user_id);
  }

  void begin(int64_t at, const Value& current_page, const Value& current_event) {
    now = at;
    page = current_page;
    event = current_event;
    profile_built = false;
    if (++gen == 0) {  // wrapped: no stale entry may match
      std::fill(term_gen.begin(), term_gen.end(), 0);
      gen = 1;
    }
  }
  // The value of graph term t now (as count()/metric() would answer), computed once per begin().
  double term(size_t t) {
    if (term_gen[t] != gen) {
      const Bundle::Graph::Term& d = bundle->graph.terms[t];
      term_value[t] = d.is_count ? window_sum(profile.counts, remote_counts, d.slot, d.window)
                                 : window_sum(profile.metrics, remote_metrics, d.slot, d.window);
      term_next[t] = Series::next_change(now, d.window, bundle->retention);
      term_gen[t] = gen;
    }
    return term_value[t];
  }

  void apply_metrics(const Event& e);
  int variant_of(int experiment);
  void capped(const ActionDef& a, const Exposure& e, int64_t at, CandidateTrace& c);
  void evaluate(int64_t at, const Value& page_override);
};

void Engine::State::apply_metrics(const Event& e) {
  const Bundle::EventUse* use = bundle->event_use(e.type);
  if (use == nullptr) return;  // no metric or count reads this type
  for (int metric : use->metrics) {
    const size_t i = static_cast<size_t>(metric);
    const MetricDef& m = bundle->metrics[i];
    if (m.has_where && !evaluate_condition(m.where, this)) continue;  // falsy or an error
    double amount = 1;
    if (m.is_sum) {
      Value v = e.raw;
      for (const std::string& part : m.sum_path) {
        const Value* next = v.is_object() ? v.find(part) : nullptr;
        v = next != nullptr ? *next : Value();
      }
      if (v.is_number()) {
        amount = v.as_number();
      } else if (v.is_string()) {
        amount = js_string_to_number(v.as_string());
      } else {
        continue;
      }
      if (!std::isfinite(amount)) continue;
    }
    profile.metrics[i].add(e.t, amount, bundle->retention);
    metric_changed[i] = 1;
  }
  if (use->count >= 0) {
    profile.counts[static_cast<size_t>(use->count)].add(e.t, 1, bundle->retention);
    count_changed[static_cast<size_t>(use->count)] = 1;
  }
}

void Engine::State::evaluate(int64_t at, const Value& page_override) {
  at = clamp_time(at);
  Value effective_page = page_override.is_object() ? page_override : profile.last_page;
  begin(at, effective_page, profile.last_event);
  if (!has_bundle) return;
  auto moved = [](const Value& seen, const Value& current) {
    return seen.kind() != current.kind() || seen.identity() != current.identity() ||
           (!seen.is_reference() && !current.is_undefined());
  };
  uint32_t flags = 0;
  if (moved(seen_event, event)) flags |= kDepEvent;
  if (moved(seen_page, page)) flags |= kDepPage;
  if (moved(seen_traits, profile.traits)) flags |= kDepTraits;
  if (moved(seen_context, context)) flags |= kDepContext;
  if (profile_changed) flags |= kDepProfile;
  bool time_moved = evaluated && at != last_now;
  bool backwards = evaluated && at < last_now;
  const Bundle::Graph& g = bundle->graph;
  const int* const position = g.position.data();
  uint64_t* const bits = dirty.data();
  auto mark_one = [position, bits](int node) {
    const auto p = static_cast<unsigned>(position[node]);
    bits[p / 64] |= uint64_t{1} << (p % 64);
  };
  auto mark = [&mark_one](const std::vector<int>& readers) {
    for (int r : readers) mark_one(r);
  };
  const size_t segments = bundle->segments.size();
  bool woken = false;
  if (!evaluated || !incremental) {
    for (size_t i = 0; i < g.node_at.size(); ++i) mark_one(g.node_at[i]);
    woken = true;
  } else {
    for (size_t m = 0; m < metric_changed.size(); ++m) {
      if (metric_changed[m]) mark(g.metric_readers[m]);
    }
    for (size_t c = 0; c < count_changed.size(); ++c) {
      if (count_changed[c]) mark(g.count_readers[c]);
    }
    flags |= kDepData;  // a dynamic var may read anything: always re-evaluated
    for (uint32_t f = flags; f != 0; f &= f - 1) {
      mark(g.flag_readers[static_cast<size_t>(__builtin_ctz(f))]);
    }
    if (time_moved) {
      mark(g.every_ms);
      if (backwards || at >= next_wakeup) {
        woken = true;
        for (int t : g.timed) {
          if (backwards || at >= valid_until[static_cast<size_t>(t)]) {
            mark_one(t);
            // A dirty action is re-scheduled when a decision evaluates it.
            if (static_cast<size_t>(t) >= segments) valid_until[static_cast<size_t>(t)] = INT64_MAX;
          }
        }
      }
    }
  }
  // Dirty segments and conditions in dependency order (the first g.eager positions); a change
  // marks its readers, which come later. Dirty actions stay for eligibility().
  const size_t actions_end = segments + bundle->actions.size();
  const size_t words = (g.eager + 63) / 64;
  for (size_t w = 0; w < words; ++w) {
    const uint64_t limit =
        w + 1 < words || g.eager % 64 == 0 ? ~uint64_t{0} : (uint64_t{1} << (g.eager % 64)) - 1;
    // Re-read: an evaluation marks its readers, later positions possibly in this word.
    for (uint64_t pending; (pending = bits[w] & limit) != 0;) {
      unsigned bit = static_cast<unsigned>(__builtin_ctzll(pending));
      bits[w] &= ~(uint64_t{1} << bit);
      const int node = g.node_at[w * 64 + bit];
      if (static_cast<size_t>(node) >= actions_end) {  // a condition of a split segment
        if (!incremental) continue;
        const size_t k = static_cast<size_t>(node) - actions_end;
        if (g.part_canon[k] != static_cast<int>(k)) continue;  // its twin is evaluated
        ++evaluations;
        char v;
        const Bundle::Graph::Test& test = g.part_test[k];
        if (test.term >= 0) {  // a window compared with a constant: the cached sum
          const size_t t = static_cast<size_t>(test.term);
          v = test.cmp.test(term(t)) ? 1 : 0;
          if (!g.terms[t].window.all()) {  // schedule(): its one window
            valid_until[static_cast<size_t>(node)] = term_next[t];
            next_wakeup = std::min(next_wakeup, term_next[t]);
          }
        } else {
          const SegmentDef& seg = bundle->segments[static_cast<size_t>(g.part_segment[k])];
          const size_t first =
              static_cast<size_t>(g.first_part[static_cast<size_t>(g.part_segment[k])]);
          bool failed = false;
          bool t = evaluate_condition(seg.parts[k - first], this, &failed);
          v = failed ? 2 : t ? 1 : 0;
          schedule(node, at);
        }
        if (v != part_value[k]) {
          part_value[k] = v;
          for (int user : g.part_users[k]) mark_one(user);
        }
        continue;
      }
      const size_t i = static_cast<size_t>(node);
      const SegmentDef& seg = bundle->segments[i];
      char in;
      if (seg.split == SegmentDef::Split::kNone || !incremental) {  // the reference: whole rule
        ++evaluations;
        in = evaluate_condition(seg.rule, this) ? 1 : 0;
        schedule(node, at);
      } else {  // the conditions' results in order, as and/or would have short-circuited
        const size_t first = static_cast<size_t>(g.first_part[i]);
        const bool is_and = seg.split == SegmentDef::Split::kAnd;
        in = is_and ? 1 : 0;
        for (size_t k = 0; k < seg.parts.size(); ++k) {
          char v = part_value[static_cast<size_t>(g.part_canon[first + k])];
          if (v == 2) {
            in = 0;
            break;
          }
          if ((v == 1) != is_and) {
            in = is_and ? 0 : 1;
            break;
          }
        }
      }
      if (in != member[i]) {
        member[i] = in;
        mark(g.segment_readers[i]);
      }
    }
  }
  if (woken) {
    next_wakeup = INT64_MAX;
    for (int t : g.timed) next_wakeup = std::min(next_wakeup, valid_until[static_cast<size_t>(t)]);
  }
  evaluated = true;
  last_now = at;
  seen_event = event;
  seen_page = page;
  seen_traits = profile.traits;
  seen_context = context;
  profile_changed = false;
  std::fill(metric_changed.begin(), metric_changed.end(), 0);
  std::fill(count_changed.begin(), count_changed.end(), 0);
}

char Engine::State::eligibility(size_t a) {
  const size_t node = bundle->segments.size() + a;
  const size_t p = static_cast<size_t>(bundle->graph.position[node]);
  uint64_t& word = dirty[p / 64];
  const uint64_t bit = uint64_t{1} << (p % 64);
  if (word & bit) {
    word &= ~bit;
    ++eligibility_evaluations;
    bool failed = false;
    const bool t =
        evaluate_condition(bundle->actions[a].eligible, this, &failed, &eligible_error[a]);
    eligible[a] = failed ? 2 : t ? 1 : 0;
    if (!failed) eligible_error[a].clear();
    schedule(static_cast<int>(node), now);
  }
  return eligible[a];
}

// ---------------------------------------------------------------------------------------------

Engine::Engine() : s_(new State()) { s_->profile.anonymous_id = "anonymous"; }
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

Status Engine::load_bundle(std::string_view json, std::vector<BundleError>* errors) {
  std::vector<BundleError> local;
  auto next = std::make_shared<Bundle>();
  if (!compile_bundle(json, *next, local)) {
    std::string first =
        local.empty() ? "invalid bundle"
                      : (local[0].path.empty() ? "" : local[0].path + ": ") + local[0].message;
    if (errors != nullptr) *errors = std::move(local);
    return Status(Code::kInvalidArgument, "bundle rejected: " + first);
  }
  load_bundle(std::move(next));
  return Status::Ok();
}

void Engine::load_bundle(std::shared_ptr<const Bundle> compiled) {
  const Bundle& next = *compiled;
  // The profile keeps what the new bundle still uses (same metric or event-type names).
  std::vector<Series> metrics(next.metrics.size()), counts(next.event_types.size());
  std::vector<Exposure> exposures(next.actions.size());
  if (s_->has_bundle) {
    for (size_t i = 0; i < next.metrics.size(); ++i) {
      int old = s_->bundle->metric_index(next.metrics[i].id);
      if (old >= 0 &&
          s_->bundle->metrics[static_cast<size_t>(old)].event == next.metrics[i].event) {
        metrics[i] = std::move(s_->profile.metrics[static_cast<size_t>(old)]);
      }
    }
    for (size_t i = 0; i < next.event_types.size(); ++i) {
      int old = s_->bundle->event_type_index(next.event_types[i]);
      if (old >= 0) counts[i] = std::move(s_->profile.counts[static_cast<size_t>(old)]);
    }
    for (size_t i = 0; i < next.actions.size(); ++i) {
      int old = s_->bundle->action_index(next.actions[i].id);
      if (old >= 0) exposures[i] = s_->profile.exposures[static_cast<size_t>(old)];
    }
  }
  s_->bundle = std::move(compiled);
  s_->has_bundle = true;
  s_->policy.opt_in = s_->bundle->consent_mode == "opt-in";
  s_->policy.gpc_personalization_off = s_->bundle->consent_gpc == "personalization_off";
  if (!s_->consent.given) s_->consent = initial_consent(s_->policy);
  s_->reset_for_bundle();
  s_->profile.metrics = std::move(metrics);
  s_->profile.counts = std::move(counts);
  s_->profile.exposures = std::move(exposures);
  if (!s_->consent.personalization && s_->profile.seen) erase(s_->profile.last_seen);
}

bool Engine::has_bundle() const { return s_->has_bundle; }
const Bundle& Engine::bundle() const { return *s_->bundle; }

void Engine::set_anonymous_id(std::string id) {
  s_->profile.anonymous_id = std::move(id);
  s_->profile_changed = true;
}

Status Engine::ingest(std::string_view event_json) {
  if (event_json.size() > kMaxEventBytes) {
    return Status(Code::kLimitExceeded, "event is larger than 32768 bytes");
  }
  Result<Value> v = s_->parser.parse(event_json);
  if (!v.ok()) return v.status();
  return ingest(v.value());
}

Status Engine::ingest(const Value& raw) {
  Result<Event> parsed = parse_event(raw);
  if (!parsed.ok()) return parsed.status();
  const Event& e = parsed.value();
  State& s = *s_;
  if (!s.consent.personalization) {
    // Personalization without a profile: the page is context, nothing else is kept.
    if (e.type == "page_view" && e.page.is_object()) s.profile.last_page = e.page;
    s.evaluate(e.t, Value());
    return Status::Ok();
  }
  s.profile.touch(e.t);
  s.profile_changed = true;
  ++s.local_version;
  s.profile.last_event = e.raw;
  if (e.type == "page_view" && e.page.is_object()) s.profile.last_page = e.page;
  if (s.has_bundle) {
    s.begin(e.t, e.page.is_object() ? e.page : s.profile.last_page, e.raw);
    s.apply_metrics(e);
    s.evaluate(e.t, Value());
  }
  return Status::Ok();
}

Status Engine::identify(std::string_view user_id, const Value& traits, int64_t now) {
  if (user_id.size() > 256) return Status(Code::kInvalidArgument, "user id longer than 256 bytes");
  if (!traits.is_undefined() && !traits.is_object()) {
    return Status(Code::kInvalidArgument,
                  std::string("traits must be an object, got ") + kind_name(traits));
  }
  if (!s_->consent.personalization) return Status::Ok();  // nothing is kept without consent
  State& s = *s_;
  now = clamp_time(now);
  if (!traits.is_undefined()) {
    PZ_TRY(s.profile.set_traits(traits));
    for (const Member& m : traits.as_object()) {
      LwwRegister reg;
      reg.set = true;
      reg.value = m.second;  // null: a tombstone, so that the deletion wins on other devices
      reg.stamp = s.stamp(now);
      auto it = std::lower_bound(s.trait_regs.begin(), s.trait_regs.end(), m.first,
                                 [](const auto& e, const std::string& k) { return e.first < k; });
      if (it != s.trait_regs.end() && it->first == m.first) {
        it->second = reg;
      } else {
        s.trait_regs.emplace(it, m.first, reg);
      }
    }
    // Keep the registers within the sync bound: the oldest tombstones go first.
    while (s.trait_regs.size() > kMaxTraits) {
      auto oldest = s.trait_regs.end();
      for (auto it = s.trait_regs.begin(); it != s.trait_regs.end(); ++it) {
        if (it->second.value.is_null() &&
            (oldest == s.trait_regs.end() || compare(it->second.stamp, oldest->second.stamp) < 0)) {
          oldest = it;
        }
      }
      if (oldest == s.trait_regs.end()) break;
      s.trait_regs.erase(oldest);
    }
  }
  if (!user_id.empty()) {
    s.profile.user_id = std::string(user_id);
    s.user_reg.set = true;
    s.user_reg.value = Value::String(std::string(user_id));
    s.user_reg.stamp = s.stamp(now);
  }
  s.profile_changed = true;
  s.evaluate(now, Value());
  return Status::Ok();
}

Status Engine::set_context(const Value& context) {
  if (!context.is_object()) {
    return Status(Code::kInvalidArgument,
                  std::string("context must be an object, got ") + kind_name(context));
  }
  s_->context = context;
  return Status::Ok();
}

void Engine::evaluate(int64_t now, const Value& page) { s_->evaluate(now, page); }

const std::vector<char>& Engine::memberships() const { return s_->member; }

std::vector<std::string> Engine::segments() const {
  std::vector<std::string> out;
  for (int i : s_->bundle->segments_by_id) {
    if (s_->member[static_cast<size_t>(i)])
      out.push_back(s_->bundle->segments[static_cast<size_t>(i)].id);
  }
  return out;
}

bool parse_outcome(std::string_view name, Outcome& out) {
  if (name == "impression") {
    out = Outcome::kImpression;
  } else if (name == "click") {
    out = Outcome::kClick;
  } else if (name == "conversion") {
    out = Outcome::kConversion;
  } else if (name == "dismiss") {
    out = Outcome::kDismiss;
  } else {
    return false;
  }
  return true;
}

namespace {

// The arbitration formula of enterprise decision hubs, in one place.
double priority(double propensity, double context_weight, double value, double lever) {
  return propensity * context_weight * value * lever;
}

// The Thompson-sampling stream of a decision: seeded from (profile id, now, slot) only, so that a
// replay of the same profile at the same time decides the same. Candidates draw in bundle order.
uint64_t thompson_seed(std::string_view profile_id, int64_t now, std::string_view slot) {
  uint32_t h1 = murmur3_32(profile_id, 0);
  std::string key(slot);
  key += '@';
  key += std::to_string(now);
  uint32_t h2 = murmur3_32(key, h1);
  return (static_cast<uint64_t>(h1) << 32) | h2;
}

}  // namespace

int Engine::State::variant_of(int experiment) {
  const Experiment& x = bundle->experiments[static_cast<size_t>(experiment)];
  double b = bucket_of(x.salt, profile_id());
  double total = 0;
  for (double w : x.weights) total += w;
  double acc = 0;
  for (size_t i = 0; i < x.weights.size(); ++i) {
    acc += x.weights[i];
    if (b < acc / total * 100) return static_cast<int>(i);
  }
  return static_cast<int>(x.weights.size()) - 1;
}

// Why an action cannot be shown now (caps, cooldown); sets the trace's removal.
void Engine::State::capped(const ActionDef& a, const Exposure& e, int64_t at, CandidateTrace& c) {
  using R = CandidateTrace::Removed;
  auto reached = [&](R why, int64_t have, int64_t cap) {
    c.removed = why;
    c.have = have;
    c.limit = cap;
  };
  int64_t today = e.day == floor_div(at, kDayMs) ? e.day_impressions : 0;
  int64_t this_session = e.session == profile.sessions ? e.session_impressions : 0;
  if (a.caps.total >= 0 && e.impressions >= a.caps.total) {
    reached(R::kCapTotal, e.impressions, a.caps.total);
  } else if (a.caps.per_day >= 0 && today >= a.caps.per_day) {
    reached(R::kCapPerDay, today, a.caps.per_day);
  } else if (a.caps.per_session >= 0 && this_session >= a.caps.per_session) {
    reached(R::kCapPerSession, this_session, a.caps.per_session);
  } else if (a.caps.dismiss_cooldown_ms > 0 && e.dismissed &&
             at < e.last_dismiss + a.caps.dismiss_cooldown_ms) {
    reached(R::kCooldown, 0, e.last_dismiss + a.caps.dismiss_cooldown_ms);
  }
}

std::vector<Decision> Engine::decide(const std::vector<std::string>& slots, int64_t now,
                                     const Value& page, bool explain) {
  using R = CandidateTrace::Removed;
  State& s = *s_;
  now = clamp_time(now);
  s.evaluate(now, page);
  std::vector<Decision> out;
  out.reserve(slots.size());
  std::vector<char> used(s.has_bundle ? s.bundle->actions.size() : 0, 0);
  std::vector<char> used_groups(s.has_bundle ? s.bundle->group_names.size() : 0, 0);
  bool holdout = s.has_bundle && s.bundle->holdout.percent > 0 &&
                 bucket_of(s.bundle->holdout.salt, s.profile_id()) < s.bundle->holdout.percent;
  static const std::vector<int> kNoActions;
  CandidateTrace scratch;
  for (const std::string& slot : slots) {
    Decision d;
    d.slot = slot;
    const SlotDefault* def = s.has_bundle ? s.bundle->slot_default(slot) : nullptr;
    d.content = def != nullptr ? def->content : Value::Null();
    DecisionTrace& trace = d.trace;
    trace.holdout = holdout;
    int first_ineligible = -1;
    double best = 0, second = 0;
    int k = s.has_bundle ? s.bundle->slot_index(slot) : -1;
    const std::vector<int>& candidates =
        k >= 0 ? s.bundle->slot_actions[static_cast<size_t>(k)] : kNoActions;
    if (explain) trace.candidates.reserve(candidates.size());
    DetRandom random(thompson_seed(s.profile_id(), now, slot));
    for (int index : candidates) {
      const size_t i = static_cast<size_t>(index);
      const ActionDef& a = s.bundle->actions[i];
      CandidateTrace* cp = &scratch;
      if (explain) {
        cp = &trace.candidates.emplace_back();
      } else {  // the fields decide reads (the error string is never set without explain)
        scratch.removed = R::kNo;
        scratch.eligible_checked = scratch.eligible = scratch.scored = false;
        scratch.have = scratch.limit = 0;
      }
      CandidateTrace& c = *cp;
      c.action = index;
      if (used[i]) {
        c.removed = R::kAlreadyChosen;
      } else if (a.group_index >= 0 && used_groups[static_cast<size_t>(a.group_index)]) {
        c.removed = R::kGroupTaken;
      } else if (a.experiment >= 0) {
        int variant = s.variant_of(a.experiment);
        if (variant != a.variant) {
          c.removed = R::kOtherVariant;
          c.have = variant;
        }
      }
      if (c.removed == R::kNo && a.has_eligible) {
        c.eligible_checked = true;
        char e = s.eligibility(i);
        c.eligible = e == 1;
        if (e == 2) {
          c.removed = R::kRuleFailed;
          if (explain) c.error = s.eligible_error[i];
        } else if (e == 0) {
          c.removed = R::kNotEligible;
          if (first_ineligible < 0) first_ineligible = index;
        }
      }
      if (c.removed != R::kNo) continue;
      Exposure e = s.exposure(i, now);
      s.capped(a, e, now, c);
      if (c.removed != R::kNo) continue;
      double propensity = a.propensity.constant;
      if (a.propensity.kind == Propensity::Kind::kLogistic) {
        double z = a.propensity.intercept;
        for (const Propensity::Feature& f : a.propensity.features) {
          double x;
          if (const int w = f.rule.window_read(); w >= 0) {  // a window: its value, no Value
            const RuleRef& ref = f.rule.refs()[static_cast<size_t>(w)];
            x = ref.kind == RuleRef::Kind::kCount ? s.count(ref.slot, ref.window)
                                                  : s.metric(ref.slot, ref.window);
          } else {
            Result<Value> r = pz::evaluate(f.rule, Value(), &s);
            x = r.ok() ? to_number_js(r.value()) : 0;
          }
          if (!std::isfinite(x)) x = 0;
          z += f.weight * x;
        }
        propensity = det_sigmoid(z);
      } else if (a.propensity.kind == Propensity::Kind::kThompson) {
        double clicks = static_cast<double>(e.clicks);
        double misses = static_cast<double>(std::max<int64_t>(e.impressions - e.clicks, 0));
        propensity =
            random.beta(a.propensity.prior_alpha + clicks, a.propensity.prior_beta + misses);
      }
      double context_weight = a.context_weight;
      if (a.has_context_rule) {
        Result<Value> r = pz::evaluate(a.context_rule, Value(), &s);
        context_weight = r.ok() ? to_number_js(r.value()) : 0;
        if (!std::isfinite(context_weight) || context_weight < 0) context_weight = 0;
      }
      c.scored = true;
      c.propensity = propensity;
      c.context_weight = context_weight;
      c.score = priority(propensity, context_weight, a.value, a.lever);
      if (!(c.score > 0)) {
        c.removed = R::kZeroPriority;
      } else if (trace.winner < 0 || c.score > best) {
        trace.runner_up = trace.winner;
        second = best;
        trace.winner = index;
        best = c.score;
      } else if (trace.runner_up < 0 || c.score > second) {
        trace.runner_up = index;
        second = c.score;
      }
    }
    if (trace.runner_up < 0) trace.runner_up = first_ineligible;
    // The rules that passed or failed, for the winner and the runner-up.
    auto explain_rules = [&](int pick, std::vector<Value>& rules) {
      if (pick < 0) return;
      const ActionDef& a = s.bundle->actions[static_cast<size_t>(pick)];
      if (!a.has_eligible) return;
      auto result = [&](const Program& program) {
        Result<Value> r = pz::evaluate(program, Value(), &s);
        return r.ok() ? r.value() : Value::String("error: " + r.status().message());
      };
      if (a.eligible_parts.empty()) {
        rules.push_back(result(a.eligible));
      } else {
        for (const Program& part : a.eligible_parts) rules.push_back(result(part));
      }
    };
    if (explain) {
      explain_rules(trace.winner, trace.winner_rules);
      explain_rules(trace.runner_up, trace.runner_up_rules);
    }
    if (trace.winner >= 0) {
      const ActionDef& a = s.bundle->actions[static_cast<size_t>(trace.winner)];
      if (!holdout) {
        d.action = a.id;
        d.content = a.content;
      }
      used[static_cast<size_t>(trace.winner)] = 1;
      if (a.group_index >= 0) used_groups[static_cast<size_t>(a.group_index)] = 1;
    }
    out.push_back(std::move(d));
  }
  return out;
}

Value Engine::why(const Decision& d) const {
  using R = CandidateTrace::Removed;
  const State& s = *s_;
  const DecisionTrace& trace = d.trace;
  auto id = [&](int action) {
    return Value::String(s.bundle->actions[static_cast<size_t>(action)].id);
  };
  Array candidates;
  for (const CandidateTrace& c : trace.candidates) {
    const ActionDef& a = s.bundle->actions[static_cast<size_t>(c.action)];
    std::vector<Member> m{{"action", id(c.action)}};
    if (c.eligible_checked) m.emplace_back("eligible", Value::Bool(c.eligible));
    if (c.scored) {
      m.emplace_back("score", Value::Number(c.score));
      m.emplace_back("propensity", Value::Number(c.propensity));
      m.emplace_back("context_weight", Value::Number(c.context_weight));
      m.emplace_back("value", Value::Number(a.value));
      m.emplace_back("lever", Value::Number(a.lever));
    }
    std::string removed;
    auto cap = [&](const char* what) {
      return std::string("cap ") + what + " reached (" + std::to_string(c.have) + "/" +
             std::to_string(c.limit) + ")";
    };
    switch (c.removed) {
      case R::kNo:
        break;
      case R::kAlreadyChosen:
        removed = "already chosen for another slot";
        break;
      case R::kGroupTaken:
        removed = "group " + a.group + " already has an action in this decision";
        break;
      case R::kOtherVariant: {
        const Experiment& x = s.bundle->experiments[static_cast<size_t>(a.experiment)];
        removed = "experiment " + x.id + ": visitor is in variant " +
                  x.variants[static_cast<size_t>(c.have)];
        break;
      }
      case R::kNotEligible:
        removed = "not eligible";
        break;
      case R::kRuleFailed:
        removed = "eligibility rule failed: " + c.error;
        break;
      case R::kCapTotal:
        removed = cap("total");
        break;
      case R::kCapPerDay:
        removed = cap("per_day");
        break;
      case R::kCapPerSession:
        removed = cap("per_session");
        break;
      case R::kCooldown:
        removed = "dismissed: cooldown until " + std::to_string(c.limit);
        break;
      case R::kZeroPriority:
        removed = "priority is 0";
        break;
    }
    if (!removed.empty()) m.emplace_back("removed", Value::String(std::move(removed)));
    const std::vector<Value>* rules = c.action == trace.winner      ? &trace.winner_rules
                                      : c.action == trace.runner_up ? &trace.runner_up_rules
                                                                    : nullptr;
    if (rules != nullptr && a.has_eligible) {
      if (!a.eligible_op.empty()) m.emplace_back("rules_op", Value::String(a.eligible_op));
      Array list;
      for (size_t k = 0; k < rules->size(); ++k) {
        const std::string& text =
            a.eligible_parts.empty() ? a.eligible_text : a.eligible_part_texts[k];
        list.push_back(Value::MakeObject({{"rule", Value::String(text)}, {"result", (*rules)[k]}}));
      }
      m.emplace_back("rules", Value::MakeArray(std::move(list)));
    }
    candidates.push_back(Value::MakeObject(std::move(m)));
  }
  std::vector<Member> why{{"slot", Value::String(d.slot)}};
  why.emplace_back("action", d.action.empty() ? Value::Null() : Value::String(d.action));
  why.emplace_back("holdout", Value::Bool(trace.holdout));
  if (trace.holdout && trace.winner >= 0) why.emplace_back("would_show", id(trace.winner));
  why.emplace_back("runner_up", trace.runner_up >= 0 ? id(trace.runner_up) : Value::Null());
  why.emplace_back("candidates", Value::MakeArray(std::move(candidates)));
  return Value::MakeObject(std::move(why));
}

Status Engine::feedback(std::string_view action, Outcome outcome, int64_t now) {
  State& s = *s_;
  int index = s.has_bundle ? s.bundle->action_index(action) : -1;
  if (index < 0) {
    return Status(Code::kNotFound, "feedback for unknown action \"" + std::string(action) + "\"");
  }
  if (!s.consent.personalization) return Status::Ok();  // caps need a profile: none kept
  now = clamp_time(now);
  ++s.local_version;
  Exposure& e = s.profile.exposures[static_cast<size_t>(index)];
  switch (outcome) {
    case Outcome::kImpression: {
      ++e.impressions;
      int64_t day = floor_div(now, kDayMs);
      if (day == e.day) {
        ++e.day_impressions;
      } else if (day > e.day) {
        e.day = day;
        e.day_impressions = 1;
      }
      if (s.profile.sessions == e.session) {
        ++e.session_impressions;
      } else if (s.profile.sessions > e.session) {
        e.session = s.profile.sessions;
        e.session_impressions = 1;
      }
      break;
    }
    case Outcome::kClick:
      ++e.clicks;
      break;
    case Outcome::kConversion:
      ++e.conversions;
      break;
    case Outcome::kDismiss:
      ++e.dismisses;
      if (!e.dismissed || now > e.last_dismiss) e.last_dismiss = now;
      e.dismissed = true;
      break;
  }
  return Status::Ok();
}

Status Engine::consent(const Value& consent, int64_t now) {
  State& s = *s_;
  bool had = s.consent.personalization;
  PZ_TRY(apply_consent(consent, s.policy, s.consent));
  now = clamp_time(now);
  s.consent_reg.set = true;
  s.consent_reg.value = consent_to_value(s.consent);
  s.consent_reg.stamp = s.stamp(now);
  if (had && !s.consent.personalization) erase(now);
  s.evaluate(now, Value());
  return Status::Ok();
}

const ConsentState& Engine::consent_state() const { return s_->consent; }

void Engine::erase(int64_t now) {
  State& s = *s_;
  now = clamp_time(now);
  Profile fresh;
  fresh.anonymous_id = s.profile.anonymous_id;
  fresh.device_id = s.profile.device_id;
  fresh.last_page = s.profile.last_page;  // context, not profile
  fresh.erased = true;
  fresh.erased_at = std::max(now, s.profile.erased ? s.profile.erased_at : now);
  fresh.metrics.assign(s.bundle->metrics.size(), Series());
  fresh.counts.assign(s.bundle->event_types.size(), Series());
  fresh.exposures.assign(s.bundle->actions.size(), Exposure());
  fresh.device_id = s.device_id;
  s.profile = std::move(fresh);
  s.profile_changed = true;
  // Registers written before the epoch and other devices' older data are gone too (the sync
  // state carries the epoch, so every replica does the same when it merges).
  s.user_reg = LwwRegister();
  s.trait_regs.clear();
  if (s.consent_reg.set && s.consent_reg.stamp.ms < s.profile.erased_at)
    s.consent_reg = LwwRegister();
  std::erase_if(s.remote.components,
                [&](const Component& c) { return c.epoch < s.profile.erased_at; });
  s.index_remote();
  std::fill(s.metric_changed.begin(), s.metric_changed.end(), 1);
  std::fill(s.count_changed.begin(), s.count_changed.end(), 1);
}

// ---------------------------------------------------------------------------------------------
// Sync: this device's profile as a CRDT component, and other devices' components read alongside.

namespace {

template <typename T>
const T* find_named(const std::vector<std::pair<std::string, T>>& items, const std::string& name) {
  auto it = std::lower_bound(items.begin(), items.end(), name,
                             [](const auto& e, const std::string& n) { return e.first < n; });
  return it != items.end() && it->first == name ? &it->second : nullptr;
}

template <typename T>
void add_named(std::vector<std::pair<std::string, T>>& items, const std::string& name,
               const T& item) {
  items.emplace_back(name, item);
}

void sort_named(auto& items) {
  pz::stable_sort(items.begin(), items.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
}

}  // namespace

void Engine::State::index_remote() {
  remote_metrics.assign(bundle->metrics.size(), {});
  remote_counts.assign(bundle->event_types.size(), {});
  remote_exposures.assign(bundle->actions.size(), {});
  for (const Component& c : remote.components) {
    for (size_t i = 0; i < bundle->metrics.size(); ++i) {
      if (const Series* s = find_named(c.metrics, bundle->metrics[i].id))
        remote_metrics[i].push_back(s);
    }
    for (size_t i = 0; i < bundle->event_types.size(); ++i) {
      if (const Series* s = find_named(c.counts, bundle->event_types[i]))
        remote_counts[i].push_back(s);
    }
    for (size_t i = 0; i < bundle->actions.size(); ++i) {
      if (const Exposure* e = find_named(c.exposures, bundle->actions[i].id)) {
        remote_exposures[i].push_back(e);
      }
    }
  }
  evaluated = false;  // everything may have changed: the next evaluation is a full one
}

Component Engine::State::local_component() const {
  Component c;
  c.device = device_id;
  c.epoch = profile.erased ? profile.erased_at : 0;
  c.version = local_version;
  c.seen = profile.seen;
  c.first_seen = profile.first_seen;
  c.last_seen = profile.last_seen;
  c.sessions = profile.sessions;
  for (size_t i = 0; i < bundle->metrics.size() && i < profile.metrics.size(); ++i) {
    if (profile.metrics[i].seen) add_named(c.metrics, bundle->metrics[i].id, profile.metrics[i]);
  }
  for (size_t i = 0; i < bundle->event_types.size() && i < profile.counts.size(); ++i) {
    if (profile.counts[i].seen) add_named(c.counts, bundle->event_types[i], profile.counts[i]);
  }
  for (size_t i = 0; i < bundle->actions.size() && i < profile.exposures.size(); ++i) {
    const Exposure& e = profile.exposures[i];
    if (e.impressions || e.clicks || e.conversions || e.dismisses) {
      add_named(c.exposures, bundle->actions[i].id, e);
    }
  }
  sort_named(c.metrics);
  sort_named(c.counts);
  sort_named(c.exposures);
  return c;
}

ProfileState Engine::State::local_state() const {
  ProfileState s;
  s.erased = profile.erased;
  s.erased_at = profile.erased_at;
  s.user_id = user_reg;
  s.consent = consent_reg;
  s.traits = trait_regs;
  if (local_version > 0) s.components.push_back(local_component());
  return s;
}

// An action's exposure over every device: counts add up; today's impressions add up over the
// components whose day is today; the session count is this device's (sessions are per device).
Exposure Engine::State::exposure(size_t action, int64_t at) const {
  Exposure e = profile.exposures[action];
  if (action >= remote_exposures.size() || remote_exposures[action].empty()) return e;
  int64_t today = floor_div(at, kDayMs);
  int64_t day_total = e.day == today ? e.day_impressions : 0;
  for (const Exposure* r : remote_exposures[action]) {
    e.impressions += r->impressions;
    e.clicks += r->clicks;
    e.conversions += r->conversions;
    e.dismisses += r->dismisses;
    if (r->day == today) day_total += r->day_impressions;
    if (r->dismissed && (!e.dismissed || r->last_dismiss > e.last_dismiss)) {
      e.last_dismiss = r->last_dismiss;
      e.dismissed = true;
    }
  }
  e.day = today;
  e.day_impressions = day_total;
  return e;
}

// profile.* over every device: first seen is the earliest, last seen the latest, sessions add up.
Value Engine::State::profile_fields() const {
  Profile merged;
  merged.anonymous_id = profile.anonymous_id;
  merged.user_id = profile.user_id;
  merged.seen = profile.seen;
  merged.first_seen = profile.first_seen;
  merged.last_seen = profile.last_seen;
  merged.sessions = profile.sessions;
  for (const Component& c : remote.components) {
    if (!c.seen) continue;
    merged.first_seen = merged.seen ? std::min(merged.first_seen, c.first_seen) : c.first_seen;
    merged.last_seen = merged.seen ? std::max(merged.last_seen, c.last_seen) : c.last_seen;
    merged.seen = true;
    merged.sessions += c.sessions;
  }
  return merged.profile_object();
}

namespace {

std::vector<Bucket> add_buckets(const std::vector<Bucket>& a, const std::vector<Bucket>& b) {
  std::vector<Bucket> out;
  out.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].index < b[j].index)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].index < a[i].index) {
      out.push_back(b[j++]);
    } else {
      out.push_back(Bucket{a[i].index, a[i].value + b[j].value});
      ++i;
      ++j;
    }
  }
  return out;
}

void add_series(Series& into, const Series& s) {
  if (!s.seen) return;
  into.total += s.total;
  into.last_t = into.seen ? std::max(into.last_t, s.last_t) : s.last_t;
  into.seen = true;
  into.hourly = add_buckets(into.hourly, s.hourly);
  into.daily = add_buckets(into.daily, s.daily);
}

}  // namespace

Profile Engine::merged_profile() const {
  const State& s = *s_;
  Profile p = s.profile;
  for (const Component& c : s.remote.components) {
    if (!c.seen) continue;
    p.first_seen = p.seen ? std::min(p.first_seen, c.first_seen) : c.first_seen;
    p.last_seen = p.seen ? std::max(p.last_seen, c.last_seen) : c.last_seen;
    p.seen = true;
    p.sessions += c.sessions;
  }
  for (size_t i = 0; i < p.metrics.size() && i < s.remote_metrics.size(); ++i) {
    for (const Series* r : s.remote_metrics[i]) add_series(p.metrics[i], *r);
  }
  for (size_t i = 0; i < p.counts.size() && i < s.remote_counts.size(); ++i) {
    for (const Series* r : s.remote_counts[i]) add_series(p.counts[i], *r);
  }
  for (size_t i = 0; i < p.exposures.size() && i < s.remote_exposures.size(); ++i) {
    Exposure& e = p.exposures[i];
    for (const Exposure* r : s.remote_exposures[i]) {
      e.impressions += r->impressions;
      e.clicks += r->clicks;
      e.conversions += r->conversions;
      e.dismisses += r->dismisses;
      if (r->dismissed) {
        e.last_dismiss = e.dismissed ? std::max(e.last_dismiss, r->last_dismiss) : r->last_dismiss;
        e.dismissed = true;
      }
    }
  }
  return p;
}

void Engine::set_device_id(std::string id) {
  s_->device_id = std::move(id);
  s_->profile.device_id = s_->device_id;
}

std::string Engine::export_state() const {
  return pz::export_state(merge(s_->local_state(), s_->remote));
}

Result<std::string> Engine::sync_request(std::string_view cursor_json) const {
  Result<VersionVector> cursor = import_versions(cursor_json, "cursor");
  if (!cursor.ok()) return cursor.status();
  const ProfileState all = merge(s_->local_state(), s_->remote);
  std::string out = "{\"delta\":";
  out += pz::export_state(delta(all, cursor.value()));
  out += ",\"versions\":";
  out += export_versions(versions(all));
  out += '}';
  return out;
}

Status Engine::merge_state(std::string_view json, int64_t now) {
  State& s = *s_;
  Result<ProfileState> imported = import_state(json);
  if (!imported.ok()) return imported.status();
  now = clamp_time(now);
  ProfileState merged = merge(merge(s.local_state(), s.remote), imported.value());
  // An erasure this device has not applied yet: its data is older than the epoch.
  if (merged.erased && (!s.profile.erased || merged.erased_at > s.profile.erased_at)) {
    erase(merged.erased_at);
    s.profile.erased_at = merged.erased_at;
  }
  // This device's own component from elsewhere (a restore): adopt it if newer.
  auto own = std::find_if(merged.components.begin(), merged.components.end(),
                          [&](const Component& c) { return c.device == s.device_id; });
  if (own != merged.components.end() && own->version > s.local_version) {
    const Component& c = *own;
    s.local_version = c.version;
    s.profile.seen = c.seen;
    s.profile.first_seen = c.first_seen;
    s.profile.last_seen = c.last_seen;
    s.profile.sessions = c.sessions;
    for (size_t i = 0; i < s.bundle->metrics.size(); ++i) {
      const Series* x = find_named(c.metrics, s.bundle->metrics[i].id);
      s.profile.metrics[i] = x ? *x : Series();
    }
    for (size_t i = 0; i < s.bundle->event_types.size(); ++i) {
      const Series* x = find_named(c.counts, s.bundle->event_types[i]);
      s.profile.counts[i] = x ? *x : Series();
    }
    for (size_t i = 0; i < s.bundle->actions.size(); ++i) {
      const Exposure* x = find_named(c.exposures, s.bundle->actions[i].id);
      s.profile.exposures[i] = x ? *x : Exposure();
    }
  }
  if (merged.consent.set &&
      (!s.consent_reg.set || compare(merged.consent.stamp, s.consent_reg.stamp) > 0)) {
    s.consent_reg = merged.consent;
    const Value& v = merged.consent.value;
    bool had = s.consent.personalization;
    if (v.is_object()) {
      for (auto [key, field] : {std::pair{"analytics", &ConsentState::analytics},
                                std::pair{"personalization", &ConsentState::personalization},
                                std::pair{"marketing", &ConsentState::marketing}}) {
        const Value* b = v.find(key);
        if (b != nullptr && b->is_bool()) s.consent.*field = b->as_bool();
      }
      s.consent.given = true;
    }
    // Withdrawn on another device: erase as of that withdrawal (the epoch it carries). The
    // state may carry no erasure epoch (a device that never had personalization), so the epoch
    // is applied to what this merge brings too: registers and other devices' components from
    // before it are gone, as on every replica that merges the state this engine now exports.
    if (had && !s.consent.personalization) {
      erase(merged.consent.stamp.ms);
      ProfileState epoch;
      epoch.erased = true;
      epoch.erased_at = s.profile.erased_at;
      merged = merge(merged, epoch);
    }
  }
  // Registers: the merged winners become this device's view.
  s.user_reg = merged.user_id;
  s.profile.user_id =
      s.user_reg.set && s.user_reg.value.is_string() ? s.user_reg.value.as_string() : "";
  s.trait_regs = merged.traits;
  std::vector<Member> traits;
  for (const auto& [key, reg] : s.trait_regs) {
    if (!reg.value.is_null()) traits.emplace_back(key, reg.value);
  }
  s.profile.traits = Value::MakeObject(std::move(traits));
  s.profile_changed = true;
  s.remote.components.clear();
  for (const Component& c : merged.components) {
    if (c.device != s.device_id) s.remote.components.push_back(c);
  }
  s.index_remote();
  s.evaluate(now, Value());
  return Status::Ok();
}

const Profile& Engine::profile() const { return s_->profile; }
void Engine::set_incremental(bool on) {
  if (on != s_->incremental) s_->evaluated = false;  // the conditions' caches start afresh
  s_->incremental = on;
}
uint64_t Engine::segment_evaluations() const { return s_->evaluations; }
uint64_t Engine::eligibility_evaluations() const { return s_->eligibility_evaluations; }

}  // namespace pz
