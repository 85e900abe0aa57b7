// Trace settings and sampling: what the command line and clients may set,
// which requests are traced, and how a model's own settings follow the
// global ones.
#include "core/trace.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

namespace inferd {
namespace {

TEST(Trace, FlagsTakeTritonsForms) {
  TraceSettings s;
  std::vector<std::string> warnings;
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "triton,file=/tmp/t.json", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "level=TIMESTAMPS", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "rate=10", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-count", "3", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "triton,log-frequency=5", &s, &warnings).ok());
  EXPECT_EQ(s.file, "/tmp/t.json");
  EXPECT_EQ(s.level, kTraceTimestamps);
  EXPECT_EQ(s.rate, 10u);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.log_frequency, 5u);
  EXPECT_TRUE(warnings.empty());
  ASSERT_TRUE(ApplyTraceFlag("trace-level", "OFF", &s, &warnings).ok());
  EXPECT_EQ(s.level, 0u);
  ASSERT_TRUE(ApplyTraceFlag("trace-level", "TENSORS", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-level", "TIMESTAMPS", &s, &warnings).ok());
  EXPECT_EQ(s.level, kTraceTimestamps | kTraceTensors);
  // OpenTelemetry: Triton's settings; one it lacks too is a warning, not a refusal.
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "mode=opentelemetry", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "opentelemetry,url=collector:4318/v1/traces", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "opentelemetry,resource=service.name=mine", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "opentelemetry,resource=team=ml", &s, &warnings).ok());
  ASSERT_TRUE(ApplyTraceFlag("trace-config", "opentelemetry,bsp_schedule_delay=100", &s, &warnings).ok());
  EXPECT_EQ(s.mode, "opentelemetry");
  EXPECT_EQ(s.otel.url, "collector:4318/v1/traces");
  EXPECT_EQ(s.otel.schedule_delay_ms, 100u);
  using Resource = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(s.otel.resource, (Resource{{"service.name", "mine"}, {"team", "ml"}}));
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(ApplyTraceFlag("trace-config", "opentelemetry,compression=gzip", &s, &warnings).ok());
  EXPECT_EQ(warnings.size(), 1u);
  for (const char* bad : {"rate", "rate=x", "rate=-1", "count=-2", "zipkin,file=x", "colour=red", "level=LOUD",
                          "mode=zipkin", "opentelemetry,url=https://c:4318", "opentelemetry,url=c:99999",
                          "opentelemetry,url=", "opentelemetry,resource=novalue",
                          "opentelemetry,bsp_max_queue_size=0"}) {
    EXPECT_FALSE(ApplyTraceFlag("trace-config", bad, &s, &warnings).ok()) << bad;
  }
}

TEST(Trace, SamplesEveryRateThRequestUntilTheCountIsSpent) {
  TraceSettings s;
  s.level = kTraceTimestamps;
  s.rate = 3;
  s.count = 2;
  s.file = testing::TempDir() + "/inferd_trace_unit.json";
  TraceManager m(s);
  int traced = 0;
  for (int i = 1; i <= 12; ++i) {
    auto trace = m.Sample("m");
    if (trace) {
      ++traced;
      EXPECT_EQ(i % 3, 0) << i;
      trace->End("m", 1, "");
    }
  }
  EXPECT_EQ(traced, 2);
  EXPECT_EQ(m.Get("").count, 0);
}

TEST(Trace, NothingIsTracedWithoutAFile) {
  TraceSettings s;
  s.level = kTraceTimestamps;
  s.rate = 1;
  TraceManager m(s);
  EXPECT_EQ(m.Sample("m"), nullptr);
}

TEST(Trace, ModelSettingsFollowTheGlobalOnesTheyDoNotSet) {
  TraceManager m;
  ASSERT_TRUE(m.Update("a", {{"trace_rate", std::vector<std::string>{"7"}}}).ok());
  ASSERT_TRUE(m.Update("", {{"trace_level", std::vector<std::string>{"TIMESTAMPS"}},
                            {"trace_rate", std::vector<std::string>{"2"}}}).ok());
  EXPECT_EQ(m.Get("a").rate, 7u);
  EXPECT_EQ(m.Get("a").level, kTraceTimestamps);
  EXPECT_EQ(m.Get("b").rate, 2u);
  ASSERT_TRUE(m.Update("a", {{"trace_rate", std::nullopt}}).ok());
  EXPECT_EQ(m.Get("a").rate, 2u);
  ASSERT_TRUE(m.Update("", {{"trace_rate", std::nullopt}}).ok());
  EXPECT_EQ(m.Get("").rate, 1000u);
}

TEST(Trace, BadUpdatesChangeNothing) {
  TraceManager m;
  const std::vector<std::vector<TraceSettingChange>> bad = {
      {{"trace_count", std::vector<std::string>{"5"}}, {"trace_file", std::vector<std::string>{"/x"}}},
      {{"trace_count", std::vector<std::string>{"5"}}, {"trace_rate", std::vector<std::string>{"1", "2"}}},
      {{"trace_count", std::vector<std::string>{"5"}}, {"trace_rate", std::vector<std::string>{"4294967296"}}},
      {{"trace_count", std::vector<std::string>{"5"}}, {"trace_level", std::vector<std::string>{"OFF", "TIMESTAMPS"}}},
      {{"trace_count", std::vector<std::string>{"5"}}, {"trace_mode", std::vector<std::string>{"opentelemetry"}}},
      {{"trace_count", std::vector<std::string>{"5"}}, {"nope", std::vector<std::string>{"1"}}},
  };
  for (const auto& changes : bad) {
    EXPECT_FALSE(m.Update("", changes).ok()) << changes.back().first;
    EXPECT_EQ(m.Get("").count, -1);
  }
}

// TENSORS traces hold elements as text, BYTES that are not UTF-8 by size,
// and nothing of a tensor over the limit.
TEST(Trace, TensorsAreTextAndBounded) {
  const std::string path = testing::TempDir() + "/inferd_trace_tensors.json";
  TraceSettings s;
  s.level = kTraceTensors;
  s.rate = 1;
  s.file = path;
  {
    TraceManager m(s);
    auto trace = m.Sample("m");
    ASSERT_NE(trace, nullptr);
    using Pieces = std::vector<std::pair<const char*, uint64_t>>;
    const int32_t ints[3] = {-1, 0, 7};
    trace->AddTensor("TENSOR_QUEUE_INPUT", "I", INFERD_TYPE_INT32, {3},
                     Pieces{{reinterpret_cast<const char*>(ints), 4}, {reinterpret_cast<const char*>(ints) + 4, 8}});
    const std::string strings = std::string("\x02\0\0\0ok\x01\0\0\0\xff", 11);
    trace->AddTensor("TENSOR_QUEUE_INPUT", "S", INFERD_TYPE_BYTES, {2}, Pieces{{strings.data(), strings.size()}});
    const std::vector<float> big(kMaxTracedElements + 1, 1.0f);
    trace->AddTensor("TENSOR_BACKEND_OUTPUT", "B", INFERD_TYPE_FP32, {static_cast<int64_t>(big.size())},
                     Pieces{{reinterpret_cast<const char*>(big.data()), big.size() * 4}});
    trace->End("m", 1, "r");
  }  // the trace, then the file, are written and closed
  FILE* f = std::fopen(path.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char text[4096] = {};
  const size_t n = std::fread(text, 1, sizeof text - 1, f);
  std::fclose(f);
  const std::string got(text, n);
  EXPECT_NE(got.find(R"("name":"I","data":"-1,0,7","shape":"3","dtype":"INT32")"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("name":"S","data":"ok,<1 bytes>")"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("name":"B","data":"","shape":"65537")"), std::string::npos) << got;
  EXPECT_EQ(got.find("timestamps"), std::string::npos) << got;
}

}  // namespace
}  // namespace inferd
