// The part of Triton's C ABI (tritonserver.h, tritonbackend.h; core r24.10,
// TRITONBACKEND_API 1.19, TRITONSERVER_API 1.34) that backends built for
// Triton call, declared here from its public documentation so the adapter
// can define it. Only the layout matters to a backend already compiled: the
// enum values and the function signatures below are Triton's; the handle
// types are opaque to the backend and are the adapter's own structs
// (adapter_types.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {

#define TRITON_ABI_EXPORT __attribute__((visibility("default")))

// The versions this adapter implements: a backend built against an older
// 1.x minor works; TRITONBACKEND_ApiVersion tells the backend which we are.
constexpr uint32_t kTritonBackendApiMajor = 1;
constexpr uint32_t kTritonBackendApiMinor = 19;
constexpr uint32_t kTritonServerApiMajor = 1;
constexpr uint32_t kTritonServerApiMinor = 34;

struct TRITONSERVER_Error;
struct TRITONSERVER_Message;
struct TRITONSERVER_Parameter;
struct TRITONSERVER_Server;
struct TRITONSERVER_InferenceTrace;
struct TRITONSERVER_BufferAttributes;
struct TRITONSERVER_MetricFamily;
struct TRITONSERVER_Metric;
struct TRITONSERVER_MetricArgs;
struct TRITONBACKEND_Backend;
struct TRITONBACKEND_BackendAttribute;
struct TRITONBACKEND_Model;
struct TRITONBACKEND_ModelInstance;
struct TRITONBACKEND_Request;
struct TRITONBACKEND_Input;
struct TRITONBACKEND_Response;
struct TRITONBACKEND_Output;
struct TRITONBACKEND_ResponseFactory;
struct TRITONBACKEND_MemoryManager;
struct TRITONBACKEND_State;
struct TRITONBACKEND_ModelInstanceResponseStatistics;

// Same numbering as InferdDataType (INVALID 0 ... BYTES 13, BF16 14).
typedef enum {
  TRITONSERVER_TYPE_INVALID = 0,
  TRITONSERVER_TYPE_BOOL,
  TRITONSERVER_TYPE_UINT8,
  TRITONSERVER_TYPE_UINT16,
  TRITONSERVER_TYPE_UINT32,
  TRITONSERVER_TYPE_UINT64,
  TRITONSERVER_TYPE_INT8,
  TRITONSERVER_TYPE_INT16,
  TRITONSERVER_TYPE_INT32,
  TRITONSERVER_TYPE_INT64,
  TRITONSERVER_TYPE_FP16,
  TRITONSERVER_TYPE_FP32,
  TRITONSERVER_TYPE_FP64,
  TRITONSERVER_TYPE_BYTES,
  TRITONSERVER_TYPE_BF16
} TRITONSERVER_DataType;

typedef enum { TRITONSERVER_MEMORY_CPU = 0, TRITONSERVER_MEMORY_CPU_PINNED, TRITONSERVER_MEMORY_GPU } TRITONSERVER_MemoryType;

typedef enum {
  TRITONSERVER_PARAMETER_STRING = 0,
  TRITONSERVER_PARAMETER_INT,
  TRITONSERVER_PARAMETER_BOOL,
  TRITONSERVER_PARAMETER_DOUBLE,
  TRITONSERVER_PARAMETER_BYTES
} TRITONSERVER_ParameterType;

typedef enum {
  TRITONSERVER_INSTANCEGROUPKIND_AUTO = 0,
  TRITONSERVER_INSTANCEGROUPKIND_CPU,
  TRITONSERVER_INSTANCEGROUPKIND_GPU,
  TRITONSERVER_INSTANCEGROUPKIND_MODEL
} TRITONSERVER_InstanceGroupKind;

typedef enum { TRITONSERVER_LOG_INFO = 0, TRITONSERVER_LOG_WARN, TRITONSERVER_LOG_ERROR, TRITONSERVER_LOG_VERBOSE } TRITONSERVER_LogLevel;

