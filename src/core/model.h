// Model: one loaded version of a model. It owns its configuration, its
// backend's per-model state, its instances (one thread each) and its
// scheduler. Requests hold a shared_ptr to it, so a model being unloaded
// stays alive until the last accepted request is answered.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/abi_handles.h"
#include "core/backend_library.h"
#include "core/inference_request.h"
#include "core/model_config_validate.h"
#include "core/model_overrides.h"
#include "core/rate_limiter.h"
#include "core/response_cache.h"
#include "core/response_orderer.h"
#include "core/scheduler/scheduler.h"
#include "core/serving_models.h"
#include "core/stats.h"
#include "inferd/backend.h"
#include "model_config.pb.h"

namespace inferd {

class ModelInstance;

// --backend-config settings: backend name ("" = every backend) -> key -> value.
using BackendConfigMap = std::map<std::string, std::map<std::string, std::string>>;

struct ModelLoadSpec {
  ConfigContext context;            // folder name, model dir, GPUs
  int64_t version = 1;
  inference::ModelConfig config;    // normalized and validated (before auto-complete)
  std::string backend_directory;
  bool auto_complete = true;
  ResponseCache* cache = nullptr;   // the server's response cache, if any
  RateLimiter* rate_limiter = nullptr;  // --rate-limit=execution_count; else null
  bool latency_summaries = false;   // keep recent latencies for the metrics' quantiles
  // Where backend libraries may come from (besides the backend directory):
  // the model's folder in the repository on disk. context.model_dir differs
  // from it when the load carried file overrides.
  std::string library_dir;
  // The load's file overrides, if any: kept on disk while this version lives.
  std::shared_ptr<const OverrideFolder> override_folder;
  // The server's --backend-config settings; outlives every model.
  const BackendConfigMap* backend_config = nullptr;
  // Where an ensemble finds and runs its composing models (the server).
  ServingModels* serving = nullptr;
};

class Model : public InferdModel, public std::enable_shared_from_this<Model> {
 public:
  // Opens the backend, lets it initialize (and auto-complete the config),
  // validates the final config and starts the instances: the model is ready
  // to serve when this returns OK.
  static Status Load(const ModelLoadSpec& spec, BackendRegistry* backends,
                     std::shared_ptr<Model>* out);
  ~Model();

