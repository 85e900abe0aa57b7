"""A selection of Triton's QA python tests (TRITON_SERVER_REPO/qa/L0_*/), run unchanged
against a real inferd on Triton's default ports (the tests hard-code localhost:8000/8001).

Each QaFile mirrors what its L0_*/test.sh does for that file: which repository
the server gets, its flags, the environment variables the test reads, and
whether the server restarts for every test case (test.sh runs some files one
test at a time on a fresh server: shared memory, sequence batcher). Tests that
cannot run here are listed in `skip_tests` with the reason (fnmatch patterns)."""

import fnmatch
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from results import Result, TestOutcome, mark_known
from server import Inferd, ServerError

DRIVER = Path(__file__).resolve().parent / "qa_driver.py"

DELAY_HOOKS = ("needs Triton's test-only scheduler hooks TRITONSERVER_DELAY_SCHEDULER / "
               "TRITONSERVER_BACKLOG_DELAY_SCHEDULER (the server holds requests until N have "
               "queued), which inferd does not have")
PYTHON_BACKEND = ("needs Triton's Python QA models (qa/python_models), which this runner does not set up yet "
                  "(inferd's Python backend is partly built: issue 14)")
GRAPHDEF = "uses TensorFlow GraphDef models (graphdef_*), which inferd cannot serve"


@dataclass
class QaFile:
    path: str                   # <L0 dir>/<file>
    repo: str                   # QaRepos key
    args: tuple = ()            # server flags besides --model-repository and ports
    env: dict = field(default_factory=dict)
    tests: tuple = ()           # test ids to run (empty: all the file has)
    skip_tests: dict = field(default_factory=dict)  # id or fnmatch pattern -> reason
    restart_per_test: bool = False
    variant: str = ""           # shown after the file name
    timeout: int = 300          # seconds for the whole file, or for each test with restart_per_test
    pytest: bool = False        # a pytest file that starts "tritonserver" itself (inferd, by a symlink
                                # on PATH); run with pytest --junitxml instead of the unittest driver
    repo_dest: str = ""         # copy the repository here (relative to the L0 dir) instead of serving it

    @property
    def name(self):
        return self.path + (f" [{self.variant}]" if self.variant else "")


SEQ_ENV = {"BACKENDS": "onnx", "ENSEMBLES": "0", "IMPLICIT_STATE": "0", "INITIAL_STATE_FILE": "0",
           "INITIAL_STATE_ZERO": "0", "USE_SINGLE_BUFFER": "0", "BATCHER_TYPE": "FIXED"}
# qa/L0_sequence_batcher/test.sh: NO_DELAY_TESTS run as they are; the others need hooks
SEQ_SKIPS = {
    "SequenceBatcherTest.test_backlog*": DELAY_HOOKS,
    "SequenceBatcherTest.test_half_batch": DELAY_HOOKS,
    "SequenceBatcherTest.test_skip_batch": DELAY_HOOKS,
    "SequenceBatcherTest.test_full_batch": DELAY_HOOKS,
    "SequenceBatcherTest.test_ragged_batch": DELAY_HOOKS,
    "SequenceBatcherTest.test_queue_delay_*": DELAY_HOOKS,
    "SequenceBatcherTest.test_ragged_batch_allowed": "needs Triton's custom 'sequence' test backend "
                                                     "(custom_sequence_int32) with allow_ragged_batch",
    "SequenceBatcherRequestTimeoutTest.*": "needs Triton's custom 'sequence' test backend "
                                           "(custom_sequence_int32_timeout)",
    "SequenceBatcherPreserveOrderingTest.*": "run on its own repository (preserve_ordering)",
}


def _seq(variant, repo, no_batching, instances, implicit=False, ensembles=False):
    env = dict(SEQ_ENV, NO_BATCHING="1" if no_batching else "0", MODEL_INSTANCES=str(instances))
    if implicit:
        env["IMPLICIT_STATE"] = "1"
    if ensembles:
        env["ENSEMBLES"] = "1"
    return QaFile("L0_sequence_batcher/sequence_batcher_test.py", repo, ("--log-verbose=1",), env,
                  skip_tests=SEQ_SKIPS, restart_per_test=True, variant=variant, timeout=120)


