"""Shared helpers of the inferd integration suite: repository writing, the
inferd process wrapper, and assertion helpers used by the test modules."""

import http.client
import atexit
import json
import os
import signal
import socket
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "release" / "inferd"

LIVE_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0

# ---------------------------------------------------------------------------
# Data types: suffix of the per-dtype model -> (config type, wire type)
# ---------------------------------------------------------------------------

DTYPE_MODELS = {
    "bool": ("TYPE_BOOL", "BOOL"),
    "int8": ("TYPE_INT8", "INT8"),
    "int16": ("TYPE_INT16", "INT16"),
    "int32": ("TYPE_INT32", "INT32"),
    "int64": ("TYPE_INT64", "INT64"),
    "uint8": ("TYPE_UINT8", "UINT8"),
    "uint16": ("TYPE_UINT16", "UINT16"),
    "uint32": ("TYPE_UINT32", "UINT32"),
    "uint64": ("TYPE_UINT64", "UINT64"),
    "fp16": ("TYPE_FP16", "FP16"),
    "fp32_nobatch": ("TYPE_FP32", "FP32"),
    "fp64": ("TYPE_FP64", "FP64"),
    "bytes": ("TYPE_STRING", "BYTES"),
    "bf16": ("TYPE_BF16", "BF16"),
}

CLASSIFY_LABELS = ["cat", "dog", "bird", "fish", "frog"]

# Values chosen to catch truncation, sign, precision and byte-order bugs.
DTYPE_VALUES = {
    "bool": np.array([True, False, True, True], dtype=np.bool_),
    "int8": np.array([-128, -1, 0, 127], dtype=np.int8),
    "int16": np.array([-32768, -2, 300, 32767], dtype=np.int16),
    "int32": np.array([-(2**31), -3, 70000, 2**31 - 1], dtype=np.int32),
    "int64": np.array([-(2**63), -4, 2**40 + 1, 2**63 - 1], dtype=np.int64),
    "uint8": np.array([0, 1, 128, 255], dtype=np.uint8),
    "uint16": np.array([0, 2, 40000, 65535], dtype=np.uint16),
    "uint32": np.array([0, 3, 3_000_000_000, 2**32 - 1], dtype=np.uint32),
    "uint64": np.array([0, 4, 2**63 + 5, 2**64 - 1], dtype=np.uint64),
    "fp16": np.array([0.5, -1.25, 65504.0, 0.0009765625], dtype=np.float16),
    "fp32_nobatch": np.array([0.1, -2.5, 3.4e38, 1e-30], dtype=np.float32),
    "fp64": np.array([0.1, -1e300, 1.0 / 3.0, 5e-324], dtype=np.float64),
    "bytes": np.array([b"hello", b"", b"\x00\xff\x01binary", "caf\u00e9".encode()],
                      dtype=np.object_),
    "bf16": np.array([1.0, -2.5, 0.15625, 256.0], dtype=ml_dtypes.bfloat16),
}

# Models in the shared repository that must load, and those that must not.
GOOD_MODELS = (
    ["identity_fp32", "identity_two", "identity_stats", "classify", "slow",
     "versioned", "versioned_all", "versioned_specific", "noname"]
    + ["identity_" + d for d in DTYPE_MODELS]
)
BROKEN_MODELS = {
    # folder name -> substrings (lower-case) the UNAVAILABLE reason must contain
    "bad_name": ["other_name"],
    "bad_reshape": ["reshape"],
    "bad_backend": ["nosuchbackend"],
    "bad_preferred": ["preferred_batch_size"],
}


# ---------------------------------------------------------------------------
# Repository writing helpers
# ---------------------------------------------------------------------------

def _dims(dims):
    return "[ " + ", ".join(str(int(d)) for d in dims) + " ]"


def tensor_block(kind, tensors):
    """kind: 'input' or 'output'; tensors: list of (name, TYPE_X, dims[, extra])."""
    parts = []
    for t in tensors:
        name, dtype, dims = t[0], t[1], t[2]
        extra = (" " + t[3]) if len(t) > 3 else ""
        parts.append(
            f'  {{ name: "{name}" data_type: {dtype} dims: {_dims(dims)}{extra} }}'
        )
    return f"{kind} [\n" + ",\n".join(parts) + "\n]\n"


