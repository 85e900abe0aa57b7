// The adapter as inferd sees it: an inferd backend (include/inferd/backend.h)
// that runs backends built for Triton. The server opens this library
// (libtritonserver.so) for a model whose backend file is a
// libtriton_<name>.so and tells it that file (ModelBackendLibraryPath); the
// adapter dlopen()s it, whose dependency on libtritonserver.so is this very
// library (matched by soname), and drives it through Triton's lifecycle:
// TRITONBACKEND_Initialize once per library, then Model*/ModelInstance*
// calls that mirror inferd's own, one to one.
#include <dlfcn.h>
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "adapter_types.h"

namespace inferd_triton {

const InferdCoreApi* g_api = nullptr;

namespace {

std::mutex g_backends_mu;
std::map<std::string, std::unique_ptr<TRITONBACKEND_Backend>> g_backends;  // by library path; guarded

InferdError* Error(InferdErrorCode code, const std::string& message) { return g_api->ErrorNew(code, message.c_str()); }

// "identity" for ".../libtriton_identity.so"; the file name otherwise.
std::string BackendNameOf(const std::string& path) {
  std::string file = path.substr(path.find_last_of('/') + 1);
  const std::string prefix = "libtriton_", suffix = ".so";
  if (file.size() > prefix.size() + suffix.size() && file.compare(0, prefix.size(), prefix) == 0 &&
      file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
  }
  return file;
}

// Opens the Triton backend at `path` (once) and runs its TRITONBACKEND_Initialize.
InferdError* OpenBackend(const std::string& path, const InferdModel* model, TRITONBACKEND_Backend** out) {
  std::lock_guard<std::mutex> lock(g_backends_mu);
  if (auto it = g_backends.find(path); it != g_backends.end()) {
    *out = it->second.get();
    return nullptr;
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return Error(INFERD_ERROR_UNAVAILABLE, "cannot open Triton backend library " + path + ": " + dlerror());
  }
  auto backend = std::make_unique<TRITONBACKEND_Backend>();
  backend->name = BackendNameOf(path);
  backend->library = path;
  backend->location = path.substr(0, path.find_last_of('/'));
  backend->handle = handle;
  backend->config_json = std::string("{\"cmdline\":") + g_api->ModelBackendConfigJson(model) + "}";
  auto sym = [&](const char* name) { return dlsym(handle, name); };
  auto initialize = reinterpret_cast<TritonBackendInitializeFn>(sym("TRITONBACKEND_Initialize"));
  auto attributes = reinterpret_cast<TritonGetBackendAttributeFn>(sym("TRITONBACKEND_GetBackendAttribute"));
  backend->finalize = reinterpret_cast<TritonBackendFinalizeFn>(sym("TRITONBACKEND_Finalize"));
  backend->model_initialize = reinterpret_cast<TritonModelInitializeFn>(sym("TRITONBACKEND_ModelInitialize"));
  backend->model_finalize = reinterpret_cast<TritonModelFinalizeFn>(sym("TRITONBACKEND_ModelFinalize"));
  backend->instance_initialize =
      reinterpret_cast<TritonInstanceInitializeFn>(sym("TRITONBACKEND_ModelInstanceInitialize"));
  backend->instance_finalize = reinterpret_cast<TritonInstanceFinalizeFn>(sym("TRITONBACKEND_ModelInstanceFinalize"));
  backend->instance_execute = reinterpret_cast<TritonInstanceExecuteFn>(sym("TRITONBACKEND_ModelInstanceExecute"));
  if (backend->instance_execute == nullptr) {
    dlclose(handle);
    return Error(INFERD_ERROR_UNAVAILABLE,
                 "Triton backend library " + path + " does not export TRITONBACKEND_ModelInstanceExecute");
  }
  if (initialize) {
    if (InferdError* e = ToInferdError(initialize(backend.get()))) {
      const std::string message = g_api->ErrorMessage(e);
      g_api->ErrorDelete(e);
      dlclose(handle);
      return Error(INFERD_ERROR_UNAVAILABLE, "Triton backend '" + backend->name + "' failed to initialize: " + message);
    }
  }
  if (attributes) {
    if (InferdError* e = ToInferdError(attributes(backend.get(), &backend->attributes))) g_api->ErrorDelete(e);
  }
  *out = backend.get();
  g_backends.emplace(path, std::move(backend));
  return nullptr;
}

bool IsDecoupled(const char* config_json) {
  rapidjson::Document config;
  config.Parse(config_json);
  if (config.HasParseError() || !config.IsObject()) return false;
  auto policy = config.FindMember("model_transaction_policy");
  if (policy == config.MemberEnd() || !policy->value.IsObject()) return false;
  auto decoupled = policy->value.FindMember("decoupled");
  return decoupled != policy->value.MemberEnd() && decoupled->value.IsBool() && decoupled->value.GetBool();
}

// A Triton handle for `request`, its inputs read now (the request lives for
// the whole execution). Null when out of memory.
TRITONBACKEND_Request* NewRequestHandle(InferdRequest* request, bool decoupled) {
  try {
    auto handle = std::make_unique<TRITONBACKEND_Request>();
    handle->link = std::make_shared<RequestLink>(request, decoupled);
    handle->request = request;
    const uint32_t count = g_api->RequestInputCount(request);
    for (uint32_t i = 0; i < count; ++i) {
      TRITONBACKEND_Input& in = handle->inputs.Add();
      InferdDataType datatype = INFERD_TYPE_INVALID;
      in.request = request;
      in.index = i;
      InferdError* e = g_api->RequestInput(request, i, &in.name, &datatype, &in.shape, &in.dims_count, &in.byte_size);
      if (e == nullptr) e = g_api->RequestInputBufferCount(request, i, &in.buffer_count);
      if (e != nullptr) {
        g_api->ErrorDelete(e);
        return nullptr;
      }
      in.datatype = static_cast<TRITONSERVER_DataType>(datatype);  // same numbering
    }
    return handle.release();
  } catch (...) {
    return nullptr;
  }
}

}  // namespace
}  // namespace inferd_triton

