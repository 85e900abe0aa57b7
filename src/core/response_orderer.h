// ResponseOrderer: delivers final responses in the order their requests were
// accepted (dynamic_batching.preserve_ordering), whatever order the
// instances finish them in.
//
// Contract: every number Take() hands out is later passed exactly once to
// Deliver() or Skip() (a request is answered exactly once), otherwise the
// responses after it would wait forever.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace inferd {

class ResponseOrderer {
 public:
  // The next position in the order.
  uint64_t Take();
  // Runs `deliver` once every earlier position was delivered or skipped;
  // possibly now on this thread, possibly later on the thread that fills the gap.
  void Deliver(uint64_t position, std::function<void()> deliver);
  // A position that will never be delivered (its request was not accepted).
  void Skip(uint64_t position);

 private:
  void Drain(std::unique_lock<std::mutex>& lock);

  std::mutex mu_;
  uint64_t next_take_ = 0;                              // guarded by mu_
  uint64_t next_deliver_ = 0;                           // guarded by mu_
  std::map<uint64_t, std::function<void()>> waiting_;   // guarded by mu_; empty function = skipped
  bool draining_ = false;  // guarded by mu_: one thread runs deliveries at a time, in order
};

}  // namespace inferd
