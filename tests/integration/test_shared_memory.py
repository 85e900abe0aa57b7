"""System shared memory (issue 13): Triton's shared-memory extension through
``tritonclient.utils.shared_memory`` and both protocols, the way Triton's
``simple_{http,grpc}_shm_client.py`` and ``..._shm_string_client.py`` examples
use it (their steps, on ONNX versions of Triton's ``simple`` and
``simple_string`` models), then every bound the server must check: regions
that do not exist, windows outside a region or outside the object, outputs
too large for their window, objects shrunk after registration, a region
unregistered while a request uses it. CUDA shared memory is refused with a
clear error (no GPU build)."""

import http.client
import json
import os
import re
import time
import uuid

import numpy as np
import onnx
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm
from onnx import TensorProto, helper
from tritonclient.utils import (InferenceServerException, serialize_byte_tensor,
                                serialized_byte_size, triton_to_np_dtype)

from support import InferdServer, fp32_identity, identity_config, write_model

PROTOCOLS = ["http", "grpc"]


def simple_onnx(path, string=False):
    """Triton's `simple` (INT32 [16]: OUTPUT0 = sum, OUTPUT1 = difference), or
    `simple_string` (the same on numbers written as strings), as ONNX."""
    elem = TensorProto.STRING if string else TensorProto.INT32

    def tensor(name):
        return helper.make_tensor_value_info(name, elem, ["batch", 16])

    nodes = []
    a, b = "INPUT0", "INPUT1"
    if string:
        nodes += [helper.make_node("Cast", ["INPUT0"], ["a"], to=TensorProto.INT32),
                  helper.make_node("Cast", ["INPUT1"], ["b"], to=TensorProto.INT32)]
        a, b = "a", "b"
    nodes += [helper.make_node("Add", [a, b], ["sum"]), helper.make_node("Sub", [a, b], ["diff"])]
    if string:
        nodes += [helper.make_node("Cast", ["sum"], ["OUTPUT0"], to=TensorProto.STRING),
                  helper.make_node("Cast", ["diff"], ["OUTPUT1"], to=TensorProto.STRING)]
    else:
        nodes += [helper.make_node("Identity", ["sum"], ["OUTPUT0"]),
                  helper.make_node("Identity", ["diff"], ["OUTPUT1"])]
    graph = helper.make_graph(nodes, "simple", [tensor("INPUT0"), tensor("INPUT1")],
                              [tensor("OUTPUT0"), tensor("OUTPUT1")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def simple_config(name, string=False):
    t = "TYPE_STRING" if string else "TYPE_INT32"
    return (f'name: "{name}"\nbackend: "onnxruntime"\nmax_batch_size: 8\n'
            + "".join(f'input {{ name: "INPUT{i}" data_type: {t} dims: [ 16 ] }}\n' for i in (0, 1))
            + "".join(f'output {{ name: "OUTPUT{i}" data_type: {t} dims: [ 16 ] }}\n' for i in (0, 1)))


@pytest.fixture(scope="module")
def srv(inferd_bin, tmp_path_factory):
    repo = tmp_path_factory.mktemp("shm_repo")
    for name, string in (("simple", False), ("simple_string", True)):
        d = write_model(repo, name, simple_config(name, string))
        simple_onnx(d / "1" / "model.onnx", string)
    write_model(repo, "identity_two", identity_config(
        "identity_two", [("INPUT0", "TYPE_INT32", [4]), ("INPUT1", "TYPE_FP32", [4])], max_batch_size=8))
    write_model(repo, "identity_bytes", identity_config(
        "identity_bytes", [("INPUT0", "TYPE_STRING", [-1])], max_batch_size=0))
    write_model(repo, "slow", fp32_identity("slow", 8, extra="""
        parameters { key: "execute_delay_ms" value { string_value: "700" } }"""))
    write_model(repo, "classify", identity_config(
        "classify", [("INPUT0", "TYPE_FP32", [3])],
        outputs=[("OUTPUT0", "TYPE_FP32", [3], 'label_filename: "labels.txt"')]),
        files={"labels.txt": "a\nb\nc\n"})
    with InferdServer(inferd_bin, [repo], log_dir=repo, tag="shared_memory") as s:
        yield s


def client_for(srv, protocol):
    if protocol == "http":
        return httpclient, httpclient.InferenceServerClient(srv.url)
    return grpcclient, grpcclient.InferenceServerClient(srv.grpc_url)


class Regions:
    """Shared memory objects made for one test, destroyed (and unregistered) after it."""

    def __init__(self, client):
        self.client = client
        self.handles = []

    def make(self, name, byte_size, register=True, offset=0, register_size=None):
        key = f"/inferd_test_{uuid.uuid4().hex[:12]}"
        handle = shm.create_shared_memory_region(name, key, byte_size)
        self.handles.append(handle)
        if register:
            self.client.register_system_shared_memory(
                name, key, byte_size if register_size is None else register_size, offset=offset)
        return handle, key

    def close(self):
        self.client.unregister_system_shared_memory()
        for h in self.handles:
            shm.destroy_shared_memory_region(h)


@pytest.fixture(params=PROTOCOLS)
def proto(request, srv):
    module, client = client_for(srv, request.param)
    regions = Regions(client)
    yield request.param, module, client, regions
    regions.close()


def status_names(protocol, client):
    st = client.get_system_shared_memory_status()
    if protocol == "http":
        return {r["name"]: r for r in st}
    return {name: {"name": r.name, "key": r.key, "offset": r.offset, "byte_size": r.byte_size}
            for name, r in st.regions.items()}


# ---------------------------------------------------------------------------
# Triton's examples, step by step
# ---------------------------------------------------------------------------

@pytest.mark.onnxruntime
def test_simple_shm_client_steps(proto):
    """simple_{http,grpc}_shm_client.py: both inputs in one region, both outputs in another."""
    protocol, module, client, regions = proto
    client.unregister_system_shared_memory()
    client.unregister_cuda_shared_memory()
    in0 = np.arange(16, dtype=np.int32)
    in1 = np.ones(16, dtype=np.int32)
    size = in0.nbytes
    out_handle, _ = regions.make("output_data", size * 2)
    in_handle, in_key = regions.make("input_data", size * 2, register=False)
    shm.set_shared_memory_region(in_handle, [in0])
    shm.set_shared_memory_region(in_handle, [in1], offset=size)
    client.register_system_shared_memory("input_data", in_key, size * 2)

    inputs = [module.InferInput("INPUT0", [1, 16], "INT32"), module.InferInput("INPUT1", [1, 16], "INT32")]
    inputs[0].set_shared_memory("input_data", size)
    inputs[1].set_shared_memory("input_data", size, offset=size)
    if protocol == "http":
        outputs = [module.InferRequestedOutput("OUTPUT0", binary_data=True),
                   module.InferRequestedOutput("OUTPUT1", binary_data=True)]
    else:
        outputs = [module.InferRequestedOutput("OUTPUT0"), module.InferRequestedOutput("OUTPUT1")]
    outputs[0].set_shared_memory("output_data", size)
    outputs[1].set_shared_memory("output_data", size, offset=size)
    result = client.infer("simple", inputs, outputs=outputs)

    out0 = result.get_output("OUTPUT0")
    out1 = result.get_output("OUTPUT1")
    assert out0 is not None and out1 is not None
    if protocol == "http":
        dtype, shape0 = out0["datatype"], out0["shape"]
        assert "data" not in out0 and "binary_data_size" not in out0.get("parameters", {})
    else:
        dtype, shape0 = out0.datatype, list(out0.shape)
    assert dtype == "INT32" and shape0 == [1, 16]
    got0 = shm.get_contents_as_numpy(out_handle, triton_to_np_dtype(dtype), shape0)
    got1 = shm.get_contents_as_numpy(out_handle, triton_to_np_dtype(dtype), shape0, offset=size)
    np.testing.assert_array_equal(got0[0], in0 + in1)
    np.testing.assert_array_equal(got1[0], in0 - in1)

    names = status_names(protocol, client)
    assert set(names) == {"input_data", "output_data"}
    assert names["input_data"]["byte_size"] == size * 2 and names["input_data"]["offset"] == 0
    client.unregister_system_shared_memory("input_data")
    assert set(status_names(protocol, client)) == {"output_data"}


@pytest.mark.onnxruntime
def test_simple_shm_string_client_steps(proto):
    """simple_{http,grpc}_shm_string_client.py: BYTES tensors serialized into regions."""
    protocol, module, client, regions = proto
    in0 = np.array([str(x).encode() for x in range(16)], dtype=np.object_).reshape(1, 16)
    in1 = np.array([b"1"] * 16, dtype=np.object_).reshape(1, 16)
    ser0, ser1 = serialize_byte_tensor(in0), serialize_byte_tensor(in1)
    size0, size1 = serialized_byte_size(ser0), serialized_byte_size(ser1)
    in_handle, _ = regions.make("input_data", size0 + size1)
    shm.set_shared_memory_region(in_handle, [ser0])
    shm.set_shared_memory_region(in_handle, [ser1], offset=size0)
    # Each output window exactly as large as its answer, as the example sizes them.
    expected_sum = serialize_byte_tensor(np.array([str(x + 1).encode() for x in range(16)], np.object_))
    out_size = serialized_byte_size(expected_sum)
    out_handle, _ = regions.make("output_data", out_size * 2)

    inputs = [module.InferInput("INPUT0", [1, 16], "BYTES"), module.InferInput("INPUT1", [1, 16], "BYTES")]
    inputs[0].set_shared_memory("input_data", size0)
    inputs[1].set_shared_memory("input_data", size1, offset=size0)
    outputs = [module.InferRequestedOutput("OUTPUT0"), module.InferRequestedOutput("OUTPUT1")]
    outputs[0].set_shared_memory("output_data", out_size)
    outputs[1].set_shared_memory("output_data", out_size, offset=out_size)
    result = client.infer("simple_string", inputs, outputs=outputs)
    out0 = result.get_output("OUTPUT0")
    shape = out0["shape"] if protocol == "http" else list(out0.shape)
    got0 = shm.get_contents_as_numpy(out_handle, np.object_, shape)
    got1 = shm.get_contents_as_numpy(out_handle, np.object_, shape, offset=out_size)
    assert [int(x) for x in got0[0]] == [x + 1 for x in range(16)]
    assert [int(x) for x in got1[0]] == [x - 1 for x in range(16)]


# ---------------------------------------------------------------------------
# Identity models (no ONNX Runtime: these run in the TSan suite too)
# ---------------------------------------------------------------------------

def test_mixed_inputs_and_outputs(proto):
    """One input from a region at an unaligned offset, the other carried in the
    request; one output into a region, the other in the response."""
    protocol, module, client, regions = proto
    a = np.array([[1, -2, 3, 2**31 - 1]], dtype=np.int32)
    b = np.array([[0.5, -1.5, 2.25, 1e30]], dtype=np.float32)
    handle, _ = regions.make("in", 64)
    shm.set_shared_memory_region(handle, [a], offset=3)
    out_handle, _ = regions.make("out", 40, offset=0)
    inputs = [module.InferInput("INPUT0", [1, 4], "INT32"), module.InferInput("INPUT1", [1, 4], "FP32")]
    inputs[0].set_shared_memory("in", a.nbytes, offset=3)
    inputs[1].set_data_from_numpy(b)
    outputs = [module.InferRequestedOutput("OUTPUT0"), module.InferRequestedOutput("OUTPUT1")]
    outputs[1].set_shared_memory("out", 20, offset=7)
    result = client.infer("identity_two", inputs, outputs=outputs)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a)
    np.testing.assert_array_equal(shm.get_contents_as_numpy(out_handle, np.float32, [1, 4], offset=7), b)


def test_registered_window_inside_object(proto):
    """A region registered at an offset into its object: tensor offsets count from the window."""
    protocol, module, client, regions = proto
    data = np.arange(4, dtype=np.int32).reshape(1, 4)
    handle, _ = regions.make("win", 4096 + 64, offset=4096 + 5, register_size=40)
    shm.set_shared_memory_region(handle, [data], offset=4096 + 5 + 8)
    inputs = [module.InferInput("INPUT0", [1, 4], "INT32"), module.InferInput("INPUT1", [1, 4], "FP32")]
    inputs[0].set_shared_memory("win", 16, offset=8)
    inputs[1].set_data_from_numpy(np.zeros((1, 4), np.float32))
    result = client.infer("identity_two", inputs)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), data)
    names = status_names(protocol, client)
    assert names["win"]["offset"] == 4096 + 5 and names["win"]["byte_size"] == 40


