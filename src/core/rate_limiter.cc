#include "core/rate_limiter.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace inferd {
namespace {

template <typename T>
bool ParseNumber(const std::string& s, T* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

std::string DeviceName(int device) { return device < 0 ? "global" : "device " + std::to_string(device); }

}  // namespace

Status ParseRateLimitResource(const std::string& text, RateLimitResourceFlag* out) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t colon; (colon = text.find(':', start)) != std::string::npos; start = colon + 1)
    parts.push_back(text.substr(start, colon - start));
  parts.push_back(text.substr(start));
  const std::string usage = "--rate-limit-resource '" + text + "' must be <name>:<count> or <name>:<count>:<device>";
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty()) return Status::InvalidArg(usage);
  out->name = parts[0];
  if (!ParseNumber(parts[1], &out->count)) return Status::InvalidArg(usage + " (count: a non-negative integer)");
  out->device = -1;
  if (parts.size() == 3 && (!ParseNumber(parts[2], &out->device) || out->device < 0)) {
    return Status::InvalidArg(usage + " (device: a non-negative integer)");
  }
  return Status::Ok();
}

RateLimiter::RateLimiter(std::vector<RateLimitResourceFlag> available) : explicit_(std::move(available)) {}

uint32_t RateLimiter::CountOf(const Key& key) const {
  // An explicit count for this device (or the global pool), then one for every device.
  for (const auto& f : explicit_)
    if (f.name == key.first && f.device == key.second) return f.count;
  for (const auto& f : explicit_)
    if (f.name == key.first && f.device == -1) return f.count;
  uint32_t most = 0;
  for (const auto& [h, inst] : instances_)
    for (const auto& need : inst.needs)
      if (KeyOf(need, inst.device) == key) most = std::max(most, need.count);
  return most;
}

uint32_t RateLimiter::Available(const std::string& name, int device) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CountOf({name, device});
}

Status RateLimiter::Register(const std::string& name, int device, std::vector<RateLimitResource> needs,
                             uint32_t priority, Handle* out) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& need : needs) {
    // Triton's rule: one resource name is global or per device, never both.
    auto clash = [&](const std::vector<RateLimitResource>& others) {
      return std::any_of(others.begin(), others.end(), [&](const RateLimitResource& other) {
        return other.name == need.name && other.global != need.global;
      });
    };
    bool both = clash(needs);
    for (const auto& [h, inst] : instances_) both = both || clash(inst.needs);
    if (both) {
      return Status::InvalidArg("instance " + name + ": rate limiter resource '" + need.name +
                                "' is used both as a global and as a per-device resource");
    }
    const Key key = KeyOf(need, device);
    bool is_explicit = false;
    for (const auto& f : explicit_)
      is_explicit = is_explicit || (f.name == key.first && (f.device == key.second || f.device == -1));
    if (is_explicit && CountOf(key) < need.count) {
      return Status::InvalidArg("instance " + name + " needs " + std::to_string(need.count) + " of resource '" +
                                need.name + "' (" + DeviceName(key.second) + ") but --rate-limit-resource gives " +
                                std::to_string(CountOf(key)));
    }
  }
  Instance inst;
  inst.name = name;
  inst.device = device;
  inst.needs = std::move(needs);
  inst.weight = std::max<uint32_t>(priority, 1);
  // A newcomer starts level with the instances already there, not ahead of them.
  uint64_t least = std::numeric_limits<uint64_t>::max();
  for (const auto& [h, other] : instances_) least = std::min(least, other.executions * other.weight);
  inst.executions = instances_.empty() ? 0 : least / inst.weight;
  *out = next_handle_++;
  instances_.emplace(*out, std::move(inst));
  return Status::Ok();
}

void RateLimiter::Unregister(Handle handle) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    instances_.erase(handle);
  }
  cv_.notify_all();
}

bool RateLimiter::Fits(const Instance& inst) const {
  for (const auto& need : inst.needs) {
    const Key key = KeyOf(need, inst.device);
    auto used = in_use_.find(key);
    if ((used == in_use_.end() ? 0 : used->second) + need.count > CountOf(key)) return false;
  }
  return true;
}

bool RateLimiter::MayRun(Handle handle) const {
  const Instance& me = instances_.at(handle);
  if (!Fits(me)) return false;
  const uint64_t my_turn = me.executions * me.weight;
  for (const auto& [h, other] : instances_) {
    if (h == handle || other.waiting_since == 0 || !Fits(other)) continue;
    const uint64_t turn = other.executions * other.weight;
    if (turn < my_turn || (turn == my_turn && other.waiting_since < me.waiting_since)) return false;
  }
  return true;
}

void RateLimiter::Take(Handle handle) {
  Instance& me = instances_.at(handle);
  for (const auto& need : me.needs) in_use_[KeyOf(need, me.device)] += need.count;
  me.waiting_since = 0;
  ++me.executions;
}

void RateLimiter::Acquire(Handle handle) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    instances_.at(handle).waiting_since = next_arrival_++;
    cv_.wait(lock, [&] { return MayRun(handle); });
    Take(handle);
  }
  cv_.notify_all();  // one waiter fewer: the next in line may fit now
}

bool RateLimiter::TryAcquire(Handle handle) {
  std::lock_guard<std::mutex> lock(mu_);
  Instance& me = instances_.at(handle);
  if (me.waiting_since == 0) me.waiting_since = next_arrival_++;
  if (!MayRun(handle)) return false;
  Take(handle);
  return true;
}

void RateLimiter::Release(Handle handle) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Instance& me = instances_.at(handle);
    for (const auto& need : me.needs) in_use_[KeyOf(need, me.device)] -= need.count;
  }
  cv_.notify_all();
}

}  // namespace inferd
