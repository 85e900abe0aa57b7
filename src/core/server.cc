#include "core/server.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "common/logging.h"
#include "common/malloc_tuning.h"
#include "core/core_api.h"
#include "core/model_config_parse.h"
#include "core/model_config_validate.h"
#include "core/model_overrides.h"
#include "core/scheduler/ensemble_graph.h"

namespace inferd {
namespace fs = std::filesystem;
namespace {

// At most this many load/unload requests wait for the lifecycle thread; more
// are refused (each may hold up to --model-load-max-override-size bytes).
constexpr size_t kMaxQueuedLifecycleJobs = 16;
// At most this many retired version sets wait for the retire thread.
constexpr size_t kMaxQueuedRetirements = 2;

}  // namespace

const std::vector<std::string>& ServerExtensions() {
  static const std::vector<std::string> kExtensions = {
      "classification", "binary_tensor_data", "model_repository", "model_configuration",
      "statistics", "sequence", "schedule_policy", "logging", "system_shared_memory", "trace"};
  return kExtensions;
}

Server::Server(ServerOptions options)
    : options_(std::move(options)), backends_(CoreApi(), options_.triton_adapter), traces_(options_.trace) {
  if (options_.cache_bytes > 0) cache_ = std::make_unique<ResponseCache>(options_.cache_bytes);
  if (options_.rate_limit) rate_limiter_ = std::make_unique<RateLimiter>(options_.rate_limit_resources);
  retire_thread_ = std::thread([this] { RetireLoop(); });
  SetInProcessServer(this);
}

Server::~Server() {
  Stop();
  ClearInProcessServer(this);
}

Status Server::RunLifecycleJob(const std::function<Status()>& job) noexcept {
  try {
    return job();
  } catch (const std::exception& e) {
    LOG_ERROR("model load/unload failed: {}", e.what());
    return Status::Internal(std::string("model load/unload failed: ") + e.what());
  } catch (...) {
    LOG_ERROR("model load/unload failed with an unknown exception");
    return Status::Internal("model load/unload failed with an unknown exception");
  }
}

Status Server::Start() {
  if (options_.repositories.empty()) {
    return Status::InvalidArg("at least one --model-repository is required");
  }
  for (auto& repo : options_.repositories) {
    if (!storage::IsRemoteRepository(repo)) continue;
    if (repo.rfind("s3://", 0) != 0) {
      return Status::Unsupported("model repository '" + repo +
                                 "': only s3:// (S3 and S3-compatible) object storage is supported");
    }
    std::unique_ptr<storage::RemoteRepository> remote;
    INFERD_RETURN_IF_ERROR(storage::RemoteRepository::Open(repo, &remote));
    INFERD_RETURN_IF_ERROR(remote->Sync());
    LOG_INFO("model repository {} is mirrored in {}", repo, remote->local_path());
    repo = remote->local_path();
    remotes_.push_back(std::move(remote));
  }
  for (const auto& repo : options_.repositories) {
    if (!fs::is_directory(repo)) {
      return Status::InvalidArg("model repository '" + repo + "' is not a directory");
    }
  }
  const RepositoryScan scan = ScanRepositories(options_.repositories);
  std::set<std::string> wanted;
  bool all = options_.control_mode != ModelControlMode::kExplicit;
  for (const auto& name : options_.load_models) {
    if (name == "*") all = true;
    else wanted.insert(name);
  }
  std::atomic<bool> any_failed{false};
  for (const auto& [name, reason] : scan.conflicts) {
    if (!all && !wanted.count(name)) continue;
    LOG_ERROR("{}", reason);
    SetState(name, "UNAVAILABLE", reason);
    any_failed = true;
  }
  for (const auto& name : wanted) {
    if (!scan.models.count(name) && !scan.conflicts.count(name)) {
      const std::string reason = "model '" + name + "' (--load-model) is not in any model repository";
      LOG_ERROR("{}", reason);
      SetState(name, "UNAVAILABLE", reason);
      any_failed = true;
    }
  }
  // Load in parallel: --model-load-thread-count threads take models in turn.
  // Ensembles wait until the models they compose are loaded.
  std::vector<const ModelLocation*> to_load, ensembles;
  for (const auto& [name, location] : scan.models)
    if (all || wanted.count(name)) (IsEnsemble(location) ? ensembles : to_load).push_back(&location);
  std::atomic<size_t> next{0};
  auto loader = [&] {
    for (size_t i; (i = next++) < to_load.size();) {
      const ModelLocation& location = *to_load[i];
      if (!RunLifecycleJob([&] { return LoadLocated(location.name, location, {}); }).ok()) any_failed = true;
    }
  };
  std::vector<std::thread> loaders;
  const size_t threads = std::min<size_t>(std::max(1, options_.model_load_threads), to_load.size());
  for (size_t t = 1; t < threads; ++t) loaders.emplace_back(loader);
  loader();
  for (auto& t : loaders) t.join();
  // Then the ensembles, one at a time (each loads what it composes and is
  // not loaded yet, such as another ensemble, first).
  for (const ModelLocation* location : ensembles) {
    {
      std::shared_lock lock(mu_);
      auto slot = models_.find(location->name);
      if (slot != models_.end() && !slot->second.state.empty()) continue;  // an ensemble before it loaded it
    }
    if (!RunLifecycleJob([&] { return LoadLocated(location->name, *location, {}); }).ok()) any_failed = true;
  }

  if (any_failed && options_.exit_on_error) {
    return Status::Unavailable("failed to load all models (--exit-on-error)");
  }
  lifecycle_thread_ = std::thread([this] { LifecycleLoop(); });
  live_ = true;
  return Status::Ok();
}

void Server::Stop() {
  live_ = false;
  // First: a load a model asked for builds models, which the rest takes down.
  StopBackendControls();
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    stopping_ = true;
  }
  jobs_cv_.notify_all();
  if (lifecycle_thread_.joinable()) lifecycle_thread_.join();