def test_bytes_through_identity(proto):
    protocol, module, client, regions = proto
    data = np.array([b"hello", b"", b"\x00\xff", "caf\u00e9".encode()], dtype=np.object_)
    size = serialized_byte_size(serialize_byte_tensor(data))
    handle, _ = regions.make("bytes_in", size)
    shm.set_shared_memory_region(handle, [serialize_byte_tensor(data)])
    out_handle, _ = regions.make("bytes_out", 256)
    inp = module.InferInput("INPUT0", [4], "BYTES")
    inp.set_shared_memory("bytes_in", size)
    out = module.InferRequestedOutput("OUTPUT0")
    out.set_shared_memory("bytes_out", 256)
    client.infer("identity_bytes", [inp], outputs=[out])
    got = shm.get_contents_as_numpy(out_handle, np.object_, [4])
    assert list(got) == list(data)


def raises(fn, *needles):
    with pytest.raises(InferenceServerException) as e:
        fn()
    text = str(e.value)
    for n in needles:
        assert n in text, text
    return text


def two_inputs(module, region, offset=0, size=16):
    inputs = [module.InferInput("INPUT0", [1, 4], "INT32"), module.InferInput("INPUT1", [1, 4], "FP32")]
    inputs[0].set_shared_memory(region, size, offset=offset)
    inputs[1].set_data_from_numpy(np.zeros((1, 4), np.float32))
    return inputs


