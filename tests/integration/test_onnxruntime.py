"""The onnxruntime backend on the example repository's real models: outputs
equal Python ONNX Runtime's on the same inputs, the OCR and image clients
read and classify real rendered images, auto-complete, and config/model
mismatches fail that model's load with a clear reason while the rest serve."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient
from PIL import Image

from support import REPO_ROOT, InferdServer, free_port, index_entries, wait_for_http

pytestmark = pytest.mark.onnxruntime

EXAMPLES = REPO_ROOT / "examples" / "model_repository"
CLIENTS = REPO_ROOT / "examples" / "clients"
MODELS = ["text_recognition", "text_direction", "text_detection", "densenet_onnx", "digits"]
sys.path.insert(0, str(CLIENTS))
import ocr_client  # noqa: E402  (its render/preprocess are the reference preprocessing)


def model_file(name):
    path = EXAMPLES / name / "1" / "model.onnx"
    if not path.is_file():
        pytest.fail(f"{path} is missing: scripts/setup makes the example models", pytrace=False)
    return path


@pytest.fixture(scope="module")
def examples_server(inferd_bin, tmp_path_factory):
    for m in MODELS:
        model_file(m)
    with InferdServer(inferd_bin, [EXAMPLES], log_dir=tmp_path_factory.mktemp("examples"), tag="examples") as srv:
        yield srv


@pytest.fixture
def examples(examples_server):
    c = httpclient.InferenceServerClient(examples_server.url, network_timeout=60.0)
    yield c
    c.close()


def reference(name, feeds):
    session = ort.InferenceSession(str(model_file(name)))
    return session.run(None, feeds)


def infer(client, model, name, array, output):
    inp = httpclient.InferInput(name, list(array.shape), "FP32")
    inp.set_data_from_numpy(array)
    return client.infer(model, [inp], outputs=[httpclient.InferRequestedOutput(output)]).as_numpy(output)


def test_every_example_model_is_ready(examples):
    for m in MODELS + ["ocr", "ocr_preprocess", "ocr_crops", "ocr_orient", "ocr_ctc"]:
        assert examples.is_model_ready(m), m


@pytest.mark.parametrize("batch", [1, 3])
def test_text_recognition_equals_onnxruntime(examples, batch):
    x = np.random.default_rng(batch).uniform(-1, 1, (batch, 3, 48, 320)).astype(np.float32)
    got = infer(examples, "text_recognition", "x", x, "softmax_11.tmp_0")
    (want,) = reference("text_recognition", {"x": x})
    assert got.shape == want.shape == (batch, 40, 6625)
    assert np.abs(got - want).max() <= 1e-5


@pytest.mark.parametrize("batch", [1, 2])
def test_densenet_equals_onnxruntime(examples, batch):
    x = np.random.default_rng(7).uniform(-1, 1, (batch, 3, 224, 224)).astype(np.float32)
    got = infer(examples, "densenet_onnx", "data_0", x, "fc6_1")
    (want,) = reference("densenet_onnx", {"data_0": x})
    assert got.shape == (batch, 1000)
    assert np.abs(got - want).max() <= 1e-5


def test_digits_equals_onnxruntime_and_is_accurate(examples):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data[1500:] / 16.0).astype(np.float32)  # held out from training
    y = digits.target[1500:]
    got = np.concatenate([infer(examples, "digits", "pixels", x[i:i + 64], "probabilities")
                          for i in range(0, len(x), 64)])
    (want,) = reference("digits", {"pixels": x})
    assert np.abs(got - want).max() <= 1e-5
    accuracy = (got.argmax(1) == y).mean()
    assert accuracy >= 0.9, accuracy


def test_concurrent_requests_are_batched_and_split_back(examples, examples_server):
    """digits has dynamic batching: concurrent requests share executions and
    every client still gets exactly its own rows."""
    import threading

    before = examples.get_inference_statistics("digits")["model_stats"][0]
    rng = np.random.default_rng(3)
    inputs = [rng.random((1, 64), dtype=np.float32) for _ in range(24)]
    (want,) = reference("digits", {"pixels": np.concatenate(inputs)})
    got = [None] * len(inputs)

    def worker(i):
        c = httpclient.InferenceServerClient(examples_server.url)
        got[i] = infer(c, "digits", "pixels", inputs[i], "probabilities")
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, g in enumerate(got):
        assert np.abs(g[0] - want[i]).max() <= 1e-5, i
    after = examples.get_inference_statistics("digits")["model_stats"][0]
    assert int(after["inference_count"]) - int(before["inference_count"]) == len(inputs)


def test_ocr_client_reads_rendered_text(examples_server, tmp_path):
    image = tmp_path / "text.png"
    ocr_client.render("inferd 2026").save(image)
    out = subprocess.run([sys.executable, str(CLIENTS / "ocr_client.py"), "-u", examples_server.url, str(image)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "inferd 2026"


PAGES = [
    ["inferd 2026", "Hello World", "serving OCR pipelines"],
    ["The quick brown fox", "jumps over 13 lazy dogs."],
]


def png_bytes(img):
    import io
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("upside_down", [False, True], ids=["upright", "upside_down"])
@pytest.mark.parametrize("lines", PAGES, ids=["three_lines", "two_lines"])
def test_the_ocr_pipeline_reads_every_line_of_a_page(examples, lines, upside_down):
    page = ocr_client.render_page(lines, upside_down)
    found = ocr_client.read_page(httpclient, examples, png_bytes(page))
    assert [text for text, _, _ in found] == lines
    for text, (x0, y0, x1, y1), score in found:
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height, text
        assert 0.5 < score <= 1.0


def test_the_ocr_pipeline_serves_many_pages_at_once(examples_server):
    # Crops of concurrent pages meet in text_direction's batcher (and in
    # text_recognition's where their widths agree); every page still gets its
    # own lines.
    import concurrent.futures
    import tritonclient.grpc as grpcclient

    pages = [(ocr_client.render_page(lines, i % 2 == 1), lines) for i, lines in enumerate(PAGES * 4)]

    def read(page):
        client = grpcclient.InferenceServerClient(examples_server.grpc_url)
        return [text for text, _, _ in ocr_client.read_page(grpcclient, client, png_bytes(page))]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for (page, lines), got in zip(pages, pool.map(read, [p for p, _ in pages])):
            assert got == lines


def test_the_ocr_pipeline_answers_a_page_without_text_with_nothing(examples):
    assert ocr_client.read_page(httpclient, examples, png_bytes(Image.new("RGB", (320, 200), "white"))) == []


def test_the_ocr_pipeline_refuses_a_corrupt_image_with_400(examples):
    from support import expect_server_error
    inp = httpclient.InferInput("IMAGE", [1], "BYTES")
    inp.set_data_from_numpy(np.array([b"\x89PNG\r\n\x1a\n not really"], dtype=np.object_))
    expect_server_error(examples.infer, "ocr", [inp], status=400,
                        contains=["in ensemble 'ocr', ", "IMAGE is not an image", "(step 0, model 'ocr_preprocess')"])
    assert examples.is_model_ready("ocr")


def test_ocr_client_pipeline_prints_each_line_with_its_box(examples_server, tmp_path):
    page = tmp_path / "page.png"
    ocr_client.render_page(["inferd 2026", "Hello World"]).save(page)
    out = subprocess.run([sys.executable, str(CLIENTS / "ocr_client.py"), "-u", examples_server.url, "--pipeline",
                          str(page)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().split("\n")
    assert [line.split("\t")[0] for line in lines] == ["inferd 2026", "Hello World"]
    assert all(line.split("\t")[1].startswith("[") for line in lines)


def test_text_direction_classifies_upside_down_text(examples, tmp_path):
    upright = ocr_client.render("inferd 2026")
    results = []
    for img in (upright, upright.rotate(180)):
        a = np.asarray(img.resize((192, 48)), dtype=np.float32) / 255.0
        x = ((a - 0.5) / 0.5).transpose(2, 0, 1)[None]
        inp = httpclient.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        out = httpclient.InferRequestedOutput("softmax_0.tmp_0", class_count=1)
        top = examples.infer("text_direction", [inp], outputs=[out]).as_numpy("softmax_0.tmp_0")
        results.append(top.reshape(-1)[0].decode().split(":")[2])
    assert results == ["0", "180"]


def test_image_client_prints_triton_format(examples_server, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    img = ocr_client.render("inferd 2026")
    img.save(folder / "a_upright.png")
    img.rotate(180).save(folder / "b_flipped.png")
    out = subprocess.run([sys.executable, str(CLIENTS / "image_client.py"), "-m", "text_direction", "-c", "1",
                          "-s", "INCEPTION", "-b", "2", "-u", examples_server.url, str(folder)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "Request 1, batch size 2"
    assert lines[1] == f"Image '{folder / 'a_upright.png'}':"
    assert lines[2].strip().endswith("(0) = 0")
    assert lines[3] == f"Image '{folder / 'b_flipped.png'}':"
    assert lines[4].strip().endswith("(1) = 180")


def _onnx_model(repo, name, config=None, source="digits"):
    d = Path(repo) / name
    (d / "1").mkdir(parents=True)
    shutil.copyfile(model_file(source), d / "1" / "model.onnx")
    if config is not None:
        (d / "config.pbtxt").write_text(config)
    return d


def test_auto_complete_fills_a_missing_config(start_server, make_repo):
    repo = make_repo()
    _onnx_model(repo, "bare")  # no config.pbtxt at all
    _onnx_model(repo, "partial", 'platform: "onnxruntime_onnx"\n')  # no inputs, outputs, batch size
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    for name in ("bare", "partial"):
        config = c.get_model_config(name)
        assert config["backend"] == "onnxruntime"
        assert int(config["max_batch_size"]) == 4  # Triton's default for a model that can batch
        assert [(i["name"], i["data_type"], [int(d) for d in i["dims"]]) for i in config["input"]] == \
            [("pixels", "TYPE_FP32", [64])]
        assert [(o["name"], [int(d) for d in o["dims"]]) for o in config["output"]] == [("probabilities", [10])]
        x = np.zeros((2, 64), np.float32)
        assert infer(c, name, "pixels", x, "probabilities").shape == (2, 10)


def test_auto_completed_config_reads_back_as_tritons(start_server, make_repo):
    # Triton's server-side fields (platform, model file, pinned memory, two CPU
    # instances for ONNX Runtime, preferred_batch_size) as its L0_model_config expects.
    repo = make_repo()
    _onnx_model(repo, "bare")
    _onnx_model(repo, "grouped", 'instance_group [{ kind: KIND_CPU }, { count: 1 }]\n')
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    config = c.get_model_config("bare")
    assert (config["platform"], config["backend"], config["default_model_filename"]) == \
        ("onnxruntime_onnx", "onnxruntime", "model.onnx")
    assert [(g["name"], g["kind"], g["count"]) for g in config["instance_group"]] == [("bare", "KIND_CPU", 2)]
    assert config["dynamic_batching"]["preferred_batch_size"] == [4]
    assert config["optimization"]["input_pinned_memory"] == {"enable": True}
    assert config["optimization"]["output_pinned_memory"] == {"enable": True}
    groups = c.get_model_config("grouped")["instance_group"]
    assert [(g["name"], g["kind"], g["count"]) for g in groups] == \
        [("grouped_0", "KIND_CPU", 2), ("grouped_1", "KIND_CPU", 1)]
    # Three instances in all, each serving.
    x = np.zeros((1, 64), np.float32)
    for _ in range(3):
        assert infer(c, "grouped", "pixels", x, "probabilities").shape == (1, 10)


def _shapeless_identity(path):
    """An identity model whose input and output carry no shape (Triton's
    gen_qa_ort_scalar_models.py): ONNX Runtime takes any shape."""
    import onnx  # noqa: PLC0415  (only these tests build ONNX models by hand)
    from onnx import TensorProto, helper  # noqa: PLC0415
    graph = helper.make_graph([helper.make_node("Identity", ["INPUT"], ["OUTPUT"])], "scalar",
                              [helper.make_tensor_value_info("INPUT", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("OUTPUT", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True)
    onnx.save(model, str(path))


def _io_config(name, dims):
    return (f'name: "{name}"\nplatform: "onnxruntime_onnx"\n'
            f'input [{{ name: "INPUT" data_type: TYPE_FP32 dims: {dims} }}]\n'
            f'output [{{ name: "OUTPUT" data_type: TYPE_FP32 dims: {dims} }}]\n')


def test_tensors_without_shape_take_dims_of_ones(start_server, make_repo):
    # Triton's L0_scalar_io: config dims [1] and [1, 1] on shapeless tensors
    # load and serve; other dims are refused in Triton's words.
    repo = make_repo()
    for name, dims in (("one", "[1]"), ("one_one", "[1, 1]"), ("two", "[2]")):
        _shapeless_identity(Path(repo) / name / "1" / "model.onnx")
        (Path(repo) / name / "config.pbtxt").write_text(_io_config(name, dims))
    srv = start_server([repo], ["--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    for name, shape in (("one", (1,)), ("one_one", (1, 1))):
        x = np.full(shape, 7.5, np.float32)
        np.testing.assert_array_equal(infer(c, name, "INPUT", x, "OUTPUT"), x)
    (entry,) = index_entries(c, "two")
    assert "scalar tensor 'INPUT', should only provide 1 in the model configuration" in entry["reason"], entry


def test_auto_complete_refusals_use_tritons_words(start_server, make_repo):
    repo = make_repo()
    # digits batches ([-1, 64]); a shapeless model cannot.
    _shapeless_identity(Path(repo) / "no_batch" / "1" / "model.onnx")
    (Path(repo) / "no_batch" / "config.pbtxt").write_text('max_batch_size: 8\n')
    _onnx_model(repo, "extra_input", 'max_batch_size: 8\ninput [{ name: "pixels" data_type: TYPE_FP32 '
                'dims: [64] }, { name: "more" data_type: TYPE_FP32 dims: [1] }]\n'
                'output [{ name: "probabilities" data_type: TYPE_FP32 dims: [10] }]\n')
    _onnx_model(repo, "wide_output", 'max_batch_size: 8\n'
                'output [{ name: "probabilities" data_type: TYPE_FP32 dims: [-1] }]\n')
    srv = start_server([repo], ["--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    reasons = {e["name"]: e.get("reason", "") for e in c.get_model_repository_index()}
    assert ("autofill failed for model 'no_batch': model does not support batching while non-zero "
            "max_batch_size is specified") in reasons["no_batch"]
    assert "unable to load model 'extra_input', configuration expects 2 inputs, model provides 1" \
        in reasons["extra_input"]
    # An output's dims must be the model's exactly ([-1] where the model says 10).
    assert "tensor 'probabilities': the model expects 2 dimensions (shape [-1,10])" in reasons["wide_output"]


@pytest.mark.parametrize("flags, expected", [
    (["--backend-config=onnxruntime,default-max-batch-size=8"], 8),
    (["--backend-config=default-max-batch-size=16"], 16),  # for every backend
    # The backend's own setting comes before the one for every backend.
    (["--backend-config=default-max-batch-size=16", "--backend-config=onnxruntime,default-max-batch-size=2"], 2),
    (["--backend-config=identity,default-max-batch-size=16"], 4),  # another backend's
    (["--backend-config=onnxruntime,default-max-batch-size=0"], 0),  # batching off
])
def test_backend_config_sets_the_auto_complete_batch_size(start_server, make_repo, flags, expected):
    repo = make_repo()
    _onnx_model(repo, "bare")
    # A config's own max_batch_size comes first.
    _onnx_model(repo, "own", 'platform: "onnxruntime_onnx" max_batch_size: 3\n')
    srv = start_server([repo], flags)
    c = httpclient.InferenceServerClient(srv.url)
    config = c.get_model_config("bare")
    assert config["max_batch_size"] == expected
    assert ("dynamic_batching" in config) == (expected > 0)
    assert c.get_model_config("own")["max_batch_size"] == 3
    # Without batching the model's own first dimension stays in the dims.
    expected_dims = [64] if expected else [-1, 64]
    assert [int(d) for d in config["input"][0]["dims"]] == expected_dims
    x = np.zeros((1, 64), np.float32)
    assert infer(c, "bare", "pixels", x, "probabilities").shape == (1, 10)


def test_bad_backend_config_value_fails_the_load_naming_it(start_server, make_repo):
    repo = make_repo()
    _onnx_model(repo, "bare")
    srv = start_server([repo], ["--backend-config=onnxruntime,intra_op_thread_count=many",
                                "--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    assert not c.is_model_ready("bare")
    (entry,) = index_entries(c, "bare")
    assert "intra_op_thread_count" in entry["reason"] and "many" in entry["reason"]


def test_spinning_of_onnxruntime_threads_is_a_session_parameter(start_server, make_repo):
    # ONNX Runtime's own entry names; 0 and 1 only, anything else fails that model's load.
    repo = make_repo()
    spin = 'platform: "onnxruntime_onnx"\nparameters {{ key: "session.intra_op.allow_spinning" value {{ string_value: "{}" }} }}\n'
    _onnx_model(repo, "calm", spin.format("0"))
    _onnx_model(repo, "spinning", spin.format("1") + spin.format("1").splitlines()[1].replace("intra_op", "inter_op"))
    _onnx_model(repo, "unclear", spin.format("maybe"))
    srv = start_server([repo], ["--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    assert c.is_model_ready("calm") and c.is_model_ready("spinning")
    x = np.zeros((1, 64), np.float32)
    assert infer(c, "calm", "pixels", x, "probabilities").shape == (1, 10)
    assert not c.is_model_ready("unclear")
    (entry,) = index_entries(c, "unclear")
    assert "session.intra_op.allow_spinning" in entry["reason"] and "must be 0 or 1" in entry["reason"]


def test_instances_can_share_one_session_as_the_parameter_asks(start_server, make_repo):
    # share_session_between_instances: one session per device for all of a
    # model's instances, which run it concurrently; true/false or 1/0, any
    # case, anything else fails that model's load naming the parameter.
    repo = make_repo()
    share = ('platform: "onnxruntime_onnx"\ninstance_group [{{ count: 3 kind: KIND_CPU }}]\n'
             'parameters {{ key: "share_session_between_instances" value {{ string_value: "{}" }} }}\n')
    _onnx_model(repo, "shared", share.format("True"))
    _onnx_model(repo, "separate", share.format("0"))
    _onnx_model(repo, "unclear", share.format("sometimes"))
    srv = start_server([repo], ["--strict-readiness=false", "--log-verbose=1"])
    c = httpclient.InferenceServerClient(srv.url, concurrency=8)
    rng = np.random.default_rng(5)
    inputs = [rng.random((1, 64), dtype=np.float32) for _ in range(24)]
    expected = [reference("digits", {"pixels": x})[0] for x in inputs]
    for model in ("shared", "separate"):
        pending = []
        for x in inputs:
            inp = httpclient.InferInput("pixels", [1, 64], "FP32")
            inp.set_data_from_numpy(x)
            pending.append(c.async_infer(model, [inp]))
        for want, p in zip(expected, pending):
            np.testing.assert_allclose(p.get_result().as_numpy("probabilities"), want, rtol=1e-5, atol=1e-6)
    log = srv.log_text()
    assert log.count("shares its device's session") == 2, log  # instances 2 and 3 of "shared"
    assert not c.is_model_ready("unclear")
    (entry,) = index_entries(c, "unclear")
    assert "share_session_between_instances" in entry["reason"] and "must be true or false" in entry["reason"]


def test_spinning_after_a_run_is_a_session_parameter(start_server, make_repo):
    # session.force_spinning_stop is on unless a config turns it off; 0 and 1 only.
    repo = make_repo()
    stop = 'platform: "onnxruntime_onnx"\nparameters {{ key: "session.force_spinning_stop" value {{ string_value: "{}" }} }}\n'
    _onnx_model(repo, "keeps_spinning", stop.format("0"))
    _onnx_model(repo, "stops", stop.format("1"))
    _onnx_model(repo, "unclear", stop.format("-1"))
    srv = start_server([repo], ["--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    x = np.zeros((1, 64), np.float32)
    for model in ("keeps_spinning", "stops"):
        assert infer(c, model, "pixels", x, "probabilities").shape == (1, 10)
    assert not c.is_model_ready("unclear")
    (entry,) = index_entries(c, "unclear")
    assert "session.force_spinning_stop" in entry["reason"] and "must be 0 or 1" in entry["reason"]


def test_auto_complete_disabled_needs_a_config(start_server, make_repo):
    repo = make_repo()
    _onnx_model(repo, "bare")
    srv = start_server([repo], ["--disable-auto-complete-config"])
    c = httpclient.InferenceServerClient(srv.url)
    assert not c.is_model_ready("bare")
    (entry,) = index_entries(c, "bare")
    assert entry["state"] == "UNAVAILABLE" and "config.pbtxt" in entry["reason"]


MISMATCHES = {
    # name: (config body after the platform line, words the reason must contain)
    "wrong_type": ('max_batch_size: 8\ninput [{ name: "pixels" data_type: TYPE_INT32 dims: [64] }]\n'
                   'output [{ name: "probabilities" data_type: TYPE_FP32 dims: [10] }]',
                   ["pixels", "TYPE_INT32", "TYPE_FP32"]),
    "wrong_name": ('max_batch_size: 8\ninput [{ name: "image" data_type: TYPE_FP32 dims: [64] }]\n'
                   'output [{ name: "probabilities" data_type: TYPE_FP32 dims: [10] }]',
                   ["image", "pixels"]),
    "wrong_dims": ('max_batch_size: 8\ninput [{ name: "pixels" data_type: TYPE_FP32 dims: [65] }]\n'
                   'output [{ name: "probabilities" data_type: TYPE_FP32 dims: [10] }]',
                   ["pixels", "[-1,65]", "[-1,64]"]),
    "bad_reshape": ('max_batch_size: 8\ninput [{ name: "pixels" data_type: TYPE_FP32 dims: [8, 8] '
                    'reshape { shape: [32] } }]\noutput [{ name: "probabilities" data_type: TYPE_FP32 dims: [10] }]',
                    ["pixels", "reshape"]),
    "no_gpu_build": ('max_batch_size: 8\noptimization { execution_accelerators { gpu_execution_accelerator: '
                     '[{ name: "tensorrt" }] } }', ["tensorrt", "not available in this build"]),
    "no_openvino": ('max_batch_size: 8\noptimization { execution_accelerators { cpu_execution_accelerator: '
                    '[{ name: "openvino" }] } }', ["openvino", "not available in this build"]),
    "bad_param": ('max_batch_size: 8\nparameters { key: "intra_op_thread_count" value { string_value: "many" } }',
                  ["intra_op_thread_count", "many"]),
}


def test_config_model_mismatches_fail_only_that_model(start_server, make_repo):
    repo = make_repo()
    _onnx_model(repo, "good", 'platform: "onnxruntime_onnx"\nmax_batch_size: 8\n')
    for name, (body, _) in MISMATCHES.items():
        _onnx_model(repo, name, f'platform: "onnxruntime_onnx"\n{body}\n')
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    for name, (_, words) in MISMATCHES.items():
        (entry,) = index_entries(c, name)
        assert entry["state"] == "UNAVAILABLE", name
        for w in words:
            assert w.lower() in entry["reason"].lower(), (name, w, entry["reason"])
    assert infer(c, "good", "pixels", np.zeros((1, 64), np.float32), "probabilities").shape == (1, 10)


def test_onnx_runtime_telemetry_never_contacts_the_network(inferd_bin, tmp_path):
    """ONNX Runtime 1.30's Linux library starts telemetry that resolves and
    uploads to an outside endpoint; inferd turns it off (ORT_DISABLE_TELEMETRY,
    set in main()). Under strace, a server that loaded an ONNX model and ran it
    makes no network connection but to loopback and local sockets (without the
    setting it connects to the DNS server as the library starts)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is missing: scripts/setup installs it")
    model_file("digits")
    repo = tmp_path / "models"
    shutil.copytree(EXAMPLES / "digits", repo / "digits")
    trace = tmp_path / "connect.trace"
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    log = open(tmp_path / "strace-inferd.log", "wb")
    proc = subprocess.Popen([strace, "-f", "-e", "trace=connect", "-o", str(trace), str(inferd_bin),
                             f"--model-repository={repo}", f"--http-port={port}", "--http-address=127.0.0.1",
                             f"--grpc-port={grpc_port}", "--grpc-address=127.0.0.1",
                             f"--metrics-port={metrics_port}"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_http(proc, tmp_path / "strace-inferd.log", [(f"127.0.0.1:{port}", "/v2/models/digits/ready")])
        client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        pixels = np.zeros((1, 64), np.float32)
        assert infer(client, "digits", "pixels", pixels, "probabilities").shape == (1, 10)
        client.close()
        time.sleep(2)  # the library's telemetry, when on, connects within the first second
    finally:
        # SIGTERM to inferd itself (strace would detach and leave it running), then strace exits with it.
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            for child in (task / "children").read_text().split():
                os.kill(int(child), signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    outside = [line for line in trace.read_text().splitlines()
               if "connect(" in line and "AF_INET" in line and "127.0.0.1" not in line and "::1" not in line]
    assert outside == [], "\n".join(outside[:5])
