// LatencySummary: the recent samples of one latency, for the quantiles of a
// Prometheus summary (Triton's --metrics-config summary_latencies=true).
//
// Samples live in a fixed ring (no allocation per sample); quantiles are taken
// at scrape time over the samples younger than max_age, so a dashboard's p99
// follows the current load rather than the whole uptime. Sum and count are
// cumulative, as Prometheus expects. Not thread-safe: the owner locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace inferd {

class LatencySummary {
 public:
  explicit LatencySummary(size_t capacity = 4096) : ring_(capacity) {}

  void Add(uint64_t now_ns, double value) {
    ring_[next_] = {now_ns, value};
    next_ = (next_ + 1) % ring_.size();
    if (size_ < ring_.size()) ++size_;
    sum_ += value;
    ++count_;
  }

  // The value at each quantile q (0..1) over the samples taken at or after
  // now_ns - max_age_ns: the smallest sample with at least q of them at or
  // below it. NaN for each when there is no such sample.
  std::vector<double> Quantiles(const std::vector<double>& qs, uint64_t now_ns,
                                uint64_t max_age_ns) const;

  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  struct Sample {
    uint64_t time_ns = 0;
    double value = 0;
  };
  std::vector<Sample> ring_;
  size_t next_ = 0;
  size_t size_ = 0;
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace inferd