def test_bad_references_are_refused_and_server_serves(proto):
    protocol, module, client, regions = proto
    regions.make("small", 32)
    raises(lambda: client.infer("identity_two", two_inputs(module, "nope")),
           "Unable to find shared memory region: 'nope'")
    # Triton's words (its QA tests look for them), then the particulars.
    raises(lambda: client.infer("identity_two", two_inputs(module, "small", offset=20)),
           "Invalid offset + byte size for shared memory region: 'small'",
           "input 'INPUT0': offset 20 + byte size 16 lies outside its 32 bytes")
    # HTTP: offset + size wraps around 64 bits (the gRPC client sends int64).
    huge = 2**64 - 8 if protocol == "http" else 2**63 - 1
    raises(lambda: client.infer("identity_two", two_inputs(module, "small", offset=huge)),
           "Invalid offset for shared memory region: 'small'", "lies outside its 32 bytes")
    # The window does not match the tensor's shape.
    raises(lambda: client.infer("identity_two", two_inputs(module, "small", size=12)), "INPUT0")
    # An output larger than its window.
    out = module.InferRequestedOutput("OUTPUT0")
    out.set_shared_memory("small", 8)
    raises(lambda: client.infer("identity_two", two_inputs(module, "small"), outputs=[out]),
           "shared memory size specified with the request for output 'OUTPUT0' (8 bytes) "
           "should be at least 16 bytes to hold the results")
    # An output window outside the region.
    out = module.InferRequestedOutput("OUTPUT0")
    out.set_shared_memory("small", 16, offset=24)
    raises(lambda: client.infer("identity_two", two_inputs(module, "small"), outputs=[out]),
           "Invalid offset + byte size for shared memory region: 'small'",
           "output 'OUTPUT0': offset 24 + byte size 16")
    # Still serving, and the region still works.
    result = client.infer("identity_two", two_inputs(module, "small"))
    assert result.as_numpy("OUTPUT0").shape == (1, 4)


