#include "core/scheduler/dynamic_batcher.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/inference_request.h"

namespace inferd {
namespace {

constexpr uint64_t kMs = 1'000'000;

// A clock the test moves by hand.
struct FakeClock {
  uint64_t now = 1000 * kMs;
  std::function<uint64_t()> fn() {
    return [this] { return now; };
  }
};

DynamicBatcherOptions Options(uint64_t max_batch, std::set<uint64_t> preferred, uint64_t delay_ns,
                              FakeClock* clock = nullptr) {
  DynamicBatcherOptions o;
  o.max_batch_size = max_batch;
  o.preferred_sizes = std::move(preferred);
  o.max_queue_delay_ns = delay_ns;
  if (clock) o.clock = clock->fn();
  return o;
}

RequestPtr Request(int64_t batch, int64_t width = 4, std::map<std::string, std::string> params = {}) {
  auto r = std::make_shared<InferenceRequest>();
  r->model_name = "m";
  r->batch_size = static_cast<uint64_t>(batch);
  r->parameters = std::move(params);
  InputTensor in;
  in.name = "I";
  in.datatype = INFERD_TYPE_FP32;
  in.shape = {batch, width};
  r->inputs.push_back(in);
  return r;
}

// A request whose answer the test can read.
RequestPtr Watched(Status* answer, std::map<std::string, std::string> params = {}) {
  auto r = Request(1, 4, std::move(params));
  r->on_response = [answer](std::unique_ptr<InferenceResponse> res) { *answer = res->status; };
  return r;
}

uint64_t Total(const std::vector<RequestPtr>& batch) {
  uint64_t n = 0;
  for (const auto& r : batch) n += r->batch_size;
  return n;
}

TEST(DynamicBatcher, SendsAFullBatchWithoutWaitingForTheDelay) {
  FakeClock clock;
  DynamicBatcher b(Options(8, {}, 60'000 * kMs, &clock));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(b.Enqueue(Request(2)).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.TryNextBatch(&batch));
  EXPECT_EQ(Total(batch), 8u);
}

TEST(DynamicBatcher, WaitsUntilTheDelayExpiresThenSendsWhatIsQueued) {
  FakeClock clock;
  DynamicBatcher b(Options(8, {}, 10 * kMs, &clock));
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  std::vector<RequestPtr> batch;
  EXPECT_FALSE(b.TryNextBatch(&batch));  // 1 of 8, delay not over
  clock.now += 4 * kMs;
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  clock.now += 5 * kMs;
  EXPECT_FALSE(b.TryNextBatch(&batch));  // 9 ms after the first request
  clock.now += 1 * kMs;
  ASSERT_TRUE(b.TryNextBatch(&batch));   // 10 ms: the delay is over
  EXPECT_EQ(batch.size(), 2u);
}

TEST(DynamicBatcher, NeverExceedsMaxBatchSize) {
  DynamicBatcher b(Options(4, {}, 0));
  ASSERT_TRUE(b.Enqueue(Request(3)).ok());
  ASSERT_TRUE(b.Enqueue(Request(2)).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(Total(batch), 3u);
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(Total(batch), 2u);
}

TEST(DynamicBatcher, OnlyRequestsOfTheSameShapeShareABatch) {
  DynamicBatcher b(Options(8, {}, 0));
  ASSERT_TRUE(b.Enqueue(Request(1, 4)).ok());
  ASSERT_TRUE(b.Enqueue(Request(1, 4)).ok());
  ASSERT_TRUE(b.Enqueue(Request(1, 5)).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(batch.size(), 2u);
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0]->inputs[0].shape[1], 5);
}

TEST(DynamicBatcher, RaggedInputsMayDifferInShape) {
  DynamicBatcherOptions o = Options(8, {}, 0);
  o.ragged_inputs = {"I"};
  DynamicBatcher b(o);
  ASSERT_TRUE(b.Enqueue(Request(1, 4)).ok());
  ASSERT_TRUE(b.Enqueue(Request(1, 7)).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(batch.size(), 2u);
}

TEST(DynamicBatcher, PreferredSizes) {
  FakeClock clock;
  DynamicBatcher b(Options(8, {2, 4}, 60'000 * kMs, &clock));
  std::vector<RequestPtr> batch;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  EXPECT_FALSE(b.TryNextBatch(&batch));  // 3 is not preferred and can still grow
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  ASSERT_TRUE(b.TryNextBatch(&batch));   // 4: the largest preferred size
  EXPECT_EQ(Total(batch), 4u);
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  ASSERT_TRUE(b.Enqueue(Request(1, 9)).ok());  // incompatible: the batch of 2 cannot grow
  ASSERT_TRUE(b.TryNextBatch(&batch));
  EXPECT_EQ(Total(batch), 2u);
}

TEST(DynamicBatcher, RealClockWaitsForLateArrivals) {
  DynamicBatcher b(Options(8, {}, 30 * kMs));
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  });
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));
  late.join();
  EXPECT_EQ(batch.size(), 2u);  // the second arrived within the delay and joined
}

TEST(DynamicBatcher, HigherPriorityIsServedFirst) {
  DynamicBatcherOptions o = Options(2, {}, 0);
  o.queue.priority_levels = 3;
  o.queue.default_level = 2;
  DynamicBatcher b(o);
  auto low = Request(1, 4, {{"priority", "3"}});
  auto normal = Request(1);  // default level 2
  auto high = Request(1, 4, {{"priority", "1"}});
  ASSERT_TRUE(b.Enqueue(low).ok());
  ASSERT_TRUE(b.Enqueue(normal).ok());
  ASSERT_TRUE(b.Enqueue(high).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0], high);
  EXPECT_EQ(batch[1], normal);
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(batch[0], low);
  Status st = b.Enqueue(Request(1, 4, {{"priority", "4"}}));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("priority 4 is out of range"), std::string::npos) << st.message();
}

TEST(DynamicBatcher, TimedOutRequestsAreRejected) {
  FakeClock clock;
  DynamicBatcherOptions o = Options(8, {}, 100 * kMs, &clock);
  o.queue.default_policy.default_timeout_ns = 5 * kMs;
  DynamicBatcher b(o);
  Status answer;
  ASSERT_TRUE(b.Enqueue(Watched(&answer)).ok());
  clock.now += 6 * kMs;
  std::vector<RequestPtr> batch;
  EXPECT_FALSE(b.TryNextBatch(&batch));
  EXPECT_EQ(answer.code(), Status::Code::kUnavailable);
  EXPECT_NE(answer.message().find("timeout expired"), std::string::npos) << answer.message();
}

TEST(DynamicBatcher, TimedOutRequestsWithDelayWaitBehindTheOthers) {
  FakeClock clock;
  DynamicBatcherOptions o = Options(1, {}, 0, &clock);
  o.queue.default_policy.default_timeout_ns = 5 * kMs;
  o.queue.default_policy.delay_on_timeout = true;
  o.queue.default_policy.allow_timeout_override = true;
  DynamicBatcher b(o);
  auto early = Request(1);  // deadline: +5 ms
  ASSERT_TRUE(b.Enqueue(early).ok());
  clock.now += 1 * kMs;
  auto later = Request(1, 4, {{"timeout", "100000"}});  // asks for 100 ms: capped at 5 ms, +6 ms
  ASSERT_TRUE(b.Enqueue(later).ok());
  clock.now += 4 * kMs + kMs / 2;  // +5.5 ms: early timed out, later not yet
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.TryNextBatch(&batch));
  EXPECT_EQ(batch[0], later);  // the one that did not time out goes first
  ASSERT_TRUE(b.TryNextBatch(&batch));
  EXPECT_EQ(batch[0], early);  // delayed, not rejected
}

