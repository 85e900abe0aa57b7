#include "core/scheduler/dynamic_batcher.h"

#include <chrono>

#include "core/inference_request.h"

namespace inferd {
namespace {

// Same non-batch dims and types for every input: they can share one batch.
bool Compatible(const InferenceRequest& a, const InferenceRequest& b) {
  if (a.inputs.size() != b.inputs.size()) return false;
  for (const auto& in : a.inputs) {
    const InputTensor* other = b.FindInput(in.name);
    if (!other || other->datatype != in.datatype || other->shape.size() != in.shape.size())
      return false;
    for (size_t d = 1; d < in.shape.size(); ++d)
      if (other->shape[d] != in.shape[d]) return false;
  }
  return true;
}

}  // namespace

DynamicBatcher::DynamicBatcher(DynamicBatcherOptions options) : options_(std::move(options)) {}

Status DynamicBatcher::Enqueue(RequestPtr request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return Status::Unavailable("model '" + request->model_name + "' is stopping");
    request->enqueue_ns = NowNs();
    queue_.push_back(std::move(request));
  }
  cv_.notify_all();
  return Status::Ok();
}

size_t DynamicBatcher::PendingBatch(uint64_t* batch_size) const {
  size_t count = 0;
  uint64_t size = 0;
  for (const auto& r : queue_) {
    if (count > 0 && (!Compatible(*queue_.front(), *r) || size + r->batch_size > options_.max_batch_size))
      break;
    size += r->batch_size;
    ++count;
  }
  *batch_size = size;
  return count;
}

bool DynamicBatcher::ShouldSend(size_t count, uint64_t batch_size) const {
  if (stopped_ || options_.max_queue_delay_ns == 0) return true;
  const uint64_t largest =
      options_.preferred_sizes.empty() ? options_.max_batch_size : *options_.preferred_sizes.rbegin();
  if (batch_size >= largest) return true;
  // The batch cannot grow (the next request does not fit) and has a preferred size.
  if (count < queue_.size() && options_.preferred_sizes.count(batch_size)) return true;
  return NowNs() >= queue_.front()->enqueue_ns + options_.max_queue_delay_ns;
}

bool DynamicBatcher::NextBatch(std::vector<RequestPtr>* batch) {
  batch->clear();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return (!forming_ && !queue_.empty()) || (stopped_ && queue_.empty()); });
  if (queue_.empty()) return false;
  forming_ = true;
  for (;;) {
    uint64_t batch_size = 0;
    const size_t count = PendingBatch(&batch_size);
    if (ShouldSend(count, batch_size)) {
      for (size_t i = 0; i < count; ++i) {
        batch->push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      break;
    }
    const uint64_t deadline = queue_.front()->enqueue_ns + options_.max_queue_delay_ns;
    const uint64_t now = NowNs();
    cv_.wait_for(lock, std::chrono::nanoseconds(deadline > now ? deadline - now : 0));
  }
  forming_ = false;
  lock.unlock();
  cv_.notify_all();  // the next instance may form a batch from what is left
  return true;
}

void DynamicBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

}  // namespace inferd
