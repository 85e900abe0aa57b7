"""Ensembles (platform "ensemble"): Triton's ensemble configs run unchanged
through tritonclient over HTTP and gRPC. Chains, parallel steps that join,
pruned steps, a step's error, a decoupled step, nested ensembles, BYTES,
statistics of the ensemble and its steps, every load-time validation error,
and the lifecycle (composing models loaded first, unload_dependents, a
composing model reloaded under load)."""

import concurrent.futures
import json
import queue
import textwrap
import threading
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support import (SQUARE_CONFIG, expect_server_error, fp32_identity, identity_config, index_entries, stats_of,
                     write_model)

# Triton's python_backend add_sub example, batching.
ADD_SUB = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", a + b), pb_utils.Tensor("OUTPUT1", a - b)]))
        return responses
'''

ADD_SUB_CONFIG = '''
name: "add_sub"
backend: "python"
max_batch_size: 8
dynamic_batching { }
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [4] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [4] }]
'''

# Passes INPUT0 on; a negative value is refused with the model's own error.
CHECKER = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            if (x < 0).any():
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError("negative input")))
            else:
                responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUTPUT0", x)]))
        return responses
'''



# Triton's repeat backend: each value of IN comes back in a response of its own.
REPEAT_CONFIG = """
name: "repeat_int32"
backend: "repeat"
max_batch_size: 0
model_transaction_policy { decoupled: true }
input [{ name: "IN" data_type: TYPE_INT32 dims: [-1] }, { name: "DELAY" data_type: TYPE_UINT32 dims: [-1] }]
output [{ name: "OUT" data_type: TYPE_INT32 dims: [1] }, { name: "IDX" data_type: TYPE_UINT32 dims: [1] }]
"""


def ensemble_config(name, inputs, outputs, steps, max_batch_size=8, extra=""):
    """config.pbtxt of an ensemble. inputs/outputs: (name, TYPE_X, dims);
    steps: (model, {model input: ensemble tensor}, {model output: ensemble tensor})."""
    def tensors(kind, items):
        return f"{kind} [" + ", ".join(
            f'{{ name: "{n}" data_type: {t} dims: [{", ".join(str(d) for d in dims)}] }}' for n, t, dims in items) + "]\n"

    def mapping(kind, pairs):
        return "".join(f'{kind} {{ key: "{k}" value: "{v}" }} ' for k, v in pairs.items())

    text = f'name: "{name}"\nplatform: "ensemble"\nmax_batch_size: {max_batch_size}\n'
    text += tensors("input", inputs) + tensors("output", outputs)
    text += "ensemble_scheduling { step [\n" + ",\n".join(
        f'  {{ model_name: "{m}" model_version: -1 {mapping("input_map", i)}{mapping("output_map", o)}}}'
        for m, i, o in steps) + "\n] }\n"
    return text + textwrap.dedent(extra)


def python_model(repo, name, config, code):
    d = write_model(repo, name, config)
    (d / "1" / "model.py").write_text(textwrap.dedent(code))


FP = "TYPE_FP32"


def add_composing_models(repo):
    python_model(repo, "add_sub", ADD_SUB_CONFIG, ADD_SUB)
    python_model(repo, "checker", fp32_identity("checker", 8).replace('backend: "identity"', 'backend: "python"'),
                 CHECKER)
    write_model(repo, "id_a", fp32_identity("id_a", 8))
    write_model(repo, "id_b", fp32_identity("id_b", 8))
    write_model(repo, "id_int32", identity_config("id_int32", [("INPUT0", "TYPE_INT32", [1])]))
    write_model(repo, "id_bytes", identity_config("id_bytes", [("INPUT0", "TYPE_STRING", [-1])], max_batch_size=8))
    write_model(repo, "square_int32", SQUARE_CONFIG)
    write_model(repo, "repeat_int32", REPEAT_CONFIG)
    write_model(repo, "id_int32_batched", identity_config(
        "id_int32_batched", [("INPUT0", "TYPE_INT32", [1])], max_batch_size=8,
        extra="dynamic_batching { max_queue_delay_microseconds: 2000 }"))


