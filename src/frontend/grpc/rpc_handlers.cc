#include "frontend/grpc/rpc_handlers.h"

#include <cctype>
#include <unordered_map>

#include "common/logging.h"
#include "core/trace.h"
#include "frontend/grpc/grpc_codec.h"

namespace inferd::grpc_frontend {

RpcHandlers::RpcHandlers(Server* core, const RestrictedApis& restricted) : core_(core) {
  for (size_t g = 0; g < kApiGroupCount; ++g) {
    if (const auto* rule = restricted.RuleFor(static_cast<ApiGroup>(g))) {
      // Triton's metadata key; gRPC metadata keys are lower case on the wire.
      std::string key = "triton-grpc-protocol-" + rule->key;
      for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      restricted_[g] = RestrictedApis::Rule{std::move(key), rule->value};
    }
  }
}

grpc::Status RpcHandlers::Refusal(const RestrictedApis::Rule& rule) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      "This protocol is restricted, expecting header '" + rule.key + "'");
}

Status RpcHandlers::Lookup(const std::string& name, const std::string& version_text,
                           std::shared_ptr<Model>* model) const {
  int64_t version = -1;
  INFERD_RETURN_IF_ERROR(ParseModelVersion(name, version_text, &version));
  return core_->GetModel(name, version, model);
}

void RpcHandlers::ServerLive(const inference::ServerLiveRequest&, inference::ServerLiveResponse* res,
                             const RpcDone& done) {
  res->set_live(core_->Live());
  done(grpc::Status::OK);
}

void RpcHandlers::ServerReady(const inference::ServerReadyRequest&, inference::ServerReadyResponse* res,
                              const RpcDone& done) {
  res->set_ready(core_->Ready());
  done(grpc::Status::OK);
}

void RpcHandlers::ModelReady(const inference::ModelReadyRequest& req, inference::ModelReadyResponse* res,
                             const RpcDone& done) {
  std::shared_ptr<Model> model;
  res->set_ready(Lookup(req.name(), req.version(), &model).ok());
  done(grpc::Status::OK);
}

void RpcHandlers::ServerMetadata(const inference::ServerMetadataRequest&,
                                 inference::ServerMetadataResponse* res, const RpcDone& done) {
  res->set_name(core_->options().id);
  res->set_version(INFERD_VERSION);
  for (const auto& e : ServerExtensions()) res->add_extensions(e);
  done(grpc::Status::OK);
}

void RpcHandlers::ModelMetadata(const inference::ModelMetadataRequest& req,
                                inference::ModelMetadataResponse* res, const RpcDone& done) {
  std::shared_ptr<Model> model;
  Status st = Lookup(req.name(), req.version(), &model);
  if (!st.ok()) return done(ToGrpcStatus(st));
  std::vector<int64_t> versions;
  for (const auto& m : core_->LoadedModels(req.name())) versions.push_back(m->version());
  FillModelMetadata(*model, versions, res);
  done(grpc::Status::OK);
}

void RpcHandlers::ModelConfig(const inference::ModelConfigRequest& req, inference::ModelConfigResponse* res,
                              const RpcDone& done) {
  std::shared_ptr<Model> model;
  Status st = Lookup(req.name(), req.version(), &model);
  if (!st.ok()) return done(ToGrpcStatus(st));
  *res->mutable_config() = model->config();
  done(grpc::Status::OK);
}

void RpcHandlers::ModelStatistics(const inference::ModelStatisticsRequest& req,
                                  inference::ModelStatisticsResponse* res, const RpcDone& done) {
  std::vector<std::shared_ptr<Model>> models;
  if (req.name().empty()) {
    models = core_->LoadedModels();
  } else {
    std::shared_ptr<Model> model;
    Status st = Lookup(req.name(), req.version(), &model);
    if (!st.ok()) return done(ToGrpcStatus(st));
    models = req.version().empty() ? core_->LoadedModels(req.name())
                                   : std::vector<std::shared_ptr<Model>>{model};
  }
  FillModelStatistics(models, res);
  done(grpc::Status::OK);
}

void RpcHandlers::RepositoryIndex(const inference::RepositoryIndexRequest& req,
                                  inference::RepositoryIndexResponse* res, const RpcDone& done) {
  for (const auto& e : core_->RepositoryIndex()) {
    if (req.ready() && e.state != "READY") continue;
    auto* m = res->add_models();
    m->set_name(e.name);
    m->set_version(e.version);
    m->set_state(e.state);
    m->set_reason(e.reason);
  }
  done(grpc::Status::OK);
}

