"""The attack suite: what an outsider on every port would try, class by class
(issue 12), against a real inferd. After every attack the target must still
be alive, ready, answering a normal inference correctly, and not grown
without bound.

1. The load API: uploaded code, backend names as paths, files a config names,
   restricted APIs, override folders and their size, failed reloads.
2. Single requests that used to kill the process: deep JSON, sizes that
   overflow, huge sequence ids, exceptions from a backend.
3. Exhaustion: file descriptors, idle and slow connections, gRPC streams that
   never read, message sizes, a second server on the port, large JSON bodies,
   client-chosen delays, an exit that cannot wait, memory across reloads.
4. What reaches backends: aligned inputs, and Triton's config rules at load.

Loops are bounded and everything stays on loopback.
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc

from support import (CLASSIFY_LABELS, REPO_ROOT, InferdServer, expect_server_error, fp32_identity,
                     free_port, identity_config, json_error_body, make_input, proc_status,
                     raw_request, sanitizer_of, write_model)

DIGITS_ONNX = REPO_ROOT / "examples" / "model_repository" / "digits" / "1" / "model.onnx"
MAX_RSS_GROWTH_KB = 512 * 1024  # the whole module's attacks may not grow the target more

SEQ_CONFIG = """
name: "seq"
backend: "accumulator"
max_batch_size: 2
input [{ name: "INPUT" data_type: TYPE_INT32 dims: [1] }]
output [{ name: "OUTPUT" data_type: TYPE_INT32 dims: [1] },
        { name: "INSTANCE" data_type: TYPE_STRING dims: [1] }]
sequence_batching {
  control_input [
    { name: "START" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] }] },
    { name: "END" control [{ kind: CONTROL_SEQUENCE_END int32_false_true: [0, 1] }] },
    { name: "READY" control [{ kind: CONTROL_SEQUENCE_READY int32_false_true: [0, 1] }] }
  ]
}
"""

PROBE_CONFIG = """
name: "probe"
backend: "probe"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [-1] },
       { name: "INPUT1" data_type: TYPE_UINT8 dims: [-1] optional: true }]
output [{ name: "ALIGNED" data_type: TYPE_INT32 dims: [1] }]
"""


def build_attack_repository(repo):
    write_model(repo, "echo", fp32_identity("echo", 8))
    write_model(repo, "classify",
                identity_config("classify", [("INPUT0", "TYPE_FP32", [-1])],
                                outputs=[("OUTPUT0", "TYPE_FP32", [-1], 'label_filename: "labels.txt"')],
                                max_batch_size=8),
                files={"labels.txt": "\n".join(CLASSIFY_LABELS) + "\n"})
    write_model(repo, "seq", SEQ_CONFIG)
    write_model(repo, "probe", PROBE_CONFIG)
    write_model(repo, "upload", fp32_identity("upload", 8))  # the model the load attacks target
    write_model(repo, "slow", fp32_identity("slow", 8, extra="""
        parameters { key: "execute_delay_ms" value { string_value: "3000" } }"""))
    return repo


@pytest.fixture(scope="module")
def private_tmp(tmp_path_factory):
    """The target's TMPDIR: where its override folders appear, and vanish."""
    return tmp_path_factory.mktemp("target_tmp")


@pytest.fixture(scope="module")
def target(inferd_bin, tmp_path_factory, private_tmp):
    repo = build_attack_repository(tmp_path_factory.mktemp("attack_repo"))
    env = dict(os.environ, TMPDIR=str(private_tmp))
    with InferdServer(inferd_bin, [repo], ["--model-control-mode=explicit", "--load-model=*"],
                      log_dir=tmp_path_factory.mktemp("target_log"), tag="target", env=env) as srv:
        assert_survived(srv)
        srv.base_rss_kb = proc_status(srv.proc.pid)["VmRSS"]
        yield srv


def assert_survived(srv, model="echo"):
    """Alive, ready, and a normal inference is still answered correctly."""
    assert srv.proc.poll() is None, f"inferd died (exit code {srv.proc.returncode})"
    status, _, body = raw_request(srv.url, "GET", "/v2/health/ready", timeout=10)
    assert status == 200, f"not ready after the attack: {status} {body!r}"
    c = httpclient.InferenceServerClient(srv.url, network_timeout=30.0)
    try:
        x = np.array([[1.5, -2.0, 3.25]], dtype=np.float32)
        np.testing.assert_array_equal(c.infer(model, [make_input("INPUT0", x)]).as_numpy("OUTPUT0"), x)
    finally:
        c.close()


@pytest.fixture
def survives(target):
    """Used by every test on the shared target: the checks run after the attack."""
    yield target
    assert_survived(target)
    if sanitizer_of(target.binary) is None:
        grown = proc_status(target.proc.pid)["VmRSS"] - target.base_rss_kb
        assert grown < MAX_RSS_GROWTH_KB, f"the target grew by {grown} kB"


def post_json(srv, path, doc, headers=None, timeout=30):
    body = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return raw_request(srv.url, "POST", path, body=body, headers=h, timeout=timeout)


