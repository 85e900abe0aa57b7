// One inference request as the core sees it, whatever protocol it came by.
// Input tensors are views: they point into memory that `keep_alive` owns (the
// HTTP body, a decoded JSON buffer), so nothing is copied on the way in.
#pragma once

#include <atomic>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/aligned.h"
#include "common/datatype.h"
#include "core/abi_handles.h"
#include "core/inference_response.h"
#include "core/shared_memory.h"
#include "core/stats.h"
#include "inferd/backend.h"

namespace inferd {

class Model;
class RequestTrace;

// Where a tensor lies in a registered shared memory region (the request's
// shared_memory_region / _offset / _byte_size parameters).
struct SharedMemoryRef {
  std::string region;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

// Where a tensor's bytes lie, in order. Nearly always one piece, kept inline:
// no allocation for it.
using TensorPieces = boost::container::small_vector<std::pair<const char*, uint64_t>, 1>;

struct InputTensor {
  std::string name;
  DataType datatype = INFERD_TYPE_INVALID;
  std::vector<int64_t> shape;
  // Pieces of the data, in order; they stay valid while the request lives.
  TensorPieces buffers;
  uint64_t byte_size = 0;  // sum of the buffers
  // Set by a frontend instead of buffers; the core turns it into a buffer
  // (AttachSharedMemory).
  std::optional<SharedMemoryRef> shared_memory;

