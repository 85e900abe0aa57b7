#include "core/model_config_parse.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <string>
#include <vector>

#include "common/file_read.h"
#include "common/json_parse.h"
#include "common/utf8.h"

namespace inferd {
namespace {

// Keeps protobuf's first complaint, with its position in the file.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string source) : source_(std::move(source)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
    // protobuf counts from 0; editors count from 1.
    first_ = source_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
             message;
  }
  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

using rapidjson::Value;

// `obj[key]`, when it is a string of digits, becomes the number it spells.
void FixInt(Value& obj, const char* key) {
  if (!obj.IsObject()) return;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return;
  auto number = [](Value& v) {
    if (!v.IsString()) return;
    const char* begin = v.GetString();
    const char* end = begin + v.GetStringLength();
    int64_t i = 0;
    uint64_t u = 0;
    if (auto [p, ec] = std::from_chars(begin, end, i); ec == std::errc() && p == end) v.SetInt64(i);
    else if (auto [q, ec2] = std::from_chars(begin, end, u); ec2 == std::errc() && q == end) v.SetUint64(u);
  };
  if (it->value.IsArray()) {
    for (auto& v : it->value.GetArray()) number(v);
  } else {
    number(it->value);
  }
}

Value* Member(Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

// Exactly the fields Triton 2.51 prints as numbers (and no others: its
// initial_state dims, for one, stay strings there, and so here).
void FixTritonIntegers(Value& c) {
  for (const char* list : {"input", "output"}) {
    if (Value* tensors = Member(c, list); tensors && tensors->IsArray()) {
      for (auto& t : tensors->GetArray()) {
        FixInt(t, "dims");
        if (Value* reshape = Member(t, "reshape")) FixInt(*reshape, "shape");
      }
    }
  }
  if (Value* vp = Member(c, "version_policy")) {
    if (Value* specific = Member(*vp, "specific")) FixInt(*specific, "versions");
  }
  if (Value* db = Member(c, "dynamic_batching")) {
    for (const char* key : {"max_queue_delay_microseconds", "priority_levels", "default_priority_level"}) {
      FixInt(*db, key);
    }
    if (Value* policy = Member(*db, "default_queue_policy")) FixInt(*policy, "default_timeout_microseconds");
    if (Value* policies = Member(*db, "priority_queue_policy"); policies && policies->IsObject()) {
      for (auto& p : policies->GetObject()) FixInt(p.value, "default_timeout_microseconds");
    }
  }
  if (Value* sb = Member(c, "sequence_batching")) {
    FixInt(*sb, "max_sequence_idle_microseconds");
    if (Value* oldest = Member(*sb, "oldest")) FixInt(*oldest, "max_queue_delay_microseconds");
    if (Value* direct = Member(*sb, "direct")) FixInt(*direct, "max_queue_delay_microseconds");
    if (Value* states = Member(*sb, "state"); states && states->IsArray()) {
      for (auto& st : states->GetArray()) FixInt(st, "dims");
    }
  }
  if (Value* ens = Member(c, "ensemble_scheduling")) {
    if (Value* steps = Member(*ens, "step"); steps && steps->IsArray()) {
      for (auto& step : steps->GetArray()) FixInt(step, "model_version");
    }
  }
  if (Value* warmups = Member(c, "model_warmup"); warmups && warmups->IsArray()) {
    for (auto& w : warmups->GetArray()) {
      if (Value* inputs = Member(w, "inputs"); inputs && inputs->IsObject()) {
        for (auto& in : inputs->GetObject()) FixInt(in.value, "dims");
      }
    }
  }
}

// The first string in `message` (names, keys, parameter values, at any
// depth) that is not well-formed UTF-8, as a field path; empty when all are.
// The text format takes any bytes through escapes such as "\377", but such a
// string cannot be written into the config JSON or a gRPC answer. The
// ModelConfig schema has no recursive message, so the recursion is bounded
// by its depth.
std::string FirstNonUtf8Field(const google::protobuf::Message& message, const std::string& path) {
  using google::protobuf::FieldDescriptor;
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string here = path.empty() ? field->name() : path + "." + field->name();
    const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string item = field->is_repeated() ? here + "[" + std::to_string(i) + "]" : here;
      if (field->type() == FieldDescriptor::TYPE_STRING) {
        std::string scratch;
        const std::string& value =
            field->is_repeated() ? reflection->GetRepeatedStringReference(message, field, i, &scratch)
                                 : reflection->GetStringReference(message, field, &scratch);
        if (!IsValidUtf8(value)) return item;
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const auto& child = field->is_repeated() ? reflection->GetRepeatedMessage(message, field, i)
                                                 : reflection->GetMessage(message, field);
        std::string bad = FirstNonUtf8Field(child, item);
        if (!bad.empty()) return bad;
      }
    }
  }
  return {};
}

}  // namespace

Status ParseModelConfigText(const std::string& text, const std::string& source_name,
                            inference::ModelConfig* config) {
  FirstErrorCollector errors(source_name);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, config)) {
    return Status::InvalidArg(errors.first().empty() ? source_name + ": failed to parse"
                                                     : errors.first());
  }
  if (std::string bad = FirstNonUtf8Field(*config, ""); !bad.empty()) {
    return Status::InvalidArg(source_name + ": field '" + bad + "' is not valid UTF-8");
  }
  return Status::Ok();
}

Status ReadModelConfigFile(const std::string& path, inference::ModelConfig* config) {
  std::string text;
  // A config is a few kilobytes; anything past this limit is not one.
  INFERD_RETURN_IF_ERROR(ReadWholeFile(path, 16ull << 20, &text));
  return ParseModelConfigText(text, path, config);
}

std::string ModelConfigToJson(const inference::ModelConfig& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Serializing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(config, &json, options);
  // Protobuf prints 64-bit integers as strings; Triton turns those of the
  // fields below back into numbers (model_config_utils.cc, ModelConfigToJson)
  // and clients read them so: "dims": [3, 48, -1].
  rapidjson::Document doc;
  std::string error;
  if (!ParseJson(json, &doc, &error) || !doc.IsObject()) return json;
  FixTritonIntegers(doc);
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc.Accept(writer);
  return std::string(out.GetString(), out.GetSize());
}

Status ModelConfigFromJson(const std::string& json, inference::ModelConfig* config) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(json, config, options);
  if (!st.ok()) return Status::InvalidArg("invalid model config JSON: " + st.ToString());
  if (std::string bad = FirstNonUtf8Field(*config, ""); !bad.empty()) {
    return Status::InvalidArg("invalid model config JSON: field '" + bad + "' is not valid UTF-8");
  }
  return Status::Ok();
}

}  // namespace inferd
