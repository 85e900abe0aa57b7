// The `file:` overrides of a load request (Triton's load API): files a
// client sends to stand in for the model folder's contents. They arrive over
// the network, so they are data only: model weights, labels, warmup samples.
// Never code: a shared library among them is refused, and backend libraries
// are only ever looked up in the on-disk repository and --backend-directory
// (Server::BuildVersions), never in the folder written here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"

namespace inferd {

// A folder holding a load's file overrides, removed from disk when the last
// model version built from it is gone (unloaded, replaced, failed to load,
// or the server exits).
class OverrideFolder {
 public:
  // Checks every file (a relative path inside the model folder, not a shared
  // library) and writes them under a fresh temporary folder as
  // <tmp>/<model_name>/<path>.
  static Status Write(const std::string& model_name, const std::map<std::string, std::string>& files,
                      std::shared_ptr<OverrideFolder>* out);
  ~OverrideFolder();
  OverrideFolder(const OverrideFolder&) = delete;
  OverrideFolder& operator=(const OverrideFolder&) = delete;

  // <tmp>/<model_name>: the model folder the load reads files from.
  const std::string& model_dir() const { return model_dir_; }

 private:
  OverrideFolder() = default;
  std::string root_;       // removed with everything under it
  std::string model_dir_;
};

// Refuses a file override that would carry code: a name that says shared
// library (.so, .so.N) or content that is an ELF object.
Status CheckOverrideIsData(const std::string& path, const std::string& content);

// Total bytes a load request brings (config text and files); refused above
// `max_bytes` (--model-load-max-override-size).
Status CheckOverrideSize(const std::string& model_name, const std::string& config_json,
                         const std::map<std::string, std::string>& files, uint64_t max_bytes);

}  // namespace inferd
