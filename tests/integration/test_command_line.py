"""tritonserver's command line starts inferd unchanged (issue 13): every flag
of r24.10's command_line_parser.cc is taken, those without effect here with
one warning each; a repeated flag takes its last value; --version;
--model-config-name; --backend-config reaches the backend (the ONNX Runtime
part is in test_onnxruntime.py)."""

import re
import subprocess

import pytest
import tritonclient.http as httpclient

from support import fp32_identity, raw_request, write_model

# Every tritonserver r24.10 flag with a value a Triton user could give it
# (the ones inferd serves and the ones it only accepts).
TRITON_FLAGS = [
    "--id=triton-node-1", "--exit-timeout-secs=30", "--exit-on-error=false",
    "--strict-readiness=true", "--model-control-mode=none", "--repository-poll-secs=15",
    "--model-config-name=", "--model-load-thread-count=4", "--model-load-retry-count=2",
    "--model-namespacing=true", "--enable-peer-access=false", "--allow-http=true",
    "--http-address=127.0.0.1", "--reuse-http-port=false", "--http-header-forward-pattern=x-.*",
    "--http-thread-count=2", "--http-max-input-size=67108864", "--http-restricted-api=trace:k=v",
    "--allow-grpc=true", "--grpc-address=127.0.0.1", "--reuse-grpc-port=false",
    "--grpc-header-forward-pattern=x-.*", "--grpc-infer-allocation-pool-size=8",
    "--grpc-max-response-pool-size=8", "--grpc-use-ssl=false", "--grpc-use-ssl-mutual=false",
    "--grpc-infer-response-compression-level=none", "--grpc-keepalive-time=7200000",
    "--grpc-keepalive-timeout=20000", "--grpc-keepalive-permit-without-calls=false",
    "--grpc-http2-max-pings-without-data=2", "--grpc-http2-min-recv-ping-interval-without-data=300000",
    "--grpc-http2-max-ping-strikes=2", "--grpc-max-connection-age=3600000",
    "--grpc-max-connection-age-grace=60000", "--grpc-restricted-protocol=trace:k=v",
    "--log-verbose=0", "--log-info=true", "--log-warning=true", "--log-error=true",
    "--log-format=default", "--allow-sagemaker=true", "--sagemaker-port=8080",
    "--sagemaker-safe-port-range=8081-9000", "--sagemaker-thread-count=8", "--allow-vertex-ai=true",
    "--vertex-ai-port=8080", "--vertex-ai-thread-count=8", "--vertex-ai-default-model=m",
    "--allow-metrics=true", "--allow-gpu-metrics=false", "--allow-cpu-metrics=true",
    "--metrics-interval-ms=2000", "--metrics-config=summary_latencies=false",
    "--trace-config=rate=1000", "--trace-file=/tmp/trace.json", "--trace-level=TIMESTAMPS",
    "--trace-rate=1000", "--trace-count=-1", "--trace-log-frequency=0",
    "--cache-config=local,size=1048576", "--cache-directory=/opt/tritonserver/caches",
    "--rate-limit=off", "--rate-limit-resource=R1:4", "--pinned-memory-pool-byte-size=268435456",
    "--cuda-memory-pool-byte-size=0:67108864", "--cuda-virtual-address-size=0:1073741824",
    "--min-supported-compute-capability=6.0", "--buffer-manager-thread-count=0",
    "--host-policy=numa0,numa-node=0", "--model-load-gpu-limit=0:0.8",
    "--backend-config=onnxruntime,default-max-batch-size=4", "--repoagent-directory=/opt/repoagents",
    "--strict-model-config=false", "--response-cache-byte-size=0",
]
WITHOUT_EFFECT = [
    "model-namespacing", "enable-peer-access", "http-header-forward-pattern",
    "grpc-header-forward-pattern", "grpc-infer-allocation-pool-size", "grpc-max-response-pool-size",
    "allow-sagemaker", "sagemaker-port", "sagemaker-safe-port-range", "sagemaker-thread-count",
    "allow-vertex-ai", "vertex-ai-port", "vertex-ai-thread-count", "vertex-ai-default-model",
    "cache-directory", "pinned-memory-pool-byte-size", "cuda-memory-pool-byte-size",
    "cuda-virtual-address-size", "min-supported-compute-capability", "buffer-manager-thread-count",
    "host-policy", "model-load-gpu-limit", "repoagent-directory",
]


@pytest.fixture
def repo(make_repo):
    path = make_repo("cli")
    write_model(path, "m", fp32_identity("m", 4))
    return path