def load(srv, model, config=None, files=None, headers=None):
    params = {}
    if config is not None:
        params["config"] = config if isinstance(config, str) else json.dumps(config)
    for name, content in (files or {}).items():
        params["file:" + name] = base64.b64encode(content).decode()
    return post_json(srv, f"/v2/repository/models/{model}/load", {"parameters": params}, headers)


def upload_config(**extra):
    config = {
        "backend": "identity", "max_batch_size": 8,
        "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
        "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
    }
    config.update(extra)
    return config


def grpc_stub(srv):
    channel = grpc.insecure_channel(srv.grpc_url, options=[
        ("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)])
    return channel, service_pb2_grpc.GRPCInferenceServiceStub(channel)


# =========================================================================== 1. the load API

@pytest.fixture(scope="module")
def evil_library(tmp_path_factory):
    """A real shared library whose constructor leaves a marker file: if inferd
    ever loaded it, the marker would exist."""
    d = tmp_path_factory.mktemp("evil")
    marker = d / "constructor_ran"
    src = d / "evil.c"
    src.write_text(f'#include <stdio.h>\n__attribute__((constructor)) static void run(void) {{'
                   f' FILE* f = fopen("{marker}", "w"); if (f) fclose(f); }}\n'
                   'unsigned InferdBackendApiVersion(void) { return 1u << 16; }\n')
    lib = d / "libinferd_evil.so"
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("g++")
    assert compiler, "a C compiler is needed to build the test library (scripts/setup installs g++)"
    subprocess.run([compiler, "-shared", "-fPIC", "-x", "c", str(src), "-o", str(lib)], check=True)
    assert lib.read_bytes()[:4] == b"\x7fELF"
    return lib.read_bytes(), marker


@pytest.mark.parametrize("config_extra, file_name", [
    ({"backend": "evil"}, "1/libinferd_evil.so"),                # backend named after the upload
    ({"runtime": "libinferd_evil.so"}, "libinferd_evil.so"),      # runtime naming it, model folder
    ({"runtime": "payload.bin"}, "1/payload.bin"),                # a library by another name
    ({}, "1/model.onnx"),                                         # disguised as a model file
    ({}, "1/libfoo.so.1"),                                        # versioned library name
])
def test_uploaded_code_is_refused_and_never_loaded(survives, evil_library, config_extra, file_name):
    content, marker = evil_library
    status, _, body = load(survives, "upload", upload_config(**config_extra), {file_name: content})
    json_error_body(status, body, contains=["shared library", "never code"])
    assert not marker.exists(), "the uploaded library's constructor ran inside inferd"


def test_uploaded_code_is_refused_over_grpc(survives, evil_library):
    content, marker = evil_library
    channel, stub = grpc_stub(survives)
    with channel:
        request = service_pb2.RepositoryModelLoadRequest(model_name="upload")
        request.parameters["config"].string_param = json.dumps(upload_config(backend="evil"))
        request.parameters["file:1/libinferd_evil.so"].bytes_param = content
        with pytest.raises(grpc.RpcError) as e:
            stub.RepositoryModelLoad(request, timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "shared library" in e.value.details()
    assert not marker.exists()


def test_libraries_are_never_looked_up_among_uploads(survives):
    # Not an ELF, so it is accepted as a file; but 'runtime' never resolves
    # into the override folder: the library is looked for on disk only.
    status, _, body = load(survives, "upload", upload_config(runtime="libnotes.dat"),
                           {"1/libnotes.dat": b"just data"})
    msg = json_error_body(status, body, contains=["backend library not found"])
    assert "inferd-override" not in msg, msg
    assert_survived(survives, model="upload")  # the disk version still serves


@pytest.mark.parametrize("backend", ["/../../tmp/x", "../identity", "a/b", "..", "identity;rm"])
def test_backend_names_are_not_paths(survives, backend):
    status, _, body = load(survives, "upload", upload_config(backend=backend))
    json_error_body(status, body, contains=["not a path"])


STATE_CONFIG = {
    "backend": "accumulator", "max_batch_size": 2,
    "input": [{"name": "INPUT", "data_type": "TYPE_INT32", "dims": [1]}],
    "output": [{"name": "OUTPUT", "data_type": "TYPE_INT32", "dims": [1]},
               {"name": "INSTANCE", "data_type": "TYPE_STRING", "dims": [1]}],
}


def state_config(data_file, dims=(4,)):
    config = dict(STATE_CONFIG)
    config["sequence_batching"] = {"state": [{
        "input_name": "STATE_IN", "output_name": "STATE_OUT", "data_type": "TYPE_INT32",
        "dims": list(dims), "initial_state": [{"name": "init", "data_type": "TYPE_INT32",
                                               "dims": list(dims), "data_file": data_file}]}]}
    return config


@pytest.mark.parametrize("data_file", ["../../../../../../etc/passwd", "/etc/passwd", "/dev/zero"])
def test_initial_state_file_stays_in_the_model_folder(survives, data_file):
    status, _, body = load(survives, "upload", state_config(data_file))
    json_error_body(status, body, contains=["data_file"])


def test_initial_state_file_must_be_regular_and_is_read_only_as_far_as_needed(start_server, make_repo):
    repo = make_repo("state_files")
    for name, target_file in (("zero", "/dev/zero"), ("exact", None)):
        folder = write_model(repo, name, "")
        config = state_config("s.bin")
        config["name"] = name
        (folder / "config.pbtxt").write_text(_pbtxt_of(config))
        (folder / "initial_state").mkdir()
        if target_file:
            os.symlink(target_file, folder / "initial_state" / "s.bin")
        else:  # longer than the state's 16 bytes: only those are read
            (folder / "initial_state" / "s.bin").write_bytes(bytes(range(64)))
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    zero = [e for e in c.get_model_repository_index() if e["name"] == "zero"][0]
    assert zero["state"] == "UNAVAILABLE" and "not a regular file" in zero["reason"], zero
    assert c.is_model_ready("exact")


def _pbtxt_of(config):
    """A config.pbtxt for the JSON config (protobuf text format accepts JSON-like nesting)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, str):
            return v if v.startswith("TYPE_") else json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return "{ " + " ".join(f"{k}: {value(x)}" for k, x in v.items()) + " }"
    return "\n".join(f"{k}: {value(v)}" for k, v in config.items()) + "\n"


def override_folders(tmp):
    return sorted(p.name for p in Path(tmp).glob("inferd-override-*"))


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_override_folders_live_exactly_as_long_as_their_versions(survives, private_tmp):
    assert override_folders(private_tmp) == []
    status, _, body = load(survives, "upload", upload_config(), {"1/notes.txt": b"hello"})
    assert status == 200, body
    assert len(override_folders(private_tmp)) == 1
    # A failed load leaves nothing behind, and the serving version keeps its folder.
    status, _, _ = load(survives, "upload", upload_config(max_batch_size=-1), {"1/notes.txt": b"x"})
    assert status == 400
    assert len(override_folders(private_tmp)) == 1
    # Reloaded from disk: the overridden version retires, its folder goes.
    status, _, body = load(survives, "upload")
    assert status == 200, body
    assert wait_for(lambda: override_folders(private_tmp) == []), override_folders(private_tmp)
    # Unloaded: its folder goes too.
    assert load(survives, "upload", upload_config(), {"1/notes.txt": b"again"})[0] == 200
    assert post_json(survives, "/v2/repository/models/upload/unload", {})[0] == 200
    assert wait_for(lambda: override_folders(private_tmp) == []), override_folders(private_tmp)
    assert load(survives, "upload")[0] == 200


def test_override_folders_are_removed_at_exit(inferd_bin, tmp_path):
    repo = build_attack_repository(tmp_path / "repo")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    srv = InferdServer(inferd_bin, [repo], ["--model-control-mode=explicit", "--load-model=upload"],
                       log_dir=tmp_path, tag="exit", env=dict(os.environ, TMPDIR=str(tmp)))
    with srv:
        assert load(srv, "upload", upload_config(), {"1/notes.txt": b"hello"})[0] == 200
        assert len(override_folders(tmp)) == 1
    assert srv.returncode == 0
    assert override_folders(tmp) == []


def test_override_size_is_capped(start_server, make_repo):
    repo = build_attack_repository(make_repo("capped"))
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=echo",
                                "--model-load-max-override-size=4096"])
    status, _, body = load(srv, "upload", upload_config(), {"1/big.bin": b"x" * 8192})
    assert status == 413, body
    json_error_body(400, body, contains=["--model-load-max-override-size"])
    assert load(srv, "upload", upload_config(), {"1/small.bin": b"x" * 1024})[0] == 200
    assert_survived(srv)


def test_failed_reload_keeps_the_old_version_and_readiness(survives):
    assert load(survives, "upload")[0] == 200
    status, _, body = load(survives, "upload", upload_config(input=[{"name": "INPUT0"}]))
    assert status == 400, body
    assert raw_request(survives.url, "GET", "/v2/health/ready")[0] == 200
    assert_survived(survives, model="upload")
    entry = [e for e in httpclient.InferenceServerClient(survives.url).get_model_repository_index()
             if e["name"] == "upload"][0]
    assert entry["state"] == "READY" and "data_type" in entry.get("reason", ""), entry


# ------------------------------------------------------------------ restricted APIs

@pytest.fixture(scope="module")
def guarded(inferd_bin, tmp_path_factory):
    repo = build_attack_repository(tmp_path_factory.mktemp("guarded_repo"))
    args = ["--model-control-mode=explicit", "--load-model=echo", "--load-model=upload",
            "--http-restricted-api=model-repository,model-config:Admin-Key=s3cret",
            "--grpc-restricted-protocol=model-repository:admin-key=s3cret"]
    with InferdServer(inferd_bin, [repo], args, log_dir=tmp_path_factory.mktemp("guarded_log"),
                      tag="guarded") as srv:
        yield srv


def test_restricted_http_apis_need_their_header(guarded):
    for headers in ({}, {"Admin-Key": "wrong"}):
        status, _, body = load(guarded, "upload", headers=headers)
        assert status == 403, body
        json_error_body(400, body, contains=["restricted", "Admin-Key"])
        # Refused before anything else is looked at: method, model, body.
        status, _, _ = raw_request(guarded.url, "GET", "/v2/repository/index", headers=headers)
        assert status == 403
        status, _, _ = raw_request(guarded.url, "GET", "/v2/models/echo/config", headers=headers)
        assert status == 403
    # The header name is compared without case, the value exactly.
    assert load(guarded, "upload", headers={"admin-key": "s3cret"})[0] == 200
    assert raw_request(guarded.url, "GET", "/v2/models/echo/config", headers={"ADMIN-KEY": "s3cret"})[0] == 200
    c = httpclient.InferenceServerClient(guarded.url)
    c.load_model("upload", headers={"Admin-Key": "s3cret"})
    expect_server_error(c.unload_model, "upload", status=403, contains=["restricted"])
    # The other groups stay open.
    assert raw_request(guarded.url, "GET", "/v2/models/echo")[0] == 200
    assert_survived(guarded)


def test_restricted_grpc_protocols_need_their_metadata(guarded):
    c = grpcclient.InferenceServerClient(guarded.grpc_url)
    with pytest.raises(Exception) as e:
        c.load_model("upload")
    assert "PERMISSION_DENIED" in str(e.value) and "triton-grpc-protocol-admin-key" in str(e.value)
    c.load_model("upload", headers={"triton-grpc-protocol-admin-key": "s3cret"})
    c.get_model_config("echo")  # model-config is restricted over HTTP only
    x = np.ones((1, 3), np.float32)
    inp = grpcclient.InferInput("INPUT0", [1, 3], "FP32")
    inp.set_data_from_numpy(x)
    np.testing.assert_array_equal(c.infer("echo", [inp]).as_numpy("OUTPUT0"), x)


def test_restricted_streams_end_before_reading(inferd_bin, tmp_path):
    repo = build_attack_repository(tmp_path / "repo")
    with InferdServer(inferd_bin, [repo], ["--grpc-restricted-protocol=inference:k=v"],
                      log_dir=tmp_path, tag="stream_guard") as srv:
        channel, stub = grpc_stub(srv)
        with channel:
            request = service_pb2.ModelInferRequest(model_name="echo")
            with pytest.raises(grpc.RpcError) as e:
                list(stub.ModelStreamInfer(iter([request]), timeout=10))
            assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.RpcError) as e:
                stub.ModelInfer(request, timeout=10)
            assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
            request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 1])
            request.raw_input_contents.append(np.float32(2.5).tobytes())
            answer = stub.ModelInfer(request, metadata=[("triton-grpc-protocol-k", "v")], timeout=10)
            assert answer.raw_output_contents[0] == np.float32(2.5).tobytes()


@pytest.mark.parametrize("flag, why", [
    ("--http-restricted-api=nope:k=v", "unknown restricted api 'nope'"),
    ("--grpc-restricted-protocol=nope:k=v", "unknown restricted protocol 'nope'"),
    ("--http-restricted-api=health", "takes '<api>"),
    ("--grpc-restricted-protocol=health:k=", "takes '<api>"),
])
def test_bad_restriction_flags_stop_start_up(inferd_bin, tmp_path, flag, why):
    out = subprocess.run([str(inferd_bin), f"--model-repository={tmp_path}", flag],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and why in out.stderr, out.stderr


def test_one_api_in_two_restrictions_is_refused(inferd_bin, tmp_path):
    out = subprocess.run([str(inferd_bin), f"--model-repository={tmp_path}",
                          "--http-restricted-api=health:a=b", "--http-restricted-api=metadata,health:c=d"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out.stderr
    assert "api 'health' can not be specified in multiple config groups" in out.stderr, out.stderr


# =========================================================================== 2. single requests

DEEP = 200_000


@pytest.mark.parametrize("path, body", [
    ("/v2/models/echo/infer", b"[" * DEEP),
    ("/v2/models/echo/infer", b'{"a":' * DEEP),
    ("/v2/models/echo/infer",
     b'{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1],"data":' + b"[" * DEEP + b"]}]}"),
    ("/v2/repository/index", b"[" * DEEP),
    ("/v2/repository/models/upload/load", b'{"parameters":' * DEEP),
])
def test_deeply_nested_json_is_refused(survives, path, body):
    status, _, answer = post_json(survives, path, body)
    json_error_body(status, answer, contains=["nested"])


def test_tensor_data_nested_as_deep_as_a_tensor_can_be_is_fine(survives):
    # Triton (2.58 on) reads tensor data nested up to 99 levels; so does inferd.
    data = 1.0
    for _ in range(99):
        data = [data]
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": data}]}
    status, _, body = post_json(survives, "/v2/models/echo/infer", doc)
    assert status == 200, body


HUGE = 2 ** 62


@pytest.mark.parametrize("shape, data, classify", [
    ([1, HUGE], [], True),       # used to be 0 bytes, then std::length_error in classification
    ([4, HUGE], [], False),      # 4 * 2^62 elements wraps to 0
    ([2 ** 32, 2 ** 32, 1], [], False),
    ([1, 2 ** 61], [], False),   # fits as elements, not as bytes (x4)
])
def test_sizes_that_overflow_are_refused_over_http(survives, shape, data, classify):
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": shape, "data": data}]}
    if classify:
        doc["outputs"] = [{"name": "OUTPUT0", "parameters": {"classification": 2}}]
    status, _, body = post_json(survives, "/v2/models/classify/infer", doc)
    # Named, or (an element count that fits but disagrees with 'data') in Triton's words.
    message = json_error_body(status, body)
    assert "INPUT0" in message or "Shape does not match true shape" in message, message
    # The same with binary data (and no bytes at all).
    doc["inputs"][0].pop("data")
    doc["inputs"][0]["parameters"] = {"binary_data_size": 0}
    header = json.dumps(doc).encode()
    status, _, body = raw_request(survives.url, "POST", "/v2/models/classify/infer", body=header,
                                  headers={"Inference-Header-Content-Length": str(len(header))})
    json_error_body(status, body, contains=["INPUT0"])


@pytest.mark.parametrize("shape", [[1, HUGE], [4, HUGE], [2 ** 32, 2 ** 32, 1]])
def test_sizes_that_overflow_are_refused_over_grpc(survives, shape):
    channel, stub = grpc_stub(survives)
    with channel:
        request = service_pb2.ModelInferRequest(model_name="classify")
        t = request.inputs.add(name="INPUT0", datatype="FP32", shape=shape)
        assert t is not None
        request.raw_input_contents.append(b"")
        out = request.outputs.add(name="OUTPUT0")
        out.parameters["classification"].int64_param = 2
        with pytest.raises(grpc.RpcError) as e:
            stub.ModelInfer(request, timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
        # typed contents too
        request.ClearField("raw_input_contents")
        with pytest.raises(grpc.RpcError) as e:
            stub.ModelInfer(request, timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()


def _seq_request(seq_id, value, start=False, end=False):
    params = {"sequence_id": seq_id, "sequence_start": start, "sequence_end": end}
    return {"parameters": params,
            "inputs": [{"name": "INPUT", "datatype": "INT32", "shape": [1, 1], "data": [value]}]}


@pytest.mark.parametrize("seq_id", ["99999999999999999999999", "18446744073709551616", "-1", "1e30"])
def test_sequence_ids_that_are_no_uint64_do_not_kill(survives, seq_id):
    status, _, body = post_json(survives, "/v2/models/seq/infer", _seq_request(seq_id, 2, start=True))
    assert status == 200, body
    status, _, body = post_json(survives, "/v2/models/seq/infer", _seq_request(seq_id, 3, end=True))
    assert status == 200, body
    assert json.loads(body)["outputs"][0]["data"] == [5]


def test_sequence_id_as_a_huge_number_and_too_long(survives):
    raw = b'{"parameters":{"sequence_id":99999999999999999999999,"sequence_start":true},' \
          b'"inputs":[{"name":"INPUT","datatype":"INT32","shape":[1,1],"data":[1]}]}'
    assert post_json(survives, "/v2/models/seq/infer", raw)[0] in (200, 400)
    status, _, body = post_json(survives, "/v2/models/seq/infer", _seq_request("x" * 200, 1, start=True))
    json_error_body(status, body, contains=["sequence_id", "128"])


def probe_request(**params):
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2], "data": [1, 2]}]}
    if params:
        doc["parameters"] = params
    return doc


def test_a_backend_that_throws_fails_the_request_not_the_server(survives):
    for _ in range(3):
        status, _, body = post_json(survives, "/v2/models/probe/infer", probe_request(throw=True))
        assert status == 500, body
        assert "threw" in json.loads(body)["error"]
    status, _, body = post_json(survives, "/v2/models/probe/infer", probe_request())
    assert status == 200, body
    # gRPC, with a stream too.
    c = grpcclient.InferenceServerClient(survives.grpc_url)
    inp = grpcclient.InferInput("INPUT0", [2], "FP32")
    inp.set_data_from_numpy(np.ones(2, np.float32))
    with pytest.raises(Exception) as e:
        c.infer("probe", [inp], parameters={"throw": True})
    assert "threw" in str(e.value)


def test_a_backend_that_throws_at_load_fails_the_load(survives):
    config = {"backend": "probe", "max_batch_size": 0,
              "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
              "output": [{"name": "ALIGNED", "data_type": "TYPE_INT32", "dims": [1]}],
              "parameters": {"throw_on_load": {"string_value": "true"}}}
    status, _, body = load(survives, "upload", config)
    assert status in (400, 500), body
    assert "threw" in json.loads(body)["error"]
    assert_survived(survives, model="upload")


def test_a_backend_asking_for_more_memory_than_exists_gets_an_error(survives):
    if sanitizer_of(survives.binary):
        pytest.skip("a sanitizer's allocator aborts on a failed allocation instead of throwing")
    status, _, body = post_json(survives, "/v2/models/probe/infer", probe_request(huge_output=True))
    assert status >= 400, body
    assert "out of memory" in json.loads(body)["error"]


# =========================================================================== 3. exhaustion

def test_descriptor_exhaustion_neither_spins_nor_floods_the_log(start_server, make_repo):
    repo = make_repo("fds")
    write_model(repo, "echo", fp32_identity("echo", 8))
    limit = 64
    srv = start_server([repo], ["--allow-grpc=false", "--allow-metrics=false"], max_open_files=limit)
    log_before = srv.log_path.stat().st_size
    cpu_before = _cpu_seconds(srv.proc.pid)
    socks = []
    try:
        for _ in range(3 * limit):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            socks.append(s)
        time.sleep(3)  # the server is now out of descriptors with connections queued
        grown = srv.log_path.stat().st_size - log_before
        cpu = _cpu_seconds(srv.proc.pid) - cpu_before
        assert grown < 16 * 1024, f"{grown} bytes of log in 3 s"
        # A resource bound, not a speed: retrying accept at once would burn a core.
        assert cpu < 1.0, f"{cpu:.2f} s of CPU in 3 s: the accept loop spins"
    finally:
        for s in socks:
            s.close()
    assert wait_for(lambda: _ready(srv), timeout=20)
    assert_survived(srv)


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ready(srv):
    try:
        return raw_request(srv.url, "GET", "/v2/health/ready", timeout=2)[0] == 200
    except OSError:
        return False


def _closed_by_server(sock, within=15.0):
    """True when the server closes `sock` (recv returns b'' or the peer resets)."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.fixture(scope="module")
def impatient(inferd_bin, tmp_path_factory):
    repo = build_attack_repository(tmp_path_factory.mktemp("impatient_repo"))
    args = ["--http-idle-timeout-secs=1", "--http-header-timeout-secs=1", "--http-body-timeout-secs=1"]
    with InferdServer(inferd_bin, [repo], args, log_dir=tmp_path_factory.mktemp("impatient_log"),
                      tag="impatient") as srv:
        yield srv


@pytest.mark.parametrize("opening", [
    b"",                                                                     # idle from the start
    b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\n",                   # header never ends
    b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"in",  # body never ends
])
def test_quiet_and_slow_clients_are_disconnected(impatient, opening):
    for port in (impatient.port, impatient.metrics_port):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            if opening:
                s.sendall(opening)
            assert _closed_by_server(s), f"port {port} kept a connection that sent {opening[:40]!r}"
    assert_survived(impatient)


def test_kept_alive_connections_are_closed_when_idle(impatient):
    conn = http.client.HTTPConnection("127.0.0.1", impatient.port, timeout=15)
    conn.request("GET", "/v2/health/live")
    assert conn.getresponse().read() == b""
    assert _closed_by_server(conn.sock)
    conn.close()


def test_a_slow_model_is_not_a_slow_client(impatient):
    # 3 s in the model, past every 1 s deadline: the request is still answered.
    c = httpclient.InferenceServerClient(impatient.url, network_timeout=30)
    x = np.ones((1, 2), np.float32)
    np.testing.assert_array_equal(c.infer("slow", [make_input("INPUT0", x)]).as_numpy("OUTPUT0"), x)


@pytest.fixture(scope="module")
def unhurried_reader(inferd_bin, tmp_path_factory):
    # A 4 s body deadline: time enough for a sanitizer build to read a 16 MiB
    # body (TSan in CI took over 1 s and cut the request off mid-body).
    repo = build_attack_repository(tmp_path_factory.mktemp("unhurried_repo"))
    with InferdServer(inferd_bin, [repo], ["--http-body-timeout-secs=4"],
                      log_dir=tmp_path_factory.mktemp("unhurried_log"), tag="unhurried") as srv:
        yield srv


def test_a_client_that_never_reads_its_answer_is_cut_off(unhurried_reader):
    # 16 MiB back, far more than the sockets' buffers hold: the server's write
    # stalls, and the 4 s deadline for the client taking its answer closes the
    # connection instead of holding it, and the answer, for ever.
    impatient = unhurried_reader
    n = 4 * 1024 * 1024  # FP32 elements
    header = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, n],
                                     "parameters": {"binary_data_size": 4 * n}}],
                         "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}]}).encode()
    body = header + bytes(4 * n)
    head = (f"POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Inference-Header-Content-Length: {len(header)}\r\n\r\n").encode()
    received = 0
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", impatient.port))
        s.sendall(head + body)
        time.sleep(7)  # the server writes what fits, stalls, and its deadline passes
        s.settimeout(15)
        try:
            while chunk := s.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
    assert received < 4 * n, f"all of the answer ({received} bytes) came: the stalled connection was kept"
    assert_survived(impatient)


def test_a_stream_that_never_reads_does_not_grow_the_server(survives):
    if sanitizer_of(survives.binary):
        pytest.skip("resident memory means little under a sanitizer's allocator")
    x = np.ones(256 * 1024, np.float32)  # 1 MiB
    request = service_pb2.ModelInferRequest(model_name="echo")
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, x.size])
    request.raw_input_contents.append(x.tobytes())
    sent = [0]

    def requests():
        for _ in range(400):
            sent[0] += 1
            yield request

    before = proc_status(survives.proc.pid)["VmRSS"]
    channel, stub = grpc_stub(survives)
    with channel:
        call = stub.ModelStreamInfer(requests(), timeout=60)  # responses are never read
        peak = before
        for _ in range(40):  # 8 s
            time.sleep(0.2)
            peak = max(peak, proc_status(survives.proc.pid)["VmRSS"])
        call.cancel()
    grown_mib = (peak - before) / 1024
    assert grown_mib < 200, f"the server grew by {grown_mib:.0f} MiB ({sent[0]} of 400 requests sent)"


