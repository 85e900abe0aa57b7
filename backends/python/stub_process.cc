#include "stub_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace inferd_python {
namespace {

constexpr uint64_t kInitialRegionBytes = 1 << 20;
constexpr int kFinalizeGraceMs = 5000;
// How long the launcher may take to say how a stub that ended did.
constexpr int kExitNoticeMs = 2000;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool SharedRegion::Create(std::unique_ptr<SharedRegion>* out, std::string* error) {
  std::unique_ptr<SharedRegion> region(new SharedRegion());
  region->fd_ = memfd_create("inferd-python", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (region->fd_ < 0) {
    *error = Errno("memfd_create");
    return false;
  }
  // The stub may grow the region, never shrink it under the server's reads
  // (which would raise SIGBUS in the server).
  if (fcntl(region->fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    *error = Errno("sealing the shared memory");
    return false;
  }
  if (ftruncate(region->fd_, static_cast<off_t>(kInitialRegionBytes)) != 0) {
    *error = Errno("ftruncate");
    return false;
  }
  if (!region->Map(kInitialRegionBytes, error)) return false;
  *out = std::move(region);
  return true;
}

SharedRegion::~SharedRegion() {
  if (data_ != nullptr) munmap(data_, size_);
  if (fd_ >= 0) close(fd_);
}

bool SharedRegion::Map(uint64_t bytes, std::string* error) {
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    *error = Errno("mmap");
    return false;
  }
  data_ = static_cast<char*>(p);
  size_ = bytes;
  return true;
}

bool SharedRegion::Reserve(uint64_t bytes, std::string* error) {
  if (bytes <= size_) return true;
  if (bytes > kMaxRegionBytes) {
    *error = "a batch of " + std::to_string(bytes) + " bytes is more than the Python backend moves at once (" +
             std::to_string(kMaxRegionBytes) + ")";
    return false;
  }
  const uint64_t grown = std::min(kMaxRegionBytes, std::max(bytes, size_ * 2));
  if (ftruncate(fd_, static_cast<off_t>(grown)) != 0) {
    *error = Errno("ftruncate");
    return false;
  }
  return Map(grown, error);
}

bool SharedRegion::Refresh(std::string* error) {
  struct stat st {};
  if (fstat(fd_, &st) != 0) {
    *error = Errno("fstat");
    return false;
  }
  const uint64_t bytes = static_cast<uint64_t>(st.st_size);
  if (bytes > kMaxRegionBytes) {
    *error = "the stub grew its shared memory to " + std::to_string(bytes) + " bytes, more than " +
             std::to_string(kMaxRegionBytes);
    return false;
  }
  return bytes == size_ || Map(bytes, error);
}

std::vector<int> ReceivedDescriptors(msghdr& message) {
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.push_back(received);
    }
  }
  return fds;
}

