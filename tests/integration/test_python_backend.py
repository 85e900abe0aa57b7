"""The Python backend: Triton-style model.py models run in stub processes,
through tritonclient over HTTP and gRPC: values, BYTES, batching across
instances, the model's errors, a crash in user code (the server lives, the
stub restarts), an initialize that fails or hangs, request parameters and
flags, environments packed as tarballs (EXECUTION_ENV_PATH). Decoupled models
and BLS: test_python_bls.py; the stub's C fast path: test_python_fastpath.py."""

import concurrent.futures
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import tarfile
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support import expect_server_error, index_entries, write_model

ADD_SUB = '''
import json
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.model_config = json.loads(args["model_config"])
        self.args = args
        out0 = pb_utils.get_output_config_by_name(self.model_config, "OUTPUT0")
        self.out0_dtype = pb_utils.triton_string_to_numpy(out0["data_type"])
        assert pb_utils.TRITON_STRING_TO_NUMPY[out0["data_type"]] is self.out0_dtype

    def execute(self, requests):
        responses = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", (a + b).astype(self.out0_dtype)),
                pb_utils.Tensor("OUTPUT1", (a - b).astype(self.out0_dtype))]))
        return responses
'''

ADD_SUB_CONFIG = '''
name: "add_sub"
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [4] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [4] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [4] }]
instance_group [{ kind: KIND_CPU }]
'''

# Doubles INPUT0; a value of -1 crashes the process, -2 raises, -3 answers
# with a model error; BYTES in TEXT come back upper-cased.
TOOLS = '''
import os
import signal
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.instance = args["model_instance_name"]

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            if (x == -1).any():
                os.kill(os.getpid(), signal.SIGSEGV)
            if (x == -2).any():
                raise ValueError("minus two is not allowed")
            if (x == -3).any():
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError("minus three")))
                continue
            text = pb_utils.get_input_tensor_by_name(request, "TEXT")
            upper = np.array([t.upper() for t in text.as_numpy().flatten()], dtype=np.object_).reshape(
                text.as_numpy().shape)
            # OUTPUT0 through DLPack both ways: a bare capsule (as torch's
            # to_dlpack gives), then the Tensor itself; an input's too.
            doubled = pb_utils.Tensor.from_dlpack("OUTPUT0", pb_utils.Tensor("D", x * 2).to_dlpack())
            doubled = pb_utils.Tensor.from_dlpack("OUTPUT0", doubled)
            assert np.from_dlpack(doubled).shape == x.shape
            same = pb_utils.Tensor.from_dlpack("X", pb_utils.get_input_tensor_by_name(request, "INPUT0").to_dlpack())
            assert (same.as_numpy() == x).all()
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                doubled,
                pb_utils.Tensor("UPPER", upper),
                pb_utils.Tensor("INSTANCE", np.array([[self.instance.encode()]] * x.shape[0], dtype=np.object_))]))
        return responses
'''

TOOLS_CONFIG = '''
name: "tools"
backend: "python"
max_batch_size: 8
dynamic_batching { max_queue_delay_microseconds: 2000 }
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [-1] }, { name: "TEXT" data_type: TYPE_STRING dims: [1] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [-1] }, { name: "UPPER" data_type: TYPE_STRING dims: [1] },
        { name: "INSTANCE" data_type: TYPE_STRING dims: [1] }]
instance_group [{ kind: KIND_CPU count: 2 }]
'''


def _python_model(repo, name, config, code):
    d = write_model(repo, name, config)
    (d / "1" / "model.py").write_text(textwrap.dedent(code))
    return d


@pytest.fixture
def repo(make_repo):
    path = make_repo("python")
    _python_model(path, "add_sub", ADD_SUB_CONFIG, ADD_SUB)
    _python_model(path, "tools", TOOLS_CONFIG, TOOLS)
    return path


def _tools_inputs(module, x, words):
    a = module.InferInput("INPUT0", list(x.shape), "FP32")
    a.set_data_from_numpy(x)
    t = module.InferInput("TEXT", [len(words), 1], "BYTES")
    t.set_data_from_numpy(np.array(words, dtype=np.object_).reshape(-1, 1))
    return [a, t]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_add_sub_as_tritons_example(start_server, repo, protocol):
    srv = start_server([repo])
    module = httpclient if protocol == "http" else grpcclient
    c = module.InferenceServerClient(srv.url if protocol == "http" else srv.grpc_url)
    a, b = np.random.rand(4).astype(np.float32), np.random.rand(4).astype(np.float32)
    inputs = [module.InferInput("INPUT0", [4], "FP32"), module.InferInput("INPUT1", [4], "FP32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    result = c.infer("add_sub", inputs)
    np.testing.assert_allclose(result.as_numpy("OUTPUT0"), a + b, rtol=1e-6)
    np.testing.assert_allclose(result.as_numpy("OUTPUT1"), a - b, rtol=1e-6)
    assert c.get_model_config("add_sub")["backend"] == "python" if protocol == "http" else True


@pytest.mark.parametrize("fastpath", ["on", "off"])
def test_bytes_and_batching_across_two_instances(start_server, repo, fastpath):
    # "off": the stubs without their C fast path (stub/fastpath.c), all in Python.
    srv = start_server([repo], env=None if fastpath == "on" else dict(os.environ, INFERD_PYTHON_FASTPATH="0"))

    def one(i):
        c = httpclient.InferenceServerClient(srv.url)
        x = np.full((1, 3), float(i), np.float32)
        r = c.infer("tools", _tools_inputs(httpclient, x, [f"word{i}"]))
        return i, r.as_numpy("OUTPUT0"), r.as_numpy("UPPER"), r.as_numpy("INSTANCE")

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(48)))
    instances = set()
    for i, out, upper, instance in results:
        np.testing.assert_array_equal(out, np.full((1, 3), 2.0 * i, np.float32))
        assert upper.tolist() == [[f"WORD{i}".encode()]]
        instances.add(instance[0][0])
    assert instances == {b"tools_0_0", b"tools_0_1"}, instances
    stats = httpclient.InferenceServerClient(srv.url).get_inference_statistics("tools")["model_stats"][0]
    assert int(stats["inference_count"]) == 48
    assert int(stats["execution_count"]) <= 48
    built = any(p.name.startswith("_inferd_fastpath") for p in (Path(srv.binary).parent / "backends/python/stub").iterdir())
    assert _maps_fastpath(srv.proc.pid) == (built and fastpath == "on")


