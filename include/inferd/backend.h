/* inferd backend plugin ABI.
 *
 * A backend is a shared library named libinferd_<backend>.so. The server finds
 * it (model version folder, model folder, then <backend-directory>/<backend>/),
 * dlopen()s it and calls the entry points declared at the bottom of this file.
 * Everything here is plain C: nothing C++ crosses the boundary.
 *
 * Versioning: the server hands the backend a table of functions
 * (InferdCoreApi). New functions are only ever appended, and
 * InferdCoreApi.api_version grows with them, so a backend built against an
 * older header keeps working with a newer server. A backend states the
 * version it was built for through InferdBackendApiVersion(); the server
 * refuses a backend whose major version differs or that is newer than itself.
 *
 * Ownership, in one rule: the server owns every handle (model, instance,
 * request, response, tensor buffers) unless a function says otherwise.
 * Strings and pointers returned by the server stay valid as long as the handle
 * they came from. An InferdError* returned by the backend is owned by the
 * server from then on; one returned by the server is owned by the backend,
 * which frees it with ErrorDelete (or hands it back to the server).
 *
 * What a backend can rely on (since 1.0 unless marked):
 *  - Threads. InferdBackendInitialize/Finalize run once, alone. Model
 *    initialize/finalize calls of different models (and versions) may run at
 *    the same time on different threads; those of one model never overlap
 *    each other. Each instance has its own thread: its Initialize, every
 *    Execute and its Finalize run on it, one at a time; different instances
 *    (of one model or several) execute concurrently. The InferdCoreApi
 *    functions may be called from any thread; those taking a request or
 *    response handle must not be called for the same handle concurrently.
 *  - Validation. Every request reaching InferdInstanceExecute was checked
 *    against the model's configuration: each input is a config input (or a
 *    control/state tensor the sequence batcher adds) with the configured
 *    datatype, a shape matching its dims (batch dimension first when
 *    max_batch_size > 0, within 1..max_batch_size), a byte size equal to
 *    element count x element size (checked arithmetic, no overflow), and
 *    well-formed BYTES elements; every requested output is a config output.
 *  - Alignment (since 1.0, guaranteed by the server): every input buffer
 *    (RequestInputBuffer) starts on a 64-byte boundary; the server copies a
 *    buffer that arrived unaligned before Execute. Output buffers from
 *    ResponseOutput are at least 16-byte aligned.
 *  - Errors, not exceptions. Nothing may throw across this boundary, in
 *    either direction: every InferdCoreApi function is noexcept and reports
 *    failures (including out of memory) as an InferdError; a backend written
 *    in C++ must catch what its code throws and return it as an error. (The
 *    server still contains an exception that escapes an entry point: that
 *    call fails with an internal error and the server keeps serving, but a
 *    backend must not rely on it: unwinding through C frames is undefined.)
 */
#ifndef INFERD_BACKEND_H_
#define INFERD_BACKEND_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define INFERD_BACKEND_API_VERSION_MAJOR 1
#define INFERD_BACKEND_API_VERSION_MINOR 7
#define INFERD_BACKEND_API_VERSION \
  ((INFERD_BACKEND_API_VERSION_MAJOR << 16) | INFERD_BACKEND_API_VERSION_MINOR)

#if defined(__GNUC__)
#define INFERD_EXPORT __attribute__((visibility("default")))
#else
#define INFERD_EXPORT
#endif

/* Tensor element types, the KServe v2 data types. */
typedef enum InferdDataType {
  INFERD_TYPE_INVALID = 0,
  INFERD_TYPE_BOOL,
  INFERD_TYPE_UINT8,
  INFERD_TYPE_UINT16,
  INFERD_TYPE_UINT32,
  INFERD_TYPE_UINT64,
  INFERD_TYPE_INT8,
  INFERD_TYPE_INT16,
  INFERD_TYPE_INT32,
  INFERD_TYPE_INT64,
  INFERD_TYPE_FP16,
  INFERD_TYPE_FP32,
  INFERD_TYPE_FP64,
  /* Variable-length elements, each serialized as a 4-byte little-endian
   * length followed by that many bytes (the KServe binary layout). */
  INFERD_TYPE_BYTES,
  INFERD_TYPE_BF16
} InferdDataType;

