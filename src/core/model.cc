#include "core/model.h"

#include <algorithm>
#include <filesystem>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/logging.h"
#include "core/classification.h"
#include "core/core_api.h"
#include "core/inline_execution.h"
#include "core/model_config_parse.h"
#include "core/model_instance.h"
#include "core/model_warmup.h"
#include "core/request_checks.h"
#include "core/scheduler/ensemble_scheduler.h"

namespace inferd {
namespace fs = std::filesystem;

namespace {

// The --backend-config settings `backend` sees: the global ones, overridden
// by its own, as a JSON object of strings.
std::string BackendConfigJson(const BackendConfigMap* settings_by_backend, const std::string& backend) {
  std::map<std::string, std::string> merged;
  if (settings_by_backend) {
    for (const std::string& name : {std::string(), backend}) {
      auto settings = settings_by_backend->find(name);
      if (settings == settings_by_backend->end()) continue;
      for (const auto& [key, value] : settings->second) merged[key] = value;
    }
  }
  rapidjson::StringBuffer text;
  rapidjson::Writer<rapidjson::StringBuffer> writer(text);
  writer.StartObject();
  for (const auto& [key, value] : merged) {
    writer.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
    writer.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  }
  writer.EndObject();
  return text.GetString();
}

}  // namespace

Status Model::Load(const ModelLoadSpec& spec, BackendRegistry* backends,
                   std::shared_ptr<Model>* out) {
  std::shared_ptr<Model> model(new Model(spec));
  model->config_ = spec.config;
  model->config_json_ = ModelConfigToJson(model->config_);
  model->version_dir_ = (fs::path(spec.context.model_dir) / std::to_string(spec.version)).string();
  if (spec.latency_summaries) model->stats_.EnableSummaries();
  const auto& c = model->config_;
  const std::string label = "model '" + c.name() + "' version " + std::to_string(spec.version);

  if (c.platform() == "ensemble") {
    INFERD_RETURN_IF_ERROR(LoadEnsemble(model, label));
    *out = std::move(model);
    return Status::Ok();
  }
  if (c.backend().empty()) {
    return Status::Unsupported(label + ": platform '" + c.platform() +
                               "' is not supported by this inferd build yet");
  }
  INFERD_RETURN_IF_ERROR(
      backends
          ->Find(BackendLibraryCandidates(spec.library_dir, spec.version, c.backend(),
                                          c.runtime(), spec.backend_directory),
                 c.name(), &model->backend_, &model->backend_file_)
          .Prefixed(label + ": backend '" + c.backend() + "': "));
  model->backend_config_json_ = BackendConfigJson(spec.backend_config, c.backend());

  model->in_initialize = true;
  Status initialized = model->backend_->ModelInitialize(model.get());
  model->in_initialize = false;
  if (!initialized.ok()) return initialized.Prefixed(label + ": ");
  model->backend_model_initialized_ = true;
  // The backend may have completed the config: the final one must still hold.
  INFERD_RETURN_IF_ERROR(ValidateModelConfig(spec.context, model->config_));
  INFERD_RETURN_IF_ERROR(RejectUnbuiltFeatures(model->config_));
  INFERD_RETURN_IF_ERROR(ValidateWarmup(model->config_, spec.context.model_dir));

  INFERD_RETURN_IF_ERROR(model->ReadLabels());
  size_t instance_count = 0;
  for (const auto& group : model->config_.instance_group()) {
    const bool gpu = group.kind() == inference::ModelInstanceGroup::KIND_GPU;
    instance_count += static_cast<size_t>(group.count()) * static_cast<size_t>(gpu ? group.gpus_size() : 1);
  }
  INFERD_RETURN_IF_ERROR(CreateScheduler(model->config_, instance_count, spec.context.model_dir,
                                         &model->scheduler_)
                             .Prefixed(label + ": "));
  if (model->config_.response_cache().enable()) {
    if (spec.cache) model->cache_ = spec.cache;
    else LOG_WARNING("{}: response_cache is enabled but the server has no cache (--cache-config local,size=BYTES)", label);
  }
  if (model->config_.dynamic_batching().preserve_ordering() ||
      model->config_.sequence_batching().oldest().preserve_ordering()) {
    model->orderer_ = std::make_unique<ResponseOrderer>();
  }
  for (int g = 0; g < model->config_.instance_group_size(); ++g) {
    const auto& group = model->config_.instance_group(g);
    const bool gpu = group.kind() == inference::ModelInstanceGroup::KIND_GPU;
    const int devices = gpu ? group.gpus_size() : 1;
    for (int d = 0; d < devices; ++d) {
      for (int i = 0; i < group.count(); ++i) {
        auto instance = std::make_unique<ModelInstance>(
            model.get(), model->scheduler_.get(), model->instances_.size(),
            group.name() + "_" + std::to_string(model->instances_.size()),
            gpu ? group.gpus(d) : 0, gpu);
        if (spec.rate_limiter) {
          std::vector<RateLimitResource> needs;
          for (const auto& r : group.rate_limiter().resources()) needs.push_back({r.name(), r.count(), r.global()});
          instance->LimitWith(spec.rate_limiter, std::move(needs), group.rate_limiter().priority());
        }
        Status st = instance->Start();
        if (!st.ok()) return st.Prefixed(label + ": ");
        model->instances_.push_back(std::move(instance));
      }
    }
  }
  // A GPU instance's thread holds its device context; the rate limiter hands
  // out executions in its own order: both keep every execution on its instance thread.
  model->lends_instances_ = spec.rate_limiter == nullptr;
  for (const auto& instance : model->instances_) model->lends_instances_ &= !instance->gpu();
  LOG_INFO("{} is READY ({} backend, {} instance(s))", label, c.backend(), model->instances_.size());
  *out = std::move(model);
  return Status::Ok();
}

Status Model::LoadEnsemble(const std::shared_ptr<Model>& model, const std::string& label) {
  const ModelLoadSpec& spec = model->spec_;
  if (spec.serving == nullptr) return Status::Internal(label + ": an ensemble needs a server to run its steps");
  auto graph = std::make_shared<EnsembleGraph>();
  auto composing_config = [&](const std::string& name, int64_t version, inference::ModelConfig* out) {
    std::shared_ptr<Model> composing;
    INFERD_RETURN_IF_ERROR(spec.serving->GetModel(name, version, &composing));
    *out = composing->config();
    return Status::Ok();
  };
  INFERD_RETURN_IF_ERROR(BuildEnsembleGraph(model->config_, composing_config, graph.get()));
  if (graph->decoupled) {
    // As on Triton: a decoupled step makes the ensemble answer with several responses.
    model->config_.mutable_model_transaction_policy()->set_decoupled(true);
    model->config_json_ = ModelConfigToJson(model->config_);
  }
  INFERD_RETURN_IF_ERROR(RejectUnbuiltFeatures(model->config_));
  INFERD_RETURN_IF_ERROR(model->ReadLabels());
  // As on Triton: an output without a label_filename of its own has the
  // labels of the composing model's output that produces it.
  for (const std::string& output : graph->outputs) {
    if (model->labels_.count(output)) continue;
    const EnsembleStep& step = graph->steps[graph->producer.at(output)];
    std::shared_ptr<Model> composing;
    if (!spec.serving->GetModel(step.model_name, step.model_version, &composing).ok()) continue;
    for (const auto& [model_output, tensor] : step.outputs) {
      if (tensor == output && !composing->labels(model_output).empty()) {
        model->labels_[output] = composing->labels(model_output);
      }
    }
  }
  if (model->config_.response_cache().enable()) {
    if (spec.cache) model->cache_ = spec.cache;
    else LOG_WARNING("{}: response_cache is enabled but the server has no cache (--cache-config local,size=BYTES)", label);
  }
  model->scheduler_ = std::make_unique<EnsembleScheduler>(graph, spec.serving);
  LOG_INFO("{} is READY (ensemble of {} step(s){})", label, graph->steps.size(), graph->decoupled ? ", decoupled" : "");
  return Status::Ok();
}

Status Model::ReadLabels() {
  for (const auto& output : config_.output()) {
    if (output.label_filename().empty()) continue;
    INFERD_RETURN_IF_ERROR(ReadLabelFile((fs::path(spec_.context.model_dir) / output.label_filename()).string(),
                                         &labels_[output.name()]));
  }
  return Status::Ok();
}

Model::Model(ModelLoadSpec spec) : spec_(std::move(spec)) {}

Model::~Model() { Shutdown(); }

const std::vector<std::string>& Model::labels(const std::string& output) const {
  static const std::vector<std::string> kNone;
  auto it = labels_.find(output);
  return it == labels_.end() ? kNone : it->second;
}

void Model::ForgetInFlight(InferenceRequest& r) {
  std::lock_guard<std::mutex> lock(in_flight_mu_);
  if (!r.in_flight_) return;
  r.in_flight_ = false;
  if (r.in_flight_prev_) r.in_flight_prev_->in_flight_next_ = r.in_flight_next_;
  else in_flight_head_ = r.in_flight_next_;
  if (r.in_flight_next_) r.in_flight_next_->in_flight_prev_ = r.in_flight_prev_;
  r.in_flight_prev_ = r.in_flight_next_ = nullptr;
}

void Model::FailInFlight(const Status& status) {
  // Happens after what the scheduler and the instances wrote into the
  // requests (both under these locks): the answers below read those fields.
  if (scheduler_) scheduler_->Stop();
  { std::lock_guard<std::mutex> sync(execution_start_mu_); }
  std::vector<RequestPtr> requests;
  {
    std::lock_guard<std::mutex> lock(in_flight_mu_);
    for (InferenceRequest* r = in_flight_head_; r != nullptr; r = r->in_flight_next_) {
      // A request being destroyed right now waits on the lock to unlist itself.
      if (RequestPtr alive = r->weak_from_this().lock()) requests.push_back(std::move(alive));
    }
  }
  for (auto& r : requests) r->RespondError(status);
}

void Model::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  retiring_ = true;
  if (scheduler_) scheduler_->Stop();
  for (auto& instance : instances_) instance->Join();
  instances_.clear();
  if (backend_model_initialized_) {
    Status st = backend_->ModelFinalize(this);
    if (!st.ok()) LOG_WARNING("model '{}' finalize: {}", name(), st.message());
  }
  backend_model_initialized_ = false;
}