def _maps_fastpath(pid):
    """Whether a process under `pid` (the launcher, the stubs) has the stub's C fast path loaded."""
    try:
        children = [c for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
        mine = "_inferd_fastpath" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:  # it ended
        return False
    return mine or any(_maps_fastpath(int(child)) for child in children)


def test_a_models_errors_fail_its_requests_only(start_server, repo):
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    expect_server_error(c.infer, "tools", _tools_inputs(httpclient, np.full((1, 2), -2, np.float32), ["a"]),
                        status=500, contains=["Failed to process the request(s) for model 'tools'",
                                              "ValueError: minus two is not allowed"])
    expect_server_error(c.infer, "tools", _tools_inputs(httpclient, np.full((1, 2), -3, np.float32), ["a"]),
                        status=500, contains=["minus three"])
    ok = c.infer("tools", _tools_inputs(httpclient, np.ones((1, 2), np.float32), ["b"]))
    np.testing.assert_array_equal(ok.as_numpy("OUTPUT0"), np.full((1, 2), 2, np.float32))


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_crash_in_user_code_fails_that_batch_and_the_stub_restarts(start_server, make_repo, protocol):
    # One instance, so that the requests after the crash meet the restarted stub.
    repo = make_repo("crash")
    _python_model(repo, "tools", TOOLS_CONFIG.replace("count: 2", "count: 1"), TOOLS)
    srv = start_server([repo])
    module = httpclient if protocol == "http" else grpcclient
    c = module.InferenceServerClient(srv.url if protocol == "http" else srv.grpc_url)
    with pytest.raises(InferenceServerException) as e:
        c.infer("tools", _tools_inputs(module, np.full((1, 2), -1, np.float32), ["x"]))
    assert "killed by signal 11" in e.value.message() and "restarted" in e.value.message(), e.value.message()
    for _ in range(4):  # the new stub serves
        r = c.infer("tools", _tools_inputs(module, np.ones((1, 2), np.float32), ["y"]))
        np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), np.full((1, 2), 2, np.float32))
    assert c.is_server_live()
    assert "restarting the stub of model 'tools'" in srv.log_text()


def test_initialize_failures_fail_the_load_only(start_server, repo):
    _python_model(repo, "raises", 'backend: "python"', '''
        class TritonPythonModel:
            def initialize(self, args):
                raise RuntimeError("no weights here")

            def execute(self, requests):
                return []
    ''')
    write_model(repo, "no_file", 'backend: "python"')
    srv = start_server([repo], ["--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    reasons = {name: index_entries(c, name)[0]["reason"] for name in ("raises", "no_file")}
    assert "RuntimeError: no weights here" in reasons["raises"], reasons
    assert "model.py" in reasons["no_file"], reasons
    assert c.is_model_ready("add_sub")


def test_an_initialize_that_hangs_fails_the_load_at_the_initialize_timeout(start_server, make_repo):
    repo = make_repo("hang")  # alone: a short timeout must not catch a slow but healthy start
    _python_model(repo, "hangs", 'backend: "python"', '''
        import time

        class TritonPythonModel:
            def initialize(self, args):
                time.sleep(3600)

            def execute(self, requests):
                return []
    ''')
    srv = start_server([repo], ["--backend-config=python,initialize-timeout-seconds=3",
                                "--backend-config=python,stub-timeout-seconds=1", "--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    reason = index_entries(c, "hangs")[0]["reason"]
    assert "no answer within 3 s" in reason and "killed" in reason, reason
    assert c.is_server_live()


def test_an_initialize_may_outlast_the_stub_timeout(start_server, make_repo):
    """As on Triton, stub-timeout-seconds does not bound a slow but healthy
    initialize (loading large weights): that has initialize-timeout-seconds."""
    repo = make_repo("slow_start")
    _python_model(repo, "slow_start", METRICS_CONFIG, '''
        import time
        import numpy as np
        import triton_python_backend_utils as pb_utils

        class TritonPythonModel:
            def initialize(self, args):
                time.sleep(2.5)

            def execute(self, requests):
                return [pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", np.ones([1], np.float32))])
                        for _ in requests]
    ''')
    srv = start_server([repo], ["--backend-config=python,stub-timeout-seconds=1"])
    assert httpclient.InferenceServerClient(srv.url).is_model_ready("slow_start")


def test_execute_must_answer_every_request(start_server, make_repo):
    repo = make_repo("short")
    _python_model(repo, "short", '''
        backend: "python"
        input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1] }]
        output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1] }]
    ''', '''
        class TritonPythonModel:
            def execute(self, requests):
                return []
    ''')
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    x = httpclient.InferInput("INPUT0", [1], "FP32")
    x.set_data_from_numpy(np.ones(1, np.float32))
    expect_server_error(c.infer, "short", [x], status=500,
                        contains=["Number of InferenceResponse objects do not match"])


def test_odd_values_in_a_models_answer_get_clear_errors(start_server, make_repo):
    """What a model may put in its answer that the stub's marshal answer must
    carry or refuse: a numpy str as an output name, a TritonError whose message
    is not a str and whose code is no code, an output named with bytes."""
    repo = make_repo("odd")
    _python_model(repo, "odd", '''
        backend: "python"
        input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1] }]
        output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1] }]
    ''', '''
        import numpy as np
        import triton_python_backend_utils as pb_utils

        class TritonPythonModel:
            def execute(self, requests):
                out = []
                for r in requests:
                    x = pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()
                    if x[0] == 1:
                        out.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(12345, 10**30)))
                    elif x[0] == 2:
                        out.append(pb_utils.InferenceResponse([pb_utils.Tensor(b"OUTPUT0", x)]))
                    else:
                        out.append(pb_utils.InferenceResponse([pb_utils.Tensor(np.str_("OUTPUT0"), x * 2)]))
                return out
    ''')
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)

    def infer(value):
        x = httpclient.InferInput("INPUT0", [1], "FP32")
        x.set_data_from_numpy(np.array([value], np.float32))
        return c.infer("odd", [x])

    np.testing.assert_array_equal(infer(3).as_numpy("OUTPUT0"), [6])
    expect_server_error(infer, 1, status=500, contains=["12345"])
    expect_server_error(infer, 2, status=500, contains=["an output tensor's name must be a str, got bytes"])
    np.testing.assert_array_equal(infer(4).as_numpy("OUTPUT0"), [8])


AUTO_COMPLETE = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):
        auto_complete_model_config.add_input({"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [4]})
        auto_complete_model_config.add_output({"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [4]})
        auto_complete_model_config.set_max_batch_size(8)
        auto_complete_model_config.set_dynamic_batching()
        return auto_complete_model_config

    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(
            "OUTPUT0", pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy() + 1)]) for r in requests]
'''


def test_auto_complete_config_fills_the_config(start_server, make_repo):
    repo = make_repo("auto")
    _python_model(repo, "auto", 'backend: "python"', AUTO_COMPLETE)
    # A config that contradicts what auto_complete_config adds fails that load, naming it.
    _python_model(repo, "clash", '''
        backend: "python"
        input [{ name: "INPUT0" data_type: TYPE_INT32 dims: [4] }]
    ''', AUTO_COMPLETE)
    srv = start_server([repo], ["--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    config = c.get_model_config("auto")
    assert [(i["name"], i["data_type"], i["dims"]) for i in config["input"]] == [("INPUT0", "TYPE_FP32", [4])]
    assert [o["name"] for o in config["output"]] == ["OUTPUT0"]
    assert config["max_batch_size"] == 8 and config["dynamic_batching"]["preferred_batch_size"] == [8]
    x = httpclient.InferInput("INPUT0", [2, 4], "FP32")
    x.set_data_from_numpy(np.zeros((2, 4), np.float32))
    np.testing.assert_array_equal(c.infer("auto", [x]).as_numpy("OUTPUT0"), np.ones((2, 4), np.float32))
    reason = index_entries(c, "clash")[0]["reason"]
    assert "auto_complete_config" in reason and "TYPE_INT32" in reason and "ValueError" in reason, reason


def test_auto_complete_config_is_not_run_when_disabled(start_server, make_repo):
    repo = make_repo("auto_off")
    _python_model(repo, "auto", '''
        backend: "python"
        max_batch_size: 2
        input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [4] }]
        output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [4] }]
    ''', AUTO_COMPLETE)
    srv = start_server([repo], ["--disable-auto-complete-config"])
    assert httpclient.InferenceServerClient(srv.url).get_model_config("auto")["max_batch_size"] == 2


def test_a_load_request_never_brings_python_code_or_an_interpreter(start_server, repo):
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=add_sub"])
    c = httpclient.InferenceServerClient(srv.url)
    code = b"import os\nos.system('touch /tmp/inferd-pwned')\n"
    expect_server_error(c.load_model, "add_sub", config='{"backend": "python"}', files={"file:1/model.py": code},
                        contains=["never taken from a load request"])
    env = '{"backend": "python", "parameters": {"EXECUTION_ENV_PATH": {"string_value": "/tmp"}}}'
    expect_server_error(c.load_model, "add_sub", config=env, contains=["EXECUTION_ENV_PATH"])
    assert c.is_model_ready("add_sub")  # the disk version still serves


# Output N: a vector of N float32 ones (the stub grows the shared memory for
# it); SUM: the sum of INPUT (the server grows it for a large input).
SIZES = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "INPUT").as_numpy()
            n = int(pb_utils.get_input_tensor_by_name(r, "N").as_numpy()[0])
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("ONES", np.ones(n, np.float32)),
                                                   pb_utils.Tensor("SUM", np.array([x.sum()], np.float64))]))
        return out
'''

