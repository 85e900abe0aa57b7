"""Triton's Python backend examples (TRITON_PYTHON_BACKEND_REPO/examples,
r24.10): each example's model.py files and config.pbtxt copied into a
repository as its README says, unchanged, served by inferd on the default
ports (the clients hard-code localhost:8000/8001), and its client run
unchanged. A case passes when the client exits 0 and prints "PASS".

The BLS examples call a model named "pytorch" (examples/pytorch/model.py,
which imports torch); where torch is missing, a numpy model of the same
name and config stands in for it, and the result says so. Examples that
need what is not here (jax, torch, TensorRT, a GPU) are listed in SKIPS."""

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from results import Result

# The stand-in for examples/pytorch/model.py: the same inputs and outputs
# (OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1), with numpy.
NUMPY_ADD_SUB = '''import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            a = pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()
            b = pb_utils.get_input_tensor_by_name(r, "INPUT1").as_numpy()
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", a + b),
                                                   pb_utils.Tensor("OUTPUT1", a - b)]))
        return out
'''


@dataclass(frozen=True)
class PythonExample:
    client: str  # examples/<client>
    # (model name, model.py under examples/, config.pbtxt under examples/ or None)
    models: tuple
    uses_pytorch_model: bool = False


CASES = [
    PythonExample("add_sub/client.py", (("add_sub", "add_sub/model.py", "add_sub/config.pbtxt"),)),
    PythonExample("auto_complete/client.py", (("batch_auto_complete", "auto_complete/batch_model.py", None),
                                              ("nobatch_auto_complete", "auto_complete/nobatch_model.py", None))),
    PythonExample("decoupled/square_client.py",
                  (("square_int32", "decoupled/square_model.py", "decoupled/square_config.pbtxt"),)),
    PythonExample("decoupled/repeat_client.py",
                  (("repeat_int32", "decoupled/repeat_model.py", "decoupled/repeat_config.pbtxt"),)),
    PythonExample("custom_metrics/client.py",
                  (("custom_metrics", "custom_metrics/model.py", "custom_metrics/config.pbtxt"),)),
    PythonExample("bls/sync_client.py", (("add_sub", "add_sub/model.py", "add_sub/config.pbtxt"),
                                         ("bls_sync", "bls/sync_model.py", "bls/sync_config.pbtxt")),
                  uses_pytorch_model=True),
    PythonExample("bls/async_client.py", (("add_sub", "add_sub/model.py", "add_sub/config.pbtxt"),
                                          ("bls_async", "bls/async_model.py", "bls/async_config.pbtxt")),
                  uses_pytorch_model=True),
    PythonExample("bls_decoupled/sync_client.py",
                  (("square_int32", "decoupled/square_model.py", "decoupled/square_config.pbtxt"),
                   ("bls_decoupled_sync", "bls_decoupled/sync_model.py", "bls_decoupled/sync_config.pbtxt"))),
    PythonExample("bls_decoupled/async_client.py",
                  (("square_int32", "decoupled/square_model.py", "decoupled/square_config.pbtxt"),
                   ("bls_decoupled_async", "bls_decoupled/async_model.py", "bls_decoupled/async_config.pbtxt"))),
]

SKIPS = {
    "instance_kind/client.py": "needs torch and a ResNet50 download",
    "jax/client.py": "needs jax",
    "pytorch/client.py": "needs torch",
    "preprocessing/client.py": "needs torch, TensorRT and a GPU",
}


def _torch_present():
    return subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0


def _build_repo(root, case, examples, torch_present):
    if root.exists():
        shutil.rmtree(root)
    models = list(case.models)
    if case.uses_pytorch_model:
        models.append(("pytorch", "pytorch/model.py", "pytorch/config.pbtxt"))
    for name, model_py, config in models:
        (root / name / "1").mkdir(parents=True)
        if name == "pytorch" and not torch_present:
            (root / name / "1" / "model.py").write_text(NUMPY_ADD_SUB)
        else:
            shutil.copy(examples / model_py, root / name / "1" / "model.py")
        if config:  # else (auto_complete) the model.py alone: its auto_complete_config writes the config
            shutil.copy(examples / config, root / name / "config.pbtxt")


def run_python_examples(binary, backend_repo, work, log_dir, only, selected, progress):
    from server import Inferd, ServerError, default_ports_free

    examples = backend_repo / "examples"
    torch_present = _torch_present()
    results = []
    cases = [c for c in CASES if selected(f"python_backend/{c.client}", only)]
    for n, case in enumerate(cases, 1):
        name = f"python_backend/{case.client}"
        note = (" (the BLS target 'pytorch' is a numpy stand-in: torch is not installed)"
                if case.uses_pytorch_model and not torch_present else "")
        if not default_ports_free():
            results.append(Result(name, "skipped", "hard-codes localhost:8000/8001, which are in use"))
            progress(n, len(cases), results[-1])
            continue
        repo = work / "repos" / ("python-" + case.client.replace("/", "-").removesuffix(".py"))
        _build_repo(repo, case, examples, torch_present)
        safe = case.client.replace("/", "_")
        server = Inferd(binary, [repo], (), log_path=log_dir / f"python-{safe}.log", default_ports=True)
        start = time.monotonic()
        try:
            server.start()
        except ServerError as exc:
            results.append(Result(name, "failed", f"inferd did not start: {exc}"))
            progress(n, len(cases), results[-1])
            continue
        try:
            proc = subprocess.run([sys.executable, str(examples / case.client)], cwd=examples / Path(case.client).parent,
                                  capture_output=True, text=True, errors="replace", timeout=120,
                                  stdin=subprocess.DEVNULL)
            output = proc.stdout + proc.stderr
            (log_dir / f"python-{safe}-client.log").write_text(output)
            seconds = time.monotonic() - start
            if proc.returncode != 0 or "PASS" not in output:
                results.append(Result(name, "failed", f"exit {proc.returncode}{note}\n{output[-1500:]}",
                                      seconds=seconds))
            else:
                results.append(Result(name, "passed", note.strip(" ()"), seconds=seconds))
        except subprocess.TimeoutExpired:
            results.append(Result(name, "failed", f"timed out after 120 s{note}", seconds=time.monotonic() - start))
        finally:
            server.stop()
        progress(n, len(cases), results[-1])
    for client, reason in SKIPS.items():
        if selected(f"python_backend/{client}", only):
            results.append(Result(f"python_backend/{client}", "skipped", reason))
    return results