def add_ensembles(repo):
    # Triton's docs example: one step, the ensemble's tensors named as the model's.
    write_model(repo, "ensemble_add_sub", ensemble_config(
        "ensemble_add_sub", [("INPUT0", FP, [4]), ("INPUT1", FP, [4])], [("OUTPUT0", FP, [4]), ("OUTPUT1", FP, [4])],
        [("add_sub", {"INPUT0": "INPUT0", "INPUT1": "INPUT1"}, {"OUTPUT0": "OUTPUT0", "OUTPUT1": "OUTPUT1"})]))
    write_model(repo, "chain3", ensemble_config(
        "chain3", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
        [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "t1"}),
         ("id_b", {"INPUT0": "t1"}, {"OUTPUT0": "t2"}),
         ("id_a", {"INPUT0": "t2"}, {"OUTPUT0": "OUTPUT"})]))
    # add_sub, then two parallel steps, then add_sub of their results:
    # (A+B) + (A-B) = 2A and (A+B) - (A-B) = 2B.
    write_model(repo, "diamond", ensemble_config(
        "diamond", [("A", FP, [4]), ("B", FP, [4])], [("TWICE_A", FP, [4]), ("TWICE_B", FP, [4])],
        [("add_sub", {"INPUT0": "A", "INPUT1": "B"}, {"OUTPUT0": "sum", "OUTPUT1": "diff"}),
         ("id_a", {"INPUT0": "sum"}, {"OUTPUT0": "sum2"}),
         ("id_b", {"INPUT0": "diff"}, {"OUTPUT0": "diff2"}),
         ("add_sub", {"INPUT0": "sum2", "INPUT1": "diff2"}, {"OUTPUT0": "TWICE_A", "OUTPUT1": "TWICE_B"})]))
    write_model(repo, "fanout", ensemble_config(
        "fanout", [("INPUT", FP, [-1])], [("OUT_A", FP, [-1]), ("OUT_B", FP, [-1])],
        [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUT_A"}),
         ("id_b", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUT_B"})]))
    write_model(repo, "guarded", ensemble_config(
        "guarded", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
        [("checker", {"INPUT0": "INPUT"}, {"OUTPUT0": "checked"}),
         ("id_a", {"INPUT0": "checked"}, {"OUTPUT0": "OUTPUT"})]))
    write_model(repo, "square_chain", ensemble_config(
        "square_chain", [("IN", "TYPE_INT32", [1])], [("OUT", "TYPE_INT32", [1])],
        [("square_int32", {"IN": "IN"}, {"OUT": "squared"}),
         ("id_int32", {"INPUT0": "squared"}, {"OUTPUT0": "OUT"})], max_batch_size=0))
    write_model(repo, "repeat_chain", ensemble_config(
        "repeat_chain", [("IN", "TYPE_INT32", [-1]), ("DELAY", "TYPE_UINT32", [-1])], [("OUT", "TYPE_INT32", [1])],
        [("repeat_int32", {"IN": "IN", "DELAY": "DELAY"}, {"OUT": "value"}),
         ("id_int32", {"INPUT0": "value"}, {"OUTPUT0": "copied"}),
         ("id_int32", {"INPUT0": "copied"}, {"OUTPUT0": "OUT"})], max_batch_size=0))
    for name, cap in (("repeat_batched", ""), ("repeat_capped", "max_inflight_requests: 1 ")):
        write_model(repo, name, ensemble_config(
            name, [("IN", "TYPE_INT32", [-1]), ("DELAY", "TYPE_UINT32", [-1])], [("OUT", "TYPE_INT32", [1])],
            [("repeat_int32", {"IN": "IN", "DELAY": "DELAY"}, {"OUT": "value"}),
             ("id_int32_batched", {"INPUT0": "value"}, {"OUTPUT0": "OUT"})],
            max_batch_size=0).replace("ensemble_scheduling { ", "ensemble_scheduling { " + cap))
    write_model(repo, "nested", ensemble_config(
        "nested", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
        [("chain3", {"INPUT": "INPUT"}, {"OUTPUT": "inner"}),
         ("id_b", {"INPUT0": "inner"}, {"OUTPUT0": "OUTPUT"})]))
    write_model(repo, "bytes_chain", ensemble_config(
        "bytes_chain", [("TEXT", "TYPE_STRING", [-1])], [("SAME", "TYPE_STRING", [-1])],
        [("id_bytes", {"INPUT0": "TEXT"}, {"OUTPUT0": "middle"}),
         ("id_bytes", {"INPUT0": "middle"}, {"OUTPUT0": "SAME"})]))


@pytest.fixture(scope="module")
def ensemble_server(inferd_bin, tmp_path_factory):
    from support import InferdServer
    repo = tmp_path_factory.mktemp("ensembles")
    add_composing_models(repo)
    add_ensembles(repo)
    with InferdServer(inferd_bin, [repo], log_dir=tmp_path_factory.mktemp("ensemble_logs"), tag="ensemble") as srv:
        yield srv


def client_for(srv, protocol):
    return httpclient.InferenceServerClient(srv.url) if protocol == "http" else \
        grpcclient.InferenceServerClient(srv.grpc_url)


def fp32_input(module, name, array):
    t = module.InferInput(name, list(array.shape), "FP32")
    t.set_data_from_numpy(array)
    return t


def expect_error(fn, *args, contains=(), **kwargs):
    """Either protocol's error (gRPC statuses are not HTTP codes): its message must say `contains`.
    Returns the server's message."""
    with pytest.raises(InferenceServerException) as caught:
        fn(*args, **kwargs)
    message = caught.value.message()
    for text in contains:
        assert text.lower() in message.lower(), f"{text!r} not in {message!r}"
    return message



@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_tritons_ensemble_example_answers(ensemble_server, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = client_for(ensemble_server, protocol)
    a = np.arange(8, dtype=np.float32).reshape(2, 4)
    b = np.ones((2, 4), dtype=np.float32)
    result = client.infer("ensemble_add_sub", [fp32_input(module, "INPUT0", a), fp32_input(module, "INPUT1", b)])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a - b)
    meta = client.get_model_metadata("ensemble_add_sub")
    platform = meta["platform"] if protocol == "http" else meta.platform
    assert platform == "ensemble"
    assert client.is_model_ready("ensemble_add_sub")


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_chain_passes_each_steps_output_to_the_next(ensemble_server, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = client_for(ensemble_server, protocol)
    for length in (1, 7, 1000):
        x = np.random.default_rng(length).standard_normal((3, length)).astype(np.float32)
        out = client.infer("chain3", [fp32_input(module, "INPUT", x)]).as_numpy("OUTPUT")
        np.testing.assert_array_equal(out, x)


def test_parallel_steps_join_into_the_last_step(ensemble_server):
    client = client_for(ensemble_server, "http")
    a = np.array([[1, 2, 3, 4]], dtype=np.float32)
    b = np.array([[10, 20, 30, 40]], dtype=np.float32)
    result = client.infer("diamond", [fp32_input(httpclient, "A", a), fp32_input(httpclient, "B", b)])
    np.testing.assert_array_equal(result.as_numpy("TWICE_A"), 2 * a)
    np.testing.assert_array_equal(result.as_numpy("TWICE_B"), 2 * b)


def test_concurrent_requests_each_get_their_own_answer(ensemble_server):
    # Steps of different ensemble requests batch together in add_sub's
    # dynamic batcher; every answer must still be its own request's.
    def one(i):
        c = httpclient.InferenceServerClient(ensemble_server.url)
        a = np.full((1, 4), i, dtype=np.float32)
        b = np.full((1, 4), 2 * i, dtype=np.float32)
        r = c.infer("diamond", [fp32_input(httpclient, "A", a), fp32_input(httpclient, "B", b)])
        return i, r.as_numpy("TWICE_A"), r.as_numpy("TWICE_B")

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for i, twice_a, twice_b in pool.map(one, range(64)):
            np.testing.assert_array_equal(twice_a, np.full((1, 4), 2 * i, dtype=np.float32))
            np.testing.assert_array_equal(twice_b, np.full((1, 4), 4 * i, dtype=np.float32))


def test_steps_for_outputs_not_asked_for_do_not_run(ensemble_server):
    client = client_for(ensemble_server, "http")
    x = np.ones((1, 3), dtype=np.float32)
    before_b = stats_of(ensemble_server, "id_b")["execution_count"]
    before_a = stats_of(ensemble_server, "id_a")["execution_count"]
    result = client.infer("fanout", [fp32_input(httpclient, "INPUT", x)],
                          outputs=[httpclient.InferRequestedOutput("OUT_A")])
    np.testing.assert_array_equal(result.as_numpy("OUT_A"), x)
    assert result.as_numpy("OUT_B") is None
    assert stats_of(ensemble_server, "id_a")["execution_count"] == before_a + 1
    assert stats_of(ensemble_server, "id_b")["execution_count"] == before_b
    both = client.infer("fanout", [fp32_input(httpclient, "INPUT", x)])
    np.testing.assert_array_equal(both.as_numpy("OUT_B"), x)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_step_error_fails_the_request_naming_the_step(ensemble_server, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = client_for(ensemble_server, protocol)
    bad = np.array([[1, -1]], dtype=np.float32)
    # Triton's words first ("in ensemble 'E', " + the model's message: its QA tests match the
    # start), then the step, which Triton does not name.
    message = expect_error(client.infer, "guarded", [fp32_input(module, "INPUT", bad)],
                           contains=["negative input", "(step 0, model 'checker')"])
    assert message.startswith("in ensemble 'guarded', "), message
    good = np.array([[1, 2]], dtype=np.float32)
    np.testing.assert_array_equal(client.infer("guarded", [fp32_input(module, "INPUT", good)]).as_numpy("OUTPUT"), good)


def stream_answers(srv, model, value, timeout=20):
    """Sends IN=value on a gRPC stream; returns (outputs of each response, error or None)."""
    answers = queue.Queue()
    client = grpcclient.InferenceServerClient(srv.grpc_url)
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        inp = grpcclient.InferInput("IN", [1], "INT32")
        inp.set_data_from_numpy(np.array([value], dtype=np.int32))
        client.async_stream_infer(model, [inp], enable_empty_final_response=True)
        outs = []
        while True:
            result, error = answers.get(timeout=timeout)
            if error is not None:
                return outs, error
            response = result.get_response()
            if response.outputs:
                outs.append(result.as_numpy("OUT"))
            if response.parameters["triton_final_response"].bool_param:
                return outs, None
    finally:
        client.stop_stream()
        client.close()


def test_a_decoupled_step_feeds_each_of_its_responses_on(ensemble_server):
    outs, error = stream_answers(ensemble_server, "square_chain", 3)
    assert error is None
    assert [o.tolist() for o in outs] == [[3], [3], [3]]
    outs, error = stream_answers(ensemble_server, "square_chain", 0)
    assert error is None and outs == []
    outs, error = stream_answers(ensemble_server, "square_chain", -4)
    assert error is not None and "model 'square_int32'" in str(error) and "negative" in str(error)
    config = grpcclient.InferenceServerClient(ensemble_server.grpc_url).get_model_config("square_chain").config
    assert config.model_transaction_policy.decoupled  # as on Triton
    # Over HTTP (one response per request) a decoupled ensemble is refused clearly.
    inp = httpclient.InferInput("IN", [1], "INT32")
    inp.set_data_from_numpy(np.array([2], dtype=np.int32))
    expect_error(httpclient.InferenceServerClient(ensemble_server.url).infer, "square_chain", [inp],
                 contains=["decoupled", "ModelStreamInfer"])


def stream_values(srv, model, count):
    """Streams IN = 0..count-1 (no delays) to a repeat ensemble; returns the OUT values answered."""
    answers = queue.Queue()
    client = grpcclient.InferenceServerClient(srv.grpc_url)
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        inp = grpcclient.InferInput("IN", [count], "INT32")
        inp.set_data_from_numpy(np.arange(count, dtype=np.int32))
        delay = grpcclient.InferInput("DELAY", [count], "UINT32")
        delay.set_data_from_numpy(np.zeros(count, dtype=np.uint32))  # back to back
        client.async_stream_infer(model, [inp, delay], enable_empty_final_response=True)
        values = []
        while True:
            result, error = answers.get(timeout=30)
            assert error is None, error.message()
            if result.get_response().outputs:
                values.append(int(result.as_numpy("OUT")[0]))
            if result.get_response().parameters["triton_final_response"].bool_param:
                return values
    finally:
        client.stop_stream()
        client.close()


def test_each_response_of_a_decoupled_step_feeds_the_next_step_with_its_own_values(ensemble_server):
    # 1000 responses arrive back to back from the repeat model's thread while
    # other threads send earlier ones on: every value must reach the next
    # steps once (none lost to a later response, none sent twice).
    assert sorted(stream_values(ensemble_server, "repeat_chain", 1000)) == list(range(1000))


def test_max_inflight_requests_caps_each_steps_requests_in_flight(ensemble_server):
    def executions_and_inferences(run):
        before = stats_of(ensemble_server, "id_int32_batched")
        assert sorted(run()) == list(range(200))
        after = stats_of(ensemble_server, "id_int32_batched")
        return (after["execution_count"] - before["execution_count"],
                after["inference_count"] - before["inference_count"])

    # Without a cap the repeat model's 200 responses queue at the batching
    # step together and run in batches; with max_inflight_requests: 1 one at a time.
    executions, inferences = executions_and_inferences(lambda: stream_values(ensemble_server, "repeat_batched", 200))
    assert inferences == 200 and executions < 200
    executions, inferences = executions_and_inferences(lambda: stream_values(ensemble_server, "repeat_capped", 200))
    assert inferences == 200 and executions == 200


def test_an_ensemble_can_be_a_step_of_another(ensemble_server):
    client = client_for(ensemble_server, "grpc")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(client.infer("nested", [fp32_input(grpcclient, "INPUT", x)]).as_numpy("OUTPUT"), x)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_bytes_pass_through_the_steps(ensemble_server, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = client_for(ensemble_server, protocol)
    words = np.array([[b"hello", b"", b"\x00\xffbinary"]], dtype=np.object_)
    t = module.InferInput("TEXT", [1, 3], "BYTES")
    t.set_data_from_numpy(words)
    out = client.infer("bytes_chain", [t]).as_numpy("SAME")
    assert out.tolist() == words.tolist()


def test_classification_uses_the_labels_of_the_step_that_produced_the_output(start_server, make_repo):
    # As on Triton: the ensemble's output has no label_filename, the composing model's has.
    repo = make_repo("labels")
    write_model(repo, "scores", identity_config(
        "scores", [("INPUT0", FP, [-1])], [("OUTPUT0", FP, [-1], 'label_filename: "labels.txt"')], max_batch_size=8),
        files={"labels.txt": "cat\ndog\nbird\n"})
    write_model(repo, "classify", ensemble_config(
        "classify", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
        [("scores", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})]))
    srv = start_server([repo])
    client = client_for(srv, "http")
    x = np.array([[0.1, 0.7, 0.2]], dtype=np.float32)
    result = client.infer("classify", [fp32_input(httpclient, "INPUT", x)],
                          outputs=[httpclient.InferRequestedOutput("OUTPUT", class_count=2)])
    assert [c.decode() if isinstance(c, bytes) else c for c in result.as_numpy("OUTPUT")[0]] == \
        ["0.700000:1:dog", "0.200000:2:bird"]


def test_ensembles_nest_at_most_eight_deep(start_server, make_repo):
    # At start-up each ensemble finds the one it composes already serving, so
    # the bound holds per request: the ninth nested ensemble is refused clearly.
    repo = make_repo("deep")
    write_model(repo, "id_a", fp32_identity("id_a", 8))
    inner = "id_a"
    for depth in range(1, 10):
        name = f"deep{depth}"
        model_input, model_output = ("INPUT0", "OUTPUT0") if inner == "id_a" else ("INPUT", "OUTPUT")
        write_model(repo, name, ensemble_config(name, [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                                [(inner, {model_input: "INPUT"}, {model_output: "OUTPUT"})]))
        inner = name
    srv = start_server([repo])
    client = client_for(srv, "http")
    x = np.ones((1, 2), dtype=np.float32)
    np.testing.assert_array_equal(client.infer("deep8", [fp32_input(httpclient, "INPUT", x)]).as_numpy("OUTPUT"), x)
    expect_server_error(client.infer, "deep9", [fp32_input(httpclient, "INPUT", x)],
                        contains=["ensemble 'deep1' is a step of 8 nested ensembles", "at most 8"])
    assert client.is_server_live()


def test_bad_input_is_refused_by_the_ensemble_itself(ensemble_server):
    client = client_for(ensemble_server, "http")
    wrong = np.zeros((1, 3), dtype=np.float32)  # add_sub's inputs have 4 elements
    expect_server_error(client.infer, "ensemble_add_sub",
                        [fp32_input(httpclient, "INPUT0", wrong), fp32_input(httpclient, "INPUT1", wrong)],
                        contains=["INPUT0"])
    assert client.is_server_live()


def test_statistics_count_the_ensemble_once_and_each_step_execution(start_server, make_repo):
    repo = make_repo("stats")
    write_model(repo, "id_a", fp32_identity("id_a", 8))
    write_model(repo, "id_b", fp32_identity("id_b", 8))
    write_model(repo, "chain3", ensemble_config(
        "chain3", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
        [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "t1"}),
         ("id_b", {"INPUT0": "t1"}, {"OUTPUT0": "t2"}),
         ("id_a", {"INPUT0": "t2"}, {"OUTPUT0": "OUTPUT"})]))
    srv = start_server([repo])
    client = client_for(srv, "grpc")
    x = np.ones((2, 5), dtype=np.float32)
    for _ in range(5):
        client.infer("chain3", [fp32_input(grpcclient, "INPUT", x)])
    ensemble = stats_of(srv, "chain3")
    assert ensemble["inference_stats"]["success"]["count"] == 5
    assert ensemble["execution_count"] == 5 and ensemble["inference_count"] == 10
    assert ensemble["inference_stats"]["compute_infer"]["count"] == 5
    assert stats_of(srv, "id_a")["execution_count"] == 10  # two steps per request
    assert stats_of(srv, "id_b")["execution_count"] == 5
    assert stats_of(srv, "id_a")["inference_stats"]["success"]["count"] == 10
    grpc_stats = client.get_inference_statistics("chain3").model_stats[0]
    assert grpc_stats.inference_stats.success.count == 5
    with urllib.request.urlopen(f"http://{srv.metrics_url}/metrics", timeout=10) as r:
        page = r.read().decode()
    assert 'nv_inference_request_success{model="chain3",version="1"} 5' in page
    assert 'nv_inference_exec_count{model="id_a",version="1"} 10' in page


# (name, extra composing models, config, what the error must say)
INVALID = [
    ("unknown_model", ensemble_config("unknown_model", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                      [("no_such_model", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})]),
     ["composing model 'no_such_model'", "not in any model repository"]),
    ("cycle", ensemble_config("cycle", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                              [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"}),
                               ("id_a", {"INPUT0": "t2"}, {"OUTPUT0": "t1"}),
                               ("id_b", {"INPUT0": "t1"}, {"OUTPUT0": "t2"})]),
     ["steps 1, 2", "cycle"]),
    ("twice", ensemble_config("twice", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                              [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"}),
                               ("id_b", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})]),
     ["ensemble tensor 'OUTPUT' is produced twice", "step 0 and by step 1"]),
    ("never_produced", ensemble_config("never_produced", [("INPUT", FP, [-1])],
                                       [("OUTPUT", FP, [-1]), ("MISSING", FP, [-1])],
                                       [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})]),
     ["ensemble output 'MISSING'", "not produced by any step"]),
    ("unused_input", ensemble_config("unused_input", [("INPUT", FP, [-1]), ("SPARE", FP, [-1])],
                                     [("OUTPUT", FP, [-1])],
                                     [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})]),
     ["ensemble input 'SPARE'", "not used"]),
    ("dangling", ensemble_config("dangling", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                 [("id_a", {"INPUT0": "nowhere"}, {"OUTPUT0": "OUTPUT"}),
                                  ("id_b", {"INPUT0": "INPUT"}, {"OUTPUT0": "spare"})]),
     ["ensemble tensor 'nowhere'", "no step produces it"]),
    ("wrong_type", ensemble_config("wrong_type", [("INPUT", "TYPE_INT32", [-1])], [("OUTPUT", FP, [-1])],
                                   [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})]),
     ["ensemble tensor 'INPUT'", "inconsistent data type", "TYPE_INT32", "TYPE_FP32"]),
    ("wrong_shape", ensemble_config("wrong_shape", [("A", FP, [3]), ("B", FP, [4])],
                                    [("S", FP, [4]), ("D", FP, [4])],
                                    [("add_sub", {"INPUT0": "A", "INPUT1": "B"}, {"OUTPUT0": "S", "OUTPUT1": "D"})]),
     ["ensemble tensor 'A'", "inconsistent shape", "[-1,3]", "[-1,4]"]),
    ("too_big_batch", ensemble_config("too_big_batch", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                      [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})], max_batch_size=16),
     ["allows maximum batch size 16", "model 'id_a'", "8"]),
    ("unmapped_input", ensemble_config("unmapped_input", [("A", FP, [4])], [("S", FP, [4]), ("D", FP, [4])],
                                       [("add_sub", {"INPUT0": "A"}, {"OUTPUT0": "S", "OUTPUT1": "D"})]),
     ["input 'INPUT1' of model 'add_sub'", "not mapped"]),
    ("no_such_input", ensemble_config("no_such_input", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                      [("id_a", {"INPUT0": "INPUT", "EXTRA": "INPUT"}, {"OUTPUT0": "OUTPUT"})]),
     ["non-existing input 'EXTRA'"]),
    ("mixed_waves", ensemble_config("mixed_waves", [("IN", "TYPE_INT32", [1])],
                                    [("FROM_SQUARE", "TYPE_INT32", [1]), ("DIRECT", "TYPE_INT32", [1])],
                                    [("square_int32", {"IN": "IN"}, {"OUT": "FROM_SQUARE"}),
                                     ("id_int32", {"INPUT0": "IN"}, {"OUTPUT0": "DIRECT"})], max_batch_size=0),
     ["different decoupled models"]),
    ("outside", ensemble_config("outside", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                [("../id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})]),
     ["composing model '../id_a'", "not in any model repository"]),
    ("with_instances", ensemble_config("with_instances", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                       [("id_a", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})],
                                       extra="instance_group [{ count: 2 }]\n"),
     ["instance group should not be specified"]),
]


@pytest.fixture(scope="module")
def explicit_server(inferd_bin, tmp_path_factory):
    from support import InferdServer
    repo = tmp_path_factory.mktemp("ensembles_explicit")
    add_composing_models(repo)
    add_ensembles(repo)
    for name, config, _ in INVALID:
        write_model(repo, name, config)
    write_model(repo, "loop_a", ensemble_config("loop_a", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                                [("loop_b", {"INPUT": "INPUT"}, {"OUTPUT": "OUTPUT"})]))
    write_model(repo, "loop_b", ensemble_config("loop_b", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                                [("loop_a", {"INPUT": "INPUT"}, {"OUTPUT": "OUTPUT"})]))
    write_model(repo, "broken", fp32_identity("broken", 8).replace('backend: "identity"', 'backend: "nonexistent"'))
    write_model(repo, "uses_broken", ensemble_config("uses_broken", [("INPUT", FP, [-1])], [("OUTPUT", FP, [-1])],
                                                     [("broken", {"INPUT0": "INPUT"}, {"OUTPUT0": "OUTPUT"})]))
    with InferdServer(inferd_bin, [repo], ["--model-control-mode=explicit"],
                      log_dir=tmp_path_factory.mktemp("ensemble_explicit_logs"), tag="ensemble_explicit") as srv:
        yield srv


@pytest.mark.parametrize("name,config,expected", INVALID, ids=[case[0] for case in INVALID])
def test_an_invalid_ensemble_fails_to_load_saying_why(explicit_server, name, config, expected):
    client = client_for(explicit_server, "http")
    expect_server_error(client.load_model, name, contains=["failed to load", name] + expected)
    assert not client.is_model_ready(name)
    assert client.is_server_live()


def test_ensembles_composing_each_other_are_refused(explicit_server):
    client = client_for(explicit_server, "http")
    expect_server_error(client.load_model, "loop_a", contains=["circular dependency", "'loop_a' -> 'loop_b' -> 'loop_a'"])
    assert not client.is_model_ready("loop_a")


def test_an_ensemble_whose_composing_model_fails_is_not_ready(explicit_server):
    client = client_for(explicit_server, "http")
    expect_server_error(client.load_model, "uses_broken", contains=["composing model 'broken'", "nonexistent"])
    assert not client.is_model_ready("uses_broken")
    [entry] = index_entries(client, "uses_broken")
    assert entry["state"] == "UNAVAILABLE" and "broken" in entry["reason"]


def test_loading_an_ensemble_loads_its_models_and_unload_dependents_unloads_them(explicit_server):
    client = client_for(explicit_server, "http")
    client.load_model("id_b")  # loaded on its own: it stays
    client.load_model("chain3")
    assert client.is_model_ready("chain3") and client.is_model_ready("id_a") and client.is_model_ready("id_b")
    x = np.ones((1, 2), dtype=np.float32)
    np.testing.assert_array_equal(client.infer("chain3", [fp32_input(httpclient, "INPUT", x)]).as_numpy("OUTPUT"), x)
    client.unload_model("chain3", unload_dependents=True)
    assert not client.is_model_ready("chain3")
    assert not client.is_model_ready("id_a")  # loaded only for chain3
    assert client.is_model_ready("id_b")
    # Without unload_dependents the composing models stay.
    client.load_model("fanout")
    client.unload_model("fanout")
    assert client.is_model_ready("id_a") and client.is_model_ready("id_b")
    client.unload_model("id_a")
    client.unload_model("id_b")


def test_a_composing_model_reloaded_under_load_fails_no_request(explicit_server):
    client = client_for(explicit_server, "http")
    client.load_model("chain3")
    stop = threading.Event()
    failures, answered = [], [0]

    def traffic():
        c = httpclient.InferenceServerClient(explicit_server.url)
        x = np.arange(4, dtype=np.float32).reshape(1, 4)
        while not stop.is_set():
            try:
                out = c.infer("chain3", [fp32_input(httpclient, "INPUT", x)]).as_numpy("OUTPUT")
                if not np.array_equal(out, x):
                    failures.append("wrong answer")
                answered[0] += 1
            except InferenceServerException as e:
                failures.append(str(e))

    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(4):
            config = json.dumps({"name": "id_b", "backend": "identity", "max_batch_size": 8,
                                 "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
                                 "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
                                 "instance_group": [{"count": 1 + i % 2}]})
            client.load_model("id_b", config=config)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert answered[0] > 0
    client.unload_model("chain3", unload_dependents=True)


def test_a_serving_ensemble_follows_its_composing_models(explicit_server):
    client = client_for(explicit_server, "http")
    x = np.ones((1, 3), dtype=np.float32)

    def chain3_answers():
        np.testing.assert_array_equal(client.infer("chain3", [fp32_input(httpclient, "INPUT", x)]).as_numpy("OUTPUT"), x)

    def id_b_config(datatype):
        return json.dumps({"name": "id_b", "backend": "identity", "max_batch_size": 8,
                           "input": [{"name": "INPUT0", "data_type": datatype, "dims": [-1]}],
                           "output": [{"name": "OUTPUT0", "data_type": datatype, "dims": [-1]}]})

    client.load_model("chain3")
    chain3_answers()
    # A composing model reloaded with a config the ensemble cannot use takes it down, saying why...
    client.load_model("id_b", config=id_b_config("TYPE_INT32"))
    assert not client.is_model_ready("chain3")
    [entry] = index_entries(client, "chain3")
    assert entry["state"] == "UNAVAILABLE" and "id_b" in entry["reason"] and "TYPE_INT32" in entry["reason"], entry
    # ... and it comes back with a config it can use.
    client.load_model("id_b", config=id_b_config("TYPE_FP32"))
    assert client.is_model_ready("chain3")
    chain3_answers()
    # A composing model unloaded takes the ensemble down too; loaded again, it brings it back.
    client.unload_model("id_a")
    assert not client.is_model_ready("chain3")
    [entry] = index_entries(client, "chain3")
    assert entry["state"] == "UNAVAILABLE" and "composing model 'id_a' is not serving" in entry["reason"], entry
    client.load_model("id_a")
    assert client.is_model_ready("chain3")
    chain3_answers()
    # An ensemble unloaded on purpose stays down whatever its models do.
    client.unload_model("chain3")
    client.unload_model("id_a")
    client.load_model("id_a")
    assert not client.is_model_ready("chain3")
    client.unload_model("id_a")
    client.unload_model("id_b")
