"""Triton's Python client examples (TRITON_CLIENT_REPO/src/python/examples/*.py),
each run unchanged as a subprocess against a real inferd.

Every example file is either listed in CASES (possibly several times, with the
flags Triton's own qa/L0_http and qa/L0_grpc test.sh pass) or in SKIPS with the
reason it cannot run here. A file in neither (a new upstream example) shows up
in the table as skipped, "no case written", so that it is noticed.

A case passes when the example exits 0 and, for an example whose source prints
"PASS", when its output contains "PASS" (as Triton's test.sh checks: some
examples exit 0 after printing an error)."""

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field

from models import EXAMPLE_MODELS, L0_GRPC_MODELS, L0_HTTP_MODELS
from results import Result


@dataclass(frozen=True)
class Session:
    """How inferd is started for a group of examples."""
    models: tuple
    args: tuple = ()
    default_ports: bool = False  # 8000/8001/8002, for examples that hard-code them


SESSIONS = {
    "main": Session(tuple(EXAMPLE_MODELS)),
    # Triton's default server id is "triton", inferd's "inferd" (see KNOWN_FAILURES):
    # the health examples also run with --id=triton so that the rest of what they
    # check is still checked.
    "id-triton": Session(tuple(EXAMPLE_MODELS), ("--id=triton",)),
    # As qa/L0_grpc/test.sh runs simple_grpc_infer_client.py -C deflate.
    "grpc-compression": Session(tuple(EXAMPLE_MODELS), ("--grpc-infer-response-compression-level=high",)),
    # The model-control examples count the repository index: 7 entries in
    # qa/L0_http/models, 8 in qa/L0_grpc/models.
    "control-http": Session(tuple(L0_HTTP_MODELS), ("--model-control-mode=explicit",)),
    "control-grpc": Session(tuple(L0_GRPC_MODELS), ("--model-control-mode=explicit",)),
    "default-ports": Session(("custom_identity_int32",), (), default_ports=True),
}


@dataclass
class Example:
    script: str
    args: tuple = ()
    protocol: str = "http"  # which port -u points at: "http", "grpc", or None (no -u)
    session: str = "main"
    timeout: int = 90
    label: str = ""
    needs_modules: tuple = field(default=())  # imports that may be missing from the venv

    @property
    def name(self):
        return self.label or " ".join([self.script, *("<image.jpg>" if a == IMAGE else a for a in self.args)])


def _ex(script, *args, **kw):
    return Example(script, tuple(args), **kw)


IMAGE = "{image}"  # replaced by a JPEG the runner writes
ATTRDICT = ("attrdict",)  # image_client.py's HTTP path: from attrdict import AttrDict

