// Per model-version statistics in the shape of Triton's statistics extension
// (perf_analyzer and dashboards read them): cumulative counts and durations.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/latency_summary.h"

namespace inferd {

class InferenceRequest;

struct StatDuration {
  uint64_t count = 0;
  uint64_t ns = 0;
  void Add(uint64_t n) { ++count; ns += n; }
};

struct BatchStat {
  StatDuration compute_input, compute_infer, compute_output;
};

// Why a request failed, as Triton labels nv_inference_request_failure:
// REJECTED (a scheduler's queue was full or its timeout passed), CANCELED,
// BACKEND (the model answered with an error) and OTHER.
enum class FailureReason : uint8_t { kRejected, kCanceled, kBackend, kOther };
constexpr size_t kFailureReasons = 4;
const char* FailureReasonName(FailureReason reason);  // "REJECTED", ...

// A consistent copy of the counters at one moment.
struct ModelStatsSnapshot {
  uint64_t last_inference_ms = 0;  // wall clock, ms since the epoch
  uint64_t inference_count = 0;    // inferences: the batch dims summed over requests
  uint64_t execution_count = 0;    // backend executions (batches)
  StatDuration success, fail, queue, compute_input, compute_infer, compute_output;
  std::array<uint64_t, kFailureReasons> fail_by_reason{};  // fail.count split by FailureReason
  StatDuration cache_hit, cache_miss;
  std::map<uint64_t, BatchStat> batch_stats;  // by executed batch size
};

// Times of one execution of a batch, CLOCK_MONOTONIC ns.
struct ExecutionTimes {
  uint64_t start_ns = 0;      // the backend got the batch
  uint64_t input_end_ns = 0;  // inputs read
  uint64_t infer_end_ns = 0;  // computation done
  uint64_t end_ns = 0;        // outputs written, Execute returned
};

// The latencies a model keeps summaries of (Triton's *_summary_us metrics).
enum class LatencyKind { kRequest, kQueue, kComputeInput, kComputeInfer, kComputeOutput };
constexpr size_t kLatencyKinds = 5;

// Quantiles of one summary at one moment, in microseconds.
struct LatencyQuantiles {
  std::vector<double> values;  // one per quantile asked for; NaN without recent samples
  double sum_us = 0;
  uint64_t count = 0;
};

class ModelStats {
 public:
  // Starts keeping recent latencies for summaries (before any traffic).
  void EnableSummaries();
  bool summaries_enabled() const { return summaries_ != nullptr; }
  // The quantiles `qs` of one latency over the last max_age_ns.
  LatencyQuantiles Summary(LatencyKind kind, const std::vector<double>& qs, uint64_t now_ns,
                           uint64_t max_age_ns) const;

  // A batch ran: per request queue and compute times, plus one execution.
  void RecordExecution(const ExecutionTimes& t, uint64_t batch_size,
                       const uint64_t* request_enqueue_ns, size_t request_count);
  // An ensemble request succeeded: one execution of `batch_size`, its queue
  // time and its steps' compute times summed (Triton's ensemble statistics).
  void RecordEnsembleExecution(uint64_t batch_size, uint64_t queue_ns, uint64_t input_ns, uint64_t infer_ns,
                               uint64_t output_ns);
  // A response cache lookup found the answer (ns: the lookup), or did not
  // (ns: the lookup plus storing the answer later). A hit also counts in the
  // queue statistics, as Triton counts it (queue_ns: arrival to lookup).
  void RecordCacheHit(uint64_t ns, uint64_t queue_ns, uint64_t now_ns);
  void RecordCacheMiss(uint64_t ns);
  // A request got its final response; `reason` says why when it failed.
  void RecordRequestEnd(const InferenceRequest& request, bool success, FailureReason reason, uint64_t now_ns);

  ModelStatsSnapshot Snapshot() const;

 private:
  // One execution of `batch_size` with its compute times; under mu_.
  void AddExecution(uint64_t batch_size, uint64_t input_ns, uint64_t infer_ns, uint64_t output_ns);
  // What one request was charged (its queue time and its execution's
  // compute times), also into the summaries; under mu_.
  void AddRequestTimes(uint64_t queue_ns, uint64_t input_ns, uint64_t infer_ns, uint64_t output_ns, uint64_t now_ns);

  mutable std::mutex mu_;
  ModelStatsSnapshot s_;  // guarded by mu_
  // Null unless EnableSummaries(); the samples are guarded by mu_.
  std::unique_ptr<std::array<LatencySummary, kLatencyKinds>> summaries_;
};

}  // namespace inferd
