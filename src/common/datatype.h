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

// Sizes of tensors, computed with checked arithmetic: this is the one place
// where a shape a client sent becomes a count, so an overflow can never wrap
// into a small number that passes a later check.
//
// Product of the dims; -1 if any dim is negative (variable) or the product
// does not fit int64. No dims: 1 (a scalar); a zero dim: 0.
int64_t ElementCount(const std::vector<int64_t>& shape);
int64_t ElementCount(const int64_t* shape, size_t dims);
// Bytes of `elements` elements of fixed-size `type`; -1 for a negative count,
// BYTES/INVALID (no fixed size) or a product that does not fit int64.
int64_t FixedByteSize(DataType type, int64_t elements);
// a * b and a + b for non-negative sizes; false (out untouched) on overflow.
bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out);
bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out);

// "[1,16]" for messages.
std::string ShapeToString(const std::vector<int64_t>& shape);

}  // namespace inferd
