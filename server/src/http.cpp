#include "http.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "http_codec.h"
#include "log.h"

namespace pz::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->start_request(); });
  }

 private:
  // Waits for the next request on a kept-alive connection: its first byte must come within the
  // idle timeout (bytes left over from pipelined requests start it at once).
  void read_header() {
    if (server_.stopping()) return close();
    if (buffer_.size() > 0) return start_request();
    stream_.expires_after(server_.timeouts_.idle);
    stream_.async_read_some(
        buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->buffer_.commit(n);
          if (ec) return self->close();  // idle for too long, or the client closed: not an error
          self->start_request();
        });
  }

  // Reads one request, headers and body, under one deadline (the read timeout from now): a
  // client that trickles its bytes is cut off at the deadline, however often it sends.
  void start_request() {
    if (server_.stopping()) return close();
    parser_.emplace();
    configure_parser(*parser_);
    stream_.expires_after(server_.timeouts_.read);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  // The deadline passed before the request was read whole (beast closed the socket).
  void timed_out() {
    server_.metrics_.read_timeouts.fetch_add(1);
    close();
  }

  void on_header(beast::error_code ec) {
    if (ec == beast::error::timeout) return timed_out();
    if (ec == http::error::header_limit) return reject(431);
    if (ec == http::error::body_limit) return reject(413);
    if (ec) return close();
    if (!limit_body(*parser_)) return reject(413);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == beast::error::timeout) return timed_out();
    if (ec == http::error::body_limit) return reject(413);
    if (ec) return close();
    stream_.expires_never();
    http::request<http::string_body> msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == http::verb::head;
    version_ = msg.version();
    Request req = to_request(msg);
    req.remote = remote_;
    method_ = req.method;
    started_ = std::chrono::steady_clock::now();
    ++server_.in_flight_;
    server_.api_.handle(std::move(req), [self = shared_from_this()](Response r) {
      net::post(self->stream_.get_executor(),
                [self, r = std::move(r)]() mutable { self->write(std::move(r), true); });
    });
  }

  // Answers a request that could not be read whole, then closes the connection.
  void reject(int status) {
    Response r = rejection(status);
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
    const bool keep = keep_alive_ && !server_.stopping();
    auto res =
        std::make_shared<HttpResponse>(to_http_response(std::move(r), version_, head_, keep));
    // The client must take the answer within the read timeout (one that never reads does not
    // hold the connection for longer).
    stream_.expires_after(server_.timeouts_.read);
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res, keep, counted](beast::error_code ec, size_t) {
          if (counted) --self->server_.in_flight_;
          if (ec == beast::error::timeout) self->server_.metrics_.write_timeouts.fetch_add(1);
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
  std::string remote_;  // the client's address (the per-address rate limit)
  std::chrono::steady_clock::time_point started_;
};

HttpServer::HttpServer(net::io_context& io, Api& api, Metrics& metrics, HttpTimeouts timeouts)
    : io_(io),
      api_(api),
      metrics_(metrics),
      timeouts_(timeouts),
      acceptor_(net::make_strand(io)),
      accept_backoff_(acceptor_.get_executor()) {}

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
    if (ec) {
      // Out of file descriptors (EMFILE/ENFILE) or memory: the pending connection stays in the
      // backlog, and the listening socket stays readable. Wait for connections to close rather
      // than spin on accept.
      accept_backoff_.expires_after(std::chrono::milliseconds(50));
      accept_backoff_.async_wait([this](beast::error_code) {
        if (!stopping_) accept();
      });
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Session>(std::move(socket), *this)->run();
    accept();
  });
}

void HttpServer::stop_accepting() {
  stopping_ = true;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_backoff_.cancel();
  });
}

}  // namespace pz::server
