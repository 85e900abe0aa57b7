"""inferd beside a real Triton 2.51 on PP-OCRv4 text recognition (width 320),
the same ONNX Runtime 1.30 under both (Triton's onnxruntime_backend r24.10,
built by scripts/build-triton-backends), in one run: issue 16's batching
rows. Each server serves the model twice, with and without dynamic
batching, with the same config text (instances, threads); Triton's
perf_analyzer drives each at concurrency 8 and, batched, at 16 (twice the
batch size: a full batch waits while one runs), alternating inferd and
Triton so the machine's drift reaches both alike.

Prints per row each server's throughput, the average batch it ran
(inference_count / execution_count over the window), its CPU time per
request, and the median of the per-round throughput ratios inferd/Triton.

    scripts/install-triton
    export $(scripts/build-triton-backends <folder of r24.10 checkouts> | tail -1)
    .venv/bin/python bench/peer_triton/text_recognition.py [--rounds 5] [--seconds 5]
        [--instances 1] [--threads 2] [--delay-us 2000]
"""
import argparse
import contextlib
import os
import sys
from pathlib import Path

import tritonclient.http as httpclient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import (TEXT_RECOGNITION, cpu_seconds, peer_medians, perf_analyzer_row,  # noqa: E402
                      serving_repository, text_recognition_config, triton_server_command)


def config(instances, threads, batching, delay_us):
    """The model's config; the same text for both servers."""
    extra = f"instance_group [{{ count: {instances} kind: KIND_CPU }}]\n"
    if batching:
        extra += f"dynamic_batching {{ max_queue_delay_microseconds: {delay_us} }}\n"
    return text_recognition_config(threads, extra)


def counts(client, model):
    """(inference_count, execution_count) of `model` so far."""
    s = client.get_inference_statistics(model)["model_stats"][0]
    return int(s["inference_count"]), int(s["execution_count"])


def measure(proc, urls, model, concurrency, seconds):
    """(requests/s, average batch, server CPU ms per request) of one perf_analyzer run."""
    client = httpclient.InferenceServerClient(urls["http"])
    cpu0, (n0, e0) = cpu_seconds(proc.pid), counts(client, model)
    rate, _ = perf_analyzer_row(model, "http", urls["http"], concurrency, seconds, ["--shape", "x:3,48,320"])
    cpu1, (n1, e1) = cpu_seconds(proc.pid), counts(client, model)
    return rate, (n1 - n0) / max(1, e1 - e0), (cpu1 - cpu0) / max(1, n1 - n0) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5, help="perf_analyzer window length")
    ap.add_argument("--instances", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="intra_op_thread_count")
    ap.add_argument("--delay-us", type=int, default=2000, help="max_queue_delay_microseconds")
    args = ap.parse_args()
    if triton_server_command("/", {}) is None:
        sys.exit("Triton is not installed: scripts/install-triton")
    if not os.environ.get("TRITON_ONNXRUNTIME_BACKEND"):
        sys.exit("set TRITON_ONNXRUNTIME_BACKEND (scripts/build-triton-backends prints it)")
    batched, single = "text_recognition_batched", "text_recognition_single"
    models = {model: (config(args.instances, args.threads, model == batched, args.delay_us), TEXT_RECOGNITION)
              for model in (batched, single)}
    # label -> (model, concurrency)
    rows = {"no batching c8": (single, 8), "batching c8": (batched, 8), "batching c16": (batched, 16)}
    runs = {}  # (server, row label) -> [measure() per round]
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(serving_repository(name, models))
                   for name in ("inferd", "triton")}
        for proc, urls in servers.values():  # warm-up (ONNX Runtime's first runs), not counted
            for model in models:
                perf_analyzer_row(model, "http", urls["http"], 8, 2, ["--shape", "x:3,48,320"])
        for r in range(args.rounds):
            for label, (model, concurrency) in rows.items():
                for name, (proc, urls) in servers.items():
                    m = measure(proc, urls, model, concurrency, args.seconds)
                    runs.setdefault((name, label), []).append(m)
                    print(f"round {r + 1}/{args.rounds} {label:16} {name:6} {m[0]:6.1f}/s batch {m[1]:.2f} "
                          f"cpu {m[2]:.1f} ms/req", flush=True)
    print(f"\ntext_recognition 1x3x48x320, max_batch_size 8, {args.instances} instance(s), "
          f"{args.threads} intra-op threads, perf_analyzer; medians of {args.rounds} rounds of {args.seconds} s")
    print(f"{'row':18} {'inferd/s':>9} {'triton/s':>9} {'inferd/triton':>13} {'inferd batch':>12} "
          f"{'triton batch':>12} {'inferd ms/req':>13} {'triton ms/req':>13}")
    for label in rows:
        ratio, mine, theirs = peer_medians(runs, label)
        print(f"{label:18} {mine[0]:9.1f} {theirs[0]:9.1f} {ratio:13.2f} {mine[1]:12.2f} {theirs[1]:12.2f} "
              f"{mine[2]:13.2f} {theirs[2]:13.2f}")


if __name__ == "__main__":
    main()
