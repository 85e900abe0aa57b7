// The gRPC decoders: a ModelInferRequest message (raw and typed contents,
// parameters, outputs) through the checks to the encoded answer, and the
// parameters of RepositoryModelLoad. Byte 0 picks which.
#include <cstddef>
#include <cstdint>

#include "frontend/grpc/grpc_codec.h"
#include "fuzz_models.h"
#include "grpc_service.pb.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool load = data[0] & 1;
  ++data;
  --size;
  if (load) {
    inference::RepositoryModelLoadRequest message;
    if (!message.ParseFromArray(data, static_cast<int>(size))) return 0;
    LoadOverrides overrides;
    (void)grpc_frontend::ParseLoadParameters(message.parameters(), &overrides);
    return 0;
  }
  auto message = std::make_shared<inference::ModelInferRequest>();
  if (!message->ParseFromArray(data, static_cast<int>(size))) return 0;
  InferenceRequest request;
  if (!grpc_frontend::ParseModelInferRequest(*message, &request).ok()) return 0;
  request.keep_alive.push_back(message);
  fuzz::ExerciseAccepted(request, true, [](const InferenceResponse& response) {
    inference::ModelInferResponse out;
    grpc_frontend::EncodeModelInferResponse(response, &out);
  });
  return 0;
}