using namespace inferd_triton;

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* api) {
  g_api = api;
  if (api->api_version < INFERD_BACKEND_API_VERSION) {
    return api->ErrorNew(INFERD_ERROR_UNSUPPORTED, "the Triton backend adapter needs backend API 1.6");
  }
  return nullptr;
}

INFERD_EXPORT InferdError* InferdBackendFinalize(void) {
  std::lock_guard<std::mutex> lock(g_backends_mu);
  for (auto& [path, backend] : g_backends) {
    if (backend->finalize) {
      if (InferdError* e = ToInferdError(backend->finalize(backend.get()))) {
        g_api->Log(INFERD_LOG_ERROR, __FILE__, __LINE__,
                   ("Triton backend '" + backend->name + "' failed to finalize: " + g_api->ErrorMessage(e)).c_str());
        g_api->ErrorDelete(e);
      }
    }
    dlclose(backend->handle);
  }
  g_backends.clear();
  return nullptr;
}

INFERD_EXPORT InferdError* InferdModelInitialize(InferdModel* model) {
  const char* library = g_api->ModelBackendLibraryPath(model);
  if (library == nullptr || *library == '\0') {
    return g_api->ErrorNew(INFERD_ERROR_INTERNAL, "the server named no Triton backend library for this model");
  }
  TRITONBACKEND_Backend* backend = nullptr;
  if (InferdError* e = OpenBackend(library, model, &backend)) return e;
  auto state = std::make_unique<TRITONBACKEND_Model>();
  state->model = model;
  state->backend = backend;
  g_api->ModelSetState(model, state.get());
  if (backend->model_initialize) {
    if (InferdError* e = ToInferdError(backend->model_initialize(state.get()))) {
      g_api->ModelSetState(model, nullptr);
      return e;
    }
  }
  // After the backend's initialize: it may have completed the config.
  state->decoupled = IsDecoupled(g_api->ModelConfigJson(model));
  state.release();
  return nullptr;
}