def test_grpc_message_size_is_bounded(start_server, make_repo):
    repo = make_repo("grpc_size")
    write_model(repo, "echo", fp32_identity("echo", 8))
    srv = start_server([repo], ["--grpc-max-message-size=1048576"])
    c = grpcclient.InferenceServerClient(srv.grpc_url)
    small = np.ones((1, 1024), np.float32)
    inp = grpcclient.InferInput("INPUT0", list(small.shape), "FP32")
    inp.set_data_from_numpy(small)
    c.infer("echo", [inp])
    big = np.ones((1, 512 * 1024), np.float32)  # 2 MiB
    inp = grpcclient.InferInput("INPUT0", list(big.shape), "FP32")
    inp.set_data_from_numpy(big)
    with pytest.raises(Exception) as e:
        c.infer("echo", [inp])
    assert "RESOURCE_EXHAUSTED" in str(e.value) or "larger than max" in str(e.value), e.value
    assert_survived(srv)


def test_a_second_server_cannot_take_the_grpc_port(target, tmp_path):
    argv = [target.binary, f"--model-repository={tmp_path}", f"--http-port={free_port()}",
            "--http-address=127.0.0.1", f"--grpc-port={target.grpc_port}", "--grpc-address=127.0.0.1",
            f"--metrics-port={free_port()}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "cannot listen for gRPC" in out.stderr + out.stdout
    assert_survived(target)


def _json_body(elements):
    return json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, elements],
                                   "data": [0.5] * elements}]}).encode()