SIZES_CONFIG = '''
backend: "python"
input [{ name: "INPUT" data_type: TYPE_FP32 dims: [-1] }, { name: "N" data_type: TYPE_INT32 dims: [1] }]
output [{ name: "ONES" data_type: TYPE_FP32 dims: [-1] }, { name: "SUM" data_type: TYPE_FP64 dims: [1] }]
'''


def test_tensors_larger_than_the_shared_memory_grow_it_both_ways(start_server, make_repo):
    repo = make_repo("sizes")
    _python_model(repo, "sizes", SIZES_CONFIG, SIZES)
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    for n_in, n_out in ((4, 4), (3_000_000, 8), (4, 3_000_000), (6_000_000, 6_000_000), (4, 4)):
        x = np.full(n_in, 0.5, np.float32)
        inputs = [httpclient.InferInput("INPUT", [n_in], "FP32"), httpclient.InferInput("N", [1], "INT32")]
        inputs[0].set_data_from_numpy(x)
        inputs[1].set_data_from_numpy(np.array([n_out], np.int32))
        r = c.infer("sizes", inputs)
        assert r.as_numpy("SUM").tolist() == [n_in * 0.5]
        ones = r.as_numpy("ONES")
        assert ones.shape == (n_out,) and float(ones.sum()) == n_out


# Triton's sequence example shape: the sequence batcher's START/READY
# controls reach execute as inputs; the model keeps a sum per correlation id
# (two instances: a slot each, so that two sequences run at once; each
# sequence stays on its instance).
SEQUENCE = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.sums = {}

    def execute(self, requests):
        out = []
        for r in requests:
            start = pb_utils.get_input_tensor_by_name(r, "START").as_numpy()[0]
            value = int(pb_utils.get_input_tensor_by_name(r, "INPUT").as_numpy()[0])
            key = r.correlation_id()
            self.sums[key] = (0 if start else self.sums.get(key, 0)) + value
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT", np.array([self.sums[key]], np.int32))]))
        return out
'''

SEQUENCE_CONFIG = '''
backend: "python"
sequence_batching {
  control_input [{ name: "START" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] }] }]
}
input [{ name: "INPUT" data_type: TYPE_INT32 dims: [1] }]
output [{ name: "OUTPUT" data_type: TYPE_INT32 dims: [1] }]
instance_group [{ kind: KIND_CPU count: 2 }]
'''


def test_sequence_controls_reach_execute_as_inputs(start_server, make_repo):
    repo = make_repo("sequence")
    _python_model(repo, "running_sum", SEQUENCE_CONFIG, SEQUENCE)
    srv = start_server([repo])
    c = grpcclient.InferenceServerClient(srv.grpc_url)

    def step(sequence, value, start=False, end=False):
        x = grpcclient.InferInput("INPUT", [1], "INT32")
        x.set_data_from_numpy(np.array([value], np.int32))
        r = c.infer("running_sum", [x], sequence_id=sequence, sequence_start=start, sequence_end=end)
        return int(r.as_numpy("OUTPUT")[0])

    assert step(7, 5, start=True) == 5
    assert step(8, 100, start=True) == 100
    assert step(7, 2) == 7
    assert step(8, 1) == 101
    assert step(7, 3, end=True) == 10
    assert step(7, 1, start=True, end=True) == 1  # a new sequence starts from zero


SLOW = '''
import time
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        time.sleep(0.1)
        return [pb_utils.InferenceResponse([pb_utils.Tensor(
            "OUTPUT0", pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy())]) for r in requests]
