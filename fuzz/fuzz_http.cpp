// libFuzzer target: pz-server's request path from raw bytes to the answer on the wire.
// The input is what a client writes on one connection. It is read the way a server session
// reads it (server/src/http.cpp): a Boost.Beast request parser configured by configure_parser
// (16 KB of headers, body limits by endpoint: limit_body), up to 16 pipelined requests while the
// connection is kept alive; each request read whole goes through to_request into Api::handle
// (routing, keys, CORS, url_decode/query_param, the JSON bodies of collect, sync, identify,
// decide, bundle PUT and rollback, profiles, static files) with the real SQLite store in a
// temporary directory, and its answer through to_http_response, serialized by Beast and parsed
// back as a client would.
// Sites: "demo" (pk_demo / sk_demo, origin https://shop.example) and "other" (pk_other /
// sk_other, any origin), no rate limit, the demo bundle; a static directory with a file beside
// it that must never be served. The store starts afresh every 2048 inputs.
// Invariants: no crash/leak/UB/hang; every request read gets exactly one answer; no 5xx (a
// malformed request is the client's error, 4xx, and a state the server stored always reads
// back); a 4xx has a JSON body {"error": code, "message": non-empty}; a JSON 2xx parses; header
// values carry no CR, LF or NUL; the serialized response parses back with the same status and
// body; answers of the secret-key endpoints (profiles, bundle PUT/versions/rollback) never
// succeed without a secret key; the file outside the static directory is never served.
#include <unistd.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "api.h"
#include "config.h"
#include "fuzz_util.h"
#include "http_codec.h"
#include "metrics.h"
#include "pz/json.h"
#include "sqlite_store.h"

namespace {

namespace http = boost::beast::http;
namespace fs = std::filesystem;
using namespace pz::server;

constexpr int kMaxRequests = 16;
constexpr int kInputsPerStore = 2048;
constexpr int64_t kNow = 1793613600000;  // 2026-11-02 13:00 UTC
constexpr char kSecretMarker[] = "PZ-FUZZ-SECRET-7f3a9c";

constexpr char kKeys[] = R"({"sites":[
  {"id":"demo","write_keys":["pk_demo"],"secret_keys":["sk_demo"],
   "origins":["https://shop.example"],"rate_limit":{"per_second":0}},
  {"id":"other","write_keys":["pk_other"],"secret_keys":["sk_other"],"origins":["*"],
   "rate_limit":{"per_second":0}}]})";

// A SyncReadStream over the input: hands it out in chunks of varying size (as a socket would),
// then end of stream.
class InputStream {
 public:
  explicit InputStream(std::string_view data) : data_(data) {}

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    if (pos_ == data_.size()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    ec = {};
    const size_t chunk = 1 + (reads_++ * 7919 + data_.size()) % 1500;
    const size_t n = boost::asio::buffer_copy(
        buffers, boost::asio::buffer(data_.data() + pos_, std::min(chunk, data_.size() - pos_)));
    pos_ += n;
    return n;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  size_t reads_ = 0;
};

// One request's answer, which may come from the store's writer thread.
struct Answer {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  Response response;
};

struct Server {
  fs::path root;  // temporary: store/, static/, secret.txt
  Metrics metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<Api> api;
  std::atomic<int64_t> clock{kNow};
};

Server* server = nullptr;
int inputs_on_store = 0;

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
}

