#include "core/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "common/utf8.h"

namespace inferd {
namespace {

// shm_open takes "/name": one leading slash, no other, not "." or "..".
// Triton's clients send keys with the slash; one without gets it added.
Status CheckKey(const std::string& key, std::string* shm_name) {
  std::string bare = !key.empty() && key[0] == '/' ? key.substr(1) : key;
  if (bare.empty() || bare == "." || bare == ".." || bare.size() > 255 ||
      bare.find('/') != std::string::npos || bare.find('\0') != std::string::npos) {
    return Status::InvalidArg("shared memory key '" + key +
                              "' is not a shared-memory object name (\"/name\", no other '/')");
  }
  *shm_name = "/" + bare;
  return Status::Ok();
}

// The object's current size (and its device and inode when `id` is given),
// or an error when it is not a regular file.
Status ObjectSize(int fd, const std::string& key, uint64_t* size,
                  std::pair<uint64_t, uint64_t>* id = nullptr) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return Status::InvalidArg("shared memory object '" + key + "' cannot be examined: " +
                              std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode) || st.st_size < 0) {
    return Status::InvalidArg("shared memory object '" + key + "' is not a regular shared-memory object");
  }
  *size = static_cast<uint64_t>(st.st_size);
  if (id != nullptr) *id = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  return Status::Ok();
}

}  // namespace

class SharedMemoryObject {
 public:
  explicit SharedMemoryObject(int descriptor) : fd(descriptor) {}
  ~SharedMemoryObject() { close(fd); }
  SharedMemoryObject(const SharedMemoryObject&) = delete;
  SharedMemoryObject& operator=(const SharedMemoryObject&) = delete;

  const int fd;
};

SharedMemoryRegion::~SharedMemoryRegion() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_size_);
}

size_t SharedMemoryManager::DefaultMaxObjects() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kMaxRegions;
  return std::max<size_t>(1, std::min<size_t>(kMaxRegions, limit.rlim_cur / 4));
}

Status SharedMemoryRegion::Slice(uint64_t offset, uint64_t size, const std::string& what,
                                 char** data) const {
  // Triton's words first (its QA tests look for them), then the particulars
  // (built only for an error: this runs for every tensor in shared memory).
  auto particulars = [&] {
    return " (" + what + ": offset " + std::to_string(offset) + " + byte size " + std::to_string(size) +
           " lies outside its " + std::to_string(byte_size_) + " bytes)";
  };
  if (offset > byte_size_ || (offset == byte_size_ && size > 0)) {
    return Status::InvalidArg("Invalid offset for shared memory region: '" + name_ + "'" + particulars());
  }
  if (size > byte_size_ - offset) {
    return Status::InvalidArg("Invalid offset + byte size for shared memory region: '" + name_ + "'" +
                              particulars());
  }
  // The client may have shrunk the object since it registered the region:
  // touching pages past its end would raise SIGBUS in the server.
  uint64_t now = 0;
  Status st = ObjectSize(object_->fd, key_, &now);
  if (!st.ok()) return st;
  if (now < offset_ + offset + size) {
    return Status::InvalidArg("shared memory object '" + key_ + "' of region '" + name_ +
                              "' now has " + std::to_string(now) +
                              " bytes, too few for the region; register it again");
  }
  *data = window_ + offset;
  return Status::Ok();
}

