#include "core/request_checks.h"

#include <algorithm>

namespace inferd {
namespace {

std::string ShapeOf(const google::protobuf::RepeatedField<int64_t>& dims, bool batch_dim) {
  std::vector<int64_t> s;
  if (batch_dim) s.push_back(-1);
  s.insert(s.end(), dims.begin(), dims.end());
  return ShapeToString(s);
}

}  // namespace

bool CountBytesElements(const InputTensor& in, int64_t* count) {
  // Elements may straddle buffer pieces: walk them as one stream.
  uint64_t remaining_in_element = 0;
  int length_bytes_seen = 0;
  uint32_t length = 0;
  int64_t n = 0;
  for (const auto& [data, size] : in.buffers) {
    uint64_t i = 0;
    while (i < size) {
      if (remaining_in_element > 0) {
        uint64_t take = std::min<uint64_t>(remaining_in_element, size - i);
        remaining_in_element -= take;
        i += take;
        continue;
      }
      length |= static_cast<uint32_t>(static_cast<uint8_t>(data[i])) << (8 * length_bytes_seen);
      ++i;
      if (++length_bytes_seen == 4) {
        ++n;
        remaining_in_element = length;
        length_bytes_seen = 0;
        length = 0;
      }
    }
  }
  *count = n;
  return remaining_in_element == 0 && length_bytes_seen == 0;
}

Status CheckRequestAgainstConfig(const inference::ModelConfig& c, InferenceRequest& r) {
  const bool batching = c.max_batch_size() > 0;
  // Built only for an error message: this runs for every request.
  auto model_label = [&] { return "model '" + c.name() + "'"; };
  if (c.model_transaction_policy().decoupled() && !r.accepts_many_responses) {
    return Status::Unsupported(model_label() +
                               " is decoupled (it may send several responses per request): use "
                               "the gRPC stream, ModelStreamInfer");
  }
  int64_t batch = -1;
  for (size_t k = 0; k < r.inputs.size(); ++k) {
    const InputTensor& in = r.inputs[k];
    const inference::ModelInput* def = nullptr;
    for (const auto& i : c.input())
      if (i.name() == in.name) def = &i;
    if (def == nullptr) {
      std::string names;
      for (const auto& i : c.input()) names += (names.empty() ? "" : ", ") + i.name();
      return Status::InvalidArg(model_label() + " has no input '" + in.name + "'; its inputs are: " + names);
    }
    for (size_t earlier = 0; earlier < k; ++earlier) {  // a handful of inputs: no set needed
      if (r.inputs[earlier].name == in.name) {
        return Status::InvalidArg("input '" + in.name + "' appears more than once in the request");
      }
    }
    const DataType want = DataTypeFromConfig(def->data_type());
    if (in.datatype != want) {
      return Status::InvalidArg("input '" + in.name + "' of " + model_label() + " has datatype " +
                                DataTypeWireName(want) + ", the request sent " +
                                DataTypeWireName(in.datatype));
    }
    const size_t want_dims = static_cast<size_t>(def->dims_size()) + (batching ? 1 : 0);
    bool shape_ok = in.shape.size() == want_dims;
    for (size_t d = 0; shape_ok && d < in.shape.size(); ++d) {
      if (in.shape[d] < 0) shape_ok = false;
      else if (batching && d == 0) continue;
      else {
        int64_t expect = def->dims(static_cast<int>(d - (batching ? 1 : 0)));
        if (expect != -1 && expect != in.shape[d]) shape_ok = false;
      }
    }
    if (!shape_ok) {
      return Status::InvalidArg("input '" + in.name + "' of " + model_label() + " expects shape " +
                                ShapeOf(def->dims(), batching) +
                                (batching ? " (batch dimension first)" : "") +
                                ", the request sent " + ShapeToString(in.shape));
    }
    if (batching) {
      if (in.shape[0] < 1 || in.shape[0] > c.max_batch_size()) {
        return Status::InvalidArg("input '" + in.name + "' has batch size " +
                                  std::to_string(in.shape[0]) + " but " + model_label() +
                                  " accepts 1 to max_batch_size " +
                                  std::to_string(c.max_batch_size()));
      }
      if (batch != -1 && batch != in.shape[0]) {
        return Status::InvalidArg("inputs of one request must share the batch size; input '" +
                                  in.name + "' has " + std::to_string(in.shape[0]) + ", another has " +
                                  std::to_string(batch));
      }
      batch = in.shape[0];
    }
    const int64_t elements = ElementCount(in.shape);
    const int64_t fixed_bytes = FixedByteSize(in.datatype, elements);
    if (elements < 0 || (in.datatype != INFERD_TYPE_BYTES && fixed_bytes < 0)) {
      return Status::InvalidArg("input '" + in.name + "' of " + model_label() + " has shape " +
                                ShapeToString(in.shape) + ", whose size does not fit in 64 bits");
    }
    if (in.datatype == INFERD_TYPE_BYTES) {
      int64_t count = 0;
      if (!CountBytesElements(in, &count) || count != elements) {
        return Status::InvalidArg("input '" + in.name + "' of " + model_label() + " with shape " +
                                  ShapeToString(in.shape) + " needs " + std::to_string(elements) +
                                  " BYTES elements, the data holds " + std::to_string(count) +
                                  (count == elements ? " and is truncated" : ""));
      }
    } else {
      const uint64_t want_bytes = static_cast<uint64_t>(fixed_bytes);
      if (in.byte_size != want_bytes) {
        // Triton's words first (its QA tests look for them), then why.
        return Status::InvalidArg("input byte size mismatch for input '" + in.name + "' for model '" +
                                  c.name() + "'. Expected " + std::to_string(want_bytes) + ", got " +
                                  std::to_string(in.byte_size) + " (shape " + ShapeToString(in.shape) +
                                  ", datatype " + DataTypeWireName(in.datatype) + ")");
      }
    }
  }
  for (const auto& i : c.input()) {
    if (!i.optional() && r.FindInput(i.name()) == nullptr) {
      return Status::InvalidArg(model_label() + " expects input '" + i.name() +
                                "' but the request does not have it");
    }
  }
  r.batch_size = batching ? static_cast<uint64_t>(batch < 1 ? 1 : batch) : 1;

  r.output_names.clear();
  if (r.outputs.empty()) {
    for (const auto& o : c.output()) r.output_names.push_back(o.name());
  } else {
    for (size_t k = 0; k < r.outputs.size(); ++k) {
      const RequestedOutput& want = r.outputs[k];
      for (size_t earlier = 0; earlier < k; ++earlier) {  // a handful of outputs: no set needed
        if (r.outputs[earlier].name == want.name) {
          return Status::InvalidArg("output '" + want.name + "' is requested more than once");
        }
      }
      bool found = false;
      for (const auto& o : c.output()) found = found || o.name() == want.name;
      if (!found) {
        std::string names;
        for (const auto& o : c.output()) names += (names.empty() ? "" : ", ") + o.name();
        return Status::InvalidArg(model_label() + " has no output '" + want.name + "'; its outputs are: " +
                                  names);
      }
      r.output_names.push_back(want.name);
    }
  }
  return Status::Ok();
}

}  // namespace inferd
