// The `inferd` command: tritonserver's command line, the HTTP endpoint, and
// an orderly shutdown on SIGINT/SIGTERM (stop accepting, answer every request
// in flight, exit 0).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "common/logging.h"
#include "core/server.h"
#include "frontend/http/http_server.h"

namespace {
namespace fs = std::filesystem;

constexpr int kUsageError = 2;

// GPUs the NVIDIA driver reports; 0 where there is none (no CUDA needed).
int CountGpus() {
  std::error_code ec;
  int n = 0;
  for (fs::directory_iterator it("/proc/driver/nvidia/gpus", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n;
}

std::string DefaultBackendDirectory() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "backends" : (exe.parent_path() / "backends").string();
}

struct Flags {
  inferd::ServerOptions server;
  inferd::http::HttpOptions http;
  inferd::LogSettings log;
  std::string control_mode = "none";
  bool allow_http = true;
  bool disable_auto_complete = false;
  bool strict_model_config = false;
  int grpc_port = 8001;
  int metrics_port = 8002;
  int http_port = 8000;
  std::string cache_config;
};

// --cache-config local,size=BYTES (Triton's form); only the local cache exists.
bool ParseCacheConfig(const std::string& text, uint64_t* bytes, std::string* error) {
  const size_t comma = text.find(',');
  const std::string kind = text.substr(0, comma);
  if (kind != "local") {
    *error = "--cache-config: unknown cache '" + kind + "' (only 'local' is built)";
    return false;
  }
  const std::string rest = comma == std::string::npos ? "" : text.substr(comma + 1);
  if (rest.rfind("size=", 0) != 0) {
    *error = "--cache-config: expected local,size=BYTES, got '" + text + "'";
    return false;
  }
  try {
    size_t used = 0;
    *bytes = std::stoull(rest.substr(5), &used);
    if (used != rest.size() - 5) throw std::invalid_argument(rest);
  } catch (const std::exception&) {
    *error = "--cache-config: size must be a number of bytes, got '" + rest.substr(5) + "'";
    return false;
  }
  return true;
}

void AddFlags(CLI::App& app, Flags& f) {
  app.add_option("--model-repository,--model-store", f.server.repositories,
                 "Path to a model repository; repeat for several (required)")
      ->allow_extra_args(false);
  app.add_option("--model-control-mode", f.control_mode, "none, poll or explicit")
      ->check(CLI::IsMember({"none", "poll", "explicit"}));
  app.add_option("--load-model", f.server.load_models,
                 "With --model-control-mode=explicit: a model to load at start ('*' = all); repeatable")
      ->allow_extra_args(false);
  app.add_option("--backend-directory", f.server.backend_directory,
                 "Where backends are looked for: <dir>/<backend>/libinferd_<backend>.so")
      ->default_str("<binary's folder>/backends");
  app.add_flag("--disable-auto-complete-config", f.disable_auto_complete,
               "Do not complete model configs from the model files");
  app.add_option("--strict-model-config", f.strict_model_config,
                 "Alias: true = --disable-auto-complete-config");
  app.add_option("--exit-on-error", f.server.exit_on_error,
                 "Exit when a model fails to load at start (default false)");
  app.add_option("--strict-readiness", f.server.strict_readiness,
                 "Ready only when every model is READY (default true)");
  app.add_option("--repository-poll-secs", f.server.repository_poll_secs,
                 "With --model-control-mode=poll: seconds between repository scans (default 15)")
      ->check(CLI::PositiveNumber);
  app.add_option("--model-load-thread-count", f.server.model_load_threads,
                 "Models loaded at once at start (default 4)")
      ->check(CLI::Range(1, 256));
  app.add_option("--cache-config", f.cache_config,
                 "Response cache: local,size=BYTES (models opt in with response_cache { enable: true })");
  app.add_option("--id", f.server.id, "Identifier of this server");
  app.add_option("--allow-http", f.allow_http, "Serve HTTP (default true)");
  app.add_option("--http-port", f.http_port, "HTTP port (default 8000)")->check(CLI::Range(0, 65535));
  app.add_option("--http-address", f.http.address, "HTTP address (default 0.0.0.0)");
  app.add_option("--http-thread-count", f.http.thread_count, "HTTP I/O threads (default: cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--http-max-input-size", f.http.max_input_size,
                 "Largest HTTP request body in bytes (default 64 MiB)")
      ->check(CLI::PositiveNumber);
  app.add_option("--grpc-port", f.grpc_port, "gRPC port (not served by this build yet)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--metrics-port", f.metrics_port, "Metrics port (not served by this build yet)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--log-verbose", f.log.verbose, "Verbose logging level (0 = off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-info", f.log.info, "Log info messages (default true)");
  app.add_option("--log-warning", f.log.warning, "Log warnings (default true)");
  app.add_option("--log-error", f.log.error, "Log errors (default true)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"inferd: an inference server for Triton model repositories (KServe v2 HTTP)",
               "inferd"};
  Flags f;
  AddFlags(app, f);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "inferd: error: " << e.what() << "\n\n" << app.help();
    return kUsageError;
  }
  if (!f.cache_config.empty()) {
    std::string error;
    if (!ParseCacheConfig(f.cache_config, &f.server.cache_bytes, &error)) {
      std::cerr << "inferd: error: " << error << "\n\n" << app.help();
      return kUsageError;
    }
  }
  // Checked after parsing so that an unknown flag is reported first.
  if (f.server.repositories.empty()) {
    std::cerr << "inferd: error: --model-repository is required\n\n" << app.help();
    return kUsageError;
  }

  inferd::ConfigureLogging(f.log);
  f.server.control_mode = f.control_mode == "explicit" ? inferd::ModelControlMode::kExplicit
                          : f.control_mode == "poll"   ? inferd::ModelControlMode::kPoll
                                                       : inferd::ModelControlMode::kNone;
  if (!f.server.load_models.empty() && f.server.control_mode != inferd::ModelControlMode::kExplicit) {
    LOG_WARNING("--load-model has effect only with --model-control-mode=explicit; loading all models");
  }
  f.server.auto_complete = !(f.disable_auto_complete || f.strict_model_config);
  if (f.server.backend_directory.empty()) f.server.backend_directory = DefaultBackendDirectory();
  f.server.gpu_count = CountGpus();
  f.http.port = static_cast<uint16_t>(f.http_port);
  if (app.count("--grpc-port") || app.count("--metrics-port")) {
    LOG_WARNING("this inferd build serves HTTP only: --grpc-port and --metrics-port are ignored");
  }

  // Signals are taken by sigwait() below; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  inferd::Server server(f.server);
  inferd::Status st = server.Start();
  if (!st.ok()) {
    LOG_ERROR("{}", st.message());
    server.Stop();
    return 1;
  }
  std::unique_ptr<inferd::http::HttpServer> http;
  if (f.allow_http) {
    http = std::make_unique<inferd::http::HttpServer>(&server, f.http);
    st = http->Start();
    if (!st.ok()) {
      LOG_ERROR("{}", st.message());
      server.Stop();
      return 1;
    }
  }

  int sig = 0;
  sigwait(&signals, &sig);
  LOG_INFO("received {}: stopping; requests in flight are answered first", strsignal(sig));
  if (http) http->StopAccepting();
  server.Stop();  // answers every queued request
  if (http) http->Stop(std::chrono::seconds(30));
  LOG_INFO("inferd stopped");
  return 0;
}
