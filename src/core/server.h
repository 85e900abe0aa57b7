// Server: the core's front door. It owns the loaded models and every
// lifecycle (load, reload, unload, repository polling); frontends only call
// the functions below.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "core/backend_library.h"
#include "core/inference_request.h"
#include "core/model.h"
#include "core/model_repository.h"
#include "core/serving_models.h"
#include "core/shared_memory.h"
#include "core/trace.h"
#include "storage/remote_repository.h"

namespace inferd {

// The protocol extensions inferd implements, as Triton names them (server metadata).
const std::vector<std::string>& ServerExtensions();

enum class ModelControlMode { kNone, kPoll, kExplicit };

struct ServerOptions {
  std::string id = "inferd";
  std::vector<std::string> repositories;
  ModelControlMode control_mode = ModelControlMode::kNone;
  std::vector<std::string> load_models;  // explicit mode: names to load at start ("*" = all)
  std::string backend_directory;
  // The library that runs backends built for Triton (libtriton_<name>.so):
  // inferd's libtritonserver.so. Empty: such backends are refused.
  std::string triton_adapter;
  bool auto_complete = true;
  bool exit_on_error = false;     // Start() fails when any model fails to load
  bool strict_readiness = true;   // ready only when every model is READY
  int repository_poll_secs = 15;  // poll mode: seconds between scans
  int model_load_threads = 4;     // models loaded at once at start
  int model_load_retries = 0;     // --model-load-retry-count: more tries after a failed load
  int gpu_count = 0;
  uint64_t cache_bytes = 0;       // --cache-config local,size=N; 0 = no response cache
  bool latency_summaries = false; // --metrics-config summary_latencies=true
  bool rate_limit = false;        // --rate-limit=execution_count
  std::vector<RateLimitResourceFlag> rate_limit_resources;  // --rate-limit-resource
  BackendConfigMap backend_config;  // --backend-config
  // --model-config-name: models read <model>/configs/<name>.pbtxt when it
  // exists, config.pbtxt otherwise.
  std::string model_config_name;
  // --model-load-max-override-size: the most bytes one load request may
  // bring in its 'config' and 'file:' parameters together.
  uint64_t max_override_bytes = 256ull << 20;
  TraceSettings trace;  // --trace-config and the deprecated --trace-* flags
};

// One row of the repository index.
struct ModelIndexEntry {
  std::string name;
  std::string version;  // empty when no version is loaded
  std::string state;    // READY, LOADING, UNLOADING, UNAVAILABLE; empty: never asked to load
  std::string reason;   // why the last load failed, or "unloaded"
};

// What a load request may replace (Triton's load parameters).
struct LoadOverrides {
  std::string config_json;                   // a whole config, instead of config.pbtxt
  std::map<std::string, std::string> files;  // "<version>/<file>" -> content
  // Unload only: an ensemble's composing models go too, unless loaded on
  // their own or still used by another ensemble.
  bool unload_dependents = false;
};

class Server : public ServingModels {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Loads the models the control mode asks for (in parallel). A model that
  // fails is logged and listed UNAVAILABLE with its reason; the others serve.
  // Fails only when nothing can work (no repository) or --exit-on-error.
  // In poll mode it also starts the polling thread.
  Status Start();
  // Unloads every model: queued requests are answered first.
  void Stop();

  bool Live() const { return live_; }
  bool Ready() const;
  const ServerOptions& options() const { return options_; }

  // Loads `name`, or reloads it: the new versions are built beside the old
  // ones and take over only once READY; the old ones answer what they had
  // accepted, then go. A failed reload leaves the old versions serving (the
  // index shows why). Only in explicit mode from outside (Triton's rule). A
  // name no repository holds loads from the overrides' config and files
  // alone, as on Triton (at most kMaxOverrideOnlyModels such at once).
  Status LoadModel(const std::string& name, const LoadOverrides& overrides = {});
  // Stops serving `name`; what it accepted is still answered. With
  // `unload_dependents`, an ensemble's composing models that were loaded only
  // for it (and serve no other ensemble) are unloaded too, as on Triton. An
  // ensemble that composes `name` stops serving too (UNAVAILABLE, naming it).
  Status UnloadModel(const std::string& name, bool unload_dependents = false);
  // Poll mode: loads new and changed models, unloads removed ones.
  void PollRepositories();

