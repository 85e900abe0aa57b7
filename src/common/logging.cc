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

}  // namespace inferd
