// What a model that runs other models (an ensemble) needs of the server: find
// a serving model, and run a request through the same path a client's takes.
// The server implements it; it outlives every model it serves.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace inferd {

class InferenceRequest;
class Model;

class ServingModels {
 public:
  // The given version, or the highest serving one for version -1.
  virtual Status GetModel(const std::string& name, int64_t version, std::shared_ptr<Model>* out) const = 0;
  // Runs `request`: its on_response is called exactly once with the final
  // response (now, on error, or later from another thread). Never throws.
  virtual void Infer(const std::shared_ptr<InferenceRequest>& request) noexcept = 0;
  virtual ~ServingModels() = default;
};

}  // namespace inferd