/* Error codes; the frontends map them to HTTP and gRPC status codes. */
typedef enum InferdErrorCode {
  INFERD_ERROR_UNKNOWN = 1,
  INFERD_ERROR_INTERNAL,
  INFERD_ERROR_NOT_FOUND,
  INFERD_ERROR_INVALID_ARG,
  INFERD_ERROR_UNAVAILABLE,
  INFERD_ERROR_UNSUPPORTED,
  INFERD_ERROR_ALREADY_EXISTS,
  INFERD_ERROR_CANCELLED /* since 1.5: the client cancelled the request */
} InferdErrorCode;

typedef enum InferdLogLevel {
  INFERD_LOG_VERBOSE = 0,
  INFERD_LOG_INFO,
  INFERD_LOG_WARN,
  INFERD_LOG_ERROR
} InferdLogLevel;

/* Flags of InferdCoreApi.ResponseSend. */
#define INFERD_RESPONSE_FINAL 1u

/* Since 1.2: the kinds of custom metrics. */
typedef enum InferdMetricKind {
  INFERD_METRIC_COUNTER = 0,  /* only goes up */
  INFERD_METRIC_GAUGE = 1,    /* any value */
  INFERD_METRIC_HISTOGRAM = 2 /* since 1.7: observations counted in buckets */
} InferdMetricKind;

/* Since 1.6: the types of response parameters (Triton's numbering). */
typedef enum InferdParameterType {
  INFERD_PARAMETER_STRING = 0, /* value: const char* (NUL-terminated UTF-8) */
  INFERD_PARAMETER_INT = 1,    /* value: const int64_t* */
  INFERD_PARAMETER_BOOL = 2,   /* value: const int* (0 or 1) */
  INFERD_PARAMETER_DOUBLE = 3  /* value: const double* (finite) */
} InferdParameterType;

typedef struct InferdError InferdError;         /* NULL always means success */
typedef struct InferdModel InferdModel;         /* one loaded version of a model */
typedef struct InferdInstance InferdInstance;   /* one execution instance of a model */
typedef struct InferdRequest InferdRequest;     /* one inference request */
typedef struct InferdResponse InferdResponse;   /* one response to a request */
typedef struct InferdMetricFamily InferdMetricFamily; /* since 1.2: a custom metric's name */
typedef struct InferdMetric InferdMetric;       /* since 1.2: one labelled series of a family */
typedef struct InferdInferResult InferdInferResult; /* since 1.3: a response to an in-process request */

/* Since 1.3: one input of an in-process request (InferdCoreApi.Infer). */
typedef struct InferdInferInput {
  const char* name;
  InferdDataType datatype;
  const int64_t* shape; /* batch dimension first when the model batches */
  uint32_t dims_count;
  const void* data;     /* byte_size bytes (BYTES: length-prefixed elements) */
  uint64_t byte_size;
} InferdInferInput;

/* Since 1.3: flags of InferdInferRequest.flags (Triton's request flags). */
#define INFERD_INFER_SEQUENCE_START 1u
#define INFERD_INFER_SEQUENCE_END 2u

/* Since 1.3: an in-process request to any model the server serves (what
 * Triton's Python backend calls BLS). Everything is copied by Infer. */
typedef struct InferdInferRequest {
  const char* model_name;
  int64_t model_version;        /* -1: the latest ready version */
  const char* request_id;       /* may be NULL */
  uint64_t correlation_id;      /* the sequence, 0 for none */
  uint32_t flags;               /* INFERD_INFER_SEQUENCE_* */
  uint32_t priority;            /* 0: the model's default */
  uint64_t timeout_us;          /* queue timeout, 0: none */
  const InferdInferInput* inputs;
  uint32_t input_count;
  const char* const* output_names; /* none: every output of the model */
  uint32_t output_count;
  const char* const* parameter_keys; /* request parameters, as strings */
  const char* const* parameter_values;
  uint32_t parameter_count;
  int many_responses;           /* 1: accept a decoupled model's responses */
} InferdInferRequest;

