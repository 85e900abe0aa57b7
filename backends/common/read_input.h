// Reading a whole input tensor of a request into a vector, for the small test
// backends (their inputs are a few numbers; the pieces are joined).
#pragma once

#include <inferd/backend.h>

#include <cstring>
#include <string>
#include <vector>

namespace inferd_backend {

// Fills `out` with input `name` as elements of T. False when the request has
// no such input or its bytes are not a whole number of T.
template <typename T>
bool ReadInput(const InferdCoreApi* api, const InferdRequest* r, const char* name, std::vector<T>* out) {
  for (uint32_t i = 0; i < api->RequestInputCount(r); ++i) {
    const char* n;
    uint64_t total = 0;
    if (InferdError* e = api->RequestInput(r, i, &n, nullptr, nullptr, nullptr, &total)) {
      api->ErrorDelete(e);
      return false;
    }
    if (std::strcmp(n, name) != 0) continue;
    if (total % sizeof(T) != 0) return false;
    std::string bytes;
    uint32_t pieces = 0;
    if (InferdError* e = api->RequestInputBufferCount(r, i, &pieces)) {
      api->ErrorDelete(e);
      return false;
    }
    for (uint32_t b = 0; b < pieces; ++b) {
      const void* data;
      uint64_t size;
      if (InferdError* e = api->RequestInputBuffer(r, i, b, &data, &size)) {
        api->ErrorDelete(e);
        return false;
      }
      bytes.append(static_cast<const char*>(data), size);
    }
    out->resize(bytes.size() / sizeof(T));
    if (!bytes.empty()) std::memcpy(out->data(), bytes.data(), bytes.size());
    return true;
  }
  return false;
}

}  // namespace inferd_backend
