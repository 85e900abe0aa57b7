// Custom metrics through the backend ABI (InferdCoreApi 1.2, histograms 1.7):
// families and series are shared by name and labels, counters only go up,
// gauges are set, histograms count observations in their buckets, names,
// labels and buckets are checked, and a series is listed while a handle lives;
// and how /metrics prints a histogram.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "core/core_api.h"
#include "core/custom_metrics.h"
#include "frontend/metrics/prometheus_text.h"

namespace inferd {
namespace {

const InferdCoreApi* api = CoreApi();

// The error's message (or "" for success); frees the error.
std::string Message(InferdError* e) {
  if (e == nullptr) return "";
  std::string m = api->ErrorMessage(e);
  api->ErrorDelete(e);
  return m.empty() ? "(error)" : m;
}

const CustomMetricSnapshot* Find(const std::vector<CustomMetricSnapshot>& all, const std::string& name) {
  for (const auto& f : all)
    if (f.name == name) return &f;
  return nullptr;
}

TEST(CustomMetrics, CounterAndGaugeThroughTheAbi) {
  ASSERT_GE(api->api_version, INFERD_BACKEND_API_VERSION);
  InferdMetricFamily* counters = nullptr;
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit_requests", "Requests seen", &counters)), "");
  const char* names[] = {"model", "version"};
  const char* values[] = {"m", "1"};
  InferdMetric* c = nullptr;
  ASSERT_EQ(Message(api->MetricNew(counters, names, values, 2, &c)), "");
  EXPECT_EQ(Message(api->MetricIncrement(c, 2.5)), "");
  EXPECT_NE(Message(api->MetricIncrement(c, -1)), "");  // counters only go up
  EXPECT_NE(Message(api->MetricIncrement(c, std::nan(""))), "");
  EXPECT_NE(Message(api->MetricSet(c, 7)), "");  // a counter is not set
  double v = 0;
  ASSERT_EQ(Message(api->MetricValue(c, &v)), "");
  EXPECT_EQ(v, 2.5);

  InferdMetricFamily* gauges = nullptr;
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_GAUGE, "unit_queue_depth", "Depth", &gauges)), "");
  InferdMetric* g = nullptr;
  ASSERT_EQ(Message(api->MetricNew(gauges, nullptr, nullptr, 0, &g)), "");
  EXPECT_EQ(Message(api->MetricSet(g, 5)), "");
  EXPECT_EQ(Message(api->MetricIncrement(g, -7)), "");
  ASSERT_EQ(Message(api->MetricValue(g, &v)), "");
  EXPECT_EQ(v, -2);

  const auto all = CustomMetrics::Global().Snapshot();
  const auto* f = Find(all, "unit_requests");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->help, "Requests seen");
  ASSERT_EQ(f->series.size(), 1u);
  EXPECT_EQ(f->series[0].labels, (MetricLabels{{"model", "m"}, {"version", "1"}}));
  EXPECT_EQ(f->series[0].value, 2.5);

  EXPECT_EQ(Message(api->MetricDelete(c)), "");
  EXPECT_EQ(Message(api->MetricDelete(g)), "");
  EXPECT_EQ(Message(api->MetricFamilyDelete(counters)), "");
  EXPECT_EQ(Message(api->MetricFamilyDelete(gauges)), "");
  EXPECT_EQ(Find(CustomMetrics::Global().Snapshot(), "unit_requests"), nullptr);
}

