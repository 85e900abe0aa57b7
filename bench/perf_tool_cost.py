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
from pathlib import Path

import tritonclient.http as httpclient

from benchlib import IDENTITY_MODEL, LOAD_TOOLS, identity_server, model_successes


def drive(tool, protocol, url, seconds, client):
    """(requests/s, the tool's CPU microseconds per request)."""
    # perf_analyzer runs --async: in its default sync mode, 8 threads pinned to
    # one core starve each other (seen here: 7 of 8 connections left unread
    # for minutes while one thread kept sending).
    mode = ["--async"] if tool == "perf_analyzer" else []
    before = model_successes(client)
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        proc = subprocess.Popen(
            ["taskset", "-c", "1", LOAD_TOOLS[tool], "-m", IDENTITY_MODEL, "-i", protocol, "-u", url,
             "--concurrency-range", "8", "-p", str(seconds * 1000), "-s", "50", "-r", "4",
             *mode, "-f", f.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{tool} over {protocol} failed with code {os.waitstatus_to_exitcode(status)}")
        rate = float(next(csv.DictReader(io.StringIO(Path(f.name).read_text())))["Inferences/Second"])
    requests = model_successes(client) - before
    return rate, (usage.ru_utime + usage.ru_stime) / max(1, requests) * 1e6


def main():
    args = sys.argv[1:]
    seconds = int(args[0]) if args and args[0].isdigit() else 2
    protocols = [a for a in args if a in ("http", "grpc")] or ["http", "grpc"]
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 cores: one for the server, one for the load generator")
    with identity_server(pin_core=0) as (_, urls):
        client = httpclient.InferenceServerClient(urls["http"])
        print("requests/s at concurrency 8, load generator pinned to core 1, server to core 0")
        for protocol in protocols:
            ours, our_cpu = drive("inferd-perf", protocol, urls[protocol], seconds, client)
            theirs, their_cpu = drive("perf_analyzer", protocol, urls[protocol], seconds, client)
            print(f"{protocol:5} inferd-perf {ours:9.0f}/s {our_cpu:5.1f} us CPU/req   "
                  f"perf_analyzer {theirs:9.0f}/s {their_cpu:5.1f} us CPU/req   "
                  f"rate ratio {ours / theirs:.2f}, CPU ratio {their_cpu / our_cpu:.2f}")


if __name__ == "__main__":
    main()
