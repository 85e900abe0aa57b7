#include "core/scheduler/ensemble_scheduler.h"

#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "core/inference_request.h"
#include "core/model.h"

namespace inferd {
namespace {

// One ensemble tensor's value during a run: a view of its bytes and what
// keeps them alive (the client's request, or the response of the step that
// produced it).
struct TensorValue {
  DataType datatype = INFERD_TYPE_INVALID;
  std::vector<int64_t> shape;
  TensorPieces buffers;
  uint64_t batch = 0;  // the batch it was produced with; 0: by a side that does not batch
  std::shared_ptr<const void> owner;
  // Set when a step produced it: the output inside the response `owner` holds.
  OutputTensor* output = nullptr;
  bool absent = false;  // an optional ensemble input the client did not send
};

// One request's way through the ensemble. Step responses arrive on any
// thread; everything below is guarded by mu_, except that requests are
// handed to the server outside it (a step may be answered at once, on the
// calling thread, which then re-enters OnStepResponse).
class EnsembleRun : public std::enable_shared_from_this<EnsembleRun> {
 public:
  EnsembleRun(std::shared_ptr<const EnsembleGraph> graph, ServingModels* serving, RequestPtr request)
      : graph_(std::move(graph)), serving_(serving), request_(std::move(request)) {}

  void Start() {
    std::unique_lock<std::mutex> lock(mu_);
    start_ns_ = NowNs();
    model_ = request_->model;
    waiting_.resize(graph_->steps.size());
    step_in_flight_.assign(graph_->steps.size(), 0);
    ChooseSteps();
    CountReaders();
    std::vector<std::string> written;
    for (const InputTensor& in : request_->inputs) {
      TensorValue& t = tensors_[in.name];
      t.datatype = in.datatype;
      t.shape = in.shape;
      if (auto reshape = graph_->input_reshape.find(in.name); reshape != graph_->input_reshape.end()) {
        t.shape.assign(graph_->batching && !in.shape.empty() ? 1 : 0, in.shape.empty() ? 0 : in.shape[0]);
        t.shape.insert(t.shape.end(), reshape->second.begin(), reshape->second.end());
      }
      t.buffers = in.buffers;
      t.batch = graph_->batching ? request_->batch_size : 0;
      t.owner = request_;
      written.push_back(in.name);
    }
    // Optional inputs the client left out still let their steps run.
    for (const auto& [tensor, readers] : graph_->consumers) {
      if (graph_->producer.count(tensor) || tensors_.count(tensor)) continue;
      tensors_[tensor].absent = true;
      written.push_back(tensor);
    }
    Trigger(written);
    Drain(lock);
  }

 private:
  // Marks the steps that lead to an output the client asked for; the others
  // do not run.
  void ChooseSteps() {
    needed_.assign(graph_->steps.size(), request_->outputs.empty());
    if (request_->outputs.empty()) {
      wanted_ = graph_->outputs;
      return;
    }
    std::set<std::string> wanted_tensors;
    for (const RequestedOutput& out : request_->outputs) {
      wanted_.push_back(out.name);
      wanted_tensors.insert(out.name);
    }
    for (auto s = graph_->order.rbegin(); s != graph_->order.rend(); ++s) {
      const EnsembleStep& step = graph_->steps[*s];
      for (const auto& [model_output, tensor] : step.outputs) needed_[*s] = needed_[*s] || wanted_tensors.count(tensor) > 0;
      if (!needed_[*s]) continue;
      for (const auto& [model_input, tensor] : step.inputs) wanted_tensors.insert(tensor);
    }
  }

  // How many step inputs will still read each tensor (each step runs once in
  // an ensemble without decoupled steps): a tensor nobody reads any more is
  // let go as soon as its last reader's request is built, as Triton does,
  // so the response holding it goes once those requests are done.
  void CountReaders() {
    if (graph_->decoupled) return;  // a decoupled step writes its tensors again and again
    for (size_t s = 0; s < graph_->steps.size(); ++s) {
      if (!needed_[s]) continue;
      for (const auto& [model_input, tensor] : graph_->steps[s].inputs) ++readers_left_[tensor];
    }
    // The answer reads the outputs at the end.
    for (const std::string& output : wanted_) readers_left_[output] += 1;
  }

