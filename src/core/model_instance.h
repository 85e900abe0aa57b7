// ModelInstance: one execution instance of a model (instance_group count N
// gives N of them), with its own thread. The thread initializes the backend
// instance, then runs whatever batches the scheduler hands it until the
// scheduler stops, then finalizes.
#pragma once

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "core/abi_handles.h"
#include "core/rate_limiter.h"
#include "core/scheduler/scheduler.h"
#include "core/stats.h"
#include "inferd/backend.h"

namespace inferd {

class Model;
class InferenceResponse;

class ModelInstance : public InferdInstance {
 public:
  ModelInstance(Model* model, Scheduler* scheduler, size_t index, std::string name,
                int32_t device_id, bool gpu);
  ~ModelInstance();

  // With --rate-limit: each execution first takes `needs` from `limiter`
  // (instance_group.rate_limiter). Call before Start.
  void LimitWith(RateLimiter* limiter, std::vector<RateLimitResource> needs, uint32_t priority);

  // Starts the thread and waits for the backend's instance initialization.
  // Fails when the rate limiter cannot ever give the instance its resources.
  Status Start();
  // Waits for the thread to end (after the scheduler was stopped).
  void Join();

  Model* model() const { return model_; }
  const std::string& name() const { return name_; }
  int32_t device_id() const { return device_id_; }
  bool gpu() const { return gpu_; }

  void* backend_state = nullptr;
  // Filled by InstanceReportComputeTimes during an execution.
  uint64_t reported_input_end_ns = 0;
  uint64_t reported_infer_end_ns = 0;

  // Runs `request` alone on the calling thread while the scheduler has lent
  // this instance to it (Scheduler::ClaimIdleInstance): the same execution as
  // on the instance thread, answered whatever happens.
  void ExecuteLent(const RequestPtr& request);

  // Final responses sent on an instance thread during Execute wait here until
  // the execution's statistics are recorded, so a client that reads the
  // statistics after its answer always sees its own execution.
  static bool DeferIfExecuting(std::unique_ptr<InferenceResponse>& response);

 private:
  void Run(std::promise<Status>* initialized);
  void Execute(std::vector<RequestPtr>& batch);
  // Execute, answering the batch when it throws (nothing may end the caller).
  void ExecuteAnswered(std::vector<RequestPtr>& batch);
  // Runs the config's model_warmup samples on this instance (before READY).
  Status Warmup();

  Model* model_;
  Scheduler* scheduler_;
  size_t index_;  // among the model's instances
  std::string name_;
  int32_t device_id_;
  bool gpu_;
  std::thread thread_;
  RateLimiter* limiter_ = nullptr;  // null: executions are not rate limited
  std::vector<RateLimitResource> limit_needs_;
  uint32_t limit_priority_ = 0;
  RateLimiter::Handle limit_handle_ = 0;  // registered while the instance lives
};

}  // namespace inferd
