// The stub launcher: one Python process per interpreter
// (stub/inferd_python_launcher.py) that has already imported numpy and the
// stub, from which each stub is forked. Starting the interpreter and those
// imports costs 150 to 250 ms of CPU per stub; a fork costs a few. The
// example repository's eight stubs start in a fraction of the time they took
// when each was a fresh interpreter, and a crashed stub restarts sooner.
//
// A forked stub is a process of its own, isolated exactly as one started
// directly (stub_process.h), but its parent is the launcher, not the server:
// the server holds a pidfd for it (signals and exit without pid reuse
// races) and learns its wait status from the launcher, which reaps it.
//
// Whatever goes wrong with a launcher (it cannot start, the interpreter is
// older than 3.9, it died, it stops answering), the caller starts the stub
// directly instead: the launcher is a speed-up, never a requirement.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace inferd_python {

class StubLauncher {
 public:
  // The running launcher for `python` (and `launcher_script`), started when
  // there is none or the last one died; null when it cannot start or cannot
  // run with this interpreter (the reason in `error`).
  static std::shared_ptr<StubLauncher> For(const std::string& python, const std::string& stub_script,
                                           std::string* error);
  // Stops every launcher (its stubs live on until the server closes their
  // sockets). For the backend's finalize.
  static void StopAll();

  ~StubLauncher();
  StubLauncher(const StubLauncher&) = delete;
  StubLauncher& operator=(const StubLauncher&) = delete;

  // Forks a stub whose fds 3, 4 and 5 are copies of `fds`. On success, its
  // pid and a pidfd for it (the caller closes it).
  bool Spawn(const int fds[3], pid_t* pid, int* pidfd, std::string* error);
  // How the stub `pid` ended ("exited with status 3", "killed by signal 9
  // (Killed)"), once its pidfd said it has: waits up to `timeout_ms` for the
  // launcher to say.
  std::string ExitStatus(pid_t pid, int timeout_ms);

 private:
  StubLauncher() = default;
  // Reads one message from the launcher within `timeout_ms`: an exit notice
  // goes to `exits_` (and `reply` is left empty), anything else to `reply`
  // (with the descriptor it carried in `fd`, else -1). False when the
  // launcher is gone, broke the protocol or stayed silent. With the mutex held.
  bool ReadOne(int timeout_ms, std::string* reply, int* fd, std::string* error);
  // Kills and reaps the launcher, and keeps `why` when it never started a stub.
  void MarkDead(const std::string& why);

  std::mutex mutex_;  // one exchange with the launcher at a time
  int socket_ = -1;
  pid_t pid_ = -1;
  // Read by For() without the mutex; failure_ is written before dead_ is set
  // and never after.
  std::atomic<bool> dead_{false};
  // Whether it ever started a stub: one that died before it did cannot run
  // with this interpreter (no numpy, Python before 3.9), and is not started
  // again; `failure_` says why.
  std::atomic<bool> spawned_{false};
  std::string failure_;
  std::map<pid_t, int> exits_;  // wait statuses the launcher sent that nobody took yet
};

// Text for a wait status: "exited with status 3", "killed by signal 11
// (Segmentation fault)".
std::string DescribeWaitStatus(int status);

}  // namespace inferd_python
