#include "core/response_orderer.h"

namespace inferd {

uint64_t ResponseOrderer::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_take_++;
}

void ResponseOrderer::Deliver(uint64_t position, std::function<void()> deliver) {
  std::unique_lock<std::mutex> lock(mu_);
  waiting_[position] = std::move(deliver);
  Drain(lock);
}

void ResponseOrderer::Skip(uint64_t position) {
  std::unique_lock<std::mutex> lock(mu_);
  waiting_[position] = nullptr;
  Drain(lock);
}

void ResponseOrderer::Drain(std::unique_lock<std::mutex>& lock) {
  if (draining_) return;  // the draining thread will pick ours up, in order
  draining_ = true;
  for (auto it = waiting_.find(next_deliver_); it != waiting_.end(); it = waiting_.find(next_deliver_)) {
    std::function<void()> deliver = std::move(it->second);
    waiting_.erase(it);
    ++next_deliver_;
    if (deliver) {
      lock.unlock();
      deliver();
      lock.lock();
    }
  }
  draining_ = false;
}

}  // namespace inferd
