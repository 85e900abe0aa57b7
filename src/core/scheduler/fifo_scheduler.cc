#include "core/scheduler/fifo_scheduler.h"

#include "core/inference_request.h"

namespace inferd {

Status FifoScheduler::Enqueue(RequestPtr request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return Status::Unavailable("model '" + request->model_name + "' is stopping");
    request->enqueue_ns = NowNs();
    queue_.push_back(std::move(request));
  }
  cv_.notify_one();
  return Status::Ok();
}

bool FifoScheduler::NextBatch(std::vector<RequestPtr>* batch) {
  batch->clear();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || !queue_.empty(); });
  if (queue_.empty()) return false;
  batch->push_back(std::move(queue_.front()));
  queue_.pop_front();
  return true;
}

void FifoScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

}  // namespace inferd
