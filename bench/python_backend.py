"""The Python backend's cost per request, side by side in one run: inferd's
Python backend and Triton 2.51's (the real tritonserver with its Python
backend, from scripts/install-triton) serving the same model.py files, and
inferd's C identity backend as the floor. Triton's perf_analyzer drives each
over HTTP and gRPC at concurrency 1 and 8; the models are an identity
(returns INPUT0, FP32 [1, 16]) and Triton's add_sub example shape (two FP32
[4] in, sum and difference out).

For each row: requests/s, the median latency, the CPU time per request of the
server process and its children (the Python stubs) together, and the
server-side overhead per request from the server's own statistics (request
time minus compute time: queueing and request handling). The last column is
inferd's CPU per Python request over Triton's.

The cost a Python model adds is its CPU per request less the C identity's on
the same server and path. For Triton's, give its own identity backend, built
from Triton's identity_backend sources (this project does not build it):
TRITON_IDENTITY_BACKEND=<folder with libtriton_identity.so>; the summary
then prints each server's added cost and inferd's over Triton's. The load
generator shares the machine's cores: read the rows against each other, not
as absolutes.
    scripts/install-triton      # once, for the Triton side (else inferd only)
    .venv/bin/python bench/python_backend.py [seconds per window, default 2] [rounds, default 3]
"""
import contextlib
import os
import statistics
import sys

import tritonclient.http as httpclient

from benchlib import perf_analyzer_row as perf
from benchlib import serving_repository, server_stats, tree_cpu, triton_server_command

IDENTITY_IO = """max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
"""
IDENTITY_PY = """import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("OUTPUT0", pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy())])
            for r in requests]
"""
ADD_SUB_IO = """max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [4] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [4] }]
"""
ADD_SUB_PY = """import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            a = pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()
            b = pb_utils.get_input_tensor_by_name(r, "INPUT1").as_numpy()
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", a + b), pb_utils.Tensor("OUTPUT1", a - b)]))
        return out
"""
# name -> (backend, config io, model.py or None)
MODELS = {
    "identity_c": ("identity", IDENTITY_IO, None),
    "identity_py": ("python", IDENTITY_IO, IDENTITY_PY),
    "add_sub_py": ("python", ADD_SUB_IO, ADD_SUB_PY),
}


def serving(name, models):
    """Yields (process, {"http", "grpc"} urls) of inferd or Triton serving `models` (names in MODELS)."""
    return serving_repository(name, {m: (f'backend: "{MODELS[m][0]}"\n' + MODELS[m][1], MODELS[m][2]) for m in models})


def measure(proc, urls, model, protocol, concurrency, seconds):
    """(requests/s, p50 us, CPU us per request, server-side overhead us per request)."""
    client = httpclient.InferenceServerClient(urls["http"])
    cpu0, (n0, req0, comp0) = tree_cpu(proc.pid), server_stats(client, model)
    rate, latency = perf(model, protocol, urls[protocol], concurrency, seconds)
    cpu1, (n1, req1, comp1) = tree_cpu(proc.pid), server_stats(client, model)
    n = max(1, n1 - n0)
    return rate, latency, (cpu1 - cpu0) / n * 1e6, ((req1 - req0) - (comp1 - comp0)) / n / 1e3


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    servers = {"inferd": ["identity_c", "identity_py", "add_sub_py"]}
    if triton_server_command("/", {}) is not None:
        servers["triton"] = ["identity_py", "add_sub_py"]
        if os.environ.get("TRITON_IDENTITY_BACKEND"):
            servers["triton"].insert(0, "identity_c")
    else:
        print("Triton is not installed (scripts/install-triton): inferd only")
    paths = [(protocol, concurrency) for protocol in ("http", "grpc") for concurrency in (1, 8)]
    runs = {}  # (server, protocol, concurrency, model) -> [measure() per round]
    with contextlib.ExitStack() as stack:
        started = {name: stack.enter_context(serving(name, models)) for name, models in servers.items()}
        for name, (proc, urls) in started.items():  # warm-up, not counted
            for model in servers[name]:
                perf(model, "http", urls["http"], 1, 1)
        # Rounds alternate the servers and models, so drift on this shared
        # machine reaches every row alike; each row reports its median.
        for r in range(rounds):
            print(f"round {r + 1}/{rounds}", flush=True)
            for protocol, concurrency in paths:
                for model in ("identity_c", "identity_py", "add_sub_py"):
                    for name, (proc, urls) in started.items():
                        if model in servers[name]:
                            runs.setdefault((name, protocol, concurrency, model), []).append(
                                measure(proc, urls, model, protocol, concurrency, seconds))
    print(f"\nmedians of {rounds} rounds of {seconds} s windows")
    print(f"{'server':7} {'protocol':8} {'conc':>4} {'model':>11} {'req/s':>9} {'p50 us':>8} "
          f"{'CPU us/req':>11} {'overhead us':>12} {'inferd/triton CPU':>18}")
    median = statistics.median
    for protocol, concurrency in paths:
        for model in ("identity_c", "identity_py", "add_sub_py"):
            for name in servers:
                got = runs.get((name, protocol, concurrency, model))
                if not got:
                    continue
                ratio = ""
                mine = runs.get(("inferd", protocol, concurrency, model))
                if name == "triton" and mine:
                    ratio = f"{median(a[2] / b[2] for a, b in zip(mine, got)):18.2f}"
                print(f"{name:7} {protocol:8} {concurrency:4} {model:>11} {median(g[0] for g in got):9.0f} "
                      f"{median(g[1] for g in got):8.0f} {median(g[2] for g in got):11.1f} "
                      f"{median(g[3] for g in got):12.1f} {ratio}")
    print_added_costs(runs, servers, paths)


def print_added_costs(runs, servers, paths):
    """Each Python model's CPU per request less the C identity's, per server
    (medians of the rounds), and the median of the per-round ratios of
    inferd's added cost over Triton's (where Triton's C identity ran)."""
    median = statistics.median
    print("\nadded by Python (CPU us/req over the C identity on the same server and path)")
    print(f"{'protocol':8} {'conc':>4} {'model':>11} " + " ".join(f"{n:>8}" for n in servers) +
          f" {'inferd/triton (median of rounds)':>33}")
    for protocol, concurrency in paths:
        for model in ("identity_py", "add_sub_py"):
            added = {}
            for name, models in servers.items():
                if "identity_c" in models and model in models:
                    base = runs[(name, protocol, concurrency, "identity_c")]
                    added[name] = [m[2] - b[2] for m, b in zip(runs[(name, protocol, concurrency, model)], base)]
            ratio = ""
            if len(added) == 2:
                ratio = f"{median(a / b for a, b in zip(added['inferd'], added['triton']) if b > 0):33.2f}"
            print(f"{protocol:8} {concurrency:4} {model:>11} " +
                  " ".join(f"{median(added[n]):8.1f}" if n in added else f"{'-':>8}" for n in servers) + f" {ratio}")


if __name__ == "__main__":
    main()
