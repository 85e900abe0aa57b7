// Load-time rules of a model configuration, as Triton documents them, so an
// invalid config fails that model's load with a reason instead of failing at
// its first request. Every error names the model and the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// Triton's max_sequence_idle_microseconds when the config gives none (1 s).
inline constexpr uint64_t kDefaultSequenceIdleUs = 1'000'000;

// Triton's server-side auto-complete of `backend`, `platform` and
// `default_model_filename`: a model file in the first of `versions` (the
// model's version folders, ascending) names the backend when the config names
// neither backend, platform nor file; the platform and file then follow the
// backend. A model that names nothing takes its backend from a name of the form
// "<x>.<backend>", or fails to load saying so (Triton's text).
Status CompleteBackendFields(const ConfigContext& ctx, const std::vector<int64_t>& versions,
                             inference::ModelConfig* config);

// Fills what Triton fills before validation, so the config read back is the
// one Triton shows: `name` from the folder, `backend` from `platform`, the
// default version policy (latest 1), preferred_batch_size [max_batch_size] for
// dynamic batching and the oldest sequence strategy, the sequence idle time
// (1 s), input/output pinned memory on, one instance group named after the
// model when none is given, the others' names "<model>_<index>", KIND_AUTO
// resolved, count 2 for ONNX Runtime and TensorFlow on CPU, else 1.
Status NormalizeModelConfig(const ConfigContext& ctx, inference::ModelConfig* config);

// Checks the rules; returns the first violation.
Status ValidateModelConfig(const ConfigContext& ctx, const inference::ModelConfig& config);

// Fields whose feature inferd does not implement yet: a clear error naming the
// field, never silence.
Status RejectUnbuiltFeatures(const inference::ModelConfig& config);

}  // namespace inferd