  std::map<std::string, ModelSlot> models;
  {
    std::unique_lock lock(mu_);
    models.swap(models_);
  }
  for (auto& [name, slot] : models)
    for (auto& [v, model] : slot.versions) model->Shutdown();

  {
    std::lock_guard<std::mutex> lock(retire_mu_);
    retire_stopping_ = true;
  }
  retire_cv_.notify_all();
  if (retire_thread_.joinable()) retire_thread_.join();
}

bool Server::Ready() const {
  if (!live_) return false;
  if (!options_.strict_readiness) return true;
  std::shared_lock lock(mu_);
  for (const auto& [name, slot] : models_) {
    // An unloaded model is not expected to serve; anything else must. A
    // model whose reload failed still serves its previous versions: ready.
    if (slot.state == "UNAVAILABLE" && slot.reason == "unloaded") continue;
    if (slot.versions.empty()) return false;
  }
  return true;
}

void Server::SetState(const std::string& name, const std::string& state,
                      const std::string& reason) {
  std::unique_lock lock(mu_);
  ModelSlot& slot = models_[name];
  slot.state = state;
  slot.reason = reason;
}

std::string Server::ConfigPath(const std::string& model_dir) const {
  // --model-config-name picks <model>/configs/<name>.pbtxt where a model has
  // one, as in Triton; the others keep config.pbtxt.
  if (!options_.model_config_name.empty()) {
    const fs::path custom = fs::path(model_dir) / "configs" / (options_.model_config_name + ".pbtxt");
    if (std::error_code ec; fs::is_regular_file(custom, ec)) return custom.string();
  }
  return (fs::path(model_dir) / "config.pbtxt").string();
}

bool Server::IsEnsemble(const ModelLocation& location) const {
  const std::string path = ConfigPath(location.path);
  inference::ModelConfig config;
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ReadModelConfigFile(path, &config).ok() && config.platform() == "ensemble";
}

namespace {
// The ensembles whose composing models this thread is loading, outermost
// first: a name met twice is a cycle.
thread_local std::vector<std::string> t_ensembles_loading;
}  // namespace

