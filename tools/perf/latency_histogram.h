// LatencyHistogram: HDR-style log-linear buckets over nanoseconds. 128
// buckets per power of two keep every recorded value within 1% (exact below
// 256 ns); Record never allocates, so the load generator can record on its
// hot path. Merge adds histograms of several threads or windows.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace inferd::perf {

class LatencyHistogram {
 public:
  void Record(uint64_t ns) {
    ++counts_[Index(ns)];
    ++count_;
    sum_ += static_cast<double>(ns);
    sum_squares_ += static_cast<double>(ns) * static_cast<double>(ns);
    if (ns > max_) max_ = ns;
  }

  void Merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    sum_squares_ += other.sum_squares_;
    if (other.max_ > max_) max_ = other.max_;
  }

  void Reset() { *this = LatencyHistogram(); }

  uint64_t count() const { return count_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  double stddev() const {
    if (count_ < 2) return 0;
    const double m = mean();
    return std::sqrt(std::max(0.0, sum_squares_ / static_cast<double>(count_) - m * m));
  }
  uint64_t max() const { return max_; }

  // The value below which `percent` (0..100) of the recordings fall: the
  // ceil(percent% * count)-th smallest, as its bucket's middle. 0 when empty.
  uint64_t Percentile(double percent) const {
    if (count_ == 0) return 0;
    const double clamped = percent < 0 ? 0 : percent > 100 ? 100 : percent;
    uint64_t rank = static_cast<uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_)));
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return Middle(i);
    }
    return max_;
  }

  // Bucket arithmetic, public for the tests.
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = 1ull << kSubBits;
  static constexpr size_t kBuckets = (64 - kSubBits) * kSub + kSub;

  static size_t Index(uint64_t v) {
    if (v < 2 * kSub) return static_cast<size_t>(v);
    const int msb = 63 - std::countl_zero(v);
    const int e = msb - kSubBits;                     // >= 1 here
    return static_cast<size_t>(e) * kSub + static_cast<size_t>(v >> e);
  }
  static uint64_t Low(size_t index) {
    if (index < 2 * kSub) return index;
    const size_t e = index / kSub - 1;
    const uint64_t mantissa = index - e * kSub;
    return mantissa << e;
  }
  static uint64_t Middle(size_t index) {
    if (index < 2 * kSub) return index;
    const size_t e = index / kSub - 1;
    return Low(index) + ((1ull << e) - 1) / 2;
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0, sum_squares_ = 0;
  uint64_t max_ = 0;
};

}  // namespace inferd::perf