INFERD_EXPORT InferdError* InferdModelFinalize(InferdModel* model) {
  std::unique_ptr<TRITONBACKEND_Model> state(static_cast<TRITONBACKEND_Model*>(g_api->ModelState(model)));
  g_api->ModelSetState(model, nullptr);
  if (!state || !state->backend->model_finalize) return nullptr;
  return ToInferdError(state->backend->model_finalize(state.get()));
}

INFERD_EXPORT InferdError* InferdInstanceInitialize(InferdInstance* instance) {
  auto* model = static_cast<TRITONBACKEND_Model*>(g_api->ModelState(g_api->InstanceModel(instance)));
  auto state = std::make_unique<TRITONBACKEND_ModelInstance>();
  state->instance = instance;
  state->model = model;
  g_api->InstanceSetState(instance, state.get());
  if (model->backend->instance_initialize) {
    if (InferdError* e = ToInferdError(model->backend->instance_initialize(state.get()))) {
      g_api->InstanceSetState(instance, nullptr);
      return e;
    }
  }
  state.release();
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceFinalize(InferdInstance* instance) {
  std::unique_ptr<TRITONBACKEND_ModelInstance> state(
      static_cast<TRITONBACKEND_ModelInstance*>(g_api->InstanceState(instance)));
  g_api->InstanceSetState(instance, nullptr);
  if (!state || !state->model->backend->instance_finalize) return nullptr;
  return ToInferdError(state->model->backend->instance_finalize(state.get()));
}

// Runs a batch through the Triton backend. Each request handle has two
// references: the backend's, dropped by TRITONBACKEND_RequestRelease, and
// this execution's, dropped on return. When the backend returns an error it
// has given the requests back (Triton's rule): the server answers them with
// that error, and their handles go.
INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                                 uint32_t count) {
  auto* state = static_cast<TRITONBACKEND_ModelInstance*>(g_api->InstanceState(instance));
  const bool decoupled = state->model->decoupled;
  // The batch's handles: in place for batches up to kInPlace requests.
  constexpr uint32_t kInPlace = 32;
  TRITONBACKEND_Request* in_place[kInPlace];
  std::unique_ptr<TRITONBACKEND_Request*[]> spilled;
  TRITONBACKEND_Request** handles = in_place;
  if (count > kInPlace) {
    spilled.reset(new (std::nothrow) TRITONBACKEND_Request*[count]);
    if (!spilled) return g_api->ErrorNew(INFERD_ERROR_UNAVAILABLE, "out of memory");
    handles = spilled.get();
  }
  for (uint32_t i = 0; i < count; ++i) {
    handles[i] = NewRequestHandle(requests[i], decoupled);
    if (handles[i] == nullptr) {
      for (uint32_t made = 0; made < i; ++made) {
        handles[made]->link->request = nullptr;  // the server answers them with the error below
        delete handles[made];
      }
      return g_api->ErrorNew(INFERD_ERROR_UNAVAILABLE, "out of memory preparing a batch for a Triton backend");
    }
  }
  TRITONSERVER_Error* error = state->model->backend->instance_execute(state, handles, count);
  for (uint32_t i = 0; i < count; ++i) {
    TRITONBACKEND_Request* handle = handles[i];
    if (error != nullptr || !decoupled) {
      // From here inferd answers what is unanswered and may drop the request.
      std::lock_guard<std::mutex> lock(handle->link->mu);
      handle->link->request = nullptr;
    }
    if (error != nullptr && !handle->released.exchange(true)) handle->Unreference();
    handle->Unreference();
  }
  return ToInferdError(error);
}

}  // extern "C"
