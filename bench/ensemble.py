"""What an ensemble step costs, side by side in one run: a 3-step ensemble of
identity models (FP32 [1, 16], a native C identity backend on both servers)
against one call of a single identity model, on inferd and on Triton 2.51
(scripts/install-triton; its identity steps run Triton's own identity
backend, built by hand from Triton's identity_backend sources and given as
TRITON_IDENTITY_BACKEND=<folder with libtriton_identity.so>; without it the
run is inferd only). Triton's perf_analyzer drives each over HTTP and gRPC at
concurrency 1 and 8.

Per row: requests/s, median latency, and the server's CPU time per request.
An ensemble request is one client request plus three step executions; a
single call is one client request plus one execution. So each step beyond
the first costs (ensemble - single) / 2: that is the per-step overhead
compared across servers (the median of the per-round ratios). Calling the
three models one after another from the client instead costs three single
calls (3 x single, the last columns): the ensemble's saving over that is one
client round trip per step.

    .venv/bin/python bench/ensemble.py [seconds per window, default 2] [rounds, default 3]
"""
import contextlib
import os
import statistics
import sys

import tritonclient.http as httpclient

from benchlib import perf_analyzer_row, server_stats, serving_repository, tree_cpu, triton_server_command

IDENTITY = """backend: "identity"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
instance_group [{ kind: KIND_CPU count: 2 }]
"""
ENSEMBLE = """platform: "ensemble"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
ensemble_scheduling { step [
  { model_name: "step1" model_version: -1 input_map { key: "INPUT0" value: "INPUT0" } output_map { key: "OUTPUT0" value: "a" } },
  { model_name: "step2" model_version: -1 input_map { key: "INPUT0" value: "a" } output_map { key: "OUTPUT0" value: "b" } },
  { model_name: "step3" model_version: -1 input_map { key: "INPUT0" value: "b" } output_map { key: "OUTPUT0" value: "OUTPUT0" } }
] }
"""
MODELS = {"step1": (IDENTITY, None), "step2": (IDENTITY, None), "step3": (IDENTITY, None),
          "ensemble3": (ENSEMBLE, None)}
ROWS = ("step1", "ensemble3")  # a single call, the ensemble


def measure(proc, urls, model, protocol, concurrency, seconds):
    """(requests/s, p50 us, server CPU us per request: over every request
    the window sent, counted by the server's statistics)."""
    client = httpclient.InferenceServerClient(urls["http"])
    cpu0, n0 = tree_cpu(proc.pid), server_stats(client, model)[0]
    rate, latency = perf_analyzer_row(model, protocol, urls[protocol], concurrency, seconds)
    cpu1, n1 = tree_cpu(proc.pid), server_stats(client, model)[0]
    return rate, latency, (cpu1 - cpu0) / max(1, n1 - n0) * 1e6


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    servers = ["inferd"]
    if triton_server_command("/", {}) is not None and os.environ.get("TRITON_IDENTITY_BACKEND"):
        servers.append("triton")
    else:
        print("Triton or its identity backend is missing (scripts/install-triton, TRITON_IDENTITY_BACKEND): inferd only")
    paths = [(protocol, concurrency) for protocol in ("http", "grpc") for concurrency in (1, 8)]
    runs = {}  # (server, protocol, concurrency, model) -> [measure() per round]
    with contextlib.ExitStack() as stack:
        started = {name: stack.enter_context(serving_repository(name, MODELS)) for name in servers}
        for name, (proc, urls) in started.items():  # warm-up, not counted
            for model in ROWS:
                perf_analyzer_row(model, "http", urls["http"], 1, 1)
        # Rounds alternate servers and models, so drift on this shared
        # machine reaches every row alike; each row reports its median.
        for r in range(rounds):
            print(f"round {r + 1}/{rounds}", flush=True)
            for protocol, concurrency in paths:
                for model in ROWS:
                    for name, (proc, urls) in started.items():
                        runs.setdefault((name, protocol, concurrency, model), []).append(
                            measure(proc, urls, model, protocol, concurrency, seconds))
    median = statistics.median
    print(f"\nmedians of {rounds} rounds of {seconds} s windows (perf_analyzer)")
    print(f"{'server':7} {'protocol':8} {'conc':>4} {'model':>10} {'req/s':>9} {'p50 us':>8} {'CPU us/req':>11}")
    for protocol, concurrency in paths:
        for model in ROWS:
            for name in servers:
                got = runs[(name, protocol, concurrency, model)]
                print(f"{name:7} {protocol:8} {concurrency:4} {model:>10} {median(g[0] for g in got):9.0f} "
                      f"{median(g[1] for g in got):8.0f} {median(g[2] for g in got):11.1f}")
    print("\nper extra step: (ensemble - single) / 2, CPU us and p50 us; 3 x single = the client calling the steps itself")
    print(f"{'protocol':8} {'conc':>4} " + " ".join(f"{n + ' CPU':>11} {n + ' p50':>11}" for n in servers) +
          f" {'CPU inferd/triton':>18} " + " ".join(f"{n + ' 3xsingle CPU':>19} {n + ' ensemble CPU':>19}" for n in servers))
    for protocol, concurrency in paths:
        per_step = {}
        for name in servers:
            single, ensemble = runs[(name, protocol, concurrency, "step1")], runs[(name, protocol, concurrency, "ensemble3")]
            per_step[name] = [((e[2] - s[2]) / 2, (e[1] - s[1]) / 2) for s, e in zip(single, ensemble)]
        ratio = ""
        if len(servers) == 2:
            ratio = f"{median(a[0] / b[0] for a, b in zip(per_step['inferd'], per_step['triton']) if b[0] > 0):18.2f}"
        cells = " ".join(f"{median(p[0] for p in per_step[n]):11.1f} {median(p[1] for p in per_step[n]):11.1f}" for n in servers)
        chains = " ".join(
            f"{3 * median(g[2] for g in runs[(n, protocol, concurrency, 'step1')]):19.1f} "
            f"{median(g[2] for g in runs[(n, protocol, concurrency, 'ensemble3')]):19.1f}" for n in servers)
        print(f"{protocol:8} {concurrency:4} {cells} {ratio:>18} {chains}")


if __name__ == "__main__":
    main()