def identity_config(name, inputs, outputs=None, max_batch_size=0, extra="",
                    backend="identity"):
    """config.pbtxt text for an identity model; ``name=None`` omits the name field.

    ``outputs`` defaults to OUTPUTn mirroring every INPUTn.
    """
    if outputs is None:
        outputs = [("OUTPUT" + t[0][len("INPUT"):],) + tuple(t[1:3]) for t in inputs]
    text = ""
    if name is not None:
        text += f'name: "{name}"\n'
    text += f'backend: "{backend}"\n'
    text += f"max_batch_size: {int(max_batch_size)}\n"
    text += tensor_block("input", inputs)
    text += tensor_block("output", outputs)
    if extra:
        text += textwrap.dedent(extra).strip() + "\n"
    return text


def write_model(repo, folder, config_text, versions=(1,), files=None):
    """Create ``repo/folder`` with config.pbtxt, empty version folders and extra files."""
    d = Path(repo) / folder
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.pbtxt").write_text(config_text)
    for v in versions:
        (d / str(v)).mkdir(exist_ok=True)
    for fname, content in (files or {}).items():
        (d / fname).write_text(content)
    return d


def fp32_identity(name, max_batch_size=8, extra=""):
    return identity_config(
        name, [("INPUT0", "TYPE_FP32", [-1])], max_batch_size=max_batch_size, extra=extra
    )


# Triton's square test model (decoupled): IN = n gets n responses of OUT = n.
SQUARE_CONFIG = """
name: "square_int32"
backend: "square"
max_batch_size: 0
model_transaction_policy { decoupled: true }
input [ { name: "IN" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
"""


ACCUMULATOR_CONTROLS = """
    control_input [
      { name: "START" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] }] },
      { name: "END" control [{ kind: CONTROL_SEQUENCE_END int32_false_true: [0, 1] }] },
      { name: "READY" control [{ kind: CONTROL_SEQUENCE_READY int32_false_true: [0, 1] }] }
    ]"""


def accumulator_config(name, strategy="direct { }", instances=2, controls=ACCUMULATOR_CONTROLS,
                       idle_us=500000):
    """A sequence model on the accumulator backend: OUTPUT is the running sum
    of INPUT over the sequence, INSTANCE the instance that ran the step.
    `strategy` is any text for sequence_batching (a strategy, implicit state);
    idle_us=0 leaves max_sequence_idle_microseconds out."""
    idle = f"max_sequence_idle_microseconds: {idle_us}" if idle_us else ""
    return f"""
name: "{name}"
backend: "accumulator"
max_batch_size: 2
input [{{ name: "INPUT" data_type: TYPE_INT32 dims: [1] }}]
output [{{ name: "OUTPUT" data_type: TYPE_INT32 dims: [1] }},
        {{ name: "INSTANCE" data_type: TYPE_STRING dims: [1] }}]
instance_group [{{ count: {instances} }}]
sequence_batching {{
  {idle}
  {strategy}
  {controls}
}}
"""


