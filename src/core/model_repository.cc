#include "core/model_repository.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

namespace inferd {
namespace fs = std::filesystem;

RepositoryScan ScanRepositories(const std::vector<std::string>& repositories) {
  RepositoryScan scan;
  for (const auto& repo : repositories) {
    std::error_code ec;
    const fs::path root = fs::absolute(repo, ec);
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory()) continue;
      const std::string name = it->path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      ModelLocation loc{name, it->path().string(), root.string()};
      if (auto conflict = scan.conflicts.find(name); conflict != scan.conflicts.end()) {
        conflict->second += ", " + loc.path;
        continue;
      }
      auto [existing, inserted] = scan.models.emplace(name, loc);
      if (!inserted) {
        scan.conflicts[name] = "model '" + name + "' appears in more than one model repository: " +
                               existing->second.path + ", " + loc.path;
        scan.models.erase(existing);
      }
    }
  }
  return scan;
}

std::vector<int64_t> ListVersionFolders(const std::string& model_dir) {
  std::vector<int64_t> versions;
  std::error_code ec;
  for (fs::directory_iterator it(model_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory()) continue;
    const std::string name = it->path().filename().string();
    int64_t v = 0;
    auto [ptr, err] = std::from_chars(name.data(), name.data() + name.size(), v);
    if (err != std::errc() || ptr != name.data() + name.size() || v < 0) continue;
    versions.push_back(v);
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

std::vector<int64_t> SelectVersions(const inference::ModelVersionPolicy& policy,
                                    const std::vector<int64_t>& available) {
  if (policy.has_all()) return available;
  if (policy.has_specific()) {
    std::vector<int64_t> out;
    for (int64_t v : available) {
      const auto& wanted = policy.specific().versions();
      if (std::find(wanted.begin(), wanted.end(), v) != wanted.end()) out.push_back(v);
    }
    return out;
  }
  size_t n = policy.has_latest() ? std::max<uint32_t>(1, policy.latest().num_versions()) : 1;
  n = std::min(n, available.size());
  return std::vector<int64_t>(available.end() - static_cast<ptrdiff_t>(n), available.end());
}

std::string FolderFingerprint(const std::string& model_dir) {
  std::vector<std::string> entries;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(model_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code stat_ec;
    const auto mtime = fs::last_write_time(it->path(), stat_ec).time_since_epoch().count();
    const auto size = it->is_regular_file(stat_ec) ? it->file_size(stat_ec) : 0;
    entries.push_back(fs::relative(it->path(), model_dir, stat_ec).string() + ":" +
                      std::to_string(size) + ":" + std::to_string(mtime));
  }
  std::sort(entries.begin(), entries.end());
  size_t digest = 0;
  for (const auto& e : entries) digest = digest * 1000003u ^ std::hash<std::string>{}(e);
  return std::to_string(entries.size()) + "-" + std::to_string(digest);
}

}  // namespace inferd