def _shm(client_type):
    return QaFile("L0_shared_memory/shared_memory_test.py", "shared_memory", ("--log-verbose=1",),
                  {"CLIENT_TYPE": client_type},
                  skip_tests={"TestSharedMemoryUnregister.*": PYTHON_BACKEND + " (execute_delayed_model)"},
                  restart_per_test=True, variant=client_type, timeout=120)


INFER_ENV = {"BACKENDS": "onnx", "ENSEMBLES": "1", "TRITON_SERVER_CPU_ONLY": "1"}

QA_FILES = [
    # L0_infer/test.sh with BACKENDS=onnx ENSEMBLES=1, TARGET=cpu
    QaFile("L0_infer/infer_test.py", "infer", env=INFER_ENV, timeout=600),
    QaFile("L0_infer/infer_test.py", "infer", env=dict(INFER_ENV, TEST_SYSTEM_SHARED_MEMORY="1"),
           variant="TEST_SYSTEM_SHARED_MEMORY=1", timeout=600),
    _shm("http"),
    _shm("grpc"),
    # L0_http/test.sh
    QaFile("L0_http/http_test.py", "http_unit"),
    QaFile("L0_http/python_http_aio_test.py", "l0_http"),
    QaFile("L0_http/http_restricted_api_test.py", "l0_http",
           ("--http-restricted-api=model-repository:admin-key=admin-value",
            "--http-restricted-api=inference,metadata:infer-key=infer-value"), tests=("RestrictedAPITest",)),
    # L0_grpc/test.sh
    QaFile("L0_grpc/python_grpc_aio_test.py", "l0_grpc"),
    QaFile("L0_grpc/python_unit_test.py", "l0_grpc",
           ("--grpc-restricted-protocol=model-repository:admin-key=admin-value",
            "--grpc-restricted-protocol=inference,health:infer-key=infer-value"),
           tests=("RestrictedProtocolTest",)),
    # L0_sequence_batcher/test.sh, BACKENDS=onnx ENSEMBLES=0: model trials 0 and 1
    _seq("onnx, models0: no batching, 4 instances", "sequence_models0", True, 4),
    _seq("onnx, models1: max_batch_size 4, 1 instance", "sequence_models1", False, 1),
    _seq("onnx, models2: max_batch_size 2, 2 instances", "sequence_models2", False, 2),
    _seq("onnx, models4: max_batch_size 1, 4 instances", "sequence_models4", False, 4),
    _seq("onnx, IMPLICIT_STATE=1, models1", "implicit_models1", False, 1, implicit=True),
    # ... and with ENSEMBLES=1 (test.sh's default): every test also runs on the simple_, sequence_
    # and fan_ ensembles over each model, their sequence controls passed to the composing model
    _seq("onnx, ENSEMBLES=1, models0", "ensemble_sequence_models0", True, 4, ensembles=True),
    _seq("onnx, ENSEMBLES=1, models1", "ensemble_sequence_models1", False, 1, ensembles=True),
    _seq("onnx, ENSEMBLES=1, models2", "ensemble_sequence_models2", False, 2, ensembles=True),
    _seq("onnx, ENSEMBLES=1, models4", "ensemble_sequence_models4", False, 4, ensembles=True),
    # ... and its SequenceBatcherPreserveOrderingTest, on the python_models/sequence_py copies
    QaFile("L0_sequence_batcher/sequence_batcher_test.py", "preserve_ordering", ("--log-verbose=1",),
           dict(SEQ_ENV, BACKENDS="python", NO_BATCHING="0", MODEL_INSTANCES="1"),
           tests=("SequenceBatcherPreserveOrderingTest",),
           variant="python, preserve_ordering", timeout=300),
    # L0_dyna_sequence_batcher/test.sh, BACKENDS=onnx: two phases on two repositories
    QaFile("L0_dyna_sequence_batcher/dyna_sequence_batcher_test.py", "dyna_nobatch", (),
           {"BACKENDS": "onnx", "IMPLICIT_STATE": "0", "NO_BATCHING": "1"},
           tests=("DynaSequenceBatcherTest.test_simple_sequence", "DynaSequenceBatcherTest.test_length1_sequence"),
           restart_per_test=True, variant="onnx, NO_BATCHING=1", timeout=120),
    QaFile("L0_dyna_sequence_batcher/dyna_sequence_batcher_test.py", "dyna_batch", (),
           {"BACKENDS": "onnx", "IMPLICIT_STATE": "0", "NO_BATCHING": "0"},
           tests=tuple("DynaSequenceBatcherTest." + t for t in (
               "test_multi_sequence_different_shape", "test_multi_sequence", "test_multi_parallel_sequence",
               "test_backlog", "test_backlog_fill", "test_backlog_fill_no_end", "test_backlog_sequence_timeout")),
           restart_per_test=True, variant="onnx, NO_BATCHING=0, max_candidate_sequences 4", timeout=120),
    # L0_infer_zero/test.sh (zero-sized tensors), BACKENDS=onnx
    QaFile("L0_infer_zero/infer_zero_test.py", "infer_zero", env={"BACKENDS": "onnx"}),
    # L0_scalar_io/test.sh (ONNX models with scalar tensors, config completed by the server)
    QaFile("L0_scalar_io/scalar_test.py", "scalar", env={"BACKENDS": "onnx"}),
    # L0_grpc_state_cleanup/test.sh: cancellation and timeouts over gRPC, repeat + identity backends
    # (--exit-timeout-secs=1: after a cancelled or timed-out test, the queued requests it left behind
    # would hold each server's shutdown for up to 10 s; they are not part of the test)
    QaFile("L0_grpc_state_cleanup/cleanup_test.py", "grpc_state_cleanup", ("--log-verbose=2", "--exit-timeout-secs=1"),
           tests=tuple("CleanUpTest." + t for t in (
               "test_simple_infer", "test_simple_infer_cancellation", "test_simple_infer_timeout",
               "test_streaming_infer", "test_streaming_timeout", "test_streaming_cancellation",
               "test_decoupled_infer", "test_decoupled_cancellation", "test_decoupled_timeout",
               "test_non_decoupled_streaming_multi_response")),
           restart_per_test=True, timeout=120),
    # L0_request_cancellation/test.sh: cancellation from gRPC clients reaches the schedulers
    # (the C++ unit test and the TorchScript implicit-state test are not run here)
    QaFile("L0_request_cancellation/grpc_cancellation_test.py", "request_cancellation_grpc", ("--log-verbose=1",),
           skip_tests={"GrpcCancellationTest.test_grpc_async_infer_cancellation_at_step_start": (
               "needs Triton's test-only hook TRITONSERVER_DELAY_GRPC_PROCESS")},
           restart_per_test=True, timeout=120),
    QaFile("L0_request_cancellation/scheduler_test.py", "request_cancellation_scheduler", ("--log-verbose=2",),
           timeout=300),
    # L0_logging/test.sh "Test Python client library", then log_format_test.py (pytest), which
    # starts "tritonserver" on log_models itself, 12 times, and checks every log line's format
    QaFile("L0_logging/logging_endpoint_test.py", "log_models"),
    QaFile("L0_logging/log_format_test.py", "log_models", pytest=True, repo_dest="log_models", timeout=400),
    # L0_trace/test.sh "Test Python client library": the trace settings API on "simple" (the same
    # onnx_int32_int32_int32 copy as L0_logging's), with its trace flags
    QaFile("L0_trace/trace_endpoint_test.py", "log_models",
           ("--trace-config=triton,file=global_unittest.log", "--trace-config=level=TIMESTAMPS",
            "--trace-config=rate=1")),
    # L0_server_status/test.sh: poll mode on qa_model_repository (ONNX models only here)
    QaFile("L0_server_status/server_status_test.py", "server_status",
           ("--repository-poll-secs=1", "--model-control-mode=poll"),
           skip_tests={
               "ServerMetadataTest.test_model_latest_infer": GRAPHDEF,
               "ServerMetadataTest.test_model_specific_infer": GRAPHDEF + " (and TensorRT plans)",
               "ModelMetadataTest.*": GRAPHDEF + "; test.sh also edits version folders between the "
                                                 "two classes",
           }),
]

