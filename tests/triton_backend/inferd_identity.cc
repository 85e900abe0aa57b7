// libtriton_inferd_identity.so: inferd's own identity backend
// (backends/identity/identity.cc) written again against Triton's backend API,
// call for call: the same work per request (a response, each requested
// OUTPUTn copied from INPUTn buffer by buffer, the input bytes counted into
// the input_byte_size_counter metric, compute times reported once per
// batch), plus what Triton's API asks of every backend and inferd's does not
// have (releasing each request, per-request statistics).
//
// Why it exists: the two differ only in the ABI they go through, so serving
// both in one server measures what inferd's Triton adapter itself costs per
// request (bench/triton_adapter.py), apart from whatever a particular Triton
// backend chooses to do per request. The tests check it answers exactly as
// inferd's identity does, for every datatype.
#include <chrono>
#include <cstring>
#include <string>

#include "triton_abi.h"

namespace {

#define RETURN_IF_ERROR(X)              \
  do {                                  \
    TRITONSERVER_Error* err__ = (X);    \
    if (err__ != nullptr) return err__; \
  } while (false)

TRITONSERVER_MetricFamily* input_bytes_family = nullptr;

struct ModelState {
  TRITONSERVER_Metric* input_bytes = nullptr;  // input_byte_size_counter{model,version}
};

uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// INPUTn -> OUTPUTn; other names map to themselves prefixed "OUT_".
std::string OutputFor(const std::string& input) {
  if (input.rfind("INPUT", 0) == 0) return "OUTPUT" + input.substr(5);
  return "OUT_" + input;
}

// Each requested output from its input; counts every input's bytes.
TRITONSERVER_Error* CopyInputs(TRITONBACKEND_Request* request, TRITONBACKEND_Response* response,
                               uint64_t* input_bytes) {
  uint32_t outputs = 0, inputs = 0;
  RETURN_IF_ERROR(TRITONBACKEND_RequestOutputCount(request, &outputs));
  RETURN_IF_ERROR(TRITONBACKEND_RequestInputCount(request, &inputs));
  for (uint32_t i = 0; i < inputs; ++i) {
    TRITONBACKEND_Input* input = nullptr;
    RETURN_IF_ERROR(TRITONBACKEND_RequestInputByIndex(request, i, &input));
    const char* name = nullptr;
    TRITONSERVER_DataType type = TRITONSERVER_TYPE_INVALID;
    const int64_t* shape = nullptr;
    uint32_t dims = 0, buffers = 0;
    uint64_t size = 0;
    RETURN_IF_ERROR(TRITONBACKEND_InputProperties(input, &name, &type, &shape, &dims, &size, &buffers));
    *input_bytes += size;
    const std::string out_name = OutputFor(name);
    bool wanted = false;
    for (uint32_t o = 0; o < outputs && !wanted; ++o) {
      const char* requested = nullptr;
      RETURN_IF_ERROR(TRITONBACKEND_RequestOutputName(request, o, &requested));
      wanted = out_name == requested;
    }
    if (!wanted) continue;  // outputs not requested are not produced
    TRITONBACKEND_Output* output = nullptr;
    RETURN_IF_ERROR(TRITONBACKEND_ResponseOutput(response, &output, out_name.c_str(), type, shape, dims));
    void* out = nullptr;
    TRITONSERVER_MemoryType memory = TRITONSERVER_MEMORY_CPU;
    int64_t memory_id = 0;
    RETURN_IF_ERROR(TRITONBACKEND_OutputBuffer(output, &out, size, &memory, &memory_id));
    char* dst = static_cast<char*>(out);
    for (uint32_t b = 0; b < buffers; ++b) {
      const void* data = nullptr;
      uint64_t n = 0;
      RETURN_IF_ERROR(TRITONBACKEND_InputBuffer(input, b, &data, &n, &memory, &memory_id));
      if (n > 0) std::memcpy(dst, data, n);
      dst += n;
    }
  }
  return nullptr;
}

}  // namespace