// Triton's codes start at UNKNOWN = 0; inferd's are these plus one.
typedef enum {
  TRITONSERVER_ERROR_UNKNOWN = 0,
  TRITONSERVER_ERROR_INTERNAL,
  TRITONSERVER_ERROR_NOT_FOUND,
  TRITONSERVER_ERROR_INVALID_ARG,
  TRITONSERVER_ERROR_UNAVAILABLE,
  TRITONSERVER_ERROR_UNSUPPORTED,
  TRITONSERVER_ERROR_ALREADY_EXISTS,
  TRITONSERVER_ERROR_CANCELLED
} TRITONSERVER_Error_Code;

typedef enum { TRITONSERVER_METRIC_KIND_COUNTER = 0, TRITONSERVER_METRIC_KIND_GAUGE, TRITONSERVER_METRIC_KIND_HISTOGRAM } TRITONSERVER_MetricKind;

typedef enum { TRITONBACKEND_ARTIFACT_FILESYSTEM = 0 } TRITONBACKEND_ArtifactType;

typedef enum { TRITONBACKEND_EXECUTION_BLOCKING = 0, TRITONBACKEND_EXECUTION_DEVICE_BLOCKING } TRITONBACKEND_ExecutionPolicy;

constexpr uint32_t kTritonRequestFlagSequenceStart = 1;
constexpr uint32_t kTritonRequestFlagSequenceEnd = 2;
constexpr uint32_t kTritonRequestReleaseAll = 1;
constexpr uint32_t kTritonRequestReleaseReschedule = 2;
constexpr uint32_t kTritonResponseCompleteFinal = 1;

// ---- TRITONSERVER_*: errors, messages, types, logging, parameters ----
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_ApiVersion(uint32_t* major, uint32_t* minor);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_ErrorNew(TRITONSERVER_Error_Code code, const char* msg);
TRITON_ABI_EXPORT void TRITONSERVER_ErrorDelete(TRITONSERVER_Error* error);
TRITON_ABI_EXPORT TRITONSERVER_Error_Code TRITONSERVER_ErrorCode(TRITONSERVER_Error* error);
TRITON_ABI_EXPORT const char* TRITONSERVER_ErrorCodeString(TRITONSERVER_Error* error);
TRITON_ABI_EXPORT const char* TRITONSERVER_ErrorMessage(TRITONSERVER_Error* error);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MessageNewFromSerializedJson(TRITONSERVER_Message** message,
                                                                              const char* base, size_t byte_size);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MessageDelete(TRITONSERVER_Message* message);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MessageSerializeToJson(TRITONSERVER_Message* message,
                                                                        const char** base, size_t* byte_size);
TRITON_ABI_EXPORT const char* TRITONSERVER_DataTypeString(TRITONSERVER_DataType datatype);
TRITON_ABI_EXPORT TRITONSERVER_DataType TRITONSERVER_StringToDataType(const char* dtype);
TRITON_ABI_EXPORT uint32_t TRITONSERVER_DataTypeByteSize(TRITONSERVER_DataType datatype);
TRITON_ABI_EXPORT const char* TRITONSERVER_MemoryTypeString(TRITONSERVER_MemoryType memtype);
TRITON_ABI_EXPORT const char* TRITONSERVER_ParameterTypeString(TRITONSERVER_ParameterType paramtype);
TRITON_ABI_EXPORT const char* TRITONSERVER_InstanceGroupKindString(TRITONSERVER_InstanceGroupKind kind);
TRITON_ABI_EXPORT bool TRITONSERVER_LogIsEnabled(TRITONSERVER_LogLevel level);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_LogMessage(TRITONSERVER_LogLevel level, const char* filename,
                                                            const int line, const char* msg);
TRITON_ABI_EXPORT TRITONSERVER_Parameter* TRITONSERVER_ParameterNew(const char* name,
                                                                  const TRITONSERVER_ParameterType type,
                                                                  const void* value);
TRITON_ABI_EXPORT TRITONSERVER_Parameter* TRITONSERVER_ParameterBytesNew(const char* name, const void* byte_ptr,
                                                                       const uint64_t size);