TEST(DynamicBatcher, RequestMayShortenItsTimeout) {
  FakeClock clock;
  DynamicBatcherOptions o = Options(8, {}, 100 * kMs, &clock);
  o.queue.default_policy.default_timeout_ns = 50 * kMs;
  o.queue.default_policy.allow_timeout_override = true;
  DynamicBatcher b(o);
  Status answer;
  ASSERT_TRUE(b.Enqueue(Watched(&answer, {{"timeout", "2000"}})).ok());  // 2 ms
  clock.now += 3 * kMs;
  std::vector<RequestPtr> batch;
  EXPECT_FALSE(b.TryNextBatch(&batch));
  EXPECT_NE(answer.message().find("timeout expired"), std::string::npos);
}

TEST(DynamicBatcher, AFullQueueRefusesClearly) {
  DynamicBatcherOptions o = Options(8, {}, 60'000 * kMs);
  o.queue.default_policy.max_queue_size = 2;
  DynamicBatcher b(o);
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  Status st = b.Enqueue(Request(1));
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("is full (max_queue_size 2)"), std::string::npos) << st.message();
}

TEST(DynamicBatcher, StopDrainsThenEnds) {
  DynamicBatcher b(Options(8, {}, 60'000 * kMs));
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  b.Stop();
  EXPECT_FALSE(b.Enqueue(Request(1)).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));  // the queued request is still handed out
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_FALSE(b.NextBatch(&batch));
}

}  // namespace
}  // namespace inferd
