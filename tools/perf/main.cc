// inferd-perf: measures a model served by inferd (or Triton) under load, the
// way Triton's perf_analyzer does, with its flag names, text and CSV. For each
// load level (concurrency, or request rate) it takes measurement windows until
// the last three agree within the stability percentage, then reports the
// client side (throughput, latency percentiles, where the time went) beside
// the server side from the statistics endpoint.
#include <unistd.h>

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "client/infer_client.h"
#include "common/malloc_tuning.h"
#include "input_data.h"
#include "load_generator.h"
#include "report.h"
#include "stability.h"

namespace {
using namespace inferd;
using namespace inferd::perf;

constexpr int kUsageError = 2;

struct Flags {
  std::string model, version, url, protocol = "http";
  int64_t batch_size = 1;
  std::string concurrency_range, request_rate_range, distribution = "constant";
  std::vector<std::string> shapes, headers;
  std::string input_data = "random";
  size_t string_length = 128;
  double percentile = 0;
  uint64_t measurement_interval_ms = 5000;
  std::string measurement_mode = "time_windows";
  uint64_t measurement_request_count = 50;
  double stability = 10;
  int max_trials = 10;
  uint64_t latency_threshold_ms = 0;
  bool async = false, sync = false, streaming = false, verbose_csv = false, verbose = false;
  std::string csv_file;
  size_t max_threads = 16;
  client::GrpcSsl ssl;
};

// "start[:end[:step]]" -> the levels, in order.
bool ParseRange(const std::string& text, std::vector<double>* levels, std::string* error) {
  std::vector<double> parts;
  std::stringstream s(text);
  std::string p;
  while (std::getline(s, p, ':')) {
    try {
      size_t used = 0;
      parts.push_back(std::stod(p, &used));
      if (used != p.size()) throw std::invalid_argument(p);
    } catch (const std::exception&) {
      *error = "'" + text + "' is not start[:end[:step]]";
      return false;
    }
  }
  if (parts.empty() || parts.size() > 3 || parts[0] <= 0) {
    *error = "'" + text + "' is not start[:end[:step]] with start > 0";
    return false;
  }
  const double start = parts[0], end = parts.size() > 1 ? parts[1] : start,
               step = parts.size() > 2 ? parts[2] : 1;
  if (end < start || step <= 0) {
    *error = "'" + text + "': end must be >= start and step > 0";
    return false;
  }
  for (double v = start; v <= end + 1e-9; v += step) levels->push_back(v);
  return true;
}

client::ServerStats Minus(const client::ServerStats& a, const client::ServerStats& b) {
  auto d = [](const client::ServerStats::Duration& x, const client::ServerStats::Duration& y) {
    return client::ServerStats::Duration{x.count - y.count, x.ns - y.ns};
  };
  client::ServerStats r;
  r.inference_count = a.inference_count - b.inference_count;
  r.execution_count = a.execution_count - b.execution_count;
  r.success = d(a.success, b.success);
  r.fail = d(a.fail, b.fail);
  r.queue = d(a.queue, b.queue);
  r.compute_input = d(a.compute_input, b.compute_input);
  r.compute_infer = d(a.compute_infer, b.compute_infer);
  r.compute_output = d(a.compute_output, b.compute_output);
  r.cache_hit = d(a.cache_hit, b.cache_hit);
  r.cache_miss = d(a.cache_miss, b.cache_miss);
  return r;
}

client::ServerStats Plus(const client::ServerStats& a, const client::ServerStats& b) {
  client::ServerStats zero;
  return Minus(a, Minus(zero, b));  // unsigned wrap-around makes this a + b
}

// One line of progress: rewritten in place on a terminal, plain otherwise.
void Progress(const std::string& line, bool tty) {
  if (tty) std::fprintf(stderr, "\r\033[K%s", line.c_str());
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "inferd-perf: error: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  inferd::TuneMallocForLargeTensors();  // responses of a megabyte or more are read per request
  CLI::App app{"inferd-perf: measures throughput and latency of a model served over KServe v2", "inferd-perf"};
  Flags f;
  app.add_option("-m,--model-name", f.model, "Model to measure")->required();
  app.add_option("-x,--model-version", f.version, "Model version (default: the latest)");
  app.add_option("-b,--batch-size", f.batch_size, "Batch size of each request (default 1)")->check(CLI::PositiveNumber);
  app.add_option("-u,--url", f.url, "host:port (default localhost:8000 for HTTP, localhost:8001 for gRPC)");
  app.add_option("-i,--protocol", f.protocol, "http or grpc")->check(CLI::IsMember({"http", "grpc"}))
      ->transform(CLI::ignore_case);
  app.add_option("--concurrency-range", f.concurrency_range, "start[:end[:step]] requests in flight (default 1)");
  app.add_option("--request-rate-range", f.request_rate_range, "start[:end[:step]] requests per second");
  app.add_option("--request-distribution", f.distribution, "constant or poisson (request-rate mode)")
      ->check(CLI::IsMember({"constant", "poisson"}));
  app.add_option("--shape", f.shapes, "NAME:d1,d2,... for inputs with variable dims; repeatable");
  app.add_option("--input-data", f.input_data, "zero, random, or a JSON file (perf_analyzer's format)");
  app.add_option("--string-length", f.string_length, "Length of generated BYTES elements (default 128)");
  app.add_option("--percentile", f.percentile, "Stabilize on and report this latency percentile (default: average)")
      ->check(CLI::Range(1.0, 99.999));
  app.add_option("-p,--measurement-interval", f.measurement_interval_ms, "Window length in ms (default 5000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--measurement-mode", f.measurement_mode, "time_windows or count_windows")
      ->check(CLI::IsMember({"time_windows", "count_windows"}));
  app.add_option("--measurement-request-count", f.measurement_request_count,
                 "count_windows: requests per window (default 50)")->check(CLI::PositiveNumber);
  app.add_option("-s,--stability-percentage", f.stability, "Allowed spread of the last 3 windows, % (default 10)")
      ->check(CLI::PositiveNumber);
  app.add_option("-r,--max-trials", f.max_trials, "Windows per level before giving up on stability (default 10)")
      ->check(CLI::Range(3, 10000));
  app.add_option("-l,--latency-threshold", f.latency_threshold_ms, "Stop raising the load past this latency, ms");
  app.add_flag("-a,--async", f.async, "Asynchronous requests (same measurement: one in flight per worker)");
  app.add_flag("--sync", f.sync, "Synchronous requests (default)");
  app.add_flag("--streaming", f.streaming, "Send over gRPC streams (needed for decoupled models)");
  app.add_option("-f,--latency-report-file", f.csv_file, "Write perf_analyzer's CSV here");
  app.add_flag("--verbose-csv", f.verbose_csv, "Add latency details to the CSV");
  app.add_option("-H", f.headers, "Header (HTTP) or metadata (gRPC) NAME:VALUE; repeatable");
  app.add_option("--max-threads", f.max_threads, "Workers in request-rate mode (default 16)")->check(CLI::PositiveNumber);
  app.add_option("--ssl-grpc-use-ssl", f.ssl.use_ssl, "gRPC over TLS (true/false)");
  app.add_option("--ssl-grpc-root-certifications-file", f.ssl.root_certificates_file, "PEM of the CA");
  app.add_option("--ssl-grpc-private-key-file", f.ssl.private_key_file, "PEM of the client key");
  app.add_option("--ssl-grpc-certificate-chain-file", f.ssl.certificate_chain_file, "PEM of the client certificate");
  app.add_flag("-v,--verbose", f.verbose, "More output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "inferd-perf: error: " << e.what() << "\n";
    return kUsageError;
  }
  if (f.url.empty()) f.url = f.protocol == "grpc" ? "localhost:8001" : "localhost:8000";
  if (f.streaming && f.protocol != "grpc") {
    std::cerr << "inferd-perf: error: --streaming needs -i grpc\n";
    return kUsageError;
  }
  if (!f.concurrency_range.empty() && !f.request_rate_range.empty()) {
    std::cerr << "inferd-perf: error: give --concurrency-range or --request-rate-range, not both\n";
    return kUsageError;
  }
  const bool rate_mode = !f.request_rate_range.empty();
  std::vector<double> levels;
  std::string range_error;
  if (!ParseRange(rate_mode ? f.request_rate_range : (f.concurrency_range.empty() ? "1" : f.concurrency_range),
                  &levels, &range_error)) {
    std::cerr << "inferd-perf: error: " << (rate_mode ? "--request-rate-range " : "--concurrency-range ")
              << range_error << "\n";
    return kUsageError;
  }
  InputOptions in;
  in.model = f.model;
  in.version = f.version;
  in.batch_size = f.batch_size;
  in.data = f.input_data;
  in.string_length = f.string_length;
  for (const auto& s : f.shapes) {
    std::string name;
    std::vector<int64_t> dims;
    Status st = ParseShapeFlag(s, &name, &dims);
    if (!st.ok()) {
      std::cerr << "inferd-perf: error: " << st.message() << "\n";
      return kUsageError;
    }
    in.shapes[name] = dims;
  }
  client::Headers headers;
  for (const auto& h : f.headers) {
    const size_t colon = h.find(':');
    if (colon == std::string::npos) {
      std::cerr << "inferd-perf: error: -H expects NAME:VALUE, got '" << h << "'\n";
      return kUsageError;
    }
    headers.emplace_back(h.substr(0, colon), h.substr(colon + 1));
  }

  // Clients: one per worker (HTTP: a connection each; gRPC: one shared channel).
  std::shared_ptr<client::GrpcChannel> channel;
  if (f.protocol == "grpc") {
    Status st = client::MakeGrpcChannel(f.url, f.ssl, &channel);
    if (!st.ok()) return Fail(st.message());
  }
  ClientFactory factory = [&]() -> std::unique_ptr<client::InferClient> {
    if (channel) return client::MakeGrpcClient(channel, headers);
    return client::MakeHttpClient(f.url, headers);
  };
  auto control = factory();
  bool live = false;
  Status st = control->ServerLive(&live);
  if (!st.ok() || !live) {
    return Fail("the server at " + f.url + " (" + f.protocol + ") is not live" +
                (st.ok() ? "" : ": " + st.message()));
  }
  client::ModelInfo model;
  st = control->ModelMetadata(f.model, f.version, &model);
  if (!st.ok()) return Fail("model '" + f.model + "': " + st.message());
  if (model.decoupled && !f.streaming) {
    return Fail("model '" + f.model + "' is decoupled (several responses per request): measure it with -i grpc --streaming");
  }
  std::vector<client::InferRequest> requests;
  st = BuildRequests(model, in, &requests);
  if (!st.ok()) return Fail(st.message());
  // One request up front, so that a bad input fails before any measurement.
  {
    auto probe = factory();
    st = probe->Prepare(requests.front());
    size_t responses = 0;
    if (st.ok()) st = f.streaming ? probe->StreamInfer(nullptr, &responses) : probe->Infer(nullptr, nullptr);
    if (!st.ok()) return Fail("the first request to model '" + f.model + "' failed: " + st.message());
  }

  std::printf("*** Measurement Settings ***\n");
  std::printf("  Batch size: %lld\n", static_cast<long long>(f.batch_size));
  std::printf("  Service Kind: KServe v2 over %s (%s)\n", f.protocol == "grpc" ? "gRPC" : "HTTP", f.url.c_str());
  std::printf("  Using \"%s\" mode for stabilization\n", f.measurement_mode.c_str());
  if (f.measurement_mode == "time_windows") {
    std::printf("  Measurement window: %llu msec\n", static_cast<unsigned long long>(f.measurement_interval_ms));
  } else {
    std::printf("  Minimum number of samples in each window: %llu\n",
                static_cast<unsigned long long>(f.measurement_request_count));
  }
  std::printf("  Latency limit: %llu msec\n", static_cast<unsigned long long>(f.latency_threshold_ms));
  if (rate_mode) {
    std::printf("  Request Rate limit: %g requests per seconds\n", levels.back());
    std::printf("  Using %s distribution on request generation\n", f.distribution.c_str());
  } else {
    std::printf("  Concurrency limit: %g concurrent requests\n", levels.back());
  }
  std::printf("  Using %s calls for inference\n",
              f.streaming ? "streaming" : f.async ? "asynchronous" : "synchronous");
  if (f.percentile > 0) std::printf("  Stabilizing using p%g latency\n\n", f.percentile);
  else std::printf("  Stabilizing using average latency\n\n");
  std::fflush(stdout);

  const bool tty = isatty(STDERR_FILENO);
  ReportOptions report{f.protocol, f.percentile, f.verbose_csv};
  std::vector<StepResult> steps;
  LoadGenerator load(factory, requests, f.streaming);
  for (double level : levels) {
    st = rate_mode ? load.StartRate(level, f.distribution == "poisson" ? Distribution::kPoisson : Distribution::kConstant,
                                    f.max_threads)
                   : load.StartConcurrency(static_cast<size_t>(level));
    if (!st.ok()) return Fail(st.message());
    const std::string what = rate_mode ? fmt::format("request rate {}", level) : fmt::format("concurrency {}", level);
    client::ServerStats before, after;
    st = control->ModelStatistics(f.model, f.version, &before);
    if (!st.ok()) return Fail(st.message());
    std::vector<WindowStats> windows;
    std::vector<client::ServerStats> server_windows;
    std::vector<WindowSummary> summaries;
    bool stable = false;
    for (int trial = 1; trial <= f.max_trials && !stable; ++trial) {
      const auto start = std::chrono::steady_clock::now();
      if (f.measurement_mode == "time_windows") {
        std::this_thread::sleep_until(start + std::chrono::milliseconds(f.measurement_interval_ms));
      } else {
        while (load.Completed() < f.measurement_request_count) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      WindowStats w = load.Collect();
      st = control->ModelStatistics(f.model, f.version, &after);
      if (!st.ok()) return Fail(st.message());
      if (w.errors) {
        load.Stop();
        return Fail(fmt::format("{} of the requests at {} failed; the first: {}", w.errors, what, w.first_error));
      }
      server_windows.push_back(Minus(after, before));
      before = after;
      const double throughput = w.seconds > 0 ? w.latency.count() * f.batch_size / w.seconds : 0;
      const double latency_us = (f.percentile > 0 ? w.latency.Percentile(f.percentile) : w.latency.mean()) / 1000;
      summaries.push_back({throughput, latency_us});
      windows.push_back(std::move(w));
      stable = IsStable(summaries, f.stability);
      Progress(fmt::format("[{}] trial {}/{}: {:.1f} infer/s, {} latency {:.0f} usec{}", what, trial,
                           f.max_trials, throughput, f.percentile > 0 ? fmt::format("p{}", f.percentile) : "avg",
                           latency_us, stable ? " (stable)" : ""),
               tty);
    }
    load.Stop();
    if (tty) std::fprintf(stderr, "\r\033[K");
    StepResult r;
    r.rate_mode = rate_mode;
    r.level = level;
    r.batch_size = f.batch_size;
    r.stable = stable;
    const size_t take = std::min<size_t>(3, windows.size());
    for (size_t i = windows.size() - take; i < windows.size(); ++i) {
      r.client.Merge(windows[i]);
      r.client.seconds += windows[i].seconds;
      r.server = Plus(r.server, server_windows[i]);
    }
    PrintStep(stdout, r, report);
    std::fflush(stdout);
    steps.push_back(std::move(r));
    const uint64_t latency_ms = (f.percentile > 0 ? steps.back().client.latency.Percentile(f.percentile)
                                                  : static_cast<uint64_t>(steps.back().client.latency.mean())) / 1000000;
    if (f.latency_threshold_ms && latency_ms > f.latency_threshold_ms) {
      std::printf("Latency %llu ms exceeds the threshold of %llu ms: stopping here.\n\n",
                  static_cast<unsigned long long>(latency_ms), static_cast<unsigned long long>(f.latency_threshold_ms));
      break;
    }
  }
  PrintSummary(stdout, steps, report);
  if (!f.csv_file.empty()) {
    std::ofstream csv(f.csv_file);
    csv << Csv(steps, report);
    if (!csv) return Fail("cannot write " + f.csv_file);
  }
  for (const auto& s : steps)
    if (!s.stable) return Fail("the measurement was not stable within " + std::to_string(f.max_trials) + " trials");
  return 0;
}
