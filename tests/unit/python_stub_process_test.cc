// The Python backend's transport: the shared region both sides map, and a
// stub process's message exchange, with small Python scripts in place of the
// real stub (the real one is exercised by tests/integration/test_python_backend.py).
#include "../../backends/python/stub_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace inferd_python {
namespace {

namespace fs = std::filesystem;

TEST(PythonSharedRegion, GrowsAndSeesWhatTheOtherSideWrote) {
  std::unique_ptr<SharedRegion> region;
  std::string error;
  ASSERT_TRUE(SharedRegion::Create(&region, &error)) << error;
  const uint64_t first = region->size();
  EXPECT_GE(first, 1u << 20);
  std::memcpy(region->data(), "kept", 4);
  ASSERT_TRUE(region->Reserve(first + 1, &error)) << error;
  EXPECT_GE(region->size(), first + 1);
  EXPECT_EQ(std::string(region->data(), 4), "kept");  // growing keeps the contents
  // The stub grows the file itself; Refresh maps the new size.
  ASSERT_EQ(ftruncate(region->fd(), static_cast<off_t>(region->size() * 2)), 0);
  const uint64_t grown = region->size() * 2;
  ASSERT_TRUE(region->Refresh(&error)) << error;
  EXPECT_EQ(region->size(), grown);
  EXPECT_FALSE(region->Reserve(kMaxRegionBytes + 1, &error));
  EXPECT_NE(error.find("more than the Python backend moves at once"), std::string::npos) << error;
}

// A stand-in stub: `body` runs with sock (fd 3) and frame helpers defined.
std::string Script(const std::string& name, const std::string& body) {
  const fs::path path = fs::temp_directory_path() / ("inferd_stub_" + std::to_string(getpid()) + "_" + name + ".py");
  std::ofstream(path) << "import os, socket, struct, sys\n"
                         "sock = socket.socket(fileno=3)\n"
                         "def recv():\n"
                         "    n = struct.unpack('<I', sock.recv(4, socket.MSG_WAITALL))[0]\n"
                         "    return sock.recv(n, socket.MSG_WAITALL)\n"
                         "def send(b):\n"
                         "    sock.sendall(struct.pack('<I', len(b)) + b)\n"
                      << body;
  return path.string();
}

std::unique_ptr<StubProcess> Start(const std::string& script) {
  StubOptions options{fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3", script, "model 'm'"};
  std::unique_ptr<StubProcess> stub;
  std::string error;
  EXPECT_TRUE(StubProcess::Start(options, &stub, &error)) << error;
  return stub;
}

TEST(PythonStubProcess, ExchangesMessagesAndReadsTheRegion) {
  // Echoes each message with the first 5 bytes of the region appended; a
  // finalize message ends it.
  const std::string script = Script("echo",
                                    "import mmap\n"
                                    "while True:\n"
                                    "    m = recv()\n"
                                    "    region = mmap.mmap(4, os.fstat(4).st_size)\n"
                                    "    send(m + region[:5])\n"
                                    "    if b'finalize' in m: sys.exit(0)\n");
  auto stub = Start(script);
  ASSERT_TRUE(stub);
  std::memcpy(stub->region().data(), "hello", 5);
  std::string reply, error;
  ASSERT_TRUE(stub->Call("{\"a\":1}", &reply, 10000, &error)) << error;
  EXPECT_EQ(reply, "{\"a\":1}hello");
  const std::string big(1 << 20, 'x');  // frames longer than a socket buffer
  ASSERT_TRUE(stub->Call(big, &reply, 10000, &error)) << error;
  EXPECT_EQ(reply.size(), big.size() + 5);
  stub.reset();  // finalize, then a clean exit
  fs::remove(script);
}

TEST(PythonStubProcess, ADeadOrRogueStubIsReportedAndKilled) {
  const std::string exits = Script("exits", "recv()\nos._exit(3)\n");
  auto stub = Start(exits);
  std::string reply, error;
  EXPECT_FALSE(stub->Call("{}", &reply, 10000, &error));
  EXPECT_NE(error.find("exited with status 3"), std::string::npos) << error;
  EXPECT_FALSE(stub->alive());

  const std::string huge = Script("huge", "recv()\nsock.sendall(struct.pack('<I', 0xFFFFFFFF))\nrecv()\n");
  stub = Start(huge);
  EXPECT_FALSE(stub->Call("{}", &reply, 10000, &error));
  EXPECT_NE(error.find("at most"), std::string::npos) << error;  // never allocated

  const std::string silent = Script("silent", "recv()\nimport time\ntime.sleep(60)\n");
  stub = Start(silent);
  EXPECT_FALSE(stub->Call("{}", &reply, 300, &error));
  EXPECT_NE(error.find("no answer within"), std::string::npos) << error;
  EXPECT_NE(error.find("signal 9"), std::string::npos) << error;  // killed, not left behind
  for (const auto& s : {exits, huge, silent}) fs::remove(s);
}

}  // namespace
}  // namespace inferd_python
