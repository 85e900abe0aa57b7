// The shared memory manager and how a request uses it: every offset and size
// a client sends is checked against the registered window and the object
// behind it; a region stays mapped while a request holds it.
#include "core/shared_memory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <limits>

#include "core/inference_request.h"

namespace inferd {
namespace {

// A POSIX shared-memory object for one test, unlinked at the end.
class ShmObject {
 public:
  explicit ShmObject(size_t size) {
    key_ = "/inferd_unit_" + std::to_string(getpid()) + "_" + std::to_string(counter_++);
    fd_ = shm_open(key_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(ftruncate(fd_, static_cast<off_t>(size)), 0);
  }
  ~ShmObject() {
    close(fd_);
    shm_unlink(key_.c_str());
  }
  const std::string& key() const { return key_; }
  void Resize(size_t size) { ASSERT_EQ(ftruncate(fd_, static_cast<off_t>(size)), 0); }
  void Write(size_t offset, const void* data, size_t size) {
    ASSERT_EQ(pwrite(fd_, data, size, static_cast<off_t>(offset)), static_cast<ssize_t>(size));
  }

 private:
  static inline int counter_ = 0;
  std::string key_;
  int fd_ = -1;
};

TEST(SharedMemory, RegisterChecksKeySizesAndNames) {
  ShmObject object(8192);
  SharedMemoryManager m;
  EXPECT_TRUE(m.Register("a", object.key(), 0, 8192).ok());
  EXPECT_EQ(m.Register("a", object.key(), 0, 16).code(), Status::Code::kAlreadyExists);
  EXPECT_TRUE(m.Register("b", object.key(), 4097, 100).ok());  // offset not page aligned
  EXPECT_FALSE(m.Register("c", object.key(), 8000, 193).ok());  // past the end
  EXPECT_FALSE(m.Register("c", object.key(), 8, std::numeric_limits<uint64_t>::max()).ok());
  EXPECT_FALSE(m.Register("c", object.key(), std::numeric_limits<uint64_t>::max(), 8).ok());
  EXPECT_FALSE(m.Register("c", object.key(), 0, 0).ok());
  EXPECT_FALSE(m.Register("", object.key(), 0, 8).ok());
  EXPECT_FALSE(m.Register("c", "/inferd_unit_missing", 0, 8).ok());
  for (const char* bad : {"", "/", "/a/b", "..", "/..", "/.", "/etc/passwd"}) {
    Status st = m.Register("c", bad, 0, 8);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArg) << bad;
  }
  EXPECT_FALSE(m.Register("\xff", object.key(), 0, 8).ok());  // not UTF-8

  std::vector<SharedMemoryRegionInfo> all;
  ASSERT_TRUE(m.GetStatus("", &all).ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].name, "b");
  EXPECT_EQ(all[1].offset, 4097u);
  std::vector<SharedMemoryRegionInfo> none;
  EXPECT_EQ(m.GetStatus("zzz", &none).code(), Status::Code::kNotFound);
}

TEST(SharedMemory, SliceStaysInsideTheWindow) {
  ShmObject object(8192);
  const char text[] = "window";
  object.Write(4097 + 10, text, sizeof text);
  SharedMemoryManager m;
  ASSERT_TRUE(m.Register("w", object.key(), 4097, 100).ok());
  std::shared_ptr<const SharedMemoryRegion> region;
  ASSERT_TRUE(m.Find("w", &region).ok());
  char* data = nullptr;
  ASSERT_TRUE(region->Slice(10, sizeof text, "input 'X'", &data).ok());
  EXPECT_STREQ(data, "window");
  EXPECT_TRUE(region->Slice(0, 100, "x", &data).ok());
  EXPECT_TRUE(region->Slice(100, 0, "x", &data).ok());
  EXPECT_FALSE(region->Slice(1, 100, "x", &data).ok());
  EXPECT_FALSE(region->Slice(101, 0, "x", &data).ok());
  EXPECT_FALSE(region->Slice(8, std::numeric_limits<uint64_t>::max() - 4, "x", &data).ok());
  Status st = region->Slice(std::numeric_limits<uint64_t>::max(), 2, "input 'X'", &data);
  EXPECT_NE(st.message().find("input 'X'"), std::string::npos) << st.message();
  EXPECT_EQ(m.Find("nope", &region).code(), Status::Code::kInvalidArg);
}

TEST(SharedMemory, ShrunkObjectIsReportedInsteadOfTouched) {
  ShmObject object(3 * 4096);
  SharedMemoryManager m;
  ASSERT_TRUE(m.Register("s", object.key(), 0, 3 * 4096).ok());
  std::shared_ptr<const SharedMemoryRegion> region;
  ASSERT_TRUE(m.Find("s", &region).ok());
  object.Resize(4096);
  char* data = nullptr;
  EXPECT_TRUE(region->Slice(0, 4096, "x", &data).ok());  // still there
  Status st = region->Slice(4096, 16, "x", &data);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("now has 4096 bytes"), std::string::npos) << st.message();
}

TEST(SharedMemory, UnregisterKeepsHeldRegionsMapped) {
  ShmObject object(4096);
  SharedMemoryManager m;
  ASSERT_TRUE(m.Register("h", object.key(), 0, 4096).ok());
  std::shared_ptr<const SharedMemoryRegion> held;
  ASSERT_TRUE(m.Find("h", &held).ok());
  m.UnregisterAll();
  std::shared_ptr<const SharedMemoryRegion> again;
  EXPECT_FALSE(m.Find("h", &again).ok());
  char* data = nullptr;
  ASSERT_TRUE(held->Slice(0, 4, "x", &data).ok());
  std::memcpy(data, "abc", 4);  // still mapped: no fault
  EXPECT_TRUE(m.Register("h", object.key(), 0, 4096).ok());  // the name is free again
}