'''


def test_unload_while_requests_wait_answers_them_all(start_server, make_repo):
    repo = make_repo("unload")
    _python_model(repo, "slow", '''
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [2] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [2] }]
instance_group [{ kind: KIND_CPU count: 1 }]
''', SLOW)
    srv = start_server([repo], extra_args=["--model-control-mode=explicit", "--load-model=slow"])

    def one(i):
        c = httpclient.InferenceServerClient(srv.url, network_timeout=60)
        x = httpclient.InferInput("INPUT0", [2], "FP32")
        x.set_data_from_numpy(np.array([i, i], np.float32))
        try:
            return c.infer("slow", [x]).as_numpy("OUTPUT0").tolist() == [i, i]
        except InferenceServerException as e:
            return e.message()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(one, i) for i in range(8)]
        time.sleep(0.15)  # one executing, the others queued
        httpclient.InferenceServerClient(srv.url).unload_model("slow")
        results = [a.result(timeout=60) for a in answers]
    # Every request was answered: those accepted ran (Triton drains the queue on unload).
    assert all(r is True for r in results), results
    assert not httpclient.InferenceServerClient(srv.url).is_model_ready("slow")


PARAMETERS = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([
            pb_utils.Tensor("PARAMETERS", np.array([r.parameters()], dtype=np.object_)),
            pb_utils.Tensor("FLAGS", np.array([r.flags()], dtype=np.int32))]) for r in requests]
'''

PARAMETERS_CONFIG = '''
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1] }]
output [{ name: "PARAMETERS" data_type: TYPE_STRING dims: [1] }, { name: "FLAGS" data_type: TYPE_INT32 dims: [1] }]
'''


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_request_parameters_and_flags_reach_the_model_as_on_triton(start_server, make_repo, protocol):
    """request.parameters() is the JSON of the client's own parameters with
    their types (the protocol's, such as the sequence controls, are not among
    them); request.flags() carries the sequence start and end."""
    repo = make_repo("parameters")
    _python_model(repo, "echo_parameters", PARAMETERS_CONFIG, PARAMETERS)
    srv = start_server([repo])
    client_module = httpclient if protocol == "http" else grpcclient
    c = client_module.InferenceServerClient(srv.url if protocol == "http" else srv.grpc_url)
    x = client_module.InferInput("INPUT0", [1], "FP32")
    x.set_data_from_numpy(np.array([1], np.float32))
    custom = {"max_tokens": 8, "stream": True, "stop": "\n", "temperature": 0.5}
    r = c.infer("echo_parameters", [x], parameters=custom, sequence_id=3, sequence_start=True)
    assert json.loads(r.as_numpy("PARAMETERS")[0]) == custom
    assert int(r.as_numpy("FLAGS")[0]) == 1
    r = c.infer("echo_parameters", [x], sequence_id=3, sequence_end=True)
    assert json.loads(r.as_numpy("PARAMETERS")[0]) == {}
    assert int(r.as_numpy("FLAGS")[0]) == 2
    r = c.infer("echo_parameters", [x])
    assert json.loads(r.as_numpy("PARAMETERS")[0]) == {} and int(r.as_numpy("FLAGS")[0]) == 0


def test_text_that_is_not_utf8_reaches_the_model_mended(start_server, make_repo):
    """A lone low surrogate escaped in an HTTP request's JSON parameters is not
    UTF-8 once decoded; the execution's message to the stub carries it as
    U+FFFD (Python could not decode it otherwise), and the stub serves on."""
    repo = make_repo("mended")
    _python_model(repo, "echo_parameters", PARAMETERS_CONFIG, PARAMETERS)
    srv = start_server([repo])
    body = (b'{"parameters": {"k": "a\\udfffb"}, "inputs": [{"name": "INPUT0", "shape": [1], '
            b'"datatype": "FP32", "data": [1]}]}')
    request = urllib.request.Request(f"http://{srv.url}/v2/models/echo_parameters/infer", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        outputs = {o["name"]: o["data"] for o in json.loads(answer.read())["outputs"]}
    # Each of its three bytes becomes U+FFFD, as Python's own decoder replaces them.
    assert json.loads(outputs["PARAMETERS"][0]) == {"k": "a\ufffd\ufffd\ufffdb"}
    assert b"\xed\xbf\xbf".decode(errors="replace") == "\ufffd\ufffd\ufffd"
    x = httpclient.InferInput("INPUT0", [1], "FP32")
    x.set_data_from_numpy(np.array([1], np.float32))
    r = httpclient.InferenceServerClient(srv.url).infer("echo_parameters", [x], parameters={"k": "caf\u00e9"})
    assert json.loads(r.as_numpy("PARAMETERS")[0]) == {"k": "caf\u00e9"}


METRICS = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        labels = {"model": args["model_name"], "version": args["model_version"]}
        # The families are kept: as in Triton, a Metric dies with its MetricFamily object.
        self.requests_family = pb_utils.MetricFamily(
            name="model_py_requests", description="Requests the model.py saw", kind=pb_utils.MetricFamily.COUNTER)
        self.requests = self.requests_family.Metric(labels=labels)
        self.last_family = pb_utils.MetricFamily(
            name="model_py_last_value", description="The last INPUT0 it saw", kind=pb_utils.MetricFamily.GAUGE)
        self.last = self.last_family.Metric(labels=labels)

    def execute(self, requests):
        responses = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()
            try:
                if x[0] < 0:
                    self.requests.increment(float(x[0]))  # a counter refuses to go down
                self.requests.increment(1)
                self.last.set(float(x[0]))
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor(
                    "OUTPUT0", np.array([self.requests.value()], np.float32))]))
            except pb_utils.TritonModelException as e:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(e))))
        return responses
