// PriorityQueue: the queue of a dynamic batcher, with Triton's priority
// levels and queue policies.
//
// Semantics:
//  - Levels 1..N, 1 the highest; a request's level is its `priority`
//    parameter, or default_priority_level when it has none (or 0). With no
//    priority_levels configured there is a single level.
//  - Within a level, requests keep their arrival order. Requests are handed
//    out level by level, highest first.
//  - Each level has a policy: max_queue_size (0 = unbounded; a full level
//    refuses new requests), default_timeout (0 = none), whether a request may
//    ask for a shorter timeout (`timeout` parameter, microseconds), and what a
//    timed-out request gets: REJECT (an error answer) or DELAY (it waits
//    behind every request of its level that did not time out).
//
// Not thread-safe: the owning scheduler holds its mutex around every call.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "common/status.h"
#include "core/scheduler/scheduler.h"

namespace inferd {

struct QueuePolicy {
  bool delay_on_timeout = false;  // false: REJECT
  uint64_t default_timeout_ns = 0;
  bool allow_timeout_override = false;
  uint32_t max_queue_size = 0;
};

struct PriorityQueueOptions {
  uint32_t priority_levels = 0;  // 0: one level
  uint32_t default_level = 0;    // used when a request names none
  QueuePolicy default_policy;
  std::map<uint32_t, QueuePolicy> level_policies;  // overrides by level
};

class PriorityQueue {
 public:
  explicit PriorityQueue(PriorityQueueOptions options);

  // Assigns the request's level and timeout deadline (from `now`) and queues
  // it; an error (bad priority or timeout parameter, full level) leaves it out.
  Status Push(RequestPtr request, uint64_t now);

  // Requests whose deadline passed by `now`: REJECT ones are removed into
  // *rejected (the caller answers them), DELAY ones move behind their level.
  void ExpireTimeouts(uint64_t now, std::vector<RequestPtr>* rejected);
  // The earliest timeout deadline still pending; 0 when none.
  uint64_t EarliestDeadline() const;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  // The i-th request in hand-out order (i < size()).
  const RequestPtr& At(size_t i) const;
  // Removes and returns the first request in hand-out order.
  RequestPtr PopFront();

 private:
  struct Level {
    QueuePolicy policy;
    std::deque<RequestPtr> live;     // arrival order
    std::deque<RequestPtr> delayed;  // timed out with DELAY, in the order they timed out
  };
  Level& LevelOf(uint32_t level);

  std::vector<Level> levels_;  // index 0 is level 1
  uint32_t default_level_;
  size_t size_ = 0;
};

}  // namespace inferd