def test_every_tritonserver_flag_is_taken(start_server, repo):
    srv = start_server([repo], TRITON_FLAGS)
    c = httpclient.InferenceServerClient(srv.url)
    assert c.is_server_ready()
    assert c.get_server_metadata()["name"] == "triton-node-1"
    log = srv.log_text()
    for flag in WITHOUT_EFFECT:
        warnings = [l for l in log.splitlines() if l.startswith("W") and f"--{flag}=" in l]
        assert len(warnings) == 1, (flag, warnings)
        assert "has no effect" in warnings[0]


def test_defaults_of_flags_without_effect_are_silent(start_server, repo):
    srv = start_server([repo], ["--allow-sagemaker=false", "--allow-vertex-ai=false", "--trace-level=OFF",
                                "--model-namespacing=false"])
    assert "has no effect" not in srv.log_text()


def test_strict_model_config_warns_as_triton(start_server, repo):
    # Triton's QA (L0_model_config cli_messages) greps the log for these two lines.
    deprecated = ("Warning: '--strict-model-config' has been deprecated! Please use "
                  "'--disable-auto-complete-config' instead.")
    overridden = ("Warning: Overriding deprecated '--strict-model-config' from False to True in favor of "
                  "'--disable-auto-complete-config'!")
    log = start_server([repo], ["--disable-auto-complete-config", "--strict-model-config=false"]).log_text()
    assert deprecated in log and overridden in log, log[-3000:]
    log = start_server([repo], ["--strict-model-config=true"]).log_text()
    assert deprecated in log and overridden not in log, log[-3000:]
    assert deprecated not in start_server([repo], ["--disable-auto-complete-config"]).log_text()


def test_a_repeated_flag_takes_its_last_value(start_server, repo):
    srv = start_server([repo], ["--id=first", "--id=second", "--log-verbose=1", "--log-verbose=0"])
    assert httpclient.InferenceServerClient(srv.url).get_server_metadata()["name"] == "second"
    assert httpclient.InferenceServerClient(srv.url).get_log_settings()["log_verbose_level"] == 0


def test_repeatable_flags_collect_every_value(start_server, make_repo):
    one, two = make_repo("one"), make_repo("two")
    write_model(one, "a", fp32_identity("a", 4))
    write_model(two, "b", fp32_identity("b", 4))
    srv = start_server([one], [f"--model-store={two}"])
    c = httpclient.InferenceServerClient(srv.url)
    assert c.is_model_ready("a") and c.is_model_ready("b")


def test_version(inferd_bin):
    out = subprocess.run([str(inferd_bin), "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    assert re.fullmatch(r"inferd \d+\.\d+\.\d+\n", out.stdout), out.stdout


@pytest.mark.parametrize("bad", ["--backend-config=onnxruntime", "--backend-config=,x=1",
                                 "--backend-config==1", "--model-config-name=../x",
                                 "--model-config-name=a b"])
def test_bad_values_are_usage_errors(inferd_bin, repo, bad):
    out = subprocess.run([str(inferd_bin), f"--model-repository={repo}", bad],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2, out.stderr
    assert bad.split("=")[0] in out.stderr


def test_model_config_name_picks_the_custom_config(start_server, make_repo):
    repo = make_repo("config_name")
    d = write_model(repo, "m", fp32_identity("m", 4))
    (d / "configs").mkdir()
    (d / "configs" / "h100.pbtxt").write_text(fp32_identity("m", 16))
    write_model(repo, "plain", fp32_identity("plain", 2))  # no configs/: keeps config.pbtxt
    srv = start_server([repo], ["--model-config-name=h100"])
    c = httpclient.InferenceServerClient(srv.url)
    assert c.get_model_config("m")["max_batch_size"] == 16
    assert c.get_model_config("plain")["max_batch_size"] == 2
    other = start_server([repo], tag="default_config")
    assert httpclient.InferenceServerClient(other.url).get_model_config("m")["max_batch_size"] == 4
    assert raw_request(other.url, "GET", "/v2/models/m/config")[0] == 200


def test_a_failed_load_is_retried(start_server, make_repo):
    repo = make_repo("retry")
    write_model(repo, "good", fp32_identity("good", 4))
    write_model(repo, "broken", fp32_identity("broken", 4).replace('backend: "identity"', 'backend: "missing"'))
    srv = start_server([repo], ["--model-load-retry-count=2", "--strict-readiness=false"])
    retries = [l for l in srv.log_text().splitlines() if "loading model 'broken' failed" in l]
    assert len(retries) == 2 and "retrying (2 of 2)" in retries[1], retries
    c = httpclient.InferenceServerClient(srv.url)
    assert c.is_model_ready("good") and not c.is_model_ready("broken")
    assert not [l for l in srv.log_text().splitlines() if "loading model 'good' failed" in l]
