"""Dynamic batching and instances on text_recognition (PP-OCRv4, width 320),
measured by Triton's real perf_analyzer against inferd, in one run:
  (a) no batching, 1 instance   (b) dynamic batching (5 ms delay)
  (b2) dynamic batching with a delay longer than one batch-8 run (100 ms)
  (c) 2 instances               (d) both
beside ONNX Runtime in-process at batch 1 and 8 (the ceiling), with the same
intra-op thread setting. Prints the table of Triton's tuning tutorial:
throughput, p95, server queue and compute infer per request, and the average
batch the server ran (inference_count / execution_count over the level).

Then the target check, (b) and (b2) at concurrency 16 against in-process
batch 8 (issue 16): with twice the batch size in flight, a full batch waits
while one runs; 8 clients cannot keep one instance busy with batches of 8.
Each check runs twice, with the tensors in the HTTP bodies and in system
shared memory (where the load generator's sockets no longer take the
cores' time). This machine's speed drifts by tens of percent within
minutes, so each ratio comes from measurements back to back (in-process,
then perf_analyzer both ways), several times, and the median is reported.

  .venv/bin/python bench/scheduling_text_recognition.py [concurrencies, default 1,2,4,8] [pairs, default 3]
"""
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.http as httpclient

from benchlib import ROOT, TEXT_RECOGNITION as MODEL, inferd, text_recognition_config

PERF = ROOT / ".venv/bin/perf_analyzer"
THREADS = 2
CONCURRENCY = [int(c) for c in (sys.argv[1] if len(sys.argv) > 1 else "1,2,4,8").split(",")]
PAIRS = int(sys.argv[2]) if len(sys.argv) > 2 else 3

CONFIGS = {
    "a: no batching, 1 instance": "",
    "b: dynamic batching": "dynamic_batching { max_queue_delay_microseconds: 5000 }",
    "b2: batching, 100 ms delay": "dynamic_batching { max_queue_delay_microseconds: 100000 }",
    "c: 2 instances": "instance_group [{ count: 2 }]",
    "d: both": "instance_group [{ count: 2 }]\ndynamic_batching { max_queue_delay_microseconds: 5000 }",
}
TARGET_CONFIGS = ["b: dynamic batching", "b2: batching, 100 ms delay"]
TARGET_BATCH = 8  # the model's max_batch_size (text_recognition_config)
TARGET_CONCURRENCY = 2 * TARGET_BATCH
# How perf_analyzer moves the tensors: in the HTTP bodies, or in system shared
# memory (the output is 40 x 6625 FP32 per request, 1.06 MB).
TRANSFERS = {"body": (), "shm": ("--shared-memory", "system", "--output-shared-memory-size", "1100000")}


class InProcess:
    """ONNX Runtime on the same model file, the same threads, no server."""

    def __init__(self):
        so = ort.SessionOptions()
        so.intra_op_num_threads = THREADS
        self.session = ort.InferenceSession(str(MODEL), so)

    def throughput(self, batch, seconds=5.0):
        x = np.random.default_rng(0).uniform(-1, 1, (batch, 3, 48, 320)).astype(np.float32)
        for _ in range(2):
            self.session.run(None, {"x": x})
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            self.session.run(None, {"x": x})
            n += batch
        return n / (time.perf_counter() - start)


def counts(url):
    stats = httpclient.InferenceServerClient(url).get_inference_statistics("text_recognition")
    m = stats["model_stats"][0]
    return int(m["inference_count"]), int(m["execution_count"])


def perf_analyzer(url, concurrency, out, extra_args=()):
    """One perf_analyzer level, with `extra_args` on its command line; returns
    (infer/s, p95 ms, queue us, infer us, average batch) or None."""
    before = counts(url)
    # A noisy 2-core machine: a wide stability band, more tries.
    run = subprocess.run([str(PERF), "-m", "text_recognition", "-u", url,
                          "--shape", "x:3,48,320", "--concurrency-range", f"{concurrency}:{concurrency}",
                          "-p", "4000", "-s", "50", "-r", "10", "--percentile", "95",
                          "-f", str(out), *extra_args], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        tail = "\n".join(run.stdout.splitlines()[-3:])
        print(f"perf_analyzer failed at concurrency {concurrency}: {tail}", file=sys.stderr)
        return None
    after = counts(url)
    with open(out) as f:
        row = next(csv.DictReader(f))
    batch = (after[0] - before[0]) / max(1, after[1] - before[1])
    return (float(row["Inferences/Second"]), float(row["p95 latency"]) / 1000,
            float(row["Server Queue"]), float(row["Server Compute Infer"]), batch)


def main():
    local = InProcess()
    ceiling1, ceiling8 = local.throughput(1), local.throughput(8)
    print(f"ONNX Runtime in-process, {THREADS} intra-op threads: batch 1 {ceiling1:.1f}/s, "
          f"batch 8 {ceiling8:.1f}/s")
    print(f"{'config':<28} {'conc':>4} {'infer/s':>8} {'p95 ms':>8} {'queue us':>9} "
          f"{'infer us':>9} {'batch':>6} {'/batch-8':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in CONFIGS.items():
            with inferd(text_recognition_config(THREADS, extra)) as url:
                for c in CONCURRENCY:
                    r = perf_analyzer(url, c, Path(tmp) / "level.csv")
                    if r:
                        tput, p95, queue, infer, batch = r
                        print(f"{name:<28} {c:>4} {tput:>8.1f} {p95:>8.1f} {queue:>9.0f} {infer:>9.0f} "
                              f"{batch:>6.2f} {tput / ceiling8:>8.2f}", flush=True)

        print(f"\nTarget check at concurrency {TARGET_CONCURRENCY}, {PAIRS} back-to-back triples per config "
              f"(in-process batch {TARGET_BATCH}, then perf_analyzer with tensors in the HTTP bodies, then "
              f"in system shared memory, where the load generator's sockets no longer take the cores' time):")
        for name in TARGET_CONFIGS:
            ratios = {how: [] for how in TRANSFERS}
            with inferd(text_recognition_config(THREADS, CONFIGS[name])) as url:
                for _ in range(PAIRS):
                    ceiling = local.throughput(TARGET_BATCH)
                    for how, extra in TRANSFERS.items():
                        r = perf_analyzer(url, TARGET_CONCURRENCY, Path(tmp) / "pair.csv", extra)
                        if r:
                            ratios[how].append(r[0] / ceiling)
                            print(f"  {name:<28} in-process {ceiling:6.1f}/s  inferd ({how}) {r[0]:6.1f}/s  "
                                  f"batch {r[4]:.2f}  ratio {ratios[how][-1]:.2f}", flush=True)
            for how, values in ratios.items():
                if values:
                    print(f"  {name:<28} {how}: median ratio {statistics.median(values):.2f} (target 0.95)")


if __name__ == "__main__":
    main()
