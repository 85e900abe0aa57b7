"""The load generator's own cost: how many requests per second inferd-perf
drives at concurrency 8 when pinned to one core, beside Triton's
perf_analyzer pinned the same way, in one run, and the CPU time each tool
spends per request (its user+system time over the requests the server
answered meanwhile). The server is pinned to the other core and serves the
identity model (1x16 FP32); where the server's core saturates first (gRPC),
the requests/s ratio understates the difference and CPU per request tells.
Needs 2 cores.
    .venv/bin/python bench/perf_tool_cost.py [seconds per window, default 2] [http|grpc ...]
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


def drive(tool, protocol, url, seconds):
    # perf_analyzer runs --async: in its default sync mode, 8 threads pinned to
    # one core starve each other (seen here: 7 of 8 connections left unread
    # for minutes while one thread kept sending).
    mode = ["--async"] if tool == "perf_analyzer" else []
    client = httpclient.InferenceServerClient(HTTP_URL[0])
    before = successes(client)
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        proc = subprocess.Popen(
            ["taskset", "-c", "1", TOOLS[tool], "-m", MODEL, "-i", protocol, "-u", url,
             "--concurrency-range", "8", "-p", str(seconds * 1000), "-s", "50", "-r", "4",
             *mode, "-f", f.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"{tool} over {protocol} failed with code {proc.returncode}")
        rate = float(next(csv.DictReader(io.StringIO(Path(f.name).read_text())))["Inferences/Second"])
    requests = successes(client) - before
    return rate, (usage.ru_utime + usage.ru_stime) / max(1, requests) * 1e6


HTTP_URL = [""]


def successes(client):
    stats = client.get_inference_statistics(MODEL)["model_stats"][0]
    return int(stats["inference_stats"]["success"]["count"])


def main():
    args = sys.argv[1:]
    seconds = int(args[0]) if args and args[0].isdigit() else 2
    protocols = [a for a in args if a in ("http", "grpc")] or ["http", "grpc"]
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 cores: one for the server, one for the load generator")
    with tempfile.TemporaryDirectory() as repo:
        (Path(repo) / MODEL / "1").mkdir(parents=True)
        (Path(repo) / MODEL / "config.pbtxt").write_text(CONFIG)
        http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
        server = subprocess.Popen(
            ["taskset", "-c", "0", BIN, f"--model-repository={repo}", f"--http-port={http_port}",
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
            HTTP_URL[0] = urls["http"]
            print("requests/s at concurrency 8, load generator pinned to core 1, server to core 0")
            for protocol in protocols:
                ours, our_cpu = drive("inferd-perf", protocol, urls[protocol], seconds)
                theirs, their_cpu = drive("perf_analyzer", protocol, urls[protocol], seconds)
                print(f"{protocol:5} inferd-perf {ours:9.0f}/s {our_cpu:5.1f} us CPU/req   "
                      f"perf_analyzer {theirs:9.0f}/s {their_cpu:5.1f} us CPU/req   "
                      f"rate ratio {ours / theirs:.2f}, CPU ratio {their_cpu / our_cpu:.2f}")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
