// The samples behind the metrics' latency summaries: quantiles over a
// recent window, cumulative sum and count.
#include "core/latency_summary.h"

#include <gtest/gtest.h>

#include <cmath>

namespace inferd {
namespace {

TEST(LatencySummary, QuantilesOfTheRecentSamplesOnly) {
  LatencySummary s(100);
  const uint64_t second = 1'000'000'000;
  for (int i = 1; i <= 10; ++i) s.Add(1 * second, 1000.0);   // old
  for (int i = 1; i <= 100; ++i) s.Add(100 * second, i);     // recent: 1..100 (overwrites the ring)
  const auto q = s.Quantiles({0.5, 0.9, 0.99, 1.0}, 100 * second, 60 * second);
  EXPECT_EQ(q[0], 50);
  EXPECT_EQ(q[1], 90);
  EXPECT_EQ(q[2], 99);
  EXPECT_EQ(q[3], 100);
  EXPECT_EQ(s.count(), 110u);
  EXPECT_DOUBLE_EQ(s.sum(), 10 * 1000.0 + 5050.0);
}

TEST(LatencySummary, AgedOutSamplesGiveNaN) {
  LatencySummary s(16);
  const uint64_t second = 1'000'000'000;
  s.Add(1 * second, 5);
  const auto q = s.Quantiles({0.5}, 120 * second, 60 * second);
  EXPECT_TRUE(std::isnan(q[0]));
  EXPECT_EQ(s.Quantiles({0.5}, 30 * second, 60 * second)[0], 5);
}

}  // namespace
}  // namespace inferd
