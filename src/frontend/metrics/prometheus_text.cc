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

void PrometheusText::Sample(const std::string& name, const Labels& labels, double value) {
  Name(name, labels);
  if (std::isnan(value)) out_ += " NaN\n";
  else if (std::isinf(value)) out_ += value > 0 ? " +Inf\n" : " -Inf\n";
  else out_ += fmt::format(" {}\n", value);
}

void PrometheusText::Sample(const std::string& name, const Labels& labels, uint64_t value) {
  Name(name, labels);
  out_ += fmt::format(" {}\n", value);
}

}  // namespace inferd::metrics
