// The stub's answer to an execution, read from marshal (marshal_reader.h):
//   ("error", message, code)                the execution failed as a whole
//   ("responses", region_size or None, answers)
// where answers is None (the requests' response senders answer them) or one
// entry per request of the batch:
//   None                                    answered through its response sender
//   ("error", message, code)                the model's error for that request
//   ("outputs", (output, ...), parameters JSON text or None)
// and an output is (name, datatype, shape tuple, offset, size), its bytes in
// the instance's shared memory (at most 4096 outputs a response, 64 dims). The stub runs the model's code: anything but
// exactly this shape is refused whole, with the reason.
#pragma once

#include <inferd/backend.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tensor_json.h"

namespace inferd_python {

struct RequestAnswer {
  enum Kind { kSender, kError, kOutputs };
  Kind kind = kSender;
  std::string_view message;  // kError
  int64_t code = 1;          // kError: a pb_utils.TritonError code
  std::vector<TensorRef> outputs;  // kOutputs: not yet checked against the region
  bool has_parameters = false;
  std::string_view parameters_json;
};

struct ExecuteAnswer {
  bool failed = false;  // ("error", ...): message and code below
  std::string_view message;
  int64_t code = 1;
  bool region_grew = false;  // the stub grew the shared memory for its outputs
  bool listed = false;       // one entry per request (else the senders answer)
  std::vector<RequestAnswer> requests;
};

// Reads `data` (views into it stay valid while it lives); false, with the
// reason, when it is not an answer for `count` requests as above.
bool ReadExecuteAnswer(const char* data, size_t size, uint32_t count, ExecuteAnswer* out, std::string* error);

}  // namespace inferd_python
