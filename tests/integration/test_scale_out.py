"""Scale-out on loopback: three inferd replicas behind a real load balancer
(Debian's HAProxy, configured by deploy/haproxy/haproxy.cfg: only its `bind`
and `server` lines are rewritten here), driven over HTTP and gRPC with
tritonclient through the balancer.

* a replica killed (SIGKILL) under load loses nothing: the balancer retries
  what failed on another replica, and the client retries an idempotent
  inference once;
* a model update rolled across the replicas one at a time (explicit load with
  a new config) fails no request;
* a replica whose /v2/health/ready answers 503 gets no requests until it is
  ready again.

HAProxy rather than nginx: open-source nginx has no active health checks, so
it could not take a replica out on its readiness answer. Every load loop is
bounded in time and count, and every process is stopped by the test.
"""

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from support import InferdServer, fp32_identity, free_port, raw_request, stats_of, write_model

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy/haproxy/haproxy.cfg"
MODEL = "identity"
LOAD_LIMIT_S = 20.0          # no load loop runs longer than this, whatever happens
LOAD_LIMIT_REQUESTS = 20000  # nor sends more requests than this


class Balancer:
    """HAProxy on two loopback ports, in front of the given replicas."""

    def __init__(self, replicas, workdir):
        self.replicas = replicas
        self.workdir = Path(workdir)
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.socket_path = self.workdir / "haproxy.sock"
        self.proc = None

    def config(self):
        text = TEMPLATE.read_text()
        text = text.replace("bind *:8000", f"bind 127.0.0.1:{self.http_port}")
        text = text.replace("bind *:8001 proto h2", f"bind 127.0.0.1:{self.grpc_port} proto h2")
        text = text.replace("global\n", f"global\n    stats socket {self.socket_path} level admin\n", 1)
        http_lines = "\n".join(f"    server replica{i} {r.url} check" for i, r in enumerate(self.replicas))
        grpc_lines = "\n".join(f"    server replica{i} {r.grpc_url} proto h2 check port {r.port} check-proto h1"
                               for i, r in enumerate(self.replicas))
        text, n_http = re.subn(r"(    server replica\d+ replica\d+:8000 check\n)+", http_lines + "\n", text)
        text, n_grpc = re.subn(r"(    server replica\d+ replica\d+:8001 proto h2 .*\n)+", grpc_lines + "\n", text)
        assert n_http == 1 and n_grpc == 1, "deploy/haproxy/haproxy.cfg no longer has the server lines this test rewrites"
        return text

    def start(self):
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            pytest.fail("haproxy is missing: scripts/setup installs it (Debian package haproxy)")
        cfg = self.workdir / "haproxy.cfg"
        cfg.write_text(self.config())
        self.log = open(self.workdir / "haproxy.log", "wb")
        # -db: foreground, no daemon; stopped by stop().
        self.proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_status(lambda states: all(s == "UP" for s in states.values()))
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self.log.close()

    def states(self):
        """{(backend, server): 'UP' | 'DOWN' | ...} from the stats socket."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.socket_path))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        out = {}
        for line in data.decode().splitlines()[1:]:
            fields = line.split(",")
            if len(fields) > 17 and fields[1].startswith("replica"):
                out[(fields[0], fields[1])] = fields[17].split()[0]
        return out

    def wait_status(self, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"haproxy exited: {(self.workdir / 'haproxy.log').read_text()}")
            try:
                last = self.states()
                if len(last) == 2 * len(self.replicas) and predicate(last):
                    return last
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"the balancer's servers did not reach the expected state: {last}")

    def replica_state(self, index):
        states = self.states()
        return {states[("inferd_http_replicas", f"replica{index}")],
                states[("inferd_grpc_replicas", f"replica{index}")]}


class Load:
    """Inference through the balancer from a few threads (HTTP and gRPC), each
    checking its answer and retrying a failed inference once."""

    def __init__(self, balancer, http_threads=2, grpc_threads=1):
        self.balancer = balancer
        self.kinds = ["http"] * http_threads + ["grpc"] * grpc_threads
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.done = []       # completion times
        self.failures = []   # (time, error) of requests that failed twice
        self.retried = 0
        self.threads = []

    def _client(self, kind):
        if kind == "http":
            return httpclient, httpclient.InferenceServerClient(f"127.0.0.1:{self.balancer.http_port}",
                                                               network_timeout=30.0)
        return grpcclient, grpcclient.InferenceServerClient(f"127.0.0.1:{self.balancer.grpc_port}")

    def _run(self, kind, seed):
        lib, client = self._client(kind)
        rng = np.random.default_rng(seed)
        deadline = time.monotonic() + LOAD_LIMIT_S
        try:
            for _ in range(LOAD_LIMIT_REQUESTS // len(self.kinds)):
                if self.stop_event.is_set() or time.monotonic() > deadline:
                    return
                x = rng.standard_normal((1, 16)).astype(np.float32)
                for attempt in (1, 2):
                    try:
                        tensor = lib.InferInput("INPUT0", [1, 16], "FP32")
                        tensor.set_data_from_numpy(x)
                        got = client.infer(MODEL, [tensor], timeout=10 if kind == "grpc" else None)
                        assert np.array_equal(got.as_numpy("OUTPUT0"), x)
                        with self.lock:
                            self.done.append(time.monotonic())
                        break
                    except Exception as e:  # noqa: BLE001 - any failure counts, and is retried once
                        with self.lock:
                            if attempt == 1:
                                self.retried += 1
                            else:
                                self.failures.append((time.monotonic(), f"{kind}: {e}"))
                        if attempt == 1:
                            client.close()
                            lib, client = self._client(kind)
        finally:
            client.close()

    def __enter__(self):
        for i, kind in enumerate(self.kinds):
            t = threading.Thread(target=self._run, args=(kind, i), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=LOAD_LIMIT_S + 10)
        assert not any(t.is_alive() for t in self.threads), "a load thread did not stop"
        return False

    def completed_since(self, t0):
        with self.lock:
            return sum(1 for t in self.done if t >= t0)

    def wait_for(self, count, since, timeout=10.0):
        deadline = time.monotonic() + timeout
        while self.completed_since(since) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.completed_since(since) >= count, f"fewer than {count} requests completed in {timeout} s"


def successes(srv):
    return int(stats_of(srv, MODEL)["inference_stats"]["success"]["count"])


def identity_config(rollout=None):
    config = {
        "name": MODEL, "backend": "identity", "max_batch_size": 8,
        "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
        "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
    }
    if rollout:
        config["parameters"] = {"rollout": {"string_value": rollout}}
    return config


@pytest.fixture
def cluster(inferd_bin, tmp_path):
    """Three replicas (explicit model control, the identity model loaded) and the balancer."""
    repo = tmp_path / "models"
    write_model(repo, MODEL, fp32_identity(MODEL))
    # A model whose load fails: loading it makes a replica not ready (strict readiness).
    write_model(repo, "broken", 'backend: "no_such_backend"\nmax_batch_size: 0\n')
    replicas = []
    balancer = None
    try:
        for i in range(3):
            replicas.append(InferdServer(inferd_bin, [repo], ["--model-control-mode=explicit",
                                                               f"--load-model={MODEL}"],
                                         log_dir=tmp_path, tag=f"replica{i}").start())
        balancer = Balancer(replicas, tmp_path).start()
        yield replicas, balancer
    finally:
        if balancer is not None:
            balancer.stop()
        for r in replicas:
            r.stop()


def test_a_replica_killed_under_load_loses_no_request(cluster):
    replicas, balancer = cluster
    with Load(balancer) as load:
        load.wait_for(150, since=0)
        before = [successes(r) for r in replicas]
        assert all(b > 0 for b in before), f"every replica serves before the kill: {before}"
        killed_at = time.monotonic()
        replicas[1].kill()
        balancer.wait_status(lambda s: {s[("inferd_http_replicas", "replica1")],
                                        s[("inferd_grpc_replicas", "replica1")]} == {"DOWN"})
        load.wait_for(300, since=killed_at)
    assert load.failures == [], f"{len(load.failures)} requests lost: {load.failures[:5]}"
    after = [successes(replicas[i]) for i in (0, 2)]
    assert after[0] > before[0] and after[1] > before[2], "the other replicas took over"


def test_a_model_update_rolled_across_replicas_fails_no_request(cluster):
    replicas, balancer = cluster
    with Load(balancer) as load:
        load.wait_for(100, since=0)
        for r in replicas:
            client = httpclient.InferenceServerClient(r.url)
            client.load_model(MODEL, config=json.dumps(identity_config(rollout="v2")))
            client.close()
            load.wait_for(50, since=time.monotonic())
    assert load.failures == [], f"{len(load.failures)} requests failed: {load.failures[:5]}"
    for r in replicas:
        client = grpcclient.InferenceServerClient(r.grpc_url)
        config = client.get_model_config(MODEL, as_json=True)["config"]
        client.close()
        assert config["parameters"]["rollout"]["string_value"] == "v2"


def test_a_replica_not_ready_gets_no_requests_until_ready_again(cluster):
    replicas, balancer = cluster
    first = httpclient.InferenceServerClient(replicas[0].url)
    try:
        with pytest.raises(Exception, match="no_such_backend"):
            first.load_model("broken")
        status, _, _ = raw_request(replicas[0].url, "GET", "/v2/health/ready")
        assert status == 503
        balancer.wait_status(lambda s: s[("inferd_http_replicas", "replica0")] == "DOWN"
                             and s[("inferd_grpc_replicas", "replica0")] == "DOWN")
        out_count = successes(replicas[0])
        with Load(balancer) as load:
            load.wait_for(200, since=0)
        assert load.failures == []
        assert successes(replicas[0]) == out_count, "a replica that is not ready got requests"
        assert successes(replicas[1]) > 0 and successes(replicas[2]) > 0

        first.unload_model("broken")
        status, _, _ = raw_request(replicas[0].url, "GET", "/v2/health/ready")
        assert status == 200
        balancer.wait_status(lambda s: s[("inferd_http_replicas", "replica0")] == "UP"
                             and s[("inferd_grpc_replicas", "replica0")] == "UP")
        with Load(balancer) as load:
            load.wait_for(200, since=0)
        assert load.failures == []
        assert successes(replicas[0]) > out_count, "the replica is back in rotation"
    finally:
        first.close()
