#include "frontend/grpc/grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/logging.h"
#include "frontend/grpc/grpc_codec.h"
#include "frontend/grpc/stream_infer.h"
#include "grpc_service.grpc.pb.h"

namespace inferd::grpc_frontend {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

ServerUnaryReactor* Done(CallbackServerContext* ctx, const grpc::Status& status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

ServerUnaryReactor* Done(CallbackServerContext* ctx, const Status& status) {
  return Done(ctx, ToGrpcStatus(status));
}

ServerUnaryReactor* NotBuilt(CallbackServerContext* ctx, const char* what) {
  return Done(ctx, grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                std::string(what) + " is not supported by inferd"));
}

Status ReadFile(const std::string& path, const char* flag, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArg(std::string(flag) + ": cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return Status::Ok();
}

bool ParseCompressionLevel(const std::string& text, grpc_compression_level* level) {
  if (text == "none") *level = GRPC_COMPRESS_LEVEL_NONE;
  else if (text == "low") *level = GRPC_COMPRESS_LEVEL_LOW;
  else if (text == "medium") *level = GRPC_COMPRESS_LEVEL_MED;
  else if (text == "high") *level = GRPC_COMPRESS_LEVEL_HIGH;
  else return false;
  return true;
}

// Repository load/unload parameters: "config", "file:<version>/<name>",
// "unload_dependents".
Status ParseLoadParameters(
    const google::protobuf::Map<std::string, inference::ModelRepositoryParameter>& params,
    LoadOverrides* overrides) {
  for (const auto& [key, p] : params) {
    if (key == "config") {
      if (!p.has_string_param()) return Status::InvalidArg("parameter 'config' must be a string (JSON)");
      overrides->config_json = p.string_param();
    } else if (key.rfind("file:", 0) == 0) {
      if (!p.has_bytes_param()) return Status::InvalidArg("parameter '" + key + "' must be bytes");
      overrides->files[key.substr(5)] = p.bytes_param();
    } else if (key == "unload_dependents") {
      // Dependents are ensembles, which this build does not have: nothing to do.
    } else {
      return Status::InvalidArg("unknown load/unload parameter '" + key + "'");
    }
  }
  return Status::Ok();
}

}  // namespace

// ModelInfer, the hot path, is served on completion queues that threads of
// our own poll (each thread runs gRPC's I/O for its queue, so an RPC costs no
// hop through gRPC's executor); every other RPC uses the callback API.
// (gRPC can turn a sync method async but not a callback one: the callback
// layers go on top of the async ModelInfer.)
using svc = inference::GRPCInferenceService;
using ServiceBase = svc::WithCallbackMethod_ServerLive<
    svc::WithCallbackMethod_ServerReady<
    svc::WithCallbackMethod_ModelReady<
    svc::WithCallbackMethod_ServerMetadata<
    svc::WithCallbackMethod_ModelMetadata<
    svc::WithCallbackMethod_ModelStreamInfer<
    svc::WithCallbackMethod_ModelConfig<
    svc::WithCallbackMethod_ModelStatistics<
    svc::WithCallbackMethod_RepositoryIndex<
    svc::WithCallbackMethod_RepositoryModelLoad<
    svc::WithCallbackMethod_RepositoryModelUnload<
    svc::WithCallbackMethod_SystemSharedMemoryStatus<
    svc::WithCallbackMethod_SystemSharedMemoryRegister<
    svc::WithCallbackMethod_SystemSharedMemoryUnregister<
    svc::WithCallbackMethod_CudaSharedMemoryStatus<
    svc::WithCallbackMethod_CudaSharedMemoryRegister<
    svc::WithCallbackMethod_CudaSharedMemoryUnregister<
    svc::WithCallbackMethod_TraceSetting<
    svc::WithCallbackMethod_LogSettings<
    svc::WithAsyncMethod_ModelInfer<svc::Service>>>>>>>>>>>>>>>>>>>>;

class GrpcServer::Service final : public ServiceBase {
 public:
  Service(Server* core, grpc_compression_level level) : core_(core), compression_(level) {}

  ServerUnaryReactor* ServerLive(CallbackServerContext* ctx, const inference::ServerLiveRequest*,
                                 inference::ServerLiveResponse* res) override {
    res->set_live(core_->Live());
    return Done(ctx, grpc::Status::OK);
  }

  ServerUnaryReactor* ServerReady(CallbackServerContext* ctx, const inference::ServerReadyRequest*,
                                  inference::ServerReadyResponse* res) override {
    res->set_ready(core_->Ready());
    return Done(ctx, grpc::Status::OK);
  }