def test_register_errors(proto):
    protocol, module, client, regions = proto
    handle, key = regions.make("r", 64)
    raises(lambda: client.register_system_shared_memory("r", key, 64), "already in manager")
    raises(lambda: client.register_system_shared_memory("r2", key, 65), "invalid args", "exceeds the 64 bytes")
    raises(lambda: client.register_system_shared_memory("r2", key, 8, offset=60), "exceeds the 64 bytes")
    raises(lambda: client.register_system_shared_memory("r2", key, 2**64 - 1, offset=8), "exceeds")
    raises(lambda: client.register_system_shared_memory("r2", "/inferd_no_such_object", 8),
           "Unable to open shared memory region: '/inferd_no_such_object'")
    raises(lambda: client.register_system_shared_memory("r2", "/../etc/passwd", 8),
           "is not a shared-memory object name")
    raises(lambda: client.register_system_shared_memory("r2", "/dev/shm/x", 8),
           "is not a shared-memory object name")
    raises(lambda: client.register_system_shared_memory("r2", key, 0), "byte_size must be positive")
    raises(lambda: client.get_system_shared_memory_status("nope"),
           "Unable to find system shared memory region: 'nope'")
    client.unregister_system_shared_memory("never_registered")  # as Triton: not an error
    assert set(status_names(protocol, client)) == {"r"}