Status Server::LoadComposingModels(const inference::ModelConfig& ensemble) {
  if (t_ensembles_loading.size() >= kMaxEnsembleNesting) {
    return Status::InvalidArg("ensembles nest more than " + std::to_string(kMaxEnsembleNesting) + " deep");
  }
  t_ensembles_loading.push_back(ensemble.name());
  struct Pop {
    ~Pop() { t_ensembles_loading.pop_back(); }
  } pop;
  auto chain = [](const std::string& last) {
    std::string text;
    for (const auto& n : t_ensembles_loading) text += "'" + n + "' -> ";
    return text + "'" + last + "'";
  };
  for (const std::string& name : ComposingModelNames(ensemble)) {
    if (std::find(t_ensembles_loading.begin(), t_ensembles_loading.end(), name) != t_ensembles_loading.end()) {
      return Status::InvalidArg("circular dependency between ensembles: " + chain(name));
    }
    {
      // A serving ensemble that (through others) composes this one would
      // close a cycle too.
      std::shared_lock lock(mu_);
      std::vector<std::string> todo{name};
      std::set<std::string> seen;
      while (!todo.empty()) {
        const std::string next = std::move(todo.back());
        todo.pop_back();
        if (!seen.insert(next).second) continue;
        auto slot = models_.find(next);
        if (slot == models_.end() || slot->second.versions.empty()) continue;
        for (const auto& composed : slot->second.composing) {
          if (composed == ensemble.name()) {
            return Status::InvalidArg("circular dependency between ensembles: '" + ensemble.name() + "' composes '" +
                                      name + "', which composes '" + ensemble.name() + "'");
          }
          todo.push_back(composed);
        }
      }
      auto slot = models_.find(name);
      if (slot != models_.end() && !slot->second.versions.empty()) continue;  // serving
      // Start-up already tried it and said why; a load request tries again.
      if (slot != models_.end() && slot->second.state == "UNAVAILABLE" && slot->second.reason != "unloaded" &&
          !slot->second.reason.empty() && options_.control_mode != ModelControlMode::kExplicit) {
        return Status::Unavailable("composing model '" + name + "' is not available: " + slot->second.reason);
      }
    }
    const RepositoryScan scan = ScanRepositories(options_.repositories);
    auto location = scan.models.find(name);
    if (location == scan.models.end()) {
      return Status::NotFound("composing model '" + name + "' is not in any model repository");
    }
    INFERD_RETURN_IF_ERROR(LoadLocated(name, location->second, {}).Prefixed("composing model '" + name + "': "));
    std::unique_lock lock(mu_);
    models_[name].loaded_as_dependency = true;
  }
  return Status::Ok();
}

Status Server::BuildVersions(const std::string& name, const ModelLocation& location,
                             const LoadOverrides& overrides,
                             std::map<int64_t, std::shared_ptr<Model>>* versions) {
  ConfigContext ctx{name, location.path, options_.gpu_count};
  std::shared_ptr<OverrideFolder> override_folder;
  if (!overrides.files.empty()) {
    if (overrides.config_json.empty()) {
      return Status::InvalidArg("load of model '" + name +
                                "': file overrides need a 'config' parameter too");
    }
    INFERD_RETURN_IF_ERROR(OverrideFolder::Write(name, overrides.files, &override_folder)
                               .Prefixed("load of model '" + name + "': "));
    ctx.model_dir = override_folder->model_dir();
  }
  inference::ModelConfig config;
  const std::vector<int64_t> available = ListVersionFolders(ctx.model_dir);
  const std::string config_path = ConfigPath(ctx.model_dir);
  if (!overrides.config_json.empty()) {
    INFERD_RETURN_IF_ERROR(ModelConfigFromJson(overrides.config_json, &config)
                               .Prefixed("load of model '" + name + "': 'config' parameter: "));
  } else if (fs::exists(config_path)) {
    INFERD_RETURN_IF_ERROR(ReadModelConfigFile(config_path, &config));
  } else if (!options_.auto_complete) {
    return Status::NotFound("model '" + name + "' has no config.pbtxt in " + ctx.model_dir +
                            " and auto-complete is disabled");
  }
  INFERD_RETURN_IF_ERROR(CompleteBackendFields(ctx, available, &config));
  // A Python model runs code: never code or an interpreter a client chose.
  if (config.backend() == "python" && override_folder) {
    return Status::InvalidArg("load of model '" + name + "': a Python model's files are never taken from a "
                              "load request (model.py would run code a client sent)");
  }
  if (config.backend() == "python" && !overrides.config_json.empty() &&
      config.parameters().count("EXECUTION_ENV_PATH") > 0) {
    return Status::InvalidArg("load of model '" + name + "': EXECUTION_ENV_PATH is never taken from a load "
                              "request (it names the interpreter that runs); put it in config.pbtxt");
  }
  INFERD_RETURN_IF_ERROR(NormalizeModelConfig(ctx, &config));
  INFERD_RETURN_IF_ERROR(ValidateModelConfig(ctx, config));
  if (config.platform() == "ensemble") INFERD_RETURN_IF_ERROR(LoadComposingModels(config));

  const std::vector<int64_t> selected = SelectVersions(config.version_policy(), available);
  if (selected.empty()) {
    return Status::NotFound("model '" + name + "' has no version folder that its version_policy "
                            "selects in " + ctx.model_dir);
  }
  for (int64_t v : selected) {
    // Libraries come from the repository on disk, never from the overrides.
    ModelLoadSpec spec{ctx, v, config, options_.backend_directory, options_.auto_complete, cache_.get(),
                       rate_limiter_.get(), options_.latency_summaries, location.path, override_folder,
                       &options_.backend_config, this};
    std::shared_ptr<Model> model;
    INFERD_RETURN_IF_ERROR(Model::Load(spec, &backends_, &model));
    {
      std::lock_guard<std::mutex> lock(all_models_mu_);
      std::erase_if(all_models_, [](const std::weak_ptr<Model>& m) { return m.expired(); });
      all_models_.push_back(model);
    }
    (*versions)[v] = std::move(model);
  }
  return Status::Ok();
}

