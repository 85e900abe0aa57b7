"""pb_utils.load_model, unload_model and is_model_ready (Triton's model
loading API for Python models) on inferd: a model.py loads, reloads with a
config of its own, gives data files, and unloads other models while the
server is in explicit model control mode; asks from its initialize without
waiting for itself; gets Triton's errors for what cannot be done (another
control mode, a model that is not in the repository, code among the files,
a version that is not a number). Through tritonclient, against a real
server, as the rest of the suite."""

import json
import textwrap

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support import identity_config, write_model

# Runs the pb_utils call its input names and answers with what came back:
# {"result": ...} or {"error": "..."}.
CONTROLLER = '''
import json

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            command = json.loads(pb_utils.get_input_tensor_by_name(request, "COMMAND").as_numpy()[0])
            call, args = command["call"], command.get("args", {})
            if isinstance(args.get("files"), dict):
                args["files"] = {key: value.encode() for key, value in args["files"].items()}
            try:
                answer = {"result": getattr(pb_utils, call)(**args)}
            except pb_utils.TritonModelException as e:
                answer = {"error": str(e)}
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor(
                "ANSWER", np.array([json.dumps(answer).encode()], dtype=np.object_))]))
        return responses
'''
CONTROLLER_CONFIG = '''
backend: "python"
input [{ name: "COMMAND" data_type: TYPE_STRING dims: [1] }]
output [{ name: "ANSWER" data_type: TYPE_STRING dims: [1] }]
'''

# Loads "target_at_init" from its initialize: a load inside a load.
LOADS_AT_INIT = '''
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        pb_utils.load_model(model_name="target_at_init")
        assert pb_utils.is_model_ready("target_at_init")

    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.zeros([1], np.float32))]) for _ in requests]
'''
LOADS_AT_INIT_CONFIG = '''
backend: "python"
input [{ name: "IN" data_type: TYPE_FP32 dims: [1] }]
output [{ name: "OUT" data_type: TYPE_FP32 dims: [1] }]
'''


def _repo(make_repo):
    repo = make_repo("model_control")
    controller = write_model(repo, "controller", CONTROLLER_CONFIG)
    (controller / "1" / "model.py").write_text(textwrap.dedent(CONTROLLER))
    loader = write_model(repo, "loads_at_init", LOADS_AT_INIT_CONFIG)
    (loader / "1" / "model.py").write_text(textwrap.dedent(LOADS_AT_INIT))
    for name in ("target", "target_at_init"):
        write_model(repo, name, identity_config(name, [("INPUT0", "TYPE_FP32", [4])]))
    return repo


def _ask(client, call, **args):
    x = httpclient.InferInput("COMMAND", [1], "BYTES")
    x.set_data_from_numpy(np.array([json.dumps({"call": call, "args": args}).encode()], dtype=np.object_))
    return json.loads(client.infer("controller", [x]).as_numpy("ANSWER")[0])


def _values(client, model):
    x = httpclient.InferInput("INPUT0", [4], "FP32")
    x.set_data_from_numpy(np.array([0.5, 3.0, 1.0, 2.0], np.float32))
    return client.infer(model, [x], outputs=[httpclient.InferRequestedOutput("OUTPUT0", class_count=2)])


def test_a_python_model_loads_reloads_and_unloads_another(start_server, make_repo):
    srv = start_server([_repo(make_repo)], ["--model-control-mode=explicit", "--load-model=controller"])
    c = httpclient.InferenceServerClient(srv.url)
    assert _ask(c, "is_model_ready", model_name="target") == {"result": False}
    assert not c.is_model_ready("target")

    assert _ask(c, "load_model", model_name="target") == {"result": None}
    assert c.is_model_ready("target")
    assert _ask(c, "is_model_ready", model_name="target") == {"result": True}
    assert _ask(c, "is_model_ready", model_name="target", model_version="1") == {"result": True}
    assert _ask(c, "is_model_ready", model_name="target", model_version="7") == {"result": False}
    assert "version should be an integral value" in _ask(c, "is_model_ready", model_name="target",
                                                        model_version="one")["error"]

    # A config of the model's own, and a data file that only the load brings:
    # the labels the classification extension answers with.
    config = {"backend": "identity", "max_batch_size": 0,
              "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [4]}],
              "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [4],
                          "label_filename": "labels.txt"}]}
    labels = "zero\none\ntwo\nthree\n"
    assert _ask(c, "load_model", model_name="target", config=json.dumps(config),
                files={"file:labels.txt": labels, "file:1/README": "version one"}) == {"result": None}
    top = [v.decode() for v in _values(c, "target").as_numpy("OUTPUT0")]
    assert top == ["3.000000:1:one", "2.000000:3:three"], top

    assert _ask(c, "unload_model", model_name="target") == {"result": None}
    assert not c.is_model_ready("target")
    assert _ask(c, "is_model_ready", model_name="target") == {"result": False}
    assert c.is_model_ready("controller")  # the server and the model serve on


