"""Model repositories for Triton's client examples (src/python/examples/).

Triton's examples run against docs/examples/model_repository, whose models are
TensorFlow GraphDef/SavedModel files (and a custom backend for
simple_string_dyna_sequence). Each is rebuilt here as ONNX with the same names,
tensors, data types, shapes and results the examples check:

* simple / simple_string / simple_int8: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1
  (simple_string on decimal numbers held in BYTES: ONNX Cast STRING <-> INT32).
* simple_identity: BYTES identity, on Triton's `identity` backend (inferd ships one;
  ONNX Runtime strings cannot hold the NUL the string examples send).
* simple_sequence: OUTPUT = READY * (INPUT + START) -- what the examples expect of
  Triton's graphdef model (1 and 101 for the first requests of sequences starting
  with 0 and 100, then each input back).
* simple_dyna_sequence: OUTPUT = READY * (INPUT + START + END * CORRID), as
  gen_qa_dyna_sequence_models.py builds it for ONNX.
* simple_string_dyna_sequence: Triton's dyna_sequence test backend (an
  accumulator restarted by START, plus CORRID on END, with a TYPE_STRING CORRID),
  written as an ONNX model with implicit state.
* repeat_int32: Triton's `repeat` test backend, which inferd ships, with the
  config of Triton's src/test/models/repeat_int32.
* custom_identity_int32: Triton's `identity` backend (inferd ships one), config as
  Triton's QA writes it.
* densenet_onnx: a stand-in with DenseNet's interface (data_0 [3,224,224] ->
  fc6_1 [1000], reshapes, labels) but a tiny random graph: the image examples
  exercise the protocol and the classification extension, not accuracy.
* inception_graphdef: a stand-in with Inception's interface (input [299,299,3] NHWC ->
  InceptionV3/Predictions/Softmax [1001]) and a tiny random ONNX graph. Triton's
  qa/L0_http and qa/L0_grpc repositories hold it, and the model-control examples
  and the aio QA tests count the repository index (and need every model READY).
"""

import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 13
IR_VERSION = 8


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def write_model(repo, name, config, graph=None, files=None):
    """repo/name/config.pbtxt, repo/name/1/ (with model.onnx when graph is given)."""
    d = Path(repo) / name
    (d / "1").mkdir(parents=True, exist_ok=True)
    (d / "config.pbtxt").write_text(config.strip() + "\n")
    if graph is not None:
        _save(graph, d / "1" / "model.onnx")
    for fname, content in (files or {}).items():
        (d / fname).write_text(content)
    return d


# --------------------------------------------------------------------------- graphs

def add_sub_graph(elem):
    """INPUT0, INPUT1 [batch, 16] -> OUTPUT0 = sum, OUTPUT1 = difference, in `elem`."""
    io = [_vi(n, elem, ["batch", 16]) for n in ("INPUT0", "INPUT1")]
    out = [_vi(n, elem, ["batch", 16]) for n in ("OUTPUT0", "OUTPUT1")]
    nodes = []
    a, b = "INPUT0", "INPUT1"
    if elem != TensorProto.INT32:  # STRING and INT8: compute in INT32
        nodes += [helper.make_node("Cast", ["INPUT0"], ["a"], to=TensorProto.INT32),
                  helper.make_node("Cast", ["INPUT1"], ["b"], to=TensorProto.INT32)]
        a, b = "a", "b"
    nodes += [helper.make_node("Add", [a, b], ["sum"]), helper.make_node("Sub", [a, b], ["diff"])]
    if elem != TensorProto.INT32:
        nodes += [helper.make_node("Cast", ["sum"], ["OUTPUT0"], to=elem),
                  helper.make_node("Cast", ["diff"], ["OUTPUT1"], to=elem)]
    else:
        nodes += [helper.make_node("Identity", ["sum"], ["OUTPUT0"]),
                  helper.make_node("Identity", ["diff"], ["OUTPUT1"])]
    return helper.make_graph(nodes, "add_sub", io, out)


def sequence_graph():
    """simple_sequence: OUTPUT = READY * (INPUT + START)."""
    shape = ["batch", 1]
    ins = [_vi(n, TensorProto.INT32, shape) for n in ("INPUT", "START", "READY")]
    nodes = [helper.make_node("Add", ["INPUT", "START"], ["s"]),
             helper.make_node("Mul", ["READY", "s"], ["OUTPUT"])]
    return helper.make_graph(nodes, "simple_sequence", ins, [_vi("OUTPUT", TensorProto.INT32, shape)])


