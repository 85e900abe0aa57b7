// InferdCoreApi.ResponseSetParameter (ABI 1.6): what a backend may put on a
// response, and what it is refused, each refusal naming the rule.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/core_api.h"
#include "core/inference_request.h"
#include "core/inference_response.h"

namespace inferd {
namespace {

std::string Refusal(InferdError* error) {
  if (error == nullptr) return "";
  std::string text = CoreApi()->ErrorMessage(error);
  CoreApi()->ErrorDelete(error);
  return text;
}

TEST(ResponseParameters, EachTypeIsKeptAndANameSetAgainIsReplaced) {
  InferenceResponse res(std::make_shared<InferenceRequest>());
  const InferdCoreApi* api = CoreApi();
  const int64_t n = -7;
  const int yes = 1;
  const double half = 0.5;
  EXPECT_EQ(Refusal(api->ResponseSetParameter(&res, "s", INFERD_PARAMETER_STRING, "text")), "");
  EXPECT_EQ(Refusal(api->ResponseSetParameter(&res, "i", INFERD_PARAMETER_INT, &n)), "");
  EXPECT_EQ(Refusal(api->ResponseSetParameter(&res, "b", INFERD_PARAMETER_BOOL, &yes)), "");
  EXPECT_EQ(Refusal(api->ResponseSetParameter(&res, "d", INFERD_PARAMETER_DOUBLE, &half)), "");
  EXPECT_EQ(Refusal(api->ResponseSetParameter(&res, "s", INFERD_PARAMETER_STRING, "again")), "");
  ASSERT_EQ(res.parameters.size(), 4u);
  EXPECT_EQ(res.parameters[0].text, "again");
  EXPECT_EQ(res.parameters[1].integer, -7);
  EXPECT_TRUE(res.parameters[2].boolean);
  EXPECT_EQ(res.parameters[3].number, 0.5);
}

TEST(ResponseParameters, BadOnesAreRefusedNamingWhy) {
  InferenceResponse res(std::make_shared<InferenceRequest>());
  const InferdCoreApi* api = CoreApi();
  const double nan = std::nan("");
  EXPECT_NE(Refusal(api->ResponseSetParameter(&res, "d", INFERD_PARAMETER_DOUBLE, &nan)).find("finite"),
            std::string::npos);
  EXPECT_NE(Refusal(api->ResponseSetParameter(&res, "triton_final_response", INFERD_PARAMETER_STRING, "x"))
                .find("server's"),
            std::string::npos);
  EXPECT_NE(Refusal(api->ResponseSetParameter(&res, "", INFERD_PARAMETER_STRING, "x")).find("1 to 256"),
            std::string::npos);
  EXPECT_NE(Refusal(api->ResponseSetParameter(&res, "s", INFERD_PARAMETER_STRING, "\xff")).find("UTF-8"),
            std::string::npos);
  const std::string big(64 * 1024 + 1, 'a');
  EXPECT_NE(Refusal(api->ResponseSetParameter(&res, "s", INFERD_PARAMETER_STRING, big.c_str())).find("64 KiB"),
            std::string::npos);
  for (int i = 0; i < 64; ++i) {
    const int64_t v = i;
    ASSERT_EQ(Refusal(api->ResponseSetParameter(&res, ("p" + std::to_string(i)).c_str(), INFERD_PARAMETER_INT, &v)),
              "");
  }
  const int64_t v = 64;
  EXPECT_NE(Refusal(api->ResponseSetParameter(&res, "p64", INFERD_PARAMETER_INT, &v)).find("at most 64"),
            std::string::npos);
  EXPECT_EQ(res.parameters.size(), 64u);
}

}  // namespace
}  // namespace inferd
