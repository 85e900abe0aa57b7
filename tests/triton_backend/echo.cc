// libtriton_echo.so: a backend written against Triton's backend API (as a
// team's own libtriton_<name>.so is), linked to libtritonserver.so, so the
// test suite exercises inferd's Triton adapter on every machine, sanitizer
// builds included, without Triton's sources. Triton's own backends are
// tested too where they are built (tests/integration/test_triton_backends.py).
//
// Model: input IN (INT32, any shape), output OUT (INT32).
//  - not decoupled: OUT = IN for each request of the batch (gathered from
//    however many buffers IN arrives in); a request whose first value is
//    negative is answered with an INVALID_ARG error naming the value; each
//    answer carries the response parameters count (INT), backend (STRING),
//    empty (BOOL) and half (DOUBLE, count / 2), and each of the client's
//    request parameters back as "request_<key>", with its type;
//    compute times are reported per batch (TRITONBACKEND_ModelInstanceReportBatchStatistics);
//  - decoupled (model_transaction_policy { decoupled: true }): each request
//    is released during Execute, and a thread of the backend's own answers it
//    afterwards through a response factory: one response per value of IN
//    (OUT = [value]), 5 ms apart, then the final flag alone
//    (TRITONBACKEND_ResponseFactorySendFlags), as Triton's repeat backend does;
//    a request whose first value is 999999 is released and its factory
//    deleted with nothing sent, as a buggy backend would.
// The backend keeps a count of executions in its model state and says it in
// its instance's finalize log line, and observes each request's element count
// in the histogram echo_request_elements{model} (buckets 1, 4, 16), made with
// TRITONSERVER_MetricArgsSetHistogram and TRITONSERVER_MetricNewWithArgs.
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "triton_abi.h"

namespace {

#define RETURN_IF_ERROR(X)             \
  do {                                 \
    TRITONSERVER_Error* err__ = (X);   \
    if (err__ != nullptr) return err__; \
  } while (false)

// A decoupled request whose first value is this is released with no
// response at all, as a buggy backend would (the adapter must answer it).
constexpr int32_t kForget = 999999;

struct ModelState {
  bool decoupled = false;
  int executions = 0;
  TRITONSERVER_MetricFamily* elements_family = nullptr;
  TRITONSERVER_Metric* elements = nullptr;  // echo_request_elements{model}
};

// The model's histogram; the adapter's errors come back as Triton's would.
TRITONSERVER_Error* MakeHistogram(TRITONBACKEND_Model* model, ModelState* state) {
  const char* name = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelName(model, &name));
  RETURN_IF_ERROR(TRITONSERVER_MetricFamilyNew(&state->elements_family, TRITONSERVER_METRIC_KIND_HISTOGRAM,
                                               "echo_request_elements", "Elements of IN per request"));
  TRITONSERVER_MetricKind kind = TRITONSERVER_METRIC_KIND_COUNTER;
  RETURN_IF_ERROR(TRITONSERVER_GetMetricFamilyKind(state->elements_family, &kind));
  if (kind != TRITONSERVER_METRIC_KIND_HISTOGRAM) {
    return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INTERNAL, "echo_request_elements is not a histogram");
  }
  TRITONSERVER_Parameter* label = TRITONSERVER_ParameterNew("model", TRITONSERVER_PARAMETER_STRING, name);
  if (label == nullptr) return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INTERNAL, "out of memory");
  const TRITONSERVER_Parameter* labels[] = {label};
  TRITONSERVER_MetricArgs* args = nullptr;
  const double buckets[] = {1, 4, 16};
  TRITONSERVER_Error* err = TRITONSERVER_MetricArgsNew(&args);
  if (err == nullptr) err = TRITONSERVER_MetricArgsSetHistogram(args, buckets, 3);
  if (err == nullptr) err = TRITONSERVER_MetricNewWithArgs(&state->elements, state->elements_family, labels, 1, args);
  TRITONSERVER_MetricArgsDelete(args);
  TRITONSERVER_ParameterDelete(label);
  return err;
}

