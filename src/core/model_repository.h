// The model repository on disk: <repo>/<model>/config.pbtxt and numeric
// version folders <repo>/<model>/<version>/. Several repositories may be
// given; a model name found in two of them is a conflict and that model does
// not load (Triton's rule), while every other model does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model_config.pb.h"

namespace inferd {

struct ModelLocation {
  std::string name;        // folder name
  std::string path;        // absolute <repo>/<name>
  std::string repository;  // the repository it was found in
};

struct RepositoryScan {
  std::map<std::string, ModelLocation> models;  // loadable locations by name
  std::map<std::string, std::string> conflicts; // name -> why it cannot load
};

// Lists the model folders of every repository (hidden folders skipped).
RepositoryScan ScanRepositories(const std::vector<std::string>& repositories);

// The numeric version folders of a model, ascending. Other entries are ignored.
std::vector<int64_t> ListVersionFolders(const std::string& model_dir);

// The versions `policy` selects among `available` (ascending): latest N
// (default 1), all, or the specific ones that exist.
std::vector<int64_t> SelectVersions(const inference::ModelVersionPolicy& policy,
                                    const std::vector<int64_t>& available);

// A digest of everything under `model_dir` (paths, sizes, modification
// times): it changes when a file or version folder is added, removed or edited.
std::string FolderFingerprint(const std::string& model_dir);

}  // namespace inferd
