// System shared memory (Triton's shared-memory extension): clients register
// a window of a POSIX shared-memory object (shm_open key, offset, size) under
// a name; requests then name a region instead of carrying tensor bytes, and
// outputs can be written into one.
//
// Safety rules, since a region's key, offset and size come from the network:
// - only objects shm_open can open (/dev/shm; no path can be named), and only
//   regular files; every size is checked against the object when registered;
// - every use checks [offset, offset + size) against the registered window
//   with overflow-checked arithmetic, and checks again that the object still
//   covers it (a client that shrank it gets an error instead of SIGBUS);
// - a region stays mapped while any request uses it: unregistering only
//   takes its name away;
// - at most kMaxRegions are registered at once, and they hold at most one
//   descriptor per distinct object (regions of one object share it), with
//   the number of distinct objects bounded by a quarter of RLIMIT_NOFILE, so
//   registering cannot use up the server's descriptors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace inferd {

// An opened shared-memory object (defined in the .cc): its descriptor, kept
// to check the object's size before each use, shared by all its regions.
class SharedMemoryObject;

class SharedMemoryRegion {
 public:
  ~SharedMemoryRegion();
  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;

  const std::string& name() const { return name_; }
  const std::string& key() const { return key_; }
  uint64_t offset() const { return offset_; }        // in the object
  uint64_t byte_size() const { return byte_size_; }  // of the window

  // The bytes [offset, offset + size) of the window, after checking that
  // they lie inside it and that the object still holds them. `what` names
  // the tensor in the error ("input 'X'").
  Status Slice(uint64_t offset, uint64_t size, const std::string& what, char** data) const;

 private:
  friend class SharedMemoryManager;
  SharedMemoryRegion() = default;

  std::string name_, key_;
  uint64_t offset_ = 0, byte_size_ = 0;
  std::shared_ptr<const SharedMemoryObject> object_;
  void* mapping_ = nullptr;  // the whole pages that hold the window
  size_t mapping_size_ = 0;
  char* window_ = nullptr;   // the window's first byte, inside mapping_
};

// One row of a status answer.
struct SharedMemoryRegionInfo {
  std::string name, key;
  uint64_t offset = 0, byte_size = 0;
};

class SharedMemoryManager {
 public:
  static constexpr size_t kMaxRegions = 1024;
  // How many distinct objects may be open at once: min(kMaxRegions, a
  // quarter of the soft RLIMIT_NOFILE), at least 1.
  static size_t DefaultMaxObjects();

  explicit SharedMemoryManager(size_t max_objects = DefaultMaxObjects()) : max_objects_(max_objects) {}

  // Maps `byte_size` bytes of object `key` from `offset` under `name`.
  // ALREADY_EXISTS when the name is taken (unregister it first).
  Status Register(const std::string& name, const std::string& key, uint64_t offset,
                  uint64_t byte_size);
  // Takes `name` away (unknown names are fine, as in Triton); requests that
  // hold the region keep it mapped until they finish.
  void Unregister(const std::string& name);
  void UnregisterAll();
  // Every region (name empty) or the one named; NOT_FOUND for an unknown name.
  Status GetStatus(const std::string& name, std::vector<SharedMemoryRegionInfo>* out) const;
  // The region named, for a request to hold while it uses it.
  Status Find(const std::string& name, std::shared_ptr<const SharedMemoryRegion>* out) const;
  // Distinct objects open now (each holds one descriptor), for tests.
  size_t OpenObjects() const;

 private:
  const size_t max_objects_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const SharedMemoryRegion>> regions_;  // guarded by mu_
  // By (device, inode); an entry lives as long as a region (registered or
  // held by a request) maps the object. Guarded by mu_.
  std::map<std::pair<uint64_t, uint64_t>, std::weak_ptr<const SharedMemoryObject>> objects_;
};

// Why a CUDA shared memory region cannot be registered (both frontends).
std::string CudaSharedMemoryRefusal(const std::string& region);

}  // namespace inferd
