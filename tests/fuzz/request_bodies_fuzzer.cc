// The JSON bodies of the REST endpoints besides infer: the repository index,
// the logging and trace settings, shared memory registration and load/unload requests; a load's 'config' goes on through the config
// parser and validation exactly as the load API takes it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/model_config_parse.h"
#include "core/model_config_validate.h"
#include "core/model_overrides.h"
#include "core/trace.h"
#include "frontend/http/request_bodies.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  bool ready_only = false;
  (void)http::ParseRepositoryIndexBody(body, &ready_only);
  LogSettings log;
  (void)http::ParseLogSettingsBody(body, &log);
  // Trace settings reach the core's checks as a client sends them (no file
  // is set, so nothing is ever written).
  std::vector<TraceSettingChange> changes;
  if (http::ParseTraceSettingsBody(body, &changes).ok()) {
    static TraceManager traces;
    (void)traces.Update("", changes);
    (void)traces.Update("m", changes);
    (void)traces.Sample("m");
  }
  http::SharedMemoryRegisterBody shm;
  (void)http::ParseSharedMemoryRegisterBody(body, &shm);
  LoadOverrides overrides;
  if (!http::ParseLoadRequestBody(body, &overrides).ok()) return 0;
  for (const auto& [path, content] : overrides.files) (void)CheckOverrideIsData(path, content);
  (void)CheckOverrideSize("m", overrides.config_json, overrides.files, 1 << 20);
  if (overrides.config_json.empty()) return 0;
  inference::ModelConfig config;
  if (!ModelConfigFromJson(overrides.config_json, &config).ok()) return 0;
  ConfigContext ctx{"m", "/nonexistent/m", 0};
  if (!NormalizeModelConfig(ctx, &config).ok()) return 0;
  if (ValidateModelConfig(ctx, config).ok()) (void)RejectUnbuiltFeatures(config);
  return 0;
}
