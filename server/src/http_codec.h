// The HTTP message handling of pz-server that touches no socket (http.cpp does the I/O): the
// request parser's limits, the Request the Api sees, and the response written back. Kept apart
// so that fuzz/fuzz_http.cpp drives exactly this configuration with raw bytes.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>

#include "api.h"

namespace pz::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

constexpr size_t kMaxHeaderBytes = 16 * 1024;
// What a body may exceed api.h's body_limit by while it is read (the Api checks the exact limits).
constexpr size_t kBodySlackBytes = 1024;

// A fresh parser's limits, before the header is read: headers 16 KB, a body 1 MB (until the
// header says which endpoint it is for).
void configure_parser(RequestParser& parser);

// After the header: sets the body limit for this request line (body_limit + slack). False when
// the Content-Length is over it already: the request is refused (413) before a byte of its body
// is read. A chunked body is cut when it passes the limit (the read fails with body_limit).
bool limit_body(RequestParser& parser);

// The request as the Api sees it. HEAD is handled as GET (the body is left out of the answer).
Request to_request(HttpRequest& msg);

// The answer to a request that could not be read whole: 413 (body) or 431 (headers).
Response rejection(int status);

// The HTTP response for an Api answer. `head`: the body is left out but its Content-Length is
// kept; 204 and 304 carry no body.
HttpResponse to_http_response(Response r, unsigned version, bool head, bool keep_alive);

}  // namespace pz::server