Status Server::LoadLocated(const std::string& name, const ModelLocation& location,
                           const LoadOverrides& overrides) {
  const uint64_t start = NowNs();
  // Taken before building: a change made during the load is seen by the next poll.
  const std::string fingerprint = FolderFingerprint(location.path);
  {
    std::unique_lock lock(mu_);
    ModelSlot& slot = models_[name];
    if (slot.versions.empty()) slot.state = "LOADING";  // else the old versions serve meanwhile
  }
  std::map<int64_t, std::shared_ptr<Model>> fresh;
  Status st = RunLifecycleJob([&] { return BuildVersions(name, location, overrides, &fresh); });
  // --model-load-retry-count, as Triton: a load that failed is tried again
  // (a file system or device that was not ready yet), each try from scratch.
  for (int retry = 1; !st.ok() && retry <= options_.model_load_retries; ++retry) {
    LOG_WARNING("loading model '{}' failed: {}; retrying ({} of {})", name, st.message(), retry,
                options_.model_load_retries);
    fresh.clear();
    st = RunLifecycleJob([&] { return BuildVersions(name, location, overrides, &fresh); });
  }
  std::vector<std::shared_ptr<Model>> old;
  {
    std::unique_lock lock(mu_);
    ModelSlot& slot = models_[name];
    slot.fingerprint = fingerprint;
    if (st.ok()) {
      for (auto& [v, model] : slot.versions) old.push_back(model);
      slot.versions = std::move(fresh);
      slot.state = "READY";
      slot.reason.clear();
      slot.composing = ComposingModelNames(slot.versions.begin()->second->config());
      slot.loaded_as_dependency = false;  // a composing model's loader marks it after this
      slot.down_for_composing = false;
      slot.from_overrides_only = location.path.empty();
    } else {
      slot.reason = st.message();
      slot.state = slot.versions.empty() ? "UNAVAILABLE" : "READY";
    }
  }
  if (st.ok()) {
    LOG_INFO("model '{}' loaded in {} ms{}", name, (NowNs() - start) / 1000000,
             old.empty() ? "" : " (the previous versions finish what they accepted)");
  } else {
    // Triton's clients and QA tests look for "failed to load" in the answer.
    // A config asking for what this build lacks is a config this server
    // cannot take: a 400 like any other bad config, not a 501 for the load API.
    const Status::Code code = st.code() == Status::Code::kUnsupported ? Status::Code::kInvalidArg : st.code();
    if (st.message().rfind("failed to load", 0) != 0) {
      st = Status(code, "failed to load '" + name + "': " + st.message());
    } else {
      st = Status(code, st.message());
    }
    LOG_ERROR("{}{}", st.message(), old.empty() ? "" : "; the previous versions keep serving");
  }
  Retire(std::move(old));
  return st;
}

void Server::SyncRemoteRepositories() {
  std::lock_guard<std::mutex> lock(remotes_mu_);
  for (const auto& remote : remotes_) {
    if (Status st = remote->Sync(); !st.ok()) {
      LOG_ERROR("{} (the mirror keeps what it had)", st.message());
    }
  }
}

Status Server::LoadModel(const std::string& name, const LoadOverrides& overrides) {
  SyncRemoteRepositories();
  const RepositoryScan scan = ScanRepositories(options_.repositories);
  if (auto conflict = scan.conflicts.find(name); conflict != scan.conflicts.end()) {
    return Status::InvalidArg(conflict->second);
  }
  auto it = scan.models.find(name);
  if (it != scan.models.end()) {
    INFERD_RETURN_IF_ERROR(LoadLocated(name, it->second, overrides));
  } else if (overrides.files.empty()) {
    return Status::NotFound("failed to load model '" + name + "': it is not in any model repository");
  } else {
    // Triton's load of a new model from the request's config and files: its
    // folder is the one the files are written to (no library is looked for
    // outside --backend-directory: the location has no path).
    INFERD_RETURN_IF_ERROR(OverrideOnlyModelAllowed(name));
    INFERD_RETURN_IF_ERROR(LoadLocated(name, ModelLocation{name, "", ""}, overrides));
  }
  RecheckEnsemblesComposing(name);
  return Status::Ok();
}