def dyna_sequence_graph():
    """simple_dyna_sequence: OUTPUT = READY * (INPUT + START + END * CORRID)."""
    shape = ["batch", 1]
    ins = [_vi(n, TensorProto.INT32, shape) for n in ("INPUT", "START", "END", "READY")]
    ins.append(_vi("CORRID", TensorProto.UINT64, shape))
    nodes = [helper.make_node("Cast", ["CORRID"], ["corrid"], to=TensorProto.INT32),
             helper.make_node("Mul", ["END", "corrid"], ["end_corrid"]),
             helper.make_node("Add", ["INPUT", "START"], ["s0"]),
             helper.make_node("Add", ["s0", "end_corrid"], ["s1"]),
             helper.make_node("Mul", ["READY", "s1"], ["OUTPUT"])]
    return helper.make_graph(nodes, "simple_dyna_sequence", ins, [_vi("OUTPUT", TensorProto.INT32, shape)])


def string_dyna_sequence_graph():
    """simple_string_dyna_sequence, as Triton's dyna_sequence backend computes it:
    acc = (START ? 0 : acc) + INPUT + (END ? int(CORRID) : 0); OUTPUT = acc (READY=1)."""
    shape = ["batch", 1]
    ins = [_vi(n, TensorProto.INT32, shape) for n in ("INPUT", "START", "END", "READY")]
    ins += [_vi("CORRID", TensorProto.STRING, shape), _vi("STATE_IN", TensorProto.INT32, shape)]
    outs = [_vi("OUTPUT", TensorProto.INT32, shape), _vi("STATE_OUT", TensorProto.INT32, shape)]
    one = helper.make_tensor("one", TensorProto.INT32, [1], [1])
    nodes = [
        helper.make_node("Cast", ["CORRID"], ["corrid"], to=TensorProto.INT32),
        helper.make_node("Sub", ["one", "START"], ["keep"]),
        helper.make_node("Mul", ["STATE_IN", "keep"], ["kept"]),
        helper.make_node("Add", ["kept", "INPUT"], ["acc0"]),
        helper.make_node("Mul", ["END", "corrid"], ["end_corrid"]),
        helper.make_node("Add", ["acc0", "end_corrid"], ["acc"]),
        # not-READY slots keep their state and answer 0
        helper.make_node("Mul", ["READY", "acc"], ["OUTPUT"]),
        helper.make_node("Sub", ["one", "READY"], ["idle"]),
        helper.make_node("Mul", ["idle", "STATE_IN"], ["held"]),
        helper.make_node("Add", ["OUTPUT", "held"], ["STATE_OUT"]),
    ]
    return helper.make_graph(nodes, "simple_string_dyna_sequence", ins, outs, [one])


def densenet_standin_graph(seed=0):
    """data_0 [1,3,224,224] -> GlobalAveragePool -> [1,3] x W[3,1000] -> fc6_1 [1,1000,1,1]."""
    rng = np.random.default_rng(seed)
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 1000],
                           rng.standard_normal((3, 1000)).astype(np.float32).ravel().tolist())
    flat = helper.make_tensor("flat", TensorProto.INT64, [2], [1, 3])
    out_shape = helper.make_tensor("out_shape", TensorProto.INT64, [4], [1, 1000, 1, 1])
    nodes = [helper.make_node("GlobalAveragePool", ["data_0"], ["pooled"]),
             helper.make_node("Reshape", ["pooled", "flat"], ["v"]),
             helper.make_node("MatMul", ["v", "w"], ["logits"]),
             helper.make_node("Reshape", ["logits", "out_shape"], ["fc6_1"])]
    return helper.make_graph(nodes, "densenet_standin",
                             [_vi("data_0", TensorProto.FLOAT, [1, 3, 224, 224])],
                             [_vi("fc6_1", TensorProto.FLOAT, [1, 1000, 1, 1])], [w, flat, out_shape])


