// The `inferd` command: tritonserver's command line, the HTTP, gRPC and
// metrics endpoints, and an orderly shutdown on SIGINT/SIGTERM (stop
// accepting, answer every request in flight, exit 0). SIGHUP reopens
// --log-file.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <limits>
#include <map>
#include <thread>

#include "common/logging.h"
#include "common/malloc_tuning.h"
#include "core/server.h"
#include "frontend/grpc/grpc_server.h"
#include "frontend/http/http_server.h"
#include "frontend/metrics/metrics_endpoint.h"
#include "grpc_service.pb.h"
#include "health.pb.h"
#include "model_config.pb.h"

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

// Where a file of inferd's own lies, relative to the executable: in the build
// tree beside it (build/<preset>/<build_tree>), installed under
// <prefix>/lib/inferd/<installed> for <prefix>/bin/inferd. The first that
// exists wins; with neither, the build tree's (so that an error names a path).
// Empty when the executable's path cannot be read.
std::string BesideExecutable(const fs::path& build_tree, const fs::path& installed) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const fs::path dir = exe.parent_path();
  if (fs::exists(dir / build_tree, ec)) return (dir / build_tree).string();
  const fs::path prefix_lib = dir.parent_path() / "lib" / "inferd" / installed;
  if (fs::exists(prefix_lib, ec)) return prefix_lib.string();
  return (dir / build_tree).string();
}

std::string DefaultBackendDirectory() {
  std::string dir = BesideExecutable("backends", "backends");
  return dir.empty() ? "backends" : dir;
}

// Triton's backend adapter, libtritonserver.so: build/<preset>/lib/ or
// <prefix>/lib/inferd/.
std::string DefaultTritonAdapter() {
  return BesideExecutable(fs::path("lib") / "libtritonserver.so", "libtritonserver.so");
}

struct Flags {
  inferd::ServerOptions server;
  inferd::http::HttpOptions http;
  inferd::http::HttpApiOptions http_api;
  inferd::grpc_frontend::GrpcOptions grpc;
  inferd::metrics::MetricsOptions metrics;
  inferd::LogSettings log;
  std::string control_mode = "none";
  bool allow_http = true;
  bool allow_grpc = true;
  bool allow_metrics = true;
  bool allow_gpu_metrics = false;
  bool disable_auto_complete = false;
  bool strict_model_config = false;
  int grpc_port = 8001;
  int metrics_port = 8002;
  int http_port = 8000;
  std::string metrics_address;  // default: the HTTP address
  std::vector<std::string> metrics_config;
  std::string cache_config;
  std::string rate_limit = "off";
  std::vector<std::string> rate_limit_resources;
  std::vector<std::string> http_restricted_apis;
  std::vector<std::string> grpc_restricted_protocols;
  uint64_t http_max_json_size = 16ull << 20;
  int exit_timeout_secs = 30;
  std::string log_format = "default";
  std::vector<std::string> backend_configs;
  uint64_t response_cache_byte_size = 0;
  bool version = false;
  // --trace-config values, and the deprecated --trace-* flags by name.
  std::vector<std::string> trace_config;
  std::map<std::string, std::vector<std::string>> trace_flags;
  // Values of the tritonserver flags that have no effect here, by flag.
  std::map<std::string, std::vector<std::string>> ignored;
};

