#include "core/inference_request.h"

#include <time.h>

#include <cstring>

#include "common/aligned.h"
#include "common/logging.h"
#include "core/model.h"
#include "core/trace.h"

namespace inferd {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

bool IsProtocolParameter(std::string_view key) {
  return key == "sequence_id" || key == "sequence_start" || key == "sequence_end" || key == "priority" ||
         key == "timeout" || key == "binary_data_output";
}

const InputTensor* InferenceRequest::FindInput(const std::string& name) const {
  for (const auto& in : inputs)
    if (in.name == name) return &in;
  return nullptr;
}

void InferenceRequest::AlignInputBuffers() {
  size_t needed = 0;
  for (const auto& in : inputs)
    for (const auto& [data, size] : in.buffers)
      if (!IsTensorAligned(data)) needed += AlignUp(size == 0 ? 1 : size);
  if (needed == 0) return;
  char* arena;
  if (needed <= kInlineAlignedBytes && !inline_arena_used_) {
    inline_arena_used_ = true;
    arena = inline_arena_ + (kTensorAlignment - reinterpret_cast<uintptr_t>(inline_arena_) % kTensorAlignment) %
                                kTensorAlignment;
  } else {
    // Called again after inputs were added: the inputs copied earlier keep
    // pointing into the earlier block, which keep_alive now owns.
    if (heap_arena_) {
      keep_alive.push_back(std::shared_ptr<char>(heap_arena_.release(), FreeAligned()));
    }
    heap_arena_.reset(static_cast<char*>(::operator new(needed, std::align_val_t(kTensorAlignment))));
    arena = heap_arena_.get();
  }
  size_t offset = 0;
  for (auto& in : inputs) {
    for (auto& [data, size] : in.buffers) {
      if (IsTensorAligned(data)) continue;
      char* target = arena + offset;
      if (size > 0) std::memcpy(target, data, size);
      data = target;
      offset += AlignUp(size == 0 ? 1 : size);
    }
  }
}

bool InferenceRequest::UsesSharedMemory() const {
  for (const auto& in : inputs)
    if (in.shared_memory) return true;
  for (const auto& out : outputs)
    if (out.shared_memory) return true;
  return false;
}

Status InferenceRequest::AttachSharedMemory(const SharedMemoryManager& manager) {
  for (auto& in : inputs) {
    if (!in.shared_memory) continue;
    const SharedMemoryRef& ref = *in.shared_memory;
    std::shared_ptr<const SharedMemoryRegion> region;
    INFERD_RETURN_IF_ERROR(manager.Find(ref.region, &region));
    char* data = nullptr;
    INFERD_RETURN_IF_ERROR(region->Slice(ref.offset, ref.byte_size, "input '" + in.name + "'", &data));
    if (in.datatype == INFERD_TYPE_BYTES) {
      // The client can write the region at any time: a length prefix that
      // changed after the checks could send a backend past the end.
      auto copy = std::make_shared<std::string>(data, ref.byte_size);
      in.AddBuffer(copy->data(), copy->size());
      keep_alive.push_back(std::move(copy));
    } else {
      in.AddBuffer(data, ref.byte_size);
    }
    keep_alive.push_back(std::move(region));
  }
  for (auto& out : outputs) {
    if (!out.shared_memory) continue;
    const SharedMemoryRef& ref = *out.shared_memory;
    INFERD_RETURN_IF_ERROR(manager.Find(ref.region, &out.region));
    writes_shared_memory_ = true;
    char* data = nullptr;
    INFERD_RETURN_IF_ERROR(
        out.region->Slice(ref.offset, ref.byte_size, "output '" + out.name + "'", &data));
  }
  return Status::Ok();
}

Status InferenceRequest::WriteSharedMemoryOutputs(InferenceResponse* response) const {
  if (!writes_shared_memory_) return Status::Ok();  // the common case: every response
  for (auto& o : response->outputs) {
    const RequestedOutput* asked = FindRequestedOutput(o.name);
    if (asked == nullptr || !asked->region || o.in_shared_memory) continue;
    const SharedMemoryRef& ref = *asked->shared_memory;
    if (o.byte_size > ref.byte_size) {
      return Status::InvalidArg("shared memory size specified with the request for output '" +
                                o.name + "' (" + std::to_string(ref.byte_size) +
                                " bytes) should be at least " + std::to_string(o.byte_size) +
                                " bytes to hold the results");
    }
    char* data = nullptr;
    INFERD_RETURN_IF_ERROR(
        asked->region->Slice(ref.offset, o.byte_size, "output '" + o.name + "'", &data));
    if (o.byte_size > 0) std::memcpy(data, o.begin(), o.byte_size);
    o.in_shared_memory = true;
  }
  return Status::Ok();
}

const RequestedOutput* InferenceRequest::FindRequestedOutput(const std::string& name) const {
  for (const auto& out : outputs)
    if (out.name == name) return &out;
  return nullptr;
}

namespace {

// The TENSORS level of a trace: each output the backend wrote.
void TraceOutputs(RequestTrace& trace, const InferenceResponse& response) {
  if (!trace.tensors() || !response.status.ok()) return;
  for (const OutputTensor& out : response.outputs) {
    const std::pair<const char*, uint64_t> whole{out.begin(), out.byte_size};
    trace.AddTensor("TENSOR_BACKEND_OUTPUT", out.name, out.datatype, out.shape, {&whole, 1});
  }
}

}  // namespace

void InferenceRequest::Respond(std::unique_ptr<InferenceResponse> response) {
  // Outputs bound for shared memory go there; a window too small makes the
  // response an error (before statistics count it).
  auto place_shared_memory_outputs = [this, &response] {
    if (!response->status.ok()) return;
    Status st = WriteSharedMemoryOutputs(response.get());
    if (!st.ok()) {
      response->status = st;
      response->outputs.clear();
    }
  };
  if (!response->final) {
    if (answered_.load()) return;
    place_shared_memory_outputs();
    if (trace) {
      trace->Stamp("INFER_RESPONSE_COMPLETE", NowNs());
      TraceOutputs(*trace, *response);
    }
    on_response(std::move(response));
    return;
  }
  if (answered_.exchange(true)) {
    LOG_WARNING("request '{}' to model '{}' was answered twice; the second answer is dropped", id,
                model_name);
    return;
  }
  // Released when this function returns, not before: `this` stays valid.
  std::shared_ptr<InferenceRequest> self = std::move(held_until_final);
  if (model) {
    model->ForgetInFlight(*this);
    model->LeavePending(*this);
    model->CompleteResponse(*this, response.get());
  }
  place_shared_memory_outputs();
  if (model) {
    const FailureReason reason =
        response->status.code() == Status::Code::kCancelled ? FailureReason::kCanceled : failure_reason;
    model->stats().RecordRequestEnd(*this, response->status.ok(), reason, NowNs());
  }
  if (trace) {
    const uint64_t now = NowNs();
    trace->Stamp("INFER_RESPONSE_COMPLETE", now);
    trace->Stamp("REQUEST_END", now);
    TraceOutputs(*trace, *response);
    trace->End(model_name, served_version, id);
  }
  std::shared_ptr<Model> hold = std::move(model);
  ResponseCallback callback = std::move(on_response);
  if (hold && order_position >= 0 && hold->orderer()) {
    // preserve_ordering: wait for the responses of earlier requests.
    auto shared = std::make_shared<std::unique_ptr<InferenceResponse>>(std::move(response));
    hold->orderer()->Deliver(static_cast<uint64_t>(order_position),
                             [callback = std::move(callback), shared] { callback(std::move(*shared)); });
    return;
  }
  callback(std::move(response));
}

InferenceRequest::~InferenceRequest() {
  // Only a request that was never answered is still listed (process exit).
  if (model) model->ForgetInFlight(*this);
}

void InferenceRequest::RespondError(const Status& status, FailureReason reason) {
  failure_reason = reason;
  auto response = std::make_unique<InferenceResponse>(shared_from_this());
  response->status = status;
  Respond(std::move(response));
}

OutputTensor* InferenceResponse::AddOutput(std::string name, DataType type,
                                           std::vector<int64_t> shape, uint64_t byte_size) {
  OutputTensor& out = outputs.emplace_back();
  out.name = std::move(name);
  out.datatype = type;
  out.shape = std::move(shape);
  out.byte_size = byte_size;
  out.data = AllocateTensorBuffer(byte_size);
  return &out;
}

const OutputTensor* InferenceResponse::FindOutput(const std::string& name) const {
  for (const auto& o : outputs)
    if (o.name == name) return &o;
  return nullptr;
}

}  // namespace inferd
