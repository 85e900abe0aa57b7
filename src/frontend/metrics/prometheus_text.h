// Writing the Prometheus text exposition format (version 0.0.4): one HELP and
// TYPE line per metric family, then its samples with escaped label values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/custom_metrics.h"

namespace inferd::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // Starts a family: `type` is counter, gauge, histogram or summary.
  void Family(const std::string& name, const char* type, const std::string& help);
  void Sample(const std::string& name, const Labels& labels, double value);
  void Sample(const std::string& name, const Labels& labels, uint64_t value);
  // One histogram series, as Triton (prometheus-cpp) prints it: <name>_count,
  // <name>_sum, then <name>_bucket with an "le" label after the series' own,
  // cumulative, ending with le="+Inf".
  void Histogram(const std::string& name, const Labels& labels, const HistogramSnapshot& histogram);

  const std::string& text() const { return out_; }

 private:
  void Name(const std::string& name, const Labels& labels);
  std::string out_;
};

}  // namespace inferd::metrics
