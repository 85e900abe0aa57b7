"""The Python backend, second part (issue 14): decoupled models answering
through response senders (from execute and from threads of their own), BLS
(exec, async_exec, decoupled iteration) calling Python and C models
in-process, errors surfaced on the response, the model's log lines, the
restart count on /metrics, and an unload while requests wait."""

import concurrent.futures
import queue
import textwrap
import time
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support import fp32_identity, write_model

# Answers a request whose COUNT is n with n responses OUT = [value, i], each
# sent from a thread of the model; then a final flag with no response. A
# COUNT of -1 sends an error response; -2 kills the process mid-stream.
COUNTER = '''
import os
import signal
import threading
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.threads = []

    def execute(self, requests):
        for request in requests:
            count = int(pb_utils.get_input_tensor_by_name(request, "COUNT").as_numpy()[0])
            thread = threading.Thread(target=self.answer, args=(request.get_response_sender(), count))
            thread.start()
            self.threads.append(thread)
        return None

    def answer(self, sender, count):
        if count == -1:
            sender.send(pb_utils.InferenceResponse(error=pb_utils.TritonError("minus one", pb_utils.TritonError.INVALID_ARG)),
                        flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
            return
        for i in range(max(count, 0)):
            sender.send(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUT", np.array([count, i], dtype=np.int32))]))
        if count == -2:
            sender.send(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUT", np.array([-2, 0], np.int32))]))
            os.kill(os.getpid(), signal.SIGKILL)
        sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        try:
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        except pb_utils.TritonModelException as e:
            pb_utils.Logger.log_warn(f"second final refused: {e}")

    def finalize(self):
        for thread in self.threads:
            thread.join(timeout=5)
'''

COUNTER_CONFIG = '''
name: "counter"
backend: "python"
model_transaction_policy { decoupled: true }
input [{ name: "COUNT" data_type: TYPE_INT32 dims: [1] }]
output [{ name: "OUT" data_type: TYPE_INT32 dims: [2] }]
instance_group [{ kind: KIND_CPU count: 1 }]
'''

ADD_SUB = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", a + b), pb_utils.Tensor("OUTPUT1", a - b)]))
        return out
'''

ADD_SUB_CONFIG = '''
name: "add_sub"
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [4] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [4] }]
'''

# Calls the model named in MODEL with INPUT0/INPUT1 (BLS): "sync" calls
# exec(), "async" awaits two async_exec() at once, and answers what the
# called model answered (its error as this model's response error).
CALLER = '''
import asyncio
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    async def execute(self, requests):
        responses = []
        for request in requests:
            target = pb_utils.get_input_tensor_by_name(request, "MODEL").as_numpy()[0].decode()
            mode = pb_utils.get_input_tensor_by_name(request, "MODE").as_numpy()[0].decode()
            inputs = [pb_utils.get_input_tensor_by_name(request, "INPUT0"),
                      pb_utils.get_input_tensor_by_name(request, "INPUT1")]
            # As Triton's models pass them: the trace, CPU memory for the outputs.
            call = pb_utils.InferenceRequest(model_name=target, inputs=inputs,
                                             requested_output_names=["OUTPUT0", "OUTPUT1"], trace=request.trace(),
                                             preferred_memory=pb_utils.PreferredMemory(
                                                 pb_utils.TRITONSERVER_MEMORY_CPU, 0))
            call.set_flags(0)
            assert request.trace().get_context() is None
            request.set_release_flags(pb_utils.TRITONSERVER_REQUEST_RELEASE_ALL)
            try:
                request.set_release_flags(pb_utils.TRITONSERVER_REQUEST_RELEASE_RESCHEDULE)
                raise AssertionError("rescheduling was not refused")
            except pb_utils.TritonModelException as e:
                assert "not built in inferd" in str(e)
            if mode == "sync":
                answer = call.exec()
            else:
                answer, again = await asyncio.gather(call.async_exec(), call.async_exec())
                assert answer.has_error() == again.has_error()
                assert answer.has_error() or (pb_utils.get_output_tensor_by_name(answer, "OUTPUT0").as_numpy() ==
                                              pb_utils.get_output_tensor_by_name(again, "OUTPUT0").as_numpy()).all()
            if answer.has_error():
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(
                    "the called model failed: " + answer.error().message())))
                continue
            responses.append(pb_utils.InferenceResponse(output_tensors=answer.output_tensors()))
        return responses
