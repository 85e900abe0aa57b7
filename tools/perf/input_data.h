// The inputs inferd-perf sends: shapes from the model's metadata completed by
// --shape and the batch size, data zero, random, or from a JSON file in
// perf_analyzer's format:
//   {"data": [ {"INPUT0": [1, 2, 3], "INPUT1": {"content": [...], "shape": [3]}}, ... ]}
// (a "b64" member instead of "content" gives raw bytes in base64). Each entry
// of "data" becomes one request; they are sent round robin.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "client/infer_client.h"
#include "common/status.h"

namespace inferd::perf {

struct InputOptions {
  std::string model, version;
  int64_t batch_size = 1;
  std::map<std::string, std::vector<int64_t>> shapes;  // --shape NAME:d1,d2
  std::string data = "random";                         // zero, random, or a file
  size_t string_length = 128;
};

Status BuildRequests(const client::ModelInfo& model, const InputOptions& options,
                     std::vector<client::InferRequest>* out);

// "NAME:1,2,3" -> name and dims.
Status ParseShapeFlag(const std::string& text, std::string* name, std::vector<int64_t>* dims);

}  // namespace inferd::perf
