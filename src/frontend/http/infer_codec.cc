#include "frontend/http/infer_codec.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "common/aligned.h"
#include "common/half.h"
#include "common/json_parse.h"
#include "common/json_scratch.h"
#include "common/logging.h"

namespace inferd::http {
namespace {

using rapidjson::Value;

// ---- JSON tensor data -> typed bytes ----

// The elements of a (nested) JSON array, in row-major order. The depth is
// bounded by ParseJson's limit, so the recursion is too.
size_t CountLeaves(const Value& v) {
  if (!v.IsArray()) return 1;
  size_t n = 0;
  for (const auto& e : v.GetArray()) n += CountLeaves(e);
  return n;
}

template <typename T>
bool ToInteger(const Value& v, T* out) {
  if (v.IsInt64()) {
    int64_t x = v.GetInt64();
    if constexpr (std::is_signed_v<T>) {
      if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) return false;
    } else {
      if (x < 0 || static_cast<uint64_t>(x) > std::numeric_limits<T>::max()) return false;
    }
    *out = static_cast<T>(x);
    return true;
  }
  if (v.IsUint64()) {
    uint64_t x = v.GetUint64();
    if (x > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
    *out = static_cast<T>(x);
    return true;
  }
  return false;
}

template <typename T>
void Put(AlignedBytes* buf, T v) {
  buf->append(reinterpret_cast<const char*>(&v), sizeof v);
}

Status DecodeElement(const Value& v, DataType type, AlignedBytes* buf) {
  switch (type) {
    case INFERD_TYPE_BOOL:
      if (!v.IsBool()) return Status::InvalidArg("expected true or false");
      buf->push_back(v.GetBool() ? 1 : 0);
      return Status::Ok();
#define INFERD_INT_CASE(ENUM, T)                                                  \
  case ENUM: {                                                                    \
    T x;                                                                          \
    if (!ToInteger(v, &x)) return Status::InvalidArg("expected an integer that fits " #T); \
    Put(buf, x);                                                                  \
    return Status::Ok();                                                          \
  }
      INFERD_INT_CASE(INFERD_TYPE_UINT8, uint8_t)
      INFERD_INT_CASE(INFERD_TYPE_UINT16, uint16_t)
      INFERD_INT_CASE(INFERD_TYPE_UINT32, uint32_t)
      INFERD_INT_CASE(INFERD_TYPE_UINT64, uint64_t)
      INFERD_INT_CASE(INFERD_TYPE_INT8, int8_t)
      INFERD_INT_CASE(INFERD_TYPE_INT16, int16_t)
      INFERD_INT_CASE(INFERD_TYPE_INT32, int32_t)
      INFERD_INT_CASE(INFERD_TYPE_INT64, int64_t)
#undef INFERD_INT_CASE
    case INFERD_TYPE_FP16:
    case INFERD_TYPE_BF16:
    case INFERD_TYPE_FP32:
    case INFERD_TYPE_FP64: {
      if (!v.IsNumber()) return Status::InvalidArg("expected a number");
      const double d = v.GetDouble();
      if (type == INFERD_TYPE_FP64) Put(buf, d);
      else if (type == INFERD_TYPE_FP32) Put(buf, static_cast<float>(d));
      else if (type == INFERD_TYPE_FP16) Put(buf, FloatToHalf(static_cast<float>(d)));
      else Put(buf, FloatToBf16(static_cast<float>(d)));
      return Status::Ok();
    }
    case INFERD_TYPE_BYTES: {
      if (!v.IsString()) return Status::InvalidArg("expected a string");
      Put(buf, static_cast<uint32_t>(v.GetStringLength()));
      buf->append(v.GetString(), v.GetStringLength());
      return Status::Ok();
    }
    default:
      return Status::InvalidArg("unsupported datatype");
  }
}

// Decodes the leaves of `v` in order; `index` ends at the failing element.
Status DecodeLeaves(const Value& v, DataType type, AlignedBytes* buf, size_t* index) {
  if (!v.IsArray()) {
    INFERD_RETURN_IF_ERROR(DecodeElement(v, type, buf));
    ++*index;
    return Status::Ok();
  }
  for (const auto& e : v.GetArray()) INFERD_RETURN_IF_ERROR(DecodeLeaves(e, type, buf, index));
  return Status::Ok();
}

std::string ParamToString(const Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsNumber()) return std::to_string(v.GetDouble());
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

// A parameter that must be a bool; absent = false.
Status BoolParam(const Value& params, const char* key, const std::string& where, bool* out) {
  *out = false;
  if (!params.IsObject()) return Status::Ok();
  auto it = params.FindMember(key);
  if (it == params.MemberEnd()) return Status::Ok();
  if (!it->value.IsBool()) {
    return Status::InvalidArg(where + " parameter '" + key + "' must be a boolean");
  }
  *out = it->value.GetBool();
  return Status::Ok();
}

// The shared memory parameters of an input or output, when it names a
// region ('shared_memory_region'; offset and byte size default to 0).
Status SharedMemoryParams(const Value& params, const std::string& where,
                          std::optional<SharedMemoryRef>* out) {
  if (!params.IsObject()) return Status::Ok();
  auto region = params.FindMember("shared_memory_region");
  if (region == params.MemberEnd()) return Status::Ok();
  if (!region->value.IsString()) {
    return Status::InvalidArg(where + " parameter 'shared_memory_region' must be a string");
  }
  SharedMemoryRef ref;
  ref.region.assign(region->value.GetString(), region->value.GetStringLength());
  for (auto [key, field] : {std::pair{"shared_memory_offset", &ref.offset},
                            std::pair{"shared_memory_byte_size", &ref.byte_size}}) {
    auto it = params.FindMember(key);
    if (it == params.MemberEnd()) continue;
    if (!it->value.IsUint64()) {
      return Status::InvalidArg(where + " parameter '" + key + "' must be a non-negative integer");
    }
    *field = it->value.GetUint64();
  }
  *out = std::move(ref);
  return Status::Ok();
}

// Where a JSON-decoded input's bytes lie in the decode buffer; they become
// pointers once the buffer stops growing.
struct DecodedSpan {
  size_t input, offset, size;
};

Status ParseInput(const Value& in, size_t index, const std::string& body, size_t* binary_offset,
                  InferenceRequest* request, std::shared_ptr<AlignedBytes>* decode_buffer,
                  std::vector<DecodedSpan>* spans) {
  const std::string where = "input #" + std::to_string(index);
  if (!in.IsObject()) return Status::InvalidArg(where + " must be a JSON object");
  auto name = in.FindMember("name");
  if (name == in.MemberEnd() || !name->value.IsString()) {
    return Status::InvalidArg(where + " must have a string 'name'");
  }
  InputTensor& t = request->inputs.emplace_back();
  t.name = name->value.GetString();
  const std::string what = "input '" + t.name + "'";
  auto dt = in.FindMember("datatype");
  if (dt == in.MemberEnd() || !dt->value.IsString()) {
    return Status::InvalidArg(what + " must have a string 'datatype'");
  }
  t.datatype = DataTypeFromWire(dt->value.GetString());
  if (t.datatype == INFERD_TYPE_INVALID) {
    return Status::InvalidArg(what + " has unknown datatype '" + dt->value.GetString() + "'");
  }
  auto shape = in.FindMember("shape");
  if (shape == in.MemberEnd() || !shape->value.IsArray()) {
    return Status::InvalidArg(what + " must have a 'shape' array");
  }
  for (const auto& d : shape->value.GetArray()) {
    if (!d.IsInt64() || d.GetInt64() < 0) {
      return Status::InvalidArg(what + " shape must hold non-negative integers");
    }
    t.shape.push_back(d.GetInt64());
  }
  const int64_t elements = ElementCount(t.shape);
  if (elements < 0) {
    return Status::InvalidArg(what + " has shape " + ShapeToString(t.shape) +
                              ", whose element count does not fit in 64 bits");
  }

  auto params = in.FindMember("parameters");
  if (params != in.MemberEnd()) {
    if (!params->value.IsObject()) return Status::InvalidArg(what + " 'parameters' must be an object");
    // As Triton: the data comes from exactly one of 'data', binary data, or
    // a shared memory region.
    const bool has_data = in.HasMember("data");
    const bool has_binary = params->value.HasMember("binary_data_size");
    INFERD_RETURN_IF_ERROR(SharedMemoryParams(params->value, what, &t.shared_memory));
    if (has_data + has_binary + t.shared_memory.has_value() > 1) {
      return Status::InvalidArg(what + " must set only one of 'data', 'binary_data_size' or "
                                "'shared_memory_region', but it sets" +
                                std::string(has_data ? " 'data'" : "") +
                                (has_binary ? " 'binary_data_size'" : "") +
                                (t.shared_memory ? " 'shared_memory_region'" : ""));
    }
    if (t.shared_memory) return Status::Ok();  // the core maps it in
    auto size = params->value.FindMember("binary_data_size");
    if (size != params->value.MemberEnd()) {
      if (!size->value.IsUint64()) {
        return Status::InvalidArg(what + " 'binary_data_size' must be a non-negative integer");
      }
      const uint64_t n = size->value.GetUint64();
      if (*binary_offset > body.size() || n > body.size() - *binary_offset) {
        return Status::InvalidArg(what + " declares binary_data_size " + std::to_string(n) +
                                  " but only " +
                                  std::to_string(body.size() - std::min(*binary_offset, body.size())) +
                                  " bytes of binary data remain in the request body");
      }
      t.AddBuffer(body.data() + *binary_offset, n);
      *binary_offset += n;
      return Status::Ok();
    }
  }
  auto data = in.FindMember("data");
  if (data == in.MemberEnd()) {
    return Status::InvalidArg(what + " has none of 'data', 'binary_data_size' or 'shared_memory_region'");
  }
  const size_t count = CountLeaves(data->value);
  if (static_cast<uint64_t>(elements) != count) {
    // Triton's exact words: its QA tests (L0_http) match the whole error
    // body. The particulars go to the verbose log instead.
    LOG_VERBOSE("{} has shape {} ({} elements) but its 'data' holds {} elements", what,
                ShapeToString(t.shape), elements, count);
    return Status::InvalidArg("Unable to parse 'data': Shape does not match true shape of 'data' field");
  }
  // The buffer is made for the first JSON input: binary requests need none.
  if (!*decode_buffer) *decode_buffer = std::make_shared<AlignedBytes>(MakeAlignedBytes());
  AlignedBytes* decoded = decode_buffer->get();
  // Each input starts on an aligned offset (the buffer itself is aligned):
  // backends are promised aligned input data.
  decoded->resize(AlignUp(decoded->size()));
  const size_t start = decoded->size();
  if (const int64_t bytes = FixedByteSize(t.datatype, elements); bytes > 0) {
    decoded->reserve(start + static_cast<size_t>(bytes));
  }
  size_t element = 0;
  Status st = DecodeLeaves(data->value, t.datatype, decoded, &element);
  if (!st.ok()) {
    return Status::InvalidArg(what + " (" + DataTypeWireName(t.datatype) + ") element " +
                              std::to_string(element) + ": " + st.message());
  }
  spans->push_back({request->inputs.size() - 1, start, decoded->size() - start});
  return Status::Ok();
}

Status ParseOutputs(const Value& outputs, InferenceRequest* request) {
  if (!outputs.IsArray()) return Status::InvalidArg("'outputs' must be an array");
  for (const auto& o : outputs.GetArray()) {
    if (!o.IsObject() || !o.HasMember("name") || !o["name"].IsString()) {
      return Status::InvalidArg("each requested output must have a string 'name'");
    }
    RequestedOutput& out = request->outputs.emplace_back();
    out.name = o["name"].GetString();
    auto params = o.FindMember("parameters");
    if (params == o.MemberEnd()) continue;
    const std::string where = "output '" + out.name + "'";
    INFERD_RETURN_IF_ERROR(BoolParam(params->value, "binary_data", where, &out.binary));
    INFERD_RETURN_IF_ERROR(SharedMemoryParams(params->value, where, &out.shared_memory));
    if (out.shared_memory && out.binary) {
      return Status::InvalidArg(where + " can't set both 'shared_memory_region' and 'binary_data'");
    }
    if (out.shared_memory && params->value.HasMember("classification")) {
      return Status::InvalidArg(where + " can't set both 'shared_memory_region' and 'classification'");
    }
    if (params->value.IsObject()) {
      auto cls = params->value.FindMember("classification");
      if (cls != params->value.MemberEnd()) {
        if (!cls->value.IsUint() || cls->value.GetUint() == 0) {
          return Status::InvalidArg(where + " parameter 'classification' must be a positive integer");
        }
        out.classification_count = cls->value.GetUint();
      }
    }
  }
  return Status::Ok();
}

// ---- typed bytes -> JSON ----

template <typename Writer>
void WriteData(Writer& w, const OutputTensor& t) {
  const char* p = t.begin();
  const size_t n = t.datatype == INFERD_TYPE_BYTES ? 0 : t.byte_size / std::max<size_t>(1, DataTypeByteSize(t.datatype));
  auto load = [&](auto tag, size_t i) {
    decltype(tag) v;
    std::memcpy(&v, p + i * sizeof v, sizeof v);
    return v;
  };
  w.StartArray();
  switch (t.datatype) {
    case INFERD_TYPE_BOOL: for (size_t i = 0; i < n; ++i) w.Bool(p[i] != 0); break;
    case INFERD_TYPE_UINT8: for (size_t i = 0; i < n; ++i) w.Uint(load(uint8_t{}, i)); break;
    case INFERD_TYPE_UINT16: for (size_t i = 0; i < n; ++i) w.Uint(load(uint16_t{}, i)); break;
    case INFERD_TYPE_UINT32: for (size_t i = 0; i < n; ++i) w.Uint(load(uint32_t{}, i)); break;
    case INFERD_TYPE_UINT64: for (size_t i = 0; i < n; ++i) w.Uint64(load(uint64_t{}, i)); break;
    case INFERD_TYPE_INT8: for (size_t i = 0; i < n; ++i) w.Int(load(int8_t{}, i)); break;
    case INFERD_TYPE_INT16: for (size_t i = 0; i < n; ++i) w.Int(load(int16_t{}, i)); break;
    case INFERD_TYPE_INT32: for (size_t i = 0; i < n; ++i) w.Int(load(int32_t{}, i)); break;
    case INFERD_TYPE_INT64: for (size_t i = 0; i < n; ++i) w.Int64(load(int64_t{}, i)); break;
    case INFERD_TYPE_FP16: for (size_t i = 0; i < n; ++i) w.Double(HalfToFloat(load(uint16_t{}, i))); break;
    case INFERD_TYPE_BF16: for (size_t i = 0; i < n; ++i) w.Double(Bf16ToFloat(load(uint16_t{}, i))); break;
    case INFERD_TYPE_FP32: for (size_t i = 0; i < n; ++i) w.Double(load(float{}, i)); break;
    case INFERD_TYPE_FP64: for (size_t i = 0; i < n; ++i) w.Double(load(double{}, i)); break;
    case INFERD_TYPE_BYTES: {
      size_t off = 0;
      while (off + 4 <= t.byte_size) {
        uint32_t len;
        std::memcpy(&len, p + off, 4);
        off += 4;
        if (off + len > t.byte_size) break;
        w.String(p + off, len);
        off += len;
      }
      break;
    }
    default: break;
  }
  w.EndArray();
}

}  // namespace

Status ParseRawInferRequest(std::shared_ptr<const std::string> body, const inference::ModelConfig& config,
                            InferenceRequest* request) {
  if (config.input_size() != 1) {
    // Triton's words (its QA tests look for them), then what to do instead.
    return Status::InvalidArg("Raw request must only have 1 input (found 1) to be deduced but got " +
                              std::to_string(config.input_size()) + " inputs in '" + request->model_name +
                              "' model configuration (a raw binary request, Inference-Header-Content-"
                              "Length: 0, fits only a model with one input; send a JSON header)");
  }
  const inference::ModelInput& in = config.input(0);
  InputTensor tensor;
  tensor.name = in.name();
  tensor.datatype = DataTypeFromConfig(in.data_type());
  if (config.max_batch_size() != 0) tensor.shape.push_back(1);
  int deduced = -1;
  int64_t fixed_elements = 1;
  for (int64_t d : in.dims()) {
    if (d == -1) {
      if (deduced != -1) {
        return Status::InvalidArg("The shape of the raw input '" + in.name() +
                                  "' can not be deduced because there are more than one "
                                  "variable-sized dimension (send a JSON header with the shape)");
      }
      deduced = static_cast<int>(tensor.shape.size());
    } else if (__builtin_mul_overflow(fixed_elements, d, &fixed_elements)) {
      return Status::InvalidArg("the dims of input '" + in.name() + "' overflow");
    }
    tensor.shape.push_back(d);
  }
  if (tensor.datatype == INFERD_TYPE_BYTES) {
    if (deduced != -1 || fixed_elements != 1) {
      return Status::InvalidArg("For BYTE datatype raw input '" + in.name() +
                                "', the model must have input shape [1] (the raw body is one element)");
    }
    if (body->size() > UINT32_MAX) return Status::InvalidArg("the raw BYTES element is over 4 GiB");
    // The body is the one element: prefix its length, as BYTES tensors carry it.
    auto prefix = std::make_shared<std::string>(4, '\0');
    const uint32_t len = static_cast<uint32_t>(body->size());
    std::memcpy(prefix->data(), &len, 4);
    tensor.AddBuffer(prefix->data(), 4);
    request->keep_alive.push_back(prefix);
  } else if (deduced != -1) {
    uint64_t row = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(fixed_elements), DataTypeByteSize(tensor.datatype), &row)) {
      return Status::InvalidArg("the dims of input '" + in.name() + "' overflow");
    }
    // A zero-sized row holds no data: the dimension is 0 whatever the body.
    tensor.shape[deduced] = row == 0 ? 0 : static_cast<int64_t>(body->size() / row);
  }
  if (!body->empty()) tensor.AddBuffer(body->data(), body->size());
  request->inputs.push_back(std::move(tensor));
  request->keep_alive.push_back(body);
  request->parameters["binary_data_output"] = "true";
  return Status::Ok();
}