  void ReleaseInputsOf(size_t step) {
    if (graph_->decoupled) return;
    for (const auto& [model_input, tensor] : graph_->steps[step].inputs) {
      auto left = readers_left_.find(tensor);
      if (left != readers_left_.end() && --left->second == 0) tensors_.erase(tensor);
    }
  }

  // Queues the needed steps that read one of `written` and now have all
  // their inputs (each once, in step order).
  void Trigger(const std::vector<std::string>& written) {
    std::set<size_t> ready;
    for (const std::string& tensor : written) {
      auto readers = graph_->consumers.find(tensor);
      if (readers == graph_->consumers.end()) continue;
      for (size_t s : readers->second) {
        if (!needed_[s] || ready.count(s)) continue;
        bool complete = true;
        for (const auto& [model_input, input] : graph_->steps[s].inputs) complete = complete && tensors_.count(input) > 0;
        if (complete) ready.insert(s);
      }
    }
    // Built now, from the tensors as they are now: a decoupled step's next
    // response may replace them before the request is sent.
    for (size_t s : ready) {
      try {
        waiting_[s].push_back(StepRequest(s));
        ++waiting_count_;
        ReleaseInputsOf(s);
      } catch (const std::exception& e) {  // out of memory: this ensemble request fails
        return Fail(Status::Internal(StepLabel(s) + ": " + e.what()));
      }
    }
  }

  // Sends the step requests that wait, one thread at a time (a step answered
  // at once queues its successors here instead of recursing), each step at
  // most max_inflight_requests at a time when the config limits it.
  void Drain(std::unique_lock<std::mutex>& lock) {
    if (draining_) return;
    draining_ = true;
    for (bool sent = true; sent && !failed_;) {
      sent = false;
      for (size_t step = 0; step < waiting_.size() && !failed_; ++step) {
        if (waiting_[step].empty()) continue;
        if (graph_->max_inflight_requests > 0 && step_in_flight_[step] >= graph_->max_inflight_requests) continue;
        if (request_->IsCancelled()) {  // Triton checks between steps too
          Fail(Status::Cancelled("ensemble '" + graph_->name + "' was cancelled before step " + std::to_string(step) +
                                 " (model '" + graph_->steps[step].model_name + "')"));
          break;
        }
        RequestPtr r = std::move(waiting_[step].front());
        waiting_[step].pop_front();
        --waiting_count_;
        ++in_flight_;
        ++step_in_flight_[step];
        lock.unlock();
        serving_->Infer(r);
        lock.lock();
        sent = true;
      }
    }
    draining_ = false;
    MaybeFinish();
  }

  std::string StepLabel(size_t step) const {
    return "in ensemble '" + graph_->name + "', step " + std::to_string(step) + " (model '" +
           graph_->steps[step].model_name + "')";
  }

  RequestPtr StepRequest(size_t index) {
    const EnsembleStep& step = graph_->steps[index];
    auto r = std::make_shared<InferenceRequest>();
    r->receive_ns = NowNs();
    r->id = request_->id;
    r->model_name = step.model_name;
    r->model_version = step.model_version;
    r->parameters = request_->parameters;  // sequence controls, priority, timeout
    r->custom_parameters_json = request_->custom_parameters_json;
    r->correlation_id = request_->correlation_id;
    r->accepts_many_responses = true;  // a decoupled step's responses each go on
    r->ensemble_depth = request_->ensemble_depth + 1;
    r->cancelled_with = request_;  // a step still queued is dropped when the ensemble request is cancelled
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const auto& [model_input, tensor] = step.inputs[i];
      const TensorValue& value = tensors_.at(tensor);
      if (value.absent) continue;
      InputTensor& in = r->inputs.emplace_back();
      in.name = model_input;
      in.datatype = value.datatype;
      in.shape = AdaptBatchDimension(step.input_dims[i], step.batching, value.batch, value.shape);
      for (const auto& [data, size] : value.buffers) in.AddBuffer(data, size);
      r->keep_alive.push_back(value.owner);
    }
    for (const auto& [model_output, tensor] : step.outputs) r->outputs.emplace_back().name = model_output;
    r->on_response = [run = shared_from_this(), index](std::unique_ptr<InferenceResponse> response) {
      try {
        run->OnStepResponse(index, std::move(response));
      } catch (const std::exception& e) {  // out of memory: the ensemble fails, the step's thread goes on
        run->FailAfterException(index, e.what());
      }
    };
    return r;
  }

