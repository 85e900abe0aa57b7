// The identity backend: each input INPUTn is copied to output OUTPUTn (same
// datatype and shape), for every datatype including BYTES. It needs no model
// file. Config parameter `execute_delay_ms` makes every execution sleep that
// long first (at most 60 s), which scheduler and shutdown tests rely on. Only
// a test model whose config also sets `allow_request_delay: "true"` lets a
// request parameter of the same name set the delay of its own execution (at
// most 10 s): a client must not be able to park an instance otherwise.
// As Triton's identity backend, it reports a custom metric,
// input_byte_size_counter{model,version}: the input bytes of every request
// it answered.
#include <inferd/backend.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "../common/guard.h"

namespace {

const InferdCoreApi* api = nullptr;
// The backend's custom metric family (one series per model version).
InferdMetricFamily* input_bytes_family = nullptr;

InferdError* Error(const std::string& message) {
  return api->ErrorNew(INFERD_ERROR_INVALID_ARG, message.c_str());
}

constexpr int kMaxConfigDelayMs = 60000;
constexpr int kMaxRequestDelayMs = 10000;

// Reads parameters.<key>.string_value from the config JSON without a JSON
// library (the backend stays dependency-free); empty when absent.
std::string ConfigParameter(const char* config_json, const std::string& key) {
  const std::string json(config_json);
  const size_t at = json.find("\"" + key + "\"");
  if (at == std::string::npos) return "";
  const size_t value = json.find("\"string_value\"", at);
  if (value == std::string::npos) return "";
  const size_t colon = json.find(':', value);
  const size_t open = colon == std::string::npos ? colon : json.find('"', colon + 1);
  const size_t close = open == std::string::npos ? open : json.find('"', open + 1);
  return close == std::string::npos ? "" : json.substr(open + 1, close - open - 1);
}

// A delay in milliseconds in [0, max]; false for anything else.
bool ParseDelay(const char* text, int max, int* out) {
  const char* end = text + std::strlen(text);
  int value = 0;
  auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end || value < 0 || value > max) return false;
  *out = value;
  return true;
}

struct ModelState {
  int delay_ms = 0;
  bool allow_request_delay = false;
  InferdMetric* input_bytes = nullptr;  // input_byte_size_counter of this model version

  ~ModelState() {
    if (input_bytes != nullptr) api->ErrorDelete(api->MetricDelete(input_bytes));
  }
};

// INPUTn -> OUTPUTn; other names map to themselves prefixed "OUT_".
std::string OutputFor(const std::string& input) {
  if (input.rfind("INPUT", 0) == 0) return "OUTPUT" + input.substr(5);
  return "OUT_" + input;
}

// Also counts the bytes of every input (requested or not) into `input_bytes`.
InferdError* CopyInputs(InferdRequest* request, InferdResponse* response, uint64_t* input_bytes) {
  const uint32_t outputs = api->RequestOutputCount(request);
  const uint32_t inputs = api->RequestInputCount(request);
  for (uint32_t i = 0; i < inputs; ++i) {
    const char* name;
    InferdDataType type;
    const int64_t* shape;
    uint32_t dims;
    uint64_t size;
    if (InferdError* e = api->RequestInput(request, i, &name, &type, &shape, &dims, &size)) return e;
    *input_bytes += size;
    const std::string out_name = OutputFor(name);
    bool wanted = false;
    for (uint32_t o = 0; o < outputs; ++o) wanted = wanted || out_name == api->RequestOutputName(request, o);
    if (!wanted) continue;  // outputs not requested are not produced
    void* out = nullptr;
    if (InferdError* e = api->ResponseOutput(response, out_name.c_str(), type, shape, dims, size, &out))
      return e;
    uint32_t buffers = 0;
    if (InferdError* e = api->RequestInputBufferCount(request, i, &buffers)) return e;
    char* dst = static_cast<char*>(out);
    for (uint32_t b = 0; b < buffers; ++b) {
      const void* data;
      uint64_t n;
      if (InferdError* e = api->RequestInputBuffer(request, i, b, &data, &n)) return e;
      std::memcpy(dst, data, n);
      dst += n;
    }
  }
  return nullptr;
}

}  // namespace

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  return api->MetricFamilyNew(INFERD_METRIC_COUNTER, "input_byte_size_counter",
                              "Cumulative input byte size of all requests received by the model",
                              &input_bytes_family);
}

INFERD_EXPORT InferdError* InferdBackendFinalize(void) {
  InferdError* e = api->MetricFamilyDelete(input_bytes_family);
  input_bytes_family = nullptr;
  return e;
}

INFERD_EXPORT InferdError* InferdModelInitialize(InferdModel* model) {
  return inferd_backend::Guarded(api, "identity InferdModelInitialize", [&]() -> InferdError* {
    auto state = std::make_unique<ModelState>();
    const char* config = api->ModelConfigJson(model);
    const std::string delay = ConfigParameter(config, "execute_delay_ms");
    if (!delay.empty() && !ParseDelay(delay.c_str(), kMaxConfigDelayMs, &state->delay_ms)) {
      return Error("identity: parameter 'execute_delay_ms' must be an integer from 0 to " +
                   std::to_string(kMaxConfigDelayMs) + ", got '" + delay + "'");
    }
    state->allow_request_delay = ConfigParameter(config, "allow_request_delay") == "true";
    const std::string version = std::to_string(api->ModelVersion(model));
    const char* names[] = {"model", "version"};
    const char* values[] = {api->ModelName(model), version.c_str()};
    if (InferdError* e = api->MetricNew(input_bytes_family, names, values, 2, &state->input_bytes)) return e;
    api->ModelSetState(model, state.release());
    return nullptr;
  });
}

INFERD_EXPORT InferdError* InferdModelFinalize(InferdModel* model) {
  delete static_cast<ModelState*>(api->ModelState(model));
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                                 uint32_t count) {
  return inferd_backend::Guarded(api, "identity InferdInstanceExecute", [&]() -> InferdError* {
    auto* state = static_cast<ModelState*>(api->ModelState(api->InstanceModel(instance)));
    // A request may ask for its own delay (parameter execute_delay_ms); the batch
    // takes the longest. The delay stands for computation: it counts as compute infer.
    int delay_ms = state->delay_ms;
    for (uint32_t r = 0; r < count && state->allow_request_delay; ++r) {
      const char* asked = api->RequestParameter(requests[r], "execute_delay_ms");
      int request_delay = 0;
      if (asked && ParseDelay(asked, kMaxRequestDelayMs, &request_delay)) {
        delay_ms = std::max(delay_ms, request_delay);
      }
    }
    const uint64_t input_end = api->Now();
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    for (uint32_t r = 0; r < count; ++r) {
      InferdResponse* response = nullptr;
      if (InferdError* e = api->ResponseNew(requests[r], &response)) {
        api->RequestRespondError(requests[r], e);
        continue;
      }
      uint64_t input_bytes = 0;
      InferdError* e = CopyInputs(requests[r], response, &input_bytes);
      if (e == nullptr) {
        api->ErrorDelete(api->MetricIncrement(state->input_bytes, static_cast<double>(input_bytes)));
      }
      api->ResponseSend(response, INFERD_RESPONSE_FINAL, e);
    }
    const uint64_t end = api->Now();
    api->InstanceReportComputeTimes(instance, input_end, end);
    return nullptr;
  });
}

}  // extern "C"
