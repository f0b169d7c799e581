// pz_loadgen: POST /v1/collect to a server on loopback at a fixed request rate (open loop), and
// report the latency percentiles at that rate. wrk holds a number of connections busy as fast as
// the server answers (closed loop): at saturation its latency is connections / throughput, set by
// the bench as much as by the server. Here request i is due at start + i / rate whatever the
// server does, and its latency counts from when it was due, not from when a busy connection got
// to send it: a stalled server shows as the requests that waited for it (no coordinated
// omission).
//
//   pz_loadgen --port P --rate R --seconds S [--connections C] [--batch N] [--nonce X]
//              [--key pk_demo] [--host 127.0.0.1] [--t0 MS] [--timeline FILE]
//
// Request i goes on connection i % C (HTTP/1.1 keep-alive, one request in flight each; a request
// due while its connection is still busy goes as soon as the answer is in). Bodies are those of
// bench/wrk/collect.lua: N events whose ids are unique across the run (nonce, request, index).
// Prints one JSON object: requests sent and answered, non-2xx and socket errors, the achieved
// rate, and p50/p90/p99/p99.9/max latency in ms. Exits 1 on any error answer, 2 on bad usage.
// --timeline FILE also writes one line per answered request, "due_ms latency_ms" (due_ms from
// the schedule's start, given on the steady clock in the first line, a comment), to see whether
// slow answers come together (a stall) or alone, and to line them up with the server's doings.
// First: Boost.Asio 1.74 uses std::exchange without including <utility>.
#include <utility>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  double rate = 0;
  double seconds = 0;
  int connections = 16;
  int batch = 20;
  std::string nonce = "lg";
  std::string key = "pk_demo";
  long long t0 = 1700000000000LL;
};

const char* const kTemplates[] = {
    R"({"id":"%s","type":"page_view","t":%lld,"page":{"path":"/pricing"}})",
    R"({"id":"%s","type":"page_view","t":%lld,"page":{"path":"/shop/running-shoes/r%d"}})",
    R"({"id":"%s","type":"add_to_cart","t":%lld,"props":{"sku":"run-%d"}})",
    R"({"id":"%s","type":"page_view","t":%lld,"page":{"path":"/","title":"Home"}})",
    R"({"id":"%s","type":"purchase","t":%lld,"props":{"value":%d}})",
};

std::string body_of(const Options& o, long request) {
  std::string body =
      "{\"anonymous_id\":\"lg-" + o.nonce + "-" + std::to_string(request % 100) + "\",\"events\":[";
  char event[256];
  for (int k = 1; k <= o.batch; ++k) {
    const std::string id = o.nonce + "-" + std::to_string(request) + "-" + std::to_string(k);
    std::snprintf(event, sizeof event, kTemplates[(request + k) % 5], id.c_str(),
                  o.t0 + request + k, k);
    if (k > 1) body += ',';
    body += event;
  }
  body += "]}";
  return body;
}