  ServerUnaryReactor* ModelReady(CallbackServerContext* ctx, const inference::ModelReadyRequest* req,
                                 inference::ModelReadyResponse* res) override {
    std::shared_ptr<Model> model;
    res->set_ready(Lookup(req->name(), req->version(), &model).ok());
    return Done(ctx, grpc::Status::OK);
  }

  ServerUnaryReactor* ServerMetadata(CallbackServerContext* ctx, const inference::ServerMetadataRequest*,
                                     inference::ServerMetadataResponse* res) override {
    res->set_name("inferd");
    res->set_version(INFERD_VERSION);
    for (const auto& e : ServerExtensions()) res->add_extensions(e);
    return Done(ctx, grpc::Status::OK);
  }

  ServerUnaryReactor* ModelMetadata(CallbackServerContext* ctx, const inference::ModelMetadataRequest* req,
                                    inference::ModelMetadataResponse* res) override {
    std::shared_ptr<Model> model;
    Status st = Lookup(req->name(), req->version(), &model);
    if (!st.ok()) return Done(ctx, st);
    std::vector<int64_t> versions;
    for (const auto& m : core_->LoadedModels(req->name())) versions.push_back(m->version());
    FillModelMetadata(*model, versions, res);
    return Done(ctx, grpc::Status::OK);
  }

  ServerUnaryReactor* ModelConfig(CallbackServerContext* ctx, const inference::ModelConfigRequest* req,
                                  inference::ModelConfigResponse* res) override {
    std::shared_ptr<Model> model;
    Status st = Lookup(req->name(), req->version(), &model);
    if (!st.ok()) return Done(ctx, st);
    *res->mutable_config() = model->config();
    return Done(ctx, grpc::Status::OK);
  }

  ServerUnaryReactor* ModelStatistics(CallbackServerContext* ctx,
                                      const inference::ModelStatisticsRequest* req,
                                      inference::ModelStatisticsResponse* res) override {
    std::vector<std::shared_ptr<Model>> models;
    if (req->name().empty()) {
      models = core_->LoadedModels();
    } else {
      std::shared_ptr<Model> model;
      Status st = Lookup(req->name(), req->version(), &model);
      if (!st.ok()) return Done(ctx, st);
      models = req->version().empty() ? core_->LoadedModels(req->name())
                                      : std::vector<std::shared_ptr<Model>>{model};
    }
    FillModelStatistics(models, res);
    return Done(ctx, grpc::Status::OK);
  }

  ServerUnaryReactor* RepositoryIndex(CallbackServerContext* ctx,
                                      const inference::RepositoryIndexRequest* req,
                                      inference::RepositoryIndexResponse* res) override {
    for (const auto& e : core_->RepositoryIndex()) {
      if (req->ready() && e.state != "READY") continue;
      auto* m = res->add_models();
      m->set_name(e.name);
      m->set_version(e.version);
      m->set_state(e.state);
      m->set_reason(e.reason);
    }
    return Done(ctx, grpc::Status::OK);
  }

  ServerUnaryReactor* RepositoryModelLoad(CallbackServerContext* ctx,
                                          const inference::RepositoryModelLoadRequest* req,
                                          inference::RepositoryModelLoadResponse*) override {
    LoadOverrides overrides;
    Status st = ParseLoadParameters(req->parameters(), &overrides);
    if (!st.ok()) return Done(ctx, st);
    auto* reactor = ctx->DefaultReactor();
    core_->LoadModelAsync(req->model_name(), std::move(overrides),
                          [reactor](const Status& s) { reactor->Finish(ToGrpcStatus(s)); });
    return reactor;
  }

  ServerUnaryReactor* RepositoryModelUnload(CallbackServerContext* ctx,
                                            const inference::RepositoryModelUnloadRequest* req,
                                            inference::RepositoryModelUnloadResponse*) override {
    LoadOverrides ignored;
    Status st = ParseLoadParameters(req->parameters(), &ignored);
    if (!st.ok()) return Done(ctx, st);
    auto* reactor = ctx->DefaultReactor();
    core_->UnloadModelAsync(req->model_name(),
                            [reactor](const Status& s) { reactor->Finish(ToGrpcStatus(s)); });
    return reactor;
  }

  Server* core() const { return core_; }
  grpc_compression_level compression() const { return compression_; }

  grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
  ModelStreamInfer(CallbackServerContext* ctx) override {
    if (compression_ != GRPC_COMPRESS_LEVEL_NONE) ctx->set_compression_level(compression_);
    return new StreamInferReactor(core_);
  }