void open_server() {
  if (server != nullptr) {
    server->api.reset();
    server->store->close();
    server->store.reset();
    std::error_code ec;
    fs::remove_all(server->root, ec);
    delete server;
  }
  server = new Server();
  const char* tmp = std::getenv("TMPDIR");
  // pz-fuzz-<pid>-*: scripts/fuzz.sh removes what a crashed fuzzer left, by its pid.
  std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/pz-fuzz-" +
                      std::to_string(getpid()) + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    std::perror("fuzz_http: mkdtemp");
    std::abort();
  }
  server->root = templ;
  write_file(server->root / "static" / "index.html", "<!doctype html><p>static index</p>\n");
  write_file(server->root / "static" / "sub" / "a.txt", "a text file\n");
  write_file(server->root / "static" / "app.js", "export const x = 1;\n");
  write_file(server->root / "secret.txt", std::string(kSecretMarker) + "\n");
  write_file(server->root / "bundle.json", pz_fuzz::demo_bundle());

  pz::Result<std::unique_ptr<Store>> store =
      open_sqlite_store((server->root / "store").string(), &server->metrics);
  if (!store.ok()) {
    std::fprintf(stderr, "fuzz_http: %s\n", store.status().message().c_str());
    std::abort();
  }
  server->store = store.take();
  RateLimit unlimited;
  unlimited.per_second = 0;
  pz::Result<Sites> sites = parse_sites(kKeys, unlimited);
  if (!sites.ok()) {
    std::fprintf(stderr, "fuzz_http: keys: %s\n", sites.status().message().c_str());
    std::abort();
  }
  ApiOptions options;
  options.static_dir = (server->root / "static").string();
  Server* s = server;
  options.clock = [s] { return s->clock.load(); };
  server->api = std::make_unique<Api>(sites.take(), *server->store, server->metrics, options);
  pz::Status st = server->api->seed_bundles((server->root / "bundle.json").string());
  if (!st.ok()) {
    std::fprintf(stderr, "fuzz_http: seed_bundles: %s\n", st.message().c_str());
    std::abort();
  }
  inputs_on_store = 0;
}

void remove_server() {
  if (server == nullptr) return;
  server->api.reset();
  server->store->close();
  std::error_code ec;
  fs::remove_all(server->root, ec);
}

