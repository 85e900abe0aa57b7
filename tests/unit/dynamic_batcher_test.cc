#include "core/scheduler/dynamic_batcher.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/inference_request.h"

namespace inferd {
namespace {

RequestPtr Request(int64_t batch, int64_t width = 4) {
  auto r = std::make_shared<InferenceRequest>();
  r->model_name = "m";
  r->batch_size = static_cast<uint64_t>(batch);
  InputTensor in;
  in.name = "I";
  in.datatype = INFERD_TYPE_FP32;
  in.shape = {batch, width};
  r->inputs.push_back(in);
  return r;
}

uint64_t Total(const std::vector<RequestPtr>& batch) {
  uint64_t n = 0;
  for (const auto& r : batch) n += r->batch_size;
  return n;
}

TEST(DynamicBatcher, SendsAFullBatchWithoutWaitingForTheDelay) {
  DynamicBatcher b({8, {}, 60'000'000'000ull});  // a minute of delay: must not be waited
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.Enqueue(Request(2)).ok());
  ASSERT_TRUE(b.Enqueue(Request(2)).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(Total(batch), 8u);
}

TEST(DynamicBatcher, NeverExceedsMaxBatchSize) {
  DynamicBatcher b({4, {}, 0});
  ASSERT_TRUE(b.Enqueue(Request(3)).ok());
  ASSERT_TRUE(b.Enqueue(Request(2)).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(Total(batch), 3u);
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(Total(batch), 2u);
}

TEST(DynamicBatcher, OnlyRequestsOfTheSameShapeShareABatch) {
  DynamicBatcher b({8, {}, 0});
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

TEST(DynamicBatcher, WaitsForTheDelayThenSendsWhatIsQueued) {
  DynamicBatcher b({8, {}, 30'000'000});  // 30 ms
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

TEST(DynamicBatcher, APreferredSizeThatCannotGrowLeavesAtOnce) {
  DynamicBatcher b({8, {2, 8}, 60'000'000'000ull});
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  ASSERT_TRUE(b.Enqueue(Request(1)).ok());
  ASSERT_TRUE(b.Enqueue(Request(1, 9)).ok());  // incompatible: the batch of 2 cannot grow
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatch(&batch));
  EXPECT_EQ(Total(batch), 2u);
}

TEST(DynamicBatcher, StopDrainsThenEnds) {
  DynamicBatcher b({8, {}, 60'000'000'000ull});
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
