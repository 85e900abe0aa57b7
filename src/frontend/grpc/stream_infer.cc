#include "frontend/grpc/stream_infer.h"

#include "common/logging.h"
#include "frontend/grpc/grpc_codec.h"

namespace inferd::grpc_frontend {

StreamInferReactor::StreamInferReactor(Server* core, const grpc::Status& allowed, std::string traceparent)
    : core_(core), traceparent_(std::move(traceparent)) {
  if (!allowed.ok()) {
    finished_ = true;
    Finish(allowed);
    return;
  }
  StartNextRead();
}

void StreamInferReactor::StartNextRead() {
  incoming_ = std::make_shared<inference::ModelInferRequest>();
  read_start_ns_ = NowNs();
  StartRead(incoming_.get());
}

bool StreamInferReactor::OverBudget() const {
  return buffered_bytes_ > kStreamBufferBytes || outstanding_ >= kStreamMaxOutstanding;
}

void StreamInferReactor::OnReadDone(bool ok) {
  if (!ok) {  // the client closed its side (or the stream broke)
    Next next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      reads_done_ = true;
      next = Advance();
    }
    return Perform(next);
  }
  // Taken before the lock: once it is released, a resumed read may reuse them.
  auto message = std::move(incoming_);
  const uint64_t read_start_ns = read_start_ns_;
  const uint64_t bytes = message->ByteSizeLong();
  bool read_more = true;
  {
    // Counted before the next read can end the stream.
    std::lock_guard<std::mutex> lock(mu_);
    ++outstanding_;
    buffered_bytes_ += bytes;
    if (OverBudget()) {
      read_paused_ = true;  // Advance() resumes once enough is answered and sent
      read_more = false;
    }
  }
  // Handed to the core before the next read can complete: requests of one
  // stream reach the core in the order the client sent them (a sequence's
  // START first, then its steps), as Triton runs them.
  HandleRequest(std::move(message), bytes, read_start_ns);
  if (read_more) StartNextRead();
}

void StreamInferReactor::HandleRequest(std::shared_ptr<inference::ModelInferRequest> message,
                                       uint64_t bytes, uint64_t read_start_ns) {
  const bool flag_final = WantsFinalFlags(*message);
  std::shared_ptr<InferenceRequest> request;
  try {
    request = std::make_shared<InferenceRequest>();
    request->receive_ns = NowNs();
    request->frontend = InferenceRequest::Frontend::kGrpc;
    request->read_start_ns = read_start_ns;
    request->read_end_ns = request->receive_ns;
    request->traceparent = traceparent_;
    request->accepts_many_responses = true;
    request->on_response = [this, flag_final, bytes](std::unique_ptr<InferenceResponse> response) {
      const bool final = response->final;
      std::unique_ptr<inference::ModelStreamInferResponse> out;
      try {
        out = std::make_unique<inference::ModelStreamInferResponse>();
        if (!EncodeStreamInferResponse(*response, flag_final, out.get())) out.reset();
      } catch (const std::exception& e) {
        out = std::make_unique<inference::ModelStreamInferResponse>();
        out->set_error_message(std::string("encoding the response failed: ") + e.what());
      }
      Send(std::move(out), final, bytes, response->request->trace, response->request.get());
    };
    Status st = ParseModelInferRequest(*message, request.get());
    request->keep_alive.push_back(message);  // raw inputs point into it
    if (!st.ok()) return core_->Reject(request, st);
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_core_.insert(request.get());
      if (cancelled_) request->Cancel();
    }
    core_->Infer(request);
  } catch (const std::exception& e) {
    // Before the core took the request (Infer and Reject never throw): answer it here.
    auto out = std::make_unique<inference::ModelStreamInferResponse>();
    out->set_error_message(std::string("request failed: ") + e.what());
    out->mutable_infer_response()->set_id(message->id());
    Send(std::move(out), true, bytes, nullptr, nullptr);
  }
}

void StreamInferReactor::Send(std::unique_ptr<inference::ModelStreamInferResponse> message,
                              bool final, uint64_t request_bytes, std::shared_ptr<RequestTrace> trace,
                              const InferenceRequest* request) {
  const uint64_t bytes = message ? message->ByteSizeLong() : 0;
  Next next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (message && !broken_) {
      queue_.push_back(Outgoing{std::move(message), std::move(trace)});
      buffered_bytes_ += bytes;
    }
    if (final) {
      --outstanding_;
      buffered_bytes_ -= request_bytes;
      in_core_.erase(const_cast<InferenceRequest*>(request));
    }
    next = Advance();
  }
  Perform(next);
}

void StreamInferReactor::OnWriteDone(bool ok) {
  Next next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_.trace) writing_.trace->Stamp("GRPC_SEND_END", NowNs());
    writing_ = Outgoing{};
    buffered_bytes_ -= writing_bytes_;
    writing_bytes_ = 0;
    if (!ok && !broken_) {
      broken_ = true;
      LOG_VERBOSE("grpc stream: a write failed, the client is gone; {} queued response(s) dropped",
                  queue_.size());
      for (const auto& m : queue_) buffered_bytes_ -= m.message->ByteSizeLong();
      queue_.clear();
    }
    next = Advance();
  }
  Perform(next);
}

StreamInferReactor::Next StreamInferReactor::Advance() {
  Next next;
  if (finished_) return next;
  // Reading resumes once under budget, or once the client is gone (the read
  // then fails, which ends the stream).
  if (read_paused_ && (!OverBudget() || broken_)) {
    read_paused_ = false;
    next.read = true;
  }
  if (!writing_.message && !queue_.empty()) {
    writing_ = std::move(queue_.front());
    queue_.pop_front();
    writing_bytes_ = writing_.message->ByteSizeLong();
    if (writing_.trace) writing_.trace->Stamp("GRPC_SEND_START", NowNs());
    next.write = writing_.message.get();
  } else if (!writing_.message && reads_done_ && outstanding_ == 0) {
    finished_ = true;
    next.finish = true;
  }
  return next;
}

void StreamInferReactor::Perform(const Next& next) {
  // Nothing of `this` may be touched after Finish: OnDone may already run.
  if (next.read) StartNextRead();
  if (next.write) StartWrite(next.write);
  else if (next.finish) Finish(grpc::Status::OK);
}

void StreamInferReactor::OnCancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  LOG_VERBOSE("Cancellation notification received for ModelStreamInfer stream: {} request(s) in flight cancelled",
              in_core_.size());
  for (InferenceRequest* r : in_core_) r->Cancel();
}

void StreamInferReactor::OnDone() {
  // Finish came only once every request was answered: no callback is left.
  delete this;
}

}  // namespace inferd::grpc_frontend