extern "C" {

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_Initialize(TRITONBACKEND_Backend*) {
  return TRITONSERVER_MetricFamilyNew(&input_bytes_family, TRITONSERVER_METRIC_KIND_COUNTER,
                                      "input_byte_size_counter",
                                      "Cumulative input byte size of all requests received by the model");
}

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_Finalize(TRITONBACKEND_Backend*) {
  TRITONSERVER_Error* err = TRITONSERVER_MetricFamilyDelete(input_bytes_family);
  input_bytes_family = nullptr;
  return err;
}

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInitialize(TRITONBACKEND_Model* model) {
  const char* name = nullptr;
  uint64_t version = 0;
  RETURN_IF_ERROR(TRITONBACKEND_ModelName(model, &name));
  RETURN_IF_ERROR(TRITONBACKEND_ModelVersion(model, &version));
  const std::string version_text = std::to_string(version);
  TRITONSERVER_Parameter* labels[2] = {
      TRITONSERVER_ParameterNew("model", TRITONSERVER_PARAMETER_STRING, name),
      TRITONSERVER_ParameterNew("version", TRITONSERVER_PARAMETER_STRING, version_text.c_str())};
  auto* state = new ModelState();
  TRITONSERVER_Error* err =
      labels[0] == nullptr || labels[1] == nullptr
          ? TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INTERNAL, "out of memory")
          : TRITONSERVER_MetricNew(&state->input_bytes, input_bytes_family,
                                   const_cast<const TRITONSERVER_Parameter**>(labels), 2);
  TRITONSERVER_ParameterDelete(labels[0]);
  TRITONSERVER_ParameterDelete(labels[1]);
  if (err == nullptr) err = TRITONBACKEND_ModelSetState(model, state);
  if (err != nullptr) {
    TRITONSERVER_MetricDelete(state->input_bytes);
    delete state;
  }
  return err;
}

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelFinalize(TRITONBACKEND_Model* model) {
  void* state = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelState(model, &state));
  auto* model_state = static_cast<ModelState*>(state);
  TRITONSERVER_Error* err = TRITONSERVER_MetricDelete(model_state->input_bytes);
  delete model_state;
  return err;
}

TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceExecute(TRITONBACKEND_ModelInstance* instance,
                                                                         TRITONBACKEND_Request** requests,
                                                                         const uint32_t count) {
  TRITONBACKEND_Model* model = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelInstanceModel(instance, &model));
  void* raw_state = nullptr;
  RETURN_IF_ERROR(TRITONBACKEND_ModelState(model, &raw_state));
  auto* state = static_cast<ModelState*>(raw_state);
  const uint64_t start = NowNs();
  for (uint32_t r = 0; r < count; ++r) {
    TRITONBACKEND_Request* request = requests[r];
    TRITONBACKEND_Response* response = nullptr;
    TRITONSERVER_Error* err = TRITONBACKEND_ResponseNew(&response, request);
    if (err == nullptr) {
      uint64_t input_bytes = 0;
      err = CopyInputs(request, response, &input_bytes);
      if (err == nullptr) TRITONSERVER_ErrorDelete(TRITONSERVER_MetricIncrement(state->input_bytes, double(input_bytes)));
      TRITONSERVER_ErrorDelete(TRITONBACKEND_ResponseSend(response, kTritonResponseCompleteFinal, err));
    }
    // A request left unanswered (no response could be made) is answered with
    // an error by the server once Execute returns.
    const bool succeeded = err == nullptr;
    TRITONSERVER_ErrorDelete(err);
    const uint64_t end = NowNs();
    TRITONSERVER_ErrorDelete(
        TRITONBACKEND_ModelInstanceReportStatistics(instance, request, succeeded, start, start, end, end));
    TRITONSERVER_ErrorDelete(TRITONBACKEND_RequestRelease(request, kTritonRequestReleaseAll));
  }
  const uint64_t end = NowNs();
  return TRITONBACKEND_ModelInstanceReportBatchStatistics(instance, count, start, start, end, end);
}

}  // extern "C"