'''

METRICS_CONFIG = '''
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1] }]
'''


def test_custom_metrics_from_model_py_are_on_the_metrics_page(start_server, make_repo):
    """pb_utils.MetricFamily / Metric as in Triton's custom_metrics example: a
    counter and a gauge with the model's labels, read back by value(), printed
    on /metrics with their HELP and TYPE; a counter refuses a negative step."""
    import urllib.request
    repo = make_repo("metrics")
    _python_model(repo, "counted", METRICS_CONFIG, METRICS)
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    x = httpclient.InferInput("INPUT0", [1], "FP32")
    for value, expected in ((5, 1), (7, 2), (3, 3)):
        x.set_data_from_numpy(np.array([value], np.float32))
        assert c.infer("counted", [x]).as_numpy("OUTPUT0")[0] == expected
    x.set_data_from_numpy(np.array([-1], np.float32))
    with pytest.raises(InferenceServerException) as e:
        c.infer("counted", [x])
    assert "counter" in str(e.value).lower()
    page = urllib.request.urlopen(f"http://{srv.metrics_url}/metrics").read().decode()
    assert "# HELP model_py_requests Requests the model.py saw" in page
    assert "# TYPE model_py_requests counter" in page
    assert 'model_py_requests{model="counted",version="1"} 3' in page
    assert "# TYPE model_py_last_value gauge" in page
    assert 'model_py_last_value{model="counted",version="1"} 3' in page


HISTOGRAM_METRICS = '''
import json

import numpy as np
import triton_python_backend_utils as pb_utils


def refused(what, call, needle):
    """`what` if call() did not raise TritonModelException with `needle` in it."""
    try:
        call()
    except pb_utils.TritonModelException as e:
        return [] if needle in str(e) else [f"{what}: {e}"]
    return [f"{what}: no error"]


class TritonPythonModel:
    def initialize(self, args):
        self.family = pb_utils.MetricFamily(name="model_py_latency", description="Latency seen by model.py",
                                            kind=pb_utils.MetricFamily.HISTOGRAM)
        self.latency = self.family.Metric(labels={"model": args["model_name"]}, buckets=[0.1, 1.0, 2.5, 5.0, 10.0])
        # No buckets but +Inf, and module-level kinds as Triton's pb_utils has them.
        self.bare_family = pb_utils.MetricFamily(name="model_py_bare", description="Only +Inf",
                                                 kind=pb_utils.HISTOGRAM)
        self.bare = self.bare_family.Metric(buckets=[])

    def checks(self):
        """Triton's rules for histograms and metric lifetimes; returns what failed."""
        failed = []
        hist, counter_family = self.family, pb_utils.MetricFamily(
            name="model_py_checks", description="first text", kind=pb_utils.MetricKind.COUNTER)
        failed += refused("no buckets", lambda: hist.Metric(labels={}), "Missing required buckets")
        failed += refused("buckets=None", lambda: hist.Metric(labels={}, buckets=None), "Missing required buckets")
        failed += refused("a tuple", lambda: hist.Metric(buckets=(1.0, 2.0)), "Buckets must be a list")
        failed += refused("unsorted", lambda: hist.Metric(labels={"k": "1"}, buckets=[2.5, 0.1]), "strictly increasing")
        failed += refused("repeated", lambda: hist.Metric(labels={"k": "2"}, buckets=[1, 1, 2]), "strictly increasing")
        failed += refused("infinite", lambda: hist.Metric(labels={"k": "3"}, buckets=[1, float("inf")]), "finite")
        failed += refused("le label", lambda: hist.Metric(labels={"le": "1"}, buckets=[1]), "'le'")
        failed += refused("labels not a dict", lambda: hist.Metric(labels=["a"], buckets=[1]), "Labels must be a dict")
        failed += refused("counter with buckets", lambda: counter_family.Metric(buckets=[1.0]), "Unexpected buckets")
        failed += refused("histogram value()", self.latency.value, "histogram")
        failed += refused("histogram increment()", lambda: self.latency.increment(1), "histogram")
        failed += refused("histogram set()", lambda: self.latency.set(1), "gauge")
        failed += refused("histogram observe(nan)", lambda: self.latency.observe(float("nan")), "finite")
        counter = counter_family.Metric()
        failed += refused("counter observe()", lambda: counter.observe(0.05), "histogram")
        # The same name and kind with another text is the same family, first text kept.
        again = pb_utils.MetricFamily(name="model_py_checks", description="second text",
                                      kind=pb_utils.MetricFamily.COUNTER)
        failed += refused("another kind", lambda: pb_utils.MetricFamily(
            name="model_py_checks", description="first text", kind=pb_utils.MetricFamily.GAUGE), "counter")
        again.Metric().increment(2)
        if counter.value() != 2:
            failed.append(f"the shared series holds {counter.value()}, not 2")
        # A Metric whose MetricFamily object is gone refuses everything.
        orphan_family = pb_utils.MetricFamily(name="model_py_orphan", description="x",
                                              kind=pb_utils.MetricFamily.GAUGE)
        orphan = orphan_family.Metric(labels={"a": "b"})
        del orphan_family
        for name, call in (("set", lambda: orphan.set(1)), ("increment", lambda: orphan.increment(1)),
                           ("value", orphan.value)):
            failed += refused(f"orphan {name}", call, "'MetricFamily' has been deleted")
        self.keep = (counter_family, counter, again)  # for the page the test reads next
        return failed

    def execute(self, requests):
        responses = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()
            if x[0] < 0:
                answer = self.checks()
            else:
                for value in x:
                    self.latency.observe(float(value))
                self.bare.observe(float(x[0]))
                answer = []
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor(
                "OUTPUT0", np.array([json.dumps(answer).encode()], dtype=np.object_))]))
        return responses
