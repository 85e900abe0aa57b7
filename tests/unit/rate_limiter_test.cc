#include "core/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace inferd {
namespace {

using Handle = RateLimiter::Handle;

Handle Add(RateLimiter& limiter, const std::string& name, std::vector<RateLimitResource> needs,
           uint32_t priority = 1, int device = 0) {
  Handle h = 0;
  Status st = limiter.Register(name, device, std::move(needs), priority, &h);
  EXPECT_TRUE(st.ok()) << st.message();
  return h;
}

TEST(RateLimiter, ParsesResourceFlags) {
  RateLimitResourceFlag f;
  ASSERT_TRUE(ParseRateLimitResource("R1:10", &f).ok());
  EXPECT_EQ(f.name, "R1");
  EXPECT_EQ(f.count, 10u);
  EXPECT_EQ(f.device, -1);
  ASSERT_TRUE(ParseRateLimitResource("R2:5:1", &f).ok());
  EXPECT_EQ(f.device, 1);
  for (const char* bad : {"R1", "R1:", ":3", "R1:x", "R1:3:-1", "R1:3:1:2", "R1:-2"}) {
    Status st = ParseRateLimitResource(bad, &f);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("<name>:<count>"), std::string::npos) << st.message();
  }
}

TEST(RateLimiter, DefaultCountIsTheMostOneInstanceNeeds) {
  // Triton's example: A [R1:4, R2:4], B [R2:5, R3:10, R4:5], C [R1:1, R3:7, R4:2].
  RateLimiter limiter({});
  Handle a = Add(limiter, "A", {{"R1", 4}, {"R2", 4}});
  Add(limiter, "B", {{"R2", 5}, {"R3", 10}, {"R4", 5}});
  Handle c = Add(limiter, "C", {{"R1", 1}, {"R3", 7}, {"R4", 2}});
  EXPECT_EQ(limiter.Available("R1", 0), 4u);
  EXPECT_EQ(limiter.Available("R2", 0), 5u);
  EXPECT_EQ(limiter.Available("R3", 0), 10u);
  EXPECT_EQ(limiter.Available("R4", 0), 5u);
  ASSERT_TRUE(limiter.TryAcquire(a));   // takes R1:4
  EXPECT_FALSE(limiter.TryAcquire(c));  // needs R1:1, none left
  limiter.Release(a);
  EXPECT_TRUE(limiter.TryAcquire(c));
}

TEST(RateLimiter, ExplicitCountsPerDeviceAndGlobal) {
  RateLimiter limiter({{"R1", 10, -1}, {"R2", 5, 0}, {"R2", 8, 1}, {"R3", 2, -1}});
  EXPECT_EQ(limiter.Available("R1", 0), 10u);
  EXPECT_EQ(limiter.Available("R1", 1), 10u);
  EXPECT_EQ(limiter.Available("R2", 0), 5u);
  EXPECT_EQ(limiter.Available("R2", 1), 8u);
  EXPECT_EQ(limiter.Available("R3", -1), 2u);
  // Per-device resources: instances on different devices do not compete.
  Handle d0 = Add(limiter, "d0", {{"R2", 5}}, 1, 0);
  Handle d1 = Add(limiter, "d1", {{"R2", 5}}, 1, 1);
  ASSERT_TRUE(limiter.TryAcquire(d0));
  EXPECT_TRUE(limiter.TryAcquire(d1));
  // A global resource is one pool for all devices.
  Handle g0 = Add(limiter, "g0", {{"R3", 2, true}}, 1, 0);
  Handle g1 = Add(limiter, "g1", {{"R3", 1, true}}, 1, 1);
  ASSERT_TRUE(limiter.TryAcquire(g0));
  EXPECT_FALSE(limiter.TryAcquire(g1));
  limiter.Release(g0);
  EXPECT_TRUE(limiter.TryAcquire(g1));
}

TEST(RateLimiter, AnInstanceNeedingMoreThanAnExplicitCountCannotLoad) {
  RateLimiter limiter({{"R1", 2, -1}});
  Handle h = 0;
  Status st = limiter.Register("big_0", 0, {{"R1", 3}}, 1, &h);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("instance big_0 needs 3 of resource 'R1' (device 0) but --rate-limit-resource gives 2"),
            std::string::npos)
      << st.message();
}

TEST(RateLimiter, AcquireWaitsForTheResourcesToBeReleased) {
  RateLimiter limiter({});
  Handle a = Add(limiter, "a", {{"R", 1}});
  Handle b = Add(limiter, "b", {{"R", 1}});
  limiter.Acquire(a);
  std::atomic<bool> b_running{false};
  std::thread t([&] {
    limiter.Acquire(b);
    b_running = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(b_running.load());  // R is held by a
  limiter.Release(a);
  t.join();
  EXPECT_TRUE(b_running.load());
  limiter.Release(b);
}

TEST(RateLimiter, PriorityTwoGetsHalfTheChances) {
  RateLimiter limiter({});
  Handle fast = Add(limiter, "p1", {{"R", 1}}, 1);
  Handle slow = Add(limiter, "p2", {{"R", 1}}, 2);
  Handle holder = Add(limiter, "holder", {{"R", 1}});
  ASSERT_TRUE(limiter.TryAcquire(holder));
  // Both always want R, which admits one at a time: each round both are in
  // line when R is released, and the limiter picks one.
  int runs_fast = 0, runs_slow = 0;
  for (int round = 0; round < 30; ++round) {
    EXPECT_FALSE(limiter.TryAcquire(fast));  // R is held: in line
    EXPECT_FALSE(limiter.TryAcquire(slow));
    limiter.Release(holder);
    if (limiter.TryAcquire(fast)) {
      holder = fast;
      ++runs_fast;
    } else {
      ASSERT_TRUE(limiter.TryAcquire(slow));
      holder = slow;
      ++runs_slow;
    }
  }
  EXPECT_EQ(runs_fast + runs_slow, 30);
  EXPECT_NEAR(runs_fast, 20, 1);
  EXPECT_NEAR(runs_slow, 10, 1);
}

TEST(RateLimiter, InstancesWithoutResourcesAlwaysRun) {
  RateLimiter limiter({});
  Handle a = Add(limiter, "a", {});
  Handle b = Add(limiter, "b", {});
  EXPECT_TRUE(limiter.TryAcquire(a));
  EXPECT_TRUE(limiter.TryAcquire(b));
}

}  // namespace
}  // namespace inferd
