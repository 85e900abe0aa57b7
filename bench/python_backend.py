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
inferd's CPU per Python request over Triton's. The load generator shares the
machine's cores: read the rows against each other, not as absolutes.
    scripts/install-triton      # once, for the Triton side (else inferd only)
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

from benchlib import BIN, LOAD_TOOLS, cpu_seconds, free_port, triton_server_command

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


def server_stats(client, model):
    """(successes, request ns, compute ns) from the server's statistics."""
    s = client.get_inference_statistics(model)["model_stats"][0]["inference_stats"]
    compute = sum(int(s[k]["ns"]) for k in ("compute_input", "compute_infer", "compute_output"))
    return int(s["success"]["count"]), int(s["success"]["ns"]), compute


@contextlib.contextmanager
def serving(name, models):
    """Yields (process, {"http", "grpc"} urls) of inferd or Triton serving `models`."""
    with tempfile.TemporaryDirectory() as repo:
        for model in models:
            backend, io_text, code = MODELS[model]
            (Path(repo) / model / "1").mkdir(parents=True)
            (Path(repo) / model / "config.pbtxt").write_text(f'backend: "{backend}"\n' + io_text)
            if code:
                (Path(repo) / model / "1" / "model.py").write_text(code)
        ports = {k: free_port() for k in ("http", "grpc", "metrics")}
        env = None
        if name == "inferd":
            argv = [BIN, f"--model-repository={repo}", "--log-info=false",
                    *(f"--{k}-port={v}" for k, v in ports.items()),
                    "--http-address=127.0.0.1", "--grpc-address=127.0.0.1"]
        else:
            argv, env = triton_server_command(repo, ports)
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        urls = {k: f"127.0.0.1:{ports[k]}" for k in ("http", "grpc")}
        try:
            client = httpclient.InferenceServerClient(urls["http"])
            for _ in range(300):
                with contextlib.suppress(Exception):
                    if all(client.is_model_ready(m) for m in models):
                        break
                time.sleep(0.1)
            else:
                sys.exit(f"{name} did not get its models ready")
            yield proc, urls
        finally:
            proc.terminate()
            proc.wait()


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    servers = {"inferd": ["identity_c", "identity_py", "add_sub_py"]}
    if triton_server_command("/", {}) is not None:
        servers["triton"] = ["identity_py", "add_sub_py"]
    else:
        print("Triton is not installed (scripts/install-triton): inferd only")
    rows = {}
    print(f"{'server':7} {'protocol':8} {'conc':>4} {'model':>11} {'req/s':>9} {'p50 us':>8} "
          f"{'CPU us/req':>11} {'overhead us':>12} {'inferd/triton CPU':>18}")
    with contextlib.ExitStack() as stack:
        started = {name: stack.enter_context(serving(name, models)) for name, models in servers.items()}
        for protocol in ("http", "grpc"):
            for concurrency in (1, 8):
                for model in ("identity_c", "identity_py", "add_sub_py"):
                    for name, (proc, urls) in started.items():
                        if model not in servers[name]:
                            continue
                        client = httpclient.InferenceServerClient(urls["http"])
                        cpu0, (n0, req0, comp0) = tree_cpu(proc.pid), server_stats(client, model)
                        rate, latency = perf(model, protocol, urls[protocol], concurrency, seconds)
                        cpu1, (n1, req1, comp1) = tree_cpu(proc.pid), server_stats(client, model)
                        n = max(1, n1 - n0)
                        cpu = (cpu1 - cpu0) / n * 1e6
                        overhead = ((req1 - req0) - (comp1 - comp0)) / n / 1e3
                        rows[(name, protocol, concurrency, model)] = cpu
                        other = rows.get(("inferd", protocol, concurrency, model))
                        ratio = f"{other / cpu:18.2f}" if name == "triton" and other else ""
                        print(f"{name:7} {protocol:8} {concurrency:4} {model:>11} {rate:9.0f} {latency:8.0f} "
                              f"{cpu:11.1f} {overhead:12.1f} {ratio}", flush=True)


if __name__ == "__main__":
    main()
