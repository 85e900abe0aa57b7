// Logging goes through spdlog to stderr. Levels follow tritonserver's flags:
// --log-verbose=N (N > 0 enables verbose), --log-info, --log-warning, --log-error.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>

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

// Lets one line through per `interval` for a message that an attacker (or a
// failing resource) can trigger at full speed, and counts what it held back.
// Any thread.
class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::milliseconds interval) : interval_ns_(interval.count() * 1000000) {}
  // True when this occurrence should be logged; *suppressed then says how
  // many were dropped since the last one that was.
  bool Allow(uint64_t* suppressed);

 private:
  const int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace inferd

#define LOG_VERBOSE(...) \
  do { if (::inferd::VerboseEnabled()) spdlog::debug(__VA_ARGS__); } while (0)
#define LOG_INFO(...) spdlog::info(__VA_ARGS__)
#define LOG_WARNING(...) spdlog::warn(__VA_ARGS__)
#define LOG_ERROR(...) spdlog::error(__VA_ARGS__)