void RpcHandlers::RepositoryModelLoad(const inference::RepositoryModelLoadRequest& req,
                                      inference::RepositoryModelLoadResponse*, const RpcDone& done) {
  LoadOverrides overrides;
  Status st = ParseLoadParameters(req.parameters(), &overrides);
  if (!st.ok()) return done(ToGrpcStatus(st));
  core_->LoadModelAsync(req.model_name(), std::move(overrides),
                        [done](const Status& s) { done(ToGrpcStatus(s)); });
}

void RpcHandlers::RepositoryModelUnload(const inference::RepositoryModelUnloadRequest& req,
                                        inference::RepositoryModelUnloadResponse*, const RpcDone& done) {
  LoadOverrides parameters;
  Status st = ParseLoadParameters(req.parameters(), &parameters);
  if (!st.ok()) return done(ToGrpcStatus(st));
  core_->UnloadModelAsync(req.model_name(), parameters.unload_dependents,
                          [done](const Status& s) { done(ToGrpcStatus(s)); });
}

void RpcHandlers::SystemSharedMemoryStatus(const inference::SystemSharedMemoryStatusRequest& req,
                                           inference::SystemSharedMemoryStatusResponse* res,
                                           const RpcDone& done) {
  std::vector<SharedMemoryRegionInfo> regions;
  Status st = core_->shared_memory().GetStatus(req.name(), &regions);
  if (!st.ok()) return done(ToGrpcStatus(st));
  for (const auto& r : regions) {
    auto& out = (*res->mutable_regions())[r.name];
    out.set_name(r.name);
    out.set_key(r.key);
    out.set_offset(r.offset);
    out.set_byte_size(r.byte_size);
  }
  done(grpc::Status::OK);
}

void RpcHandlers::SystemSharedMemoryRegister(const inference::SystemSharedMemoryRegisterRequest& req,
                                             inference::SystemSharedMemoryRegisterResponse*,
                                             const RpcDone& done) {
  done(ToGrpcStatus(core_->shared_memory().Register(req.name(), req.key(), req.offset(), req.byte_size())));
}

void RpcHandlers::SystemSharedMemoryUnregister(const inference::SystemSharedMemoryUnregisterRequest& req,
                                               inference::SystemSharedMemoryUnregisterResponse*,
                                               const RpcDone& done) {
  if (req.name().empty()) core_->shared_memory().UnregisterAll();
  else core_->shared_memory().Unregister(req.name());
  done(grpc::Status::OK);
}

// This build has no CUDA: nothing can be registered, so nothing is listed or removed.
void RpcHandlers::CudaSharedMemoryStatus(const inference::CudaSharedMemoryStatusRequest& req,
                                         inference::CudaSharedMemoryStatusResponse*, const RpcDone& done) {
  if (req.name().empty()) return done(grpc::Status::OK);
  done(ToGrpcStatus(Status::NotFound("Unable to find cuda shared memory region: '" + req.name() + "'")));
}

void RpcHandlers::CudaSharedMemoryRegister(const inference::CudaSharedMemoryRegisterRequest& req,
                                           inference::CudaSharedMemoryRegisterResponse*, const RpcDone& done) {
  done(ToGrpcStatus(Status::InvalidArg(CudaSharedMemoryRefusal(req.name()))));
}

void RpcHandlers::CudaSharedMemoryUnregister(const inference::CudaSharedMemoryUnregisterRequest&,
                                             inference::CudaSharedMemoryUnregisterResponse*,
                                             const RpcDone& done) {
  done(grpc::Status::OK);
}

void RpcHandlers::TraceSetting(const inference::TraceSettingRequest& req, inference::TraceSettingResponse* res,
                               const RpcDone& done) {
  const std::string& model = req.model_name();
  std::shared_ptr<Model> found;
  if (!model.empty() && !core_->GetModel(model, -1, &found).ok()) {
    return done(ToGrpcStatus(Status::InvalidArg("Request for unknown model : " + model)));  // Triton's words
  }
  // An empty list clears a setting, as in Triton.
  std::vector<TraceSettingChange> changes;
  for (const auto& [name, setting] : req.settings()) {
    if (setting.value().empty()) {
      changes.emplace_back(name, std::nullopt);
    } else {
      changes.emplace_back(name, std::vector<std::string>(setting.value().begin(), setting.value().end()));
    }
  }
  if (!changes.empty()) {
    Status st = core_->traces().Update(model, changes);
    if (!st.ok()) return done(ToGrpcStatus(st));
  }
  for (const auto& [name, values] : TraceSettingFields(core_->traces().Get(model))) {
    auto& out = (*res->mutable_settings())[name];
    for (const auto& value : values) out.add_value(value);
  }
  done(grpc::Status::OK);
}

