// Load-time rules of a model configuration, as Triton documents them, so an
// invalid config fails that model's load with a reason instead of failing at
// its first request. Every error names the model and the field.
#pragma once

#include <string>

#include "common/status.h"
#include "model_config.pb.h"

namespace inferd {

struct ConfigContext {
  std::string folder_name;  // <repo>/<folder_name>: the model's name
  std::string model_dir;    // absolute path of that folder
  int gpu_count = 0;        // GPUs present on this machine
};

// The backend a `platform` value runs on ("onnxruntime_onnx" -> "onnxruntime");
// empty for an unknown platform.
std::string BackendForPlatform(const std::string& platform);

// Fills what Triton fills before validation: `name` from the folder, `backend`
// from `platform`, one CPU instance group when none is given, instance group
// names, the default version policy (latest 1).
Status NormalizeModelConfig(const ConfigContext& ctx, inference::ModelConfig* config);

// Checks the rules; returns the first violation.
Status ValidateModelConfig(const ConfigContext& ctx, const inference::ModelConfig& config);

// Fields whose feature inferd does not implement yet: a clear error naming the
// field, never silence.
Status RejectUnbuiltFeatures(const inference::ModelConfig& config);

}  // namespace inferd
