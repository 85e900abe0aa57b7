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

namespace {

// The entry of `handles` that message[key] names, or handles.end().
template <typename Handles>
typename Handles::iterator Named(Handles& handles, const rapidjson::Value& message, const char* key) {
  auto handle = message.FindMember(key);
  if (handle == message.MemberEnd() || !handle->value.IsUint64()) return handles.end();
  return handles.find(handle->value.GetUint64());
}

}  // namespace

std::string StubMetrics::Handle(const std::string& type, const rapidjson::Value& message,
                                rapidjson::Document* answer) {
  if (type == "metric_family_new" || type == "metric_new") {
    if (families_.size() + metrics_.size() >= kMaxHandles) {
      return "a model may create at most " + std::to_string(kMaxHandles) + " metric families and metrics";
    }
    return type == "metric_new" ? NewMetric(message, answer) : NewFamily(message, answer);
  }
  if (type == "metric_family_delete") {
    auto it = Named(families_, message, "family");
    if (it == families_.end()) return "no such metric family";
    api_->ErrorDelete(api_->MetricFamilyDelete(it->second));
    families_.erase(it);
    return "";
  }
  auto it = Named(metrics_, message, "metric");
  if (it == metrics_.end()) return "no such metric (deleted, or created by another stub)";
  InferdMetric* metric = it->second;
  if (type == "metric_delete") {
    api_->ErrorDelete(api_->MetricDelete(metric));
    metrics_.erase(it);
    return "";
  }
  if (type == "metric_value") {
    double value = 0;
    if (InferdError* e = api_->MetricValue(metric, &value)) return Take(e);
    answer->AddMember("value", value, answer->GetAllocator());
    return "";
  }
  auto value = message.FindMember("value");
  if (value == message.MemberEnd() || !value->value.IsNumber()) return type + " needs a numeric value";
  const double v = value->value.GetDouble();
  InferdError* e = type == "metric_increment" ? api_->MetricIncrement(metric, v)
                   : type == "metric_set"     ? api_->MetricSet(metric, v)
                   : type == "metric_observe" ? api_->MetricObserve(metric, v)
                                              : api_->ErrorNew(INFERD_ERROR_INVALID_ARG,
                                                               ("unknown message type '" + type + "'").c_str());
  return e == nullptr ? "" : Take(e);
}

std::string StubMetrics::NewFamily(const rapidjson::Value& message, rapidjson::Document* answer) {
  const std::string name = JsonString(message, "name");
  const std::string description = JsonString(message, "description");
  const std::string kind = JsonString(message, "kind");
  InferdMetricKind inferd_kind;
  if (kind == "counter") inferd_kind = INFERD_METRIC_COUNTER;
  else if (kind == "gauge") inferd_kind = INFERD_METRIC_GAUGE;
  else if (kind == "histogram" && api_->api_version >= ((1u << 16) | 7u)) inferd_kind = INFERD_METRIC_HISTOGRAM;
  else if (kind == "histogram") return "this server has no histograms (its backend API is older than 1.7)";
  else return "a metric family's kind is COUNTER, GAUGE or HISTOGRAM, not '" + kind + "'";
  InferdMetricFamily* family = nullptr;
  if (InferdError* e = api_->MetricFamilyNew(inferd_kind, name.c_str(), description.c_str(), &family)) {
    return Take(e);
  }
  const uint64_t handle = next_handle_++;
  families_.emplace(handle, family);
  answer->AddMember("handle", handle, answer->GetAllocator());
  return "";
}

std::string StubMetrics::NewMetric(const rapidjson::Value& message, rapidjson::Document* answer) {
  auto family = Named(families_, message, "family");
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
  // "buckets": a histogram's bounds (the stub has checked they are numbers).
  std::vector<double> buckets;
  auto bucket_list = message.FindMember("buckets");
  const bool histogram = bucket_list != message.MemberEnd() && !bucket_list->value.IsNull();
  if (histogram) {
    if (!bucket_list->value.IsArray() || bucket_list->value.Size() > 256) {
      return "a histogram's buckets are a list of at most 256 numbers";
    }
    for (const auto& bound : bucket_list->value.GetArray()) {
      if (!bound.IsNumber()) return "a histogram's buckets are numbers";
      buckets.push_back(bound.GetDouble());
    }
  }
  InferdMetric* metric = nullptr;
  const auto label_count = static_cast<uint32_t>(names.size());
  InferdError* e = histogram ? api_->MetricNewHistogram(family->second, name_ptrs.data(), value_ptrs.data(),
                                                        label_count, buckets.data(),
                                                        static_cast<uint32_t>(buckets.size()), &metric)
                             : api_->MetricNew(family->second, name_ptrs.data(), value_ptrs.data(), label_count,
                                               &metric);
  if (e != nullptr) return Take(e);
  const uint64_t handle = next_handle_++;
  metrics_.emplace(handle, metric);
  answer->AddMember("handle", handle, answer->GetAllocator());
  return "";
}

}  // namespace inferd_python
