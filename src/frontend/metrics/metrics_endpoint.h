// The Prometheus endpoint: GET /metrics on --metrics-port answers Triton's
// metric names and labels, computed from the core's counters at scrape time
// (per model version: requests, inferences, executions, cumulative latencies,
// pending requests, response cache), plus machine and process usage.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "core/server.h"
#include "frontend/http/http_api.h"
#include "frontend/metrics/system_usage.h"

namespace inferd::metrics {

struct MetricsOptions {
  bool counter_latencies = true;    // nv_inference_*_duration_us counters
  bool summary_latencies = false;   // nv_inference_*_summary_us summaries
  std::vector<double> quantiles = {0.5, 0.9, 0.95, 0.99};
  uint64_t summary_max_age_ms = 60000;  // quantiles cover this recent window
  bool cpu_metrics = true;          // nv_cpu_* (sampled every interval_ms)
  int interval_ms = 2000;
};

// Applies one --metrics-config KEY=VALUE (Triton's keys: counter_latencies,
// summary_latencies, summary_quantiles=Q:E,Q:E...; plus summary_max_age_ms).
Status ApplyMetricsConfig(const std::string& setting, MetricsOptions* options);

class MetricsEndpoint {
 public:
  MetricsEndpoint(const Server* core, MetricsOptions options);
  ~MetricsEndpoint();

  // Starts the sampling of machine CPU use (every interval_ms).
  void Start();
  void Stop();

  // The whole page.
  std::string Render() const;
  // GET /metrics; anything else is 404 (or 405).
  void Handle(http::HttpRequest&& request, http::Responder respond) const;

 private:
  void SampleLoop();

  const Server* core_;
  MetricsOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;        // guarded by mu_
  double cpu_utilization_ = 0;   // guarded by mu_; over the last interval
  SystemMemory memory_;          // guarded by mu_
  std::thread sampler_;
};

}  // namespace inferd::metrics