  ServerUnaryReactor* SystemSharedMemoryStatus(CallbackServerContext* ctx,
                                               const inference::SystemSharedMemoryStatusRequest*,
                                               inference::SystemSharedMemoryStatusResponse*) override {
    return NotBuilt(ctx, "system shared memory");
  }
  ServerUnaryReactor* SystemSharedMemoryRegister(CallbackServerContext* ctx,
                                                 const inference::SystemSharedMemoryRegisterRequest*,
                                                 inference::SystemSharedMemoryRegisterResponse*) override {
    return NotBuilt(ctx, "system shared memory");
  }
  ServerUnaryReactor* SystemSharedMemoryUnregister(
      CallbackServerContext* ctx, const inference::SystemSharedMemoryUnregisterRequest*,
      inference::SystemSharedMemoryUnregisterResponse*) override {
    return NotBuilt(ctx, "system shared memory");
  }
  ServerUnaryReactor* CudaSharedMemoryStatus(CallbackServerContext* ctx,
                                             const inference::CudaSharedMemoryStatusRequest*,
                                             inference::CudaSharedMemoryStatusResponse*) override {
    return NotBuilt(ctx, "CUDA shared memory");
  }
  ServerUnaryReactor* CudaSharedMemoryRegister(CallbackServerContext* ctx,
                                               const inference::CudaSharedMemoryRegisterRequest*,
                                               inference::CudaSharedMemoryRegisterResponse*) override {
    return NotBuilt(ctx, "CUDA shared memory");
  }
  ServerUnaryReactor* CudaSharedMemoryUnregister(CallbackServerContext* ctx,
                                                 const inference::CudaSharedMemoryUnregisterRequest*,
                                                 inference::CudaSharedMemoryUnregisterResponse*) override {
    return NotBuilt(ctx, "CUDA shared memory");
  }
  ServerUnaryReactor* TraceSetting(CallbackServerContext* ctx, const inference::TraceSettingRequest*,
                                   inference::TraceSettingResponse*) override {
    return NotBuilt(ctx, "tracing");
  }
  ServerUnaryReactor* LogSettings(CallbackServerContext* ctx, const inference::LogSettingsRequest*,
                                  inference::LogSettingsResponse*) override {
    return NotBuilt(ctx, "changing log settings at run time");
  }

 private:
  Status Lookup(const std::string& name, const std::string& version_text,
                std::shared_ptr<Model>* model) const {
    int64_t version = -1;
    INFERD_RETURN_IF_ERROR(ParseModelVersion(name, version_text, &version));
    return core_->GetModel(name, version, model);
  }

  Server* core_;
  const grpc_compression_level compression_;
};

// One ModelInfer call on a completion queue: listening for a call, then
// running it; the tag of both steps is the call itself.
class AsyncInferCall {
 public:
  // Waits for the next ModelInfer call on `cq`.
  static void Listen(GrpcServer::Service* service, grpc::ServerCompletionQueue* cq) {
    auto* call = new AsyncInferCall(service, cq);
    service->RequestModelInfer(&call->ctx_, &call->request_message_, &call->writer_, cq, cq, call);
  }

  // The queue delivered this call's tag.
  void Proceed(bool ok) {
    if (listening_ && ok) {
      listening_ = false;
      Listen(service_, cq_);  // the next call, before this one runs
      return Run();
    }
    // Pairs with the release in on_response: what the answering thread wrote
    // is visible here even to tools that cannot see gRPC's own locking.
    answered_.load(std::memory_order_acquire);
    delete this;  // shut down before a call came, or the answer is sent
  }

 private:
  AsyncInferCall(GrpcServer::Service* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), writer_(&ctx_) {}

  void Run() {
    if (service_->compression() != GRPC_COMPRESS_LEVEL_NONE) {
      ctx_.set_compression_level(service_->compression());
    }
    auto request = std::make_shared<InferenceRequest>();
    request->receive_ns = NowNs();
    // The message lives in this call until its answer is sent, which is
    // after the final response: raw inputs can point into it.
    request->on_response = [this](std::unique_ptr<InferenceResponse> response) {
      if (!response->status.ok()) {
        answered_.store(true, std::memory_order_release);
        return writer_.FinishWithError(ToGrpcStatus(response->status), this);
      }
      EncodeModelInferResponse(*response, &response_message_);
      answered_.store(true, std::memory_order_release);
      writer_.Finish(response_message_, grpc::Status::OK, this);
    };
    Status st = ParseModelInferRequest(request_message_, request.get());
    if (!st.ok()) service_->core()->Reject(request, st);
    else service_->core()->Infer(request);
  }

