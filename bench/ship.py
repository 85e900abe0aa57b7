"""What shipping inferd costs and gives, in one run:

1. Sizes: a full stripped install, composed installs with fewer backends
   (scripts/compose), and the Debian package (CPack).
2. Cold start to ready (process start to /v2/health/ready = 200, polled every
   5 ms; median of 5): the composed inferd on the example repository and on
   one identity model, and Triton 2.51 (scripts/install-triton) on the same
   identity model served by Triton's C identity backend (TRITON_IDENTITY_BACKEND,
   from scripts/build-triton-backends).
3. Scale-out: perf_analyzer at concurrency 8 (FP32 [1, 16] identity, HTTP and
   gRPC) direct to one replica, and through HAProxy (deploy/haproxy/haproxy.cfg)
   to three; HAProxy's own CPU per request. On a 2-core machine three replicas
   cannot add throughput: the row says what the balancer costs, not how far
   inferd scales.

    .venv/bin/python bench/ship.py [seconds per window, default 3]
"""
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import tritonclient.http as httpclient

from benchlib import BIN, LOAD_TOOLS, ROOT, cpu_seconds, free_port, model_successes, triton_server_command

sys.path.insert(0, str(ROOT / "tests/integration"))
from test_scale_out import Balancer  # noqa: E402  (the tested HAProxy configuration)

IDENTITY = """backend: "identity"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1, 16] }]
"""
BUILD = Path(BIN).parent


def du(path):
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
               .stdout.split()[0])


def compose(out, backends):
    subprocess.run([str(ROOT / "scripts/compose"), "--backends", backends, "--output", str(out),
                    "--build-dir", str(BUILD)], check=True, capture_output=True)
    return out


def identity_repo(root, triton_identity=None):
    version = root / "identity" / "1"
    version.mkdir(parents=True)
    (root / "identity" / "config.pbtxt").write_text(IDENTITY)
    if triton_identity:
        (version / "libtriton_identity.so").symlink_to(Path(triton_identity) / "libtriton_identity.so")
    return root


def time_to_ready(argv, env=None, port=None):
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
    try:
        while time.monotonic() - start < 60:
            with contextlib.suppress(Exception):
                if client.is_server_ready():
                    return time.monotonic() - start
            time.sleep(0.005)
        sys.exit(f"not ready within 60 s: {argv}")
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def inferd_argv(binary, repo, ports):
    return [str(binary), f"--model-repository={repo}", "--log-info=false",
            "--http-address=127.0.0.1", "--grpc-address=127.0.0.1",
            *(f"--{k}-port={v}" for k, v in ports.items())]


def cold_starts(installed, tmp):
    rows = {}
    example = ROOT / "examples/model_repository"
    repo = identity_repo(tmp / "identity_repo")
    for name, r in (("inferd, example repository", example), ("inferd, one identity model", repo)):
        times = []
        for _ in range(5):
            ports = {k: free_port() for k in ("http", "grpc", "metrics")}
            times.append(time_to_ready(inferd_argv(installed / "bin/inferd", r, ports), port=ports["http"]))
        rows[name] = statistics.median(times)
    triton_identity = os.environ.get("TRITON_IDENTITY_BACKEND")
    if triton_identity:
        repo = identity_repo(tmp / "triton_repo", triton_identity)
        times = []
        for _ in range(5):
            ports = {k: free_port() for k in ("http", "grpc", "metrics")}
            command = triton_server_command(repo, ports)
            if command is None:
                break
            argv, env = command
            times.append(time_to_ready(argv, env=env, port=ports["http"]))
        if times:
            rows["Triton 2.51, one identity model"] = statistics.median(times)
    return rows


Replica = namedtuple("Replica", "proc url grpc_url port")


