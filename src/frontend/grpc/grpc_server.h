// The KServe v2 gRPC endpoint (inference.GRPCInferenceService), on one of two
// transports (--grpc-transport):
//  - nghttp2, the default: inferd's own HTTP/2 server (frontend/grpc_h2);
//  - grpcpp: grpc++'s server. ModelInfer runs on completion queues polled by
//    a fixed set of threads of ours; the other RPCs on grpc++'s callback API
//    (gRPC's own fixed pool).
// Never a thread per call: inference runs on the model instances and its
// answer finishes the call from there. Both transports answer the other RPCs
// with the same handlers (rpc_handlers.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "core/inline_execution.h"
#include "core/server.h"
#include "frontend/restricted_api.h"

namespace grpc {
class Server;
class ServerCompletionQueue;
}

namespace inferd::grpc_h2 {
class H2GrpcServer;
}

namespace inferd::grpc_frontend {

struct GrpcSslOptions {
  bool use_ssl = false;
  bool mutual = false;      // require and verify a client certificate
  std::string server_cert;  // PEM files
  std::string server_key;
  std::string root_cert;    // CA for client certificates (mutual TLS)
};

struct GrpcKeepaliveOptions {
  int keepalive_time_ms = 7200000;
  int keepalive_timeout_ms = 20000;
  bool keepalive_permit_without_calls = false;
  int http2_max_pings_without_data = 2;
  int http2_min_recv_ping_interval_without_data_ms = 300000;
  int http2_max_ping_strikes = 2;
};

struct GrpcOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8001;
  GrpcSslOptions ssl;
  GrpcKeepaliveOptions keepalive;
  // Compression of infer responses: none, low, medium or high.
  std::string infer_response_compression_level = "none";
  int infer_thread_count = 0;  // threads polling ModelInfer queues; 0: one per core (at least 2)
  // The largest request message accepted (--grpc-max-message-size); larger
  // ones fail with RESOURCE_EXHAUSTED before they are buffered whole.
  int max_message_size = 64 << 20;
  bool reuse_port = false;  // SO_REUSEPORT (--reuse-grpc-port): off, so a port has one server
  // --grpc-max-connection-age(-grace): 0 leaves gRPC's default (no limit).
  int max_connection_age_ms = 0;
  int max_connection_age_grace_ms = 0;
  RestrictedApis restricted;  // --grpc-restricted-protocol
  // --grpc-transport: "nghttp2" (inferd's own HTTP/2 server,
  // frontend/grpc_h2: less than half grpc++'s CPU per call) or "grpcpp"
  // (grpc++'s server, the one before it, kept as a fallback).
  std::string transport = "nghttp2";
};

class GrpcServer {
 public:
  GrpcServer(Server* core, GrpcOptions options);
  ~GrpcServer();

  // Binds and starts serving; fails with a clear message when the port is
  // taken or a certificate cannot be read.
  Status Start();
  // Stops taking RPCs; waits up to `drain` for those in flight (the core has
  // answered every request by then), then cancels what is left.
  void Stop(std::chrono::milliseconds drain);

  uint16_t port() const { return bound_port_; }

  class Service;
  class HealthService;

 private:
  Status StartH2(int compression_level);

  Server* core_;
  GrpcOptions options_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> infer_queues_;
  std::vector<std::thread> infer_threads_;
  std::unique_ptr<InlineExecutionBudget> inline_budget_;  // for the infer threads
  std::unique_ptr<grpc_h2::H2GrpcServer> h2_;  // --grpc-transport=nghttp2
  uint16_t bound_port_ = 0;
};

}  // namespace inferd::grpc_frontend