// tritonserver flags (r24.10's command_line_parser.cc) that mean nothing in
// this build. They are accepted, so that a Triton command line starts inferd
// unchanged, and each one given earns one warning saying so; `harmless` is
// the value that asks for nothing (Triton's default), which earns none.
struct IgnoredFlag {
  const char* name;
  const char* harmless;  // nullptr: every value is worth a warning
  const char* why;
};
constexpr IgnoredFlag kIgnoredFlags[] = {
    {"model-namespacing", "false", "model names must be unique across repositories"},
    {"enable-peer-access", "true", "GPU peer access is left to the backends"},
    {"http-header-forward-pattern", nullptr, "HTTP headers are not forwarded to models"},
    {"grpc-header-forward-pattern", nullptr, "gRPC metadata is not forwarded to models"},
    {"grpc-infer-allocation-pool-size", nullptr, "gRPC messages are not pooled, so there is no pool to size"},
    {"grpc-max-response-pool-size", nullptr, "gRPC responses are not pooled, so there is no pool to size"},
    {"allow-sagemaker", "false", "the SageMaker endpoint is not served"},
    {"sagemaker-port", nullptr, "the SageMaker endpoint is not served"},
    {"sagemaker-safe-port-range", nullptr, "the SageMaker endpoint is not served"},
    {"sagemaker-thread-count", nullptr, "the SageMaker endpoint is not served"},
    {"allow-vertex-ai", "false", "the Vertex AI endpoint is not served"},
    {"vertex-ai-port", nullptr, "the Vertex AI endpoint is not served"},
    {"vertex-ai-thread-count", nullptr, "the Vertex AI endpoint is not served"},
    {"vertex-ai-default-model", nullptr, "the Vertex AI endpoint is not served"},
    {"cache-directory", nullptr, "only the local response cache is built"},
    {"repoagent-directory", nullptr, "repository agents are not supported"},
    {"pinned-memory-pool-byte-size", nullptr, "inferd keeps no pinned-memory pool"},
    {"cuda-memory-pool-byte-size", nullptr, "inferd keeps no CUDA memory pool"},
    {"cuda-virtual-address-size", nullptr, "inferd keeps no CUDA memory pool"},
    {"min-supported-compute-capability", nullptr, "GPUs are chosen by the backends"},
    {"buffer-manager-thread-count", nullptr, "inferd has no buffer-manager threads"},
    {"host-policy", nullptr, "host policies are not supported"},
    {"model-load-gpu-limit", nullptr, "GPU memory is not budgeted at load"},
};

// --backend-config=<backend>,<key>=<value>, or <key>=<value> for every
// backend (Triton's form), into `map`.
bool ParseBackendConfig(const std::string& text, inferd::BackendConfigMap* map, std::string* error) {
  const size_t eq = text.find('=');
  const size_t comma = text.find(',');
  const bool scoped = comma != std::string::npos && comma < eq;
  const std::string backend = scoped ? text.substr(0, comma) : "";
  const size_t key_start = scoped ? comma + 1 : 0;
  if (eq == std::string::npos || eq == key_start || (scoped && backend.empty())) {
    *error = "--backend-config: expected <backend>,<setting>=<value> or <setting>=<value>, got '" + text + "'";
    return false;
  }
  (*map)[backend][text.substr(key_start, eq - key_start)] = text.substr(eq + 1);
  return true;
}

