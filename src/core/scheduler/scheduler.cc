#include "core/scheduler/scheduler.h"

#include "core/scheduler/dynamic_batcher.h"
#include "core/scheduler/fifo_scheduler.h"
#include "core/scheduler/sequence_batcher.h"

namespace inferd {
namespace {

QueuePolicy PolicyFromConfig(const inference::ModelQueuePolicy& p) {
  QueuePolicy q;
  q.delay_on_timeout = p.timeout_action() == inference::ModelQueuePolicy::DELAY;
  q.default_timeout_ns = p.default_timeout_microseconds() * 1000;
  q.allow_timeout_override = p.allow_timeout_override();
  q.max_queue_size = p.max_queue_size();
  return q;
}

}  // namespace

Status CreateScheduler(const inference::ModelConfig& config, size_t instances,
                       const std::string& model_dir, std::unique_ptr<Scheduler>* out) {
  if (config.has_sequence_batching()) {
    SequenceBatcherOptions options;
    INFERD_RETURN_IF_ERROR(SequenceBatcherOptionsFromConfig(config, instances, model_dir, &options));
    *out = std::make_unique<SequenceBatcher>(std::move(options));
    return Status::Ok();
  }
  if (!config.has_dynamic_batching()) {
    *out = std::make_unique<FifoScheduler>(instances);
    return Status::Ok();
  }
  const auto& db = config.dynamic_batching();
  DynamicBatcherOptions options;
  options.max_batch_size = static_cast<uint64_t>(config.max_batch_size());
  for (int32_t size : db.preferred_batch_size())
    options.preferred_sizes.insert(static_cast<uint64_t>(size));
  options.max_queue_delay_ns = db.max_queue_delay_microseconds() * 1000;
  options.queue.priority_levels = static_cast<uint32_t>(db.priority_levels());
  options.queue.default_level = static_cast<uint32_t>(db.default_priority_level());
  options.queue.default_policy = PolicyFromConfig(db.default_queue_policy());
  for (const auto& [level, policy] : db.priority_queue_policy())
    options.queue.level_policies[static_cast<uint32_t>(level)] = PolicyFromConfig(policy);
  for (const auto& input : config.input())
    if (input.allow_ragged_batch()) options.ragged_inputs.insert(input.name());
  *out = std::make_unique<DynamicBatcher>(std::move(options));
  return Status::Ok();
}

}  // namespace inferd
