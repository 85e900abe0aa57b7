#include "core/scheduler/sequence_batcher.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/file_read.h"
#include "core/inference_request.h"

namespace inferd {
namespace {

using Control = inference::ModelSequenceBatching::Control;

bool Flag(const InferenceRequest& r, const char* key) {
  auto it = r.parameters.find(key);
  return it != r.parameters.end() && (it->second == "true" || it->second == "1");
}

std::string SequenceId(const InferenceRequest& r) {
  auto it = r.parameters.find("sequence_id");
  return it == r.parameters.end() || it->second == "0" ? "" : it->second;
}

// Triton's limit on string correlation IDs.
constexpr size_t kMaxSequenceIdLength = 128;
// The most bytes one implicit state may take (every live sequence has a copy).
constexpr uint64_t kMaxSequenceStateBytes = 64ull << 20;

// The number a sequence id stands for (the backend's CORRID): its value when
// it is a decimal that fits 64 bits, else a hash of the text. Never throws.
uint64_t CorrelationIdOf(const std::string& id) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (ec == std::errc() && end == id.data() + id.size()) return value;
  return std::hash<std::string>{}(id);
}

template <typename T>
std::string Bytes(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

Status SequenceBatcherOptionsFromConfig(const inference::ModelConfig& config, size_t instances,
                                        const std::string& model_dir, SequenceBatcherOptions* out) {
  const auto& sb = config.sequence_batching();
  SequenceBatcherOptions& o = *out;
  o.instances = std::max<size_t>(1, instances);
  o.batching = config.max_batch_size() > 0;
  o.max_batch = o.batching ? static_cast<size_t>(config.max_batch_size()) : 1;
  o.slots_per_instance = o.max_batch;
  if (sb.has_oldest() && sb.oldest().max_candidate_sequences() > 0) {
    const size_t candidates = static_cast<size_t>(sb.oldest().max_candidate_sequences());
    o.slots_per_instance = std::max<size_t>(1, (candidates + o.instances - 1) / o.instances);
  }
  if (sb.max_sequence_idle_microseconds() > 0) o.max_idle_ns = sb.max_sequence_idle_microseconds() * 1000;
  o.oldest = sb.has_oldest();
  if (o.oldest) {
    o.max_queue_delay_ns = sb.oldest().max_queue_delay_microseconds() * 1000;
    for (int32_t size : sb.oldest().preferred_batch_size()) o.preferred_sizes.insert(static_cast<size_t>(size));
  } else {
    o.max_queue_delay_ns = sb.direct().max_queue_delay_microseconds() * 1000;
    o.minimum_slot_utilization = sb.direct().minimum_slot_utilization();
  }
  for (const auto& input : sb.control_input()) {
    for (const auto& c : input.control()) {
      SequenceControl sc;
      sc.input = input.name();
      sc.kind = c.kind();
      if (c.int32_false_true_size() == 2) {
        sc.type = inference::TYPE_INT32;
        sc.int_false = c.int32_false_true(0);
        sc.int_true = c.int32_false_true(1);
      } else if (c.fp32_false_true_size() == 2) {
        sc.type = inference::TYPE_FP32;
        sc.float_false = c.fp32_false_true(0);
        sc.float_true = c.fp32_false_true(1);
      } else if (c.bool_false_true_size() == 2) {
        sc.type = inference::TYPE_BOOL;
        sc.int_false = c.bool_false_true(0);
        sc.int_true = c.bool_false_true(1);
      } else {
        sc.type = c.data_type();  // CORRID
      }
      o.controls.push_back(sc);
    }
  }
  for (const auto& st : sb.state()) {
    SequenceStateSpec spec;
    spec.input = st.input_name();
    spec.output = st.output_name();
    spec.type = DataTypeFromConfig(st.data_type());
    spec.dims.assign(st.dims().begin(), st.dims().end());
    // Every live sequence keeps a copy: the size is checked and bounded.
    const int64_t elements = ElementCount(spec.dims);
    const int64_t bytes = spec.type == INFERD_TYPE_BYTES ? FixedByteSize(INFERD_TYPE_UINT32, elements)
                                                         : FixedByteSize(spec.type, elements);
    if (bytes < 0 || static_cast<uint64_t>(bytes) > kMaxSequenceStateBytes) {
      return Status::InvalidArg("sequence state '" + spec.input + "' with dims " + ShapeToString(spec.dims) +
                                " is larger than the limit of " + std::to_string(kMaxSequenceStateBytes) +
                                " bytes");
    }
    spec.initial.assign(static_cast<size_t>(bytes), '\0');
    if (st.initial_state_size() > 0 && st.initial_state(0).has_data_file()) {
      const auto path = std::filesystem::path(model_dir) / "initial_state" / st.initial_state(0).data_file();
      INFERD_RETURN_IF_ERROR(ReadFilePrefix(path.string(), spec.initial.size(), &spec.initial)
                                 .Prefixed("sequence state '" + spec.input + "' initial_state: "));
    }
    o.states.push_back(std::move(spec));
  }
  return Status::Ok();
}

void SequenceBatcher::AddState(Sequence& s, InferenceRequest& r) const {
  if (options_.states.empty()) return;
  if (!s.state || Flag(r, "sequence_start")) {
    s.state = std::make_shared<std::vector<std::string>>();
    for (const auto& spec : options_.states) s.state->push_back(spec.initial);
  }
  for (size_t i = 0; i < options_.states.size(); ++i) {
    const SequenceStateSpec& spec = options_.states[i];
    auto owned = std::make_shared<const std::string>((*s.state)[i]);
    InputTensor t;
    t.name = spec.input;
    t.datatype = spec.type;
    if (options_.batching) t.shape.push_back(1);
    t.shape.insert(t.shape.end(), spec.dims.begin(), spec.dims.end());
    t.AddBuffer(owned->data(), owned->size());
    r.inputs.push_back(std::move(t));
    r.keep_alive.push_back(std::move(owned));
    r.output_names.push_back(spec.output);
    r.state_outputs.push_back(spec.output);
  }
  r.sequence_state = s.state;
}

SequenceBatcher::SequenceBatcher(SequenceBatcherOptions options)
    : options_(std::move(options)),
      live_per_instance_(options_.instances, 0),
      running_(options_.instances),
      reaper_([this] { ReapLoop(); }) {}

SequenceBatcher::~SequenceBatcher() {
  Stop();
  if (reaper_.joinable()) reaper_.join();
}

void SequenceBatcher::ReapLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    reaper_cv_.wait_for(lock, std::chrono::milliseconds(kReapIntervalMs));
    if (stopped_) break;
    std::set<std::string> cancelled_ids;
    for (const auto& [id, s] : sequences_) {
      for (const RequestPtr& r : s.waiting) {
        if (r->IsCancelled()) {
          cancelled_ids.insert(id);
          break;
        }
      }
    }
    for (const RequestPtr& r : backlog_)
      if (r->IsCancelled()) cancelled_ids.insert(SequenceId(*r));
    if (cancelled_ids.empty()) continue;
    std::vector<RequestPtr> cancelled;
    for (const std::string& id : cancelled_ids) {
      if (auto seq = sequences_.find(id); seq != sequences_.end()) {
        for (RequestPtr& r : seq->second.waiting) cancelled.push_back(std::move(r));
        seq->second.waiting.clear();
        seq->second.ended = true;  // released once a request of it that runs is done
      }
      for (auto it = backlog_.begin(); it != backlog_.end();) {
        if (SequenceId(**it) != id) {
          ++it;
          continue;
        }
        cancelled.push_back(std::move(*it));
        it = backlog_.erase(it);
      }
    }
    Release(Now());
    lock.unlock();
    cv_.notify_all();  // freed slots may let the backlog in
    for (const RequestPtr& r : cancelled) {
      r->RespondError(Status::Cancelled("sequence " + SequenceId(*r) + " of model '" + r->model_name +
                                        "' was cancelled (a request of it was cancelled while it waited)"));
    }
    cancelled.clear();
    lock.lock();
  }
}