Status Server::OverrideOnlyModelAllowed(const std::string& name) const {
  // The name becomes a folder of the override files.
  const bool plain = !name.empty() && name.size() <= 255 && name[0] != '.' &&
                     name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
  if (!plain) {
    // The name last: it may be long, and a gRPC answer quotes only the start.
    return Status::InvalidArg("failed to load a model made from a load's files: it needs a name that can be a "
                              "folder (no '/', '\\', NUL or leading '.', at most 255 bytes), not '" + name + "'");
  }
  std::shared_lock lock(mu_);
  size_t serving = 0;
  for (const auto& [other, slot] : models_) {
    if (other != name && slot.from_overrides_only && !slot.versions.empty()) ++serving;
  }
  if (serving >= kMaxOverrideOnlyModels) {
    return Status::ResourceExhausted("failed to load model '" + name + "': " + std::to_string(serving) +
                                     " models made from a load's files alone are serving, the most there may be; "
                                     "unload one first");
  }
  return Status::Ok();
}

Status Server::UnloadModel(const std::string& name, bool unload_dependents) {
  Status st = UnloadVersions(name, unload_dependents);
  RecheckEnsemblesComposing(name);
  return st;
}

void Server::RecheckEnsemblesComposing(const std::string& changed, uint32_t level) {
  if (level >= kMaxEnsembleNesting) return;
  bool serves = false;
  std::vector<std::string> dependents;
  {
    std::shared_lock lock(mu_);
    auto it = models_.find(changed);
    serves = it != models_.end() && !it->second.versions.empty();
    for (const auto& [name, slot] : models_) {
      const bool candidate = !slot.versions.empty() || (serves && slot.down_for_composing);
      if (candidate && slot.composing.count(changed) > 0) dependents.push_back(name);
    }
  }
  if (dependents.empty()) return;
  const RepositoryScan scan = serves ? ScanRepositories(options_.repositories) : RepositoryScan{};
  for (const std::string& ensemble : dependents) {
    Status st = Status::Unavailable("composing model '" + changed + "' is not serving");
    if (serves) {
      auto location = scan.models.find(ensemble);
      if (location == scan.models.end()) {
        st = Status::NotFound("ensemble '" + ensemble + "' is no longer in any model repository");
      } else {
        bool dependency = false;
        {
          std::shared_lock lock(mu_);
          auto slot = models_.find(ensemble);
          dependency = slot != models_.end() && slot->second.loaded_as_dependency;
        }
        LOG_INFO("model '{}' changed: loading ensemble '{}' again, which composes it", changed, ensemble);
        st = LoadLocated(ensemble, location->second, {});
        std::unique_lock lock(mu_);
        models_[ensemble].loaded_as_dependency = dependency;
      }
    }
    if (st.ok()) {
      RecheckEnsemblesComposing(ensemble, level + 1);  // one that was down may bring its own dependents back
      continue;
    }
    LOG_WARNING("ensemble '{}' stops serving: {}", ensemble, st.message());
    UnloadVersions(ensemble, false);
    {
      std::unique_lock lock(mu_);
      ModelSlot& slot = models_[ensemble];
      slot.state = "UNAVAILABLE";
      slot.reason = st.message();
      slot.down_for_composing = true;
    }
    RecheckEnsemblesComposing(ensemble, level + 1);
  }
}

Status Server::UnloadVersions(const std::string& name, bool unload_dependents) {
  std::vector<std::shared_ptr<Model>> old;
  std::set<std::string> composing;
  {
    std::unique_lock lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end() || it->second.versions.empty()) {
      if (it != models_.end() && it->second.state != "UNLOADING") {
        it->second.state = "UNAVAILABLE";
        it->second.reason = "unloaded";
        it->second.down_for_composing = false;  // asked to stay down
      }
      return Status::Ok();  // nothing is serving: already unloaded
    }
    for (auto& [v, model] : it->second.versions) old.push_back(model);
    it->second.versions.clear();
    it->second.down_for_composing = false;
    it->second.state = "UNLOADING";
    it->second.reason = "unloaded";
    composing = it->second.composing;
  }
  LOG_INFO("unloading model '{}'; requests it accepted are answered first", name);
  Retire(std::move(old));
  if (!unload_dependents) return Status::Ok();
  // Triton's cascade: a composing model goes when it was loaded only for
  // ensembles and no serving ensemble composes it any more.
  for (const std::string& model : composing) {
    bool keep = false;
    {
      std::shared_lock lock(mu_);
      auto slot = models_.find(model);
      keep = slot == models_.end() || slot->second.versions.empty() || !slot->second.loaded_as_dependency;
      for (const auto& [other, other_slot] : models_) {
        keep = keep || (!other_slot.versions.empty() && other_slot.composing.count(model) > 0);
      }
    }
    if (!keep) INFERD_RETURN_IF_ERROR(UnloadVersions(model, true));
  }
  return Status::Ok();
}

