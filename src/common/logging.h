// Logging goes through spdlog to stderr. Levels follow tritonserver's flags:
// --log-verbose=N (N > 0 enables verbose), --log-info, --log-warning, --log-error.
#pragma once

#include <spdlog/spdlog.h>

namespace inferd {

struct LogSettings {
  int verbose = 0;
  bool info = true;
  bool warning = true;
  bool error = true;
};

// Configures the process-wide logger; call once at start.
void ConfigureLogging(const LogSettings& settings);

// True when --log-verbose is at least `level`.
bool VerboseEnabled(int level = 1);

}  // namespace inferd

#define LOG_VERBOSE(...) \
  do { if (::inferd::VerboseEnabled()) spdlog::debug(__VA_ARGS__); } while (0)
#define LOG_INFO(...) spdlog::info(__VA_ARGS__)
#define LOG_WARNING(...) spdlog::warn(__VA_ARGS__)
#define LOG_ERROR(...) spdlog::error(__VA_ARGS__)
