// The default scheduler, and how it lends an idle instance to the thread that
// brings a request (inline execution).
#include "core/scheduler/fifo_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "core/inference_request.h"
#include "core/inline_execution.h"

namespace inferd {
namespace {

RequestPtr Request(const std::string& id) {
  auto r = std::make_shared<InferenceRequest>();
  r->model_name = "m";
  r->id = id;
  return r;
}

// Calls `pred` until it holds (2 s at most): the instance threads get there
// on their own time. `pred` may act (claim) when it succeeds: it is not called again.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// Borrows an instance as soon as one waits idle (its thread may not be there yet).
bool ClaimWhenIdle(FifoScheduler& s, size_t* index) {
  return Eventually([&] { return s.ClaimIdleInstance(index); });
}

// An instance thread that records what it was handed.
struct Instance {
  Instance(FifoScheduler* s, size_t index) : scheduler(s) {
    thread = std::thread([this, s, index] {
      std::vector<RequestPtr> batch;
      while (s->NextBatchFor(index, &batch)) {
        std::lock_guard<std::mutex> lock(mu);
        for (auto& r : batch) ran.push_back(r->id);
      }
      ended = true;
    });
  }
  // The test has given back what it claimed; a failed assertion may leave
  // the scheduler running, so stop it here.
  ~Instance() {
    scheduler->Stop();
    if (thread.joinable()) thread.join();
  }
  std::vector<std::string> Ran() {
    std::lock_guard<std::mutex> lock(mu);
    return ran;
  }
  FifoScheduler* scheduler;
  std::mutex mu;
  std::vector<std::string> ran;
  std::atomic<bool> ended{false};
  std::thread thread;
};

TEST(FifoScheduler, HandsOutRequestsInArrivalOrder) {
  FifoScheduler s(1);
  ASSERT_TRUE(s.Enqueue(Request("a")).ok());
  ASSERT_TRUE(s.Enqueue(Request("b")).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(s.NextBatchFor(0, &batch));
  EXPECT_EQ(batch.at(0)->id, "a");
  ASSERT_TRUE(s.NextBatchFor(0, &batch));
  EXPECT_EQ(batch.at(0)->id, "b");
  s.Stop();
  EXPECT_FALSE(s.NextBatchFor(0, &batch));
  EXPECT_FALSE(s.Enqueue(Request("c")).ok());
}

TEST(FifoScheduler, LendsOnlyAnInstanceThatWaitsWithNothingQueued) {
  FifoScheduler s(1);
  size_t index = 99;
  EXPECT_FALSE(s.ClaimIdleInstance(&index)) << "no instance thread waits yet";
  Instance instance(&s, 0);
  ASSERT_TRUE(Eventually([&] {
    if (!s.ClaimIdleInstance(&index)) return false;
    s.ReleaseInstance(index);
    return true;
  }));
  EXPECT_EQ(index, 0u);
  ASSERT_TRUE(s.ClaimIdleInstance(&index));
  EXPECT_FALSE(s.ClaimIdleInstance(&index)) << "an instance is lent once at a time";
  s.ReleaseInstance(index);
  s.Stop();
}

TEST(FifoScheduler, ALentInstanceTakesNoRequestUntilItIsReleased) {
  FifoScheduler s(1);
  Instance instance(&s, 0);
  size_t index = 0;
  ASSERT_TRUE(ClaimWhenIdle(s, &index));
  ASSERT_TRUE(s.Enqueue(Request("queued")).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(instance.Ran().empty()) << "the lent instance ran a request while lent";
  size_t other = 0;
  EXPECT_FALSE(s.ClaimIdleInstance(&other)) << "a queued request goes before any lending";
  s.ReleaseInstance(index);
  ASSERT_TRUE(Eventually([&] { return instance.Ran().size() == 1; }));
  EXPECT_EQ(instance.Ran().at(0), "queued");
  s.Stop();
}

TEST(FifoScheduler, WithAnInstanceLentAnotherTakesTheQueue) {
  FifoScheduler s(2);
  Instance first(&s, 0), second(&s, 1);
  size_t lent = 0;
  ASSERT_TRUE(ClaimWhenIdle(s, &lent));
  // Several wake-ups, some of which may reach the lent thread: each request must still run.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(s.Enqueue(Request(std::to_string(i))).ok());
  Instance& other = lent == 0 ? second : first;
  ASSERT_TRUE(Eventually([&] { return other.Ran().size() == 20; }));
  EXPECT_TRUE((lent == 0 ? first : second).Ran().empty());
  s.ReleaseInstance(lent);
  s.Stop();
}

TEST(FifoScheduler, StopWaitsForALentInstanceToComeBack) {
  FifoScheduler s(1);
  Instance instance(&s, 0);
  size_t index = 0;
  ASSERT_TRUE(ClaimWhenIdle(s, &index));
  s.Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Its thread would finalize the backend instance the borrower is using.
  EXPECT_FALSE(instance.ended) << "the instance thread ended while its instance was lent";
  EXPECT_FALSE(s.ClaimIdleInstance(&index)) << "nothing is lent once stopped";
  s.ReleaseInstance(index);
  EXPECT_TRUE(Eventually([&] { return instance.ended.load(); }));
}

TEST(InlineExecutionBudget, LeavesOneThreadOfTheFrontendFree) {
  InlineExecutionBudget two(2);
  EXPECT_TRUE(two.TryTake());
  EXPECT_FALSE(two.TryTake());
  two.Give();
  EXPECT_TRUE(two.TryTake());
  InlineExecutionBudget one(1);
  EXPECT_FALSE(one.TryTake()) << "a frontend with one thread never executes inline";
}

TEST(InlineExecutionScope, NestsAndRestores) {
  EXPECT_EQ(InlineExecutionScope::Current(), nullptr);
  InlineExecutionBudget budget(4);
  {
    InlineExecutionScope outer(&budget);
    EXPECT_EQ(InlineExecutionScope::Current(), &budget);
    {
      InlineExecutionScope none(nullptr);
      EXPECT_EQ(InlineExecutionScope::Current(), nullptr);
    }
    EXPECT_EQ(InlineExecutionScope::Current(), &budget);
    std::thread other([] { EXPECT_EQ(InlineExecutionScope::Current(), nullptr) << "per thread"; });
    other.join();
  }
  EXPECT_EQ(InlineExecutionScope::Current(), nullptr);
}

}  // namespace
}  // namespace inferd