TEST(SharedMemory, RequestReadsInputsAndWritesOutputs) {
  ShmObject object(4096);
  const float values[3] = {1.5f, -2.0f, 3.25f};
  object.Write(5, values, sizeof values);
  SharedMemoryManager m;
  ASSERT_TRUE(m.Register("io", object.key(), 0, 4096).ok());

  auto req = std::make_shared<InferenceRequest>();
  InputTensor& in = req->inputs.emplace_back();
  in.name = "INPUT0";
  in.datatype = INFERD_TYPE_FP32;
  in.shape = {3};
  in.shared_memory = SharedMemoryRef{"io", 5, sizeof values};
  RequestedOutput& out = req->outputs.emplace_back();
  out.name = "OUTPUT0";
  out.shared_memory = SharedMemoryRef{"io", 100, 12};
  ASSERT_TRUE(req->UsesSharedMemory());
  ASSERT_TRUE(req->AttachSharedMemory(m).ok());
  ASSERT_EQ(req->inputs[0].byte_size, sizeof values);
  EXPECT_EQ(std::memcmp(req->inputs[0].buffers[0].first, values, sizeof values), 0);

  InferenceResponse res(req);
  std::memcpy(res.AddOutput("OUTPUT0", INFERD_TYPE_FP32, {3}, 12)->data.get(), values, 12);
  ASSERT_TRUE(req->WriteSharedMemoryOutputs(&res).ok());
  EXPECT_TRUE(res.outputs[0].in_shared_memory);
  std::shared_ptr<const SharedMemoryRegion> region;
  ASSERT_TRUE(m.Find("io", &region).ok());
  char* written = nullptr;
  ASSERT_TRUE(region->Slice(100, 12, "x", &written).ok());
  EXPECT_EQ(std::memcmp(written, values, 12), 0);

  // An output larger than its window is the request's error.
  InferenceResponse big(req);
  big.AddOutput("OUTPUT0", INFERD_TYPE_FP32, {4}, 16);
  Status st = req->WriteSharedMemoryOutputs(&big);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArg);
  EXPECT_NE(st.message().find("(12 bytes) should be at least 16 bytes"), std::string::npos);
}

TEST(SharedMemory, RequestRefusesUnknownRegionsAndBadWindows) {
  ShmObject object(64);
  SharedMemoryManager m;
  ASSERT_TRUE(m.Register("r", object.key(), 0, 64).ok());
  auto unknown = std::make_shared<InferenceRequest>();
  unknown->inputs.emplace_back().shared_memory = SharedMemoryRef{"nope", 0, 4};
  EXPECT_FALSE(unknown->AttachSharedMemory(m).ok());
  auto outside = std::make_shared<InferenceRequest>();
  outside->outputs.emplace_back().shared_memory = SharedMemoryRef{"r", 60, 8};
  EXPECT_FALSE(outside->AttachSharedMemory(m).ok());
}

// Registering one object under many names must not cost a descriptor each
// (a client could otherwise use up the server's), and distinct objects are
// capped.
TEST(SharedMemory, RegionsOfOneObjectShareADescriptorAndObjectsAreCapped) {
  auto open_fds = [] {
    size_t n = 0;
    for (int fd = 0; fd < 4096; ++fd) n += fcntl(fd, F_GETFD) != -1 ? 1 : 0;
    return n;
  };
  ShmObject first(4096), second(4096), third(4096);
  SharedMemoryManager m(/*max_objects=*/2);
  const size_t before = open_fds();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(m.Register("one_" + std::to_string(i), first.key(), 0, 4096).ok());
  }
  EXPECT_EQ(m.OpenObjects(), 1u);
  EXPECT_EQ(open_fds(), before + 1);
  ASSERT_TRUE(m.Register("two", second.key(), 0, 64).ok());
  Status st = m.Register("three", third.key(), 0, 64);
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(st.message().find("2 distinct shared memory objects"), std::string::npos) << st.message();
  EXPECT_EQ(open_fds(), before + 2);  // the refused one was closed

  // A request still holding a region keeps its object (and the slot) open.
  std::shared_ptr<const SharedMemoryRegion> held;
  ASSERT_TRUE(m.Find("two", &held).ok());
  m.Unregister("two");
  EXPECT_EQ(m.Register("three", third.key(), 0, 64).code(), Status::Code::kResourceExhausted);
  held.reset();
  EXPECT_TRUE(m.Register("three", third.key(), 0, 64).ok());
  m.UnregisterAll();
  EXPECT_EQ(m.OpenObjects(), 0u);
  EXPECT_EQ(open_fds(), before);

  EXPECT_GE(SharedMemoryManager::DefaultMaxObjects(), 1u);
  EXPECT_LE(SharedMemoryManager::DefaultMaxObjects(), SharedMemoryManager::kMaxRegions);
}

// The region cap holds however the regions are spread over objects.
TEST(SharedMemory, RegionCountIsCapped) {
  ShmObject object(4096);
  SharedMemoryManager m;
  for (size_t i = 0; i < SharedMemoryManager::kMaxRegions; ++i) {
    ASSERT_TRUE(m.Register("r" + std::to_string(i), object.key(), 0, 8).ok()) << i;
  }
  Status st = m.Register("one_more", object.key(), 0, 8);
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(st.message().find("1024 regions"), std::string::npos) << st.message();
  m.Unregister("r0");
  EXPECT_TRUE(m.Register("one_more", object.key(), 0, 8).ok());
}

}  // namespace
}  // namespace inferd
