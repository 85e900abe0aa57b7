"""Checks that Triton's test.sh scripts make in shell, not in a python test: the server
must refuse to start with given flags or a given model, and say why (test.sh greps
the server log for Triton's message). Repeated here for qa/L0_http, qa/L0_grpc
and qa/L0_scalar_io; qa/L0_model_config's are in model_config.py."""

import re
import shutil
import subprocess
import time

from results import Result, TestOutcome, mark_known
from server import Inferd

NAME = "test.sh checks (L0_http, L0_grpc, L0_scalar_io): the server refuses to start"

# (check id, repository key, server flags, the message test.sh greps for)
FLAG_CHECKS = [
    ("L0_http: repeated restricted API", "l0_http",
     ["--http-restricted-api=model-repository,health:k1=v1", "--http-restricted-api=metadata,health:k2=v2"],
     "api 'health' can not be specified in multiple config groups"),
    ("L0_http: unknown restricted API", "l0_http",
     ["--http-restricted-api=model-reposit,health:k1=v1", "--http-restricted-api=metadata,health:k2=v2"],
     "unknown restricted api 'model-reposit'"),
    ("L0_grpc: repeated restricted protocol", "l0_grpc",
     ["--grpc-restricted-protocol=model-repository,health:k1=v1",
      "--grpc-restricted-protocol=metadata,health:k2=v2"],
     "protocol 'health' can not be specified in multiple config groups"),
    ("L0_grpc: unknown restricted protocol", "l0_grpc",
     ["--grpc-restricted-protocol=model-reposit,health:k1=v1",
      "--grpc-restricted-protocol=metadata,health:k2=v2"],
     "unknown restricted protocol 'model-reposit'"),
]


class ShellChecks:
    def __init__(self, binary, repos, work, log_dir):
        self.binary = binary
        self.repos = repos
        self.work = work
        self.log_dir = log_dir

    def _refusal(self, check_id, repo, args, expected=None):
        safe = re.sub(r"[^A-Za-z0-9]+", "_", check_id)
        srv = Inferd(self.binary, [repo], args, log_path=self.log_dir / f"shell-{safe}.log", default_ports=True)
        rc = srv.start_expecting_failure(timeout=30)
        if rc is None:
            return TestOutcome(check_id, "failed", "the server started; test.sh expects it to refuse.\n"
                               + srv.log_tail(10))
        if expected is None or expected in srv.log_path.read_text(errors="replace"):
            return TestOutcome(check_id, "passed")
        return TestOutcome(check_id, "failed", f"the server refused (exit {rc}) but its log lacks "
                           f"{expected!r}:\n{srv.log_tail(10)}")

    def run(self):
        start = time.monotonic()
        result = Result(NAME, "passed")
        try:
            for check_id, repo_key, args, expected in FLAG_CHECKS:
                result.tests.append(self._refusal(check_id, self.repos.get(repo_key), args, expected))
            # qa/L0_scalar_io/test.sh: sed -i "s/dims.*/dims:\[2\]/g" models/onnx_scalar_1dim/config.pbtxt,
            # then the server must fail to load the model (Triton exits: --exit-on-error defaults to true)
            repo = self.work / "repos" / "scalar_dims2"
            if repo.exists():
                shutil.rmtree(repo)
            shutil.copytree(self.repos.get("scalar"), repo)
            cfg = repo / "onnx_scalar_1dim" / "config.pbtxt"
            cfg.write_text(re.sub(r"dims.*", "dims:[2]", cfg.read_text()))
            result.tests.append(self._refusal("L0_scalar_io: scalar model with dims [2]", repo,
                                              ["--exit-on-error=true"]))
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            result.tests.append(TestOutcome("(setup)", "failed", str(exc)))
        result.seconds = time.monotonic() - start
        return mark_known(result)