'''

CALLER_CONFIG = '''
name: "caller"
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [4] },
       { name: "MODEL" data_type: TYPE_STRING dims: [1] }, { name: "MODE" data_type: TYPE_STRING dims: [1] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [4] }]
instance_group [{ kind: KIND_CPU count: 2 }]
'''

# Sums what "counter" streams back for COUNT (BLS to a decoupled model),
# with exec(decoupled=True) or async_exec(decoupled=True); also returns how
# many responses came, the empty final one included.
STREAM_SUM = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    async def execute(self, requests):
        responses = []
        for request in requests:
            count = pb_utils.get_input_tensor_by_name(request, "COUNT")
            use_async = bool(pb_utils.get_input_tensor_by_name(request, "ASYNC").as_numpy()[0])
            call = pb_utils.InferenceRequest(model_name="counter", inputs=[count], requested_output_names=["OUT"])
            answers = await call.async_exec(decoupled=True) if use_async else call.exec(decoupled=True)
            total, seen = np.zeros(1, np.int32), 0
            # An iterator either way, as on Triton (its QA calls next() on it).
            first = next(answers)
            for answer in [first, *answers]:
                seen += 1
                if answer.has_error():
                    raise pb_utils.TritonModelException(answer.error().message())
                if answer.output_tensors():
                    total += pb_utils.get_output_tensor_by_name(answer, "OUT").as_numpy()[1:2]
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("SUM", total),
                                                         pb_utils.Tensor("SEEN", np.array([seen], np.int32))]))
        return responses
'''

STREAM_SUM_CONFIG = '''
name: "stream_sum"
backend: "python"
input [{ name: "COUNT" data_type: TYPE_INT32 dims: [1] }, { name: "ASYNC" data_type: TYPE_BOOL dims: [1] }]
output [{ name: "SUM" data_type: TYPE_INT32 dims: [1] }, { name: "SEEN" data_type: TYPE_INT32 dims: [1] }]
'''

# BYTES through BLS to the C identity backend, with the model's log lines.
ECHO = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for request in requests:
            text = pb_utils.get_input_tensor_by_name(request, "TEXT")
            pb_utils.Logger.log_info(f"echoing {text.as_numpy().size} strings")
            answer = pb_utils.InferenceRequest(model_name="identity_bytes", inputs=[pb_utils.Tensor("INPUT0", text.as_numpy())],
                                               requested_output_names=["OUTPUT0"]).exec()
            if answer.has_error():
                raise pb_utils.TritonModelException(answer.error().message())
            echoed = pb_utils.get_output_tensor_by_name(answer, "OUTPUT0").as_numpy()
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("ECHO", echoed)]))
        return out