TEST(CustomMetrics, SameNameAndLabelsShareOneSeries) {
  InferdMetricFamily *a = nullptr, *b = nullptr, *clash = nullptr;
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit_shared", "Shared", &a)), "");
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit_shared", "Shared", &b)), "");
  EXPECT_NE(Message(api->MetricFamilyNew(INFERD_METRIC_GAUGE, "unit_shared", "Shared", &clash)), "");
  // Another description gets the family with its first one, as in Triton.
  InferdMetricFamily* other_text = nullptr;
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit_shared", "Other text", &other_text)), "");
  api->MetricFamilyDelete(other_text);
  // Labels in any order name the same series.
  const char* n1[] = {"model", "version"};
  const char* v1[] = {"m", "1"};
  const char* n2[] = {"version", "model"};
  const char* v2[] = {"1", "m"};
  InferdMetric *old_version = nullptr, *new_version = nullptr;
  ASSERT_EQ(Message(api->MetricNew(a, n1, v1, 2, &old_version)), "");
  ASSERT_EQ(Message(api->MetricNew(b, n2, v2, 2, &new_version)), "");
  EXPECT_EQ(Message(api->MetricIncrement(old_version, 3)), "");
  EXPECT_EQ(Message(api->MetricDelete(old_version)), "");
  api->MetricFamilyDelete(a);
  EXPECT_EQ(Message(api->MetricIncrement(new_version, 1)), "");  // carries on from 3
  double v = 0;
  ASSERT_EQ(Message(api->MetricValue(new_version, &v)), "");
  EXPECT_EQ(v, 4);
  // A metric keeps its family listed after the family's handle is gone.
  api->MetricFamilyDelete(b);
  EXPECT_NE(Find(CustomMetrics::Global().Snapshot(), "unit_shared"), nullptr);
  ASSERT_NE(Find(CustomMetrics::Global().Snapshot(), "unit_shared"), nullptr);
  EXPECT_EQ(Find(CustomMetrics::Global().Snapshot(), "unit_shared")->help, "Shared");
  api->MetricDelete(new_version);
  EXPECT_EQ(Find(CustomMetrics::Global().Snapshot(), "unit_shared"), nullptr);
}

TEST(CustomMetrics, HistogramCountsObservationsInItsBuckets) {
  InferdMetricFamily* family = nullptr;
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_HISTOGRAM, "unit_latency", "Latency", &family)), "");
  const char* names[] = {"model"};
  const char* values[] = {"m"};
  const double buckets[] = {0.1, 1.0, 2.5, 5.0, 10.0};
  InferdMetric* h = nullptr;
  EXPECT_NE(Message(api->MetricNew(family, names, values, 1, &h)), "");  // needs buckets
  ASSERT_EQ(Message(api->MetricNewHistogram(family, names, values, 1, buckets, 5, &h)), "");
  for (double v : {0.05, 1.5, 6.0, 1.0, 100.0}) EXPECT_EQ(Message(api->MetricObserve(h, v)), "") << v;
  EXPECT_NE(Message(api->MetricObserve(h, std::numeric_limits<double>::infinity())), "");
  EXPECT_NE(Message(api->MetricObserve(h, std::nan(""))), "");
  EXPECT_NE(Message(api->MetricIncrement(h, 1)), "");
  EXPECT_NE(Message(api->MetricSet(h, 1)), "");
  double v = 0;
  EXPECT_NE(Message(api->MetricValue(h, &v)), "");

  // The same labels give the same series, with its first buckets.
  const double other_buckets[] = {7.0};
  InferdMetric* again = nullptr;
  ASSERT_EQ(Message(api->MetricNewHistogram(family, names, values, 1, other_buckets, 1, &again)), "");
  EXPECT_EQ(Message(api->MetricObserve(again, 0.5)), "");

  const auto all = CustomMetrics::Global().Snapshot();
  const auto* f = Find(all, "unit_latency");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, MetricKind::kHistogram);
  ASSERT_EQ(f->series.size(), 1u);
  const HistogramSnapshot& hist = f->series[0].histogram;
  EXPECT_EQ(hist.bounds, std::vector<double>(buckets, buckets + 5));
  // le 0.1: 0.05; le 1: +1.0 (bounds are inclusive) +0.5; le 2.5: +1.5; le 10: +6; +Inf: +100.
  EXPECT_EQ(hist.cumulative_counts, (std::vector<uint64_t>{1, 3, 4, 4, 5, 6}));
  EXPECT_EQ(hist.count, 6u);
  EXPECT_DOUBLE_EQ(hist.sum, 0.05 + 1.5 + 6.0 + 1.0 + 100.0 + 0.5);

  metrics::PrometheusText text;
  text.Histogram("unit_latency", f->series[0].labels, hist);
  EXPECT_EQ(text.text(),
            "unit_latency_count{model=\"m\"} 6\n"
            "unit_latency_sum{model=\"m\"} 109.05\n"
            "unit_latency_bucket{model=\"m\",le=\"0.1\"} 1\n"
            "unit_latency_bucket{model=\"m\",le=\"1\"} 3\n"
            "unit_latency_bucket{model=\"m\",le=\"2.5\"} 4\n"
            "unit_latency_bucket{model=\"m\",le=\"5\"} 4\n"
            "unit_latency_bucket{model=\"m\",le=\"10\"} 5\n"
            "unit_latency_bucket{model=\"m\",le=\"+Inf\"} 6\n");

  api->MetricDelete(again);
  api->MetricDelete(h);
  api->MetricFamilyDelete(family);
  EXPECT_EQ(Find(CustomMetrics::Global().Snapshot(), "unit_latency"), nullptr);
}