def inception_standin_graph(seed=1):
    """input [batch,299,299,3] -> mean over H,W -> [batch,3] x W[3,1001] -> Softmax."""
    rng = np.random.default_rng(seed)
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 1001],
                           rng.standard_normal((3, 1001)).astype(np.float32).ravel().tolist())
    out = "InceptionV3/Predictions/Softmax"
    nodes = [helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[1, 2], keepdims=0),
             helper.make_node("MatMul", ["pooled", "w"], ["logits"]),
             helper.make_node("Softmax", ["logits"], [out], axis=-1)]
    return helper.make_graph(nodes, "inception_standin",
                             [_vi("input", TensorProto.FLOAT, ["batch", 299, 299, 3])],
                             [_vi(out, TensorProto.FLOAT, ["batch", 1001])], [w])


# --------------------------------------------------------------------------- configs

def add_sub_config(name, dtype):
    def tensors(base):
        return ",\n".join(f'  {{ name: "{base}{i}" data_type: {dtype} dims: [ 16 ] }}' for i in (0, 1))
    return (f'name: "{name}"\nbackend: "onnxruntime"\nmax_batch_size: 8\n'
            f"input [\n{tensors('INPUT')}\n]\noutput [\n{tensors('OUTPUT')}\n]\n")


# Triton's identity backend, which inferd ships: ONNX Runtime cannot hold a string
# with an embedded NUL (microsoft/onnxruntime#2284; Triton's own L0_nullchar_string
# leaves ONNX out for it), and simple_*_string_infer_client.py sends "he\x00llo".
SIMPLE_IDENTITY_CONFIG = """
name: "simple_identity"
backend: "identity"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ -1 ] } ]
"""

SIMPLE_SEQUENCE_CONFIG = """
name: "simple_sequence"
backend: "onnxruntime"
max_batch_size: 8
sequence_batching {
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] } ] }
  ]
}
input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
instance_group [ { kind: KIND_CPU } ]
"""


def dyna_sequence_config(name, corrid_type, state=""):
    return f"""
name: "{name}"
backend: "onnxruntime"
max_batch_size: 8
sequence_batching {{
  max_sequence_idle_microseconds: 10000000
  oldest {{ max_candidate_sequences: 1024 max_queue_delay_microseconds: 10000 }}
  control_input [
    {{ name: "START" control [ {{ kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] }} ] }},
    {{ name: "END" control [ {{ kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] }} ] }},
    {{ name: "READY" control [ {{ kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] }} ] }},
    {{ name: "CORRID" control [ {{ kind: CONTROL_SEQUENCE_CORRID data_type: {corrid_type} }} ] }}
  ]
  {state}
}}
input [ {{ name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] }} ]
output [ {{ name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] }} ]
instance_group [ {{ count: 2 kind: KIND_CPU }} ]
"""


ACCUMULATOR_STATE = """state [ { input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_INT32 dims: [ 1 ]
            initial_state [ { name: "zero" data_type: TYPE_INT32 dims: [ 1 ] zero_data: true } ] } ]"""

# Triton's src/test/models/repeat_int32/config.pbtxt (r24.10).
REPEAT_INT32_CONFIG = """
name: "repeat_int32"
backend: "repeat"
max_batch_size: 0
model_transaction_policy { decoupled: True }
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

# As Triton's qa/L0_trace/test.sh writes it (less its tracing parameters).
CUSTOM_IDENTITY_INT32_CONFIG = """
name: "custom_identity_int32"
backend: "identity"
max_batch_size: 1024
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU } ]
"""

# docs/examples/model_repository/densenet_onnx/config.pbtxt
DENSENET_CONFIG = """
name: "densenet_onnx"
platform: "onnxruntime_onnx"
max_batch_size : 0
input [
  {
    name: "data_0"
    data_type: TYPE_FP32
    format: FORMAT_NCHW
    dims: [ 3, 224, 224 ]
    reshape { shape: [ 1, 3, 224, 224 ] }
  }
]
output [
  {
    name: "fc6_1"
    data_type: TYPE_FP32
    dims: [ 1000 ]
    reshape { shape: [ 1, 1000, 1, 1 ] }
    label_filename: "densenet_labels.txt"
  }
]
"""

# docs/examples/model_repository/inception_graphdef/config.pbtxt, on ONNX Runtime.
INCEPTION_GRAPHDEF_CONFIG = """
name: "inception_graphdef"
platform: "onnxruntime_onnx"
max_batch_size: 128
input [ { name: "input" data_type: TYPE_FP32 format: FORMAT_NHWC dims: [ 299, 299, 3 ] } ]
output [ { name: "InceptionV3/Predictions/Softmax" data_type: TYPE_FP32 dims: [ 1001 ]
           label_filename: "inception_labels.txt" } ]