uint64_t SequenceBatcher::Now() const { return options_.clock ? options_.clock() : NowNs(); }

void SequenceBatcher::AddControls(InferenceRequest& r, bool start, bool end, const std::string& id) const {
  for (const auto& c : options_.controls) {
    bool value = true;  // READY: every request the batcher hands out is ready
    if (c.kind == Control::CONTROL_SEQUENCE_START) value = start;
    if (c.kind == Control::CONTROL_SEQUENCE_END) value = end;
    std::string data;
    DataType type = DataTypeFromConfig(c.type);
    if (c.kind == Control::CONTROL_SEQUENCE_CORRID) {
      const uint64_t n = r.correlation_id;
      switch (c.type) {
        case inference::TYPE_UINT64: data = Bytes<uint64_t>(n); break;
        case inference::TYPE_INT64: data = Bytes<int64_t>(static_cast<int64_t>(n)); break;
        case inference::TYPE_UINT32: data = Bytes<uint32_t>(static_cast<uint32_t>(n)); break;
        case inference::TYPE_INT32: data = Bytes<int32_t>(static_cast<int32_t>(n)); break;
        default: data = Bytes<uint32_t>(static_cast<uint32_t>(id.size())) + id; break;  // STRING
      }
    } else if (c.type == inference::TYPE_FP32) {
      data = Bytes<float>(value ? c.float_true : c.float_false);
    } else if (c.type == inference::TYPE_BOOL) {
      data = std::string(1, static_cast<char>(value ? c.int_true : c.int_false));
    } else {
      data = Bytes<int32_t>(value ? c.int_true : c.int_false);
    }
    auto owned = std::make_shared<const std::string>(std::move(data));
    InputTensor t;
    t.name = c.input;
    t.datatype = type;
    t.shape = options_.batching ? std::vector<int64_t>{1, 1} : std::vector<int64_t>{1};
    t.AddBuffer(owned->data(), owned->size());
    r.inputs.push_back(std::move(t));
    r.keep_alive.push_back(std::move(owned));
  }
}

