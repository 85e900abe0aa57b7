// Custom metrics through the backend ABI (InferdCoreApi 1.2): families and
// series are shared by name and labels, counters only go up, gauges are set,
// names and labels are checked, and a series is listed while a handle lives.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "core/core_api.h"
#include "core/custom_metrics.h"

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
  EXPECT_EQ(f->series[0].first, (MetricLabels{{"model", "m"}, {"version", "1"}}));
  EXPECT_EQ(f->series[0].second, 2.5);

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
  EXPECT_NE(Message(api->MetricFamilyNew(INFERD_METRIC_COUNTER, "unit_shared", "Other text", &clash)), "");
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
  api->MetricDelete(new_version);
  EXPECT_EQ(Find(CustomMetrics::Global().Snapshot(), "unit_shared"), nullptr);
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
