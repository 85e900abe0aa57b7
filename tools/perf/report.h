// What one load level measured, and how it is printed: perf_analyzer's
// per-step text, its closing table, and its CSV columns.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "client/infer_client.h"
#include "load_generator.h"

namespace inferd::perf {

struct StepResult {
  bool rate_mode = false;
  double level = 0;          // concurrency, or requests per second
  int64_t batch_size = 1;
  WindowStats client;        // merged over the stable windows
  client::ServerStats server;  // deltas over the same windows
  bool stable = false;
  double throughput() const {
    return client.seconds > 0 ? static_cast<double>(client.latency.count()) * static_cast<double>(batch_size) / client.seconds : 0;
  }
};

struct ReportOptions {
  std::string protocol = "http";
  double percentile = 0;  // 0: averages, as perf_analyzer without --percentile
  bool verbose_csv = false;
};

void PrintStep(FILE* out, const StepResult& r, const ReportOptions& o);
void PrintSummary(FILE* out, const std::vector<StepResult>& steps, const ReportOptions& o);
std::string Csv(const std::vector<StepResult>& steps, const ReportOptions& o);

}  // namespace inferd::perf
