#include "frontend/grpc_h2/h2_connection.h"

#include <algorithm>
#include <cstring>

#include "common/logging.h"
#include "frontend/grpc/grpc_codec.h"
#include "frontend/grpc/stream_infer.h"
#include "frontend/grpc_h2/grpc_wire.h"
#include "frontend/grpc_h2/server_reflection.h"
#include "grpc_service.pb.h"

namespace inferd::grpc_h2 {
namespace asio = boost::asio;
using error_code = boost::system::error_code;
using grpc::Status;
using grpc::StatusCode;

namespace {

constexpr uint32_t kMaxConcurrentStreams = 256;
constexpr size_t kMaxHeaderListBytes = 64 * 1024;
constexpr auto kPrefaceTimeout = std::chrono::seconds(10);
// Reading pauses while this much waits to be written (the client is not
// reading its answers), and resumes once it is written.
constexpr size_t kMaxPendingWriteBytes = 4 << 20;
constexpr std::string_view kInferPath = "/inference.GRPCInferenceService/ModelInfer";
constexpr std::string_view kStreamInferPath = "/inference.GRPCInferenceService/ModelStreamInfer";
constexpr std::string_view kReflectionV1AlphaPath = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
constexpr std::string_view kReflectionV1Path = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

nghttp2_nv Header(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

std::string_view View(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

Connection* Self(void* user_data) { return static_cast<Connection*>(user_data); }

// `message` behind a gRPC prefix, compressed with `encoding` when set. Fails
// (empty, `status` set) for a message larger than gRPC's 4 GiB frame.
std::string Framed(const google::protobuf::Message& message, const std::optional<http::Encoding>& encoding,
                   Status* status) {
  const size_t size = message.ByteSizeLong();
  if (size > UINT32_MAX) {
    *status = Status(StatusCode::RESOURCE_EXHAUSTED,
                     "the response message is larger than gRPC can carry (" + std::to_string(size) + " bytes)");
    return {};
  }
  if (encoding) {
    std::string plain;
    message.SerializeToString(&plain);
    std::string packed = http::Compress(*encoding, plain);
    if (packed.size() <= UINT32_MAX) {
      std::string framed(kMessagePrefixBytes, '\0');
      WriteMessagePrefix(true, static_cast<uint32_t>(packed.size()), framed.data());
      return framed + packed;
    }
  }
  std::string framed(kMessagePrefixBytes + size, '\0');
  WriteMessagePrefix(false, static_cast<uint32_t>(size), framed.data());
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(framed.data() + kMessagePrefixBytes));
  return framed;
}

// A core request read from `call` now, for Triton's trace stamps read from
// `read_start_ns` (0: now, as for each message of a stream).
std::shared_ptr<InferenceRequest> NewRequest(const Call& call, uint64_t read_start_ns) {
  auto request = std::make_shared<InferenceRequest>();
  request->receive_ns = NowNs();
  request->frontend = InferenceRequest::Frontend::kGrpc;
  request->read_start_ns = read_start_ns != 0 ? read_start_ns : request->receive_ns;
  request->read_end_ns = request->receive_ns;
  request->traceparent = call.traceparent;
  return request;
}

std::string FramedBytes(std::string_view message) {
  std::string framed(kMessagePrefixBytes + message.size(), '\0');
  WriteMessagePrefix(false, static_cast<uint32_t>(message.size()), framed.data());
  std::memcpy(framed.data() + kMessagePrefixBytes, message.data(), message.size());
  return framed;
}

// A ModelStreamInfer message that reports an error for one request.
std::string FramedStreamError(const std::string& text, const std::string& id) {
  inference::ModelStreamInferResponse out;
  out.set_error_message(text);
  out.mutable_infer_response()->set_id(id);
  Status ignored;
  return Framed(out, std::nullopt, &ignored);
}

}  // namespace

Connection::Connection(ConnectionSocket socket, H2Context* context)
    : strand_(socket.get_executor()), socket_(std::move(socket)), context_(context), preface_timer_(strand_),
      keepalive_timer_(strand_), age_timer_(strand_) {
  if (context_->tls) tls_ = std::make_unique<TlsStream>(std::move(socket_), *context_->tls);
}

Connection::~Connection() {
  if (session_) nghttp2_session_del(session_);
}

void Connection::Start() {
  // The client has kPrefaceTimeout for its TLS handshake and HTTP/2 preface.
  preface_timer_.expires_after(kPrefaceTimeout);
  preface_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec && !self->preface_seen_) {
      LOG_VERBOSE("grpc: a client sent no HTTP/2 preface within {} s; closed", kPrefaceTimeout.count());
      self->CloseNow();
    }
  });
  if (!tls_) return StartSession();
  tls_->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
    if (self->closed_) return;
    if (ec) {
      // A plaintext client, an untrusted certificate, no "h2" in ALPN, ...
      LOG_VERBOSE("grpc: TLS handshake failed: {}", ec.message());
      return self->CloseNow();
    }
    self->StartSession();
  });
}