void DeleteHistogram(ModelState* state) {
  TRITONSERVER_ErrorDelete(TRITONSERVER_MetricDelete(state->elements));
  TRITONSERVER_ErrorDelete(TRITONSERVER_MetricFamilyDelete(state->elements_family));
}

// IN's values, gathered from its buffers.
TRITONSERVER_Error* ReadInput(TRITONBACKEND_Request* request, std::vector<int32_t>* values) {
  TRITONBACKEND_Input* input = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_RequestInput(request, "IN", &input));
  uint64_t byte_size = 0;
  uint32_t buffers = 0;
  RETURN_IF_ERROR(TRITONBACKEND_InputProperties(input, nullptr, nullptr, nullptr, nullptr, &byte_size, &buffers));
  values->resize(byte_size / sizeof(int32_t));
  char* out = reinterpret_cast<char*>(values->data());
  uint64_t copied = 0;
  for (uint32_t b = 0; b < buffers; ++b) {
    const void* data = nullptr;
    uint64_t size = 0;
    TRITONSERVER_MemoryType type = TRITONSERVER_MEMORY_CPU;
    int64_t type_id = 0;
    RETURN_IF_ERROR(TRITONBACKEND_InputBuffer(input, b, &data, &size, &type, &type_id));
    if (copied + size > byte_size) return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INTERNAL, "IN overflows");
    if (size > 0) std::memcpy(out + copied, data, size);  // IN may be empty: no buffer to copy into
    copied += size;
  }
  return nullptr;
}

TRITONSERVER_Error* SendValues(TRITONBACKEND_Response* response, const std::vector<int32_t>& values,
                               const int64_t* shape, uint32_t dims, uint32_t flags) {
  TRITONBACKEND_Output* output = nullptr;
  TRITONSERVER_Error* err = TRITONBACKEND_ResponseOutput(response, &output, "OUT", TRITONSERVER_TYPE_INT32, shape, dims);
  void* buffer = nullptr;
  TRITONSERVER_MemoryType type = TRITONSERVER_MEMORY_CPU;
  int64_t type_id = 0;
  if (err == nullptr) {
    err = TRITONBACKEND_OutputBuffer(output, &buffer, values.size() * sizeof(int32_t), &type, &type_id);
  }
  if (err == nullptr) {
    if (!values.empty()) std::memcpy(buffer, values.data(), values.size() * sizeof(int32_t));
    return TRITONBACKEND_ResponseSend(response, flags, nullptr);
  }
  TRITONSERVER_Error* sent = TRITONBACKEND_ResponseSend(response, flags, err);
  TRITONSERVER_ErrorDelete(err);
  return sent;
}

// Each request parameter back on the response as request_<key>.
TRITONSERVER_Error* EchoParameters(TRITONBACKEND_Request* request, TRITONBACKEND_Response* response) {
  uint32_t count = 0;
  RETURN_IF_ERROR(TRITONBACKEND_RequestParameterCount(request, &count));
  for (uint32_t i = 0; i < count; ++i) {
    const char* key = nullptr;
    TRITONSERVER_ParameterType type = TRITONSERVER_PARAMETER_STRING;
    const void* value = nullptr;
    RETURN_IF_ERROR(TRITONBACKEND_RequestParameter(request, i, &key, &type, &value));
    const std::string name = std::string("request_") + key;
    switch (type) {
      case TRITONSERVER_PARAMETER_INT:
        RETURN_IF_ERROR(TRITONBACKEND_ResponseSetIntParameter(response, name.c_str(), *static_cast<const int64_t*>(value)));
        break;
      case TRITONSERVER_PARAMETER_BOOL:
        RETURN_IF_ERROR(TRITONBACKEND_ResponseSetBoolParameter(response, name.c_str(), *static_cast<const bool*>(value)));
        break;
      case TRITONSERVER_PARAMETER_DOUBLE:
        RETURN_IF_ERROR(
            TRITONBACKEND_ResponseSetDoubleParameter(response, name.c_str(), *static_cast<const double*>(value)));
        break;
      default:
        RETURN_IF_ERROR(
            TRITONBACKEND_ResponseSetStringParameter(response, name.c_str(), static_cast<const char*>(value)));
    }
  }
  return nullptr;
}

