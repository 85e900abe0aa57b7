#include "frontend/restricted_api.h"

#include <gtest/gtest.h>

namespace inferd {
namespace {

TEST(RestrictedApis, ParsesTritonsFormat) {
  RestrictedApis r;
  ASSERT_TRUE(r.Add("--http-restricted-api", "model-repository,model-config:Admin-Key=a=b:c").ok());
  const auto* rule = r.RuleFor(ApiGroup::kModelRepository);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->key, "Admin-Key");
  EXPECT_EQ(rule->value, "a=b:c");  // the value is the rest, '=' and ':' included
  EXPECT_NE(r.RuleFor(ApiGroup::kModelConfig), nullptr);
  EXPECT_EQ(r.RuleFor(ApiGroup::kInference), nullptr);
  EXPECT_FALSE(r.empty());
  EXPECT_STREQ(ApiGroupName(ApiGroup::kSharedMemory), "shared-memory");
}

TEST(RestrictedApis, RefusesWhatTritonRefuses) {
  for (const char* bad : {"health", "health:", ":k=v", "health:k", "health:k=", "health:=v", "nope:k=v",
                          "health,:k=v", " health:k=v"}) {
    RestrictedApis r;
    Status st = r.Add("--flag", bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("--flag"), std::string::npos) << st.message();
  }
  RestrictedApis r;
  ASSERT_TRUE(r.Add("--flag", "health:a=b").ok());
  Status twice = r.Add("--flag", "metadata,health:c=d");
  EXPECT_FALSE(twice.ok());
  EXPECT_NE(twice.message().find("api 'health' can not be specified in multiple config groups"),
            std::string::npos) << twice.message();
  // Triton's words, which its QA greps: gRPC's flag speaks of protocols.
  RestrictedApis g;
  EXPECT_NE(g.Add("--grpc-restricted-protocol", "model-reposit:k=v").message().find(
                "unknown restricted protocol 'model-reposit'"), std::string::npos);
  EXPECT_NE(g.Add("--http-restricted-api", "model-reposit:k=v").message().find(
                "unknown restricted api 'model-reposit'"), std::string::npos);
}

}  // namespace
}  // namespace inferd