void Connection::StartSession() {
  nghttp2_session_callbacks* callbacks;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return CloseNow();
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &OnFrameSend);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
  nghttp2_option* option;
  if (nghttp2_option_new(&option) != 0) {
    nghttp2_session_callbacks_del(callbacks);
    return CloseNow();
  }
  // Flow control is ours: a ModelStreamInfer stream that is over its budget
  // stops taking bytes, so its client stops sending (OnDataChunk, PumpStream).
  nghttp2_option_set_no_auto_window_update(option, 1);
  const int rv = nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) {
    session_ = nullptr;
    LOG_ERROR("grpc: cannot start an HTTP/2 session: {}", nghttp2_strerror(rv));
    return CloseNow();
  }
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kMaxHeaderListBytes)},
      // Windows larger than HTTP/2's 64 KiB, so that a large request is not
      // held back by window updates; the connection's budget bounds memory.
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 4u << 20},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, 16 << 20);
  KeepAlive();
  if (context_->options.max_connection_age_ms > 0) AgeOut(false);
  Flush();
  Read();
}

void Connection::KeepAlive() {
  const auto& o = context_->options;
  if (o.keepalive_time_ms <= 0) return;
  keepalive_timer_.expires_after(std::chrono::milliseconds(o.keepalive_time_ms));
  keepalive_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->closed_) return;
    nghttp2_submit_ping(self->session_, NGHTTP2_FLAG_NONE, nullptr);
    self->ping_unanswered_ = true;
    self->Flush();
    self->keepalive_timer_.expires_after(
        std::chrono::milliseconds(std::max(1, self->context_->options.keepalive_timeout_ms)));
    self->keepalive_timer_.async_wait([self](const error_code& wait_ec) {
      if (wait_ec || self->closed_) return;
      if (self->ping_unanswered_) {
        LOG_VERBOSE("grpc: a client did not answer a keepalive PING within {} ms; closed",
                    self->context_->options.keepalive_timeout_ms);
        return self->CloseNow();
      }
      self->KeepAlive();
    });
  });
}

void Connection::AgeOut(bool grace_passed) {
  const auto& o = context_->options;
  age_timer_.expires_after(std::chrono::milliseconds(grace_passed ? std::max(0, o.max_connection_age_grace_ms)
                                                                  : o.max_connection_age_ms));
  age_timer_.async_wait([self = shared_from_this(), grace_passed](const error_code& ec) {
    if (ec || self->closed_) return;
    if (grace_passed) return self->CloseNow();
    // Clients reconnect on GOAWAY; calls already open finish within the grace.
    nghttp2_submit_goaway(self->session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(self->session_), NGHTTP2_NO_ERROR, nullptr, 0);
    self->Flush();
    if (self->context_->options.max_connection_age_grace_ms > 0) self->AgeOut(true);
  });
}

void Connection::Close() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->CloseNow(); });
}

void Connection::GoAway() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    if (self->closed_ || !self->session_) return;
    nghttp2_submit_goaway(self->session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(self->session_), NGHTTP2_NO_ERROR, nullptr, 0);
    self->Flush();
  });
}

// --- nghttp2 callbacks ---
// Each is a function-try-block: an exception (only bad_alloc can come from
// these bodies) must not unwind through nghttp2's C frames; failing the
// callback makes mem_recv fail, and OnRead then closes the connection.

int Connection::OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) try {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto call = std::make_shared<Call>(frame->hd.stream_id, NowNs());
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call.get());
  Self(user_data)->calls_.emplace(frame->hd.stream_id, std::move(call));
  return 0;
} catch (...) {
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // nothing may unwind through nghttp2 (C): the connection ends
}

int Connection::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t, void* user_data) try {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto* self = Self(user_data);
  Call* call = self->Find(frame->hd.stream_id);
  if (!call) return 0;
  call->header_bytes += namelen + valuelen + 32;  // HTTP/2's accounting of a header list
  if (call->header_bytes > kMaxHeaderListBytes) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
  self->ReadHeader(*call, View(name, namelen), View(value, valuelen));
  return 0;
} catch (...) {
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // nothing may unwind through nghttp2 (C): the connection ends
}

