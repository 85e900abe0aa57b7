// The adapter's side of Triton's opaque handles: what each TRITONSERVER_* and
// TRITONBACKEND_* handle a Triton backend holds points to, and how it maps
// onto inferd's backend ABI (include/inferd/backend.h).
//
// Lifetimes, where Triton's and inferd's rules differ:
//  - A Triton backend owns each request from ModelInstanceExecute until it
//    calls TRITONBACKEND_RequestRelease, and may answer it later through a
//    response factory (decoupled models) from any thread. inferd keeps a
//    request until its final response (decoupled) or until Execute returns
//    (the rest). So the Triton request handle holds a RequestLink, shared
//    with every factory and response made from it, which forgets the inferd
//    request the moment inferd may drop it; a late call then fails cleanly
//    instead of touching freed memory.
//  - A request handle is freed when the backend released it and the
//    execution that handed it out is over (two references).
#pragma once

#include <inferd/backend.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "triton_abi.h"

namespace inferd_triton {

// The server's table, set once by InferdBackendInitialize.
extern const InferdCoreApi* g_api;

// Elements whose addresses never change (backends keep pointers to them):
// the first N live in place, so the few inputs of a request and the few
// outputs of a response cost no allocation of their own; more go to the heap.
template <typename T, size_t N>
class StableList {
 public:
  // A new default-constructed element at the end; throws std::bad_alloc.
  T& Add() {
    if (size_ < N) return in_place_[size_++];
    spilled_.push_back(std::make_unique<T>());
    ++size_;
    return *spilled_.back();
  }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return i < N ? in_place_[i] : *spilled_[i - N]; }
  const T& operator[](size_t i) const { return i < N ? in_place_[i] : *spilled_[i - N]; }

 private:
  std::array<T, N> in_place_{};
  std::vector<std::unique_ptr<T>> spilled_;
  size_t size_ = 0;
};

// A tensor shape, kept in place up to kInPlace dimensions.
class Shape {
 public:
  static constexpr uint32_t kInPlace = 8;
  // Copies `dims` values; throws std::bad_alloc.
  void Assign(const int64_t* values, uint32_t dims) {
    if (dims > kInPlace) spilled_.resize(dims);
    int64_t* to = dims > kInPlace ? spilled_.data() : in_place_.data();
    for (uint32_t d = 0; d < dims; ++d) to[d] = values[d];
    dims_ = dims;
  }
  const int64_t* data() const { return dims_ > kInPlace ? spilled_.data() : in_place_.data(); }
  uint32_t dims() const { return dims_; }
  // Whether the tensor has no elements (a dimension of 0; a negative one,
  // which no complete shape has, counts as 0 too).
  bool Empty() const {
    const int64_t* values = data();
    for (uint32_t d = 0; d < dims_; ++d) {
      if (values[d] <= 0) return true;
    }
    return false;
  }

 private:
  std::array<int64_t, kInPlace> in_place_{};
  std::vector<int64_t> spilled_;
  uint32_t dims_ = 0;
};

}  // namespace inferd_triton

struct TRITONSERVER_Error {
  TRITONSERVER_Error_Code code;
  std::string message;
};

struct TRITONSERVER_Message {
  std::string json;
};

struct TRITONSERVER_Parameter {
  std::string name;
  TRITONSERVER_ParameterType type;
  std::string text;  // STRING, and BYTES
  int64_t int_value = 0;
  bool bool_value = false;
  double double_value = 0;
};

struct TRITONSERVER_BufferAttributes {
  size_t byte_size = 0;
  TRITONSERVER_MemoryType memory_type = TRITONSERVER_MEMORY_CPU;
  int64_t memory_type_id = 0;
};

struct TRITONSERVER_MetricFamily {
  InferdMetricFamily* family;
  TRITONSERVER_MetricKind kind;
};

struct TRITONSERVER_Metric {
  InferdMetric* metric;
  TRITONSERVER_MetricKind kind;
};

// What TRITONSERVER_MetricNewWithArgs is given: for now (as in Triton 2.51)
// only a histogram's bucket bounds.
struct TRITONSERVER_MetricArgs {
  bool histogram = false;
  std::vector<double> buckets;
};

// CPU memory only: the machine has no GPU runtime in inferd.
struct TRITONBACKEND_MemoryManager {};

// What a backend may declare about itself (TRITONBACKEND_GetBackendAttribute).
struct TRITONBACKEND_BackendAttribute {
  bool parallel_instance_loading = false;
  int preferred_groups = 0;
};

