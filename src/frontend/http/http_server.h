// The KServe v2 HTTP/REST endpoint: Boost.Beast over Asio, HTTP/1.1 with
// keep-alive, a fixed pool of I/O threads (no thread per request or
// connection). Parsing and routing happen on the I/O threads; inference runs
// on the model instances and its answer is posted back to the connection.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "core/server.h"

namespace inferd::http {

struct HttpOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8000;
  int thread_count = 0;                    // 0: one per core, at least 2
  uint64_t max_input_size = 64ull << 20;   // bytes; larger bodies get 413
};

class HttpApi;

class HttpServer {
 public:
  HttpServer(Server* core, HttpOptions options);
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
