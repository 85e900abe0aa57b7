// One stub process of the Python backend: a Python interpreter running
// stub/inferd_python_stub.py for one model instance, so that user code runs
// outside the server (its crash, hang or leak is that process's, never the
// server's) and instances do not share a GIL.
//
// Transport: a socketpair for messages (the stub's fd 3), each a frame of a
// 4-byte little-endian length and that many bytes of JSON; tensors travel in
// a memfd both sides map (the stub's fd 4), never through the socket. The
// backend writes inputs into the region before a call; the stub writes
// outputs after them, growing the memfd when it needs to, and says its new
// size in the reply. One call at a time: the instance thread owns the stub.
//
// The stub's own messages (decoupled responses, BLS, log lines) travel on a
// second socket, the stub's fd 5 (stub_channel.h), which the caller takes
// with TakeChannelSocket.
//
// Everything the stub sends is checked before use (frame length, offsets and
// sizes against the region): a broken model cannot make the server read
// outside the region or allocate without bound.
#pragma once

#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stub_launcher.h"

namespace inferd_python {

// A memfd mapped into the server, shared with a stub.
class SharedRegion {
 public:
  static bool Create(std::unique_ptr<SharedRegion>* out, std::string* error);
  ~SharedRegion();
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;

  int fd() const { return fd_; }
  char* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Grows the region to at least `bytes` (never shrinks it).
  bool Reserve(uint64_t bytes, std::string* error);
  // Maps the memfd again after the stub grew it (its size is read from the
  // file, up to kMaxRegionBytes).
  bool Refresh(std::string* error);

 private:
  SharedRegion() = default;
  bool Map(uint64_t bytes, std::string* error);
  int fd_ = -1;
  char* data_ = nullptr;
  uint64_t size_ = 0;
};

// The most a region may hold (inputs and outputs of one batch).
constexpr uint64_t kMaxRegionBytes = uint64_t{16} << 30;
// The longest JSON message either side may send.
constexpr uint32_t kMaxFrameBytes = 64u << 20;

struct StubOptions {
  std::string python;           // interpreter (path, or a name looked up in PATH)
  std::string script;           // stub/inferd_python_stub.py
  std::string launcher_script;  // stub/inferd_python_launcher.py (stub_launcher.h)
  std::string description;      // "model 'm' instance 'm_0'", for messages
};

// The descriptors a received message carried (SCM_RIGHTS), in order; the
// caller owns them. Call only after recvmsg returned >= 0 into `message`.
std::vector<int> ReceivedDescriptors(msghdr& message);

// Initializes `attr` so that a child starts with no signal blocked and the
// default handlers (the server's threads may block signals it handles
// itself); the caller destroys it.
void InitChildSignals(posix_spawnattr_t* attr);

// Starts `python script` with fds[i] at 3 + i, nothing else of the server's
// open, no signal blocked and the default handlers.
bool SpawnPython(const std::string& python, const std::string& script, const std::vector<int>& fds, pid_t* pid,
                 std::string* error);

class StubProcess {
 public:
  // Starts the stub: forked from the interpreter's launcher (stub_launcher.h)
  // when it can, else spawned. The stub then waits for its first message.
  static bool Start(const StubOptions& options, std::unique_ptr<StubProcess>* out, std::string* error);
  // Asks the stub to finalize and exit, waits up to `grace_ms`, then kills it.
  ~StubProcess();
  StubProcess(const StubProcess&) = delete;
  StubProcess& operator=(const StubProcess&) = delete;

  SharedRegion& region() { return *region_; }
  // Sends `message` and waits for the reply; timeout_ms < 0 waits as long as
  // the stub lives. False (with the reason) when the stub died, timed out or
  // broke the protocol; the stub is then killed and not to be used again.
  bool Call(const std::string& message, std::string* reply, int timeout_ms, std::string* error);
  bool alive() const { return pid_ > 0; }
  // Why the stub was spawned rather than forked from a launcher; empty when forked.
  const std::string& launch_note() const { return launch_note_; }
  // The server's end of the stub's channel (stub_channel.h), once; the
  // caller closes it.
  int TakeChannelSocket() {
    const int fd = channel_socket_;
    channel_socket_ = -1;
    return fd;
  }

 private:
  StubProcess() = default;
  // A stub's region and sockets, no process yet; `child_fds` are the
  // stub's ends (its fds 3, 4, 5; the caller closes the first and last).
  static bool Prepare(const StubOptions& options, std::unique_ptr<StubProcess>* out, int child_fds[3],
                      std::string* error);
  bool Send(const std::string& message, std::string* error);
  bool Receive(std::string* reply, int timeout_ms, std::string* error);
  // Kills and reaps the stub; returns how it ended ("exited with status 3",
  // "killed by signal 11 (Segmentation fault)").
  std::string Kill();

  StubOptions options_;
  std::unique_ptr<SharedRegion> region_;
  int socket_ = -1;
  int channel_socket_ = -1;
  pid_t pid_ = -1;
  // A forked stub's launcher (which reaps it and says how it ended) and pidfd.
  std::shared_ptr<StubLauncher> launcher_;
  int pidfd_ = -1;
  std::string launch_note_;
  std::string received_;  // bytes read past the last frame (none in the protocol's normal course)
};

}  // namespace inferd_python
