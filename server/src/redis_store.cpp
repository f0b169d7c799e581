#include "redis_store.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

namespace pz::server {

namespace {

constexpr int kSlots = 16384;
constexpr int kMaxAliasHops = 8;    // resolve() follows at most this many links
constexpr int kMaxConflicts = 500;  // optimistic transactions retried on one profile
constexpr int kMaxRedirects = 16;   // MOVED / ASK followed for one operation

uint16_t crc16(std::string_view s) {
  uint16_t crc = 0;
  for (unsigned char ch : s) {
    crc = static_cast<uint16_t>(crc ^ (static_cast<uint16_t>(ch) << 8));
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

Status unavailable(const std::string& message) {
  return Status(Code::kUnavailable, "store: " + message);
}

}  // namespace

int redis_key_slot(std::string_view key) {
  if (size_t open = key.find('{'); open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return crc16(key) & (kSlots - 1);
}

Result<std::vector<RedisAddress>> parse_redis_addresses(const std::string& text) {
  std::vector<RedisAddress> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto bad = [&item] {
      return Status(
          Code::kInvalidArgument,
          "\"" + item + "\" is not HOST:PORT (a port from 1 to 65535; IPv6 as [ADDR]:PORT)");
    };
    std::string host, port;
    if (!item.empty() && item[0] == '[') {
      const size_t close = item.find(']');
      if (close == std::string::npos || close + 1 >= item.size() || item[close + 1] != ':') {
        return bad();
      }
      host = item.substr(1, close - 1);
      port = item.substr(close + 2);
    } else {
      const size_t colon = item.rfind(':');
      if (colon == std::string::npos) return bad();
      host = item.substr(0, colon);
      port = item.substr(colon + 1);
      if (host.find(':') != std::string::npos) return bad();
    }
    if (host.empty() || port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad();
    }
    const int p = std::atoi(port.c_str());
    if (p < 1 || p > 65535) return bad();
    out.push_back(RedisAddress{host, p});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Keys (docs/server.md "Redis store"). Site and profile ids are escaped so that no '{', '}' or
// ':' of theirs can move a hash tag or merge two fields: every key of one profile shares the
// hash tag {p:SITE:ID} and so one slot.

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '%':
        out += "%25";
        break;
      case '{':
        out += "%7B";
        break;
      case '}':
        out += "%7D";
        break;
      case ':':
        out += "%3A";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A profile is one hash (fields `state`, `alias`: the user this anonymous id is linked to, and
// `linked:ID` for each anonymous id linked to it), so that its transactions watch one key (a
// multi-key command meets TRYAGAIN for as long as its slot migrates); its event log is a sorted
// set of event ids by arrival plus a hash of the stored events.
constexpr const char* kLinkedPrefix = "linked:";

struct ProfileKeys {
  std::string profile;  // hash: state, alias, linked:ID...
  std::string events;   // sorted set: event ids by arrival time (ms)
  std::string bodies;   // hash: event id -> stored event (JSON)
  int slot = 0;
};

ProfileKeys profile_keys(const std::string& site, const std::string& id) {
  const std::string base = "pz:{p:" + esc(site) + ":" + esc(id) + "}:";
  ProfileKeys k{base + "profile", base + "events", base + "bodies", 0};
  k.slot = redis_key_slot(k.profile);
  return k;
}

std::string dedup_key(const std::string& site, const std::string& event_id) {
  return "pz:{e:" + esc(site) + ":" + esc(event_id) + "}:dedup";
}

// Bundles: a hash of the versions' metadata (next, active, etag:N, bundle_version:N, created:N,
// signature:N) and a hash of their bodies (N -> body).
struct BundleKeys {
  std::string meta, bodies;
  int slot = 0;
};

BundleKeys bundle_keys(const std::string& site) {
  const std::string base = "pz:{b:" + esc(site) + "}:";
  BundleKeys k{base + "meta", base + "bodies", 0};
  k.slot = redis_key_slot(k.meta);
  return k;
}

constexpr const char* kEventsPattern = "pz:{p:*}:events";

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------------------------
// Lua scripts: each touches the keys of one slot only (all passed in KEYS).

// KEYS[1] dedup key; ARGV[1] TTL (s), ARGV[2] owner. 0: new (claimed, pending), 1: pending (an
// earlier try did not finish: write it again), 2: done (a duplicate).
const char* const kClaimScript =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then redis.call('SET', KEYS[1], '0' .. ARGV[2], 'EX', ARGV[1]) return 0 end\n"
    "if string.sub(v, 1, 1) == '0' then return 1 end\n"
    "return 2\n";

// KEYS[1] events, KEYS[2] bodies; ARGV[1] event id, ARGV[2] received (ms), ARGV[3] record,
// ARGV[4] TTL of the log (ms).
const char* const kAppendScript =
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[4])\n"
    "return 1\n";

// KEYS[1] events, KEYS[2] bodies: deletes both, answers how many events there were.
const char* const kDropLogScript =
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "redis.call('DEL', KEYS[1], KEYS[2])\n"
    "return n\n";

// KEYS[1] events, KEYS[2] bodies; ARGV[1] before (ms): deletes the events received before.
const char* const kPruneScript =
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])\n"
    "for i = 1, #ids, 500 do\n"
    "  redis.call('HDEL', KEYS[2], unpack(ids, i, math.min(i + 499, #ids)))\n"
    "end\n"
    "if #ids > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1]) end\n"
    "return #ids\n";

// KEYS: meta, bodies; ARGV: etag, bundle_version, created, body, signature. Stores the next
// version and makes it active.
const char* const kPutBundleScript =
    "local v = redis.call('HINCRBY', KEYS[1], 'next', 1)\n"
    "redis.call('HSET', KEYS[1], 'etag:' .. v, ARGV[1], 'bundle_version:' .. v, ARGV[2],\n"
    "           'created:' .. v, ARGV[3], 'signature:' .. v, ARGV[5], 'active', v)\n"
    "redis.call('HSET', KEYS[2], v, ARGV[4])\n"
    "return v\n";

// KEYS: meta; ARGV[1] version (0: the one before the active one). -1: none before, -2: no such
// version.
const char* const kActivateScript =
    "local target = tonumber(ARGV[1])\n"
    "if target == 0 then\n"
    "  local active = tonumber(redis.call('HGET', KEYS[1], 'active') or '0')\n"
    "  local best = 0\n"
    "  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "    local n = tonumber(string.match(f, '^etag:(%d+)$'))\n"
    "    if n and n < active and n > best then best = n end\n"
    "  end\n"
    "  if best == 0 then return -1 end\n"
    "  target = best\n"
    "elseif redis.call('HEXISTS', KEYS[1], 'etag:' .. ARGV[1]) == 0 then return -2 end\n"
    "redis.call('HSET', KEYS[1], 'active', target)\n"
    "return target\n";

// KEYS: meta, bodies; ARGV[1] version, 0: the active one. Answers {version, etag,
// bundle_version, created, body, signature}, or nil.
const char* const kReadBundleScript =
    "local v = ARGV[1]\n"
    "if v == '0' then v = redis.call('HGET', KEYS[1], 'active') end\n"
    "if not v or redis.call('HEXISTS', KEYS[1], 'etag:' .. v) == 0 then return false end\n"
    "local function get(k, f) return redis.call('HGET', k, f) or '' end\n"
    "return {v, get(KEYS[1], 'etag:' .. v), get(KEYS[1], 'bundle_version:' .. v),\n"
    "        get(KEYS[1], 'created:' .. v), get(KEYS[2], v), get(KEYS[1], 'signature:' .. v)}\n";

// ---------------------------------------------------------------------------------------------
// Connections

struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;
using Args = std::vector<std::string>;

bool is_string(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}
bool is_nil(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_NIL; }
std::string text(const redisReply* r) {
  return r != nullptr && r->str != nullptr ? std::string(r->str, r->len) : std::string();
}
// An integer reply, or a string holding one (Lua numbers and counters come back either way).
int64_t integer(const redisReply* r) {
  if (r == nullptr) return 0;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  return std::strtoll(text(r).c_str(), nullptr, 10);
}

timeval timeval_of(int ms) {
  timeval t{};
  t.tv_sec = ms / 1000;
  t.tv_usec = (ms % 1000) * 1000;
  return t;
}

// "host:port" -> host, port (the port after the last ':'; IPv6 hosts come without brackets).
std::pair<std::string, int> split_node(const std::string& node) {
  const size_t colon = node.rfind(':');
  if (colon == std::string::npos) return {node, 0};
  return {node.substr(0, colon), std::atoi(node.c_str() + colon + 1)};
}

class Conn {
 public:
  Conn(redisContext* c, std::string node, int timeout_ms)
      : c_(c), node_(std::move(node)), timeout_ms_(timeout_ms) {}
  ~Conn() { redisFree(c_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  static Result<std::unique_ptr<Conn>> open(const std::string& node, const RedisOptions& o) {
    auto [host, port] = split_node(node);
    redisContext* c = redisConnectWithTimeout(host.c_str(), port, timeval_of(o.connect_timeout_ms));
    if (c == nullptr) return unavailable("cannot connect to Redis at " + node + ": out of memory");
    if (c->err != 0) {
      std::string err = c->errstr;
      redisFree(c);
      return unavailable("cannot connect to Redis at " + node + ": " + err);
    }
    redisSetTimeout(c, timeval_of(o.command_timeout_ms));
    redisEnableKeepAlive(c);
    return std::make_unique<Conn>(c, node, o.command_timeout_ms);
  }

  bool append(const Args& a) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(a.size());
    lens.reserve(a.size());
    for (const std::string& s : a) {
      argv.push_back(s.data());
      lens.push_back(s.size());
    }
    return redisAppendCommandArgv(c_, static_cast<int>(a.size()), argv.data(), lens.data()) ==
           REDIS_OK;
  }
  // Sends what was appended (on the first call) and reads one reply; null on an I/O error.
  Reply read() {
    void* r = nullptr;
    if (redisGetReply(c_, &r) != REDIS_OK) return nullptr;
    return Reply(static_cast<redisReply*>(r));
  }
  std::string error() const {
    if (c_->err == 0 || c_->errstr[0] == '\0') return "connection lost";
    const std::string e = c_->errstr;
    if (e.find("temporarily unavailable") != std::string::npos) {
      return "no reply within " + std::to_string(timeout_ms_) + " ms";
    }
    return e;
  }
  const std::string& node() const { return node_; }

 private:
  redisContext* c_;
  std::string node_;
  int timeout_ms_;
};

// Why a session ended early: the operation is then tried again (or given up) by the client.
enum class Fail : unsigned char {
  kNone,
  kIo,     // the connection broke or timed out
  kMoved,  // the slot lives elsewhere (the map is stale)
  kAsk,    // the slot is migrating and this key is on the importing node
  kBusy,   // TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN, READONLY: later, maybe elsewhere
  kWatch,  // an optimistic transaction lost its race (EXEC answered nil)
};

// Classifies an error reply; `node`/`slot` get a redirect's target.
Fail classify(const redisReply* r, const std::string& from, std::string& node, int& slot) {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) return Fail::kNone;
  const std::string e = text(r);
  auto starts = [&e](const char* p) { return e.rfind(p, 0) == 0; };
  if (starts("MOVED ") || starts("ASK ")) {
    // "MOVED 3999 127.0.0.1:6381" (an empty host means the host we asked)
    const size_t a = e.find(' '), b = e.find(' ', a + 1);
    if (b == std::string::npos) return Fail::kBusy;
    slot = std::atoi(e.c_str() + a + 1);
    node = e.substr(b + 1);
    if (!node.empty() && node[0] == ':') node = split_node(from).first + node;
    return starts("MOVED ") ? Fail::kMoved : Fail::kAsk;
  }
  if (starts("TRYAGAIN") || starts("CLUSTERDOWN") || starts("LOADING") || starts("MASTERDOWN") ||
      starts("READONLY")) {
    return Fail::kBusy;
  }
  return Fail::kNone;
}

// One try of an operation on one connection. Commands go out pipelined, each after ASKING
// when an ASK redirect sent us here (once per transaction: the flag lasts until EXEC).
class Session {
 public:
  Session(Conn& conn, bool asking) : conn_(conn), asking_(asking) {}

  // Sends `cmds` in one round trip and answers every reply; only an I/O error fails.
  Result<std::vector<Reply>> exchange(const std::vector<Args>& cmds) {
    std::vector<bool> asked;
    for (const Args& a : cmds) {
      std::string name = a.empty() ? "" : a[0];
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      const bool ask = asking_ && !in_multi_;
      if ((ask && !conn_.append({"ASKING"})) || !conn_.append(a)) return io();
      asked.push_back(ask);
      if (name == "WATCH") watching_ = true;
      if (name == "MULTI") in_multi_ = true;
      if (name == "EXEC" || name == "DISCARD") in_multi_ = watching_ = false;
      if (name == "UNWATCH") watching_ = false;
    }
    if (unsafe_) sent_unsafe_ = true;
    std::vector<Reply> out;
    for (bool ask : asked) {
      if (ask && conn_.read() == nullptr) return io();
      Reply r = conn_.read();
      if (r == nullptr) return io();
      out.push_back(std::move(r));
    }
    return out;
  }

  // exchange(), but a redirect or a "busy" error in any reply ends the session.
  Result<std::vector<Reply>> run(const std::vector<Args>& cmds) {
    Result<std::vector<Reply>> r = exchange(cmds);
    if (!r.ok()) return r;
    for (const Reply& reply : r.value()) {
      std::string node;
      int slot = -1;
      Fail f = classify(reply.get(), conn_.node(), node, slot);
      if (f != Fail::kNone) {
        fail_ = f;
        redirect_node_ = node;
        redirect_slot_ = slot;
        return unavailable("Redis at " + conn_.node() + ": " + text(reply.get()));
      }
    }
    return r;
  }
  Result<Reply> run1(const Args& cmd) {
    Result<std::vector<Reply>> r = run({cmd});
    if (!r.ok()) return r.status();
    return std::move(r.value()[0]);
  }

  // The next commands include a write that must not be sent twice when its outcome is unknown
  // (the connection breaks before the reply).
  void unsafe() { unsafe_ = true; }
  Status watch_failed() {
    fail_ = Fail::kWatch;
    return unavailable("write conflict");
  }

  Fail fail() const { return fail_; }
  bool sent_unsafe() const { return sent_unsafe_; }
  bool dirty() const { return watching_ || in_multi_; }
  bool in_multi() const { return in_multi_; }
  const std::string& redirect_node() const { return redirect_node_; }
  int redirect_slot() const { return redirect_slot_; }
  Conn& conn() { return conn_; }

 private:
  Status io() {
    fail_ = Fail::kIo;
    return unavailable("Redis at " + conn_.node() + ": " + conn_.error());
  }

  Conn& conn_;
  bool asking_;
  bool watching_ = false, in_multi_ = false, unsafe_ = false, sent_unsafe_ = false;
  Fail fail_ = Fail::kNone;
  std::string redirect_node_;
  int redirect_slot_ = -1;
};

// What every client of one store shares: the options, the mode and the slot map.
struct Topology {
  RedisOptions options;
  Metrics* metrics = nullptr;
  bool cluster = false;
  std::vector<std::string> seeds;

  mutable std::shared_mutex mu;
  std::vector<std::string> nodes;  // masters (cluster) or the one Redis
  std::vector<int16_t> owner = std::vector<int16_t>(kSlots, -1);

  std::mutex refresh_mu;
  std::chrono::steady_clock::time_point refreshed{};

  std::string node_for(int slot) const {
    std::shared_lock lock(mu);
    if (!cluster) return nodes.empty() ? std::string() : nodes[0];
    const int i = owner[static_cast<size_t>(slot)];
    return i < 0 ? std::string() : nodes[static_cast<size_t>(i)];
  }
  void moved(int slot, const std::string& node) {
    if (slot < 0 || slot >= kSlots || node.empty()) return;
    std::unique_lock lock(mu);
    auto it = std::find(nodes.begin(), nodes.end(), node);
    if (it == nodes.end()) it = nodes.insert(nodes.end(), node);
    owner[static_cast<size_t>(slot)] = static_cast<int16_t>(it - nodes.begin());
  }
  // The nodes that serve at least one slot.
  std::vector<std::string> masters() const {
    std::shared_lock lock(mu);
    if (!cluster) return nodes;
    std::set<int16_t> used(owner.begin(), owner.end());
    std::vector<std::string> out;
    for (int16_t i : used) {
      if (i >= 0) out.push_back(nodes[static_cast<size_t>(i)]);
    }
    return out;
  }
  std::vector<std::string> candidates() const {
    std::shared_lock lock(mu);
    std::vector<std::string> out = nodes;
    for (const std::string& s : seeds) {
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    }
    return out;
  }
};

void backoff(int n) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int ms = std::min(25 << std::min(n - 1, 4), 250) + static_cast<int>(rng() % 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// A set of connections (one per node) and the retry rules. Not thread-safe: each worker thread
// has one, and reads borrow one from a pool.
class Client {
 public:
  explicit Client(Topology& t) : t_(t) {}

  // Runs `f` against the node that owns `slot`, again after MOVED (with the map updated), ASK
  // (on the importing node, after ASKING), a lost optimistic race, or a broken connection
  // (reconnecting, with the map refreshed and a short backoff, a bounded number of times; not
  // after a write marked unsafe was sent). Other results of `f` are answered as they are.
  template <typename T>
  Result<T> on_slot(int slot, const std::function<Result<T>(Session&)>& f) {
    std::string ask_node;
    int io_fails = 0, busy = 0, redirects = 0, conflicts = 0;
    for (;;) {
      const bool asking = !ask_node.empty();
      const std::string node = asking ? ask_node : t_.node_for(slot);
      ask_node.clear();
      if (node.empty()) {
        if (++io_fails >= t_.options.tries) {
          return unavailable("no Redis node serves slot " + std::to_string(slot) +
                             " (CLUSTER SLOTS does not list it)");
        }
        backoff(io_fails);
        (void)refresh(true);
        continue;
      }
      Result<Conn*> c = connect(node);
      if (!c.ok()) {
        if (++io_fails >= t_.options.tries) return c.status();
        backoff(io_fails);
        (void)refresh(true);
        continue;
      }
      Session s(*c.value(), asking);
      Result<T> r = f(s);
      finish(s);
      switch (s.fail()) {
        case Fail::kNone:
          return r;
        case Fail::kWatch:
          if (++conflicts > kMaxConflicts) {
            return unavailable("too many concurrent writes to one key (gave up after " +
                               std::to_string(kMaxConflicts) + " tries)");
          }
          if (conflicts > 3) yield_a_little(conflicts);
          continue;
        case Fail::kMoved:
          if (t_.metrics != nullptr) t_.metrics->store_moved.fetch_add(1);
          if (++redirects > kMaxRedirects) return r;
          t_.moved(s.redirect_slot(), s.redirect_node());
          (void)refresh(false);
          continue;
        case Fail::kAsk:
          if (t_.metrics != nullptr) t_.metrics->store_asked.fetch_add(1);
          if (++redirects > kMaxRedirects) return r;
          ask_node = s.redirect_node();
          continue;
        case Fail::kBusy:
          if (++busy >= 2 * t_.options.tries) return r;
          backoff(busy);
          (void)refresh(false);
          continue;
        case Fail::kIo:
          if (s.sent_unsafe()) {
            return unavailable(r.status().message().substr(7) +
                               " before it answered a write: it may or may not have happened");
          }
          if (++io_fails >= t_.options.tries) return r;
          backoff(io_fails);
          (void)refresh(true);
          continue;
      }
    }
  }

  // One command (idempotent: repeated after a broken connection).
  Result<Reply> command(int slot, const Args& cmd) {
    return on_slot<Reply>(slot, [&cmd](Session& s) { return s.run1(cmd); });
  }
  // One write that must not be repeated when its outcome is unknown.
  Result<Reply> write_once(int slot, const Args& cmd) {
    return on_slot<Reply>(slot, [&cmd](Session& s) {
      s.unsafe();
      return s.run1(cmd);
    });
  }

  // Idempotent commands on any slots: pipelined per node, then the ones that met a redirect or
  // a broken connection one by one through on_slot. An error reply is answered as a reply.
  std::vector<Result<Reply>> each(const std::vector<std::pair<int, Args>>& cmds) {
    std::vector<Result<Reply>> out;
    out.reserve(cmds.size());
    for (size_t i = 0; i < cmds.size(); ++i) out.emplace_back(unavailable("not sent"));
    std::map<std::string, std::vector<size_t>> by_node;
    for (size_t i = 0; i < cmds.size(); ++i) by_node[t_.node_for(cmds[i].first)].push_back(i);
    std::vector<size_t> again;
    for (const auto& [node, list] : by_node) {
      Result<Conn*> c = node.empty() ? Result<Conn*>(unavailable("no node")) : connect(node);
      if (!c.ok()) {
        again.insert(again.end(), list.begin(), list.end());
        continue;
      }
      Session s(*c.value(), false);
      std::vector<Args> batch;
      for (size_t i : list) batch.push_back(cmds[i].second);
      Result<std::vector<Reply>> r = s.exchange(batch);
      if (!r.ok()) {
        drop(node);
        again.insert(again.end(), list.begin(), list.end());
        continue;
      }
      for (size_t k = 0; k < list.size(); ++k) {
        std::string to;
        int slot = -1;
        if (classify(r.value()[k].get(), node, to, slot) != Fail::kNone) {
          again.push_back(list[k]);
        } else {
          out[list[k]] = std::move(r.value()[k]);
        }
      }
    }
    // One by one, with the retry rules; a node that failed that way fails the rest at once.
    std::map<std::string, Status> failed;
    for (size_t i : again) {
      const std::string node = t_.node_for(cmds[i].first);
      if (auto f = failed.find(node); f != failed.end()) {
        out[i] = f->second;
        continue;
      }
      out[i] = command(cmds[i].first, cmds[i].second);
      if (!out[i].ok()) failed.emplace(node, out[i].status());
    }
    return out;
  }

  // A command for one node (SCAN), with reconnects.
  Result<Reply> on_node(const std::string& node, const Args& cmd) {
    for (int fails = 1;; ++fails) {
      Result<Conn*> c = connect(node);
      if (c.ok()) {
        Session s(*c.value(), false);
        Result<Reply> r = s.run1(cmd);
        if (s.fail() != Fail::kIo) return r;
        drop(node);
        if (fails >= t_.options.tries) return r;
      } else if (fails >= t_.options.tries) {
        return c.status();
      }
      backoff(fails);
    }
  }

  // Learns the slot map from the first node that answers CLUSTER SLOTS. At most every 100 ms
  // unless `force`d (after a broken connection), at most every 20 ms then.
  Status refresh(bool force) {
    if (!t_.cluster) return Status::Ok();
    std::lock_guard<std::mutex> lock(t_.refresh_mu);
    const auto now = std::chrono::steady_clock::now();
    if (now - t_.refreshed < std::chrono::milliseconds(force ? 20 : 100)) return Status::Ok();
    std::string tried;
    for (const std::string& node : t_.candidates()) {
      Result<Conn*> c = connect(node);
      if (!c.ok()) {
        tried += (tried.empty() ? "" : "; ") + c.status().message().substr(7);
        continue;
      }
      Session s(*c.value(), false);
      Result<Reply> r = s.run1({"CLUSTER", "SLOTS"});
      if (!r.ok() || r.value()->type != REDIS_REPLY_ARRAY) {
        if (s.fail() == Fail::kIo) drop(node);
        tried += (tried.empty() ? "" : "; ") + node + ": " +
                 (r.ok() ? text(r.value().get()) : r.status().message());
        continue;
      }
      install(*r.value(), node);
      t_.refreshed = std::chrono::steady_clock::now();
      return Status::Ok();
    }
    t_.refreshed = std::chrono::steady_clock::now();
    return unavailable("no Redis Cluster node answered CLUSTER SLOTS (" + tried + ")");
  }

  std::vector<std::string> masters() const { return t_.masters(); }

  Result<Conn*> connect(const std::string& node) {
    auto it = conns_.find(node);
    if (it != conns_.end()) return it->second.get();
    Result<std::unique_ptr<Conn>> c = Conn::open(node, t_.options);
    if (!c.ok()) return c.status();
    Conn* raw = c.value().get();
    conns_.emplace(node, c.take());
    return raw;
  }
  void drop(const std::string& node) {
    if (conns_.erase(node) > 0 && t_.metrics != nullptr) {
      t_.metrics->store_connection_errors.fetch_add(1);
    }
  }

 private:
  // After a session: a transaction left open is discarded (a WATCH unwatched), a broken
  // connection dropped.
  void finish(Session& s) {
    if (s.fail() == Fail::kIo) {
      drop(s.conn().node());
      return;
    }
    if (!s.dirty()) return;
    Session cleanup(s.conn(), false);
    Result<std::vector<Reply>> r = cleanup.exchange({{s.in_multi() ? "DISCARD" : "UNWATCH"}});
    if (!r.ok()) drop(s.conn().node());
  }

  void install(const redisReply& slots, const std::string& from) {
    std::vector<std::string> nodes;
    std::vector<int16_t> owner(kSlots, -1);
    for (size_t i = 0; i < slots.elements; ++i) {
      const redisReply* e = slots.element[i];
      if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) continue;
      const redisReply* master = e->element[2];
      if (master->type != REDIS_REPLY_ARRAY || master->elements < 2) continue;
      std::string host = text(master->element[0]);
      if (host.empty() || host == "?") host = split_node(from).first;
      const std::string node = host + ":" + std::to_string(integer(master->element[1]));
      auto it = std::find(nodes.begin(), nodes.end(), node);
      if (it == nodes.end()) it = nodes.insert(nodes.end(), node);
      const int16_t index = static_cast<int16_t>(it - nodes.begin());
      const int64_t lo = std::max<int64_t>(0, integer(e->element[0]));
      const int64_t hi = std::min<int64_t>(kSlots - 1, integer(e->element[1]));
      for (int64_t slot = lo; slot <= hi; ++slot) owner[static_cast<size_t>(slot)] = index;
    }
    std::unique_lock lock(t_.mu);
    t_.nodes = std::move(nodes);
    t_.owner = std::move(owner);
  }

  static void yield_a_little(int conflicts) {
    thread_local std::minstd_rand rng(std::random_device{}());
    const int us = static_cast<int>(rng() % static_cast<unsigned>(100 * std::min(conflicts, 20)));
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }

  Topology& t_;
  std::unordered_map<std::string, std::unique_ptr<Conn>> conns_;
};

// ---------------------------------------------------------------------------------------------
// The store

Status reply_error(const redisReply* r, const char* what) {
  return unavailable(std::string(what) + ": " +
                     (r != nullptr && r->type == REDIS_REPLY_ERROR ? text(r) : "unexpected reply"));
}

class RedisStore final : public Store {
 public:
  RedisStore(const RedisOptions& options, Metrics* metrics) {
    t_.options = options;
    t_.metrics = metrics;
    for (const RedisAddress& a : options.seeds) t_.seeds.push_back(a.text());
    dedup_ttl_s_ = static_cast<int64_t>(options.retention_days) * 86400;
  }
  ~RedisStore() override { close(); }

  Status start() {
    if (t_.seeds.empty()) return unavailable("no Redis address given (--redis HOST:PORT)");
    Client probe(t_);
    std::string tried, seed;
    for (const std::string& s : t_.seeds) {
      Result<Conn*> c = probe.connect(s);
      if (!c.ok()) {
        tried += (tried.empty() ? "" : "; ") + c.status().message().substr(7);
        continue;
      }
      Session session(*c.value(), false);
      Result<Reply> info = session.run1({"INFO", "cluster"});
      if (!info.ok() || !is_string(info.value().get())) {
        tried += (tried.empty() ? "" : "; ") + s + ": " +
                 (info.ok() ? text(info.value().get()) : info.status().message());
        probe.drop(s);
        continue;
      }
      t_.cluster = text(info.value().get()).find("cluster_enabled:1") != std::string::npos;
      seed = s;
      break;
    }
    if (seed.empty()) return unavailable("cannot reach Redis: " + tried);
    if (!t_.cluster) {
      if (t_.seeds.size() > 1) {
        return unavailable("Redis at " + seed +
                           " is a single Redis, not a cluster node: give --redis one address, "
                           "or the nodes of a Redis Cluster");
      }
      t_.nodes = {seed};
    } else {
      PZ_TRY(probe.refresh(true));
      if (t_.masters().empty()) {
        return unavailable("the Redis Cluster at " + seed +
                           " serves no slots yet (CLUSTER SLOTS is empty): create it first "
                           "(redis-cli --cluster create ...)");
      }
    }
    for (int i = 0; i < std::max(1, t_.options.workers); ++i) {
      workers_.emplace_back([this] { work(); });
    }
    return Status::Ok();
  }

  void append_events(const std::string& site, std::vector<StoredEvent> events, int64_t now,
                     Done<CollectResult> done) override {
    write<CollectResult>([this, site, events = std::move(events),
                          now](Client& c) { return append(c, site, events, now); },
                         std::move(done));
  }

  void update_profile(const std::string& site, const std::string& id, StateUpdate update,
                      int64_t now, Done<ProfileUpdate> done) override {
    write<ProfileUpdate>(
        [site, id, update = std::move(update)](Client& c) -> Result<ProfileUpdate> {
          // A target that gets linked while we write is resolved again.
          for (int round = 0; round < kMaxAliasHops; ++round) {
            Result<std::string> target = resolve(c, site, id);
            if (!target.ok()) return target.status();
            Result<std::optional<ProfileUpdate>> r = update_one(c, site, target.value(), update);
            if (!r.ok()) return r.status();
            if (r.value().has_value()) return std::move(*r.value());
          }
          return unavailable("the profile's aliases kept changing");
        },
        std::move(done));
  }

  void link(const std::string& site, const std::string& anonymous_id, const std::string& user_id,
            StateMerge merge, int64_t now, Done<LinkResult> done) override {
    write<LinkResult>([site, anonymous_id, user_id, merge = std::move(merge)](
                          Client& c) { return link_now(c, site, anonymous_id, user_id, merge); },
                      std::move(done));
  }

  void erase_profile(const std::string& site, const std::string& id, std::string erased_state,
                     int64_t now, Done<ErasureResult> done) override {
    write<ErasureResult>([site, id, erased_state = std::move(erased_state)](
                             Client& c) { return erase_now(c, site, id, erased_state); },
                         std::move(done));
  }

  void put_bundle(const std::string& site, BundleVersion bundle,
                  Done<BundleVersion> done) override {
    write<BundleVersion>(
        [site, bundle = std::move(bundle)](Client& c) -> Result<BundleVersion> {
          const BundleKeys k = bundle_keys(site);
          // Not repeated when its outcome is unknown (it would store a second version).
          Result<Reply> r =
              c.write_once(k.slot, {"EVAL", kPutBundleScript, "2", k.meta, k.bodies, bundle.etag,
                                    bundle.bundle_version, std::to_string(bundle.created),
                                    bundle.body, bundle.signature});
          if (!r.ok()) return r.status();
          if (r.value()->type != REDIS_REPLY_INTEGER) {
            return reply_error(r.value().get(), "put bundle");
          }
          BundleVersion out = bundle;
          out.version = r.value()->integer;
          return out;
        },
        std::move(done));
  }

  void activate_bundle(const std::string& site, int64_t version,
                       Done<BundleVersion> done) override {
    write<BundleVersion>(
        [site, version](Client& c) -> Result<BundleVersion> {
          const BundleKeys k = bundle_keys(site);
          Result<Reply> r =
              c.command(k.slot, {"EVAL", kActivateScript, "1", k.meta, std::to_string(version)});
          if (!r.ok()) return r.status();
          if (r.value()->type != REDIS_REPLY_INTEGER) {
            return reply_error(r.value().get(), "activate bundle");
          }
          if (r.value()->integer == -1) {
            return Status(Code::kConflict, "there is no bundle version before the active one");
          }
          if (r.value()->integer == -2) {
            return Status(Code::kNotFound, "no bundle version " + std::to_string(version));
          }
          Result<std::optional<BundleVersion>> b = read_bundle(c, site, r.value()->integer);
          if (!b.ok()) return b.status();
          if (!b.value().has_value()) return unavailable("the activated bundle version vanished");
          return std::move(*b.value());
        },
        std::move(done));
  }

  void prune_events(int64_t before, Done<int64_t> done) override {
    write<int64_t>([before](Client& c) { return prune_now(c, before); }, std::move(done));
  }

  Result<std::optional<ProfileRecord>> get_profile(const std::string& site,
                                                   const std::string& id) override {
    return read<std::optional<ProfileRecord>>(
        [&](Client& c) -> Result<std::optional<ProfileRecord>> {
          Result<std::string> target = resolve(c, site, id);
          if (!target.ok()) return target.status();
          const ProfileKeys k = profile_keys(site, target.value());
          Result<std::vector<Reply>> r = c.on_slot<std::vector<Reply>>(k.slot, [&k](Session& s) {
            return s.run({{"HGETALL", k.profile}, {"ZCARD", k.events}});
          });
          if (!r.ok()) return r.status();
          Fields f = fields_of(r.value()[0].get());
          if (!f.state.has_value()) return std::optional<ProfileRecord>();
          ProfileRecord rec;
          rec.id = target.take();
          rec.state = std::move(*f.state);
          rec.aliases = std::move(f.linked);
          rec.events = integer(r.value()[1].get());
          std::vector<std::pair<int, Args>> counts;
          for (const std::string& a : rec.aliases) {
            const ProfileKeys ak = profile_keys(site, a);
            counts.push_back({ak.slot, {"ZCARD", ak.events}});
          }
          for (Result<Reply>& n : c.each(counts)) {
            if (!n.ok()) return n.status();
            rec.events += integer(n.value().get());
          }
          return std::optional<ProfileRecord>(std::move(rec));
        });
  }

  Result<std::optional<ProfileUpdate>> get_state(const std::string& site,
                                                 const std::string& id) override {
    return read<std::optional<ProfileUpdate>>(
        [&](Client& c) -> Result<std::optional<ProfileUpdate>> {
          // Follows the links and reads the state in one command per profile visited.
          std::string cur = id;
          for (int hop = 0; hop < kMaxAliasHops; ++hop) {
            const ProfileKeys k = profile_keys(site, cur);
            Result<Reply> r = c.command(k.slot, {"HMGET", k.profile, "alias", "state"});
            if (!r.ok()) return r.status();
            const redisReply* x = r.value().get();
            if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
              return reply_error(x, "read profile");
            }
            if (is_string(x->element[0])) {
              cur = text(x->element[0]);
              continue;
            }
            if (is_nil(x->element[1])) return std::optional<ProfileUpdate>();
            return std::optional<ProfileUpdate>(ProfileUpdate{cur, text(x->element[1])});
          }
          return long_chain();
        });
  }

  Result<std::optional<BundleVersion>> active_bundle(const std::string& site) override {
    return read<std::optional<BundleVersion>>([&](Client& c) { return read_bundle(c, site, 0); });
  }

  Result<BundleList> bundle_versions(const std::string& site) override {
    return read<BundleList>([&](Client& c) -> Result<BundleList> {
      const BundleKeys k = bundle_keys(site);
      Result<Reply> r = c.command(k.slot, {"HGETALL", k.meta});
      if (!r.ok()) return r.status();
      const redisReply* h = r.value().get();
      if (h->type != REDIS_REPLY_ARRAY) return reply_error(h, "list bundles");
      BundleList list;
      std::map<int64_t, BundleVersion> by_version;
      for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const std::string field = text(h->element[i]);
        std::string value = text(h->element[i + 1]);
        const size_t colon = field.find(':');
        if (colon == std::string::npos) {
          if (field == "active") list.active = std::strtoll(value.c_str(), nullptr, 10);
          continue;
        }
        const std::string name = field.substr(0, colon);
        BundleVersion& b = by_version[std::strtoll(field.c_str() + colon + 1, nullptr, 10)];
        if (name == "etag") b.etag = std::move(value);
        if (name == "bundle_version") b.bundle_version = std::move(value);
        if (name == "created") b.created = std::strtoll(value.c_str(), nullptr, 10);
        if (name == "signature") b.signature = std::move(value);
      }
      for (auto& [v, b] : by_version) {
        b.version = v;
        list.versions.push_back(std::move(b));
      }
      return list;
    });
  }

