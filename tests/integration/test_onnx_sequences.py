"""Sequence batching on a real ONNX model (issue 13): ONNX Runtime runs a
running sum kept in implicit state, with the START and CORRID controls the
sequence batcher supplies. The model file has inputs the config does not
list (controls, state), which the onnxruntime backend must accept and feed;
both strategies, interleaved sequences, and CORRID carrying the sequence id."""

import numpy as np
import onnx
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from onnx import TensorProto, helper

from support import InferdServer, write_model

pytestmark = pytest.mark.onnxruntime


def accumulator_onnx(path):
    """OUTPUT = STATE_IN * (1 - START) + INPUT; STATE_OUT = OUTPUT; CORR_OUT = CORRID."""
    def tensor(name, elem):
        return helper.make_tensor_value_info(name, elem, ["batch", 1])
    inputs = [tensor("INPUT", TensorProto.INT32), tensor("START", TensorProto.INT32),
              tensor("CORRID", TensorProto.UINT64), tensor("STATE_IN", TensorProto.INT32)]
    outputs = [tensor("OUTPUT", TensorProto.INT32), tensor("STATE_OUT", TensorProto.INT32),
               tensor("CORR_OUT", TensorProto.UINT64)]
    one = helper.make_tensor("one", TensorProto.INT32, [1], [1])
    nodes = [
        helper.make_node("Sub", ["one", "START"], ["keep"]),
        helper.make_node("Mul", ["STATE_IN", "keep"], ["kept"]),
        helper.make_node("Add", ["kept", "INPUT"], ["OUTPUT"]),
        helper.make_node("Identity", ["OUTPUT"], ["STATE_OUT"]),
        helper.make_node("Identity", ["CORRID"], ["CORR_OUT"]),
    ]
    graph = helper.make_graph(nodes, "accumulator", inputs, outputs, [one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def config(name, strategy):
    return f"""
name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: 2
input [{{ name: "INPUT" data_type: TYPE_INT32 dims: [1] }}]
output [{{ name: "OUTPUT" data_type: TYPE_INT32 dims: [1] }},
        {{ name: "CORR_OUT" data_type: TYPE_UINT64 dims: [1] }}]
sequence_batching {{
  {strategy}
  control_input [
    {{ name: "START" control [{{ kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] }}] }},
    {{ name: "CORRID" control [{{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 }}] }}
  ]
  state [{{ input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_INT32 dims: [1]
            initial_state [{{ name: "zero" data_type: TYPE_INT32 dims: [1] zero_data: true }}] }}]
}}
"""


@pytest.fixture(scope="module")
def seq_server(inferd_bin, tmp_path_factory):
    repo = tmp_path_factory.mktemp("onnx_sequences")
    for name, strategy in (("acc_direct", "direct { }"), ("acc_oldest", "oldest { max_candidate_sequences: 4 }")):
        d = write_model(repo, name, config(name, strategy))
        accumulator_onnx(d / "1" / "model.onnx")
    with InferdServer(inferd_bin, [repo], log_dir=repo, tag="onnx_sequences") as srv:
        yield srv


def step(client, module, model, seq_id, value, start=False, end=False):
    inp = module.InferInput("INPUT", [1, 1], "INT32")
    inp.set_data_from_numpy(np.array([[value]], np.int32))
    res = client.infer(model, [inp], sequence_id=seq_id, sequence_start=start, sequence_end=end)
    return int(res.as_numpy("OUTPUT")[0][0]), int(res.as_numpy("CORR_OUT")[0][0])


@pytest.mark.parametrize("model", ["acc_direct", "acc_oldest"])
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_interleaved_sequences_keep_their_own_state(seq_server, model, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(seq_server.url if protocol == "http" else seq_server.grpc_url)
    a, b = 1001, 2002
    assert step(client, module, model, a, 5, start=True) == (5, a)
    assert step(client, module, model, b, 100, start=True) == (100, b)
    assert step(client, module, model, a, 7) == (12, a)
    assert step(client, module, model, b, 1) == (101, b)
    assert step(client, module, model, a, -2, end=True) == (10, a)
    # A new sequence under the same id starts from the initial state again.
    assert step(client, module, model, a, 3, start=True, end=True) == (3, a)
    assert step(client, module, model, b, 0, end=True) == (101, b)
