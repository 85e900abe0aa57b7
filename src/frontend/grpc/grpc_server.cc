#include "frontend/grpc/grpc_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <cctype>
#include <optional>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/logging.h"
#include "common/thread_name.h"
#include "core/trace.h"
#include "frontend/grpc/grpc_codec.h"
#include "frontend/grpc/rpc_handlers.h"
#include "frontend/grpc_h2/h2_grpc_server.h"
#include "frontend/grpc/stream_infer.h"
#include "grpc_service.grpc.pb.h"
#include "health.grpc.pb.h"

namespace inferd::grpc_frontend {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

ServerUnaryReactor* Done(CallbackServerContext* ctx, const grpc::Status& status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
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
  Service(Server* core, grpc_compression_level level, const RestrictedApis& restricted)
      : handlers_(core, restricted), compression_(level) {}

  // OK, or PERMISSION_DENIED when `group` is restricted and the call lacks
  // its metadata (--grpc-restricted-protocol).
  grpc::Status Allowed(const grpc::ServerContextBase& ctx, ApiGroup group) const {
    const auto& metadata = ctx.client_metadata();
    return handlers_.Allowed(group, [&](std::string_view key) -> std::optional<std::string_view> {
      auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
      if (it == metadata.end()) return std::nullopt;
      return std::string_view(it->second.data(), it->second.size());
    });
  }

  ServerUnaryReactor* ServerLive(CallbackServerContext* ctx, const inference::ServerLiveRequest* req,
                                 inference::ServerLiveResponse* res) override {
    return Unary(ctx, ApiGroup::kHealth, &RpcHandlers::ServerLive, *req, res);
  }
  ServerUnaryReactor* ServerReady(CallbackServerContext* ctx, const inference::ServerReadyRequest* req,
                                  inference::ServerReadyResponse* res) override {
    return Unary(ctx, ApiGroup::kHealth, &RpcHandlers::ServerReady, *req, res);
  }
  ServerUnaryReactor* ModelReady(CallbackServerContext* ctx, const inference::ModelReadyRequest* req,
                                 inference::ModelReadyResponse* res) override {
    return Unary(ctx, ApiGroup::kHealth, &RpcHandlers::ModelReady, *req, res);
  }
  ServerUnaryReactor* ServerMetadata(CallbackServerContext* ctx, const inference::ServerMetadataRequest* req,
                                     inference::ServerMetadataResponse* res) override {
    return Unary(ctx, ApiGroup::kMetadata, &RpcHandlers::ServerMetadata, *req, res);
  }
  ServerUnaryReactor* ModelMetadata(CallbackServerContext* ctx, const inference::ModelMetadataRequest* req,
                                    inference::ModelMetadataResponse* res) override {
    return Unary(ctx, ApiGroup::kMetadata, &RpcHandlers::ModelMetadata, *req, res);
  }
  ServerUnaryReactor* ModelConfig(CallbackServerContext* ctx, const inference::ModelConfigRequest* req,
                                  inference::ModelConfigResponse* res) override {
    return Unary(ctx, ApiGroup::kModelConfig, &RpcHandlers::ModelConfig, *req, res);
  }
  ServerUnaryReactor* ModelStatistics(CallbackServerContext* ctx,
                                      const inference::ModelStatisticsRequest* req,
                                      inference::ModelStatisticsResponse* res) override {
    return Unary(ctx, ApiGroup::kStatistics, &RpcHandlers::ModelStatistics, *req, res);
  }
  ServerUnaryReactor* RepositoryIndex(CallbackServerContext* ctx,
                                      const inference::RepositoryIndexRequest* req,
                                      inference::RepositoryIndexResponse* res) override {
    return Unary(ctx, ApiGroup::kModelRepository, &RpcHandlers::RepositoryIndex, *req, res);
  }
  ServerUnaryReactor* RepositoryModelLoad(CallbackServerContext* ctx,
                                          const inference::RepositoryModelLoadRequest* req,
                                          inference::RepositoryModelLoadResponse* res) override {
    return Unary(ctx, ApiGroup::kModelRepository, &RpcHandlers::RepositoryModelLoad, *req, res);
  }
  ServerUnaryReactor* RepositoryModelUnload(CallbackServerContext* ctx,
                                            const inference::RepositoryModelUnloadRequest* req,
                                            inference::RepositoryModelUnloadResponse* res) override {
    return Unary(ctx, ApiGroup::kModelRepository, &RpcHandlers::RepositoryModelUnload, *req, res);
  }
  ServerUnaryReactor* SystemSharedMemoryStatus(CallbackServerContext* ctx,
                                               const inference::SystemSharedMemoryStatusRequest* req,
                                               inference::SystemSharedMemoryStatusResponse* res) override {
    return Unary(ctx, ApiGroup::kSharedMemory, &RpcHandlers::SystemSharedMemoryStatus, *req, res);
  }
  ServerUnaryReactor* SystemSharedMemoryRegister(CallbackServerContext* ctx,
                                                 const inference::SystemSharedMemoryRegisterRequest* req,
                                                 inference::SystemSharedMemoryRegisterResponse* res) override {
    return Unary(ctx, ApiGroup::kSharedMemory, &RpcHandlers::SystemSharedMemoryRegister, *req, res);
  }
  ServerUnaryReactor* SystemSharedMemoryUnregister(CallbackServerContext* ctx,
                                                   const inference::SystemSharedMemoryUnregisterRequest* req,
                                                   inference::SystemSharedMemoryUnregisterResponse* res) override {
    return Unary(ctx, ApiGroup::kSharedMemory, &RpcHandlers::SystemSharedMemoryUnregister, *req, res);
  }
  ServerUnaryReactor* CudaSharedMemoryStatus(CallbackServerContext* ctx,
                                             const inference::CudaSharedMemoryStatusRequest* req,
                                             inference::CudaSharedMemoryStatusResponse* res) override {
    return Unary(ctx, ApiGroup::kSharedMemory, &RpcHandlers::CudaSharedMemoryStatus, *req, res);
  }
  ServerUnaryReactor* CudaSharedMemoryRegister(CallbackServerContext* ctx,
                                               const inference::CudaSharedMemoryRegisterRequest* req,
                                               inference::CudaSharedMemoryRegisterResponse* res) override {
    return Unary(ctx, ApiGroup::kSharedMemory, &RpcHandlers::CudaSharedMemoryRegister, *req, res);
  }
  ServerUnaryReactor* CudaSharedMemoryUnregister(CallbackServerContext* ctx,
                                                 const inference::CudaSharedMemoryUnregisterRequest* req,
                                                 inference::CudaSharedMemoryUnregisterResponse* res) override {
    return Unary(ctx, ApiGroup::kSharedMemory, &RpcHandlers::CudaSharedMemoryUnregister, *req, res);
  }
  ServerUnaryReactor* TraceSetting(CallbackServerContext* ctx, const inference::TraceSettingRequest* req,
                                   inference::TraceSettingResponse* res) override {
    return Unary(ctx, ApiGroup::kTrace, &RpcHandlers::TraceSetting, *req, res);
  }
  ServerUnaryReactor* LogSettings(CallbackServerContext* ctx, const inference::LogSettingsRequest* req,
                                  inference::LogSettingsResponse* res) override {
    return Unary(ctx, ApiGroup::kLogging, &RpcHandlers::LogSettings, *req, res);
  }

  Server* core() const { return handlers_.core(); }
  grpc_compression_level compression() const { return compression_; }

  // Every unary RPC runs through here: the restriction check, then the
  // handler (rpc_handlers.h), which answers once, now or later; an exception
  // it throws before answering becomes INTERNAL for that call.
  template <typename Request, typename Response>
  ServerUnaryReactor* Unary(CallbackServerContext* ctx, ApiGroup group,
                            void (RpcHandlers::*handler)(const Request&, Response*, const RpcDone&),
                            const Request& req, Response* res) {
    grpc::Status allowed = Allowed(*ctx, group);
    if (!allowed.ok()) return Done(ctx, allowed);
    auto* reactor = ctx->DefaultReactor();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    RpcDone done = [reactor, answered](const grpc::Status& status) {
      if (!answered->exchange(true)) reactor->Finish(status);
    };
    try {
      (handlers_.*handler)(req, res, done);
    } catch (const std::exception& e) {
      LOG_ERROR("grpc: {} failed: {}", ApiGroupName(group), e.what());
      done(grpc::Status(grpc::StatusCode::INTERNAL, std::string("request failed: ") + e.what()));
    }
    return reactor;
  }

  grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
  ModelStreamInfer(CallbackServerContext* ctx) override {
    if (compression_ != GRPC_COMPRESS_LEVEL_NONE) ctx->set_compression_level(compression_);
    // A restricted stream ends before any message is read.
    return new StreamInferReactor(core(), Allowed(*ctx, ApiGroup::kInference), Traceparent(*ctx));
  }

 private:
  RpcHandlers handlers_;
  const grpc_compression_level compression_;
};

// One ModelInfer call on a completion queue: listening for a call, then
// running it; the tag of both steps is the call itself.
class AsyncInferCall {
 public:
  // Waits for the next ModelInfer call on `cq`.
  static void Listen(GrpcServer::Service* service, grpc::ServerCompletionQueue* cq) {
    auto* call = new AsyncInferCall(service, cq);
    // gRPC says when the call is over, and whether the client cancelled it,
    // with a second tag: the call's address with its low bit set.
    call->ctx_.AsyncNotifyWhenDone(reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(call) | 1));
    service->RequestModelInfer(&call->ctx_, call->request_message_, &call->writer_, cq, cq, call);
  }

