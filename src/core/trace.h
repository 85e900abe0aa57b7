// Request tracing, as Triton's trace extension in its "triton" mode: every
// rate-th request (while the count of traces left is not 0) records when it
// arrived, was queued, computed (start, inputs read, outputs started, end),
// answered and ended, and the trace is written as JSON into the trace file
// named on the command line, in Triton's format:
//   [{"id":1,"model_name":"m","model_version":1,"request_id":"x"},
//    {"id":1,"timestamps":[{"name":"REQUEST_START","ns":...},...]}, ...]
// Times are CLOCK_MONOTONIC nanoseconds, as Triton's.
//
// Settings are global, and a model may have its own (fields it does not set
// follow the global ones). Clients read and change them through
// /v2/trace/setting and gRPC TraceSetting; the file cannot be changed
// through the network (Triton's rule: a client must not choose where the
// server writes). Levels: TIMESTAMPS, and TENSORS (each input as queued and
// each output as the backend wrote it, their elements as text; at most
// kMaxTracedElements per tensor).
//
// Frontends add their own stamps around the core's: HTTP_RECV_START/END and
// HTTP_SEND_START/END, or GRPC_WAITREAD_START/END and GRPC_SEND_START/END
// (unary calls and streams, one SEND pair per response), which Triton's
// trace_summary.py needs.
//
// OpenTelemetry mode (--trace-config mode=opentelemetry, as Triton's): no
// file; each trace becomes spans sent to a collector (see otel_exporter.h),
// in Triton's shape: "InferRequest" (from the trace's start until its answer
// is sent, with the frontend's stamps as events), its child "<model name>"
// (REQUEST_START to REQUEST_END, the core's stamps as events, attributes
// triton.model_name, triton.model_version, triton.trace_id,
// triton.trace_parent_id, triton.request_id) and that span's child
// "compute" (COMPUTE_START to COMPUTE_END). A client's W3C traceparent
// (HTTP header, gRPC metadata) makes InferRequest a child of its span.
//
// Cost: with tracing off a request pays one atomic load. A trace is written
// once its request has ended and the last holder (the request, a frontend
// sending the answer) lets it go, so nothing accumulates in memory; with
// log_frequency N the traces go N to a file, into <file>.0, <file>.1, ...
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "core/otel_exporter.h"
#include "inferd/backend.h"

namespace inferd {

constexpr uint32_t kTraceTimestamps = 1;  // level bits, as Triton's
constexpr uint32_t kTraceTensors = 2;
// A tensor larger than this is traced with its name, type and shape and
// empty data, so that one request cannot make a trace of gigabytes.
constexpr size_t kMaxTracedElements = 1 << 16;

struct TraceSettings {
  uint32_t level = 0;          // 0: OFF, else kTraceTimestamps | kTraceTensors
  uint32_t rate = 1000;        // trace every rate-th request
  int32_t count = -1;          // traces left to take; -1: no limit
  uint32_t log_frequency = 0;  // traces per numbered file; 0: all in `file`
  std::string file;            // empty: no traces are written (triton mode)
  std::string mode = "triton";  // or "opentelemetry"
  OtelOptions otel;             // opentelemetry mode: where spans go
};

// A trace setting from the command line: --trace-config [<mode>,]<key>=<value>
// (flag "trace-config"), or a deprecated flag (flag "trace-file",
// "trace-level", "trace-rate", "trace-count", "trace-log-frequency") with
// its value. An OpenTelemetry setting Triton does not have either is a
// warning, so that a Triton command line starts unchanged.
Status ApplyTraceFlag(const std::string& flag, const std::string& value, TraceSettings* settings,
                      std::vector<std::string>* warnings);

// One change asked for by a client: a setting's name and its new values, or
// nullopt to clear it (a model's own value then follows the global one; a
// global value goes back to what the command line set, as in Triton).
using TraceSettingChange = std::pair<std::string, std::optional<std::vector<std::string>>>;

// Settings as the protocol shows them: name and values (trace_level is a
// list; the others hold one value each).
std::vector<std::pair<std::string, std::vector<std::string>>> TraceSettingFields(const TraceSettings& s);

class TraceFile;

// The timestamps of one traced request. Stamped by whichever threads handle
// the request; written when the last holder lets it go, if the request
// ended (a request cut short by exit leaves no trace).
class RequestTrace {
 public:
  // Written to `file`, or, with an `exporter`, sent as OpenTelemetry spans.
  RequestTrace(uint64_t id, uint32_t level, uint32_t log_frequency, std::shared_ptr<TraceFile> file,
               std::shared_ptr<OtelExporter> exporter = nullptr);
  ~RequestTrace();
  RequestTrace(const RequestTrace&) = delete;
  RequestTrace& operator=(const RequestTrace&) = delete;