Status SequenceBatcher::Enqueue(RequestPtr request) {
  const std::string id = SequenceId(*request);
  if (id.empty()) {
    // Triton's words first (its QA tests match the start), then how.
    return Status::InvalidArg("inference request to model '" + request->model_name +
                              "' must specify a non-zero or non-empty correlation ID (parameter "
                              "'sequence_id': a non-zero integer or a non-empty string)");
  }
  if (request->batch_size != 1) {
    return Status::InvalidArg("inference request to model '" + request->model_name +
                              "' must specify batch-size 1 due to requirements of sequence batcher "
                              "(got " + std::to_string(request->batch_size) + ")");
  }
  const bool start = Flag(*request, "sequence_start");
  const bool end = Flag(*request, "sequence_end");
  if (id.size() > kMaxSequenceIdLength) {
    return Status::InvalidArg("sequence_id of a request to model '" + request->model_name + "' has " +
                              std::to_string(id.size()) + " characters; at most " +
                              std::to_string(kMaxSequenceIdLength) + " are allowed");
  }
  request->correlation_id = CorrelationIdOf(id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return Status::Unavailable("model '" + request->model_name + "' is stopping");
    const uint64_t now = Now();
    Release(now);
    auto seq = sequences_.find(id);
    const RequestPtr* last_in_backlog = nullptr;
    for (const RequestPtr& r : backlog_)
      if (SequenceId(*r) == id) last_in_backlog = &r;
    const bool in_backlog = last_in_backlog != nullptr;
    // A sequence whose END was accepted has ended, even while that request
    // still runs (its answer may already be with the client, which may send
    // the next request at once): only a START continues the id, as in Triton.
    const bool ended = in_backlog ? Flag(**last_in_backlog, "sequence_end")
                                  : seq == sequences_.end() || seq->second.ended;
    if (ended && !start) {
      // Triton's words (its QA tests match the start of them), the id unquoted.
      return Status::InvalidArg("inference request for sequence " + id + " to model '" +
                                request->model_name + "' must specify the START flag on the first "
                                "request of the sequence (the sequence is unknown, ended or was idle "
                                "too long)");
    }
    AddControls(*request, start, end, id);
    request->enqueue_ns = now;
    if (seq != sequences_.end() && !in_backlog) {
      if (start) seq->second.ended = false;  // a new start reuses the sequence's slot
      seq->second.ended = seq->second.ended || end;
      seq->second.last_seen_ns = now;
      seq->second.waiting.push_back(std::move(request));
    } else {
      backlog_.push_back(std::move(request));
      Release(now);  // assigns it a slot if one is free
    }
  }
  cv_.notify_all();
  return Status::Ok();
}

void SequenceBatcher::Release(uint64_t now) {
  for (auto it = sequences_.begin(); it != sequences_.end();) {
    Sequence& s = it->second;
    const bool idle = !s.running && s.waiting.empty();
    if (idle && (s.ended || stopped_ || now - s.last_seen_ns > options_.max_idle_ns)) {
      --live_per_instance_[s.instance];
      it = sequences_.erase(it);
    } else {
      ++it;
    }
  }
  // Give free slots to waiting new sequences, oldest first.
  while (!backlog_.empty()) {
    const std::string id = SequenceId(*backlog_.front());
    auto least = std::min_element(live_per_instance_.begin(), live_per_instance_.end());
    if (*least >= options_.slots_per_instance) return;
    Sequence& s = sequences_[id];
    s.instance = static_cast<size_t>(least - live_per_instance_.begin());
    s.last_seen_ns = now;
    ++*least;
    for (auto it = backlog_.begin(); it != backlog_.end();) {
      if (SequenceId(**it) != id) {
        ++it;
        continue;
      }
      s.ended = s.ended || Flag(**it, "sequence_end");
      s.waiting.push_back(std::move(*it));
      it = backlog_.erase(it);
    }
  }
}

