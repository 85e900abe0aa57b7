// The ABI's opaque handle types, defined for the core only: each handle is a
// base of the core class it stands for (Model, ModelInstance, ...), so a
// handle converts to its object with a static_cast and costs nothing.
#pragma once

#include <memory>
#include <string>

#include "core/custom_metrics.h"

#include "inferd/backend.h"

struct InferdModel {};
struct InferdInstance {};
struct InferdRequest {};
struct InferdResponse {};
struct InferdInferResult {};
// Custom metrics: a handle holds its family or series alive.
struct InferdMetricFamily {
  std::shared_ptr<inferd::CustomMetricFamily> family;
};
struct InferdMetric {
  std::shared_ptr<inferd::CustomMetricSeries> series;
};
struct InferdError {
  InferdErrorCode code;
  std::string message;
};
