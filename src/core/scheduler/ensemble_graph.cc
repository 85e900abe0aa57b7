#include "core/scheduler/ensemble_graph.h"

#include <algorithm>

namespace inferd {
namespace {

std::string StepLabel(const inference::ModelConfig& e, size_t index) {
  return "in ensemble '" + e.name() + "', step " + std::to_string(index) + " (model '" +
         e.ensemble_scheduling().step(static_cast<int>(index)).model_name() + "')";
}

// A protobuf map in key order: the config's iteration order is unspecified,
// and errors and requests should not depend on it.
std::vector<std::pair<std::string, std::string>> Sorted(
    const google::protobuf::Map<std::string, std::string>& map) {
  std::vector<std::pair<std::string, std::string>> out(map.begin(), map.end());
  std::sort(out.begin(), out.end());
  return out;
}

// Steps in an order where each runs after the producers of its inputs;
// steps that can never run (a cycle, an input nothing produces) are left out.
std::vector<size_t> RunnableOrder(const inference::ModelConfig& e) {
  const auto& steps = e.ensemble_scheduling().step();
  std::set<std::string> ready;
  for (const auto& in : e.input()) ready.insert(in.name());
  std::vector<size_t> order;
  std::vector<bool> done(static_cast<size_t>(steps.size()), false);
  for (bool progress = true; progress;) {  // at most kMaxEnsembleSteps rounds
    progress = false;
    for (int s = 0; s < steps.size(); ++s) {
      if (done[static_cast<size_t>(s)]) continue;
      bool runnable = true;
      for (const auto& [model_input, tensor] : steps[s].input_map()) runnable = runnable && ready.count(tensor) > 0;
      if (!runnable) continue;
      done[static_cast<size_t>(s)] = true;
      order.push_back(static_cast<size_t>(s));
      for (const auto& [model_output, tensor] : steps[s].output_map()) ready.insert(tensor);
      progress = true;
    }
  }
  return order;
}

// The datatype and shape an ensemble tensor has on one side of an edge, and
// where that was read (for the error).
struct TensorSide {
  inference::DataType type = inference::TYPE_INVALID;
  std::vector<int64_t> dims;       // as configured, without a batch dimension
  std::vector<int64_t> full_dims;  // with -1 in front where the side batches
  std::string source;
};

TensorSide Side(const std::string& source, bool batching, inference::DataType type,
                const google::protobuf::RepeatedField<int64_t>& dims) {
  TensorSide s{type, {dims.begin(), dims.end()}, {}, source};
  if (batching) s.full_dims.push_back(-1);
  s.full_dims.insert(s.full_dims.end(), dims.begin(), dims.end());
  return s;
}

bool SameWithWildcard(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != -1 && b[i] != -1 && a[i] != b[i]) return false;
  return true;
}

std::string DimsText(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

// Triton's rule: the shapes match, or match once both carry their batch
// dimension (a non-batching model's [-1,d...] against a batching one's [d...]).
Status Consistent(const std::string& where, const TensorSide& a, const TensorSide& b) {
  if (a.type != b.type) {
    return Status::InvalidArg(where + "inconsistent data type: " + inference::DataType_Name(a.type) + " is inferred from " +
                              a.source + " while " + inference::DataType_Name(b.type) + " is inferred from " + b.source);
  }
  if (!SameWithWildcard(a.dims, b.dims) && !SameWithWildcard(a.full_dims, b.full_dims)) {
    return Status::InvalidArg(where + "inconsistent shape: " + DimsText(a.full_dims) + " is inferred from " + a.source +
                              " while " + DimsText(b.full_dims) + " is inferred from " + b.source);
  }
  return Status::Ok();
}

}  // namespace

std::vector<int64_t> AdaptBatchDimension(const std::vector<int64_t>& dims, bool consumer_batches, uint64_t batch,
                                         const std::vector<int64_t>& shape) {
  if (consumer_batches == (batch != 0)) return shape;
  if (consumer_batches) {
    if (!SameWithWildcard(dims, shape)) return shape;  // already carries its batch dimension
    std::vector<int64_t> batched{1};
    batched.insert(batched.end(), shape.begin(), shape.end());
    return batched;
  }
  if (batch == 1 && !shape.empty() && !SameWithWildcard(dims, shape)) return {shape.begin() + 1, shape.end()};
  return shape;
}

Status CheckEnsembleConfig(const inference::ModelConfig& e) {
  const std::string ensemble = "ensemble '" + e.name() + "'";
  if (!e.instance_group().empty()) return Status::InvalidArg("instance group should not be specified for " + ensemble);
  if (e.has_optimization()) return Status::InvalidArg("optimization should not be specified for " + ensemble);
  if (!e.model_warmup().empty()) return Status::InvalidArg("model_warmup can not be specified for " + ensemble);
  const auto& steps = e.ensemble_scheduling().step();
  if (steps.empty()) return Status::InvalidArg("must specify 'step' for " + ensemble);
  if (static_cast<size_t>(steps.size()) > kMaxEnsembleSteps) {
    return Status::InvalidArg(ensemble + " has " + std::to_string(steps.size()) + " steps; at most " +
                              std::to_string(kMaxEnsembleSteps) + " are allowed");
  }
  std::set<std::string> inputs, outputs;
  for (const auto& in : e.input()) inputs.insert(in.name());
  for (const auto& out : e.output()) outputs.insert(out.name());
  std::map<std::string, size_t> producer;
  std::map<std::string, size_t> readers;  // tensor -> how many steps read it
  for (int s = 0; s < steps.size(); ++s) {
    const auto& step = steps[s];
    const std::string where = "step " + std::to_string(s) + " of " + ensemble;
    if (step.model_name().empty()) return Status::InvalidArg("must specify 'model_name' in " + where);
    if (step.model_name() == e.name()) return Status::InvalidArg(where + " names the ensemble itself (a circular dependency)");
    if (step.input_map().empty()) return Status::InvalidArg("must specify 'input_map' in " + where);
    if (step.output_map().empty()) return Status::InvalidArg("must specify 'output_map' in " + where);
    if (step.model_version() < -1) {
      return Status::InvalidArg(where + " has model_version " + std::to_string(step.model_version()) +
                                " (-1 means the latest)");
    }
    for (const auto& [model_input, tensor] : Sorted(step.input_map())) ++readers[tensor];
    for (const auto& [model_output, tensor] : Sorted(step.output_map())) {
      if (inputs.count(tensor)) {
        return Status::InvalidArg("ensemble tensor '" + tensor + "' is an input of " + ensemble + " and is also produced by " +
                                  where + " (output '" + model_output + "')");
      }
      auto [it, fresh] = producer.emplace(tensor, static_cast<size_t>(s));
      if (!fresh) {
        return Status::InvalidArg("ensemble tensor '" + tensor + "' is produced twice in " + ensemble + ": by step " +
                                  std::to_string(it->second) + " and by step " + std::to_string(s));
      }
    }
  }
  for (const auto& in : inputs) {
    if (!readers.count(in)) return Status::InvalidArg("ensemble input '" + in + "' of " + ensemble + " is not used by any step");
  }
  for (const auto& out : outputs) {
    if (!producer.count(out)) return Status::InvalidArg("ensemble output '" + out + "' of " + ensemble + " is not produced by any step");
  }
  // Every step must be able to run: its inputs come from the client or from
  // steps that can run themselves.
  const std::vector<size_t> order = RunnableOrder(e);
  if (order.size() != static_cast<size_t>(steps.size())) {
    std::vector<bool> runs(static_cast<size_t>(steps.size()), false);
    for (size_t s : order) runs[s] = true;
    for (int s = 0; s < steps.size(); ++s) {
      if (runs[static_cast<size_t>(s)]) continue;
      for (const auto& [model_input, tensor] : Sorted(steps[s].input_map())) {
        if (!inputs.count(tensor) && !producer.count(tensor)) {
          return Status::InvalidArg(StepLabel(e, static_cast<size_t>(s)) + ": ensemble tensor '" + tensor +
                                    "' (input '" + model_input + "') is not an ensemble input and no step produces it");
        }
      }
    }
    std::string cycle;
    for (int s = 0; s < steps.size(); ++s)
      if (!runs[static_cast<size_t>(s)]) cycle += (cycle.empty() ? "" : ", ") + std::to_string(s);
    return Status::InvalidArg("in " + ensemble + ", steps " + cycle + " can never run: they depend on each other's outputs "
                              "(a cycle), or on steps that do");
  }
  for (const auto& [tensor, step] : producer) {
    if (!readers.count(tensor) && !outputs.count(tensor)) {
      return Status::InvalidArg("ensemble tensor '" + tensor + "' produced by step " + std::to_string(step) + " is unused in " +
                                ensemble + " (no step reads it and it is not an ensemble output)");
    }
  }
  return Status::Ok();
}

std::set<std::string> ComposingModelNames(const inference::ModelConfig& e) {
  std::set<std::string> names;
  for (const auto& step : e.ensemble_scheduling().step()) names.insert(step.model_name());
  return names;
}

Status BuildEnsembleGraph(const inference::ModelConfig& e, const ComposingConfigLookup& lookup, EnsembleGraph* out) {
  INFERD_RETURN_IF_ERROR(CheckEnsembleConfig(e));
  EnsembleGraph g;
  g.name = e.name();
  g.batching = e.max_batch_size() > 0;
  g.max_inflight_requests = e.ensemble_scheduling().max_inflight_requests();
  const std::string ensemble = "ensemble '" + e.name() + "'";
  const bool batching = e.max_batch_size() > 0;
  // What each ensemble tensor is, as first seen: the ensemble's own inputs
  // and outputs, then each step's model inputs and outputs.
  std::map<std::string, TensorSide> seen;
  auto meet = [&](const std::string& tensor, TensorSide side) -> Status {
    auto [it, fresh] = seen.emplace(tensor, side);
    if (fresh) return Status::Ok();
    return Consistent("in " + ensemble + ", ensemble tensor '" + tensor + "': ", it->second, side);
  };
  for (const auto& in : e.input()) {
    const auto& dims = in.has_reshape() ? in.reshape().shape() : in.dims();
    INFERD_RETURN_IF_ERROR(meet(in.name(), Side(ensemble, batching, in.data_type(), dims)));
    if (in.has_reshape()) g.input_reshape[in.name()].assign(dims.begin(), dims.end());
  }
  for (const auto& o : e.output()) {
    const auto& dims = o.has_reshape() ? o.reshape().shape() : o.dims();
    INFERD_RETURN_IF_ERROR(meet(o.name(), Side(ensemble, batching, o.data_type(), dims)));
    g.outputs.push_back(o.name());
    g.output_dims[o.name()].assign(dims.begin(), dims.end());
  }
  std::vector<bool> step_decoupled;
  const auto& steps = e.ensemble_scheduling().step();
  for (int s = 0; s < steps.size(); ++s) {
    const auto& step = steps[s];
    const std::string label = StepLabel(e, static_cast<size_t>(s));
    inference::ModelConfig c;
    INFERD_RETURN_IF_ERROR(lookup(step.model_name(), step.model_version(), &c).Prefixed(label + ": "));
    if (c.max_batch_size() != 0 && c.max_batch_size() < e.max_batch_size()) {
      return Status::InvalidArg(ensemble + " allows maximum batch size " + std::to_string(e.max_batch_size()) +
                                ", but it contains model '" + step.model_name() + "' which only allows maximum batch size to be " +
                                std::to_string(c.max_batch_size()));
    }
    const bool step_batching = c.max_batch_size() > 0;
    const std::string source = "model '" + step.model_name() + "'";
    EnsembleStep built{step.model_name(), step.model_version(), Sorted(step.input_map()), Sorted(step.output_map()),
                       step_batching, {}};
    for (const auto& mapping : built.inputs) {
      const std::string& model_input = mapping.first;  // named, not bound: lambdas capture it (clang 14)
      const std::string& tensor = mapping.second;
      auto def = std::find_if(c.input().begin(), c.input().end(), [&](const auto& i) { return i.name() == model_input; });
      if (def == c.input().end()) {
        return Status::InvalidArg(label + ": ensemble tensor '" + tensor + "' is mapping to non-existing input '" +
                                  model_input + "' of model '" + step.model_name() + "'");
      }
      INFERD_RETURN_IF_ERROR(meet(tensor, Side(source, step_batching, def->data_type(), def->dims())));
      g.consumers[tensor].push_back(static_cast<size_t>(s));
      built.input_dims.emplace_back(def->dims().begin(), def->dims().end());
    }
    for (const auto& def : c.input()) {
      const bool mapped = std::any_of(built.inputs.begin(), built.inputs.end(), [&](const auto& m) { return m.first == def.name(); });
      if (!mapped && !def.optional()) {
        return Status::InvalidArg(label + ": input '" + def.name() + "' of model '" + step.model_name() +
                                  "' is not mapped to any ensemble tensor");
      }
    }
    for (const auto& mapping : built.outputs) {
      const std::string& model_output = mapping.first;
      const std::string& tensor = mapping.second;
      auto def = std::find_if(c.output().begin(), c.output().end(), [&](const auto& o) { return o.name() == model_output; });
      if (def == c.output().end()) {
        return Status::InvalidArg(label + ": ensemble tensor '" + tensor + "' is mapped from non-existing output '" +
                                  model_output + "' of model '" + step.model_name() + "'");
      }
      INFERD_RETURN_IF_ERROR(meet(tensor, Side(source, step_batching, def->data_type(), def->dims())));
      g.producer[tensor] = static_cast<size_t>(s);
    }
    step_decoupled.push_back(c.model_transaction_policy().decoupled());
    g.steps.push_back(std::move(built));
  }
  g.order = RunnableOrder(e);
  // Each response of a decoupled step starts its own wave through the steps
  // after it; a step (or the ensemble's answer) fed by two different waves
  // could not pair them, so Triton refuses it, and so does inferd. Labels:
  // 0 for the client's tensors, a new one per decoupled step.
  std::map<std::string, size_t> wave;
  for (const auto& in : e.input()) wave[in.name()] = 0;
  size_t waves = 0;
  for (size_t s : g.order) {
    const EnsembleStep& step = g.steps[s];
    const size_t first = wave.at(step.inputs.front().second);
    for (const auto& [model_input, tensor] : step.inputs) {
      if (wave.at(tensor) != first) {
        return Status::InvalidArg(StepLabel(e, s) + " receives inputs originated from different decoupled models");
      }
    }
    const size_t label = step_decoupled[s] ? ++waves : first;
    for (const auto& [model_output, tensor] : step.outputs) wave[tensor] = label;
  }
  for (const auto& o : g.outputs) {
    if (wave.at(o) != wave.at(g.outputs.front())) {  // not reached without outputs
      return Status::InvalidArg("the outputs of " + ensemble + " originate from different decoupled models ('" +
                                g.outputs.front() + "' and '" + o + "')");
    }
  }
  g.decoupled = waves > 0;
  *out = std::move(g);
  return Status::Ok();
}

}  // namespace inferd
