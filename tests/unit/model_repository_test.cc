#include "core/model_repository.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace inferd {
namespace {
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("inferd_repo_test_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path operator/(const std::string& p) const { return path_ / p; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

inference::ModelVersionPolicy Policy(const std::string& which, std::vector<int64_t> versions = {}) {
  inference::ModelVersionPolicy p;
  if (which == "all") p.mutable_all();
  if (which == "latest") p.mutable_latest()->set_num_versions(static_cast<uint32_t>(versions[0]));
  if (which == "specific")
    for (int64_t v : versions) p.mutable_specific()->add_versions(v);
  return p;
}

TEST(VersionPolicy, SelectsLatestAllAndSpecific) {
  const std::vector<int64_t> available = {1, 2, 5, 10};
  EXPECT_EQ(SelectVersions(inference::ModelVersionPolicy(), available), (std::vector<int64_t>{10}));
  EXPECT_EQ(SelectVersions(Policy("latest", {2}), available), (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(SelectVersions(Policy("latest", {9}), available), available);
  EXPECT_EQ(SelectVersions(Policy("all"), available), available);
  EXPECT_EQ(SelectVersions(Policy("specific", {2, 3, 10}), available), (std::vector<int64_t>{2, 10}));
  EXPECT_TRUE(SelectVersions(Policy("all"), {}).empty());
}

TEST(ModelRepository, ListsNumericVersionFoldersInOrder) {
  TempDir dir;
  for (const char* v : {"10", "2", "1", "abc", "3x", ".hidden"}) fs::create_directories(dir / v);
  std::ofstream(dir / "7");  // a file, not a folder
  EXPECT_EQ(ListVersionFolders(dir.str()), (std::vector<int64_t>{1, 2, 10}));
}

TEST(ModelRepository, SameModelInTwoRepositoriesConflicts) {
  TempDir a, b;
  fs::create_directories(a / "shared");
  fs::create_directories(a / "only_a");
  fs::create_directories(b / "shared");
  fs::create_directories(b / ".git");
  RepositoryScan scan = ScanRepositories({a.str(), b.str()});
  EXPECT_EQ(scan.models.size(), 1u);
  EXPECT_TRUE(scan.models.count("only_a"));
  ASSERT_TRUE(scan.conflicts.count("shared"));
  const std::string& reason = scan.conflicts["shared"];
  EXPECT_NE(reason.find((a / "shared").string()), std::string::npos) << reason;
  EXPECT_NE(reason.find((b / "shared").string()), std::string::npos) << reason;
}

}  // namespace
}  // namespace inferd