  // The queue delivered one of this call's tags. Every tag of a call comes
  // on its own queue, which one thread polls: these never run concurrently.
  static void Dispatch(void* tag, bool ok) {
    const auto bits = reinterpret_cast<uintptr_t>(tag);
    auto* call = reinterpret_cast<AsyncInferCall*>(bits & ~uintptr_t{1});
    if (bits & 1) call->Done();
    else call->Proceed(ok);
  }

 private:
  void Proceed(bool ok) {
    if (listening_ && ok) {
      listening_ = false;
      Listen(service_, cq_);  // the next call, before this one runs
      return Run();
    }
    // The answering thread's Finish call (which reads the message while it
    // serializes it) is over before the call goes: gRPC may deliver the tag
    // before Finish returns. The acquire also makes what that thread wrote
    // visible to tools that cannot see gRPC's own locking.
    if (!listening_) {
      while (!finish_returned_.load(std::memory_order_acquire)) std::this_thread::yield();
    }
    if (trace_) trace_->Stamp("GRPC_SEND_END", NowNs());
    // Shut down before a call came (gRPC then never sends the done tag), or
    // the answer is sent: gone once the done tag came too.
    finish_seen_ = true;
    if (listening_ || done_seen_) delete this;
  }

  // The call is over: answered, or cancelled by the client (or its deadline),
  // in which case the request, if the core still has it, is cancelled.
  void Done() {
    done_seen_ = true;
    if (ctx_.IsCancelled()) {
      // Triton's words: its QA looks for them in the verbose log.
      LOG_VERBOSE("Cancellation notification received for ModelInfer call from {}", ctx_.peer());
      if (auto request = request_.lock()) request->Cancel();
    }
    if (finish_seen_) delete this;
  }

