// The probe test backend: reports what the server hands a backend, and
// misbehaves on purpose, so that tests can hold the server to its side of
// the ABI (backend.h) with a real plugin.
//
// Each request gets output ALIGNED (INT32 [1]): 1 when every input buffer
// starts on a 64-byte boundary, else 0. Misbehaviour, on request:
//  - request parameter "throw": "true" -> InferdInstanceExecute throws a C++
//    exception across the ABI (which backend.h forbids);
//  - config parameter "throw_on_load": "true" -> InferdModelInitialize throws;
//  - request parameter "huge_output": "true" -> asks ResponseOutput for an
//    output far larger than memory, and sends the error it gets back.
// Test models only: never part of an example repository.
#include <inferd/backend.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace {

const InferdCoreApi* api = nullptr;

bool Param(InferdRequest* r, const char* key) {
  const char* v = api->RequestParameter(r, key);
  return v != nullptr && std::strcmp(v, "true") == 0;
}

int32_t AllInputsAligned(InferdRequest* r) {
  for (uint32_t i = 0; i < api->RequestInputCount(r); ++i) {
    uint32_t buffers = 0;
    if (InferdError* e = api->RequestInputBufferCount(r, i, &buffers)) {
      api->ErrorDelete(e);
      return 0;
    }
    for (uint32_t b = 0; b < buffers; ++b) {
      const void* data = nullptr;
      uint64_t size = 0;
      if (InferdError* e = api->RequestInputBuffer(r, i, b, &data, &size)) {
        api->ErrorDelete(e);
        return 0;
      }
      if (reinterpret_cast<uintptr_t>(data) % 64 != 0) return 0;
    }
  }
  return 1;
}

}  // namespace

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  return nullptr;
}

INFERD_EXPORT InferdError* InferdModelInitialize(InferdModel* model) {
  const std::string config = api->ModelConfigJson(model);
  if (config.find("\"throw_on_load\"") != std::string::npos) {
    throw std::runtime_error("probe: thrown from InferdModelInitialize on purpose");
  }
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance*, InferdRequest** requests, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    if (Param(requests[i], "throw")) throw std::runtime_error("probe: thrown from InferdInstanceExecute on purpose");
  }
  for (uint32_t i = 0; i < count; ++i) {
    InferdResponse* response = nullptr;
    if (InferdError* e = api->ResponseNew(requests[i], &response)) {
      api->RequestRespondError(requests[i], e);
      continue;
    }
    void* out = nullptr;
    InferdError* error = nullptr;
    if (Param(requests[i], "huge_output")) {
      const int64_t shape[1] = {int64_t{1} << 60};
      error = api->ResponseOutput(response, "ALIGNED", INFERD_TYPE_INT32, shape, 1, uint64_t{1} << 62, &out);
    } else {
      const int64_t shape[1] = {1};
      error = api->ResponseOutput(response, "ALIGNED", INFERD_TYPE_INT32, shape, 1, 4, &out);
      if (error == nullptr) {
        const int32_t aligned = AllInputsAligned(requests[i]);
        std::memcpy(out, &aligned, 4);
      }
    }
    api->ResponseSend(response, INFERD_RESPONSE_FINAL, error);
  }
  return nullptr;
}

}  // extern "C"
