#include "stub_launcher.h"

#include <poll.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "stub_process.h"

namespace inferd_python {
namespace {

// How long a launcher may take to answer a request for a stub: its first
// answer waits for its own start (interpreter and numpy), a second or so on
// a loaded small machine; far more means it is stuck.
constexpr int kSpawnTimeoutMs = 30000;
// Exit notices kept for stubs nobody asked about yet (bounded: a caller that
// gave up waiting never takes its notice).
constexpr size_t kMaxKeptExits = 1024;
// The longest message a launcher sends ({"exit": pid, "status": S} and the like).
constexpr size_t kMaxMessageBytes = 512;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::mutex registry_mutex;
std::map<std::string, std::shared_ptr<StubLauncher>>& Registry() {
  static auto* launchers = new std::map<std::string, std::shared_ptr<StubLauncher>>();
  return *launchers;
}

}  // namespace

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended";
}

std::shared_ptr<StubLauncher> StubLauncher::For(const std::string& python, const std::string& launcher_script,
                                                std::string* error) {
  if (launcher_script.empty()) {
    *error = "no launcher script";
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& slot = Registry()[python + '\n' + launcher_script];
  // Without the launcher's own mutex, which a caller may hold for seconds.
  if (slot != nullptr) {
    if (!slot->dead_) return slot;
    if (!slot->spawned_) {
      *error = "the stub launcher cannot run with " + python + ": " + slot->failure_;  // written before dead_
      return nullptr;
    }
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    *error = Errno("socketpair");
    return nullptr;
  }
  std::shared_ptr<StubLauncher> launcher(new StubLauncher());
  launcher->socket_ = sv[0];
  const bool started = SpawnPython(python, launcher_script, {sv[1]}, &launcher->pid_, error);
  close(sv[1]);
  if (!started) {
    launcher->dead_ = true;  // nothing to reap
    launcher->pid_ = -1;
    return nullptr;
  }
  slot = launcher;
  return launcher;
}

void StubLauncher::StopAll() {
  std::map<std::string, std::shared_ptr<StubLauncher>> launchers;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    launchers.swap(Registry());
  }
  // Each goes with its last reference (stubs still running hold theirs).
}

StubLauncher::~StubLauncher() {
  if (socket_ >= 0) close(socket_);  // the launcher exits when it reads the end
  if (pid_ > 0) {
    for (const int64_t deadline = NowMs() + 2000; NowMs() < deadline;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void StubLauncher::MarkDead(const std::string& why) {
  if (dead_) return;
  if (!spawned_) failure_ = why;
  dead_ = true;
  // Its stubs live on (reaped by init from now on); only how they end is lost.
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (socket_ >= 0) close(socket_);
  socket_ = -1;
}

bool StubLauncher::ReadOne(int timeout_ms, std::string* reply, int* fd, std::string* error) {
  *fd = -1;
  for (const int64_t deadline = NowMs() + timeout_ms;;) {
    if (dead_) {
      *error = "the stub launcher is gone";
      return false;
    }
    pollfd readable{socket_, POLLIN, 0};
    const int64_t left = deadline - NowMs();
    const int r = poll(&readable, 1, static_cast<int>(left > 0 ? left : 0));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      *error = "the stub launcher did not answer within " + std::to_string(timeout_ms) + " ms";
      return false;
    }
    char body[kMaxMessageBytes];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
    iovec part{body, sizeof body};
    msghdr header{};
    header.msg_iov = &part;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    const ssize_t n = r < 0 ? -1 : recvmsg(socket_, &header, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      *error = Errno("reading from the stub launcher");
      MarkDead(*error);
      return false;
    }
    std::vector<int> fds = ReceivedDescriptors(header);  // only once recvmsg filled `control`
    auto close_fds = [&] {
      for (int f : fds) close(f);
    };
    if (n == 0 || (header.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
      close_fds();
      *error = n == 0 ? "the stub launcher exited" : "the stub launcher sent a message too long";
      MarkDead(*error);
      return false;
    }
    rapidjson::Document message;
    message.Parse(body, static_cast<size_t>(n));
    if (message.HasParseError() || !message.IsObject()) {
      close_fds();
      *error = "the stub launcher sent something else than JSON";
      MarkDead(*error);
      return false;
    }
    auto exit = message.FindMember("exit");
    auto status = message.FindMember("status");
    if (exit != message.MemberEnd() && exit->value.IsInt() && status != message.MemberEnd() &&
        status->value.IsInt()) {
      close_fds();
      if (exits_.size() >= kMaxKeptExits) exits_.erase(exits_.begin());
      exits_[exit->value.GetInt()] = status->value.GetInt();
      reply->clear();
      return true;
    }
    reply->assign(body, static_cast<size_t>(n));
    if (!fds.empty()) {
      *fd = fds[0];
      fds.erase(fds.begin());
    }
    close_fds();
    return true;
  }
}

bool StubLauncher::Spawn(const int fds[3], pid_t* pid, int* pidfd, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dead_) {
    *error = "the stub launcher is gone";
    return false;
  }
  char request = 'S';
  iovec part{&request, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 3)] = {};
  msghdr header{};
  header.msg_iov = &part;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&header);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * 3);
  std::memcpy(CMSG_DATA(c), fds, sizeof(int) * 3);
  ssize_t sent;
  do {
    sent = sendmsg(socket_, &header, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent != 1) {
    *error = Errno("writing to the stub launcher");
    MarkDead(*error);
    return false;
  }
  std::string reply;
  int fd = -1;
  for (const int64_t deadline = NowMs() + kSpawnTimeoutMs; reply.empty();) {
    const int64_t left = deadline - NowMs();
    if (left <= 0 || !ReadOne(static_cast<int>(left), &reply, &fd, error)) {
      if (left <= 0) *error = "the stub launcher did not answer within " + std::to_string(kSpawnTimeoutMs) + " ms";
      MarkDead(*error);  // a launcher that stays silent is of no more use
      return false;
    }
  }
  rapidjson::Document answer;
  answer.Parse(reply.c_str(), reply.size());
  auto got = answer.IsObject() ? answer.FindMember("pid") : answer.MemberEnd();
  if (got == answer.MemberEnd() || !got->value.IsInt() || got->value.GetInt() <= 0 || fd < 0) {
    if (fd >= 0) close(fd);
    auto why = answer.IsObject() ? answer.FindMember("error") : answer.MemberEnd();
    *error = why != answer.MemberEnd() && why->value.IsString()
                 ? std::string("the stub launcher: ") + why->value.GetString()
                 : "the stub launcher answered with something else than a pid and a pidfd";
    return false;
  }
  *pid = got->value.GetInt();
  *pidfd = fd;
  spawned_ = true;
  exits_.erase(*pid);  // a notice nobody took, for an earlier process of that pid
  return true;
}

std::string StubLauncher::ExitStatus(pid_t pid, int timeout_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const int64_t deadline = NowMs() + timeout_ms;;) {
    if (auto it = exits_.find(pid); it != exits_.end()) {
      const int status = it->second;
      exits_.erase(it);
      return DescribeWaitStatus(status);
    }
    const int64_t left = deadline - NowMs();
    std::string reply, error;
    int fd = -1;
    if (dead_ || left <= 0 || !ReadOne(static_cast<int>(left), &reply, &fd, &error)) {
      return "ended (how is unknown: " + (dead_ ? std::string("its launcher is gone") : error) + ")";
    }
    if (fd >= 0) close(fd);  // an answer nobody waits for: not in the protocol
  }
}

}  // namespace inferd_python
