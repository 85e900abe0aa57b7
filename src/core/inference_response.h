// A response: output tensors written once by the backend into memory the
// response owns, or an error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/aligned.h"
#include "common/datatype.h"
#include "common/status.h"
#include "core/abi_handles.h"
#include "inferd/backend.h"

namespace inferd {

class InferenceRequest;

struct OutputTensor {
  std::string name;
  DataType datatype = INFERD_TYPE_INVALID;
  std::vector<int64_t> shape;
  TensorBuffer data;  // uninitialized until the backend writes it
  uint64_t byte_size = 0;
  // Written into the shared memory region the request named: the response
  // carries its name, type and shape only.
  bool in_shared_memory = false;

  const char* begin() const { return data.get(); }
};

// A response parameter a backend set (InferdCoreApi.ResponseSetParameter).
struct ResponseParameter {
  enum class Type { kString, kInt, kBool, kDouble } type = Type::kString;
  std::string name;
  std::string text;  // kString
  int64_t integer = 0;
  bool boolean = false;
  double number = 0;
};

// Also an InferdInferResult: the handle a backend gets for a response to its
// in-process request (InferdCoreApi.Infer).
class InferenceResponse : public InferdResponse, public InferdInferResult {
 public:
  explicit InferenceResponse(std::shared_ptr<InferenceRequest> req) : request(std::move(req)) {}

  std::shared_ptr<InferenceRequest> request;
  Status status;
  bool final = true;
  bool from_cache = false;  // outputs copied from the response cache (already final)
  std::vector<OutputTensor> outputs;
  std::vector<ResponseParameter> parameters;  // in the order first set

  OutputTensor* AddOutput(std::string name, DataType type, std::vector<int64_t> shape,
                          uint64_t byte_size);
  const OutputTensor* FindOutput(const std::string& name) const;
};

}  // namespace inferd
