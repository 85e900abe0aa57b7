// InferClient over gRPC (inference.GRPCInferenceService), synchronous calls
// on a channel that the clients of one GrpcChannel share.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>

#include "client/infer_client.h"
#include "grpc_service.grpc.pb.h"

namespace inferd::client {

class GrpcChannel {
 public:
  explicit GrpcChannel(std::shared_ptr<grpc::Channel> channel)
      : stub_(inference::GRPCInferenceService::NewStub(channel)) {}
  inference::GRPCInferenceService::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

namespace {

uint64_t Now() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

Status FromGrpc(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  const std::string message = what + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT: return Status::InvalidArg(message);
    case grpc::StatusCode::NOT_FOUND: return Status::NotFound(message);
    case grpc::StatusCode::UNAVAILABLE: return Status::Unavailable(message);
    case grpc::StatusCode::UNIMPLEMENTED: return Status::Unsupported(message);
    default: return Status::Internal(message);
  }
}

Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArg("cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return Status::Ok();
}

void Add(ServerStats::Duration* d, const inference::StatisticDuration& s) {
  d->count += s.count();
  d->ns += s.ns();
}

class GrpcClient final : public InferClient {
 public:
  GrpcClient(std::shared_ptr<GrpcChannel> channel, const Headers& headers)
      : channel_(std::move(channel)), headers_(headers) {}

  ~GrpcClient() override {
    if (stream_) {
      stream_->WritesDone();
      inference::ModelStreamInferResponse ignored;
      while (stream_->Read(&ignored)) {
      }
      stream_->Finish();
    }
  }

  Status ServerLive(bool* live) override {
    grpc::ClientContext ctx;
    Setup(&ctx);
    inference::ServerLiveResponse res;
    Status st = FromGrpc(channel_->stub().ServerLive(&ctx, {}, &res), "ServerLive");
    *live = st.ok() && res.live();
    return st;
  }

  Status ModelMetadata(const std::string& model, const std::string& version, ModelInfo* out) override {
    inference::ModelMetadataRequest req;
    req.set_name(model);
    req.set_version(version);
    inference::ModelMetadataResponse meta;
    {
      grpc::ClientContext ctx;
      Setup(&ctx);
      INFERD_RETURN_IF_ERROR(FromGrpc(channel_->stub().ModelMetadata(&ctx, req, &meta), "ModelMetadata"));
    }
    inference::ModelConfigRequest creq;
    creq.set_name(model);
    creq.set_version(version);
    inference::ModelConfigResponse config;
    {
      grpc::ClientContext ctx;
      Setup(&ctx);
      INFERD_RETURN_IF_ERROR(FromGrpc(channel_->stub().ModelConfig(&ctx, creq, &config), "ModelConfig"));
    }
    out->name = meta.name();
    out->versions.assign(meta.versions().begin(), meta.versions().end());
    auto copy = [](const auto& from, std::vector<TensorInfo>* to) {
      for (const auto& t : from) to->push_back({t.name(), t.datatype(), {t.shape().begin(), t.shape().end()}, false});
    };
    copy(meta.inputs(), &out->inputs);
    copy(meta.outputs(), &out->outputs);
    const auto& c = config.config();
    out->max_batch_size = c.max_batch_size();
    out->decoupled = c.model_transaction_policy().decoupled();
    for (const auto& in : c.input())
      for (auto& t : out->inputs)
        if (t.name == in.name()) t.optional = in.optional();
    return Status::Ok();
  }

  Status ModelStatistics(const std::string& model, const std::string& version, ServerStats* out) override {
    inference::ModelStatisticsRequest req;
    req.set_name(model);
    req.set_version(version);
    inference::ModelStatisticsResponse res;
    grpc::ClientContext ctx;
    Setup(&ctx);
    INFERD_RETURN_IF_ERROR(FromGrpc(channel_->stub().ModelStatistics(&ctx, req, &res), "ModelStatistics"));
    *out = ServerStats{};
    for (const auto& m : res.model_stats()) {
      out->inference_count += m.inference_count();
      out->execution_count += m.execution_count();
      const auto& s = m.inference_stats();
      Add(&out->success, s.success());
      Add(&out->fail, s.fail());
      Add(&out->queue, s.queue());
      Add(&out->compute_input, s.compute_input());
      Add(&out->compute_infer, s.compute_infer());
      Add(&out->compute_output, s.compute_output());
      Add(&out->cache_hit, s.cache_hit());
      Add(&out->cache_miss, s.cache_miss());
    }
    return Status::Ok();
  }

  Status Prepare(const InferRequest& request) override {
    request_.Clear();
    request_.set_model_name(request.model);
    request_.set_model_version(request.version);
    for (const auto& in : request.inputs) {
      auto* t = request_.add_inputs();
      t->set_name(in.name);
      t->set_datatype(in.datatype);
      for (int64_t d : in.shape) t->add_shape(d);
      request_.add_raw_input_contents(in.data);
    }
    for (const auto& o : request.outputs) request_.add_outputs()->set_name(o);
    stream_flag_set_ = false;
    return Status::Ok();
  }

