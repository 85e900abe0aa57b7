"""Every error path: the answer is a 4xx (404 for an unknown model or version)
with a JSON body {"error": "..."} naming what was wrong, and the server keeps
serving afterwards."""

import gzip
import json
import struct

import numpy as np
import pytest
import tritonclient.http as httpclient

from support import (
    assert_still_serving,
    expect_server_error,
    fp32_identity,
    json_error_body,
    make_input,
    raw_request,
    write_model,
)


@pytest.fixture(autouse=True)
def _server_still_serves(client):
    """After every error test, a good request still gets a correct answer."""
    yield
    assert_still_serving(client)


def _fp32(shape, fill=1.0):
    return np.full(shape, fill, dtype=np.float32)


def _post_infer(server, model, body, headers=None):
    return raw_request(server.url, "POST", f"/v2/models/{model}/infer", body, headers or {})


def _binary_body(header, *chunks):
    """(body, headers) for a binary-tensor request: JSON header + raw chunks."""
    hdr = json.dumps(header).encode()
    return hdr + b"".join(chunks), {"Inference-Header-Content-Length": str(len(hdr)),
                                    "Content-Type": "application/octet-stream"}


# --------------------------------------------------------------------------- unknown model / version

def test_unknown_model_infer_404(client):
    expect_server_error(client.infer, "no_such_model", [make_input("INPUT0", _fp32((1, 2)))],
                        status=404, contains=["no_such_model"])


@pytest.mark.parametrize("model,version", [("identity_fp32", "2"), ("identity_fp32", "999"),
                                           ("versioned", "1")])
def test_unknown_version_infer_404(client, model, version):
    expect_server_error(client.infer, model, [make_input("INPUT0", _fp32((1, 2)))],
                        model_version=version, status=404)


def test_unknown_model_raw_paths_404(server):
    for method, path in [("GET", "/v2/models/no_such_model"),
                         ("GET", "/v2/models/no_such_model/config"),
                         ("GET", "/v2/models/no_such_model/stats"),
                         ("GET", "/v2/models/identity_fp32/versions/7"),
                         ("GET", "/v2/models/identity_fp32/versions/7/config"),
                         ("POST", "/v2/models/no_such_model/infer")]:
        body = b'{"inputs": []}' if method == "POST" else b""
        status, _, data = raw_request(server.url, method, path, body)
        assert status == 404, (path, status, data)
        json_error_body(status, data)


# --------------------------------------------------------------------------- bad inputs (tritonclient)

def test_missing_input(client):
    a = make_input("INPUT0", np.ones((1, 4), dtype=np.int32), "INT32")
    expect_server_error(client.infer, "identity_two", [a], contains=["INPUT1"])


def test_unknown_input(client):
    good = make_input("INPUT0", _fp32((1, 3)))
    bogus = make_input("BOGUS_IN", _fp32((1, 3)))
    expect_server_error(client.infer, "identity_fp32", [good, bogus], contains=["BOGUS_IN"])


@pytest.mark.parametrize("array,wire", [
    (np.ones((1, 3), dtype=np.int32), "INT32"),
    (np.ones((1, 3), dtype=np.float64), "FP64"),
    (np.ones((1, 3), dtype=np.float16), "FP16"),
])
@pytest.mark.parametrize("binary", [True, False])
def test_wrong_datatype(client, array, wire, binary):
    inp = make_input("INPUT0", array, wire, binary=binary)
    expect_server_error(client.infer, "identity_fp32", [inp], contains=["INPUT0", "FP32", wire])


def test_wrong_datatype_bytes_for_fp32(client):
    inp = make_input("INPUT0", np.array([[b"a", b"b"]], dtype=np.object_), "BYTES")
    expect_server_error(client.infer, "identity_fp32", [inp], contains=["INPUT0", "FP32", "BYTES"])


def test_wrong_datatype_second_input(client):
    a = make_input("INPUT0", np.ones((1, 4), dtype=np.int32), "INT32")
    b = make_input("INPUT1", np.ones((1, 4), dtype=np.int32), "INT32")
    expect_server_error(client.infer, "identity_two", [a, b], contains=["INPUT1", "FP32", "INT32"])


def test_wrong_shape_fixed_dim(client):
    a = make_input("INPUT0", np.ones((1, 5), dtype=np.int32), "INT32")
    b = make_input("INPUT1", _fp32((1, 4)))
    e = expect_server_error(client.infer, "identity_two", [a, b], contains=["INPUT0"])
    compact = e.message().replace(" ", "")
    assert "1,5" in compact or "[5]" in compact, e.message()
    assert "4" in compact, e.message()