def test_large_json_bodies_are_capped(survives):
    body = _json_body(5_000_000)  # about 20 MB of JSON
    assert len(body) > 16 << 20
    status, _, answer = post_json(survives, "/v2/models/echo/infer", body, timeout=60)
    assert status == 400, answer[:200]  # as Triton answers a body over its limit
    json_error_body(400, answer, contains=["--http-max-json-size", "binary"])


def test_health_answers_while_a_large_json_body_is_parsed(survives):
    body = _json_body(3_000_000)  # about 12 MB, under the cap
    result = {}

    def big():
        result["status"] = post_json(survives, "/v2/models/echo/infer", body, timeout=120)[0]

    t = threading.Thread(target=big)
    t.start()
    answers = []
    while t.is_alive() and len(answers) < 500:
        answers.append(raw_request(survives.url, "GET", "/v2/health/ready", timeout=30)[0])
        time.sleep(0.01)
    t.join(timeout=120)
    assert result.get("status") == 200
    assert answers and all(a == 200 for a in answers)


def test_a_client_cannot_choose_how_long_a_model_sleeps(survives):
    doc = {"parameters": {"execute_delay_ms": 2_000_000_000},
           "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [1.0]}]}
    status, _, body = post_json(survives, "/v2/models/echo/infer", doc, timeout=30)
    assert status == 200, body


def test_exit_timeout_fails_what_is_in_flight_and_exits(start_server, make_repo):
    repo = make_repo("stuck")
    write_model(repo, "stuck", fp32_identity("stuck", 8, extra="""
        parameters { key: "execute_delay_ms" value { string_value: "60000" } }"""))
    srv = start_server([repo], ["--exit-timeout-secs=2"])
    answer = {}

    def call():
        doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 1], "data": [1.0]}]}
        try:
            answer["reply"] = post_json(srv, "/v2/models/stuck/infer", doc, timeout=60)
        except Exception as e:  # pragma: no cover - reported below
            answer["reply"] = e

    t = threading.Thread(target=call)
    t.start()
    time.sleep(1.0)  # the request reaches the model, which then sleeps for a minute
    srv.send_signal(signal.SIGTERM)
    code = srv.wait(timeout=30)
    t.join(timeout=30)
    assert code == 1, f"exit code {code}"
    status, _, body = answer["reply"]
    assert status == 503, body
    assert "exit-timeout" in json.loads(body)["error"]


