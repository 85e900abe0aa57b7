// TRITONSERVER_* functions a backend calls: errors, JSON messages, data and
// memory types, logging, parameters, buffer attributes, traces and custom
// metrics. Nothing here throws: each entry point catches what the standard
// library could throw (only std::bad_alloc in practice) and answers with an
// error or a null, as Triton's do.
#include <cstring>
#include <new>
#include <string>

#include "adapter_types.h"

namespace inferd_triton {

TRITONSERVER_Error* NewError(TRITONSERVER_Error_Code code, std::string message) {
  try {
    return new TRITONSERVER_Error{code, std::move(message)};
  } catch (...) {
    return nullptr;  // out of memory: Triton's own would fail the same way
  }
}

TRITONSERVER_Error* NullArgument(const char* function) {
  return NewError(TRITONSERVER_ERROR_INVALID_ARG, std::string(function) + ": null argument");
}

InferdError* CopyToInferdError(const TRITONSERVER_Error* error) {
  if (error == nullptr) return nullptr;
  // inferd's codes are Triton's plus one (UNKNOWN is 1 there, 0 here).
  const int code = static_cast<int>(error->code) + 1;
  return g_api->ErrorNew(code >= INFERD_ERROR_UNKNOWN && code <= INFERD_ERROR_CANCELLED
                             ? static_cast<InferdErrorCode>(code)
                             : INFERD_ERROR_UNKNOWN,
                         error->message.c_str());
}

InferdError* ToInferdError(TRITONSERVER_Error* error) {
  InferdError* out = CopyToInferdError(error);
  delete error;
  return out;
}

TRITONSERVER_Error* FromInferdError(InferdError* error, TRITONSERVER_Error_Code code) {
  if (error == nullptr) return nullptr;
  TRITONSERVER_Error* out = NewError(code, g_api->ErrorMessage(error));
  g_api->ErrorDelete(error);
  return out;
}

}  // namespace inferd_triton

using inferd_triton::g_api;
using inferd_triton::NewError;

