"""inferd beside a real Triton 2.51 on the same native model, in one run: the
1x16 FP32 identity on inferd's C identity backend and on Triton's own
(built by scripts/build-triton-backends), each server started once,
driven by Triton's perf_analyzer over HTTP and gRPC at concurrency 1 and 8,
and over HTTP at concurrency 1 with the response cache answering (the same
identity with response_cache enabled; every request after the first hits).
Runs alternate (inferd, Triton, inferd, ...) so the machine's drift reaches
both alike.

Prints, per row, each server's CPU time per completed request (utime+stime of
the server process over the requests its statistics counted) and the median
of the per-round ratios inferd/Triton: issue 16's table. The load generator
shares the machine's cores: read the servers against each other, not as
absolutes.
    scripts/install-triton
    export $(scripts/build-triton-backends <folder of r24.10 checkouts> | tail -1)
    .venv/bin/python bench/peer_triton/identity.py [--rounds 5] [--seconds 3]
"""
import argparse
import contextlib
import os
import sys
from pathlib import Path

import tritonclient.http as httpclient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import (IDENTITY_CONFIG, IDENTITY_MODEL, cpu_seconds, model_successes,  # noqa: E402
                      peer_medians, perf_analyzer_row, serving_repository, triton_server_command)

# The same identity with the response cache on: perf_analyzer sends the same
# input every time, so every request after the first is a cache hit.
CACHED_MODEL = "identity_cached"
CACHED_CONFIG = IDENTITY_CONFIG + "response_cache { enable: true }\n"
CACHE_ARGS = ["--cache-config=local,size=1048576"]
# (protocol, concurrency, model, label)
ROWS = [("http", 1, IDENTITY_MODEL, ""), ("http", 8, IDENTITY_MODEL, ""), ("grpc", 1, IDENTITY_MODEL, ""),
        ("grpc", 8, IDENTITY_MODEL, ""), ("http", 1, CACHED_MODEL, " cache hit")]


def measure(proc, urls, protocol, concurrency, model, seconds):
    """(server CPU us per request, requests/s, p50 us) of one perf_analyzer run."""
    client = httpclient.InferenceServerClient(urls["http"])
    cpu0, n0 = cpu_seconds(proc.pid), model_successes(client, model)
    rate, p50 = perf_analyzer_row(model, protocol, urls[protocol], concurrency, seconds)
    cpu1, n1 = cpu_seconds(proc.pid), model_successes(client, model)
    return (cpu1 - cpu0) / max(1, n1 - n0) * 1e6, rate, p50


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3, help="perf_analyzer window length")
    args = ap.parse_args()
    if triton_server_command("/", {}) is None:
        sys.exit("Triton is not installed: scripts/install-triton")
    if not os.environ.get("TRITON_IDENTITY_BACKEND"):
        sys.exit("set TRITON_IDENTITY_BACKEND (scripts/build-triton-backends prints it)")
    models = {IDENTITY_MODEL: (IDENTITY_CONFIG, None), CACHED_MODEL: (CACHED_CONFIG, None)}
    runs = {}  # (server, row of ROWS) -> [measure() per round]
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(serving_repository(name, models, CACHE_ARGS))
                   for name in ("inferd", "triton")}
        for proc, urls in servers.values():  # warm-up (and the cache's first entry), not counted
            for model in models:
                perf_analyzer_row(model, "http", urls["http"], 1, 1)
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            for row in ROWS:
                for name, (proc, urls) in servers.items():
                    runs.setdefault((name, row), []).append(measure(proc, urls, *row[:3], args.seconds))
    print(f"\nidentity 1x16 FP32, perf_analyzer, medians of {args.rounds} rounds of {args.seconds} s windows")
    print(f"{'row':18} {'inferd us/req':>13} {'triton us/req':>13} {'inferd/triton':>13} "
          f"{'inferd req/s':>12} {'triton req/s':>12} {'inferd p50':>10} {'triton p50':>10}")
    for row in ROWS:
        protocol, concurrency, _, label = row
        ratio, mine, theirs = peer_medians(runs, row)
        print(f"{f'{protocol} c{concurrency}{label}':18} {mine[0]:13.1f} {theirs[0]:13.1f} {ratio:13.2f} "
              f"{mine[1]:12.0f} {theirs[1]:12.0f} {mine[2]:10.0f} {theirs[2]:10.0f}")


if __name__ == "__main__":
    main()