  Result<bool> has_event(const std::string& site, const std::string& id) override {
    return read<bool>([&](Client& c) -> Result<bool> {
      const std::string dk = dedup_key(site, id);
      Result<Reply> d = c.command(redis_key_slot(dk), {"GET", dk});
      if (!d.ok()) return d.status();
      if (is_nil(d.value().get())) return false;
      // The dedup key names the log the event went to.
      const ProfileKeys k = profile_keys(site, text(d.value().get()).substr(1));
      Result<Reply> r = c.command(k.slot, {"HEXISTS", k.bodies, id});
      if (!r.ok()) return r.status();
      return integer(r.value().get()) == 1;
    });
  }

  void close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      closing_ = true;
    }
    cv_.notify_all();
    for (std::thread& w : workers_) {
      if (w.joinable()) w.join();
    }
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_.clear();
  }

 private:
  // A profile hash's fields.
  struct Fields {
    std::optional<std::string> state, alias;
    std::vector<std::string> linked;  // sorted
  };
  static Fields fields_of(const redisReply* h) {
    Fields f;
    const size_t prefix = std::char_traits<char>::length(kLinkedPrefix);
    for (size_t i = 0; h != nullptr && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements;
         i += 2) {
      std::string field = text(h->element[i]);
      if (field == "state") {
        f.state = text(h->element[i + 1]);
      } else if (field == "alias") {
        f.alias = text(h->element[i + 1]);
      } else if (field.rfind(kLinkedPrefix, 0) == 0) {
        f.linked.push_back(field.substr(prefix));
      }
    }
    std::sort(f.linked.begin(), f.linked.end());
    return f;
  }

  static Status long_chain() {
    return unavailable("the links of this id form a chain longer than " +
                       std::to_string(kMaxAliasHops));
  }

  // The profile an id stands for: the user it is linked to (followed through links made while
  // a link of that user was still in progress), or itself.
  static Result<std::string> resolve(Client& c, const std::string& site, const std::string& id) {
    std::string cur = id;
    for (int hop = 0; hop < kMaxAliasHops; ++hop) {
      const ProfileKeys k = profile_keys(site, cur);
      Result<Reply> r = c.command(k.slot, {"HGET", k.profile, "alias"});
      if (!r.ok()) return r.status();
      if (is_nil(r.value().get())) return cur;
      if (!is_string(r.value().get())) return reply_error(r.value().get(), "resolve");
      cur = text(r.value().get());
    }
    return long_chain();
  }

  // One optimistic transaction on the target's hash: WATCH, read state and alias, update,
  // MULTI/HSET/EXEC (again when EXEC answers nil). nullopt when the target got linked meanwhile
  // (the caller resolves again).
  static Result<std::optional<ProfileUpdate>> update_one(Client& c, const std::string& site,
                                                         const std::string& target,
                                                         const StateUpdate& update) {
    const ProfileKeys k = profile_keys(site, target);
    return c.on_slot<std::optional<ProfileUpdate>>(
        k.slot, [&](Session& s) -> Result<std::optional<ProfileUpdate>> {
          Result<std::vector<Reply>> r =
              s.run({{"WATCH", k.profile}, {"HMGET", k.profile, "state", "alias"}});
          if (!r.ok()) return r.status();
          const redisReply* x = r.value()[1].get();
          if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
            return reply_error(x, "read profile");
          }
          if (!is_nil(x->element[1])) return std::optional<ProfileUpdate>();
          Result<std::string> next = update(target, text(x->element[0]));
          if (!next.ok()) return next.status();
          s.unsafe();
          Result<std::vector<Reply>> w =
              s.run({{"MULTI"}, {"HSET", k.profile, "state", next.value()}, {"EXEC"}});
          if (!w.ok()) return w.status();
          const redisReply* exec = w.value()[2].get();
          if (is_nil(exec)) return s.watch_failed();
          if (exec->type != REDIS_REPLY_ARRAY) return reply_error(exec, "write profile");
          return std::optional<ProfileUpdate>(ProfileUpdate{target, next.take()});
        });
  }

  // Link, in an order that is safe to repeat and to run concurrently (docs/server.md):
  // 1. claim the anonymous id: HSETNX alias in its hash (a conflict changes nothing); from then
  //    on every write through it goes to the user (writers watch that hash), so its state is
  //    frozen;
  // 2. merge that state into the user's in one optimistic transaction that also records the
  //    link in the user's hash;
  // 3. move the anonymous id's own links (none in practice) to the user, then delete its state.
  //    A state next to an alias means 2 or 3 did not finish: a repeated identify finishes them.
  static Result<LinkResult> link_now(Client& c, const std::string& site, const std::string& anon,
                                     const std::string& user, const StateMerge& merge) {
    LinkResult result{user, false};
    const ProfileKeys a = profile_keys(site, anon);
    const ProfileKeys u = profile_keys(site, user);
    const std::string linked_field = kLinkedPrefix + anon;
    Result<Reply> cur = c.command(a.slot, {"HGET", a.profile, "alias"});
    if (!cur.ok()) return cur.status();
    bool claimed = false;
    if (!is_nil(cur.value().get())) {
      if (text(cur.value().get()) != user) {
        return Status(Code::kConflict, "anonymous_id is linked to another user");
      }
    } else {
      if (anon == user) return result;
      Result<std::string> user_target = resolve(c, site, user);
      if (!user_target.ok()) return user_target.status();
      if (user_target.value() == anon) {
        return Status(Code::kConflict, "user_id is linked to anonymous_id");
      }
      Result<Reply> set = c.command(a.slot, {"HSETNX", a.profile, "alias", user});
      if (!set.ok()) return set.status();
      if (integer(set.value().get()) == 1) {
        claimed = true;
      } else {
        Result<Reply> now = c.command(a.slot, {"HGET", a.profile, "alias"});
        if (!now.ok()) return now.status();
        if (text(now.value().get()) != user) {
          return Status(Code::kConflict, "anonymous_id is linked to another user");
        }
      }
    }
    Result<Reply> anon_hash = c.command(a.slot, {"HGETALL", a.profile});
    if (!anon_hash.ok()) return anon_hash.status();
    const Fields anon_fields = fields_of(anon_hash.value().get());
    if (!claimed && !anon_fields.state.has_value()) return result;  // linked and merged before
    const std::string anon_state = anon_fields.state.value_or("");
    Result<bool> merged = c.on_slot<bool>(u.slot, [&](Session& s) -> Result<bool> {
      Result<std::vector<Reply>> r = s.run({{"WATCH", u.profile}, {"HGET", u.profile, "state"}});
      if (!r.ok()) return r.status();
      const redisReply* have = r.value()[1].get();
      if (!is_nil(have) && !is_string(have)) return reply_error(have, "read profile");
      Result<std::string> next = merge(text(have), anon_state);
      if (!next.ok()) return next.status();
      s.unsafe();
      Result<std::vector<Reply>> w = s.run(
          {{"MULTI"}, {"HSET", u.profile, "state", next.value(), linked_field, "1"}, {"EXEC"}});
      if (!w.ok()) return w.status();
      const redisReply* exec = w.value()[2].get();
      if (is_nil(exec)) return s.watch_failed();
      if (exec->type != REDIS_REPLY_ARRAY) return reply_error(exec, "link");
      return true;
    });
    if (!merged.ok()) return merged.status();
    Args cleanup = {"HDEL", a.profile, "state"};
    for (const std::string& x : anon_fields.linked) {
      const ProfileKeys xk = profile_keys(site, x);
      Result<Reply> moved = c.command(xk.slot, {"HSET", xk.profile, "alias", user});
      if (!moved.ok()) return moved.status();
      Result<Reply> added = c.command(u.slot, {"HSET", u.profile, kLinkedPrefix + x, "1"});
      if (!added.ok()) return added.status();
      cleanup.push_back(kLinkedPrefix + x);
    }
    Result<Reply> del = c.command(a.slot, cleanup);
    if (!del.ok()) return del.status();
    result.merged = true;
    return result;
  }

  static Result<ErasureResult> erase_now(Client& c, const std::string& site, const std::string& id,
                                         const std::string& erased_state) {
    Result<std::string> target = resolve(c, site, id);
    if (!target.ok()) return target.status();
    const ProfileKeys k = profile_keys(site, target.value());
    using Linked = std::optional<std::vector<std::string>>;
    Result<Linked> erased = c.on_slot<Linked>(k.slot, [&](Session& s) -> Result<Linked> {
      Result<std::vector<Reply>> r = s.run({{"WATCH", k.profile}, {"HGETALL", k.profile}});
      if (!r.ok()) return r.status();
      Fields f = fields_of(r.value()[1].get());
      if (!f.state.has_value()) return Linked();
      Result<std::vector<Reply>> w =
          s.run({{"MULTI"}, {"HSET", k.profile, "state", erased_state}, {"EXEC"}});
      if (!w.ok()) return w.status();
      const redisReply* exec = w.value()[2].get();
      if (is_nil(exec)) return s.watch_failed();
      if (exec->type != REDIS_REPLY_ARRAY) return reply_error(exec, "erase");
      return Linked(std::move(f.linked));
    });
    if (!erased.ok()) return erased.status();
    if (!erased.value().has_value()) return Status(Code::kNotFound, "no profile with this id");
    std::vector<std::string> owners = std::move(*erased.value());
    owners.push_back(target.value());
    std::vector<std::pair<int, Args>> drops;
    for (const std::string& o : owners) {
      const ProfileKeys ok = profile_keys(site, o);
      drops.push_back({ok.slot, {"EVAL", kDropLogScript, "2", ok.events, ok.bodies}});
    }
    ErasureResult result;
    result.id = target.take();
    for (Result<Reply>& n : c.each(drops)) {
      if (!n.ok()) return n.status();
      if (n.value()->type != REDIS_REPLY_INTEGER) return reply_error(n.value().get(), "erase");
      result.events_deleted += n.value()->integer;
    }
    return result;
  }

  // Events: (1) claim each id's dedup key (SET NX EX, as "pending"), (2) write the new and the
  // pending ones to their owner's log, (3) mark them done. A batch that failed half-way leaves
  // pending keys; its retry writes those events again (the same id, so once) and counts them.
  Result<CollectResult> append(Client& c, const std::string& site,
                               const std::vector<StoredEvent>& events, int64_t now) {
    CollectResult result;
    std::vector<const StoredEvent*> unique;
    std::set<std::string> seen;
    for (const StoredEvent& e : events) {
      if (seen.insert(e.id).second) {
        unique.push_back(&e);
      } else {
        ++result.duplicates;
      }
    }
    // An event belongs to its user when it has one, else to its device's anonymous id.
    auto owner = [](const StoredEvent& e) { return e.user.empty() ? e.profile : e.user; };
    std::vector<std::pair<int, Args>> claims;
    for (const StoredEvent* e : unique) {
      const std::string dk = dedup_key(site, e->id);
      claims.push_back({redis_key_slot(dk),
                        {"EVAL", kClaimScript, "1", dk, std::to_string(dedup_ttl_s_), owner(*e)}});
    }
    std::vector<Result<Reply>> claimed = c.each(claims);
    std::vector<std::pair<int, Args>> writes, marks;
    const std::string log_ttl_ms = std::to_string(dedup_ttl_s_ * 1000);
    for (size_t i = 0; i < unique.size(); ++i) {
      if (!claimed[i].ok()) return claimed[i].status();
      const redisReply* r = claimed[i].value().get();
      if (r->type != REDIS_REPLY_INTEGER) return reply_error(r, "deduplicate events");
      if (r->integer == 2) {
        ++result.duplicates;
        continue;
      }
      const StoredEvent& e = *unique[i];
      const ProfileKeys k = profile_keys(site, owner(e));
      const std::string record =
          "{\"profile\":" + json_string(e.profile) + ",\"user\":" + json_string(e.user) +
          ",\"t\":" + std::to_string(e.t) + ",\"received\":" + std::to_string(now) +
          ",\"event\":" + (e.body.empty() ? std::string("null") : e.body) + "}";
      writes.push_back({k.slot,
                        {"EVAL", kAppendScript, "2", k.events, k.bodies, e.id, std::to_string(now),
                         record, log_ttl_ms}});
      const std::string dk = dedup_key(site, e.id);
      marks.push_back({redis_key_slot(dk), {"SET", dk, "1" + owner(e), "XX", "KEEPTTL"}});
      ++result.accepted;
    }
    for (std::vector<std::pair<int, Args>>* step : {&writes, &marks}) {
      for (Result<Reply>& r : c.each(*step)) {
        if (!r.ok()) return r.status();
        if (r.value()->type == REDIS_REPLY_ERROR) {
          return reply_error(r.value().get(), "append event");
        }
      }
    }
    return result;
  }

  // Every master's event logs (SCAN walks one node's keys), each pruned by a script.
  static Result<int64_t> prune_now(Client& c, int64_t before) {
    int64_t total = 0;
    Status first_error;
    (void)c.refresh(false);
    for (const std::string& node : c.masters()) {
      std::string cursor = "0";
      do {
        Result<Reply> r = c.on_node(
            node, {"SCAN", cursor, "MATCH", kEventsPattern, "COUNT", "1000", "TYPE", "zset"});
        if (!r.ok() || r.value()->type != REDIS_REPLY_ARRAY || r.value()->elements != 2) {
          if (first_error.ok()) {
            first_error = r.ok() ? reply_error(r.value().get(), "prune") : r.status();
          }
          break;
        }
        cursor = text(r.value()->element[0]);
        const redisReply* keys = r.value()->element[1];
        std::vector<std::pair<int, Args>> prunes;
        for (size_t i = 0; i < keys->elements; ++i) {
          const std::string key = text(keys->element[i]);
          const std::string bodies = key.substr(0, key.size() - 6) + "bodies";  // ...:events
          prunes.push_back({redis_key_slot(key),
                            {"EVAL", kPruneScript, "2", key, bodies, std::to_string(before)}});
        }
        for (Result<Reply>& n : c.each(prunes)) {
          if (n.ok() && n.value()->type == REDIS_REPLY_INTEGER) {
            total += n.value()->integer;
          } else if (first_error.ok()) {
            first_error = n.ok() ? reply_error(n.value().get(), "prune") : n.status();
          }
        }
      } while (cursor != "0");
    }
    if (!first_error.ok()) return first_error;
    return total;
  }

  static Result<std::optional<BundleVersion>> read_bundle(Client& c, const std::string& site,
                                                          int64_t version) {
    const BundleKeys k = bundle_keys(site);
    Result<Reply> r = c.command(
        k.slot, {"EVAL", kReadBundleScript, "2", k.meta, k.bodies, std::to_string(version)});
    if (!r.ok()) return r.status();
    const redisReply* x = r.value().get();
    if (is_nil(x)) return std::optional<BundleVersion>();
    if (x->type != REDIS_REPLY_ARRAY || x->elements != 6) return reply_error(x, "read bundle");
    BundleVersion b;
    b.version = integer(x->element[0]);
    b.etag = text(x->element[1]);
    b.bundle_version = text(x->element[2]);
    b.created = integer(x->element[3]);
    b.body = text(x->element[4]);
    b.signature = text(x->element[5]);
    return std::optional<BundleVersion>(std::move(b));
  }

  // ---- threads

  template <typename T>
  void write(std::function<Result<T>(Client&)> run, Done<T> done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closing_) {
        jobs_.push_back([this, run = std::move(run), done = std::move(done)](Client& c) {
          Result<T> r = run(c);
          if (!r.ok() && r.status().code() == Code::kUnavailable && t_.metrics != nullptr) {
            t_.metrics->store_errors.fetch_add(1);
          }
          done(std::move(r));
        });
        cv_.notify_one();
        return;
      }
    }
    done(unavailable("closed"));
  }

  void work() {
    Client client(t_);
    for (;;) {
      std::function<void(Client&)> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closing_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // closing and drained
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job(client);
    }
  }

  template <typename T>
  Result<T> read(const std::function<Result<T>(Client&)>& f) {
    std::unique_ptr<Client> c;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        c = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (!c) c = std::make_unique<Client>(t_);
    Result<T> r = f(*c);
    if (!r.ok() && r.status().code() == Code::kUnavailable && t_.metrics != nullptr) {
      t_.metrics->store_errors.fetch_add(1);
    }
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.size() < 32) pool_.push_back(std::move(c));
    return r;
  }

  Topology t_;
  int64_t dedup_ttl_s_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void(Client&)>> jobs_;
  bool closing_ = false;
  std::vector<std::thread> workers_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Client>> pool_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_redis_store(const RedisOptions& options, Metrics* metrics) {
  auto store = std::make_unique<RedisStore>(options, metrics);
  PZ_TRY(store->start());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace pz::server
