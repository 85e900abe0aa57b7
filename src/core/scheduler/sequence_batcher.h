// SequenceBatcher: the scheduler of stateful models (sequence_batching).
//
// Semantics (Triton's sequence batcher):
//  - Every request names its sequence (correlation id: request parameter
//    `sequence_id`, a non-zero integer or a non-empty string). The first
//    request of a sequence has `sequence_start`, the last `sequence_end`.
//  - A sequence lives on one instance from its start to its end: its requests
//    run there, one at a time, in arrival order; the backend may keep the
//    sequence's state in that instance. A new sequence goes to the instance
//    with the fewest live sequences (at most max_batch_size, or 1, each).
//  - "direct": each instance has max_batch_size slots, one per live sequence.
//    "oldest": up to max_candidate_sequences live sequences (spread over the
//    instances), more than a batch holds. Either way a batch takes the oldest
//    waiting request of up to max_batch_size different sequences.
//  - When a batch leaves (a sequence is "ready" when it has a waiting request
//    and none running; the delay counts from the oldest ready request):
//      direct: at once, unless max_queue_delay_microseconds and
//        minimum_slot_utilization are set: then it waits, at most the delay,
//        until that fraction of the instance's slots is ready (or a full batch).
//      oldest: at once with no max_queue_delay_microseconds; else when the
//        ready sequences reach the largest preferred_batch_size (or
//        max_batch_size), taking that many, or when the delay ends, taking
//        every ready sequence up to max_batch_size.
//    On Stop, batches leave at once.
//  - oldest.preserve_ordering is kept by the model's ResponseOrderer.
//  - The server fills the control inputs the config names (START, END, READY,
//    CORRID) into each request, with the config's false/true values.
//  - A sequence with no request for max_sequence_idle_microseconds (default
//    1 s) is released; a later request of it that is not a start is refused.
//    When every slot of every instance is taken, a new sequence waits for one.
//
//  - Cancellation (Triton's): a request of a sequence cancelled while it
//    waits (queued, or in the backlog of new sequences) cancels the whole
//    sequence: a reaper thread answers every waiting request of it CANCELLED
//    within kReapIntervalMs, and the sequence ends (only a START continues
//    its id).
//
//  - Implicit state: see SequenceStateSpec.
//
// Not built (rejected at load, naming the field): iterative_sequence.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/datatype.h"
#include "core/scheduler/scheduler.h"
#include "model_config.pb.h"

namespace inferd {

struct SequenceControl {
  std::string input;  // model input name
  inference::ModelSequenceBatching::Control::Kind kind;
  inference::DataType type;                // of the tensor
  int32_t int_false = 0, int_true = 1;     // int32_false_true
  float float_false = 0, float_true = 1;   // fp32_false_true
};

// Implicit state (sequence_batching.state): the server feeds `input` the
// sequence's state and keeps what the model writes to `output` for the
// sequence's next request; a START gives the initial value.
struct SequenceStateSpec {
  std::string input, output;
  DataType type = INFERD_TYPE_INVALID;
  std::vector<int64_t> dims;  // without the batch dimension
  std::string initial;        // bytes: zeros, or <model>/initial_state/<data_file>
};

struct SequenceBatcherOptions {
  size_t instances = 1;
  size_t slots_per_instance = 1;     // live sequences per instance
  size_t max_batch = 1;              // requests per batch: max_batch_size, or 1
  bool batching = false;             // max_batch_size > 0: control tensors get a batch dim
  uint64_t max_idle_ns = 1'000'000'000;
  bool oldest = false;               // the oldest strategy, else direct
  uint64_t max_queue_delay_ns = 0;   // the strategy's max_queue_delay_microseconds
  double minimum_slot_utilization = 0;  // direct only
  std::set<size_t> preferred_sizes;  // oldest only
  std::vector<SequenceControl> controls;
  std::vector<SequenceStateSpec> states;
  std::function<uint64_t()> clock;   // null: the real clock
};

// Fails when an initial_state data_file cannot be read.
Status SequenceBatcherOptionsFromConfig(const inference::ModelConfig& config, size_t instances,
                                        const std::string& model_dir, SequenceBatcherOptions* out);

class SequenceBatcher : public Scheduler {
 public:
  static constexpr int kReapIntervalMs = 250;

  explicit SequenceBatcher(SequenceBatcherOptions options);
  ~SequenceBatcher() override;

  Status Enqueue(RequestPtr request) override;
  bool NextBatch(std::vector<RequestPtr>* batch) override { return NextBatchFor(0, batch); }
  bool NextBatchFor(size_t instance, std::vector<RequestPtr>* batch) override;
  void Stop() override;

  // NextBatchFor without waiting, for tests driving the clock.
  bool TryNextBatchFor(size_t instance, std::vector<RequestPtr>* batch);

 private:
  struct Sequence {
    size_t instance = 0;
    std::deque<RequestPtr> waiting;  // arrival order
    bool running = false;            // a request of it is executing
    bool ended = false;              // its END request has arrived
    uint64_t last_seen_ns = 0;
    std::shared_ptr<std::vector<std::string>> state;  // implicit state values, by SequenceStateSpec
  };
  // Adds the state inputs (and asks for the state outputs) of `s` to `request`.
  void AddState(Sequence& s, InferenceRequest& request) const;
  uint64_t Now() const;
  // Adds the control tensors to `request`.
  void AddControls(InferenceRequest& request, bool start, bool end, const std::string& id) const;
  // Frees sequences idle for too long and those that ended and drained. Requires mu_.
  void Release(uint64_t now);
  // How many ready sequences of `instance` the batch takes now, or 0 to wait
  // (then *wake is when to look again, 0 for "at the next request"). Requires mu_.
  size_t BatchSizeNow(size_t instance, uint64_t now, uint64_t* wake) const;
  // The last batch of `instance` is done: its sequences may go on. Requires mu_.
  void FinishRunning(size_t instance);
  // Moves the oldest waiting request of `count` ready sequences of `instance`
  // out. Requires mu_.
  void FormBatch(size_t instance, size_t count, std::vector<RequestPtr>* batch);
  // The reaper thread: cancels the sequences with a cancelled request waiting.
  void ReapLoop();

  const SequenceBatcherOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Sequence> sequences_;  // guarded by mu_; by correlation id
  std::vector<size_t> live_per_instance_;      // guarded by mu_
  // Sequences of the batch each instance is running (freed on its next call).
  std::vector<std::vector<std::string>> running_;  // guarded by mu_
  // New sequences waiting for a free slot, in arrival order.
  std::deque<RequestPtr> backlog_;             // guarded by mu_
  bool stopped_ = false;                       // guarded by mu_
  std::condition_variable reaper_cv_;          // wakes the reaper only to stop
  std::thread reaper_;                         // last: it uses everything above
};

}  // namespace inferd
