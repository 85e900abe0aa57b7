// Metrics that backends define (Triton's custom-metrics API): counter, gauge
// and histogram families with a name and HELP text, each holding series told
// apart by their labels. /metrics prints them after the server's own.
//
// Sharing, as Prometheus client libraries (and so Triton) do: asking again for
// a family that exists with the same kind gives that family, its first HELP
// text kept; asking for a series whose labels exist gives that series (a
// histogram keeps its first buckets). So every model version of a backend can
// create "its" family, and a reloaded model version carries on with the
// counter of the one it replaces. A family or series is listed while any
// handle to it lives.
//
// Bounds, since a backend may build labels from what requests carry: at most
// kMaxFamilies families, kMaxSamples printed samples in all (a counter or
// gauge series is one, a histogram's is one per bucket plus its sum and
// count), kMaxLabels labels of at most kMaxLabelBytes each, kMaxBuckets
// buckets per histogram.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace inferd {

enum class MetricKind { kCounter, kGauge, kHistogram };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// What a histogram series holds: observations counted by bucket, as
// Prometheus prints them (cumulative: counts[i] observations <= bounds[i],
// the last entry, for +Inf, all of them).
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative_counts;  // bounds.size() + 1
  double sum = 0;
  uint64_t count = 0;
};

class CustomMetricSeries {
 public:
  // Counters only go up; gauges take any change; histograms neither.
  Status Increment(double delta);
  Status Set(double value);      // gauges only
  Status Observe(double value);  // histograms only
  // A counter's or gauge's value (a histogram has none: Snapshot it).
  Status Value(double* out) const;
  MetricKind kind() const { return kind_; }
  HistogramSnapshot Histogram() const;  // histograms only

 private:
  friend class CustomMetrics;
  CustomMetricSeries(MetricKind kind, std::vector<double> bounds);
  const MetricKind kind_;
  std::atomic<double> value_{0.0};  // counters and gauges
  // Histograms: under histogram_mu_, so that a scrape sees the buckets, sum
  // and count of the same observations.
  const std::vector<double> bounds_;
  mutable std::mutex histogram_mu_;
  std::vector<uint64_t> bucket_counts_;  // per bucket (not cumulative), +Inf last
  double sum_ = 0;
  uint64_t count_ = 0;
};

class CustomMetricFamily;

// What /metrics prints of one family.
struct CustomSeriesSnapshot {
  MetricLabels labels;
  double value = 0;             // counters and gauges
  HistogramSnapshot histogram;  // histograms
};
struct CustomMetricSnapshot {
  std::string name, help;
  MetricKind kind;
  std::vector<CustomSeriesSnapshot> series;  // by labels
};

class CustomMetrics {
 public:
  static constexpr size_t kMaxFamilies = 1024;
  static constexpr size_t kMaxSamples = 65536;
  static constexpr size_t kMaxBuckets = 256;
  static constexpr size_t kMaxLabels = 32;
  static constexpr size_t kMaxLabelBytes = 1024;

  // The process's registry (backends are process-wide too).
  static CustomMetrics& Global();

  // `name` is a Prometheus metric name not starting with "nv_" (the server's).
  Status NewFamily(MetricKind kind, const std::string& name, const std::string& help,
                   std::shared_ptr<CustomMetricFamily>* out);
  // Label names are Prometheus label names; values any UTF-8 text. A
  // histogram's series needs `buckets`: finite upper bounds, strictly
  // increasing, possibly none (+Inf is always there); other kinds take none.
  Status NewSeries(const std::shared_ptr<CustomMetricFamily>& family, MetricLabels labels,
                   std::shared_ptr<CustomMetricSeries>* out, const std::vector<double>* buckets = nullptr);
  std::vector<CustomMetricSnapshot> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::weak_ptr<CustomMetricFamily>> families_;  // guarded by mu_
  size_t sample_count_ = 0;                                           // guarded by mu_
  friend class CustomMetricFamily;
};

class CustomMetricFamily {
 public:
  ~CustomMetricFamily();
  const std::string& name() const { return name_; }
  MetricKind kind() const { return kind_; }

 private:
  friend class CustomMetrics;
  CustomMetricFamily(CustomMetrics* owner, MetricKind kind, std::string name, std::string help)
      : owner_(owner), kind_(kind), name_(std::move(name)), help_(std::move(help)) {}
  CustomMetrics* const owner_;
  const MetricKind kind_;
  const std::string name_, help_;
  // Guarded by the owner's mu_. Each series keeps its family alive.
  std::map<MetricLabels, std::weak_ptr<CustomMetricSeries>> series_;
};

}  // namespace inferd
