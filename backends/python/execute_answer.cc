#include "execute_answer.h"

#include "marshal_reader.h"

namespace inferd_python {

namespace {

constexpr uint32_t kMaxDims = 64;  // as the server's own shapes
// Outputs one response may describe: far more than any model has, few
// enough that a lying count cannot make the server allocate much.
constexpr uint32_t kMaxOutputs = 4096;

// "error" + message + code, after the tag; a code that is not an int (a
// model's TritonError may carry anything) stays INTERNAL.
bool ReadError(MarshalReader& in, std::string_view* message, int64_t* code) {
  if (!in.Str(message)) return false;
  int64_t value = 0;
  if (in.TakeNone()) return true;
  if (!in.Int(&value)) return false;
  *code = value;
  return true;
}

bool ReadTensor(MarshalReader& in, TensorRef* t) {
  uint32_t fields = 0, dims = 0;
  std::string_view name, datatype;
  if (!in.Sequence(&fields) || fields != 5 || !in.Str(&name) || !in.Str(&datatype) || !in.Sequence(&dims)) {
    return false;
  }
  if (dims > kMaxDims) return false;
  t->name.assign(name);
  t->datatype = DataTypeFromName(std::string(datatype));
  if (t->datatype == INFERD_TYPE_INVALID) return false;
  t->shape.resize(dims);
  for (uint32_t d = 0; d < dims; ++d) {
    if (!in.Int(&t->shape[d]) || t->shape[d] < 0) return false;
  }
  return in.UInt(&t->offset) && in.UInt(&t->size);
}

bool ReadRequestAnswer(MarshalReader& in, RequestAnswer* out) {
  if (in.TakeNone()) {
    out->kind = RequestAnswer::kSender;
    return true;
  }
  uint32_t fields = 0;
  std::string_view tag;
  if (!in.Sequence(&fields) || fields != 3 || !in.Str(&tag)) return false;
  if (tag == "error") {
    out->kind = RequestAnswer::kError;
    return ReadError(in, &out->message, &out->code);
  }
  if (tag != "outputs") return false;
  out->kind = RequestAnswer::kOutputs;
  uint32_t outputs = 0;
  if (!in.Sequence(&outputs) || outputs > kMaxOutputs) return false;
  out->outputs.resize(outputs);
  for (auto& t : out->outputs) {
    if (!ReadTensor(in, &t)) return false;
  }
  if (in.TakeNone()) return true;
  out->has_parameters = true;
  return in.Str(&out->parameters_json);
}

}  // namespace

bool ReadExecuteAnswer(const char* data, size_t size, uint32_t count, ExecuteAnswer* out, std::string* error) {
  MarshalReader in(data, size);
  uint32_t fields = 0;
  std::string_view tag;
  bool ok = in.Sequence(&fields) && fields == 3 && in.Str(&tag);
  if (ok && tag == "error") {
    out->failed = true;
    ok = ReadError(in, &out->message, &out->code);
  } else if (ok && tag == "responses") {
    if (!in.TakeNone()) {
      uint64_t region_size = 0;
      ok = in.UInt(&region_size);
      out->region_grew = true;  // the size itself is read from the file, never from here
    }
    if (ok && !in.TakeNone()) {
      uint32_t entries = 0;
      ok = in.Sequence(&entries) && entries == count;
      if (ok) {
        out->listed = true;
        out->requests.resize(count);
        for (uint32_t r = 0; ok && r < count; ++r) ok = ReadRequestAnswer(in, &out->requests[r]);
      }
    }
  } else {
    ok = false;
  }
  if (ok && in.AtEnd()) return true;
  *error = "the stub's answer is malformed (" + (in.failed() ? in.error() : std::string("unexpected content")) + ")";
  return false;
}

}  // namespace inferd_python
