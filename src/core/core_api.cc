#include "core/core_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <string_view>
#include <vector>

#include "common/logging.h"
#include "common/utf8.h"
#include "core/inference_request.h"
#include "core/model.h"
#include "core/model_instance.h"
#include "core/server.h"

namespace inferd {
namespace {

Model* AsModel(const InferdModel* m) { return static_cast<Model*>(const_cast<InferdModel*>(m)); }
ModelInstance* AsInstance(const InferdInstance* i) {
  return static_cast<ModelInstance*>(const_cast<InferdInstance*>(i));
}
InferenceRequest* AsRequest(const InferdRequest* r) {
  return static_cast<InferenceRequest*>(const_cast<InferdRequest*>(r));
}
InferenceResponse* AsResponse(InferdResponse* r) { return static_cast<InferenceResponse*>(r); }

InferdErrorCode CodeFromStatus(Status::Code code) {
  switch (code) {
    case Status::Code::kInvalidArg: return INFERD_ERROR_INVALID_ARG;
    case Status::Code::kNotFound: return INFERD_ERROR_NOT_FOUND;
    case Status::Code::kUnavailable: return INFERD_ERROR_UNAVAILABLE;
    case Status::Code::kUnsupported: return INFERD_ERROR_UNSUPPORTED;
    case Status::Code::kAlreadyExists: return INFERD_ERROR_ALREADY_EXISTS;
    case Status::Code::kInternal: return INFERD_ERROR_INTERNAL;
    case Status::Code::kCancelled: return INFERD_ERROR_CANCELLED;
    default: return INFERD_ERROR_UNKNOWN;
  }
}

Status::Code StatusCodeFromError(InferdErrorCode code) {
  switch (code) {
    case INFERD_ERROR_INVALID_ARG: return Status::Code::kInvalidArg;
    case INFERD_ERROR_NOT_FOUND: return Status::Code::kNotFound;
    case INFERD_ERROR_UNAVAILABLE: return Status::Code::kUnavailable;
    case INFERD_ERROR_UNSUPPORTED: return Status::Code::kUnsupported;
    case INFERD_ERROR_ALREADY_EXISTS: return Status::Code::kAlreadyExists;
    case INFERD_ERROR_CANCELLED: return Status::Code::kCancelled;
    default: return Status::Code::kInternal;
  }
}

// When even an error cannot be allocated: a static one, never freed.
InferdError kOutOfMemory{INFERD_ERROR_INTERNAL, "out of memory"};

// Every function of the table is noexcept: nothing may unwind into a
// backend (plain C, or C++ built with other flags). What could throw inside
// (allocation, a frontend's response callback) is caught and becomes an
// error value, or is logged where the function returns none.
InferdError* NewError(InferdErrorCode code, const char* message) noexcept {
  try {
    return new InferdError{code, message ? message : ""};
  } catch (...) {
    return &kOutOfMemory;
  }
}

// The exception being handled, as an error naming `where`; call only from a
// catch block. Formats into a fixed buffer: it must not allocate to report.
InferdError* ErrorFromException(const char* where) noexcept {
  char message[512];
  try {
    throw;
  } catch (const std::bad_alloc&) {
    std::snprintf(message, sizeof message, "%s: out of memory", where);
  } catch (const std::exception& e) {
    std::snprintf(message, sizeof message, "%s: %s", where, e.what());
  } catch (...) {
    std::snprintf(message, sizeof message, "%s: unknown exception", where);
  }
  return NewError(INFERD_ERROR_INTERNAL, message);
}

InferdError* ErrorNew(InferdErrorCode code, const char* message) noexcept { return NewError(code, message); }
void ErrorDelete(InferdError* e) noexcept {
  if (e != &kOutOfMemory) delete e;
}
const char* ErrorMessage(const InferdError* e) noexcept { return e->message.c_str(); }

void Log(InferdLogLevel level, const char* file, int line, const char* message) noexcept {
  try {
    if (level == INFERD_LOG_VERBOSE && !VerboseEnabled()) return;
    const spdlog::level::level_enum severity = level == INFERD_LOG_VERBOSE ? spdlog::level::debug
                                               : level == INFERD_LOG_INFO  ? spdlog::level::info
                                               : level == INFERD_LOG_WARN  ? spdlog::level::warn
                                                                           : spdlog::level::err;
    // The line names the backend's source file and line, as Triton's do.
    spdlog::default_logger_raw()->log(spdlog::source_loc{file ? file : "backend", line, ""}, severity,
                                      spdlog::string_view_t(message ? message : ""));
  } catch (...) {
    // A log line is not worth failing the backend's call for.
  }
}

const char* ModelName(const InferdModel* m) noexcept { return AsModel(m)->name().c_str(); }
uint64_t ModelVersion(const InferdModel* m) noexcept { return static_cast<uint64_t>(AsModel(m)->version()); }
const char* ModelRepositoryPath(const InferdModel* m) noexcept { return AsModel(m)->model_dir().c_str(); }
const char* ModelConfigJson(const InferdModel* m) noexcept { return AsModel(m)->config_json().c_str(); }
InferdError* ModelSetConfigJson(InferdModel* m, const char* json) noexcept {
  try {
    return BackendErrorFromStatus(AsModel(m)->SetConfigFromBackend(json ? json : ""));
  } catch (...) {
    return ErrorFromException("ModelSetConfigJson");
  }
}
int ModelAutoCompleteAllowed(const InferdModel* m) noexcept { return AsModel(m)->auto_complete() ? 1 : 0; }
const char* ModelVersionPath(const InferdModel* m) noexcept { return AsModel(m)->version_dir().c_str(); }
void ModelSetState(InferdModel* m, void* state) noexcept { AsModel(m)->backend_state = state; }
void* ModelState(const InferdModel* m) noexcept { return AsModel(m)->backend_state; }

InferdModel* InstanceModel(const InferdInstance* i) noexcept { return AsInstance(i)->model(); }
const char* InstanceName(const InferdInstance* i) noexcept { return AsInstance(i)->name().c_str(); }
int32_t InstanceDeviceId(const InferdInstance* i) noexcept { return AsInstance(i)->device_id(); }
int InstanceIsGpu(const InferdInstance* i) noexcept { return AsInstance(i)->gpu() ? 1 : 0; }
void InstanceSetState(InferdInstance* i, void* state) noexcept { AsInstance(i)->backend_state = state; }
void* InstanceState(const InferdInstance* i) noexcept { return AsInstance(i)->backend_state; }
void InstanceReportComputeTimes(InferdInstance* i, uint64_t input_end_ns, uint64_t infer_end_ns) noexcept {
  AsInstance(i)->reported_input_end_ns = input_end_ns;
  AsInstance(i)->reported_infer_end_ns = infer_end_ns;
}
uint64_t Now() noexcept { return NowNs(); }

const char* RequestId(const InferdRequest* r) noexcept { return AsRequest(r)->id.c_str(); }
uint64_t RequestCorrelationId(const InferdRequest* r) noexcept { return AsRequest(r)->correlation_id; }
uint32_t RequestInputCount(const InferdRequest* r) noexcept {
  return static_cast<uint32_t>(AsRequest(r)->inputs.size());
}

InferdError* BadIndex(const char* what, uint32_t index) noexcept {
  char message[96];
  std::snprintf(message, sizeof message, "%s index %u out of range", what, index);
  return NewError(INFERD_ERROR_INVALID_ARG, message);
}

InferdError* RequestInput(const InferdRequest* r, uint32_t index, const char** name,
                          InferdDataType* datatype, const int64_t** shape, uint32_t* dims,
                          uint64_t* byte_size) noexcept {
  const auto& inputs = AsRequest(r)->inputs;
  if (index >= inputs.size()) return BadIndex("input", index);
  const InputTensor& in = inputs[index];
  if (name) *name = in.name.c_str();
  if (datatype) *datatype = in.datatype;
  if (shape) *shape = in.shape.data();
  if (dims) *dims = static_cast<uint32_t>(in.shape.size());
  if (byte_size) *byte_size = in.byte_size;
  return nullptr;
}

InferdError* RequestInputBufferCount(const InferdRequest* r, uint32_t index, uint32_t* count) noexcept {
  const auto& inputs = AsRequest(r)->inputs;
  if (index >= inputs.size()) return BadIndex("input", index);
  *count = static_cast<uint32_t>(inputs[index].buffers.size());
  return nullptr;
}

InferdError* RequestInputBuffer(const InferdRequest* r, uint32_t index, uint32_t buffer,
                                const void** data, uint64_t* size) noexcept {
  const auto& inputs = AsRequest(r)->inputs;
  if (index >= inputs.size()) return BadIndex("input", index);
  if (buffer >= inputs[index].buffers.size()) return BadIndex("input buffer", buffer);
  *data = inputs[index].buffers[buffer].first;
  *size = inputs[index].buffers[buffer].second;
  return nullptr;
}

uint32_t RequestOutputCount(const InferdRequest* r) noexcept {
  return static_cast<uint32_t>(AsRequest(r)->output_names.size());
}
const char* RequestOutputName(const InferdRequest* r, uint32_t index) noexcept {
  const auto& names = AsRequest(r)->output_names;
  return index < names.size() ? names[index].c_str() : nullptr;
}
const char* RequestParametersJson(const InferdRequest* r) noexcept {
  const std::string& json = AsRequest(r)->custom_parameters_json;
  return json.empty() ? "{}" : json.c_str();
}
int RequestIsCancelled(const InferdRequest* r) noexcept { return AsRequest(r)->IsCancelled() ? 1 : 0; }

int LogIsEnabled(InferdLogLevel level) noexcept {
  switch (level) {
    case INFERD_LOG_VERBOSE: return VerboseEnabled() ? 1 : 0;
    case INFERD_LOG_INFO: return CurrentLogSettings().info ? 1 : 0;
    case INFERD_LOG_WARN: return CurrentLogSettings().warning ? 1 : 0;
    case INFERD_LOG_ERROR: return CurrentLogSettings().error ? 1 : 0;
  }
  return 0;
}

InferdError* ResponseSetParameter(InferdResponse* r, const char* name, InferdParameterType type,
                                  const void* value) noexcept {
  constexpr size_t kMaxParameters = 64, kMaxNameBytes = 256, kMaxStringBytes = 64 * 1024;
  if (r == nullptr || name == nullptr || value == nullptr) {
    return NewError(INFERD_ERROR_INVALID_ARG, "ResponseSetParameter: null argument");
  }
  const size_t name_bytes = strnlen(name, kMaxNameBytes + 1);
  if (name_bytes == 0 || name_bytes > kMaxNameBytes || !IsValidUtf8(std::string_view(name, name_bytes))) {
    return NewError(INFERD_ERROR_INVALID_ARG, "ResponseSetParameter: a name is 1 to 256 bytes of UTF-8");
  }
  if (std::string_view(name, name_bytes) == "triton_final_response") {
    return NewError(INFERD_ERROR_INVALID_ARG, "ResponseSetParameter: 'triton_final_response' is the server's");
  }
  try {
    ResponseParameter p;
    p.name.assign(name, name_bytes);
    switch (type) {
      case INFERD_PARAMETER_STRING: {
        const char* text = static_cast<const char*>(value);
        const size_t bytes = strnlen(text, kMaxStringBytes + 1);
        if (bytes > kMaxStringBytes || !IsValidUtf8(std::string_view(text, bytes))) {
          return NewError(INFERD_ERROR_INVALID_ARG,
                          ("ResponseSetParameter '" + p.name + "': a string value is up to 64 KiB of UTF-8").c_str());
        }
        p.type = ResponseParameter::Type::kString;
        p.text.assign(text, bytes);
        break;
      }
      case INFERD_PARAMETER_INT:
        p.type = ResponseParameter::Type::kInt;
        p.integer = *static_cast<const int64_t*>(value);
        break;
      case INFERD_PARAMETER_BOOL:
        p.type = ResponseParameter::Type::kBool;
        p.boolean = *static_cast<const int*>(value) != 0;
        break;
      case INFERD_PARAMETER_DOUBLE:
        p.type = ResponseParameter::Type::kDouble;
        p.number = *static_cast<const double*>(value);
        if (!std::isfinite(p.number)) {
          return NewError(INFERD_ERROR_INVALID_ARG,
                          ("ResponseSetParameter '" + p.name + "': a double value must be finite").c_str());
        }
        break;
      default:
        return NewError(INFERD_ERROR_INVALID_ARG, "ResponseSetParameter: unknown parameter type");
    }
    auto& list = AsResponse(r)->parameters;
    for (auto& existing : list) {
      if (existing.name == p.name) {
        existing = std::move(p);
        return nullptr;
      }
    }
    if (list.size() >= kMaxParameters) {
      return NewError(INFERD_ERROR_INVALID_ARG, "ResponseSetParameter: at most 64 parameters per response");
    }
    list.push_back(std::move(p));
    return nullptr;
  } catch (...) {
    return ErrorFromException("ResponseSetParameter");
  }
}

const char* ModelBackendLibraryPath(const InferdModel* m) noexcept { return AsModel(m)->backend_file().c_str(); }
const char* ModelBackendConfigJson(const InferdModel* m) noexcept {
  return AsModel(m)->backend_config_json().c_str();
}
const char* RequestParameter(const InferdRequest* r, const char* key) noexcept {
  if (key == nullptr) return nullptr;
  const auto& params = AsRequest(r)->parameters;
  for (const auto& [name, value] : params)  // a handful of parameters: no lookup key to build
    if (name == key) return value.c_str();
  return nullptr;
}

InferdError* ResponseNew(InferdRequest* r, InferdResponse** out) noexcept {
  try {
    *out = new InferenceResponse(AsRequest(r)->shared_from_this());
    return nullptr;
  } catch (...) {
    return ErrorFromException("ResponseNew");
  }
}
void ResponseDelete(InferdResponse* r) noexcept { delete AsResponse(r); }

InferdError* ResponseOutput(InferdResponse* r, const char* name, InferdDataType datatype,
                            const int64_t* shape, uint32_t dims, uint64_t byte_size, void** buffer) noexcept {
  if (name == nullptr || DataTypeWireName(datatype) == std::string_view("INVALID") ||
      (shape == nullptr && dims > 0)) {
    return NewError(INFERD_ERROR_INVALID_ARG, "ResponseOutput needs a name, a valid datatype and a shape");
  }
  try {
    // The size must be what the shape says (checked arithmetic): whatever
    // reads the output later (JSON encoding, classification) trusts it.
    const int64_t elements = ElementCount(shape, dims);
    const int64_t fixed = FixedByteSize(datatype, elements);
    const bool fixed_size = datatype != INFERD_TYPE_BYTES;
    if (elements < 0 || (fixed_size && (fixed < 0 || static_cast<uint64_t>(fixed) != byte_size))) {
      return NewError(INFERD_ERROR_INVALID_ARG,
                      ("ResponseOutput '" + std::string(name) + "': shape " +
                       ShapeToString(std::vector<int64_t>(shape, shape + dims)) + " of " +
                       DataTypeWireName(datatype) + " does not take " + std::to_string(byte_size) + " bytes")
                          .c_str());
    }
    OutputTensor* out = AsResponse(r)->AddOutput(name, datatype,
                                                 std::vector<int64_t>(shape, shape + dims), byte_size);
    *buffer = out->data.get();
    return nullptr;
  } catch (...) {
    char where[160];
    std::snprintf(where, sizeof where, "ResponseOutput '%.64s' of %llu bytes", name,
                  static_cast<unsigned long long>(byte_size));
    return ErrorFromException(where);
  }
}

InferdError* ResponseSend(InferdResponse* r, uint32_t flags, InferdError* error) noexcept {
  std::unique_ptr<InferenceResponse> response(AsResponse(r));
  try {
    response->final = (flags & INFERD_RESPONSE_FINAL) != 0;
    const auto& model = response->request->model;
    if (model && !model->decoupled()) {
      // A non-decoupled request has one answer: the first response sent is
      // it, whatever its flags, and any later one is dropped (Triton passes
      // the first on too). The model is told once, in the log.
      const bool first = response->request->responses_sent.fetch_add(1) == 0;
      if ((!first || !response->final) && model->FirstExtraResponse()) {
        LOG_WARNING("model '{}' is not decoupled but sends more than one response to a request: the "
                    "first is the answer and the others are dropped (set model_transaction_policy "
                    "{{ decoupled: true }} to send them all)",
                    model->name());
      }
      if (!first) {
        ErrorDelete(error);
        return nullptr;
      }
      response->final = true;
    }
    if (error) {
      response->status = StatusFromBackendError(error);
      response->outputs.clear();
      if (response->final) response->request->failure_reason = FailureReason::kBackend;
    }
    if (ModelInstance::DeferIfExecuting(response)) return nullptr;
    auto request = response->request;
    request->Respond(std::move(response));
    return nullptr;
  } catch (...) {
    return ErrorFromException("ResponseSend");
  }
}

InferdError* RequestRespondError(InferdRequest* r, InferdError* error) noexcept {
  try {
    Status st = StatusFromBackendError(error);
    InferenceRequest* request = AsRequest(r);
    // After a non-decoupled model's one answer, nothing more is sent.
    if (request->model && !request->model->decoupled() && request->responses_sent.fetch_add(1) > 0) {
      return nullptr;
    }
    auto response = std::make_unique<InferenceResponse>(request->shared_from_this());
    response->status = st.ok() ? Status::Internal("backend answered with an empty error") : st;
    request->failure_reason = FailureReason::kBackend;
    if (ModelInstance::DeferIfExecuting(response)) return nullptr;
    request->Respond(std::move(response));
    return nullptr;
  } catch (...) {
    return ErrorFromException("RequestRespondError");
  }
}

const char* ModelBackendConfig(const InferdModel* m, const char* key) noexcept {
  try {
    const std::string* value = AsModel(m)->BackendConfigValue(key ? key : "");
    return value ? value->c_str() : nullptr;
  } catch (...) {
    return nullptr;
  }
}

InferdError* ErrorFromStatus(const Status& st) noexcept {
  return st.ok() ? nullptr : NewError(CodeFromStatus(st.code()), st.message().c_str());
}

InferdError* MetricFamilyNew(InferdMetricKind kind, const char* name, const char* description,
                             InferdMetricFamily** family_out) noexcept {
  try {
    if (family_out == nullptr || name == nullptr) return NewError(INFERD_ERROR_INVALID_ARG, "MetricFamilyNew: null argument");
    MetricKind core_kind;
    switch (kind) {
      case INFERD_METRIC_COUNTER: core_kind = MetricKind::kCounter; break;
      case INFERD_METRIC_GAUGE: core_kind = MetricKind::kGauge; break;
      case INFERD_METRIC_HISTOGRAM: core_kind = MetricKind::kHistogram; break;
      default: return NewError(INFERD_ERROR_INVALID_ARG, "MetricFamilyNew: unknown metric kind");
    }
    auto handle = std::make_unique<InferdMetricFamily>();
    Status st = CustomMetrics::Global().NewFamily(core_kind, name, description ? description : "", &handle->family);
    if (!st.ok()) return ErrorFromStatus(st);
    *family_out = handle.release();
    return nullptr;
  } catch (...) {
    return ErrorFromException("MetricFamilyNew");
  }
}

InferdError* MetricFamilyDelete(InferdMetricFamily* family) noexcept {
  delete family;
  return nullptr;
}

// MetricNew and MetricNewHistogram: `buckets` null for counters and gauges.
InferdError* NewMetric(const char* entry, InferdMetricFamily* family, const char* const* label_names,
                       const char* const* label_values, uint32_t label_count, const std::vector<double>* buckets,
                       InferdMetric** metric_out) {
  if (family == nullptr || metric_out == nullptr ||
      (label_count > 0 && (label_names == nullptr || label_values == nullptr))) {
    return NewError(INFERD_ERROR_INVALID_ARG, (std::string(entry) + ": null argument").c_str());
  }
  if (label_count > CustomMetrics::kMaxLabels) {
    return NewError(INFERD_ERROR_INVALID_ARG, (std::string(entry) + ": too many labels").c_str());
  }
  MetricLabels labels;
  for (uint32_t i = 0; i < label_count; ++i) {
    if (label_names[i] == nullptr || label_values[i] == nullptr) {
      return NewError(INFERD_ERROR_INVALID_ARG, (std::string(entry) + ": null label").c_str());
    }
    labels.emplace_back(label_names[i], label_values[i]);
  }
  auto handle = std::make_unique<InferdMetric>();
  Status st = CustomMetrics::Global().NewSeries(family->family, std::move(labels), &handle->series, buckets);
  if (!st.ok()) return ErrorFromStatus(st);
  *metric_out = handle.release();
  return nullptr;
}

InferdError* MetricNew(InferdMetricFamily* family, const char* const* label_names,
                       const char* const* label_values, uint32_t label_count,
                       InferdMetric** metric_out) noexcept {
  try {
    return NewMetric("MetricNew", family, label_names, label_values, label_count, nullptr, metric_out);
  } catch (...) {
    return ErrorFromException("MetricNew");
  }
}

InferdError* MetricNewHistogram(InferdMetricFamily* family, const char* const* label_names,
                                const char* const* label_values, uint32_t label_count, const double* buckets,
                                uint32_t bucket_count, InferdMetric** metric_out) noexcept {
  try {
    if (bucket_count > 0 && buckets == nullptr) {
      return NewError(INFERD_ERROR_INVALID_ARG, "MetricNewHistogram: null buckets");
    }
    if (bucket_count > CustomMetrics::kMaxBuckets) {  // before copying them
      return NewError(INFERD_ERROR_INVALID_ARG, ("MetricNewHistogram: more than " +
                                                 std::to_string(CustomMetrics::kMaxBuckets) + " buckets").c_str());
    }
    const std::vector<double> bounds(buckets, buckets + bucket_count);
    return NewMetric("MetricNewHistogram", family, label_names, label_values, label_count, &bounds, metric_out);
  } catch (...) {
    return ErrorFromException("MetricNewHistogram");
  }
}

InferdError* MetricDelete(InferdMetric* metric) noexcept {
  delete metric;
  return nullptr;
}

InferdError* MetricIncrement(InferdMetric* metric, double value) noexcept {
  if (metric == nullptr) return NewError(INFERD_ERROR_INVALID_ARG, "MetricIncrement: null metric");
  return ErrorFromStatus(metric->series->Increment(value));
}

InferdError* MetricSet(InferdMetric* metric, double value) noexcept {
  if (metric == nullptr) return NewError(INFERD_ERROR_INVALID_ARG, "MetricSet: null metric");
  return ErrorFromStatus(metric->series->Set(value));
}

InferdError* MetricObserve(InferdMetric* metric, double value) noexcept {
  if (metric == nullptr) return NewError(INFERD_ERROR_INVALID_ARG, "MetricObserve: null metric");
  try {
    return ErrorFromStatus(metric->series->Observe(value));
  } catch (...) {
    return ErrorFromException("MetricObserve");
  }
}

InferdError* MetricValue(const InferdMetric* metric, double* value_out) noexcept {
  if (metric == nullptr || value_out == nullptr) return NewError(INFERD_ERROR_INVALID_ARG, "MetricValue: null argument");
  return ErrorFromStatus(metric->series->Value(value_out));
}

std::atomic<Server*> in_process_server{nullptr};

// An in-process request's own parameters (all strings) as a JSON object.
std::string CustomParametersJson(const std::map<std::string, std::string>& params) {
  if (params.empty()) return {};  // most BLS requests: nothing to write
  rapidjson::StringBuffer text;
  rapidjson::Writer<rapidjson::StringBuffer> w(text);
  w.StartObject();
  bool any = false;
  for (const auto& [key, value] : params) {
    if (IsProtocolParameter(key)) continue;
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    any = true;
  }
  w.EndObject();
  return any ? std::string(text.GetString(), text.GetSize()) : std::string();
}

// Builds a request from the backend's description (copying everything it
// points to) and hands it to the server like a client's.
InferdError* Infer(const InferdInferRequest* spec, InferdInferCallback callback, void* userp) noexcept {
  if (spec == nullptr || callback == nullptr || spec->model_name == nullptr) {
    return NewError(INFERD_ERROR_INVALID_ARG, "Infer: a request, its model name and a callback are required");
  }
  if ((spec->input_count > 0 && spec->inputs == nullptr) ||
      (spec->output_count > 0 && spec->output_names == nullptr) ||
      (spec->parameter_count > 0 && (spec->parameter_keys == nullptr || spec->parameter_values == nullptr))) {
    return NewError(INFERD_ERROR_INVALID_ARG, "Infer: a count is not zero but its array is null");
  }
  Server* server = in_process_server.load();
  if (server == nullptr) return NewError(INFERD_ERROR_UNAVAILABLE, "Infer: no server is serving");
  try {
    auto r = std::make_shared<InferenceRequest>();
    r->receive_ns = NowNs();
    r->model_name = spec->model_name;
    r->model_version = spec->model_version;
    if (spec->request_id != nullptr) r->id = spec->request_id;
    for (uint32_t p = 0; p < spec->parameter_count; ++p) {
      if (spec->parameter_keys[p] == nullptr || spec->parameter_values[p] == nullptr) {
        return NewError(INFERD_ERROR_INVALID_ARG, "Infer: a parameter key or value is null");
      }
      r->parameters[spec->parameter_keys[p]] = spec->parameter_values[p];
    }
    r->custom_parameters_json = CustomParametersJson(r->parameters);  // before the protocol's are added
    r->correlation_id = spec->correlation_id;
    if (spec->correlation_id != 0) r->parameters["sequence_id"] = std::to_string(spec->correlation_id);
    if (spec->flags & INFERD_INFER_SEQUENCE_START) r->parameters["sequence_start"] = "true";
    if (spec->flags & INFERD_INFER_SEQUENCE_END) r->parameters["sequence_end"] = "true";
    if (spec->priority != 0) r->parameters["priority"] = std::to_string(spec->priority);
    if (spec->timeout_us != 0) r->parameters["timeout"] = std::to_string(spec->timeout_us);
    r->accepts_many_responses = spec->many_responses != 0;
    // One aligned block holds every input, each at a kTensorAlignment offset.
    uint64_t total = 0;
    for (uint32_t i = 0; i < spec->input_count; ++i) {
      const InferdInferInput& in = spec->inputs[i];
      if (in.name == nullptr || (in.dims_count > 0 && in.shape == nullptr) || (in.byte_size > 0 && in.data == nullptr)) {
        return NewError(INFERD_ERROR_INVALID_ARG, "Infer: an input has a null name, shape or data");
      }
      const uint64_t aligned = (in.byte_size + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
      if (aligned < in.byte_size || total + aligned < total) {
        return NewError(INFERD_ERROR_INVALID_ARG, "Infer: the inputs' sizes overflow");
      }
      total += aligned;
    }
    auto block = std::make_shared<AlignedBytes>(MakeAlignedBytes());
    block->resize(total);
    uint64_t offset = 0;
    for (uint32_t i = 0; i < spec->input_count; ++i) {
      const InferdInferInput& in = spec->inputs[i];
      InputTensor t;
      t.name = in.name;
      t.datatype = in.datatype;
      t.shape.assign(in.shape, in.shape + in.dims_count);
      if (in.byte_size > 0) std::memcpy(block->data() + offset, in.data, in.byte_size);
      t.AddBuffer(block->data() + offset, in.byte_size);
      r->inputs.push_back(std::move(t));
      offset += (in.byte_size + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
    }
    r->keep_alive.push_back(std::move(block));
    for (uint32_t o = 0; o < spec->output_count; ++o) {
      if (spec->output_names[o] == nullptr) return NewError(INFERD_ERROR_INVALID_ARG, "Infer: an output name is null");
      RequestedOutput out;
      out.name = spec->output_names[o];
      r->outputs.push_back(std::move(out));
    }
    r->on_response = [callback, userp](std::unique_ptr<InferenceResponse> response) noexcept {
      const uint32_t flags = response->final ? INFERD_RESPONSE_FINAL : 0u;
      callback(userp, response.release(), flags);
    };
    server->Infer(r);
    return nullptr;
  } catch (...) {
    return ErrorFromException("Infer");
  }
}

const char* InferResultError(const InferdInferResult* result, InferdErrorCode* code_out) noexcept {
  const auto* response = static_cast<const InferenceResponse*>(result);
  if (response->status.ok()) return nullptr;
  if (code_out != nullptr) *code_out = CodeFromStatus(response->status.code());
  return response->status.message().c_str();
}

uint32_t InferResultOutputCount(const InferdInferResult* result) noexcept {
  return static_cast<uint32_t>(static_cast<const InferenceResponse*>(result)->outputs.size());
}

InferdError* InferResultOutput(const InferdInferResult* result, uint32_t index, const char** name,
                               InferdDataType* datatype, const int64_t** shape, uint32_t* dims_count,
                               const void** data, uint64_t* byte_size) noexcept {
  const auto* response = static_cast<const InferenceResponse*>(result);
  if (index >= response->outputs.size()) return BadIndex("output", index);
  const OutputTensor& t = response->outputs[index];
  if (name) *name = t.name.c_str();
  if (datatype) *datatype = t.datatype;
  if (shape) *shape = t.shape.data();
  if (dims_count) *dims_count = static_cast<uint32_t>(t.shape.size());
  if (data) *data = t.begin();
  if (byte_size) *byte_size = t.byte_size;
  return nullptr;
}

InferdError* ModelLoad(const char* model_name, const char* config_json, const char* const* file_paths,
                       const void* const* file_contents, const uint64_t* file_sizes, uint32_t file_count,
                       InferdModelControlCallback callback, void* userp) noexcept {
  if (model_name == nullptr || callback == nullptr ||
      (file_count > 0 && (file_paths == nullptr || file_contents == nullptr || file_sizes == nullptr))) {
    return NewError(INFERD_ERROR_INVALID_ARG, "ModelLoad: a model name and a callback are required, and the file "
                                              "arrays when the count is not zero");
  }
  Server* server = in_process_server.load();
  if (server == nullptr) return NewError(INFERD_ERROR_UNAVAILABLE, "ModelLoad: no server is serving");
  try {
    // The size limit is checked before anything is copied.
    const uint64_t limit = server->options().max_override_bytes;
    uint64_t total = 0;
    for (uint32_t i = 0; i < file_count; ++i) {
      if (file_paths[i] == nullptr || (file_contents[i] == nullptr && file_sizes[i] > 0)) {
        return NewError(INFERD_ERROR_INVALID_ARG, "ModelLoad: a file's path or content is null");
      }
      if (file_sizes[i] > limit || total > limit - file_sizes[i]) {
        return ErrorFromStatus(Status::ResourceExhausted(
            "load of model '" + std::string(model_name) + "': its files hold more than the limit of " +
            std::to_string(limit) + " bytes (--model-load-max-override-size)"));
      }
      total += file_sizes[i];
    }
    LoadOverrides overrides;
    if (config_json != nullptr) overrides.config_json = config_json;
    for (uint32_t i = 0; i < file_count; ++i) {
      overrides.files[file_paths[i]].assign(static_cast<const char*>(file_contents[i]), file_sizes[i]);
    }
    server->LoadModelForBackend(model_name, std::move(overrides), [callback, userp](const Status& st) {
      callback(userp, ErrorFromStatus(st));
    });
    return nullptr;
  } catch (...) {
    return ErrorFromException("ModelLoad");
  }
}

InferdError* ModelUnload(const char* model_name, int unload_dependents, InferdModelControlCallback callback,
                         void* userp) noexcept {
  if (model_name == nullptr || callback == nullptr) {
    return NewError(INFERD_ERROR_INVALID_ARG, "ModelUnload: a model name and a callback are required");
  }
  Server* server = in_process_server.load();
  if (server == nullptr) return NewError(INFERD_ERROR_UNAVAILABLE, "ModelUnload: no server is serving");
  try {
    server->UnloadModelForBackend(model_name, unload_dependents != 0, [callback, userp](const Status& st) {
      callback(userp, ErrorFromStatus(st));
    });
    return nullptr;
  } catch (...) {
    return ErrorFromException("ModelUnload");
  }
}

InferdError* ModelIsReady(const char* model_name, int64_t version, int* ready_out) noexcept {
  if (model_name == nullptr || ready_out == nullptr) {
    return NewError(INFERD_ERROR_INVALID_ARG, "ModelIsReady: null argument");
  }
  Server* server = in_process_server.load();
  if (server == nullptr) return NewError(INFERD_ERROR_UNAVAILABLE, "ModelIsReady: no server is serving");
  try {
    std::shared_ptr<Model> model;
    *ready_out = server->GetModel(model_name, version, &model).ok() ? 1 : 0;
    return nullptr;
  } catch (...) {
    return ErrorFromException("ModelIsReady");
  }
}

void InferResultDelete(InferdInferResult* result) noexcept { delete static_cast<InferenceResponse*>(result); }

const InferdCoreApi kApi = {
    INFERD_BACKEND_API_VERSION,
    ErrorNew, ErrorDelete, ErrorMessage, Log,
    ModelName, ModelVersion, ModelRepositoryPath, ModelConfigJson, ModelSetConfigJson,
    ModelAutoCompleteAllowed, ModelVersionPath, ModelSetState, ModelState,
    InstanceModel, InstanceName, InstanceDeviceId, InstanceIsGpu, InstanceSetState, InstanceState,
    InstanceReportComputeTimes, Now,
    RequestId, RequestCorrelationId, RequestInputCount, RequestInput, RequestInputBufferCount,
    RequestInputBuffer, RequestOutputCount, RequestOutputName, RequestParameter,
    ResponseNew, ResponseDelete, ResponseOutput, ResponseSend, RequestRespondError,
    ModelBackendConfig,
    MetricFamilyNew, MetricFamilyDelete, MetricNew, MetricDelete, MetricIncrement, MetricSet,
    MetricValue,
    Infer, InferResultError, InferResultOutputCount, InferResultOutput, InferResultDelete,
    RequestParametersJson,
    RequestIsCancelled,
    ModelBackendLibraryPath, ModelBackendConfigJson, LogIsEnabled, ResponseSetParameter,
    MetricNewHistogram, MetricObserve,
    ModelLoad, ModelUnload, ModelIsReady,
};

}  // namespace

const InferdCoreApi* CoreApi() { return &kApi; }

void SetInProcessServer(Server* server) { in_process_server.store(server); }
void ClearInProcessServer(Server* server) {
  Server* expected = server;
  in_process_server.compare_exchange_strong(expected, nullptr);
}

Status StatusFromBackendError(InferdError* error) {
  if (error == nullptr) return Status::Ok();
  Status st(StatusCodeFromError(error->code), error->message);
  ErrorDelete(error);
  return st;
}

InferdError* BackendErrorFromStatus(const Status& status) {
  if (status.ok()) return nullptr;
  return new InferdError{CodeFromStatus(status.code()), status.message()};
}

}  // namespace inferd