Status ParseInferRequest(std::shared_ptr<const std::string> body,
                         std::optional<size_t> header_length, InferenceRequest* request) {
  const std::string& b = *body;
  size_t json_len = b.size();
  if (header_length) {
    if (*header_length > b.size()) {
      return Status::InvalidArg("Inference-Header-Content-Length is " +
                                std::to_string(*header_length) + " but the body has only " +
                                std::to_string(b.size()) + " bytes");
    }
    json_len = *header_length;
  }
  JsonScratch scratch;  // the document lives in this thread's reused buffers
  JsonScratch::Document doc(&scratch.values(), JsonScratch::kDocumentStackBytes, &scratch.stack());
  std::string error;
  if (!ParseJson(std::string_view(b.data(), json_len), &doc, &error, kMaxJsonDepth, &scratch.stack())) {
    return Status::InvalidArg("the inference request is not valid JSON: " + error);
  }
  if (!doc.IsObject()) return Status::InvalidArg("the inference request must be a JSON object");
  if (auto id = doc.FindMember("id"); id != doc.MemberEnd()) {
    if (!id->value.IsString()) return Status::InvalidArg("request 'id' must be a string");
    request->id = id->value.GetString();
  }
  bool binary_output = false;
  if (auto params = doc.FindMember("parameters"); params != doc.MemberEnd()) {
    if (!params->value.IsObject()) return Status::InvalidArg("request 'parameters' must be an object");
    INFERD_RETURN_IF_ERROR(BoolParam(params->value, "binary_data_output", "request", &binary_output));
    bool custom = false;
    for (const auto& p : params->value.GetObject()) {
      request->parameters[p.name.GetString()] = ParamToString(p.value);
      custom = custom || !IsProtocolParameter({p.name.GetString(), p.name.GetStringLength()});
    }
    if (custom) {
      rapidjson::StringBuffer text;
      rapidjson::Writer<rapidjson::StringBuffer> w(text);
      w.StartObject();
      for (const auto& p : params->value.GetObject()) {
        if (IsProtocolParameter({p.name.GetString(), p.name.GetStringLength()})) continue;
        w.Key(p.name.GetString(), p.name.GetStringLength());
        p.value.Accept(w);
      }
      w.EndObject();
      request->custom_parameters_json.assign(text.GetString(), text.GetSize());
    }
    if (auto seq = params->value.FindMember("sequence_id"); seq != params->value.MemberEnd() &&
                                                             seq->value.IsUint64()) {
      request->correlation_id = seq->value.GetUint64();
    }
  }
  auto inputs = doc.FindMember("inputs");
  if (inputs == doc.MemberEnd() || !inputs->value.IsArray()) {
    return Status::InvalidArg("the inference request must have an 'inputs' array");
  }
  std::shared_ptr<AlignedBytes> decoded;  // JSON inputs' bytes, if any
  size_t binary_offset = json_len;
  std::vector<DecodedSpan> spans;
  size_t index = 0;
  for (const auto& in : inputs->value.GetArray()) {
    INFERD_RETURN_IF_ERROR(
        ParseInput(in, index++, b, &binary_offset, request, &decoded, &spans));
  }
  if (binary_offset != b.size()) {
    return Status::InvalidArg("the request body has " + std::to_string(b.size() - json_len) +
                              " bytes of binary data but its inputs declare " +
                              std::to_string(binary_offset - json_len) + " (binary_data_size)");
  }
  for (const auto& span : spans) {
    request->inputs[span.input].AddBuffer(decoded->data() + span.offset, span.size);
  }
  request->keep_alive.push_back(body);
  if (decoded) request->keep_alive.push_back(decoded);
  if (auto outputs = doc.FindMember("outputs"); outputs != doc.MemberEnd()) {
    INFERD_RETURN_IF_ERROR(ParseOutputs(outputs->value, request));
  }
  // As Triton: binary_data_output chooses for the outputs the request does
  // not list; a listed output follows its own binary_data (JSON unless asked).
  if (binary_output) request->parameters["binary_data_output"] = "true";
  return Status::Ok();
}