const std::string* Model::BackendConfigValue(const std::string& key) const {
  if (!spec_.backend_config) return nullptr;
  for (const std::string& backend : {config_.backend(), std::string()}) {
    auto settings = spec_.backend_config->find(backend);
    if (settings == spec_.backend_config->end()) continue;
    if (auto it = settings->second.find(key); it != settings->second.end()) return &it->second;
  }
  return nullptr;
}

Status Model::SetConfigFromBackend(const std::string& json) {
  if (!in_initialize) {
    return Status::InvalidArg("the config can only be changed during model initialization");
  }
  if (!spec_.auto_complete) {
    return Status::InvalidArg("auto-complete is disabled (--disable-auto-complete-config)");
  }
  inference::ModelConfig updated;
  INFERD_RETURN_IF_ERROR(ModelConfigFromJson(json, &updated));
  INFERD_RETURN_IF_ERROR(NormalizeModelConfig(spec_.context, &updated));
  config_ = std::move(updated);
  config_json_ = ModelConfigToJson(config_);
  return Status::Ok();
}

void Model::CompleteResponse(const InferenceRequest& request, InferenceResponse* response) {
  if (!response->status.ok() || response->from_cache) return;  // a cached answer is already final
  // Implicit sequence state: keep the new value for the sequence's next
  // request; it is the server's, not part of the answer.
  for (size_t i = 0; i < request.state_outputs.size(); ++i) {
    auto out = std::find_if(response->outputs.begin(), response->outputs.end(),
                            [&](const OutputTensor& o) { return o.name == request.state_outputs[i]; });
    if (out == response->outputs.end()) {
      response->status = Status::Internal("model '" + name() + "' did not write its state output '" +
                                          request.state_outputs[i] + "'");
      return;
    }
    (*request.sequence_state)[i].assign(out->begin(), out->byte_size);
    response->outputs.erase(out);
  }
  const bool batched = config_.max_batch_size() > 0;
  for (auto& out : response->outputs) {
    const RequestedOutput* asked = request.FindRequestedOutput(out.name);
    if (asked == nullptr || asked->classification_count == 0) continue;
    response->status = Classify(labels(out.name), asked->classification_count, batched, &out);
    if (!response->status.ok()) return;
  }
  if (cache_ && !request.cache_key.empty()) {
    const uint64_t start = NowNs();
    cache_->Insert(request.cache_key, *response);
    stats_.RecordCacheMiss(request.cache_lookup_ns + NowNs() - start);
  }
}