def test_shrunk_object_is_an_error_not_a_crash(proto):
    """A client that truncates the object under a registered region gets an
    error; touching the lost pages would have killed the server (SIGBUS)."""
    protocol, module, client, regions = proto
    handle, key = regions.make("shrink", 8192)
    os.truncate("/dev/shm" + key, 0)
    raises(lambda: client.infer("identity_two", two_inputs(module, "shrink", offset=4096)),
           "now has 0 bytes")
    out = module.InferRequestedOutput("OUTPUT0")
    out.set_shared_memory("shrink", 16, offset=4096)
    data = np.zeros((1, 4), np.int32)
    inputs = [module.InferInput("INPUT0", [1, 4], "INT32"), module.InferInput("INPUT1", [1, 4], "FP32")]
    inputs[0].set_data_from_numpy(data)
    inputs[1].set_data_from_numpy(np.zeros((1, 4), np.float32))
    raises(lambda: client.infer("identity_two", inputs, outputs=[out]), "now has 0 bytes")
    assert client.is_server_live()


def test_unregister_while_in_use(srv):
    """Unregistering takes the name away at once; a request that already holds
    the region still reads its input and writes its output there."""
    client = httpclient.InferenceServerClient(srv.url)
    regions = Regions(client)
    try:
        data = np.arange(6, dtype=np.float32).reshape(1, 6)
        in_handle, _ = regions.make("slow_in", data.nbytes)
        shm.set_shared_memory_region(in_handle, [data])
        out_handle, _ = regions.make("slow_out", data.nbytes)
        inp = httpclient.InferInput("INPUT0", [1, 6], "FP32")
        inp.set_shared_memory("slow_in", data.nbytes)
        out = httpclient.InferRequestedOutput("OUTPUT0")
        out.set_shared_memory("slow_out", data.nbytes)
        pending = client.async_infer("slow", [inp], outputs=[out])
        other = httpclient.InferenceServerClient(srv.url)
        time.sleep(0.3)  # the request is in the model (700 ms) by now
        other.unregister_system_shared_memory()
        assert other.get_system_shared_memory_status() == []
        assert pending.get_result(timeout=10).get_output("OUTPUT0")["shape"] == [1, 6]
        np.testing.assert_array_equal(shm.get_contents_as_numpy(out_handle, np.float32, [1, 6]), data)
        raises(lambda: client.infer("slow", [inp], outputs=[out]), "Unable to find shared memory region")
    finally:
        regions.close()


