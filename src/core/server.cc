#include "core/server.h"

#include <filesystem>
#include <set>

#include "common/logging.h"
#include "core/core_api.h"
#include "core/model_config_parse.h"
#include "core/model_config_validate.h"
#include "core/model_repository.h"

namespace inferd {
namespace fs = std::filesystem;
namespace {

// Without `platform` or `backend`, the model file in a version folder names
// the backend (what Triton's auto-complete does for a bare model folder).
std::string GuessBackend(const std::string& model_dir, const std::vector<int64_t>& versions) {
  static const std::pair<const char*, const char*> kFiles[] = {
      {"model.onnx", "onnxruntime"}, {"model.pt", "pytorch"},
      {"model.py", "python"},        {"model.plan", "tensorrt"}};
  for (int64_t v : versions) {
    for (const auto& [file, backend] : kFiles) {
      if (fs::exists(fs::path(model_dir) / std::to_string(v) / file)) return backend;
    }
  }
  return "";
}

}  // namespace

Server::Server(ServerOptions options) : options_(std::move(options)), backends_(CoreApi()) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  if (options_.repositories.empty()) {
    return Status::InvalidArg("at least one --model-repository is required");
  }
  for (const auto& repo : options_.repositories) {
    if (!fs::is_directory(repo)) {
      return Status::InvalidArg("model repository '" + repo + "' is not a directory");
    }
  }
  RepositoryScan scan = ScanRepositories(options_.repositories);
  std::set<std::string> wanted;
  bool all = options_.control_mode != ModelControlMode::kExplicit;
  for (const auto& name : options_.load_models) {
    if (name == "*") all = true;
    else wanted.insert(name);
  }
  bool any_failed = false;
  for (const auto& [name, reason] : scan.conflicts) {
    if (!all && !wanted.count(name)) continue;
    LOG_ERROR("{}", reason);
    std::unique_lock lock(mu_);
    models_[name].reason = reason;
    any_failed = true;
  }
  for (const auto& name : wanted) {
    if (!scan.models.count(name) && !scan.conflicts.count(name)) {
      const std::string reason = "model '" + name + "' (--load-model) is not in any model repository";
      LOG_ERROR("{}", reason);
      std::unique_lock lock(mu_);
      models_[name].reason = reason;
      any_failed = true;
    }
  }
  for (const auto& [name, location] : scan.models) {
    if (!all && !wanted.count(name)) continue;
    ModelSlot slot;
    Status st = LoadModel(name, location, &slot);
    if (!st.ok()) {
      LOG_ERROR("failed to load model '{}': {}", name, st.message());
      slot.reason = st.message();
      any_failed = true;
    }
    std::unique_lock lock(mu_);
    models_[name] = std::move(slot);
  }
  if (any_failed && options_.exit_on_error) {
    return Status::Unavailable("failed to load all models (--exit-on-error)");
  }
  live_ = true;
  return Status::Ok();
}

Status Server::LoadModel(const std::string& name, const ModelLocation& location,
                         ModelSlot* slot) {
  ConfigContext ctx{name, location.path, options_.gpu_count};
  inference::ModelConfig config;
  const std::string config_path = (fs::path(location.path) / "config.pbtxt").string();
  const std::vector<int64_t> available = ListVersionFolders(location.path);
  if (fs::exists(config_path)) {
    INFERD_RETURN_IF_ERROR(ReadModelConfigFile(config_path, &config));
  } else if (!options_.auto_complete) {
    return Status::NotFound("model '" + name + "' has no config.pbtxt in " + location.path +
                            " and auto-complete is disabled");
  }
  if (config.platform().empty() && config.backend().empty()) {
    config.set_backend(GuessBackend(location.path, available));
  }
  INFERD_RETURN_IF_ERROR(NormalizeModelConfig(ctx, &config));
  INFERD_RETURN_IF_ERROR(ValidateModelConfig(ctx, config));

  const std::vector<int64_t> versions = SelectVersions(config.version_policy(), available);
  if (versions.empty()) {
    return Status::NotFound("model '" + name + "' has no version folder that its version_policy "
                            "selects in " + location.path);
  }
  for (int64_t v : versions) {
    ModelLoadSpec spec{ctx, v, config, options_.backend_directory, options_.auto_complete};
    std::shared_ptr<Model> model;
    INFERD_RETURN_IF_ERROR(Model::Load(spec, &backends_, &model));
    slot->versions[v] = std::move(model);
  }
  return Status::Ok();
}

void Server::Stop() {
  live_ = false;
  std::map<std::string, ModelSlot> models;
  {
    std::unique_lock lock(mu_);
    models.swap(models_);
  }
  for (auto& [name, slot] : models)
    for (auto& [v, model] : slot.versions) model->Shutdown();
}

bool Server::Ready() const {
  if (!live_) return false;
  if (!options_.strict_readiness) return true;
  std::shared_lock lock(mu_);
  for (const auto& [name, slot] : models_)
    if (slot.versions.empty() || !slot.reason.empty()) return false;
  return true;
}

Status Server::GetModel(const std::string& name, int64_t version,
                        std::shared_ptr<Model>* out) const {
  std::shared_lock lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end() || it->second.versions.empty()) {
    if (it != models_.end()) {
      return Status::Unavailable("model '" + name + "' is not ready: " + it->second.reason);
    }
    return Status::NotFound("Request for unknown model: '" + name + "' is not found");
  }
  const auto& versions = it->second.versions;
  if (version < 0) {
    *out = versions.rbegin()->second;
    return Status::Ok();
  }
  auto v = versions.find(version);
  if (v == versions.end()) {
    return Status::NotFound("Request for unknown model: '" + name + "' version " +
                            std::to_string(version) + " is not found");
  }
  *out = v->second;
  return Status::Ok();
}

std::vector<std::shared_ptr<Model>> Server::LoadedModels(const std::string& name) const {
  std::vector<std::shared_ptr<Model>> out;
  std::shared_lock lock(mu_);
  for (const auto& [n, slot] : models_) {
    if (!name.empty() && n != name) continue;
    for (const auto& [v, model] : slot.versions) out.push_back(model);
  }
  return out;
}

std::vector<ModelIndexEntry> Server::RepositoryIndex() const {
  std::vector<ModelIndexEntry> out;
  std::set<std::string> listed;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, slot] : models_) {
      listed.insert(name);
      if (slot.versions.empty()) {
        out.push_back({name, "", "UNAVAILABLE", slot.reason});
        continue;
      }
      for (const auto& [v, model] : slot.versions) out.push_back({name, std::to_string(v), "READY", ""});
    }
  }
  // Models in the repositories that were not asked to load (explicit mode).
  for (const auto& [name, location] : ScanRepositories(options_.repositories).models) {
    if (!listed.count(name)) out.push_back({name, "", "", ""});
  }
  return out;
}

void Server::Infer(const RequestPtr& request) {
  if (!live_) return request->RespondError(Status::Unavailable("inferd is shutting down"));
  std::shared_ptr<Model> model;
  Status st = GetModel(request->model_name, request->model_version, &model);
  if (st.ok()) st = model->Enqueue(request);
  if (!st.ok()) request->RespondError(st);
}

}  // namespace inferd
