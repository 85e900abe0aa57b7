#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>

namespace inferd {
namespace {
std::atomic<int> g_verbose{0};
}

void ConfigureLogging(const LogSettings& s) {
  g_verbose = s.verbose;
  auto logger = spdlog::stderr_logger_mt("inferd");
  logger->set_pattern("%L%m%d %H:%M:%S.%f %t] %v");
  spdlog::level::level_enum level = spdlog::level::off;
  if (s.error) level = spdlog::level::err;
  if (s.warning) level = spdlog::level::warn;
  if (s.info) level = spdlog::level::info;
  if (s.verbose > 0) level = spdlog::level::debug;
  logger->set_level(level);
  logger->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

bool VerboseEnabled(int level) { return g_verbose.load(std::memory_order_relaxed) >= level; }

bool LogThrottle::Allow(uint64_t* suppressed) {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t next = next_ns_.load(std::memory_order_relaxed);
  if (now < next || !next_ns_.compare_exchange_strong(next, now + interval_ns_)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *suppressed = dropped_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace inferd
