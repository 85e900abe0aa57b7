#include "common/file_read.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace inferd {
namespace {
namespace fs = std::filesystem;

class FileReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("inferd-file-read-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "ten.bin", std::ios::binary) << "0123456789";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FileReadTest, ReadsExactlyThePrefixAsked) {
  std::string out;
  ASSERT_TRUE(ReadFilePrefix((dir_ / "ten.bin").string(), 4, &out).ok());
  EXPECT_EQ(out, "0123");
  Status st = ReadFilePrefix((dir_ / "ten.bin").string(), 11, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("11 are needed"), std::string::npos) << st.message();
}

TEST_F(FileReadTest, WholeFileIsBounded) {
  std::string out;
  ASSERT_TRUE(ReadWholeFile((dir_ / "ten.bin").string(), 10, &out).ok());
  EXPECT_EQ(out, "0123456789");
  EXPECT_FALSE(ReadWholeFile((dir_ / "ten.bin").string(), 9, &out).ok());
}

TEST_F(FileReadTest, DevicesFifosAndFoldersAreRefusedWithoutBlocking) {
  std::string out;
  // /dev/zero would hand out bytes forever; a fifo would block on open.
  Status st = ReadFilePrefix("/dev/zero", 16, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a regular file"), std::string::npos) << st.message();
  const fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(ReadWholeFile(fifo.string(), 1 << 20, &out).ok());
  EXPECT_FALSE(ReadWholeFile(dir_.string(), 1 << 20, &out).ok());
  // A link to a device is still a device.
  fs::create_symlink("/dev/zero", dir_ / "zero.bin");
  EXPECT_FALSE(ReadFilePrefix((dir_ / "zero.bin").string(), 16, &out).ok());
  EXPECT_FALSE(ReadWholeFile((dir_ / "missing").string(), 16, &out).ok());
}

}  // namespace
}  // namespace inferd