void InitChildSignals(posix_spawnattr_t* attr) {
  posix_spawnattr_init(attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setsigdefault(attr, &defaults);
  posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

bool SpawnPython(const std::string& python, const std::string& script, const std::vector<int>& fds, pid_t* pid,
                 std::string* error) {
  // The child finds fds[i] at 3 + i. dup2 onto a descriptor clears
  // close-on-exec, except onto itself: copies at 10 or above keep them apart
  // from 3, 4, 5 whatever numbers they had.
  std::vector<int> copies;
  bool copied = true;
  for (int fd : fds) {
    const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (copy < 0) copied = false;
    else copies.push_back(copy);
  }
  if (!copied) {
    *error = Errno("fcntl(F_DUPFD_CLOEXEC)");
    for (int fd : copies) close(fd);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (size_t i = 0; i < copies.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, copies[i], 3 + static_cast<int>(i));
  }
  posix_spawnattr_t attr;
  InitChildSignals(&attr);
  std::vector<char*> argv = {const_cast<char*>(python.c_str()), const_cast<char*>(script.c_str()), nullptr};
  const int rc = posix_spawnp(pid, python.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  for (int fd : copies) close(fd);
  if (rc != 0) {
    *error = "cannot start '" + python + " " + script + "': " + std::strerror(rc);
    return false;
  }
  return true;
}

bool StubProcess::Prepare(const StubOptions& options, std::unique_ptr<StubProcess>* out, int child_fds[3],
                          std::string* error) {
  std::unique_ptr<StubProcess> stub(new StubProcess());
  stub->options_ = options;
  if (!SharedRegion::Create(&stub->region_, error)) return false;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    *error = Errno("socketpair");
    return false;
  }
  stub->socket_ = sv[0];
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
    *error = Errno("socketpair");
    close(sv[1]);
    return false;
  }
  stub->channel_socket_ = channel[0];
  child_fds[0] = sv[1];
  child_fds[1] = stub->region_->fd();
  child_fds[2] = channel[1];
  *out = std::move(stub);
  return true;
}

bool StubProcess::Start(const StubOptions& options, std::unique_ptr<StubProcess>* out, std::string* error) {
  std::unique_ptr<StubProcess> stub;
  int child[3];
  auto close_child_ends = [&] {
    close(child[0]);
    close(child[2]);  // child[1] is the region's own descriptor
  };
  // A fork of the interpreter's launcher when it can (stub_launcher.h); a
  // second try with a fresh launcher when the last one had died. Each try
  // has sockets and a region of its own: one that failed may still have
  // reached a process, which must not share the next stub's.
  std::string note;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<StubLauncher> launcher = StubLauncher::For(options.python, options.launcher_script, &note);
    if (launcher == nullptr) break;
    if (!Prepare(options, &stub, child, error)) return false;
    pid_t pid = -1;
    int pidfd = -1;
    const bool forked = launcher->Spawn(child, &pid, &pidfd, &note);
    close_child_ends();
    if (forked) {
      stub->pid_ = pid;
      stub->pidfd_ = pidfd;
      stub->launcher_ = std::move(launcher);
      *out = std::move(stub);
      return true;
    }
    stub.reset();
  }
  // Else a stub of its own.
  if (!Prepare(options, &stub, child, error)) return false;
  pid_t pid = -1;
  const bool started = SpawnPython(options.python, options.script, {child[0], child[1], child[2]}, &pid, error);
  close_child_ends();
  if (!started) {
    *error = "the Python stub of " + options.description + ": " + *error;
    return false;
  }
  stub->pid_ = pid;
  stub->launch_note_ = note;
  *out = std::move(stub);
  return true;
}

