#include "frontend/metrics/metrics_endpoint.h"

#include <fmt/format.h>

#include <charconv>

#include "core/custom_metrics.h"
#include "core/model.h"
#include "core/response_cache.h"
#include "frontend/metrics/prometheus_text.h"

namespace inferd::metrics {
namespace beast_http = boost::beast::http;
namespace {

constexpr uint64_t kNsPerUs = 1000;

bool ParseBool(const std::string& v, bool* out) {
  if (v == "true" || v == "1") *out = true;
  else if (v == "false" || v == "0") *out = false;
  else return false;
  return true;
}

bool ParseDouble(const std::string& v, double* out) {
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && ptr == v.data() + v.size();
}

}  // namespace

Status ApplyMetricsConfig(const std::string& setting, MetricsOptions* o) {
  const size_t eq = setting.find('=');
  if (eq == std::string::npos) {
    return Status::InvalidArg("--metrics-config expects KEY=VALUE, got '" + setting + "'");
  }
  const std::string key = setting.substr(0, eq), value = setting.substr(eq + 1);
  auto bad = [&](const char* what) {
    return Status::InvalidArg("--metrics-config " + key + ": expected " + what + ", got '" + value + "'");
  };
  if (key == "counter_latencies") {
    if (!ParseBool(value, &o->counter_latencies)) return bad("true or false");
  } else if (key == "summary_latencies") {
    if (!ParseBool(value, &o->summary_latencies)) return bad("true or false");
  } else if (key == "summary_quantiles") {
    // Q:E,Q:E... ; E is the error Triton's summaries allow, kept exact here.
    std::vector<double> qs;
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = value.find(',', start);
      if (end == std::string::npos) end = value.size();
      const std::string item = value.substr(start, end - start);
      const std::string q = item.substr(0, item.find(':'));
      double x = 0;
      if (!ParseDouble(q, &x) || !(x >= 0 && x <= 1)) {  // NaN fails too
        return bad("quantile:error pairs with 0 <= quantile <= 1");
      }
      qs.push_back(x);
      start = end + 1;
    }
    o->quantiles = std::move(qs);
  } else if (key == "summary_max_age_ms") {
    // Found by the parameters fuzzer: 1e23 (or NaN) does not fit the integer.
    constexpr double kMaxAgeMs = 365.0 * 24 * 3600 * 1000;  // a year
    double ms = 0;
    if (!ParseDouble(value, &ms) || !(ms >= 1 && ms <= kMaxAgeMs)) {
      return bad("a number of milliseconds from 1 to a year");
    }
    o->summary_max_age_ms = static_cast<uint64_t>(ms);
  } else {
    return Status::InvalidArg("--metrics-config: unknown setting '" + key +
                              "' (known: counter_latencies, summary_latencies, "
                              "summary_quantiles, summary_max_age_ms)");
  }
  return Status::Ok();
}

MetricsEndpoint::MetricsEndpoint(const Server* core, MetricsOptions options)
    : core_(core), options_(std::move(options)) {}

MetricsEndpoint::~MetricsEndpoint() { Stop(); }

void MetricsEndpoint::Start() {
  if (!options_.cpu_metrics || sampler_.joinable()) return;
  sampler_ = std::thread([this] { SampleLoop(); });
}

void MetricsEndpoint::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void MetricsEndpoint::SampleLoop() {
  CpuTimes before = ReadCpuTimes();
  std::unique_lock<std::mutex> lock(mu_);
  memory_ = ReadSystemMemory();
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const CpuTimes now = ReadCpuTimes();
    const SystemMemory memory = ReadSystemMemory();
    lock.lock();
    if (now.total > before.total) {
      cpu_utilization_ = static_cast<double>(now.busy - before.busy) /
                         static_cast<double>(now.total - before.total);
    }
    memory_ = memory;
    before = now;
  }
}