Status SharedMemoryManager::Register(const std::string& name, const std::string& key,
                                     uint64_t offset, uint64_t byte_size) {
  if (name.empty()) {
    return Status::InvalidArg("a shared memory region needs a name to be registered");
  }
  // Both are written back into JSON and protobuf strings by status calls.
  if (!IsValidUtf8(name) || !IsValidUtf8(key)) {
    return Status::InvalidArg("a shared memory region's name and key must be UTF-8 text");
  }
  std::string shm_name;
  INFERD_RETURN_IF_ERROR(CheckKey(key, &shm_name));
  const std::string failed = "failed to register shared memory region '" + name + "': ";
  if (byte_size == 0) return Status::InvalidArg(failed + "invalid args: byte_size must be positive");
  // Checked before opening anything, and again under the lock at the end
  // (another call may have registered meanwhile).
  auto taken = [&]() -> Status {
    if (regions_.count(name) != 0) {
      return Status::AlreadyExists("shared memory region '" + name + "' already in manager");
    }
    if (regions_.size() >= kMaxRegions) {
      return Status::ResourceExhausted(failed + "already " + std::to_string(kMaxRegions) +
                                       " regions are registered; unregister some first");
    }
    return Status::Ok();
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    INFERD_RETURN_IF_ERROR(taken());
  }
  std::shared_ptr<SharedMemoryRegion> region(new SharedMemoryRegion());
  region->name_ = name;
  region->key_ = key;
  region->offset_ = offset;
  region->byte_size_ = byte_size;
  // O_NOFOLLOW: a link planted in /dev/shm cannot point the server at a file.
  const int fd = shm_open(shm_name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd < 0) {
    // Triton's words first, then why.
    return Status::InvalidArg("Unable to open shared memory region: '" + key + "' (" + failed +
                              std::strerror(errno) + ")");
  }
  auto opened = std::make_shared<const SharedMemoryObject>(fd);  // closes fd on every path
  uint64_t object_size = 0;
  std::pair<uint64_t, uint64_t> id;
  INFERD_RETURN_IF_ERROR(ObjectSize(fd, key, &object_size, &id));
  if (offset > object_size || byte_size > object_size - offset) {
    return Status::InvalidArg(failed + "invalid args: offset " + std::to_string(offset) + " + byte_size " +
                              std::to_string(byte_size) + " exceeds the " +
                              std::to_string(object_size) + " bytes of shared memory object '" +
                              key + "'");
  }
  // mmap wants a page-aligned offset: map from the page that holds `offset`.
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t map_start = offset - offset % page;
  const uint64_t lead = offset - map_start;
  if (byte_size > SIZE_MAX - lead) return Status::InvalidArg(failed + "invalid args: byte_size is too large");
  region->mapping_size_ = static_cast<size_t>(lead + byte_size);
  void* mapping = mmap(nullptr, region->mapping_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                       static_cast<off_t>(map_start));
  if (mapping == MAP_FAILED) {
    return Status::InvalidArg(failed + "unable to map it: " + std::strerror(errno));
  }
  region->mapping_ = mapping;
  region->window_ = static_cast<char*>(mapping) + lead;

  std::lock_guard<std::mutex> lock(mu_);
  INFERD_RETURN_IF_ERROR(taken());
  // One descriptor per object: a region of an object that is open already
  // uses that one, and `opened` closes its own on return.
  auto shared = objects_.find(id);
  if (shared != objects_.end()) region->object_ = shared->second.lock();
  if (region->object_ == nullptr) {
    for (auto it = objects_.begin(); it != objects_.end();) {
      it = it->second.expired() ? objects_.erase(it) : std::next(it);
    }
    if (objects_.size() >= max_objects_) {
      return Status::ResourceExhausted(failed + "already " + std::to_string(max_objects_) +
                                       " distinct shared memory objects are in use, the most this "
                                       "server opens at once; unregister regions of other objects first");
    }
    objects_[id] = opened;
    region->object_ = std::move(opened);
  }
  regions_.emplace(name, std::move(region));
  LOG_VERBOSE("registered shared memory region '{}' (key '{}', offset {}, {} bytes)", name, key,
              offset, byte_size);
  return Status::Ok();
}

void SharedMemoryManager::Unregister(const std::string& name) {
  std::shared_ptr<const SharedMemoryRegion> gone;  // unmapped outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = regions_.find(name);
  if (it == regions_.end()) return;
  gone = std::move(it->second);
  regions_.erase(it);
}

void SharedMemoryManager::UnregisterAll() {
  std::map<std::string, std::shared_ptr<const SharedMemoryRegion>> gone;
  std::lock_guard<std::mutex> lock(mu_);
  gone.swap(regions_);
}

Status SharedMemoryManager::GetStatus(const std::string& name,
                                      std::vector<SharedMemoryRegionInfo>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [n, r] : regions_) {
    if (!name.empty() && n != name) continue;
    out->push_back({r->name(), r->key(), r->offset(), r->byte_size()});
  }
  if (!name.empty() && out->empty()) {
    return Status::NotFound("Unable to find system shared memory region: '" + name + "'");
  }
  return Status::Ok();
}

Status SharedMemoryManager::Find(const std::string& name,
                                 std::shared_ptr<const SharedMemoryRegion>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = regions_.find(name);
  if (it == regions_.end()) {
    return Status::InvalidArg("Unable to find shared memory region: '" + name + "'");
  }
  *out = it->second;
  return Status::Ok();
}

size_t SharedMemoryManager::OpenObjects() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t open = 0;
  for (const auto& [id, object] : objects_) open += object.expired() ? 0 : 1;
  return open;
}

std::string CudaSharedMemoryRefusal(const std::string& region) {
  // Starts with Triton's words for a refused registration (its QA matches
  // "failed to register shared memory region.*invalid args").
  return "failed to register shared memory region '" + region +
         "': invalid args: CUDA shared memory is not in this build of inferd (it has no GPU "
         "support); use system shared memory";
}

}  // namespace inferd
