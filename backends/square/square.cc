// The square test backend (Triton's semantics), for decoupled models: input
// IN (INT32 [1]) = n gets n responses, each with output OUT (INT32 [1]) = n,
// then the end of the request (a final response without outputs). n = 0: no
// response at all, only the end. n < 0 is an error.
// Responses are sent during Execute.
#include <inferd/backend.h>

#include <cstring>
#include <string>
#include <vector>

#include "../common/guard.h"
#include "../common/read_input.h"

namespace {

const InferdCoreApi* api = nullptr;

InferdError* Error(const std::string& m) { return api->ErrorNew(INFERD_ERROR_INVALID_ARG, m.c_str()); }

InferdError* Square(InferdRequest* r) {
  std::vector<int32_t> in;
  if (!inferd_backend::ReadInput(api, r, "IN", &in) || in.size() != 1) {
    return Error("square: input IN must be one INT32");
  }
  const int32_t n = in[0];
  if (n < 0) return Error("square: IN must not be negative, got " + std::to_string(n));
  for (int32_t i = 0; i < n; ++i) {
    InferdResponse* response;
    if (InferdError* e = api->ResponseNew(r, &response)) return e;
    const int64_t shape[1] = {1};
    void* out;
    InferdError* e = api->ResponseOutput(response, "OUT", INFERD_TYPE_INT32, shape, 1, 4, &out);
    if (!e) std::memcpy(out, &n, 4);
    api->ResponseSend(response, 0, e);
  }
  InferdResponse* last;
  if (InferdError* e = api->ResponseNew(r, &last)) return e;
  return api->ResponseSend(last, INFERD_RESPONSE_FINAL, nullptr);
}

}  // namespace

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance*, InferdRequest** requests,
                                                 uint32_t count) {
  return inferd_backend::Guarded(api, "square InferdInstanceExecute", [&]() -> InferdError* {
    for (uint32_t i = 0; i < count; ++i) {
      if (InferdError* e = Square(requests[i])) api->RequestRespondError(requests[i], e);
    }
    return nullptr;
  });
}

}  // extern "C"
