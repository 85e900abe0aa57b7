"""Backends built for Triton (libtriton_<name>.so) served by inferd through its
Triton backend adapter (build/<preset>/lib/libtritonserver.so).

Triton's own backends, built from their r24.10 sources by
scripts/build-triton-backends, run here unchanged when TRITON_BACKENDS_DIR
names the folder it printed (OUT/backends): identity (every data type,
batching, statistics), repeat and square (decoupled), and the backend
repository's minimal and recommended examples, whose own clients
(examples/clients/minimal_client, recommended_client) run unchanged when
TRITON_BACKEND_REPO names that checkout. The server takes Triton's layout as
it is: --backend-directory=TRITON_BACKENDS_DIR, each backend in <name>/.

Without the built libraries those tests skip, saying so; the ones at the end
(tests/triton_backend/echo.cc, how a Triton backend is found, a broken one
refused) always run. On the asan-ubsan build, add alloc_dealloc_mismatch=0 to
ASAN_OPTIONS for Triton's backends: r24.10's repeat backend frees memory from
new[] with delete (its own bug, which gcc 12 warns about), and ASan stops the
server on it.
"""

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support import (DTYPE_MODELS, DTYPE_VALUES, SQUARE_CONFIG, InferdServer, fp32_identity, identity_config,
                     stats_of, write_model)

BACKENDS = os.environ.get("TRITON_BACKENDS_DIR", "")
BACKEND_REPO = os.environ.get("TRITON_BACKEND_REPO", "")


def _built(name):
    return bool(BACKENDS) and (Path(BACKENDS) / name / f"libtriton_{name}.so").is_file()


def needs(*names):
    missing = [n for n in names if not _built(n)]
    return pytest.mark.skipif(
        bool(missing),
        reason=f"Triton's {', '.join(missing)} backend not built: run scripts/build-triton-backends on r24.10 "
               "checkouts and set TRITON_BACKENDS_DIR to the backends folder it prints")


REPEAT_CONFIG = """
name: "repeat_int32"
backend: "repeat"
max_batch_size: 0
model_transaction_policy { decoupled: true }
input [
  { name: "IN" data_type: TYPE_INT32 dims: [ -1 ] },
  { name: "DELAY" data_type: TYPE_UINT32 dims: [ -1 ] },
  { name: "WAIT" data_type: TYPE_UINT32 dims: [ 1 ] }
]
output [
  { name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "IDX" data_type: TYPE_UINT32 dims: [ 1 ] }
]
"""


def _triton_repo(repo):
    if _built("identity"):
        for suffix, (cfg_type, _wire) in DTYPE_MODELS.items():
            name = "identity_" + suffix
            write_model(repo, name, identity_config(name, [("INPUT0", cfg_type, [-1])], max_batch_size=0))
        write_model(repo, "identity_fp32", fp32_identity(
            "identity_fp32", 8, extra="dynamic_batching { max_queue_delay_microseconds: 20000 }"))
    if _built("repeat"):
        write_model(repo, "repeat_int32", REPEAT_CONFIG)
    if _built("square"):
        write_model(repo, "square_int32", SQUARE_CONFIG)
    return repo


@pytest.fixture(scope="module")
def triton_server(inferd_bin, tmp_path_factory):
    if not BACKENDS:
        pytest.skip("TRITON_BACKENDS_DIR is not set (scripts/build-triton-backends prints it)")
    repo = _triton_repo(tmp_path_factory.mktemp("triton_backend_repo"))
    with InferdServer(inferd_bin, [repo], [f"--backend-directory={BACKENDS}"],
                      log_dir=tmp_path_factory.mktemp("triton_backend_server"), tag="triton_backends") as srv:
        yield srv


@pytest.fixture
def hclient(triton_server):
    c = httpclient.InferenceServerClient(triton_server.url, concurrency=8)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def gclient(triton_server):
    c = grpcclient.InferenceServerClient(triton_server.grpc_url)
    try:
        yield c
    finally:
        c.close()


# ---------------------------------------------------------------- identity

