// The JSON bodies of the REST endpoints other than infer, parsed into what
// the core takes. Pure functions of the text: the fuzzers call them directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/logging.h"
#include "common/status.h"
#include "core/server.h"

namespace inferd::http {

// POST /v2/repository/index: {"ready": bool}, optional; an empty body is {}.
Status ParseRepositoryIndexBody(std::string_view body, bool* ready_only);

// POST /v2/repository/models/{m}/load|unload:
// {"parameters": {"config": "<JSON>", "file:<version>/<name>": "<base64>",
//                 "unload_dependents": bool}}, all optional.
Status ParseLoadRequestBody(std::string_view body, LoadOverrides* overrides);

// POST /v2/logging: {"log_info": bool, "log_warning": bool, "log_error": bool,
// "log_verbose_level": uint, "log_format": "default"|"ISO8601"}, any subset,
// applied onto `settings` only when every one is valid; null leaves a setting
// unchanged; "log_file" is refused, as Triton refuses it.
Status ParseLogSettingsBody(std::string_view body, LogSettings* settings);

// POST /v2/trace/setting and /v2/models/{m}/trace/setting: {"trace_level":
// ["TIMESTAMPS"], "trace_rate": "10", ...}: each setting a string, an
// integer or a list of strings, or null to clear it; the core checks them.
Status ParseTraceSettingsBody(std::string_view body, std::vector<TraceSettingChange>* changes);

// POST /v2/systemsharedmemory/region/{name}/register:
// {"key": "/shm-name", "offset": uint (optional, 0), "byte_size": uint}.
struct SharedMemoryRegisterBody {
  std::string key;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};
Status ParseSharedMemoryRegisterBody(std::string_view body, SharedMemoryRegisterBody* out);

}  // namespace inferd::http
