// A scheduler sits between accepted requests and a model's instances. Frontend
// threads Enqueue(); each instance thread loops on NextBatch(). The scheduler
// decides which requests run together; it knows nothing of backends.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "common/status.h"
#include "model_config.pb.h"

namespace inferd {

class InferenceRequest;
using RequestPtr = std::shared_ptr<InferenceRequest>;

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Takes the request; an error means it was not taken (the caller answers).
  virtual Status Enqueue(RequestPtr request) = 0;

  // Blocks until a batch is ready and moves it into *batch (cleared first).
  // Returns false once Stop() was called and every queued request was handed out.
  virtual bool NextBatch(std::vector<RequestPtr>* batch) = 0;

  // The same for a given instance (0-based); schedulers that keep work on one
  // instance (the sequence batcher) override it.
  virtual bool NextBatchFor(size_t instance, std::vector<RequestPtr>* batch) {
    (void)instance;
    return NextBatch(batch);
  }

  // Stops accepting; queued requests are still handed out by NextBatch.
  virtual void Stop() = 0;

  // Lends an idle instance to the caller's thread (inline execution, see
  // core/inline_execution.h): when nothing is queued and an instance waits in
  // NextBatchFor, marks it lent and returns true with its index. A lent
  // instance takes no batch (and does not end on Stop) until ReleaseInstance.
  // Schedulers that form batches or keep state per instance never lend.
  virtual bool ClaimIdleInstance(size_t* instance) {
    (void)instance;
    return false;
  }
  virtual void ReleaseInstance(size_t instance) { (void)instance; }
};

// The scheduler the config asks for: the dynamic batcher with
// `dynamic_batching`, the sequence batcher with `sequence_batching` (for
// `instances` instances; `model_dir` holds its initial_state files), else one
// request at a time in arrival order.
Status CreateScheduler(const inference::ModelConfig& config, size_t instances,
                       const std::string& model_dir, std::unique_ptr<Scheduler>* out);

}  // namespace inferd
