// The HTTP inference decoder: an optional compressed body, JSON or the binary
// tensor extension (Inference-Header-Content-Length), then the checks, the
// hand-over to a backend and the encoding of the answer.
//
// Input layout: byte 0 picks the Content-Encoding (identity, gzip, deflate)
// and whether a header length follows in bytes 1..4 (little endian); the
// rest is the body.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "frontend/http/compression.h"
#include "frontend/http/infer_codec.h"
#include "fuzz_models.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  size_t offset = 1;
  std::optional<size_t> header_length;
  if (mode & 4) {
    if (size < 5) return 0;
    uint32_t n;
    std::memcpy(&n, data + 1, 4);
    header_length = n;
    offset = 5;
  }
  auto body = std::make_shared<std::string>(reinterpret_cast<const char*>(data) + offset, size - offset);
  const http::Encoding encoding = (mode & 3) == 1 ? http::Encoding::kGzip
                                  : (mode & 3) == 2 ? http::Encoding::kDeflate
                                                    : http::Encoding::kIdentity;
  if (encoding != http::Encoding::kIdentity) {
    auto plain = std::make_shared<std::string>();
    if (!http::Decompress(encoding, *body, 1 << 20, plain.get()).ok()) return 0;
    body = std::move(plain);
  }
  InferenceRequest request;
  if (!http::ParseInferRequest(body, header_length, &request).ok()) return 0;
  fuzz::ExerciseAccepted(request, false, [](const InferenceResponse& response) {
    http::EncodedResponse encoded;
    http::EncodeInferResponse(response, &encoded);
    if (encoded.header_length && *encoded.header_length != encoded.body.size()) __builtin_trap();
  });
  return 0;
}