void RpcHandlers::LogSettings(const inference::LogSettingsRequest& req, inference::LogSettingsResponse* res,
                              const RpcDone& done) {
  ::inferd::LogSettings settings = CurrentLogSettings();
  Status st = ApplyLogSettingsRequest(req, &settings);
  if (!st.ok()) return done(ToGrpcStatus(st));
  UpdateLogSettings(settings);
  FillLogSettingsResponse(CurrentLogSettings(), res);
  done(grpc::Status::OK);
}

void RpcHandlers::HealthCheck(const grpc::health::v1::HealthCheckRequest& req,
                              grpc::health::v1::HealthCheckResponse* res, const RpcDone& done) {
  if (!req.service().empty() && req.service() != "inference.GRPCInferenceService") {
    return done(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service '" + req.service() + "'"));
  }
  res->set_status(core_->Ready() ? grpc::health::v1::HealthCheckResponse::SERVING
                                 : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  done(grpc::Status::OK);
}

namespace {

// Adapts a typed handler to bytes in, bytes out.
template <typename Request, typename Response,
          void (RpcHandlers::*Handler)(const Request&, Response*, const RpcDone&)>
void CallWithBytes(RpcHandlers& handlers, std::string_view bytes,
                   std::function<void(const grpc::Status&, std::string)> done) {
  auto request = std::make_shared<Request>();
  if (!request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                             "the request is not a valid " + Request::descriptor()->full_name() + " message"),
                std::string());
  }
  auto response = std::make_shared<Response>();
  auto answered = std::make_shared<std::atomic<bool>>(false);
  RpcDone finish = [request, response, answered, done](const grpc::Status& status) {
    if (answered->exchange(true)) return;
    std::string out;
    if (status.ok() && !response->SerializeToString(&out)) {
      return done(grpc::Status(grpc::StatusCode::INTERNAL, "the response could not be serialized"), std::string());
    }
    done(status, std::move(out));
  };
  try {
    (handlers.*Handler)(*request, response.get(), finish);
  } catch (const std::exception& e) {
    LOG_ERROR("grpc: {} failed: {}", Request::descriptor()->full_name(), e.what());
    finish(grpc::Status(grpc::StatusCode::INTERNAL, std::string("request failed: ") + e.what()));
  }
}

struct Entry {
  std::string_view path;
  UnaryRpc rpc;
};

#define INFERD_UNARY(method, group)                                                        \
  Entry {                                                                                  \
    "/inference.GRPCInferenceService/" #method, UnaryRpc {                                 \
      ApiGroup::group, &CallWithBytes<inference::method##Request, inference::method##Response, \
                                      &RpcHandlers::method>                                \
    }                                                                                      \
  }

const std::unordered_map<std::string_view, UnaryRpc>& UnaryRpcs() {
  static const auto* table = [] {
    const Entry entries[] = {
        INFERD_UNARY(ServerLive, kHealth),
        INFERD_UNARY(ServerReady, kHealth),
        INFERD_UNARY(ModelReady, kHealth),
        INFERD_UNARY(ServerMetadata, kMetadata),
        INFERD_UNARY(ModelMetadata, kMetadata),
        INFERD_UNARY(ModelConfig, kModelConfig),
        INFERD_UNARY(ModelStatistics, kStatistics),
        INFERD_UNARY(RepositoryIndex, kModelRepository),
        INFERD_UNARY(RepositoryModelLoad, kModelRepository),
        INFERD_UNARY(RepositoryModelUnload, kModelRepository),
        INFERD_UNARY(SystemSharedMemoryStatus, kSharedMemory),
        INFERD_UNARY(SystemSharedMemoryRegister, kSharedMemory),
        INFERD_UNARY(SystemSharedMemoryUnregister, kSharedMemory),
        INFERD_UNARY(CudaSharedMemoryStatus, kSharedMemory),
        INFERD_UNARY(CudaSharedMemoryRegister, kSharedMemory),
        INFERD_UNARY(CudaSharedMemoryUnregister, kSharedMemory),
        INFERD_UNARY(TraceSetting, kTrace),
        INFERD_UNARY(LogSettings, kLogging),
        Entry{"/grpc.health.v1.Health/Check",
              UnaryRpc{ApiGroup::kHealth,
                       &CallWithBytes<grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse,
                                      &RpcHandlers::HealthCheck>}},
    };
    auto* map = new std::unordered_map<std::string_view, UnaryRpc>();
    for (const auto& e : entries) map->emplace(e.path, e.rpc);
    return map;
  }();
  return *table;
}

#undef INFERD_UNARY

}  // namespace

const UnaryRpc* FindUnaryRpc(std::string_view path) {
  const auto& table = UnaryRpcs();
  auto it = table.find(path);
  return it == table.end() ? nullptr : &it->second;
}

}  // namespace inferd::grpc_frontend
