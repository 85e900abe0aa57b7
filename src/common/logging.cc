#include "common/logging.h"

#include <algorithm>

#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

namespace inferd {
namespace {

// The settings the sink reads on every line; atomics, so that the logging
// extension can change them while other threads log.
std::atomic<int> g_verbose{0};
std::atomic<bool> g_info{true};
std::atomic<bool> g_warning{true};
std::atomic<bool> g_error{true};
std::atomic<LogFormat> g_format{LogFormat::kDefault};

bool SeverityEnabled(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return g_verbose.load(std::memory_order_relaxed) > 0;
    case spdlog::level::info: return g_info.load(std::memory_order_relaxed);
    case spdlog::level::warn: return g_warning.load(std::memory_order_relaxed);
    case spdlog::level::off: return false;
    default: return g_error.load(std::memory_order_relaxed);
  }
}

// The lowest severity any switch lets through: the logger drops what is
// below it before formatting; the sink filters the rest one by one.
spdlog::level::level_enum LowestEnabled() {
  if (g_verbose.load() > 0) return spdlog::level::debug;
  if (g_info.load()) return spdlog::level::info;
  if (g_warning.load()) return spdlog::level::warn;
  if (g_error.load()) return spdlog::level::err;
  return spdlog::level::off;
}

char SeverityLetter(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::warn: return 'W';
    case spdlog::level::err:
    case spdlog::level::critical: return 'E';
    default: return 'I';  // Triton writes verbose lines as I too
  }
}

// `text` as a JSON string, quotes included (Triton's TritonJson::SerializeString).
void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// Writes each record as one Triton-format line to standard error or to
// --log-file, flushed at once (a crash loses nothing already logged).
class TritonLineSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  TritonLineSink(FILE* out, std::string path, bool escape)
      : out_(out), path_(std::move(path)), escape_(escape), pid_(static_cast<long>(getpid())) {}
  ~TritonLineSink() override {
    if (out_ != stderr) std::fclose(out_);
  }

  const std::string& path() const { return path_; }

  Status Reopen() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (path_.empty()) return Status::Ok();
    FILE* fresh = std::fopen(path_.c_str(), "ae");
    if (!fresh) return Status::Unavailable("cannot reopen --log-file '" + path_ + "': " + std::strerror(errno));
    std::fclose(out_);
    out_ = fresh;
    return Status::Ok();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (!SeverityEnabled(msg.level)) return;
    line_.clear();
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const long micros = static_cast<long>(
        std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds).count());
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char head[96];
    const char letter = SeverityLetter(msg.level);
    if (g_format.load(std::memory_order_relaxed) == LogFormat::kIso8601) {
      std::snprintf(head, sizeof(head), "%04d-%02d-%02dT%02d:%02d:%02dZ %c %ld ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, letter, pid_);
    } else {
      std::snprintf(head, sizeof(head), "%c%02d%02d %02d:%02d:%02d.%06ld %ld ", letter, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros, pid_);
    }
    line_.append(head);
    if (const char* file = msg.source.filename) {
      const char* base = std::strrchr(file, '/');
      line_.append(base ? base + 1 : file);
      line_.push_back(':');
      line_.append(std::to_string(msg.source.line));
    } else {
      line_.append("inferd:0");
    }
    line_.append("] ");
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (escape_) AppendJsonString(text, &line_);
    else line_.append(text);
    line_.push_back('\n');
    std::fwrite(line_.data(), 1, line_.size(), out_);
    std::fflush(out_);
  }
  void flush_() override { std::fflush(out_); }

 private:
  FILE* out_;
  const std::string path_;
  const bool escape_;
  const long pid_;
  std::string line_;  // reused; guarded by the sink's mutex
};

std::shared_ptr<TritonLineSink> g_sink;

}  // namespace

const char* LogFormatName(LogFormat format) {
  return format == LogFormat::kIso8601 ? "ISO8601" : "default";
}

bool ParseLogFormat(const std::string& text, LogFormat* format) {
  if (text == "default") *format = LogFormat::kDefault;
  else if (text == "ISO8601") *format = LogFormat::kIso8601;
  else return false;
  return true;
}

Status ApplyLogSetting(const std::string& key, const LogSettingValue& value, LogSettings* settings) {
  using Type = LogSettingValue::Type;
  if (key == "log_file") {
    return Status::Unsupported("log file location can not be updated through network protocol");
  }
  if (key == "log_info" || key == "log_warning" || key == "log_error") {
    if (value.type != Type::kBool) return Status::InvalidArg("logging setting '" + key + "' must be a boolean");
    (key == "log_info" ? settings->info : key == "log_warning" ? settings->warning : settings->error) =
        value.boolean;
    return Status::Ok();
  }
  if (key == "log_verbose_level") {
    if (value.type != Type::kUnsigned) {
      return Status::InvalidArg("logging setting 'log_verbose_level' must be an integer >= 0");
    }
    settings->verbose = static_cast<int>(std::min<uint64_t>(value.number, 1u << 30));
    return Status::Ok();
  }
  if (key == "log_format") {
    if (value.type != Type::kString || !ParseLogFormat(value.text, &settings->format)) {
      return Status::InvalidArg("logging setting 'log_format' must be \"default\" or \"ISO8601\"");
    }
    return Status::Ok();
  }
  return Status::InvalidArg("unknown logging setting '" + key +
                            "' (log_info, log_warning, log_error, log_verbose_level, log_format)");
}

Status ConfigureLogging(const LogSettings& s) {
  FILE* out = stderr;
  if (!s.file.empty()) {
    out = std::fopen(s.file.c_str(), "ae");
    if (!out) return Status::InvalidArg("--log-file: cannot open '" + s.file + "': " + std::strerror(errno));
  }
  const char* escape = std::getenv("TRITON_SERVER_ESCAPE_LOG_MESSAGES");
  g_sink = std::make_shared<TritonLineSink>(out, s.file, !(escape && std::strcmp(escape, "0") == 0));
  auto logger = std::make_shared<spdlog::logger>("inferd", g_sink);
  spdlog::set_default_logger(logger);
  UpdateLogSettings(s);
  return Status::Ok();
}

LogSettings CurrentLogSettings() {
  LogSettings s;
  s.verbose = g_verbose.load();
  s.info = g_info.load();
  s.warning = g_warning.load();
  s.error = g_error.load();
  s.format = g_format.load();
  if (g_sink) s.file = g_sink->path();
  return s;
}

void UpdateLogSettings(const LogSettings& s) {
  g_verbose = s.verbose;
  g_info = s.info;
  g_warning = s.warning;
  g_error = s.error;
  g_format = s.format;
  spdlog::default_logger_raw()->set_level(LowestEnabled());
}

Status ReopenLogFile() { return g_sink ? g_sink->Reopen() : Status::Ok(); }

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
