// The ONNX Runtime backend's view of a model: the config (from the server, as
// JSON), the model file, the session options Triton's onnxruntime backend
// reads from `parameters` and `optimization`, and the checks of config
// against the model's own metadata (auto-complete and validation).
#pragma once

#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inferd/backend.h"

namespace inferd::ort {

// One tensor of the config (input or output).
struct TensorSpec {
  std::string name;
  InferdDataType datatype = INFERD_TYPE_INVALID;
  std::vector<int64_t> dims;     // without the batch dimension
  std::vector<int64_t> reshape;  // the model-side shape, when has_reshape
  bool has_reshape = false;
  bool optional = false;  // the request may leave it out (an overridable initializer)
  bool sequence = false;  // a control or state tensor the sequence batcher supplies
};

// The settings a session is created with.
struct SessionSettings {
  int intra_op_threads = 0;  // 0: ORT's default
  int inter_op_threads = 0;
  bool parallel_execution = false;
  GraphOptimizationLevel graph_level = ORT_ENABLE_ALL;
  bool mem_arena = true;
  bool mem_pattern = true;
  // ONNX Runtime's session config entries session.intra_op.allow_spinning and
  // session.inter_op.allow_spinning: -1 leaves ORT's default (spin), 0 makes
  // idle pool threads sleep at once, 1 spins.
  int intra_op_spinning = -1;
  int inter_op_spinning = -1;
  // ONNX Runtime's session.force_spinning_stop: pool threads stop spinning as
  // soon as the last Run returns, instead of spinning on for a while after it.
  // On by default here (ONNX Runtime and Triton leave it off): between runs a
  // server's cores belong to its I/O threads and its other instances, which
  // spinning pool threads would slow; within a run they still spin.
  bool force_spinning_stop = true;
  bool use_cuda = false;  // GPU instance and CUDA provider present
  bool use_tensorrt = false;
  bool trt_fp16 = false;
  uint64_t trt_workspace_bytes = 1ull << 30;
  // share_session_between_instances: one session for all of a model's
  // instances on one device (the key a proposed change to Triton's
  // onnxruntime backend reads; Triton's released backends ignore it).
  bool share_session = false;

  bool operator==(const SessionSettings&) const = default;
};

struct ModelSpec {
  std::string name;
  std::string model_path;  // <version dir>/<default_model_filename or model.onnx>
  int max_batch_size = 0;
  std::vector<TensorSpec> inputs, outputs;
  SessionSettings settings;
};

// Reads what the backend needs from the config JSON. Errors name the field.
// `error` is set (and false returned) on a bad config.
bool ParseModelSpec(const char* config_json, const std::string& version_dir, ModelSpec* spec,
                    std::string* error);

// Fills in what the config leaves out from the session's metadata, as
// Triton's onnxruntime backend does when the config lacks its inputs or its
// outputs: max_batch_size (`default_max_batch_size` when every tensor's first
// dimension is symbolic, with dynamic batching when above 1), then the
// missing list. Returns the completed config JSON; empty when nothing changed
// or on error (a non-zero max_batch_size for a model that cannot batch).
std::string AutoCompleteConfig(const char* config_json, Ort::Session& session, int default_max_batch_size,
                               std::string* error);

// Checks the config against the model as Triton's onnxruntime backend does,
// in its words (Triton's tests match them): the number of inputs, then each
// tensor's name, datatype and dims (with -1 and reshape; an output's must
// match exactly; a tensor without shape information takes only 1s).
bool ValidateAgainstModel(const ModelSpec& spec, Ort::Session& session, std::string* error);

// Session options for `settings` (CPU, or the GPU providers when asked).
Ort::SessionOptions MakeSessionOptions(const SessionSettings& settings, int device_id);

InferdDataType FromOrtType(ONNXTensorElementDataType t);
ONNXTensorElementDataType ToOrtType(InferdDataType t);

}  // namespace inferd::ort
