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
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tritonclient.http as httpclient

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("INFERD_BIN", str(ROOT / "build/release/inferd"))
TOOLS = {"inferd-perf": str(Path(BIN).parent / "inferd-perf"),
         "perf_analyzer": str(ROOT / ".venv/bin/perf_analyzer")}
MODEL = "identity_1x16"
CONFIG = """backend: "identity"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
"""


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def successes(client):
    stats = client.get_inference_statistics(MODEL)["model_stats"][0]
    return int(stats["inference_stats"]["success"]["count"])


def perf(tool, protocol, url, concurrency, seconds):
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        subprocess.run(
            [TOOLS[tool], "-m", MODEL, "-i", protocol, "-u", url, f"--concurrency-range={concurrency}",
             "-p", str(seconds * 1000), "-s", "50", "-r", "3", "-f", f.name],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        row = next(csv.DictReader(io.StringIO(Path(f.name).read_text())))
    return float(row["Inferences/Second"]), int(row["p50 latency"]), int(row["p99 latency"])


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--tool")]
    tool = "perf_analyzer" if "--tool" in sys.argv and "perf_analyzer" in sys.argv else "inferd-perf"
    args = [a for a in args if a != "perf_analyzer"]
    seconds = int(args[0]) if args else 5
    print(f"load generator: {tool}")
    with tempfile.TemporaryDirectory() as repo:
        (Path(repo) / MODEL / "1").mkdir(parents=True)
        (Path(repo) / MODEL / "config.pbtxt").write_text(CONFIG)
        http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
        server = subprocess.Popen(
            [BIN, f"--model-repository={repo}", f"--http-port={http_port}",
             "--http-address=127.0.0.1", f"--grpc-port={grpc_port}", "--grpc-address=127.0.0.1",
             f"--metrics-port={metrics_port}", "--log-info=false"])
        try:
            client = httpclient.InferenceServerClient(f"127.0.0.1:{http_port}")
            for _ in range(100):
                try:
                    if client.is_model_ready(MODEL):
                        break
                except Exception:
                    pass
                time.sleep(0.1)
            urls = {"http": f"127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}"}
            print(f"{'protocol':8} {'conc':>4} {'req/s':>9} {'p50 us':>7} {'p99 us':>7} {'server CPU us/req':>18}")
            results = {}
            for concurrency in (1, 8):
                for protocol in ("http", "grpc"):
                    cpu0, n0 = cpu_seconds(server.pid), successes(client)
                    rate, p50, p99 = perf(tool, protocol, urls[protocol], concurrency, seconds)
                    cpu1, n1 = cpu_seconds(server.pid), successes(client)
                    per_request = (cpu1 - cpu0) / max(1, n1 - n0 - 1) * 1e6  # the stats call itself is not counted
                    results[(protocol, concurrency)] = (rate, per_request)
                    print(f"{protocol:8} {concurrency:>4} {rate:>9.0f} {p50:>7} {p99:>7} {per_request:>18.1f}")
            for concurrency in (1, 8):
                g, h = results[("grpc", concurrency)], results[("http", concurrency)]
                print(f"concurrency {concurrency}: gRPC/HTTP throughput {g[0] / h[0]:.2f}, "
                      f"CPU per request {g[1] / h[1]:.2f}")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
