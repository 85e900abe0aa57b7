#include "core/backend_library.h"

#include <dlfcn.h>

#include <filesystem>

#include "common/logging.h"
#include "core/core_api.h"

namespace inferd {
namespace fs = std::filesystem;

std::vector<std::string> BackendLibraryCandidates(const std::string& model_dir, int64_t version,
                                                  const std::string& backend,
                                                  const std::string& runtime,
                                                  const std::string& backend_dir) {
  std::vector<std::string> files;
  if (runtime.empty()) {
    files = {"libinferd_" + backend + ".so", "libtriton_" + backend + ".so"};
  } else {
    files = {runtime};
  }
  // No model folder (a model made from a load's files): only the backend directory.
  std::vector<fs::path> folders;
  if (!model_dir.empty()) folders = {fs::path(model_dir) / std::to_string(version), fs::path(model_dir)};
  if (!backend_dir.empty()) folders.push_back(fs::path(backend_dir) / backend);
  std::vector<std::string> out;
  for (const auto& folder : folders) {
    for (const auto& file : files) out.push_back((folder / file).string());
  }
  return out;
}

Status BackendLibrary::Open(const std::string& path, const InferdCoreApi* api,
                            std::shared_ptr<BackendLibrary>* out) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return Status::Unavailable("cannot open backend library " + path + ": " + dlerror());
  }
  std::shared_ptr<BackendLibrary> lib(new BackendLibrary());
  lib->path_ = path;
  lib->handle_ = handle;
  auto sym = [&](const char* name) { return dlsym(handle, name); };
  auto api_version = reinterpret_cast<decltype(&InferdBackendApiVersion)>(sym("InferdBackendApiVersion"));
  auto initialize = reinterpret_cast<decltype(&InferdBackendInitialize)>(sym("InferdBackendInitialize"));
  lib->backend_finalize_ = reinterpret_cast<decltype(&InferdBackendFinalize)>(sym("InferdBackendFinalize"));
  lib->model_initialize_ = reinterpret_cast<decltype(&InferdModelInitialize)>(sym("InferdModelInitialize"));
  lib->model_finalize_ = reinterpret_cast<decltype(&InferdModelFinalize)>(sym("InferdModelFinalize"));
  lib->instance_initialize_ =
      reinterpret_cast<decltype(&InferdInstanceInitialize)>(sym("InferdInstanceInitialize"));
  lib->instance_finalize_ =
      reinterpret_cast<decltype(&InferdInstanceFinalize)>(sym("InferdInstanceFinalize"));
  lib->instance_execute_ =
      reinterpret_cast<decltype(&InferdInstanceExecute)>(sym("InferdInstanceExecute"));
  if (!api_version || !initialize || !lib->instance_execute_) {
    lib->backend_finalize_ = nullptr;  // never initialized: do not finalize
    return Status::Unavailable("backend library " + path + " is not an inferd backend: it must "
                               "export InferdBackendApiVersion, InferdBackendInitialize and "
                               "InferdInstanceExecute");
  }
  const uint32_t wanted = api_version();
  if ((wanted >> 16) != INFERD_BACKEND_API_VERSION_MAJOR || wanted > INFERD_BACKEND_API_VERSION) {
    lib->backend_finalize_ = nullptr;
    return Status::Unavailable("backend library " + path + " needs backend API version " +
                               std::to_string(wanted >> 16) + "." + std::to_string(wanted & 0xffff) +
                               "; this server has " + std::to_string(INFERD_BACKEND_API_VERSION_MAJOR) +
                               "." + std::to_string(INFERD_BACKEND_API_VERSION_MINOR));
  }
  Status st = CallBackend("InferdBackendInitialize", path, [&] { return initialize(api); });
  if (!st.ok()) {
    lib->backend_finalize_ = nullptr;
    return st.Prefixed("backend library " + path + " failed to initialize: ");
  }
  LOG_INFO("loaded backend library {}", path);
  *out = std::move(lib);
  return Status::Ok();
}

Status BackendLibrary::ModelInitialize(InferdModel* model) const {
  if (!model_initialize_) return Status::Ok();
  return CallBackend("InferdModelInitialize", path_, [&] { return model_initialize_(model); });
}

Status BackendLibrary::ModelFinalize(InferdModel* model) const {
  if (!model_finalize_) return Status::Ok();
  return CallBackend("InferdModelFinalize", path_, [&] { return model_finalize_(model); });
}

Status BackendLibrary::InstanceInitialize(InferdInstance* instance) const {
  if (!instance_initialize_) return Status::Ok();
  return CallBackend("InferdInstanceInitialize", path_, [&] { return instance_initialize_(instance); });
}

Status BackendLibrary::InstanceFinalize(InferdInstance* instance) const {
  if (!instance_finalize_) return Status::Ok();
  return CallBackend("InferdInstanceFinalize", path_, [&] { return instance_finalize_(instance); });
}

Status BackendLibrary::InstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                       uint32_t count) const {
  return CallBackend("InferdInstanceExecute", path_,
                     [&] { return instance_execute_(instance, requests, count); });
}

BackendLibrary::~BackendLibrary() {
  if (backend_finalize_) {
    Status st = CallBackend("InferdBackendFinalize", path_, [&] { return backend_finalize_(); });
    if (!st.ok()) LOG_WARNING("backend {} finalize: {}", path_, st.message());
  }
  if (handle_) dlclose(handle_);
}

Status BackendRegistry::OpenOnce(const std::string& path, std::shared_ptr<BackendLibrary>* out) {
  if (auto it = open_.find(path); it != open_.end()) {
    *out = it->second;
    return Status::Ok();
  }
  INFERD_RETURN_IF_ERROR(BackendLibrary::Open(path, api_, out));
  open_[path] = *out;
  return Status::Ok();
}

Status BackendRegistry::Find(const std::vector<std::string>& candidates, const std::string& model,
                             std::shared_ptr<BackendLibrary>* out, std::string* file) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& path : candidates) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) continue;
    const std::string key = fs::canonical(path, ec).string();
    *file = key;
    const bool triton = fs::path(key).filename().string().rfind("libtriton_", 0) == 0;
    if (!triton) {
      Status st = OpenOnce(key, out);
      // A `runtime` file built for Triton needs libtritonserver.so, which
      // only the adapter provides.
      if (st.ok() || triton_adapter_.empty() ||
          st.message().find("libtritonserver.so") == std::string::npos) {
        return st;
      }
    }
    if (triton_adapter_.empty() || !fs::is_regular_file(triton_adapter_, ec)) {
      return Status::Unavailable("backend library " + key +
                                 " was built for Triton, and this inferd has no Triton backend adapter (" +
                                 (triton_adapter_.empty() ? std::string("none configured") : triton_adapter_ + " is missing") +
                                 ")");
    }
    return OpenOnce(fs::canonical(triton_adapter_, ec).string(), out);
  }
  std::string tried;
  for (const auto& c : candidates) tried += (tried.empty() ? "" : ", ") + c;
  const std::string first = candidates.empty() ? "" : fs::path(candidates.front()).filename().string();
  return Status::NotFound("unable to find backend library '" + first + "' for model '" + model +
                          "' (backend library not found; looked for " + tried + ")");
}

}  // namespace inferd