@contextlib.contextmanager
def replicas(count, repo):
    started = []
    try:
        for _ in range(count):
            ports = {k: free_port() for k in ("http", "grpc", "metrics")}
            proc = subprocess.Popen(inferd_argv(BIN, repo, ports), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            started.append(Replica(proc, f"127.0.0.1:{ports['http']}", f"127.0.0.1:{ports['grpc']}",
                                   ports["http"]))
        for r in started:
            client = httpclient.InferenceServerClient(r.url)
            for _ in range(200):
                with contextlib.suppress(Exception):
                    if client.is_model_ready("identity"):
                        break
                time.sleep(0.05)
            client.close()
        yield started
    finally:
        for r in started:
            r.proc.terminate()
            r.proc.wait()


def perf(protocol, url, seconds):
    """(requests/s, average latency us) of perf_analyzer at concurrency 8. Its
    plain summary line, not the CSV: through the balancer, consecutive
    statistics requests reach different replicas, and the CSV's server-side
    columns (a difference of two of them) make it fail."""
    run = subprocess.run([LOAD_TOOLS["perf_analyzer"], "-m", "identity", "-i", protocol, "-u", url,
                          "--concurrency-range=8", "-p", str(seconds * 1000)],
                         capture_output=True, text=True, timeout=300)
    match = re.search(r"throughput: ([\d.]+) infer/sec, latency (\d+) usec", run.stdout)
    if run.returncode != 0 or not match:
        sys.exit(f"perf_analyzer failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return float(match.group(1)), float(match.group(2))


def served(reps):
    total = 0
    for r in reps:
        client = httpclient.InferenceServerClient(r.url)
        total += model_successes(client, "identity")
        client.close()
    return total


def scale_out(seconds, tmp):
    repo = identity_repo(tmp / "scale_repo")
    rows = []
    with replicas(3, repo) as reps:
        balancer = Balancer(reps, tmp)
        balancer.start()
        try:
            for protocol in ("http", "grpc"):
                direct = reps[0].url if protocol == "http" else reps[0].grpc_url
                rate_direct, lat_direct = perf(protocol, direct, seconds)
                lb = f"127.0.0.1:{balancer.http_port if protocol == 'http' else balancer.grpc_port}"
                cpu0, n0 = cpu_seconds(balancer.proc.pid), served(reps)
                rate_lb, lat_lb = perf(protocol, lb, seconds)
                cpu1, n1 = cpu_seconds(balancer.proc.pid), served(reps)
                rows.append((protocol, rate_direct, lat_direct, rate_lb, lat_lb,
                             (cpu1 - cpu0) / max(1, n1 - n0) * 1e6))
        finally:
            balancer.stop()
    return rows


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("## Sizes (stripped)")
        full = tmp / "full"
        subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(full), "--strip"], check=True,
                       capture_output=True)
        print(f"full install (every backend, headers):      {du(full) / 1e6:6.1f} MB")
        print(f"  of which bin/inferd:                       {du(full / 'bin/inferd') / 1e6:6.1f} MB")
        ort = full / "lib/inferd/backends/onnxruntime/libonnxruntime.so.1"
        if ort.exists():
            print(f"  of which libonnxruntime.so.1:              {du(ort) / 1e6:6.1f} MB")
        for backends in ("identity", "python", "onnxruntime", "onnxruntime,python"):
            out = compose(tmp / f"compose-{backends.replace(',', '-')}", backends)
            print(f"compose --backends {backends:<22}  {du(out) / 1e6:6.1f} MB")
        deb = tmp / "deb"
        subprocess.run(["cpack", "--config", str(BUILD / "CPackConfig.cmake"), "-B", str(deb)], check=True,
                       capture_output=True)
        (package,) = deb.glob("*.deb")
        print(f"{package.name}:                      {du(package) / 1e6:6.1f} MB")

        print("\n## Cold start to ready (median of 5)")
        for name, t in cold_starts(full, tmp).items():
            print(f"{name:<36} {t * 1000:7.0f} ms")

        print(f"\n## Scale-out, perf_analyzer concurrency 8, {seconds} s windows")
        print("protocol  direct req/s  avg us | 3 replicas via HAProxy req/s  avg us | HAProxy CPU us/request")
        for protocol, rd, pd, rl, pl, cpu in scale_out(seconds, tmp):
            print(f"{protocol:<8}  {rd:12.0f}  {pd:6.0f} | {rl:28.0f}  {pl:6.0f} | {cpu:8.1f}")


if __name__ == "__main__":
    main()