  const std::string& name() const { return config_.name(); }
  int64_t version() const { return spec_.version; }
  const inference::ModelConfig& config() const { return config_; }
  const std::string& config_json() const { return config_json_; }
  const std::string& model_dir() const { return spec_.context.model_dir; }
  const std::string& version_dir() const { return version_dir_; }
  bool auto_complete() const { return spec_.auto_complete; }
  // --backend-config `key` for this model's backend, else for every backend;
  // null when absent.
  const std::string* BackendConfigValue(const std::string& key) const;
  const BackendLibrary& backend() const { return *backend_; }
  // The backend library file found for the model (for a Triton backend, its
  // libtriton_<name>.so, which the adapter in backend() loads).
  const std::string& backend_file() const { return backend_file_; }
  // Every --backend-config setting for this model's backend (the global ones
  // overridden by its own) as a JSON object of strings.
  const std::string& backend_config_json() const { return backend_config_json_; }
  ModelStats& stats() { return stats_; }
  const ModelStats& stats() const { return stats_; }
  bool decoupled() const { return config_.model_transaction_policy().decoupled(); }
  // True the first time only: a non-decoupled model sent more than one
  // response, which is logged once per model.
  bool FirstExtraResponse() { return !warned_extra_response_.exchange(true); }
  // "platform" of the config, or its backend when it names none (metadata).
  const std::string& platform() const {
    return config_.platform().empty() ? config_.backend() : config_.platform();
  }
  // Requests accepted and not yet given to an instance (or answered early).
  int64_t pending_requests() const { return pending_.load(std::memory_order_relaxed); }
  // Takes `request` out of the pending count, once; any thread.
  void LeavePending(InferenceRequest& request) {
    if (request.counted_pending.exchange(false, std::memory_order_relaxed)) {
      pending_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  // Every request the model accepted and has not finally answered is on a
  // list, so that an exit that cannot wait any longer (--exit-timeout-secs)
  // still answers each one. Forget is called by the request itself (final
  // response or destruction); any thread.
  void ForgetInFlight(InferenceRequest& request);
  // Answers every request in flight with `status` now; later answers from a
  // backend still running them are dropped (a request is answered once).
  void FailInFlight(const Status& status);
  // Held by an instance while it prepares a batch (the request fields it
  // writes before calling the backend), so that FailInFlight, which takes
  // it too, answers those requests only after the writes.
  std::mutex& execution_start_mutex() { return execution_start_mu_; }

  // With dynamic_batching.preserve_ordering (or the sequence batcher's
  // oldest.preserve_ordering), orders final responses; else null.
  ResponseOrderer* orderer() { return orderer_.get(); }
  // With response_cache { enable: true } and a server cache; else null.
  ResponseCache* cache() const { return cache_; }
  // The labels of an output's label_filename; empty when it has none.
  const std::vector<std::string>& labels(const std::string& output) const;

  // Checks the request against the config (inputs, types, shapes, sizes,
  // outputs) and queues it. On error the request is not taken and the caller
  // answers it.
  Status Enqueue(const RequestPtr& request);

  // An instance reports how long an execution took; the model keeps a
  // running average of the last few (for inline execution). Any thread.
  void NoteExecution(uint64_t ns);

  // The last steps of a successful final response, whatever the protocol:
  // classification of the outputs asked for with a class count, then storing
  // it in the response cache after a miss.
  void CompleteResponse(const InferenceRequest& request, InferenceResponse* response);

  // Stops taking requests, lets the instances finish every queued one, then
  // finalizes instances and the backend model. Idempotent; one caller at a time.
  void Shutdown();
  // True once Shutdown began: Enqueue refuses, a successor may be serving.
  bool retiring() const { return retiring_.load(); }

  // ---- For the core API (backend side) ----
  Status SetConfigFromBackend(const std::string& json);
  void* backend_state = nullptr;
  bool in_initialize = false;

 private:
  explicit Model(ModelLoadSpec spec);

  // The ensemble branch of Load: no backend and no instances, a scheduler
  // that runs the steps on the composing models.
  static Status LoadEnsemble(const std::shared_ptr<Model>& model, const std::string& label);
  // Reads the label_filename of each output.
  Status ReadLabels();
  // Runs `request` on the calling thread (see core/inline_execution.h) when
  // the thread may, one of its instances is idle with nothing queued, and the
  // model's executions are short enough not to hold a frontend thread; then
  // returns true, the request answered or in the backend's hands. False: the
  // request was not touched.
  bool TryExecuteInline(const RequestPtr& request);

  ModelLoadSpec spec_;
  inference::ModelConfig config_;
  std::string config_json_;
  std::string version_dir_;
  std::shared_ptr<BackendLibrary> backend_;
  std::string backend_file_;
  std::string backend_config_json_;  // set when the backend is found
  bool backend_model_initialized_ = false;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<ResponseOrderer> orderer_;
  ResponseCache* cache_ = nullptr;  // not owned: the server's
  std::vector<std::unique_ptr<ModelInstance>> instances_;
  bool lends_instances_ = false;  // at load: CPU instances, no rate limiter
  // Running average of execution time; the maximum until the first one, so
  // a model runs inline only once it has shown it is quick.
  std::atomic<uint64_t> recent_execution_ns_{UINT64_MAX};
  ModelStats stats_;
  std::map<std::string, std::vector<std::string>> labels_;  // by output name
  std::atomic<bool> retiring_{false};
  std::atomic<bool> warned_extra_response_{false};
  std::atomic<int64_t> pending_{0};
  std::mutex execution_start_mu_;
  std::mutex in_flight_mu_;
  InferenceRequest* in_flight_head_ = nullptr;  // intrusive list; guarded by in_flight_mu_
  bool shut_down_ = false;
};

}  // namespace inferd
