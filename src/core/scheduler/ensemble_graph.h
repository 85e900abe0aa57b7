// The dataflow graph of an ensemble (platform "ensemble"): its steps, the
// ensemble tensors each step reads and writes, and the order they can run
// in. Checked in two stages, as Triton does: the config alone (at parse
// time, before anything is loaded), then against the configs of the loaded
// composing models (types, shapes, batching, decoupled steps). Triton's
// ensemble_utils.cc and model_config_utils.cc are the specification of what
// is valid; every error here names the ensemble, the step and the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "model_config.pb.h"

namespace inferd {

// A hostile config (a load request may carry one) must not make a graph the
// server spends unbounded time or stack on.
inline constexpr size_t kMaxEnsembleSteps = 256;
// Ensembles inside ensembles, at most this deep (each level is a nested run).
inline constexpr size_t kMaxEnsembleNesting = 8;

struct EnsembleStep {
  std::string model_name;
  int64_t model_version = -1;  // -1: the latest ready version
  // (the composing model's tensor, the ensemble tensor), in config order.
  std::vector<std::pair<std::string, std::string>> inputs;
  std::vector<std::pair<std::string, std::string>> outputs;
  // The composing model batches (max_batch_size > 0), and the configured
  // dims of each mapped input (same order as `inputs`): a tensor from a
  // batching side meets a non-batching one by adding or dropping a batch
  // dimension of 1, as Triton does.
  bool batching = false;
  std::vector<std::vector<int64_t>> input_dims;
};

// Triton's rule for a tensor crossing between a batching and a non-batching
// side: `shape` (produced with batch size `batch`, 0 when not batched) for a
// consumer configured with `dims` that does (or does not) batch. A
// non-batched tensor that matches dims gets a batch dimension of 1; a batch
// of 1 that does not match loses it; anything else passes as it is.
std::vector<int64_t> AdaptBatchDimension(const std::vector<int64_t>& dims, bool consumer_batches, uint64_t batch,
                                         const std::vector<int64_t>& shape);

struct EnsembleGraph {
  std::string name;  // the ensemble's
  std::vector<EnsembleStep> steps;
  std::vector<size_t> order;  // the steps in an order where producers come first
  std::map<std::string, std::vector<size_t>> consumers;  // ensemble tensor -> steps reading it
  std::map<std::string, size_t> producer;                // ensemble tensor -> the step writing it
  std::vector<std::string> outputs;                      // the ensemble's outputs, config order
  // Ensemble inputs with a `reshape`: the steps see this shape (after the
  // batch dimension, where the ensemble batches) instead of the client's.
  std::map<std::string, std::vector<int64_t>> input_reshape;
  // The configured dims of each ensemble output (its reshape where it has one).
  std::map<std::string, std::vector<int64_t>> output_dims;
  bool batching = false;  // max_batch_size > 0: shapes start with the batch dimension
  // A step's model is decoupled: the ensemble answers each request with
  // several responses (and is decoupled itself, as on Triton).
  bool decoupled = false;
  // ensemble_scheduling.max_inflight_requests: at most this many requests of
  // one step in flight per ensemble request; the others wait in the run, in
  // order (0: no limit).
  uint32_t max_inflight_requests = 0;
};

// The composing model's final config (after its backend's auto-complete), or
// an error saying why it is not available.
using ComposingConfigLookup =
    std::function<Status(const std::string& model, int64_t version, inference::ModelConfig* out)>;

// What the ensemble's config alone must satisfy: no instance groups,
// optimization or warmup; steps that name a model and map inputs and
// outputs; every ensemble tensor produced once (an ensemble input by the
// client, any other by exactly one step); every input used; every output
// produced; no cycle; no tensor produced and never read.
Status CheckEnsembleConfig(const inference::ModelConfig& ensemble);

// Builds the graph of a config that passed CheckEnsembleConfig, checking it
// against the composing models: their inputs and outputs exist and every
// required input is mapped, datatypes and shapes agree between producer and
// consumer (with the batch dimension where one side batches), a composing
// model takes the ensemble's max_batch_size, and no step mixes responses of
// different decoupled models.
Status BuildEnsembleGraph(const inference::ModelConfig& ensemble, const ComposingConfigLookup& lookup,
                          EnsembleGraph* out);

// The models the ensemble's steps name (each once).
std::set<std::string> ComposingModelNames(const inference::ModelConfig& ensemble);

}  // namespace inferd