# Test files of the chosen L0 dirs that are not run, and why (shown in the table).
QA_SKIPPED_FILES = {
    "L0_http/generate_endpoint_test.py": "the generate extension on Python-backend models (mock_llm); "
                                         "inferd has neither",
    "L0_http/http_basic_auth_test.py": "needs nginx in front of the server for basic auth",
    "L0_http/http_client_plugin_test.py": "needs --http-header-forward-pattern and a Python-backend model; "
                                          "inferd ignores header forwarding",
    "L0_grpc/grpc_basic_auth_test.py": "needs nginx in front of the server for basic auth",
    "L0_grpc/grpc_client_plugin_test.py": "needs --grpc-header-forward-pattern and a Python-backend model; "
                                          "inferd ignores header forwarding",
    "L0_model_config/noautofill_test.py": "needs a TensorFlow GraphDef model without config",
    "L0_infer_reshape/infer_reshape_test.py": GRAPHDEF + " (and SavedModel), unconditionally",
    "L0_client_nobatch/client_test.py": GRAPHDEF + " (graphdef_int32_int8_int8 only)",
    "L0_output_name/output_name_test.py": "imports the retired 'tritongrpcclient' module and loops over "
                                          "graphdef, libtorch and plan models",
    "L0_grpc_state_cleanup/cleanup_test.py (error status, shutdown)": (
        "those cases belong to L0_grpc_error_state_cleanup (TRITONSERVER_GRPC_STATUS_FLAG, the test kills "
        "the server by SERVER_PID and reads Triton's internal log lines)"),
}