CASES = [
    # ---- HTTP (qa/L0_http/test.sh runs each with -v)
    _ex("simple_http_health_metadata.py"),
    _ex("simple_http_health_metadata.py", session="id-triton", label="simple_http_health_metadata.py [--id=triton]"),
    _ex("simple_http_infer_client.py"),
    _ex("simple_http_infer_client.py", "--request-compression-algorithm", "gzip",
        "--response-compression-algorithm", "gzip"),
    _ex("simple_http_infer_client.py", "--request-compression-algorithm", "deflate",
        "--response-compression-algorithm", "deflate"),
    _ex("simple_http_async_infer_client.py"),
    _ex("simple_http_aio_infer_client.py"),
    _ex("simple_http_string_infer_client.py"),
    _ex("simple_http_shm_client.py"),
    _ex("simple_http_shm_string_client.py"),
    _ex("simple_http_sequence_sync_infer_client.py"),
    _ex("simple_http_sequence_sync_infer_client.py", "-d"),
    _ex("reuse_infer_objects_client.py"),
    _ex("simple_http_model_control.py", session="control-http"),
    _ex("image_client.py", "-m", "densenet_onnx", "-s", "INCEPTION", "-c", "3", IMAGE, needs_modules=ATTRDICT),
    _ex("image_client.py", "-m", "densenet_onnx", "-s", "INCEPTION", "-a", "-c", "1", "-b", "1", IMAGE,
        needs_modules=ATTRDICT),
    _ex("memory_growth_test.py", "-i", "http", "-r", "100", protocol=None, session="default-ports"),
    # ---- gRPC (qa/L0_grpc/test.sh)
    _ex("simple_grpc_health_metadata.py", protocol="grpc"),
    _ex("simple_grpc_health_metadata.py", protocol="grpc", session="id-triton",
        label="simple_grpc_health_metadata.py [--id=triton]"),
    _ex("simple_grpc_infer_client.py", protocol="grpc"),
    _ex("simple_grpc_infer_client.py", "-C", "deflate", protocol="grpc", session="grpc-compression"),
    _ex("simple_grpc_async_infer_client.py", protocol="grpc"),
    _ex("simple_grpc_aio_infer_client.py", protocol="grpc"),
    _ex("simple_grpc_string_infer_client.py", protocol="grpc"),
    _ex("simple_grpc_shm_client.py", protocol="grpc"),
    _ex("simple_grpc_shm_string_client.py", protocol="grpc"),
    _ex("simple_grpc_sequence_sync_infer_client.py", protocol="grpc"),
    _ex("simple_grpc_sequence_sync_infer_client.py", "-d", protocol="grpc"),
    _ex("simple_grpc_sequence_stream_infer_client.py", protocol="grpc"),
    _ex("simple_grpc_sequence_stream_infer_client.py", "-d", protocol="grpc"),
    _ex("simple_grpc_aio_sequence_stream_infer_client.py", protocol="grpc"),
    _ex("simple_grpc_aio_sequence_stream_infer_client.py", "-d", protocol="grpc"),
    _ex("simple_grpc_keepalive_client.py", protocol="grpc"),
    _ex("simple_grpc_custom_args_client.py", protocol="grpc"),
    _ex("simple_grpc_custom_repeat.py", protocol="grpc"),
    _ex("grpc_client.py", protocol="grpc"),
    _ex("grpc_explicit_byte_content_client.py", protocol="grpc"),
    _ex("grpc_explicit_int_content_client.py", protocol="grpc"),
    _ex("grpc_explicit_int8_content_client.py", protocol="grpc"),
    _ex("reuse_infer_objects_client.py", "-i", "grpc", protocol="grpc"),
    _ex("simple_grpc_model_control.py", protocol="grpc", session="control-grpc"),
    _ex("image_client.py", "-m", "densenet_onnx", "-s", "INCEPTION", "-c", "1", "-b", "1", "-i", "grpc",
        "--streaming", IMAGE, protocol="grpc"),
    _ex("grpc_image_client.py", "-m", "densenet_onnx", "-s", "INCEPTION", "-c", "1", "-b", "1", IMAGE,
        protocol="grpc"),
    _ex("grpc_image_client.py", "-m", "densenet_onnx", "-s", "INCEPTION", "-a", "--streaming", "-c", "1",
        "-b", "1", IMAGE, protocol="grpc"),
    _ex("memory_growth_test.py", "-i", "grpc", "-r", "100", protocol=None, session="default-ports"),
]

SKIPS = {
    "simple_http_cudashm_client.py": "CUDA shared memory: needs a GPU and a CUDA build of the server; "
                                     "inferd has system shared memory only",
    "simple_grpc_cudashm_client.py": "CUDA shared memory: needs a GPU and a CUDA build of the server; "
                                     "inferd has system shared memory only",
    "ensemble_image_client.py": "needs the preprocess_inception_ensemble ensemble, whose steps are a DALI "
                                "pipeline and inception_graphdef (TensorFlow): inferd runs ensembles, "
                                "not those two backends",
}


def _needs_pass(source_path):
    try:
        return 'print("PASS' in source_path.read_text(errors="replace")
    except OSError:
        return False


def _tail(text, lines=12):
    return "\n".join(text.strip().splitlines()[-lines:])


def _missing_modules(modules):
    missing = []
    for mod in modules:
        probe = subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True)
        if probe.returncode != 0:
            missing.append(mod)
    return missing


def run_example(case, examples_dir, server, image, log_dir):
    """Runs one case against `server` (an Inferd); returns a Result."""
    script = examples_dir / case.script
    argv = [sys.executable, str(script), "-v"]
    argv += [image if a == IMAGE else a for a in case.args]
    if case.protocol == "http":
        argv += ["-u", server.http_url]
    elif case.protocol == "grpc":
        argv += ["-u", server.grpc_url]
    name = f"examples/{case.name}"
    missing = _missing_modules(case.needs_modules)
    if missing:
        why = ("; attrdict also fails to import on Python >= 3.10 (collections.Mapping)"
               if "attrdict" in missing else "")
        return Result(name, "skipped", f"python module {', '.join(missing)} is not installed{why}")
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=examples_dir, capture_output=True, text=True, errors="replace",
                              timeout=case.timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or "") + (exc.stderr or "") if isinstance(exc.stdout, str) else ""
        return Result(name, "failed", f"timed out after {case.timeout} s\n{_tail(out)}",
                      seconds=time.monotonic() - start)
    output = proc.stdout + proc.stderr
    safe = case.name.replace(" ", "_").replace("/", "_")[:120]
    (log_dir / f"example-{safe}.log").write_text(" ".join(shlex.quote(a) for a in argv) + "\n\n" + output)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        return Result(name, "failed", f"exit {proc.returncode}\n{_tail(output)}", seconds=seconds)
    if _needs_pass(script) and "PASS" not in output:
        return Result(name, "failed", f"exit 0 but no PASS in the output\n{_tail(output)}", seconds=seconds)
    return Result(name, "passed", seconds=seconds)