  void FailAfterException(size_t index, const char* what) noexcept {
    try {
      std::lock_guard<std::mutex> lock(mu_);  // released while the exception unwound
      Fail(Status::Internal(StepLabel(index) + ": " + what));
    } catch (...) {
    }
  }

  void OnStepResponse(size_t index, std::unique_ptr<InferenceResponse> response) {
    std::unique_lock<std::mutex> lock(mu_);
    if (response->final) {
      --in_flight_;
      --step_in_flight_[index];
      // What this step's composing model charged it, summed for the ensemble.
      const InferenceRequest& step_request = *response->request;
      compute_input_ns_ += step_request.compute_input_ns;
      compute_infer_ns_ += step_request.compute_infer_ns;
      compute_output_ns_ += step_request.compute_output_ns;
    }
    if (failed_) return MaybeFinish();
    if (!response->status.ok()) {
      // Triton's words ("in ensemble 'E', " + the composing model's message: its QA matches
      // the start), then which step failed, which Triton does not say.
      const Status& failed = response->status;
      Fail(Status(failed.code(), "in ensemble '" + graph_->name + "', " + failed.message() + " (step " +
                                     std::to_string(index) + ", model '" + graph_->steps[index].model_name + "')"));
      return MaybeFinish();
    }
    const EnsembleStep& step = graph_->steps[index];
    // A decoupled step may end with a response that carries nothing.
    if (!response->outputs.empty()) {
      std::shared_ptr<InferenceResponse> shared(std::move(response));
      std::vector<std::string> written;
      for (const auto& [model_output, tensor] : step.outputs) {
        OutputTensor* out = nullptr;
        for (OutputTensor& o : shared->outputs)
          if (o.name == model_output) out = &o;
        if (out == nullptr) {
          Fail(Status::Internal(StepLabel(index) + ": the model did not return output '" + model_output + "'"));
          return MaybeFinish();
        }
        TensorValue& t = tensors_[tensor];
        t.datatype = out->datatype;
        t.shape = out->shape;
        t.buffers.assign(1, {out->begin(), out->byte_size});
        t.batch = step.batching ? shared->request->batch_size : 0;
        t.owner = shared;
        t.output = out;
        written.push_back(tensor);
      }
      if (graph_->decoupled) AnswerWaves(written);
      Trigger(written);
    }
    Drain(lock);
  }

  // Decoupled ensembles: each complete set of asked-for outputs becomes a
  // response, in the order the outputs were produced.
  void AnswerWaves(const std::vector<std::string>& written) {
    if (waves_.empty()) waves_.resize(wanted_.size());
    for (size_t w = 0; w < wanted_.size(); ++w)
      for (const std::string& tensor : written)
        if (tensor == wanted_[w]) waves_[w].push_back(tensors_.at(tensor));
    for (;;) {
      for (const auto& q : waves_)
        if (q.empty()) return;
      auto response = std::make_unique<InferenceResponse>(request_);
      response->final = false;
      for (size_t w = 0; w < wanted_.size(); ++w) {
        const TensorValue& t = waves_[w].front();
        OutputTensor* out = response->AddOutput(wanted_[w], t.datatype, EnsembleShape(wanted_[w], t), t.output->byte_size);
        if (t.output->byte_size > 0) std::memcpy(out->data.get(), t.output->begin(), t.output->byte_size);
        waves_[w].pop_front();
      }
      request_->Respond(std::move(response));  // under mu_: answers leave in order
    }
  }

  // An output's shape as the ensemble's own config has it (a batch
  // dimension added or dropped where the step's batching differs).
  std::vector<int64_t> EnsembleShape(const std::string& output, const TensorValue& t) const {
    return AdaptBatchDimension(graph_->output_dims.at(output), graph_->batching, t.batch, t.shape);
  }