  GrpcServer::Service* service_;
  grpc::ServerCompletionQueue* cq_;
  bool listening_ = true;
  std::atomic<bool> answered_{false};
  grpc::ServerContext ctx_;
  inference::ModelInferRequest request_message_;
  inference::ModelInferResponse response_message_;
  grpc::ServerAsyncResponseWriter<inference::ModelInferResponse> writer_;
};

GrpcServer::GrpcServer(Server* core, GrpcOptions options)
    : core_(core), options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Stop(std::chrono::milliseconds(0)); }

Status GrpcServer::Start() {
  grpc_compression_level level;
  if (!ParseCompressionLevel(options_.infer_response_compression_level, &level)) {
    return Status::InvalidArg("--grpc-infer-response-compression-level must be none, low, medium "
                              "or high, not '" + options_.infer_response_compression_level + "'");
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  const GrpcSslOptions& ssl = options_.ssl;
  if (ssl.use_ssl) {
    grpc::SslServerCredentialsOptions o(ssl.mutual
                                            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    INFERD_RETURN_IF_ERROR(ReadFile(ssl.server_key, "--grpc-server-key", &pair.private_key));
    INFERD_RETURN_IF_ERROR(ReadFile(ssl.server_cert, "--grpc-server-cert", &pair.cert_chain));
    o.pem_key_cert_pairs.push_back(std::move(pair));
    if (!ssl.root_cert.empty()) {
      INFERD_RETURN_IF_ERROR(ReadFile(ssl.root_cert, "--grpc-root-cert", &o.pem_root_certs));
    } else if (ssl.mutual) {
      return Status::InvalidArg("--grpc-use-ssl-mutual needs --grpc-root-cert");
    }
    credentials = grpc::SslServerCredentials(o);
  }

  service_ = std::make_unique<Service>(core_, level);
  grpc::ServerBuilder builder;
  const std::string endpoint = options_.address + ":" + std::to_string(options_.port);
  int selected_port = 0;
  builder.AddListeningPort(endpoint, credentials, &selected_port);
  builder.RegisterService(service_.get());
  // Tensors can be large: no message size limit beyond protobuf's own.
  builder.SetMaxReceiveMessageSize(std::numeric_limits<int>::max());
  builder.SetMaxSendMessageSize(std::numeric_limits<int>::max());
  const GrpcKeepaliveOptions& k = options_.keepalive;
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, k.keepalive_time_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, k.keepalive_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, k.keepalive_permit_without_calls ? 1 : 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, k.http2_max_pings_without_data);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             k.http2_min_recv_ping_interval_without_data_ms);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, k.http2_max_ping_strikes);
  const int infer_threads = options_.infer_thread_count > 0
                                ? options_.infer_thread_count
                                : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < infer_threads; ++i) infer_queues_.push_back(builder.AddCompletionQueue());
  server_ = builder.BuildAndStart();
  if (!server_ || selected_port == 0) {
    server_.reset();
    infer_queues_.clear();
    return Status::Unavailable("cannot listen for gRPC on " + endpoint +
                               " (the address is in use or invalid)");
  }
  bound_port_ = static_cast<uint16_t>(selected_port);
  for (auto& cq : infer_queues_) {
    // A few calls wait on each queue, so that a burst is taken at once.
    for (int i = 0; i < 4; ++i) AsyncInferCall::Listen(service_.get(), cq.get());
    infer_threads_.emplace_back([queue = cq.get()] {
      void* tag;
      bool ok;
      while (queue->Next(&tag, &ok)) static_cast<AsyncInferCall*>(tag)->Proceed(ok);
    });
  }
  LOG_INFO("Started GRPCInferenceService at {}:{}{}", options_.address, bound_port_,
           ssl.use_ssl ? (ssl.mutual ? " (mutual TLS)" : " (TLS)") : "");
  return Status::Ok();
}

void GrpcServer::Stop(std::chrono::milliseconds drain) {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + drain);
  server_->Wait();
  // Then the queues: their threads run every tag left (deleting the calls)
  // and stop once a queue is empty.
  for (auto& cq : infer_queues_) cq->Shutdown();
  for (auto& t : infer_threads_) t.join();
  infer_threads_.clear();
  infer_queues_.clear();
  server_.reset();
}

}  // namespace inferd::grpc_frontend
