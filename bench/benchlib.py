"""What the benchmarks share: the binary, a text_recognition repository with a
given config, and an inferd process on a free loopback port."""
import contextlib
import csv
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tritonclient.http as httpclient

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("INFERD_BIN", str(ROOT / "build/release/inferd"))
TEXT_RECOGNITION = ROOT / "examples/model_repository/text_recognition/1/model.onnx"


def text_recognition_config(intra_op_threads, extra=""):
    """text_recognition with max_batch_size 8 and `intra_op_threads` per
    session, plus `extra`; one instance unless `extra` has an instance_group
    (without one, an ONNX model on CPU gets two, as on Triton)."""
    instances = "" if "instance_group" in extra else "instance_group [{ count: 1 kind: KIND_CPU }]\n"
    return ('platform: "onnxruntime_onnx"\nmax_batch_size: 8\n'
            'input [{ name: "x" data_type: TYPE_FP32 dims: [3, 48, -1] }]\n'
            'output [{ name: "softmax_11.tmp_0" data_type: TYPE_FP32 dims: [-1, 6625] }]\n'
            f'parameters {{ key: "intra_op_thread_count" value {{ string_value: "{intra_op_threads}" }} }}\n'
            + instances + extra)


@contextlib.contextmanager
def inferd(config_text, model="text_recognition", model_file=TEXT_RECOGNITION, args=()):
    """Yields the URL of an inferd serving one model with `config_text`; stops it after."""
    with tempfile.TemporaryDirectory() as repo:
        d = Path(repo) / model
        (d / "1").mkdir(parents=True)
        (d / "1" / "model.onnx").symlink_to(model_file)
        (d / "config.pbtxt").write_text(config_text)
        port = free_port()
        server = subprocess.Popen([BIN, f"--model-repository={repo}", f"--http-port={port}",
                                   "--http-address=127.0.0.1", f"--grpc-port={free_port()}",
                                   "--grpc-address=127.0.0.1", f"--metrics-port={free_port()}",
                                   "--log-info=false", *args])
        url = f"127.0.0.1:{port}"
        try:
            client = httpclient.InferenceServerClient(url)
            for _ in range(200):
                with contextlib.suppress(Exception):
                    if client.is_model_ready(model):
                        break
                time.sleep(0.1)
            yield url
        finally:
            server.terminate()
            server.wait()


# ---- The identity model over HTTP and gRPC (protocol and load-generator benches) ----