  void AddBuffer(const char* data, uint64_t size) {
    buffers.emplace_back(data, size);
    byte_size += size;
  }
};

struct RequestedOutput {
  std::string name;
  uint32_t classification_count = 0;  // > 0: answer top-k "value:index:label"
  bool binary = false;                // HTTP only: send as binary data
  // Write the output into this shared memory window instead of the response
  // body; `region` is filled by AttachSharedMemory.
  std::optional<SharedMemoryRef> shared_memory;
  std::shared_ptr<const SharedMemoryRegion> region;
};

// True for the request parameters the protocol itself defines (sequence
// controls, priority, timeout, binary_data_output): the server acts on them,
// and, as on Triton, they are not among a model's custom parameters.
bool IsProtocolParameter(std::string_view key);

class InferenceRequest : public InferdRequest,
                         public std::enable_shared_from_this<InferenceRequest> {
 public:
  // Called with every response; the last one has `final` set. Runs on
  // whichever thread answers (an instance thread, or the caller's on error).
  using ResponseCallback = std::function<void(std::unique_ptr<InferenceResponse>)>;

  std::string id;
  std::string model_name;
  int64_t model_version = -1;  // -1: the latest ready version
  std::vector<InputTensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: every output of the model
  std::map<std::string, std::string> parameters;
  // The client's own parameters (all but the protocol's, see
  // IsProtocolParameter) as a JSON object keeping their types, e.g.
  // {"max_tokens":8,"stream":true}; empty when there are none. What a
  // Python model reads as request.parameters(), as on Triton.
  std::string custom_parameters_json;
  uint64_t correlation_id = 0;
  // Set by frontends that can deliver several responses (a gRPC stream); a
  // decoupled model refuses requests without it.
  bool accepts_many_responses = false;
  // How many ensembles this request is a step of (0: a client's request);
  // bounded, so ensembles that compose each other cannot recurse forever.
  uint32_t ensemble_depth = 0;
  // Why it failed, for the failure metric's reason label, set by whoever
  // fails it (a scheduler: rejected; the backend ABI: backend); a CANCELLED
  // answer always counts as canceled.
  FailureReason failure_reason = FailureReason::kOther;
  // A step's ensemble request: the step is cancelled with it. The chain is
  // at most kMaxEnsembleNesting long.
  std::shared_ptr<const InferenceRequest> cancelled_with;

  // Owns whatever the input views point into (a frontend's body and decode
  // buffer: inline room for two).
  boost::container::small_vector<std::shared_ptr<const void>, 2> keep_alive;
  ResponseCallback on_response;

  // ---- Filled by the core ----
  std::shared_ptr<Model> model;            // set when the request is accepted
  int64_t served_version = -1;             // the version that runs it
  boost::container::small_vector<std::string, 4> output_names;  // what the backend writes
  uint64_t batch_size = 1;                 // the batch dimension, or 1
  uint64_t receive_ns = 0;                 // arrival at the frontend
  uint64_t enqueue_ns = 0;                 // handed to the scheduler
  uint32_t priority_level = 0;             // dynamic batcher: 1 is the highest
  uint64_t timeout_deadline_ns = 0;        // dynamic batcher: queue timeout, 0 = none
  int64_t order_position = -1;             // preserve_ordering: position, -1 = unordered
  std::string cache_key;                   // response cache miss: store the answer under it
  // Sequence batcher, implicit state: where the state outputs go.
  std::shared_ptr<std::vector<std::string>> sequence_state;
  std::vector<std::string> state_outputs;
  uint64_t cache_lookup_ns = 0;
  // What the statistics charged this request once it ran (its batch's
  // compute times; an ensemble's are its steps' summed): an ensemble adds
  // its steps' up from here.
  uint64_t compute_input_ns = 0, compute_infer_ns = 0, compute_output_ns = 0;
  std::atomic<bool> counted_pending{false};  // in the model's pending count
  // A decoupled model may answer after Execute returned, from a thread of its
  // own: the request then keeps itself alive until its final response.
  std::shared_ptr<InferenceRequest> held_until_final;
  // Responses a backend sent for it: a non-decoupled model's first one is
  // its answer and later ones are dropped, as Triton does.
  std::atomic<uint32_t> responses_sent{0};
  // Set when the request is traced (the trace extension); null otherwise.
  std::shared_ptr<RequestTrace> trace;
  // Filled by the frontend for traces: which one, and when it began and
  // finished reading the request (CLOCK_MONOTONIC ns).
  enum class Frontend : uint8_t { kOther, kHttp, kGrpc };
  Frontend frontend = Frontend::kOther;
  uint64_t read_start_ns = 0, read_end_ns = 0;
  // The client's W3C "traceparent" (HTTP header or gRPC metadata), which an
  // OpenTelemetry trace continues; empty when it sent none.
  std::string traceparent;

  const InputTensor* FindInput(const std::string& name) const;
  // True when an input or requested output names a shared memory region.
  bool UsesSharedMemory() const;
  // Looks up every region the request names and points its inputs at their
  // windows (BYTES inputs are copied: their length prefixes must not change
  // under the backend); the request holds the regions until it is gone.
  // An unknown region or a window outside its region is an error.
  Status AttachSharedMemory(const SharedMemoryManager& manager);
  // Copies the outputs the request placed in shared memory into their
  // windows and marks them; an error when a window is too small. Respond
  // calls it on every successful response.
  Status WriteSharedMemoryOutputs(InferenceResponse* response) const;
  // Copies every input buffer that does not start on a kTensorAlignment
  // boundary into aligned memory the request owns (inside the request when
  // they are small, else one aligned block): backend.h promises aligned
  // inputs. Nothing is copied when all are aligned.
  void AlignInputBuffers();
  const RequestedOutput* FindRequestedOutput(const std::string& name) const;

  // Sends one response. The final one records statistics and releases the
  // request's hold on its model; exactly one final response is ever sent
  // (later ones are dropped and logged). Requests live in shared_ptrs: a
  // response keeps its request (and so the input memory) alive.
  void Respond(std::unique_ptr<InferenceResponse> response);
  // A final response carrying only `status`; `reason` labels the failure.
  void RespondError(const Status& status, FailureReason reason);
  void RespondError(const Status& status) { RespondError(status, failure_reason); }
  bool answered() const { return answered_.load(); }

  // Cancellation, as Triton has it: a frontend whose client cancelled the
  // call says so here, from any thread. Nothing is answered by it: a request
  // still queued is dropped when an instance takes it (answered CANCELLED,
  // never executed), an ensemble sends no further step, and a backend may
  // ask (RequestIsCancelled) to stop one that runs.
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool IsCancelled() const {
    for (const InferenceRequest* r = this; r != nullptr; r = r->cancelled_with.get())
      if (r->cancelled_.load(std::memory_order_relaxed)) return true;
    return false;
  }

  InferenceRequest() = default;
  InferenceRequest(const InferenceRequest&) = delete;
  InferenceRequest& operator=(const InferenceRequest&) = delete;
  ~InferenceRequest();

 private:
  friend class Model;  // keeps the in-flight list below
  std::atomic<bool> answered_{false};
  std::atomic<bool> cancelled_{false};
  // Set by AttachSharedMemory when an output goes to shared memory: every
  // response passes WriteSharedMemoryOutputs, which returns at once without it.
  bool writes_shared_memory_ = false;
  // Where AlignInputBuffers puts copies: small ones in the request itself
  // (no allocation on the hot path), larger ones in one aligned block.
  static constexpr size_t kInlineAlignedBytes = 256;
  char inline_arena_[kInlineAlignedBytes + kTensorAlignment - 1];
  struct FreeAligned {
    void operator()(char* p) const { ::operator delete(p, std::align_val_t(kTensorAlignment)); }
  };
  std::unique_ptr<char, FreeAligned> heap_arena_;
  bool inline_arena_used_ = false;
  // Model's list of requests in flight; guarded by that model's in_flight_mu_.
  bool in_flight_ = false;
  InferenceRequest* in_flight_prev_ = nullptr;
  InferenceRequest* in_flight_next_ = nullptr;
};

// Microseconds-resolution monotonic clock in nanoseconds (CLOCK_MONOTONIC).
uint64_t NowNs();

}  // namespace inferd
