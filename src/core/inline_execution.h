// Inline execution: a frontend thread that has just parsed a request may run
// its execution itself when an instance of the model is idle, instead of
// handing it to the instance thread and waiting for the answer to be handed
// back (two thread wake-ups per request, the largest cost of a cheap model).
//
// A frontend opts in per thread, for the span of its call into the core, with
// an InlineExecutionScope naming its InlineExecutionBudget: how many of its
// threads may be executing at once. The budget keeps at least one thread of
// the frontend free to read and answer other requests whatever the models do.
// Everything else (which models, which instances) is Model::Enqueue's choice.
#pragma once

#include <atomic>

namespace inferd {

class InlineExecutionBudget {
 public:
  // `threads`: the frontend's thread count; at most threads - 1 execute at once.
  explicit InlineExecutionBudget(int threads) : limit_(threads - 1) {}

  // A slot, if one is free; give it back with Give().
  bool TryTake() {
    int used = used_.load(std::memory_order_relaxed);
    while (used < limit_) {
      if (used_.compare_exchange_weak(used, used + 1, std::memory_order_acquire)) return true;
    }
    return false;
  }
  void Give() { used_.fetch_sub(1, std::memory_order_release); }

 private:
  const int limit_;
  std::atomic<int> used_{0};
};

// While alive, the current thread may execute requests inline within `budget`.
// Scopes nest (the inner one wins until it ends); an execution itself runs
// with none, so what a model calls from inside never runs inline.
class InlineExecutionScope {
 public:
  explicit InlineExecutionScope(InlineExecutionBudget* budget);
  ~InlineExecutionScope();
  InlineExecutionScope(const InlineExecutionScope&) = delete;
  InlineExecutionScope& operator=(const InlineExecutionScope&) = delete;

  // The current thread's budget, or null where inline execution is not allowed.
  static InlineExecutionBudget* Current();

 private:
  InlineExecutionBudget* previous_;
};

}  // namespace inferd