// --model-config-name names a file in each model's configs/ folder: a plain name.
bool ValidConfigName(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == '\\' || std::isspace(static_cast<unsigned char>(c)) || c == '\0') return false;
  }
  return true;
}

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
  // As tritonserver: a flag given twice takes its last value; the repeatable
  // ones (marked TakeAll) collect every value.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  const auto all = CLI::MultiOptionPolicy::TakeAll;
  app.add_flag("--version", f.version, "Print inferd's version and exit");
  app.add_option("--model-repository,--model-store", f.server.repositories,
                 "Path to a model repository; repeat for several (required)")
      ->allow_extra_args(false)
      ->multi_option_policy(all);
  app.add_option("--model-control-mode", f.control_mode, "none, poll or explicit")
      ->check(CLI::IsMember({"none", "poll", "explicit"}));
  app.add_option("--load-model", f.server.load_models,
                 "With --model-control-mode=explicit: a model to load at start ('*' = all); repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(all);
  app.add_option("--backend-directory", f.server.backend_directory,
                 "Where backends are looked for: <dir>/<backend>/libinferd_<backend>.so")
      ->default_str("<binary's folder>/backends, else <binary's folder>/../lib/inferd/backends");
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
  app.add_option("--model-load-retry-count", f.server.model_load_retries,
                 "Tries again this many times when a model fails to load (default 0)")
      ->check(CLI::Range(0, 100));
  app.add_option("--model-load-thread-count", f.server.model_load_threads,
                 "Models loaded at once at start (default 4)")
      ->check(CLI::Range(1, 256));
  app.add_option("--cache-config", f.cache_config,
                 "Response cache: local,size=BYTES (models opt in with response_cache { enable: true })");
  app.add_option("--rate-limit", f.rate_limit,
                 "off (default), or execution_count: an instance executes only when the resources its "
                 "instance_group.rate_limiter asks for are free")
      ->check(CLI::IsMember({"off", "execution_count"}));
  app.add_option("--rate-limit-resource", f.rate_limit_resources,
                 "<name>:<count>[:<device>] copies of a rate limiter resource (default: the most any one "
                 "instance needs); repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(all);
  app.add_option("--id", f.server.id, "Identifier of this server");
  app.add_option("--exit-timeout-secs", f.exit_timeout_secs,
                 "On SIGINT/SIGTERM, wait at most this long for requests in flight; then answer them "
                 "with an error and exit with status 1 (default 30)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--model-load-max-override-size", f.server.max_override_bytes,
                 "Most bytes one model load request may carry in its 'config' and 'file:' parameters "
                 "(default 256 MiB)")
      ->check(CLI::PositiveNumber);
  app.add_option("--allow-http", f.allow_http, "Serve HTTP (default true)");
  app.add_option("--http-port", f.http_port, "HTTP port (default 8000)")->check(CLI::Range(0, 65535));
  app.add_option("--http-address", f.http.address, "HTTP address (default 0.0.0.0)");
  app.add_option("--http-thread-count", f.http.thread_count, "HTTP I/O threads (default: cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--http-max-input-size", f.http.max_input_size,
                 "Largest HTTP request body in bytes (default 64 MiB)")
      ->check(CLI::PositiveNumber);
  app.add_option("--http-max-json-size", f.http_max_json_size,
                 "Largest JSON part of an HTTP inference request in bytes (default 16 MiB); larger "
                 "tensors go as binary data")
      ->check(CLI::PositiveNumber);
  app.add_option("--http-idle-timeout-secs", f.http.idle_timeout_secs,
                 "Close an HTTP connection with no request started after this long (default 60; 0 = never)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--http-header-timeout-secs", f.http.header_timeout_secs,
                 "Drop a request whose header is not complete this long after its first byte (default 60; 0 = never)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--http-body-timeout-secs", f.http.body_timeout_secs,
                 "Drop a request whose body is not complete this long after its header, or an answer the "
                 "client does not take within it (default 60; 0 = never)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--http-restricted-api", f.http_restricted_apis,
                 "<api>[,<api>...]:<key>=<value>: calls of these APIs need the header <key>: <value> "
                 "(APIs: health, metadata, inference, shared-memory, model-config, model-repository, "
                 "statistics, trace, logging); repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(all);
  app.add_option("--reuse-http-port", f.http.reuse_port,
                 "Let other processes bind the HTTP port too (SO_REUSEPORT; default false)");
  // gRPC
  auto& g = f.grpc;
  app.add_option("--allow-grpc", f.allow_grpc, "Serve gRPC (default true)");
  app.add_option("--grpc-port", f.grpc_port, "gRPC port (default 8001)")->check(CLI::Range(0, 65535));
  app.add_option("--grpc-address", g.address, "gRPC address (default 0.0.0.0)");
  app.add_option("--grpc-use-ssl", g.ssl.use_ssl, "Serve gRPC over TLS (default false)");
  app.add_option("--grpc-use-ssl-mutual", g.ssl.mutual,
                 "Serve gRPC over mutual TLS: clients must present a certificate (default false)");
  app.add_option("--grpc-server-cert", g.ssl.server_cert, "PEM file of the server certificate");
  app.add_option("--grpc-server-key", g.ssl.server_key, "PEM file of the server key");
  app.add_option("--grpc-root-cert", g.ssl.root_cert, "PEM file of the CA that signs client certificates");
  app.add_option("--grpc-max-message-size", g.max_message_size,
                 "Largest gRPC request message in bytes (default 64 MiB)")
      ->check(CLI::Range(1024, std::numeric_limits<int>::max()));
  app.add_option("--grpc-restricted-protocol", f.grpc_restricted_protocols,
                 "<api>[,<api>...]:<key>=<value>: calls of these APIs need the metadata "
                 "triton-grpc-protocol-<key>: <value> (APIs as for --http-restricted-api); repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(all);
  app.add_option("--reuse-grpc-port", g.reuse_port,
                 "Let other processes bind the gRPC port too (SO_REUSEPORT; default false)");
  app.add_option("--grpc-transport", g.transport,
                 "gRPC server: nghttp2 (inferd's own HTTP/2 server, the default) or grpcpp (grpc++'s "
                 "server, which costs about twice the CPU per call)")
      ->check(CLI::IsMember({"grpcpp", "nghttp2"}));
  app.add_option("--grpc-infer-response-compression-level", g.infer_response_compression_level,
                 "Compression of infer responses: none, low, medium, high (default none)")
      ->check(CLI::IsMember({"none", "low", "medium", "high"}));
  app.add_option("--grpc-keepalive-time", g.keepalive.keepalive_time_ms,
                 "Milliseconds between keepalive pings (default 7200000)")->check(CLI::PositiveNumber);
  app.add_option("--grpc-keepalive-timeout", g.keepalive.keepalive_timeout_ms,
                 "Milliseconds to wait for a ping's acknowledgement (default 20000)")->check(CLI::PositiveNumber);
  app.add_option("--grpc-keepalive-permit-without-calls", g.keepalive.keepalive_permit_without_calls,
                 "Send keepalive pings with no call in progress (default false)");
  app.add_option("--grpc-http2-max-pings-without-data", g.keepalive.http2_max_pings_without_data,
                 "Pings allowed without data before a data frame must be sent (default 2)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--grpc-http2-min-recv-ping-interval-without-data",
                 g.keepalive.http2_min_recv_ping_interval_without_data_ms,
                 "Least milliseconds between client pings without data (default 300000)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--grpc-http2-max-ping-strikes", g.keepalive.http2_max_ping_strikes,
                 "Bad pings tolerated before the connection is closed (default 2)")
      ->check(CLI::NonNegativeNumber);
  // Metrics
  app.add_option("--allow-metrics", f.allow_metrics, "Serve Prometheus metrics (default true)");
  app.add_option("--allow-cpu-metrics", f.metrics.cpu_metrics, "Report CPU utilization and memory (default true)");
  app.add_option("--allow-gpu-metrics", f.allow_gpu_metrics, "GPU metrics (none in this build)");
  app.add_option("--metrics-port", f.metrics_port, "Metrics port (default 8002)")->check(CLI::Range(0, 65535));
  app.add_option("--metrics-address", f.metrics_address, "Metrics address (default: the HTTP address)");
  app.add_option("--metrics-interval-ms", f.metrics.interval_ms,
                 "Milliseconds between samples of CPU utilization and memory (default 2000)")
      ->check(CLI::Range(1, 3600000));
  app.add_option("--metrics-config", f.metrics_config,
                 "KEY=VALUE: summary_latencies=true, summary_quantiles=0.5:0.05,0.99:0.001, "
                 "counter_latencies=false, summary_max_age_ms=N; repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(all);
  app.add_option("--log-verbose", f.log.verbose, "Verbose logging level (0 = off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-info", f.log.info, "Log info messages (default true)");
  app.add_option("--log-warning", f.log.warning, "Log warnings (default true)");
  app.add_option("--log-error", f.log.error, "Log errors (default true)");
  app.add_option("--log-format", f.log_format, "Log line format: default or ISO8601")
      ->check(CLI::IsMember({"default", "ISO8601"}));
  app.add_option("--log-file", f.log.file,
                 "Write the log to this file instead of standard error (reopened on SIGHUP)");
  app.add_option("--backend-config", f.backend_configs,
                 "<backend>,<setting>=<value> (or <setting>=<value> for every backend), e.g. "
                 "onnxruntime,default-max-batch-size=8; repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(all);
  app.add_option("--model-config-name", f.server.model_config_name,
                 "Read <model>/configs/<name>.pbtxt instead of config.pbtxt where a model has it");
  app.add_option("--response-cache-byte-size", f.response_cache_byte_size,
                 "Deprecated form of --cache-config local,size=BYTES");
  app.add_option("--grpc-max-connection-age", f.grpc.max_connection_age_ms,
                 "Milliseconds a gRPC connection may live before the server closes it (default: forever)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--grpc-max-connection-age-grace", f.grpc.max_connection_age_grace_ms,
                 "Milliseconds calls may take to finish once that age is reached (default: forever)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--trace-config", f.trace_config,
                 "Request tracing, Triton's form: level=TIMESTAMPS|OFF, rate=N (every N-th request), "
                 "count=N (-1: no limit), triton,file=PATH, triton,log-frequency=N; repeatable")
      ->allow_extra_args(false)
      ->multi_option_policy(all);
  for (const char* name : {"trace-file", "trace-level", "trace-rate", "trace-count", "trace-log-frequency"}) {
    app.add_option(std::string("--") + name, f.trace_flags[name],
                   "Deprecated form of --trace-config (as tritonserver's)")
        ->allow_extra_args(false)
        ->multi_option_policy(all);
  }
  for (const IgnoredFlag& flag : kIgnoredFlags) {
    app.add_option(std::string("--") + flag.name, f.ignored[flag.name],
                   std::string("Accepted for tritonserver's command line; no effect: ") + flag.why)
        ->allow_extra_args(false)
        ->multi_option_policy(all)
        ->group("tritonserver flags without effect here");
  }
}

// One warning for each tritonserver flag given that has no effect here.
void WarnIgnoredFlags(const Flags& f) {
  for (const IgnoredFlag& flag : kIgnoredFlags) {
    const auto& values = f.ignored.at(flag.name);
    for (const std::string& value : values) {
      if (flag.harmless && value == flag.harmless) continue;
      LOG_WARNING("--{}={} has no effect: {}", flag.name, value, flag.why);
      break;
    }
  }
}

// Every value of one restriction flag, into `target`; the first bad one's error.
inferd::Status AddRestrictions(const char* flag, const std::vector<std::string>& values,
                               inferd::RestrictedApis* target) {
  for (const auto& text : values) INFERD_RETURN_IF_ERROR(target->Add(flag, text));
  return inferd::Status::Ok();
}

// --exit-timeout-secs ran out with requests still in flight (a backend that
// does not return, a model still draining): answer each with an error, give
// the frontends a moment to send those answers, and leave without waiting
// for the threads that are stuck.
[[noreturn]] void ExitAfterTimeout(inferd::Server& server, inferd::http::HttpServer* http,
                                   inferd::grpc_frontend::GrpcServer* grpc, int timeout_secs) {
  LOG_ERROR("requests still in flight after --exit-timeout-secs={}: answering them with an error and "
            "exiting",
            timeout_secs);
  server.FailInFlight(inferd::Status::Unavailable(
      "inferd is exiting: the request was not finished within --exit-timeout-secs=" +
      std::to_string(timeout_secs)));
  // The answers are written by the frontends' threads, which keep running;
  // HTTP's Stop returns as soon as its last answer is written.
  if (http) http->Stop(std::chrono::seconds(1));
  if (grpc) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  LOG_INFO("inferd stopped (exit timeout)");
  spdlog::shutdown();
  std::_Exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  inferd::TuneMallocForLargeTensors();
  // ONNX Runtime's Linux library (1.30) starts telemetry that looks up and
  // uploads to an outside endpoint unless this is set: a server contacts no
  // one it was not configured to. Set here, before any thread exists (setenv
  // is not safe beside concurrent getenv); a value the user set is kept.
  ::setenv("ORT_DISABLE_TELEMETRY", "1", 0);
  CLI::App app{"inferd: an inference server for Triton model repositories (KServe v2 HTTP and gRPC)",
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
  if (f.version) {
    std::cout << "inferd " << INFERD_VERSION << "\n";
    return 0;
  }
  if (f.response_cache_byte_size > 0 && f.cache_config.empty()) f.server.cache_bytes = f.response_cache_byte_size;
  for (const auto& text : f.backend_configs) {
    std::string error;
    if (!ParseBackendConfig(text, &f.server.backend_config, &error)) {
      std::cerr << "inferd: error: " << error << "\n\n" << app.help();
      return kUsageError;
    }
  }
  if (!f.server.model_config_name.empty() && !ValidConfigName(f.server.model_config_name)) {
    std::cerr << "inferd: error: --model-config-name must be a plain file name (no '/', no spaces), got '"
              << f.server.model_config_name << "'\n";
    return kUsageError;
  }
  if (!f.cache_config.empty()) {
    std::string error;
    if (!ParseCacheConfig(f.cache_config, &f.server.cache_bytes, &error)) {
      std::cerr << "inferd: error: " << error << "\n\n" << app.help();
      return kUsageError;
    }
  }
  f.server.rate_limit = f.rate_limit == "execution_count";
  for (const auto& text : f.rate_limit_resources) {
    inferd::RateLimitResourceFlag flag;
    inferd::Status rst = inferd::ParseRateLimitResource(text, &flag);
    if (!rst.ok()) {
      std::cerr << "inferd: error: " << rst.message() << "\n\n" << app.help();
      return kUsageError;
    }
    f.server.rate_limit_resources.push_back(flag);
  }
  for (const inferd::Status& rst : {AddRestrictions("--http-restricted-api", f.http_restricted_apis,
                                                    &f.http_api.restricted),
                                    AddRestrictions("--grpc-restricted-protocol", f.grpc_restricted_protocols,
                                                    &f.grpc.restricted)}) {
    if (!rst.ok()) {
      std::cerr << "inferd: error: " << rst.message() << "\n\n" << app.help();
      return kUsageError;
    }
  }
  for (const auto& setting : f.metrics_config) {
    inferd::Status mst = inferd::metrics::ApplyMetricsConfig(setting, &f.metrics);
    if (!mst.ok()) {
      std::cerr << "inferd: error: " << mst.message() << "\n\n" << app.help();
      return kUsageError;
    }
  }
  std::vector<std::string> trace_warnings;  // logged once logging is set up
  auto apply_trace_flag = [&](const std::string& flag, const std::string& value) {
    inferd::Status tst = inferd::ApplyTraceFlag(flag, value, &f.server.trace, &trace_warnings);
    if (!tst.ok()) std::cerr << "inferd: error: " << tst.message() << "\n\n" << app.help();
    return tst.ok();
  };
  for (const auto& [flag, values] : f.trace_flags) {
    for (const auto& value : values) {
      if (!apply_trace_flag(flag, value)) return kUsageError;
    }
  }
  for (const auto& value : f.trace_config) {
    if (!apply_trace_flag("trace-config", value)) return kUsageError;
  }
  // Checked after parsing so that an unknown flag is reported first.
  if (f.server.repositories.empty()) {
    std::cerr << "inferd: error: --model-repository is required\n\n" << app.help();
    return kUsageError;
  }

  inferd::ParseLogFormat(f.log_format, &f.log.format);
  if (inferd::Status lst = inferd::ConfigureLogging(f.log); !lst.ok()) {
    std::cerr << "inferd: error: " << lst.message() << "\n";
    return kUsageError;
  }
  for (const auto& warning : trace_warnings) LOG_WARNING("{}", warning);
  f.server.control_mode = f.control_mode == "explicit" ? inferd::ModelControlMode::kExplicit
                          : f.control_mode == "poll"   ? inferd::ModelControlMode::kPoll
                                                       : inferd::ModelControlMode::kNone;
  if (!f.server.load_models.empty() && f.server.control_mode != inferd::ModelControlMode::kExplicit) {
    LOG_WARNING("--load-model has effect only with --model-control-mode=explicit; loading all models");
  }
  if (!f.server.rate_limit && !f.server.rate_limit_resources.empty()) {
    LOG_WARNING("--rate-limit-resource has effect only with --rate-limit=execution_count");
  }
  // Triton's two warnings, word for word (its QA greps for them).
  if (app.count("--strict-model-config") > 0) {
    LOG_WARNING("Warning: '--strict-model-config' has been deprecated! Please use "
                "'--disable-auto-complete-config' instead.");
    if (f.disable_auto_complete && !f.strict_model_config) {
      LOG_WARNING("Warning: Overriding deprecated '--strict-model-config' from False to True in favor of "
                  "'--disable-auto-complete-config'!");
    }
  }
  f.server.auto_complete = !(f.disable_auto_complete || f.strict_model_config);
  if (f.server.backend_directory.empty()) f.server.backend_directory = DefaultBackendDirectory();
  f.server.triton_adapter = DefaultTritonAdapter();
  f.server.gpu_count = CountGpus();
  f.http.port = static_cast<uint16_t>(f.http_port);
  f.grpc.port = static_cast<uint16_t>(f.grpc_port);
  f.server.latency_summaries = f.allow_metrics && f.metrics.summary_latencies;
  if (f.allow_gpu_metrics) LOG_WARNING("--allow-gpu-metrics: this build has no GPU metrics");
  WarnIgnoredFlags(f);

  // Signals are taken by sigwait() below; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // reopens --log-file
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Protobuf builds its descriptors on first use, behind a lock that TSan
  // cannot see (Debian's libprotobuf is not instrumented); building them here,
  // before any thread starts, keeps the loading threads and the gRPC start-up
  // from racing to be first.
  (void)inference::ModelConfig::descriptor();
  (void)inference::ModelInferRequest::descriptor();
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  inferd::Server server(f.server);
  inferd::Status st = server.Start();
  if (!st.ok()) {
    LOG_ERROR("{}", st.message());
    server.Stop();
    return 1;
  }
  auto fail = [&](const inferd::Status& error) {
    LOG_ERROR("{}", error.message());
    server.Stop();
    return 1;
  };
  f.http_api.max_input_size = f.http.max_input_size;
  f.http_api.max_json_size = f.http_max_json_size;
  inferd::http::HttpApi api(&server, f.http_api);
  std::unique_ptr<inferd::http::HttpServer> http;
  if (f.allow_http) {
    http = std::make_unique<inferd::http::HttpServer>(
        [&api](inferd::http::HttpRequest&& r, const inferd::http::HttpReadTimes& t, inferd::http::Responder d) {
          api.Handle(std::move(r), t, std::move(d));
        },
        f.http);
    st = http->Start();
    if (!st.ok()) return fail(st);
  }
  std::unique_ptr<inferd::grpc_frontend::GrpcServer> grpc;
  if (f.allow_grpc) {
    grpc = std::make_unique<inferd::grpc_frontend::GrpcServer>(&server, f.grpc);
    st = grpc->Start();
    if (!st.ok()) return fail(st);
  }
  inferd::metrics::MetricsEndpoint metrics(&server, f.metrics);
  std::unique_ptr<inferd::http::HttpServer> metrics_http;
  if (f.allow_metrics) {
    inferd::http::HttpOptions mo;
    mo.address = f.metrics_address.empty() ? f.http.address : f.metrics_address;
    mo.port = static_cast<uint16_t>(f.metrics_port);
    mo.thread_count = 1;
    mo.max_input_size = 1 << 20;
    mo.service_name = "metrics service";
    mo.thread_name = "metrics-io";
    mo.idle_timeout_secs = f.http.idle_timeout_secs;
    mo.header_timeout_secs = f.http.header_timeout_secs;
    mo.body_timeout_secs = f.http.body_timeout_secs;
    metrics_http = std::make_unique<inferd::http::HttpServer>(
        [&metrics](inferd::http::HttpRequest&& r, const inferd::http::HttpReadTimes&, inferd::http::Responder d) {
          metrics.Handle(std::move(r), std::move(d));
        },
        mo);
    st = metrics_http->Start();
    if (!st.ok()) return fail(st);
    metrics.Start();
  }

  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    // logrotate moved the file away: write to a new one at the same path.
    if (inferd::Status rst = inferd::ReopenLogFile(); !rst.ok()) LOG_ERROR("{}", rst.message());
    else LOG_INFO("received SIGHUP: log file reopened");
  }
  LOG_INFO("received {}: stopping; requests in flight are answered first (at most {} s)", strsignal(sig),
           f.exit_timeout_secs);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(f.exit_timeout_secs);
  if (http) http->StopAccepting();
  // The models finish what they accepted, on a thread of their own, so that
  // the exit timeout can still be kept when a backend never returns.
  std::promise<void> stopped;
  std::future<void> models_stopped = stopped.get_future();
  std::thread stopper([&server, &stopped] {
    server.Stop();  // answers every queued request
    stopped.set_value();
  });
  if (models_stopped.wait_until(deadline) != std::future_status::ready) {
    ExitAfterTimeout(server, http.get(), grpc.get(), f.exit_timeout_secs);  // does not return
  }
  stopper.join();
  auto left = [&] {
    return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      deadline - std::chrono::steady_clock::now()));
  };
  if (http) http->Stop(left());
  // Answers are finishing their writes; a stream the client keeps open is
  // cancelled after the grace period.
  if (grpc) grpc->Stop(std::min<std::chrono::milliseconds>(left(), std::chrono::seconds(5)));
  if (metrics_http) metrics_http->Stop(std::chrono::seconds(1));
  metrics.Stop();
  LOG_INFO("inferd stopped");
  return 0;
}
