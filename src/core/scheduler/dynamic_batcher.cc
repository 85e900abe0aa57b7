#include "core/scheduler/dynamic_batcher.h"

#include <chrono>

#include "core/inference_request.h"

namespace inferd {
namespace {

// Same inputs, and the same non-batch dims for every input that is not
// ragged (allow_ragged_batch): they can share one batch.
bool Compatible(const InferenceRequest& a, const InferenceRequest& b,
                const std::set<std::string>& ragged) {
  if (a.inputs.size() != b.inputs.size()) return false;
  for (const auto& in : a.inputs) {
    const InputTensor* other = b.FindInput(in.name);
    if (!other || other->datatype != in.datatype) return false;
    if (ragged.count(in.name)) continue;
    if (other->shape.size() != in.shape.size()) return false;
    for (size_t d = 1; d < in.shape.size(); ++d)
      if (other->shape[d] != in.shape[d]) return false;
  }
  return true;
}

void AnswerTimedOut(std::vector<RequestPtr>& rejected) {
  for (auto& r : rejected) {
    r->RespondError(Status::Unavailable("request timeout expired: the request waited in the queue of model '" +
                                        r->model_name + "' longer than its timeout"),
                    FailureReason::kRejected);
  }
  rejected.clear();
}

}  // namespace

DynamicBatcher::DynamicBatcher(DynamicBatcherOptions options)
    : options_(std::move(options)), queue_(options_.queue) {}

uint64_t DynamicBatcher::Now() const { return options_.clock ? options_.clock() : NowNs(); }

Status DynamicBatcher::Enqueue(RequestPtr request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return Status::Unavailable("model '" + request->model_name + "' is stopping");
    INFERD_RETURN_IF_ERROR(queue_.Push(std::move(request), Now()));
  }
  cv_.notify_all();
  return Status::Ok();
}

size_t DynamicBatcher::PendingBatch(uint64_t* batch_size) const {
  size_t count = 0;
  uint64_t size = 0;
  for (; count < queue_.size(); ++count) {
    const RequestPtr& r = queue_.At(count);
    if (count > 0 && (!Compatible(*queue_.At(0), *r, options_.ragged_inputs) || size + r->batch_size > options_.max_batch_size))
      break;
    size += r->batch_size;
  }
  *batch_size = size;
  return count;
}

bool DynamicBatcher::ShouldSend(size_t count, uint64_t batch_size, uint64_t now) const {
  if (stopped_ || options_.max_queue_delay_ns == 0) return true;
  const uint64_t largest =
      options_.preferred_sizes.empty() ? options_.max_batch_size : *options_.preferred_sizes.rbegin();
  if (batch_size >= largest) return true;
  // The batch cannot grow (the next request does not fit) and has a preferred size.
  if (count < queue_.size() && options_.preferred_sizes.count(batch_size)) return true;
  return now >= queue_.At(0)->enqueue_ns + options_.max_queue_delay_ns;
}

bool DynamicBatcher::FormBatch(uint64_t now, std::vector<RequestPtr>* batch,
                               std::vector<RequestPtr>* rejected) {
  queue_.ExpireTimeouts(now, rejected);
  if (queue_.empty()) return false;
  uint64_t batch_size = 0;
  const size_t count = PendingBatch(&batch_size);
  if (!ShouldSend(count, batch_size, now)) return false;
  for (size_t i = 0; i < count; ++i) batch->push_back(queue_.PopFront());
  return true;
}

uint64_t DynamicBatcher::NextWake() const {
  uint64_t wake = queue_.At(0)->enqueue_ns + options_.max_queue_delay_ns;
  const uint64_t timeout = queue_.EarliestDeadline();
  return timeout != 0 && timeout < wake ? timeout : wake;
}

bool DynamicBatcher::TryNextBatch(std::vector<RequestPtr>* batch) {
  batch->clear();
  std::vector<RequestPtr> rejected;
  bool formed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    formed = FormBatch(Now(), batch, &rejected);
  }
  AnswerTimedOut(rejected);
  return formed;
}

bool DynamicBatcher::NextBatch(std::vector<RequestPtr>* batch) {
  batch->clear();
  std::vector<RequestPtr> rejected;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return (!forming_ && !queue_.empty()) || (stopped_ && queue_.empty()); });
    if (queue_.empty()) return false;  // stopped and drained
    forming_ = true;
    bool formed = false;
    while (!(formed = FormBatch(Now(), batch, &rejected)) && !queue_.empty()) {
      if (!rejected.empty()) break;  // answer them first (outside the lock)
      const uint64_t wake = NextWake();
      const uint64_t now = Now();
      cv_.wait_for(lock, std::chrono::nanoseconds(wake > now ? wake - now : 0));
    }
    forming_ = false;
    lock.unlock();
    cv_.notify_all();  // the next instance may form a batch from what is left
    AnswerTimedOut(rejected);
    if (formed) return true;
    lock.lock();
  }
}

void DynamicBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

}  // namespace inferd