void Server::Retire(std::vector<std::shared_ptr<Model>> models) {
  if (models.empty()) return;
  std::unique_lock<std::mutex> lock(retire_mu_);
  retire_queue_.push_back(std::move(models));
  retire_cv_.notify_all();
  // Backpressure: reloads faster than versions drain would keep every old
  // version (its threads and sessions) alive at once. The lifecycle thread,
  // the only caller, waits here until the retire thread catches up.
  retire_cv_.wait(lock, [&] { return retire_queue_.size() <= kMaxQueuedRetirements || retire_stopping_; });
}

void Server::RetireLoop() {
  std::unique_lock<std::mutex> lock(retire_mu_);
  for (;;) {
    retire_cv_.wait(lock, [&] { return retire_stopping_ || !retire_queue_.empty(); });
    if (retire_queue_.empty()) return;  // stopping, and nothing left to retire
    std::vector<std::shared_ptr<Model>> models = std::move(retire_queue_.front());
    retire_queue_.pop_front();
    lock.unlock();
    const std::string name = models.front()->name();
    try {
      for (const auto& m : models) m->Shutdown();  // answers every queued request
      std::unique_lock slots(mu_);
      auto it = models_.find(name);
      if (it != models_.end() && it->second.state == "UNLOADING" && it->second.versions.empty()) {
        it->second.state = "UNAVAILABLE";
      }
    } catch (const std::exception& e) {
      LOG_ERROR("retiring model '{}': {}", name, e.what());
    }
    models.clear();  // the last references: versions (and their override folders) go now
    ReleaseFreeMemory();
    lock.lock();
    retire_cv_.notify_all();  // a waiting Retire may go on
  }
}

void Server::FailInFlight(const Status& status) {
  std::vector<std::shared_ptr<Model>> models;
  {
    std::lock_guard<std::mutex> lock(all_models_mu_);
    for (const auto& weak : all_models_)
      if (auto m = weak.lock()) models.push_back(std::move(m));
  }
  for (const auto& m : models) m->FailInFlight(status);
}

void Server::PollRepositories() {
  SyncRemoteRepositories();
  const RepositoryScan scan = ScanRepositories(options_.repositories);
  std::map<std::string, std::string> known;  // name -> fingerprint
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, slot] : models_) known[name] = slot.fingerprint;
  }
  for (const auto& [name, location] : scan.models) {
    // Read now, not from `known`: an ensemble loaded earlier in this pass
    // may have loaded this model already, as one it composes.
    std::string loaded_fingerprint;
    {
      std::shared_lock lock(mu_);
      if (auto slot = models_.find(name); slot != models_.end()) loaded_fingerprint = slot->second.fingerprint;
    }
    if (loaded_fingerprint.empty() || loaded_fingerprint != FolderFingerprint(location.path)) {
      if (LoadLocated(name, location, {}).ok()) RecheckEnsemblesComposing(name);
    }
  }
  for (const auto& [name, reason] : scan.conflicts) {
    UnloadModel(name);
    SetState(name, "UNAVAILABLE", reason);
  }
  for (const auto& [name, fingerprint] : known) {
    if (!scan.models.count(name) && !scan.conflicts.count(name)) {
      UnloadModel(name);  // its versions drain in the background
      std::unique_lock lock(mu_);
      models_.erase(name);  // gone from disk: gone from the index
    }
  }
}

void Server::Submit(std::function<Status()> job, LifecycleDone done) {
  Status refused = Status::Unavailable("inferd is shutting down");
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    if (!stopping_ && jobs_.size() < kMaxQueuedLifecycleJobs) {
      jobs_.emplace_back(std::move(job), std::move(done));
      jobs_cv_.notify_all();
      return;
    }
    if (!stopping_) {
      refused = Status::Unavailable("too many load/unload requests are waiting (" +
                                    std::to_string(kMaxQueuedLifecycleJobs) + "); try again later");
    }
  }
  done(refused);
}

