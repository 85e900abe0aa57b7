// LoadGenerator: keeps a served model under one level of load and measures
// it window by window.
//
// Concurrency mode: exactly N requests in flight, one worker thread each,
// every worker sending its next request as soon as the previous one is
// answered. Request-rate mode: a pool of workers sends at the times a Pacer
// gives; a request that could not leave within 1 ms of its time (every
// worker busy) counts as delayed.
//
// Workers record into their own histogram under their own (uncontended)
// lock; a window collects and resets them.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/infer_client.h"
#include "common/status.h"
#include "latency_histogram.h"
#include "pacing.h"

namespace inferd::perf {

struct WindowStats {
  LatencyHistogram latency;      // per request, ns
  uint64_t send_ns = 0, wait_ns = 0, receive_ns = 0;  // sums over requests
  uint64_t errors = 0;
  uint64_t delayed = 0;          // rate mode
  std::string first_error;
  double seconds = 0;

  void Merge(const WindowStats& o);
};

using ClientFactory = std::function<std::unique_ptr<client::InferClient>()>;

class LoadGenerator {
 public:
  // `requests`: one or more prepared requests, sent round robin. With
  // `streaming`, each worker sends on a gRPC stream of its own and a request
  // ends at its final response.
  LoadGenerator(ClientFactory factory, std::vector<client::InferRequest> requests, bool streaming);
  ~LoadGenerator();

  Status StartConcurrency(size_t concurrency);
  Status StartRate(double rate, Distribution distribution, size_t threads);
  void Stop();

  // Discards what was recorded so far (the warm-up).
  void Reset();
  // Collects what was recorded since the last Collect/Reset.
  WindowStats Collect();
  // Requests answered (or failed) since the last Collect/Reset.
  uint64_t Completed() const;

 private:
  struct Worker {
    std::unique_ptr<client::InferClient> client;
    std::mutex mu;
    WindowStats stats;  // guarded by mu
    std::thread thread;
  };
  Status StartWorkers(size_t n, std::function<void(Worker*)> loop);
  void Send(Worker* w, size_t* next_request);

  ClientFactory factory_;
  std::vector<client::InferRequest> requests_;
  bool streaming_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> completed_{0};
  std::chrono::steady_clock::time_point window_start_;

  // Rate mode.
  std::mutex pacer_mu_;
  std::unique_ptr<Pacer> pacer_;  // guarded by pacer_mu_
  std::chrono::steady_clock::time_point rate_start_;
};

}  // namespace inferd::perf
