#include "http_codec.h"

#include <string>

namespace pz::server {

namespace http = boost::beast::http;

void configure_parser(RequestParser& parser) {
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(1024 * 1024);
}

bool limit_body(RequestParser& parser) {
  const auto& h = parser.get();
  const std::string target(h.target());
  const std::string path = target.substr(0, target.find('?'));
  const size_t limit = body_limit(std::string(h.method_string()), path) + kBodySlackBytes;
  if (auto n = parser.content_length(); n && *n > limit) return false;
  parser.body_limit(limit);
  return true;
}

Request to_request(HttpRequest& msg) {
  Request req;
  req.method = msg.method() == http::verb::head ? "GET" : std::string(msg.method_string());
  const std::string target(msg.target());
  const size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  req.authorization = std::string(msg[http::field::authorization]);
  req.origin = std::string(msg[http::field::origin]);
  req.if_none_match = std::string(msg[http::field::if_none_match]);
  req.accept_encoding = std::string(msg[http::field::accept_encoding]);
  req.signature = std::string(msg["Pz-Signature"]);
  req.body = std::move(msg.body());
  return req;
}

Response rejection(int status) {
  Response r;
  r.status = status;
  r.route = "rejected";
  r.body = status == 413 ? "{\"error\":\"too_large\",\"message\":\"the request body is larger than "
                           "this endpoint accepts\"}"
                         : "{\"error\":\"headers_too_large\",\"message\":\"the request headers "
                           "are too large\"}";
  return r;
}

HttpResponse to_http_response(Response r, unsigned version, bool head, bool keep_alive) {
  HttpResponse res(static_cast<http::status>(r.status), version);
  res.set(http::field::server, "pz-server");
  // Answers are JSON, Prometheus text or static files typed by extension: never sniffed into
  // something else (a JSON error that echoes a path is not a page).
  res.set("X-Content-Type-Options", "nosniff");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  const size_t size = r.body.size();
  if (!head) res.body() = std::move(r.body);
  if (r.status == 204 || r.status == 304) {
    res.body().clear();
  } else if (head) {
    res.content_length(size);
  } else {
    res.prepare_payload();
  }
  return res;
}

}  // namespace pz::server
