#include "core/response_orderer.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace inferd {
namespace {

TEST(ResponseOrderer, DeliversInTakeOrderWhateverTheFinishOrder) {
  ResponseOrderer o;
  std::vector<int> delivered;
  const uint64_t a = o.Take(), b = o.Take(), c = o.Take();
  o.Deliver(c, [&] { delivered.push_back(3); });
  o.Deliver(b, [&] { delivered.push_back(2); });
  EXPECT_TRUE(delivered.empty());  // a is still out
  o.Deliver(a, [&] { delivered.push_back(1); });
  EXPECT_EQ(delivered, (std::vector<int>{1, 2, 3}));
}

TEST(ResponseOrderer, SkippedPositionsDoNotBlock) {
  ResponseOrderer o;
  std::vector<int> delivered;
  const uint64_t a = o.Take(), b = o.Take();
  o.Deliver(b, [&] { delivered.push_back(2); });
  o.Skip(a);
  EXPECT_EQ(delivered, (std::vector<int>{2}));
}

TEST(ResponseOrderer, ConcurrentDeliveriesKeepTheOrder) {
  ResponseOrderer o;
  constexpr int kCount = 200;
  std::vector<uint64_t> positions;
  for (int i = 0; i < kCount; ++i) positions.push_back(o.Take());
  std::mutex mu;
  std::vector<uint64_t> delivered;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = kCount - 1 - t; i >= 0; i -= 4) {
        o.Deliver(positions[static_cast<size_t>(i)], [&, i] {
          std::lock_guard<std::mutex> lock(mu);
          delivered.push_back(static_cast<uint64_t>(i));
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(delivered.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(delivered[static_cast<size_t>(i)], static_cast<uint64_t>(i));
}

}  // namespace
}  // namespace inferd
