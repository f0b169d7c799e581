// HTTP/1.1 on Boost.Beast: accepts connections, reads requests with limits (headers 16 KB, the
// body as api.h's body_limit says, 30 s to read a request), hands them to the Api and writes its
// answers, keeping connections alive. Runs on the threads that run the io_context.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "api.h"
#include "metrics.h"
#include "pz/status.h"

namespace pz::server {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Api& api, Metrics& metrics);

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
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
};

}  // namespace pz::server
