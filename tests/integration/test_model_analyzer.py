"""Triton's model-analyzer (1.58, installed by scripts/install-model-analyzer
into .venv-analyzer) profiles models on inferd (issue 13):

* local launch mode: model-analyzer starts inferd itself as its "Triton"
  (`triton_server_path`), loads each config variant it writes, measures it
  with perf_analyzer, stops the server and writes its results;
* remote mode: against an inferd already running in explicit model-control
  mode, loading the variants through the load API's config override.

Both run a small search (one variant beside the default, concurrency 1,
short measurement windows) with `cpu_only: true`, and check the results it
exports: a row per config with a throughput, and the variants it wrote."""

import csv
import os
import signal
import subprocess
from pathlib import Path

import pytest

from support import InferdServer, free_port, write_model

REPO_ROOT = Path(__file__).resolve().parents[2]
ANALYZER = REPO_ROOT / ".venv-analyzer" / "bin" / "model-analyzer"
PERF_ANALYZER = REPO_ROOT / ".venv" / "bin" / "perf_analyzer"

CONFIG = """name: "ident"
backend: "identity"
max_batch_size: 8
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]
"""


@pytest.fixture(autouse=True)
def analyzer_installed():
    if not ANALYZER.exists():
        pytest.fail(f"{ANALYZER} is missing: run scripts/setup (scripts/install-model-analyzer)",
                    pytrace=False)


def profile_config(tmp_path, repo, mode, http, grpc, metrics, server=None):
    lines = [
        f"model_repository: {repo}",
        f"triton_launch_mode: {mode}",
        f"triton_http_endpoint: 127.0.0.1:{http}",
        f"triton_grpc_endpoint: 127.0.0.1:{grpc}",
        f"triton_metrics_url: http://127.0.0.1:{metrics}/metrics",
        f"perf_analyzer_path: {PERF_ANALYZER}",
        f"output_model_repository_path: {tmp_path / 'variants'}",
        "override_output_model_repository: true",
        f"export_path: {tmp_path / 'export'}",
        f"checkpoint_directory: {tmp_path / 'checkpoints'}",
        "run_config_search_max_concurrency: 1",
        "run_config_search_max_instance_count: 1",
        "run_config_search_max_model_batch_size: 1",
        "perf_analyzer_flags:",
        "  shape: INPUT0:4",
        '  measurement-interval: "300"',
        "profile_models:",
        "  ident:",
        "    cpu_only: true",
    ]
    if server:
        lines.append(f"triton_server_path: {server}")
        lines.append(f"triton_output_path: {tmp_path / 'server.log'}")
    path = tmp_path / "profile.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_analyzer(tmp_path, config):
    """Runs `model-analyzer profile` in a session of its own, so that whatever
    it started (the server in local mode, perf_analyzer) goes with it."""
    log = tmp_path / "analyzer.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(ANALYZER), "profile", "-f", str(config)], cwd=tmp_path,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=300)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    text = log.read_text(errors="replace")
    assert rc == 0, f"model-analyzer exited {rc}:\n{text[-4000:]}"
    return text


def check_results(tmp_path, text):
    assert "Profile complete" in text, text[-3000:]
    rows = list(csv.DictReader(open(tmp_path / "export" / "results" / "metrics-model-inference.csv")))
    configs = {r["Model Config Path"] for r in rows}
    assert configs == {"ident_config_0", "ident_config_default"}, rows
    for r in rows:
        assert float(r["Throughput (infer/sec)"]) > 0, r
        assert r["Instance Group"].endswith(":CPU"), r
    variant = (tmp_path / "variants" / "ident_config_0" / "config.pbtxt").read_text()
    assert "KIND_CPU" in variant and "max_batch_size: 1" in variant, variant


def test_local_launch_mode_starts_inferd(tmp_path, inferd_bin):
    repo = tmp_path / "repo"
    write_model(repo, "ident", CONFIG)
    config = profile_config(tmp_path, repo, "local", free_port(), free_port(), free_port(),
                            server=inferd_bin)
    text = run_analyzer(tmp_path, config)
    check_results(tmp_path, text)
    # It was inferd that served: its log lines are in the server output file.
    server_log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Started HTTPService" in server_log, server_log[-2000:]


def test_remote_mode_against_running_inferd(tmp_path, inferd_bin):
    repo = tmp_path / "repo"
    write_model(repo, "ident", CONFIG)
    with InferdServer(inferd_bin, [repo], ["--model-control-mode=explicit"], log_dir=tmp_path,
                      tag="analyzer_remote") as srv:
        config = profile_config(tmp_path, repo, "remote", srv.port,
                                srv.grpc_port, srv.metrics_port)
        text = run_analyzer(tmp_path, config)
        check_results(tmp_path, text)
        assert srv.proc.poll() is None