  // The same on the lifecycle thread, for frontends whose threads must not
  // block: `done` is called once with the result, on that thread. Refused
  // unless the control mode is explicit.
  using LifecycleDone = std::function<void(const Status&)>;
  void LoadModelAsync(const std::string& name, LoadOverrides overrides, LifecycleDone done);
  void UnloadModelAsync(const std::string& name, bool unload_dependents, LifecycleDone done);

  // The same, asked by a backend (InferdCoreApi.ModelLoad / ModelUnload:
  // Triton's pb_utils.load_model / unload_model), with the same rules, but
  // each on a thread of its own: a model may ask from its initialize, which
  // runs inside a load, on the lifecycle thread, which would wait for
  // itself. At most kMaxBackendControls at once (more are refused); Stop()
  // waits for them. `done` runs once, on that thread or, for a refusal, here.
  static constexpr size_t kMaxBackendControls = 8;
  void LoadModelForBackend(const std::string& name, LoadOverrides overrides, LifecycleDone done);
  void UnloadModelForBackend(const std::string& name, bool unload_dependents, LifecycleDone done);

  // The given version, or the highest loaded one for version -1.
  Status GetModel(const std::string& name, int64_t version, std::shared_ptr<Model>* out) const override;
  // Every loaded version of `name` ("" = every model), by name then version.
  std::vector<std::shared_ptr<Model>> LoadedModels(const std::string& name = "") const;
  std::vector<ModelIndexEntry> RepositoryIndex() const;
  // The server's response cache, or null without --cache-config.
  const ResponseCache* cache() const { return cache_.get(); }
  // Registered system shared memory regions (both frontends share them).
  SharedMemoryManager& shared_memory() { return shared_memory_; }
  // Request tracing: its settings (the trace extension) and sampling.
  TraceManager& traces() { return traces_; }

  // --exit-timeout-secs ran out: answers every request still in flight in
  // any model (serving or draining) with `status`, without waiting for
  // backends. The process is about to exit.
  void FailInFlight(const Status& status);

  // Runs `request`: its on_response is called exactly once with the final
  // response (now, on error, or later from an instance thread).
  // Never throws: an exception inside becomes the request's error answer.
  void Infer(const RequestPtr& request) noexcept override;
  // Answers a request a frontend could not decode with `status` (through its
  // on_response); it counts as a failure of the model named, if loaded.
  void Reject(const RequestPtr& request, const Status& status) noexcept;