int Connection::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                            void* user_data) try {
  auto* self = Self(user_data);
  // The connection's window reopens at once, whatever the stream: one stream
  // that waits must not stop the others.
  nghttp2_session_consume_connection(session, len);
  Call* call = self->Find(stream_id);
  if (call && !call->finished) self->ReadBody(*call, View(data, len));
  // The stream's window too, unless it is a stream over its budget: its
  // client may then send at most one window more until it drains.
  if (call && call->paused && !call->finished) {
    call->withheld_bytes += len;
  } else {
    nghttp2_session_consume_stream(session, stream_id, len);
  }
  return 0;
} catch (...) {
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // nothing may unwind through nghttp2 (C): the connection ends
}

int Connection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) try {
  auto* self = Self(user_data);
  self->preface_seen_ = true;  // nghttp2 checked the preface before any frame
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) self->ping_unanswered_ = false;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  Call* call = self->Find(frame->hd.stream_id);
  if (!call) return 0;
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) call->request_ended = true;
  // The headers are complete: the call is checked (and a stream begins) at
  // once; a unary call runs once its message is complete.
  if (frame->hd.type == NGHTTP2_HEADERS || call->request_ended) self->Queue(*call);
  return 0;
} catch (...) {
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // nothing may unwind through nghttp2 (C): the connection ends
}

int Connection::OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) try {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
  Call* call = Self(user_data)->Find(frame->hd.stream_id);
  // Answered before the client finished sending (an error): the rest of its
  // request is not wanted. After the answer, so that the client reads it.
  if (call && !call->request_ended) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
} catch (...) {
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // nothing may unwind through nghttp2 (C): the connection ends
}

int Connection::OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t http2_error, void* user_data) try {
  auto* self = Self(user_data);
  auto it = self->calls_.find(stream_id);
  if (it == self->calls_.end()) return 0;
  std::shared_ptr<Call> call = std::move(it->second);
  self->calls_.erase(it);
  self->EndCall(*call, http2_error);
  return 0;
} catch (...) {
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // nothing may unwind through nghttp2 (C): the connection ends
}

ssize_t Connection::ReadOut(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                            uint32_t* data_flags, nghttp2_data_source* source, void*) try {
  auto* call = static_cast<Call*>(source->ptr);
  const size_t available = call->out.size() - call->out_offset;
  const size_t n = std::min(length, available);
  std::memcpy(buf, call->out.data() + call->out_offset, n);
  call->out_offset += n;
  if (call->out_offset == call->out.size()) {
    call->out.clear();
    call->out_offset = 0;
  }
  if (n < available) return static_cast<ssize_t>(n);
  if (call->finished) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    const std::string code = std::to_string(static_cast<int>(call->status.error_code()));
    const std::string text = PercentEncodeGrpcMessage(call->status.error_message());
    nghttp2_nv trailers[2] = {Header("grpc-status", code), Header("grpc-message", text)};
    if (nghttp2_submit_trailer(session, stream_id, trailers, text.empty() ? 1 : 2) != 0) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return static_cast<ssize_t>(n);
  }
  if (n == 0) {
    call->deferred = true;  // Send resumes it
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(n);
} catch (...) {
  return NGHTTP2_ERR_CALLBACK_FAILURE;  // nothing may unwind through nghttp2 (C): the connection ends
}

// --- reading calls ---

Call* Connection::Find(int32_t stream_id) {
  auto it = calls_.find(stream_id);
  return it == calls_.end() ? nullptr : it->second.get();
}

void Connection::ReadHeader(Call& call, std::string_view name, std::string_view value) {
  if (name == ":path") {
    if (value == kInferPath) call.kind = Call::Kind::kInfer;
    else if (value == kStreamInferPath) call.kind = Call::Kind::kStreamInfer;
    else if (value == kReflectionV1AlphaPath || value == kReflectionV1Path) call.kind = Call::Kind::kReflection;
    else if ((call.unary = grpc_frontend::FindUnaryRpc(value))) call.kind = Call::Kind::kUnary;
    else call.unknown_path = std::string(value.substr(0, 256));
  } else if (name == ":method") {
    call.is_post = value == "POST";
  } else if (name == "content-type") {
    // "application/grpc", or "application/grpc+proto" and the like.
    call.grpc_content_type = value.substr(0, 16) == "application/grpc" &&
                             (value.size() == 16 || value[16] == '+' || value[16] == ';');
  } else if (name == "grpc-encoding") {
    call.encoding_name = std::string(value.substr(0, 64));
    call.bad_encoding = !http::ParseContentEncoding(value, &call.request_encoding).ok();
  } else if (name == "grpc-accept-encoding") {
    if (context_->options.compress_infer_responses) {
      const http::Encoding e = http::ChooseResponseEncoding(value);
      if (e != http::Encoding::kIdentity) call.response_encoding = e;
    }
  } else if (name == "grpc-timeout") {
    call.timeout_ns = ParseGrpcTimeout(value);
  } else if (name == "traceparent") {
    call.traceparent = std::string(value.substr(0, 256));
  } else if (name.substr(0, 21) == "triton-grpc-protocol-") {
    for (size_t g = 0; g < kApiGroupCount; ++g) {
      const std::string* key = context_->handlers.RestrictionKey(static_cast<ApiGroup>(g));
      if (key && *key == name) {
        call.restricted_metadata.emplace_back(*key, std::string(value));
        break;
      }
    }
  }
}

