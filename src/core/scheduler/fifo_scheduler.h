// The default scheduler: requests run one at a time, in arrival order, on
// whichever instance is free first.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

#include "core/scheduler/scheduler.h"

namespace inferd {

class FifoScheduler : public Scheduler {
 public:
  Status Enqueue(RequestPtr request) override;
  bool NextBatch(std::vector<RequestPtr>* batch) override;
  void Stop() override;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestPtr> queue_;  // guarded by mu_
  bool stopped_ = false;          // guarded by mu_
};

}  // namespace inferd