Status Server::ExplicitControlAllowed(const std::string& name, const char* verb) const {
  if (options_.control_mode == ModelControlMode::kExplicit) return Status::Ok();
  // UNAVAILABLE with Triton's words, as its clients expect.
  return Status::Unavailable("explicit model load / unload is not allowed if polling is enabled (cannot " +
                             std::string(verb) + " model '" + name + "': that needs --model-control-mode=explicit)");
}

void Server::LoadModelAsync(const std::string& name, LoadOverrides overrides, LifecycleDone done) {
  StartLoad(name, std::move(overrides), std::move(done), &Server::Submit);
}

void Server::UnloadModelAsync(const std::string& name, bool unload_dependents, LifecycleDone done) {
  StartUnload(name, unload_dependents, std::move(done), &Server::Submit);
}

void Server::LoadModelForBackend(const std::string& name, LoadOverrides overrides, LifecycleDone done) {
  StartLoad(name, std::move(overrides), std::move(done), &Server::RunForBackend);
}

void Server::UnloadModelForBackend(const std::string& name, bool unload_dependents, LifecycleDone done) {
  StartUnload(name, unload_dependents, std::move(done), &Server::RunForBackend);
}

void Server::StartLoad(const std::string& name, LoadOverrides overrides, LifecycleDone done, JobRunner run) {
  if (Status st = ExplicitControlAllowed(name, "load"); !st.ok()) return done(st);
  Status size = CheckOverrideSize(name, overrides.config_json, overrides.files, options_.max_override_bytes);
  if (!size.ok()) return done(size);
  (this->*run)([this, name, overrides = std::move(overrides)] { return LoadModel(name, overrides); },
               std::move(done));
}

void Server::StartUnload(const std::string& name, bool unload_dependents, LifecycleDone done, JobRunner run) {
  if (Status st = ExplicitControlAllowed(name, "unload"); !st.ok()) return done(st);
  (this->*run)([this, name, unload_dependents] { return UnloadModel(name, unload_dependents); }, std::move(done));
}

void Server::RunForBackend(std::function<Status()> job, LifecycleDone done) {
  Status refused;
  {
    std::lock_guard<std::mutex> lock(backend_controls_mu_);
    // Threads that ended are joined here, so the list holds the running ones.
    for (auto it = backend_controls_.begin(); it != backend_controls_.end();) {
      if (!it->finished->load()) {
        ++it;
        continue;
      }
      it->thread.join();
      it = backend_controls_.erase(it);
    }
    if (backend_controls_stopping_) {
      refused = Status::Unavailable("inferd is shutting down");
    } else if (backend_controls_.size() >= kMaxBackendControls) {
      refused = Status::Unavailable("too many model loads and unloads asked by models are running (" +
                                    std::to_string(kMaxBackendControls) + "); try again later");
    } else {
      // Room first: once the thread runs, nothing may throw before it is listed.
      backend_controls_.reserve(backend_controls_.size() + 1);
      auto finished = std::make_shared<std::atomic<bool>>(false);
      try {
        std::thread thread([job = std::move(job), done = std::move(done), finished]() mutable {
          const Status st = RunLifecycleJob(job);
          try {
            done(st);
          } catch (...) {
            LOG_ERROR("a backend's model load/unload callback threw; its answer is lost");
          }
          finished->store(true);
        });
        backend_controls_.push_back({std::move(thread), std::move(finished)});
        return;
      } catch (const std::system_error& e) {
        refused = Status::ResourceExhausted(std::string("cannot start a thread for the model load/unload: ") +
                                            e.what());
      }
    }
  }
  done(refused);
}

void Server::StopBackendControls() {
  std::vector<BackendControl> running;
  {
    std::lock_guard<std::mutex> lock(backend_controls_mu_);
    backend_controls_stopping_ = true;
    running.swap(backend_controls_);
  }
  for (auto& control : running) control.thread.join();
}

