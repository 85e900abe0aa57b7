// The Python backend's tensor descriptions and the memfds that carry them:
// a description is taken only inside its memory, and the server maps only
// files the stub cannot shrink under it.
#include "../../backends/python/tensor_json.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace inferd_python {
namespace {

rapidjson::Document Parse(const char* text) {
  rapidjson::Document d;
  d.Parse(text);
  return d;
}

TEST(PythonTensorJson, TakesADescriptionInsideItsMemoryOnly) {
  TensorRef t;
  std::string error;
  auto ok = Parse(R"({"name":"x","datatype":"FP32","shape":[2,3],"offset":64,"size":24})");
  ASSERT_TRUE(ParseTensorRef(ok, 88, &t, &error)) << error;
  EXPECT_EQ(t.name, "x");
  EXPECT_EQ(t.datatype, INFERD_TYPE_FP32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(ParseTensorRef(ok, 87, &t, &error));  // one byte past the end
  for (const char* bad : {
           R"({"name":"x","datatype":"FP32","shape":[2],"offset":18446744073709551615,"size":2})",
           R"({"name":"x","datatype":"FP32","shape":[2],"offset":8,"size":18446744073709551615})",
           R"({"name":"x","datatype":"FLOAT","shape":[2],"offset":0,"size":8})",
           R"({"name":"x","datatype":"FP32","shape":[-2],"offset":0,"size":8})",
           R"({"name":"x","datatype":"FP32","shape":"2","offset":0,"size":8})",
           R"({"name":"x","datatype":"FP32","shape":[2],"offset":-1,"size":8})",
           R"(["not an object"])",
       }) {
    EXPECT_FALSE(ParseTensorRef(Parse(bad), 1 << 20, &t, &error)) << bad;
  }
  std::string many = R"({"name":"x","datatype":"FP32","offset":0,"size":4,"shape":[)";
  for (int d = 0; d < 65; ++d) many += d ? ",1" : "1";
  EXPECT_FALSE(ParseTensorRef(Parse((many + "]}").c_str()), 1 << 20, &t, &error));  // over 64 dims
}

TEST(PythonTensorJson, DataTypeNamesRoundTrip) {
  for (InferdDataType type : {INFERD_TYPE_BOOL, INFERD_TYPE_UINT8, INFERD_TYPE_INT64, INFERD_TYPE_FP16,
                              INFERD_TYPE_BF16, INFERD_TYPE_BYTES}) {
    EXPECT_EQ(DataTypeFromName(DataTypeName(type)), type);
  }
  EXPECT_EQ(DataTypeFromName("TYPE_FP32"), INFERD_TYPE_INVALID);
}

TEST(PythonTensorJson, ErrorCodesFollowTritonsTritonError) {
  for (InferdErrorCode code : {INFERD_ERROR_INTERNAL, INFERD_ERROR_NOT_FOUND, INFERD_ERROR_INVALID_ARG,
                               INFERD_ERROR_UNAVAILABLE, INFERD_ERROR_UNSUPPORTED, INFERD_ERROR_ALREADY_EXISTS,
                               INFERD_ERROR_CANCELLED}) {
    EXPECT_EQ(ErrorCodeFromTriton(TritonCodeFromError(code)), code);
  }
  EXPECT_EQ(ErrorCodeFromTriton(7), INFERD_ERROR_CANCELLED);
  EXPECT_EQ(ErrorCodeFromTriton(8), INFERD_ERROR_UNKNOWN);
  EXPECT_EQ(ErrorCodeFromTriton(-5), INFERD_ERROR_UNKNOWN);
}

int Memfd(unsigned flags, const std::string& content) {
  const int fd = memfd_create("test", MFD_CLOEXEC | flags);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  return fd;
}

TEST(PythonTensorJson, MapsOnlyFilesSealedAgainstShrinking) {
  std::string error;
  {
    ReceivedFile unsealed;
    EXPECT_FALSE(unsealed.Open(Memfd(0, "data"), &error));
    EXPECT_NE(error.find("sealed against shrinking"), std::string::npos) << error;
  }
  const int fd = Memfd(MFD_ALLOW_SEALING, "tensor bytes");
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
  ReceivedFile sealed;
  ASSERT_TRUE(sealed.Open(fd, &error)) << error;
  ASSERT_EQ(sealed.size(), 12u);
  EXPECT_EQ(std::string(sealed.data(), 12), "tensor bytes");
  EXPECT_NE(ftruncate(fd, 2), 0);  // the stub cannot shrink it now
}

TEST(PythonTensorJson, OutgoingFileHoldsWhatWasWritten) {
  OutgoingFile file;
  std::string error;
  ASSERT_TRUE(file.Create(4096, &error)) << error;
  std::memcpy(file.data() + 100, "answer", 6);
  const int fd = file.Release();
  ASSERT_GE(fd, 0);
  char back[6];
  ASSERT_EQ(pread(fd, back, 6, 100), 6);
  EXPECT_EQ(std::string(back, 6), "answer");
  close(fd);
  OutgoingFile too_big;
  EXPECT_FALSE(too_big.Create(uint64_t{1} << 40, &error));
}

}  // namespace
}  // namespace inferd_python
