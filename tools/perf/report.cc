#include "report.h"

#include <fmt/format.h>

namespace inferd::perf {
namespace {

uint64_t Avg(uint64_t total, uint64_t count) { return count ? total / count / 1000 : 0; }  // ns -> us

struct ServerAverages {
  uint64_t request = 0, queue = 0, input = 0, infer = 0, output = 0, overhead = 0;
};

ServerAverages Server(const client::ServerStats& s) {
  ServerAverages a;
  a.request = Avg(s.success.ns, s.success.count);
  a.queue = Avg(s.queue.ns, s.queue.count);
  a.input = Avg(s.compute_input.ns, s.compute_input.count);
  a.infer = Avg(s.compute_infer.ns, s.compute_infer.count);
  a.output = Avg(s.compute_output.ns, s.compute_output.count);
  const uint64_t parts = a.queue + a.input + a.infer + a.output;
  a.overhead = a.request > parts ? a.request - parts : 0;
  return a;
}

uint64_t LatencyUs(const StepResult& r, double percentile) {
  return percentile > 0 ? r.client.latency.Percentile(percentile) / 1000
                        : static_cast<uint64_t>(r.client.latency.mean() / 1000);
}

}  // namespace

void PrintStep(FILE* out, const StepResult& r, const ReportOptions& o) {
  const auto& c = r.client;
  const uint64_t n = c.latency.count();
  const uint64_t send = Avg(c.send_ns + c.receive_ns, n), wait = Avg(c.wait_ns, n);
  std::string text;
  if (r.rate_mode) text += fmt::format("Request Rate: {}\n", r.level);
  else text += fmt::format("Request concurrency: {}\n", r.level);
  text += "  Client: \n";
  text += fmt::format("    Request count: {}\n", n);
  text += fmt::format("    Throughput: {:.2f} infer/sec\n", r.throughput());
  if (r.rate_mode && c.delayed) text += fmt::format("    Delayed Request Count: {}\n", c.delayed);
  text += fmt::format("    Avg latency: {} usec (standard deviation {} usec)\n",
                      static_cast<uint64_t>(c.latency.mean() / 1000),
                      static_cast<uint64_t>(c.latency.stddev() / 1000));
  for (double p : {50.0, 90.0, 95.0, 99.0}) {
    text += fmt::format("    p{} latency: {} usec\n", static_cast<int>(p), c.latency.Percentile(p) / 1000);
  }
  if (o.protocol == "grpc") {
    text += fmt::format("    Avg gRPC time: {} usec ((un)marshal request/response {} usec + response wait {} usec)\n",
                        send + wait, send, wait);
  } else {
    text += fmt::format("    Avg HTTP time: {} usec (send/recv {} usec + response wait {} usec)\n",
                        send + wait, send, wait);
  }
  const ServerAverages s = Server(r.server);
  text += "  Server: \n";
  text += fmt::format("    Inference count: {}\n", r.server.inference_count);
  text += fmt::format("    Execution count: {}\n", r.server.execution_count);
  text += fmt::format("    Successful request count: {}\n", r.server.success.count);
  text += fmt::format(
      "    Avg request latency: {} usec (overhead {} usec + queue {} usec + compute input {} usec + "
      "compute infer {} usec + compute output {} usec)\n",
      s.request, s.overhead, s.queue, s.input, s.infer, s.output);
  if (!r.stable) text += "  (not stable within the trials allowed: these are the last windows)\n";
  std::fputs((text + "\n").c_str(), out);
}

void PrintSummary(FILE* out, const std::vector<StepResult>& steps, const ReportOptions& o) {
  std::string text = o.percentile > 0
                         ? fmt::format("Inferences/Second vs. Client p{} Batch Latency\n", o.percentile)
                         : std::string("Inferences/Second vs. Client Average Batch Latency\n");
  for (const auto& r : steps) {
    text += fmt::format("{}: {}, throughput: {:.2f} infer/sec, latency {} usec\n",
                        r.rate_mode ? "Request Rate" : "Concurrency", r.level, r.throughput(),
                        LatencyUs(r, o.percentile));
  }
  std::fputs(text.c_str(), out);
}

std::string Csv(const std::vector<StepResult>& steps, const ReportOptions& o) {
  const bool rate = !steps.empty() && steps.front().rate_mode;
  std::string csv = std::string(rate ? "Request Rate" : "Concurrency") +
                    ",Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
                    "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,"
                    "p50 latency,p90 latency,p95 latency,p99 latency";
  if (o.verbose_csv) csv += ",Avg latency,request/response,response wait";
  csv += "\n";
  for (const auto& r : steps) {
    const auto& c = r.client;
    const uint64_t n = c.latency.count();
    const uint64_t send = Avg(c.send_ns, n), recv = Avg(c.receive_ns, n), wait = Avg(c.wait_ns, n);
    const ServerAverages s = Server(r.server);
    const uint64_t network = wait > s.request ? wait - s.request : 0;
    csv += fmt::format("{},{:.2f},{},{},{},{},{},{},{},{},{},{},{}", r.level, r.throughput(), send,
                       network, s.queue, s.input, s.infer, s.output, recv,
                       c.latency.Percentile(50) / 1000, c.latency.Percentile(90) / 1000,
                       c.latency.Percentile(95) / 1000, c.latency.Percentile(99) / 1000);
    if (o.verbose_csv) {
      csv += fmt::format(",{},{},{}", static_cast<uint64_t>(c.latency.mean() / 1000), send + recv, wait);
    }
    csv += "\n";
  }
  return csv;
}

}  // namespace inferd::perf