@pytest.mark.parametrize("model,shape", [
    ("identity_fp32", (4,)),            # batched model: rank 1 has no inner dim
    ("identity_fp32", (1, 2, 3)),       # one dim too many
    ("identity_fp32_nobatch", (2, 3)),  # non-batched dims [-1]: rank must be 1
])
def test_wrong_rank(client, model, shape):
    expect_server_error(client.infer, model, [make_input("INPUT0", _fp32(shape))],
                        contains=["INPUT0"])


def test_batch_larger_than_max_batch_size(client):
    expect_server_error(client.infer, "identity_fp32", [make_input("INPUT0", _fp32((9, 2)))],
                        contains=["batch"])


def test_batch_size_mismatch_between_inputs(client):
    a = make_input("INPUT0", np.ones((2, 4), dtype=np.int32), "INT32")
    b = make_input("INPUT1", _fp32((3, 4)))
    expect_server_error(client.infer, "identity_two", [a, b])


def test_unknown_requested_output(client):
    expect_server_error(
        client.infer, "identity_fp32", [make_input("INPUT0", _fp32((1, 2)))],
        outputs=[httpclient.InferRequestedOutput("NOPE_OUT")], contains=["NOPE_OUT"])


def test_classification_of_unknown_output(client):
    expect_server_error(
        client.infer, "classify", [make_input("INPUT0", _fp32((5,)))],
        outputs=[httpclient.InferRequestedOutput("NOPE_OUT", class_count=2)],
        contains=["NOPE_OUT"])


# --------------------------------------------------------------------------- bad JSON bodies (raw)

@pytest.mark.parametrize("body", [
    b'{"inputs": [',
    b"not json at all",
    b'{"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2}]}',
    b"",
])
def test_malformed_json(server, body):
    status, _, data = _post_infer(server, "identity_fp32", body,
                                  {"Content-Type": "application/json"})
    json_error_body(status, data)
    assert_still_serving(server.url)


@pytest.mark.parametrize("doc,expect", [
    ({}, "inputs"),
    ({"inputs": "nope"}, "inputs"),
    ({"inputs": [{"name": "INPUT0", "shape": [1, 2], "data": [1, 2]}]}, "datatype"),
    ({"inputs": [{"name": "INPUT0", "datatype": "FP32", "data": [1, 2]}]}, "shape"),
    ({"inputs": [{"name": "INPUT0", "datatype": "FP33", "shape": [1, 2], "data": [1, 2]}]},
     "FP33"),
])
def test_invalid_request_document(server, doc, expect):
    status, _, data = _post_infer(server, "identity_fp32", json.dumps(doc).encode())
    json_error_body(status, data, contains=[expect])


def test_json_data_count_disagrees_with_shape(server):
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                       "data": [1, 2, 3]}]}
    status, _, data = _post_infer(server, "identity_fp32", json.dumps(doc).encode())
    # Triton's words, which its QA tests match whole (the counts go to the verbose log).
    json_error_body(status, data, contains=["Shape does not match true shape of 'data' field"])


def test_json_data_wrong_element_type(server):
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2],
                       "data": ["a", "b"]}]}
    status, _, data = _post_infer(server, "identity_fp32", json.dumps(doc).encode())
    json_error_body(status, data, contains=["INPUT0"])


def test_missing_input_data(server):
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2]}]}
    status, _, data = _post_infer(server, "identity_fp32", json.dumps(doc).encode())
    json_error_body(status, data, contains=["INPUT0"])


def test_corrupt_gzip_body(server):
    body = gzip.compress(b'{"inputs": []}')[:-6] + b"garbage!"
    status, _, data = _post_infer(server, "identity_fp32", body, {"Content-Encoding": "gzip"})
    json_error_body(status, data)


# --------------------------------------------------------------------------- bad binary bodies (raw)

def _fp32_binary_header(nbytes, shape=(1, 4)):
    return {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": list(shape),
                        "parameters": {"binary_data_size": nbytes}}]}


def test_binary_good_request_raw(server):
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)
    body, headers = _binary_body(
        dict(_fp32_binary_header(16), parameters={"binary_data_output": False}), x.tobytes())
    status, _, data = _post_infer(server, "identity_fp32", body, headers)
    assert status == 200, data
    out = json.loads(data)["outputs"][0]
    assert [float(v) for v in np.ravel(out["data"])] == [1.0, 2.0, 3.0, 4.0]


def test_binary_size_disagrees_with_shape(server):
    # shape [1,4] FP32 needs 16 bytes; binary_data_size (and the body) say 12
    body, headers = _binary_body(_fp32_binary_header(12), b"\0" * 12)
    status, _, data = _post_infer(server, "identity_fp32", body, headers)
    json_error_body(status, data, contains=["INPUT0"])


def test_binary_body_truncated(server):
    # binary_data_size 16 is right for the shape, but only 8 bytes follow the header
    body, headers = _binary_body(_fp32_binary_header(16), b"\0" * 8)
    status, _, data = _post_infer(server, "identity_fp32", body, headers)
    json_error_body(status, data, contains=["INPUT0"])


