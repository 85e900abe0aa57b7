"""What a team moving its own Triton backend to inferd gets: Triton's C
identity backend (libtriton_identity.so built from r24.10 by
scripts/build-triton-backends) served by inferd through its Triton adapter,
beside inferd's own identity backend in the same process, and beside the same
libtriton_identity.so on a real Triton 2.51 (scripts/install-triton), side by
side in one run. Triton's perf_analyzer drives each over HTTP and gRPC at
concurrency 1 and 8 (FP32 [1, 16], no batching); rounds alternate the rows
and each row reports its median.

One more row separates the adapter's own cost from what Triton's identity
does per request (log strings, a std::set, four response parameters that the
server then encodes): libtriton_inferd_identity.so, built with the tests
(tests/triton_backend/inferd_identity.cc), is inferd's identity backend
written call for call against Triton's API, so it and inferd's identity do
the same work through the two ABIs.

Columns: requests/s and the server's CPU time per request (process and
children); then, medians of per-round ratios: a Triton-API backend's CPU per
request on inferd over inferd's own identity ("over own": for the
twin, what the adapter costs; for Triton's identity, the adapter plus that
backend's own extra work), and Triton's identity on inferd over the same .so
on Triton (what moving it saves).

    export $(scripts/build-triton-backends <folder of r24.10 checkouts> | tail -1)
    .venv/bin/python bench/triton_adapter.py [seconds per window, default 2] [rounds, default 3]
"""
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

import tritonclient.http as httpclient

from benchlib import perf_analyzer_row as perf
from benchlib import BIN, server_stats, serving, tree_cpu, triton_server_command

# inferd's identity written against Triton's API (tests/triton_backend/inferd_identity.cc)
TWIN = Path(BIN).parent / "tests/triton_backends/inferd_identity/libtriton_inferd_identity.so"

CONFIG = """backend: "identity"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
"""


def write_repo(root, models):
    """models: {name: a Triton backend library to put in its version folder as
    libtriton_identity.so (found there before inferd's own identity), or None}."""
    for name, library in models.items():
        version = root / name / "1"
        version.mkdir(parents=True)
        (root / name / "config.pbtxt").write_text(CONFIG)
        if library:
            (version / "libtriton_identity.so").symlink_to(library)
    return root


def measure(proc, urls, model, protocol, concurrency, seconds):
    client = httpclient.InferenceServerClient(urls["http"])
    cpu0, (n0, _, _) = tree_cpu(proc.pid), server_stats(client, model)
    rate, _latency = perf(model, protocol, urls[protocol], concurrency, seconds)
    cpu1, (n1, _, _) = tree_cpu(proc.pid), server_stats(client, model)
    return rate, (cpu1 - cpu0) / max(1, n1 - n0) * 1e6


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    folder = os.environ.get("TRITON_IDENTITY_BACKEND")
    if not folder:
        sys.exit("set TRITON_IDENTITY_BACKEND (scripts/build-triton-backends prints it)")
    library = Path(folder) / "libtriton_identity.so"
    if not TWIN.is_file():
        sys.exit(f"{TWIN} is missing: build the tests (scripts/build release)")
    # (server, model): the rows of each round
    rows = [("inferd", "own"), ("inferd", "twin"), ("inferd", "triton_backend")]
    with tempfile.TemporaryDirectory() as tmp:
        servers = {"inferd": (write_repo(Path(tmp) / "inferd",
                                         {"own": None, "twin": TWIN, "triton_backend": library}),
                              ["own", "twin", "triton_backend"])}
        if triton_server_command("/", {}) is not None:
            servers["triton"] = (write_repo(Path(tmp) / "triton", {"triton_backend": library}), ["triton_backend"])
            rows.append(("triton", "triton_backend"))
        else:
            print("Triton is not installed (scripts/install-triton): inferd only")
        paths = [(p, c) for p in ("http", "grpc") for c in (1, 8)]
        runs = {}
        with contextlib.ExitStack() as stack:
            started = {name: stack.enter_context(serving(name, repo, models))
                       for name, (repo, models) in servers.items()}
            for name, model in rows:  # warm-up, not counted
                proc, urls = started[name]
                perf(model, "http", urls["http"], 1, 1)
            for r in range(rounds):
                print(f"round {r + 1}/{rounds}", flush=True)
                for protocol, concurrency in paths:
                    for name, model in rows:
                        proc, urls = started[name]
                        runs.setdefault((name, model, protocol, concurrency), []).append(
                            measure(proc, urls, model, protocol, concurrency, seconds))
    median = statistics.median
    print(f"\nmedians of {rounds} rounds of {seconds} s windows")
    print(f"{'protocol':8} {'conc':>4} {'server/backend':>32} {'req/s':>8} {'CPU us/req':>11} "
          f"{'over own':>9} {'inferd/triton':>14}")
    labels = {"own": "inferd identity", "twin": "libtriton_inferd_identity", "triton_backend": "libtriton_identity"}
    for protocol, concurrency in paths:
        for name, model in rows:
            got = runs[(name, model, protocol, concurrency)]
            ratios = ["", ""]
            if name == "inferd" and model != "own":
                own = runs[("inferd", "own", protocol, concurrency)]
                ratios[0] = f"{median(a[1] / b[1] for a, b in zip(got, own)):.2f}"
            peer = runs.get(("triton", "triton_backend", protocol, concurrency))
            if (name, model) == ("inferd", "triton_backend") and peer:
                ratios[1] = f"{median(a[1] / b[1] for a, b in zip(got, peer)):.2f}"
            label = f"{name}/{labels[model]}"
            print(f"{protocol:8} {concurrency:4} {label:>32} {median(g[0] for g in got):8.0f} "
                  f"{median(g[1] for g in got):11.1f} {ratios[0]:>9} {ratios[1]:>14}")


if __name__ == "__main__":
    main()
