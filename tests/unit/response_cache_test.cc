#include "core/response_cache.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/inference_request.h"

namespace inferd {
namespace {

std::shared_ptr<InferenceRequest> Request(const std::string& data, std::vector<int64_t> shape,
                                          DataType type = INFERD_TYPE_UINT8) {
  auto r = std::make_shared<InferenceRequest>();
  auto owned = std::make_shared<std::string>(data);
  InputTensor in;
  in.name = "I";
  in.datatype = type;
  in.shape = std::move(shape);
  in.AddBuffer(owned->data(), owned->size());
  r->inputs.push_back(in);
  r->keep_alive.push_back(owned);
  r->output_names = {"O"};
  return r;
}

void Answer(InferenceResponse* res, const std::string& bytes) {
  OutputTensor* o = res->AddOutput("O", INFERD_TYPE_UINT8, {static_cast<int64_t>(bytes.size())}, bytes.size());
  std::memcpy(o->data.get(), bytes.data(), bytes.size());
}

TEST(ResponseCache, HitReturnsACopyOfWhatWasStored) {
  ResponseCache cache(1 << 20);
  auto r = Request("abcd", {4});
  const std::string key = ResponseCache::Key(*r, "m", 1);
  InferenceResponse miss(r);
  EXPECT_FALSE(cache.Lookup(key, &miss));
  InferenceResponse answer(r);
  Answer(&answer, "wxyz");
  cache.Insert(key, answer);
  InferenceResponse hit(r);
  ASSERT_TRUE(cache.Lookup(ResponseCache::Key(*Request("abcd", {4}), "m", 1), &hit));
  ASSERT_EQ(hit.outputs.size(), 1u);
  EXPECT_EQ(std::string(hit.outputs[0].begin(), hit.outputs[0].byte_size), "wxyz");
  EXPECT_NE(hit.outputs[0].data.get(), answer.outputs[0].data.get());
}

TEST(ResponseCache, AHitCarriesTheResponseParametersToo) {
  ResponseCache cache(1 << 20);
  auto r = Request("abcd", {4});
  const std::string key = ResponseCache::Key(*r, "m", 1);
  InferenceResponse answer(r);
  Answer(&answer, "wxyz");
  answer.parameters.emplace_back().name = "p";
  answer.parameters.back().text = "v";
  cache.Insert(key, answer);
  InferenceResponse hit(r);
  ASSERT_TRUE(cache.Lookup(key, &hit));
  ASSERT_EQ(hit.parameters.size(), 1u);
  EXPECT_EQ(hit.parameters[0].name, "p");
  EXPECT_EQ(hit.parameters[0].text, "v");
}

TEST(ResponseCache, KeyCoversModelVersionBytesShapeTypeAndOutputs) {
  auto base = Request("abcd", {4});
  const std::string key = ResponseCache::Key(*base, "m", 1);
  EXPECT_NE(key, ResponseCache::Key(*base, "n", 1));
  EXPECT_NE(key, ResponseCache::Key(*base, "m", 2));
  EXPECT_NE(key, ResponseCache::Key(*Request("abce", {4}), "m", 1));
  EXPECT_NE(key, ResponseCache::Key(*Request("abcd", {2, 2}), "m", 1));
  EXPECT_NE(key, ResponseCache::Key(*Request("abcd", {4}, INFERD_TYPE_INT8), "m", 1));
  auto classified = Request("abcd", {4});
  classified->outputs.emplace_back().name = "O";
  classified->outputs.back().classification_count = 3;
  EXPECT_NE(key, ResponseCache::Key(*classified, "m", 1));
}

TEST(ResponseCache, EvictsLeastRecentlyUsedToStayUnderBudget) {
  auto a = Request(std::string(100, 'a'), {100});
  auto b = Request(std::string(100, 'b'), {100});
  auto c = Request(std::string(100, 'c'), {100});
  const std::string ka = ResponseCache::Key(*a, "m", 1), kb = ResponseCache::Key(*b, "m", 1),
                    kc = ResponseCache::Key(*c, "m", 1);
  // Room for two entries (key + 100-byte answer each), not three.
  ResponseCache cache(2 * (ka.size() + 101) + 10);
  for (auto& [r, k] : {std::pair{a, ka}, std::pair{b, kb}}) {
    InferenceResponse res(r);
    Answer(&res, std::string(100, 'x'));
    cache.Insert(k, res);
  }
  InferenceResponse touch(a);
  ASSERT_TRUE(cache.Lookup(ka, &touch));  // a is now the most recently used
  InferenceResponse res(c);
  Answer(&res, std::string(100, 'y'));
  cache.Insert(kc, res);
  EXPECT_EQ(cache.entries(), 2u);
  InferenceResponse out(a);
  EXPECT_TRUE(cache.Lookup(ka, &out));
  InferenceResponse out_b(b);
  EXPECT_FALSE(cache.Lookup(kb, &out_b));  // b was evicted
  EXPECT_LE(cache.bytes(), 2 * (ka.size() + 101) + 10);
}

}  // namespace
}  // namespace inferd
