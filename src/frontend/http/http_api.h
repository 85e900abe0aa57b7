// Routing and handling of the KServe v2 REST endpoints (and Triton's
// extensions), independent of connection handling.
#pragma once

#include <boost/beast/http.hpp>
#include <functional>

#include "core/server.h"
#include "frontend/http/reply_body.h"

namespace inferd::http {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<ReplyBody>;
// Called exactly once per request, on any thread.
using Responder = std::function<void(HttpResponse)>;

class HttpApi {
 public:
  HttpApi(Server* core, uint64_t max_input_size) : core_(core), max_input_size_(max_input_size) {}

  void Handle(HttpRequest&& request, Responder respond);

  // A JSON error response with the status code matching `status`.
  static HttpResponse Error(const Status& status, unsigned version, bool keep_alive);

 private:
  void HandleInfer(HttpRequest&& request, const std::string& model, int64_t version,
                   Responder respond);
  // POST /v2/repository/models/{m}/load|unload, answered from the lifecycle thread.
  void HandleLoadUnload(HttpRequest&& request, const std::string& model, bool load,
                        Responder respond);

  Server* core_;
  uint64_t max_input_size_;
};

}  // namespace inferd::http
