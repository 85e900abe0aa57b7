// RateLimiter: Triton's rate limiter (--rate-limit=execution_count), shared
// by every instance of every model.
//
// Semantics:
//  - An instance may declare resources it needs to execute
//    (instance_group.rate_limiter.resources: name, count, global). Before
//    each execution it takes them; it gives them back when the backend's
//    execute returns (for a decoupled model, even if it answers later).
//    Resources are per device (the instance's device), or one pool
//    for the whole server when `global`.
//  - How many copies of a resource exist: --rate-limit-resource NAME:COUNT
//    (every device) or NAME:COUNT:DEVICE; otherwise the most that any one
//    registered instance needs, so that every instance can run alone. An
//    instance that needs more than an explicit count cannot load.
//  - Among instances waiting whose resources are free, the one with the
//    fewest executions weighted by its priority goes first (priority 2 gets
//    half the chances of priority 1; 0 counts as 1); ties go to the one that
//    has waited longest.
//  - An instance is registered while it is loaded and unregistered when it
//    ends, so the default counts follow the loaded models.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace inferd {

struct RateLimitResource {
  std::string name;
  uint32_t count = 0;
  bool global = false;
};

// One --rate-limit-resource; device -1: every device.
struct RateLimitResourceFlag {
  std::string name;
  uint32_t count = 0;
  int device = -1;
};

// Parses NAME:COUNT or NAME:COUNT:DEVICE.
Status ParseRateLimitResource(const std::string& text, RateLimitResourceFlag* out);

class RateLimiter {
 public:
  using Handle = uint64_t;

  explicit RateLimiter(std::vector<RateLimitResourceFlag> available);

  // An instance `name` on `device` with its needs and priority. Fails when an
  // explicit --rate-limit-resource count is below what it needs.
  Status Register(const std::string& name, int device, std::vector<RateLimitResource> needs,
                  uint32_t priority, Handle* out);
  void Unregister(Handle handle);

  // Blocks until `handle` may execute, and takes its resources.
  void Acquire(Handle handle);
  // Takes the resources if `handle` may execute now: Acquire without
  // blocking, for tests. A handle that fails stays in line as if it were
  // blocked in Acquire (keeping its place), so tests can line several up.
  bool TryAcquire(Handle handle);
  // Gives the resources back after the execution.
  void Release(Handle handle);

  // How many copies of `name` exist on `device` (-1: the global pool).
  uint32_t Available(const std::string& name, int device) const;

 private:
  struct Instance {
    std::string name;
    int device = 0;
    std::vector<RateLimitResource> needs;
    uint64_t weight = 1;      // priority, 0 counted as 1
    uint64_t executions = 0;  // grants so far
    uint64_t waiting_since = 0;  // arrival order while waiting; 0 when not waiting
  };
  using Key = std::pair<std::string, int>;  // resource name, device (-1: global)

  static Key KeyOf(const RateLimitResource& r, int device) { return {r.name, r.global ? -1 : device}; }
  uint32_t CountOf(const Key& key) const;  // requires mu_
  bool Fits(const Instance& instance) const;  // requires mu_
  // Whether `handle` fits and no waiting instance that fits comes before it. Requires mu_.
  bool MayRun(Handle handle) const;
  void Take(Handle handle);  // requires mu_

  const std::vector<RateLimitResourceFlag> explicit_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Handle, Instance> instances_;  // guarded by mu_
  std::map<Key, uint32_t> in_use_;        // guarded by mu_
  Handle next_handle_ = 1;                // guarded by mu_
  uint64_t next_arrival_ = 1;             // guarded by mu_
};

}  // namespace inferd
