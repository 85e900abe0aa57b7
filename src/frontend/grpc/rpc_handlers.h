// The bodies of the gRPC methods other than inference (GRPCInferenceService's
// unary RPCs but ModelInfer, and grpc.health.v1.Health/Check), independent of
// the transport that carries them: grpc++'s callback service
// (grpc_server.cc) and inferd's own HTTP/2 transport (frontend/grpc_h2) both
// call these, so the two answer alike by construction.
//
// Contract of every handler: it fills `res` and calls `done` exactly once with
// the call's status, before it returns or (RepositoryModelLoad/Unload) later,
// from another thread. It may throw before calling `done`; the transport then
// answers INTERNAL. The restriction check (Allowed) is the transport's to make
// before it calls a handler, since only the transport sees the metadata.
#pragma once

#include <grpcpp/support/status.h>

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/server.h"
#include "frontend/restricted_api.h"
#include "grpc_service.pb.h"
#include "health.pb.h"

namespace inferd::grpc_frontend {

using RpcDone = std::function<void(const grpc::Status&)>;

class RpcHandlers {
 public:
  RpcHandlers(Server* core, const RestrictedApis& restricted);

  // OK, or PERMISSION_DENIED when `group` is restricted and the call lacks its
  // metadata (--grpc-restricted-protocol). `metadata(key)` gives the value of
  // the call's metadata `key` (lower case), or nullopt.
  template <typename Lookup>
  grpc::Status Allowed(ApiGroup group, Lookup&& metadata) const {
    const auto& rule = restricted_[static_cast<size_t>(group)];
    if (!rule) return grpc::Status::OK;
    std::optional<std::string_view> value = metadata(std::string_view(rule->key));
    if (value && *value == rule->value) return grpc::Status::OK;
    return Refusal(*rule);
  }
  // The metadata key (lower case) of `group`'s restriction, or null when open.
  const std::string* RestrictionKey(ApiGroup group) const {
    const auto& rule = restricted_[static_cast<size_t>(group)];
    return rule ? &rule->key : nullptr;
  }

  Server* core() const { return core_; }

  void ServerLive(const inference::ServerLiveRequest&, inference::ServerLiveResponse*, const RpcDone&);
  void ServerReady(const inference::ServerReadyRequest&, inference::ServerReadyResponse*, const RpcDone&);
  void ModelReady(const inference::ModelReadyRequest&, inference::ModelReadyResponse*, const RpcDone&);
  void ServerMetadata(const inference::ServerMetadataRequest&, inference::ServerMetadataResponse*,
                      const RpcDone&);
  void ModelMetadata(const inference::ModelMetadataRequest&, inference::ModelMetadataResponse*,
                     const RpcDone&);
  void ModelConfig(const inference::ModelConfigRequest&, inference::ModelConfigResponse*, const RpcDone&);
  void ModelStatistics(const inference::ModelStatisticsRequest&, inference::ModelStatisticsResponse*,
                       const RpcDone&);
  void RepositoryIndex(const inference::RepositoryIndexRequest&, inference::RepositoryIndexResponse*,
                       const RpcDone&);
  void RepositoryModelLoad(const inference::RepositoryModelLoadRequest&,
                           inference::RepositoryModelLoadResponse*, const RpcDone&);
  void RepositoryModelUnload(const inference::RepositoryModelUnloadRequest&,
                             inference::RepositoryModelUnloadResponse*, const RpcDone&);
  void SystemSharedMemoryStatus(const inference::SystemSharedMemoryStatusRequest&,
                                inference::SystemSharedMemoryStatusResponse*, const RpcDone&);
  void SystemSharedMemoryRegister(const inference::SystemSharedMemoryRegisterRequest&,
                                  inference::SystemSharedMemoryRegisterResponse*, const RpcDone&);
  void SystemSharedMemoryUnregister(const inference::SystemSharedMemoryUnregisterRequest&,
                                    inference::SystemSharedMemoryUnregisterResponse*, const RpcDone&);
  void CudaSharedMemoryStatus(const inference::CudaSharedMemoryStatusRequest&,
                              inference::CudaSharedMemoryStatusResponse*, const RpcDone&);
  void CudaSharedMemoryRegister(const inference::CudaSharedMemoryRegisterRequest&,
                                inference::CudaSharedMemoryRegisterResponse*, const RpcDone&);
  void CudaSharedMemoryUnregister(const inference::CudaSharedMemoryUnregisterRequest&,
                                  inference::CudaSharedMemoryUnregisterResponse*, const RpcDone&);
  void TraceSetting(const inference::TraceSettingRequest&, inference::TraceSettingResponse*, const RpcDone&);
  void LogSettings(const inference::LogSettingsRequest&, inference::LogSettingsResponse*, const RpcDone&);
  // grpc.health.v1.Health/Check, which Triton serves too and Kubernetes' gRPC
  // probes call: SERVING while the server is ready (Triton asks
  // ServerIsReady), NOT_SERVING otherwise, for the server ("") and for
  // GRPCInferenceService by name; any other service is NOT_FOUND.
  void HealthCheck(const grpc::health::v1::HealthCheckRequest&, grpc::health::v1::HealthCheckResponse*,
                   const RpcDone&);

 private:
  static grpc::Status Refusal(const RestrictedApis::Rule& rule);
  Status Lookup(const std::string& name, const std::string& version_text,
                std::shared_ptr<Model>* model) const;

  Server* core_;
  // Per group: the metadata key (lower case) and value a call must carry.
  std::array<std::optional<RestrictedApis::Rule>, kApiGroupCount> restricted_;
};

// One unary method as a transport that carries bytes sees it.
struct UnaryRpc {
  // Parses `request` (a serialized message), runs the handler and calls
  // `done` once with the status and, when it is OK, the serialized response.
  // Never throws: a request that does not parse is INVALID_ARGUMENT, a handler
  // that throws is INTERNAL.
  using Call = void (*)(RpcHandlers& handlers, std::string_view request,
                        std::function<void(const grpc::Status&, std::string response)> done);
  ApiGroup group;
  Call call;
};

// The unary method at an HTTP/2 `path` ("/inference.GRPCInferenceService/ServerLive",
// "/grpc.health.v1.Health/Check"), or null when there is none.
const UnaryRpc* FindUnaryRpc(std::string_view path);

}  // namespace inferd::grpc_frontend
