#include "core/scheduler/sequence_batcher.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/inference_request.h"

namespace inferd {
namespace {

constexpr uint64_t kMs = 1'000'000;

RequestPtr Step(const std::string& id, bool start = false, bool end = false) {
  auto r = std::make_shared<InferenceRequest>();
  r->model_name = "m";
  r->batch_size = 1;
  r->parameters["sequence_id"] = id;
  if (start) r->parameters["sequence_start"] = "true";
  if (end) r->parameters["sequence_end"] = "true";
  return r;
}

SequenceBatcherOptions Options(size_t instances, size_t slots, uint64_t* clock) {
  SequenceBatcherOptions o;
  o.instances = instances;
  o.slots_per_instance = slots;
  o.max_batch = slots;
  o.max_idle_ns = 100 * kMs;
  o.clock = [clock] { return *clock; };
  SequenceControl start;
  start.input = "START";
  start.kind = inference::ModelSequenceBatching::Control::CONTROL_SEQUENCE_START;
  start.type = inference::TYPE_INT32;
  o.controls.push_back(start);
  return o;
}

int32_t StartValue(const RequestPtr& r) {
  const InputTensor* t = r->FindInput("START");
  int32_t v = -1;
  std::memcpy(&v, t->buffers[0].first, 4);
  return v;
}

TEST(SequenceBatcher, ASequenceStaysOnOneInstanceAndRunsInOrder) {
  uint64_t now = 1000 * kMs;
  SequenceBatcher b(Options(2, 1, &now));
  ASSERT_TRUE(b.Enqueue(Step("a", true)).ok());
  ASSERT_TRUE(b.Enqueue(Step("b", true)).ok());
  ASSERT_TRUE(b.Enqueue(Step("a")).ok());
  std::vector<RequestPtr> first, second;
  ASSERT_TRUE(b.NextBatchFor(0, &first));
  ASSERT_TRUE(b.NextBatchFor(1, &second));
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0]->parameters["sequence_id"], "a");  // a went to instance 0
  EXPECT_EQ(StartValue(first[0]), 1);
  EXPECT_EQ(second[0]->parameters["sequence_id"], "b");
  // a's second request waits for its first to finish, on instance 0 only.
  std::vector<RequestPtr> next;
  ASSERT_TRUE(b.NextBatchFor(0, &next));  // the call marks a's first request done
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0]->parameters["sequence_id"], "a");
  EXPECT_EQ(StartValue(next[0]), 0);
}

TEST(SequenceBatcher, ABatchTakesOneRequestPerSequence) {
  uint64_t now = 1000 * kMs;
  SequenceBatcher b(Options(1, 4, &now));
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(b.Enqueue(Step(id, true)).ok());
  ASSERT_TRUE(b.Enqueue(Step("a")).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatchFor(0, &batch));
  EXPECT_EQ(batch.size(), 3u);  // a, b, c; a's second request must wait
}

TEST(SequenceBatcher, OldestHoldsMoreCandidatesThanABatch) {
  uint64_t now = 1000 * kMs;
  SequenceBatcherOptions o = Options(1, 4, &now);
  o.max_batch = 2;  // 4 live sequences, batches of 2, oldest first
  SequenceBatcher b(o);
  for (const char* id : {"a", "b", "c", "d"}) {
    ASSERT_TRUE(b.Enqueue(Step(id, true)).ok());
    now += kMs;
  }
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.TryNextBatchFor(0, &batch));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0]->parameters["sequence_id"], "a");
  EXPECT_EQ(batch[1]->parameters["sequence_id"], "b");
  ASSERT_TRUE(b.TryNextBatchFor(0, &batch));
  EXPECT_EQ(batch[0]->parameters["sequence_id"], "c");
}

TEST(SequenceBatcher, UnknownSequencesNeedAStart) {
  uint64_t now = 1000 * kMs;
  SequenceBatcher b(Options(1, 1, &now));
  Status st = b.Enqueue(Step("x"));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("START"), std::string::npos) << st.message();
  EXPECT_FALSE(b.Enqueue(Step("0", true)).ok());  // 0 is no sequence id
}

