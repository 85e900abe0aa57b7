"""System shared memory beside tensors in the request body: an identity model
with one FP32 input of 1 KiB, 64 KiB and 1 MiB, driven by Triton's
perf_analyzer over HTTP and gRPC, each with and without
--shared-memory=system, side by side in one run.

Prints requests/s and the server's CPU time per request (CPU of the inferd
process over the requests it answered). The load generator shares the
machine's cores, so read the modes against each other, not as absolutes.
    .venv/bin/python bench/shared_memory.py [seconds per step, default 4]
"""
import csv
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import tritonclient.http as httpclient

from benchlib import LOAD_TOOLS, cpu_seconds, identity_server

MODEL = "identity_any"
CONFIG = """backend: "identity"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [-1] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [-1] }]
"""


def successes(client):
    stats = client.get_inference_statistics(MODEL)["model_stats"][0]
    return int(stats["inference_stats"]["success"]["count"])


def perf(protocol, url, elements, shm, seconds):
    extra = ["--shared-memory=system", f"--output-shared-memory-size={elements * 4}"] if shm else []
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        run = subprocess.run(
            [LOAD_TOOLS["perf_analyzer"], "-m", MODEL, "-i", protocol, "-u", url,
             "--shape", f"INPUT0:{elements}", "--concurrency-range=1", "-p", str(seconds * 1000),
             "-s", "100", "-r", "5", *extra, "-f", f.name],
            capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            sys.exit(f"perf_analyzer failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        row = next(csv.DictReader(io.StringIO(Path(f.name).read_text())))
    return float(row["Inferences/Second"])


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    with identity_server(model=MODEL, config=CONFIG) as (proc, urls):
        client = httpclient.InferenceServerClient(urls["http"])
        print(f"{'protocol':8} {'tensor':>8} {'mode':>6} {'req/s':>9} {'server CPU us/req':>18}")
        for elements in (256, 16384, 262144):
            for protocol in ("http", "grpc"):
                got = {}
                for shm in (False, True):
                    cpu0, n0 = cpu_seconds(proc.pid), successes(client)
                    rate = perf(protocol, urls[protocol], elements, shm, seconds)
                    cpu1, n1 = cpu_seconds(proc.pid), successes(client)
                    per_request = (cpu1 - cpu0) / max(1, n1 - n0) * 1e6
                    got[shm] = (rate, per_request)
                    print(f"{protocol:8} {elements * 4 // 1024:>6}KiB {'shm' if shm else 'body':>6} "
                          f"{rate:>9.0f} {per_request:>18.1f}")
                (rb, cb), (rs, cs) = got[False], got[True]
                print(f"  -> shm/body: throughput {rs / rb:.2f}, server CPU per request {cs / cb:.2f}")


if __name__ == "__main__":
    main()
