// Send times for request-rate mode: offsets from the start, constant
// (exactly 1/rate apart) or poisson (exponential gaps of mean 1/rate, seeded
// so that runs repeat).
#pragma once

#include <cstdint>
#include <random>

namespace inferd::perf {

enum class Distribution { kConstant, kPoisson };

class Pacer {
 public:
  Pacer(double rate_per_second, Distribution distribution, uint64_t seed = 7)
      : gap_ns_(1e9 / rate_per_second), distribution_(distribution), rng_(seed),
        exponential_(rate_per_second / 1e9) {}

  // The offset in nanoseconds of the next request. Offsets are accumulated
  // in double, so constant pacing does not drift by rounding.
  uint64_t Next() {
    const uint64_t at = static_cast<uint64_t>(elapsed_ns_);
    elapsed_ns_ += distribution_ == Distribution::kConstant ? gap_ns_ : exponential_(rng_);
    return at;
  }

 private:
  double gap_ns_;
  Distribution distribution_;
  std::mt19937_64 rng_;
  std::exponential_distribution<double> exponential_;
  double elapsed_ns_ = 0;
};

}  // namespace inferd::perf
