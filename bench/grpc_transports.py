"""inferd's two gRPC transports side by side: its own HTTP/2 server
(--grpc-transport=nghttp2, the default) and grpc++'s (--grpc-transport=grpcpp),
the same binary serving the identity model (1x16 FP32), both servers up at
once and measured in alternated rounds by inferd-perf (or Triton's
perf_analyzer with --tool perf_analyzer) at concurrency 1 and 8.

Prints per transport the medians of requests/s, p50 latency, server CPU time
per request (the process's CPU over the requests it answered) and context
switches per request (voluntary + involuntary, all threads, from /proc), and
the median of the per-round CPU ratios nghttp2/grpcpp.
    .venv/bin/python bench/grpc_transports.py [--rounds 3] [--seconds 3] [--tool perf_analyzer]
"""
import argparse
import contextlib
import csv
import io
import statistics
import subprocess
import tempfile
from pathlib import Path

import tritonclient.http as httpclient

from benchlib import IDENTITY_MODEL, LOAD_TOOLS, cpu_seconds, identity_server, model_successes

TRANSPORTS = ("grpcpp", "nghttp2")


def context_switches(pid):
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def perf(tool, url, concurrency, seconds):
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        subprocess.run([LOAD_TOOLS[tool], "-m", IDENTITY_MODEL, "-i", "grpc", "-u", url,
                        f"--concurrency-range={concurrency}", "-p", str(seconds * 1000), "-s", "50", "-r", "3",
                        "-f", f.name],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=300)
        row = next(csv.DictReader(io.StringIO(Path(f.name).read_text())))
    return float(row["Inferences/Second"]), int(row["p50 latency"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--tool", default="inferd-perf", choices=sorted(LOAD_TOOLS))
    args = ap.parse_args()
    results = {}
    with contextlib.ExitStack() as stack:
        servers = {t: stack.enter_context(identity_server(extra_args=[f"--grpc-transport={t}"]))
                   for t in TRANSPORTS}
        for _ in range(args.rounds):
            for concurrency in (1, 8):
                for transport, (proc, urls) in servers.items():
                    stats = httpclient.InferenceServerClient(urls["http"])
                    n0, cpu0, sw0 = model_successes(stats), cpu_seconds(proc.pid), context_switches(proc.pid)
                    rate, p50 = perf(args.tool, urls["grpc"], concurrency, args.seconds)
                    n1, cpu1, sw1 = model_successes(stats), cpu_seconds(proc.pid), context_switches(proc.pid)
                    n = max(1, n1 - n0)
                    results.setdefault((concurrency, transport), []).append(
                        (rate, p50, (cpu1 - cpu0) / n * 1e6, (sw1 - sw0) / n))
    median = statistics.median
    print(f"gRPC identity 1x16 FP32, {args.tool}, medians of {args.rounds} rounds of {args.seconds} s")
    print(f"{'c':>2} {'transport':9} {'req/s':>8} {'p50 us':>7} {'cpu us/req':>10} {'switches/req':>12}")
    for concurrency in (1, 8):
        for transport in TRANSPORTS:
            rows = results[(concurrency, transport)]
            print(f"{concurrency:2} {transport:9} {median(r[0] for r in rows):8.0f} {median(r[1] for r in rows):7.0f} "
                  f"{median(r[2] for r in rows):10.1f} {median(r[3] for r in rows):12.2f}")
        ratio = median(a[2] / b[2] for a, b in zip(results[(concurrency, "nghttp2")],
                                                    results[(concurrency, "grpcpp")]))
        print(f"   nghttp2/grpcpp CPU per request (median of per-round ratios): {ratio:.2f}")


if __name__ == "__main__":
    main()
