#include "core/model_overrides.h"

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/logging.h"

namespace inferd {
namespace fs = std::filesystem;

namespace {

// "libx.so", "libx.so.1", "libx.so.1.2": what the dynamic loader would open.
bool NamesSharedLibrary(const fs::path& path) {
  const std::string name = path.filename().string();
  const size_t so = name.find(".so");
  if (so == std::string::npos) return false;
  const size_t rest = so + 3;
  if (rest == name.size()) return true;
  if (name[rest] != '.') return false;
  for (size_t i = rest; i < name.size(); ++i) {
    if (name[i] != '.' && (name[i] < '0' || name[i] > '9')) return false;
  }
  return true;
}

}  // namespace

Status CheckOverrideIsData(const std::string& path, const std::string& content) {
  const fs::path rel(path);
  bool inside = !rel.empty() && rel.is_relative();
  for (const auto& part : rel) inside = inside && part != ".." && part != "." && !part.empty();
  if (!inside) {
    return Status::InvalidArg("file override 'file:" + path +
                              "' must be a relative path inside the model folder");
  }
  if (NamesSharedLibrary(rel) || (content.size() >= 4 && std::memcmp(content.data(), "\x7f" "ELF", 4) == 0)) {
    return Status::InvalidArg("file override 'file:" + path +
                              "' is a shared library: a load request may carry model files, never "
                              "code (backends are loaded only from --backend-directory or the "
                              "model repository on disk)");
  }
  return Status::Ok();
}

Status CheckOverrideSize(const std::string& model_name, const std::string& config_json,
                         const std::map<std::string, std::string>& files, uint64_t max_bytes) {
  uint64_t total = config_json.size();
  for (const auto& [path, content] : files) total += path.size() + content.size();
  if (total > max_bytes) {
    return Status::ResourceExhausted("load of model '" + model_name + "': its parameters hold " +
                                     std::to_string(total) + " bytes, more than the limit of " +
                                     std::to_string(max_bytes) + " (--model-load-max-override-size)");
  }
  return Status::Ok();
}

Status OverrideFolder::Write(const std::string& model_name, const std::map<std::string, std::string>& files,
                             std::shared_ptr<OverrideFolder>* out) {
  for (const auto& [path, content] : files) INFERD_RETURN_IF_ERROR(CheckOverrideIsData(path, content));
  // mkdtemp: a fresh folder only this process can write (0700), under a
  // name no one can guess in advance.
  std::string pattern = (fs::temp_directory_path() / "inferd-override-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status::Internal("cannot create a folder for the file overrides of model '" + model_name +
                            "' under " + fs::temp_directory_path().string() + ": " + std::strerror(errno));
  }
  std::shared_ptr<OverrideFolder> folder(new OverrideFolder());
  folder->root_ = pattern;  // removed by the destructor from here on, on every path
  folder->model_dir_ = (fs::path(pattern) / model_name).string();
  std::error_code ec;
  fs::create_directories(folder->model_dir_, ec);
  if (ec) return Status::Internal("cannot create " + folder->model_dir_ + ": " + ec.message());
  for (const auto& [path, content] : files) {
    const fs::path target = fs::path(folder->model_dir_) / path;
    fs::create_directories(target.parent_path(), ec);
    errno = 0;
    std::ofstream file(target, std::ios::binary | std::ios::trunc);
    const int open_errno = file.is_open() ? 0 : errno;
    file.write(content.data(), static_cast<std::streamsize>(content.size()));
    file.close();
    if (ec || !file) {
      // Triton answers INTERNAL "failed to poll from model repository" here
      // (a name longer than the file system allows, say); its clients check that.
      const std::string why = ec ? ec.message() : open_errno != 0 ? std::strerror(open_errno) : "write failed";
      return Status::Internal("failed to poll from model repository: cannot write file override '" + path +
                              "' of model '" + model_name + "': " + why);
    }
  }
  *out = std::move(folder);
  return Status::Ok();
}

OverrideFolder::~OverrideFolder() {
  std::error_code ec;
  fs::remove_all(root_, ec);
  if (ec) LOG_WARNING("cannot remove the file overrides in {}: {}", root_, ec.message());
}

}  // namespace inferd
