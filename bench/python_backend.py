"""The Python backend's cost per request: an identity model.py (returns its
input) beside the C identity backend, in one inferd, driven by Triton's
perf_analyzer over HTTP and gRPC at concurrency 1 and 8, side by side in one
run (input FP32 [1, 16]).

Prints requests/s, the median latency, and the CPU time per request of the
server and its stub processes together; the last column is the Python
model's figure over the C one. The load generator shares the machine's cores,
so read the two models against each other, not as absolutes.
    .venv/bin/python bench/python_backend.py [seconds per step, default 4]
"""
import contextlib
import csv
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tritonclient.http as httpclient

from benchlib import BIN, LOAD_TOOLS, cpu_seconds, free_port, model_successes

IO = """max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
"""
MODEL_PY = """import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("OUTPUT0", pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy())])
            for r in requests]
"""


def tree_cpu(pid):
    """CPU seconds of `pid` and its child processes (the stubs)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += cpu_seconds(int(child))
    return total


def perf(model, protocol, url, concurrency, seconds):
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        run = subprocess.run(
            [LOAD_TOOLS["perf_analyzer"], "-m", model, "-i", protocol, "-u", url,
             f"--concurrency-range={concurrency}", "-p", str(seconds * 1000), "-s", "100", "-r", "5",
             "-f", f.name], capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            sys.exit(f"perf_analyzer failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        row = next(csv.DictReader(io.StringIO(Path(f.name).read_text())))
    return float(row["Inferences/Second"]), float(row["p50 latency"])


@contextlib.contextmanager
def server():
    """Yields (process, {"http": url, "grpc": url}) of an inferd serving both models."""
    with tempfile.TemporaryDirectory() as repo:
        for name, backend in (("identity_c", "identity"), ("identity_py", "python")):
            (Path(repo) / name / "1").mkdir(parents=True)
            (Path(repo) / name / "config.pbtxt").write_text(f'backend: "{backend}"\n' + IO)
        (Path(repo) / "identity_py" / "1" / "model.py").write_text(MODEL_PY)
        ports = {k: free_port() for k in ("http", "grpc", "metrics")}
        proc = subprocess.Popen([BIN, f"--model-repository={repo}", "--log-info=false",
                                 *(f"--{k}-port={v}" for k, v in ports.items()),
                                 "--http-address=127.0.0.1", "--grpc-address=127.0.0.1"])
        urls = {k: f"127.0.0.1:{ports[k]}" for k in ("http", "grpc")}
        try:
            client = httpclient.InferenceServerClient(urls["http"])
            for _ in range(200):
                with contextlib.suppress(Exception):
                    if client.is_model_ready("identity_py") and client.is_model_ready("identity_c"):
                        break
                time.sleep(0.1)
            yield proc, urls
        finally:
            proc.terminate()
            proc.wait()


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    with server() as (proc, urls):
        client = httpclient.InferenceServerClient(urls["http"])
        print(f"{'protocol':8} {'conc':>4} {'model':>11} {'req/s':>9} {'p50 us':>8} {'CPU us/req':>11} {'py/c CPU':>9}")
        for protocol in ("http", "grpc"):
            for concurrency in (1, 8):
                cpu_per = {}
                for model in ("identity_c", "identity_py"):
                    cpu0, n0 = tree_cpu(proc.pid), model_successes(client, model)
                    rate, latency = perf(model, protocol, urls[protocol], concurrency, seconds)
                    cpu1, n1 = tree_cpu(proc.pid), model_successes(client, model)
                    cpu_per[model] = (cpu1 - cpu0) / max(1, n1 - n0) * 1e6
                    ratio = f"{cpu_per['identity_py'] / cpu_per['identity_c']:9.2f}" if model == "identity_py" else ""
                    print(f"{protocol:8} {concurrency:4} {model:>11} {rate:9.0f} {latency:8.0f} "
                          f"{cpu_per[model]:11.1f} {ratio}", flush=True)


if __name__ == "__main__":
    main()