Status Model::Enqueue(const RequestPtr& request) {
  request->model = shared_from_this();
  request->served_version = version();
  INFERD_RETURN_IF_ERROR(CheckRequestAgainstConfig(config_, *request));
  if (cache_) {
    const uint64_t start = NowNs();
    std::string key = ResponseCache::Key(*request, name(), version());
    auto response = std::make_unique<InferenceResponse>(request);
    if (cache_->Lookup(key, response.get())) {
      const uint64_t now = NowNs();
      stats_.RecordCacheHit(now - start, start > request->receive_ns ? start - request->receive_ns : 0, now);
      response->from_cache = true;
      request->Respond(std::move(response));
      return Status::Ok();
    }
    request->cache_key = std::move(key);
    request->cache_lookup_ns = NowNs() - start;
  }
  // Counted and listed before the scheduler sees it: an instance may take it
  // at once. Listed last, after every field set here (FailInFlight reads them).
  request->counted_pending = true;
  pending_.fetch_add(1, std::memory_order_relaxed);
  if (orderer_) request->order_position = static_cast<int64_t>(orderer_->Take());
  {
    std::lock_guard<std::mutex> lock(in_flight_mu_);
    request->in_flight_ = true;
    request->in_flight_next_ = in_flight_head_;
    if (in_flight_head_) in_flight_head_->in_flight_prev_ = request.get();
    in_flight_head_ = request.get();
  }
  if (TryExecuteInline(request)) return Status::Ok();
  Status st = scheduler_->Enqueue(request);
  if (!st.ok()) {
    ForgetInFlight(*request);
    LeavePending(*request);
    if (orderer_) {
      orderer_->Skip(static_cast<uint64_t>(request->order_position));
      request->order_position = -1;  // not accepted: answered directly by the caller
    }
  }
  return st;
}

