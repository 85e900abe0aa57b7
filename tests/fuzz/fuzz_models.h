// Shared by the fuzz harnesses: a few model configurations of the shapes
// real repositories have, and what the server does with a request that
// decoded: check it against a model, hand it to a backend aligned, echo its
// inputs as outputs (as the identity backend does), classify, encode.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/classification.h"
#include "core/inference_request.h"
#include "core/model_config_parse.h"
#include "core/request_checks.h"
#include "model_config.pb.h"

namespace inferd::fuzz {

inline const std::vector<inference::ModelConfig>& FuzzModels() {
  static const std::vector<inference::ModelConfig> models = [] {
    const char* texts[] = {
        // batching FP32, any length (simple_identity)
        R"(name: "m" backend: "identity" max_batch_size: 8
           input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [-1] }]
           output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [-1] }])",
        // non-batching BYTES and INT64 of fixed shape, optional second input
        R"(name: "m" backend: "identity" max_batch_size: 0
           input [{ name: "INPUT0" data_type: TYPE_STRING dims: [-1] },
                  { name: "INPUT1" data_type: TYPE_INT64 dims: [2, 3] optional: true }]
           output [{ name: "OUTPUT0" data_type: TYPE_STRING dims: [-1] },
                   { name: "OUTPUT1" data_type: TYPE_INT64 dims: [2, 3] }])",
        // every fixed-size type through one 3-d input, decoupled
        R"(name: "m" backend: "identity" max_batch_size: 4
           model_transaction_policy { decoupled: true }
           input [{ name: "INPUT0" data_type: TYPE_FP16 dims: [-1, 2, -1] }]
           output [{ name: "OUTPUT0" data_type: TYPE_FP16 dims: [-1, 2, -1] }])",
    };
    std::vector<inference::ModelConfig> out;
    for (const char* text : texts) {
      inference::ModelConfig c;
      if (!ParseModelConfigText(text, "fuzz", &c).ok()) __builtin_trap();
      out.push_back(std::move(c));
    }
    return out;
  }();
  return models;
}

// One registered 4 KiB region named "r", for requests that name shared
// memory: fuzzed offsets and sizes go through the real bounds checks.
inline const SharedMemoryManager& FuzzSharedMemory() {
  static SharedMemoryManager* manager = [] {
    auto* m = new SharedMemoryManager();
    const std::string key = "/inferd_fuzz_" + std::to_string(getpid());
    const int fd = shm_open(key.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) __builtin_trap();
    close(fd);
    if (!m->Register("r", key, 0, 4096).ok()) __builtin_trap();
    shm_unlink(key.c_str());  // the mapping and descriptor keep it alive
    return m;
  }();
  return *manager;
}

// What follows a successful decode, up to the bytes a client would get back.
// `encode` serializes a response (HTTP or gRPC encoder).
template <typename Encode>
void ExerciseAccepted(const InferenceRequest& decoded, bool accepts_many, Encode&& encode) {
  for (const auto& config : FuzzModels()) {
    // A fresh request per model: the checks fill fields of it.
    auto r = std::make_shared<InferenceRequest>();
    r->id = decoded.id;
    r->model_name = decoded.model_name;
    r->inputs = decoded.inputs;
    r->outputs = decoded.outputs;
    r->parameters = decoded.parameters;
    r->keep_alive = decoded.keep_alive;
    r->accepts_many_responses = accepts_many;
    if (r->UsesSharedMemory() && !r->AttachSharedMemory(FuzzSharedMemory()).ok()) continue;
    if (!CheckRequestAgainstConfig(config, *r).ok()) continue;
    r->AlignInputBuffers();
    for (const auto& in : r->inputs)
      for (const auto& [data, size] : in.buffers)
        if (reinterpret_cast<uintptr_t>(data) % 64 != 0) __builtin_trap();
    InferenceResponse response(r);
    for (const auto& in : r->inputs) {
      OutputTensor* out = response.AddOutput(in.name == "INPUT0" ? "OUTPUT0" : "OUTPUT1", in.datatype,
                                             in.shape, in.byte_size);
      char* dst = out->data.get();
      for (const auto& [data, size] : in.buffers) {
        if (size) std::memcpy(dst, data, size);
        dst += size;
      }
    }
    for (auto& out : response.outputs) {
      const RequestedOutput* asked = r->FindRequestedOutput(out.name);
      if (asked && asked->classification_count > 0) {
        (void)Classify({"a", "b"}, asked->classification_count, config.max_batch_size() > 0, &out);
      }
    }
    if (!r->WriteSharedMemoryOutputs(&response).ok()) continue;
    encode(response);
  }
}

}  // namespace inferd::fuzz
