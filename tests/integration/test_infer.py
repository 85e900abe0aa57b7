"""Inference through tritonclient: every datatype in JSON and binary form,
batching, several inputs, request id, output selection, compression."""

import gzip
import json
import zlib

import ml_dtypes
import numpy as np
import pytest
import tritonclient.http as httpclient

from support import DTYPE_VALUES, make_input, raw_request

WIRE = {
    "bool": "BOOL", "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
    "fp16": "FP16", "fp32_nobatch": "FP32", "fp64": "FP64", "bytes": "BYTES", "bf16": "BF16",
}
# JSON text for BYTES must be UTF-8 strings.
JSON_BYTES_VALUES = np.array(["hello", "", "caf\u00e9", "x y z"], dtype=np.object_)
# BF16 cannot be sent as JSON by tritonclient (the client refuses).
JSON_DTYPES = [d for d in DTYPE_VALUES if d != "bf16"]


def _assert_identical(out, expected, dtype_key):
    assert out is not None, "OUTPUT0 missing"
    assert list(out.shape) == list(expected.shape)
    if dtype_key == "bytes":
        got = [x if isinstance(x, bytes) else str(x).encode("utf-8") for x in out.ravel()]
        want = [x if isinstance(x, bytes) else str(x).encode("utf-8") for x in expected.ravel()]
        assert got == want
    elif dtype_key == "bf16":
        assert out.dtype == ml_dtypes.bfloat16
        np.testing.assert_array_equal(out.view(np.uint16), expected.view(np.uint16))
    else:
        assert out.dtype == expected.dtype, (out.dtype, expected.dtype)
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dt", list(DTYPE_VALUES))
def test_identity_binary(client, dt):
    x = DTYPE_VALUES[dt]
    res = client.infer("identity_" + dt, [make_input("INPUT0", x, WIRE[dt], binary=True)])
    out_meta = res.get_output("OUTPUT0")
    assert out_meta["datatype"] == WIRE[dt]
    assert [int(d) for d in out_meta["shape"]] == [4]
    # tritonclient asked for binary outputs (binary_data_output): the data is binary
    assert "binary_data_size" in out_meta.get("parameters", {}), out_meta
    assert "data" not in out_meta
    _assert_identical(res.as_numpy("OUTPUT0"), x, dt)


@pytest.mark.parametrize("dt", JSON_DTYPES)
def test_identity_json(client, dt):
    x = JSON_BYTES_VALUES if dt == "bytes" else DTYPE_VALUES[dt]
    res = client.infer(
        "identity_" + dt,
        [make_input("INPUT0", x, WIRE[dt], binary=False)],
        outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)],
    )
    out_meta = res.get_output("OUTPUT0")
    assert out_meta["datatype"] == WIRE[dt]
    assert [int(d) for d in out_meta["shape"]] == [4]
    assert "data" in out_meta, out_meta
    assert "binary_data_size" not in (out_meta.get("parameters") or {})
    assert len(out_meta["data"]) == 4
    _assert_identical(res.as_numpy("OUTPUT0"), x, dt)


def test_json_input_binary_output(client):
    x = np.array([1.25, -7.5, 1e-3], dtype=np.float32)
    res = client.infer("identity_fp32_nobatch", [make_input("INPUT0", x, binary=False)])
    meta = res.get_output("OUTPUT0")
    assert meta["parameters"]["binary_data_size"] == x.nbytes
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def test_binary_input_json_output(client):
    x = np.array([1.25, -7.5, 1e-3], dtype=np.float32)
    res = client.infer(
        "identity_fp32_nobatch", [make_input("INPUT0", x, binary=True)],
        outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)],
    )
    assert "data" in res.get_output("OUTPUT0")
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def test_empty_and_single_element(client):
    for n in (1, 0):
        x = np.arange(n, dtype=np.float32)
        res = client.infer("identity_fp32_nobatch", [make_input("INPUT0", x)])
        out = res.as_numpy("OUTPUT0")
        assert out.shape == (n,)
        np.testing.assert_array_equal(out, x)


