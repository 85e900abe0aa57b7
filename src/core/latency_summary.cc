#include "core/latency_summary.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace inferd {

std::vector<double> LatencySummary::Quantiles(const std::vector<double>& qs, uint64_t now_ns,
                                              uint64_t max_age_ns) const {
  const uint64_t oldest = now_ns > max_age_ns ? now_ns - max_age_ns : 0;
  std::vector<double> recent;
  recent.reserve(size_);
  for (size_t i = 0; i < size_; ++i) {
    if (ring_[i].time_ns >= oldest) recent.push_back(ring_[i].value);
  }
  std::vector<double> out(qs.size(), std::numeric_limits<double>::quiet_NaN());
  if (recent.empty()) return out;
  std::sort(recent.begin(), recent.end());
  for (size_t k = 0; k < qs.size(); ++k) {
    // Nearest rank: the ceil(q * n)-th smallest sample (1-based).
    const double rank = std::ceil(std::clamp(qs[k], 0.0, 1.0) * static_cast<double>(recent.size()));
    const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
    out[k] = recent[std::min(index, recent.size() - 1)];
  }
  return out;
}

}  // namespace inferd