def build_repository(repo):
    """The shared repository: every model the ordinary tests use, plus broken ones."""
    repo = Path(repo)
    repo.mkdir(parents=True, exist_ok=True)

    write_model(repo, "identity_fp32", fp32_identity("identity_fp32", 8))
    # Used only by test_statistics.py, so its counters move only by that traffic.
    write_model(repo, "identity_stats", fp32_identity("identity_stats", 8))

    for suffix, (cfg_type, _wire) in DTYPE_MODELS.items():
        name = "identity_" + suffix
        write_model(
            repo, name,
            identity_config(name, [("INPUT0", cfg_type, [-1])], max_batch_size=0),
        )

    write_model(
        repo, "identity_two",
        identity_config(
            "identity_two",
            [("INPUT0", "TYPE_INT32", [4]), ("INPUT1", "TYPE_FP32", [4])],
            max_batch_size=8,
        ),
    )

    write_model(
        repo, "classify",
        identity_config(
            "classify",
            [("INPUT0", "TYPE_FP32", [5])],
            outputs=[("OUTPUT0", "TYPE_FP32", [5], 'label_filename: "labels.txt"')],
            max_batch_size=0,
        ),
        files={"labels.txt": "\n".join(CLASSIFY_LABELS) + "\n"},
    )

    write_model(
        repo, "slow",
        fp32_identity(
            "slow", 8,
            extra="""
            instance_group [ { count: 2 kind: KIND_CPU } ]
            parameters { key: "execute_delay_ms" value { string_value: "300" } }
            """,
        ),
    )

    write_model(repo, "versioned", fp32_identity("versioned", 8), versions=(1, 2, 3))
    write_model(
        repo, "versioned_all",
        fp32_identity("versioned_all", 8, extra="version_policy: { all: {} }"),
        versions=(1, 2, 3),
    )
    write_model(
        repo, "versioned_specific",
        fp32_identity("versioned_specific", 8,
                      extra="version_policy: { specific: { versions: [ 1, 3 ] } }"),
        versions=(1, 2, 3),
    )

    write_model(repo, "noname", fp32_identity(None, 8))

    # --- broken models: each must be UNAVAILABLE with a reason, the rest serve
    write_model(repo, "bad_name", fp32_identity("other_name", 8))
    write_model(
        repo, "bad_reshape",
        identity_config(
            "bad_reshape",
            [("INPUT0", "TYPE_FP32", [4], "reshape: { shape: [ 3 ] }")],
            outputs=[("OUTPUT0", "TYPE_FP32", [4])],
            max_batch_size=0,
        ),
    )
    write_model(
        repo, "bad_backend",
        identity_config("bad_backend", [("INPUT0", "TYPE_FP32", [-1])],
                        max_batch_size=8, backend="nosuchbackend"),
    )
    write_model(
        repo, "bad_preferred",
        fp32_identity("bad_preferred", 4,
                      extra="dynamic_batching { preferred_batch_size: [ 8 ] }"),
    )
    return repo


# ---------------------------------------------------------------------------
# Process management
# ---------------------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Servers started and not yet seen exited after a test's teardown: when a test
# fails, their logs are attached to its report (conftest.pytest_runtest_makereport).
_ACTIVE = []


@atexit.register
def _kill_leftovers():
    """Last resort if pytest dies without running fixture finalizers."""
    for srv in _ACTIVE:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