def test_large_binary_tensor(client):
    x = np.random.default_rng(7).standard_normal(1 << 20).astype(np.float32)  # 4 MiB
    res = client.infer("identity_fp32_nobatch", [make_input("INPUT0", x)])
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def test_bytes_many_elements(client):
    x = np.array([("s%d" % i).encode() * (i % 7) for i in range(257)], dtype=np.object_)
    res = client.infer("identity_bytes", [make_input("INPUT0", x, "BYTES")])
    assert list(res.as_numpy("OUTPUT0")) == list(x)


# --------------------------------------------------------------------------- batching

@pytest.mark.parametrize("batch", [1, 3, 8])
def test_batched_identity(client, batch):
    x = (np.arange(batch * 5, dtype=np.float32).reshape(batch, 5) - 7.0) / 3.0
    res = client.infer("identity_fp32", [make_input("INPUT0", x)])
    meta = res.get_output("OUTPUT0")
    assert [int(d) for d in meta["shape"]] == [batch, 5]
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def test_batched_variable_inner_dim(client):
    for inner in (1, 2, 17):
        x = np.full((2, inner), inner, dtype=np.float32)
        res = client.infer("identity_fp32", [make_input("INPUT0", x)])
        np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def test_batched_json(client):
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    res = client.infer(
        "identity_fp32", [make_input("INPUT0", x, binary=False)],
        outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)],
    )
    assert [int(d) for d in res.get_output("OUTPUT0")["shape"]] == [2, 3]
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


# --------------------------------------------------------------------------- two inputs

def _two_inputs(batch=2, binary=True):
    a = (np.arange(batch * 4, dtype=np.int32).reshape(batch, 4) * 1000 - 3)
    b = np.linspace(-1, 1, batch * 4, dtype=np.float32).reshape(batch, 4)
    return a, b, [make_input("INPUT0", a, "INT32", binary), make_input("INPUT1", b, "FP32", binary)]


@pytest.mark.parametrize("binary", [True, False])
def test_two_inputs(client, binary):
    a, b, inputs = _two_inputs(3, binary)
    outputs = None if binary else [
        httpclient.InferRequestedOutput("OUTPUT0", binary_data=False),
        httpclient.InferRequestedOutput("OUTPUT1", binary_data=False),
    ]
    res = client.infer("identity_two", inputs, outputs=outputs)
    o0, o1 = res.as_numpy("OUTPUT0"), res.as_numpy("OUTPUT1")
    assert o0.dtype == np.int32 and o1.dtype == np.float32
    np.testing.assert_array_equal(o0, a)
    np.testing.assert_array_equal(o1, b)


def test_two_inputs_given_in_reverse_order(client):
    a, b, inputs = _two_inputs(1)
    res = client.infer("identity_two", list(reversed(inputs)))
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), a)
    np.testing.assert_array_equal(res.as_numpy("OUTPUT1"), b)


def test_requested_subset_of_outputs(client):
    a, b, inputs = _two_inputs(2)
    res = client.infer("identity_two", inputs,
                       outputs=[httpclient.InferRequestedOutput("OUTPUT1")])
    names = [o["name"] for o in res.get_response()["outputs"]]
    assert names == ["OUTPUT1"]
    assert res.as_numpy("OUTPUT0") is None
    np.testing.assert_array_equal(res.as_numpy("OUTPUT1"), b)


def test_requested_outputs_mixed_binary_and_json(client):
    a, b, inputs = _two_inputs(2)
    res = client.infer("identity_two", inputs, outputs=[
        httpclient.InferRequestedOutput("OUTPUT0", binary_data=True),
        httpclient.InferRequestedOutput("OUTPUT1", binary_data=False),
    ])
    assert res.get_output("OUTPUT0")["parameters"]["binary_data_size"] == a.nbytes
    assert "data" in res.get_output("OUTPUT1")
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), a)
    np.testing.assert_array_equal(res.as_numpy("OUTPUT1"), b)


# --------------------------------------------------------------------------- response fields