'''

HISTOGRAM_CONFIG = '''
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [-1] }]
output [{ name: "OUTPUT0" data_type: TYPE_STRING dims: [1] }]
'''


def test_histogram_metrics_from_model_py_print_as_tritons(start_server, make_repo):
    """pb_utils.MetricFamily.HISTOGRAM as in Triton 2.51: Metric(labels,
    buckets), observe(); /metrics prints _count, _sum and cumulative _bucket
    lines with le (as Triton's QA custom_metrics test reads them); buckets,
    kinds and lifetimes are checked with Triton's errors."""
    repo = make_repo("histogram")
    _python_model(repo, "hist", HISTOGRAM_CONFIG, HISTOGRAM_METRICS)
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)

    def send(values):
        x = httpclient.InferInput("INPUT0", [len(values)], "FP32")
        x.set_data_from_numpy(np.array(values, np.float32))
        return json.loads(c.infer("hist", [x]).as_numpy("OUTPUT0")[0])

    def page():
        return urllib.request.urlopen(f"http://{srv.metrics_url}/metrics").read().decode()

    labels = 'model="hist"'
    before = page()
    assert f"model_py_latency_count{{{labels}}} 0\n" in before
    assert f'model_py_latency_bucket{{{labels},le="+Inf"}} 0\n' in before
    assert send([0.25, 1.5]) == [] and send([6.0]) == []  # float32 values, exact in binary
    text = page()
    assert "# HELP model_py_latency Latency seen by model.py\n# TYPE model_py_latency histogram\n" in text
    lines = [line for line in text.splitlines() if line.startswith("model_py_latency")]
    assert lines == [f"model_py_latency_count{{{labels}}} 3",
                     f"model_py_latency_sum{{{labels}}} 7.75",
                     f'model_py_latency_bucket{{{labels},le="0.1"}} 0',
                     f'model_py_latency_bucket{{{labels},le="1"}} 1',
                     f'model_py_latency_bucket{{{labels},le="2.5"}} 2',
                     f'model_py_latency_bucket{{{labels},le="5"}} 2',
                     f'model_py_latency_bucket{{{labels},le="10"}} 3',
                     f'model_py_latency_bucket{{{labels},le="+Inf"}} 3']
    assert [line for line in text.splitlines() if line.startswith("model_py_bare")] == [
        "model_py_bare_count 2", "model_py_bare_sum 6.25", 'model_py_bare_bucket{le="+Inf"} 2']

    assert send([-1.0]) == []
    text = page()
    assert "# HELP model_py_checks first text\n# TYPE model_py_checks counter\nmodel_py_checks 2\n" in text
    assert "second text" not in text
    # Deleting the family deleted the orphan's series, which no refused call brought back.
    for _ in range(50):
        if "model_py_orphan" not in text:
            break
        time.sleep(0.1)
        text = page()
    assert "model_py_orphan" not in text
    assert send([0.5]) == []  # the server and the model serve on
    assert f"model_py_latency_count{{{labels}}} 4\n" in page()


SHORT_LIVED_METRIC = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        for r in requests:
            if pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy()[0] == 1:
                self.family = pb_utils.MetricFamily(name="model_py_short_lived", description="Goes with its objects",
                                                    kind=pb_utils.MetricFamily.GAUGE)
                self.series = self.family.Metric(labels={"step": "one"})
                self.series.set(42)
            else:
                del self.series, self.family  # the server drops the series and its family
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", np.zeros([1], np.float32))])
                for _ in requests]
'''


def test_a_custom_metric_leaves_the_metrics_page_with_its_python_objects(start_server, make_repo):
    repo = make_repo("short_lived_metric")
    _python_model(repo, "short_lived", METRICS_CONFIG, SHORT_LIVED_METRIC)
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    x = httpclient.InferInput("INPUT0", [1], "FP32")

    def page_after(value):
        x.set_data_from_numpy(np.array([value], np.float32))
        c.infer("short_lived", [x])
        return urllib.request.urlopen(f"http://{srv.metrics_url}/metrics").read().decode()

    assert 'model_py_short_lived{step="one"} 42' in page_after(1)
    page = page_after(2)
    # The deletions travel without an answer: give the server's channel a moment.
    for _ in range(50):
        if "model_py_short_lived" not in page:
            break
        time.sleep(0.1)
        page = urllib.request.urlopen(f"http://{srv.metrics_url}/metrics").read().decode()
    assert "model_py_short_lived" not in page


EMPTY_OUTPUTS = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor("BOXES", np.zeros((0, 4), np.int32)),
            pb_utils.Tensor("WORDS", np.array([], dtype=np.object_))]) for _ in requests]
'''


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_model_may_answer_with_empty_tensors(start_server, make_repo, protocol):
    # Nothing found is a common answer (an OCR page without text): a shape
    # with a zero crosses as it is.
    repo = make_repo("empty")
    _python_model(repo, "empty", '''
backend: "python"
input [{ name: "IN" data_type: TYPE_INT32 dims: [1] }]
output [{ name: "BOXES" data_type: TYPE_INT32 dims: [-1, 4] }, { name: "WORDS" data_type: TYPE_STRING dims: [-1] }]
''', EMPTY_OUTPUTS)
    srv = start_server([repo])
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(srv.url if protocol == "http" else srv.grpc_url)
    inp = module.InferInput("IN", [1], "INT32")
    inp.set_data_from_numpy(np.array([1], np.int32))
    result = client.infer("empty", [inp])
    assert result.as_numpy("BOXES").shape == (0, 4)
    assert result.as_numpy("WORDS").shape == (0,)


RESPONSE_PARAMETERS = '''
import json
import threading

import numpy as np
import triton_python_backend_utils as pb_utils

GOOD = {"label": "cat", "count": 3, "big": -(1 << 63), "sure": True, "unsure": False}


class TritonPythonModel:
    def initialize(self, args):
        self.decoupled = pb_utils.using_decoupled_model_transaction_policy(json.loads(args["model_config"]))

    def respond(self, request):
        x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
        mode = int(x[0])
        if mode == 1:  # what Triton refuses, in its words
            pb_utils.InferenceResponse([], parameters={"n": 1.5})
        if mode == 2:
            pb_utils.InferenceResponse([], parameters={7: "x"})
        response = pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", x)], parameters=GOOD)
        assert json.loads(response.parameters()) == GOOD
        assert pb_utils.InferenceResponse([]).parameters() == "{}"
        return response

    def execute(self, requests):
        if not self.decoupled:
            return [self.respond(r) for r in requests]
        for r in requests:
            sender = r.get_response_sender()
            def send(r=r, sender=sender):
                try:
                    sender.send(self.respond(r))
                except pb_utils.TritonModelException as e:
                    sender.send(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(e))))
                sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
            threading.Thread(target=send).start()
        return None
