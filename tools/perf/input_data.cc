#include "input_data.h"

#include <rapidjson/document.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "common/half.h"

namespace inferd::perf {
namespace {

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t Elements(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// The shape to send for `t` (batch dimension included).
Status ResolveShape(const client::TensorInfo& t, const client::ModelInfo& model,
                    const InputOptions& o, const std::vector<int64_t>* from_file,
                    std::vector<int64_t>* shape) {
  const bool batched = model.max_batch_size > 0;
  std::vector<int64_t> dims(t.shape.begin() + (batched && !t.shape.empty() ? 1 : 0), t.shape.end());
  const std::vector<int64_t>* given = from_file;
  auto flag = o.shapes.find(t.name);
  if (!given && flag != o.shapes.end()) given = &flag->second;
  if (given) {
    if (given->size() != dims.size()) {
      return Status::InvalidArg("input '" + t.name + "' has " + std::to_string(dims.size()) +
                                " dims " + ShapeText(dims) + " (without the batch dimension), but " +
                                ShapeText(*given) + " was given");
    }
    for (size_t i = 0; i < dims.size(); ++i) {
      if ((*given)[i] < 0 || (dims[i] >= 0 && dims[i] != (*given)[i])) {
        return Status::InvalidArg("input '" + t.name + "' shape " + ShapeText(*given) +
                                  " does not fit the model's " + ShapeText(dims));
      }
    }
    dims = *given;
  }
  for (int64_t d : dims) {
    if (d < 0) {
      return Status::InvalidArg("input '" + t.name + "' has variable dims " + ShapeText(dims) +
                                ": give them with --shape " + t.name + ":d1,d2,...");
    }
  }
  shape->clear();
  if (batched) shape->push_back(o.batch_size);
  shape->insert(shape->end(), dims.begin(), dims.end());
  return Status::Ok();
}

void Generate(const client::TensorInfo& t, int64_t elements, const InputOptions& o, std::mt19937_64& rng,
              std::string* data) {
  const bool zero = o.data == "zero";
  if (t.datatype == "BYTES") {
    std::uniform_int_distribution<int> letter('a', 'z');
    for (int64_t i = 0; i < elements; ++i) {
      const uint32_t len = static_cast<uint32_t>(o.string_length);
      data->append(reinterpret_cast<const char*>(&len), 4);
      for (uint32_t k = 0; k < len; ++k) data->push_back(zero ? '0' : static_cast<char>(letter(rng)));
    }
    return;
  }
  const size_t size = client::WireTypeSize(t.datatype);
  data->assign(static_cast<size_t>(elements) * size, '\0');
  if (zero) return;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  char* p = data->data();
  for (int64_t i = 0; i < elements; ++i, p += size) {
    if (t.datatype == "FP32") {
      const float v = unit(rng);
      std::memcpy(p, &v, 4);
    } else if (t.datatype == "FP64") {
      const double v = unit(rng);
      std::memcpy(p, &v, 8);
    } else if (t.datatype == "FP16") {
      const uint16_t v = FloatToHalf(unit(rng));
      std::memcpy(p, &v, 2);
    } else if (t.datatype == "BF16") {
      const uint16_t v = FloatToBf16(unit(rng));
      std::memcpy(p, &v, 2);
    } else if (t.datatype == "BOOL") {
      *p = static_cast<char>(rng() & 1);
    } else {
      // Integers: small non-negative values, valid as indices and in any width.
      const uint64_t v = rng() % 100;
      std::memcpy(p, &v, size);  // little-endian: the low bytes
    }
  }
}

// One JSON value of the file -> bytes of `t`'s datatype.
Status Encode(const rapidjson::Value& v, const std::string& datatype, std::string* out) {
  if (datatype == "BYTES") {
    if (!v.IsString()) return Status::InvalidArg("expected a string");
    const uint32_t len = v.GetStringLength();
    out->append(reinterpret_cast<const char*>(&len), 4);
    out->append(v.GetString(), len);
    return Status::Ok();
  }
  if (datatype == "BOOL") {
    if (!v.IsBool()) return Status::InvalidArg("expected true or false");
    out->push_back(v.GetBool() ? 1 : 0);
    return Status::Ok();
  }
  if (!v.IsNumber()) return Status::InvalidArg("expected a number");
  const double d = v.GetDouble();
  auto put = [out](auto x) { out->append(reinterpret_cast<const char*>(&x), sizeof x); };
  if (datatype == "FP32") put(static_cast<float>(d));
  else if (datatype == "FP64") put(d);
  else if (datatype == "FP16") put(FloatToHalf(static_cast<float>(d)));
  else if (datatype == "BF16") put(FloatToBf16(static_cast<float>(d)));
  else if (datatype == "INT8") put(static_cast<int8_t>(v.GetInt64()));
  else if (datatype == "INT16") put(static_cast<int16_t>(v.GetInt64()));
  else if (datatype == "INT32") put(static_cast<int32_t>(v.GetInt64()));
  else if (datatype == "INT64") put(v.GetInt64());
  else if (datatype == "UINT8") put(static_cast<uint8_t>(v.GetUint64()));
  else if (datatype == "UINT16") put(static_cast<uint16_t>(v.GetUint64()));
  else if (datatype == "UINT32") put(static_cast<uint32_t>(v.GetUint64()));
  else if (datatype == "UINT64") put(v.GetUint64());
  else return Status::InvalidArg("unsupported datatype " + datatype);
  return Status::Ok();
}

void Flatten(const rapidjson::Value& v, std::vector<const rapidjson::Value*>* out) {
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) Flatten(e, out);
  } else {
    out->push_back(&v);
  }
}

Status Base64Decode(const std::string& in, std::string* out) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const size_t pos = chars.find(c);
    if (pos == std::string::npos) return Status::InvalidArg("invalid base64");
    acc = (acc << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return Status::Ok();
}

Status FromFile(const client::ModelInfo& model, const InputOptions& o,
                std::vector<client::InferRequest>* out) {
  std::ifstream in(o.data);
  if (!in) return Status::InvalidArg("--input-data: cannot read '" + o.data + "'");
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsArray() ||
      doc["data"].Empty()) {
    return Status::InvalidArg("--input-data " + o.data + ": expected {\"data\": [ {...}, ... ]}");
  }
  for (const auto& entry : doc["data"].GetArray()) {
    if (!entry.IsObject()) return Status::InvalidArg("--input-data: each entry of \"data\" must be an object");
    client::InferRequest& r = out->emplace_back();
    r.model = model.name;
    r.version = o.version;
    for (const auto& t : model.inputs) {
      auto it = entry.FindMember(t.name.c_str());
      if (it == entry.MemberEnd()) {
        if (t.optional) continue;
        return Status::InvalidArg("--input-data: an entry has no input '" + t.name + "'");
      }
      const rapidjson::Value* content = &it->value;
      std::vector<int64_t> file_shape;
      bool has_shape = false;
      std::string data;
      if (it->value.IsObject()) {
        if (it->value.HasMember("shape") && it->value["shape"].IsArray()) {
          for (const auto& d : it->value["shape"].GetArray()) file_shape.push_back(d.GetInt64());
          has_shape = true;
        }
        if (it->value.HasMember("b64") && it->value["b64"].IsString()) {
          INFERD_RETURN_IF_ERROR(Base64Decode(it->value["b64"].GetString(), &data));
          content = nullptr;
        } else if (it->value.HasMember("content")) {
          content = &it->value["content"];
        } else {
          return Status::InvalidArg("--input-data: input '" + t.name + "' needs \"content\" or \"b64\"");
        }
      }
      client::InputTensor& tensor = r.inputs.emplace_back();
      tensor.name = t.name;
      tensor.datatype = t.datatype;
      INFERD_RETURN_IF_ERROR(ResolveShape(t, model, o, has_shape ? &file_shape : nullptr, &tensor.shape));
      if (content) {
        std::vector<const rapidjson::Value*> flat;
        Flatten(*content, &flat);
        for (const auto* v : flat) {
          Status st = Encode(*v, t.datatype, &data);
          if (!st.ok()) return Status::InvalidArg("--input-data: input '" + t.name + "': " + st.message());
        }
        // The file holds one batch element; repeat it for -b.
        std::string one = data;
        for (int64_t b = 1; b < (model.max_batch_size > 0 ? o.batch_size : 1); ++b) data += one;
      }
      tensor.data = std::move(data);
    }
  }
  return Status::Ok();
}

}  // namespace

