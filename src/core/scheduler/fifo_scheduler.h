// The default scheduler: requests run one at a time, in arrival order, on
// whichever instance is free first. An idle instance can be lent to the
// thread that brings a request when nothing is queued (inline execution).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "core/scheduler/scheduler.h"

namespace inferd {

class FifoScheduler : public Scheduler {
 public:
  explicit FifoScheduler(size_t instances);

  Status Enqueue(RequestPtr request) override;
  // Instance threads call NextBatchFor; this is instance 0's.
  bool NextBatch(std::vector<RequestPtr>* batch) override { return NextBatchFor(0, batch); }
  bool NextBatchFor(size_t instance, std::vector<RequestPtr>* batch) override;
  void Stop() override;
  bool ClaimIdleInstance(size_t* instance) override;
  void ReleaseInstance(size_t instance) override;

 private:
  // One instance's thread, as the scheduler sees it (guarded by mu_).
  struct Waiter {
    std::condition_variable cv;  // each instance is woken on its own
    bool idle = false;   // waits in NextBatchFor with nothing to run
    bool woken = false;  // notified for a queued request, not yet running
    bool lent = false;   // lent to another thread: takes nothing
  };
  // An instance waiting idle that is neither lent nor already woken (and its
  // index, if `index`), or null. Requires mu_.
  Waiter* FreeIdle(size_t* index);
  // FreeIdle's instance, marked woken:
  // the caller notifies it (after unlocking mu_). Null when there is none:
  // busy instances come back to the queue on their own.
  std::condition_variable* PickIdleToWake();

  std::mutex mu_;
  std::deque<RequestPtr> queue_;  // guarded by mu_
  bool stopped_ = false;          // guarded by mu_
  std::unique_ptr<Waiter[]> waiters_;
  size_t instances_;
};

}  // namespace inferd
