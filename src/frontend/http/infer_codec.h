// KServe v2 inference requests and responses over HTTP: the JSON form and the
// binary tensor data extension (a JSON header of Inference-Header-Content-Length
// bytes, then raw tensor bytes in input order).
#pragma once

#include <boost/container/small_vector.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "core/inference_request.h"
#include "core/inference_response.h"

namespace inferd::http {

// Fills `request` (id, inputs, outputs, parameters) from an HTTP body. The
// body is shared with the request: binary inputs point into it; JSON inputs are
// decoded into buffers the request keeps alive. `header_length` is the
// Inference-Header-Content-Length value, if the request had one.
// A raw binary request (Inference-Header-Content-Length: 0, as Triton takes
// it): the whole body is the data of the model's only input. Its shape is the
// config's dims (after a batch dimension of 1 when the model batches), one
// -1 among them deduced from the body's size; a BYTES input must have dims
// [1] and the body is its one element. Every output is answered as binary
// data. `config` is the model's; the body is shared with the request.
Status ParseRawInferRequest(std::shared_ptr<const std::string> body, const inference::ModelConfig& config,
                            InferenceRequest* request);

Status ParseInferRequest(std::shared_ptr<const std::string> body,
                         std::optional<size_t> header_length, InferenceRequest* request);

// The HTTP body of a response: JSON header, then the binary outputs.
struct EncodedResponse {
  std::string body;  // the JSON; with binary outputs, the header before them
  // Set when binary outputs follow the JSON header (the header's length).
  std::optional<size_t> header_length;
  // The binary outputs' bytes, to be sent after `body` in this order. They
  // point into the response's outputs (not copied): valid while those live.
  // Inline for up to four outputs: no allocation for the common answers.
  boost::container::small_vector<std::string_view, 4> binary;
};

// Serializes a successful response; outputs go as binary data where the
// request asked for it (per output `binary_data`, or `binary_data_output`).
void EncodeInferResponse(const InferenceResponse& response, EncodedResponse* out);

// {"error": "..."}
std::string ErrorJson(const std::string& message);

}  // namespace inferd::http