  Status StreamInfer(RequestTiming* timing, size_t* responses) override {
    if (!stream_) {
      stream_context_ = std::make_unique<grpc::ClientContext>();
      Setup(stream_context_.get());
      stream_ = channel_->stub().ModelStreamInfer(stream_context_.get());
    }
    if (!stream_flag_set_) {
      // On a stream every response then says whether it is the last (unary
      // calls do not carry the parameter: the server would copy it per request).
      (*request_.mutable_parameters())["triton_enable_empty_final_response"].set_bool_param(true);
      stream_flag_set_ = true;
    }
    const uint64_t t0 = Now();
    if (!stream_->Write(request_)) {
      stream_.reset();
      return Status::Unavailable("ModelStreamInfer: the stream is closed");
    }
    const uint64_t t1 = Now();
    *responses = 0;
    inference::ModelStreamInferResponse message;
    for (;;) {
      if (!stream_->Read(&message)) {
        grpc::Status s = stream_->Finish();
        stream_.reset();
        return FromGrpc(s.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream ended") : s,
                        "ModelStreamInfer");
      }
      if (!message.error_message().empty()) return Status::InvalidArg("ModelStreamInfer: " + message.error_message());
      const auto& res = message.infer_response();
      if (res.outputs_size() > 0) ++*responses;
      auto flag = res.parameters().find("triton_final_response");
      if (flag == res.parameters().end() || flag->second.bool_param()) break;
    }
    if (timing) {
      timing->send_ns = t1 - t0;
      timing->response_wait_ns = Now() - t1;
      timing->receive_ns = 0;
    }
    return Status::Ok();
  }

  Status Infer(RequestTiming* timing, std::vector<OutputTensor>* outputs) override {
    grpc::ClientContext ctx;
    Setup(&ctx);
    inference::ModelInferResponse res;
    const uint64_t t0 = Now();
    grpc::Status s = channel_->stub().ModelInfer(&ctx, request_, &res);
    const uint64_t t1 = Now();
    if (timing) {
      // A synchronous call does not show when the request left: it all
      // counts as waiting for the response.
      timing->send_ns = 0;
      timing->response_wait_ns = t1 - t0;
      timing->receive_ns = 0;
    }
    INFERD_RETURN_IF_ERROR(FromGrpc(s, "ModelInfer"));
    if (outputs) {
      for (int i = 0; i < res.outputs_size(); ++i) {
        const auto& o = res.outputs(i);
        outputs->push_back({o.name(), o.datatype(), {o.shape().begin(), o.shape().end()},
                            i < res.raw_output_contents_size() ? res.raw_output_contents(i) : ""});
      }
    }
    return Status::Ok();
  }

 private:
  void Setup(grpc::ClientContext* ctx) const {
    for (const auto& [k, v] : headers_) ctx->AddMetadata(k, v);
  }

  std::shared_ptr<GrpcChannel> channel_;
  Headers headers_;
  inference::ModelInferRequest request_;
  bool stream_flag_set_ = false;  // request_ carries triton_enable_empty_final_response
  std::unique_ptr<grpc::ClientContext> stream_context_;
  std::unique_ptr<grpc::ClientReaderWriter<inference::ModelInferRequest, inference::ModelStreamInferResponse>> stream_;
};

}  // namespace

Status MakeGrpcChannel(const std::string& url, const GrpcSsl& ssl, std::shared_ptr<GrpcChannel>* out) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (ssl.use_ssl) {
    grpc::SslCredentialsOptions o;
    if (!ssl.root_certificates_file.empty()) INFERD_RETURN_IF_ERROR(ReadFile(ssl.root_certificates_file, &o.pem_root_certs));
    if (!ssl.private_key_file.empty()) INFERD_RETURN_IF_ERROR(ReadFile(ssl.private_key_file, &o.pem_private_key));
    if (!ssl.certificate_chain_file.empty()) INFERD_RETURN_IF_ERROR(ReadFile(ssl.certificate_chain_file, &o.pem_cert_chain));
    credentials = grpc::SslCredentials(o);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(std::numeric_limits<int>::max());
  args.SetMaxSendMessageSize(std::numeric_limits<int>::max());
  *out = std::make_shared<GrpcChannel>(grpc::CreateCustomChannel(url, credentials, args));
  return Status::Ok();
}

std::unique_ptr<InferClient> MakeGrpcClient(std::shared_ptr<GrpcChannel> channel, const Headers& headers) {
  return std::make_unique<GrpcClient>(std::move(channel), headers);
}

}  // namespace inferd::client
