"""Model control: explicit mode (load / unload through the API, with config
and file overrides), poll mode (added, changed and removed models), graceful
reload and unload under traffic, and start-up flags (--exit-on-error,
--strict-readiness)."""

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import gevent
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support import (NOT_SERVED, REPO_ROOT, expect_server_error, fp32_identity, index_entries,
                     make_input, write_model)

DIGITS_ONNX = REPO_ROOT / "examples" / "model_repository" / "digits" / "1" / "model.onnx"


def identity_json(max_batch_size=8, count=1, delay_ms=0):
    config = {
        "backend": "identity",
        "max_batch_size": max_batch_size,
        "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
        "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
        "instance_group": [{"count": count, "kind": "KIND_CPU"}],
    }
    if delay_ms:
        config["parameters"] = {"execute_delay_ms": {"string_value": str(delay_ms)}}
    return json.dumps(config)


def echo(client, model, value=1.0):
    x = np.full((1, 4), value, dtype=np.float32)
    out = client.infer(model, [make_input("INPUT0", x)]).as_numpy("OUTPUT0")
    np.testing.assert_array_equal(out, x)


def states(client):
    return {(e["name"], e.get("version", "")): e.get("state", "") for e in client.get_model_repository_index()}


@pytest.fixture
def repo(make_repo):
    r = make_repo("control")
    write_model(r, "alpha", fp32_identity("alpha", 8))
    write_model(r, "beta", fp32_identity("beta", 8))
    write_model(r, "slow", fp32_identity("slow", 8, extra="""
        instance_group [{ count: 1 }]
        parameters { key: "execute_delay_ms" value { string_value: "200" } }"""))
    return r