size_t SequenceBatcher::BatchSizeNow(size_t instance, uint64_t now, uint64_t* wake) const {
  *wake = 0;
  size_t ready = 0;
  uint64_t oldest_ns = UINT64_MAX;
  for (const auto& [id, s] : sequences_) {
    if (s.instance != instance || s.running || s.waiting.empty()) continue;
    ++ready;
    oldest_ns = std::min(oldest_ns, s.waiting.front()->enqueue_ns);
  }
  if (ready == 0) return 0;
  const size_t all = std::min(ready, options_.max_batch);
  if (options_.oldest && !options_.preferred_sizes.empty()) {
    const size_t largest = std::min(*options_.preferred_sizes.rbegin(), options_.max_batch);
    if (ready >= largest) return largest;
  }
  if (stopped_ || options_.max_queue_delay_ns == 0 || all == options_.max_batch) return all;
  if (!options_.oldest) {
    // Triton's rule: with no minimum utilization a batch leaves as soon as one
    // slot is ready, so the delay alone changes nothing.
    const double needed = options_.minimum_slot_utilization * static_cast<double>(options_.slots_per_instance);
    if (static_cast<double>(ready) >= needed) return all;
  }
  const uint64_t deadline = oldest_ns + options_.max_queue_delay_ns;
  if (now >= deadline) return all;
  *wake = deadline;
  return 0;
}

void SequenceBatcher::FinishRunning(size_t instance) {
  for (const auto& id : running_[instance]) {
    auto it = sequences_.find(id);
    if (it != sequences_.end()) {
      it->second.running = false;
      it->second.last_seen_ns = Now();
    }
  }
  running_[instance].clear();
  Release(Now());
}

void SequenceBatcher::FormBatch(size_t instance, size_t count, std::vector<RequestPtr>* batch) {
  std::vector<std::pair<uint64_t, std::string>> candidates;
  for (const auto& [id, s] : sequences_)
    if (s.instance == instance && !s.running && !s.waiting.empty())
      candidates.emplace_back(s.waiting.front()->enqueue_ns, id);
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() > count) candidates.resize(count);
  for (const auto& [when, id] : candidates) {
    Sequence& s = sequences_[id];
    AddState(s, *s.waiting.front());
    batch->push_back(std::move(s.waiting.front()));
    s.waiting.pop_front();
    s.running = true;
    running_[instance].push_back(id);
  }
}

bool SequenceBatcher::TryNextBatchFor(size_t instance, std::vector<RequestPtr>* batch) {
  batch->clear();
  instance %= options_.instances;
  {
    std::lock_guard<std::mutex> lock(mu_);
    FinishRunning(instance);
    uint64_t wake;
    if (const size_t count = BatchSizeNow(instance, Now(), &wake)) FormBatch(instance, count, batch);
  }
  cv_.notify_all();
  return !batch->empty();
}

bool SequenceBatcher::NextBatchFor(size_t instance, std::vector<RequestPtr>* batch) {
  batch->clear();
  instance %= options_.instances;
  std::unique_lock<std::mutex> lock(mu_);
  // The batch this instance ran last is done: its sequences may go on.
  FinishRunning(instance);
  cv_.notify_all();  // freed slots may let other instances take backlog
  for (;;) {
    const uint64_t now = Now();
    uint64_t wake;
    if (const size_t count = BatchSizeNow(instance, now, &wake)) {
      FormBatch(instance, count, batch);
      return true;
    }
    if (stopped_ && backlog_.empty()) {
      bool any = false;
      for (const auto& [id, s] : sequences_) any = any || !s.waiting.empty();
      if (!any) return false;
    }
    // Wakes for new requests, at the end of a batch's delay, and now and then
    // to release idle sequences.
    const uint64_t wait_ns = wake > now ? std::min(wake - now, options_.max_idle_ns) : options_.max_idle_ns;
    cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns));
    Release(Now());
  }
}

void SequenceBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    Release(Now());
  }
  cv_.notify_all();
  reaper_cv_.notify_all();
}

}  // namespace inferd
