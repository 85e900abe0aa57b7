"""Answers Triton's clients depend on (issue 13): the server's --id in its
metadata, NaN and infinities in JSON outputs as Triton writes them, one
output asked for twice, the config with 64-bit integers as numbers, and no
compression outside inference answers."""

import gzip
import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from support import fp32_identity, identity_config, json_error_body, raw_request, write_model


@pytest.fixture(scope="module")
def named_server(inferd_bin, tmp_path_factory):
    from support import InferdServer
    repo = tmp_path_factory.mktemp("answers")
    write_model(repo, "echo", fp32_identity("echo", 8, extra="""
        dynamic_batching { max_queue_delay_microseconds: 250 default_queue_policy {
          default_timeout_microseconds: 5000000 } }
        version_policy { specific { versions: [1] } }"""))
    write_model(repo, "echo16", identity_config("echo16", [("INPUT0", "TYPE_FP16", [-1])]))
    write_model(repo, "echo_bytes", identity_config("echo_bytes", [("INPUT0", "TYPE_STRING", [1])], max_batch_size=4))
    write_model(repo, "two_inputs", identity_config("two_inputs", [("INPUT0", "TYPE_FP32", [2]),
                                                                   ("INPUT1", "TYPE_FP32", [2])]))
    write_model(repo, "two_wild", identity_config("two_wild", [("INPUT0", "TYPE_FP32", [-1, -1])]))
    write_model(repo, "bytes_pair", identity_config("bytes_pair", [("INPUT0", "TYPE_STRING", [2])]))
    with InferdServer(inferd_bin, [repo], ["--id=triton-compatible"], log_dir=repo, tag="answers") as srv:
        yield srv


def test_server_metadata_names_the_id(named_server):
    assert httpclient.InferenceServerClient(named_server.url).get_server_metadata()["name"] == "triton-compatible"
    grpc = grpcclient.InferenceServerClient(named_server.grpc_url)
    assert grpc.get_server_metadata().name == "triton-compatible"


@pytest.mark.parametrize("model, dtype, wire", [("echo", np.float32, "FP32"), ("echo16", np.float16, "FP16")])
def test_nan_and_infinity_are_valid_json_outputs(named_server, model, dtype, wire):
    values = np.array([np.nan, np.inf, -np.inf, 1.5], dtype=dtype)
    shape = [1, 4] if model == "echo" else [4]
    doc = {"inputs": [{"name": "INPUT0", "datatype": wire, "shape": shape,
                       "data": ["NaN", "Infinity", "-Infinity", 1.5]}]}
    # JSON numbers cannot be NaN: Triton reads and writes the bare tokens.
    body = json.dumps(doc).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity").replace('"-Infinity"', "-Infinity")
    status, _, answer = raw_request(named_server.url, "POST", f"/v2/models/{model}/infer", body=body)
    assert status == 200, answer
    out = json.loads(answer)["outputs"][0]["data"]  # Python's json reads NaN / Infinity
    np.testing.assert_array_equal(np.array(out, dtype=dtype), values)
    # The same through tritonclient, binary in and JSON out.
    c = httpclient.InferenceServerClient(named_server.url)
    inp = httpclient.InferInput("INPUT0", shape, wire)
    inp.set_data_from_numpy(values.reshape(shape))
    result = c.infer(model, [inp], outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0").reshape(-1), values)


def test_one_output_asked_for_twice_is_refused(named_server):
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [1]}],
           "outputs": [{"name": "OUTPUT0"}, {"name": "OUTPUT0"}]}
    status, _, body = raw_request(named_server.url, "POST", "/v2/models/echo/infer", body=json.dumps(doc))
    json_error_body(status, body, contains=["OUTPUT0", "more than once"])


def test_config_prints_64_bit_integers_as_numbers_like_triton(named_server):
    status, _, body = raw_request(named_server.url, "GET", "/v2/models/echo/config")
    assert status == 200
    config = json.loads(body)
    assert config["input"][0]["dims"] == [-1]
    assert config["output"][0]["dims"] == [-1]
    assert config["version_policy"]["specific"]["versions"] == [1]
    db = config["dynamic_batching"]
    assert db["max_queue_delay_microseconds"] == 250
    assert db["default_queue_policy"]["default_timeout_microseconds"] == 5000000
    assert db["priority_levels"] == 0 and db["default_priority_level"] == 0
    assert isinstance(config["max_batch_size"], int)


