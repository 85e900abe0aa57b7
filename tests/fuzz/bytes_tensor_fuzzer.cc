// BYTES tensors: the 4-byte length prefixes of serialized elements, split
// into buffer pieces at arbitrary points, counted as the request checks count
// them; what counts cleanly is written out as JSON strings, and classified
// output strings (value:index:label) are formatted for any numeric data.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "core/classification.h"
#include "core/inference_request.h"
#include "core/request_checks.h"
#include "frontend/http/infer_codec.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t cut = data[0] % (size - 1);  // where the data splits into two pieces
  const char* bytes = reinterpret_cast<const char*>(data) + 1;
  const size_t n = size - 1;
  InputTensor in;
  in.name = "INPUT0";
  in.datatype = INFERD_TYPE_BYTES;
  in.AddBuffer(bytes, cut);
  in.AddBuffer(bytes + cut, n - cut);
  int64_t count = 0;
  const bool whole = CountBytesElements(in, &count);

  auto request = std::make_shared<InferenceRequest>();
  request->model_name = "m";
  RequestedOutput& asked = request->outputs.emplace_back();
  asked.name = "OUTPUT0";
  InferenceResponse response(request);
  if (whole) {
    OutputTensor* out = response.AddOutput("OUTPUT0", INFERD_TYPE_BYTES, {count}, n);
    std::memcpy(out->data.get(), bytes, n);
  }
  // The same bytes as INT8 scores, classified top-3 (batched: 1 row).
  OutputTensor* scores = response.AddOutput("SCORES", INFERD_TYPE_INT8, {1, static_cast<int64_t>(n)}, n);
  std::memcpy(scores->data.get(), bytes, n);
  (void)Classify({"x", "y"}, 3, true, scores);
  http::EncodedResponse encoded;
  http::EncodeInferResponse(response, &encoded);
  return 0;
}
