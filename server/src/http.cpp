#include "http.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "log.h"

namespace pz::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

const char kTooLarge[] = "the request body is larger than this endpoint accepts";

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

 private:
  void read_header() {
    if (server_.stopping()) return close();
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(1024 * 1024);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::header_limit) return reject(431, "the request headers are too large");
    if (ec == http::error::body_limit) return reject(413, kTooLarge);
    if (ec) return close();
    const auto& h = parser_->get();
    const std::string target(h.target());
    const std::string path = target.substr(0, target.find('?'));
    const size_t limit = body_limit(std::string(h.method_string()), path) + 1024;  // slack
    // A Content-Length over the limit is refused before reading a byte of the body; a chunked
    // body is cut when it passes the limit (the Api checks the exact limits).
    if (auto n = parser_->content_length(); n && *n > limit) return reject(413, kTooLarge);
    parser_->body_limit(limit);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit) return reject(413, kTooLarge);
    if (ec) return close();
    stream_.expires_never();
    http::request<http::string_body> msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == http::verb::head;
    version_ = msg.version();
    Request req;
    req.method = std::string(msg.method_string());
    if (head_) req.method = "GET";
    const std::string target(msg.target());
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    req.authorization = std::string(msg[http::field::authorization]);
    req.origin = std::string(msg[http::field::origin]);
    req.if_none_match = std::string(msg[http::field::if_none_match]);
    req.body = std::move(msg.body());
    method_ = req.method;
    started_ = std::chrono::steady_clock::now();
    ++server_.in_flight_;
    server_.api_.handle(std::move(req), [self = shared_from_this()](Response r) {
      net::post(self->stream_.get_executor(),
                [self, r = std::move(r)]() mutable { self->write(std::move(r), true); });
    });
  }

  // Answers a request that could not be read whole, then closes the connection.
  void reject(int status, const std::string& message) {
    Response r;
    r.status = status;
    r.route = "rejected";
    r.body = "{\"error\":\"" + std::string(status == 413 ? "too_large" : "headers_too_large") +
             "\",\"message\":\"" + message + "\"}";
    keep_alive_ = false;
    version_ = 11;
    method_ = "?";
    started_ = std::chrono::steady_clock::now();
    write(std::move(r), false);
  }

  void write(Response r, bool counted) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    server_.metrics_.request(r.route, r.status, seconds);
    if (log_enabled(LogLevel::kInfo) || r.status >= 500) {
      std::vector<Member> f = {{"method", Value::String(method_)},
                               {"route", Value::String(r.route)},
                               {"status", Value::Number(r.status)},
                               {"ms", Value::Number(std::round(seconds * 1e5) / 100)}};
      if (!r.site.empty()) f.emplace_back("site", Value::String(r.site));
      log(r.status >= 500 ? LogLevel::kError : LogLevel::kInfo, "request", std::move(f));
    }
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "pz-server");
    if (!r.content_type.empty()) res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res->set(name, value);
    const bool keep = keep_alive_ && !server_.stopping();
    res->keep_alive(keep);
    const size_t size = r.body.size();
    if (!head_) res->body() = std::move(r.body);
    if (r.status == 204 || r.status == 304) {
      res->body().clear();
    } else if (head_) {
      res->content_length(size);
    } else {
      res->prepare_payload();
    }
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res, keep, counted](beast::error_code ec, size_t) {
          if (counted) --self->server_.in_flight_;
          if (ec || !keep) return self->close();
          self->read_header();
        });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer& server_;
  bool keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
  std::string method_;
  std::chrono::steady_clock::time_point started_;
};

HttpServer::HttpServer(net::io_context& io, Api& api, Metrics& metrics)
    : io_(io), api_(api), metrics_(metrics), acceptor_(net::make_strand(io)) {}

Status HttpServer::listen(const std::string& address, int port) {
  beast::error_code ec;
  const auto ip = net::ip::make_address(address, ec);
  if (ec) return Status(Code::kInvalidArgument, "--bind: not an IP address: " + address);
  const tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(Code::kUnavailable,
                  "cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  accept();
  return Status::Ok();
}

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping_) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), *this)->run();
    }
    accept();
  });
}

void HttpServer::stop_accepting() {
  stopping_ = true;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
}

}  // namespace pz::server