  uint64_t id() const { return id_; }
  bool tensors() const { return (level_ & kTraceTensors) != 0 && exporter_ == nullptr; }
  void Stamp(const char* name, uint64_t ns);
  // A tensor, for the TENSORS level: `activity` is TENSOR_QUEUE_INPUT or
  // TENSOR_BACKEND_OUTPUT; `pieces` hold its bytes in order.
  void AddTensor(const char* activity, const std::string& name, InferdDataType datatype,
                 const std::vector<int64_t>& shape, std::span<const std::pair<const char*, uint64_t>> pieces);
  // The client's W3C traceparent, which the OpenTelemetry spans continue.
  void SetTraceparent(const std::string& traceparent);
  // The request ended: what the trace says it was.
  void End(const std::string& model_name, int64_t model_version, const std::string& request_id);

 private:
  const uint64_t id_;
  const uint32_t level_;
  const uint32_t log_frequency_;
  const std::shared_ptr<TraceFile> file_;
  const std::shared_ptr<OtelExporter> exporter_;
  const uint64_t created_ns_;  // CLOCK_MONOTONIC; InferRequest starts here or at an earlier stamp
  void WriteToFile();
  void Export();
  std::mutex mu_;
  std::string traceparent_;                               // guarded by mu_
  std::vector<std::pair<const char*, uint64_t>> stamps_;  // guarded by mu_
  std::vector<std::string> tensors_;                      // JSON objects; guarded by mu_
  bool ended_ = false;                                    // guarded by mu_
  std::string model_name_, request_id_;                   // guarded by mu_
  int64_t model_version_ = -1;                            // guarded by mu_
};

class TraceManager {
 public:
  // A mode of "opentelemetry" starts the exporter (ApplyTraceFlag has
  // checked its URL and sizes).
  explicit TraceManager(TraceSettings global = {});
  ~TraceManager();  // closes the trace file (its JSON array)

  // Null unless the request to `model` is to be traced: one atomic load
  // when no setting traces anything.
  std::shared_ptr<RequestTrace> Sample(const std::string& model) {
    if (!tracing_.load(std::memory_order_relaxed)) return nullptr;
    return SampleSlow(model);
  }

  // The settings in effect for `model` (empty: the global ones).
  TraceSettings Get(const std::string& model) const;
  // Applies `changes` to the model's settings (empty: the global ones), all
  // or nothing; an error names the setting and the value.
  Status Update(const std::string& model, const std::vector<TraceSettingChange>& changes);

 private:
  // One set of settings and its sampling state. `specified` marks, for a
  // model, the fields it set itself (the others follow the global entry).
  struct Entry {
    TraceSettings settings;
    bool specified[4] = {false, false, false, false};  // level, rate, count, log_frequency
    uint64_t seen = 0;                                 // requests counted for sampling
  };
  std::shared_ptr<RequestTrace> SampleSlow(const std::string& model);
  void RefreshTracing();  // with mu_ held

  std::atomic<bool> tracing_{false};
  std::atomic<uint64_t> next_id_{1};
  const TraceSettings startup_;  // what a cleared global setting goes back to
  const std::shared_ptr<TraceFile> file_;
  std::shared_ptr<OtelExporter> exporter_;  // opentelemetry mode; set once, in the constructor
  mutable std::mutex mu_;
  Entry global_;                          // guarded by mu_
  std::map<std::string, Entry> models_;   // guarded by mu_
};

}  // namespace inferd
