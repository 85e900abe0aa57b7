"""The ONNX part of Triton's qa/L0_model_config, which is a shell test: test.sh starts
the server on one model folder at a time and either expects it to refuse to start
with an error line (``grep "^E[0-9][0-9][0-9][0-9].*<expected>"``) or, for the
autofill successes, runs compare_status.py (unchanged) to compare the config
the server completed with the expected ones. This repeats that logic for the
cases that need no TensorFlow/TensorRT/PyTorch/OpenVINO/Python/ensemble model.

Triton exits when a model fails to load (--exit-on-error defaults to true); inferd's
default is false, so these servers get --exit-on-error=true (a Triton flag)."""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from results import Result, TestOutcome, mark_known
from server import Inferd, ServerError

NAME = "L0_model_config (test.sh, ONNX and backend-neutral cases)"

# (case folder under qa/L0_model_config, test.sh's extra server flags)
CLI_MESSAGES = {  # the server must refuse to start and log the expected warning
    "cli_messages/cli_deprecation": ["--strict-model-config=true"],
    "cli_messages/cli_override": ["--disable-auto-complete-config", "--strict-model-config=false"],
}
SPECIAL_CASES = {  # refuse to start, "^E....*<expected>" in the log
    "special_cases/invalid_runtime": [],
    "special_cases/runtime_escape": [],
}
AUTOFILL_FAILURES = [  # --strict-model-config=false; refuse to start, error line expected
    "autofill_noplatform/common/no_version",
    "autofill_noplatform/onnx/bad_input_dims",
    "autofill_noplatform/onnx/bad_max_batch_size",
    "autofill_noplatform/onnx/bad_output_dims",
    "autofill_noplatform/onnx/too_few_inputs",
    "autofill_noplatform/onnx/too_many_inputs",
    "autofill_noplatform/onnx/unknown_input",
    "autofill_noplatform/onnx/unknown_output",
]
AUTOFILL_SUCCESSES = [  # --strict-model-config=false; compare_status.py must match an expected*
    "autofill_noplatform_success/onnx/cpu_instance",
    "autofill_noplatform_success/onnx/empty_config",
    "autofill_noplatform_success/onnx/no_config",
    "autofill_noplatform_success/onnx/no_config_no_batch",
]
NOT_RUN = {
    "special_cases/invalid_platform": "needs a TensorFlow SavedModel",
    "special_cases/noautofill_noconfig": "needs a TensorFlow GraphDef",
    "noautofill_platform/*": "loops over the TensorFlow, TensorRT and PyTorch platforms",
    "autofill_noplatform{,_success}/{tensorflow*,tensorrt,pytorch,openvino,python,ensemble,custom}/*":
        "need those frameworks' model files, Python-backend models or ensembles",
}


