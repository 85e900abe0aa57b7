// The Python backend's transport: the shared region both sides map, and a
// stub process's message exchange, with small Python scripts in place of the
// real stub (the real one is exercised by tests/integration/test_python_backend.py).
#include "../../backends/python/stub_process.h"

#include <gtest/gtest.h>
#include <signal.h>
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

std::string Python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

// What every stand-in stub starts with: sock (fd 3) and frame helpers.
constexpr const char* kPrelude =
    "import os, socket, struct, sys\n"
    "sock = socket.socket(fileno=3)\n"
    "def recv():\n"
    "    n = struct.unpack('<I', sock.recv(4, socket.MSG_WAITALL))[0]\n"
    "    return sock.recv(n, socket.MSG_WAITALL)\n"
    "def send(b):\n"
    "    sock.sendall(struct.pack('<I', len(b)) + b)\n";

// A stand-in stub: `body` runs after kPrelude.
std::string Script(const std::string& name, const std::string& body) {
  const fs::path path = fs::temp_directory_path() / ("inferd_stub_" + std::to_string(getpid()) + "_" + name + ".py");
  std::ofstream(path) << kPrelude << body;
  return path.string();
}

std::unique_ptr<StubProcess> Start(const std::string& script) {
  StubOptions options{Python(), script, "", "model 'm'"};
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

// The real launcher (stub/inferd_python_launcher.py) in a folder of its own,
// beside a stand-in inferd_python_stub module whose main() runs `body` after
// kPrelude; with `broken`, that module fails to import, as the real stub
// does without numpy.
struct LauncherFolder {
  LauncherFolder(const std::string& name, const std::string& body, bool broken = false)
      : dir(fs::temp_directory_path() / ("inferd_launcher_" + std::to_string(getpid()) + "_" + name)) {
    fs::create_directories(dir);
    fs::copy_file(INFERD_PYTHON_LAUNCHER, dir / "inferd_python_launcher.py", fs::copy_options::overwrite_existing);
    std::ofstream(dir / "body.py") << kPrelude << body;
    std::ofstream(dir / "inferd_python_stub.py")
        << "import os\n"
        << (broken ? "raise ImportError('no numpy here')\n" : "")
        << "SOCKET_FD, REGION_FD, CHANNEL_FD = 3, 4, 5\n"
           "def main():\n"
           "    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'body.py')) as f:\n"
           "        exec(f.read(), {'__name__': 'body'})\n"
           "    return 0\n";
  }
  ~LauncherFolder() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // Started through this folder's launcher; `fallback` is the script a
  // direct start runs.
  std::unique_ptr<StubProcess> Start(const std::string& fallback) const {
    StubOptions options{Python(), fallback, (dir / "inferd_python_launcher.py").string(), "model 'm'"};
    std::unique_ptr<StubProcess> stub;
    std::string error;
    EXPECT_TRUE(StubProcess::Start(options, &stub, &error)) << error;
    return stub;
  }
  fs::path dir;
};

// Answers each message with its parent's pid; "segv" crashes it, "exit"
// ends it with status 3.
constexpr const char* kParentEcho =
    "import signal\n"
    "while True:\n"
    "    m = recv()\n"
    "    if m == b'segv': os.kill(os.getpid(), signal.SIGSEGV)\n"
    "    if m == b'exit': os._exit(3)\n"
    "    send(str(os.getppid()).encode())\n"
    "    if b'finalize' in m: sys.exit(0)\n";

TEST(PythonStubLauncher, ForksStubsAndSaysHowTheyEnded) {
  StubLauncher::StopAll();  // none left from another test
  LauncherFolder folder("forks", kParentEcho);
  auto stub = folder.Start("/nonexistent/direct.py");
  ASSERT_TRUE(stub);
  EXPECT_EQ(stub->launch_note(), "");
  std::string reply, error;
  ASSERT_TRUE(stub->Call("hello", &reply, 10000, &error)) << error;
  const pid_t launcher = std::stoi(reply);
  EXPECT_NE(launcher, getpid());  // forked by the launcher, not spawned by us
  EXPECT_FALSE(stub->Call("segv", &reply, 10000, &error));
  EXPECT_NE(error.find("killed by signal 11 (Segmentation fault)"), std::string::npos) << error;

  stub = folder.Start("/nonexistent/direct.py");  // the same launcher again
  ASSERT_TRUE(stub->Call("hello", &reply, 10000, &error)) << error;
  EXPECT_EQ(std::stoi(reply), launcher);
  EXPECT_FALSE(stub->Call("exit", &reply, 10000, &error));
  EXPECT_NE(error.find("exited with status 3"), std::string::npos) << error;

  LauncherFolder silent_folder("silent", "recv()\nimport time\ntime.sleep(60)\n");
  stub = silent_folder.Start("/nonexistent/direct.py");
  EXPECT_FALSE(stub->Call("{}", &reply, 300, &error));
  EXPECT_NE(error.find("killed by signal 9"), std::string::npos) << error;  // through its pidfd
  StubLauncher::StopAll();
}

TEST(PythonStubLauncher, ADeadLauncherIsReplacedAndItsStubsServeOn) {
  StubLauncher::StopAll();
  LauncherFolder folder("dies", kParentEcho);
  auto first = folder.Start("/nonexistent/direct.py");
  std::string reply, error;
  ASSERT_TRUE(first->Call("hello", &reply, 10000, &error)) << error;
  const pid_t launcher = std::stoi(reply);
  ASSERT_EQ(kill(launcher, SIGKILL), 0);
  auto second = folder.Start("/nonexistent/direct.py");  // a fresh launcher
  ASSERT_TRUE(second->Call("hello", &reply, 10000, &error)) << error;
  EXPECT_NE(std::stoi(reply), launcher);
  EXPECT_EQ(second->launch_note(), "");
  // The orphan still serves; how it ends is no longer known.
  ASSERT_TRUE(first->Call("again", &reply, 10000, &error)) << error;
  EXPECT_FALSE(first->Call("exit", &reply, 10000, &error));
  EXPECT_NE(error.find("how is unknown"), std::string::npos) << error;
  StubLauncher::StopAll();
}

TEST(PythonStubLauncher, ALauncherThatCannotRunLeavesStubsToStartDirectly) {
  StubLauncher::StopAll();
  LauncherFolder folder("broken", "", /*broken=*/true);
  const std::string direct = Script("direct", "m = recv()\nsend(b'direct ' + m)\n");
  auto stub = folder.Start(direct);
  ASSERT_TRUE(stub);
  EXPECT_NE(stub->launch_note().find("the stub launcher"), std::string::npos) << stub->launch_note();
  std::string reply, error;
  ASSERT_TRUE(stub->Call("hi", &reply, 10000, &error)) << error;
  EXPECT_EQ(reply, "direct hi");
  // Not tried again for this interpreter.
  stub = folder.Start(direct);
  EXPECT_NE(stub->launch_note().find("cannot run with"), std::string::npos) << stub->launch_note();
  ASSERT_TRUE(stub->Call("again", &reply, 10000, &error)) << error;
  EXPECT_EQ(reply, "direct again");
  StubLauncher::StopAll();
  fs::remove(direct);
}

}  // namespace
}  // namespace inferd_python