def test_explicit_mode_loads_only_what_is_asked(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=alpha"])
    c = httpclient.InferenceServerClient(srv.url)
    s = states(c)
    assert s[("alpha", "1")] == "READY"
    assert s[("beta", "")] == "" and s[("slow", "")] == ""  # listed, never loaded
    echo(c, "alpha")
    expect_server_error(c.infer, "beta", [make_input("INPUT0", np.ones((1, 4), np.float32))],
                        status=NOT_SERVED, contains=["beta"])
    c.load_model("beta")
    echo(c, "beta")
    assert c.is_server_ready()


def test_explicit_star_loads_everything(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=*"])
    c = httpclient.InferenceServerClient(srv.url)
    assert all(c.is_model_ready(m) for m in ("alpha", "beta", "slow"))


def test_load_with_config_override_changes_the_config(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=alpha"])
    c = httpclient.InferenceServerClient(srv.url)
    assert int(c.get_model_config("alpha")["max_batch_size"]) == 8
    c.load_model("alpha", config=identity_json(max_batch_size=2, count=3))
    config = c.get_model_config("alpha")
    assert int(config["max_batch_size"]) == 2
    assert int(config["instance_group"][0]["count"]) == 3
    echo(c, "alpha")
    # The new limit applies.
    expect_server_error(c.infer, "alpha", [make_input("INPUT0", np.ones((3, 4), np.float32))],
                        contains=["max_batch_size 2"])


def digits_probabilities(client, model):
    """The digits model's answer for a blank image."""
    inp = httpclient.InferInput("pixels", [1, 64], "FP32")
    inp.set_data_from_numpy(np.zeros((1, 64), np.float32))
    return client.infer(model, [inp]).as_numpy("probabilities")


@pytest.mark.onnxruntime
def test_load_from_file_override(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit"])
    c = httpclient.InferenceServerClient(srv.url)
    config = json.dumps({"platform": "onnxruntime_onnx", "max_batch_size": 4})
    c.load_model("beta", config=config, files={"file:5/model.onnx": DIGITS_ONNX.read_bytes()})
    meta = c.get_model_metadata("beta")
    assert meta["versions"] == ["5"]
    assert [i["name"] for i in meta["inputs"]] == ["pixels"]
    probs = digits_probabilities(c, "beta")
    assert probs.shape == (1, 10) and abs(float(probs.sum()) - 1.0) < 1e-4
    # Files without a config are refused (Triton's rule).
    expect_server_error(c.load_model, "alpha", files={"file:1/x": b"1"}, contains=["config"])


@pytest.mark.onnxruntime
def test_a_model_no_repository_holds_loads_from_its_config_and_files(start_server, repo):
    """Triton's rule: a load with files of a name no repository holds makes that model."""
    srv = start_server([repo], ["--model-control-mode=explicit"])
    c = httpclient.InferenceServerClient(srv.url)
    config = json.dumps({"backend": "onnxruntime", "max_batch_size": 4})
    c.load_model("gamma", config=config, files={"file:1/model.onnx": DIGITS_ONNX.read_bytes()})
    assert c.is_model_ready("gamma") and index_entries(c, "gamma")[0]["state"] == "READY"
    assert digits_probabilities(c, "gamma").shape == (1, 10)
    c.unload_model("gamma")
    assert not c.is_model_ready("gamma")
    # Without files, such a name is still not in any repository.
    expect_server_error(c.load_model, "gamma", config=config, contains=["not in any model repository"])
    # Names that cannot be a folder are refused before anything is written.
    g = grpcclient.InferenceServerClient(srv.grpc_url)
    for bad in ("../escape", "a/b", ".hidden", "..", "n" * 256, "x" * 100_000):
        with pytest.raises(InferenceServerException) as e:
            g.load_model(bad, config=identity_json(), files={"file:1/x": b"1"})
        assert "needs a name that can be a folder" in e.value.message(), (bad, e.value.message())
    c.load_model("alpha")  # and the server serves on
    echo(c, "alpha")


def test_models_made_from_files_alone_are_bounded(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit"])
    c = httpclient.InferenceServerClient(srv.url)
    for i in range(64):
        c.load_model(f"made{i}", config=identity_json(), files={"file:1/notes.txt": b"x"})
    expect_server_error(c.load_model, "made64", config=identity_json(), files={"file:1/notes.txt": b"x"},
                        contains=["unload one first"])
    c.load_model("made0", config=identity_json(), files={"file:1/notes.txt": b"y"})  # a reload is no new one
    c.unload_model("made1")
    c.load_model("made64", config=identity_json(), files={"file:1/notes.txt": b"x"})
    echo(c, "made64")


def test_file_override_name_too_long_for_the_file_system(start_server, repo):
    # Triton's simple_grpc_model_control.py: a 256-character name is refused
    # with INTERNAL "failed to poll from model repository", and the server serves on.
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=alpha"])
    g = grpcclient.InferenceServerClient(srv.grpc_url)
    with pytest.raises(InferenceServerException) as e:
        g.load_model("beta", config="{}", files={"file:" + "A" * 256: b"a"})
    assert e.value.status() == "StatusCode.INTERNAL", e.value
    assert "failed to poll from model repository" in e.value.message(), e.value.message()
    assert "File name too long" in e.value.message(), e.value.message()
    assert "inferd-override" not in e.value.message()  # no server paths in the answer
    echo(httpclient.InferenceServerClient(srv.url), "alpha")


def test_unload_then_infer_is_a_clear_error(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=alpha"])
    c = httpclient.InferenceServerClient(srv.url)
    c.unload_model("alpha")
    e = expect_server_error(c.infer, "alpha", [make_input("INPUT0", np.ones((1, 4), np.float32))],
                            status=NOT_SERVED, contains=["alpha"])
    assert "unloaded" in e.message()
    (entry,) = index_entries(c, "alpha")
    assert entry["state"] in ("UNAVAILABLE", "UNLOADING") and entry["reason"] == "unloaded"
    assert not c.is_model_ready("alpha")
    c.load_model("alpha")  # and back
    echo(c, "alpha")


def test_load_of_unknown_model_names_it(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit"])
    c = httpclient.InferenceServerClient(srv.url)
    expect_server_error(c.load_model, "ghost", status=404, contains=["ghost"])
    expect_server_error(c.load_model, "alpha", config="{not json", contains=["config"])


@pytest.mark.parametrize("mode", ["none", "poll"])
def test_api_load_needs_explicit_mode(start_server, repo, mode):
    srv = start_server([repo], [f"--model-control-mode={mode}"])
    c = httpclient.InferenceServerClient(srv.url)
    # Triton's answer: UNAVAILABLE (HTTP 503), "explicit model load / unload is not allowed".
    expect_server_error(c.load_model, "alpha", status=503, contains=["explicit model load / unload is not allowed"])
    expect_server_error(c.unload_model, "alpha", status=503, contains=["explicit"])
    g = grpcclient.InferenceServerClient(srv.grpc_url)
    with pytest.raises(InferenceServerException) as e:
        g.load_model("alpha")
    assert e.value.status() == "StatusCode.UNAVAILABLE"
    echo(c, "alpha")


def test_a_failed_load_says_failed_to_load(start_server, repo):
    # Triton's clients and QA tests match on these words.
    srv = start_server([repo], ["--model-control-mode=explicit"])
    c = httpclient.InferenceServerClient(srv.url)
    expect_server_error(c.load_model, "alpha", config='{"backend": "no_such_backend"}',
                        contains=["failed to load 'alpha'", "no_such_backend"])
    expect_server_error(c.load_model, "ghost", status=404, contains=["failed to load", "ghost"])


def test_broken_reload_keeps_the_old_version_serving(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=alpha"])
    c = httpclient.InferenceServerClient(srv.url)
    broken = json.dumps({"backend": "identity", "max_batch_size": 4,
                         "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [0]}]})
    expect_server_error(c.load_model, "alpha", config=broken, contains=["dimension"])
    echo(c, "alpha")
    assert int(c.get_model_config("alpha")["max_batch_size"]) == 8  # still the old one
    (entry,) = index_entries(c, "alpha")
    assert entry["state"] == "READY" and "dimension" in entry["reason"]


def test_reload_and_unload_under_traffic_lose_nothing(start_server, repo):
    """Clients hammer 'alpha' while it is reloaded twice and 'slow' is unloaded
    with requests queued: no request to alpha fails, every request slow had
    accepted is answered."""
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=*"])
    admin = httpclient.InferenceServerClient(srv.url)
    stop = threading.Event()
    failures, served = [], [0]

    def hammer(seed):
        c = httpclient.InferenceServerClient(srv.url)
        deadline = time.monotonic() + 20  # bounded even if the test stalls
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                echo(c, "alpha", seed)
                served[0] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                failures.append(repr(exc))
        c.close()

    workers = [threading.Thread(target=hammer, args=(float(i),)) for i in range(3)]
    for w in workers:
        w.start()
    # Requests queued on slow (200 ms each, one instance) before it is unloaded.
    slow_client = httpclient.InferenceServerClient(srv.url, concurrency=4, network_timeout=30)
    xs = [np.full((1, 2), i, np.float32) for i in range(4)]
    handles = [slow_client.async_infer("slow", [make_input("INPUT0", x)]) for x in xs]
    gevent.sleep(0.1)
    time.sleep(0.2)
    admin.load_model("alpha", config=identity_json(max_batch_size=4, count=2))
    admin.unload_model("slow")
    time.sleep(0.2)
    admin.load_model("alpha", config=identity_json(max_batch_size=8, count=1))
    time.sleep(0.2)
    stop.set()
    for w in workers:
        w.join()
    for x, h in zip(xs, handles):
        np.testing.assert_array_equal(h.get_result(timeout=20).as_numpy("OUTPUT0"), x)
    slow_client.close()
    assert failures == []
    assert served[0] > 0
    assert not admin.is_model_ready("slow")


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_poll_mode_picks_up_added_changed_and_removed(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=poll", "--repository-poll-secs=1"])
    c = httpclient.InferenceServerClient(srv.url)
    assert c.get_model_metadata("alpha")["versions"] == ["1"]
    # A new version (default policy: latest 1).
    (Path(repo) / "alpha" / "2").mkdir()
    assert wait_for(lambda: c.get_model_metadata("alpha")["versions"] == ["2"])
    # A changed config.
    write_model(repo, "beta", fp32_identity("beta", 3))
    assert wait_for(lambda: int(c.get_model_config("beta")["max_batch_size"]) == 3)
    echo(c, "beta")
    # A new model.
    write_model(repo, "gamma", fp32_identity("gamma", 8))
    assert wait_for(lambda: c.is_model_ready("gamma"))
    echo(c, "gamma")
    # A removed model.
    shutil.rmtree(Path(repo) / "slow")
    assert wait_for(lambda: not c.is_model_ready("slow"))
    assert index_entries(c, "slow") == []
    echo(c, "alpha")


def test_exit_on_error_stops_start_up(inferd_bin, repo):
    write_model(repo, "broken", fp32_identity("wrong_name", 8))
    proc = subprocess.run([str(inferd_bin), f"--model-repository={repo}", "--http-port=0",
                           "--http-address=127.0.0.1", "--exit-on-error=true"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "wrong_name" in proc.stderr


@pytest.mark.parametrize("strict,ready", [("true", False), ("false", True)])
def test_strict_readiness(start_server, repo, strict, ready):
    write_model(repo, "broken", fp32_identity("wrong_name", 8))
    srv = start_server([repo], [f"--strict-readiness={strict}"])
    c = httpclient.InferenceServerClient(srv.url)
    assert c.is_server_live()
    assert c.is_server_ready() is ready
    echo(c, "alpha")