void Server::LifecycleLoop() {
  const bool polling = options_.control_mode == ModelControlMode::kPoll;
  const auto interval = std::chrono::seconds(std::max(1, options_.repository_poll_secs));
  auto next_poll = std::chrono::steady_clock::now() + interval;
  std::unique_lock<std::mutex> lock(jobs_mu_);
  for (;;) {
    auto ready = [&] { return stopping_ || !jobs_.empty(); };
    if (polling) jobs_cv_.wait_until(lock, next_poll, ready);
    else jobs_cv_.wait(lock, ready);
    if (stopping_) break;
    if (!jobs_.empty()) {
      auto [job, done] = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      done(RunLifecycleJob(job));
      lock.lock();
    } else if (polling && std::chrono::steady_clock::now() >= next_poll) {
      lock.unlock();
      RunLifecycleJob([this] {
        PollRepositories();
        return Status::Ok();
      });
      lock.lock();
      next_poll = std::chrono::steady_clock::now() + interval;
    }
  }
  // Answer what was still queued.
  while (!jobs_.empty()) {
    auto done = std::move(jobs_.front().second);
    jobs_.pop_front();
    lock.unlock();
    done(Status::Unavailable("inferd is shutting down"));
    lock.lock();
  }
}

Status Server::GetModel(const std::string& name, int64_t version,
                        std::shared_ptr<Model>* out) const {
  std::shared_lock lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end() || it->second.versions.empty()) {
    if (it != models_.end()) {
      const std::string why = it->second.reason.empty() ? it->second.state : it->second.reason;
      return Status::Unavailable("model '" + name + "' is not ready: " + why);
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
        out.push_back({name, "", slot.state, slot.reason});
        continue;
      }
      for (const auto& [v, model] : slot.versions)
        out.push_back({name, std::to_string(v), "READY", slot.reason});
    }
  }
  // Models in the repositories that were not asked to load (explicit mode).
  for (const auto& [name, location] : ScanRepositories(options_.repositories).models) {
    if (!listed.count(name)) out.push_back({name, "", "", ""});
  }
  return out;
}

namespace {

// The first stamps of a sampled request: the frontend's reading, in
// Triton's names, then the core's start.
void StartTrace(const InferenceRequest& request) {
  RequestTrace& trace = *request.trace;
  using Frontend = InferenceRequest::Frontend;
  if (request.frontend == Frontend::kHttp) {
    trace.Stamp("HTTP_RECV_START", request.read_start_ns);
    trace.Stamp("HTTP_RECV_END", request.read_end_ns);
  } else if (request.frontend == Frontend::kGrpc) {
    trace.Stamp("GRPC_WAITREAD_START", request.read_start_ns);
    trace.Stamp("GRPC_WAITREAD_END", request.read_end_ns);
  }
  if (!request.traceparent.empty()) trace.SetTraceparent(request.traceparent);
  trace.Stamp("REQUEST_START", request.receive_ns ? request.receive_ns : NowNs());
  if (trace.tensors()) {
    for (const InputTensor& in : request.inputs) {
      trace.AddTensor("TENSOR_QUEUE_INPUT", in.name, in.datatype, in.shape, {in.buffers.data(), in.buffers.size()});
    }
  }
}

}  // namespace

void Server::Infer(const RequestPtr& request) noexcept {
  try {
    if (!live_) return request->RespondError(Status::Unavailable("inferd is shutting down"));
    Status st;
    if (request->UsesSharedMemory()) {
      st = request->AttachSharedMemory(shared_memory_);
      if (!st.ok()) return Reject(request, st);
    }
    // A reload may retire the version this request found between the lookup
    // and the enqueue; the second lookup finds its successor.
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::shared_ptr<Model> model;
      st = GetModel(request->model_name, request->model_version, &model);
      if (!st.ok()) break;
      if (attempt == 0) {  // sampled once, when the model is known
        request->trace = traces_.Sample(request->model_name);
        if (request->trace) StartTrace(*request);
      }
      st = model->Enqueue(request);
      if (st.ok() || !model->retiring()) break;
    }
    if (!st.ok()) request->RespondError(st);
  } catch (const std::exception& e) {
    RespondAfterException(request, e.what());
  }
}

void Server::Reject(const RequestPtr& request, const Status& status) noexcept {
  try {
    std::shared_ptr<Model> model;
    if (GetModel(request->model_name, request->model_version, &model).ok()) request->model = model;
    request->RespondError(status);
  } catch (const std::exception& e) {
    RespondAfterException(request, e.what());
  }
}

void Server::RespondAfterException(const RequestPtr& request, const char* what) noexcept {
  // A request answered before the exception keeps that answer (once only).
  try {
    LOG_ERROR("request to model '{}' failed: {}", request->model_name, what);
    request->RespondError(Status::Internal(std::string("the request failed: ") + what));
  } catch (...) {
    // Out of memory even for the error: nothing more can be done for it.
  }
}

}  // namespace inferd
