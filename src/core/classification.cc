#include "core/classification.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <numeric>

#include "common/file_read.h"
#include "common/half.h"

namespace inferd {
namespace {

template <typename T>
double Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<double>(v);
}

// Element i of a numeric tensor as double; false for BYTES.
bool ValueAt(DataType type, const char* data, size_t i, double* out) {
  switch (type) {
    case INFERD_TYPE_BOOL: *out = data[i] ? 1 : 0; return true;
    case INFERD_TYPE_UINT8: *out = Load<uint8_t>(data + i); return true;
    case INFERD_TYPE_UINT16: *out = Load<uint16_t>(data + 2 * i); return true;
    case INFERD_TYPE_UINT32: *out = Load<uint32_t>(data + 4 * i); return true;
    case INFERD_TYPE_UINT64: *out = Load<uint64_t>(data + 8 * i); return true;
    case INFERD_TYPE_INT8: *out = Load<int8_t>(data + i); return true;
    case INFERD_TYPE_INT16: *out = Load<int16_t>(data + 2 * i); return true;
    case INFERD_TYPE_INT32: *out = Load<int32_t>(data + 4 * i); return true;
    case INFERD_TYPE_INT64: *out = Load<int64_t>(data + 8 * i); return true;
    case INFERD_TYPE_FP16: *out = HalfToFloat(static_cast<uint16_t>(Load<uint16_t>(data + 2 * i))); return true;
    case INFERD_TYPE_BF16: *out = Bf16ToFloat(static_cast<uint16_t>(Load<uint16_t>(data + 2 * i))); return true;
    case INFERD_TYPE_FP32: *out = Load<float>(data + 4 * i); return true;
    case INFERD_TYPE_FP64: *out = Load<double>(data + 8 * i); return true;
    default: return false;
  }
}

std::string FormatValue(DataType type, double v) {
  if (type == INFERD_TYPE_FP16 || type == INFERD_TYPE_BF16 || type == INFERD_TYPE_FP32 ||
      type == INFERD_TYPE_FP64) {
    return std::to_string(v);
  }
  return std::to_string(static_cast<long long>(v));
}

// Label files are read whole at load; larger ones are refused.
constexpr uint64_t kMaxLabelFileBytes = 64ull << 20;

}  // namespace

Status ReadLabelFile(const std::string& path, std::vector<std::string>* labels) {
  std::string text;
  INFERD_RETURN_IF_ERROR(ReadWholeFile(path, kMaxLabelFileBytes, &text).Prefixed("label file: "));
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels->push_back(line);
  }
  return Status::Ok();
}

Status Classify(const std::vector<std::string>& labels, uint32_t k, bool batched,
                OutputTensor* output) {
  if (output->datatype == INFERD_TYPE_BYTES) {
    return Status::InvalidArg("output '" + output->name +
                              "' has datatype BYTES and cannot be classified");
  }
  // The output's size is trusted only when its shape says the same.
  const int64_t elements = ElementCount(output->shape);
  const int64_t bytes = FixedByteSize(output->datatype, elements);
  if (elements < 0 || bytes < 0 || static_cast<uint64_t>(bytes) != output->byte_size) {
    return Status::Internal("output '" + output->name + "' has shape " + ShapeToString(output->shape) +
                            " but " + std::to_string(output->byte_size) + " bytes: cannot classify it");
  }
  const size_t total = static_cast<size_t>(elements);
  const size_t items = batched && !output->shape.empty() ? static_cast<size_t>(output->shape[0]) : 1;
  const size_t classes = items == 0 ? 0 : total / items;
  const size_t top = std::min<size_t>(k, classes);

  std::string serialized;
  std::vector<size_t> order(classes);
  std::vector<double> values(classes);
  for (size_t item = 0; item < items; ++item) {
    for (size_t c = 0; c < classes; ++c) ValueAt(output->datatype, output->begin(), item * classes + c, &values[c]);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(top), order.end(),
                      [&](size_t a, size_t b) { return values[a] > values[b] || (values[a] == values[b] && a < b); });
    for (size_t i = 0; i < top; ++i) {
      const size_t c = order[i];
      std::string s = FormatValue(output->datatype, values[c]) + ":" + std::to_string(c);
      if (c < labels.size()) s += ":" + labels[c];
      const uint32_t len = static_cast<uint32_t>(s.size());
      serialized.append(reinterpret_cast<const char*>(&len), 4);
      serialized += s;
    }
  }
  std::vector<int64_t> shape;
  if (batched && !output->shape.empty()) shape.push_back(static_cast<int64_t>(items));
  shape.push_back(static_cast<int64_t>(top));
  output->datatype = INFERD_TYPE_BYTES;
  output->shape = std::move(shape);
  output->byte_size = serialized.size();
  output->data = AllocateTensorBuffer(serialized.size() + 1);
  std::memcpy(output->data.get(), serialized.data(), serialized.size());
  return Status::Ok();
}

}  // namespace inferd
