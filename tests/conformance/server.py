"""Starting and stopping one inferd process for the conformance runner.

A small relative of tests/integration/support.py's InferdServer (which is tied
to pytest): it can also take Triton's default ports 8000/8001/8002, which
Triton's QA tests hard-code, and it can wait for a server that is expected to
refuse to start (L0_model_config's checks)."""

import atexit
import errno
import http.client
import signal
import socket
import subprocess
import time
from pathlib import Path

DEFAULT_PORTS = (8000, 8001, 8002)  # HTTP, gRPC, metrics: what Triton's QA tests use
LIVE_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
BINARY_WAIT_S = 120.0  # while the binary is briefly missing (being rebuilt)

_RUNNING = []  # every process started and not yet reaped, killed at exit as a last resort


@atexit.register
def _kill_leftovers():
    for srv in list(_RUNNING):
        srv.stop()


class ServerError(RuntimeError):
    """inferd did not come up (or did not stop); the message carries the log tail."""


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def default_ports_free():
    return all(port_is_free(p) for p in DEFAULT_PORTS)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _http_status(port, path, timeout=1.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


class Inferd:
    """One inferd process, listening on loopback only.

    ``default_ports``: use 8000/8001/8002 (the caller checks they are free),
    else three free ports. Use as a context manager, or start()/stop()."""

    def __init__(self, binary, repos, args=(), log_path=None, default_ports=False, env=None, cwd=None):
        self.binary = str(binary)
        self.repos = [str(r) for r in repos]
        self.args = list(args)
        self.log_path = Path(log_path)
        self.default_ports = default_ports
        self.env = env
        self.cwd = str(cwd or self.log_path.parent)
        self.proc = None
        self.http_port = self.grpc_port = self.metrics_port = None

    @property
    def http_url(self):
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self):
        return f"127.0.0.1:{self.grpc_port}"

    def argv(self):
        return ([self.binary]
                + [f"--model-repository={r}" for r in self.repos]
                + [f"--http-port={self.http_port}", "--http-address=127.0.0.1",
                   f"--grpc-port={self.grpc_port}", "--grpc-address=127.0.0.1",
                   f"--metrics-port={self.metrics_port}", "--metrics-address=127.0.0.1"]
                + self.args)

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _spawn(self):
        if self.default_ports:
            self.http_port, self.grpc_port, self.metrics_port = DEFAULT_PORTS
        else:
            self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + BINARY_WAIT_S
        while True:
            try:
                with open(self.log_path, "ab") as log:
                    self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, cwd=self.cwd, env=self.env)
                break
            except OSError as exc:
                # The binary is being relinked (missing, not executable, or busy): wait for it.
                if exc.errno not in (errno.ENOENT, errno.EACCES, errno.ETXTBSY) or time.monotonic() > deadline:
                    raise ServerError(f"cannot start {self.binary}: {exc}") from exc
                time.sleep(1.0)
        _RUNNING.append(self)

    def _wait_live(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                live = _http_status(self.http_port, "/v2/health/live") == 200
            except (OSError, http.client.HTTPException):
                live = False
            if live and _listening(self.grpc_port) and _listening(self.metrics_port):
                return True
            time.sleep(0.05)
        return False

    def start(self, timeout=LIVE_TIMEOUT_S):
        for attempt in range(3):
            self._spawn()
            if self._wait_live(timeout):
                return self
            exited = self.proc.poll() is not None
            self.stop()
            tail = self.log_tail()
            busy = "address" in tail.lower() and "in use" in tail.lower()
            if exited and busy and not self.default_ports and attempt < 2:
                continue  # a free port was taken between the check and the bind
            what = (f"exited with code {self.proc.returncode}" if exited
                    else f"was not live within {timeout:.0f} s")
            raise ServerError(f"inferd {what}: {' '.join(self.argv())}\n--- log tail ---\n{tail}")
        return self

    def start_expecting_failure(self, timeout=LIVE_TIMEOUT_S):
        """For checks that a bad repository or flag stops the server from starting:
        returns the exit code, or None when the server came up (it is then stopped)."""
        self._spawn()
        if self._wait_live(timeout):
            self.stop()
            return None
        self.stop()
        return self.proc.returncode

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; always reaps the process."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in _RUNNING:
            _RUNNING.remove(self)
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
