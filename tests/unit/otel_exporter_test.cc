// The OpenTelemetry exporter's parts: W3C trace context, collector URLs, the
// OTLP/JSON body, and a real export to a collector on a loopback socket.
#include "core/otel_exporter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace inferd {
namespace {

TEST(OtelExporter, TraceparentIsReadAsW3CSaysOrRefused) {
  std::string trace, parent;
  ASSERT_TRUE(ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &trace, &parent));
  EXPECT_EQ(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(parent, "00f067aa0ba902b7");
  for (const char* bad : {"", "garbage", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"}) {
    EXPECT_FALSE(ParseTraceparent(bad, &trace, &parent)) << bad;
  }
  const std::string id = RandomHexId(16);
  EXPECT_EQ(id.size(), 32u);
  EXPECT_NE(id, RandomHexId(16));
}

TEST(OtelExporter, CollectorUrls) {
  std::string host, port, target;
  ASSERT_TRUE(ParseOtelUrl("localhost:4318/v1/traces", &host, &port, &target).ok());
  EXPECT_EQ(host + "|" + port + "|" + target, "localhost|4318|/v1/traces");
  ASSERT_TRUE(ParseOtelUrl("http://collector", &host, &port, &target).ok());
  EXPECT_EQ(host + "|" + port + "|" + target, "collector|4318|/v1/traces");
  ASSERT_TRUE(ParseOtelUrl("http://[::1]:9000/x", &host, &port, &target).ok());
  EXPECT_EQ(host + "|" + port + "|" + target, "::1|9000|/x");
  for (const char* bad : {"", "https://c/v1/traces", "c:0", "c:65536", "c:x", "a b:1", "u@c:1", ":4318"}) {
    EXPECT_FALSE(ParseOtelUrl(bad, &host, &port, &target).ok()) << bad;
  }
}

OtelSpan Span() {
  OtelSpan s;
  s.trace_id = std::string(32, 'a');
  s.span_id = std::string(16, 'b');
  s.parent_span_id = std::string(16, 'c');
  s.name = "m";
  s.start_ns = 1700000000000000000u;
  s.end_ns = s.start_ns + 5;
  s.attributes = {{"triton.model_name", std::string("m")}, {"triton.model_version", int64_t{3}}};
  s.events = {{"REQUEST_START", s.start_ns}};
  return s;
}

TEST(OtelExporter, BodyIsOtlpJson) {
  rapidjson::Document d;
  d.Parse(EncodeOtlpJson({{"service.name", "inferd"}}, {Span()}).c_str());
  ASSERT_FALSE(d.HasParseError());
  const auto& rs = d["resourceSpans"][0];
  EXPECT_STREQ(rs["resource"]["attributes"][0]["value"]["stringValue"].GetString(), "inferd");
  const auto& span = rs["scopeSpans"][0]["spans"][0];
  EXPECT_STREQ(span["traceId"].GetString(), std::string(32, 'a').c_str());
  EXPECT_STREQ(span["parentSpanId"].GetString(), std::string(16, 'c').c_str());
  EXPECT_EQ(span["kind"].GetInt(), 2);  // SERVER
  EXPECT_STREQ(span["startTimeUnixNano"].GetString(), "1700000000000000000");  // 64-bit as a string
  EXPECT_STREQ(span["attributes"][1]["value"]["intValue"].GetString(), "3");
  EXPECT_STREQ(span["events"][0]["name"].GetString(), "REQUEST_START");
  // Names that are not UTF-8 cannot break the body.
  OtelSpan odd = Span();
  odd.name = "\xff\xfe";
  d.Parse(EncodeOtlpJson({}, {odd}).c_str());
  EXPECT_FALSE(d.HasParseError());
}

// A one-request HTTP collector on a loopback port: returns what it was sent.
class Collector {
 public:
  Collector() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 1);
    thread_ = std::thread([this] {
      const int c = accept(fd_, nullptr, nullptr);
      char buf[65536];
      for (ssize_t n; (n = read(c, buf, sizeof buf)) > 0;) {
        received_.append(buf, static_cast<size_t>(n));
        const size_t head = received_.find("\r\n\r\n");
        const size_t length_at = received_.find("Content-Length: ");
        if (head == std::string::npos || length_at == std::string::npos) continue;
        if (received_.size() >= head + 4 + std::stoul(received_.substr(length_at + 16))) break;
      }
      const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
      (void)!write(c, answer, sizeof answer - 1);
      close(c);
    });
  }
  ~Collector() { close(fd_); }
  int port() const { return port_; }
  std::string Wait() {
    thread_.join();
    return received_;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string received_;
};

TEST(OtelExporter, SpansReachTheCollectorAtExit) {
  Collector collector;
  OtelOptions options;
  options.url = "127.0.0.1:" + std::to_string(collector.port()) + "/v1/traces";
  options.schedule_delay_ms = 60000;  // nothing leaves before the exporter stops
  {
    std::unique_ptr<OtelExporter> exporter;
    ASSERT_TRUE(OtelExporter::Create(options, &exporter).ok());
    exporter->Add({Span(), Span()});
  }
  const std::string got = collector.Wait();
  EXPECT_EQ(got.rfind("POST /v1/traces HTTP/1.1\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Content-Type: application/json"), std::string::npos) << got;
  rapidjson::Document d;
  d.Parse(got.substr(got.find("\r\n\r\n") + 4).c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_EQ(d["resourceSpans"][0]["scopeSpans"][0]["spans"].Size(), 2u);
}

TEST(OtelExporter, WithNoDelaySpansLeaveAtOnce) {
  Collector collector;
  OtelOptions options;
  options.url = "127.0.0.1:" + std::to_string(collector.port());
  options.schedule_delay_ms = 0;
  std::unique_ptr<OtelExporter> exporter;
  ASSERT_TRUE(OtelExporter::Create(options, &exporter).ok());
  exporter->Add({Span()});
  const std::string got = collector.Wait();  // while the exporter still runs
  EXPECT_NE(got.find("\"spans\":[{"), std::string::npos) << got;
}

TEST(OtelExporter, AnAbsentCollectorCostsNothingButTheSpans) {
  OtelOptions options;
  options.url = "127.0.0.1:1/v1/traces";  // nothing listens there
  options.max_queue_size = 3;
  std::unique_ptr<OtelExporter> exporter;
  ASSERT_TRUE(OtelExporter::Create(options, &exporter).ok());
  for (int i = 0; i < 100; ++i) exporter->Add({Span()});  // at most 3 are kept
  exporter.reset();  // one try, refused at once
}

}  // namespace
}  // namespace inferd
