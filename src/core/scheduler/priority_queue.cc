#include "core/scheduler/priority_queue.h"

#include <charconv>
#include <string>

#include "core/inference_request.h"

namespace inferd {
namespace {

// A non-negative integer request parameter; false when present but not one.
bool UintParameter(const InferenceRequest& r, const char* key, uint64_t* out, bool* present) {
  auto it = r.parameters.find(key);
  *present = it != r.parameters.end();
  if (!*present) return true;
  const std::string& v = it->second;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && ptr == v.data() + v.size();
}

}  // namespace

PriorityQueue::PriorityQueue(PriorityQueueOptions options)
    : levels_(std::max<uint32_t>(1, options.priority_levels)),
      default_level_(options.priority_levels == 0 ? 1 : options.default_level) {
  for (uint32_t l = 0; l < levels_.size(); ++l) {
    auto it = options.level_policies.find(l + 1);
    levels_[l].policy = it != options.level_policies.end() ? it->second : options.default_policy;
  }
}

PriorityQueue::Level& PriorityQueue::LevelOf(uint32_t level) { return levels_[level - 1]; }

Status PriorityQueue::Push(RequestPtr r, uint64_t now) {
  uint64_t priority = 0, timeout_us = 0;
  bool has_priority = false, has_timeout = false;
  if (!UintParameter(*r, "priority", &priority, &has_priority)) {
    return Status::InvalidArg("request parameter 'priority' must be a non-negative integer");
  }
  if (!UintParameter(*r, "timeout", &timeout_us, &has_timeout)) {
    return Status::InvalidArg("request parameter 'timeout' must be a non-negative integer (us)");
  }
  uint32_t level = default_level_;
  if (levels_.size() > 1 && priority != 0) {
    if (priority > levels_.size()) {
      return Status::InvalidArg("request priority " + std::to_string(priority) + " is out of range: model '" +
                                r->model_name + "' has priority levels 1 to " +
                                std::to_string(levels_.size()));
    }
    level = static_cast<uint32_t>(priority);
  }
  Level& l = LevelOf(level);
  if (l.policy.max_queue_size > 0 && l.live.size() + l.delayed.size() >= l.policy.max_queue_size) {
    r->failure_reason = FailureReason::kRejected;  // the caller answers it with this status
    return Status::Unavailable("the queue of model '" + r->model_name + "'" +
                               (levels_.size() > 1 ? " at priority " + std::to_string(level) : "") +
                               " is full (max_queue_size " + std::to_string(l.policy.max_queue_size) + ")");
  }
  uint64_t timeout_ns = l.policy.default_timeout_ns;
  if (has_timeout && l.policy.allow_timeout_override && timeout_us > 0) {
    // A request may shorten its timeout, never lengthen it.
    const uint64_t asked = timeout_us * 1000;
    timeout_ns = timeout_ns == 0 ? asked : std::min(timeout_ns, asked);
  }
  r->priority_level = level;
  r->timeout_deadline_ns = timeout_ns == 0 ? 0 : now + timeout_ns;
  r->enqueue_ns = now;
  l.live.push_back(std::move(r));
  ++size_;
  return Status::Ok();
}

void PriorityQueue::ExpireTimeouts(uint64_t now, std::vector<RequestPtr>* rejected) {
  for (Level& l : levels_) {
    for (auto it = l.live.begin(); it != l.live.end();) {
      const uint64_t deadline = (*it)->timeout_deadline_ns;
      if (deadline == 0 || deadline > now) {
        ++it;
        continue;
      }
      (*it)->timeout_deadline_ns = 0;  // handled: a delayed request waits without a deadline
      if (l.policy.delay_on_timeout) {
        l.delayed.push_back(std::move(*it));
      } else {
        rejected->push_back(std::move(*it));
        --size_;
      }
      it = l.live.erase(it);
    }
  }
}

uint64_t PriorityQueue::EarliestDeadline() const {
  uint64_t earliest = 0;
  for (const Level& l : levels_)
    for (const auto& r : l.live)
      if (r->timeout_deadline_ns != 0 && (earliest == 0 || r->timeout_deadline_ns < earliest))
        earliest = r->timeout_deadline_ns;
  return earliest;
}

const RequestPtr& PriorityQueue::At(size_t i) const {
  for (const Level& l : levels_) {
    if (i < l.live.size()) return l.live[i];
    i -= l.live.size();
    if (i < l.delayed.size()) return l.delayed[i];
    i -= l.delayed.size();
  }
  return levels_.back().delayed.back();  // unreachable for i < size()
}

RequestPtr PriorityQueue::PopFront() {
  for (Level& l : levels_) {
    for (auto* q : {&l.live, &l.delayed}) {
      if (q->empty()) continue;
      RequestPtr r = std::move(q->front());
      q->pop_front();
      --size_;
      return r;
    }
  }
  return nullptr;
}

}  // namespace inferd
