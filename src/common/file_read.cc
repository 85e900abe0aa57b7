#include "common/file_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace inferd {
namespace {

// Opens `path` for reading if it is a regular file (after following links,
// as the repository may link model files); *size gets its length.
Status OpenRegular(const std::string& path, int* fd, uint64_t* size) {
  // O_NONBLOCK: opening a fifo must not wait for a writer; it is refused below.
  *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (*fd < 0) return Status::NotFound("cannot read " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(*fd);
    return Status::InvalidArg(path + " is not a regular file");
  }
  *size = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

Status ReadInto(int fd, const std::string& path, uint64_t size, std::string* out) {
  std::string data(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::InvalidArg("cannot read " + path + ": " +
                                (n == 0 ? std::string("it ended early") : std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  *out = std::move(data);
  return Status::Ok();
}

}  // namespace

Status ReadFilePrefix(const std::string& path, uint64_t size, std::string* out) {
  int fd;
  uint64_t file_size;
  INFERD_RETURN_IF_ERROR(OpenRegular(path, &fd, &file_size));
  if (file_size < size) {
    ::close(fd);
    return Status::InvalidArg(path + " has " + std::to_string(file_size) + " bytes, " +
                              std::to_string(size) + " are needed");
  }
  return ReadInto(fd, path, size, out);
}

Status ReadWholeFile(const std::string& path, uint64_t max_bytes, std::string* out) {
  int fd;
  uint64_t file_size;
  INFERD_RETURN_IF_ERROR(OpenRegular(path, &fd, &file_size));
  if (file_size > max_bytes) {
    ::close(fd);
    return Status::InvalidArg(path + " has " + std::to_string(file_size) + " bytes, more than the " +
                              std::to_string(max_bytes) + " allowed");
  }
  return ReadInto(fd, path, file_size, out);
}

}  // namespace inferd
