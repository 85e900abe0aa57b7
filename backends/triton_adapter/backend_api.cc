// TRITONBACKEND_* functions about the backend, its models and instances:
// names, configs, state, memory, statistics, attributes.
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "adapter_types.h"

using inferd_triton::g_api;
using inferd_triton::NewError;
using inferd_triton::NullArgument;

namespace {

TRITONSERVER_Server g_server;

TRITONSERVER_Error* NewMessage(const std::string& json, TRITONSERVER_Message** out) {
  *out = new (std::nothrow) TRITONSERVER_Message();
  if (*out == nullptr) return NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory");
  try {
    (*out)->json = json;
  } catch (...) {
    delete *out;
    *out = nullptr;
    return NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory");
  }
  return nullptr;
}

}  // namespace

extern "C" {

TRITONSERVER_Error* TRITONBACKEND_ApiVersion(uint32_t* major, uint32_t* minor) {
  if (major == nullptr || minor == nullptr) return NullArgument("TRITONBACKEND_ApiVersion");
  *major = kTritonBackendApiMajor;
  *minor = kTritonBackendApiMinor;
  return nullptr;
}

// ---- Memory: CPU only; pinned and GPU memory need a GPU runtime ----

TRITONSERVER_Error* TRITONBACKEND_MemoryManagerAllocate(TRITONBACKEND_MemoryManager*, void** buffer,
                                                        const TRITONSERVER_MemoryType memory_type,
                                                        const int64_t, const uint64_t byte_size) {
  if (buffer == nullptr) return NullArgument("TRITONBACKEND_MemoryManagerAllocate");
  if (memory_type != TRITONSERVER_MEMORY_CPU) {
    return NewError(TRITONSERVER_ERROR_UNSUPPORTED,
                    std::string("memory type ") + TRITONSERVER_MemoryTypeString(memory_type) +
                        " is not available: inferd serves Triton backends from CPU memory only");
  }
  void* p = nullptr;
  if (posix_memalign(&p, 64, byte_size == 0 ? 1 : byte_size) != 0) {
    return NewError(TRITONSERVER_ERROR_UNAVAILABLE,
                    "cannot allocate " + std::to_string(byte_size) + " bytes of CPU memory");
  }
  *buffer = p;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_MemoryManagerFree(TRITONBACKEND_MemoryManager*, void* buffer,
                                                    const TRITONSERVER_MemoryType memory_type, const int64_t) {
  if (memory_type != TRITONSERVER_MEMORY_CPU) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "only CPU memory is allocated here");
  }
  std::free(buffer);
  return nullptr;
}

// ---- Backend ----

