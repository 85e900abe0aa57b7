#include "stub_metrics.h"

#include <vector>

#include "tensor_json.h"

namespace inferd_python {

StubMetrics::~StubMetrics() {
  for (auto& [handle, metric] : metrics_) api_->ErrorDelete(api_->MetricDelete(metric));
  for (auto& [handle, family] : families_) api_->ErrorDelete(api_->MetricFamilyDelete(family));
}

std::string StubMetrics::Take(InferdError* e) {
  std::string text = api_->ErrorMessage(e);
  api_->ErrorDelete(e);
  return text;
}

std::string StubMetrics::Handle(const std::string& type, const rapidjson::Value& message,
                                rapidjson::Document* answer) {
  if (type == "metric_family_new") return NewFamily(message, answer);
  if (type == "metric_new") return NewMetric(message, answer);
  if (type == "metric_family_delete") {
    auto handle = message.FindMember("family");
    if (handle == message.MemberEnd() || !handle->value.IsUint64()) return "metric_family_delete needs a family";
    auto it = families_.find(handle->value.GetUint64());
    if (it == families_.end()) return "no such metric family";
    api_->ErrorDelete(api_->MetricFamilyDelete(it->second));
    families_.erase(it);
    return "";
  }
  if (type == "metric_delete") {
    auto handle = message.FindMember("metric");
    if (handle == message.MemberEnd() || !handle->value.IsUint64()) return "metric_delete needs a metric";
    auto it = metrics_.find(handle->value.GetUint64());
    if (it == metrics_.end()) return "no such metric";
    api_->ErrorDelete(api_->MetricDelete(it->second));
    metrics_.erase(it);
    return "";
  }
  std::string error;
  InferdMetric* metric = Find(message, &error);
  if (metric == nullptr) return error;
  if (type == "metric_value") {
    double value = 0;
    if (InferdError* e = api_->MetricValue(metric, &value)) return Take(e);
    answer->AddMember("value", value, answer->GetAllocator());
    return "";
  }
  auto value = message.FindMember("value");
  if (value == message.MemberEnd() || !value->value.IsNumber()) return type + " needs a numeric value";
  const double v = value->value.GetDouble();
  if (type == "metric_increment") {
    if (InferdError* e = api_->MetricIncrement(metric, v)) return Take(e);
    return "";
  }
  if (type == "metric_set") {
    if (InferdError* e = api_->MetricSet(metric, v)) return Take(e);
    return "";
  }
  return "unknown message type '" + type + "'";
}

std::string StubMetrics::NewFamily(const rapidjson::Value& message, rapidjson::Document* answer) {
  if (families_.size() + metrics_.size() >= kMaxHandles) {
    return "a model may create at most " + std::to_string(kMaxHandles) + " metric families and metrics";
  }
  const std::string name = JsonString(message, "name");
  const std::string description = JsonString(message, "description");
  const std::string kind = JsonString(message, "kind");
  if (kind != "counter" && kind != "gauge") return "a metric family's kind is COUNTER or GAUGE, not '" + kind + "'";
  InferdMetricFamily* family = nullptr;
  if (InferdError* e = api_->MetricFamilyNew(kind == "counter" ? INFERD_METRIC_COUNTER : INFERD_METRIC_GAUGE,
                                             name.c_str(), description.c_str(), &family)) {
    return Take(e);
  }
  const uint64_t handle = next_handle_++;
  families_.emplace(handle, family);
  answer->AddMember("handle", handle, answer->GetAllocator());
  return "";
}

std::string StubMetrics::NewMetric(const rapidjson::Value& message, rapidjson::Document* answer) {
  if (families_.size() + metrics_.size() >= kMaxHandles) {
    return "a model may create at most " + std::to_string(kMaxHandles) + " metric families and metrics";
  }
  auto handle = message.FindMember("family");
  if (handle == message.MemberEnd() || !handle->value.IsUint64()) return "metric_new needs a family";
  auto family = families_.find(handle->value.GetUint64());
  if (family == families_.end()) return "no such metric family";
  std::vector<std::string> names, values;
  if (auto labels = message.FindMember("labels"); labels != message.MemberEnd() && !labels->value.IsNull()) {
    if (!labels->value.IsObject() || labels->value.MemberCount() > 64) {
      return "a metric's labels are a dict of at most 64 strings";
    }
    for (const auto& l : labels->value.GetObject()) {
      if (!l.value.IsString()) return "the value of label '" + std::string(l.name.GetString()) + "' is not a string";
      names.emplace_back(l.name.GetString(), l.name.GetStringLength());
      values.emplace_back(l.value.GetString(), l.value.GetStringLength());
    }
  }
  std::vector<const char*> name_ptrs, value_ptrs;
  for (size_t i = 0; i < names.size(); ++i) {
    name_ptrs.push_back(names[i].c_str());
    value_ptrs.push_back(values[i].c_str());
  }
  InferdMetric* metric = nullptr;
  if (InferdError* e = api_->MetricNew(family->second, name_ptrs.data(), value_ptrs.data(),
                                       static_cast<uint32_t>(names.size()), &metric)) {
    return Take(e);
  }
  const uint64_t id = next_handle_++;
  metrics_.emplace(id, metric);
  answer->AddMember("handle", id, answer->GetAllocator());
  return "";
}

InferdMetric* StubMetrics::Find(const rapidjson::Value& message, std::string* error) {
  auto handle = message.FindMember("metric");
  if (handle == message.MemberEnd() || !handle->value.IsUint64()) {
    *error = "the message names no metric";
    return nullptr;
  }
  auto it = metrics_.find(handle->value.GetUint64());
  if (it == metrics_.end()) {
    *error = "no such metric (deleted, or created by another stub)";
    return nullptr;
  }
  return it->second;
}

}  // namespace inferd_python
