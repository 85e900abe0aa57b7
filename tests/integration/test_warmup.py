"""model_warmup: samples run on every instance before the model is READY; a
sample that cannot run fails that model's load with a reason."""

import numpy as np
import pytest
import tritonclient.http as httpclient

from support import REPO_ROOT, fp32_identity, index_entries, make_input, write_model

WARMUP_ZERO = """
model_warmup [{ name: "zeros" batch_size: 2 count: 2
  inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [4] zero_data: true } } }]"""


def test_warmup_runs_before_ready_and_is_not_counted(start_server, make_repo):
    repo = make_repo()
    write_model(repo, "warm", fp32_identity("warm", 8, extra=WARMUP_ZERO + "\ninstance_group [{ count: 2 }]"))
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    assert c.is_model_ready("warm")
    stats = c.get_inference_statistics("warm")["model_stats"][0]
    assert int(stats["execution_count"]) == 0  # warmup is not traffic
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(c.infer("warm", [make_input("INPUT0", x)]).as_numpy("OUTPUT0"), x)


@pytest.mark.onnxruntime
def test_random_warmup_on_onnxruntime(start_server, make_repo):
    repo = make_repo()
    d = write_model(repo, "digits", """
platform: "onnxruntime_onnx"
max_batch_size: 8
model_warmup [{ name: "random" batch_size: 8
  inputs { key: "pixels" value: { data_type: TYPE_FP32 dims: [64] random_data: true } } }]
""")
    (d / "1" / "model.onnx").write_bytes((REPO_ROOT / "examples/model_repository/digits/1/model.onnx").read_bytes())
    srv = start_server([repo])
    assert httpclient.InferenceServerClient(srv.url).is_model_ready("digits")


BROKEN = {
    # A sample the accumulator cannot run (no START): proves the sample really executes.
    "acc": ("""
backend: "accumulator"
max_batch_size: 0
input [{ name: "INPUT" data_type: TYPE_INT32 dims: [1] }]
output [{ name: "OUTPUT" data_type: TYPE_INT32 dims: [1] }]
model_warmup [{ name: "nostart" batch_size: 1
  inputs { key: "INPUT" value: { data_type: TYPE_INT32 dims: [1] zero_data: true } } }]
""", ["warmup 'nostart' failed", "never saw"]),
    "not_an_input": (fp32_identity("not_an_input", 8, extra="""
model_warmup [{ name: "w" batch_size: 1
  inputs { key: "NOPE" value: { data_type: TYPE_FP32 dims: [4] zero_data: true } } }]"""),
                     ["'nope' is not a model input"]),
    "too_big": (fp32_identity("too_big", 8, extra="""
model_warmup [{ name: "w" batch_size: 9
  inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [4] zero_data: true } } }]"""),
                ["batch_size' 9 exceeds max_batch_size 8"]),
    "no_file": (fp32_identity("no_file", 8, extra="""
model_warmup [{ name: "w" batch_size: 1
  inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [4] input_data_file: "missing.bin" } } }]"""),
                ["missing.bin"]),
}


def test_warmup_that_cannot_run_fails_the_load(start_server, make_repo):
    repo = make_repo()
    for name, (config, _) in BROKEN.items():
        write_model(repo, name, config if name != "acc" else f'name: "{name}"\n' + config)
    write_model(repo, "fine", fp32_identity("fine", 8, extra=WARMUP_ZERO))
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    for name, (_, words) in BROKEN.items():
        (entry,) = index_entries(c, name)
        assert entry["state"] == "UNAVAILABLE", name
        for w in words:
            assert w.lower() in entry["reason"].lower(), (name, entry["reason"])
    assert c.is_model_ready("fine")