std::string MetricsEndpoint::Render() const {
  struct Row {
    Labels labels;
    ModelStatsSnapshot s;
    int64_t pending;
    bool cached;
    const Model* model;
  };
  const auto models = core_->LoadedModels();
  std::vector<Row> rows;
  rows.reserve(models.size());
  for (const auto& m : models) {
    rows.push_back({{{"model", m->name()}, {"version", std::to_string(m->version())}},
                    m->stats().Snapshot(), m->pending_requests(), m->cache() != nullptr, m.get()});
  }

  PrometheusText p;
  auto per_model = [&](const char* name, const char* type, const char* help, auto value) {
    p.Family(name, type, help);
    for (const auto& r : rows) p.Sample(name, r.labels, value(r));
  };
  per_model("nv_inference_request_success", "counter",
            "Number of successful inference requests, all batch sizes",
            [](const Row& r) { return r.s.success.count; });
  // One series per failure reason, each present from the start (Triton 2.51;
  // dashboards and Triton's QA read them by reason).
  p.Family("nv_inference_request_failure", "counter", "Number of failed inference requests, all batch sizes");
  for (const auto& r : rows) {
    for (size_t reason = 0; reason < kFailureReasons; ++reason) {
      Labels labels = r.labels;
      labels.insert(labels.begin() + 1, {"reason", FailureReasonName(static_cast<FailureReason>(reason))});
      p.Sample("nv_inference_request_failure", labels, r.s.fail_by_reason[reason]);
    }
  }
  per_model("nv_inference_count", "counter",
            "Number of inferences performed (does not include cached requests)",
            [](const Row& r) { return r.s.inference_count; });
  per_model("nv_inference_exec_count", "counter",
            "Number of model executions performed (does not include cached requests)",
            [](const Row& r) { return r.s.execution_count; });
  per_model("nv_inference_pending_request_count", "gauge",
            "Instantaneous number of pending requests awaiting execution per-model.",
            [](const Row& r) { return static_cast<double>(r.pending); });
  if (options_.counter_latencies) {
    per_model("nv_inference_request_duration_us", "counter",
              "Cumulative inference request duration in microseconds (includes cached requests)",
              [](const Row& r) { return r.s.success.ns / kNsPerUs; });
    per_model("nv_inference_queue_duration_us", "counter",
              "Cumulative inference queuing duration in microseconds (includes cached requests)",
              [](const Row& r) { return r.s.queue.ns / kNsPerUs; });
    per_model("nv_inference_compute_input_duration_us", "counter",
              "Cumulative compute input duration in microseconds (does not include cached requests)",
              [](const Row& r) { return r.s.compute_input.ns / kNsPerUs; });
    per_model("nv_inference_compute_infer_duration_us", "counter",
              "Cumulative compute inference duration in microseconds (does not include cached requests)",
              [](const Row& r) { return r.s.compute_infer.ns / kNsPerUs; });
    per_model("nv_inference_compute_output_duration_us", "counter",
              "Cumulative inference compute output duration in microseconds (does not include cached requests)",
              [](const Row& r) { return r.s.compute_output.ns / kNsPerUs; });
  }
  if (options_.summary_latencies) {
    const struct {
      const char* name;
      LatencyKind kind;
      const char* help;
    } summaries[] = {
        {"nv_inference_request_summary_us", LatencyKind::kRequest,
         "Summary of inference request duration in microseconds (includes cached requests)"},
        {"nv_inference_queue_summary_us", LatencyKind::kQueue,
         "Summary of inference queuing duration in microseconds (includes cached requests)"},
        {"nv_inference_compute_input_summary_us", LatencyKind::kComputeInput,
         "Summary of compute input duration in microseconds (does not include cached requests)"},
        {"nv_inference_compute_infer_summary_us", LatencyKind::kComputeInfer,
         "Summary of compute inference duration in microseconds (does not include cached requests)"},
        {"nv_inference_compute_output_summary_us", LatencyKind::kComputeOutput,
         "Summary of inference compute output duration in microseconds (does not include cached requests)"},
    };
    const uint64_t now = NowNs();
    for (const auto& sm : summaries) {
      p.Family(sm.name, "summary", sm.help);
      for (const auto& r : rows) {
        const LatencyQuantiles q = r.model->stats().Summary(
            sm.kind, options_.quantiles, now, options_.summary_max_age_ms * 1000000ull);
        for (size_t k = 0; k < q.values.size(); ++k) {
          Labels labels = r.labels;
          labels.emplace_back("quantile", fmt::format("{}", options_.quantiles[k]));
          p.Sample(sm.name, labels, q.values[k]);
        }
        p.Sample(std::string(sm.name) + "_sum", r.labels, q.sum_us);
        p.Sample(std::string(sm.name) + "_count", r.labels, q.count);
      }
    }
  }

  // Response cache: per model (models that use it), then the cache itself.
  if (const ResponseCache* cache = core_->cache()) {
    std::vector<const Row*> cached;
    for (const auto& r : rows)
      if (r.cached) cached.push_back(&r);
    auto per_cached = [&](const char* name, const char* help, auto value) {
      p.Family(name, "counter", help);
      for (const Row* r : cached) p.Sample(name, r->labels, value(*r));
    };
    per_cached("nv_cache_num_hits_per_model", "Number of cache hits per model",
               [](const Row& r) { return r.s.cache_hit.count; });
    per_cached("nv_cache_num_misses_per_model", "Number of cache misses per model",
               [](const Row& r) { return r.s.cache_miss.count; });
    per_cached("nv_cache_hit_duration_per_model",
               "Total cache hit duration per model, in microseconds",
               [](const Row& r) { return r.s.cache_hit.ns / kNsPerUs; });
    per_cached("nv_cache_miss_duration_per_model",
               "Total cache miss (insert+lookup) duration per model, in microseconds",
               [](const Row& r) { return r.s.cache_miss.ns / kNsPerUs; });
    const ResponseCache::Counters c = cache->counters();
    auto global = [&](const char* name, const char* help, double value) {
      p.Family(name, "gauge", help);
      p.Sample(name, {}, value);
    };
    global("nv_cache_num_entries", "Number of responses stored in response cache",
           static_cast<double>(cache->entries()));
    global("nv_cache_num_lookups", "Number of cache lookups in response cache",
           static_cast<double>(c.lookups));
    global("nv_cache_num_hits", "Number of cache hits in response cache", static_cast<double>(c.hits));
    global("nv_cache_num_misses", "Number of cache misses in response cache",
           static_cast<double>(c.misses));
    global("nv_cache_num_evictions", "Number of cache evictions in response cache",
           static_cast<double>(c.evictions));
    global("nv_cache_util", "Cache utilization [0.0 - 1.0]",
           cache->capacity() ? static_cast<double>(cache->bytes()) / static_cast<double>(cache->capacity())
                             : 0.0);
  }

  // What backends defined through the custom-metrics API (a family with no
  // series, e.g. of a backend whose models are all unloaded, is left out).
  for (const CustomMetricSnapshot& family : CustomMetrics::Global().Snapshot()) {
    if (family.series.empty()) continue;
    if (family.kind == MetricKind::kHistogram) {
      p.Family(family.name, "histogram", family.help);
      for (const CustomSeriesSnapshot& series : family.series) {
        p.Histogram(family.name, series.labels, series.histogram);
      }
      continue;
    }
    p.Family(family.name, family.kind == MetricKind::kCounter ? "counter" : "gauge", family.help);
    for (const CustomSeriesSnapshot& series : family.series) p.Sample(family.name, series.labels, series.value);
  }

  if (options_.cpu_metrics) {
    double utilization;
    SystemMemory memory;
    {
      std::lock_guard<std::mutex> lock(mu_);
      utilization = cpu_utilization_;
      memory = memory_;
    }
    p.Family("nv_cpu_utilization", "gauge", "CPU utilization rate [0.0 - 1.0]");
    p.Sample("nv_cpu_utilization", {}, utilization);
    p.Family("nv_cpu_memory_total_bytes", "gauge", "CPU total memory (RAM), in bytes");
    p.Sample("nv_cpu_memory_total_bytes", {}, memory.total_bytes);
    p.Family("nv_cpu_memory_used_bytes", "gauge", "CPU used memory (RAM), in bytes");
    p.Sample("nv_cpu_memory_used_bytes", {}, memory.used_bytes);
  }

  const ProcessUsage u = ReadProcessUsage();
  p.Family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  p.Sample("process_cpu_seconds_total", {}, u.cpu_seconds);
  p.Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  p.Sample("process_resident_memory_bytes", {}, u.resident_bytes);
  p.Family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  p.Sample("process_virtual_memory_bytes", {}, u.virtual_bytes);
  p.Family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  p.Sample("process_start_time_seconds", {}, u.start_time_seconds);
  return p.text();
}

void MetricsEndpoint::Handle(http::HttpRequest&& req, http::Responder respond) const {
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  if (target != "/metrics") {
    return respond(http::HttpApi::Error(Status::NotFound("no endpoint " + std::string(target) +
                                                         " (metrics are at /metrics)"),
                                        req.version(), req.keep_alive()));
  }
  if (req.method() != beast_http::verb::get && req.method() != beast_http::verb::head) {
    http::HttpResponse res(beast_http::status::method_not_allowed, req.version());
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return respond(std::move(res));
  }
  http::HttpResponse res(beast_http::status::ok, req.version());
  res.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body().text = Render();
  res.prepare_payload();
  respond(std::move(res));
}

}  // namespace inferd::metrics
