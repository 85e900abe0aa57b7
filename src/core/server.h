// Server: the core's front door. It owns the model repository's loaded models
// and every lifecycle; frontends only call the functions below.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/backend_library.h"
#include "core/inference_request.h"
#include "core/model.h"
#include "core/model_repository.h"

namespace inferd {

enum class ModelControlMode { kNone, kPoll, kExplicit };

struct ServerOptions {
  std::string id = "inferd";
  std::vector<std::string> repositories;
  ModelControlMode control_mode = ModelControlMode::kNone;
  std::vector<std::string> load_models;  // explicit mode: names to load at start ("*" = all)
  std::string backend_directory;
  bool auto_complete = true;
  bool exit_on_error = false;     // Start() fails when any model fails to load
  bool strict_readiness = true;   // ready only when every model is READY
  int gpu_count = 0;
};

// One row of the repository index.
struct ModelIndexEntry {
  std::string name;
  std::string version;  // empty when the model has no loaded or failed version
  std::string state;    // READY, UNAVAILABLE
  std::string reason;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Loads the models the control mode asks for. A model that fails is logged
  // and listed UNAVAILABLE with its reason; the others serve. Fails only
  // when nothing can work (no repository) or --exit-on-error says so.
  Status Start();
  // Unloads every model: queued requests are answered first.
  void Stop();

  bool Live() const { return live_; }
  bool Ready() const;
  const ServerOptions& options() const { return options_; }

  // The given version, or the highest loaded one for version -1.
  Status GetModel(const std::string& name, int64_t version, std::shared_ptr<Model>* out) const;
  // Every loaded version of `name` ("" = every model), by name then version.
  std::vector<std::shared_ptr<Model>> LoadedModels(const std::string& name = "") const;
  std::vector<ModelIndexEntry> RepositoryIndex() const;

  // Runs `request`: its on_response is called exactly once with the final
  // response (now, on error, or later from an instance thread).
  void Infer(const RequestPtr& request);

 private:
  struct ModelSlot {
    std::map<int64_t, std::shared_ptr<Model>> versions;  // loaded, READY
    std::string reason;                                  // why it is not (fully) loaded
  };
  Status LoadModel(const std::string& name, const ModelLocation& location, ModelSlot* slot);

  ServerOptions options_;
  BackendRegistry backends_;
  std::atomic<bool> live_{false};
  mutable std::shared_mutex mu_;
  std::map<std::string, ModelSlot> models_;  // guarded by mu_
};

}  // namespace inferd
