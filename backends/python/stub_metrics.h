// The custom metrics a stub's model.py creates (pb_utils.MetricFamily and
// its Metric series), as the server's custom metrics (InferdCoreApi 1.2):
// printed on /metrics after the server's own. The stub names them by
// handles this object hands out; it owns what they stand for and deletes
// everything when the stub's channel goes, so a stub that dies leaves no
// series behind. Used on the channel's thread only.
//
// Messages (each answered with {"id"} plus what is said, or {"id", "error"}):
//  {"type":"metric_family_new", "name", "description", "kind": "counter"|"gauge"|"histogram"} -> {"handle"}
//  {"type":"metric_new", "family", "labels": {name: value}, "buckets": [bound...] (histograms)} -> {"handle"}
//  {"type":"metric_increment"|"metric_set"|"metric_observe", "metric", "value"}
//  {"type":"metric_value", "metric"} -> {"value"}
//  {"type":"metric_delete", "metric"} and {"type":"metric_family_delete", "family"}: no answer.
#pragma once

#include <inferd/backend.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <string>

namespace inferd_python {

class StubMetrics {
 public:
  // At most this many families and series together per stub: a model that
  // makes a series per request runs out here, not in the server's memory.
  static constexpr size_t kMaxHandles = 4096;

  explicit StubMetrics(const InferdCoreApi* api) : api_(api) {}
  ~StubMetrics();
  StubMetrics(const StubMetrics&) = delete;
  StubMetrics& operator=(const StubMetrics&) = delete;

  // True for the message types above.
  static bool Handles(const std::string& type) { return type.rfind("metric_", 0) == 0; }
  // Carries out one message; members of the answer go into `answer` (an
  // object). Returns the error text, empty on success.
  std::string Handle(const std::string& type, const rapidjson::Value& message, rapidjson::Document* answer);

 private:
  std::string NewFamily(const rapidjson::Value& message, rapidjson::Document* answer);
  std::string NewMetric(const rapidjson::Value& message, rapidjson::Document* answer);
  // The text of an error from the core, which is deleted.
  std::string Take(InferdError* e);

  const InferdCoreApi* api_;
  std::map<uint64_t, InferdMetricFamily*> families_;
  std::map<uint64_t, InferdMetric*> metrics_;
  uint64_t next_handle_ = 1;
};

}  // namespace inferd_python