@pytest.mark.onnxruntime
def test_memory_stays_flat_across_500_reloads(inferd_bin, start_server, make_repo):
    if sanitizer_of(inferd_bin):
        pytest.skip("resident memory means little under a sanitizer's allocator")
    repo = make_repo("reloads")
    d = write_model(repo, "digits", """
name: "digits"
platform: "onnxruntime_onnx"
max_batch_size: 64
input [{ name: "pixels" data_type: TYPE_FP32 dims: [ 64 ] }]
output [{ name: "probabilities" data_type: TYPE_FP32 dims: [ 10 ] }]
""")
    shutil.copy(DIGITS_ONNX, d / "1" / "model.onnx")
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=digits"])

    def reload(n):
        for _ in range(n):
            status, _, body = post_json(srv, "/v2/repository/models/digits/load", {})
            assert status == 200, body

    reload(100)  # the allocator's working set settles
    before = proc_status(srv.proc.pid)
    reload(400)
    after = proc_status(srv.proc.pid)
    grown_kb = after["VmRSS"] - before["VmRSS"]
    assert grown_kb < 8 * 1024, f"RSS grew {grown_kb} kB over 400 reloads"
    # A thread of the version just retired may still be finishing; a leak
    # would leave hundreds (one or more per reload).
    deadline = time.monotonic() + 5
    while after["Threads"] > before["Threads"] and time.monotonic() < deadline:
        time.sleep(0.1)
        after = proc_status(srv.proc.pid)
    assert after["Threads"] <= before["Threads"], (before["Threads"], after["Threads"])
    assert after["VmSize"] - before["VmSize"] < 64 * 1024, "virtual memory grows: threads are left behind"
    x = np.zeros((1, 64), np.float32)
    c = httpclient.InferenceServerClient(srv.url)
    inp = httpclient.InferInput("pixels", [1, 64], "FP32")
    inp.set_data_from_numpy(x)
    assert c.infer("digits", [inp]).as_numpy("probabilities").shape == (1, 10)


