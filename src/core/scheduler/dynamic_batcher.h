// DynamicBatcher: joins requests queued for a model into batches.
//
// Semantics (Triton's dynamic_batching):
//  - A batch holds requests in hand-out order (priority level, then arrival;
//    see PriorityQueue) whose inputs agree in every dimension but the batch
//    dimension, up to max_batch_size counted over the batch dimension (a
//    request may itself carry a batch). Inputs marked allow_ragged_batch may
//    differ in shape.
//  - A batch leaves as soon as it reaches max_batch_size, or the largest
//    preferred_batch_size, or a preferred size that the next queued request
//    cannot grow; otherwise it waits for more requests, but never longer than
//    max_queue_delay_microseconds after its first request was queued.
//  - Requests whose queue timeout passes are answered with an error (REJECT)
//    or wait behind the others of their level (DELAY) when a batch is formed;
//    an idle instance wakes up for the earliest timeout.
//  - Latency bound: a request that does not time out waits in the queue at
//    most max_queue_delay plus the time until an instance is free.
//  - Whichever instance asks first gets the next batch, so batching and
//    several instances combine.
//  - preserve_ordering is kept by the model's ResponseOrderer, not here.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "core/scheduler/priority_queue.h"
#include "core/scheduler/scheduler.h"

namespace inferd {

struct DynamicBatcherOptions {
  uint64_t max_batch_size = 1;          // model's max_batch_size, >= 1
  std::set<uint64_t> preferred_sizes;   // empty: prefer max_batch_size
  uint64_t max_queue_delay_ns = 0;      // 0: send what is queued at once
  PriorityQueueOptions queue;           // priority levels and queue policies
  std::set<std::string> ragged_inputs;  // allow_ragged_batch: shapes may differ
  std::function<uint64_t()> clock;      // CLOCK_MONOTONIC ns; null: the real clock
};

class DynamicBatcher : public Scheduler {
 public:
  explicit DynamicBatcher(DynamicBatcherOptions options);

  Status Enqueue(RequestPtr request) override;
  bool NextBatch(std::vector<RequestPtr>* batch) override;
  void Stop() override;

  // One step of NextBatch without waiting, for tests driving the clock:
  // answers timed-out requests, then forms a batch if one should leave now.
  bool TryNextBatch(std::vector<RequestPtr>* batch);

 private:
  uint64_t Now() const;
  // How many queued requests, from the front, form the next batch, and the
  // batch size they add up to. Requires mu_.
  size_t PendingBatch(uint64_t* batch_size) const;
  // Whether the pending batch should leave at `now` rather than wait. Requires mu_.
  bool ShouldSend(size_t count, uint64_t batch_size, uint64_t now) const;
  // Expires timeouts, then moves a batch out if one should leave. Requires mu_.
  bool FormBatch(uint64_t now, std::vector<RequestPtr>* batch, std::vector<RequestPtr>* rejected);
  // When the queue next needs a look (delay end or earliest timeout). Requires mu_.
  uint64_t NextWake() const;

  const DynamicBatcherOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  PriorityQueue queue_;   // guarded by mu_
  bool stopped_ = false;  // guarded by mu_
  // One instance at a time forms a batch (and waits out the delay); the others
  // wait for it to finish so they do not take the same requests.
  bool forming_ = false;  // guarded by mu_
};

}  // namespace inferd