void Connection::ReadBody(Call& call, std::string_view data) {
  const uint64_t max = static_cast<uint64_t>(context_->options.max_message_size);
  if (buffered_bytes_ + data.size() > context_->connection_budget_bytes) {
    return Refuse(call, Status(StatusCode::RESOURCE_EXHAUSTED,
                               "this connection holds too many request bytes (the limit is " +
                                   std::to_string(context_->connection_budget_bytes) + "); send fewer at once"));
  }
  call.body.append(data);
  call.charged_bytes += data.size();
  buffered_bytes_ += data.size();
  // Each message's prefix is checked as soon as it is here, so that one over
  // the limit is refused before it is buffered.
  bool complete = false;
  while (call.body.size() - call.scan_offset >= kMessagePrefixBytes) {
    std::optional<MessagePrefix> prefix = ReadMessagePrefix(std::string_view(call.body).substr(call.scan_offset));
    if (!prefix) return Refuse(call, Status(StatusCode::INTERNAL, "invalid gRPC message flag"));
    if (prefix->length > max) {
      return Refuse(call, Status(StatusCode::RESOURCE_EXHAUSTED,
                                 "Received message larger than max (" + std::to_string(prefix->length) + " vs. " +
                                     std::to_string(max) + ")"));
    }
    const size_t total = kMessagePrefixBytes + size_t{prefix->length};
    if (!call.streaming() && call.scan_offset > 0) {
      return Refuse(call, Status(StatusCode::INTERNAL, "protocol violation: a unary call carries one message"));
    }
    if (call.body.size() - call.scan_offset < total) {
      call.body.reserve(call.scan_offset + total);  // bounded by the limit checked above
      break;
    }
    call.scan_offset += total;
    complete = true;
  }
  if (complete && call.streaming()) Queue(call);
}

void Connection::Queue(Call& call) {
  if (call.queued) return;
  auto it = calls_.find(call.stream_id);
  if (it == calls_.end()) return;
  call.queued = true;
  ready_.push_back(it->second);
}

bool Connection::Check(Call& call) {
  if (!call.is_post || !call.grpc_content_type) {
    Refuse(call, Status(StatusCode::INTERNAL,
                        "not a gRPC request: it must be a POST with content-type application/grpc"));
    return false;
  }
  if (call.kind == Call::Kind::kUnknown) {
    Refuse(call, Status(StatusCode::UNIMPLEMENTED, "unknown method '" + call.unknown_path + "'"));
    return false;
  }
  if (call.bad_encoding) {
    Refuse(call, Status(StatusCode::UNIMPLEMENTED, "grpc-encoding '" + call.encoding_name + "' is not supported"));
    return false;
  }
  if (call.kind == Call::Kind::kUnary || call.kind == Call::Kind::kReflection) {
    call.response_encoding.reset();  // only inference answers are compressed
  }
  if (call.kind == Call::Kind::kReflection) return true;  // in no API group, as on Triton
  const ApiGroup group = call.kind == Call::Kind::kUnary ? call.unary->group : ApiGroup::kInference;
  Status allowed = context_->handlers.Allowed(group, [&](std::string_view key) -> std::optional<std::string_view> {
    for (const auto& [k, v] : call.restricted_metadata)
      if (k == key) return std::string_view(v);
    return std::nullopt;
  });
  if (!allowed.ok()) {
    Refuse(call, std::move(allowed));
    return false;
  }
  return true;
}

bool Connection::TakePayload(Call& call, std::string_view framed, std::string* inflated,
                             std::string_view* payload) {
  if (framed.empty()) {  // no message at all: an empty one
    *payload = {};
    return true;
  }
  const MessagePrefix prefix = *ReadMessagePrefix(framed);  // checked in ReadBody
  *payload = framed.substr(kMessagePrefixBytes);
  if (!prefix.compressed) return true;
  if (call.request_encoding == http::Encoding::kIdentity) {
    Refuse(call, Status(StatusCode::INTERNAL, "a compressed message without a grpc-encoding"));
    return false;
  }
  ::inferd::Status st = http::Decompress(call.request_encoding, std::string(*payload),
                                         static_cast<size_t>(context_->options.max_message_size), inflated);
  if (!st.ok()) {
    // Over the limit once inflated is RESOURCE_EXHAUSTED; a message that does
    // not inflate is INTERNAL, as gRPC has them.
    const bool too_large = st.message().find("exceeds") != std::string::npos;
    Refuse(call, Status(too_large ? StatusCode::RESOURCE_EXHAUSTED : StatusCode::INTERNAL,
                        "the compressed request message: " + st.message()));
    return false;
  }
  *payload = *inflated;
  return true;
}