  void Fail(const Status& status) {
    if (failed_) return;
    failed_ = true;
    for (auto& requests : waiting_) requests.clear();
    waiting_count_ = 0;
    request_->RespondError(status);  // the steps still running are ignored
  }

  // The answer, once no step runs or waits. Sent under mu_ so that the final
  // response of a decoupled ensemble follows every earlier one.
  void MaybeFinish() {
    if (finished_ || in_flight_ > 0 || waiting_count_ > 0 || draining_) return;
    finished_ = true;
    // Answered already: a step failed, or an exit that could not wait
    // (--exit-timeout-secs) answered every request in flight.
    if (failed_ || request_->answered()) return;
    auto response = std::make_unique<InferenceResponse>(request_);
    if (!graph_->decoupled) {
      for (const std::string& name : wanted_) {
        auto it = tensors_.find(name);
        if (it == tensors_.end() || it->second.output == nullptr) {
          request_->RespondError(Status::Internal("ensemble '" + graph_->name + "' finished without output '" + name + "'"));
          return;
        }
        // Every step has finished: nothing reads the step's output any more,
        // so the answer takes its bytes instead of copying them.
        OutputTensor moved = std::move(*it->second.output);
        moved.name = name;
        moved.shape = EnsembleShape(name, it->second);
        response->outputs.push_back(std::move(moved));
      }
    }
    // The statistics of the ensemble, as Triton keeps them: its own queue
    // (arrival to the first step) and its steps' compute times summed.
    request_->compute_input_ns = compute_input_ns_;
    request_->compute_infer_ns = compute_infer_ns_;
    request_->compute_output_ns = compute_output_ns_;
    model_->stats().RecordEnsembleExecution(
        request_->batch_size, start_ns_ > request_->enqueue_ns ? start_ns_ - request_->enqueue_ns : 0,
        compute_input_ns_, compute_infer_ns_, compute_output_ns_);
    request_->Respond(std::move(response));
  }

  const std::shared_ptr<const EnsembleGraph> graph_;
  ServingModels* const serving_;
  const RequestPtr request_;
  std::shared_ptr<Model> model_;  // the ensemble's (a request lets go of its model once answered)
  std::mutex mu_;
  std::vector<bool> needed_;         // per step: leads to an asked-for output
  std::vector<std::string> wanted_;  // the ensemble outputs to answer with
  std::map<std::string, TensorValue> tensors_;
  std::map<std::string, uint32_t> readers_left_;  // see CountReaders
  // Per step: its requests built and not sent yet (each with the tensors of
  // the moment its inputs were complete), and those sent and not finally answered.
  std::vector<std::deque<RequestPtr>> waiting_;
  std::vector<uint32_t> step_in_flight_;
  size_t waiting_count_ = 0;
  std::vector<std::deque<TensorValue>> waves_;  // decoupled: per wanted output, produced and not yet answered
  size_t in_flight_ = 0;  // steps sent and not finally answered
  bool draining_ = false, failed_ = false, finished_ = false;
  uint64_t start_ns_ = 0, compute_input_ns_ = 0, compute_infer_ns_ = 0, compute_output_ns_ = 0;
};

}  // namespace

EnsembleScheduler::EnsembleScheduler(std::shared_ptr<const EnsembleGraph> graph, ServingModels* serving)
    : graph_(std::move(graph)), serving_(serving) {}

Status EnsembleScheduler::Enqueue(RequestPtr request) {
  if (stopped_) return Status::Unavailable("model '" + request->model_name + "' is stopping");
  if (request->ensemble_depth >= kMaxEnsembleNesting) {
    return Status::InvalidArg("ensemble '" + request->model_name + "' is a step of " +
                              std::to_string(request->ensemble_depth) + " nested ensembles; at most " +
                              std::to_string(kMaxEnsembleNesting) + " may nest (do ensembles compose each other?)");
  }
  request->enqueue_ns = NowNs();
  std::make_shared<EnsembleRun>(graph_, serving_, std::move(request))->Start();
  return Status::Ok();
}

bool EnsembleScheduler::NextBatch(std::vector<RequestPtr>* batch) {
  batch->clear();
  return false;
}

void EnsembleScheduler::Stop() { stopped_ = true; }

}  // namespace inferd
