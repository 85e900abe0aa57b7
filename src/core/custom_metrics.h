// Metrics that backends define (Triton's custom-metrics API): counter and
// gauge families with a name and HELP text, each holding series told apart by
// their labels. /metrics prints them after the server's own.
//
// Sharing, as Prometheus client libraries do: asking again for a family that
// exists (same name, kind and text) gives that family; asking for a series
// whose labels exist gives that series. So every model version of a backend
// can create "its" family, and a reloaded model version carries on with the
// counter of the one it replaces. A family or series is listed while any
// handle to it lives.
//
// Bounds, since a backend may build labels from what requests carry: at most
// kMaxFamilies families, kMaxSeries series in all, kMaxLabels labels of at
// most kMaxLabelBytes each.
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

enum class MetricKind { kCounter, kGauge };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class CustomMetricSeries {
 public:
  // Counters only go up; gauges take any change.
  Status Increment(double delta);
  Status Set(double value);  // gauges only
  double Value() const { return value_.load(std::memory_order_relaxed); }
  MetricKind kind() const { return kind_; }

 private:
  friend class CustomMetrics;
  explicit CustomMetricSeries(MetricKind kind) : kind_(kind) {}
  const MetricKind kind_;
  std::atomic<double> value_{0.0};
};

class CustomMetricFamily;

// What /metrics prints of one family.
struct CustomMetricSnapshot {
  std::string name, help;
  MetricKind kind;
  std::vector<std::pair<MetricLabels, double>> series;  // by labels
};

class CustomMetrics {
 public:
  static constexpr size_t kMaxFamilies = 1024;
  static constexpr size_t kMaxSeries = 65536;
  static constexpr size_t kMaxLabels = 32;
  static constexpr size_t kMaxLabelBytes = 1024;

  // The process's registry (backends are process-wide too).
  static CustomMetrics& Global();

  // `name` is a Prometheus metric name not starting with "nv_" (the server's).
  Status NewFamily(MetricKind kind, const std::string& name, const std::string& help,
                   std::shared_ptr<CustomMetricFamily>* out);
  // Label names are Prometheus label names; values any UTF-8 text.
  Status NewSeries(const std::shared_ptr<CustomMetricFamily>& family, MetricLabels labels,
                   std::shared_ptr<CustomMetricSeries>* out);
  std::vector<CustomMetricSnapshot> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::weak_ptr<CustomMetricFamily>> families_;  // guarded by mu_
  size_t series_count_ = 0;                                           // guarded by mu_
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
