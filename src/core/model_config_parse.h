// Reading and writing model configurations: config.pbtxt (protobuf text
// format, exactly as Triton reads it) and Triton's JSON form of ModelConfig.
#pragma once

#include <string>

#include "common/status.h"
#include "model_config.pb.h"

namespace inferd {

// Parses protobuf text `text`; errors read "<source_name>:<line>:<col>: <what>",
// naming the field protobuf rejected.
Status ParseModelConfigText(const std::string& text, const std::string& source_name,
                            inference::ModelConfig* config);

// Reads and parses the file at `path`.
Status ReadModelConfigFile(const std::string& path, inference::ModelConfig* config);

// Triton's JSON form: proto field names, every field printed (defaults too).
std::string ModelConfigToJson(const inference::ModelConfig& config);

// Parses Triton's JSON form (unknown fields are an error naming them).
Status ModelConfigFromJson(const std::string& json, inference::ModelConfig* config);

}  // namespace inferd