bool clean_header_text(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The key a request authorizes with, as Api::authorize reads it ("" when none).
std::string bearer_key(const Request& req) {
  const std::string& a = req.authorization;
  if (a.size() <= 7) return "";
  std::string prefix = a.substr(0, 7);
  for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (prefix != "bearer ") return "";
  std::string key = a.substr(7);
  key.erase(0, key.find_first_not_of(" \t"));
  key.erase(key.find_last_not_of(" \t") + 1);
  return key;
}

// `input`: the bytes of the connection (the secret file's marker in an answer only counts when
// the client did not send it: an error message may quote the request).
void check_answer(const Request& req, const Response& r, std::string_view input) {
  const std::string what = req.method + " " + req.path + " -> " + std::to_string(r.status) + " " +
                           r.route + ": " + r.body.substr(0, 400);
  PZ_FUZZ_CHECK(r.status >= 200 && r.status <= 599, what);
  if (r.status >= 500) pz_fuzz::fail("5xx answer", what);
  PZ_FUZZ_CHECK(!r.route.empty(), what);
  PZ_FUZZ_CHECK(clean_header_text(r.content_type), what);
  for (const auto& [name, value] : r.headers) {
    PZ_FUZZ_CHECK(!name.empty() && clean_header_text(name) && clean_header_text(value), what,
                  name + ": " + value);
  }
  if (r.body.find(kSecretMarker) != std::string::npos &&
      input.find(kSecretMarker) == std::string_view::npos) {
    pz_fuzz::fail("served the file outside the static directory", what);
  }
  const bool json = r.content_type == "application/json";
  if (r.status >= 400) {
    PZ_FUZZ_CHECK(json, what);
    pz::Result<pz::Value> body = pz::parse_json(r.body);
    PZ_FUZZ_CHECK(body.ok() && body.value().is_object(), what);
    const pz::Value* error = body.value().find("error");
    const pz::Value* message = body.value().find("message");
    PZ_FUZZ_CHECK(error != nullptr && error->is_string() && !error->as_string().empty(), what);
    PZ_FUZZ_CHECK(message != nullptr && message->is_string() && !message->as_string().empty(),
                  what);
  } else if (json && r.status != 204 && r.status != 304 && r.route != "static") {
    pz::Result<pz::Value> body = pz::parse_json(r.body);
    PZ_FUZZ_CHECK(body.ok(), what);
  }
  // The secret key's endpoints succeed only with a secret key, in the header.
  const bool secret_route = r.route == "profiles" || r.route == "bundle_versions" ||
                            r.route == "bundle_rollback" ||
                            (r.route == "bundle" && req.method == "PUT");
  if (secret_route && r.status < 400) {
    const std::string key = bearer_key(req);
    PZ_FUZZ_CHECK(key == "sk_demo" || key == "sk_other", what, req.authorization);
    PZ_FUZZ_CHECK(req.origin.empty(), what);
  }
  if (r.status < 400 && r.route != "healthz" && r.route != "metrics" && r.route != "static" &&
      r.route != "preflight") {
    PZ_FUZZ_CHECK(r.site == "demo" || r.site == "other", what, r.site);
  }
}

// Serializes the HTTP response as the server writes it and parses it back as a client would.
void check_wire(HttpResponse res, bool head, const Response& r) {
  std::ostringstream os;
  os << res;
  const std::string wire = os.str();
  InputStream in(wire);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  parser.skip(head);
  boost::system::error_code ec;
  http::read(in, buffer, parser, ec);
  if (ec) pz_fuzz::fail("the response does not parse back", wire.substr(0, 2000), ec.message());
  const HttpResponse& back = parser.get();
  PZ_FUZZ_CHECK(back.result_int() == static_cast<unsigned>(r.status), wire.substr(0, 2000));
  if (!head && r.status != 204 && r.status != 304) {
    PZ_FUZZ_CHECK(back.body() == r.body, wire.substr(0, 2000));
  }
  for (const auto& [name, value] : r.headers) {
    PZ_FUZZ_CHECK(back[name] == value, wire.substr(0, 2000), name);
  }
  PZ_FUZZ_CHECK(buffer.size() == 0, wire.substr(0, 2000));  // nothing smuggled after it
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  open_server();
  std::atexit(remove_server);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // PZ_FUZZ_VERBOSE=1 prints every answer (to see what a corpus reaches).
  static const bool verbose = std::getenv("PZ_FUZZ_VERBOSE") != nullptr;
  if (++inputs_on_store > kInputsPerStore) open_server();
  const std::string_view input = pz_fuzz::bytes(data, size);
  InputStream stream(input);
  boost::beast::flat_buffer buffer;
  for (int n = 0; n < kMaxRequests; ++n) {
    RequestParser parser;
    configure_parser(parser);
    boost::system::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    Response rejected;
    if (ec == http::error::header_limit) {
      rejected = rejection(431);
    } else if (ec == http::error::body_limit) {
      rejected = rejection(413);
    } else if (ec) {
      break;  // the server closes the connection
    } else if (!limit_body(parser)) {
      rejected = rejection(413);
    } else {
      http::read(stream, buffer, parser, ec);
      if (ec == http::error::body_limit) {
        rejected = rejection(413);
      } else if (ec) {
        break;
      }
    }
    if (rejected.status != 200) {
      // Answered without the Api, then the connection closes.
      check_answer(Request(), rejected, input);
      check_wire(to_http_response(rejected, 11, false, false), false, rejected);
      break;
    }

    HttpRequest msg = parser.release();
    const bool keep_alive = msg.keep_alive();
    const bool head = msg.method() == http::verb::head;
    const unsigned version = msg.version();
    Request req = to_request(msg);
    PZ_FUZZ_CHECK(req.path.find('?') == std::string::npos, req.path);
    const Request copy = req;
    server->clock += 1000;

    auto answer = std::make_shared<Answer>();
    server->api->handle(std::move(req), [answer](Response r) {
      std::lock_guard<std::mutex> lock(answer->mu);
      if (++answer->count == 1) answer->response = std::move(r);
      answer->cv.notify_all();
    });
    Response r;
    {
      std::unique_lock<std::mutex> lock(answer->mu);
      if (!answer->cv.wait_for(lock, std::chrono::seconds(30), [&] { return answer->count > 0; })) {
        pz_fuzz::fail("no answer within 30 s", copy.method + " " + copy.path);
      }
      r = answer->response;
    }
    if (verbose) {
      std::fprintf(stderr, "fuzz_http: %s %s -> %d %s %.300s\n", copy.method.c_str(),
                   copy.path.c_str(), r.status, r.route.c_str(), r.body.c_str());
    }
    check_answer(copy, r, input);
    check_wire(to_http_response(r, version, head, keep_alive), head, r);
    {
      std::lock_guard<std::mutex> lock(answer->mu);
      PZ_FUZZ_CHECK(answer->count == 1, "answered more than once", copy.method + " " + copy.path);
    }
    if (!keep_alive) break;
  }
  return 0;
}