struct Run {
  Options o;
  asio::io_context io;
  Clock::time_point start;
  long total = 0;  // requests to send
  std::vector<double> latencies_ms;
  std::vector<double> by_request_ms;  // latency of request i, -1 until answered
  long errors = 0;
  long answered = 0;
  std::string first_error;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Run& run, int index) : run_(run), index_(index), socket_(run.io), timer_(run.io) {}

  void start(const tcp::endpoint& at) {
    socket_.async_connect(at, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail("connect: " + ec.message());
      self->socket_.set_option(tcp::no_delay(true));
      self->next = self->index_;
      self->wait();
    });
  }

  long next = 0;  // the request this connection sends next

 private:
  Clock::time_point due(long request) const {
    return run_.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                            static_cast<double>(request) / run_.o.rate));
  }

  void wait() {
    if (next >= run_.total) return;
    timer_.expires_at(due(next));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->send();
    });
  }

  void send() {
    req_ = {};
    req_.method(http::verb::post);
    req_.target("/v1/collect");
    req_.version(11);
    req_.set(http::field::host, run_.o.host);
    req_.set(http::field::content_type, "application/json");
    req_.set(http::field::authorization, "Bearer " + run_.o.key);
    req_.body() = body_of(run_.o, next);
    req_.prepare_payload();
    http::async_write(socket_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->fail("write: " + ec.message());
      self->res_ = {};
      http::async_read(self->socket_, self->buffer_, self->res_,
                       [self](beast::error_code ec2, size_t) { self->done(ec2); });
    });
  }

  void done(beast::error_code ec) {
    if (ec) return fail("read: " + ec.message());
    const auto now = Clock::now();
    const double latency = std::chrono::duration<double, std::milli>(now - due(next)).count();
    run_.latencies_ms.push_back(latency);
    run_.by_request_ms[static_cast<size_t>(next)] = latency;
    ++run_.answered;
    const unsigned status = res_.result_int();
    if (status < 200 || status >= 300) {
      ++run_.errors;
      if (run_.first_error.empty()) {
        run_.first_error = "HTTP " + std::to_string(status) + ": " + res_.body().substr(0, 200);
      }
    }
    next += run_.o.connections;
    wait();
  }

  void fail(const std::string& what) {
    ++run_.errors;
    if (run_.first_error.empty()) run_.first_error = what;
    beast::error_code ignored;
    socket_.close(ignored);
  }

  Run& run_;
  int index_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "pz_loadgen: %s\nusage: pz_loadgen --port P --rate REQ_PER_S --seconds S "
               "[--connections C] [--batch N] [--nonce X] [--key K] [--host H] [--t0 MS] "
               "[--timeline FILE]\n",
               why);
  return 2;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
  Run run;
  Options& o = run.o;
  std::string timeline;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(("missing a value after " + a).c_str());
    const char* v = argv[++i];
    if (a == "--port") {
      o.port = std::atoi(v);
    } else if (a == "--rate") {
      o.rate = std::atof(v);
    } else if (a == "--seconds") {
      o.seconds = std::atof(v);
    } else if (a == "--connections") {
      o.connections = std::atoi(v);
    } else if (a == "--batch") {
      o.batch = std::atoi(v);
    } else if (a == "--nonce") {
      o.nonce = v;
    } else if (a == "--key") {
      o.key = v;
    } else if (a == "--host") {
      o.host = v;
    } else if (a == "--t0") {
      o.t0 = std::atoll(v);
    } else if (a == "--timeline") {
      timeline = v;
    } else {
      return usage(("unknown option " + a).c_str());
    }
  }
  if (o.port < 1 || o.port > 65535) return usage("--port: 1..65535");
  if (!(o.rate > 0 && o.rate <= 100000)) return usage("--rate: 0 < requests/s <= 100000");
  if (!(o.seconds > 0 && o.seconds <= 60)) return usage("--seconds: 0 < s <= 60 (bounded)");
  if (o.connections < 1 || o.connections > 1000) return usage("--connections: 1..1000");
  if (o.batch < 1 || o.batch > 500) return usage("--batch: 1..500");
  if (o.host != "127.0.0.1" && o.host != "localhost") return usage("--host: loopback only");

  run.total = static_cast<long>(o.rate * o.seconds);
  run.latencies_ms.reserve(static_cast<size_t>(run.total));
  run.by_request_ms.assign(static_cast<size_t>(run.total), -1);
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(o.port));
  // The schedule starts once every connection had time to connect.
  run.start = Clock::now() + std::chrono::milliseconds(200);
  std::vector<std::shared_ptr<Connection>> conns;
  for (int c = 0; c < o.connections; ++c) {
    conns.push_back(std::make_shared<Connection>(run, c));
    conns.back()->start(at);
  }
  // Bounded: the run stops 10 s after its last request was due, answered or not.
  asio::steady_timer deadline(run.io);
  deadline.expires_at(run.start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o.seconds + 10)));
  deadline.async_wait([&](beast::error_code ec) {
    if (!ec) run.io.stop();
  });
  // The deadline goes once every request is answered (or failed): io.run() then returns.
  std::function<void()> check;
  asio::steady_timer poll(run.io);
  check = [&] {
    if (run.answered + run.errors >= run.total) {
      deadline.cancel();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(50));
    poll.async_wait([&](beast::error_code ec) {
      if (!ec) check();
    });
  };
  check();
  run.io.run();
  const double elapsed = std::chrono::duration<double>(Clock::now() - run.start).count();

  if (!timeline.empty()) {
    FILE* f = std::fopen(timeline.c_str(), "w");
    if (f == nullptr) return usage("--timeline: cannot write the file");
    // The schedule's start on the steady clock (CLOCK_MONOTONIC on Linux, as the server's).
    std::fprintf(f, "# start_steady_ms %.3f\n",
                 std::chrono::duration<double, std::milli>(run.start.time_since_epoch()).count());
    for (size_t i = 0; i < run.by_request_ms.size(); ++i) {
      if (run.by_request_ms[i] >= 0) {
        std::fprintf(f, "%.3f %.3f\n", 1000.0 * static_cast<double>(i) / o.rate,
                     run.by_request_ms[i]);
      }
    }
    std::fclose(f);
  }
  std::vector<double> sorted = run.latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  const long unanswered = run.total - run.answered;
  std::printf(
      "{\"requests\":%ld,\"answered\":%ld,\"unanswered\":%ld,\"errors\":%ld,\"rate\":%.1f,"
      "\"achieved_rate\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
      "\"max_ms\":%.3f",
      run.total, run.answered, unanswered, run.errors, o.rate,
      elapsed > 0 ? static_cast<double>(run.answered) / elapsed : 0.0, percentile(sorted, 0.5),
      percentile(sorted, 0.9), percentile(sorted, 0.99), percentile(sorted, 0.999),
      sorted.empty() ? 0.0 : sorted.back());
  if (!run.first_error.empty()) {
    std::string e;
    for (char ch : run.first_error) {
      if (ch == '"' || ch == '\\') e += '\\';
      if (static_cast<unsigned char>(ch) >= 0x20) e += ch;
    }
    std::printf(",\"first_error\":\"%s\"", e.c_str());
  }
  std::printf("}\n");
  return run.errors > 0 || unanswered > 0 ? 1 : 0;
}
