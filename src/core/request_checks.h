// The checks every inference request passes before a model takes it, against
// the model's configuration: inputs known, once each, of the configured
// datatype and shape (batch dimension within max_batch_size, shared by all
// inputs), sizes computed with checked arithmetic matching the bytes sent,
// BYTES elements well formed, required inputs present, requested outputs
// known. What passes is what backend.h promises a backend.
#pragma once

#include "common/status.h"
#include "core/inference_request.h"
#include "model_config.pb.h"

namespace inferd {

// Checks `request` against `config` and fills request.batch_size and
// request.output_names. The error names the input or output at fault.
Status CheckRequestAgainstConfig(const inference::ModelConfig& config, InferenceRequest& request);

// Counts the serialized BYTES elements of `in` (each a 4-byte little-endian
// length, then that many bytes; elements may straddle buffer pieces). False
// when the data ends inside a length or an element.
bool CountBytesElements(const InputTensor& in, int64_t* count);

}  // namespace inferd
