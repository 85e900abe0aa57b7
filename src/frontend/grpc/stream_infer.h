// ModelStreamInfer: one bidirectional stream, any number of requests, each
// answered by one response (or, for a decoupled model, 0..N responses).
//
// Requests are read one after the other and handed to the core as soon as
// they arrive; responses are written in the order they are produced, one
// write at a time (gRPC allows no more). An error for one request is sent as
// a message with error_message and the stream goes on. The stream finishes
// once the client closed its side and every request got its final response.
//
// Backpressure: a client that sends and never reads must not grow the server
// without bound. The stream stops reading while the requests it has in flight
// and the responses it could not send yet hold more than kStreamBufferBytes
// (or kStreamMaxOutstanding requests), and reads again once they drain.
//
// Tracing (Triton's stamps): GRPC_WAITREAD_START/END around the read of a
// traced request, GRPC_SEND_START/END around the write of each of its
// responses; the trace is held until its last write is done.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "core/server.h"
#include "core/trace.h"
#include "grpc_service.grpc.pb.h"

namespace inferd::grpc_frontend {

constexpr uint64_t kStreamBufferBytes = 64ull << 20;
constexpr int64_t kStreamMaxOutstanding = 1024;

class StreamInferReactor
    : public grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  // `allowed`: not OK for a restricted stream, which then ends at once with it.
  // `traceparent`: the stream's W3C trace context, for every request on it.
  StreamInferReactor(Server* core, const grpc::Status& allowed, std::string traceparent);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  // The client cancelled the stream (or it broke): every request of it the
  // core still has is cancelled (InferenceRequest::Cancel).
  void OnCancel() override;
  void OnDone() override;  // deletes the reactor

 private:
  void StartNextRead();
  void HandleRequest(std::shared_ptr<inference::ModelInferRequest> message, uint64_t bytes,
                     uint64_t read_start_ns);
  // Queues a message (null: nothing to send) from the response callback of a
  // request; `final` ends that request.
  // `request_bytes` is the size of the request it answers, released with the final one.
  // `request` is the request answered; its final response takes it off the
  // in-flight set.
  void Send(std::unique_ptr<inference::ModelStreamInferResponse> message, bool final, uint64_t request_bytes,
            std::shared_ptr<RequestTrace> trace, const InferenceRequest* request);
  // Called with mu_ held: starts the next write, resumes reading, or decides
  // to finish. The caller then performs what it decided, with mu_ released.
  struct Next {
    inference::ModelStreamInferResponse* write = nullptr;
    bool read = false;
    bool finish = false;
  };
  bool OverBudget() const;  // with mu_ held
  Next Advance();
  void Perform(const Next& next);

  Server* core_;
  const std::string traceparent_;
  std::shared_ptr<inference::ModelInferRequest> incoming_;  // the read in progress
  uint64_t read_start_ns_ = 0;  // when that read began; both owned by the read in progress

  // A response to write, and the trace of its request (null: not traced).
  struct Outgoing {
    std::unique_ptr<inference::ModelStreamInferResponse> message;
    std::shared_ptr<RequestTrace> trace;
  };
  std::mutex mu_;
  std::deque<Outgoing> queue_;  // guarded by mu_
  Outgoing writing_;            // guarded by mu_
  int64_t outstanding_ = 0;  // requests without a final response; guarded by mu_
  // The requests handed to the core and not finally answered (each is alive
  // until its final response, which removes it first); guarded by mu_.
  std::unordered_set<InferenceRequest*> in_core_;
  bool cancelled_ = false;  // guarded by mu_
  // Bytes of requests in flight plus responses queued or being written; guarded by mu_.
  uint64_t buffered_bytes_ = 0;
  uint64_t writing_bytes_ = 0;  // the share of the response being written; guarded by mu_
  bool read_paused_ = false;    // no read is pending because of the budget; guarded by mu_
  bool reads_done_ = false;  // guarded by mu_
  bool broken_ = false;      // a write failed: the client is gone; guarded by mu_
  bool finished_ = false;    // guarded by mu_
};

}  // namespace inferd::grpc_frontend
