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
//  - The server fills the control inputs the config names (START, END, READY,
//    CORRID) into each request, with the config's false/true values.
//  - A sequence with no request for max_sequence_idle_microseconds (default
//    1 s) is released; a later request of it that is not a start is refused.
//    When every slot of every instance is taken, a new sequence waits for one.
//
//  - Implicit state: see SequenceStateSpec.
//
// Not built (rejected at load, naming the field): the strategies' delay,
// utilization and preferred-size knobs; batches leave as soon as an instance
// is free.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
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
  std::vector<SequenceControl> controls;
  std::vector<SequenceStateSpec> states;
  std::function<uint64_t()> clock;   // null: the real clock
};

// Fails when an initial_state data_file cannot be read.
Status SequenceBatcherOptionsFromConfig(const inference::ModelConfig& config, size_t instances,
                                        const std::string& model_dir, SequenceBatcherOptions* out);

class SequenceBatcher : public Scheduler {
 public:
  explicit SequenceBatcher(SequenceBatcherOptions options);

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
  bool HasWork(size_t instance) const;  // requires mu_
  // The last batch of `instance` is done: its sequences may go on. Requires mu_.
  void FinishRunning(size_t instance);
  // Moves the next batch of `instance` out (HasWork must hold). Requires mu_.
  void FormBatch(size_t instance, std::vector<RequestPtr>* batch);

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
};

}  // namespace inferd