// One Triton backend library, shared by every model that uses it; loaded
// until the server ends.
struct TRITONBACKEND_Backend {
  std::string name;      // "identity" for libtriton_identity.so
  std::string library;   // its path
  std::string location;  // its folder (TRITONBACKEND_BackendArtifacts)
  std::string config_json;  // {"cmdline": {...}} from --backend-config
  void* handle = nullptr;
  void* state = nullptr;
  TRITONBACKEND_ExecutionPolicy policy = TRITONBACKEND_EXECUTION_BLOCKING;
  TRITONBACKEND_MemoryManager memory_manager;
  TRITONBACKEND_BackendAttribute attributes;
  TritonBackendFinalizeFn finalize = nullptr;
  TritonModelInitializeFn model_initialize = nullptr;
  TritonModelFinalizeFn model_finalize = nullptr;
  TritonInstanceInitializeFn instance_initialize = nullptr;
  TritonInstanceFinalizeFn instance_finalize = nullptr;
  TritonInstanceExecuteFn instance_execute = nullptr;
};

struct TRITONBACKEND_Model {
  InferdModel* model;
  TRITONBACKEND_Backend* backend;
  void* state = nullptr;
  bool decoupled = false;
  // Written during TRITONBACKEND_ModelInitialize (config changes), read by
  // later calls: model calls never overlap (backend.h).
  std::string config_json;
};

struct TRITONBACKEND_ModelInstance {
  InferdInstance* instance;
  TRITONBACKEND_Model* model;
  void* state = nullptr;
};

struct TRITONSERVER_Server {};  // the one server; TRITONBACKEND_ModelServer

namespace inferd_triton {

// A request as far as the answers to it go: shared by its handle and every
// factory and response made from it.
struct RequestLink {
  std::mutex mu;
  // Null once inferd may have let the request go: its final response went
  // out, or (not decoupled) the execution that handed it out returned.
  InferdRequest* request;  // guarded by mu
  bool decoupled;
  explicit RequestLink(InferdRequest* r, bool d) : request(r), decoupled(d) {}
  // The last holder gone (handle released, factories and responses deleted)
  // with no final response sent: the request is answered with an error, so
  // that a decoupled request is never left without an end.
  ~RequestLink();
};

}  // namespace inferd_triton

struct TRITONBACKEND_Input {
  const InferdRequest* request = nullptr;
  uint32_t index = 0;
  const char* name = nullptr;
  TRITONSERVER_DataType datatype = TRITONSERVER_TYPE_INVALID;
  const int64_t* shape = nullptr;
  uint32_t dims_count = 0;
  uint64_t byte_size = 0;
  uint32_t buffer_count = 0;
  TRITONSERVER_BufferAttributes attributes;  // TRITONBACKEND_InputBufferAttributes
};

namespace inferd_triton {

// One of the client's request parameters, typed as the protocol sent it
// (TRITONBACKEND_RequestParameter points into it).
struct RequestParameter {
  std::string key;
  TRITONSERVER_ParameterType type = TRITONSERVER_PARAMETER_STRING;
  std::string text;
  int64_t integer = 0;
  bool boolean = false;
  double number = 0;
};

}  // namespace inferd_triton

struct TRITONBACKEND_Request {
  std::shared_ptr<inferd_triton::RequestLink> link;
  InferdRequest* request;  // valid while the execution runs or the link holds it
  inferd_triton::StableList<TRITONBACKEND_Input, 4> inputs;  // read at hand-out, while the request is sure to live
  // The client's parameters, read on the first TRITONBACKEND_RequestParameter* call.
  std::vector<inferd_triton::RequestParameter> parameters;
  bool parameters_read = false;
  std::atomic<int> references{2};  // the backend's (until released) and the execution's
  std::atomic<bool> released{false};
  void Unreference() {
    if (references.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

struct TRITONBACKEND_ResponseFactory {
  std::shared_ptr<inferd_triton::RequestLink> link;
};

struct TRITONBACKEND_Output {
  TRITONBACKEND_Response* response = nullptr;
  std::string name;
  TRITONSERVER_DataType datatype = TRITONSERVER_TYPE_INVALID;
  inferd_triton::Shape shape;
  bool has_buffer = false;
  TRITONSERVER_BufferAttributes attributes;  // of the buffer, once it has one
};

struct TRITONBACKEND_Response {
  std::shared_ptr<inferd_triton::RequestLink> link;
  InferdResponse* response;  // owned until sent or deleted
  inferd_triton::StableList<TRITONBACKEND_Output, 2> outputs;
};

struct TRITONBACKEND_ModelInstanceResponseStatistics {
  TRITONBACKEND_ModelInstance* instance = nullptr;
};

namespace inferd_triton {

// A new Triton error (the caller owns it).
TRITONSERVER_Error* NewError(TRITONSERVER_Error_Code code, std::string message);
// "<function>: null argument", the answer to a call missing a required pointer.
TRITONSERVER_Error* NullArgument(const char* function);
// A Triton error as an inferd one for the server, `error` left as it is.
InferdError* CopyToInferdError(const TRITONSERVER_Error* error);
// The same, deleting `error`.
InferdError* ToInferdError(TRITONSERVER_Error* error);
// An inferd error as a Triton one for the backend; deletes `error`.
TRITONSERVER_Error* FromInferdError(InferdError* error, TRITONSERVER_Error_Code code);

}  // namespace inferd_triton
