#include "common/datatype.h"

#include <string>

namespace inferd {
namespace {

struct TypeInfo {
  DataType type;
  const char* wire;
  inference::DataType config;
  size_t size;
};

constexpr TypeInfo kTypes[] = {
    {INFERD_TYPE_BOOL, "BOOL", inference::TYPE_BOOL, 1},
    {INFERD_TYPE_UINT8, "UINT8", inference::TYPE_UINT8, 1},
    {INFERD_TYPE_UINT16, "UINT16", inference::TYPE_UINT16, 2},
    {INFERD_TYPE_UINT32, "UINT32", inference::TYPE_UINT32, 4},
    {INFERD_TYPE_UINT64, "UINT64", inference::TYPE_UINT64, 8},
    {INFERD_TYPE_INT8, "INT8", inference::TYPE_INT8, 1},
    {INFERD_TYPE_INT16, "INT16", inference::TYPE_INT16, 2},
    {INFERD_TYPE_INT32, "INT32", inference::TYPE_INT32, 4},
    {INFERD_TYPE_INT64, "INT64", inference::TYPE_INT64, 8},
    {INFERD_TYPE_FP16, "FP16", inference::TYPE_FP16, 2},
    {INFERD_TYPE_FP32, "FP32", inference::TYPE_FP32, 4},
    {INFERD_TYPE_FP64, "FP64", inference::TYPE_FP64, 8},
    {INFERD_TYPE_BYTES, "BYTES", inference::TYPE_STRING, 0},
    {INFERD_TYPE_BF16, "BF16", inference::TYPE_BF16, 2},
};

const TypeInfo* Find(DataType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return &i;
  return nullptr;
}

}  // namespace

DataType DataTypeFromWire(std::string_view name) {
  for (const auto& i : kTypes)
    if (name == i.wire) return i.type;
  return INFERD_TYPE_INVALID;
}

const char* DataTypeWireName(DataType type) {
  const TypeInfo* i = Find(type);
  return i ? i->wire : "INVALID";
}

DataType DataTypeFromConfig(inference::DataType type) {
  for (const auto& i : kTypes)
    if (i.config == type) return i.type;
  return INFERD_TYPE_INVALID;
}

inference::DataType DataTypeToConfig(DataType type) {
  const TypeInfo* i = Find(type);
  return i ? i->config : inference::TYPE_INVALID;
}

size_t DataTypeByteSize(DataType type) {
  const TypeInfo* i = Find(type);
  return i ? i->size : 0;
}

int64_t ElementCount(const int64_t* shape, size_t dims) {
  int64_t n = 1;
  bool overflow = false, empty = false;
  for (size_t d = 0; d < dims; ++d) {
    if (shape[d] < 0) return -1;
    empty = empty || shape[d] == 0;
    overflow = overflow || __builtin_mul_overflow(n, shape[d], &n);
  }
  // A zero dim makes the tensor empty whatever the other dims say.
  if (empty) return 0;
  return overflow ? -1 : n;
}

int64_t FixedByteSize(DataType type, int64_t elements) {
  const int64_t size = static_cast<int64_t>(DataTypeByteSize(type));
  int64_t bytes = 0;
  if (elements < 0 || size == 0 || __builtin_mul_overflow(elements, size, &bytes)) return -1;
  return bytes;
}

bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

int64_t ElementCount(const std::vector<int64_t>& shape) {
  return ElementCount(shape.data(), shape.size());
}

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace inferd
