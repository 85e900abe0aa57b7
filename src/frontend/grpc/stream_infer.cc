#include "frontend/grpc/stream_infer.h"

#include "common/logging.h"
#include "frontend/grpc/grpc_codec.h"

namespace inferd::grpc_frontend {

StreamInferReactor::StreamInferReactor(Server* core) : core_(core) { StartNextRead(); }

void StreamInferReactor::StartNextRead() {
  incoming_ = std::make_shared<inference::ModelInferRequest>();
  StartRead(incoming_.get());
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
  auto message = std::move(incoming_);
  {
    // Counted before the next read can end the stream.
    std::lock_guard<std::mutex> lock(mu_);
    ++outstanding_;
  }
  StartNextRead();
  HandleRequest(std::move(message));
}

void StreamInferReactor::HandleRequest(std::shared_ptr<inference::ModelInferRequest> message) {
  auto request = std::make_shared<InferenceRequest>();
  request->receive_ns = NowNs();
  request->accepts_many_responses = true;
  Status st = ParseModelInferRequest(*message, request.get());
  // With this parameter the client wants every response flagged final or not,
  // and an empty final response when the model ends without one.
  auto flag = message->parameters().find("triton_enable_empty_final_response");
  const bool flag_final = flag != message->parameters().end() && flag->second.bool_param();
  request->keep_alive.push_back(message);  // raw inputs point into it

  request->on_response = [this, flag_final](std::unique_ptr<InferenceResponse> response) {
    const bool final = response->final;
    auto out = std::make_unique<inference::ModelStreamInferResponse>();
    if (!response->status.ok()) {
      out->set_error_message(response->status.message());
      out->mutable_infer_response()->set_id(response->request->id);
    } else if (final && response->outputs.empty() && !flag_final) {
      out.reset();  // only marks the end: nothing to send
    } else {
      EncodeModelInferResponse(*response, out->mutable_infer_response());
      if (flag_final) {
        (*out->mutable_infer_response()->mutable_parameters())["triton_final_response"]
            .set_bool_param(final);
      }
    }
    Send(std::move(out), final);
  };
  if (!st.ok()) return core_->Reject(request, st);
  core_->Infer(request);
}

void StreamInferReactor::Send(std::unique_ptr<inference::ModelStreamInferResponse> message,
                              bool final) {
  Next next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (message && !broken_) queue_.push_back(std::move(message));
    if (final) --outstanding_;
    next = Advance();
  }
  Perform(next);
}

void StreamInferReactor::OnWriteDone(bool ok) {
  Next next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_.reset();
    if (!ok && !broken_) {
      broken_ = true;
      LOG_VERBOSE("grpc stream: a write failed, the client is gone; {} queued response(s) dropped",
                  queue_.size());
      queue_.clear();
    }
    next = Advance();
  }
  Perform(next);
}

StreamInferReactor::Next StreamInferReactor::Advance() {
  Next next;
  if (writing_ || finished_) return next;
  if (!queue_.empty()) {
    writing_ = std::move(queue_.front());
    queue_.pop_front();
    next.write = writing_.get();
  } else if (reads_done_ && outstanding_ == 0) {
    finished_ = true;
    next.finish = true;
  }
  return next;
}

void StreamInferReactor::Perform(const Next& next) {
  // Nothing of `this` may be touched after Finish: OnDone may already run.
  if (next.write) StartWrite(next.write);
  else if (next.finish) Finish(grpc::Status::OK);
}

void StreamInferReactor::OnDone() {
  // Finish came only once every request was answered: no callback is left.
  delete this;
}

}  // namespace inferd::grpc_frontend