  AsyncInferCall(GrpcServer::Service* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), listen_ns_(NowNs()), writer_(&ctx_) {}

  static google::protobuf::ArenaOptions ArenaInBlock(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }

  void Run() {
    if (service_->compression() != GRPC_COMPRESS_LEVEL_NONE) {
      ctx_.set_compression_level(service_->compression());
    }
    grpc::Status allowed = service_->Allowed(ctx_, ApiGroup::kInference);
    if (!allowed.ok()) return FinishOnce(nullptr, allowed);
    try {
      auto request = std::make_shared<InferenceRequest>();
      request->receive_ns = NowNs();
      // Triton's trace stamps: waiting for the call, then reading it.
      request->frontend = InferenceRequest::Frontend::kGrpc;
      request->read_start_ns = listen_ns_;
      request->read_end_ns = request->receive_ns;
      request->traceparent = Traceparent(ctx_);
      // The message lives in this call until its answer is sent, which is
      // after the final response: raw inputs can point into it.
      request->on_response = [this](std::unique_ptr<InferenceResponse> response) {
        if (response->request->trace) {  // the call holds it until the answer is sent
          trace_ = response->request->trace;
          trace_->Stamp("GRPC_SEND_START", NowNs());
        }
        if (!response->status.ok()) return FinishOnce(nullptr, ToGrpcStatus(response->status));
        try {
          EncodeModelInferResponse(*response, response_message_);
        } catch (const std::exception& e) {
          return FinishOnce(nullptr, grpc::Status(grpc::StatusCode::INTERNAL,
                                                  std::string("encoding the response failed: ") + e.what()));
        }
        FinishOnce(response_message_, grpc::Status::OK);
      };
      Status st = ParseModelInferRequest(*request_message_, request.get());
      request_ = request;
      if (!st.ok()) service_->core()->Reject(request, st);
      else service_->core()->Infer(request);
    } catch (const std::exception& e) {
      // Before the core took the request (Infer and Reject never throw).
      FinishOnce(nullptr, grpc::Status(grpc::StatusCode::INTERNAL, std::string("request failed: ") + e.what()));
    }
  }

