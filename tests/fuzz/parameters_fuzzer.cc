// The small parsers of request parameters and flags: sequence ids and flags
// through the sequence batcher (string and numeric ids, START/END, lengths),
// Content-Encoding and Accept-Encoding values, restricted-API flags, rate
// limiter resources and metrics settings. Lines of the input are the values.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/inference_request.h"
#include "core/rate_limiter.h"
#include "core/scheduler/sequence_batcher.h"
#include "frontend/http/compression.h"
#include "frontend/metrics/metrics_endpoint.h"
#include "frontend/restricted_api.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> lines;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  for (std::string line; std::getline(in, line) && lines.size() < 64;) lines.push_back(line);
  if (lines.empty()) return 0;

  SequenceBatcherOptions options;
  options.instances = 2;
  options.slots_per_instance = 2;
  options.max_batch = 2;
  options.batching = true;
  SequenceControl corrid;
  corrid.input = "CORRID";
  corrid.kind = inference::ModelSequenceBatching::Control::CONTROL_SEQUENCE_CORRID;
  corrid.type = inference::TYPE_STRING;
  options.controls.push_back(corrid);
  SequenceBatcher batcher(options);
  for (size_t i = 0; i + 2 < lines.size(); i += 3) {
    auto r = std::make_shared<InferenceRequest>();
    r->model_name = "m";
    r->batch_size = 1;
    r->parameters["sequence_id"] = lines[i];
    r->parameters["sequence_start"] = lines[i + 1];
    r->parameters["sequence_end"] = lines[i + 2];
    (void)batcher.Enqueue(r);
  }
  batcher.Stop();
  // Both instances take turns until neither gets anything (each call also
  // ends the batch that instance ran before, as an instance thread would).
  std::vector<RequestPtr> batch;
  for (bool any = true; any;) {
    any = false;
    for (size_t instance = 0; instance < 2; ++instance) any = batcher.TryNextBatchFor(instance, &batch) || any;
  }

  for (const auto& line : lines) {
    http::Encoding encoding;
    (void)http::ParseContentEncoding(line, &encoding);
    (void)http::ChooseResponseEncoding(line);
    RestrictedApis restricted;
    (void)restricted.Add("--http-restricted-api", line);
    RateLimitResourceFlag resource;
    (void)ParseRateLimitResource(line, &resource);
    metrics::MetricsOptions metrics_options;
    (void)metrics::ApplyMetricsConfig(line, &metrics_options);
  }
  return 0;
}