void Connection::Run(const std::shared_ptr<Call>& call) {
  Call& c = *call;
  c.queued = false;
  if (c.finished || c.closed) return;
  if (!c.started) {
    c.started = true;
    if (!Check(c)) return;
    if (c.kind == Call::Kind::kInfer || c.kind == Call::Kind::kStreamInfer) {
      c.counted = true;
      context_->calls_in_flight.fetch_add(1, std::memory_order_relaxed);
    }
    StartDeadline(call);
  }
  if (c.streaming()) return PumpStream(call);
  if (!c.request_ended || c.responded.load()) return;
  if (!c.body.empty() && c.scan_offset != c.body.size()) {
    return Refuse(c, Status(StatusCode::INTERNAL, "the request ended inside its message"));
  }
  std::string inflated;
  std::string_view payload;
  if (!TakePayload(c, c.body, &inflated, &payload)) return;
  if (c.kind == Call::Kind::kInfer) return StartInfer(call, payload);
  c.unary->call(context_->handlers, payload,
                [self = shared_from_this(), call](const Status& status, std::string response) {
                  self->Respond(call, status.ok() ? FramedBytes(response) : std::string(), status);
                });
}

// grpc-timeout: when it passes, the call's requests are cancelled and it ends
// DEADLINE_EXCEEDED (answers that come later are dropped).
void Connection::StartDeadline(const std::shared_ptr<Call>& call) {
  if (!call->timeout_ns) return;
  call->deadline.emplace(strand_);
  call->deadline->expires_after(std::chrono::nanoseconds(*call->timeout_ns));
  call->deadline->async_wait([self = shared_from_this(), weak = std::weak_ptr<Call>(call)](const error_code& ec) {
    auto expired = weak.lock();
    if (ec || !expired || expired->finished || expired->closed) return;
    if (!expired->streaming() && expired->responded.exchange(true)) return;
    if (auto request = expired->request.lock()) request->Cancel();
    for (const auto& weak_request : expired->in_core)
      if (auto request = weak_request.lock()) request->Cancel();
    self->Finish(*expired, Status(StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"));
    self->Flush();
  });
}

void Connection::StartInfer(const std::shared_ptr<Call>& call, std::string_view payload) {
  auto* message = google::protobuf::Arena::CreateMessage<inference::ModelInferRequest>(&call->arena);
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Refuse(*call, Status(StatusCode::INVALID_ARGUMENT,
                                "the request is not a valid inference.ModelInferRequest message"));
  }
  // Parsed: the message has its own copy of every byte it needs.
  std::string().swap(call->body);
  call->scan_offset = 0;
  Release(*call);
  try {
    auto request = NewRequest(*call, call->start_ns);
    // The call (and its arena, where raw inputs point) lives until the
    // request is answered.
    request->on_response = [self = shared_from_this(), call](std::unique_ptr<InferenceResponse> response) {
      std::shared_ptr<RequestTrace> trace = response->request->trace;
      if (trace) trace->Stamp("GRPC_SEND_START", NowNs());
      if (!response->status.ok()) {
        return self->Respond(call, std::string(), grpc_frontend::ToGrpcStatus(response->status));
      }
      std::string framed;
      Status status;
      try {
        auto* out = google::protobuf::Arena::CreateMessage<inference::ModelInferResponse>(&call->arena);
        grpc_frontend::EncodeModelInferResponse(*response, out);
        framed = Framed(*out, call->response_encoding, &status);
      } catch (const std::exception& e) {
        status = Status(StatusCode::INTERNAL, std::string("encoding the response failed: ") + e.what());
      }
      if (!status.ok()) framed.clear();
      self->Respond(call, std::move(framed), status);
      if (trace) trace->Stamp("GRPC_SEND_END", NowNs());
    };
    ::inferd::Status st = grpc_frontend::ParseModelInferRequest(*message, request.get());
    call->request = request;
    if (!st.ok()) context_->core->Reject(request, st);
    else context_->core->Infer(request);
  } catch (const std::exception& e) {
    // Before the core took the request (Infer and Reject never throw).
    Refuse(*call, Status(StatusCode::INTERNAL, std::string("request failed: ") + e.what()));
  }
}

// ModelStreamInfer: takes the complete messages received, each a request
// handed to the core in the order the client sent them, while the stream is
// within its budget (stream_infer.h: kStreamBufferBytes of requests in flight
// and answers not yet sent, kStreamMaxOutstanding requests); past it, the
// messages wait (and the client's window with them) until answers drain.
// The stream ends once the client ended its side and every request got its
// final response.
void Connection::PumpStream(const std::shared_ptr<Call>& call) {
  Call& c = *call;
  if (c.finished || c.closed) return;
  c.pumping = true;
  while (!c.finished) {
    const uint64_t unsent = c.out.size() - c.out_offset;
    if (c.outstanding >= grpc_frontend::kStreamMaxOutstanding ||
        c.request_bytes + unsent > grpc_frontend::kStreamBufferBytes) {
      if (!c.paused) {
        c.paused = true;
        paused_.push_back(call);  // OnWrite looks again; so does each final answer
      }
      break;
    }
    if (c.paused) {
      // Under budget again: the client's window reopens.
      c.paused = false;
      if (c.withheld_bytes > 0) nghttp2_session_consume_stream(session_, c.stream_id, c.withheld_bytes);
      c.withheld_bytes = 0;
    }
    if (c.body_offset == c.scan_offset) break;  // no complete message
    const std::string_view rest = std::string_view(c.body).substr(c.body_offset);
    const size_t total = kMessagePrefixBytes + size_t{ReadMessagePrefix(rest)->length};
    std::string inflated;
    std::string_view payload;
    if (!TakePayload(c, rest.substr(0, total), &inflated, &payload)) break;
    c.body_offset += total;
    c.charged_bytes -= total;
    buffered_bytes_ -= total;
    if (c.kind == Call::Kind::kReflection) Send(c, FramedBytes(AnswerReflection(payload)));
    else StartStreamRequest(call, payload, total);
  }
  c.pumping = false;
  if (c.body_offset == c.body.size()) {
    c.body.clear();
    c.body_offset = c.scan_offset = 0;
  } else if (c.body_offset > (64u << 10) && c.body_offset * 2 > c.body.size()) {
    c.body.erase(0, c.body_offset);
    c.scan_offset -= c.body_offset;
    c.body_offset = 0;
  }
  if (!c.finished && c.request_ended && c.outstanding == 0 && c.body_offset == c.scan_offset) {
    if (!c.body.empty()) return Finish(c, Status(StatusCode::INTERNAL, "the stream ended inside a message"));
    Finish(c, Status::OK);
  }
}

void Connection::StartStreamRequest(const std::shared_ptr<Call>& call, std::string_view payload, uint64_t bytes) {
  auto message = std::make_shared<inference::ModelInferRequest>();
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    // This request fails; the stream goes on.
    return Send(*call, FramedStreamError("the request is not a valid inference.ModelInferRequest message", ""));
  }
  const bool flag_final = grpc_frontend::WantsFinalFlags(*message);
  ++call->outstanding;
  call->request_bytes += bytes;
  try {
    auto request = NewRequest(*call, 0);
    request->accepts_many_responses = true;
    request->on_response = [self = shared_from_this(), call, flag_final,
                            bytes](std::unique_ptr<InferenceResponse> response) {
      std::shared_ptr<RequestTrace> trace = response->request->trace;
      if (trace) trace->Stamp("GRPC_SEND_START", NowNs());
      std::string framed;
      try {
        inference::ModelStreamInferResponse out;
        if (grpc_frontend::EncodeStreamInferResponse(*response, flag_final, &out)) {
          Status status;
          framed = Framed(out, call->response_encoding, &status);
          if (!status.ok()) framed = FramedStreamError(status.error_message(), response->request->id);
        }
      } catch (const std::exception& e) {
        framed = FramedStreamError(std::string("encoding the response failed: ") + e.what(), response->request->id);
      }
      self->RespondOnStream(call, Call::StreamAnswer{std::move(framed), response->final, bytes, std::move(trace)});
    };
    ::inferd::Status st = grpc_frontend::ParseModelInferRequest(*message, request.get());
    request->keep_alive.push_back(message);  // raw inputs point into it
    if (!st.ok()) return context_->core->Reject(request, st);  // answered through on_response
    call->in_core.push_back(request);
    context_->core->Infer(request);
  } catch (const std::exception& e) {
    // Before the core took the request (Infer and Reject never throw).
    --call->outstanding;
    call->request_bytes -= bytes;
    Send(*call, FramedStreamError(std::string("request failed: ") + e.what(), message->id()));
  }
}

