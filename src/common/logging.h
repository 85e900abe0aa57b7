// Logging, in tritonserver's format and with its controls, so that log
// parsers and alerts written for Triton keep working:
//
//   default:  I1203 11:58:20.123456 4242 http_server.cc:120] "message"
//   ISO8601:  2026-12-03T11:58:20Z I 4242 http_server.cc:120] "message"
//
// (severity letter E/W/I, UTC time, process id, source file:line; the
// message written as a JSON string, so that a model name or a client's text
// cannot forge a log line; TRITON_SERVER_ESCAPE_LOG_MESSAGES=0 writes it
// raw, as in Triton). Verbose messages carry the letter I, as Triton's do.
//
// Each severity is switched on its own (--log-info, --log-warning,
// --log-error, --log-verbose=N), and all but the file can be changed while
// the server runs (the logging extension: /v2/logging, gRPC LogSettings).
// --log-file writes to a file instead of standard error; SIGHUP reopens it,
// so logrotate can move it away.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace inferd {

enum class LogFormat { kDefault, kIso8601 };

struct LogSettings {
  int verbose = 0;  // --log-verbose: 0 is off; messages of level <= N are written
  bool info = true;
  bool warning = true;
  bool error = true;
  LogFormat format = LogFormat::kDefault;
  std::string file;  // empty: standard error
};

// "default" / "ISO8601", as tritonserver spells them.
const char* LogFormatName(LogFormat format);
bool ParseLogFormat(const std::string& text, LogFormat* format);

// One value of a logging-extension request (HTTP JSON or gRPC parameter),
// as its protocol typed it.
struct LogSettingValue {
  enum class Type { kBool, kUnsigned, kString, kOther } type = Type::kOther;
  bool boolean = false;
  uint64_t number = 0;
  std::string text;
};
// Applies `key` = `value` onto `settings` by Triton's rules: log_info,
// log_warning, log_error (bool), log_verbose_level (unsigned), log_format
// ("default" or "ISO8601"); log_file is refused (UNSUPPORTED, as Triton: the
// network may not choose where the server writes) and so is any other key.
// Callers apply a request's settings to a copy, all or nothing.
Status ApplyLogSetting(const std::string& key, const LogSettingValue& value, LogSettings* settings);

// Configures the process-wide logger; call once at start, before the other
// threads. Fails when the log file cannot be opened.
Status ConfigureLogging(const LogSettings& settings);

// The settings now in force (any thread).
LogSettings CurrentLogSettings();

// Applies everything but `file`, which the network cannot change (as in
// Triton: a client must not choose where the server writes). Any thread.
void UpdateLogSettings(const LogSettings& settings);

// Opens --log-file again (after logrotate moved it); a no-op when logging to
// standard error. On failure the old file stays in use.
Status ReopenLogFile();

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

// Every call site passes its file and line, which the log line names.
#define INFERD_LOG_AT(level, ...) SPDLOG_LOGGER_CALL(spdlog::default_logger_raw(), level, __VA_ARGS__)
#define LOG_VERBOSE(...) \
  do { if (::inferd::VerboseEnabled()) INFERD_LOG_AT(spdlog::level::debug, __VA_ARGS__); } while (0)
#define LOG_INFO(...) INFERD_LOG_AT(spdlog::level::info, __VA_ARGS__)
#define LOG_WARNING(...) INFERD_LOG_AT(spdlog::level::warn, __VA_ARGS__)
#define LOG_ERROR(...) INFERD_LOG_AT(spdlog::level::err, __VA_ARGS__)
