// Model configurations, as config.pbtxt text or Triton's JSON form (byte 0
// picks), through normalization, every load-time rule, the warmup rules and
// the scheduler each config asks for; then the JSON form written back must
// parse again.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/model_config_parse.h"
#include "core/model_config_validate.h"
#include "core/model_warmup.h"
#include "core/scheduler/scheduler.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  inference::ModelConfig config;
  const Status parsed = (data[0] & 1) ? ModelConfigFromJson(text, &config)
                                      : ParseModelConfigText(text, "config.pbtxt", &config);
  if (!parsed.ok()) return 0;
  // No such folder: files a config names (labels, state, warmup) are absent.
  ConfigContext ctx{"m", "/nonexistent/m", 0};
  if (!NormalizeModelConfig(ctx, &config).ok()) return 0;
  if (!ValidateModelConfig(ctx, config).ok()) return 0;
  if (!RejectUnbuiltFeatures(config).ok()) return 0;
  if (!ValidateWarmup(config, ctx.model_dir).ok()) return 0;
  std::unique_ptr<Scheduler> scheduler;
  if (CreateScheduler(config, 2, ctx.model_dir, &scheduler).ok()) scheduler->Stop();
  inference::ModelConfig again;
  if (!ModelConfigFromJson(ModelConfigToJson(config), &again).ok()) __builtin_trap();
  return 0;
}