namespace {
// Executions longer than this stay on the instance threads even when one is
// idle: a frontend thread running one cannot read or answer anything else
// meanwhile. Cheap models (the ones a thread hand-off costs most) are far below.
constexpr uint64_t kInlineExecutionMaxNs = 500'000;
}  // namespace

void Model::NoteExecution(uint64_t ns) {
  // An average over roughly the last 8 executions; racing updates lose one
  // sample at worst, which an estimate can afford.
  const uint64_t old = recent_execution_ns_.load(std::memory_order_relaxed);
  const uint64_t next = old == UINT64_MAX ? ns : old - old / 8 + ns / 8;
  recent_execution_ns_.store(next, std::memory_order_relaxed);
}

bool Model::TryExecuteInline(const RequestPtr& request) {
  if (!lends_instances_ || recent_execution_ns_.load(std::memory_order_relaxed) > kInlineExecutionMaxNs) {
    return false;
  }
  InlineExecutionBudget* budget = InlineExecutionScope::Current();
  if (budget == nullptr || !budget->TryTake()) return false;
  size_t index = 0;
  if (!scheduler_->ClaimIdleInstance(&index)) {
    budget->Give();
    return false;
  }
  request->enqueue_ns = NowNs();
  {
    // What the model calls from inside the execution (BLS, an ensemble's
    // next step) goes through the schedulers, not inline on this thread.
    InlineExecutionScope none(nullptr);
    instances_[index]->ExecuteLent(request);
  }
  scheduler_->ReleaseInstance(index);
  budget->Give();
  return true;
}

}  // namespace inferd