'''
RESPONSE_PARAMETERS_CONFIG = '''
backend: "python"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [1] }]
'''
GOOD_PARAMETERS = {"label": "cat", "count": 3, "big": -(1 << 63), "sure": True, "unsure": False}


def _grpc_parameters(parameters):
    return {k: getattr(v, v.WhichOneof("parameter_choice")) for k, v in parameters.items()
            if k != "triton_final_response"}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_response_parameters_reach_the_client_typed_as_on_triton(start_server, make_repo, protocol):
    # pb_utils.InferenceResponse(parameters=...), as Triton's Python backend
    # takes it from r25.02 on: str keys; bool, int and str values.
    repo = make_repo("response_parameters")
    _python_model(repo, "with_parameters", RESPONSE_PARAMETERS_CONFIG, RESPONSE_PARAMETERS)
    srv = start_server([repo])
    module = httpclient if protocol == "http" else grpcclient
    c = module.InferenceServerClient(srv.url if protocol == "http" else srv.grpc_url)

    def ask(mode):
        x = module.InferInput("INPUT0", [1], "FP32")
        x.set_data_from_numpy(np.array([mode], np.float32))
        return c.infer("with_parameters", [x])

    result = ask(0)
    assert result.as_numpy("OUTPUT0").tolist() == [0.0]
    if protocol == "http":
        assert result.get_response()["parameters"] == GOOD_PARAMETERS
    else:
        assert _grpc_parameters(result.get_response().parameters) == GOOD_PARAMETERS
    for mode, words in ((1, "Expect parameters values to have type bool/int/str, found type <class 'float'>"),
                        (2, "Expect parameters keys to have type str, found type <class 'int'>")):
        with pytest.raises(InferenceServerException) as e:
            ask(mode)
        assert words in e.value.message(), e.value.message()
    assert ask(0).as_numpy("OUTPUT0").tolist() == [0.0]  # the model serves on


def test_response_parameters_of_a_decoupled_model_reach_the_stream(start_server, make_repo):
    repo = make_repo("decoupled_response_parameters")
    _python_model(repo, "streamed", RESPONSE_PARAMETERS_CONFIG + "model_transaction_policy { decoupled: true }\n",
                  RESPONSE_PARAMETERS)
    srv = start_server([repo])
    results = queue.Queue()
    c = grpcclient.InferenceServerClient(srv.grpc_url)
    c.start_stream(callback=lambda result, error: results.put((result, error)))
    try:
        for mode in (0, 1):
            x = grpcclient.InferInput("INPUT0", [1], "FP32")
            x.set_data_from_numpy(np.array([mode], np.float32))
            c.async_stream_infer("streamed", [x], enable_empty_final_response=True)
        seen = []
        while len(seen) < 4:
            result, error = results.get(timeout=30)
            seen.append((result, error))
    finally:
        c.stop_stream()
    answers = [r for r, e in seen if e is None and r.as_numpy("OUTPUT0") is not None]
    errors = [e for r, e in seen if e is not None]
    assert len(answers) == 1 and _grpc_parameters(answers[0].get_response().parameters) == GOOD_PARAMETERS
    assert len(errors) == 1 and "Expect parameters values" in errors[0].message(), errors


FORKED = '''
import os
import random
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_instance_name"].encode()

    def execute(self, requests):
        time.sleep(0.02)  # long enough for concurrent requests to need both instances
        return [pb_utils.InferenceResponse([
            pb_utils.Tensor("PIDS", np.array([os.getpid(), os.getppid()], np.int64)),
            pb_utils.Tensor("DRAWS", np.array([random.random(), np.random.rand()], np.float64)),
            pb_utils.Tensor("INSTANCE", np.array([self.name], np.object_))]) for _ in requests]
'''
FORKED_CONFIG = '''
backend: "python"
max_batch_size: 0
input [{ name: "X" data_type: TYPE_FP32 dims: [ 1 ] }]
output [
  { name: "PIDS" data_type: TYPE_INT64 dims: [ 2 ] },
  { name: "DRAWS" data_type: TYPE_FP64 dims: [ 2 ] },
  { name: "INSTANCE" data_type: TYPE_STRING dims: [ 1 ] }
]
instance_group [{ kind: KIND_CPU count: 2 }]
'''


def _parent_of(pid):
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _each_instance(url):
    """{instance name: (pids, draws)}, asking concurrently until both answered."""
    seen = {}

    def one(_):
        c = httpclient.InferenceServerClient(url)
        x = httpclient.InferInput("X", [1], "FP32")
        x.set_data_from_numpy(np.ones(1, np.float32))
        r = c.infer("forked", [x])
        return r.as_numpy("INSTANCE")[0], r.as_numpy("PIDS").tolist(), r.as_numpy("DRAWS").tolist()

    for _ in range(20):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for name, pids, draws in pool.map(one, range(16)):
                seen[name] = (pids, draws)
        if len(seen) == 2:
            return seen
    raise AssertionError(f"only {list(seen)} answered")


def test_stubs_are_forked_from_a_launcher_and_start_afresh_where_it_matters(start_server, make_repo):
    repo = make_repo("forked")
    _python_model(repo, "forked", FORKED_CONFIG, FORKED)
    srv = start_server([repo])
    seen = _each_instance(srv.url)
    (pids0, draws0), (pids1, draws1) = seen.values()
    # Both stubs are children of one launcher, itself a child of the server.
    launcher = pids0[1]
    assert pids1[1] == launcher and launcher != srv.proc.pid
    assert "inferd_python_launcher.py" in Path(f"/proc/{launcher}/cmdline").read_text()
    assert _parent_of(launcher) == srv.proc.pid
    # Forked stubs do not share the launcher's random state.
    assert draws0[0] != draws1[0] and draws0[1] != draws1[1], (draws0, draws1)

    # Without its launcher, the server still serves: the stubs it forked live
    # on, and a stub that dies now is started by a new launcher.
    os.kill(launcher, signal.SIGKILL)
    c = httpclient.InferenceServerClient(srv.url)
    os.kill(pids0[0], signal.SIGKILL)
    x = httpclient.InferInput("X", [1], "FP32")
    x.set_data_from_numpy(np.ones(1, np.float32))
    answered = 0
    for _ in range(8):  # the killed stub fails at most the execution that meets it
        try:
            c.infer("forked", [x])
            answered += 1
        except InferenceServerException as e:
            assert "restarted" in e.message(), e.message()
    assert answered >= 7
    seen = _each_instance(srv.url)
    # The restarted stub's parent is a new launcher of the server's (the
    # other stub, orphaned, now belongs to init or a subreaper).
    parents = {pids[1] for pids, _ in seen.values()} - {launcher}
    new = [p for p in parents if _parent_of(p) == srv.proc.pid]
    assert len(new) == 1 and "inferd_python_launcher.py" in Path(f"/proc/{new[0]}/cmdline").read_text(), parents
    srv.stop()
    assert srv.returncode == 0, srv.log_text()


# Says where it runs: the interpreter's prefix and a module only its environment has.
WHERE = '''
import sys

