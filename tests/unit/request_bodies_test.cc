#include "frontend/http/request_bodies.h"

#include <gtest/gtest.h>

#include <string>

#include "common/json_parse.h"
#include "core/model_config_parse.h"

namespace inferd {
namespace {

TEST(ParseJson, RefusesDeepNestingWithoutRecursing) {
  rapidjson::Document doc;
  std::string error;
  // A million levels would overflow a recursive parser's stack.
  const std::string deep(1000000, '[');
  EXPECT_FALSE(ParseJson(deep, &doc, &error));
  EXPECT_NE(error.find("nested more than 128 levels"), std::string::npos) << error;
  std::string ok;
  for (int i = 0; i < 100; ++i) ok += "[";
  ok += "1";
  for (int i = 0; i < 100; ++i) ok += "]";
  EXPECT_TRUE(ParseJson(ok, &doc, &error)) << error;
  EXPECT_TRUE(doc.IsArray());
  EXPECT_FALSE(ParseJson("{\"a\": 1} trailing", &doc, &error));
  EXPECT_NE(error.find("malformed JSON at offset"), std::string::npos) << error;
  EXPECT_FALSE(ParseJson("", &doc, &error));
}

TEST(ParseJson, ConfigOverridesAreDepthLimitedToo) {
  // A load's 'config' goes through protobuf's JSON parser, which has a depth limit of its own.
  inference::ModelConfig config;
  Status st = ModelConfigFromJson("{\"parameters\":" + std::string(200000, '{'), &config);
  EXPECT_FALSE(st.ok());
  st = ModelConfigFromJson(std::string(200000, '['), &config);
  EXPECT_FALSE(st.ok());
}

TEST(RequestBodies, RepositoryIndex) {
  bool ready = true;
  ASSERT_TRUE(http::ParseRepositoryIndexBody("", &ready).ok());
  EXPECT_FALSE(ready);
  ASSERT_TRUE(http::ParseRepositoryIndexBody(R"({"ready": true})", &ready).ok());
  EXPECT_TRUE(ready);
  EXPECT_FALSE(http::ParseRepositoryIndexBody(R"({"ready": "yes"})", &ready).ok());
  EXPECT_FALSE(http::ParseRepositoryIndexBody("[1]", &ready).ok());
}

TEST(RequestBodies, LoadParameters) {
  LoadOverrides o;
  ASSERT_TRUE(http::ParseLoadRequestBody(
                  R"({"parameters": {"config": "{\"max_batch_size\": 2}", "file:1/a.txt": "aGk=",
                      "unload_dependents": true}})",
                  &o)
                  .ok());
  EXPECT_EQ(o.config_json, R"({"max_batch_size": 2})");
  EXPECT_EQ(o.files.at("1/a.txt"), "hi");
  LoadOverrides bad;
  EXPECT_FALSE(http::ParseLoadRequestBody(R"({"parameters": {"file:1/a": "***"}})", &bad).ok());
  EXPECT_FALSE(http::ParseLoadRequestBody(R"({"parameters": {"other": 1}})", &bad).ok());
  EXPECT_FALSE(http::ParseLoadRequestBody(R"({"parameters": []})", &bad).ok());
  // Text with a NUL inside survives whole.
  LoadOverrides nul;
  ASSERT_TRUE(http::ParseLoadRequestBody("{\"parameters\": {\"config\": \"a\\u0000b\"}}", &nul).ok());
  EXPECT_EQ(nul.config_json.size(), 3u);
}

}  // namespace
}  // namespace inferd
