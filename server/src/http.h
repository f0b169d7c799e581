// HTTP/1.1 on Boost.Beast: accepts connections, reads requests with limits (headers 16 KB, the
// body as api.h's body_limit says, the read timeout for a whole request), hands them to the Api
// and writes its answers, keeping connections alive (up to the idle timeout between requests).
// Runs on the threads that run the io_context.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "api.h"
#include "metrics.h"
#include "pz/status.h"

namespace pz::server {

struct HttpTimeouts {
  // A request, headers and body, must arrive whole within this time from its first byte (the
  // first request of a connection: from the connection's start), and the client must take an
  // answer within it. Else the connection is closed (no 408: such a client is mostly gone or
  // hostile) and counted in pz_http_timeouts_total.
  std::chrono::milliseconds read{30000};
  // A kept-alive connection is closed after this long without a new request.
  std::chrono::milliseconds idle{75000};
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Api& api, Metrics& metrics, HttpTimeouts timeouts = {});

  // Binds and starts accepting. Port 0 picks a free port (see port()).
  Status listen(const std::string& address, int port);
  int port() const { return port_; }

  // Stops accepting; connections close after the answer they are working on.
  void stop_accepting();
  bool stopping() const { return stopping_; }
  // Requests read and not yet answered.
  int in_flight() const { return in_flight_; }

 private:
  class Session;
  void accept();

  boost::asio::io_context& io_;
  Api& api_;
  Metrics& metrics_;
  HttpTimeouts timeouts_;
  boost::asio::ip::tcp::acceptor acceptor_;
  // After a failed accept (out of file descriptors), the next one waits a little: the listening
  // socket stays readable meanwhile, and accepting at once again would spin.
  boost::asio::steady_timer accept_backoff_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
};

}  // namespace pz::server
