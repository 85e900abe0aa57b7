#include "core/model_config_parse.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include "common/file_read.h"

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
  return json;
}

Status ModelConfigFromJson(const std::string& json, inference::ModelConfig* config) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(json, config, options);
  if (!st.ok()) return Status::InvalidArg("invalid model config JSON: " + st.ToString());
  return Status::Ok();
}

}  // namespace inferd
