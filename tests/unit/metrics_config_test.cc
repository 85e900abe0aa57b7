#include <gtest/gtest.h>

#include "frontend/metrics/metrics_endpoint.h"

namespace inferd {
namespace {

TEST(MetricsConfig, NumbersOutOfRangeAreRefusedNotCast) {
  metrics::MetricsOptions o;
  ASSERT_TRUE(metrics::ApplyMetricsConfig("summary_max_age_ms=1000", &o).ok());
  EXPECT_EQ(o.summary_max_age_ms, 1000u);
  // Found by the parameters fuzzer: a double past uint64 was cast (undefined).
  for (const char* bad : {"summary_max_age_ms=1e23", "summary_max_age_ms=nan", "summary_max_age_ms=0.5",
                          "summary_max_age_ms=inf", "summary_quantiles=nan:0.1", "summary_quantiles=1.5:0.1"}) {
    EXPECT_FALSE(metrics::ApplyMetricsConfig(bad, &o).ok()) << bad;
  }
}

}  // namespace
}  // namespace inferd