// --- answering ---

void Connection::Respond(std::shared_ptr<Call> call, std::string message, Status status) {
  if (call->responded.exchange(true, std::memory_order_acq_rel)) return;  // the deadline answered it
  // On this connection's strand (an inline execution, or a handler that
  // answered at once) it is answered here; from another thread it hops over.
  asio::dispatch(strand_, [self = shared_from_this(), call = std::move(call),
                                          message = std::move(message), status = std::move(status)]() mutable {
    if (!message.empty()) self->Send(*call, std::move(message));
    self->Finish(*call, std::move(status));
    if (!self->in_recv_) self->Flush();
  });
}

void Connection::RespondOnStream(const std::shared_ptr<Call>& call, Call::StreamAnswer answer) {
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(call->answers_mu);
    call->answers.push_back(std::move(answer));
    schedule = !std::exchange(call->drain_scheduled, true);
  }
  if (schedule) asio::dispatch(strand_, [self = shared_from_this(), call] { self->DrainStream(call); });
}

void Connection::DrainStream(const std::shared_ptr<Call>& call) {
  Call& c = *call;
  std::vector<Call::StreamAnswer> answers;
  {
    std::lock_guard<std::mutex> lock(c.answers_mu);
    answers.swap(c.answers);
    c.drain_scheduled = false;
  }
  bool any_final = false;
  for (auto& answer : answers) {
    if (!answer.message.empty()) Send(c, std::move(answer.message));
    if (answer.trace) answer.trace->Stamp("GRPC_SEND_END", NowNs());
    if (answer.final) {
      any_final = true;
      --c.outstanding;
      c.request_bytes -= answer.request_bytes;
    }
  }
  if (any_final) {
    if (c.in_core.size() > 64 && c.in_core.size() > 2 * static_cast<size_t>(c.outstanding)) {
      std::erase_if(c.in_core, [](const std::weak_ptr<InferenceRequest>& r) { return r.expired(); });
    }
    if (!c.pumping) PumpStream(call);
  }
  if (!in_recv_) Flush();
}