# =========================================================================== 4. what reaches backends

@pytest.mark.parametrize("pad", range(0, 8))
def test_backends_get_aligned_inputs_over_http(survives, pad):
    # Binary data lands at whatever offset the JSON header's length gives it.
    a = np.arange(3 + pad, dtype=np.float32)
    b = np.arange(5 + pad, dtype=np.uint8)
    doc = {"id": "x" * pad,
           "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [a.size],
                       "parameters": {"binary_data_size": a.nbytes}},
                      {"name": "INPUT1", "datatype": "UINT8", "shape": [b.size],
                       "parameters": {"binary_data_size": b.nbytes}}]}
    header = json.dumps(doc).encode()
    status, _, body = raw_request(survives.url, "POST", "/v2/models/probe/infer",
                                  body=header + a.tobytes() + b.tobytes(),
                                  headers={"Inference-Header-Content-Length": str(len(header))})
    assert status == 200, body
    assert json.loads(body)["outputs"][0]["data"] == [1]
    # JSON data too.
    doc = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [a.size], "data": a.tolist()},
                      {"name": "INPUT1", "datatype": "UINT8", "shape": [b.size], "data": b.tolist()}]}
    status, _, body = post_json(survives, "/v2/models/probe/infer", doc)
    assert json.loads(body)["outputs"][0]["data"] == [1]