@needs("identity")
@pytest.mark.parametrize("suffix", list(DTYPE_MODELS))
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_identity_every_dtype(hclient, gclient, suffix, protocol):
    module, client = (httpclient, hclient) if protocol == "http" else (grpcclient, gclient)
    wire = DTYPE_MODELS[suffix][1]
    x = DTYPE_VALUES[suffix]
    inp = module.InferInput("INPUT0", list(x.shape), wire)
    inp.set_data_from_numpy(x)
    got = client.infer("identity_" + suffix, [inp]).as_numpy("OUTPUT0")
    if wire == "BYTES":
        assert [bytes(v) for v in got] == [bytes(v) for v in x]
    else:
        assert got.dtype == x.dtype and got.tobytes() == x.tobytes()


@needs("identity")
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_identity_response_parameters_reach_the_client(hclient, gclient, protocol):
    module, client = (httpclient, hclient) if protocol == "http" else (grpcclient, gclient)
    x = DTYPE_VALUES["fp32_nobatch"]
    inp = module.InferInput("INPUT0", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = client.infer("identity_fp32_nobatch", [inp])
    assert response_parameters(result, protocol) == {
        "param0": "an example string parameter", "param1": 42, "param2": False, "param3": 123.123}


def infer_rows_at_once(client, model):
    """Sends eight FP32 [1, 5] rows to an identity `model` at once (HTTP) and
    checks each answer is its own row."""
    rows = [np.full((1, 5), i, dtype=np.float32) for i in range(8)]
    pending = []
    for row in rows:
        inp = httpclient.InferInput("INPUT0", [1, 5], "FP32")
        inp.set_data_from_numpy(row)
        pending.append(client.async_infer(model, [inp]))
    for row, p in zip(rows, pending):
        np.testing.assert_array_equal(p.get_result().as_numpy("OUTPUT0"), row)


@needs("identity")
def test_identity_batches_concurrent_requests_and_reports_statistics(triton_server, hclient):
    before = stats_of(triton_server, "identity_fp32")
    infer_rows_at_once(hclient, "identity_fp32")
    after = stats_of(triton_server, "identity_fp32")
    inferences = int(after["inference_count"]) - int(before["inference_count"])
    executions = int(after["execution_count"]) - int(before["execution_count"])
    assert inferences == 8
    assert executions < 8, "the dynamic batcher should hand Triton's identity batches of several requests"
    stats = after["inference_stats"]
    assert int(stats["success"]["count"]) - int(before["inference_stats"]["success"]["count"]) == 8
    # The backend reports where compute input ended and output began.
    assert int(stats["compute_infer"]["ns"]) > 0 and int(stats["compute_input"]["ns"]) > 0


@needs("identity")
def test_identity_bad_input_is_an_error_and_server_serves_on(hclient):
    inp = httpclient.InferInput("INPUT0", [4], "INT32")
    inp.set_data_from_numpy(np.arange(4, dtype=np.int32))
    with pytest.raises(InferenceServerException, match="INT32|data type|datatype"):
        hclient.infer("identity_fp32_nobatch", [inp])
    x = DTYPE_VALUES["fp32_nobatch"]
    ok = httpclient.InferInput("INPUT0", list(x.shape), "FP32")
    ok.set_data_from_numpy(x)
    np.testing.assert_array_equal(hclient.infer("identity_fp32_nobatch", [ok]).as_numpy("OUTPUT0"), x)


# ---------------------------------------------------------------- decoupled

class Collector:
    def __init__(self):
        self.results, self.errors = [], []
        self.cv = threading.Condition()

    def __call__(self, result, error):
        with self.cv:
            (self.errors if error is not None else self.results).append(error if error is not None else result)
            self.cv.notify_all()


def stream(client, requests, flag=True):
    """Sends [(model, inputs, id)] on one stream; returns the collector once the server ended it."""
    col = Collector()
    client.start_stream(callback=col, stream_timeout=20)
    try:
        for model, inputs, request_id in requests:
            client.async_stream_infer(model, inputs, request_id=request_id, enable_empty_final_response=flag)
    finally:
        client.stop_stream()
    return col


def grpc_input(name, values, wire, dtype):
    i = grpcclient.InferInput(name, [len(values)], wire)
    i.set_data_from_numpy(np.array(values, dtype=dtype))
    return i


def final_of(result):
    params = result.get_response().parameters
    return params["triton_final_response"].bool_param if "triton_final_response" in params else None


@needs("repeat")
def test_repeat_sends_each_value_then_the_end(gclient):
    inputs = [grpc_input("IN", [7, 8, 9], "INT32", np.int32), grpc_input("DELAY", [0, 0, 0], "UINT32", np.uint32),
              grpc_input("WAIT", [0], "UINT32", np.uint32)]
    col = stream(gclient, [("repeat_int32", inputs, "r1")])
    assert not col.errors, [e.message() for e in col.errors]
    with_outputs = [r for r in col.results if r.get_response().outputs]
    assert [int(r.as_numpy("OUT")[0]) for r in with_outputs] == [7, 8, 9]
    assert [int(r.as_numpy("IDX")[0]) for r in with_outputs] == [0, 1, 2]
    assert all(r.get_response().id == "r1" for r in col.results)
    # The end comes as an empty final response (what Triton's repeat sends).
    assert final_of(col.results[-1]) is True and not col.results[-1].get_response().outputs
    assert all(final_of(r) is False for r in with_outputs)


@needs("repeat")
def test_repeat_responses_come_from_the_backends_thread_with_their_delays(gclient):
    inputs = [grpc_input("IN", [1, 2], "INT32", np.int32), grpc_input("DELAY", [300, 300], "UINT32", np.uint32),
              grpc_input("WAIT", [0], "UINT32", np.uint32)]
    start = time.monotonic()
    col = stream(gclient, [("repeat_int32", inputs, "slow")], flag=False)
    assert time.monotonic() - start >= 0.5
    assert [int(r.as_numpy("OUT")[0]) for r in col.results] == [1, 2]


@needs("repeat")
def test_repeat_two_requests_on_one_stream_keep_their_ids(gclient):
    def inputs(vals):
        return [grpc_input("IN", vals, "INT32", np.int32), grpc_input("DELAY", [0] * len(vals), "UINT32", np.uint32),
                grpc_input("WAIT", [0], "UINT32", np.uint32)]
    col = stream(gclient, [("repeat_int32", inputs([1, 2]), "a"), ("repeat_int32", inputs([5]), "b")], flag=False)
    by_id = {}
    for r in col.results:
        by_id.setdefault(r.get_response().id, []).append(int(r.as_numpy("OUT")[0]))
    assert by_id == {"a": [1, 2], "b": [5]}


@needs("square")
@pytest.mark.parametrize("n", [0, 1, 4])
def test_square_sends_n_responses(gclient, n):
    col = stream(gclient, [("square_int32", [grpc_input("IN", [n], "INT32", np.int32)], f"sq{n}")], flag=False)
    assert not col.errors
    assert [int(r.as_numpy("OUT")[0]) for r in col.results] == [n] * n


@needs("square")
def test_square_stops_when_the_client_cancels(triton_server, gclient):
    # Triton's square takes IN as a count (a negative one is a huge count),
    # and asks TRITONBACKEND_ResponseFactoryIsCancelled before each response.
    col = Collector()
    gclient.start_stream(callback=col, stream_timeout=20)
    try:
        gclient.async_stream_infer("square_int32", [grpc_input("IN", [2_000_000_000], "INT32", np.int32)],
                                   request_id="long")
        with col.cv:
            assert col.cv.wait_for(lambda: len(col.results) >= 5, timeout=10), "no responses"
    finally:
        gclient.stop_stream(cancel_requests=True)
    deadline = time.monotonic() + 10
    while "cancelled at response" not in triton_server.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "cancelled at response" in triton_server.log_path.read_text()
    assert len(col.results) < 2_000_000_000


@needs("square")
def test_decoupled_statistics_count_requests(triton_server, gclient):
    before = int(stats_of(triton_server, "square_int32")["inference_stats"]["success"]["count"])
    stream(gclient, [("square_int32", [grpc_input("IN", [3], "INT32", np.int32)], "s")], flag=False)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = int(stats_of(triton_server, "square_int32")["inference_stats"]["success"]["count"])
        if after == before + 1:
            break
        time.sleep(0.05)
    assert after == before + 1


# ---------------------------------------------------------------- the backend repository's examples

@needs("minimal", "recommended")
@pytest.mark.skipif(not BACKEND_REPO, reason="TRITON_BACKEND_REPO (a checkout of triton-inference-server/backend) "
                                             "is not set: its example clients are what these run")
@pytest.mark.parametrize("example", ["minimal", "recommended"])
def test_backend_repository_examples_pass_unchanged(start_server, tmp_path, example):
    # Their model repository and their client, as the backend repository's
    # README runs them against Triton (both name a model "batching", so one
    # server each).
    examples = Path(BACKEND_REPO) / "examples"
    repo = tmp_path / "models"
    shutil.copytree(examples / "model_repos" / f"{example}_models", repo)
    srv = start_server([repo], [f"--backend-directory={BACKENDS}"])
    run = subprocess.run([sys.executable, str(examples / "clients" / f"{example}_client"), "-u", srv.url],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    if example == "minimal":
        assert "OUT0 = [1 2 3 4]" in run.stdout and "OUT0 = [[10 11 12 13]]" in run.stdout, run.stdout
    else:
        assert "OUTPUT" in run.stdout and "error" not in run.stdout.lower(), run.stdout


# ---------------------------------------------------------------- Triton's onnxruntime backend

def example_onnx_model(name):
    """examples/model_repository/<name>/1/model.onnx, or a skip when setup has not fetched it."""
    model_file = Path(__file__).resolve().parents[2] / "examples/model_repository" / name / "1" / "model.onnx"
    if not model_file.is_file():
        pytest.skip(f"{model_file} is missing (scripts/setup fetches it)")
    return model_file


@pytest.mark.onnxruntime
@needs("onnxruntime")
def test_tritons_onnxruntime_backend_completes_the_config_and_matches_onnxruntime(start_server, tmp_path):
    import onnxruntime

    model_file = example_onnx_model("text_direction")
    repo = tmp_path / "models"
    (repo / "direction" / "1").mkdir(parents=True)
    shutil.copy(model_file, repo / "direction" / "1" / "model.onnx")
    # No inputs or outputs: Triton's backend reads them from the model
    # (TRITONBACKEND_ModelSetConfig), as it does on Triton.
    (repo / "direction" / "config.pbtxt").write_text('backend: "onnxruntime"\nmax_batch_size: 4\n')
    srv = start_server([repo], [f"--backend-directory={BACKENDS}"])
    client = httpclient.InferenceServerClient(srv.url)
    config = client.get_model_config("direction")
    assert [i["name"] for i in config["input"]] == ["x"] and [int(d) for d in config["input"][0]["dims"]][0] == 3
    assert config["input"][0]["data_type"] == "TYPE_FP32" and len(config["output"]) == 1
    x = np.random.default_rng(7).uniform(-1, 1, (2, 3, 48, 192)).astype(np.float32)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    got = client.infer("direction", [inp]).as_numpy(config["output"][0]["name"])
    expected = onnxruntime.InferenceSession(str(model_file)).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.onnxruntime
@needs("onnxruntime")
def test_text_recognition_on_tritons_onnxruntime_backend_equals_inferds_own(start_server, tmp_path):
    # One server, the same PP-OCRv4 recognition model twice: once on inferd's
    # onnxruntime backend, once on Triton's (its library in the model folder,
    # where it is found before the backend directory's libinferd_onnxruntime.so).
    model_file = example_onnx_model("text_recognition")
    repo = tmp_path / "models"
    for name in ("rec_inferd", "rec_triton"):
        (repo / name / "1").mkdir(parents=True)
        (repo / name / "1" / "model.onnx").symlink_to(model_file)
        (repo / name / "config.pbtxt").write_text('backend: "onnxruntime"\nmax_batch_size: 8\n')
    (repo / "rec_triton" / "libtriton_onnxruntime.so").symlink_to(Path(BACKENDS) / "onnxruntime" / "libtriton_onnxruntime.so")
    srv = start_server([repo])
    client = httpclient.InferenceServerClient(srv.url)
    x = np.random.default_rng(11).uniform(-1, 1, (2, 3, 48, 320)).astype(np.float32)
    outputs = {}
    for name in ("rec_inferd", "rec_triton"):
        config = client.get_model_config(name)
        inp = httpclient.InferInput(config["input"][0]["name"], list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        outputs[name] = client.infer(name, [inp]).as_numpy(config["output"][0]["name"])
    assert outputs["rec_inferd"].shape == outputs["rec_triton"].shape and outputs["rec_inferd"].shape[0] == 2
    np.testing.assert_allclose(outputs["rec_triton"], outputs["rec_inferd"], rtol=1e-5, atol=1e-6)
    log = srv.log_path.read_text()
    assert "libtriton_onnxruntime.so" in log or "TRITONBACKEND_Initialize: onnxruntime" in log, \
        "rec_triton should have been served by Triton's onnxruntime backend"


# ---------------------------------------------------------------- always run: tests/triton_backend/echo.cc




def echo_config(name, decoupled=False, batching=False):
    return (f'name: "{name}"\nbackend: "echo"\nmax_batch_size: {8 if batching else 0}\n'
            + ("model_transaction_policy { decoupled: true }\n" if decoupled else "")
            + ("dynamic_batching { max_queue_delay_microseconds: 20000 }\n" if batching else "")
            + 'input [ { name: "IN" data_type: TYPE_INT32 dims: [ -1 ] } ]\n'
            + 'output [ { name: "OUT" data_type: TYPE_INT32 dims: [ -1 ] } ]\n')


@pytest.fixture(scope="module")
def echo_server(inferd_bin, tmp_path_factory):
    backends = Path(inferd_bin).parent / "tests" / "triton_backends"
    if not (backends / "echo" / "libtriton_echo.so").is_file():
        pytest.fail(f"{backends}/echo/libtriton_echo.so is missing: the build makes it with the tests")
    repo = tmp_path_factory.mktemp("echo_repo")
    write_model(repo, "echo", echo_config("echo"))
    write_model(repo, "echo_batching", echo_config("echo_batching", batching=True))
    write_model(repo, "echo_decoupled", echo_config("echo_decoupled", decoupled=True))
    write_model(repo, "echo_histogram", echo_config("echo_histogram"))  # only test_echo_histogram sends to it
    with InferdServer(inferd_bin, [repo], [f"--backend-directory={backends}", "--model-control-mode=explicit",
                                           "--load-model=*", "--backend-config=echo,greeting=hello"],
                      log_dir=tmp_path_factory.mktemp("echo_server"), tag="echo") as srv:
        yield srv


def response_parameters(result, protocol):
    if protocol == "http":
        return result.get_response().get("parameters", {})
    out = {}
    for name, p in result.get_response().parameters.items():
        out[name] = getattr(p, p.WhichOneof("parameter_choice"))
    return out


def int32_input(module, name, values):
    x = np.array(values, dtype=np.int32)
    i = module.InferInput(name, list(x.shape), "INT32")
    i.set_data_from_numpy(x)
    return i


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_echo_answers_through_the_adapter(echo_server, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(echo_server.url if protocol == "http" else echo_server.grpc_url)
    result = client.infer("echo", [int32_input(module, "IN", [1, 2, 3, 4, 5, 6])])
    np.testing.assert_array_equal(result.as_numpy("OUT"), np.array([1, 2, 3, 4, 5, 6], dtype=np.int32))
    # The backend's response parameters reach the client, typed, as on Triton.
    assert response_parameters(result, protocol) == {"count": 6, "backend": "echo", "empty": False, "half": 3.0}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_echo_reads_the_clients_request_parameters_with_their_types(echo_server, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(echo_server.url if protocol == "http" else echo_server.grpc_url)
    result = client.infer("echo", [int32_input(module, "IN", [1])],
                          parameters={"tag": "caf\u00e9", "n": -5, "flag": True, "ratio": 0.25})
    got = response_parameters(result, protocol)
    assert {k: v for k, v in got.items() if k.startswith("request_")} == {
        "request_tag": "caf\u00e9", "request_n": -5, "request_flag": True, "request_ratio": 0.25}


def test_echo_error_names_the_value_and_the_server_serves_on(echo_server):
    client = httpclient.InferenceServerClient(echo_server.url)
    with pytest.raises(InferenceServerException, match="negative values, got -7"):
        client.infer("echo", [int32_input(httpclient, "IN", [-7, 1])])
    np.testing.assert_array_equal(client.infer("echo", [int32_input(httpclient, "IN", [3])]).as_numpy("OUT"), [3])


def test_echo_batches_and_its_compute_times_reach_the_statistics(echo_server):
    client = httpclient.InferenceServerClient(echo_server.url, concurrency=8)
    before = stats_of(echo_server, "echo_batching")
    pending = [client.async_infer("echo_batching", [int32_input(httpclient, "IN", [[i, i]])]) for i in range(8)]
    for i, p in enumerate(pending):
        np.testing.assert_array_equal(p.get_result().as_numpy("OUT"), [[i, i]])
    after = stats_of(echo_server, "echo_batching")
    assert int(after["inference_count"]) - int(before["inference_count"]) == 8
    assert int(after["execution_count"]) - int(before["execution_count"]) < 8
    assert int(after["inference_stats"]["compute_infer"]["count"]) > 0


def test_echo_decoupled_answers_after_release_from_its_own_thread(echo_server):
    client = grpcclient.InferenceServerClient(echo_server.grpc_url)
    col = stream(client, [("echo_decoupled", [int32_input(grpcclient, "IN", [4, 5, 6])], "d1"),
                          ("echo_decoupled", [int32_input(grpcclient, "IN", [])], "d2")])
    assert not col.errors, [e.message() for e in col.errors]
    by_id = {}
    for r in col.results:
        if r.get_response().outputs:
            by_id.setdefault(r.get_response().id, []).append(int(r.as_numpy("OUT")[0]))
    assert by_id == {"d1": [4, 5, 6]}
    finals = [r.get_response().id for r in col.results if final_of(r)]
    assert sorted(finals) == ["d1", "d2"]


def test_a_decoupled_request_the_backend_forgets_is_still_answered_once(echo_server):
    # The backend releases it and deletes its factory without a response:
    # the adapter answers it with an error naming that, and the stream goes on.
    client = grpcclient.InferenceServerClient(echo_server.grpc_url)
    col = stream(client, [("echo_decoupled", [int32_input(grpcclient, "IN", [999999])], "lost"),
                          ("echo_decoupled", [int32_input(grpcclient, "IN", [8])], "kept")], flag=False)
    assert len(col.errors) == 1 and "without sending its final response" in col.errors[0].message()
    assert [int(r.as_numpy("OUT")[0]) for r in col.results] == [8]


def test_echo_unload_and_load_again_runs_the_triton_lifecycle(echo_server):
    client = httpclient.InferenceServerClient(echo_server.url)
    client.unload_model("echo")
    deadline = time.monotonic() + 10
    while client.is_model_ready("echo") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.is_model_ready("echo")
    client.load_model("echo")
    np.testing.assert_array_equal(client.infer("echo", [int32_input(httpclient, "IN", [9])]).as_numpy("OUT"), [9])
    log = echo_server.log_path.read_text()
    assert "echo instance finalized after" in log
    # The backend saw the --backend-config settings for it, in Triton's shape.
    assert 'initialized, config {\\"cmdline\\":{\\"greeting\\":\\"hello\\"}}' in log


def test_echo_histogram_made_through_metric_args_is_on_the_metrics_page(echo_server):
    """TRITONSERVER_MetricArgsSetHistogram + MetricNewWithArgs + MetricObserve
    through the adapter: the histogram prints as Triton's does (count, sum,
    cumulative buckets with le, +Inf last)."""
    client = httpclient.InferenceServerClient(echo_server.url)
    for n in (1, 3, 6, 20):
        client.infer("echo_histogram", [int32_input(httpclient, "IN", list(range(n)))])
    page = urllib.request.urlopen(f"http://{echo_server.metrics_url}/metrics").read().decode()
    assert "# HELP echo_request_elements Elements of IN per request\n# TYPE echo_request_elements histogram" in page
    lines = [line for line in page.splitlines()
             if line.startswith("echo_request_elements") and 'model="echo_histogram"' in line]
    assert lines == ['echo_request_elements_count{model="echo_histogram"} 4',
                     'echo_request_elements_sum{model="echo_histogram"} 30',
                     'echo_request_elements_bucket{model="echo_histogram",le="1"} 1',
                     'echo_request_elements_bucket{model="echo_histogram",le="4"} 2',
                     'echo_request_elements_bucket{model="echo_histogram",le="16"} 3',
                     'echo_request_elements_bucket{model="echo_histogram",le="+Inf"} 4']


# ---------------------------------------------------------------- always run: tests/triton_backend/inferd_identity.cc
# inferd's identity written against Triton's API (what bench/triton_adapter.py
# measures the adapter's own cost with) answers exactly as inferd's identity.

TWIN_INPUTS = ("INPUT0", "INPUT1")


@pytest.fixture(scope="module")
def twin_server(inferd_bin, tmp_path_factory):
    library = (Path(inferd_bin).parent / "tests" / "triton_backends" / "inferd_identity"
               / "libtriton_inferd_identity.so")
    if not library.is_file():
        pytest.fail(f"{library} is missing: the build makes it with the tests")
    repo = tmp_path_factory.mktemp("twin_repo")
    for kind, backend in (("own", "identity"), ("twin", "inferd_identity")):
        for suffix, (cfg_type, _wire) in DTYPE_MODELS.items():
            name = f"{kind}_{suffix}"
            write_model(repo, name, identity_config(name, [(n, cfg_type, [-1]) for n in TWIN_INPUTS],
                                                    max_batch_size=0, backend=backend))
        write_model(repo, f"{kind}_batching", identity_config(
            f"{kind}_batching", [("INPUT0", "TYPE_FP32", [-1])], max_batch_size=8, backend=backend,
            extra="dynamic_batching { max_queue_delay_microseconds: 20000 }"))
        if kind == "twin":
            for folder in repo.glob("twin_*"):
                (folder / "1" / "libtriton_inferd_identity.so").symlink_to(library)
    with InferdServer(inferd_bin, [repo], [], log_dir=tmp_path_factory.mktemp("twin_server"), tag="twin") as srv:
        yield srv


def _twin_inputs(module, suffix, wire):
    x = DTYPE_VALUES[suffix]
    inputs = []
    for name, values in zip(TWIN_INPUTS, (x, x[::-1].copy())):
        i = module.InferInput(name, list(values.shape), wire)
        i.set_data_from_numpy(values)
        inputs.append(i)
    return inputs


def _as_bytes(array):
    return [bytes(v) for v in array.ravel()] if array.dtype == np.object_ else array.tobytes()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("suffix", list(DTYPE_MODELS))
def test_inferd_identity_on_triton_api_answers_as_inferd_identity(twin_server, suffix, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(twin_server.url if protocol == "http" else twin_server.grpc_url)
    wire = DTYPE_MODELS[suffix][1]
    own = client.infer(f"own_{suffix}", _twin_inputs(module, suffix, wire))
    twin = client.infer(f"twin_{suffix}", _twin_inputs(module, suffix, wire))
    for name in ("OUTPUT0", "OUTPUT1"):
        a, b = own.as_numpy(name), twin.as_numpy(name)
        assert a.dtype == b.dtype and a.shape == b.shape and _as_bytes(a) == _as_bytes(b), (suffix, name)
    np.testing.assert_array_equal(_as_bytes(twin.as_numpy("OUTPUT1")), _as_bytes(DTYPE_VALUES[suffix][::-1]))


def test_inferd_identity_on_triton_api_produces_only_requested_outputs(twin_server):
    client = httpclient.InferenceServerClient(twin_server.url)
    for kind in ("own", "twin"):
        result = client.infer(f"{kind}_int32", _twin_inputs(httpclient, "int32", "INT32"),
                              outputs=[httpclient.InferRequestedOutput("OUTPUT1")])
        assert [o["name"] for o in result.get_response()["outputs"]] == ["OUTPUT1"], kind


def _input_bytes_counted(srv, model):
    text = urllib.request.urlopen(f"http://{srv.metrics_url}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith("input_byte_size_counter{") and f'model="{model}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_inferd_identity_on_triton_api_batches_counts_and_reports_as_inferd_identity(twin_server):
    client = httpclient.InferenceServerClient(twin_server.url, concurrency=8)
    for kind in ("own", "twin"):
        model = f"{kind}_batching"
        before, counted = stats_of(twin_server, model), _input_bytes_counted(twin_server, model)
        infer_rows_at_once(client, model)
        after = stats_of(twin_server, model)
        assert int(after["inference_count"]) - int(before["inference_count"]) == 8, kind
        assert int(after["execution_count"]) - int(before["execution_count"]) < 8, kind
        assert int(after["inference_stats"]["compute_infer"]["count"]) > 0, kind
        # The custom metric, defined through each ABI's metrics calls, counts every input byte.
        assert _input_bytes_counted(twin_server, model) - counted == 8 * 5 * 4, kind


# ---------------------------------------------------------------- always run: finding and refusing

def test_a_file_named_like_a_triton_backend_that_is_not_one_fails_its_load_only(start_server, make_repo):
    repo = make_repo()
    folder = write_model(repo, "fake", identity_config("fake", [("INPUT0", "TYPE_FP32", [4])], backend="fake"))
    (folder / "libtriton_fake.so").write_bytes(b"\x7fELF not really a library")
    write_model(repo, "identity_fp32", fp32_identity("identity_fp32", 8))
    srv = start_server([repo])
    client = httpclient.InferenceServerClient(srv.url)
    assert not client.is_model_ready("fake")
    reason = [e for e in client.get_model_repository_index() if e["name"] == "fake"][0].get("reason", "")
    assert "libtriton_fake.so" in reason, reason
    assert client.is_model_ready("identity_fp32")


def test_a_missing_backend_names_the_triton_file_it_looked_for_too(start_server, make_repo):
    repo = make_repo()
    write_model(repo, "ghost", identity_config("ghost", [("INPUT0", "TYPE_FP32", [4])], backend="ghost"))
    srv = start_server([repo])
    client = httpclient.InferenceServerClient(srv.url)
    reason = [e for e in client.get_model_repository_index() if e["name"] == "ghost"][0].get("reason", "")
    assert "libinferd_ghost.so" in reason and "libtriton_ghost.so" in reason, reason


def test_a_runtime_outside_the_model_folder_is_refused_before_anything_is_opened(start_server, make_repo):
    repo = make_repo()
    outside = repo.parent / "libtriton_evil.so"
    outside.write_bytes(b"\x7fELF")
    write_model(repo, "evil", identity_config("evil", [("INPUT0", "TYPE_FP32", [4])], backend="evil")
                + 'runtime: "../libtriton_evil.so"\n')
    srv = start_server([repo])
    client = httpclient.InferenceServerClient(srv.url)
    reason = [e for e in client.get_model_repository_index() if e["name"] == "evil"][0].get("reason", "")
    assert "runtime" in reason and "escapes" in reason, reason
    assert "libtritonserver.so" not in srv.log_path.read_text()  # the adapter was never opened