"""


# --------------------------------------------------------------------------- repositories

def _densenet_labels(server_repo):
    if server_repo:
        f = Path(server_repo) / "docs/examples/model_repository/densenet_onnx/densenet_labels.txt"
        if f.is_file():
            return f.read_text()
    return "".join(f"CLASS_{i}\n" for i in range(1000))


BUILDERS = {
    "simple": lambda repo, _: write_model(repo, "simple", add_sub_config("simple", "TYPE_INT32"),
                                          add_sub_graph(TensorProto.INT32)),
    "simple_string": lambda repo, _: write_model(repo, "simple_string",
                                                 add_sub_config("simple_string", "TYPE_STRING"),
                                                 add_sub_graph(TensorProto.STRING)),
    "simple_int8": lambda repo, _: write_model(repo, "simple_int8",
                                               add_sub_config("simple_int8", "TYPE_INT8"),
                                               add_sub_graph(TensorProto.INT8)),
    "simple_identity": lambda repo, _: write_model(repo, "simple_identity", SIMPLE_IDENTITY_CONFIG),
    "simple_sequence": lambda repo, _: write_model(repo, "simple_sequence", SIMPLE_SEQUENCE_CONFIG,
                                                   sequence_graph()),
    "simple_dyna_sequence": lambda repo, _: write_model(
        repo, "simple_dyna_sequence", dyna_sequence_config("simple_dyna_sequence", "TYPE_UINT64"),
        dyna_sequence_graph()),
    "simple_string_dyna_sequence": lambda repo, _: write_model(
        repo, "simple_string_dyna_sequence",
        dyna_sequence_config("simple_string_dyna_sequence", "TYPE_STRING", ACCUMULATOR_STATE),
        string_dyna_sequence_graph()),
    "repeat_int32": lambda repo, _: write_model(repo, "repeat_int32", REPEAT_INT32_CONFIG),
    "custom_identity_int32": lambda repo, _: write_model(repo, "custom_identity_int32",
                                                         CUSTOM_IDENTITY_INT32_CONFIG),
    "densenet_onnx": lambda repo, server_repo: write_model(
        repo, "densenet_onnx", DENSENET_CONFIG, densenet_standin_graph(),
        files={"densenet_labels.txt": _densenet_labels(server_repo)}),
    "inception_graphdef": lambda repo, _: write_model(
        repo, "inception_graphdef", INCEPTION_GRAPHDEF_CONFIG, inception_standin_graph(),
        files={"inception_labels.txt": "".join(f"CLASS_{i}\n" for i in range(1001))}),
}

# What the examples' sessions serve (see cases.py).
EXAMPLE_MODELS = ["simple", "simple_string", "simple_int8", "simple_identity", "simple_sequence",
                  "simple_dyna_sequence", "simple_string_dyna_sequence", "repeat_int32",
                  "custom_identity_int32", "densenet_onnx"]
# Triton's Dockerfile.QA fills qa/L0_http/models and qa/L0_grpc/models with these
# (test.sh adds simple_string_dyna_sequence); the model-control examples count them.
L0_HTTP_MODELS = ["simple", "simple_dyna_sequence", "simple_identity", "simple_sequence",
                  "simple_string", "inception_graphdef", "simple_string_dyna_sequence"]
L0_GRPC_MODELS = L0_HTTP_MODELS + ["simple_int8"]


def build_repository(repo, names, server_repo=None):
    repo = Path(repo)
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    for name in names:
        BUILDERS[name](repo, server_repo)
    return repo


def write_test_image(path):
    """A 256x256 RGB JPEG for the image examples (None when Pillow is missing)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    x = np.linspace(0, 255, 256, dtype=np.uint8)
    rgb = np.stack([np.tile(x, (256, 1)), np.tile(x[:, None], (1, 256)),
                    np.full((256, 256), 128, np.uint8)], axis=-1)
    Image.fromarray(rgb, "RGB").save(path, "JPEG")
    return Path(path)