def test_backends_get_aligned_inputs_over_grpc(survives):
    c = grpcclient.InferenceServerClient(survives.grpc_url)
    for n in (1, 3, 17):
        a = grpcclient.InferInput("INPUT0", [n], "FP32")
        a.set_data_from_numpy(np.ones(n, np.float32))
        b = grpcclient.InferInput("INPUT1", [n], "UINT8")
        b.set_data_from_numpy(np.ones(n, np.uint8))
        assert c.infer("probe", [a, b]).as_numpy("ALIGNED").tolist() == [1]


@pytest.mark.parametrize("extra, why", [
    ({"sequence_batching": {"control_input": [
        {"name": "A", "control": [{"kind": "CONTROL_SEQUENCE_START", "int32_false_true": [0, 1]}]},
        {"name": "B", "control": [{"kind": "CONTROL_SEQUENCE_START", "int32_false_true": [0, 1]}]}]}},
     "more than one CONTROL_SEQUENCE_START"),
    ({"dynamic_batching": {"preserve_ordering": True, "priority_levels": 2, "default_priority_level": 1}},
     "only one priority level"),
    ({"input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [2, -1],
                 "reshape": {"shape": [-1, 2]}}]}, "variable-size"),
    ({"parameters": {"TRITON_BATCH_STRATEGY_PATH": {"string_value": "/tmp/libbatch.so"}}},
     "TRITON_BATCH_STRATEGY_PATH"),
    ({"model_warmup": [{"name": "w", "batch_size": 1, "count": 4000000000, "inputs": {
        "INPUT0": {"data_type": "TYPE_FP32", "dims": [4], "zero_data": True}}}]}, "count"),
    ({"model_warmup": [{"name": "w", "batch_size": 1, "inputs": {
        "INPUT0": {"data_type": "TYPE_FP32", "dims": [1 << 40], "zero_data": True}}}]}, "limit"),
])
def test_invalid_configs_fail_at_load_not_at_the_first_request(survives, extra, why):
    status, _, body = load(survives, "upload", upload_config(**extra))
    json_error_body(status, body, contains=[why])
    assert_survived(survives, model="upload")
