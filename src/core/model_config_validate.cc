#include "core/model_config_validate.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>

#include "common/datatype.h"
#include "core/scheduler/ensemble_graph.h"

namespace inferd {
namespace fs = std::filesystem;
namespace {

using google::protobuf::RepeatedField;

std::string Dims(const RepeatedField<int64_t>& dims) {
  return ShapeToString(std::vector<int64_t>(dims.begin(), dims.end()));
}

// Triton: every dim is >= 1, or -1 for a variable-size dimension.
Status CheckDims(const std::string& what, const RepeatedField<int64_t>& dims) {
  for (int64_t d : dims) {
    if (d < 1 && d != -1) {
      return Status::InvalidArg(what + " has dims " + Dims(dims) +
                                ": each dimension must be >= 1, or -1 for a variable size");
    }
  }
  return Status::Ok();
}

// dims and reshape must describe the same elements (Triton's rules): without
// variable dims the element counts are equal; with them, both have the same
// number of -1s, and the fixed dims between consecutive -1s describe the same
// number of elements on both sides. An empty reshape (a scalar per batch
// item) needs a batching model and dims of one element.
Status CheckReshape(const std::string& what, const RepeatedField<int64_t>& dims,
                    const inference::ModelTensorReshape& reshape, bool batching) {
  const auto& shape = reshape.shape();
  INFERD_RETURN_IF_ERROR(CheckDims(what + " reshape", shape));
  if (shape.empty() && !batching) {
    return Status::InvalidArg(what + " has an empty reshape, which needs max_batch_size > 0 "
                                     "(scalar tensors are not supported without batching)");
  }
  // Element counts of the pieces between -1s (fixed dims only, checked).
  auto pieces = [](const RepeatedField<int64_t>& d, std::vector<int64_t>* out) {
    int64_t n = 1;
    for (int64_t v : d) {
      if (v == -1) {
        out->push_back(n);
        n = 1;
      } else if (__builtin_mul_overflow(n, v, &n)) {
        return false;
      }
    }
    out->push_back(n);
    return true;
  };
  std::vector<int64_t> dims_pieces, reshape_pieces;
  if (!pieces(dims, &dims_pieces) || !pieces(shape, &reshape_pieces)) {
    return Status::InvalidArg(what + " has dims " + Dims(dims) + " or reshape " + Dims(shape) +
                              " whose element count does not fit in 64 bits");
  }
  if (dims_pieces.size() != reshape_pieces.size()) {
    return Status::InvalidArg(what + " has dims " + Dims(dims) + " and reshape " + Dims(shape) +
                              " with different numbers of variable-size dimensions (-1)");
  }
  if (dims_pieces.size() == 1 && dims_pieces != reshape_pieces) {
    return Status::InvalidArg(what + " has dims " + Dims(dims) + " (" + std::to_string(dims_pieces[0]) +
                              " elements) but reshape " + Dims(shape) + " (" +
                              std::to_string(reshape_pieces[0]) + " elements)");
  }
  if (dims_pieces != reshape_pieces) {
    return Status::InvalidArg(what + " has dims " + Dims(dims) + " and reshape " + Dims(shape) +
                              " that do not describe the same number of elements between their "
                              "variable-size dimensions (-1)");
  }
  return Status::Ok();
}

Status CheckTensor(const std::string& what, const inference::ModelConfig& c, inference::DataType type,
                   const RepeatedField<int64_t>& dims, bool has_reshape,
                   const inference::ModelTensorReshape& reshape, bool shape_tensor, bool non_linear) {
  if (type == inference::TYPE_INVALID || DataTypeFromConfig(type) == INFERD_TYPE_INVALID) {
    return Status::InvalidArg(what + " must specify a valid 'data_type'");
  }
  if (dims.empty()) return Status::InvalidArg(what + " must specify 'dims'");
  INFERD_RETURN_IF_ERROR(CheckDims(what, dims));
  if (has_reshape) INFERD_RETURN_IF_ERROR(CheckReshape(what, dims, reshape, c.max_batch_size() > 0));
  if (shape_tensor && c.platform() != "tensorrt_plan") {
    return Status::InvalidArg(what + " is a shape tensor (is_shape_tensor), which only TensorRT "
                                     "models (platform tensorrt_plan) support");
  }
  if (non_linear && c.platform() != "tensorrt_plan") {
    return Status::InvalidArg(what + " has is_non_linear_format_io, which only TensorRT models "
                                     "(platform tensorrt_plan) support");
  }
  if (non_linear && dims.size() != 3) {
    return Status::InvalidArg(what + " has is_non_linear_format_io and must have 3 dims, has " +
                              Dims(dims));
  }
  return Status::Ok();
}

// A file name given in the config must stay inside `base` (no absolute path,
// no "..": a config must not reach other folders).
bool StaysInside(const std::string& name) {
  if (name.empty()) return true;
  fs::path p(name);
  if (p.is_absolute()) return false;
  for (const auto& part : p)
    if (part == "..") return false;
  return true;
}

// Bounds on what one config can make the server allocate at load (a config
// may arrive through the load API): a queue per priority level, a thread per
// instance.
constexpr uint64_t kMaxPriorityLevels = 10000;
constexpr uint64_t kMaxInstances = 256;

// A backend name becomes part of a library path (<dir>/<name>/libinferd_<name>.so):
// only letters, digits, '_', '.' and '-', never a path.
bool IsPlainName(const std::string& name) {
  if (name.empty() || name.find("..") != std::string::npos) return false;
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '_' || ch == '.' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

Status CheckQueuePolicy(const std::string& what, const inference::ModelQueuePolicy& policy) {
  if (policy.timeout_action() != inference::ModelQueuePolicy::REJECT &&
      policy.timeout_action() != inference::ModelQueuePolicy::DELAY) {
    return Status::InvalidArg(what + " has an unknown 'timeout_action'");
  }
  return Status::Ok();
}

Status CheckDynamicBatching(const std::string& model, const inference::ModelConfig& c) {
  const auto& db = c.dynamic_batching();
  const std::string what = "model '" + model + "' dynamic_batching";
  if (c.max_batch_size() == 0) {
    return Status::InvalidArg(what + " requires max_batch_size > 0");
  }
  for (int32_t size : db.preferred_batch_size()) {
    if (size < 1 || size > c.max_batch_size()) {
      return Status::InvalidArg(what + " preferred_batch_size " + std::to_string(size) +
                                " must be between 1 and max_batch_size " +
                                std::to_string(c.max_batch_size()));
    }
  }
  INFERD_RETURN_IF_ERROR(CheckQueuePolicy(what + " default_queue_policy", db.default_queue_policy()));
  if (db.preserve_ordering()) {
    // Responses leave in arrival order: a request may not overtake another
    // by priority, nor wait behind one parked by a DELAY timeout.
    if (db.priority_levels() > 1) {
      return Status::InvalidArg(what + " preserve_ordering allows only one priority level, got "
                                       "priority_levels " + std::to_string(db.priority_levels()));
    }
    auto delays = [](const inference::ModelQueuePolicy& p) {
      return p.timeout_action() == inference::ModelQueuePolicy::DELAY && p.default_timeout_microseconds() != 0;
    };
    bool delay = delays(db.default_queue_policy());
    for (const auto& [level, policy] : db.priority_queue_policy()) delay = delay || delays(policy);
    if (delay) {
      return Status::InvalidArg(what + " preserve_ordering cannot be combined with a queue policy "
                                       "whose timeout_action is DELAY");
    }
  }
  if (db.priority_levels() == 0) {
    if (db.default_priority_level() != 0) {
      return Status::InvalidArg(what + " default_priority_level requires priority_levels");
    }
    if (!db.priority_queue_policy().empty()) {
      return Status::InvalidArg(what + " priority_queue_policy requires priority_levels");
    }
  } else {
    if (db.priority_levels() > kMaxPriorityLevels) {
      return Status::InvalidArg(what + " priority_levels " + std::to_string(db.priority_levels()) +
                                " is more than the " + std::to_string(kMaxPriorityLevels) + " allowed");
    }
    if (db.default_priority_level() < 1 || db.default_priority_level() > db.priority_levels()) {
      return Status::InvalidArg(what + " default_priority_level " +
                                std::to_string(db.default_priority_level()) +
                                " must be between 1 and priority_levels " +
                                std::to_string(db.priority_levels()));
    }
    for (const auto& [level, policy] : db.priority_queue_policy()) {
      if (level < 1 || level > db.priority_levels()) {
        return Status::InvalidArg(what + " priority_queue_policy level " + std::to_string(level) +
                                  " must be between 1 and priority_levels " +
                                  std::to_string(db.priority_levels()));
      }
      INFERD_RETURN_IF_ERROR(CheckQueuePolicy(
          what + " priority_queue_policy[" + std::to_string(level) + "]", policy));
    }
  }
  return Status::Ok();
}

// An implicit state's initial_state: named, of the state's type and dims,
// with its data given (zeros or a file confined to <model>/initial_state/).
Status CheckInitialState(const std::string& sw, const inference::ModelSequenceBatching::State& st) {
  const auto& init = st.initial_state(0);
  if (init.name().empty()) return Status::InvalidArg(sw + " initial_state must have a 'name'");
  if (init.data_type() != st.data_type()) {
    return Status::InvalidArg(sw + " initial_state has data_type " +
                              inference::DataType_Name(init.data_type()) + ", the state " +
                              inference::DataType_Name(st.data_type()));
  }
  if (init.dims_size() != st.dims_size()) {
    return Status::InvalidArg(sw + " initial_state has dims " + Dims(init.dims()) +
                              ", which must have as many dimensions as the state's " + Dims(st.dims()));
  }
  for (int i = 0; i < init.dims_size(); ++i) {
    if (init.dims(i) < 0) {
      return Status::InvalidArg(sw + " initial_state dims " + Dims(init.dims()) +
                                " must not contain variable dimensions");
    }
    if (st.dims(i) != -1 && init.dims(i) != st.dims(i)) {
      return Status::InvalidArg(sw + " initial_state dims " + Dims(init.dims()) +
                                " do not match the state's dims " + Dims(st.dims()));
    }
  }
  if (init.state_data_case() == inference::ModelSequenceBatching::InitialState::STATE_DATA_NOT_SET) {
    return Status::InvalidArg(sw + " initial_state must set 'zero_data' or 'data_file'");
  }
  if (init.has_data_file() && (init.data_file().empty() || !StaysInside(init.data_file()))) {
    return Status::InvalidArg(sw + " initial_state data_file '" + init.data_file() +
                              "' must name a file inside the model's initial_state folder "
                              "(no absolute path, no '..')");
  }
  return Status::Ok();
}

Status CheckSequenceBatching(const std::string& model, const inference::ModelConfig& c) {
  const auto& sb = c.sequence_batching();
  const std::string what = "model '" + model + "' sequence_batching";
  std::set<std::string> names;
  for (const auto& input : sb.control_input()) {
    if (input.name().empty()) return Status::InvalidArg(what + " control_input must have a name");
    if (!names.insert(input.name()).second) {
      return Status::InvalidArg(what + " has control_input '" + input.name() + "' twice");
    }
    if (input.control().empty()) {
      return Status::InvalidArg(what + " control_input '" + input.name() +
                                "' must specify a 'control'");
    }
    for (const auto& ctl : input.control()) {
      const std::string cw = what + " control_input '" + input.name() + "'";
      int sources = (ctl.int32_false_true_size() > 0) + (ctl.fp32_false_true_size() > 0) +
                    (ctl.bool_false_true_size() > 0);
      switch (ctl.kind()) {
        case inference::ModelSequenceBatching::Control::CONTROL_SEQUENCE_START:
        case inference::ModelSequenceBatching::Control::CONTROL_SEQUENCE_END:
        case inference::ModelSequenceBatching::Control::CONTROL_SEQUENCE_READY:
          if (sources != 1) {
            return Status::InvalidArg(cw + " must specify exactly one of 'int32_false_true', "
                                           "'fp32_false_true' or 'bool_false_true'");
          }
          if ((ctl.int32_false_true_size() > 0 && ctl.int32_false_true_size() != 2) ||
              (ctl.fp32_false_true_size() > 0 && ctl.fp32_false_true_size() != 2) ||
              (ctl.bool_false_true_size() > 0 && ctl.bool_false_true_size() != 2)) {
            return Status::InvalidArg(cw + " false/true values must be exactly 2 values");
          }
          if (ctl.data_type() != inference::TYPE_INVALID) {
            return Status::InvalidArg(cw + " must not specify 'data_type' for this control kind");
          }
          break;
        case inference::ModelSequenceBatching::Control::CONTROL_SEQUENCE_CORRID:
          if (sources != 0) {
            return Status::InvalidArg(cw + " CONTROL_SEQUENCE_CORRID takes no false/true values");
          }
          if (ctl.data_type() != inference::TYPE_UINT64 && ctl.data_type() != inference::TYPE_INT64 &&
              ctl.data_type() != inference::TYPE_UINT32 && ctl.data_type() != inference::TYPE_INT32 &&
              ctl.data_type() != inference::TYPE_STRING) {
            return Status::InvalidArg(cw + " CONTROL_SEQUENCE_CORRID needs 'data_type' "
                                           "TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 or "
                                           "TYPE_STRING");
          }
          break;
        default:
          return Status::InvalidArg(cw + " has an unknown control kind");
      }
    }
  }
  std::map<int, std::string> kinds;  // control kind -> the tensor that carries it
  for (const auto& input : sb.control_input()) {
    for (const auto& ctl : input.control()) {
      auto [it, fresh] = kinds.emplace(ctl.kind(), input.name());
      if (!fresh) {
        return Status::InvalidArg(what + " has more than one " +
                                  inference::ModelSequenceBatching::Control::Kind_Name(ctl.kind()) +
                                  " control (tensors '" + it->second + "' and '" + input.name() + "')");
      }
    }
  }
  if (c.response_cache().enable()) {
    return Status::InvalidArg(what + ": response_cache cannot be enabled for a model with sequence "
                                     "batching (a sequence's answers depend on its earlier requests)");
  }
  std::set<std::string> tensors;
  for (const auto& in : c.input()) tensors.insert(in.name());
  for (const auto& out : c.output()) tensors.insert(out.name());
  std::set<std::string> state_names;
  for (const auto& st : sb.state()) {
    const std::string sw = what + " state '" + st.input_name() + "'";
    if (st.input_name().empty() || st.output_name().empty()) {
      return Status::InvalidArg(what + " state must name 'input_name' and 'output_name'");
    }
    if (tensors.count(st.input_name()) || tensors.count(st.output_name())) {
      return Status::InvalidArg(sw + ": state tensors must not be listed as model inputs or outputs");
    }
    if (DataTypeFromConfig(st.data_type()) == INFERD_TYPE_INVALID) {
      return Status::InvalidArg(sw + " must specify a valid 'data_type'");
    }
    for (int64_t d : st.dims()) {
      if (d < 1) return Status::InvalidArg(sw + " dims must be fixed (>= 1), got " + std::to_string(d));
    }
    if (st.initial_state_size() > 1) return Status::InvalidArg(sw + ": at most one initial_state");
    if (!state_names.insert(st.input_name()).second) {
      return Status::InvalidArg(sw + " is specified more than once");
    }
    if (st.use_growable_memory() && !st.use_same_buffer_for_input_output()) {
      return Status::InvalidArg(sw + ": use_growable_memory needs use_same_buffer_for_input_output");
    }
    if (st.use_growable_memory()) {
      return Status::InvalidArg(sw + ": use_growable_memory works only with KIND_GPU instances, "
                                     "which this build does not run");
    }
    if (st.initial_state_size() == 1) INFERD_RETURN_IF_ERROR(CheckInitialState(sw, st));
  }
  if (c.max_batch_size() == 0 && sb.has_oldest() && sb.oldest().max_candidate_sequences() > 1) {
    // Triton: the oldest strategy batches sequences; it needs a batching model.
    return Status::InvalidArg(what + " oldest strategy requires max_batch_size > 0");
  }
  const float utilization = sb.direct().minimum_slot_utilization();
  if (!(utilization >= 0.0f && utilization <= 1.0f)) {
    return Status::InvalidArg(what + " direct minimum_slot_utilization must be between 0 and 1, got " +
                              std::to_string(utilization));
  }
  for (int32_t size : sb.oldest().preferred_batch_size()) {
    if (size < 1 || size > std::max(1, c.max_batch_size())) {
      return Status::InvalidArg(what + " oldest preferred_batch_size " + std::to_string(size) +
                                " must be between 1 and max_batch_size " +
                                std::to_string(std::max(1, c.max_batch_size())));
    }
  }
  return Status::Ok();
}

Status CheckBatchInputsOutputs(const std::string& model, const inference::ModelConfig& c) {
  std::set<std::string> inputs;
  for (const auto& i : c.input()) inputs.insert(i.name());
  if ((c.batch_input_size() > 0 || c.batch_output_size() > 0) && c.max_batch_size() == 0) {
    return Status::InvalidArg("model '" + model +
                              "' batch_input/batch_output require max_batch_size > 0");
  }
  for (const auto& bi : c.batch_input()) {
    const std::string what = "model '" + model + "' batch_input";
    if (bi.target_name().empty()) return Status::InvalidArg(what + " must specify 'target_name'");
    for (const auto& t : bi.target_name()) {
      if (inputs.count(t)) {
        return Status::InvalidArg(what + " target '" + t + "' collides with a model input");
      }
    }
    if (bi.kind() != inference::BatchInput::BATCH_MAX_ELEMENT_COUNT_AS_SHAPE &&
        bi.data_type() != inference::TYPE_INT32 && bi.data_type() != inference::TYPE_FP32) {
      return Status::InvalidArg(what + " data_type must be TYPE_INT32 or TYPE_FP32");
    }
    if (bi.source_input_size() != 1 && bi.kind() != inference::BatchInput::BATCH_ITEM_SHAPE_FLATTEN &&
        bi.kind() != inference::BatchInput::BATCH_ITEM_SHAPE) {
      return Status::InvalidArg(what + " must name exactly one 'source_input'");
    }
    for (const auto& s : bi.source_input()) {
      if (!inputs.count(s)) {
        return Status::InvalidArg(what + " source_input '" + s + "' is not a model input");
      }
    }
  }
  std::set<std::string> outputs;
  for (const auto& o : c.output()) outputs.insert(o.name());
  for (const auto& bo : c.batch_output()) {
    const std::string what = "model '" + model + "' batch_output";
    if (bo.target_name().empty()) return Status::InvalidArg(what + " must specify 'target_name'");
    std::set<std::string> targets;
    for (const auto& t : bo.target_name()) {
      if (!outputs.count(t)) {
        return Status::InvalidArg(what + " target '" + t + "' is not a model output");
      }
      if (!targets.insert(t).second) {
        return Status::InvalidArg(what + " names target '" + t + "' more than once");
      }
    }
    if (bo.source_input_size() != 1 || !inputs.count(bo.source_input(0))) {
      return Status::InvalidArg(what + " must name exactly one 'source_input' that is a model input");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string BackendForPlatform(const std::string& platform) {
  static const std::map<std::string, std::string> kMap = {
      {"onnxruntime_onnx", "onnxruntime"},
      {"pytorch_libtorch", "pytorch"},
      {"tensorrt_plan", "tensorrt"},
      {"tensorflow_graphdef", "tensorflow"},
      {"tensorflow_savedmodel", "tensorflow"},
      {"python", "python"},
      {"ensemble", ""},  // no backend: the ensemble scheduler runs it
  };
  auto it = kMap.find(platform);
  return it == kMap.end() ? "" : it->second;
}

namespace {

// A backend Triton's server-side auto-complete knows by its model file.
struct KnownBackend {
  const char* backend;
  const char* platform;  // "" where Triton sets none
  const char* filename;  // default_model_filename
  enum { kFile, kFolder, kEither } file_kind;
};

// In Triton's order (the first that matches wins).
constexpr KnownBackend kKnownBackends[] = {
    {"tensorflow", "tensorflow_savedmodel", "model.savedmodel", KnownBackend::kFolder},
    {"tensorflow", "tensorflow_graphdef", "model.graphdef", KnownBackend::kFile},
    {"tensorrt", "tensorrt_plan", "model.plan", KnownBackend::kFile},
    {"onnxruntime", "onnxruntime_onnx", "model.onnx", KnownBackend::kEither},  // a folder for large models
    {"openvino", "", "model.xml", KnownBackend::kEither},
    {"pytorch", "pytorch_libtorch", "model.pt", KnownBackend::kFile},
    {"python", "", "model.py", KnownBackend::kEither},
};

bool HasModelFile(const std::string& version_dir, const KnownBackend& known) {
  std::error_code ec;
  const fs::path file = fs::path(version_dir) / known.filename;
  if (!fs::exists(file, ec)) return false;
  const bool folder = fs::is_directory(file, ec);
  return known.file_kind == KnownBackend::kEither || folder == (known.file_kind == KnownBackend::kFolder);
}

}  // namespace

Status CompleteBackendFields(const ConfigContext& ctx, const std::vector<int64_t>& versions,
                             inference::ModelConfig* c) {
  if (c->name().empty()) c->set_name(ctx.folder_name);
  if (c->platform() == "ensemble") return Status::Ok();
  // Like Triton, only the first version folder is looked at.
  const std::string version_dir =
      versions.empty() ? "" : (fs::path(ctx.model_dir) / std::to_string(versions.front())).string();
  const bool nothing_named = c->platform().empty() && c->default_model_filename().empty();
  for (const KnownBackend& known : kKnownBackends) {
    const bool found = nothing_named && !version_dir.empty() && HasModelFile(version_dir, known);
    const bool platform_named = !c->platform().empty() && c->platform() == known.platform;
    if (std::string_view(known.backend) == "tensorflow") {
      // Two platforms on one backend: the one named, or the one whose file is there.
      if (!c->backend().empty() && c->backend() != known.backend) continue;
      const bool file_named = c->platform().empty() && c->default_model_filename() == known.filename;
      if (!platform_named && !file_named && !found) continue;
    } else if (c->backend().empty()) {
      if (platform_named || c->default_model_filename() == known.filename || found) c->set_backend(known.backend);
    }
    if (c->backend() != known.backend && std::string_view(known.backend) != "tensorflow") continue;
    c->set_backend(known.backend);
    if (c->platform().empty()) c->set_platform(known.platform);
    // A PyTorch model whose runtime is the Python-based one has no model.pt.
    const bool python_runtime = std::string_view(known.backend) == "pytorch" && c->runtime() == "model.py";
    if (c->default_model_filename().empty() && !python_runtime) c->set_default_model_filename(known.filename);
    return Status::Ok();
  }
  if (!c->backend().empty() || !c->platform().empty() || !c->default_model_filename().empty()) {
    if (c->backend().empty()) c->set_backend(BackendForPlatform(c->platform()));
    return Status::Ok();
  }
  // Nothing names a backend: Triton takes it from a model named "<x>.<backend>".
  const size_t dot = c->name().find('.');
  if (dot == std::string::npos) {
    return Status::InvalidArg("Invalid model name: Could not determine backend for model '" + c->name() +
                              "' with no backend in model configuration. Expected model name of the "
                              "form 'model.<backend_name>'.");
  }
  c->set_backend(c->name().substr(dot + 1));
  c->set_default_model_filename("model." + c->backend());
  return Status::Ok();
}

Status NormalizeModelConfig(const ConfigContext& ctx, inference::ModelConfig* c) {
  if (c->name().empty()) c->set_name(ctx.folder_name);
  if (c->backend().empty() && !c->platform().empty()) {
    c->set_backend(BackendForPlatform(c->platform()));
  }
  if (!c->has_version_policy()) c->mutable_version_policy()->mutable_latest()->set_num_versions(1);
  // Triton's defaults, so the config a client reads back is the one Triton shows.
  if (c->has_dynamic_batching() && c->dynamic_batching().preferred_batch_size().empty() &&
      c->max_batch_size() > 0) {
    c->mutable_dynamic_batching()->add_preferred_batch_size(c->max_batch_size());
  }
  if (c->has_sequence_batching()) {
    auto* sb = c->mutable_sequence_batching();
    if (sb->max_sequence_idle_microseconds() == 0) sb->set_max_sequence_idle_microseconds(kDefaultSequenceIdleUs);
    if (sb->has_oldest() && sb->oldest().preferred_batch_size().empty() && c->max_batch_size() > 0) {
      sb->mutable_oldest()->add_preferred_batch_size(c->max_batch_size());
    }
  }
  if (c->has_ensemble_scheduling() || c->platform() == "ensemble") return Status::Ok();
  // Pinned memory only matters with a GPU; Triton lists it as on by default.
  auto* optimization = c->mutable_optimization();
  if (!optimization->has_input_pinned_memory()) optimization->mutable_input_pinned_memory()->set_enable(true);
  if (!optimization->has_output_pinned_memory()) optimization->mutable_output_pinned_memory()->set_enable(true);
  if (c->instance_group().empty()) c->add_instance_group()->set_name(c->name());  // Triton names it so
  for (int i = 0; i < c->instance_group_size(); ++i) {
    auto* g = c->mutable_instance_group(i);
    if (g->name().empty()) g->set_name(c->name() + "_" + std::to_string(i));
    if (g->kind() == inference::ModelInstanceGroup::KIND_AUTO) {
      g->set_kind(ctx.gpu_count > 0 ? inference::ModelInstanceGroup::KIND_GPU
                                    : inference::ModelInstanceGroup::KIND_CPU);
    }
    if (g->count() == 0) {
      // Triton gives CPU instances of ONNX Runtime and TensorFlow models two
      // instances by default (the others' overhead per instance is higher).
      const bool two = g->kind() == inference::ModelInstanceGroup::KIND_CPU &&
                       (c->backend() == "onnxruntime" || c->backend() == "tensorflow");
      g->set_count(two ? 2 : 1);
    }
    if (g->kind() == inference::ModelInstanceGroup::KIND_GPU && g->gpus().empty()) {
      for (int gpu = 0; gpu < ctx.gpu_count; ++gpu) g->add_gpus(gpu);
    }
  }
  return Status::Ok();
}

Status ValidateModelConfig(const ConfigContext& ctx, const inference::ModelConfig& c) {
  const std::string model = ctx.folder_name;
  const std::string prefix = "model '" + model + "' ";
  if (c.name() != ctx.folder_name) {
    return Status::InvalidArg("model name '" + c.name() + "' in config.pbtxt does not match its "
                              "folder name '" + ctx.folder_name + "'");
  }
  if (c.platform().empty() && c.backend().empty()) {
    return Status::InvalidArg(prefix + "must specify 'platform' or 'backend'");
  }
  if (!c.platform().empty()) {
    if (c.platform() != "ensemble" && BackendForPlatform(c.platform()).empty()) {
      return Status::InvalidArg(prefix + "has unknown platform '" + c.platform() + "'");
    }
    if (c.platform() != "ensemble" && c.backend() != BackendForPlatform(c.platform())) {
      return Status::InvalidArg(prefix + "platform '" + c.platform() + "' runs on backend '" +
                                BackendForPlatform(c.platform()) + "', not '" + c.backend() + "'");
    }
  }
  if (c.platform() == "ensemble" && !c.has_ensemble_scheduling()) {
    return Status::InvalidArg(prefix + "platform 'ensemble' requires 'ensemble_scheduling'");
  }
  if (c.has_ensemble_scheduling() && c.platform() != "ensemble") {
    return Status::InvalidArg(prefix + "'ensemble_scheduling' requires platform 'ensemble'");
  }
  if (c.max_batch_size() < 0) {
    return Status::InvalidArg(prefix + "'max_batch_size' must be >= 0, got " +
                              std::to_string(c.max_batch_size()));
  }
  if (!c.backend().empty() && !IsPlainName(c.backend())) {
    return Status::InvalidArg(prefix + "'backend' '" + c.backend() +
                              "' must be a name of letters, digits, '_', '.' and '-', not a path");
  }
  if (!StaysInside(c.runtime())) {
    // Triton's words, then why.
    return Status::InvalidArg("model '" + model + "': backend library name '" + c.runtime() +
                              "' escapes backend directory ('runtime' must be a file name inside the "
                              "model or backend folder: no absolute path, no '..')");
  }
  if (!StaysInside(c.default_model_filename())) {
    return Status::InvalidArg(prefix + "'default_model_filename' '" + c.default_model_filename() +
                              "' must stay inside the model folder");
  }

  std::set<std::string> names;
  for (const auto& in : c.input()) {
    const std::string what = prefix + "input '" + in.name() + "'";
    if (in.name().empty()) return Status::InvalidArg(prefix + "has an input without a 'name'");
    if (!names.insert(in.name()).second) {
      return Status::InvalidArg(prefix + "has input '" + in.name() + "' more than once");
    }
    INFERD_RETURN_IF_ERROR(CheckTensor(what, c, in.data_type(), in.dims(), in.has_reshape(), in.reshape(),
                                       in.is_shape_tensor(), in.is_non_linear_format_io()));
    if (in.format() != inference::ModelInput::FORMAT_NONE && in.dims_size() != 3) {
      return Status::InvalidArg(what + " has an image 'format' and must have 3 dims, has " +
                                Dims(in.dims()));
    }
  }
  names.clear();
  for (const auto& out : c.output()) {
    const std::string what = prefix + "output '" + out.name() + "'";
    if (out.name().empty()) return Status::InvalidArg(prefix + "has an output without a 'name'");
    if (!names.insert(out.name()).second) {
      return Status::InvalidArg(prefix + "has output '" + out.name() + "' more than once");
    }
    INFERD_RETURN_IF_ERROR(CheckTensor(what, c, out.data_type(), out.dims(), out.has_reshape(),
                                       out.reshape(), out.is_shape_tensor(),
                                       out.is_non_linear_format_io()));
    if (!out.label_filename().empty()) {
      if (!StaysInside(out.label_filename())) {
        return Status::InvalidArg(what + " 'label_filename' must stay inside the model folder");
      }
      if (!fs::is_regular_file(fs::path(ctx.model_dir) / out.label_filename())) {
        return Status::InvalidArg(what + " 'label_filename' " + out.label_filename() +
                                  " does not exist in " + ctx.model_dir);
      }
    }
  }
  INFERD_RETURN_IF_ERROR(CheckBatchInputsOutputs(model, c));

  names.clear();
  uint64_t instances = 0;
  for (const auto& g : c.instance_group()) {
    const uint64_t devices = g.kind() == inference::ModelInstanceGroup::KIND_GPU
                                 ? static_cast<uint64_t>(std::max(1, g.gpus_size()))
                                 : 1;
    instances += static_cast<uint64_t>(std::max(0, g.count())) * devices;
    if (instances > kMaxInstances) {
      return Status::InvalidArg(prefix + "asks for more than " + std::to_string(kMaxInstances) +
                                " instances (instance_group counts), each a thread of its own");
    }
    const std::string what = prefix + "instance_group '" + g.name() + "'";
    if (!names.insert(g.name()).second) {
      return Status::InvalidArg(prefix + "has instance_group name '" + g.name() + "' twice");
    }
    if (g.count() < 1) return Status::InvalidArg(what + " 'count' must be >= 1");
    if (g.kind() == inference::ModelInstanceGroup::KIND_GPU) {
      if (ctx.gpu_count == 0) {
        return Status::InvalidArg(what + " asks for KIND_GPU but this machine has no GPU");
      }
      for (int32_t gpu : g.gpus()) {
        if (gpu < 0 || gpu >= ctx.gpu_count) {
          return Status::InvalidArg(what + " names GPU " + std::to_string(gpu) + " but only " +
                                    std::to_string(ctx.gpu_count) + " are present");
        }
      }
    } else if (!g.gpus().empty()) {
      return Status::InvalidArg(what + " lists 'gpus' but is not KIND_GPU");
    }
    if (!g.profile().empty() && c.platform() != "tensorrt_plan") {
      return Status::InvalidArg(what + " lists 'profile', which only TensorRT models "
                                       "(platform tensorrt_plan) have");
    }
    for (const auto& profile : g.profile()) {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(profile.data(), profile.data() + profile.size(), n);
      if (profile.empty() || ec != std::errc() || end != profile.data() + profile.size() || n < 0) {
        return Status::InvalidArg(what + " has profile '" + profile + "', which must be an integer >= 0");
      }
    }
  }

  if (c.version_policy().has_latest() && c.version_policy().latest().num_versions() < 1) {
    return Status::InvalidArg(prefix + "version_policy latest 'num_versions' must be >= 1");
  }
  if (c.version_policy().has_specific()) {
    if (c.version_policy().specific().versions().empty()) {
      return Status::InvalidArg(prefix + "version_policy specific must list 'versions'");
    }
    for (int64_t v : c.version_policy().specific().versions()) {
      if (v < 0) return Status::InvalidArg(prefix + "version_policy specific has version " +
                                           std::to_string(v) + " (must be >= 0)");
    }
  }
  if (c.platform() == "ensemble") INFERD_RETURN_IF_ERROR(CheckEnsembleConfig(c));
  if (c.has_dynamic_batching()) INFERD_RETURN_IF_ERROR(CheckDynamicBatching(model, c));
  if (c.has_sequence_batching()) INFERD_RETURN_IF_ERROR(CheckSequenceBatching(model, c));
  return Status::Ok();
}

Status RejectUnbuiltFeatures(const inference::ModelConfig& c) {
  const std::string prefix = "model '" + c.name() + "': ";
  auto unbuilt = [&](const char* field) {
    return Status::Unsupported(prefix + "'" + field + "' is not supported by this inferd build yet");
  };
  const auto& sb = c.sequence_batching();
  if (sb.iterative_sequence()) return unbuilt("sequence_batching.iterative_sequence");
  if (c.model_transaction_policy().decoupled() && c.response_cache().enable()) {
    // Triton's rule too: a cached answer is one response, a decoupled one is many.
    return Status::InvalidArg(prefix + "response_cache cannot be enabled for a decoupled model");
  }
  if (c.parameters().count("TRITON_BATCH_STRATEGY_PATH")) {
    if (c.has_sequence_batching()) {
      return Status::InvalidArg(prefix + "TRITON_BATCH_STRATEGY_PATH cannot be used with sequence batching");
    }
    // A custom batching strategy is a shared library the config names.
    return unbuilt("parameters.TRITON_BATCH_STRATEGY_PATH (custom batching libraries)");
  }
  if (!c.batch_input().empty()) return unbuilt("batch_input");
  if (!c.batch_output().empty()) return unbuilt("batch_output");
  if (c.has_model_repository_agents()) return unbuilt("model_repository_agents");
  for (const auto& in : c.input()) {
    if (in.is_shape_tensor()) return unbuilt("input.is_shape_tensor");
  }
  return Status::Ok();
}

}  // namespace inferd