void Connection::Send(Call& call, std::string framed) {
  if (call.finished || call.closed || closed_) return;
  if (call.out.empty()) call.out = std::move(framed);  // no copy for the usual single answer
  else call.out.append(framed);
  StartOrResume(call);
}

void Connection::Finish(Call& call, Status status) {
  if (call.finished) return;
  call.finished = true;
  call.status = std::move(status);
  if (call.deadline) call.deadline->cancel();
  Release(call);
  if (call.counted) {
    call.counted = false;
    context_->calls_in_flight.fetch_sub(1, std::memory_order_relaxed);
  }
  if (call.closed || closed_) return;
  if (!call.response_started && call.out_offset == call.out.size()) {
    // Trailers-only: the status in the one HEADERS frame that ends the stream.
    const std::string code = std::to_string(static_cast<int>(call.status.error_code()));
    const std::string text = PercentEncodeGrpcMessage(call.status.error_message());
    nghttp2_nv headers[4] = {Header(":status", "200"), Header("content-type", "application/grpc"),
                             Header("grpc-status", code), Header("grpc-message", text)};
    call.response_started = true;
    nghttp2_submit_response(session_, call.stream_id, headers, text.empty() ? 3 : 4, nullptr);
    return;
  }
  StartOrResume(call);
}

void Connection::Refuse(Call& call, Status status) {
  if (!call.streaming() && call.responded.exchange(true)) return;
  Finish(call, std::move(status));
}

void Connection::StartOrResume(Call& call) {
  if (call.closed || closed_) return;
  if (!call.response_started) {
    call.response_started = true;
    nghttp2_data_provider provider;
    provider.source.ptr = &call;
    provider.read_callback = &ReadOut;
    nghttp2_nv headers[3] = {Header(":status", "200"), Header("content-type", "application/grpc"),
                             Header("grpc-encoding", call.response_encoding
                                                         ? http::EncodingName(*call.response_encoding)
                                                         : "identity")};
    nghttp2_submit_response(session_, call.stream_id, headers, call.response_encoding ? 3 : 2, &provider);
  } else if (call.deferred) {
    call.deferred = false;
    nghttp2_session_resume_data(session_, call.stream_id);
  }
}

void Connection::Release(Call& call) {
  buffered_bytes_ -= call.charged_bytes;
  call.charged_bytes = 0;
}