TEST(CustomMetrics, HistogramBucketsAreChecked) {
  InferdMetricFamily *family = nullptr, *counters = nullptr;
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_HISTOGRAM, "unit_bucket_checks", "x", &family)), "");
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit_bucket_counter", "x", &counters)), "");
  InferdMetric* m = nullptr;
  const double unsorted[] = {2.5, 0.1};
  const double repeated[] = {1, 1, 2};
  const double infinite[] = {1, std::numeric_limits<double>::infinity()};
  const double not_a_number[] = {std::nan("")};
  EXPECT_NE(Message(api->MetricNewHistogram(family, nullptr, nullptr, 0, unsorted, 2, &m)), "");
  EXPECT_NE(Message(api->MetricNewHistogram(family, nullptr, nullptr, 0, repeated, 3, &m)), "");
  EXPECT_NE(Message(api->MetricNewHistogram(family, nullptr, nullptr, 0, infinite, 2, &m)), "");
  EXPECT_NE(Message(api->MetricNewHistogram(family, nullptr, nullptr, 0, not_a_number, 1, &m)), "");
  EXPECT_NE(Message(api->MetricNewHistogram(family, nullptr, nullptr, 1, unsorted, 2, &m)), "");  // null labels
  EXPECT_NE(Message(api->MetricNewHistogram(family, nullptr, nullptr, 0, nullptr, 2, &m)), "");
  std::vector<double> too_many(CustomMetrics::kMaxBuckets + 1);
  for (size_t i = 0; i < too_many.size(); ++i) too_many[i] = static_cast<double>(i);
  EXPECT_NE(Message(api->MetricNewHistogram(family, nullptr, nullptr, 0, too_many.data(),
                                            static_cast<uint32_t>(too_many.size()), &m)), "");
  const char* le[] = {"le"};
  const char* one[] = {"1"};
  EXPECT_NE(Message(api->MetricNewHistogram(family, le, one, 1, nullptr, 0, &m)), "");  // "le" is the buckets'
  EXPECT_NE(Message(api->MetricNewHistogram(counters, nullptr, nullptr, 0, nullptr, 0, &m)), "");
  // No buckets: only +Inf. A counter does not observe.
  ASSERT_EQ(Message(api->MetricNewHistogram(family, nullptr, nullptr, 0, nullptr, 0, &m)), "");
  EXPECT_EQ(Message(api->MetricObserve(m, -3)), "");
  InferdMetric* c = nullptr;
  ASSERT_EQ(Message(api->MetricNew(counters, nullptr, nullptr, 0, &c)), "");
  EXPECT_NE(Message(api->MetricObserve(c, 1)), "");
  const auto all = CustomMetrics::Global().Snapshot();
  const auto* f = Find(all, "unit_bucket_checks");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->series.size(), 1u);
  EXPECT_EQ(f->series[0].histogram.cumulative_counts, std::vector<uint64_t>{1});
  EXPECT_EQ(f->series[0].histogram.sum, -3);
  api->MetricDelete(m);
  api->MetricDelete(c);
  api->MetricFamilyDelete(family);
  api->MetricFamilyDelete(counters);
}