TEST(SequenceBatcher, AfterItsEndOnlyAStartContinuesAnId) {
  uint64_t now = 1000 * kMs;
  SequenceBatcher b(Options(1, 2, &now));
  ASSERT_TRUE(b.Enqueue(Step("a", true)).ok());
  ASSERT_TRUE(b.Enqueue(Step("a", false, true)).ok());  // queued behind the start
  EXPECT_FALSE(b.Enqueue(Step("a")).ok());               // a has ended
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatchFor(0, &batch));  // the start runs
  ASSERT_TRUE(b.NextBatchFor(0, &batch));  // the end runs (not finished yet)
  ASSERT_EQ(batch.size(), 1u);
  Status st = b.Enqueue(Step("a"));  // a client that got the END's answer early
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("must specify the START flag"), std::string::npos) << st.message();
  EXPECT_TRUE(b.Enqueue(Step("a", true)).ok());  // a new start reuses the id
  // The same in the backlog, for a sequence still waiting for a slot.
  ASSERT_TRUE(b.Enqueue(Step("b", true)).ok());
  ASSERT_TRUE(b.Enqueue(Step("c", true, true)).ok());  // no slot left: backlog
  EXPECT_FALSE(b.Enqueue(Step("c")).ok());
}

TEST(SequenceBatcher, NewSequencesWaitForAFreeSlotAndIdleOnesAreReleased) {
  uint64_t now = 1000 * kMs;
  SequenceBatcher b(Options(1, 1, &now));
  ASSERT_TRUE(b.Enqueue(Step("a", true)).ok());
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatchFor(0, &batch));
  ASSERT_TRUE(b.Enqueue(Step("b", true)).ok());  // no slot: a holds it
  EXPECT_FALSE(b.TryNextBatchFor(0, &batch));   // a's request is done; a still holds the slot
  now += 200 * kMs;                             // a idles past max_idle
  ASSERT_TRUE(b.TryNextBatchFor(0, &batch));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0]->parameters["sequence_id"], "b");
  EXPECT_FALSE(b.Enqueue(Step("a")).ok());  // a was released
}

TEST(SequenceBatcher, StopDrainsThenEnds) {
  uint64_t now = 1000 * kMs;
  SequenceBatcher b(Options(1, 1, &now));
  ASSERT_TRUE(b.Enqueue(Step("a", true)).ok());
  ASSERT_TRUE(b.Enqueue(Step("a", false, true)).ok());
  b.Stop();
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatchFor(0, &batch));
  ASSERT_TRUE(b.NextBatchFor(0, &batch));
  EXPECT_FALSE(b.NextBatchFor(0, &batch));
}

std::vector<std::string> Ids(const std::vector<RequestPtr>& batch) {
  std::vector<std::string> ids;
  for (const auto& r : batch) ids.push_back(r->parameters.at("sequence_id"));
  return ids;
}

TEST(SequenceBatcher, DirectWaitsForMinimumSlotUtilizationAtMostTheDelay) {
  uint64_t now = 1000 * kMs;
  SequenceBatcherOptions o = Options(1, 4, &now);
  o.max_queue_delay_ns = 10 * kMs;
  o.minimum_slot_utilization = 0.5;  // 2 of the 4 slots
  SequenceBatcher b(o);
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.Enqueue(Step("a", true)).ok());
  EXPECT_FALSE(b.TryNextBatchFor(0, &batch));  // 1 of 4 ready: waits
  now += 3 * kMs;
  ASSERT_TRUE(b.Enqueue(Step("b", true)).ok());
  ASSERT_TRUE(b.TryNextBatchFor(0, &batch));  // 2 of 4: half the slots, leaves before the delay
  EXPECT_EQ(Ids(batch), (std::vector<std::string>{"a", "b"}));

  ASSERT_TRUE(b.Enqueue(Step("a")).ok());
  EXPECT_FALSE(b.TryNextBatchFor(0, &batch));
  now += 9 * kMs;
  EXPECT_FALSE(b.TryNextBatchFor(0, &batch));
  now += 1 * kMs;  // the delay ends: a leaves alone
  ASSERT_TRUE(b.TryNextBatchFor(0, &batch));
  EXPECT_EQ(Ids(batch), (std::vector<std::string>{"a"}));
}

