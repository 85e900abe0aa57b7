// inference.GRPCInferenceService on inferd's own HTTP/2 server (nghttp2 for
// the HTTP/2 framing, Asio for the sockets and TLS), --grpc-transport=nghttp2
// (the default). grpc++ runs no code on this path: each I/O thread runs an
// event loop of its own, a connection belongs to one loop, and a call is read,
// parsed and answered by that loop's thread, and a quick
// model may execute on that thread too (core/inline_execution.h), so a call
// costs no hand-off between gRPC's threads and ours.
//
// What it serves: every unary RPC (rpc_handlers.h), grpc.health.v1.Health/Check,
// ModelInfer and ModelStreamInfer; gRPC message framing, grpc-status/grpc-message trailers
// (trailers-only answers for errors before any message), grpc-timeout
// deadlines (the request is cancelled and the call ends DEADLINE_EXCEEDED),
// grpc-encoding gzip/deflate for requests and, with
// --grpc-infer-response-compression-level, for infer responses, the
// restricted-protocol metadata, the maximum message size (RESOURCE_EXHAUSTED
// before a larger message is buffered), and HTTP/2 flow control.
// TLS and mutual TLS with ALPN h2 (OpenSSL through Asio), server reflection
// (v1alpha and v1, for grpcurl), keepalive pings and a maximum connection age.
// Not yet: the ping-strike limits on clients' own pings (nghttp2 answers
// them and bounds the answers it queues).
//
// Bounds, against a hostile client: 256 concurrent calls per connection
// (HTTP/2 SETTINGS; nghttp2 refuses more), request bytes being received on a
// connection (not yet handed to the core) at most max(4 × the maximum message
// size, 256 MiB) (calls past that fail RESOURCE_EXHAUSTED), a ModelStreamInfer
// stream's requests in flight and unsent answers (stream_infer.h's budget;
// past it the stream's window stays shut), the client preface (and TLS
// handshake) due within 10 s, header lists of at most 64 KiB, reading paused
// while 4 MiB wait to be written, and nghttp2's own limits on PING/SETTINGS
// floods, CONTINUATION frames and stream resets. Not bounded yet: how long an
// idle connection may stay (until an unanswered keepalive PING).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "core/server.h"
#include "frontend/restricted_api.h"

namespace inferd::grpc_h2 {

struct H2GrpcOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8001;
  int thread_count = 0;  // 0: one per core, at least 2
  int max_message_size = 64 << 20;
  bool reuse_port = false;
  bool compress_infer_responses = false;  // when the client accepts gzip or deflate
  // --grpc-keepalive-time/-timeout: a PING every keepalive_time_ms; the
  // connection is closed when its ACK is not back within keepalive_timeout_ms.
  int keepalive_time_ms = 7200000;
  int keepalive_timeout_ms = 20000;
  // --grpc-max-connection-age(-grace): 0 is no limit. Past the age a
  // connection gets GOAWAY; past the grace too it is closed.
  int max_connection_age_ms = 0;
  int max_connection_age_grace_ms = 0;
  // TLS (ALPN "h2"): PEM contents, not paths. `mutual` requires and verifies
  // a client certificate signed by `root_cert_pem`.
  bool use_tls = false;
  bool mutual = false;
  std::string server_cert_pem, server_key_pem, root_cert_pem;
  RestrictedApis restricted;
};

class H2GrpcServer {
 public:
  H2GrpcServer(Server* core, H2GrpcOptions options);
  ~H2GrpcServer();

  Status Start();
  // Stops accepting, tells every client to go (GOAWAY), waits up to `drain`
  // for the calls in flight, then closes every connection.
  void Stop(std::chrono::milliseconds drain);
  uint16_t port() const { return bound_port_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  uint16_t bound_port_ = 0;
};

}  // namespace inferd::grpc_h2