class ModelConfigChecks:
    def __init__(self, binary, server_repo, repos, work, log_dir):
        self.binary = binary
        self.src = Path(server_repo) / "qa" / "L0_model_config"
        self.repos = repos
        self.work = Path(work) / "L0_model_config"
        self.log_dir = Path(log_dir)

    def _prepare(self):
        """test.sh's setup for the cases run here, in a private copy."""
        if self.work.exists():
            shutil.rmtree(self.work)
        shutil.copytree(self.src, self.work, symlinks=True)
        # mkdir -p special_cases/runtime_escape/1 special_cases/runtime_escape/dummy_runtime
        # touch special_cases/runtime_escape/dummy_runtime/libtriton_identity.so
        (self.work / "special_cases/runtime_escape/1").mkdir(parents=True, exist_ok=True)
        (self.work / "special_cases/runtime_escape/dummy_runtime").mkdir(parents=True, exist_ok=True)
        (self.work / "special_cases/runtime_escape/dummy_runtime/libtriton_identity.so").touch()
        (self.work / "special_cases/invalid_runtime/1").mkdir(parents=True, exist_ok=True)
        # cp qa_identity_model_repository/onnx_zero_1_float16/1/model.onnx
        #    autofill_noplatform_success/onnx/cpu_instance/1
        dest = self.work / "autofill_noplatform_success/onnx/cpu_instance/1"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.repos.identity_model("onnx_zero_1_float16") / "1" / "model.onnx", dest)

    def _models(self, case, whole_folder):
        """rm -fr models && mkdir models; copy the case folder (cli_messages, special_cases,
        autofill cases with a config.pbtxt or named no_config*) or else its contents."""
        models = self.work / "models"
        if models.exists():
            shutil.rmtree(models)
        models.mkdir()
        target = self.work / case
        name = target.name
        if whole_folder or (target / "config.pbtxt").exists() or name.startswith("no_config"):
            shutil.copytree(target, models / name, symlinks=True)
            expected_dir = models / name
        else:
            for item in target.iterdir():
                (shutil.copytree if item.is_dir() else shutil.copy)(item, models / item.name)
            expected_dir = models
        return models, name, sorted(expected_dir.glob("expected*"))

    def _server(self, models, args, tag):
        return Inferd(self.binary, [models], args, log_path=self.log_dir / f"model_config-{tag}.log",
                      default_ports=True, cwd=self.work)

    def _expect_refusal(self, case, args, error_prefix=True, whole_folder=False):
        models, name, expecteds = self._models(case, whole_folder)
        srv = self._server(models, args + ["--exit-on-error=true"], case.replace("/", "."))
        rc = srv.start_expecting_failure(timeout=30)
        if rc is None:
            return TestOutcome(case, "failed", "the server started; test.sh expects it to refuse this "
                               f"model and exit.\n--- log tail ---\n{srv.log_tail(15)}")
        for exp in expecteds:
            ex = exp.read_text().rstrip("\n")
            pattern = ("^E[0-9][0-9][0-9][0-9].*" + ex) if error_prefix else ex
            if subprocess.run(["grep", pattern, str(srv.log_path)], capture_output=True).returncode == 0:
                return TestOutcome(case, "passed")
        wanted = "\n".join(e.read_text().rstrip("\n") for e in expecteds)
        return TestOutcome(case, "failed", f"the server exited ({rc}) but no log line matches "
                           f"{'^E[0-9]{4}.*' if error_prefix else ''}<expected>:\n{wanted}\n"
                           f"--- log tail ---\n{srv.log_tail(15)}")

    @staticmethod
    def _expect_cpu_instances(expecteds):
        """Two of Triton's expected configs were written on a GPU machine (KIND_GPU, count 1,
        gpus 0); on a machine without one Triton completes the instance group of an ONNX
        model as KIND_CPU with count 2 (model_config_utils.cc SetDefaultInstanceCount). The
        copies in the work folder say so; the rest of each file is compared unchanged."""
        gpu_group = re.compile(r"(instance_group \{\n  name: \"[^\"]*\"\n)  count: 1\n  gpus: 0\n  kind: KIND_GPU\n")
        for exp in expecteds:
            text = exp.read_text()
            exp.write_text(gpu_group.sub(r"\1  count: 2\n  kind: KIND_CPU\n", text))

    def _expect_autofill(self, case):
        models, name, expecteds = self._models(case, whole_folder=False)
        if not Path("/dev/nvidia0").exists():
            self._expect_cpu_instances(expecteds)
        srv = self._server(models, ["--strict-model-config=false"], case.replace("/", "."))
        try:
            srv.start(timeout=30)
        except ServerError as exc:
            return TestOutcome(case, "failed", f"the server did not start: {exc}")
        try:
            p = subprocess.run([sys.executable, "./compare_status.py", "--expected_dir", str(models / name),
                                "--model", name], cwd=self.work, capture_output=True, text=True, timeout=60)
        finally:
            srv.stop()
        if p.returncode == 0:
            return TestOutcome(case, "passed")
        return TestOutcome(case, "failed", "compare_status.py: " + (p.stdout + p.stderr)[-3000:])

    def run(self):
        start = time.monotonic()
        result = Result(NAME, "passed")
        try:
            self._prepare()
            for case, args in CLI_MESSAGES.items():
                result.tests.append(self._expect_refusal(case, list(args), error_prefix=False,
                                                         whole_folder=True))
            for case, args in SPECIAL_CASES.items():
                result.tests.append(self._expect_refusal(case, list(args), whole_folder=True))
            for case in AUTOFILL_FAILURES:
                result.tests.append(self._expect_refusal(case, ["--strict-model-config=false"]))
            for case in AUTOFILL_SUCCESSES:
                result.tests.append(self._expect_autofill(case))
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            result.tests.append(TestOutcome("(setup)", "failed", str(exc)))
        for case, reason in NOT_RUN.items():
            result.tests.append(TestOutcome(case, "skipped", reason))
        result.seconds = time.monotonic() - start
        return mark_known(result)