Status ParseShapeFlag(const std::string& text, std::string* name, std::vector<int64_t>* dims) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArg("--shape expects NAME:d1,d2,..., got '" + text + "'");
  }
  *name = text.substr(0, colon);
  dims->clear();
  std::stringstream s(text.substr(colon + 1));
  std::string part;
  while (std::getline(s, part, ',')) {
    try {
      size_t used = 0;
      const long long d = std::stoll(part, &used);
      if (used != part.size() || d < 0) throw std::invalid_argument(part);
      dims->push_back(d);
    } catch (const std::exception&) {
      return Status::InvalidArg("--shape " + text + ": '" + part + "' is not a non-negative integer");
    }
  }
  return Status::Ok();
}

Status BuildRequests(const client::ModelInfo& model, const InputOptions& o,
                     std::vector<client::InferRequest>* out) {
  for (const auto& [name, dims] : o.shapes) {
    bool known = false;
    for (const auto& t : model.inputs) known = known || t.name == name;
    if (!known) return Status::InvalidArg("--shape names input '" + name + "', which model '" + model.name + "' does not have");
  }
  if (model.max_batch_size == 0 && o.batch_size != 1) {
    return Status::InvalidArg("model '" + model.name + "' does not batch (max_batch_size 0): -b must be 1");
  }
  if (model.max_batch_size > 0 && o.batch_size > model.max_batch_size) {
    return Status::InvalidArg("-b " + std::to_string(o.batch_size) + " exceeds the max_batch_size " +
                              std::to_string(model.max_batch_size) + " of model '" + model.name + "'");
  }
  if (o.data != "zero" && o.data != "random") return FromFile(model, o, out);
  std::mt19937_64 rng(12345);
  client::InferRequest& r = out->emplace_back();
  r.model = model.name;
  r.version = o.version;
  for (const auto& t : model.inputs) {
    client::InputTensor& tensor = r.inputs.emplace_back();
    tensor.name = t.name;
    tensor.datatype = t.datatype;
    INFERD_RETURN_IF_ERROR(ResolveShape(t, model, o, nullptr, &tensor.shape));
    Generate(t, Elements(tensor.shape), o, rng, &tensor.data);
  }
  return Status::Ok();
}

}  // namespace inferd::perf
