#include "ort_model.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string_view>

namespace inferd::ort {
namespace {

using rapidjson::Value;

// int64 fields arrive as JSON strings (protobuf's JSON form) or numbers.
int64_t AsInt(const Value& v) {
  if (v.IsString()) return std::strtoll(v.GetString(), nullptr, 10);
  if (v.IsInt64()) return v.GetInt64();
  return 0;
}

std::vector<int64_t> Ints(const Value& parent, const char* key) {
  std::vector<int64_t> out;
  auto it = parent.FindMember(key);
  if (it != parent.MemberEnd() && it->value.IsArray())
    for (const auto& v : it->value.GetArray()) out.push_back(AsInt(v));
  return out;
}

std::string Str(const Value& parent, const char* key) {
  auto it = parent.FindMember(key);
  return it != parent.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

InferdDataType FromConfigType(const std::string& t) {
  static const std::pair<const char*, InferdDataType> kTypes[] = {
      {"TYPE_BOOL", INFERD_TYPE_BOOL},     {"TYPE_UINT8", INFERD_TYPE_UINT8},
      {"TYPE_UINT16", INFERD_TYPE_UINT16}, {"TYPE_UINT32", INFERD_TYPE_UINT32},
      {"TYPE_UINT64", INFERD_TYPE_UINT64}, {"TYPE_INT8", INFERD_TYPE_INT8},
      {"TYPE_INT16", INFERD_TYPE_INT16},   {"TYPE_INT32", INFERD_TYPE_INT32},
      {"TYPE_INT64", INFERD_TYPE_INT64},   {"TYPE_FP16", INFERD_TYPE_FP16},
      {"TYPE_FP32", INFERD_TYPE_FP32},     {"TYPE_FP64", INFERD_TYPE_FP64},
      {"TYPE_STRING", INFERD_TYPE_BYTES},  {"TYPE_BF16", INFERD_TYPE_BF16}};
  for (const auto& [name, type] : kTypes)
    if (t == name) return type;
  return INFERD_TYPE_INVALID;
}

const char* ConfigTypeName(InferdDataType t) {
  switch (t) {
    case INFERD_TYPE_BOOL: return "TYPE_BOOL";
    case INFERD_TYPE_UINT8: return "TYPE_UINT8";
    case INFERD_TYPE_UINT16: return "TYPE_UINT16";
    case INFERD_TYPE_UINT32: return "TYPE_UINT32";
    case INFERD_TYPE_UINT64: return "TYPE_UINT64";
    case INFERD_TYPE_INT8: return "TYPE_INT8";
    case INFERD_TYPE_INT16: return "TYPE_INT16";
    case INFERD_TYPE_INT32: return "TYPE_INT32";
    case INFERD_TYPE_INT64: return "TYPE_INT64";
    case INFERD_TYPE_FP16: return "TYPE_FP16";
    case INFERD_TYPE_FP32: return "TYPE_FP32";
    case INFERD_TYPE_FP64: return "TYPE_FP64";
    case INFERD_TYPE_BYTES: return "TYPE_STRING";
    case INFERD_TYPE_BF16: return "TYPE_BF16";
    default: return "TYPE_INVALID";
  }
}

std::string DimsString(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

std::vector<TensorSpec> ParseTensors(const Value& config, const char* key) {
  std::vector<TensorSpec> out;
  auto it = config.FindMember(key);
  if (it == config.MemberEnd() || !it->value.IsArray()) return out;
  for (const auto& t : it->value.GetArray()) {
    TensorSpec s;
    s.name = Str(t, "name");
    s.datatype = FromConfigType(Str(t, "data_type"));
    s.dims = Ints(t, "dims");
    if (auto o = t.FindMember("optional"); o != t.MemberEnd() && o->value.IsBool()) s.optional = o->value.GetBool();
    auto r = t.FindMember("reshape");
    if (r != t.MemberEnd() && r->value.IsObject()) {
      s.has_reshape = true;
      s.reshape = Ints(r->value, "shape");
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The model's own view of a tensor.
struct ModelTensor {
  std::string name;
  InferdDataType datatype;
  std::vector<int64_t> shape;  // -1 for symbolic dims
};

enum class TensorKind { kInput, kOutput, kOverridableInitializer };

std::vector<ModelTensor> ModelTensors(Ort::Session& session, TensorKind kind) {
  std::vector<ModelTensor> out;
  Ort::AllocatorWithDefaultOptions alloc;
  const size_t n = kind == TensorKind::kInput    ? session.GetInputCount()
                   : kind == TensorKind::kOutput ? session.GetOutputCount()
                                                 : session.GetOverridableInitializerCount();
  for (size_t i = 0; i < n; ++i) {
    auto name = kind == TensorKind::kInput    ? session.GetInputNameAllocated(i, alloc)
                : kind == TensorKind::kOutput ? session.GetOutputNameAllocated(i, alloc)
                                              : session.GetOverridableInitializerNameAllocated(i, alloc);
    auto type = kind == TensorKind::kInput    ? session.GetInputTypeInfo(i)
                : kind == TensorKind::kOutput ? session.GetOutputTypeInfo(i)
                                              : session.GetOverridableInitializerTypeInfo(i);
    ModelTensor t{name.get(), INFERD_TYPE_INVALID, {}};
    if (type.GetONNXType() == ONNX_TYPE_TENSOR) {
      auto info = type.GetTensorTypeAndShapeInfo();
      t.datatype = FromOrtType(info.GetElementType());
      t.shape = info.GetShape();
      for (auto& d : t.shape)
        if (d < 0) d = -1;
    }
    out.push_back(std::move(t));
  }
  return out;
}

// Triton's CompareDimsSupported: with batching, the model's first dimension
// must be -1 and the rest must match the config's dims; a model dimension of
// -1 matches anything unless `exact`.
bool CompareDims(const std::string& model, const std::string& tensor, const std::vector<int64_t>& model_shape,
                 const std::vector<int64_t>& dims, int max_batch_size, bool exact, std::string* error) {
  const std::string what = "model '" + model + "', tensor '" + tensor + "': ";
  std::vector<int64_t> full = dims;
  if (max_batch_size > 0) {
    if (model_shape.empty() || model_shape[0] != -1) {
      *error = what + "for the model to support batching the shape should have at least 1 dimension and the "
                      "first dimension must be -1; but shape expected by the model is " + DimsString(model_shape);
      return false;
    }
    full.insert(full.begin(), -1);
  }
  bool ok = model_shape.size() == full.size();
  for (size_t i = 0; ok && i < full.size(); ++i) {
    if (exact || model_shape[i] != -1) ok = model_shape[i] == full[i];
  }
  if (ok) return true;
  *error = what + "the model expects " + std::to_string(model_shape.size()) + " dimensions (shape " +
           DimsString(model_shape) + ") but the model configuration specifies " + std::to_string(full.size()) +
           (max_batch_size > 0 ? " dimensions (an initial batch dimension because max_batch_size > 0 followed "
                                 "by the explicit tensor shape, making complete shape " + DimsString(full) + ")"
                               : " dimensions (shape " + DimsString(full) + ")");
  return false;
}

// One config tensor against the model's tensor of that name: datatype, then dims.
bool CheckTensor(const ModelSpec& spec, const TensorSpec& c, const ModelTensor& m, const char* kind,
                 std::string* error) {
  if (m.datatype != c.datatype) {
    *error = "unable to load model '" + spec.name + "', configuration expects datatype " +
             ConfigTypeName(c.datatype) + " for " + kind + " '" + c.name + "', model provides " +
             (m.datatype == INFERD_TYPE_INVALID ? std::string("a type inferd does not serve")
                                                : std::string(ConfigTypeName(m.datatype)));
    return false;
  }
  const std::vector<int64_t>& dims = c.has_reshape ? c.reshape : c.dims;
  if (!m.shape.empty()) {
    // Outputs must match exactly, as in Triton; the sequence batcher's own
    // tensors as before (Triton checks only their datatype).
    const bool exact = std::string_view(kind) == "output" && !c.sequence;
    if (CompareDims(spec.name, c.name, m.shape, dims, spec.max_batch_size, exact, error)) return true;
    if (c.has_reshape) *error += " (the config's reshape of dims " + DimsString(c.dims) + ")";
    return false;
  }
  // No shape information (or a scalar): the config may only say 1s.
  for (int64_t d : dims) {
    if (d != 1) {
      *error = "unable to load model '" + spec.name + "', scalar tensor '" + c.name +
               "', should only provide 1 in the model configuration when the model doesn't support batching. "
               "Model configuration provided: " + DimsString(dims) + ".";
      return false;
    }
  }
  return true;
}

// Triton's "unexpected inference input 'X', allowed inputs are: A, B" (sorted).
std::string UnexpectedTensor(const char* kind, const std::string& name, const std::vector<ModelTensor>& a,
                             const std::vector<ModelTensor>& b = {}) {
  std::set<std::string> allowed;
  for (const auto* list : {&a, &b})
    for (const auto& t : *list) allowed.insert(t.name);
  std::string names;
  for (const auto& n : allowed) names += (names.empty() ? "" : ", ") + n;
  return std::string("unexpected inference ") + kind + " '" + name + "', allowed " + kind + "s are: " + names;
}

// A sequence model's model file has more inputs than its config lists: the
// control tensors (START, END, READY, CORRID) and the implicit state, which
// the sequence batcher adds to every request; and the state's outputs. They
// join the spec so that they are checked against the model and fed to it.
void AddSequenceTensors(const Value& config, ModelSpec* spec) {
  auto sb = config.FindMember("sequence_batching");
  if (sb == config.MemberEnd() || !sb->value.IsObject()) return;
  auto known = [&](const std::vector<TensorSpec>& list, const std::string& name) {
    return std::any_of(list.begin(), list.end(), [&](const TensorSpec& t) { return t.name == name; });
  };
  auto non_empty = [](const Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsArray() && !it->value.Empty();
  };
  if (auto controls = sb->value.FindMember("control_input");
      controls != sb->value.MemberEnd() && controls->value.IsArray()) {
    for (const auto& input : controls->value.GetArray()) {
      auto kinds = input.FindMember("control");
      if (kinds == input.MemberEnd() || !kinds->value.IsArray() || kinds->value.Empty()) continue;
      const Value& control = kinds->value[0];  // every control of one tensor has its type
      TensorSpec t;
      t.name = Str(input, "name");
      t.datatype = non_empty(control, "int32_false_true") ? INFERD_TYPE_INT32
                   : non_empty(control, "fp32_false_true") ? INFERD_TYPE_FP32
                   : non_empty(control, "bool_false_true") ? INFERD_TYPE_BOOL
                                                           : FromConfigType(Str(control, "data_type"));
      t.dims = {1};
      t.sequence = true;
      if (!t.name.empty() && !known(spec->inputs, t.name)) spec->inputs.push_back(std::move(t));
    }
  }
  if (auto states = sb->value.FindMember("state"); states != sb->value.MemberEnd() && states->value.IsArray()) {
    for (const auto& state : states->value.GetArray()) {
      TensorSpec in;
      in.datatype = FromConfigType(Str(state, "data_type"));
      in.dims = Ints(state, "dims");
      in.sequence = true;
      TensorSpec out = in;
      in.name = Str(state, "input_name");
      out.name = Str(state, "output_name");
      if (!known(spec->inputs, in.name)) spec->inputs.push_back(std::move(in));
      if (!known(spec->outputs, out.name)) spec->outputs.push_back(std::move(out));
    }
  }
}

}  // namespace

InferdDataType FromOrtType(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return INFERD_TYPE_BOOL;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return INFERD_TYPE_UINT8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return INFERD_TYPE_UINT16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return INFERD_TYPE_UINT32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return INFERD_TYPE_UINT64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return INFERD_TYPE_INT8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return INFERD_TYPE_INT16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return INFERD_TYPE_INT32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return INFERD_TYPE_INT64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return INFERD_TYPE_FP16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return INFERD_TYPE_FP32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return INFERD_TYPE_FP64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return INFERD_TYPE_BYTES;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return INFERD_TYPE_BF16;
    default: return INFERD_TYPE_INVALID;
  }
}

ONNXTensorElementDataType ToOrtType(InferdDataType t) {
  switch (t) {
    case INFERD_TYPE_BOOL: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
    case INFERD_TYPE_UINT8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    case INFERD_TYPE_UINT16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16;
    case INFERD_TYPE_UINT32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32;
    case INFERD_TYPE_UINT64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64;
    case INFERD_TYPE_INT8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
    case INFERD_TYPE_INT16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16;
    case INFERD_TYPE_INT32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    case INFERD_TYPE_INT64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    case INFERD_TYPE_FP16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
    case INFERD_TYPE_FP32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    case INFERD_TYPE_FP64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE;
    case INFERD_TYPE_BYTES: return ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING;
    case INFERD_TYPE_BF16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16;
    default: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  }
}

bool ParseModelSpec(const char* config_json, const std::string& version_dir, ModelSpec* spec,
                    std::string* error) {
  rapidjson::Document doc;
  doc.Parse(config_json);
  if (doc.HasParseError() || !doc.IsObject()) {
    *error = "onnxruntime: the model config is not valid JSON";
    return false;
  }
  spec->name = Str(doc, "name");
  const std::string file = Str(doc, "default_model_filename");
  spec->model_path = (std::filesystem::path(version_dir) / (file.empty() ? "model.onnx" : file)).string();
  spec->max_batch_size = static_cast<int>(AsInt(doc["max_batch_size"]));
  spec->inputs = ParseTensors(doc, "input");
  spec->outputs = ParseTensors(doc, "output");
  AddSequenceTensors(doc, spec);

  // parameters { key: "intra_op_thread_count" value { string_value: "2" } } ...
  SessionSettings& s = spec->settings;
  if (auto params = doc.FindMember("parameters"); params != doc.MemberEnd() && params->value.IsObject()) {
    for (const auto& p : params->value.GetObject()) {
      const std::string key = p.name.GetString();
      const std::string value = Str(p.value, "string_value");
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      const bool numeric = !value.empty() && *end == '\0';
      auto need_number = [&] {
        *error = "onnxruntime: parameter '" + key + "' must be an integer, got '" + value + "'";
        return false;
      };
      if (key == "intra_op_thread_count") {
        if (!numeric || n < 0) return need_number();
        s.intra_op_threads = static_cast<int>(n);
      } else if (key == "inter_op_thread_count") {
        if (!numeric || n < 0) return need_number();
        s.inter_op_threads = static_cast<int>(n);
      } else if (key == "execution_mode") {
        if (!numeric || (n != 0 && n != 1)) return need_number();
        s.parallel_execution = n == 1;
      } else if (key == "enable_mem_arena") {
        if (!numeric) return need_number();
        s.mem_arena = n != 0;
      } else if (key == "enable_mem_pattern") {
        if (!numeric) return need_number();
        s.mem_pattern = n != 0;
      } else if (key == "share_session_between_instances") {
        // As Triton's backends read a boolean: true/false or 1/0, any case.
        std::string lower = value;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower != "true" && lower != "false" && lower != "1" && lower != "0") {
          *error = "onnxruntime: parameter '" + key + "' must be true or false, got '" + value + "'";
          return false;
        }
        s.share_session = lower == "true" || lower == "1";
      } else if (key == "session.intra_op.allow_spinning" || key == "session.inter_op.allow_spinning" ||
                 key == "session.force_spinning_stop") {
        // ONNX Runtime's own names. Idle pool threads spin by default: with
        // several models sharing few cores (an ensemble's steps), that spinning
        // takes the CPU the busy ones need (see SessionSettings). Only these
        // session entries are taken; others could name files for ONNX Runtime
        // to read or write.
        if (!numeric || (n != 0 && n != 1)) {
          *error = "onnxruntime: parameter '" + key + "' must be 0 or 1, got '" + value + "'";
          return false;
        }
        if (key == "session.force_spinning_stop") {
          s.force_spinning_stop = n == 1;
        } else {
          (key == "session.intra_op.allow_spinning" ? s.intra_op_spinning : s.inter_op_spinning) = static_cast<int>(n);
        }
      }
      // Other keys belong to other components (and Triton ignores unknown ones too).
    }
  }
  if (auto opt = doc.FindMember("optimization"); opt != doc.MemberEnd() && opt->value.IsObject()) {
    if (auto g = opt->value.FindMember("graph"); g != opt->value.MemberEnd() && g->value.IsObject()) {
      const int64_t level = AsInt(g->value["level"]);
      s.graph_level = level == -1 ? ORT_ENABLE_BASIC : level == 1 ? ORT_ENABLE_EXTENDED : ORT_ENABLE_ALL;
    }
    auto acc = opt->value.FindMember("execution_accelerators");
    if (acc != opt->value.MemberEnd() && acc->value.IsObject()) {
      const auto providers = Ort::GetAvailableProviders();
      auto has = [&](const char* p) { return std::find(providers.begin(), providers.end(), p) != providers.end(); };
      for (const char* list : {"gpu_execution_accelerator", "cpu_execution_accelerator"}) {
        auto it = acc->value.FindMember(list);
        if (it == acc->value.MemberEnd() || !it->value.IsArray()) continue;
        for (const auto& a : it->value.GetArray()) {
          const std::string name = Str(a, "name");
          const char* provider = name == "tensorrt" ? "TensorrtExecutionProvider"
                                 : name == "cuda"   ? "CUDAExecutionProvider"
                                 : name == "openvino" ? "OpenVINOExecutionProvider"
                                                      : nullptr;
          if (provider == nullptr) {
            *error = "onnxruntime: unknown execution accelerator '" + name + "' in " + list;
            return false;
          }
          // Listed providers may still lack their library (the npm build lists
          // CUDA and TensorRT without shipping them): try to append it too.
          std::string why;
          if (has(provider)) {
            try {
              SessionSettings trial;
              trial.use_tensorrt = name == "tensorrt";
              trial.use_cuda = name == "cuda";
              if (trial.use_tensorrt || trial.use_cuda) MakeSessionOptions(trial, 0);
            } catch (const Ort::Exception& e) {
              why = std::string(": ") + e.what();
            }
          } else {
            why = ": ONNX Runtime does not list it";
          }
          if (!why.empty()) {
            *error = "onnxruntime: execution accelerator '" + name + "' (" + provider +
                     ") is not available in this build of ONNX Runtime" + why;
            return false;
          }
          if (name == "tensorrt") {
            s.use_tensorrt = true;
            if (auto params = a.FindMember("parameters"); params != a.MemberEnd() && params->value.IsObject()) {
              s.trt_fp16 = Str(params->value, "precision_mode") == "FP16";
              const std::string ws = Str(params->value, "max_workspace_size_bytes");
              if (!ws.empty()) s.trt_workspace_bytes = std::strtoull(ws.c_str(), nullptr, 10);
            }
          }
          if (name == "cuda") s.use_cuda = true;
        }
      }
    }
  }
  return true;
}

Ort::SessionOptions MakeSessionOptions(const SessionSettings& s, int device_id) {
  Ort::SessionOptions o;
  if (s.intra_op_threads > 0) o.SetIntraOpNumThreads(s.intra_op_threads);
  if (s.inter_op_threads > 0) o.SetInterOpNumThreads(s.inter_op_threads);
  o.SetExecutionMode(s.parallel_execution ? ORT_PARALLEL : ORT_SEQUENTIAL);
  o.SetGraphOptimizationLevel(s.graph_level);
  if (!s.mem_arena) o.DisableCpuMemArena();
  if (!s.mem_pattern) o.DisableMemPattern();
  if (s.intra_op_spinning >= 0) o.AddConfigEntry("session.intra_op.allow_spinning", s.intra_op_spinning ? "1" : "0");
  if (s.inter_op_spinning >= 0) o.AddConfigEntry("session.inter_op.allow_spinning", s.inter_op_spinning ? "1" : "0");
  o.AddConfigEntry("session.force_spinning_stop", s.force_spinning_stop ? "1" : "0");
  if (s.use_tensorrt) {
    OrtTensorRTProviderOptions trt{};
    trt.device_id = device_id;
    trt.trt_fp16_enable = s.trt_fp16 ? 1 : 0;
    trt.trt_max_workspace_size = static_cast<size_t>(s.trt_workspace_bytes);
    o.AppendExecutionProvider_TensorRT(trt);
  }
  if (s.use_cuda || s.use_tensorrt) {
    OrtCUDAProviderOptions cuda{};
    cuda.device_id = device_id;
    o.AppendExecutionProvider_CUDA(cuda);
  }
  return o;
}

std::string AutoCompleteConfig(const char* config_json, Ort::Session& session, int default_max_batch_size,
                               std::string* error) {
  rapidjson::Document doc;
  doc.Parse(config_json);
  auto& alloc = doc.GetAllocator();
  const auto model_inputs = ModelTensors(session, TensorKind::kInput);
  const auto model_outputs = ModelTensors(session, TensorKind::kOutput);
  auto count = [&](const char* key) -> size_t {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsArray() ? it->value.Size() : 0;
  };
  const bool has_inputs = count("input") + count("batch_input") > 0;
  const bool has_outputs = count("output") > 0;
  if (has_inputs && has_outputs) return "";  // Triton completes nothing then
  const std::string name = Str(doc, "name");
  int64_t max_batch = AsInt(doc["max_batch_size"]);
  bool changed = false;

  // The model can batch when every tensor's first dimension is symbolic.
  bool can_batch = true;
  for (const auto* list : {&model_inputs, &model_outputs})
    for (const auto& t : *list) can_batch = can_batch && !t.shape.empty() && t.shape[0] == -1;
  if (can_batch) {
    if (max_batch == 0 && default_max_batch_size > 0) {
      // Triton's default-max-batch-size (4 unless --backend-config changes it).
      max_batch = default_max_batch_size;
      if (doc.HasMember("max_batch_size")) doc["max_batch_size"].SetInt(default_max_batch_size);
      else doc.AddMember("max_batch_size", default_max_batch_size, alloc);
      changed = true;
    }
    if (max_batch > 1 && !doc.HasMember("dynamic_batching") && !doc.HasMember("sequence_batching")) {
      doc.AddMember("dynamic_batching", Value(rapidjson::kObjectType), alloc);
      changed = true;
    }
  } else if (max_batch != 0) {
    *error = "autofill failed for model '" + name +
             "': model does not support batching while non-zero max_batch_size is specified";
    return "";
  }
  auto fill = [&](const char* key, const std::vector<ModelTensor>& tensors) -> bool {
    Value list(rapidjson::kArrayType);
    for (const auto& t : tensors) {
      if (t.datatype == INFERD_TYPE_INVALID) {
        *error = "onnxruntime: cannot auto-complete '" + t.name + "': not a tensor of a supported type";
        return false;
      }
      Value v(rapidjson::kObjectType);
      v.AddMember("name", Value(t.name.c_str(), alloc), alloc);
      v.AddMember("data_type", Value(ConfigTypeName(t.datatype), alloc), alloc);
      Value dims(rapidjson::kArrayType);
      for (size_t d = max_batch > 0 ? 1 : 0; d < t.shape.size(); ++d) dims.PushBack(t.shape[d], alloc);
      if (dims.Empty()) {
        // A config cannot say "scalar": dims [1], and with batching a reshape to [].
        dims.PushBack(1, alloc);
        if (max_batch > 0) {
          Value reshape(rapidjson::kObjectType);
          reshape.AddMember("shape", Value(rapidjson::kArrayType), alloc);
          v.AddMember("reshape", reshape, alloc);
        }
      }
      v.AddMember("dims", dims, alloc);
      list.PushBack(v, alloc);
    }
    if (doc.HasMember(key)) doc[key] = list;
    else doc.AddMember(Value(key, alloc), list, alloc);
    changed = true;
    return true;
  };
  if (!has_inputs && !fill("input", model_inputs)) return "";
  if (!has_outputs && !fill("output", model_outputs)) return "";
  if (!changed) return "";
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  doc.Accept(w);
  return sb.GetString();
}

bool ValidateAgainstModel(const ModelSpec& spec, Ort::Session& session, std::string* error) {
  const auto inputs = ModelTensors(session, TensorKind::kInput);
  const auto initializers = ModelTensors(session, TensorKind::kOverridableInitializer);
  const auto outputs = ModelTensors(session, TensorKind::kOutput);
  // Optional config inputs are the model's overridable initializers; the
  // others must be its inputs, all of them.
  const size_t expected = static_cast<size_t>(std::count_if(
      spec.inputs.begin(), spec.inputs.end(), [](const TensorSpec& t) { return !t.optional; }));
  if (inputs.size() != expected) {
    *error = "unable to load model '" + spec.name + "', configuration expects " + std::to_string(expected) +
             " inputs, model provides " + std::to_string(inputs.size());
    return false;
  }
  auto find = [](const std::vector<ModelTensor>& list, const std::string& name) {
    auto it = std::find_if(list.begin(), list.end(), [&](const ModelTensor& t) { return t.name == name; });
    return it == list.end() ? nullptr : &*it;
  };
  for (const auto& c : spec.inputs) {
    if (c.optional && spec.max_batch_size != 0) {
      *error = "unable to load model '" + spec.name + "', optional input '" + c.name +
               "' is not supported for models that support batching";
      return false;
    }
    const ModelTensor* m = find(inputs, c.name);
    if (m == nullptr) m = find(initializers, c.name);
    if (m == nullptr) {
      *error = UnexpectedTensor("input", c.name, inputs, initializers);
      return false;
    }
    if (!CheckTensor(spec, c, *m, "input", error)) return false;
  }
  for (const auto& c : spec.outputs) {
    const ModelTensor* m = find(outputs, c.name);
    if (m == nullptr) {
      *error = UnexpectedTensor("output", c.name, outputs);
      return false;
    }
    if (!CheckTensor(spec, c, *m, "output", error)) return false;
  }
  return true;
}

}  // namespace inferd::ort