void Connection::EndCall(Call& call, uint32_t http2_error) {
  call.closed = true;
  if (call.deadline) call.deadline->cancel();
  if (!call.finished) {
    // The client cancelled the call (or the connection went): the core drops
    // what it still has. Triton's words: its QA looks for them in the log.
    if (auto request = call.request.lock()) {
      LOG_VERBOSE("Cancellation notification received for ModelInfer call (HTTP/2 error code {})", http2_error);
      request->Cancel();
    }
    if (call.kind == Call::Kind::kStreamInfer) {
      size_t cancelled = 0;
      for (const auto& weak : call.in_core) {
        if (auto request = weak.lock()) {
          request->Cancel();
          ++cancelled;
        }
      }
      LOG_VERBOSE("Cancellation notification received for ModelStreamInfer stream: {} request(s) in flight cancelled",
                  cancelled);
    }
  }
  if (!call.finished) Finish(call, Status(StatusCode::CANCELLED, "the stream closed"));  // releases, uncounts; sends nothing
}

// --- socket I/O ---

void Connection::Read() {
  if (closed_ || reading_) return;
  if (pending_.size() + writing_.size() > kMaxPendingWriteBytes) {
    read_paused_ = true;  // OnWrite resumes
    return;
  }
  reading_ = true;
  auto done = [self = shared_from_this()](const error_code& ec, size_t n) {
    self->reading_ = false;
    self->OnRead(ec, n);
  };
  if (tls_) tls_->async_read_some(asio::buffer(in_), std::move(done));
  else socket_.async_read_some(asio::buffer(in_), std::move(done));
}

void Connection::OnRead(const error_code& ec, size_t n) {
  if (closed_) return;
  if (ec) {
    if (ec != asio::error::eof && ec != asio::error::connection_reset && ec != asio::error::operation_aborted &&
        ec != asio::ssl::error::stream_truncated) {
      LOG_VERBOSE("grpc read: {}", ec.message());
    }
    return CloseNow();
  }
  in_recv_ = true;
  const ssize_t rv = nghttp2_session_mem_recv(session_, in_.data(), n);
  in_recv_ = false;
  if (rv < 0) {
    LOG_VERBOSE("grpc: HTTP/2 error from a client: {}", nghttp2_strerror(static_cast<int>(rv)));
    // nghttp2 queued a GOAWAY saying why where it could: send it, then close.
    close_after_write_ = true;
    Flush();
    if (!write_in_flight_) CloseNow();
    return;
  }
  // What the read completed runs now, outside nghttp2's callbacks: a call
  // may be answered at once, and a model may execute on this thread.
  std::vector<std::shared_ptr<Call>> ready;
  ready.swap(ready_);
  for (const auto& call : ready) Run(call);
  ready.clear();
  ready_.swap(ready);  // (nothing was queued meanwhile) keeps the capacity
  Flush();
  if (closed_) return;
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
    close_after_write_ = true;
    if (!write_in_flight_) CloseNow();
    return;
  }
  Read();
}

void Connection::Flush() {
  if (closed_ || !session_) return;
  for (;;) {
    const uint8_t* data;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      LOG_VERBOSE("grpc: HTTP/2 send failed: {}", nghttp2_strerror(static_cast<int>(n)));
      return CloseNow();
    }
    if (n == 0) break;
    pending_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (write_in_flight_ || pending_.empty()) return;
  writing_.swap(pending_);
  write_in_flight_ = true;
  auto done = [self = shared_from_this()](const error_code& ec, size_t) { self->OnWrite(ec); };
  if (tls_) asio::async_write(*tls_, asio::buffer(writing_), std::move(done));
  else asio::async_write(socket_, asio::buffer(writing_), std::move(done));
}

void Connection::OnWrite(const error_code& ec) {
  write_in_flight_ = false;
  writing_.clear();
  if (ec) return CloseNow();
  // Streams that waited for their answers to drain go on.
  if (!paused_.empty()) {
    std::vector<std::weak_ptr<Call>> paused;
    paused.swap(paused_);
    for (const auto& weak : paused) {
      if (auto call = weak.lock(); call && call->paused) {
        PumpStream(call);
        if (call->paused) paused_.push_back(call);  // still over: looked at after the next write
      }
    }
  }
  Flush();
  if (closed_) return;
  if (!write_in_flight_ && close_after_write_) return CloseNow();
  if (read_paused_ && !write_in_flight_) {
    read_paused_ = false;
    Read();
  }
}

void Connection::CloseNow() {
  if (closed_) return;
  closed_ = true;
  preface_timer_.cancel();
  keepalive_timer_.cancel();
  age_timer_.cancel();
  error_code ignored;
  Lowest().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  Lowest().close(ignored);
  // Every open call ends: what the core still has of it is cancelled.
  auto calls = std::move(calls_);
  calls_.clear();
  for (auto& [id, call] : calls) EndCall(*call, NGHTTP2_CANCEL);
  ready_.clear();
  paused_.clear();
}

}  // namespace inferd::grpc_h2