namespace {

const char* const kTypeNames[] = {"<invalid>", "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                                  "INT32",     "INT64", "FP16", "FP32",   "FP64",   "BYTES",  "BF16"};
const uint32_t kTypeSizes[] = {0, 1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 0, 2};

}  // namespace

extern "C" {

TRITONSERVER_Error* TRITONSERVER_ApiVersion(uint32_t* major, uint32_t* minor) {
  *major = kTritonServerApiMajor;
  *minor = kTritonServerApiMinor;
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_ErrorNew(TRITONSERVER_Error_Code code, const char* msg) {
  return NewError(code, msg ? msg : "");
}

void TRITONSERVER_ErrorDelete(TRITONSERVER_Error* error) { delete error; }

TRITONSERVER_Error_Code TRITONSERVER_ErrorCode(TRITONSERVER_Error* error) {
  return error ? error->code : TRITONSERVER_ERROR_UNKNOWN;
}

const char* TRITONSERVER_ErrorCodeString(TRITONSERVER_Error* error) {
  switch (error ? error->code : TRITONSERVER_ERROR_UNKNOWN) {
    case TRITONSERVER_ERROR_INTERNAL: return "Internal";
    case TRITONSERVER_ERROR_NOT_FOUND: return "Not found";
    case TRITONSERVER_ERROR_INVALID_ARG: return "Invalid argument";
    case TRITONSERVER_ERROR_UNAVAILABLE: return "Unavailable";
    case TRITONSERVER_ERROR_UNSUPPORTED: return "Unsupported";
    case TRITONSERVER_ERROR_ALREADY_EXISTS: return "Already exists";
    case TRITONSERVER_ERROR_CANCELLED: return "Cancelled";
    default: return "Unknown";
  }
}

const char* TRITONSERVER_ErrorMessage(TRITONSERVER_Error* error) { return error ? error->message.c_str() : ""; }

TRITONSERVER_Error* TRITONSERVER_MessageNewFromSerializedJson(TRITONSERVER_Message** message, const char* base,
                                                              size_t byte_size) {
  if (message == nullptr || (base == nullptr && byte_size > 0)) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "TRITONSERVER_MessageNewFromSerializedJson: null argument");
  }
  try {
    *message = new TRITONSERVER_Message{std::string(base ? base : "", byte_size)};
    return nullptr;
  } catch (...) {
    return NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory");
  }
}

TRITONSERVER_Error* TRITONSERVER_MessageDelete(TRITONSERVER_Message* message) {
  delete message;
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_MessageSerializeToJson(TRITONSERVER_Message* message, const char** base,
                                                        size_t* byte_size) {
  if (message == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null message");
  *base = message->json.data();
  *byte_size = message->json.size();
  return nullptr;
}

const char* TRITONSERVER_DataTypeString(TRITONSERVER_DataType datatype) {
  const auto i = static_cast<unsigned>(datatype);
  return i < sizeof(kTypeNames) / sizeof(kTypeNames[0]) ? kTypeNames[i] : "<invalid>";
}

TRITONSERVER_DataType TRITONSERVER_StringToDataType(const char* dtype) {
  if (dtype == nullptr) return TRITONSERVER_TYPE_INVALID;
  for (unsigned i = 1; i < sizeof(kTypeNames) / sizeof(kTypeNames[0]); ++i) {
    if (std::strcmp(dtype, kTypeNames[i]) == 0) return static_cast<TRITONSERVER_DataType>(i);
  }
  return TRITONSERVER_TYPE_INVALID;
}

uint32_t TRITONSERVER_DataTypeByteSize(TRITONSERVER_DataType datatype) {
  const auto i = static_cast<unsigned>(datatype);
  return i < sizeof(kTypeSizes) / sizeof(kTypeSizes[0]) ? kTypeSizes[i] : 0;
}

const char* TRITONSERVER_MemoryTypeString(TRITONSERVER_MemoryType memtype) {
  switch (memtype) {
    case TRITONSERVER_MEMORY_CPU: return "CPU";
    case TRITONSERVER_MEMORY_CPU_PINNED: return "CPU_PINNED";
    case TRITONSERVER_MEMORY_GPU: return "GPU";
  }
  return "<invalid>";
}

const char* TRITONSERVER_ParameterTypeString(TRITONSERVER_ParameterType paramtype) {
  switch (paramtype) {
    case TRITONSERVER_PARAMETER_STRING: return "STRING";
    case TRITONSERVER_PARAMETER_INT: return "INT";
    case TRITONSERVER_PARAMETER_BOOL: return "BOOL";
    case TRITONSERVER_PARAMETER_DOUBLE: return "DOUBLE";
    case TRITONSERVER_PARAMETER_BYTES: return "BYTES";
  }
  return "<invalid>";
}

const char* TRITONSERVER_InstanceGroupKindString(TRITONSERVER_InstanceGroupKind kind) {
  switch (kind) {
    case TRITONSERVER_INSTANCEGROUPKIND_AUTO: return "AUTO";
    case TRITONSERVER_INSTANCEGROUPKIND_CPU: return "CPU";
    case TRITONSERVER_INSTANCEGROUPKIND_GPU: return "GPU";
    case TRITONSERVER_INSTANCEGROUPKIND_MODEL: return "MODEL";
  }
  return "<invalid>";
}

namespace {

InferdLogLevel ToInferdLevel(TRITONSERVER_LogLevel level) {
  switch (level) {
    case TRITONSERVER_LOG_WARN: return INFERD_LOG_WARN;
    case TRITONSERVER_LOG_ERROR: return INFERD_LOG_ERROR;
    case TRITONSERVER_LOG_VERBOSE: return INFERD_LOG_VERBOSE;
    default: return INFERD_LOG_INFO;
  }
}

}  // namespace

// The server's own --log-* settings decide (backends such as Triton's
// onnxruntime turn ONNX Runtime's verbose log on when VERBOSE is enabled).
bool TRITONSERVER_LogIsEnabled(TRITONSERVER_LogLevel level) { return g_api->LogIsEnabled(ToInferdLevel(level)) != 0; }

TRITONSERVER_Error* TRITONSERVER_LogMessage(TRITONSERVER_LogLevel level, const char* filename, const int line,
                                            const char* msg) {
  g_api->Log(ToInferdLevel(level), filename ? filename : "", line, msg ? msg : "");
  return nullptr;
}

TRITONSERVER_Parameter* TRITONSERVER_ParameterNew(const char* name, const TRITONSERVER_ParameterType type,
                                                  const void* value) {
  if (name == nullptr || value == nullptr) return nullptr;
  try {
    auto* p = new TRITONSERVER_Parameter{name, type, {}};
    switch (type) {
      case TRITONSERVER_PARAMETER_STRING: p->text = static_cast<const char*>(value); break;
      case TRITONSERVER_PARAMETER_INT: p->int_value = *static_cast<const int64_t*>(value); break;
      case TRITONSERVER_PARAMETER_BOOL: p->bool_value = *static_cast<const bool*>(value); break;
      case TRITONSERVER_PARAMETER_DOUBLE: p->double_value = *static_cast<const double*>(value); break;
      default:  // BYTES takes TRITONSERVER_ParameterBytesNew, as on Triton
        delete p;
        return nullptr;
    }
    return p;
  } catch (...) {
    return nullptr;
  }
}

TRITONSERVER_Parameter* TRITONSERVER_ParameterBytesNew(const char* name, const void* byte_ptr, const uint64_t size) {
  if (name == nullptr || (byte_ptr == nullptr && size > 0)) return nullptr;
  try {
    auto* p = new TRITONSERVER_Parameter{name, TRITONSERVER_PARAMETER_BYTES, {}};
    p->text.assign(static_cast<const char*>(byte_ptr), size);
    return p;
  } catch (...) {
    return nullptr;
  }
}

void TRITONSERVER_ParameterDelete(TRITONSERVER_Parameter* parameter) { delete parameter; }

TRITONSERVER_Error* TRITONSERVER_BufferAttributesNew(TRITONSERVER_BufferAttributes** attributes) {
  *attributes = new (std::nothrow) TRITONSERVER_BufferAttributes();
  return *attributes ? nullptr : NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory");
}

TRITONSERVER_Error* TRITONSERVER_BufferAttributesDelete(TRITONSERVER_BufferAttributes* attributes) {
  delete attributes;
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_BufferAttributesSetMemoryTypeId(TRITONSERVER_BufferAttributes* attributes,
                                                                 int64_t memory_type_id) {
  attributes->memory_type_id = memory_type_id;
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_BufferAttributesSetMemoryType(TRITONSERVER_BufferAttributes* attributes,
                                                               TRITONSERVER_MemoryType memory_type) {
  attributes->memory_type = memory_type;
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_BufferAttributesSetByteSize(TRITONSERVER_BufferAttributes* attributes,
                                                             size_t byte_size) {
  attributes->byte_size = byte_size;
  return nullptr;
}

// Requests carry no Triton trace here (TRITONBACKEND_RequestTrace gives
// null), so there is never a trace to report an activity to.
TRITONSERVER_Error* TRITONSERVER_InferenceTraceReportActivity(TRITONSERVER_InferenceTrace*, uint64_t, const char*) {
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_MetricFamilyNew(TRITONSERVER_MetricFamily** family,
                                                 const TRITONSERVER_MetricKind kind, const char* name,
                                                 const char* description) {
  if (family == nullptr || name == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null argument");
  InferdMetricKind inferd_kind;
  switch (kind) {
    case TRITONSERVER_METRIC_KIND_COUNTER: inferd_kind = INFERD_METRIC_COUNTER; break;
    case TRITONSERVER_METRIC_KIND_GAUGE: inferd_kind = INFERD_METRIC_GAUGE; break;
    case TRITONSERVER_METRIC_KIND_HISTOGRAM: inferd_kind = INFERD_METRIC_HISTOGRAM; break;
    default:
      return NewError(TRITONSERVER_ERROR_INVALID_ARG, "custom metric '" + std::string(name) + "': unknown metric kind");
  }
  InferdMetricFamily* made = nullptr;
  InferdError* error = g_api->MetricFamilyNew(inferd_kind, name, description ? description : "", &made);
  if (error) return inferd_triton::FromInferdError(error, TRITONSERVER_ERROR_INVALID_ARG);
  *family = new (std::nothrow) TRITONSERVER_MetricFamily{made, kind};
  if (*family == nullptr) {
    g_api->MetricFamilyDelete(made);
    return NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory");
  }
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_MetricFamilyDelete(TRITONSERVER_MetricFamily* family) {
  if (family == nullptr) return nullptr;
  InferdError* error = g_api->MetricFamilyDelete(family->family);
  delete family;
  return inferd_triton::FromInferdError(error, TRITONSERVER_ERROR_INTERNAL);
}

TRITONSERVER_Error* TRITONSERVER_GetMetricFamilyKind(TRITONSERVER_MetricFamily* family,
                                                     TRITONSERVER_MetricKind* kind) {
  if (family == nullptr || kind == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null argument");
  *kind = family->kind;
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_MetricArgsNew(TRITONSERVER_MetricArgs** args) {
  if (args == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null argument");
  *args = new (std::nothrow) TRITONSERVER_MetricArgs();
  return *args == nullptr ? NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory") : nullptr;
}

TRITONSERVER_Error* TRITONSERVER_MetricArgsSetHistogram(TRITONSERVER_MetricArgs* args, const double* buckets,
                                                        const uint64_t buckets_count) {
  if (args == nullptr || (buckets == nullptr && buckets_count > 0)) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "TRITONSERVER_MetricArgsSetHistogram: null argument");
  }
  // The server checks the bounds when the metric is made; this only bounds the copy.
  constexpr uint64_t kMaxBuckets = 256;
  if (buckets_count > kMaxBuckets) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "a histogram may have at most 256 buckets");
  }
  try {
    args->buckets.assign(buckets, buckets + buckets_count);
  } catch (const std::bad_alloc&) {
    return NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory");
  }
  args->histogram = true;
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_MetricArgsDelete(TRITONSERVER_MetricArgs* args) {
  delete args;
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_MetricNewWithArgs(TRITONSERVER_Metric** metric, TRITONSERVER_MetricFamily* family,
                                                   const TRITONSERVER_Parameter** labels, const uint64_t label_count,
                                                   const TRITONSERVER_MetricArgs* args) {
  if (metric == nullptr || family == nullptr || (labels == nullptr && label_count > 0)) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "TRITONSERVER_MetricNew: null argument");
  }
  // Triton's rules: a histogram needs args with buckets, the others take none.
  if (family->kind == TRITONSERVER_METRIC_KIND_HISTOGRAM) {
    if (args == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "Bucket boundaries not found in Metric args.");
    if (!args->histogram) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "Metric args not set to histogram kind.");
  } else if (args != nullptr) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "Unexpected args found in counter or gauge Metric constructor.");
  }
  if (label_count > 64) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "a metric may have at most 64 labels");
  const char* names[64];
  const char* values[64];
  for (uint64_t i = 0; i < label_count; ++i) {
    if (labels[i] == nullptr || labels[i]->type != TRITONSERVER_PARAMETER_STRING) {
      return NewError(TRITONSERVER_ERROR_INVALID_ARG, "metric labels must be string parameters");
    }
    names[i] = labels[i]->name.c_str();
    values[i] = labels[i]->text.c_str();
  }
  InferdMetric* made = nullptr;
  const auto count = static_cast<uint32_t>(label_count);
  InferdError* error =
      args == nullptr ? g_api->MetricNew(family->family, names, values, count, &made)
                      : g_api->MetricNewHistogram(family->family, names, values, count, args->buckets.data(),
                                                  static_cast<uint32_t>(args->buckets.size()), &made);
  if (error) return inferd_triton::FromInferdError(error, TRITONSERVER_ERROR_INVALID_ARG);
  *metric = new (std::nothrow) TRITONSERVER_Metric{made, family->kind};
  if (*metric == nullptr) {
    g_api->MetricDelete(made);
    return NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory");
  }
  return nullptr;
}

TRITONSERVER_Error* TRITONSERVER_MetricNew(TRITONSERVER_Metric** metric, TRITONSERVER_MetricFamily* family,
                                           const TRITONSERVER_Parameter** labels, const uint64_t label_count) {
  return TRITONSERVER_MetricNewWithArgs(metric, family, labels, label_count, nullptr);
}

TRITONSERVER_Error* TRITONSERVER_MetricDelete(TRITONSERVER_Metric* metric) {
  if (metric == nullptr) return nullptr;
  InferdError* error = g_api->MetricDelete(metric->metric);
  delete metric;
  return inferd_triton::FromInferdError(error, TRITONSERVER_ERROR_INTERNAL);
}

TRITONSERVER_Error* TRITONSERVER_MetricValue(TRITONSERVER_Metric* metric, double* value) {
  if (metric == nullptr || value == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null argument");
  return inferd_triton::FromInferdError(g_api->MetricValue(metric->metric, value), TRITONSERVER_ERROR_INVALID_ARG);
}

TRITONSERVER_Error* TRITONSERVER_MetricIncrement(TRITONSERVER_Metric* metric, double value) {
  if (metric == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null metric");
  return inferd_triton::FromInferdError(g_api->MetricIncrement(metric->metric, value),
                                        TRITONSERVER_ERROR_INVALID_ARG);
}

TRITONSERVER_Error* TRITONSERVER_MetricSet(TRITONSERVER_Metric* metric, double value) {
  if (metric == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null metric");
  return inferd_triton::FromInferdError(g_api->MetricSet(metric->metric, value), TRITONSERVER_ERROR_UNSUPPORTED);
}

TRITONSERVER_Error* TRITONSERVER_MetricObserve(TRITONSERVER_Metric* metric, double value) {
  if (metric == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null metric");
  return inferd_triton::FromInferdError(g_api->MetricObserve(metric->metric, value), TRITONSERVER_ERROR_UNSUPPORTED);
}

TRITONSERVER_Error* TRITONSERVER_GetMetricKind(TRITONSERVER_Metric* metric, TRITONSERVER_MetricKind* kind) {
  if (metric == nullptr || kind == nullptr) return NewError(TRITONSERVER_ERROR_INVALID_ARG, "null argument");
  *kind = metric->kind;
  return nullptr;
}

}  // extern "C"
