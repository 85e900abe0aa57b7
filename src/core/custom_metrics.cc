#include "core/custom_metrics.h"

#include <algorithm>
#include <cmath>

#include "common/utf8.h"

namespace inferd {
namespace {

bool IsNameChar(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon_ok && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

// Prometheus names: [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, no ':' in labels.
bool IsValidName(const std::string& name, bool colon_ok) {
  if (name.empty() || name.size() > 200) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!IsNameChar(name[i], i == 0, colon_ok)) return false;
  return true;
}

const char* KindName(MetricKind kind) {
  switch (kind) {
    case MetricKind::kCounter: return "a counter";
    case MetricKind::kGauge: return "a gauge";
    case MetricKind::kHistogram: return "a histogram";
  }
  return "a metric";
}

}  // namespace

CustomMetricSeries::CustomMetricSeries(MetricKind kind, std::vector<double> bounds)
    : kind_(kind), bounds_(std::move(bounds)) {
  if (kind_ == MetricKind::kHistogram) bucket_counts_.assign(bounds_.size() + 1, 0);
}

Status CustomMetricSeries::Increment(double delta) {
  if (kind_ == MetricKind::kHistogram) {
    return Status::Unsupported("a histogram is not incremented; observe() adds a value to it");
  }
  if (!std::isfinite(delta)) return Status::InvalidArg("a metric can only change by a finite value");
  if (kind_ == MetricKind::kCounter && delta < 0) {
    return Status::InvalidArg("a counter cannot be decremented (it was given " + std::to_string(delta) + ")");
  }
  value_.fetch_add(delta, std::memory_order_relaxed);
  return Status::Ok();
}

Status CustomMetricSeries::Set(double value) {
  if (kind_ != MetricKind::kGauge) {
    return Status::Unsupported(std::string("only a gauge can be set, not ") + KindName(kind_));
  }
  value_.store(value, std::memory_order_relaxed);
  return Status::Ok();
}

Status CustomMetricSeries::Observe(double value) {
  if (kind_ != MetricKind::kHistogram) {
    return Status::Unsupported(std::string("only a histogram observes values, not ") + KindName(kind_));
  }
  if (!std::isfinite(value)) return Status::InvalidArg("a histogram can only observe a finite value");
  // The first bucket whose upper bound is >= value ("le"), else +Inf's.
  const size_t bucket = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard<std::mutex> lock(histogram_mu_);
  ++bucket_counts_[bucket];
  sum_ += value;
  ++count_;
  return Status::Ok();
}

Status CustomMetricSeries::Value(double* out) const {
  if (kind_ == MetricKind::kHistogram) {
    return Status::Unsupported("a histogram has no single value (its buckets, sum and count are on /metrics)");
  }
  *out = value_.load(std::memory_order_relaxed);
  return Status::Ok();
}

HistogramSnapshot CustomMetricSeries::Histogram() const {
  HistogramSnapshot snap;
  snap.bounds = bounds_;
  std::lock_guard<std::mutex> lock(histogram_mu_);
  uint64_t running = 0;
  for (uint64_t n : bucket_counts_) snap.cumulative_counts.push_back(running += n);
  snap.sum = sum_;
  snap.count = count_;
  return snap;
}

CustomMetrics& CustomMetrics::Global() {
  static CustomMetrics* metrics = new CustomMetrics();  // never destroyed: backends may outlive statics
  return *metrics;
}

CustomMetricFamily::~CustomMetricFamily() {
  std::lock_guard<std::mutex> lock(owner_->mu_);
  auto it = owner_->families_.find(name_);
  // A family made again under this name after this one lost its last handle stays.
  if (it != owner_->families_.end() && it->second.expired()) owner_->families_.erase(it);
}

Status CustomMetrics::NewFamily(MetricKind kind, const std::string& name, const std::string& help,
                                std::shared_ptr<CustomMetricFamily>* out) {
  if (!IsValidName(name, true)) {
    return Status::InvalidArg("metric family name '" + name +
                              "' is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  if (name.rfind("nv_", 0) == 0) {
    return Status::InvalidArg("metric family name '" + name + "' uses the server's prefix 'nv_'");
  }
  if (!IsValidUtf8(help) || help.size() > 4096) {
    return Status::InvalidArg("the description of metric family '" + name + "' must be UTF-8, at most 4096 bytes");
  }
  std::shared_ptr<CustomMetricFamily> existing;  // released after the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end() && (existing = it->second.lock())) {
    if (existing->kind_ != kind) {
      return Status::AlreadyExists("metric family '" + name + "' already exists as " + KindName(existing->kind_));
    }
    *out = existing;  // with its first description, as Triton keeps it
    return Status::Ok();
  }
  if (it == families_.end() && families_.size() >= kMaxFamilies) {
    return Status::ResourceExhausted("too many metric families (" + std::to_string(kMaxFamilies) + ")");
  }
  std::shared_ptr<CustomMetricFamily> family(new CustomMetricFamily(this, kind, name, help));
  families_[name] = family;
  *out = std::move(family);
  return Status::Ok();
}

Status CustomMetrics::NewSeries(const std::shared_ptr<CustomMetricFamily>& family, MetricLabels labels,
                                std::shared_ptr<CustomMetricSeries>* out, const std::vector<double>* buckets) {
  const std::string where = "metric '" + family->name() + "'";
  if (family->kind() == MetricKind::kHistogram) {
    if (buckets == nullptr) return Status::InvalidArg(where + " is a histogram: its series needs buckets");
    if (buckets->size() > kMaxBuckets) {
      return Status::InvalidArg(where + " has more than " + std::to_string(kMaxBuckets) + " buckets");
    }
    for (size_t i = 0; i < buckets->size(); ++i) {
      if (!std::isfinite((*buckets)[i])) {
        return Status::InvalidArg(where + ": bucket bounds must be finite (the +Inf bucket is always there)");
      }
      if (i > 0 && !((*buckets)[i - 1] < (*buckets)[i])) {
        return Status::InvalidArg(where + ": bucket bounds must be strictly increasing");
      }
    }
  } else if (buckets != nullptr) {
    return Status::InvalidArg(where + " is " + KindName(family->kind()) + ": only a histogram has buckets");
  }
  if (labels.size() > kMaxLabels) {
    return Status::InvalidArg(where + " has more than " + std::to_string(kMaxLabels) + " labels");
  }
  for (const auto& [key, value] : labels) {
    if (!IsValidName(key, false) || key.rfind("__", 0) == 0) {
      return Status::InvalidArg(where + ": label name '" + key + "' is not a Prometheus label name");
    }
    if (key == "le" && family->kind() == MetricKind::kHistogram) {
      return Status::InvalidArg(where + ": a histogram's buckets use the label 'le'");
    }
    if (!IsValidUtf8(value) || value.size() > kMaxLabelBytes) {
      return Status::InvalidArg(where + ": the value of label '" + key + "' must be UTF-8, at most " +
                                std::to_string(kMaxLabelBytes) + " bytes");
    }
  }
  std::sort(labels.begin(), labels.end());
  for (size_t i = 1; i < labels.size(); ++i) {
    if (labels[i].first == labels[i - 1].first) {
      return Status::InvalidArg(where + " has label '" + labels[i].first + "' twice");
    }
  }
  std::shared_ptr<CustomMetricSeries> existing;  // released after the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = family->series_.find(labels);
  if (it != family->series_.end() && (existing = it->second.lock())) {
    *out = existing;
    return Status::Ok();
  }
  // Samples it prints: one, or a histogram's buckets (with +Inf), sum and count.
  const size_t samples = family->kind() == MetricKind::kHistogram ? buckets->size() + 3 : 1;
  if (sample_count_ + samples > kMaxSamples) {
    return Status::ResourceExhausted("too many custom metric samples (at most " + std::to_string(kMaxSamples) +
                                     "; a histogram series counts its buckets, sum and count)");
  }
  // The deleter forgets the series, then lets go of the family: outside the
  // lock, since the family's destructor takes it too.
  std::shared_ptr<CustomMetricSeries> series(
      new CustomMetricSeries(family->kind(), buckets ? *buckets : std::vector<double>{}),
      [this, family, labels, samples](CustomMetricSeries* s) {
        {
          std::lock_guard<std::mutex> inner(mu_);
          auto found = family->series_.find(labels);
          if (found != family->series_.end() && found->second.expired()) family->series_.erase(found);
          sample_count_ -= samples;
        }
        delete s;
      });
  family->series_[labels] = series;
  sample_count_ += samples;
  *out = std::move(series);
  return Status::Ok();
}

std::vector<CustomMetricSnapshot> CustomMetrics::Snapshot() const {
  std::vector<std::shared_ptr<CustomMetricFamily>> held_families;  // released after the lock
  std::vector<std::shared_ptr<CustomMetricSeries>> held_series;
  std::vector<CustomMetricSnapshot> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, weak] : families_) {
    auto family = weak.lock();
    if (!family) continue;
    held_families.push_back(family);
    CustomMetricSnapshot snap{family->name_, family->help_, family->kind_, {}};
    for (const auto& [labels, weak_series] : family->series_) {
      auto series = weak_series.lock();
      if (!series) continue;
      CustomSeriesSnapshot entry{labels, 0, {}};
      if (series->kind() == MetricKind::kHistogram) {
        entry.histogram = series->Histogram();
      } else {
        (void)series->Value(&entry.value);
      }
      snap.series.push_back(std::move(entry));
      held_series.push_back(std::move(series));
    }
    out.push_back(std::move(snap));
  }
  return out;
}

}  // namespace inferd