import inferd_env_marker
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        where = np.array([sys.prefix.encode(), inferd_env_marker.WHERE.encode()], dtype=np.object_)
        return [pb_utils.InferenceResponse([pb_utils.Tensor("WHERE", where)]) for _ in requests]
'''
WHERE_CONFIG = '''
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [1] }]
output [{ name: "WHERE" data_type: TYPE_STRING dims: [2] }]
parameters { key: "EXECUTION_ENV_PATH" value { string_value: "%s" } }
'''


def _environment_tarball(folder, tarball):
    """A virtualenv of the system's Python (its numpy seen) with a module of its own, packed as conda-pack packs."""
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip", folder], check=True)
    site = subprocess.run([f"{folder}/bin/python3", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "inferd_env_marker.py").write_text('WHERE = "packed"\n')
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, arcname=".")


def test_an_environment_tarball_is_unpacked_once_and_runs_the_model(start_server, make_repo, tmp_path):
    repo = make_repo("packed")
    _environment_tarball(tmp_path / "venv", tmp_path / "env.tar.gz")
    first = _python_model(repo, "first", WHERE_CONFIG % "$$TRITON_MODEL_DIRECTORY/env.tar.gz", WHERE)
    shutil.copy(tmp_path / "env.tar.gz", first / "env.tar.gz")
    _python_model(repo, "second", WHERE_CONFIG % (first / "env.tar.gz"), WHERE)
    temp = tmp_path / "temp"
    root = temp / f"inferd-python-envs-{os.getuid()}"
    root.mkdir(parents=True, mode=0o700)
    # What a server killed while unpacking left (its pid is gone) is cleared;
    # a live process's staging folder is not.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (root / f"env.tar.gz-0123.partial-{dead.pid}-1").mkdir()
    (root / f"env.tar.gz-0123.partial-{dead.pid}-1" / "half").write_text("x")
    (root / f"env.tar.gz-0123.partial-{dead.pid}-1.log").write_text("x")
    live = root / f"other.tgz-4567.partial-{os.getpid()}-1"
    live.mkdir()
    srv = start_server([repo], env=dict(os.environ, TMPDIR=str(temp)))
    c = httpclient.InferenceServerClient(srv.url)
    x = httpclient.InferInput("INPUT0", [1], "FP32")
    x.set_data_from_numpy(np.zeros(1, np.float32))
    assert live.is_dir()
    live.rmdir()
    unpacked = [p for p in root.iterdir()]
    assert len(unpacked) == 1 and unpacked[0].name.startswith("env.tar.gz-"), unpacked  # one, shared, nothing left
    assert oct(root.stat().st_mode & 0o777) == "0o700"
    for model in ("first", "second"):
        prefix, marker = c.infer(model, [x]).as_numpy("WHERE").tolist()
        assert prefix.decode() == str(unpacked[0]) and marker == b"packed", (prefix, marker)


def test_environment_tarballs_that_cannot_be_used_fail_the_load_naming_why(start_server, make_repo, tmp_path):
    repo = make_repo("bad_packs")
    corrupt = _python_model(repo, "corrupt", WHERE_CONFIG % "$$TRITON_MODEL_DIRECTORY/env.tar.gz", WHERE)
    (corrupt / "env.tar.gz").write_bytes(os.urandom(4096))
    escaping = _python_model(repo, "escaping", WHERE_CONFIG % "$$TRITON_MODEL_DIRECTORY/env.tar", WHERE)
    with tarfile.open(escaping / "env.tar", "w") as tar:
        member = tarfile.TarInfo("../../../escaped.txt")
        member.size = 4
        tar.addfile(member, io.BytesIO(b"oops"))
    empty = _python_model(repo, "empty", WHERE_CONFIG % "$$TRITON_MODEL_DIRECTORY/env.tgz", WHERE)
    with tarfile.open(empty / "env.tgz", "w:gz") as tar:
        member = tarfile.TarInfo("README")
        member.size = 2
        tar.addfile(member, io.BytesIO(b"hi"))
    temp = tmp_path / "temp"
    temp.mkdir()
    srv = start_server([repo], ["--strict-readiness=false"], env=dict(os.environ, TMPDIR=str(temp)))
    c = httpclient.InferenceServerClient(srv.url)
    reasons = {name: index_entries(c, name)[0]["reason"] for name in ("corrupt", "escaping", "empty")}
    assert "(a tarball): tar exited with status" in reasons["corrupt"], reasons
    assert "(a tarball): tar exited with status" in reasons["escaping"] and "..'" in reasons["escaping"], reasons
    assert "has no bin/python3" in reasons["empty"], reasons
    assert not any(p.name == "escaped.txt" for p in tmp_path.rglob("*")) and not (repo.parent / "escaped.txt").exists()
    root = temp / f"inferd-python-envs-{os.getuid()}"
    assert [p.name for p in root.iterdir() if ".partial-" in p.name] == []  # no half-unpacked folders left

    # A folder for unpacked environments that others can write to is never used.
    shared = tmp_path / "shared"
    (shared / f"inferd-python-envs-{os.getuid()}").mkdir(parents=True)
    (shared / f"inferd-python-envs-{os.getuid()}").chmod(0o777)
    srv = start_server([repo], ["--strict-readiness=false"], env=dict(os.environ, TMPDIR=str(shared)))
    reason = index_entries(httpclient.InferenceServerClient(srv.url), "empty")[0]["reason"]
    assert "is not a folder of this user's only" in reason, reason
