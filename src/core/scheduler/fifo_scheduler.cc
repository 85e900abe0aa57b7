#include "core/scheduler/fifo_scheduler.h"

#include <algorithm>

#include "core/inference_request.h"

namespace inferd {

// A model has at least one instance; instance 0 also serves NextBatch.
FifoScheduler::FifoScheduler(size_t instances)
    : waiters_(std::make_unique<Waiter[]>(std::max<size_t>(instances, 1))),
      instances_(std::max<size_t>(instances, 1)) {}

Status FifoScheduler::Enqueue(RequestPtr request) {
  std::condition_variable* wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return Status::Unavailable("model '" + request->model_name + "' is stopping");
    request->enqueue_ns = NowNs();
    queue_.push_back(std::move(request));
    wake = PickIdleToWake();
  }
  // Notified after the unlock, so that the woken thread does not block on it.
  if (wake) wake->notify_one();
  return Status::Ok();
}

FifoScheduler::Waiter* FifoScheduler::FreeIdle(size_t* index) {
  for (size_t i = 0; i < instances_; ++i) {
    Waiter& w = waiters_[i];
    if (w.idle && !w.woken && !w.lent) {
      if (index) *index = i;
      return &w;
    }
  }
  return nullptr;
}

std::condition_variable* FifoScheduler::PickIdleToWake() {
  Waiter* w = FreeIdle(nullptr);
  if (!w) return nullptr;
  w->woken = true;
  return &w->cv;
}

bool FifoScheduler::NextBatchFor(size_t instance, std::vector<RequestPtr>* batch) {
  batch->clear();
  std::unique_lock<std::mutex> lock(mu_);
  Waiter& w = waiters_[std::min(instance, instances_ - 1)];
  w.idle = true;
  // A lent instance neither runs a request nor ends: the borrower is using it.
  w.cv.wait(lock, [&] { return !w.lent && (stopped_ || !queue_.empty()); });
  w.idle = false;
  w.woken = false;
  if (queue_.empty()) return false;
  batch->push_back(std::move(queue_.front()));
  queue_.pop_front();
  // More queued than the instances woken so far: wake another.
  std::condition_variable* wake = queue_.empty() ? nullptr : PickIdleToWake();
  lock.unlock();
  if (wake) wake->notify_one();
  return true;
}

void FifoScheduler::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  for (size_t i = 0; i < instances_; ++i) waiters_[i].cv.notify_all();
}

bool FifoScheduler::ClaimIdleInstance(size_t* instance) {
  std::lock_guard<std::mutex> lock(mu_);
  // Queued requests go first: lending now would overtake them.
  if (stopped_ || !queue_.empty()) return false;
  Waiter* w = FreeIdle(instance);
  if (!w) return false;
  w->lent = true;
  return true;
}

void FifoScheduler::ReleaseInstance(size_t instance) {
  Waiter& w = waiters_[instance];
  {
    std::lock_guard<std::mutex> lock(mu_);
    w.lent = false;
    // Work queued meanwhile, or a Stop, is its to act on now.
    if (!stopped_ && queue_.empty()) return;
    w.woken = true;
  }
  w.cv.notify_one();
}

}  // namespace inferd
