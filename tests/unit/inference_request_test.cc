#include "core/inference_request.h"

#include <gtest/gtest.h>

#include <cstring>

#include "common/aligned.h"
#include "common/logging.h"

namespace inferd {
namespace {

TEST(InferenceRequest, MisalignedInputsAreCopiedAlignedOnce) {
  auto body = std::make_shared<std::string>(std::string(300, '\0'));
  for (size_t i = 0; i < body->size(); ++i) (*body)[i] = static_cast<char>(i);
  InferenceRequest r;
  r.keep_alive.push_back(body);
  const char* base = body->data();
  const char* odd = base + (IsTensorAligned(base + 3) ? 4 : 3);
  r.inputs.emplace_back().AddBuffer(odd, 13);
  r.inputs.back().AddBuffer(odd + 13, 0);
  auto aligned = std::make_shared<AlignedBytes>(MakeAlignedBytes(64));
  aligned->assign(64, 'a');
  r.inputs.emplace_back().AddBuffer(aligned->data(), 64);
  r.keep_alive.push_back(aligned);
  r.AlignInputBuffers();
  for (const auto& in : r.inputs)
    for (const auto& [data, size] : in.buffers) EXPECT_TRUE(IsTensorAligned(data));
  EXPECT_EQ(std::memcmp(r.inputs[0].buffers[0].first, odd, 13), 0);
  EXPECT_EQ(r.inputs[1].buffers[0].first, aligned->data());  // already aligned: not copied
  const size_t kept = r.keep_alive.size();
  r.AlignInputBuffers();  // nothing left to do
  EXPECT_EQ(r.keep_alive.size(), kept);
}

TEST(InferenceRequest, AStepIsCancelledWithItsEnsembleRequestNotTheOtherWayRound) {
  auto client = std::make_shared<InferenceRequest>();
  auto step = std::make_shared<InferenceRequest>();
  auto nested_step = std::make_shared<InferenceRequest>();
  step->cancelled_with = client;
  nested_step->cancelled_with = step;
  EXPECT_FALSE(nested_step->IsCancelled());
  nested_step->Cancel();  // a step's own cancellation stays its own
  EXPECT_TRUE(nested_step->IsCancelled());
  EXPECT_FALSE(step->IsCancelled());
  EXPECT_FALSE(client->IsCancelled());
  auto other = std::make_shared<InferenceRequest>();
  other->cancelled_with = step;
  client->Cancel();
  EXPECT_TRUE(step->IsCancelled());
  EXPECT_TRUE(other->IsCancelled());  // two levels down
  EXPECT_FALSE(std::make_shared<InferenceRequest>()->IsCancelled());
}

TEST(LogThrottle, LetsOneThroughPerIntervalAndCountsTheRest) {
  LogThrottle throttle(std::chrono::hours(1));
  uint64_t suppressed = 99;
  EXPECT_TRUE(throttle.Allow(&suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(throttle.Allow(&suppressed));
  LogThrottle fast(std::chrono::milliseconds(0));
  EXPECT_TRUE(fast.Allow(&suppressed));
}

}  // namespace
}  // namespace inferd