 private:
  struct ModelSlot {
    std::map<int64_t, std::shared_ptr<Model>> versions;  // serving
    std::string state;        // READY, LOADING, UNLOADING, UNAVAILABLE
    std::string reason;       // why the last load failed, or "unloaded"
    std::string fingerprint;  // poll mode: the folder as it was last loaded
    // An ensemble's composing models (the names its steps use).
    std::set<std::string> composing;
    // Loaded because an ensemble needed it, not asked for on its own.
    bool loaded_as_dependency = false;
    // An ensemble the re-check took down because a composing model went or
    // changed incompatibly: it comes back when that model serves again.
    bool down_for_composing = false;
    // Made by a load's config and files alone: no repository holds it.
    bool from_overrides_only = false;
  };
  // At most this many models made from a load's config and files alone serve
  // at once: each keeps its files on disk, and any client of the load API
  // may ask for new names.
  static constexpr size_t kMaxOverrideOnlyModels = 64;
  // Builds every version `name` serves, READY, without touching models_.
  Status BuildVersions(const std::string& name, const ModelLocation& location,
                       const LoadOverrides& overrides,
                       std::map<int64_t, std::shared_ptr<Model>>* versions);
  // Load/unload steps shared by the API, start-up and polling.
  Status LoadLocated(const std::string& name, const ModelLocation& location,
                     const LoadOverrides& overrides);
  // UnloadModel without the re-check of the ensembles that compose `name`.
  Status UnloadVersions(const std::string& name, bool unload_dependents);
  // After `changed` was loaded, reloaded or unloaded, as Triton re-evaluates
  // dependents: each serving ensemble that composes it is loaded again
  // (checked against the composing configs as they are now) when `changed`
  // serves, and otherwise, or when that check fails, stops serving
  // (UNAVAILABLE, with the reason in the index); then the ensembles that
  // compose those, at most kMaxEnsembleNesting levels up. An ensemble taken
  // down this way is tried again when `changed` serves again.
  void RecheckEnsemblesComposing(const std::string& changed, uint32_t level = 0);
  // Before an ensemble loads: loads each composing model that is not serving
  // (nested ensembles first), so the ensemble is ready only when they are.
  Status LoadComposingModels(const inference::ModelConfig& ensemble);
  // The config file a model folder uses (--model-config-name or config.pbtxt).
  std::string ConfigPath(const std::string& model_dir) const;
  // True when the model's config says platform "ensemble" (start-up loads
  // those after every other model).
  bool IsEnsemble(const ModelLocation& location) const;
  void SetState(const std::string& name, const std::string& state, const std::string& reason);
  // Shuts models down on the retire thread once they answered what they had.
  void Retire(std::vector<std::shared_ptr<Model>> models);
  // The retire thread: shuts down retired models one batch at a time, in order.
  void RetireLoop();
  // The lifecycle thread: runs queued load/unload jobs one at a time and, in
  // poll mode, scans the repositories every repository_poll_secs.
  void LifecycleLoop();
  void Submit(std::function<Status()> job, LifecycleDone done);
  // Whether a model no repository holds may be made from a load's files.
  Status OverrideOnlyModelAllowed(const std::string& name) const;
  // Load and unload need --model-control-mode=explicit: Triton's refusal otherwise.
  Status ExplicitControlAllowed(const std::string& name, const char* verb) const;
  // Runs `job` then `done` on a thread of its own (LoadModelForBackend).
  void RunForBackend(std::function<Status()> job, LifecycleDone done);
  // The checks of a load or unload, then its job to `run` (Submit or RunForBackend).
  using JobRunner = void (Server::*)(std::function<Status()>, LifecycleDone);
  void StartLoad(const std::string& name, LoadOverrides overrides, LifecycleDone done, JobRunner run);
  void StartUnload(const std::string& name, bool unload_dependents, LifecycleDone done, JobRunner run);
  // Waits for what RunForBackend started; later ones are refused.
  void StopBackendControls();
  static void RespondAfterException(const RequestPtr& request, const char* what) noexcept;
  // Runs a load/unload/poll step; an exception it throws (bad_alloc, a bug)
  // becomes that step's error instead of ending the process.
  static Status RunLifecycleJob(const std::function<Status()>& job) noexcept;

  ServerOptions options_;
  // The s3:// repositories, mirrored into local folders that options_.repositories
  // names in their place (declared early: the mirrors go after every model).
  std::vector<std::unique_ptr<storage::RemoteRepository>> remotes_;
  std::mutex remotes_mu_;  // one sync at a time
  // Brings every mirror up to date with its bucket; a failure is logged and
  // the mirror keeps what it had (a model keeps serving what it loaded).
  void SyncRemoteRepositories();
  BackendRegistry backends_;
  std::unique_ptr<ResponseCache> cache_;  // null without --cache-config
  std::unique_ptr<RateLimiter> rate_limiter_;  // null without --rate-limit=execution_count
  std::atomic<bool> live_{false};
  SharedMemoryManager shared_memory_;
  TraceManager traces_;

  mutable std::shared_mutex mu_;
  std::map<std::string, ModelSlot> models_;  // guarded by mu_

  // One thread retires models (a reload or unload costs no thread of its
  // own); it drains what was queued when Stop() ends it.
  std::mutex retire_mu_;
  std::condition_variable retire_cv_;
  std::deque<std::vector<std::shared_ptr<Model>>> retire_queue_;  // guarded by retire_mu_
  bool retire_stopping_ = false;                                  // guarded by retire_mu_
  std::thread retire_thread_;

  // Every model version built and not yet destroyed, serving or draining:
  // what FailInFlight reaches.
  std::mutex all_models_mu_;
  std::vector<std::weak_ptr<Model>> all_models_;  // guarded by all_models_mu_

  // Load and unload asked through the API run on lifecycle_thread_ only
  // (after Start), one at a time; those a model asks for run beside them, on
  // threads of their own (RunForBackend), as the start-up loaders do.
  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::pair<std::function<Status()>, LifecycleDone>> jobs_;  // guarded by jobs_mu_
  bool stopping_ = false;                                                // guarded by jobs_mu_
  std::thread lifecycle_thread_;

  // The threads of backends' loads and unloads (RunForBackend).
  struct BackendControl {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::mutex backend_controls_mu_;
  std::vector<BackendControl> backend_controls_;  // guarded by backend_controls_mu_
  bool backend_controls_stopping_ = false;        // guarded by backend_controls_mu_
};

}  // namespace inferd
