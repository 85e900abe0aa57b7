"""gRPC beside HTTP: the identity model, one 1x16 FP32 input, driven over each
protocol in turn at concurrency 1 and 8, in one run, by inferd-perf (or by
Triton's perf_analyzer with --tool perf_analyzer: same flags, same CSV).

Prints requests/s, p50/p99 client latency and the server's CPU time per
request (CPU time of the inferd process over the requests it answered, from
/proc and the statistics endpoint). The load generator shares the machine's
cores, so read the protocols against each other, not as absolutes.
    .venv/bin/python bench/grpc_http_identity.py [seconds per step, default 5] [--tool perf_analyzer]
"""
import csv
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import tritonclient.http as httpclient

from benchlib import IDENTITY_MODEL, LOAD_TOOLS, cpu_seconds, identity_server, model_successes


def perf(tool, protocol, url, concurrency, seconds):
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        subprocess.run(
            [LOAD_TOOLS[tool], "-m", IDENTITY_MODEL, "-i", protocol, "-u", url,
             f"--concurrency-range={concurrency}", "-p", str(seconds * 1000), "-s", "50", "-r", "3",
             "-f", f.name],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=300)
        row = next(csv.DictReader(io.StringIO(Path(f.name).read_text())))
    return float(row["Inferences/Second"]), int(row["p50 latency"]), int(row["p99 latency"])


def main():
    args = [a for a in sys.argv[1:] if a not in ("--tool", "perf_analyzer")]
    tool = "perf_analyzer" if "perf_analyzer" in sys.argv[1:] else "inferd-perf"
    seconds = int(args[0]) if args else 5
    print(f"load generator: {tool}")
    with identity_server() as (server, urls):
        client = httpclient.InferenceServerClient(urls["http"])
        print(f"{'protocol':8} {'conc':>4} {'req/s':>9} {'p50 us':>7} {'p99 us':>7} {'server CPU us/req':>18}")
        results = {}
        for concurrency in (1, 8):
            for protocol in ("http", "grpc"):
                cpu0, n0 = cpu_seconds(server.pid), model_successes(client)
                rate, p50, p99 = perf(tool, protocol, urls[protocol], concurrency, seconds)
                cpu1, n1 = cpu_seconds(server.pid), model_successes(client)
                per_request = (cpu1 - cpu0) / max(1, n1 - n0) * 1e6
                results[(protocol, concurrency)] = (rate, per_request)
                print(f"{protocol:8} {concurrency:>4} {rate:>9.0f} {p50:>7} {p99:>7} {per_request:>18.1f}")
        for concurrency in (1, 8):
            g, h = results[("grpc", concurrency)], results[("http", concurrency)]
            print(f"concurrency {concurrency}: gRPC/HTTP throughput {g[0] / h[0]:.2f}, "
                  f"CPU per request {g[1] / h[1]:.2f}")


if __name__ == "__main__":
    main()