TEST(CustomMetrics, HistogramSeriesCountTheirBucketsAgainstTheSampleBound) {
  InferdMetricFamily* family = nullptr;
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_HISTOGRAM, "unit_sample_bound", "x", &family)), "");
  std::vector<double> buckets(CustomMetrics::kMaxBuckets);
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] = static_cast<double>(i);
  // Each series prints kMaxBuckets + 3 samples; the bound stops them well
  // before kMaxSamples series.
  const size_t fit = CustomMetrics::kMaxSamples / (CustomMetrics::kMaxBuckets + 3);
  std::vector<InferdMetric*> made;
  std::string error;
  for (size_t i = 0; i <= fit && error.empty(); ++i) {
    const std::string value = std::to_string(i);
    const char* names[] = {"i"};
    const char* values[] = {value.c_str()};
    InferdMetric* m = nullptr;
    error = Message(api->MetricNewHistogram(family, names, values, 1, buckets.data(),
                                            static_cast<uint32_t>(buckets.size()), &m));
    if (error.empty()) made.push_back(m);
  }
  EXPECT_NE(error, "");
  EXPECT_LE(made.size(), fit);
  for (InferdMetric* m : made) api->MetricDelete(m);
  // Deleting them gives the room back.
  InferdMetric* m = nullptr;
  const char* names[] = {"i"};
  const char* values[] = {"again"};
  EXPECT_EQ(Message(api->MetricNewHistogram(family, names, values, 1, buckets.data(),
                                            static_cast<uint32_t>(buckets.size()), &m)), "");
  api->MetricDelete(m);
  api->MetricFamilyDelete(family);
}

TEST(CustomMetrics, NamesAndLabelsAreChecked) {
  InferdMetricFamily* f = nullptr;
  for (const char* bad : {"", "9lives", "has space", "nv_inference_count", "a-b", "\xc3\xa9"}) {
    EXPECT_NE(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, bad, "x", &f)), "") << bad;
  }
  EXPECT_NE(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit_bad_help", "\xff", &f)), "");
  EXPECT_NE(Message(api->MetricFamilyNew(static_cast<InferdMetricKind>(7), "unit_kind", "x", &f)), "");
  EXPECT_NE(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit_null", "x", nullptr)), "");
  ASSERT_EQ(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit:labels_ok", "x", &f)), "");
  InferdMetric* m = nullptr;
  const char* value[] = {"v"};
  for (const char* bad : {"", "__reserved", "a:b", "1x", "sp ace"}) {
    const char* name[] = {bad};
    EXPECT_NE(Message(api->MetricNew(f, name, value, 1, &m)), "") << bad;
  }
  const char* twice_names[] = {"a", "a"};
  const char* twice_values[] = {"1", "2"};
  EXPECT_NE(Message(api->MetricNew(f, twice_names, twice_values, 2, &m)), "");
  const char* name[] = {"a"};
  const char* not_utf8[] = {"\xc0\x80"};
  EXPECT_NE(Message(api->MetricNew(f, name, not_utf8, 1, &m)), "");
  const std::string long_value(CustomMetrics::kMaxLabelBytes + 1, 'x');
  const char* long_values[] = {long_value.c_str()};
  EXPECT_NE(Message(api->MetricNew(f, name, long_values, 1, &m)), "");
  const char* null_value[] = {nullptr};
  EXPECT_NE(Message(api->MetricNew(f, name, null_value, 1, &m)), "");
  // Label values may hold any text: the exposition escapes it.
  const char* odd[] = {"quote \" backslash \\ newline \n"};
  ASSERT_EQ(Message(api->MetricNew(f, name, odd, 1, &m)), "");
  api->MetricDelete(m);
  api->MetricFamilyDelete(f);
}

}  // namespace
}  // namespace inferd
