// The identity backend: each input INPUTn is copied to output OUTPUTn (same
// datatype and shape), for every datatype including BYTES. It needs no model
// file. Config parameter `execute_delay_ms` makes every execution sleep that
// long first, which scheduler and shutdown tests rely on; a request parameter
// of the same name sets the delay of its own execution.
#include <inferd/backend.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

namespace {

const InferdCoreApi* api = nullptr;

InferdError* Error(const std::string& message) {
  return api->ErrorNew(INFERD_ERROR_INVALID_ARG, message.c_str());
}

// Reads parameters.execute_delay_ms.string_value from the config JSON without
// a JSON library: the backend stays dependency-free.
int DelayMs(const char* config_json) {
  const std::string json(config_json);
  const size_t key = json.find("\"execute_delay_ms\"");
  if (key == std::string::npos) return 0;
  const size_t value = json.find("\"string_value\"", key);
  if (value == std::string::npos) return 0;
  const size_t quote = json.find('"', json.find(':', value) + 1);
  if (quote == std::string::npos) return 0;
  return std::atoi(json.c_str() + quote + 1);
}

struct ModelState {
  int delay_ms = 0;
};

// INPUTn -> OUTPUTn; other names map to themselves prefixed "OUT_".
std::string OutputFor(const std::string& input) {
  if (input.rfind("INPUT", 0) == 0) return "OUTPUT" + input.substr(5);
  return "OUT_" + input;
}

InferdError* CopyInputs(InferdRequest* request, InferdResponse* response) {
  const uint32_t outputs = api->RequestOutputCount(request);
  const uint32_t inputs = api->RequestInputCount(request);
  for (uint32_t i = 0; i < inputs; ++i) {
    const char* name;
    InferdDataType type;
    const int64_t* shape;
    uint32_t dims;
    uint64_t size;
    if (InferdError* e = api->RequestInput(request, i, &name, &type, &shape, &dims, &size)) return e;
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
  return nullptr;
}

INFERD_EXPORT InferdError* InferdModelInitialize(InferdModel* model) {
  auto* state = new ModelState;
  state->delay_ms = DelayMs(api->ModelConfigJson(model));
  if (state->delay_ms < 0) {
    delete state;
    return Error("identity: 'execute_delay_ms' must be >= 0");
  }
  api->ModelSetState(model, state);
  return nullptr;
}

INFERD_EXPORT InferdError* InferdModelFinalize(InferdModel* model) {
  delete static_cast<ModelState*>(api->ModelState(model));
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                                 uint32_t count) {
  auto* state = static_cast<ModelState*>(api->ModelState(api->InstanceModel(instance)));
  // A request may ask for its own delay (parameter execute_delay_ms); the batch
  // takes the longest. The delay stands for computation: it counts as compute infer.
  int delay_ms = state->delay_ms;
  for (uint32_t r = 0; r < count; ++r) {
    if (const char* asked = api->RequestParameter(requests[r], "execute_delay_ms")) {
      delay_ms = std::max(delay_ms, std::atoi(asked));
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
    InferdError* e = CopyInputs(requests[r], response);
    api->ResponseSend(response, INFERD_RESPONSE_FINAL, e);
  }
  const uint64_t end = api->Now();
  api->InstanceReportComputeTimes(instance, input_end, end);
  return nullptr;
}

}  // extern "C"
