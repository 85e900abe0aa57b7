#include "core/stats.h"

#include <chrono>

#include "core/inference_request.h"

namespace inferd {

void ModelStats::AddExecution(uint64_t batch_size, uint64_t input_ns, uint64_t infer_ns, uint64_t output_ns) {
  ++s_.execution_count;
  s_.inference_count += batch_size;
  BatchStat& b = s_.batch_stats[batch_size];
  b.compute_input.Add(input_ns);
  b.compute_infer.Add(infer_ns);
  b.compute_output.Add(output_ns);
  s_.last_inference_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

void ModelStats::AddRequestTimes(uint64_t queue_ns, uint64_t input_ns, uint64_t infer_ns, uint64_t output_ns,
                                 uint64_t now_ns) {
  s_.queue.Add(queue_ns);
  s_.compute_input.Add(input_ns);
  s_.compute_infer.Add(infer_ns);
  s_.compute_output.Add(output_ns);
  if (summaries_) {
    auto& s = *summaries_;
    s[static_cast<size_t>(LatencyKind::kQueue)].Add(now_ns, queue_ns / 1e3);
    s[static_cast<size_t>(LatencyKind::kComputeInput)].Add(now_ns, input_ns / 1e3);
    s[static_cast<size_t>(LatencyKind::kComputeInfer)].Add(now_ns, infer_ns / 1e3);
    s[static_cast<size_t>(LatencyKind::kComputeOutput)].Add(now_ns, output_ns / 1e3);
  }
}

void ModelStats::RecordExecution(const ExecutionTimes& t, uint64_t batch_size,
                                 const uint64_t* request_enqueue_ns, size_t request_count) {
  const uint64_t input = t.input_end_ns - t.start_ns;
  const uint64_t infer = t.infer_end_ns - t.input_end_ns;
  const uint64_t output = t.end_ns - t.infer_end_ns;
  std::lock_guard<std::mutex> lock(mu_);
  AddExecution(batch_size, input, infer, output);
  // Like Triton, every request of the batch is charged the batch's compute time.
  for (size_t i = 0; i < request_count; ++i) {
    const uint64_t queue = t.start_ns > request_enqueue_ns[i] ? t.start_ns - request_enqueue_ns[i] : 0;
    AddRequestTimes(queue, input, infer, output, t.end_ns);
  }
}

void ModelStats::RecordEnsembleExecution(uint64_t batch_size, uint64_t queue_ns, uint64_t input_ns,
                                         uint64_t infer_ns, uint64_t output_ns) {
  const uint64_t now = NowNs();
  std::lock_guard<std::mutex> lock(mu_);
  AddExecution(batch_size, input_ns, infer_ns, output_ns);
  AddRequestTimes(queue_ns, input_ns, infer_ns, output_ns, now);
}

const char* FailureReasonName(FailureReason reason) {
  switch (reason) {
    case FailureReason::kRejected: return "REJECTED";
    case FailureReason::kCanceled: return "CANCELED";
    case FailureReason::kBackend: return "BACKEND";
    default: return "OTHER";
  }
}

void ModelStats::RecordRequestEnd(const InferenceRequest& request, bool success, FailureReason reason,
                                  uint64_t now_ns) {
  const uint64_t ns = now_ns > request.receive_ns ? now_ns - request.receive_ns : 0;
  std::lock_guard<std::mutex> lock(mu_);
  (success ? s_.success : s_.fail).Add(ns);
  if (!success) ++s_.fail_by_reason[static_cast<size_t>(reason)];
  if (success && summaries_) {
    (*summaries_)[static_cast<size_t>(LatencyKind::kRequest)].Add(now_ns, ns / 1e3);
  }
}

void ModelStats::EnableSummaries() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!summaries_) summaries_ = std::make_unique<std::array<LatencySummary, kLatencyKinds>>();
}

LatencyQuantiles ModelStats::Summary(LatencyKind kind, const std::vector<double>& qs,
                                     uint64_t now_ns, uint64_t max_age_ns) const {
  LatencyQuantiles out;
  std::lock_guard<std::mutex> lock(mu_);
  if (!summaries_) return out;
  const LatencySummary& s = (*summaries_)[static_cast<size_t>(kind)];
  out.values = s.Quantiles(qs, now_ns, max_age_ns);
  out.sum_us = s.sum();
  out.count = s.count();
  return out;
}

void ModelStats::RecordCacheHit(uint64_t ns, uint64_t queue_ns, uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.cache_hit.Add(ns);
  s_.queue.Add(queue_ns);
  if (summaries_) (*summaries_)[static_cast<size_t>(LatencyKind::kQueue)].Add(now_ns, queue_ns / 1e3);
}

void ModelStats::RecordCacheMiss(uint64_t ns) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.cache_miss.Add(ns);
}

ModelStatsSnapshot ModelStats::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return s_;
}

}  // namespace inferd