def test_only_inference_answers_are_compressed(named_server):
    status, headers, body = raw_request(named_server.url, "GET", "/v2/models/echo/config",
                                        headers={"Accept-Encoding": "gzip"})
    assert status == 200 and "content-encoding" not in headers
    json.loads(body)
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
    status, headers, body = raw_request(named_server.url, "POST", "/v2/models/echo/infer",
                                        body=json.dumps(doc), headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(body))["outputs"][0]["data"] == [1, 2]


def test_expect_100_continue_is_answered_before_the_body(named_server):
    """curl sends 'Expect: 100-continue' above 1 MiB and waits for the go-ahead."""
    import socket
    body = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2], "data": [3, 4]}]})
    host, port = named_server.url.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        interim = s.recv(64)  # nothing of the body has been sent: only the go-ahead can come
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
        s.sendall(body.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["outputs"][0]["data"] == [3, 4]


# ------------------------------------------------------------------ raw binary requests

def _split_binary_answer(headers, body):
    n = int(headers["inference-header-content-length"])
    return json.loads(body[:n]), body[n:]


def test_raw_binary_request_is_the_only_inputs_data(named_server):
    x = np.array([1.5, -2, 3, 4.25, 5], dtype=np.float32)
    status, headers, body = raw_request(named_server.url, "POST", "/v2/models/echo/infer", body=x.tobytes(),
                                        headers={"Inference-Header-Content-Length": "0",
                                                 "Content-Type": "application/octet-stream"})
    assert status == 200, body
    doc, data = _split_binary_answer(headers, body)
    (out,) = doc["outputs"]
    # Batch of 1, the -1 deduced from the body's 20 bytes; every output binary.
    assert out["name"] == "OUTPUT0" and out["shape"] == [1, 5]
    assert out["parameters"]["binary_data_size"] == 20
    np.testing.assert_array_equal(np.frombuffer(data, np.float32), x)


def test_raw_binary_request_to_a_bytes_input(named_server):
    payload = b"any bytes \x00\xff at all"
    status, headers, body = raw_request(named_server.url, "POST", "/v2/models/echo_bytes/infer", body=payload,
                                        headers={"Inference-Header-Content-Length": "0"})
    assert status == 200, body
    doc, data = _split_binary_answer(headers, body)
    assert doc["outputs"][0]["shape"] == [1, 1]
    assert data == len(payload).to_bytes(4, "little") + payload


def test_raw_binary_request_needs_a_model_with_one_input(named_server):
    status, _, body = raw_request(named_server.url, "POST", "/v2/models/two_inputs/infer", body=b"\0" * 8,
                                  headers={"Inference-Header-Content-Length": "0"})
    # Triton's words, which its L0_http tests look for.
    json_error_body(status, body, contains=[
        "Raw request must only have 1 input (found 1) to be deduced but got 2 inputs in 'two_inputs'"])
    status, _, body = raw_request(named_server.url, "POST", "/v2/models/nobody/infer", body=b"\0" * 8,
                                  headers={"Inference-Header-Content-Length": "0"})
    assert status == 404
    # A body that is not a whole number of elements is refused by the usual size check.
    status, _, body = raw_request(named_server.url, "POST", "/v2/models/echo/infer", body=b"\0" * 7,
                                  headers={"Inference-Header-Content-Length": "0"})
    json_error_body(status, body)


@pytest.mark.parametrize("model, words", [
    ("two_wild", "The shape of the raw input 'INPUT0' can not be deduced because there are more than one "
                 "variable-sized dimension"),
    ("bytes_pair", "For BYTE datatype raw input 'INPUT0', the model must have input shape [1]"),
])
def test_raw_binary_request_a_shape_cannot_be_deduced_for(named_server, model, words):
    status, _, body = raw_request(named_server.url, "POST", f"/v2/models/{model}/infer", body=b"\0" * 8,
                                  headers={"Inference-Header-Content-Length": "0"})
    json_error_body(status, body, contains=[words])


def test_binary_data_output_leaves_listed_outputs_as_json(named_server):
    x = [1.0, 2.0, 3.0]
    base = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 3], "data": x}],
            "parameters": {"binary_data_output": True}}
    # Listed without binary_data: JSON, as Triton answers.
    status, headers, body = raw_request(named_server.url, "POST", "/v2/models/echo/infer",
                                        body=json.dumps({**base, "outputs": [{"name": "OUTPUT0"}]}).encode())
    assert status == 200, body
    assert "inference-header-content-length" not in headers
    assert json.loads(body)["outputs"][0]["data"] == x
    # Listed with binary_data: binary.
    listed = {**base, "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}]}
    status, headers, body = raw_request(named_server.url, "POST", "/v2/models/echo/infer",
                                        body=json.dumps(listed).encode())
    doc, data = _split_binary_answer(headers, body)
    np.testing.assert_array_equal(np.frombuffer(data, np.float32), x)
    # Not listed: binary_data_output decides.
    status, headers, body = raw_request(named_server.url, "POST", "/v2/models/echo/infer",
                                        body=json.dumps(base).encode())
    doc, data = _split_binary_answer(headers, body)
    np.testing.assert_array_equal(np.frombuffer(data, np.float32), x)


# ------------------------------------------------------------------ malformed HTTP

def _raw_exchange(url, data, timeout=10):
    """Sends `data` on a fresh connection; returns everything the server wrote before closing."""
    import socket
    host, port = url.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize("request_bytes, status, words", [
    # Both framings at once: answered, not just dropped (request smuggling is refused).
    (b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400, "malformed HTTP request"),
    (b"GET /v2 HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n", 400, "malformed HTTP request"),
    (b"GARBAGE\r\n\r\n", 400, "malformed HTTP request"),
    (b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
     "malformed HTTP request"),
    (b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
     "malformed HTTP request"),
    (b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n", 431, "too large"),
])
def test_malformed_http_is_answered_then_closed(named_server, request_bytes, status, words):
    answer = _raw_exchange(named_server.url, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d" % status), answer[:300]
    assert b"connection: close" in head.lower()
    assert words in json.loads(body)["error"]
    assert httpclient.InferenceServerClient(named_server.url).is_server_live()


def test_http_status_codes_follow_tritons_error_codes(named_server):
    """Triton maps UNSUPPORTED to 501 and ALREADY_EXISTS to 400 (HTTP has no
    code for it): a log_file change over the network, and a shared memory
    region registered twice; an unknown Content-Encoding is a 400."""
    status, _, body = raw_request(named_server.url, "POST", "/v2/logging",
                                  body=json.dumps({"log_file": "/tmp/x.log"}).encode())
    assert status == 501, body
    assert "log file location can not be updated" in json.loads(body)["error"]

    import uuid
    import tritonclient.utils.shared_memory as shm
    key = f"/inferd_answers_{uuid.uuid4().hex[:8]}"
    handle = shm.create_shared_memory_region("twice", key, 64)
    try:
        register = json.dumps({"key": key, "byte_size": 64}).encode()
        path = "/v2/systemsharedmemory/region/twice/register"
        assert raw_request(named_server.url, "POST", path, body=register)[0] == 200
        status, _, body = raw_request(named_server.url, "POST", path, body=register)
        assert status == 400 and "already in manager" in json.loads(body)["error"], body
        gclient = grpcclient.InferenceServerClient(named_server.grpc_url)
        try:
            gclient.register_system_shared_memory("twice", key, 64)
            raise AssertionError("registered twice")
        except grpcclient.InferenceServerException as e:
            assert e.status() == "StatusCode.ALREADY_EXISTS", e
    finally:
        raw_request(named_server.url, "POST", "/v2/systemsharedmemory/unregister")
        shm.destroy_shared_memory_region(handle)

    status, _, body = raw_request(named_server.url, "POST", "/v2/models/echo/infer", body=b"{}",
                                  headers={"Content-Encoding": "br"})
    assert status == 400 and "Content-Encoding" in json.loads(body)["error"], body


@pytest.mark.parametrize("count", [15, 18])
def test_l0_http_data_count_mismatch_body(named_server, count):
    """L0_http's curl cases compare the whole error body with Triton's."""
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16],
                        "data": list(range(1, count + 1))}]}
    status, _, text = raw_request(named_server.url, "POST", "/v2/models/echo/infer",
                                  body=json.dumps(body, separators=(",", ":")).encode())
    assert status == 400
    assert text == b"""{"error":"Unable to parse 'data': Shape does not match true shape of 'data' field"}"""