def test_binary_header_length_beyond_body(server):
    hdr = json.dumps(_fp32_binary_header(16)).encode()
    body = hdr + b"\0" * 16
    status, _, data = _post_infer(server, "identity_fp32", body,
                                  {"Inference-Header-Content-Length": str(len(body) + 100)})
    json_error_body(status, data)


def test_binary_header_length_not_a_number(server):
    body, _ = _binary_body(_fp32_binary_header(16), b"\0" * 16)
    status, _, data = _post_infer(server, "identity_fp32", body,
                                  {"Inference-Header-Content-Length": "twelve"})
    json_error_body(status, data)


def test_binary_header_length_cuts_json(server):
    body, _ = _binary_body(_fp32_binary_header(16), b"\0" * 16)
    status, _, data = _post_infer(server, "identity_fp32", body,
                                  {"Inference-Header-Content-Length": "10"})
    json_error_body(status, data)


def test_bytes_element_length_overruns_buffer(server):
    # BYTES binary: 4-byte little-endian length then the bytes; claim 100, give 5
    raw = struct.pack("<I", 100) + b"hello"
    header = {"inputs": [{"name": "INPUT0", "datatype": "BYTES", "shape": [1],
                          "parameters": {"binary_data_size": len(raw)}}]}
    body, headers = _binary_body(header, raw)
    status, _, data = _post_infer(server, "identity_bytes", body, headers)
    json_error_body(status, data, contains=["INPUT0"])


def test_bytes_element_count_disagrees_with_shape(server):
    raw = struct.pack("<I", 2) + b"ab"  # one element, shape says 3
    header = {"inputs": [{"name": "INPUT0", "datatype": "BYTES", "shape": [3],
                          "parameters": {"binary_data_size": len(raw)}}]}
    body, headers = _binary_body(header, raw)
    status, _, data = _post_infer(server, "identity_bytes", body, headers)
    json_error_body(status, data, contains=["INPUT0"])


# --------------------------------------------------------------------------- body size limit

LIMIT = 64 * 1024


@pytest.fixture
def limited_server(start_server, make_repo):
    repo = make_repo("limited")
    write_model(repo, "identity_fp32", fp32_identity("identity_fp32", 8))
    return start_server([repo], [f"--http-max-input-size={LIMIT}"])


def _binary_fp32_request(n):
    x = np.arange(n, dtype=np.float32)
    return x, _binary_body(_fp32_binary_header(x.nbytes, (1, n)), x.tobytes())


def test_body_under_limit_served(limited_server):
    x, (body, headers) = _binary_fp32_request(LIMIT // 8)  # half the limit
    assert len(body) < LIMIT
    status, _, data = _post_infer(limited_server, "identity_fp32", body, headers)
    assert status == 200, data[:300]


def test_body_over_limit_rejected(limited_server):
    x, (body, headers) = _binary_fp32_request(LIMIT // 2)  # twice the limit
    assert len(body) > LIMIT
    try:
        status, _, data = _post_infer(limited_server, "identity_fp32", body, headers)
    except (ConnectionError, OSError) as exc:
        pytest.fail(f"server dropped the connection instead of answering a JSON error: {exc!r}")
    # Triton's status and words (issue 13): clients and its QA match on them.
    json_error_body(400, data, contains=["exceeds the maximum allowed input size",
                                         "Use --http-max-input-size to increase the limit"])
    assert status == 400
    assert_still_serving(limited_server.url)


def test_body_over_limit_via_client(limited_server):
    with httpclient.InferenceServerClient(limited_server.url) as c:
        expect_server_error(c.infer, "identity_fp32",
                            [make_input("INPUT0", np.zeros((1, LIMIT // 2), dtype=np.float32))])
        assert_still_serving(c)


def test_decompressed_body_over_limit_rejected(limited_server):
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, LIMIT],
                       "data": [0] * LIMIT}]}
    plain = json.dumps(doc).encode()
    comp = gzip.compress(plain)
    assert len(comp) < LIMIT < len(plain)
    status, _, data = _post_infer(limited_server, "identity_fp32", comp,
                                  {"Content-Encoding": "gzip"})
    assert status == 400
    json_error_body(400, data, contains=["exceeds the maximum allowed input size"])
    assert_still_serving(limited_server.url)


def test_non_utf8_json_is_refused_with_a_valid_json_error(server):
    """JSON strings must be UTF-8: a name with a stray byte is refused (400)
    before anything echoes it, so the error body stays valid JSON."""
    body = (b'{"inputs":[{"name":"INPUT0\xff","datatype":"FP32","shape":[1,1],"data":[1]}]}')
    status, _, data = _post_infer(server, "identity_fp32", body)
    json_error_body(status, data, contains=["Invalid encoding"])
    data.decode("utf-8")  # the whole answer is UTF-8
