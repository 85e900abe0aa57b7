// When a measurement is stable (perf_analyzer's rule): the last three
// windows' throughputs, and their latencies, each lie within
// `percentage`% of those windows' average.
#pragma once

#include <cmath>
#include <vector>

namespace inferd::perf {

struct WindowSummary {
  double throughput = 0;  // inferences per second
  double latency_us = 0;  // average, or the chosen percentile
};

inline bool IsStable(const std::vector<WindowSummary>& windows, double percentage, size_t last = 3) {
  if (windows.size() < last) return false;
  double throughput = 0, latency = 0;
  for (size_t i = windows.size() - last; i < windows.size(); ++i) {
    throughput += windows[i].throughput;
    latency += windows[i].latency_us;
  }
  throughput /= static_cast<double>(last);
  latency /= static_cast<double>(last);
  if (throughput <= 0) return false;
  const double allowed = percentage / 100.0;
  for (size_t i = windows.size() - last; i < windows.size(); ++i) {
    if (std::abs(windows[i].throughput - throughput) > allowed * throughput) return false;
    if (std::abs(windows[i].latency_us - latency) > allowed * latency) return false;
  }
  return true;
}

}  // namespace inferd::perf
