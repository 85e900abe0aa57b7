// ModelStreamInfer: one bidirectional stream, any number of requests, each
// answered by one response (or, for a decoupled model, 0..N responses).
//
// Requests are read one after the other and handed to the core as soon as
// they arrive; responses are written in the order they are produced, one
// write at a time (gRPC allows no more). An error for one request is sent as
// a message with error_message and the stream goes on. The stream finishes
// once the client closed its side and every request got its final response.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <mutex>

#include "core/server.h"
#include "grpc_service.grpc.pb.h"

namespace inferd::grpc_frontend {

class StreamInferReactor
    : public grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  explicit StreamInferReactor(Server* core);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;  // deletes the reactor

 private:
  void StartNextRead();
  void HandleRequest(std::shared_ptr<inference::ModelInferRequest> message);
  // Queues a message (null: nothing to send) from the response callback of a
  // request; `final` ends that request.
  void Send(std::unique_ptr<inference::ModelStreamInferResponse> message, bool final);
  // Called with mu_ held: starts the next write, or decides to finish. The
  // caller then performs what it decided, with mu_ released.
  struct Next {
    inference::ModelStreamInferResponse* write = nullptr;
    bool finish = false;
  };
  Next Advance();
  void Perform(const Next& next);

  Server* core_;
  std::shared_ptr<inference::ModelInferRequest> incoming_;  // the read in progress

  std::mutex mu_;
  std::deque<std::unique_ptr<inference::ModelStreamInferResponse>> queue_;  // guarded by mu_
  std::unique_ptr<inference::ModelStreamInferResponse> writing_;             // guarded by mu_
  int64_t outstanding_ = 0;  // requests without a final response; guarded by mu_
  bool reads_done_ = false;  // guarded by mu_
  bool broken_ = false;      // a write failed: the client is gone; guarded by mu_
  bool finished_ = false;    // guarded by mu_
};

}  // namespace inferd::grpc_frontend