TEST(SequenceBatcher, DirectDelayWithoutUtilizationSendsAtOnce) {
  uint64_t now = 1000 * kMs;
  SequenceBatcherOptions o = Options(1, 4, &now);
  o.max_queue_delay_ns = 10 * kMs;  // Triton: minimum_slot_utilization 0 means one ready slot is enough
  SequenceBatcher b(o);
  ASSERT_TRUE(b.Enqueue(Step("a", true)).ok());
  std::vector<RequestPtr> batch;
  EXPECT_TRUE(b.TryNextBatchFor(0, &batch));
}

TEST(SequenceBatcher, OldestWaitsForTheLargestPreferredSizeOrTheDelay) {
  uint64_t now = 1000 * kMs;
  SequenceBatcherOptions o = Options(1, 8, &now);  // 8 candidates, batches up to 8
  o.oldest = true;
  o.max_queue_delay_ns = 10 * kMs;
  o.preferred_sizes = {2, 3};
  SequenceBatcher b(o);
  std::vector<RequestPtr> batch;
  for (const char* id : {"a", "b"}) {
    ASSERT_TRUE(b.Enqueue(Step(id, true)).ok());
    now += kMs;
  }
  EXPECT_FALSE(b.TryNextBatchFor(0, &batch));  // 2 ready; 3 is preferred and may come
  for (const char* id : {"c", "d"}) {
    ASSERT_TRUE(b.Enqueue(Step(id, true)).ok());
    now += kMs;
  }
  ASSERT_TRUE(b.TryNextBatchFor(0, &batch));  // 4 ready: the 3 oldest leave
  EXPECT_EQ(Ids(batch), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(b.TryNextBatchFor(0, &batch));  // d waits out its delay
  now += 8 * kMs;                              // d has waited 9 ms
  EXPECT_FALSE(b.TryNextBatchFor(0, &batch));
  now += 1 * kMs;
  ASSERT_TRUE(b.TryNextBatchFor(0, &batch));
  EXPECT_EQ(Ids(batch), (std::vector<std::string>{"d"}));
}

TEST(SequenceBatcher, OldestWithoutPreferredSizesWaitsForAFullBatch) {
  uint64_t now = 1000 * kMs;
  SequenceBatcherOptions o = Options(1, 4, &now);
  o.oldest = true;
  o.max_batch = 2;
  o.max_queue_delay_ns = 5 * kMs;
  SequenceBatcher b(o);
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.Enqueue(Step("a", true)).ok());
  EXPECT_FALSE(b.TryNextBatchFor(0, &batch));
  ASSERT_TRUE(b.Enqueue(Step("b", true)).ok());
  ASSERT_TRUE(b.TryNextBatchFor(0, &batch));
  EXPECT_EQ(batch.size(), 2u);
}

TEST(SequenceBatcher, StopSendsWithoutWaitingOutTheDelay) {
  uint64_t now = 1000 * kMs;
  SequenceBatcherOptions o = Options(1, 4, &now);
  o.oldest = true;
  o.max_queue_delay_ns = 3600'000 * kMs;  // an hour: NextBatchFor must not wait it out
  SequenceBatcher b(o);
  ASSERT_TRUE(b.Enqueue(Step("a", true)).ok());
  b.Stop();
  std::vector<RequestPtr> batch;
  ASSERT_TRUE(b.NextBatchFor(0, &batch));
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_FALSE(b.NextBatchFor(0, &batch));
}

}  // namespace
}  // namespace inferd
