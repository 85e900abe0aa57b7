#include "frontend/grpc/grpc_codec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "common/aligned.h"
#include "common/logging.h"

namespace inferd::grpc_frontend {
namespace {

std::string ParameterText(const inference::InferParameter& p) {
  switch (p.parameter_choice_case()) {
    case inference::InferParameter::kBoolParam: return p.bool_param() ? "true" : "false";
    case inference::InferParameter::kInt64Param: return std::to_string(p.int64_param());
    case inference::InferParameter::kUint64Param: return std::to_string(p.uint64_param());
    case inference::InferParameter::kDoubleParam: return std::to_string(p.double_param());
    case inference::InferParameter::kStringParam: return p.string_param();
    default: return "";
  }
}

// The request's own parameters (IsProtocolParameter's aside) as a JSON
// object with their protobuf types: bools, numbers, strings.
std::string CustomParametersJson(const google::protobuf::Map<std::string, inference::InferParameter>& params) {
  rapidjson::StringBuffer text;
  rapidjson::Writer<rapidjson::StringBuffer> w(text);
  w.StartObject();
  for (const auto& [key, p] : params) {
    if (IsProtocolParameter(key)) continue;
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    switch (p.parameter_choice_case()) {
      case inference::InferParameter::kBoolParam: w.Bool(p.bool_param()); break;
      case inference::InferParameter::kInt64Param: w.Int64(p.int64_param()); break;
      case inference::InferParameter::kUint64Param: w.Uint64(p.uint64_param()); break;
      // JSON has no NaN or infinity: those go as null.
      case inference::InferParameter::kDoubleParam:
        if (std::isfinite(p.double_param())) w.Double(p.double_param()); else w.Null();
        break;
      case inference::InferParameter::kStringParam:
        w.String(p.string_param().data(), static_cast<rapidjson::SizeType>(p.string_param().size()));
        break;
      default: w.Null(); break;
    }
  }
  w.EndObject();
  return std::string(text.GetString(), text.GetSize());
}

template <typename T>
void Append(AlignedBytes* buf, T v) {
  buf->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Converts the repeated field that matches `type` into tensor bytes; the
// other fields must be empty. Narrowing checks the range, as JSON does.
template <typename Wire, typename Stored>
Status AppendNarrowed(const google::protobuf::RepeatedField<Wire>& values, const std::string& what,
                      AlignedBytes* buf) {
  for (int i = 0; i < values.size(); ++i) {
    const Wire v = values[i];
    if (v < static_cast<Wire>(std::numeric_limits<Stored>::lowest()) ||
        v > static_cast<Wire>(std::numeric_limits<Stored>::max())) {
      return Status::InvalidArg(what + " element " + std::to_string(i) + " (" + std::to_string(v) +
                                ") does not fit its datatype");
    }
    Append(buf, static_cast<Stored>(v));
  }
  return Status::Ok();
}

int TypedCount(const inference::InferTensorContents& c) {
  return c.bool_contents_size() + c.int_contents_size() + c.int64_contents_size() +
         c.uint_contents_size() + c.uint64_contents_size() + c.fp32_contents_size() +
         c.fp64_contents_size() + c.bytes_contents_size();
}

Status DecodeContents(const InputTensor& t, const inference::InferTensorContents& c,
                      const std::string& what, AlignedBytes* buf) {
  // Exactly one field may be used, the one of the tensor's datatype.
  int used = 0;
  switch (t.datatype) {
    case INFERD_TYPE_BOOL:
      used = c.bool_contents_size();
      for (bool b : c.bool_contents()) buf->push_back(b ? 1 : 0);
      break;
    case INFERD_TYPE_INT8:
      used = c.int_contents_size();
      INFERD_RETURN_IF_ERROR((AppendNarrowed<int32_t, int8_t>(c.int_contents(), what, buf)));
      break;
    case INFERD_TYPE_INT16:
      used = c.int_contents_size();
      INFERD_RETURN_IF_ERROR((AppendNarrowed<int32_t, int16_t>(c.int_contents(), what, buf)));
      break;
    case INFERD_TYPE_INT32:
      used = c.int_contents_size();
      for (int32_t v : c.int_contents()) Append(buf, v);
      break;
    case INFERD_TYPE_INT64:
      used = c.int64_contents_size();
      for (int64_t v : c.int64_contents()) Append(buf, v);
      break;
    case INFERD_TYPE_UINT8:
      used = c.uint_contents_size();
      INFERD_RETURN_IF_ERROR((AppendNarrowed<uint32_t, uint8_t>(c.uint_contents(), what, buf)));
      break;
    case INFERD_TYPE_UINT16:
      used = c.uint_contents_size();
      INFERD_RETURN_IF_ERROR((AppendNarrowed<uint32_t, uint16_t>(c.uint_contents(), what, buf)));
      break;
    case INFERD_TYPE_UINT32:
      used = c.uint_contents_size();
      for (uint32_t v : c.uint_contents()) Append(buf, v);
      break;
    case INFERD_TYPE_UINT64:
      used = c.uint64_contents_size();
      for (uint64_t v : c.uint64_contents()) Append(buf, v);
      break;
    case INFERD_TYPE_FP32:
      used = c.fp32_contents_size();
      for (float v : c.fp32_contents()) Append(buf, v);
      break;
    case INFERD_TYPE_FP64:
      used = c.fp64_contents_size();
      for (double v : c.fp64_contents()) Append(buf, v);
      break;
    case INFERD_TYPE_BYTES:
      used = c.bytes_contents_size();
      for (const auto& s : c.bytes_contents()) {
        Append(buf, static_cast<uint32_t>(s.size()));
        buf->append(s.data(), s.size());
      }
      break;
    default:
      return Status::InvalidArg(what + ": datatype " + DataTypeWireName(t.datatype) +
                                " has no typed contents field; send it in raw_input_contents");
  }
  if (used != TypedCount(c)) {
    return Status::InvalidArg(what + ": its contents use a field that does not match datatype " +
                              DataTypeWireName(t.datatype));
  }
  const int64_t elements = ElementCount(t.shape);
  if (used != elements) {
    return Status::InvalidArg(what + " has shape " + ShapeToString(t.shape) + " (" +
                              std::to_string(elements) + " elements) but its contents hold " +
                              std::to_string(used) + " elements");
  }
  return Status::Ok();
}

// An integer parameter as Triton's clients send it (int64, or uint64).
Status UnsignedParam(const inference::InferParameter& p, const std::string& what, uint64_t* out) {
  if (p.has_int64_param() && p.int64_param() >= 0) {
    *out = static_cast<uint64_t>(p.int64_param());
  } else if (p.has_uint64_param()) {
    *out = p.uint64_param();
  } else {
    return Status::InvalidArg(what + " must be a non-negative integer");
  }
  return Status::Ok();
}

// The shared memory parameters of an input or output, when it names a
// region ('shared_memory_region'; offset and byte size default to 0).
Status SharedMemoryParams(const google::protobuf::Map<std::string, inference::InferParameter>& params,
                          const std::string& where, std::optional<SharedMemoryRef>* out) {
  auto region = params.find("shared_memory_region");
  if (region == params.end()) return Status::Ok();
  if (!region->second.has_string_param()) {
    return Status::InvalidArg(where + " parameter 'shared_memory_region' must be a string");
  }
  SharedMemoryRef ref;
  ref.region = region->second.string_param();
  if (auto it = params.find("shared_memory_offset"); it != params.end()) {
    INFERD_RETURN_IF_ERROR(
        UnsignedParam(it->second, where + " parameter 'shared_memory_offset'", &ref.offset));
  }
  if (auto it = params.find("shared_memory_byte_size"); it != params.end()) {
    INFERD_RETURN_IF_ERROR(
        UnsignedParam(it->second, where + " parameter 'shared_memory_byte_size'", &ref.byte_size));
  }
  *out = std::move(ref);
  return Status::Ok();
}

void Fill(inference::StatisticDuration* out, const StatDuration& d) {
  out->set_count(d.count);
  out->set_ns(d.ns);
}

}  // namespace

std::string Traceparent(const grpc::ServerContextBase& ctx) {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("traceparent");
  if (it == metadata.end() || it->second.size() > 256) return "";
  return std::string(it->second.data(), it->second.size());
}

grpc::Status ToGrpcStatus(const Status& status) {
  using grpc::StatusCode;
  StatusCode code;
  switch (status.code()) {
    case Status::Code::kOk: return grpc::Status::OK;
    case Status::Code::kInvalidArg: code = StatusCode::INVALID_ARGUMENT; break;
    case Status::Code::kNotFound: code = StatusCode::NOT_FOUND; break;
    case Status::Code::kUnavailable: code = StatusCode::UNAVAILABLE; break;
    case Status::Code::kUnsupported: code = StatusCode::UNIMPLEMENTED; break;
    case Status::Code::kAlreadyExists: code = StatusCode::ALREADY_EXISTS; break;
    case Status::Code::kResourceExhausted: code = StatusCode::RESOURCE_EXHAUSTED; break;
    case Status::Code::kPermissionDenied: code = StatusCode::PERMISSION_DENIED; break;
    case Status::Code::kCancelled: code = StatusCode::CANCELLED; break;
    default: code = StatusCode::INTERNAL; break;
  }
  // Every rejected call passes here: visible with --log-verbose=1, as in Triton.
  LOG_VERBOSE("gRPC request failed (code {}): {}", static_cast<int>(code), status.message());
  return grpc::Status(code, status.message());
}

Status ParseModelVersion(const std::string& model, const std::string& text, int64_t* version) {
  if (text.empty()) {
    *version = -1;
    return Status::Ok();
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *version);
  if (ec != std::errc() || ptr != text.data() + text.size() || *version < 0) {
    // Triton's words first, then which model and what a version must be.
    return Status::InvalidArg("failed to get model version from specified version string '" + text +
                              "' (model '" + model + "': a version is a non-negative integer)");
  }
  return Status::Ok();
}

Status ParseModelInferRequest(const inference::ModelInferRequest& m, InferenceRequest* request) {
  request->id = m.id();
  request->model_name = m.model_name();
  INFERD_RETURN_IF_ERROR(ParseModelVersion(m.model_name(), m.model_version(), &request->model_version));
  // Inputs in shared memory have no contents of either kind: raw contents,
  // when sent, are one per other input, in order (Triton's clients).
  int in_shared_memory = 0;
  for (const auto& in : m.inputs()) in_shared_memory += in.parameters().count("shared_memory_region") > 0;
  const int carried = m.inputs_size() - in_shared_memory;
  const bool raw = m.raw_input_contents_size() > 0;
  // Mixing both kinds is named before any count is compared (Triton's
  // words: its examples look for them).
  for (const auto& in : m.inputs()) {
    if (raw && in.has_contents() && TypedCount(in.contents()) > 0 &&
        in.parameters().count("shared_memory_region") == 0) {
      return Status::InvalidArg("contents field must not be specified when using raw_input_contents for '" +
                                in.name() + "' for model '" + m.model_name() + "'");
    }
  }
  if (raw && m.raw_input_contents_size() != carried) {
    return Status::InvalidArg("the request has " + std::to_string(carried) +
                              " inputs not in shared memory but " +
                              std::to_string(m.raw_input_contents_size()) +
                              " raw_input_contents; send one per such input, or none");
  }
  int next_raw = 0;
  // Typed contents are converted into one aligned buffer, each input at an
  // aligned offset; spans become pointers once it stops growing.
  std::shared_ptr<AlignedBytes> decoded;
  struct Span {
    size_t input, offset, size;
  };
  std::vector<Span> spans;
  request->inputs.reserve(m.inputs_size());
  for (int i = 0; i < m.inputs_size(); ++i) {
    const auto& in = m.inputs(i);
    InputTensor& t = request->inputs.emplace_back();
    t.name = in.name();
    const std::string what = "input '" + t.name + "'";
    t.datatype = DataTypeFromWire(in.datatype().c_str());
    if (t.datatype == INFERD_TYPE_INVALID) {
      return Status::InvalidArg(what + " has unknown datatype '" + in.datatype() + "'");
    }
    t.shape.assign(in.shape().begin(), in.shape().end());
    for (int64_t d : t.shape) {
      if (d < 0) return Status::InvalidArg(what + " shape must hold non-negative integers");
    }
    if (ElementCount(t.shape) < 0) {
      return Status::InvalidArg(what + " has shape " + ShapeToString(t.shape) +
                                ", whose element count does not fit in 64 bits");
    }
    INFERD_RETURN_IF_ERROR(SharedMemoryParams(in.parameters(), what, &t.shared_memory));
    if (t.shared_memory) {
      if (in.has_contents() && TypedCount(in.contents()) > 0) {
        return Status::InvalidArg(what + " is in shared memory but also has contents");
      }
      continue;  // the core maps it in
    }
    if (raw) {  // (none of these has typed contents: checked above)
      const std::string& bytes = m.raw_input_contents(next_raw++);
      t.AddBuffer(bytes.data(), bytes.size());
      continue;
    }
    if (!decoded) decoded = std::make_shared<AlignedBytes>(MakeAlignedBytes());
    decoded->resize(AlignUp(decoded->size()));
    const size_t start = decoded->size();
    INFERD_RETURN_IF_ERROR(DecodeContents(t, in.contents(), what, decoded.get()));
    spans.push_back({static_cast<size_t>(i), start, decoded->size() - start});
  }
  if (decoded) {
    for (const Span& span : spans) {
      request->inputs[span.input].AddBuffer(decoded->data() + span.offset, span.size);
    }
    request->keep_alive.push_back(std::move(decoded));
  }
  for (const auto& o : m.outputs()) {
    RequestedOutput& out = request->outputs.emplace_back();
    out.name = o.name();
    const std::string where = "output '" + out.name + "'";
    INFERD_RETURN_IF_ERROR(SharedMemoryParams(o.parameters(), where, &out.shared_memory));
    if (out.shared_memory && o.parameters().count("classification") > 0) {
      return Status::InvalidArg(where + " can't set both 'shared_memory_region' and 'classification'");
    }
    auto cls = o.parameters().find("classification");
    if (cls != o.parameters().end()) {
      const auto& p = cls->second;
      const int64_t k = p.has_int64_param() ? p.int64_param()
                        : p.has_uint64_param() ? static_cast<int64_t>(p.uint64_param())
                                               : 0;
      if (k <= 0 || k > std::numeric_limits<uint32_t>::max()) {
        return Status::InvalidArg("output '" + out.name +
                                  "' parameter 'classification' must be a positive integer");
      }
      out.classification_count = static_cast<uint32_t>(k);
    }
  }
  bool custom = false;
  for (const auto& [key, value] : m.parameters()) {
    request->parameters[key] = ParameterText(value);
    custom = custom || !IsProtocolParameter(key);
  }
  if (custom) request->custom_parameters_json = CustomParametersJson(m.parameters());
  return Status::Ok();
}

Status ParseLoadParameters(
    const google::protobuf::Map<std::string, inference::ModelRepositoryParameter>& params,
    LoadOverrides* overrides) {
  for (const auto& [key, p] : params) {
    if (key == "config") {
      if (!p.has_string_param()) return Status::InvalidArg("parameter 'config' must be a string (JSON)");
      overrides->config_json = p.string_param();
    } else if (key.rfind("file:", 0) == 0) {
      if (!p.has_bytes_param()) return Status::InvalidArg("parameter '" + key + "' must be bytes");
      overrides->files[key.substr(5)] = p.bytes_param();
    } else if (key == "unload_dependents") {
      if (!p.has_bool_param()) return Status::InvalidArg("parameter 'unload_dependents' must be a bool");
      overrides->unload_dependents = p.bool_param();
    } else {
      return Status::InvalidArg("unknown load/unload parameter '" + key + "'");
    }
  }
  return Status::Ok();
}

void EncodeModelInferResponse(const InferenceResponse& response, inference::ModelInferResponse* out) {
  const InferenceRequest& req = *response.request;
  out->set_model_name(req.model_name);
  out->set_model_version(std::to_string(req.served_version));
  out->set_id(req.id);
  for (const auto& p : response.parameters) {
    auto& value = (*out->mutable_parameters())[p.name];
    switch (p.type) {
      case ResponseParameter::Type::kString: value.set_string_param(p.text); break;
      case ResponseParameter::Type::kInt: value.set_int64_param(p.integer); break;
      case ResponseParameter::Type::kBool: value.set_bool_param(p.boolean); break;
      case ResponseParameter::Type::kDouble: value.set_double_param(p.number); break;
    }
  }
  for (const auto& o : response.outputs) {
    auto* t = out->add_outputs();
    t->set_name(o.name);
    t->set_datatype(DataTypeWireName(o.datatype));
    for (int64_t d : o.shape) t->add_shape(d);
    // An output written into shared memory keeps its place with no bytes,
    // as Triton answers it.
    std::string* raw = out->add_raw_output_contents();
    if (!o.in_shared_memory) raw->assign(o.begin(), o.byte_size);
  }
}

void FillModelMetadata(const Model& model, const std::vector<int64_t>& versions,
                       inference::ModelMetadataResponse* out) {
  const auto& c = model.config();
  out->set_name(c.name());
  for (int64_t v : versions) out->add_versions(std::to_string(v));
  out->set_platform(model.platform());
  const bool batched = c.max_batch_size() > 0;
  auto add = [batched](auto* list, const auto& tensors) {
    for (const auto& t : tensors) {
      auto* m = list->Add();
      m->set_name(t.name());
      m->set_datatype(DataTypeWireName(DataTypeFromConfig(t.data_type())));
      if (batched) m->add_shape(-1);
      for (int64_t d : t.dims()) m->add_shape(d);
    }
  };
  add(out->mutable_inputs(), c.input());
  add(out->mutable_outputs(), c.output());
}

void FillModelStatistics(const std::vector<std::shared_ptr<Model>>& models,
                         inference::ModelStatisticsResponse* out) {
  for (const auto& m : models) {
    const ModelStatsSnapshot s = m->stats().Snapshot();
    auto* ms = out->add_model_stats();
    ms->set_name(m->name());
    ms->set_version(std::to_string(m->version()));
    ms->set_last_inference(s.last_inference_ms);
    ms->set_inference_count(s.inference_count);
    ms->set_execution_count(s.execution_count);
    auto* is = ms->mutable_inference_stats();
    Fill(is->mutable_success(), s.success);
    Fill(is->mutable_fail(), s.fail);
    Fill(is->mutable_queue(), s.queue);
    Fill(is->mutable_compute_input(), s.compute_input);
    Fill(is->mutable_compute_infer(), s.compute_infer);
    Fill(is->mutable_compute_output(), s.compute_output);
    Fill(is->mutable_cache_hit(), s.cache_hit);
    Fill(is->mutable_cache_miss(), s.cache_miss);
    for (const auto& [size, b] : s.batch_stats) {
      auto* bs = ms->add_batch_stats();
      bs->set_batch_size(size);
      Fill(bs->mutable_compute_input(), b.compute_input);
      Fill(bs->mutable_compute_infer(), b.compute_infer);
      Fill(bs->mutable_compute_output(), b.compute_output);
    }
  }
}

Status ApplyLogSettingsRequest(const inference::LogSettingsRequest& request, LogSettings* settings) {
  using Value = inference::LogSettingsRequest::SettingValue;
  LogSettings next = *settings;
  for (const auto& [key, v] : request.settings()) {
    LogSettingValue value;
    switch (v.parameter_choice_case()) {
      case Value::PARAMETER_CHOICE_NOT_SET: continue;  // leaves the setting as it is
      case Value::kBoolParam:
        value.type = LogSettingValue::Type::kBool;
        value.boolean = v.bool_param();
        break;
      case Value::kUint32Param:
        value.type = LogSettingValue::Type::kUnsigned;
        value.number = v.uint32_param();
        break;
      case Value::kStringParam:
        value.type = LogSettingValue::Type::kString;
        value.text = v.string_param();
        break;
      default: break;
    }
    INFERD_RETURN_IF_ERROR(ApplyLogSetting(key, value, &next));
  }
  *settings = next;  // all or nothing
  return Status::Ok();
}

void FillLogSettingsResponse(const LogSettings& s, inference::LogSettingsResponse* out) {
  auto& settings = *out->mutable_settings();
  settings["log_file"].set_string_param(s.file);
  settings["log_info"].set_bool_param(s.info);
  settings["log_warning"].set_bool_param(s.warning);
  settings["log_error"].set_bool_param(s.error);
  settings["log_verbose_level"].set_uint32_param(static_cast<uint32_t>(s.verbose));
  settings["log_format"].set_string_param(LogFormatName(s.format));
}

bool WantsFinalFlags(const inference::ModelInferRequest& request) {
  auto flag = request.parameters().find("triton_enable_empty_final_response");
  return flag != request.parameters().end() && flag->second.bool_param();
}

bool EncodeStreamInferResponse(const InferenceResponse& response, bool flag_final,
                               inference::ModelStreamInferResponse* out) {
  if (!response.status.ok()) {
    out->set_error_message(response.status.message());
    out->mutable_infer_response()->set_id(response.request->id);
    return true;
  }
  if (response.final && response.outputs.empty() && !flag_final) return false;
  EncodeModelInferResponse(response, out->mutable_infer_response());
  if (flag_final) {
    (*out->mutable_infer_response()->mutable_parameters())["triton_final_response"].set_bool_param(response.final);
  }
  return true;
}

}  // namespace inferd::grpc_frontend