def raw_http(srv, method, path, body=None):
    conn = http.client.HTTPConnection(srv.url, timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, data


def test_http_parameter_errors(srv):
    client = httpclient.InferenceServerClient(srv.url)
    regions = Regions(client)
    try:
        regions.make("p", 64)

        def infer(inp0, outputs=None):
            body = {"inputs": [inp0, {"name": "INPUT1", "datatype": "FP32", "shape": [1, 4],
                                      "data": [0, 0, 0, 0]}]}
            if outputs:
                body["outputs"] = outputs
            return raw_http(srv, "POST", "/v2/models/identity_two/infer", json.dumps(body))

        shm_params = {"shared_memory_region": "p", "shared_memory_byte_size": 16}
        status, data = infer({"name": "INPUT0", "datatype": "INT32", "shape": [1, 4],
                              "data": [1, 2, 3, 4], "parameters": shm_params})
        assert status == 400 and b"must set only one of" in data and b"'data'" in data
        status, data = infer({"name": "INPUT0", "datatype": "INT32", "shape": [1, 4],
                              "parameters": {"shared_memory_region": 5}})
        assert status == 400 and b"'shared_memory_region' must be a string" in data
        status, data = infer({"name": "INPUT0", "datatype": "INT32", "shape": [1, 4],
                              "parameters": {"shared_memory_region": "p",
                                             "shared_memory_offset": -1}})
        assert status == 400 and b"'shared_memory_offset' must be a non-negative integer" in data
        ok_input = {"name": "INPUT0", "datatype": "INT32", "shape": [1, 4], "parameters": shm_params}
        status, data = infer(ok_input, [{"name": "OUTPUT0", "parameters": dict(shm_params, binary_data=True)}])
        assert status == 400 and b"can't set both 'shared_memory_region' and 'binary_data'" in data
        status, data = infer(ok_input, [{"name": "OUTPUT0", "parameters": dict(shm_params, classification=2)}])
        assert status == 400 and b"'classification'" in data
        status, data = infer(ok_input)
        assert status == 200, data

        # The register body, and the methods.
        status, data = raw_http(srv, "POST", "/v2/systemsharedmemory/region/x/register", "{}")
        assert status == 400 and b"has no 'key' field" in data
        status, data = raw_http(srv, "POST", "/v2/systemsharedmemory/region/x/register",
                                json.dumps({"key": "/k"}))
        assert status == 400 and b"has no 'byte_size' field" in data
        status, data = raw_http(srv, "POST", "/v2/systemsharedmemory/region/x/register",
                                json.dumps({"key": "/k", "byte_size": -4}))
        assert status == 400 and b"'byte_size' must be a non-negative integer" in data
        status, data = raw_http(srv, "POST", "/v2/systemsharedmemory/register", json.dumps({"key": "/k", "byte_size": 4}))
        assert status == 400 and b"'region name' is necessary" in data
        status, _ = raw_http(srv, "GET", "/v2/systemsharedmemory/region/x/register")
        assert status == 405
        status, _ = raw_http(srv, "POST", "/v2/systemsharedmemory/status")
        assert status == 405
        status, data = raw_http(srv, "GET", "/v2/systemsharedmemory/status")
        assert status == 200 and [r["name"] for r in json.loads(data)] == ["p"]
        status, data = raw_http(srv, "GET", "/v2/systemsharedmemory/region/p/status")
        assert status == 200 and json.loads(data)[0]["byte_size"] == 64
        status, _ = raw_http(srv, "GET", "/v2/systemsharedmemory/region/p/other")
        assert status == 404
    finally:
        regions.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cuda_shared_memory_is_refused_clearly(srv, protocol):
    module, client = client_for(srv, protocol)
    if protocol == "http":
        assert client.get_cuda_shared_memory_status() == []
        status, data = raw_http(srv, "POST", "/v2/cudasharedmemory/region/c/register",
                                json.dumps({"raw_handle": {"b64": "AAAA"}, "device_id": 0, "byte_size": 4}))
        assert status == 400 and b"CUDA shared memory is not in this build" in data
        assert re.search(rb"failed to register shared memory region.*invalid args", data)  # Triton's QA
    else:
        assert len(client.get_cuda_shared_memory_status().regions) == 0
        raises(lambda: client.register_cuda_shared_memory("c", b"\0" * 64, 0, 4),
               "CUDA shared memory is not in this build")
    client.unregister_cuda_shared_memory()
    assert "system_shared_memory" in (client.get_server_metadata()["extensions"] if protocol == "http"
                                      else client.get_server_metadata().extensions)


def test_restricted_shared_memory_api(inferd_bin, tmp_path):
    repo = tmp_path / "repo"
    write_model(repo, "identity_two", identity_config(
        "identity_two", [("INPUT0", "TYPE_INT32", [4]), ("INPUT1", "TYPE_FP32", [4])], max_batch_size=8))
    with InferdServer(inferd_bin, [repo], log_dir=tmp_path, tag="shm_restricted",
                      extra_args=["--http-restricted-api=shared-memory:shm-key=secret",
                                  "--grpc-restricted-protocol=shared-memory:shm-key=secret"]) as s:
        client = httpclient.InferenceServerClient(s.url)
        raises(lambda: client.get_system_shared_memory_status(), "This API is restricted")
        assert client.get_system_shared_memory_status(headers={"shm-key": "secret"}) == []
        g = grpcclient.InferenceServerClient(s.grpc_url)
        raises(lambda: g.get_system_shared_memory_status(), "restricted")
        headers = {"triton-grpc-protocol-shm-key": "secret"}
        assert len(g.get_system_shared_memory_status(headers=headers).regions) == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_perf_analyzer_in_system_shared_memory_mode(srv, protocol, tmp_path):
    """Triton's perf_analyzer with --shared-memory=system: it registers its
    regions, sends every request through them, and checks the answers."""
    import subprocess
    from support import REPO_ROOT
    url = srv.url if protocol == "http" else srv.grpc_url
    before = httpclient.InferenceServerClient(srv.url).get_inference_statistics("identity_two")
    count0 = before["model_stats"][0]["inference_stats"]["success"]["count"]
    run = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/perf_analyzer"), "-m", "identity_two", "-i", protocol, "-u", url,
         "--shared-memory=system", "--output-shared-memory-size=64",
         # Windows of a fixed request count, any spread between them: this
         # checks that the traffic works, not that the machine is quiet.
         "--measurement-mode", "count_windows", "--measurement-request-count", "50",
         "--concurrency-range", "1", "-s", "1000", "-r", "3", "-f", str(tmp_path / "pa.csv")],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    after = httpclient.InferenceServerClient(srv.url).get_inference_statistics("identity_two")
    assert after["model_stats"][0]["inference_stats"]["success"]["count"] > count0
    # perf_analyzer unregisters what it registered.
    assert httpclient.InferenceServerClient(srv.url).get_system_shared_memory_status() == []