TRITON_ABI_EXPORT void TRITONSERVER_ParameterDelete(TRITONSERVER_Parameter* parameter);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_BufferAttributesNew(TRITONSERVER_BufferAttributes** attributes);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_BufferAttributesDelete(TRITONSERVER_BufferAttributes* attributes);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_BufferAttributesSetMemoryTypeId(
    TRITONSERVER_BufferAttributes* attributes, int64_t memory_type_id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_BufferAttributesSetMemoryType(
    TRITONSERVER_BufferAttributes* attributes, TRITONSERVER_MemoryType memory_type);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_BufferAttributesSetByteSize(
    TRITONSERVER_BufferAttributes* attributes, size_t byte_size);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_InferenceTraceReportActivity(TRITONSERVER_InferenceTrace* trace,
                                                                              uint64_t timestamp,
                                                                              const char* activity_name);
// Custom metrics (counters, gauges and histograms), on inferd's /metrics.
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricFamilyNew(TRITONSERVER_MetricFamily** family,
                                                                 const TRITONSERVER_MetricKind kind,
                                                                 const char* name, const char* description);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricFamilyDelete(TRITONSERVER_MetricFamily* family);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricNew(TRITONSERVER_Metric** metric,
                                                           TRITONSERVER_MetricFamily* family,
                                                           const TRITONSERVER_Parameter** labels,
                                                           const uint64_t label_count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricDelete(TRITONSERVER_Metric* metric);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricValue(TRITONSERVER_Metric* metric, double* value);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricIncrement(TRITONSERVER_Metric* metric, double value);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricSet(TRITONSERVER_Metric* metric, double value);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_GetMetricKind(TRITONSERVER_Metric* metric,
                                                               TRITONSERVER_MetricKind* kind);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_GetMetricFamilyKind(TRITONSERVER_MetricFamily* family,
                                                                     TRITONSERVER_MetricKind* kind);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricArgsNew(TRITONSERVER_MetricArgs** args);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricArgsSetHistogram(TRITONSERVER_MetricArgs* args,
                                                                        const double* buckets,
                                                                        const uint64_t buckets_count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricArgsDelete(TRITONSERVER_MetricArgs* args);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricNewWithArgs(TRITONSERVER_Metric** metric,
                                                                   TRITONSERVER_MetricFamily* family,
                                                                   const TRITONSERVER_Parameter** labels,
                                                                   const uint64_t label_count,
                                                                   const TRITONSERVER_MetricArgs* args);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONSERVER_MetricObserve(TRITONSERVER_Metric* metric, double value);

// ---- TRITONBACKEND_*: what the server gives a backend ----
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ApiVersion(uint32_t* major, uint32_t* minor);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_MemoryManagerAllocate(TRITONBACKEND_MemoryManager* manager,
                                                                        void** buffer,
                                                                        const TRITONSERVER_MemoryType memory_type,
                                                                        const int64_t memory_type_id,
                                                                        const uint64_t byte_size);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_MemoryManagerFree(TRITONBACKEND_MemoryManager* manager,
                                                                    void* buffer,
                                                                    const TRITONSERVER_MemoryType memory_type,
                                                                    const int64_t memory_type_id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_InputProperties(TRITONBACKEND_Input* input, const char** name,
                                                                  TRITONSERVER_DataType* datatype,
                                                                  const int64_t** shape, uint32_t* dims_count,
                                                                  uint64_t* byte_size, uint32_t* buffer_count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_InputPropertiesForHostPolicy(
    TRITONBACKEND_Input* input, const char* host_policy_name, const char** name, TRITONSERVER_DataType* datatype,
    const int64_t** shape, uint32_t* dims_count, uint64_t* byte_size, uint32_t* buffer_count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_InputBuffer(TRITONBACKEND_Input* input, const uint32_t index,
                                                              const void** buffer, uint64_t* buffer_byte_size,
                                                              TRITONSERVER_MemoryType* memory_type,
                                                              int64_t* memory_type_id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_InputBufferForHostPolicy(
    TRITONBACKEND_Input* input, const char* host_policy_name, const uint32_t index, const void** buffer,
    uint64_t* buffer_byte_size, TRITONSERVER_MemoryType* memory_type, int64_t* memory_type_id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_InputBufferAttributes(
    TRITONBACKEND_Input* input, const uint32_t index, const void** buffer,
    TRITONSERVER_BufferAttributes** buffer_attributes);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_OutputBuffer(TRITONBACKEND_Output* output, void** buffer,
                                                               const uint64_t buffer_byte_size,
                                                               TRITONSERVER_MemoryType* memory_type,
                                                               int64_t* memory_type_id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_OutputBufferAttributes(
    TRITONBACKEND_Output* output, TRITONSERVER_BufferAttributes** buffer_attributes);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestId(TRITONBACKEND_Request* request, const char** id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestCorrelationId(TRITONBACKEND_Request* request,
                                                                       uint64_t* id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestCorrelationIdString(TRITONBACKEND_Request* request,
                                                                             const char** id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_InferenceRequestTimeoutMicroseconds(TRITONBACKEND_Request* request,
                                                                                    uint64_t* timeout);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestParameterCount(TRITONBACKEND_Request* request,
                                                                        uint32_t* count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestParameter(TRITONBACKEND_Request* request,
                                                                   const uint32_t index, const char** key,
                                                                   TRITONSERVER_ParameterType* type,
                                                                   const void** vvalue);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestFlags(TRITONBACKEND_Request* request, uint32_t* flags);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestIsCancelled(TRITONBACKEND_Request* request,
                                                                     bool* is_cancelled);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestInputCount(TRITONBACKEND_Request* request,
                                                                    uint32_t* count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestInputName(TRITONBACKEND_Request* request,
                                                                   const uint32_t index, const char** input_name);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestInput(TRITONBACKEND_Request* request, const char* name,
                                                               TRITONBACKEND_Input** input);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestInputByIndex(TRITONBACKEND_Request* request,
                                                                      const uint32_t index,
                                                                      TRITONBACKEND_Input** input);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestOutputCount(TRITONBACKEND_Request* request,
                                                                     uint32_t* count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestOutputName(TRITONBACKEND_Request* request,
                                                                    const uint32_t index,
                                                                    const char** output_name);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestOutputBufferProperties(
    TRITONBACKEND_Request* request, const char* name, size_t* byte_size, TRITONSERVER_MemoryType* memory_type,
    int64_t* memory_type_id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestRelease(TRITONBACKEND_Request* request,
                                                                 uint32_t release_flags);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_RequestTrace(TRITONBACKEND_Request* request,
                                                               TRITONSERVER_InferenceTrace** trace);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseFactoryNew(TRITONBACKEND_ResponseFactory** factory,
                                                                     TRITONBACKEND_Request* request);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseFactoryDelete(TRITONBACKEND_ResponseFactory* factory);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseFactorySendFlags(TRITONBACKEND_ResponseFactory* factory,
                                                                           const uint32_t send_flags);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseFactoryIsCancelled(
    TRITONBACKEND_ResponseFactory* factory, bool* is_cancelled);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseNew(TRITONBACKEND_Response** response,
                                                              TRITONBACKEND_Request* request);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseNewFromFactory(TRITONBACKEND_Response** response,
                                                                         TRITONBACKEND_ResponseFactory* factory);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseDelete(TRITONBACKEND_Response* response);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseSetStringParameter(TRITONBACKEND_Response* response,
                                                                             const char* name, const char* value);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseSetIntParameter(TRITONBACKEND_Response* response,
                                                                          const char* name, const int64_t value);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseSetBoolParameter(TRITONBACKEND_Response* response,
                                                                           const char* name, const bool value);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseSetDoubleParameter(TRITONBACKEND_Response* response,
                                                                             const char* name, const double value);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseOutput(TRITONBACKEND_Response* response,
                                                                 TRITONBACKEND_Output** output, const char* name,
                                                                 const TRITONSERVER_DataType datatype,
                                                                 const int64_t* shape, const uint32_t dims_count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ResponseSend(TRITONBACKEND_Response* response,
                                                               const uint32_t send_flags,
                                                               TRITONSERVER_Error* error);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_StateNew(TRITONBACKEND_State** state,
                                                           TRITONBACKEND_Request* request, const char* name,
                                                           const TRITONSERVER_DataType datatype,
                                                           const int64_t* shape, const uint32_t dims_count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_StateUpdate(TRITONBACKEND_State* state);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_StateBuffer(TRITONBACKEND_State* state, void** buffer,
                                                              const uint64_t buffer_byte_size,
                                                              TRITONSERVER_MemoryType* memory_type,
                                                              int64_t* memory_type_id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_StateBufferAttributes(
    TRITONBACKEND_State* state, TRITONSERVER_BufferAttributes** buffer_attributes);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendName(TRITONBACKEND_Backend* backend, const char** name);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendConfig(TRITONBACKEND_Backend* backend,
                                                                TRITONSERVER_Message** backend_config);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendExecutionPolicy(TRITONBACKEND_Backend* backend,
                                                                         TRITONBACKEND_ExecutionPolicy* policy);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendSetExecutionPolicy(TRITONBACKEND_Backend* backend,
                                                                            TRITONBACKEND_ExecutionPolicy policy);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendArtifacts(TRITONBACKEND_Backend* backend,
                                                                   TRITONBACKEND_ArtifactType* artifact_type,
                                                                   const char** location);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendMemoryManager(TRITONBACKEND_Backend* backend,
                                                                       TRITONBACKEND_MemoryManager** manager);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendState(TRITONBACKEND_Backend* backend, void** state);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendSetState(TRITONBACKEND_Backend* backend, void* state);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelName(TRITONBACKEND_Model* model, const char** name);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelVersion(TRITONBACKEND_Model* model, uint64_t* version);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelRepository(TRITONBACKEND_Model* model,
                                                                  TRITONBACKEND_ArtifactType* artifact_type,
                                                                  const char** location);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelConfig(TRITONBACKEND_Model* model,
                                                              const uint32_t config_version,
                                                              TRITONSERVER_Message** model_config);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelAutoCompleteConfig(TRITONBACKEND_Model* model,
                                                                          bool* auto_complete_config);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelSetConfig(TRITONBACKEND_Model* model,
                                                                 const uint32_t config_version,
                                                                 TRITONSERVER_Message* model_config);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelServer(TRITONBACKEND_Model* model,
                                                              TRITONSERVER_Server** server);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelBackend(TRITONBACKEND_Model* model,
                                                               TRITONBACKEND_Backend** backend);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelState(TRITONBACKEND_Model* model, void** state);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelSetState(TRITONBACKEND_Model* model, void* state);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelReportMemoryUsage(TRITONBACKEND_Model* model,
                                                                         TRITONSERVER_BufferAttributes** usage,
                                                                         uint32_t usage_size);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceName(TRITONBACKEND_ModelInstance* instance,
                                                                    const char** name);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceKind(TRITONBACKEND_ModelInstance* instance,
                                                                    TRITONSERVER_InstanceGroupKind* kind);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceDeviceId(TRITONBACKEND_ModelInstance* instance,
                                                                        int32_t* device_id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceHostPolicy(TRITONBACKEND_ModelInstance* instance,
                                                                          TRITONSERVER_Message** host_policy);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceIsPassive(TRITONBACKEND_ModelInstance* instance,
                                                                         bool* is_passive);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceProfileCount(
    TRITONBACKEND_ModelInstance* instance, uint32_t* count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceProfileName(TRITONBACKEND_ModelInstance* instance,
                                                                           const uint32_t index,
                                                                           const char** profile_name);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceSecondaryDeviceCount(
    TRITONBACKEND_ModelInstance* instance, uint32_t* count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceSecondaryDeviceProperties(
    TRITONBACKEND_ModelInstance* instance, uint32_t index, const char** kind, int64_t* id);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceModel(TRITONBACKEND_ModelInstance* instance,
                                                                     TRITONBACKEND_Model** model);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceState(TRITONBACKEND_ModelInstance* instance,
                                                                     void** state);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceSetState(TRITONBACKEND_ModelInstance* instance,
                                                                        void* state);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceReportMemoryUsage(
    TRITONBACKEND_ModelInstance* instance, TRITONSERVER_BufferAttributes** usage, uint32_t usage_size);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceReportStatistics(
    TRITONBACKEND_ModelInstance* instance, TRITONBACKEND_Request* request, const bool success,
    const uint64_t exec_start_ns, const uint64_t compute_start_ns, const uint64_t compute_end_ns,
    const uint64_t exec_end_ns);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceReportBatchStatistics(
    TRITONBACKEND_ModelInstance* instance, const uint64_t batch_size, const uint64_t exec_start_ns,
    const uint64_t compute_start_ns, const uint64_t compute_end_ns, const uint64_t exec_end_ns);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsNew(
    TRITONBACKEND_ModelInstanceResponseStatistics** response_statistics);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsDelete(
    TRITONBACKEND_ModelInstanceResponseStatistics* response_statistics);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetModelInstance(
    TRITONBACKEND_ModelInstanceResponseStatistics* response_statistics, TRITONBACKEND_ModelInstance* model_instance);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseFactory(
    TRITONBACKEND_ModelInstanceResponseStatistics* response_statistics, TRITONBACKEND_ResponseFactory* factory);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseStart(
    TRITONBACKEND_ModelInstanceResponseStatistics* response_statistics, uint64_t response_start);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetComputeOutputStart(
    TRITONBACKEND_ModelInstanceResponseStatistics* response_statistics, uint64_t compute_output_start);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetResponseEnd(
    TRITONBACKEND_ModelInstanceResponseStatistics* response_statistics, uint64_t response_end);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceResponseStatisticsSetError(
    TRITONBACKEND_ModelInstanceResponseStatistics* response_statistics, TRITONSERVER_Error* error);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceReportResponseStatistics(
    TRITONBACKEND_ModelInstanceResponseStatistics* response_statistics);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendAttributeAddPreferredInstanceGroup(
    TRITONBACKEND_BackendAttribute* backend_attributes, const TRITONSERVER_InstanceGroupKind kind,
    const uint64_t count, const uint64_t* device_ids, const uint64_t id_count);
TRITON_ABI_EXPORT TRITONSERVER_Error* TRITONBACKEND_BackendAttributeSetParallelModelInstanceLoading(
    TRITONBACKEND_BackendAttribute* backend_attributes, bool enabled);

// ---- What a Triton backend library exports (looked up with dlsym) ----
typedef TRITONSERVER_Error* (*TritonBackendInitializeFn)(TRITONBACKEND_Backend*);
typedef TRITONSERVER_Error* (*TritonBackendFinalizeFn)(TRITONBACKEND_Backend*);
typedef TRITONSERVER_Error* (*TritonModelInitializeFn)(TRITONBACKEND_Model*);
typedef TRITONSERVER_Error* (*TritonModelFinalizeFn)(TRITONBACKEND_Model*);
typedef TRITONSERVER_Error* (*TritonInstanceInitializeFn)(TRITONBACKEND_ModelInstance*);
typedef TRITONSERVER_Error* (*TritonInstanceFinalizeFn)(TRITONBACKEND_ModelInstance*);
typedef TRITONSERVER_Error* (*TritonInstanceExecuteFn)(TRITONBACKEND_ModelInstance*, TRITONBACKEND_Request**,
                                                       const uint32_t);
typedef TRITONSERVER_Error* (*TritonGetBackendAttributeFn)(TRITONBACKEND_Backend*, TRITONBACKEND_BackendAttribute*);

}  // extern "C"
