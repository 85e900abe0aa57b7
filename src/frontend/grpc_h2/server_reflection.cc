#include "frontend/grpc_h2/server_reflection.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <set>
#include <vector>

#include "reflection_wire.pb.h"

namespace inferd::grpc_h2 {
namespace pb = google::protobuf;
namespace wire = inferd::reflection_wire;

const char* const kReflectedServices[4] = {
    "inference.GRPCInferenceService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
};

namespace {

constexpr int kNotFound = 5;         // gRPC status codes, as error_response carries them
constexpr int kInvalidArgument = 3;
constexpr int kUnimplemented = 12;

// `file` and every file it imports, each once, `file` first (the order
// grpcurl and grpc's own server use).
void AddWithDependencies(const pb::FileDescriptor* file, std::set<const pb::FileDescriptor*>* seen,
                         wire::FileDescriptorResponse* out) {
  std::vector<const pb::FileDescriptor*> pending{file};
  while (!pending.empty()) {  // iterative: import chains are not recursion depth
    const pb::FileDescriptor* f = pending.back();
    pending.pop_back();
    if (!seen->insert(f).second) continue;
    pb::FileDescriptorProto proto;
    f->CopyTo(&proto);
    proto.SerializeToString(out->add_file_descriptor_proto());
    for (int i = 0; i < f->dependency_count(); ++i) pending.push_back(f->dependency(i));
  }
}

void Error(int code, const std::string& message, wire::ServerReflectionResponse* out) {
  out->mutable_error_response()->set_error_code(code);
  out->mutable_error_response()->set_error_message(message);
}

}  // namespace

std::string AnswerReflection(std::string_view request_bytes) {
  wire::ServerReflectionRequest request;
  wire::ServerReflectionResponse out;
  if (!request.ParseFromArray(request_bytes.data(), static_cast<int>(request_bytes.size()))) {
    Error(kInvalidArgument, "not a ServerReflectionRequest message", &out);
    return out.SerializeAsString();
  }
  out.set_valid_host(request.host());
  *out.mutable_original_request() = request;
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  std::set<const pb::FileDescriptor*> seen;
  switch (request.message_request_case()) {
    case wire::ServerReflectionRequest::kListServices:
      for (const char* name : kReflectedServices) out.mutable_list_services_response()->add_service()->set_name(name);
      break;
    case wire::ServerReflectionRequest::kFileByFilename:
      if (const auto* file = pool->FindFileByName(request.file_by_filename())) {
        AddWithDependencies(file, &seen, out.mutable_file_descriptor_response());
      } else {
        Error(kNotFound, "no file named '" + request.file_by_filename() + "'", &out);
      }
      break;
    case wire::ServerReflectionRequest::kFileContainingSymbol:
      if (const auto* file = pool->FindFileContainingSymbol(request.file_containing_symbol())) {
        AddWithDependencies(file, &seen, out.mutable_file_descriptor_response());
      } else {
        Error(kNotFound, "no symbol '" + request.file_containing_symbol() + "'", &out);
      }
      break;
    case wire::ServerReflectionRequest::kFileContainingExtension: {
      const auto& ext = request.file_containing_extension();
      const auto* type = pool->FindMessageTypeByName(ext.containing_type());
      const auto* field = type ? pool->FindExtensionByNumber(type, ext.extension_number()) : nullptr;
      if (field) {
        AddWithDependencies(field->file(), &seen, out.mutable_file_descriptor_response());
      } else {
        Error(kNotFound, "no extension " + std::to_string(ext.extension_number()) + " of '" +
                             ext.containing_type() + "'", &out);
      }
      break;
    }
    case wire::ServerReflectionRequest::kAllExtensionNumbersOfType:
      if (const auto* type = pool->FindMessageTypeByName(request.all_extension_numbers_of_type())) {
        std::vector<const pb::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        auto* numbers = out.mutable_all_extension_numbers_response();
        numbers->set_base_type_name(type->full_name());
        for (const auto* e : extensions) numbers->add_extension_number(e->number());
      } else {
        Error(kNotFound, "no message type '" + request.all_extension_numbers_of_type() + "'", &out);
      }
      break;
    default:
      Error(kUnimplemented, "an empty or unknown reflection request", &out);
  }
  return out.SerializeAsString();
}

}  // namespace inferd::grpc_h2