void EncodeInferResponse(const InferenceResponse& response, EncodedResponse* out) {
  const InferenceRequest& req = *response.request;
  auto all = req.parameters.find("binary_data_output");
  const bool all_binary = all != req.parameters.end() && all->second == "true";
  JsonScratch scratch;  // the text is built in this thread's reused buffers
  JsonScratch::StringBuffer sb(&scratch.values());
  // NaN and +-Inf outputs are written as NaN / Infinity / -Infinity, as
  // Triton writes them (and Python's json reads them); without the flag the
  // writer would leave the element out and the body would not parse.
  JsonScratch::Writer<rapidjson::kWriteNanAndInfFlag> w(sb, &scratch.stack());
  w.StartObject();
  w.Key("model_name");
  w.String(req.model_name.c_str());
  w.Key("model_version");
  w.String(std::to_string(req.served_version).c_str());
  if (!req.id.empty()) {
    w.Key("id");
    w.String(req.id.c_str());
  }
  if (!response.parameters.empty()) {
    w.Key("parameters");
    w.StartObject();
    for (const auto& p : response.parameters) {
      w.Key(p.name.c_str(), static_cast<rapidjson::SizeType>(p.name.size()));
      switch (p.type) {
        case ResponseParameter::Type::kString:
          w.String(p.text.c_str(), static_cast<rapidjson::SizeType>(p.text.size()));
          break;
        case ResponseParameter::Type::kInt: w.Int64(p.integer); break;
        case ResponseParameter::Type::kBool: w.Bool(p.boolean); break;
        case ResponseParameter::Type::kDouble: w.Double(p.number); break;
      }
    }
    w.EndObject();
  }
  w.Key("outputs");
  w.StartArray();
  std::vector<const OutputTensor*> binary;
  for (const auto& o : response.outputs) {
    const RequestedOutput* asked = req.FindRequestedOutput(o.name);
    const bool as_binary = asked ? asked->binary : all_binary;
    w.StartObject();
    w.Key("name");
    w.String(o.name.c_str());
    w.Key("datatype");
    w.String(DataTypeWireName(o.datatype));
    w.Key("shape");
    w.StartArray();
    for (int64_t d : o.shape) w.Int64(d);
    w.EndArray();
    if (o.in_shared_memory) {
      // Its bytes are in the client's region: name, type and shape only.
    } else if (as_binary) {
      w.Key("parameters");
      w.StartObject();
      w.Key("binary_data_size");
      w.Uint64(o.byte_size);
      w.EndObject();
      binary.push_back(&o);
    } else {
      w.Key("data");
      WriteData(w, o);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  out->body.assign(sb.GetString(), sb.GetSize());
  out->header_length.reset();
  out->binary.clear();
  if (!binary.empty()) {
    out->header_length = out->body.size();
    for (const auto* o : binary) out->binary.emplace_back(o->begin(), o->byte_size);
  }
}

std::string ErrorJson(const std::string& message) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("error");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return sb.GetString();
}

}  // namespace inferd::http