/* Since 1.3: called for each response to an in-process request, the last one
 * with INFERD_RESPONSE_FINAL in `flags`; the backend owns `result` and frees
 * it with InferResultDelete. It runs on whichever thread answers (often the
 * target model's instance thread, possibly the caller's own inside Infer):
 * it must not block, and must not throw. */
typedef void (*InferdInferCallback)(void* userp, InferdInferResult* result, uint32_t flags);

/* Since 1.7: called once when a ModelLoad or ModelUnload ends: `error` is
 * NULL on success, else the backend's to delete (ErrorDelete). It runs on a
 * server thread of its own for that call, or on the caller's inside the call
 * for a refusal: it must not throw. */
typedef void (*InferdModelControlCallback)(void* userp, InferdError* error);

/* The server's side of the ABI, handed to InferdBackendInitialize. */
typedef struct InferdCoreApi {
  /* INFERD_BACKEND_API_VERSION of the server; fields past the ones a backend
   * knows exist only when this is at least the version it was built for. */
  uint32_t api_version;

  /* ---- Errors ---- */
  /* A new error; the caller owns it (return it to the server, or ErrorDelete). */
  InferdError* (*ErrorNew)(InferdErrorCode code, const char* message);
  void (*ErrorDelete)(InferdError* error);
  /* Borrowed; valid until the error is deleted. */
  const char* (*ErrorMessage)(const InferdError* error);

  /* ---- Logging: message is copied; file/line name the backend's source. ---- */
  void (*Log)(InferdLogLevel level, const char* file, int line, const char* message);

  /* ---- Model (valid between InferdModelInitialize and InferdModelFinalize) ---- */
  const char* (*ModelName)(const InferdModel* model);
  uint64_t (*ModelVersion)(const InferdModel* model);
  /* Absolute path of the model folder, <repository>/<model>. */
  const char* (*ModelRepositoryPath)(const InferdModel* model);
  /* The model's configuration as JSON, in Triton's ModelConfig JSON form. */
  const char* (*ModelConfigJson)(const InferdModel* model);
  /* Only during InferdModelInitialize: replaces the configuration (auto-complete).
   * The server re-validates it; json is copied. */
  InferdError* (*ModelSetConfigJson)(InferdModel* model, const char* json);
  /* Whether the backend may complete the config (false under
   * --disable-auto-complete-config; ModelSetConfigJson then fails). */
  int (*ModelAutoCompleteAllowed)(const InferdModel* model);
  /* Absolute path of the version folder, <repository>/<model>/<version>. */
  const char* (*ModelVersionPath)(const InferdModel* model);
  /* The backend's own per-model state; the backend owns what it points to. */
  void (*ModelSetState)(InferdModel* model, void* state);
  void* (*ModelState)(const InferdModel* model);

  /* ---- Instance (valid between InferdInstanceInitialize and ..Finalize) ---- */
  InferdModel* (*InstanceModel)(const InferdInstance* instance);
  /* e.g. "mymodel_0_1": model, group index, index in group. */
  const char* (*InstanceName)(const InferdInstance* instance);
  /* 0 for a CPU instance, the GPU ordinal for a GPU instance. */
  int32_t (*InstanceDeviceId)(const InferdInstance* instance);
  int (*InstanceIsGpu)(const InferdInstance* instance);
  void (*InstanceSetState)(InferdInstance* instance, void* state);
  void* (*InstanceState)(const InferdInstance* instance);
  /* Optional, during InferdInstanceExecute: when the backend finished reading
   * its inputs and when it finished computing, as CLOCK_MONOTONIC nanoseconds
   * (see Now). Splits the batch's time into compute input / infer / output in
   * the statistics; without it the whole execution counts as compute infer. */
  void (*InstanceReportComputeTimes)(InferdInstance* instance, uint64_t input_end_ns,
                                     uint64_t infer_end_ns);
  /* CLOCK_MONOTONIC nanoseconds, the clock of every server timestamp. */
  uint64_t (*Now)(void);

  /* ---- Requests (valid until their final response is sent) ---- */
  const char* (*RequestId)(const InferdRequest* request);
  uint64_t (*RequestCorrelationId)(const InferdRequest* request);
  uint32_t (*RequestInputCount)(const InferdRequest* request);
  /* Input `index`: name, type, shape (shape_out[*dims_count_out]) and total
   * byte size; all borrowed. The shape includes the batch dimension when the
   * model batches. */
  InferdError* (*RequestInput)(const InferdRequest* request, uint32_t index, const char** name_out,
                               InferdDataType* datatype_out, const int64_t** shape_out,
                               uint32_t* dims_count_out, uint64_t* byte_size_out);
  /* Input data may arrive in several pieces (chunks); buffer_count_out tells
   * how many, InputBuffer gives each one (borrowed, read-only). */
  InferdError* (*RequestInputBufferCount)(const InferdRequest* request, uint32_t index,
                                          uint32_t* buffer_count_out);
  InferdError* (*RequestInputBuffer)(const InferdRequest* request, uint32_t index,
                                     uint32_t buffer_index, const void** data_out,
                                     uint64_t* byte_size_out);
  /* The outputs the client asked for; every output of the config when it
   * named none. A backend computes and writes only these. */
  uint32_t (*RequestOutputCount)(const InferdRequest* request);
  const char* (*RequestOutputName)(const InferdRequest* request, uint32_t index);
  /* A request parameter as a string ("true"/"false" for bools, decimal for
   * integers); NULL when absent. Borrowed. */
  const char* (*RequestParameter)(const InferdRequest* request, const char* key);

  /* ---- Responses ---- */
  /* A new response to `request`, owned by the backend until ResponseSend
   * (which takes it over) or ResponseDelete. */
  InferdError* (*ResponseNew)(InferdRequest* request, InferdResponse** response_out);
  void (*ResponseDelete)(InferdResponse* response);
  /* Adds an output and returns memory of byte_size bytes, owned by the
   * response, for the backend to fill. shape is copied. For BYTES, byte_size is
   * the serialized size (length prefixes included); for the other types it
   * must be the shape's element count times the element size (an error
   * otherwise, as when the memory cannot be allocated). */
  InferdError* (*ResponseOutput)(InferdResponse* response, const char* name,
                                 InferdDataType datatype, const int64_t* shape,
                                 uint32_t dims_count, uint64_t byte_size, void** buffer_out);
  /* Sends the response (it is consumed, even on error). `error`, when not
   * NULL, turns the response into that error and is taken over. A
   * non-decoupled model sends exactly one response per request, with
   * INFERD_RESPONSE_FINAL, before Execute returns; after the final response
   * the request is gone. If it sends more, the first (whatever its flags) is
   * the answer and the others are dropped, as Triton does (logged once). */
  InferdError* (*ResponseSend)(InferdResponse* response, uint32_t flags, InferdError* error);
  /* Answers `request` with only an error, as its final response. */
  InferdError* (*RequestRespondError)(InferdRequest* request, InferdError* error);

  /* ---- Since 1.1 ---- */
  /* A setting given on the command line with --backend-config=<backend>,<key>=<value>
   * for the model's backend, or else with --backend-config=<key>=<value> (for
   * every backend); NULL when neither gave `key`. Borrowed; valid for the
   * server's lifetime. Triton's precedence is the backend's to apply: the
   * model's own config first, then this, then the backend's default. */
  const char* (*ModelBackendConfig)(const InferdModel* model, const char* key);

  /* ---- Since 1.2: custom metrics, printed on /metrics after the server's ----
   * A family is a metric name with its HELP text and kind; a metric is one
   * series of it, told apart by labels. Creating a family or series that
   * already exists (same name and kind, its first description kept, as in
   * Triton; same labels) returns a handle to the existing one, so a reloaded
   * model version carries on with its predecessor's values. The backend owns
   * the handles it creates and deletes each (metrics before their family is
   * fine, or after: a metric keeps its family listed). Listed while any
   * handle lives. */
  /* `name`: a Prometheus name ([a-zA-Z_:][a-zA-Z0-9_:]*), not starting with "nv_". */
  InferdError* (*MetricFamilyNew)(InferdMetricKind kind, const char* name, const char* description,
                                  InferdMetricFamily** family_out);
  InferdError* (*MetricFamilyDelete)(InferdMetricFamily* family);
  /* `label_count` pairs: Prometheus label names, UTF-8 values (copied). */
  InferdError* (*MetricNew)(InferdMetricFamily* family, const char* const* label_names,
                            const char* const* label_values, uint32_t label_count,
                            InferdMetric** metric_out);
  InferdError* (*MetricDelete)(InferdMetric* metric);
  /* Counters take only finite values >= 0; gauges any finite value. A
   * histogram family's series is made with MetricNewHistogram (since 1.7). */
  InferdError* (*MetricIncrement)(InferdMetric* metric, double value);
  /* Gauges only. */
  InferdError* (*MetricSet)(InferdMetric* metric, double value);
  InferdError* (*MetricValue)(const InferdMetric* metric, double* value_out);

  /* ---- Since 1.3: in-process inference (BLS) ----
   * Infer copies the request and queues it as if a client had sent it (same
   * checks, scheduling and statistics), without a network round trip. An
   * error returned here means the request was not built (callback never
   * called); every other failure (unknown model, bad input, refused by the
   * model) arrives as a final result with an error. The callback is called at
   * least once, exactly once with INFERD_RESPONSE_FINAL. */
  InferdError* (*Infer)(const InferdInferRequest* request, InferdInferCallback callback, void* userp);
  /* The result's error message, or NULL when it carries outputs; `code_out`
   * (may be NULL) gets its code. Borrowed, valid until InferResultDelete. */
  const char* (*InferResultError)(const InferdInferResult* result, InferdErrorCode* code_out);
  uint32_t (*InferResultOutputCount)(const InferdInferResult* result);
  /* Output `index`: all borrowed, valid until InferResultDelete. */
  InferdError* (*InferResultOutput)(const InferdInferResult* result, uint32_t index, const char** name_out,
                                    InferdDataType* datatype_out, const int64_t** shape_out,
                                    uint32_t* dims_count_out, const void** data_out, uint64_t* byte_size_out);
  void (*InferResultDelete)(InferdInferResult* result);

  /* ---- Since 1.4 ---- */
  /* The client's own request parameters, the protocol's (sequence controls,
   * priority, timeout, binary_data_output) aside, as the text of a JSON
   * object keeping their types: "{}" when there are none. Those of an
   * in-process request (Infer) are strings. Borrowed. */
  const char* (*RequestParametersJson)(const InferdRequest* request);

  /* ---- Since 1.5 ---- */
  /* 1 once the request was cancelled (its client cancelled the call, or the
   * ensemble it is a step of was cancelled), else 0. The server drops a
   * cancelled request that has not started executing (answering it
   * INFERD_ERROR_CANCELLED); one already running is the backend's to check
   * and stop early, answering with that code. Cheap (an atomic load), safe
   * from any thread until the request's final response. */
  int (*RequestIsCancelled)(const InferdRequest* request);

  /* ---- Since 1.6 ---- */
  /* The backend library file the server found for the model (absolute
   * path). For a model served by Triton's backend adapter, the
   * libtriton_<name>.so the adapter is to load. Borrowed; valid while the
   * model lives. */
  const char* (*ModelBackendLibraryPath)(const InferdModel* model);
  /* Every --backend-config setting that applies to the model's backend, as
   * the text of a JSON object of strings: the global ones, overridden by
   * the backend's own. "{}" when none. Borrowed; valid while the model lives. */
  const char* (*ModelBackendConfigJson)(const InferdModel* model);
  /* 1 when a Log call at `level` would be written now (--log-verbose,
   * --log-info, ... and their changes through the logging API), else 0: lets
   * a backend skip building lines nobody reads. */
  int (*LogIsEnabled)(InferdLogLevel level);
  /* A parameter of the response, sent with it as Triton sends a backend's
   * response parameters: the "parameters" object of the HTTP response, the
   * parameters map of the gRPC one. `name` and a string value are copied;
   * setting a name again replaces its value. At most 64 per response, names
   * up to 256 bytes, string values up to 64 KiB; not named
   * "triton_final_response" (the server's). */
  InferdError* (*ResponseSetParameter)(InferdResponse* response, const char* name,
                                       InferdParameterType type, const void* value);

  /* ---- Since 1.7: histograms (custom metrics of INFERD_METRIC_HISTOGRAM) ----
   * A histogram family's series is made by MetricNewHistogram (MetricNew
   * refuses it), with its buckets' upper bounds: finite, strictly
   * increasing, at most 256, possibly none (the +Inf bucket is always
   * there); no label may be named "le". A series that exists keeps its first
   * buckets. /metrics prints <name>_count, <name>_sum and <name>_bucket{le}
   * per series. MetricIncrement, MetricSet and MetricValue refuse a
   * histogram; MetricObserve refuses the other kinds. Deleted with MetricDelete. */
  InferdError* (*MetricNewHistogram)(InferdMetricFamily* family, const char* const* label_names,
                                     const char* const* label_values, uint32_t label_count,
                                     const double* buckets, uint32_t bucket_count, InferdMetric** metric_out);
  /* Adds a finite value to the histogram: its bucket, sum and count. */
  InferdError* (*MetricObserve)(InferdMetric* metric, double value);

  /* ---- Since 1.7: model control (Triton's pb_utils.load_model,
   * unload_model and is_model_ready) ----
   * The repository API's load and unload, for a backend, with its rules: only
   * with --model-control-mode=explicit (else Triton's UNAVAILABLE error); a
   * load may replace the model's config (`config_json`, NULL or "" for its
   * config.pbtxt) and give files ("<version>/<name>" -> bytes: data, never
   * code, and never a Python model's), within --model-load-max-override-size.
   * A load calls back once the model serves (or failed), an unload once its
   * versions stopped taking requests (they answer what they accepted after).
   * Each runs on a server thread of its own, so a model may ask from its
   * initialize; at most 8 at once. `callback` is called exactly once when
   * the call returns NULL, never when it returns an error. Everything given
   * is copied before the call returns. */
  InferdError* (*ModelLoad)(const char* model_name, const char* config_json, const char* const* file_paths,
                            const void* const* file_contents, const uint64_t* file_sizes, uint32_t file_count,
                            InferdModelControlCallback callback, void* userp);
  InferdError* (*ModelUnload)(const char* model_name, int unload_dependents, InferdModelControlCallback callback,
                              void* userp);
  /* *ready_out = 1 when the model's `version` (-1: any of its versions) is
   * loaded and serving, else 0 (a model the server does not know included). */
  InferdError* (*ModelIsReady)(const char* model_name, int64_t version, int* ready_out);
} InferdCoreApi;

