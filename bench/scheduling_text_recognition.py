"""Dynamic batching and instances on text_recognition (PP-OCRv4, width 320),
measured by Triton's real perf_analyzer against inferd, in one run:
  (a) no batching, 1 instance   (b) dynamic batching   (c) 2 instances   (d) both
beside ONNX Runtime in-process at batch 1 and 8 (the ceiling), with the same
intra-op thread setting. Prints the table of Triton's tuning tutorial:
throughput, p95, server queue and compute infer per request.

  .venv/bin/python bench/scheduling_text_recognition.py [concurrencies, default 1,2,4,8]
"""
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from benchlib import ROOT, TEXT_RECOGNITION as MODEL, inferd, text_recognition_config

PERF = ROOT / ".venv/bin/perf_analyzer"
THREADS = 2
CONCURRENCY = [int(c) for c in (sys.argv[1] if len(sys.argv) > 1 else "1,2,4,8").split(",")]

CONFIGS = {
    "a: no batching, 1 instance": "",
    "b: dynamic batching": "dynamic_batching { max_queue_delay_microseconds: 5000 }",
    "c: 2 instances": "instance_group [{ count: 2 }]",
    "d: both": "instance_group [{ count: 2 }]\ndynamic_batching { max_queue_delay_microseconds: 5000 }",
}


def in_process(batch, seconds=6.0):
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    s = ort.InferenceSession(str(MODEL), so)
    x = np.random.default_rng(0).uniform(-1, 1, (batch, 3, 48, 320)).astype(np.float32)
    for _ in range(3):
        s.run(None, {"x": x})
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        s.run(None, {"x": x})
        n += batch
    return n / (time.perf_counter() - start)


def measure(extra, concurrency):
    with inferd(text_recognition_config(THREADS, extra)) as url, tempfile.TemporaryDirectory() as tmp:
        rows = []
        for c in concurrency:
            out = Path(tmp) / f"c{c}.csv"
            # A noisy 2-core machine: a wide stability band, more tries.
            run = subprocess.run([str(PERF), "-m", "text_recognition", "-u", url,
                                  "--shape", "x:3,48,320", "--concurrency-range", f"{c}:{c}",
                                  "-p", "4000", "-s", "50", "-r", "10", "--percentile", "95",
                                  "-f", str(out)], capture_output=True, text=True, timeout=600)
            if run.returncode != 0:
                tail = "\n".join(run.stdout.splitlines()[-3:])
                print(f"perf_analyzer failed at concurrency {c}: {tail}", file=sys.stderr)
                continue
            with open(out) as f:
                row = next(csv.DictReader(f))
            rows.append((c, float(row["Inferences/Second"]), float(row["p95 latency"]) / 1000,
                         float(row["Server Queue"]), float(row["Server Compute Infer"])))
        return rows


def main():
    ceiling1, ceiling8 = in_process(1), in_process(8)
    print(f"ONNX Runtime in-process, {THREADS} intra-op threads: batch 1 {ceiling1:.1f}/s, "
          f"batch 8 {ceiling8:.1f}/s")
    print(f"{'config':<28} {'conc':>4} {'infer/s':>8} {'p95 ms':>8} {'queue us':>9} "
          f"{'infer us':>9} {'/batch-8':>8}")
    for name, extra in CONFIGS.items():
        for c, tput, p95, queue, infer in measure(extra, CONCURRENCY):
            print(f"{name:<28} {c:>4} {tput:>8.1f} {p95:>8.1f} {queue:>9.0f} {infer:>9.0f} "
                  f"{tput / ceiling8:>8.2f}")


if __name__ == "__main__":
    main()
