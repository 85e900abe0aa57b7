// inferd-perf's measurement pieces: histogram percentiles, the stability
// rule, and request-rate pacing.
#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <vector>

#include "latency_histogram.h"
#include "pacing.h"
#include "stability.h"

namespace inferd::perf {
namespace {

TEST(LatencyHistogram, ExactBelow256AndWithinOnePercentAbove) {
  for (uint64_t v : {0ull, 1ull, 100ull, 255ull}) {
    EXPECT_EQ(LatencyHistogram::Middle(LatencyHistogram::Index(v)), v);
  }
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = 256 + rng() % 60'000'000'000ull;
    const size_t index = LatencyHistogram::Index(v);
    ASSERT_LT(index, LatencyHistogram::kBuckets);
    const uint64_t low = LatencyHistogram::Low(index);
    ASSERT_LE(low, v);
    const double error = std::abs(static_cast<double>(LatencyHistogram::Middle(index)) - static_cast<double>(v));
    ASSERT_LE(error, 0.01 * static_cast<double>(v)) << v;
  }
  EXPECT_LT(LatencyHistogram::Index(~0ull), LatencyHistogram::kBuckets);
}

TEST(LatencyHistogram, PercentilesMatchSortedSamples) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> dist(11.0, 0.6);  // around 60 us, long tail
  std::vector<uint64_t> samples;
  LatencyHistogram h;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t v = static_cast<uint64_t>(dist(rng));
    samples.push_back(v);
    h.Record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {50.0, 90.0, 95.0, 99.0, 99.9}) {
    const uint64_t exact = samples[static_cast<size_t>(std::ceil(p / 100 * samples.size())) - 1];
    EXPECT_NEAR(static_cast<double>(h.Percentile(p)), static_cast<double>(exact), 0.01 * exact) << "p" << p;
  }
  const double mean = std::accumulate(samples.begin(), samples.end(), 0.0) / samples.size();
  EXPECT_NEAR(h.mean(), mean, 1e-6 * mean);
  EXPECT_EQ(h.count(), samples.size());
  EXPECT_EQ(h.max(), samples.back());
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
  LatencyHistogram a, b, all;
  for (uint64_t v = 1; v < 5000; v += 7) {
    (v % 2 ? a : b).Record(v * 1000);
    all.Record(v * 1000);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (double p : {1.0, 50.0, 99.0}) EXPECT_EQ(a.Percentile(p), all.Percentile(p));
  LatencyHistogram empty;
  EXPECT_EQ(empty.Percentile(50), 0u);
}

TEST(Stability, NeedsThreeWindowsWithinThePercentage) {
  std::vector<WindowSummary> w = {{1000, 100}, {1000, 100}};
  EXPECT_FALSE(IsStable(w, 10));  // only two windows
  w.push_back({1040, 104});
  EXPECT_TRUE(IsStable(w, 10));
  w.push_back({1300, 100});       // throughput jumps by ~20%
  EXPECT_FALSE(IsStable(w, 10));
  w = {{1000, 100}, {1000, 130}, {1000, 100}};  // latency spread
  EXPECT_FALSE(IsStable(w, 10));
  EXPECT_TRUE(IsStable(w, 25));
  w = {{0, 0}, {0, 0}, {0, 0}};   // nothing completed is never stable
  EXPECT_FALSE(IsStable(w, 10));
}

TEST(Pacer, ConstantIsExactAndDoesNotDrift) {
  Pacer pacer(300.0, Distribution::kConstant);  // 3333333.33 ns apart
  uint64_t last = 0;
  for (int i = 0; i < 3001; ++i) last = pacer.Next();
  EXPECT_NEAR(static_cast<double>(last), 10e9, 1.0);  // request 3000 at exactly 10 s
}

TEST(Pacer, PoissonHasTheMeanRateAndVaries) {
  Pacer pacer(1000.0, Distribution::kPoisson);
  std::vector<double> gaps;
  uint64_t previous = pacer.Next();
  for (int i = 0; i < 20000; ++i) {
    const uint64_t t = pacer.Next();
    gaps.push_back(static_cast<double>(t - previous));
    previous = t;
  }
  const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / gaps.size();
  EXPECT_NEAR(mean, 1e6, 0.03e6);  // 1 ms on average
  double var = 0;
  for (double g : gaps) var += (g - mean) * (g - mean);
  const double stddev = std::sqrt(var / gaps.size());
  EXPECT_NEAR(stddev, mean, 0.05 * mean);  // exponential: stddev == mean
  Pacer again(1000.0, Distribution::kPoisson);
  Pacer first(1000.0, Distribution::kPoisson);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(again.Next(), first.Next());  // seeded: runs repeat
}

}  // namespace
}  // namespace inferd::perf
