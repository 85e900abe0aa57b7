#include "frontend/metrics/prometheus_text.h"

#include <fmt/format.h>

#include <cmath>

namespace inferd::metrics {

void PrometheusText::Family(const std::string& name, const char* type, const std::string& help) {
  out_ += "# HELP " + name + " ";
  for (char c : help) {  // HELP escapes only backslash and newline
    if (c == '\\') out_ += "\\\\";
    else if (c == '\n') out_ += "\\n";
    else out_ += c;
  }
  out_ += "\n# TYPE " + name + " " + type + "\n";
}

void PrometheusText::Name(const std::string& name, const Labels& labels) {
  out_ += name;
  if (labels.empty()) return;
  out_ += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out_ += ',';
    out_ += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\') out_ += "\\\\";
      else if (c == '"') out_ += "\\\"";
      else if (c == '\n') out_ += "\\n";
      else out_ += c;
    }
    out_ += '"';
  }
  out_ += '}';
}

namespace {

// Go's and Prometheus' spelling of a float: shortest round trip, NaN, +Inf, -Inf.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

void PrometheusText::Sample(const std::string& name, const Labels& labels, double value) {
  Name(name, labels);
  out_ += ' ' + FormatValue(value) + '\n';
}

void PrometheusText::Histogram(const std::string& name, const Labels& labels, const HistogramSnapshot& histogram) {
  Sample(name + "_count", labels, histogram.count);
  Sample(name + "_sum", labels, histogram.sum);
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  for (size_t i = 0; i < histogram.cumulative_counts.size(); ++i) {
    with_le.back().second = i < histogram.bounds.size() ? FormatValue(histogram.bounds[i]) : "+Inf";
    Sample(name + "_bucket", with_le, histogram.cumulative_counts[i]);
  }
}

void PrometheusText::Sample(const std::string& name, const Labels& labels, uint64_t value) {
  Name(name, labels);
  out_ += fmt::format(" {}\n", value);
}

}  // namespace inferd::metrics