/* ---- Entry points a backend exports (looked up with dlsym) ----
 * Required: InferdBackendApiVersion, InferdBackendInitialize, InferdInstanceExecute.
 * Optional: the rest. */

/* The INFERD_BACKEND_API_VERSION the backend was built against. */
INFERD_EXPORT uint32_t InferdBackendApiVersion(void);

/* Once per library, before anything else. `api` stays valid until
 * InferdBackendFinalize returns; keep the pointer. */
INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* api);
INFERD_EXPORT InferdError* InferdBackendFinalize(void);

/* Once per loaded model version. May complete the config (ModelSetConfigJson).
 * An error fails the load of that model version with the error's message. */
INFERD_EXPORT InferdError* InferdModelInitialize(InferdModel* model);
INFERD_EXPORT InferdError* InferdModelFinalize(InferdModel* model);

/* Once per instance, on the instance's own thread. */
INFERD_EXPORT InferdError* InferdInstanceInitialize(InferdInstance* instance);
INFERD_EXPORT InferdError* InferdInstanceFinalize(InferdInstance* instance);

/* Runs a batch of `count` requests on the instance's thread. Every request
 * gets its final response (ResponseSend with FINAL, or RequestRespondError).
 * A request left without one when Execute returns is answered by the server
 * with an internal error; an error returned from Execute becomes the answer of
 * every request not yet answered. */
INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance,
                                                 InferdRequest** requests, uint32_t count);

#ifdef __cplusplus
}
#endif

#endif /* INFERD_BACKEND_H_ */
