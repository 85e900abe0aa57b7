#include "core/model_overrides.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace inferd {
namespace {
namespace fs = std::filesystem;

TEST(ModelOverrides, DataIsAcceptedCodeIsNot) {
  EXPECT_TRUE(CheckOverrideIsData("1/model.onnx", "\x08\x07onnx").ok());
  EXPECT_TRUE(CheckOverrideIsData("labels.txt", "cat\n").ok());
  EXPECT_TRUE(CheckOverrideIsData("1/weights.socket", "x").ok());  // ".so" inside a longer suffix
  for (const char* name : {"1/libinferd_x.so", "libx.so", "1/libx.so.1", "libx.so.1.2.3"}) {
    Status st = CheckOverrideIsData(name, "not even an ELF");
    EXPECT_FALSE(st.ok()) << name;
    EXPECT_NE(st.message().find("shared library"), std::string::npos) << st.message();
  }
  EXPECT_FALSE(CheckOverrideIsData("1/model.onnx", std::string("\x7f" "ELF\x02\x01\x01", 7)).ok());
  for (const char* path : {"../x", "/etc/passwd", "1/../../x", "./x", ""}) {
    EXPECT_FALSE(CheckOverrideIsData(path, "data").ok()) << path;
  }
}

TEST(ModelOverrides, SizeIsCapped) {
  std::map<std::string, std::string> files{{"1/a", std::string(600, 'x')}};
  EXPECT_TRUE(CheckOverrideSize("m", "{}", files, 1000).ok());
  Status st = CheckOverrideSize("m", std::string(500, ' '), files, 1000);
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(st.message().find("--model-load-max-override-size"), std::string::npos);
}

TEST(ModelOverrides, TheFolderLivesAsLongAsItsOwner) {
  std::string dir;
  {
    std::shared_ptr<OverrideFolder> folder;
    ASSERT_TRUE(OverrideFolder::Write("m", {{"1/model.onnx", "abc"}, {"labels.txt", "l"}}, &folder).ok());
    dir = folder->model_dir();
    EXPECT_EQ(fs::path(dir).filename(), "m");
    std::ifstream in(fs::path(dir) / "1" / "model.onnx");
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "abc");
    EXPECT_EQ(fs::status(fs::path(dir).parent_path()).permissions() & fs::perms::others_all, fs::perms::none);
  }
  EXPECT_FALSE(fs::exists(fs::path(dir).parent_path()));
  // A refused file writes nothing.
  std::shared_ptr<OverrideFolder> none;
  EXPECT_FALSE(OverrideFolder::Write("m", {{"1/libx.so", "x"}}, &none).ok());
  EXPECT_EQ(none, nullptr);
}

}  // namespace
}  // namespace inferd
