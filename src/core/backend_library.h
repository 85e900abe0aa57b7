// Backend shared libraries: where they are searched, how they are opened, and
// the entry points taken from them. One BackendLibrary per file, shared by
// every model that uses it; it stays loaded until the registry goes (with the
// server), so a library is never finalized on one thread while another thread
// opens it again for a new model.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "inferd/backend.h"

namespace inferd {

// The library file for `backend` in search order, as Triton searches:
//   <model_dir>/<version>/<file>, <model_dir>/<file>, <backend_dir>/<backend>/<file>
// where <file> is `runtime` when given, else libinferd_<backend>.so and then,
// in the same folder, libtriton_<backend>.so (a backend built for Triton).
// An empty model_dir (a model made from a load's files) leaves only the last.
std::vector<std::string> BackendLibraryCandidates(const std::string& model_dir, int64_t version,
                                                  const std::string& backend,
                                                  const std::string& runtime,
                                                  const std::string& backend_dir);

class BackendLibrary {
 public:
  // dlopen()s `path`, checks the ABI version and calls InferdBackendInitialize.
  static Status Open(const std::string& path, const InferdCoreApi* api,
                     std::shared_ptr<BackendLibrary>* out);
  ~BackendLibrary();  // InferdBackendFinalize, then dlclose

  BackendLibrary(const BackendLibrary&) = delete;
  BackendLibrary& operator=(const BackendLibrary&) = delete;

  const std::string& path() const { return path_; }

  // The entry points, each a boundary: an error the backend returns becomes
  // a Status, and so does an exception that escapes it (backend.h forbids
  // throwing across the ABI; a backend that does anyway fails that call, not
  // the server). An optional entry point the backend lacks returns OK.
  Status ModelInitialize(InferdModel* model) const;
  Status ModelFinalize(InferdModel* model) const;
  Status InstanceInitialize(InferdInstance* instance) const;
  Status InstanceFinalize(InferdInstance* instance) const;
  Status InstanceExecute(InferdInstance* instance, InferdRequest** requests, uint32_t count) const;

 private:
  BackendLibrary() = default;
  std::string path_;
  void* handle_ = nullptr;
  decltype(&InferdBackendFinalize) backend_finalize_ = nullptr;
  decltype(&InferdModelInitialize) model_initialize_ = nullptr;
  decltype(&InferdModelFinalize) model_finalize_ = nullptr;
  decltype(&InferdInstanceInitialize) instance_initialize_ = nullptr;
  decltype(&InferdInstanceFinalize) instance_finalize_ = nullptr;
  decltype(&InferdInstanceExecute) instance_execute_ = nullptr;
};

// Opens each library file once and keeps it.
class BackendRegistry {
 public:
  // `triton_adapter`: the library (libtritonserver.so) that runs backends
  // built for Triton; empty when this build has none.
  explicit BackendRegistry(const InferdCoreApi* api, std::string triton_adapter = "")
      : api_(api), triton_adapter_(std::move(triton_adapter)) {}

  // The first existing candidate, opened (or the already open one), and its
  // path in `file`. A Triton backend (libtriton_*.so, or a file that needs
  // libtritonserver.so) opens the Triton adapter instead, which then loads
  // `file` itself. When none exists, the error is Triton's "unable to find
  // backend library '<file>' for model '<model>'", followed by the paths tried.
  Status Find(const std::vector<std::string>& candidates, const std::string& model,
              std::shared_ptr<BackendLibrary>* out, std::string* file);

 private:
  Status OpenOnce(const std::string& path, std::shared_ptr<BackendLibrary>* out);  // holds mu_
  const InferdCoreApi* api_;
  const std::string triton_adapter_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<BackendLibrary>> open_;  // guarded by mu_
};

// Turns an error returned through the ABI into a Status and frees it.
Status StatusFromBackendError(InferdError* error);

// Runs `call` (a call into a backend, returning InferdError*) and turns its
// error, or any exception escaping it, into a Status naming `what`.
template <typename Call>
Status CallBackend(const char* what, const std::string& library, Call&& call) noexcept {
  try {
    return StatusFromBackendError(call());
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + " of backend " + library +
                            " threw an exception (backends must not throw across the ABI): " + e.what());
  } catch (...) {
    return Status::Internal(std::string(what) + " of backend " + library +
                            " threw an exception (backends must not throw across the ABI)");
  }
}

}  // namespace inferd