  // Ends the call with `message` (or with the error `status`), once.
  void FinishOnce(const inference::ModelInferResponse* message, const grpc::Status& status) {
    if (answered_.exchange(true, std::memory_order_acq_rel)) return;
    if (message) writer_.Finish(*message, status, this);
    else writer_.FinishWithError(status, this);
    finish_returned_.store(true, std::memory_order_release);
  }

  GrpcServer::Service* service_;
  grpc::ServerCompletionQueue* cq_;
  bool listening_ = true;
  bool finish_seen_ = false, done_seen_ = false;  // the two tags of a call that started
  std::weak_ptr<InferenceRequest> request_;  // to cancel it while the core has it
  const uint64_t listen_ns_;  // when the call began to be waited for
  std::shared_ptr<RequestTrace> trace_;  // set, for a traced request, before the answer is sent
  std::atomic<bool> answered_{false};
  std::atomic<bool> finish_returned_{false};  // the answering thread is out of Finish
  grpc::ServerContext ctx_;
  // The request and response messages are built in an arena whose first
  // block is part of this call: parsing a request and encoding its answer
  // (tens of small messages, repeated fields and strings) then costs no heap
  // allocation until they outgrow the block. The arena frees both messages.
  static constexpr size_t kArenaBlockBytes = 4096;
  alignas(16) char arena_block_[kArenaBlockBytes];
  google::protobuf::Arena arena_{ArenaInBlock(arena_block_, kArenaBlockBytes)};
  inference::ModelInferRequest* request_message_ =
      google::protobuf::Arena::CreateMessage<inference::ModelInferRequest>(&arena_);
  inference::ModelInferResponse* response_message_ =
      google::protobuf::Arena::CreateMessage<inference::ModelInferResponse>(&arena_);
  grpc::ServerAsyncResponseWriter<inference::ModelInferResponse> writer_;
};

// grpc.health.v1.Health (RpcHandlers::HealthCheck). It sits in the 'health'
// group of --grpc-restricted-protocol. Watch is not served (UNIMPLEMENTED, as
// in Triton).
class GrpcServer::HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  explicit HealthService(GrpcServer::Service* inference) : inference_(inference) {}

  ServerUnaryReactor* Check(CallbackServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                            grpc::health::v1::HealthCheckResponse* res) override {
    return inference_->Unary(ctx, ApiGroup::kHealth, &RpcHandlers::HealthCheck, *req, res);
  }

 private:
  GrpcServer::Service* inference_;
};

GrpcServer::GrpcServer(Server* core, GrpcOptions options)
    : core_(core), options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Stop(std::chrono::milliseconds(0)); }

