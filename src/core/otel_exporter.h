// OpenTelemetry export of request traces, as Triton's "opentelemetry" trace
// mode: spans sent to a collector over OTLP/HTTP (JSON encoding, POST to
// <url>, by default http://localhost:4318/v1/traces), batched as the SDK's
// batch span processor does (bsp_max_queue_size, bsp_schedule_delay,
// bsp_max_export_batch_size; with a delay of 0 what is queued leaves at
// once), with the resource attributes given on the command line
// (service.name "inferd" unless a resource sets it).
//
// Bounds: at most max_queue_size spans wait; more are dropped and counted
// (a slow or absent collector never grows the server). One export at a time,
// each with a 10 s deadline for connect, send and receive. At exit what is
// queued is sent once, within the same deadline.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"

namespace inferd {

struct OtelOptions {
  std::string url = "http://localhost:4318/v1/traces";
  std::vector<std::pair<std::string, std::string>> resource = {{"service.name", "inferd"}};  // unique keys
  uint32_t max_queue_size = 2048;
  uint32_t schedule_delay_ms = 5000;
  uint32_t max_export_batch_size = 512;
};

// One finished span. Times are Unix-epoch nanoseconds.
struct OtelSpan {
  std::string trace_id;        // 32 lowercase hex digits
  std::string span_id;         // 16 lowercase hex digits
  std::string parent_span_id;  // empty for a root span
  std::string name;
  uint64_t start_ns = 0, end_ns = 0;
  std::vector<std::pair<std::string, std::variant<std::string, int64_t>>> attributes;
  std::vector<std::pair<std::string, uint64_t>> events;  // name, time
};

// `bytes` random bytes as lowercase hex, never all zero (an invalid id).
std::string RandomHexId(size_t bytes);

// A W3C traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"): its trace id
// and parent span id, or false when it is not a valid one.
bool ParseTraceparent(const std::string& header, std::string* trace_id, std::string* parent_span_id);

// Splits a collector URL, [http://]host[:port][/path] (port 4318 and path
// /v1/traces by default); https and malformed URLs are errors naming it.
Status ParseOtelUrl(const std::string& url, std::string* host, std::string* port, std::string* target);

// The OTLP/JSON request body (ExportTraceServiceRequest) for `spans`.
std::string EncodeOtlpJson(const std::vector<std::pair<std::string, std::string>>& resource,
                           const std::vector<OtelSpan>& spans);

class OtelExporter {
 public:
  // Checks the URL (see ParseOtelUrl) and the batch sizes.
  static Status Create(OtelOptions options, std::unique_ptr<OtelExporter>* out);
  ~OtelExporter();  // sends what is queued, once, then stops
  OtelExporter(const OtelExporter&) = delete;
  OtelExporter& operator=(const OtelExporter&) = delete;

  // Queues a trace's spans, or drops them when the queue is full.
  void Add(std::vector<OtelSpan> spans);

 private:
  OtelExporter(OtelOptions options, std::string host, std::string port, std::string target);
  void Loop();
  // One POST of `body`; the error names what failed.
  Status Post(const std::string& body) const;

  const OtelOptions options_;
  const std::string host_, port_, target_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OtelSpan> queue_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  uint64_t dropped_ = 0;        // guarded by mu_
  std::thread thread_;
};

}  // namespace inferd