class InferdServer:
    """One inferd process. ``start()`` waits until /v2/health/live answers 200."""

    def __init__(self, binary, repos, extra_args=(), log_dir=None, tag="inferd", env=None,
                 max_open_files=None):
        self.env = env            # environment of the process (None: this one's)
        # RLIMIT_NOFILE of the server, set by util-linux's prlimit, which then
        # execs it (same pid). Not a preexec_fn: that makes subprocess fork
        # this process, whose grpcio fork handlers then run in the child
        # before exec (seen to abort it: "Epoll1Poller ... Bad file descriptor").
        self.max_open_files = max_open_files
        self.binary = str(binary)
        self.repos = [str(r) for r in repos]
        self.extra_args = list(extra_args)
        self.log_dir = Path(log_dir)
        self.tag = tag
        self.proc = None
        self.port = None          # HTTP
        self.grpc_port = None
        self.metrics_port = None
        self.log_path = None
        self.returncode = None

    # -- properties
    @property
    def url(self):
        return f"127.0.0.1:{self.port}"

    @property
    def grpc_url(self):
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def metrics_url(self):
        return f"127.0.0.1:{self.metrics_port}"

    def argv(self):
        limit = [] if self.max_open_files is None else [
            "prlimit", f"--nofile={self.max_open_files}:{self.max_open_files}", "--"]
        return (
            limit + [self.binary]
            + [f"--model-repository={r}" for r in self.repos]
            + [f"--http-port={self.port}", "--http-address=127.0.0.1",
               f"--grpc-port={self.grpc_port}", "--grpc-address=127.0.0.1",
               f"--metrics-port={self.metrics_port}"]
            + self._transport_args()
            + self.extra_args
        )

    def _transport_args(self):
        # INFERD_GRPC_TRANSPORT=nghttp2 runs a suite against inferd's own
        # HTTP/2 gRPC server (a test that names a transport keeps its own).
        transport = os.environ.get("INFERD_GRPC_TRANSPORT")
        if not transport or any(a.startswith("--grpc-transport") for a in self.extra_args):
            return []
        return [f"--grpc-transport={transport}"]

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def log_tail(self, lines=150):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- lifecycle
    def _spawn(self):
        self.port = free_port()
        self.grpc_port = free_port()
        self.metrics_port = free_port()
        self.log_path = self.log_dir / f"{self.tag}-{self.port}.log"
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv(), stdout=self._log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=str(self.log_dir), env=self.env,
        )
        if self not in _ACTIVE:
            _ACTIVE.append(self)

    def _flag_off(self, flag):
        """True when extra_args turn ``flag`` (e.g. --allow-grpc) off."""
        args = self.extra_args
        for i, a in enumerate(args):
            if a == f"{flag}=false" or (a == flag and i + 1 < len(args) and args[i + 1] == "false"):
                return True
        return False

    def _listening(self, port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except OSError:
            return False

    def _wait_live(self, timeout=LIVE_TIMEOUT_S):
        # http.client, not urllib: no proxy from the environment gets in the way
        deadline = time.monotonic() + timeout
        live = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if not live:
                try:
                    status, _, _ = raw_request(self.url, "GET", "/v2/health/live", timeout=1.0)
                    live = status == 200
                except (OSError, http.client.HTTPException):
                    pass
            # HTTP starts first, then gRPC, then metrics: wait for those that
            # are on, so that a test never races their listeners.
            if live and all(self._listening(port) for flag, port in (
                    ("--allow-grpc", self.grpc_port), ("--allow-metrics", self.metrics_port))
                    if not self._flag_off(flag)):
                return True
            time.sleep(0.05)
        return False

    def start(self):
        # A port taken between free_port() and the server's bind is retried.
        for attempt in range(3):
            self._spawn()
            if self._wait_live():
                return self
            exited = self.proc.poll() is not None
            log = self.log_tail()
            self.stop(check=False)
            if exited and attempt < 2 and "address" in log.lower() and "use" in log.lower():
                continue
            what = (f"exited with code {self.proc.returncode}" if exited
                    else f"was not live within {LIVE_TIMEOUT_S:.0f} s")
            pytest.fail(
                f"inferd {what}\ncommand: {' '.join(self.argv())}\n--- log ---\n{log}",
                pytrace=False,
            )
        return self

    def __enter__(self):
        """``with InferdServer(...) as srv``: started on entry, stopped on exit."""
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT_S):
        """Wait for exit; returns the exit code, or None on timeout (process left running)."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, check=False):
        """SIGTERM, wait, SIGKILL on timeout. Always reaps the process."""
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=STOP_TIMEOUT_S)
                    if check:
                        pytest.fail(f"inferd did not exit within {STOP_TIMEOUT_S} s of SIGTERM")
        finally:
            self.returncode = self.proc.returncode
            try:
                self._log_file.close()
            except Exception:
                pass
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        return self.stop()


# ---------------------------------------------------------------------------
# Helpers shared by the test modules
# ---------------------------------------------------------------------------

def proc_status(pid):
    """/proc/PID/status as a dict of ints (kB for memory fields)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            parts = value.split()
            if parts and parts[0].isdigit():
                out[key] = int(parts[0])
    return out


def sanitizer_of(binary):
    """'asan' or 'tsan' when the binary is a sanitizer build, else None.

    Memory and allocation-failure checks mean nothing under a sanitizer's
    allocator (it keeps freed memory in quarantine and aborts on a failed
    allocation instead of throwing), so those tests skip there."""
    data = Path(binary).read_bytes()
    if b"libasan.so" in data or b"__asan_init" in data:
        return "asan"
    if b"libtsan.so" in data or b"__tsan_init" in data:
        return "tsan"
    return None