def test_what_a_python_model_cannot_load_fails_with_tritons_words(start_server, make_repo):
    srv = start_server([_repo(make_repo)], ["--model-control-mode=explicit", "--load-model=controller"])
    c = httpclient.InferenceServerClient(srv.url)
    missing = _ask(c, "load_model", model_name="no_such_model")["error"]
    assert missing.startswith("Failed to load model:") and "not in any model repository" in missing, missing
    code = _ask(c, "load_model", model_name="target",
                config=json.dumps({"backend": "python", "input": [], "output": []}),
                files={"file:1/model.py": "import sys\nsys.exit(3)\n"})["error"]
    assert "never taken from a load request" in code, code
    assert "'file:<version>/<name>'" in _ask(c, "load_model", model_name="target", files={"1/x": "y"})["error"]
    assert "files should be a dictionary" in _ask(c, "load_model", model_name="target", files=["x"])["error"]
    assert not c.is_model_ready("target")
    assert _ask(c, "load_model", model_name="target") == {"result": None}  # and then it loads


def test_a_python_model_loads_another_from_its_initialize(start_server, make_repo):
    """The load of loads_at_init waits for its initialize, which waits for the
    load of target_at_init: each on a thread of its own, nobody waits for itself."""
    srv = start_server([_repo(make_repo)], ["--model-control-mode=explicit"])
    c = httpclient.InferenceServerClient(srv.url)
    c.load_model("loads_at_init")
    assert c.is_model_ready("loads_at_init") and c.is_model_ready("target_at_init")


@pytest.mark.parametrize("mode", ["none", "poll"])
def test_outside_explicit_mode_a_python_model_cannot_load_or_unload(start_server, make_repo, mode):
    srv = start_server([_repo(make_repo)], [f"--model-control-mode={mode}", "--repository-poll-secs=60"])
    c = httpclient.InferenceServerClient(srv.url)
    for call in ("load_model", "unload_model"):
        error = _ask(c, call, model_name="target")["error"]
        assert "explicit model load / unload is not allowed if polling is enabled" in error, error
    assert c.is_model_ready("target")
    assert _ask(c, "is_model_ready", model_name="target") == {"result": True}
    with pytest.raises(InferenceServerException):
        c.load_model("target")  # the client's own load is refused alike


# A model.py that talks to the server's channel directly, as a hostile or
# broken one could, past pb_utils' own checks: every message is refused with
# a reason, nothing is loaded, and the server serves on.
HOSTILE = '''
import fcntl
import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


def sealed(data):
    fd = os.memfd_create("hostile", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
    return fd


MESSAGES = [
    ({"type": "model_load", "model_name": "target", "config": "{}",
      "files": [{"path": "1/x", "offset": 2**63, "size": 8}]}, b"12345678"),
    ({"type": "model_load", "model_name": "target", "config": "{}",
      "files": [{"path": "1/x", "offset": 4, "size": 2**64 - 1}]}, b"12345678"),
    ({"type": "model_load", "model_name": "target", "config": "{}",
      "files": [{"path": "1/x", "offset": -1, "size": 1}]}, b"12345678"),
    ({"type": "model_load", "model_name": "target", "files": {"deep": [[[[[]]]]]}}, None),
    ({"type": "model_load", "model_name": "target", "files": [{"path": "x"}] * 5000}, None),
    ({"type": "model_load", "model_name": ""}, None),
    ({"type": "model_ready", "model_name": "target", "model_version": -5}, None),
    ({"type": "model_ready", "model_name": "target", "model_version": "1"}, None),
    ({"type": "model_unload", "model_name": ""}, None),
    ({"type": "metric_new", "family": 1, "buckets": list(range(300))}, None),
    ({"type": "metric_new", "family": 1, "buckets": ["a"]}, None),
    ({"type": "metric_new", "family": 1, "buckets": [2.0, 1.0]}, None),
]


class TritonPythonModel:
    def initialize(self, args):
        self.family = pb_utils.MetricFamily(name="hostile_hist", description="x", kind=pb_utils.MetricFamily.HISTOGRAM)

    def execute(self, requests):
        errors = []
        for message, data in MESSAGES:
            if message["type"] == "metric_new":
                message = dict(message, family=self.family._handle)
            fd = sealed(data) if data is not None else None
            try:
                pb_utils._runtime.channel.call(message, fd)
                errors.append(None)
            except pb_utils.TritonModelException as e:
                errors.append(str(e))
            finally:
                if fd is not None:
                    os.close(fd)
        return [pb_utils.InferenceResponse([pb_utils.Tensor(
            "ANSWER", np.array([json.dumps(errors).encode()], dtype=np.object_))]) for _ in requests]
'''


def test_a_model_that_bypasses_pb_utils_gets_every_bad_message_refused(start_server, make_repo):
    repo = _repo(make_repo)
    hostile = write_model(repo, "hostile", CONTROLLER_CONFIG)
    (hostile / "1" / "model.py").write_text(textwrap.dedent(HOSTILE))
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=hostile"])
    c = httpclient.InferenceServerClient(srv.url)
    x = httpclient.InferInput("COMMAND", [1], "BYTES")
    x.set_data_from_numpy(np.array([b"{}"], dtype=np.object_))
    errors = json.loads(c.infer("hostile", [x]).as_numpy("ANSWER")[0])
    expected = ["outside the memory", "outside the memory", "path, offset and size", "files must be a list",
                "files must be a list", "needs a model_name", "model_version", "model_version", "needs a model_name",
                "at most 256", "are numbers", "strictly increasing"]
    assert len(errors) == len(expected)
    for error, needle in zip(errors, expected):
        assert error is not None and needle in error, (needle, error)
    assert not c.is_model_ready("target")
    assert c.is_server_live() and c.is_model_ready("hostile")
