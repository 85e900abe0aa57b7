// Tensor data types: conversions between the ABI enum, the KServe wire names
// ("FP32") and the config names (TYPE_FP32), and element sizes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "inferd/backend.h"
#include "model_config.pb.h"

namespace inferd {

using DataType = InferdDataType;

// "FP32" -> INFERD_TYPE_FP32; INVALID for an unknown name.
DataType DataTypeFromWire(std::string_view name);
// INFERD_TYPE_FP32 -> "FP32".
const char* DataTypeWireName(DataType type);
DataType DataTypeFromConfig(inference::DataType type);
inference::DataType DataTypeToConfig(DataType type);
// Bytes per element; 0 for BYTES (variable) and INVALID.
size_t DataTypeByteSize(DataType type);

// Product of the dims; -1 if any dim is negative (variable). Zero dims allowed.
int64_t ElementCount(const std::vector<int64_t>& shape);
int64_t ElementCount(const int64_t* shape, size_t dims);

// "[1,16]" for messages.
std::string ShapeToString(const std::vector<int64_t>& shape);

}  // namespace inferd