def test_request_id_echoed(client):
    x = np.ones((1, 2), dtype=np.float32)
    res = client.infer("identity_fp32", [make_input("INPUT0", x)], request_id="req-\u00e9-42")
    body = res.get_response()
    assert body["id"] == "req-\u00e9-42"
    assert body["model_name"] == "identity_fp32"
    assert str(body["model_version"]) == "1"


def test_no_request_id_no_id_field_or_empty(client):
    x = np.ones((1, 2), dtype=np.float32)
    body = client.infer("identity_fp32", [make_input("INPUT0", x)]).get_response()
    assert body.get("id", "") == ""


def test_explicit_version_infer(client):
    x = np.array([[3.0]], dtype=np.float32)
    res = client.infer("identity_fp32", [make_input("INPUT0", x)], model_version="1")
    assert str(res.get_response()["model_version"]) == "1"
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def test_raw_json_infer(server):
    body = json.dumps({
        "id": "raw-1",
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}],
    }).encode()
    status, headers, data = raw_request(
        server.url, "POST", "/v2/models/identity_fp32/infer", body,
        {"Content-Type": "application/json"})
    assert status == 200, data
    doc = json.loads(data)
    assert doc["id"] == "raw-1"
    out = doc["outputs"][0]
    assert out["name"] == "OUTPUT0" and out["datatype"] == "FP32"
    assert [int(d) for d in out["shape"]] == [1, 3]
    assert [float(v) for v in np.ravel(out["data"])] == [1.0, 2.0, 3.0]


# --------------------------------------------------------------------------- compression

@pytest.mark.parametrize("req_alg,resp_alg", [
    (r, s) for r in (None, "gzip", "deflate") for s in (None, "gzip", "deflate")
    if (r, s) != (None, None)
])
def test_compression(client, req_alg, resp_alg):
    a, b, inputs = _two_inputs(4)
    res = client.infer("identity_two", inputs,
                       request_compression_algorithm=req_alg,
                       response_compression_algorithm=resp_alg)
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), a)
    np.testing.assert_array_equal(res.as_numpy("OUTPUT1"), b)


@pytest.mark.parametrize("alg", ["gzip", "deflate"])
def test_response_really_compressed(server, alg):
    x = np.zeros((1, 4096), dtype=np.float32)  # compresses very well
    body = json.dumps({
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4096],
                    "data": x.ravel().tolist()}],
        "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}],
    }).encode()
    status, headers, data = raw_request(
        server.url, "POST", "/v2/models/identity_fp32/infer", body,
        {"Accept-Encoding": alg})
    assert status == 200, data[:300]
    assert headers.get("content-encoding") == alg
    plain = gzip.decompress(data) if alg == "gzip" else zlib.decompress(data)
    assert len(data) < len(plain)
    hlen = int(headers["inference-header-content-length"])
    header = json.loads(plain[:hlen])
    assert header["outputs"][0]["parameters"]["binary_data_size"] == x.nbytes
    np.testing.assert_array_equal(np.frombuffer(plain[hlen:], dtype=np.float32), x.ravel())


@pytest.mark.parametrize("alg", ["gzip", "deflate"])
def test_raw_compressed_request(server, alg):
    body = json.dumps({
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [4.5, -1]}],
    }).encode()
    comp = gzip.compress(body) if alg == "gzip" else zlib.compress(body)
    status, _, data = raw_request(server.url, "POST", "/v2/models/identity_fp32/infer", comp,
                                  {"Content-Encoding": alg})
    assert status == 200, data[:300]
    out = json.loads(data)["outputs"][0]
    assert [float(v) for v in np.ravel(out["data"])] == [4.5, -1.0]


# --------------------------------------------------------------------------- concurrency

def test_concurrent_async_requests(server):
    with httpclient.InferenceServerClient(server.url, concurrency=8) as c:
        xs = [np.full((1, 16), i, dtype=np.float32) for i in range(32)]
        handles = [c.async_infer("identity_fp32", [make_input("INPUT0", x)]) for x in xs]
        for x, h in zip(xs, handles):
            np.testing.assert_array_equal(h.get_result().as_numpy("OUTPUT0"), x)