def make_input(name, array, datatype=None, binary=True):
    datatype = datatype or _np_to_wire(array)
    inp = httpclient.InferInput(name, list(array.shape), datatype)
    inp.set_data_from_numpy(array, binary_data=binary)
    return inp


def _np_to_wire(array):
    from tritonclient.utils import np_to_triton_dtype
    return np_to_triton_dtype(array.dtype)


def assert_still_serving(client_or_url, model="identity_fp32"):
    """A good request still gets a correct answer."""
    c = client_or_url
    own = isinstance(c, str)
    if own:
        c = httpclient.InferenceServerClient(c)
    try:
        x = np.array([[1.5, -2.0, 3.25]], dtype=np.float32)
        res = c.infer(model, [make_input("INPUT0", x)])
        np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)
    finally:
        if own:
            c.close()


def expect_server_error(fn, *args, status=None, contains=(), **kwargs):
    """Call fn, expect InferenceServerException carrying the server's JSON error.

    status: exact HTTP status (int), a collection of accepted statuses, or None for any 4xx.
    contains: substrings the message must contain (case-insensitive).
    """
    with pytest.raises(InferenceServerException) as ei:
        fn(*args, **kwargs)
    e = ei.value
    st = e.status()
    assert st is not None, f"client-side error, not a server answer: {e}"
    st = int(st)
    if status is None:
        assert 400 <= st < 500, f"expected a 4xx status, got {st}: {e}"
    elif not isinstance(status, int):
        assert st in status, f"expected HTTP {sorted(status)}, got {st}: {e}"
    else:
        assert st == status, f"expected HTTP {status}, got {st}: {e}"
    msg = e.message() or ""
    # tritonclient uses this text when the error body was not {"error": "..."} JSON
    assert "exception occurred in the client while decoding" not in msg, (
        f"error body is not JSON {{\"error\": ...}}: {msg}"
    )
    assert msg.strip(), "empty error message"
    for s in contains:
        assert str(s).lower() in msg.lower(), f"{s!r} not in error message: {msg!r}"
    return e


# A model that exists but failed to load: any client error, or 503 (Triton's
# answer for UNAVAILABLE).
NOT_SERVED = set(range(400, 500)) | {503}


def wait_for_http(proc, log_path, checks, timeout=60.0):
    """For a server started outside InferdServer (under strace, chroot, or a
    manifest's own command line): waits until every (url, path) in `checks`
    answers 200; fails with the log when `proc` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout

    def answers(url, path):
        try:
            return raw_request(url, "GET", path, timeout=2.0)[0] == 200
        except (OSError, http.client.HTTPException):  # not listening yet
            return False

    while not all(answers(url, path) for url, path in checks):
        assert proc.poll() is None, Path(log_path).read_text(errors="replace")
        assert time.monotonic() < deadline, f"{checks} not answering within {timeout:.0f} s"
        time.sleep(0.05)


def raw_request(url, method, path, body=b"", headers=None, timeout=30.0):
    """Send one raw HTTP request; returns (status, headers dict lower-cased, body bytes)."""
    host, port = url.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def json_error_body(status, body, contains=()):
    """Assert a 4xx answer whose body is {"error": "<non-empty>"}; return the message."""
    assert 400 <= status < 500, f"expected 4xx, got {status}: {body[:500]!r}"
    try:
        doc = json.loads(body.decode("utf-8"))
    except Exception as exc:  # pragma: no cover - reported as failure
        pytest.fail(f"error body is not JSON ({exc}): {body[:500]!r}")
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str), doc
    msg = doc["error"]
    assert msg.strip(), "empty error message"
    for s in contains:
        assert str(s).lower() in msg.lower(), f"{s!r} not in error message: {msg!r}"
    return msg


def index_entries(client, name):
    return [e for e in client.get_model_repository_index() if e.get("name") == name]


def stats_of(srv, model):
    """The model's entry in /v2/models/<model>/stats (its first version's)."""
    with urllib.request.urlopen(f"http://{srv.url}/v2/models/{model}/stats", timeout=10) as r:
        return json.loads(r.read())["model_stats"][0]
