// The accumulator test backend: a stateful model for the sequence batcher.
// Each sequence (correlation id) keeps a running sum in the instance that
// serves it: output OUTPUT (INT32, like INPUT) is the sum so far of INPUT over
// the sequence, reset when the control input START is true; output INSTANCE
// (BYTES [1]) names the instance, so tests can see that a sequence stayed on
// one. A request of a sequence this instance never saw start is an error:
// that is how a broken instance affinity shows.
// With an input STATE_IN (implicit state, kept by the server) the sum is
// STATE_IN + INPUT instead, written to OUTPUT and to STATE_OUT.
#include <inferd/backend.h>

#include <cstring>
#include <map>
#include <string>

#include "../common/guard.h"

namespace {

const InferdCoreApi* api = nullptr;

InferdError* Error(const std::string& m) { return api->ErrorNew(INFERD_ERROR_INVALID_ARG, m.c_str()); }

struct InstanceState {
  std::map<uint64_t, int64_t> sums;  // by correlation id; this instance's thread only
};

// The first int32 of input `name`; false when the request has no such input.
bool ReadInt(InferdRequest* r, const char* name, int32_t* out) {
  for (uint32_t i = 0; i < api->RequestInputCount(r); ++i) {
    const char* n;
    if (InferdError* e = api->RequestInput(r, i, &n, nullptr, nullptr, nullptr, nullptr)) {
      api->ErrorDelete(e);
      return false;
    }
    if (std::strcmp(n, name) != 0) continue;
    const void* data;
    uint64_t size;
    if (InferdError* e = api->RequestInputBuffer(r, i, 0, &data, &size)) {
      api->ErrorDelete(e);
      return false;
    }
    if (size < 4) return false;
    std::memcpy(out, data, 4);
    return true;
  }
  return false;
}

InferdError* Accumulate(InferdInstance* instance, InstanceState* state, InferdRequest* r) {
  int32_t value = 0, start = 0, end = 0;
  if (!ReadInt(r, "INPUT", &value)) return Error("accumulator: input INPUT (INT32) is missing");
  ReadInt(r, "START", &start);
  ReadInt(r, "END", &end);
  int32_t carried = 0;
  const bool implicit = ReadInt(r, "STATE_IN", &carried);
  int32_t sum = 0;
  if (implicit) {
    sum = carried + value;
  } else {
    const uint64_t id = api->RequestCorrelationId(r);
    auto it = state->sums.find(id);
    if (start) {
      it = state->sums.insert_or_assign(id, 0).first;
    } else if (it == state->sums.end()) {
      return Error("accumulator: instance " + std::string(api->InstanceName(instance)) +
                   " never saw sequence " + std::to_string(id) + " start");
    }
    it->second += value;
    sum = static_cast<int32_t>(it->second);
    if (end) state->sums.erase(it);
  }

  InferdResponse* response;
  if (InferdError* e = api->ResponseNew(r, &response)) return e;
  const int64_t shape[2] = {1, 1};
  void* out;
  InferdError* e = api->ResponseOutput(response, "OUTPUT", INFERD_TYPE_INT32, shape, 2, 4, &out);
  if (!e) std::memcpy(out, &sum, 4);
  const std::string name = api->InstanceName(instance);
  const uint32_t len = static_cast<uint32_t>(name.size());
  if (!e) e = api->ResponseOutput(response, "INSTANCE", INFERD_TYPE_BYTES, shape, 2, 4 + len, &out);
  if (!e) {
    std::memcpy(out, &len, 4);
    std::memcpy(static_cast<char*>(out) + 4, name.data(), len);
  }
  if (!e && implicit) {
    e = api->ResponseOutput(response, "STATE_OUT", INFERD_TYPE_INT32, shape, 2, 4, &out);
    if (!e) std::memcpy(out, &sum, 4);
  }
  return api->ResponseSend(response, INFERD_RESPONSE_FINAL, e);
}

}  // namespace

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceInitialize(InferdInstance* instance) {
  return inferd_backend::Guarded(api, "accumulator InferdInstanceInitialize", [&]() -> InferdError* {
    api->InstanceSetState(instance, new InstanceState);
    return nullptr;
  });
}

INFERD_EXPORT InferdError* InferdInstanceFinalize(InferdInstance* instance) {
  delete static_cast<InstanceState*>(api->InstanceState(instance));
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                                 uint32_t count) {
  return inferd_backend::Guarded(api, "accumulator InferdInstanceExecute", [&]() -> InferdError* {
    auto* state = static_cast<InstanceState*>(api->InstanceState(instance));
    for (uint32_t i = 0; i < count; ++i) {
      if (InferdError* e = Accumulate(instance, state, requests[i])) api->RequestRespondError(requests[i], e);
    }
    return nullptr;
  });
}

}  // extern "C"
