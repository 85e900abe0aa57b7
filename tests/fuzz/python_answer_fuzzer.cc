// The Python backend's reading of a stub's answer to an execution
// (backends/python/execute_answer.h over marshal_reader.h): the stub runs a
// model's code, so its bytes are hostile. Input: one byte giving the batch's
// request count (0-7) and one the region size (in 64-byte units), then the
// answer. Every output that reads is checked against the region, as the
// server does before copying it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../backends/python/execute_answer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t count = data[0] % 8;
  const uint64_t region = uint64_t{data[1]} * 64;
  inferd_python::ExecuteAnswer answer;
  std::string why;
  if (!inferd_python::ReadExecuteAnswer(reinterpret_cast<const char*>(data) + 2, size - 2, count, &answer, &why)) {
    return 0;
  }
  if (answer.listed && answer.requests.size() != count) __builtin_trap();
  for (const auto& request : answer.requests) {
    for (const auto& output : request.outputs) {
      if (inferd_python::TensorWithin(output, region, &why) && output.offset + output.size > region) {
        __builtin_trap();  // a tensor said to lie within the region that does not
      }
    }
  }
  return 0;
}