// The decoupled answer, on the backend's own thread after Execute returned.
void AnswerLater(TRITONBACKEND_ResponseFactory* factory, std::vector<int32_t> values) {
  for (int32_t v : values) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    TRITONBACKEND_Response* response = nullptr;
    if (TRITONSERVER_Error* err = TRITONBACKEND_ResponseNewFromFactory(&response, factory)) {
      TRITONSERVER_ErrorDelete(err);
      break;
    }
    const int64_t one = 1;
    if (TRITONSERVER_Error* err = SendValues(response, {v}, &one, 1, 0)) TRITONSERVER_ErrorDelete(err);
  }
  if (TRITONSERVER_Error* err = TRITONBACKEND_ResponseFactorySendFlags(factory, kTritonResponseCompleteFinal)) {
    TRITONSERVER_ErrorDelete(err);
  }
  TRITONBACKEND_ResponseFactoryDelete(factory);
}

}  // namespace

extern "C" {

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_Initialize(TRITONBACKEND_Backend* backend) {
  uint32_t major = 0, minor = 0;
  RETURN_IF_ERROR(TRITONBACKEND_ApiVersion(&major, &minor));
  if (major != 1 || minor < 19) {
    return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNSUPPORTED, "echo needs backend API 1.19");
  }
  const char* name = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_BackendName(backend, &name));
  TRITONSERVER_Message* config = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_BackendConfig(backend, &config));
  const char* json = nullptr;
  size_t size = 0;
  RETURN_IF_ERROR(TRITONSERVER_MessageSerializeToJson(config, &json, &size));
  const std::string line = std::string("echo backend '") + name + "' initialized, config " + std::string(json, size);
  TRITONSERVER_MessageDelete(config);
  return TRITONSERVER_LogMessage(TRITONSERVER_LOG_INFO, __FILE__, __LINE__, line.c_str());
}

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInitialize(TRITONBACKEND_Model* model) {
  TRITONSERVER_Message* config = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelConfig(model, 1, &config));
  const char* json = nullptr;
  size_t size = 0;
  TRITONSERVER_Error* err = TRITONSERVER_MessageSerializeToJson(config, &json, &size);
  auto* state = new ModelState();
  // A test backend may read its config crudely: the policy is its one flag.
  if (err == nullptr) {
    std::string text;
    for (size_t i = 0; i < size; ++i) {
      if (json[i] != ' ' && json[i] != '\n') text += json[i];
    }
    state->decoupled = text.find("\"decoupled\":true") != std::string::npos;
  }
  TRITONSERVER_MessageDelete(config);
  if (err == nullptr) err = MakeHistogram(model, state);
  if (err == nullptr) err = TRITONBACKEND_ModelSetState(model, state);
  if (err != nullptr) {
    DeleteHistogram(state);
    delete state;
  }
  return err;
}

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelFinalize(TRITONBACKEND_Model* model) {
  void* state = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelState(model, &state));
  DeleteHistogram(static_cast<ModelState*>(state));
  delete static_cast<ModelState*>(state);
  return nullptr;
}

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceFinalize(TRITONBACKEND_ModelInstance* instance) {
  TRITONBACKEND_Model* model = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelInstanceModel(instance, &model));
  void* state = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelState(model, &state));
  const std::string line =
      "echo instance finalized after " + std::to_string(static_cast<ModelState*>(state)->executions) + " executions";
  return TRITONSERVER_LogMessage(TRITONSERVER_LOG_INFO, __FILE__, __LINE__, line.c_str());
}

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceExecute(TRITONBACKEND_ModelInstance* instance,
                                                                         TRITONBACKEND_Request** requests,
                                                                         const uint32_t count) {
  TRITONBACKEND_Model* model = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelInstanceModel(instance, &model));
  void* raw_state = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelState(model, &raw_state));
  auto* state = static_cast<ModelState*>(raw_state);
  ++state->executions;
  const auto now = [] {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
  };
  const uint64_t exec_start = now();
  for (uint32_t r = 0; r < count; ++r) {
    TRITONBACKEND_Request* request = requests[r];
    std::vector<int32_t> values;
    TRITONSERVER_Error* err = ReadInput(request, &values);
    if (err == nullptr) TRITONSERVER_ErrorDelete(TRITONSERVER_MetricObserve(state->elements, double(values.size())));
    if (state->decoupled) {
      TRITONBACKEND_ResponseFactory* factory = nullptr;
      if (err == nullptr) err = TRITONBACKEND_ResponseFactoryNew(&factory, request);
      if (err == nullptr && !values.empty() && values[0] == kForget) {
        TRITONBACKEND_ResponseFactoryDelete(factory);  // a buggy backend: the request is never answered
      } else if (err == nullptr) {
        std::thread(AnswerLater, factory, std::move(values)).detach();
      }
    } else {
      TRITONBACKEND_Response* response = nullptr;
      TRITONSERVER_Error* made = TRITONBACKEND_ResponseNew(&response, request);
      if (made != nullptr) {
        TRITONSERVER_ErrorDelete(err);
        err = made;
      } else if (err == nullptr && !values.empty() && values[0] < 0) {
        err = TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INVALID_ARG,
                                    ("echo refuses negative values, got " + std::to_string(values[0])).c_str());
      }
      if (response != nullptr && err != nullptr) {
        TRITONSERVER_Error* sent = TRITONBACKEND_ResponseSend(response, kTritonResponseCompleteFinal, err);
        TRITONSERVER_ErrorDelete(sent);
      } else if (response != nullptr) {
        TRITONBACKEND_Input* input = nullptr;
        const int64_t* shape = nullptr;
        uint32_t dims = 0;
        err = TRITONBACKEND_RequestInput(request, "IN", &input);
        if (err == nullptr) err = TRITONBACKEND_InputProperties(input, nullptr, nullptr, &shape, &dims, nullptr, nullptr);
        // Response parameters, one of each type, as Triton's identity sets them.
        if (err == nullptr) err = TRITONBACKEND_ResponseSetIntParameter(response, "count", int64_t(values.size()));
        if (err == nullptr) err = TRITONBACKEND_ResponseSetStringParameter(response, "backend", "echo");
        if (err == nullptr) err = TRITONBACKEND_ResponseSetBoolParameter(response, "empty", values.empty());
        if (err == nullptr) err = TRITONBACKEND_ResponseSetDoubleParameter(response, "half", values.size() / 2.0);
        if (err == nullptr) err = EchoParameters(request, response);
        if (err == nullptr) err = SendValues(response, values, shape, dims, kTritonResponseCompleteFinal);
      }
    }
    if (err != nullptr) {
      const std::string line = std::string("echo: ") + TRITONSERVER_ErrorMessage(err);
      TRITONSERVER_LogMessage(TRITONSERVER_LOG_WARN, __FILE__, __LINE__, line.c_str());
      TRITONSERVER_ErrorDelete(err);
    }
    TRITONSERVER_Error* released = TRITONBACKEND_RequestRelease(request, kTritonRequestReleaseAll);
    TRITONSERVER_ErrorDelete(released);
  }
  const uint64_t exec_end = now();
  return TRITONBACKEND_ModelInstanceReportBatchStatistics(instance, count, exec_start, exec_start, exec_end,
                                                          exec_end);
}

}  // extern "C"
