#include "execution_env.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "stub_process.h"

extern char** environ;

namespace inferd_python {
namespace {

namespace fs = std::filesystem;

// Written last into an unpacked environment: a folder without it is not one.
constexpr char kUnpackedMarker[] = ".inferd-unpacked";

bool EndsWith(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

bool IsTarball(const fs::path& path) {
  const std::string name = path.filename().string();
  for (const char* tail : {".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tar"}) {
    if (EndsWith(name, tail)) return true;
  }
  return false;
}

// <TMPDIR or /tmp>/inferd-python-envs-<uid>, made if missing; refused when it
// is not a folder of this user's only, since whoever can write there chooses
// the interpreter the server runs.
bool PrivateRoot(fs::path* root, std::string* error) {
  const char* tmp = std::getenv("TMPDIR");
  *root = fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
          ("inferd-python-envs-" + std::to_string(getuid()));
  if (mkdir(root->c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot make " + root->string() + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (lstat(root->c_str(), &st) != 0) {
    *error = "cannot read " + root->string() + ": " + std::strerror(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
    *error = root->string() + " is not a folder of this user's only (mode 0700): not using it";
    return false;
  }
  return true;
}

// The folder name for a tarball: its name (tame characters only) and a key of
// its path, size and modification time, so that a changed tarball unpacks anew.
std::string UnpackedName(const fs::path& tarball, const struct stat& st) {
  std::string name;
  for (char c : tarball.filename().string()) {
    const bool tame = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
    name += tame ? c : '_';
  }
  if (name.size() > 64) name.resize(64);
  const size_t key = std::hash<std::string>{}(tarball.string() + '\n' + std::to_string(st.st_size) + '\n' +
                                              std::to_string(st.st_mtim.tv_sec) + '.' +
                                              std::to_string(st.st_mtim.tv_nsec));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx", key);
  return name + "-" + hex;
}

// Runs `tar -x` of `tarball` into `into` (an empty folder), its messages into
// `log`, for at most kUnpackSeconds; false with the reason.
bool RunTar(const fs::path& tarball, const fs::path& into, const fs::path& log, std::string* error) {
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    *error = "cannot write " + log.string() + ": " + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  posix_spawnattr_t attr;
  InitChildSignals(&attr);
  // GNU tar keeps members inside the folder (it drops a leading "/" and skips
  // names with ".."); --no-same-owner: the files are the server user's even
  // when it is root.
  std::vector<std::string> args = {"tar", "-x", "-f", tarball.string(), "-C", into.string(), "--no-same-owner"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "tar", &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(log_fd);
  if (rc != 0) {
    *error = std::string("cannot run tar: ") + std::strerror(rc);
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kUnpackSeconds);
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      *error = std::string("waiting for tar: ") + std::strerror(errno);
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      *error = "unpacking took longer than " + std::to_string(kUnpackSeconds) + " s";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  std::ifstream in(log);
  std::string said(1024, '\0');
  in.read(said.data(), static_cast<std::streamsize>(said.size()));
  said.resize(static_cast<size_t>(in.gcount()));
  // Its lines as one: "a; b; c".
  std::string lines;
  size_t start = 0;
  while (start < said.size()) {
    size_t end = said.find('\n', start);
    if (end == std::string::npos) end = said.size();
    std::string line = said.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines += (lines.empty() ? "" : "; ") + line;
    start = end + 1;
  }
  said = lines;
  *error = "tar " + (WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                       : "was killed by signal " + std::to_string(WTERMSIG(status))) +
           (said.empty() ? "" : ": " + said);
  return false;
}

// Removes what unpacks of servers that died half way left in `root`
// (<name>.partial-<pid>-<n>, and its .log): a staging folder whose process
// is gone is never finished or cleaned by anyone else. A pid that is alive
// (or reused) keeps its folder: at worst one is left for a later call.
void RemoveAbandonedStaging(const fs::path& root) {
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t at = name.rfind(".partial-");
    if (at == std::string::npos) continue;
    const char* digits = name.c_str() + at + std::strlen(".partial-");
    char* after = nullptr;
    errno = 0;
    const long pid = std::strtol(digits, &after, 10);
    if (after == digits || *after != '-' || errno != 0 || pid <= 0 || pid == getpid()) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_ec;
    fs::remove_all(it->path(), remove_ec);
  }
}

// The unpacked folder of `tarball`, unpacking it first unless an earlier
// load did; false with the reason.
bool Unpacked(const fs::path& tarball, fs::path* folder, std::string* error) {
  struct stat st {};
  if (stat(tarball.c_str(), &st) != 0) {
    *error = std::string("cannot read it: ") + std::strerror(errno);
    return false;
  }
  fs::path root;
  if (!PrivateRoot(&root, error)) return false;
  *folder = root / UnpackedName(tarball, st);
  std::error_code ec;
  if (fs::exists(*folder / kUnpackedMarker, ec)) return true;
  RemoveAbandonedStaging(root);
  // Unpacked beside, then renamed into place: a load that stops half way
  // (or a second one at the same time) never leaves a folder that looks done.
  static std::atomic<unsigned> attempt{0};
  const std::string staging_name =
      folder->filename().string() + ".partial-" + std::to_string(getpid()) + "-" + std::to_string(++attempt);
  const fs::path staging = root / staging_name;
  const fs::path log = root / (staging_name + ".log");
  fs::remove_all(staging, ec);
  if (mkdir(staging.c_str(), 0700) != 0) {
    *error = "cannot make " + staging.string() + ": " + std::strerror(errno);
    return false;
  }
  bool ok = RunTar(tarball, staging, log, error);
  fs::remove(log, ec);
  if (ok) {
    std::ofstream(staging / kUnpackedMarker) << tarball.string() << '\n';
    if (rename(staging.c_str(), folder->c_str()) != 0) {
      // Another load unpacked the same tarball first: use that one.
      ok = fs::exists(*folder / kUnpackedMarker, ec);
      if (!ok) *error = "cannot move the unpacked environment to " + folder->string() + ": " + std::strerror(errno);
    }
  }
  fs::remove_all(staging, ec);
  return ok;
}

}  // namespace

bool ExecutionEnvPython(const std::string& value, const std::string& model_dir, std::string* python,
                        std::string* error) {
  std::string path = value;
  const std::string var = "$$TRITON_MODEL_DIRECTORY";
  if (path.rfind(var, 0) == 0) path = model_dir + path.substr(var.size());
  std::error_code ec;
  // The canonical path, so that models sharing an environment share its stub
  // launcher (stub_launcher.h); bin/python3 itself stays as it is: in a
  // virtualenv it is a symlink, and resolving it would leave the environment.
  fs::path folder = fs::canonical(path, ec);
  if (!folder.empty() && fs::is_regular_file(folder, ec) && IsTarball(folder)) {
    const fs::path tarball = folder;
    std::string why;
    if (!Unpacked(tarball, &folder, &why)) {
      *error = "EXECUTION_ENV_PATH '" + value + "' (a tarball): " + why;
      return false;
    }
  }
  const fs::path interpreter = folder / "bin" / "python3";
  if (folder.empty() || !fs::exists(interpreter, ec)) {
    *error = "EXECUTION_ENV_PATH '" + value +
             "' has no bin/python3 (a Python environment folder, such as a virtualenv, or a tarball of one "
             "such as conda-pack makes, is expected)";
    return false;
  }
  *python = interpreter.string();
  return true;
}

}  // namespace inferd_python
