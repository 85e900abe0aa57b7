#include "core/scheduler/scheduler.h"

#include "core/scheduler/dynamic_batcher.h"
#include "core/scheduler/fifo_scheduler.h"

namespace inferd {

std::unique_ptr<Scheduler> CreateScheduler(const inference::ModelConfig& config) {
  if (!config.has_dynamic_batching()) return std::make_unique<FifoScheduler>();
  DynamicBatcherOptions options;
  options.max_batch_size = static_cast<uint64_t>(config.max_batch_size());
  for (int32_t size : config.dynamic_batching().preferred_batch_size())
    options.preferred_sizes.insert(static_cast<uint64_t>(size));
  options.max_queue_delay_ns = config.dynamic_batching().max_queue_delay_microseconds() * 1000;
  return std::make_unique<DynamicBatcher>(std::move(options));
}

}  // namespace inferd
