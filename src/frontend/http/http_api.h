// Routing and handling of the KServe v2 REST endpoints (and Triton's
// extensions), independent of connection handling.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http.hpp>
#include <functional>

#include "core/server.h"
#include "frontend/restricted_api.h"
#include "frontend/http/reply_body.h"

namespace inferd::http {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<ReplyBody>;
// Called exactly once per request, on any thread.
using Responder = std::function<void(HttpResponse)>;

// When a request was read (steady clock ns, as CLOCK_MONOTONIC): its first
// bytes arrived, and it was complete. Traces report them.
struct HttpReadTimes {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};

struct HttpApiOptions {
  uint64_t max_input_size = 64ull << 20;  // decompressed body limit (--http-max-input-size)
  // The most bytes of JSON an inference request may hold (--http-max-json-size):
  // parsed JSON takes several times its size in memory. Binary tensor data
  // (the binary extension) does not count.
  uint64_t max_json_size = 16ull << 20;
  RestrictedApis restricted;  // --http-restricted-api
};

class HttpApi {
 public:
  HttpApi(Server* core, HttpApiOptions options);
  ~HttpApi();  // waits for requests being decoded

  void Handle(HttpRequest&& request, const HttpReadTimes& read_times, Responder respond);

  // A JSON error response with the status code matching `status`.
  static HttpResponse Error(const Status& status, unsigned version, bool keep_alive);

  // Inference bodies at least this large, or compressed, are decoded on the
  // decode threads instead of the I/O thread that read them, so that a big
  // JSON body never keeps an I/O thread (and the health checks it serves) busy.
  static constexpr size_t kDecodeOffThreadBytes = 64 * 1024;

 private:
  void HandleInfer(HttpRequest&& request, const HttpReadTimes& read_times, const std::string& model,
                   int64_t version, Responder respond);
  // Decompresses and parses an inference body and hands it to the core.
  void DecodeInfer(HttpRequest& request, const HttpReadTimes& read_times, const std::string& model,
                   int64_t version, const Responder& respond);
  // GET/POST /v2/trace/setting (model empty) and /v2/models/{m}/trace/setting.
  void HandleTraceSetting(const HttpRequest& request, const std::string& model, Responder respond);
  // /v2/systemsharedmemory[/region/{name}]/{status,register,unregister}:
  // `body` gets the JSON answer, or stays empty for an empty 200.
  Status HandleSystemSharedMemory(std::string_view action, const std::string& region,
                                  std::string_view request_body, std::string* body);
  // /v2/cudasharedmemory/...: this build has no CUDA, so registering fails.
  Status HandleCudaSharedMemory(std::string_view action, const std::string& region,
                                std::string* body);
  // POST /v2/repository/models/{m}/load|unload, answered from the lifecycle thread.
  void HandleLoadUnload(HttpRequest&& request, const std::string& model, bool load,
                        Responder respond);

  Server* core_;
  HttpApiOptions options_;
  std::unique_ptr<boost::asio::thread_pool> decode_pool_;
};

}  // namespace inferd::http