IDENTITY_MODEL = "identity_1x16"
IDENTITY_CONFIG = """backend: "identity"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
"""
# Load generators with the same flags and CSV: ours and Triton's.
LOAD_TOOLS = {"inferd-perf": str(Path(BIN).parent / "inferd-perf"),
              "perf_analyzer": str(ROOT / ".venv/bin/perf_analyzer")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def model_successes(client, model=IDENTITY_MODEL):
    """Requests the model answered successfully so far (statistics endpoint)."""
    stats = client.get_inference_statistics(model)["model_stats"][0]
    return int(stats["inference_stats"]["success"]["count"])


@contextlib.contextmanager
def identity_server(pin_core=None, binary=BIN, model=IDENTITY_MODEL, config=IDENTITY_CONFIG, extra_args=()):
    """Yields (process, {"http": url, "grpc": url}) of an inferd (`binary`)
    serving `model` (by default the identity model), optionally pinned to one
    core, with `extra_args` on its command line; stops it after."""
    with tempfile.TemporaryDirectory() as repo:
        (Path(repo) / model / "1").mkdir(parents=True)
        (Path(repo) / model / "config.pbtxt").write_text(config)
        http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
        pin = ["taskset", "-c", str(pin_core)] if pin_core is not None else []
        server = subprocess.Popen(
            [*pin, binary, f"--model-repository={repo}", f"--http-port={http_port}",
             "--http-address=127.0.0.1", f"--grpc-port={grpc_port}", "--grpc-address=127.0.0.1",
             f"--metrics-port={metrics_port}", "--log-info=false", *extra_args])
        urls = {"http": f"127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}"}
        try:
            client = httpclient.InferenceServerClient(urls["http"])
            for _ in range(100):
                with contextlib.suppress(Exception):
                    if client.is_model_ready(model):
                        break
                time.sleep(0.1)
            yield server, urls
        finally:
            server.terminate()
            server.wait()


TRITON_VENV = ROOT / ".venv-triton"


def triton_server_command(repo, ports):
    """argv and environment of the real tritonserver 2.51 that scripts/install-triton
    puts in .venv-triton (with its Python backend), serving `repo` on
    127.0.0.1 at ports {"http", "grpc", "metrics"}; None when it is not installed."""
    site = next(iter(TRITON_VENV.glob("lib/python3*/site-packages")), None)
    if site is None or not (site / "pytriton/tritonserver/bin/tritonserver").exists():
        return None
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = f"{TRITON_VENV / 'triton-lib'}:{site / 'nvidia_pytriton.libs'}"
    argv = [str(site / "pytriton/tritonserver/bin/tritonserver"), f"--model-repository={repo}",
            f"--backend-directory={TRITON_VENV / 'triton-backends'}",
            f"--cache-directory={site / 'pytriton/tritonserver/caches'}", "--log-info=false",
            "--http-address=127.0.0.1", "--grpc-address=127.0.0.1",
            *(f"--{k}-port={v}" for k, v in ports.items())]
    return argv, env


def tree_cpu(pid):
    """CPU seconds of `pid` and all its descendants (Python stubs, which on
    inferd are children of a stub launcher, itself the server's child)."""
    try:
        total = cpu_seconds(pid)
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # it ended meanwhile
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
        total += sum(tree_cpu(int(child)) for child in children)
    return total


def perf_analyzer_row(model, protocol, url, concurrency, seconds, extra_args=()):
    """(requests/s, p50 latency us) of Triton's perf_analyzer against `model`,
    with `extra_args` (such as --shape) on its command line."""
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        run = subprocess.run(
            [LOAD_TOOLS["perf_analyzer"], "-m", model, "-i", protocol, "-u", url,
             f"--concurrency-range={concurrency}", "-p", str(seconds * 1000), "-s", "1000", "-r", "3",
             "-f", f.name, *extra_args], capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            sys.exit(f"perf_analyzer failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        row = next(csv.DictReader(io.StringIO(Path(f.name).read_text())))
    return float(row["Inferences/Second"]), float(row["p50 latency"])


def peer_medians(runs, row):
    """For one row of a side-by-side run, where runs[(server, row)] lists a
    tuple of figures per round for "inferd" and "triton": the median of the
    per-round ratios inferd/Triton of the first figure, then the median of
    each figure for inferd, then for Triton."""
    mine, theirs = runs[("inferd", row)], runs[("triton", row)]
    ratio = statistics.median(a[0] / b[0] for a, b in zip(mine, theirs))
    return (ratio, [statistics.median(figure) for figure in zip(*mine)],
            [statistics.median(figure) for figure in zip(*theirs)])


def server_stats(client, model):
    """(successes, request ns, compute ns) from the server's statistics."""
    s = client.get_inference_statistics(model)["model_stats"][0]["inference_stats"]
    compute = sum(int(s[k]["ns"]) for k in ("compute_input", "compute_infer", "compute_output"))
    return int(s["success"]["count"]), int(s["success"]["ns"]), compute


@contextlib.contextmanager
def serving_repository(name, models, extra_args=()):
    """Yields (process, {"http", "grpc"} urls) of inferd (name "inferd") or
    Triton serving `models`: {model: (config text, content)}, where content
    is a model.py text, the Path of a model.onnx, or None; with `extra_args`
    on its command line.
    On Triton, a model on the identity backend gets Triton's own C identity
    (TRITON_IDENTITY_BACKEND, a folder with libtriton_identity.so) in its
    version folder, where Triton looks first. Triton's onnxruntime backend
    (TRITON_ONNXRUNTIME_BACKEND) cannot be loaded that way by two models (its
    loader is a process-wide singleton): when set, it joins Triton's
    backend directory instead, beside the Python backend."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "models"
        if name == "triton" and os.environ.get("TRITON_ONNXRUNTIME_BACKEND"):
            backends = Path(tmp) / "backends"
            backends.mkdir()
            for b in (TRITON_VENV / "triton-backends").iterdir():
                (backends / b.name).symlink_to(b)
            (backends / "onnxruntime").symlink_to(os.environ["TRITON_ONNXRUNTIME_BACKEND"])
            extra_args = [*extra_args, f"--backend-directory={backends}"]
        for model, (config, content) in models.items():
            version = repo / model / "1"
            version.mkdir(parents=True)
            (repo / model / "config.pbtxt").write_text(config)
            if isinstance(content, Path):
                (version / "model.onnx").symlink_to(content)
            elif content:
                (version / "model.py").write_text(content)
            if name == "triton" and 'backend: "identity"' in config:
                (version / "libtriton_identity.so").symlink_to(
                    Path(os.environ["TRITON_IDENTITY_BACKEND"]) / "libtriton_identity.so")
        with serving(name, repo, list(models), extra_args) as served:
            yield served


@contextlib.contextmanager
def serving(name, repo, models, extra_args=()):
    """Yields (process, {"http", "grpc"} urls) of inferd (name "inferd") or
    Triton serving the repository folder `repo` on free loopback ports, with
    `extra_args` on its command line, once every model named in `models` is
    ready; stops it after."""
    ports = {k: free_port() for k in ("http", "grpc", "metrics")}
    env = None
    if name == "inferd":
        argv = [BIN, f"--model-repository={repo}", "--log-info=false",
                *(f"--{k}-port={v}" for k, v in ports.items()),
                "--http-address=127.0.0.1", "--grpc-address=127.0.0.1"]
    else:
        argv, env = triton_server_command(repo, ports)
    proc = subprocess.Popen([*argv, *extra_args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # Triton 2.51 with the response cache on did not exit on SIGTERM
            proc.kill()
            proc.wait()