StubProcess::~StubProcess() {
  if (pid_ > 0) {
    std::string reply, ignored;
    // finalize() runs in the stub; it then exits by itself.
    if (Call(R"({"type":"finalize"})", &reply, kFinalizeGraceMs, &ignored)) {
      if (launcher_) {
        pollfd exited{pidfd_, POLLIN, 0};
        if (poll(&exited, 1, kFinalizeGraceMs) == 1) {
          launcher_->ExitStatus(pid_, kExitNoticeMs);  // taken, so the launcher's list does not grow
          close(pidfd_);
          pidfd_ = -1;
          pid_ = -1;
        }
      } else {
        for (const int64_t deadline = NowMs() + kFinalizeGraceMs; NowMs() < deadline;) {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    }
    if (pid_ > 0) Kill();
  }
  if (socket_ >= 0) close(socket_);
  if (channel_socket_ >= 0) close(channel_socket_);
}

std::string StubProcess::Kill() {
  if (pid_ <= 0) return "not running";
  if (launcher_) {
    // Through the pidfd: the pid itself may already name another process
    // once the launcher reaped the stub.
    syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
    pollfd exited{pidfd_, POLLIN, 0};
    int r;
    do {
      r = poll(&exited, 1, kFinalizeGraceMs);
    } while (r < 0 && errno == EINTR);
    const std::string how = launcher_->ExitStatus(pid_, kExitNoticeMs);
    close(pidfd_);
    pidfd_ = -1;
    pid_ = -1;
    return how;
  }
  kill(pid_, SIGKILL);
  int status = 0;
  pid_t got;
  do {
    got = waitpid(pid_, &status, 0);
  } while (got < 0 && errno == EINTR);
  pid_ = -1;
  if (got < 0) return Errno("waitpid");
  return DescribeWaitStatus(status);
}

bool StubProcess::Send(const std::string& message, std::string* error) {
  if (message.size() > kMaxFrameBytes) {
    *error = "a message to the stub of " + std::to_string(message.size()) + " bytes is too long";
    return false;
  }
  const uint32_t n = static_cast<uint32_t>(message.size());
  unsigned char prefix[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                             static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
  // The length and the message in one call, without joining them first.
  iovec parts[2] = {{prefix, sizeof prefix}, {const_cast<char*>(message.data()), message.size()}};
  msghdr header{};
  header.msg_iov = parts;
  header.msg_iovlen = 2;
  while (header.msg_iovlen > 0) {
    // MSG_NOSIGNAL: a stub that died must not raise SIGPIPE in the server.
    ssize_t w = sendmsg(socket_, &header, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      *error = Errno("writing to the stub");
      return false;
    }
    // Skips what went out (a short write leaves the rest for the next call).
    while (header.msg_iovlen > 0 && static_cast<size_t>(w) >= header.msg_iov->iov_len) {
      w -= static_cast<ssize_t>(header.msg_iov->iov_len);
      ++header.msg_iov;
      --header.msg_iovlen;
    }
    if (header.msg_iovlen > 0) {
      header.msg_iov->iov_base = static_cast<char*>(header.msg_iov->iov_base) + w;
      header.msg_iov->iov_len -= static_cast<size_t>(w);
    }
  }
  return true;
}

bool StubProcess::Receive(std::string* reply, int timeout_ms, std::string* error) {
  const int64_t deadline = timeout_ms < 0 ? -1 : NowMs() + timeout_ms;
  std::string& buffer = received_;  // may hold the start of this frame already
  uint64_t wanted = 4;
  bool have_length = false;
  for (;;) {
    if (!have_length && buffer.size() >= 4) {
      const auto* b = reinterpret_cast<const unsigned char*>(buffer.data());
      const uint32_t n = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t{b[3]} << 24);
      if (n > kMaxFrameBytes) {
        *error = "the stub sent a message of " + std::to_string(n) + " bytes (at most " +
                 std::to_string(kMaxFrameBytes) + ")";
        return false;
      }
      have_length = true;
      wanted = 4 + uint64_t{n};
    }
    if (have_length && buffer.size() >= wanted) break;
    // Waiting without a deadline needs no poll: recv blocks.
    if (deadline >= 0) {
      const int wait_ms = static_cast<int>(std::max<int64_t>(0, deadline - NowMs()));
      if (wait_ms == 0) {
        *error = "no answer within " + (timeout_ms % 1000 == 0 ? std::to_string(timeout_ms / 1000) + " s"
                                                                 : std::to_string(timeout_ms) + " ms");
        return false;
      }
      pollfd p{socket_, POLLIN, 0};
      const int ready = poll(&p, 1, wait_ms);
      if (ready < 0 && errno != EINTR) {
        *error = Errno("poll");
        return false;
      }
      if (ready <= 0) continue;  // the deadline is checked above
    }
    char chunk[65536];
    // A whole small frame in one call; never past the frame being read
    // (the stub sends nothing more before the next call anyway).
    const size_t room = std::min<uint64_t>(sizeof chunk, have_length ? wanted - buffer.size() : sizeof chunk);
    const ssize_t r = recv(socket_, chunk, room, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      *error = r == 0 ? "the stub closed its end" : Errno("reading from the stub");
      return false;
    }
    buffer.append(chunk, static_cast<size_t>(r));
  }
  reply->assign(buffer, 4, wanted - 4);
  buffer.erase(0, wanted);
  return true;
}

bool StubProcess::Call(const std::string& message, std::string* reply, int timeout_ms, std::string* error) {
  if (pid_ <= 0) {
    *error = "the stub of " + options_.description + " is not running";
    return false;
  }
  std::string why;
  if (Send(message, &why) && Receive(reply, timeout_ms, &why)) return true;
  const std::string ended = Kill();
  *error = "the Python stub of " + options_.description + " " + ended + " (" + why + ")";
  return false;
}

}  // namespace inferd_python
