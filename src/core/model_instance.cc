#include "core/model_instance.h"

#include <boost/container/small_vector.hpp>

#include "common/logging.h"
#include "common/thread_name.h"
#include "core/inference_request.h"
#include "core/model.h"
#include "core/model_warmup.h"
#include "core/trace.h"

namespace inferd {
namespace {
// What one execution keeps per request: inline for batches of up to 8, so
// executing the usual small batch allocates nothing for its bookkeeping.
template <typename T>
using PerRequest = boost::container::small_vector<T, 8>;
using DeferredResponses = PerRequest<std::unique_ptr<InferenceResponse>>;

// The responses being held back on this thread while a batch executes.
thread_local DeferredResponses* t_deferred = nullptr;

// Answers the cancelled requests of `batch` (CANCELLED) and takes them out.
void DropCancelled(std::vector<RequestPtr>& batch, const std::string& model) {
  size_t kept = 0;
  for (auto& r : batch) {
    if (!r->IsCancelled()) {
      if (&batch[kept] != &r) batch[kept] = std::move(r);
      ++kept;
      continue;
    }
    LOG_VERBOSE("request '{}' to model '{}' was cancelled before it ran", r->id, model);
    r->RespondError(Status::Cancelled("request to model '" + model + "' was cancelled"));
  }
  batch.resize(kept);
}
}  // namespace

ModelInstance::ModelInstance(Model* model, Scheduler* scheduler, size_t index, std::string name,
                             int32_t device_id, bool gpu)
    : model_(model), scheduler_(scheduler), index_(index), name_(std::move(name)),
      device_id_(device_id), gpu_(gpu) {}

ModelInstance::~ModelInstance() { Join(); }

void ModelInstance::LimitWith(RateLimiter* limiter, std::vector<RateLimitResource> needs, uint32_t priority) {
  limiter_ = limiter;
  limit_needs_ = std::move(needs);
  limit_priority_ = priority;
}

Status ModelInstance::Start() {
  if (limiter_) {
    INFERD_RETURN_IF_ERROR(limiter_->Register(name_, device_id_, limit_needs_, limit_priority_, &limit_handle_));
  }
  std::promise<Status> initialized;
  auto result = initialized.get_future();
  thread_ = std::thread([this, &initialized] { Run(&initialized); });
  Status st = result.get();
  if (!st.ok()) Join();
  return st;
}

void ModelInstance::Join() {
  if (thread_.joinable()) thread_.join();
  if (limit_handle_ != 0) {
    limiter_->Unregister(limit_handle_);
    limit_handle_ = 0;
  }
}

bool ModelInstance::DeferIfExecuting(std::unique_ptr<InferenceResponse>& response) {
  if (t_deferred == nullptr || !response->final) return false;
  t_deferred->push_back(std::move(response));
  return true;
}

void ModelInstance::Run(std::promise<Status>* initialized) {
  NameThisThread("i:" + name_);
  const BackendLibrary& lib = model_->backend();
  Status st = lib.InstanceInitialize(this);
  if (!st.ok()) {
    initialized->set_value(st.Prefixed("instance '" + name_ + "': "));
    return;
  }
  Status warm;
  try {
    warm = Warmup();
  } catch (const std::exception& e) {  // e.g. bad_alloc for a huge warmup sample
    warm = Status::Internal(std::string("warmup failed: ") + e.what());
  }
  if (!warm.ok()) {
    (void)lib.InstanceFinalize(this);
    initialized->set_value(warm.Prefixed("instance '" + name_ + "': "));
    return;
  }
  initialized->set_value(Status::Ok());  // `initialized` is gone after this line
  LOG_VERBOSE("instance {} running", name_);

  std::vector<RequestPtr> batch;
  while (scheduler_->NextBatchFor(index_, &batch)) {
    // Waiting for the rate limiter counts as queue time: the execution has not started.
    if (limit_handle_ != 0) limiter_->Acquire(limit_handle_);
    ExecuteAnswered(batch);
    if (limit_handle_ != 0) limiter_->Release(limit_handle_);
  }

  st = lib.InstanceFinalize(this);
  if (!st.ok()) LOG_WARNING("instance {} finalize: {}", name_, st.message());
}

void ModelInstance::ExecuteAnswered(std::vector<RequestPtr>& batch) {
  try {
    Execute(batch);
  } catch (const std::exception& e) {
    // Nothing may end the calling thread early: the batch is answered, the next one runs.
    LOG_ERROR("instance {}: execution failed: {}", name_, e.what());
    for (auto& r : batch) {
      r->RespondError(Status::Internal("execution failed: " + std::string(e.what())), FailureReason::kBackend);
    }
  }
  batch.clear();
}

void ModelInstance::ExecuteLent(const RequestPtr& request) {
  std::vector<RequestPtr> batch{request};
  ExecuteAnswered(batch);
}

Status ModelInstance::Warmup() {
  std::vector<RequestPtr> requests;
  INFERD_RETURN_IF_ERROR(MakeWarmupRequests(model_->config(), model_->model_dir(), &requests));
  for (auto& r : requests) {
    auto answer = std::make_shared<Status>(Status::Internal("no answer"));
    r->on_response = [answer](std::unique_ptr<InferenceResponse> res) { *answer = res->status; };
    DeferredResponses deferred;
    r->AlignInputBuffers();
    t_deferred = &deferred;
    InferdRequest* handle = r.get();
    Status st = model_->backend().InstanceExecute(this, &handle, 1);
    t_deferred = nullptr;
    for (auto& response : deferred) r->Respond(std::move(response));
    if (st.ok()) st = *answer;
    if (!st.ok()) return st.Prefixed("warmup '" + r->id.substr(7) + "' failed: ");
  }
  if (!requests.empty()) LOG_VERBOSE("instance {}: {} warmup request(s) done", name_, requests.size());
  return Status::Ok();
}

void ModelInstance::Execute(std::vector<RequestPtr>& batch) {
  // Requests cancelled while they waited never reach the backend (Triton
  // checks at the same point). The rest run as a smaller batch.
  DropCancelled(batch, model_->name());
  if (batch.empty()) return;
  PerRequest<InferdRequest*> handles;
  PerRequest<uint64_t> enqueue_ns;
  uint64_t batch_size = 0;
  handles.reserve(batch.size());
  enqueue_ns.reserve(batch.size());
  const bool decoupled = model_->decoupled();
  {
    std::lock_guard<std::mutex> preparing(model_->execution_start_mutex());
    for (auto& r : batch) {
      model_->LeavePending(*r);
      r->AlignInputBuffers();
      if (decoupled) r->held_until_final = r;
      handles.push_back(r.get());
      enqueue_ns.push_back(r->enqueue_ns);
      batch_size += r->batch_size;
    }
  }

  DeferredResponses deferred;
  t_deferred = &deferred;
  reported_input_end_ns = reported_infer_end_ns = 0;
  ExecutionTimes times;
  times.start_ns = NowNs();
  Status st = model_->backend().InstanceExecute(this, handles.data(), static_cast<uint32_t>(handles.size()));
  times.end_ns = NowNs();
  t_deferred = nullptr;
  model_->NoteExecution(times.end_ns - times.start_ns);

  const bool reported = reported_input_end_ns >= times.start_ns &&
                        reported_infer_end_ns >= reported_input_end_ns &&
                        reported_infer_end_ns <= times.end_ns;
  times.input_end_ns = reported ? reported_input_end_ns : times.start_ns;
  times.infer_end_ns = reported ? reported_infer_end_ns : times.end_ns;
  model_->stats().RecordExecution(times, batch_size, enqueue_ns.data(), enqueue_ns.size());
  for (auto& r : batch) {
    r->compute_input_ns = times.input_end_ns - times.start_ns;
    r->compute_infer_ns = times.infer_end_ns - times.input_end_ns;
    r->compute_output_ns = times.end_ns - times.infer_end_ns;
    if (!r->trace) continue;
    r->trace->Stamp("QUEUE_START", r->enqueue_ns);
    r->trace->Stamp("COMPUTE_START", times.start_ns);
    r->trace->Stamp("COMPUTE_INPUT_END", times.input_end_ns);
    r->trace->Stamp("COMPUTE_OUTPUT_START", times.infer_end_ns);
    r->trace->Stamp("COMPUTE_END", times.end_ns);
  }

  for (auto& response : deferred) {
    auto request = response->request;
    request->Respond(std::move(response));
  }
  // A decoupled model may go on answering from threads of its own.
  const bool backend_owns_answers = st.ok() && decoupled;
  for (auto& r : batch) {
    if (r->answered() || backend_owns_answers) continue;
    r->RespondError(st.ok() ? Status::Internal("backend of model '" + model_->name() +
                                               "' returned without answering the request")
                            : st,
                    FailureReason::kBackend);
  }
  batch.clear();
}

}  // namespace inferd
