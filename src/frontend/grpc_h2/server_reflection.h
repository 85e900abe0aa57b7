// gRPC server reflection (grpc.reflection.v1alpha and v1 ServerReflectionInfo)
// for the HTTP/2 transport: grpcurl and similar tools list the services and
// fetch their descriptors, so they call GRPCInferenceService without its
// .proto files. Descriptors come from the protobuf files compiled into
// inferd, nothing else.
#pragma once

#include <string>
#include <string_view>

namespace inferd::grpc_h2 {

// The services a client can call, as list_services names them.
extern const char* const kReflectedServices[4];

// Answers one serialized ServerReflectionRequest with a serialized
// ServerReflectionResponse (an error_response for a request that does not
// parse or names nothing we have).
std::string AnswerReflection(std::string_view request);

}  // namespace inferd::grpc_h2