TRITONSERVER_Error* TRITONBACKEND_BackendName(TRITONBACKEND_Backend* backend, const char** name) {
  if (backend == nullptr || name == nullptr) return NullArgument("TRITONBACKEND_BackendName");
  *name = backend->name.c_str();
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_BackendConfig(TRITONBACKEND_Backend* backend, TRITONSERVER_Message** config) {
  if (backend == nullptr || config == nullptr) return NullArgument("TRITONBACKEND_BackendConfig");
  return NewMessage(backend->config_json, config);
}

TRITONSERVER_Error* TRITONBACKEND_BackendExecutionPolicy(TRITONBACKEND_Backend* backend,
                                                         TRITONBACKEND_ExecutionPolicy* policy) {
  if (backend == nullptr || policy == nullptr) return NullArgument("TRITONBACKEND_BackendExecutionPolicy");
  *policy = backend->policy;
  return nullptr;
}

// inferd gives each instance its own thread whatever the policy says: both
// of Triton's policies are satisfied by that.
TRITONSERVER_Error* TRITONBACKEND_BackendSetExecutionPolicy(TRITONBACKEND_Backend* backend,
                                                            TRITONBACKEND_ExecutionPolicy policy) {
  if (backend == nullptr) return NullArgument("TRITONBACKEND_BackendSetExecutionPolicy");
  backend->policy = policy;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_BackendArtifacts(TRITONBACKEND_Backend* backend,
                                                   TRITONBACKEND_ArtifactType* artifact_type, const char** location) {
  if (backend == nullptr || artifact_type == nullptr || location == nullptr) {
    return NullArgument("TRITONBACKEND_BackendArtifacts");
  }
  *artifact_type = TRITONBACKEND_ARTIFACT_FILESYSTEM;
  *location = backend->location.c_str();
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_BackendMemoryManager(TRITONBACKEND_Backend* backend,
                                                       TRITONBACKEND_MemoryManager** manager) {
  if (backend == nullptr || manager == nullptr) return NullArgument("TRITONBACKEND_BackendMemoryManager");
  *manager = &backend->memory_manager;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_BackendState(TRITONBACKEND_Backend* backend, void** state) {
  if (backend == nullptr || state == nullptr) return NullArgument("TRITONBACKEND_BackendState");
  *state = backend->state;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_BackendSetState(TRITONBACKEND_Backend* backend, void* state) {
  if (backend == nullptr) return NullArgument("TRITONBACKEND_BackendSetState");
  backend->state = state;
  return nullptr;
}

// Recorded, not acted on: inferd builds the instance groups the config names
// (with its own defaults) and initializes instances one by one.
TRITONSERVER_Error* TRITONBACKEND_BackendAttributeAddPreferredInstanceGroup(
    TRITONBACKEND_BackendAttribute* attributes, const TRITONSERVER_InstanceGroupKind, const uint64_t,
    const uint64_t*, const uint64_t) {
  if (attributes == nullptr) return NullArgument("TRITONBACKEND_BackendAttributeAddPreferredInstanceGroup");
  ++attributes->preferred_groups;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_BackendAttributeSetParallelModelInstanceLoading(
    TRITONBACKEND_BackendAttribute* attributes, bool enabled) {
  if (attributes == nullptr) return NullArgument("TRITONBACKEND_BackendAttributeSetParallelModelInstanceLoading");
  attributes->parallel_instance_loading = enabled;
  return nullptr;
}

// ---- Model ----

TRITONSERVER_Error* TRITONBACKEND_ModelName(TRITONBACKEND_Model* model, const char** name) {
  if (model == nullptr || name == nullptr) return NullArgument("TRITONBACKEND_ModelName");
  *name = g_api->ModelName(model->model);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelVersion(TRITONBACKEND_Model* model, uint64_t* version) {
  if (model == nullptr || version == nullptr) return NullArgument("TRITONBACKEND_ModelVersion");
  *version = g_api->ModelVersion(model->model);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelRepository(TRITONBACKEND_Model* model, TRITONBACKEND_ArtifactType* artifact_type,
                                                  const char** location) {
  if (model == nullptr || artifact_type == nullptr || location == nullptr) {
    return NullArgument("TRITONBACKEND_ModelRepository");
  }
  *artifact_type = TRITONBACKEND_ARTIFACT_FILESYSTEM;
  *location = g_api->ModelRepositoryPath(model->model);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelConfig(TRITONBACKEND_Model* model, const uint32_t config_version,
                                              TRITONSERVER_Message** config) {
  if (model == nullptr || config == nullptr) return NullArgument("TRITONBACKEND_ModelConfig");
  if (config_version != 1) {
    return NewError(TRITONSERVER_ERROR_UNSUPPORTED,
                    "model config version " + std::to_string(config_version) + " is not supported (only 1)");
  }
  return NewMessage(g_api->ModelConfigJson(model->model), config);
}

TRITONSERVER_Error* TRITONBACKEND_ModelAutoCompleteConfig(TRITONBACKEND_Model* model, bool* auto_complete) {
  if (model == nullptr || auto_complete == nullptr) return NullArgument("TRITONBACKEND_ModelAutoCompleteConfig");
  *auto_complete = g_api->ModelAutoCompleteAllowed(model->model) != 0;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelSetConfig(TRITONBACKEND_Model* model, const uint32_t config_version,
                                                 TRITONSERVER_Message* config) {
  if (model == nullptr || config == nullptr) return NullArgument("TRITONBACKEND_ModelSetConfig");
  if (config_version != 1) {
    return NewError(TRITONSERVER_ERROR_UNSUPPORTED,
                    "model config version " + std::to_string(config_version) + " is not supported (only 1)");
  }
  return inferd_triton::FromInferdError(g_api->ModelSetConfigJson(model->model, config->json.c_str()),
                                        TRITONSERVER_ERROR_INVALID_ARG);
}

TRITONSERVER_Error* TRITONBACKEND_ModelServer(TRITONBACKEND_Model* model, TRITONSERVER_Server** server) {
  if (model == nullptr || server == nullptr) return NullArgument("TRITONBACKEND_ModelServer");
  *server = &g_server;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelBackend(TRITONBACKEND_Model* model, TRITONBACKEND_Backend** backend) {
  if (model == nullptr || backend == nullptr) return NullArgument("TRITONBACKEND_ModelBackend");
  *backend = model->backend;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelState(TRITONBACKEND_Model* model, void** state) {
  if (model == nullptr || state == nullptr) return NullArgument("TRITONBACKEND_ModelState");
  *state = model->state;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelSetState(TRITONBACKEND_Model* model, void* state) {
  if (model == nullptr) return NullArgument("TRITONBACKEND_ModelSetState");
  model->state = state;
  return nullptr;
}

// Memory usage reports feed Triton's model memory statistics, which inferd
// does not keep: accepted.
TRITONSERVER_Error* TRITONBACKEND_ModelReportMemoryUsage(TRITONBACKEND_Model* model, TRITONSERVER_BufferAttributes**,
                                                         uint32_t) {
  return model ? nullptr : NullArgument("TRITONBACKEND_ModelReportMemoryUsage");
}

// ---- Model instance ----

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceName(TRITONBACKEND_ModelInstance* instance, const char** name) {
  if (instance == nullptr || name == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceName");
  *name = g_api->InstanceName(instance->instance);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceKind(TRITONBACKEND_ModelInstance* instance,
                                                    TRITONSERVER_InstanceGroupKind* kind) {
  if (instance == nullptr || kind == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceKind");
  *kind = g_api->InstanceIsGpu(instance->instance) ? TRITONSERVER_INSTANCEGROUPKIND_GPU
                                                   : TRITONSERVER_INSTANCEGROUPKIND_CPU;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceDeviceId(TRITONBACKEND_ModelInstance* instance, int32_t* device_id) {
  if (instance == nullptr || device_id == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceDeviceId");
  *device_id = g_api->InstanceDeviceId(instance->instance);
  return nullptr;
}

// Triton names a CPU instance's host policy "cpu" and a GPU one's "gpu_<id>",
// each with no settings unless --host-policy gave some (inferd has none).
TRITONSERVER_Error* TRITONBACKEND_ModelInstanceHostPolicy(TRITONBACKEND_ModelInstance* instance,
                                                          TRITONSERVER_Message** host_policy) {
  if (instance == nullptr || host_policy == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceHostPolicy");
  const std::string name = g_api->InstanceIsGpu(instance->instance)
                               ? "gpu_" + std::to_string(g_api->InstanceDeviceId(instance->instance))
                               : "cpu";
  return NewMessage("{\"" + name + "\":{}}", host_policy);
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceIsPassive(TRITONBACKEND_ModelInstance* instance, bool* is_passive) {
  if (instance == nullptr || is_passive == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceIsPassive");
  *is_passive = false;  // inferd refuses passive instance groups at load
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceProfileCount(TRITONBACKEND_ModelInstance* instance, uint32_t* count) {
  if (instance == nullptr || count == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceProfileCount");
  *count = 0;  // TensorRT optimization profiles: none on CPU
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceProfileName(TRITONBACKEND_ModelInstance*, const uint32_t index,
                                                           const char**) {
  return NewError(TRITONSERVER_ERROR_INVALID_ARG,
                  "profile index " + std::to_string(index) + " out of range: the instance has no profiles");
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceSecondaryDeviceCount(TRITONBACKEND_ModelInstance* instance,
                                                                    uint32_t* count) {
  if (instance == nullptr || count == nullptr) {
    return NullArgument("TRITONBACKEND_ModelInstanceSecondaryDeviceCount");
  }
  *count = 0;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceSecondaryDeviceProperties(TRITONBACKEND_ModelInstance*,
                                                                       uint32_t index, const char**, int64_t*) {
  return NewError(TRITONSERVER_ERROR_INVALID_ARG, "secondary device index " + std::to_string(index) +
                                                      " out of range: the instance has no secondary devices");
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceModel(TRITONBACKEND_ModelInstance* instance,
                                                     TRITONBACKEND_Model** model) {
  if (instance == nullptr || model == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceModel");
  *model = instance->model;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceState(TRITONBACKEND_ModelInstance* instance, void** state) {
  if (instance == nullptr || state == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceState");
  *state = instance->state;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceSetState(TRITONBACKEND_ModelInstance* instance, void* state) {
  if (instance == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceSetState");
  instance->state = state;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceReportMemoryUsage(TRITONBACKEND_ModelInstance* instance,
                                                                 TRITONSERVER_BufferAttributes**, uint32_t) {
  return instance ? nullptr : NullArgument("TRITONBACKEND_ModelInstanceReportMemoryUsage");
}

// ---- Statistics ----
// inferd counts requests, successes, failures and queue/compute durations
// itself from what it schedules and what the backend answers. What only the
// backend knows is where compute input ended and compute output began: the
// batch report gives that, as InstanceReportComputeTimes. A per-request
// report adds nothing the server has not counted, so it is accepted.

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceReportStatistics(TRITONBACKEND_ModelInstance* instance,
                                                                TRITONBACKEND_Request* request, const bool,
                                                                const uint64_t, const uint64_t, const uint64_t,
                                                                const uint64_t) {
  if (instance == nullptr || request == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceReportStatistics");
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceReportBatchStatistics(TRITONBACKEND_ModelInstance* instance,
                                                                     const uint64_t, const uint64_t,
                                                                     const uint64_t compute_start_ns,
                                                                     const uint64_t compute_end_ns, const uint64_t) {
  if (instance == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceReportBatchStatistics");
  g_api->InstanceReportComputeTimes(instance->instance, compute_start_ns, compute_end_ns);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsNew(
    TRITONBACKEND_ModelInstanceResponseStatistics** statistics) {
  if (statistics == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceResponseStatisticsNew");
  *statistics = new (std::nothrow) TRITONBACKEND_ModelInstanceResponseStatistics();
  return *statistics ? nullptr : NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory");
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsDelete(
    TRITONBACKEND_ModelInstanceResponseStatistics* statistics) {
  delete statistics;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetModelInstance(
    TRITONBACKEND_ModelInstanceResponseStatistics* statistics, TRITONBACKEND_ModelInstance* instance) {
  if (statistics == nullptr) return NullArgument("TRITONBACKEND_ModelInstanceResponseStatisticsSetModelInstance");
  statistics->instance = instance;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseFactory(
    TRITONBACKEND_ModelInstanceResponseStatistics* statistics, TRITONBACKEND_ResponseFactory*) {
  return statistics ? nullptr : NullArgument("TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseFactory");
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseStart(
    TRITONBACKEND_ModelInstanceResponseStatistics* statistics, uint64_t) {
  return statistics ? nullptr : NullArgument("TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseStart");
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetComputeOutputStart(
    TRITONBACKEND_ModelInstanceResponseStatistics* statistics, uint64_t) {
  return statistics ? nullptr
                    : NullArgument("TRITONBACKEND_ModelInstanceResponseStatisticsSetComputeOutputStart");
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseEnd(
    TRITONBACKEND_ModelInstanceResponseStatistics* statistics, uint64_t) {
  return statistics ? nullptr : NullArgument("TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseEnd");
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetError(
    TRITONBACKEND_ModelInstanceResponseStatistics* statistics, TRITONSERVER_Error*) {
  return statistics ? nullptr : NullArgument("TRITONBACKEND_ModelInstanceResponseStatisticsSetError");
}

// Triton's per-response statistics (decoupled models) are not in inferd's
// statistics protocol yet; the report is accepted.
TRITONSERVER_Error* TRITONBACKEND_ModelInstanceReportResponseStatistics(
    TRITONBACKEND_ModelInstanceResponseStatistics* statistics) {
  return statistics ? nullptr : NullArgument("TRITONBACKEND_ModelInstanceReportResponseStatistics");
}

}  // extern "C"
