// An HTTP/1.1 server on Boost.Beast over Asio: keep-alive, a fixed pool of
// I/O threads (no thread per request or connection). Requests are parsed on
// the I/O threads and handed to a handler (the KServe v2 API, or the metrics
// page); its answer may come from any thread and is posted back to the
// connection.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "frontend/http/http_api.h"

namespace inferd::http {

struct HttpOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8000;
  int thread_count = 0;                    // 0: one per core, at least 2
  uint64_t max_input_size = 64ull << 20;   // bytes; larger bodies get 413
  std::string service_name = "HTTPService";  // for the log
  std::string thread_name = "http-io";       // the I/O threads' (common/thread_name.h)
  bool reuse_port = false;                 // SO_REUSEPORT (--reuse-http-port)
  // Connection deadlines in seconds (0: none), so that no client holds a
  // connection (a file descriptor, its buffers) by going quiet or slow:
  //  - idle: a connection with no request started (new, or kept alive after
  //    an answer) is closed after this long;
  //  - header: a request's header must be complete this long after its first byte;
  //  - body: its body must be complete this long after the header, and an
  //    answer must be taken by the client within this long.
  // The time a request waits for the model is not limited here.
  int idle_timeout_secs = 60;
  int header_timeout_secs = 60;
  int body_timeout_secs = 60;
};

// Answers one request: calls the responder exactly once, from any thread.
using HttpHandler = std::function<void(HttpRequest&&, const HttpReadTimes&, Responder)>;

class HttpServer {
 public:
  HttpServer(HttpHandler handler, HttpOptions options);
  ~HttpServer();

  // Binds, listens and starts the I/O threads.
  Status Start();
  // Closes the listening socket; open connections keep being served.
  void StopAccepting();
  // Waits until every request already read has been answered and written
  // (at most `drain`), then closes all connections and joins the threads.
  void Stop(std::chrono::milliseconds drain);

  uint16_t port() const { return bound_port_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  uint16_t bound_port_ = 0;
};

}  // namespace inferd::http
