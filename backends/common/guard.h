// The exception boundary of a backend written in C++: nothing may throw
// across the plugin ABI (backend.h), so every entry point that can throw
// runs its body through Guarded, which turns an escaping exception into an
// InferdError for the server.
#pragma once

#include <inferd/backend.h>

#include <cstdio>
#include <exception>
#include <new>

namespace inferd_backend {

template <typename Body>
InferdError* Guarded(const InferdCoreApi* api, const char* what, Body&& body) noexcept {
  char message[512];
  try {
    return body();
  } catch (const std::bad_alloc&) {
    std::snprintf(message, sizeof message, "%s: out of memory", what);
  } catch (const std::exception& e) {
    std::snprintf(message, sizeof message, "%s: %s", what, e.what());
  } catch (...) {
    std::snprintf(message, sizeof message, "%s: unknown exception", what);
  }
  return api->ErrorNew(INFERD_ERROR_INTERNAL, message);
}

}  // namespace inferd_backend