Status GrpcServer::Start() {
  // Debian builds Abseil without NDEBUG, which leaves its mutexes' deadlock
  // detection on: every lock gRPC takes (several per call) was recorded in a
  // global lock-order graph, 2% of the server's CPU on the identity model.
  // Lock order is gRPC's business and it is tested upstream; Abseil's release
  // builds do the same.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  grpc_compression_level level;
  if (!ParseCompressionLevel(options_.infer_response_compression_level, &level)) {
    return Status::InvalidArg("--grpc-infer-response-compression-level must be none, low, medium "
                              "or high, not '" + options_.infer_response_compression_level + "'");
  }
  const GrpcSslOptions& ssl = options_.ssl;
  if (options_.transport == "nghttp2") return StartH2(level);
  if (options_.transport != "grpcpp") {
    return Status::InvalidArg("--grpc-transport must be grpcpp or nghttp2, not '" + options_.transport + "'");
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
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

  service_ = std::make_unique<Service>(core_, level, options_.restricted);
  health_ = std::make_unique<HealthService>(service_.get());
  // Server reflection, so that grpcurl and similar tools can list and call
  // the services without their .proto files.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string endpoint = options_.address + ":" + std::to_string(options_.port);
  int selected_port = 0;
  builder.AddListeningPort(endpoint, credentials, &selected_port);
  builder.RegisterService(service_.get());
  builder.RegisterService(health_.get());
  // Requests are bounded (each is buffered whole before it is parsed);
  // answers may be as large as protobuf allows, as Triton's.
  builder.SetMaxReceiveMessageSize(options_.max_message_size);
  builder.SetMaxSendMessageSize(std::numeric_limits<int>::max());
  // Without this gRPC sets SO_REUSEPORT, and a second server could bind the
  // same port and take half of the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, options_.reuse_port ? 1 : 0);
  const GrpcKeepaliveOptions& k = options_.keepalive;
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, k.keepalive_time_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, k.keepalive_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, k.keepalive_permit_without_calls ? 1 : 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, k.http2_max_pings_without_data);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             k.http2_min_recv_ping_interval_without_data_ms);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, k.http2_max_ping_strikes);
  if (options_.max_connection_age_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, options_.max_connection_age_ms);
  }
  if (options_.max_connection_age_grace_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, options_.max_connection_age_grace_ms);
  }
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
  inline_budget_ = std::make_unique<InlineExecutionBudget>(infer_threads);
  for (auto& cq : infer_queues_) {
    // A few calls wait on each queue, so that a burst is taken at once.
    for (int i = 0; i < 4; ++i) AsyncInferCall::Listen(service_.get(), cq.get());
    infer_threads_.emplace_back([queue = cq.get(), budget = inline_budget_.get()] {
      // A quick model with an idle instance may run on the thread that read
      // its request (core/inline_execution.h).
      NameThisThread("grpc-infer");
      InlineExecutionScope inline_execution(budget);
      void* tag;
      bool ok;
      while (queue->Next(&tag, &ok)) AsyncInferCall::Dispatch(tag, ok);
    });
  }
  LOG_INFO("Started GRPCInferenceService at {}:{}{}", options_.address, bound_port_,
           ssl.use_ssl ? (ssl.mutual ? " (mutual TLS)" : " (TLS)") : "");
  return Status::Ok();
}

Status GrpcServer::StartH2(int level) {
  grpc_h2::H2GrpcOptions o;
  const GrpcSslOptions& ssl = options_.ssl;
  if (ssl.use_ssl) {
    o.use_tls = true;
    o.mutual = ssl.mutual;
    INFERD_RETURN_IF_ERROR(ReadFile(ssl.server_key, "--grpc-server-key", &o.server_key_pem));
    INFERD_RETURN_IF_ERROR(ReadFile(ssl.server_cert, "--grpc-server-cert", &o.server_cert_pem));
    if (!ssl.root_cert.empty()) {
      INFERD_RETURN_IF_ERROR(ReadFile(ssl.root_cert, "--grpc-root-cert", &o.root_cert_pem));
    } else if (ssl.mutual) {
      return Status::InvalidArg("--grpc-use-ssl-mutual needs --grpc-root-cert");
    }
  }
  o.address = options_.address;
  o.port = options_.port;
  o.thread_count = options_.infer_thread_count;
  o.max_message_size = options_.max_message_size;
  o.reuse_port = options_.reuse_port;
  o.compress_infer_responses = level != GRPC_COMPRESS_LEVEL_NONE;
  o.keepalive_time_ms = options_.keepalive.keepalive_time_ms;
  o.keepalive_timeout_ms = options_.keepalive.keepalive_timeout_ms;
  o.max_connection_age_ms = options_.max_connection_age_ms;
  o.max_connection_age_grace_ms = options_.max_connection_age_grace_ms;
  o.restricted = options_.restricted;
  h2_ = std::make_unique<grpc_h2::H2GrpcServer>(core_, std::move(o));
  Status st = h2_->Start();
  if (!st.ok()) {
    h2_.reset();
    return st;
  }
  bound_port_ = h2_->port();
  return Status::Ok();
}

void GrpcServer::Stop(std::chrono::milliseconds drain) {
  if (h2_) {
    h2_->Stop(drain);
    h2_.reset();
    return;
  }
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
  health_.reset();
}

}  // namespace inferd::grpc_frontend
