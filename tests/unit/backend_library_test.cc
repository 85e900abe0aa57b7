#include "core/backend_library.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "core/core_api.h"

namespace inferd {
namespace {

TEST(BackendLibrary, SearchOrderIsVersionThenModelThenBackendDirectory) {
  // In each folder inferd's own backend first, then one built for Triton.
  auto c = BackendLibraryCandidates("/repo/m", 3, "onnxruntime", "", "/opt/backends");
  ASSERT_EQ(c.size(), 6u);
  EXPECT_EQ(c[0], "/repo/m/3/libinferd_onnxruntime.so");
  EXPECT_EQ(c[1], "/repo/m/3/libtriton_onnxruntime.so");
  EXPECT_EQ(c[2], "/repo/m/libinferd_onnxruntime.so");
  EXPECT_EQ(c[3], "/repo/m/libtriton_onnxruntime.so");
  EXPECT_EQ(c[4], "/opt/backends/onnxruntime/libinferd_onnxruntime.so");
  EXPECT_EQ(c[5], "/opt/backends/onnxruntime/libtriton_onnxruntime.so");
}

TEST(BackendLibrary, RuntimeNamesAnotherFile) {
  auto c = BackendLibraryCandidates("/repo/m", 1, "identity", "libcustom.so", "/b");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], "/repo/m/1/libcustom.so");
  EXPECT_EQ(c[2], "/b/identity/libcustom.so");
}

TEST(BackendLibrary, OpensTheRealIdentityBackendOnceAndShares) {
  BackendRegistry registry(CoreApi());
  auto candidates = BackendLibraryCandidates("/nonexistent/m", 1, "identity", "",
                                             INFERD_IDENTITY_BACKEND_DIR);
  std::shared_ptr<BackendLibrary> a, b;
  std::string file;
  Status st = registry.Find(candidates, "m", &a, &file);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(registry.Find(candidates, "m", &b, &file).ok());
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a->path().find("libinferd_identity.so"), std::string::npos) << a->path();
  EXPECT_EQ(file, a->path());
}

TEST(BackendLibrary, AnExceptionEscapingABackendCallBecomesAnError) {
  Status st = CallBackend("InferdInstanceExecute", "libx.so", []() -> InferdError* {
    throw std::runtime_error("boom");
  });
  ASSERT_EQ(st.code(), Status::Code::kInternal);
  EXPECT_NE(st.message().find("InferdInstanceExecute"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("boom"), std::string::npos) << st.message();
  st = CallBackend("InferdModelInitialize", "libx.so", []() -> InferdError* { throw 42; });
  EXPECT_EQ(st.code(), Status::Code::kInternal);
  // An ordinary error passes through as itself.
  st = CallBackend("InferdModelInitialize", "libx.so", [] {
    return CoreApi()->ErrorNew(INFERD_ERROR_NOT_FOUND, "no such file");
  });
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_EQ(st.message(), "no such file");
}

TEST(BackendLibrary, MissingBackendListsEveryPlaceLooked) {
  BackendRegistry registry(CoreApi());
  std::shared_ptr<BackendLibrary> lib;
  std::string file;
  Status st = registry.Find(BackendLibraryCandidates("/nope/m", 1, "ghost", "", "/nope/b"), "m", &lib, &file);
  ASSERT_FALSE(st.ok());
  // Triton's words first (its QA greps them), then where inferd looked.
  EXPECT_EQ(st.message().rfind("unable to find backend library 'libinferd_ghost.so' for model 'm'", 0), 0u)
      << st.message();
  EXPECT_NE(st.message().find("/nope/m/1/libinferd_ghost.so"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("/nope/b/ghost/libinferd_ghost.so"), std::string::npos);
}

TEST(BackendLibrary, ASharedLibraryThatIsNotABackendIsRefused) {
  std::shared_ptr<BackendLibrary> lib;
  // libz is on every machine that builds inferd; it exports no inferd entry points.
  for (const char* path : {"/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"}) {
    Status st = BackendLibrary::Open(path, CoreApi(), &lib);
    if (st.message().find("cannot open") != std::string::npos) continue;
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("is not an inferd backend"), std::string::npos) << st.message();
    return;
  }
  GTEST_SKIP() << "no libz.so.1 found to try";
}

}  // namespace
}  // namespace inferd