'''

ECHO_CONFIG = '''
name: "echo"
backend: "python"
max_batch_size: 4
input [{ name: "TEXT" data_type: TYPE_STRING dims: [-1] }]
output [{ name: "ECHO" data_type: TYPE_STRING dims: [-1] }]
'''

IDENTITY_BYTES_CONFIG = '''
name: "identity_bytes"
backend: "identity"
max_batch_size: 4
input [{ name: "INPUT0" data_type: TYPE_STRING dims: [-1] }]
output [{ name: "OUTPUT0" data_type: TYPE_STRING dims: [-1] }]
'''


def _python_model(repo, name, config, code):
    d = write_model(repo, name, config)
    (d / "1" / "model.py").write_text(textwrap.dedent(code))
    return d


@pytest.fixture
def repo(make_repo):
    path = make_repo("bls")
    _python_model(path, "counter", COUNTER_CONFIG, COUNTER)
    _python_model(path, "add_sub", ADD_SUB_CONFIG, ADD_SUB)
    _python_model(path, "caller", CALLER_CONFIG, CALLER)
    _python_model(path, "stream_sum", STREAM_SUM_CONFIG, STREAM_SUM)
    _python_model(path, "echo", ECHO_CONFIG, ECHO)
    write_model(path, "identity_bytes", IDENTITY_BYTES_CONFIG)
    write_model(path, "identity_fp32", fp32_identity("identity_fp32"))
    return path


def _stream(srv, count, timeout=30):
    """Every response of one streamed request to 'counter': (results, errors)."""
    got = queue.Queue()
    c = grpcclient.InferenceServerClient(srv.grpc_url)
    c.start_stream(callback=lambda result, error: got.put((result, error)))
    try:
        x = grpcclient.InferInput("COUNT", [1], "INT32")
        x.set_data_from_numpy(np.array([count], np.int32))
        c.async_stream_infer("counter", [x], request_id="r", enable_empty_final_response=True)
        results, errors = [], []
        deadline = time.time() + timeout
        while time.time() < deadline:
            result, error = got.get(timeout=timeout)
            if error is not None:
                errors.append(error)
                if count < 0:
                    break
                continue
            final = result.get_response().parameters["triton_final_response"].bool_param
            if result.as_numpy("OUT") is not None:
                results.append(result.as_numpy("OUT").tolist())
            if final:
                break
        return results, errors
    finally:
        c.stop_stream()
        c.close()


def test_a_decoupled_model_answers_from_its_own_threads(start_server, repo):
    srv = start_server([repo])
    for count in (0, 1, 5):
        results, errors = _stream(srv, count)
        assert errors == []
        assert results == [[count, i] for i in range(count)]
    # An error response through the sender reaches the client, with its code.
    results, errors = _stream(srv, -1)
    assert results == [] and len(errors) == 1 and "minus one" in str(errors[0])
    # The sender refuses a second final response, in the model (not the server).
    deadline = time.time() + 10
    while "second final refused: Unable to send response. Response sender has been closed." not in srv.log_text():
        assert time.time() < deadline, srv.log_tail()
        time.sleep(0.05)
    assert "model 'counter'" in srv.log_text()


def test_a_decoupled_model_needs_a_stream(start_server, repo):
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    x = httpclient.InferInput("COUNT", [1], "INT32")
    x.set_data_from_numpy(np.array([2], np.int32))
    with pytest.raises(InferenceServerException, match="decoupled"):
        c.infer("counter", [x])


def test_a_stub_dying_mid_stream_answers_the_open_request_and_restarts(start_server, repo):
    srv = start_server([repo])
    results, errors = _stream(srv, -2)
    assert results == [[-2, 0]] and len(errors) == 1, (results, errors)
    # Two parts of the server notice the death (the response channel's end, and
    # the execute call's wait on the process); whichever answers first says so.
    assert ("ended before the request's final response" in str(errors[0])
            or "killed by signal 9" in str(errors[0])), errors[0]
    results, errors = _stream(srv, 3)  # the next request meets a new stub
    assert errors == [] and results == [[3, 0], [3, 1], [3, 2]]
    with urllib.request.urlopen(f"http://{srv.metrics_url}/metrics", timeout=10) as r:
        metrics = r.read().decode()
    assert 'inferd_python_stub_restarts_total{model="counter",version="1"} 1' in metrics, metrics


def _caller_inputs(module, target, mode):
    a, b = np.arange(4, dtype=np.float32), np.full(4, 0.5, np.float32)
    inputs = [module.InferInput("INPUT0", [4], "FP32"), module.InferInput("INPUT1", [4], "FP32"),
              module.InferInput("MODEL", [1], "BYTES"), module.InferInput("MODE", [1], "BYTES")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    inputs[2].set_data_from_numpy(np.array([target.encode()], dtype=np.object_))
    inputs[3].set_data_from_numpy(np.array([mode.encode()], dtype=np.object_))
    return inputs, a, b


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_bls_calls_another_model_in_process(start_server, repo, protocol, mode):
    srv = start_server([repo])
    module = httpclient if protocol == "http" else grpcclient
    c = module.InferenceServerClient(srv.url if protocol == "http" else srv.grpc_url)
    inputs, a, b = _caller_inputs(module, "add_sub", mode)
    r = c.infer("caller", inputs)
    np.testing.assert_allclose(r.as_numpy("OUTPUT0"), a + b)
    np.testing.assert_allclose(r.as_numpy("OUTPUT1"), a - b)
    # A model that does not exist: the BLS response carries the error.
    inputs, _, _ = _caller_inputs(module, "no_such_model", mode)
    with pytest.raises(InferenceServerException) as e:
        c.infer("caller", inputs)
    assert "the called model failed" in e.value.message() and "no_such_model" in e.value.message()
    # The called model's statistics count the in-process requests.
    stats = httpclient.InferenceServerClient(srv.url).get_inference_statistics("add_sub")["model_stats"][0]
    assert stats["inference_stats"]["success"]["count"] == (1 if mode == "sync" else 2)


def test_bls_from_many_clients_at_once(start_server, repo):
    srv = start_server([repo])

    def one(i):
        c = httpclient.InferenceServerClient(srv.url)
        inputs, a, b = _caller_inputs(httpclient, "add_sub", "async" if i % 2 else "sync")
        r = c.infer("caller", inputs)
        return np.allclose(r.as_numpy("OUTPUT0"), a + b)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, range(32)))


@pytest.mark.parametrize("use_async", [False, True])
def test_bls_iterates_a_decoupled_models_responses(start_server, repo, use_async):
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    for count in (0, 4):
        inputs = [httpclient.InferInput("COUNT", [1], "INT32"), httpclient.InferInput("ASYNC", [1], "BOOL")]
        inputs[0].set_data_from_numpy(np.array([count], np.int32))
        inputs[1].set_data_from_numpy(np.array([use_async]))
        r = c.infer("stream_sum", inputs)
        assert r.as_numpy("SUM").tolist() == [sum(range(count))]
        assert r.as_numpy("SEEN").tolist() == [count + 1]  # the empty final response too


def test_bls_bytes_to_a_c_backend_and_the_models_log(start_server, repo):
    srv = start_server([repo])
    c = grpcclient.InferenceServerClient(srv.grpc_url)
    words = np.array([[b"alpha", b"", "\u00e9t\u00e9".encode()]], dtype=np.object_)
    x = grpcclient.InferInput("TEXT", [1, 3], "BYTES")
    x.set_data_from_numpy(words)
    r = c.infer("echo", [x])
    assert r.as_numpy("ECHO").tolist() == words.tolist()
    assert "model 'echo': echoing 3 strings" in srv.log_text()


def test_unloading_a_decoupled_model_answers_every_open_request(start_server, repo):
    srv = start_server([repo], extra_args=["--model-control-mode=explicit", "--load-model=*"])
    got = queue.Queue()
    c = grpcclient.InferenceServerClient(srv.grpc_url)
    c.start_stream(callback=lambda result, error: got.put((result, error)))
    try:
        for _ in range(6):
            x = grpcclient.InferInput("COUNT", [1], "INT32")
            x.set_data_from_numpy(np.array([3], np.int32))
            c.async_stream_infer("counter", [x], enable_empty_final_response=True)
        httpclient.InferenceServerClient(srv.url).unload_model("counter")
        finals = 0
        deadline = time.time() + 30
        while finals < 6 and time.time() < deadline:
            result, error = got.get(timeout=30)
            if error is not None or result.get_response().parameters["triton_final_response"].bool_param:
                finals += 1
        assert finals == 6
    finally:
        c.stop_stream()
        c.close()