# --------------------------------------------------------------------------- running

def server_version(http_port):
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
    try:
        conn.request("GET", "/v2")
        return json.loads(conn.getresponse().read()).get("version", "")
    except (OSError, ValueError, http.client.HTTPException):
        return ""
    finally:
        conn.close()


class QaRunner:
    def __init__(self, binary, server_repo, repos, work, log_dir):
        self.binary = binary
        self.server_repo = Path(server_repo)
        self.repos = repos
        self.work = Path(work)
        self.log_dir = Path(log_dir)
        self.qa = self.work / "qa"

    def _materialize(self, l0):
        """A private copy of qa/common and qa/<l0> (the tests write files into their folder)."""
        for d in ("common", l0):
            dest = self.qa / d
            if not dest.exists():
                shutil.copytree(self.server_repo / "qa" / d, dest, symlinks=True)
        return self.qa / l0

    def _env(self, qf, version):
        env = dict(os.environ)
        env.update(qf.env)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("TRITON_SERVER_VERSION", version)
        return env

    def _driver(self, argv, cwd, env, timeout, out_path=None):
        cmd = [sys.executable, str(DRIVER)] + (["--out", str(out_path)] if out_path else []) + argv
        try:
            p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, errors="replace",
                               timeout=timeout, stdin=subprocess.DEVNULL)
            return p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
            err = exc.stderr if isinstance(exc.stderr, str) else (exc.stderr or b"").decode(errors="replace")
            return None, out + err + f"\n[killed after {timeout} s]"

    def _server(self, qf, tag):
        safe = qf.name.replace("/", "_").replace(" ", "_").replace(",", "").replace(":", "")[:100]
        return Inferd(self.binary, [self.repos.get(qf.repo)], qf.args,
                      log_path=self.log_dir / f"qa-{safe}-{tag}.log", default_ports=True)

    def run(self, qf):
        start = time.monotonic()
        result = Result(qf.name, "passed")
        try:
            folder = self._materialize(qf.path.split("/")[0])
            fname = qf.path.split("/")[1]
            if qf.pytest:
                result.tests += self._run_pytest(qf, folder, fname)
                result.seconds = time.monotonic() - start
                return mark_known(result)
            env = self._env(qf, "")
            rc, listing = self._driver(["--list", fname, *qf.tests], folder, env, 120)
            if rc != 0:
                raise RuntimeError(f"cannot load {qf.path}:\n{listing[-3000:]}")
            ids = [line.strip() for line in listing.splitlines() if line.strip()]
            to_run = []
            for tid in ids:
                reason = next((r for p, r in qf.skip_tests.items() if fnmatch.fnmatchcase(tid, p)), None)
                if reason:
                    result.tests.append(TestOutcome(tid, "skipped", reason))
                else:
                    to_run.append(tid)
            batches = [[t] for t in to_run] if qf.restart_per_test else ([to_run] if to_run else [])
            for n, batch in enumerate(batches):
                result.tests += self._run_batch(qf, folder, fname, batch, n)
        except (ServerError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
            result.tests.append(TestOutcome("(setup)", "failed", str(exc)))
        result.seconds = time.monotonic() - start
        return mark_known(result)

    def _run_pytest(self, qf, folder, fname):
        """A pytest file that starts the server itself: "tritonserver" on PATH is inferd."""
        if qf.repo_dest:
            dest = folder / qf.repo_dest
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(self.repos.get(qf.repo), dest)
        bindir = self.work / "bin"
        bindir.mkdir(exist_ok=True)
        link = bindir / "tritonserver"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(Path(self.binary).resolve())
        env = self._env(qf, "")
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        xml = self.work / "qa-results" / (qf.name.replace("/", "_").replace(" ", "_") + ".xml")
        xml.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", fname]
        try:
            p = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, errors="replace",
                               timeout=qf.timeout, stdin=subprocess.DEVNULL)
            output = p.stdout + p.stderr
        except subprocess.TimeoutExpired:
            output = f"[killed after {qf.timeout} s]"
        if not xml.exists():
            return [TestOutcome("(pytest)", "failed", "no junit xml written:\n" + output[-3000:])]
        return _junit_outcomes(xml)

    def _run_batch(self, qf, folder, fname, ids, n):
        out_path = self.work / "qa-results" / f"{qf.name.replace('/', '_').replace(' ', '_')}-{n}.jsonl"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        if out_path.exists():
            out_path.unlink()
        server = self._server(qf, str(n))
        try:
            server.start()
        except ServerError as exc:
            return [TestOutcome(tid, "failed", f"inferd did not start: {exc}") for tid in ids]
        try:
            env = self._env(qf, server_version(server.http_port))
            rc, output = self._driver([fname, *ids], folder, env, qf.timeout, out_path)
        finally:
            server.stop()
        got = {}
        if out_path.exists():
            for line in out_path.read_text().splitlines():
                rec = json.loads(line)
                outcome = {"error": "failed"}.get(rec["outcome"], rec["outcome"])
                prev = got.get(rec["id"])
                if prev is None or outcome == "failed":  # a failing tearDown follows a pass
                    got[rec["id"]] = TestOutcome(rec["id"], outcome, rec.get("detail", ""))
        outcomes = [got.pop(tid) if tid in got else
                    TestOutcome(tid, "failed", "no result: the test did not finish "
                                + (f"(exit {rc})" if rc is not None else "(timed out)")
                                + "\n" + output[-3000:]) for tid in ids]
        # class/module fixture errors (setUpClass, ...) have ids of their own
        outcomes += [o for o in got.values() if o.outcome == "failed"]
        return outcomes


def _junit_outcomes(path):
    import xml.etree.ElementTree as ET
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        tid = f"{case.get('classname', '').split('.')[-1]}.{case.get('name')}"
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            outcomes.append(TestOutcome(tid, "failed", (failure.get("message") or "") + "\n" + (failure.text or "")))
        elif skipped is not None:
            outcomes.append(TestOutcome(tid, "skipped", skipped.get("message") or ""))
        else:
            outcomes.append(TestOutcome(tid, "passed"))
    return outcomes

