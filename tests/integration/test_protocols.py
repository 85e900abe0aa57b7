"""The same cases over both protocols: KServe v2 HTTP (``tritonclient.http``)
and gRPC (``tritonclient.grpc``, Triton's ``inference.GRPCInferenceService``).

Every test taking ``proto`` runs once per protocol on the shared server, so a
difference between the two frontends shows up as one half of a pair failing.
The small ``Proto`` adapter hides where the two clients differ (gRPC answers
protobuf unless ``as_json=True``, InferInput has ``binary_data`` only over
HTTP, errors carry an HTTP status or a gRPC ``StatusCode``).

Statistics and model control run on a server of this module's own
(``own_server``: explicit model control, models no other module touches), so
their counters move only by the traffic sent here.

The last sections are gRPC only: --allow-grpc=false, and the raw protocol
through the generated stub (typed ``contents``, which tritonclient never
sends, and malformed messages).
"""

import socket
import threading
import time

import grpc
import ml_dtypes
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from google.protobuf.json_format import MessageToDict
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import (InferenceServerException, deserialize_bytes_tensor,
                              np_to_triton_dtype)

from support import (CLASSIFY_LABELS, DTYPE_MODELS, DTYPE_VALUES, InferdServer, fp32_identity,
                     identity_config, write_model)

# --------------------------------------------------------------------------- adapter

# Error kinds -> (HTTP status, gRPC status code) the server must answer with.
ERROR_KINDS = {
    "not_found": (404, "StatusCode.NOT_FOUND"),
    "invalid": (400, "StatusCode.INVALID_ARGUMENT"),
}


class Proto:
    """One protocol's client on one server, with a common surface."""

    def __init__(self, name, srv):
        self.name = name
        self.module = httpclient if name == "http" else grpcclient
        url = srv.url if name == "http" else srv.grpc_url
        if name == "http":
            self.client = httpclient.InferenceServerClient(url, network_timeout=30.0,
                                                           concurrency=4)
        else:
            self.client = grpcclient.InferenceServerClient(url)

    def close(self):
        self.client.close()

    def __repr__(self):
        return f"Proto({self.name})"

    # -- tensors
    def input(self, name, array, datatype=None):
        datatype = datatype or np_to_triton_dtype(array.dtype)
        inp = self.module.InferInput(name, list(array.shape), datatype)
        if self.name == "http":
            inp.set_data_from_numpy(array, binary_data=True)
        else:
            inp.set_data_from_numpy(array)
        return inp

    def output(self, name, class_count=0):
        return self.module.InferRequestedOutput(name, class_count=class_count)

    def infer(self, model, inputs, **kwargs):
        return self.client.infer(model, inputs, **kwargs)

    def response(self, result):
        """The whole response as a dict (ids, model name/version, outputs)."""
        if self.name == "http":
            return result.get_response()
        return result.get_response(as_json=True)

    def output_meta(self, result, name):
        if self.name == "http":
            return result.get_output(name)
        # (tritonclient.grpc's get_output(as_json=True) returns None: convert here)
        out = result.get_output(name)
        return None if out is None else MessageToDict(out, preserving_proto_field_name=True)

    def async_infer_all(self, model, inputs_list, timeout=10.0):
        """Send every request before waiting for any; results in order."""
        if self.name == "http":
            handles = [self.client.async_infer(model, inputs) for inputs in inputs_list]
            return [h.get_result() for h in handles]
        done = threading.Event()
        results = [None] * len(inputs_list)
        lock = threading.Lock()
        remaining = [len(inputs_list)]

        def cb(i, result, error):
            results[i] = error if error is not None else result
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

        for i, inputs in enumerate(inputs_list):
            self.client.async_infer(
                model, inputs, lambda result, error, i=i: cb(i, result, error))
        assert done.wait(timeout), f"async gRPC answers missing after {timeout} s"
        for r in results:
            if isinstance(r, Exception):
                raise r
        return results

    # -- health / metadata / config / statistics / repository (always dicts)
    def json_call(self, method, *args, **kwargs):
        fn = getattr(self.client, method)
        if self.name == "grpc":
            kwargs["as_json"] = True
        return fn(*args, **kwargs)

    def server_metadata(self):
        return self.json_call("get_server_metadata")

    def model_metadata(self, model, version=""):
        return self.json_call("get_model_metadata", model, version)

    def model_config(self, model, version=""):
        cfg = self.json_call("get_model_config", model, version)
        return cfg if self.name == "http" else cfg["config"]

    def statistics(self, model="", version=""):
        return self.json_call("get_inference_statistics", model, version)

    def repository_index(self):
        idx = self.json_call("get_model_repository_index")
        return idx if self.name == "http" else idx.get("models", [])

    # -- errors
    def expect_error(self, fn, *args, kind, contains=(), **kwargs):
        """Call fn; expect a server error of ``kind`` whose message holds ``contains``."""
        want_http, want_grpc = ERROR_KINDS[kind]
        with pytest.raises(InferenceServerException) as ei:
            fn(*args, **kwargs)
        e = ei.value
        st = e.status()
        msg = e.message() or ""
        want = want_http if self.name == "http" else want_grpc
        assert str(st) == str(want), f"[{self.name}] expected {want}, got {st}: {msg!r}"
        assert msg.strip(), f"[{self.name}] empty error message"
        for s in contains:
            assert str(s).lower() in msg.lower(), f"[{self.name}] {s!r} not in error: {msg!r}"
        return e


@pytest.fixture(params=["http", "grpc"])
def proto(request, server):
    p = Proto(request.param, server)
    try:
        yield p
    finally:
        p.close()


def _i(d, key):
    """An integer field of a JSON answer; gRPC's JSON leaves zero fields out and
    writes 64-bit integers as strings."""
    return int(d.get(key, 0) or 0)


# --------------------------------------------------------------------------- health & metadata

def test_server_live_and_not_ready(proto):
    assert proto.client.is_server_live() is True
    # The shared repository holds broken models and strict readiness is the default.
    assert proto.client.is_server_ready() is False


def test_model_ready(proto):
    c = proto.client
    assert c.is_model_ready("identity_fp32") is True
    assert c.is_model_ready("identity_fp32", "1") is True
    assert c.is_model_ready("identity_fp32", "2") is False
    assert c.is_model_ready("no_such_model") is False
    assert c.is_model_ready("bad_reshape") is False


def test_server_metadata(proto):
    md = proto.server_metadata()
    assert md["name"] == "inferd"
    assert isinstance(md.get("version"), str) and md["version"]
    for e in ("classification", "model_repository", "statistics"):
        assert e in md["extensions"], f"extension {e!r} missing from {md['extensions']}"


def test_model_metadata_batched(proto):
    md = proto.model_metadata("identity_fp32")
    assert md["name"] == "identity_fp32"
    assert [str(v) for v in md["versions"]] == ["1"]
    (i,), (o,) = md["inputs"], md["outputs"]
    assert (i["name"], i["datatype"]) == ("INPUT0", "FP32")
    assert (o["name"], o["datatype"]) == ("OUTPUT0", "FP32")
    # max_batch_size 8: the batch dimension comes first, as -1
    assert [int(d) for d in i["shape"]] == [-1, -1]
    assert [int(d) for d in o["shape"]] == [-1, -1]


def test_model_metadata_fixed_dims(proto):
    md = proto.model_metadata("identity_two", "1")
    inputs = {t["name"]: t for t in md["inputs"]}
    assert inputs["INPUT0"]["datatype"] == "INT32"
    assert inputs["INPUT1"]["datatype"] == "FP32"
    for t in md["inputs"] + md["outputs"]:
        assert [int(d) for d in t["shape"]] == [-1, 4], t


def test_model_metadata_every_dtype(proto):
    for suffix, (_cfg, wire) in DTYPE_MODELS.items():
        md = proto.model_metadata("identity_" + suffix)
        assert md["inputs"][0]["datatype"] == wire, suffix
        assert md["outputs"][0]["datatype"] == wire, suffix
        assert [int(d) for d in md["inputs"][0]["shape"]] == [-1], suffix  # no batch dim


def test_model_metadata_versions_listed(proto):
    md = proto.model_metadata("versioned_all")
    assert sorted(str(v) for v in md["versions"]) == ["1", "2", "3"]


def test_model_metadata_unknown_model(proto):
    proto.expect_error(proto.model_metadata, "no_such_model", kind="not_found",
                       contains=["no_such_model"])


def test_model_metadata_unknown_version(proto):
    proto.expect_error(proto.model_metadata, "identity_fp32", "9", kind="not_found")


# --------------------------------------------------------------------------- config

def test_model_config(proto):
    cfg = proto.model_config("identity_fp32")
    assert cfg["name"] == "identity_fp32"
    assert _i(cfg, "max_batch_size") == 8
    assert cfg.get("backend") == "identity"
    (i,), (o,) = cfg["input"], cfg["output"]
    assert (i["name"], i["data_type"]) == ("INPUT0", "TYPE_FP32")
    assert (o["name"], o["data_type"]) == ("OUTPUT0", "TYPE_FP32")
    assert [int(d) for d in i["dims"]] == [-1]
    assert [int(d) for d in o["dims"]] == [-1]


def test_model_config_types_every_dtype(proto):
    for suffix, (cfg_type, _wire) in DTYPE_MODELS.items():
        c = proto.model_config("identity_" + suffix, "1")
        assert c["input"][0]["data_type"] == cfg_type, suffix
        assert _i(c, "max_batch_size") == 0, suffix


def test_model_config_instance_group_and_parameters(proto):
    cfg = proto.model_config("slow")
    groups = cfg.get("instance_group", [])
    assert sum(int(g.get("count", 1)) for g in groups) == 2, groups
    assert cfg["parameters"]["execute_delay_ms"]["string_value"] == "300"


def test_model_config_unknown_model(proto):
    proto.expect_error(proto.model_config, "no_such_model", kind="not_found",
                       contains=["no_such_model"])


def test_grpc_model_config_is_a_model_config_proto(server):
    with grpcclient.InferenceServerClient(server.grpc_url) as c:
        res = c.get_model_config("identity_two")
        cfg = res.config
        assert type(cfg).__name__ == "ModelConfig"
        assert cfg.name == "identity_two" and cfg.max_batch_size == 8
        assert [t.name for t in cfg.input] == ["INPUT0", "INPUT1"]
        assert list(cfg.input[0].dims) == [4]
        md = c.get_model_metadata("identity_two")
        assert [list(t.shape) for t in md.inputs] == [[-1, 4], [-1, 4]]


# --------------------------------------------------------------------------- inference

assert set(DTYPE_VALUES) == set(DTYPE_MODELS)


def _assert_identical(out, expected, dt):
    assert out is not None, "OUTPUT0 missing"
    assert list(out.shape) == list(expected.shape), (out.shape, expected.shape)
    if dt == "bytes":
        assert [bytes(x) for x in out.ravel()] == list(expected.ravel())
    elif dt == "bf16":
        assert out.dtype == ml_dtypes.bfloat16, out.dtype
        np.testing.assert_array_equal(out.view(np.uint16), expected.view(np.uint16))
    else:
        assert out.dtype == expected.dtype, (out.dtype, expected.dtype)
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dt", list(DTYPE_VALUES))
def test_identity_every_dtype(proto, dt):
    x = DTYPE_VALUES[dt]
    wire = DTYPE_MODELS[dt][1]
    res = proto.infer("identity_" + dt, [proto.input("INPUT0", x, wire)])
    meta = proto.output_meta(res, "OUTPUT0")
    assert meta["datatype"] == wire
    assert [int(d) for d in meta["shape"]] == [4]
    _assert_identical(res.as_numpy("OUTPUT0"), x, dt)


def test_empty_tensor(proto):
    x = np.zeros(0, dtype=np.float32)
    res = proto.infer("identity_fp32_nobatch", [proto.input("INPUT0", x)])
    out = res.as_numpy("OUTPUT0")
    assert out.shape == (0,) and out.dtype == np.float32


def test_large_tensor(proto):
    x = np.random.default_rng(7).standard_normal(1 << 20).astype(np.float32)  # 4 MiB
    res = proto.infer("identity_fp32_nobatch", [proto.input("INPUT0", x)])
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_batched_identity(proto, batch):
    x = (np.arange(batch * 5, dtype=np.float32).reshape(batch, 5) - 7.0) / 3.0
    res = proto.infer("identity_fp32", [proto.input("INPUT0", x)])
    assert [int(d) for d in proto.output_meta(res, "OUTPUT0")["shape"]] == [batch, 5]
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def _two_inputs(proto, batch=2):
    a = np.arange(batch * 4, dtype=np.int32).reshape(batch, 4) * 1000 - 3
    b = np.linspace(-1, 1, batch * 4, dtype=np.float32).reshape(batch, 4)
    return a, b, [proto.input("INPUT0", a), proto.input("INPUT1", b)]


def test_two_inputs(proto):
    a, b, inputs = _two_inputs(proto, 3)
    res = proto.infer("identity_two", list(reversed(inputs)))
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), a)
    np.testing.assert_array_equal(res.as_numpy("OUTPUT1"), b)


def test_requested_subset_of_outputs(proto):
    a, b, inputs = _two_inputs(proto)
    res = proto.infer("identity_two", inputs, outputs=[proto.output("OUTPUT1")])
    assert [o["name"] for o in proto.response(res)["outputs"]] == ["OUTPUT1"]
    assert res.as_numpy("OUTPUT0") is None
    np.testing.assert_array_equal(res.as_numpy("OUTPUT1"), b)


def test_request_id_model_name_and_version(proto):
    x = np.ones((1, 2), dtype=np.float32)
    res = proto.infer("identity_fp32", [proto.input("INPUT0", x)], request_id="req-\u00e9-42")
    body = proto.response(res)
    assert body["id"] == "req-\u00e9-42"
    assert body["model_name"] == "identity_fp32"
    assert str(body["model_version"]) == "1"


def test_explicit_version(proto):
    x = np.array([[3.0]], dtype=np.float32)
    res = proto.infer("versioned_all", [proto.input("INPUT0", x)], model_version="2")
    assert str(proto.response(res)["model_version"]) == "2"
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def test_async_infer(proto):
    xs = [np.full((1, 16), i, dtype=np.float32) for i in range(16)]
    results = proto.async_infer_all("identity_fp32", [[proto.input("INPUT0", x)] for x in xs])
    for x, r in zip(xs, results):
        np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), x)


def test_async_infer_on_slow_model(proto):
    # "slow" has two instances and a 300 ms delay: two requests in flight at
    # once each get their own answer. (No timing assertion: CI machines vary.)
    xs = [np.full((1, 2), i, dtype=np.float32) for i in range(2)]
    results = proto.async_infer_all("slow", [[proto.input("INPUT0", x)] for x in xs])
    for x, r in zip(xs, results):
        np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), x)


# --------------------------------------------------------------------------- classification

CLS_X = np.array([0.1, 0.9, -0.3, 0.7, 0.5], dtype=np.float32)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_classification(proto, k):
    res = proto.infer("classify", [proto.input("INPUT0", CLS_X)],
                      outputs=[proto.output("OUTPUT0", class_count=k)])
    meta = proto.output_meta(res, "OUTPUT0")
    assert meta["datatype"] == "BYTES"
    assert [int(d) for d in meta["shape"]] == [k]
    out = res.as_numpy("OUTPUT0")
    parsed = []
    for e in out:
        value, index, label = bytes(e).decode("utf-8").split(":", 2)
        parsed.append((float(value), int(index), label))
    order = np.argsort(-CLS_X, kind="stable")[:k]
    assert [(i, lab) for _, i, lab in parsed] == [(int(i), CLASSIFY_LABELS[i]) for i in order]
    assert [v for v, _, _ in parsed] == pytest.approx([float(CLS_X[i]) for i in order])


def test_without_class_count_raw_tensor(proto):
    res = proto.infer("classify", [proto.input("INPUT0", CLS_X)],
                      outputs=[proto.output("OUTPUT0")])
    assert proto.output_meta(res, "OUTPUT0")["datatype"] == "FP32"
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), CLS_X)


# --------------------------------------------------------------------------- errors

def _fp32(shape):
    return np.ones(shape, dtype=np.float32)


def _still_serving(proto):
    x = np.array([[1.5, -2.0]], dtype=np.float32)
    np.testing.assert_array_equal(
        proto.infer("identity_fp32", [proto.input("INPUT0", x)]).as_numpy("OUTPUT0"), x)


def test_unknown_model_infer(proto):
    proto.expect_error(proto.infer, "no_such_model", [proto.input("INPUT0", _fp32((1, 2)))],
                       kind="not_found", contains=["no_such_model"])
    _still_serving(proto)


def test_unknown_version_infer(proto):
    proto.expect_error(proto.infer, "identity_fp32", [proto.input("INPUT0", _fp32((1, 2)))],
                       model_version="7", kind="not_found")


def test_broken_model_infer(proto):
    with pytest.raises(InferenceServerException) as ei:
        proto.infer("bad_backend", [proto.input("INPUT0", _fp32((1, 2)))])
    assert "bad_backend" in ei.value.message()


@pytest.mark.parametrize("array,wire", [
    (np.ones((1, 3), dtype=np.int32), "INT32"),
    (np.ones((1, 3), dtype=np.float64), "FP64"),
    (np.array([[b"a", b"b"]], dtype=np.object_), "BYTES"),
])
def test_wrong_datatype(proto, array, wire):
    proto.expect_error(proto.infer, "identity_fp32", [proto.input("INPUT0", array, wire)],
                       kind="invalid", contains=["INPUT0", "FP32", wire])
    _still_serving(proto)


def test_wrong_shape(proto):
    a = proto.input("INPUT0", np.ones((1, 5), dtype=np.int32))
    b = proto.input("INPUT1", _fp32((1, 4)))
    proto.expect_error(proto.infer, "identity_two", [a, b], kind="invalid", contains=["INPUT0"])


@pytest.mark.parametrize("model,shape", [("identity_fp32", (4,)), ("identity_fp32", (1, 2, 3)),
                                         ("identity_fp32_nobatch", (2, 3))])
def test_wrong_rank(proto, model, shape):
    proto.expect_error(proto.infer, model, [proto.input("INPUT0", _fp32(shape))],
                       kind="invalid", contains=["INPUT0"])


def test_missing_input(proto):
    a = proto.input("INPUT0", np.ones((1, 4), dtype=np.int32))
    proto.expect_error(proto.infer, "identity_two", [a], kind="invalid", contains=["INPUT1"])


def test_unknown_input(proto):
    inputs = [proto.input("INPUT0", _fp32((1, 3))), proto.input("BOGUS_IN", _fp32((1, 3)))]
    proto.expect_error(proto.infer, "identity_fp32", inputs, kind="invalid",
                       contains=["BOGUS_IN"])


def test_batch_larger_than_max(proto):
    proto.expect_error(proto.infer, "identity_fp32", [proto.input("INPUT0", _fp32((9, 2)))],
                       kind="invalid", contains=["batch"])


def test_unknown_requested_output(proto):
    proto.expect_error(proto.infer, "identity_fp32", [proto.input("INPUT0", _fp32((1, 2)))],
                       outputs=[proto.output("NOPE_OUT")], kind="invalid", contains=["NOPE_OUT"])


def test_classification_of_unknown_output(proto):
    proto.expect_error(proto.infer, "classify", [proto.input("INPUT0", _fp32((5,)))],
                       outputs=[proto.output("NOPE_OUT", class_count=2)], kind="invalid",
                       contains=["NOPE_OUT"])


def test_same_message_over_both_protocols(server):
    """The message text is the same on both frontends, only the code differs."""
    msgs = {}
    for name in ("http", "grpc"):
        p = Proto(name, server)
        try:
            bad = p.input("INPUT0", np.ones((1, 3), dtype=np.int32))
            with pytest.raises(InferenceServerException) as ei:
                p.infer("identity_fp32", [bad])
            msgs[name] = ei.value.message()
        finally:
            p.close()
    assert msgs["http"] == msgs["grpc"], msgs


def test_stats_unknown_model(proto):
    proto.expect_error(proto.statistics, "no_such_model", kind="not_found",
                       contains=["no_such_model"])


# --------------------------------------------------------------------------- repository

def test_repository_index(proto):
    index = proto.repository_index()
    by_name = {}
    for e in index:
        by_name.setdefault(e["name"], []).append(e)
    assert any(e.get("state") == "READY" and str(e.get("version")) == "1"
               for e in by_name["identity_fp32"]), by_name.get("identity_fp32")
    assert all(e.get("state") == "UNAVAILABLE" for e in by_name["bad_backend"])
    assert "nosuchbackend" in " ".join(e.get("reason", "") for e in by_name["bad_backend"]).lower()


def test_load_unload_refused_without_explicit_mode(proto):
    with pytest.raises(InferenceServerException) as ei:
        proto.client.load_model("identity_fp32")
    assert "explicit" in ei.value.message()
    with pytest.raises(InferenceServerException) as ei:
        proto.client.unload_model("identity_fp32")
    assert "explicit" in ei.value.message()
    assert proto.client.is_model_ready("identity_fp32")


# --------------------------------------------------------------------------- own server:
# statistics and explicit model control

@pytest.fixture(scope="module")
def own_server(inferd_bin, tmp_path_factory):
    repo = tmp_path_factory.mktemp("proto_repo")
    write_model(repo, "proto_stats", fp32_identity("proto_stats", 8))
    write_model(repo, "proto_ctl", fp32_identity("proto_ctl", 8))
    write_model(repo, "proto_two",
                identity_config("proto_two", [("INPUT0", "TYPE_INT32", [2])], max_batch_size=4))
    with InferdServer(inferd_bin, [repo],
                      ["--model-control-mode=explicit", "--load-model=proto_stats",
                       "--load-model=proto_two"],
                      log_dir=tmp_path_factory.mktemp("proto_server"), tag="protocols") as srv:
        yield srv


@pytest.fixture(params=["http", "grpc"])
def own(request, own_server):
    p = Proto(request.param, own_server)
    try:
        yield p
    finally:
        p.close()


def _stats_entry(p, model, version=""):
    doc = p.statistics(model, version)
    entries = [s for s in doc["model_stats"] if s["name"] == model]
    assert len(entries) == 1, doc
    return entries[0]


def _kind(entry, kind, field="count"):
    return _i(entry["inference_stats"].get(kind, {}), field)


def test_statistics_deltas(own):
    before = _stats_entry(own, "proto_stats")
    batches = [1, 2, 4]
    for b in batches:
        x = np.arange(b * 3, dtype=np.float32).reshape(b, 3)
        np.testing.assert_array_equal(
            own.infer("proto_stats", [own.input("INPUT0", x)]).as_numpy("OUTPUT0"), x)
    own.expect_error(own.infer, "proto_stats",
                     [own.input("INPUT0", np.ones((1, 3), dtype=np.int32))],
                     kind="invalid", contains=["INPUT0"])
    own.expect_error(own.infer, "proto_stats", [own.input("INPUT0", _fp32((9, 1)))],
                     kind="invalid")
    after = _stats_entry(own, "proto_stats", "1")

    assert str(after["version"]) == "1"
    assert _i(after, "inference_count") - _i(before, "inference_count") == sum(batches)
    assert _i(after, "execution_count") - _i(before, "execution_count") == len(batches)
    assert _kind(after, "success") - _kind(before, "success") == len(batches)
    assert _kind(after, "fail") - _kind(before, "fail") == 2
    for kind in ("queue", "compute_input", "compute_infer", "compute_output"):
        assert _kind(after, kind) - _kind(before, kind) == len(batches), kind
    assert _kind(after, "success", "ns") > _kind(before, "success", "ns")
    assert _i(after, "last_inference") > 0

    def batch_counts(e):
        return {_i(b, "batch_size"): _i(b["compute_infer"], "count")
                for b in e.get("batch_stats", []) or []}
    bb, ba = batch_counts(before), batch_counts(after)
    for b in batches:
        assert ba.get(b, 0) - bb.get(b, 0) == 1, (b, bb, ba)


def test_statistics_agree_between_protocols(own_server):
    h, g = Proto("http", own_server), Proto("grpc", own_server)
    try:
        x = np.ones((2, 2), dtype=np.int32)
        h.infer("proto_two", [h.input("INPUT0", x)])
        g.infer("proto_two", [g.input("INPUT0", x)])
        hs, gs = _stats_entry(h, "proto_two"), _stats_entry(g, "proto_two")
        for field in ("inference_count", "execution_count", "last_inference"):
            assert _i(hs, field) == _i(gs, field), field
        for kind in ("success", "fail", "queue", "compute_input", "compute_infer",
                     "compute_output", "cache_hit", "cache_miss"):
            for f in ("count", "ns"):
                assert _kind(hs, kind, f) == _kind(gs, kind, f), (kind, f)
        assert _i(hs, "inference_count") >= 4
    finally:
        h.close()
        g.close()


def test_statistics_of_all_models(own):
    names = {s["name"] for s in own.statistics()["model_stats"]}
    assert {"proto_stats", "proto_two"} <= names, names
    # statistics are for loaded models only: proto_ctl is loaded only inside
    # test_explicit_load_and_unload
    assert "proto_ctl" not in names, names


def test_explicit_load_and_unload(own):
    c = own.client
    x = np.ones((1, 4), dtype=np.float32)
    try:
        assert not c.is_model_ready("proto_ctl")
        with pytest.raises(InferenceServerException) as ei:
            own.infer("proto_ctl", [own.input("INPUT0", x)])
        assert "proto_ctl" in ei.value.message()
        c.load_model("proto_ctl")
        assert c.is_model_ready("proto_ctl")
        np.testing.assert_array_equal(
            own.infer("proto_ctl", [own.input("INPUT0", x)]).as_numpy("OUTPUT0"), x)
        states = {(e["name"], str(e.get("version", ""))): e.get("state")
                  for e in own.repository_index()}
        assert states[("proto_ctl", "1")] == "READY", states
    finally:
        c.unload_model("proto_ctl")
    assert not c.is_model_ready("proto_ctl")
    with pytest.raises(InferenceServerException) as ei:
        own.infer("proto_ctl", [own.input("INPUT0", x)])
    assert "proto_ctl" in ei.value.message()


def test_load_unknown_model_names_it(own):
    own.expect_error(own.client.load_model, "ghost_model", kind="not_found",
                     contains=["ghost_model"])


# --------------------------------------------------------------------------- gRPC only

def test_allow_grpc_false_disables_it(start_server, make_repo):
    repo = make_repo("nogrpc")
    write_model(repo, "m", fp32_identity("m", 4))
    srv = start_server([repo], ["--allow-grpc=false"])
    with httpclient.InferenceServerClient(srv.url) as h:
        assert h.is_server_live()
    with socket.socket() as s:
        s.settimeout(2.0)
        assert s.connect_ex(("127.0.0.1", srv.grpc_port)) != 0, \
            "something listens on the gRPC port with --allow-grpc=false"


# --------------------------------------------------------------------------- gRPC only: the raw
# protocol (typed contents, which tritonclient never sends, and malformed messages)

@pytest.fixture
def stub(server):
    with grpc.insecure_channel(server.grpc_url) as ch:
        yield service_pb2_grpc.GRPCInferenceServiceStub(ch)


def _raw_req(model, datatype, shape, raw=None, name="INPUT0", **contents):
    m = service_pb2.ModelInferRequest(model_name=model, id="raw")
    t = m.inputs.add()
    t.name, t.datatype = name, datatype
    t.shape.extend(shape)
    for field, vals in contents.items():
        getattr(t.contents, field).extend(vals)
    if raw is not None:
        m.raw_input_contents.append(raw)
    return m


def _raw_call(stub, m):
    try:
        return stub.ModelInfer(m, timeout=10), None
    except grpc.RpcError as e:
        return None, e


@pytest.mark.parametrize("model,datatype,field,vals,np_type", [
    ("identity_fp32", "FP32", "fp32_contents", [1.5, -2.0, 3.25], np.float32),
    ("identity_int8", "INT8", "int_contents", [-128, 5, 127], np.int8),
    ("identity_uint16", "UINT16", "uint_contents", [0, 40000, 65535], np.uint16),
    ("identity_int64", "INT64", "int64_contents", [-(2**63), 0, 2**63 - 1], np.int64),
    ("identity_fp64", "FP64", "fp64_contents", [0.1, -1e300, 5e-324], np.float64),
    ("identity_bool", "BOOL", "bool_contents", [True, False, True], np.bool_),
])
def test_grpc_typed_contents(stub, model, datatype, field, vals, np_type):
    shape = [1, 3] if model == "identity_fp32" else [3]
    res, err = _raw_call(stub, _raw_req(model, datatype, shape, **{field: vals}))
    assert err is None, f"{err.code()}: {err.details()}"
    (out,) = res.outputs
    assert out.datatype == datatype and list(out.shape) == shape
    got = np.frombuffer(res.raw_output_contents[0], dtype=np_type)
    np.testing.assert_array_equal(got, np.array(vals, dtype=np_type))
    assert res.id == "raw" and res.model_name == model and res.model_version == "1"


def test_grpc_typed_bytes_contents(stub):
    res, err = _raw_call(stub, _raw_req("identity_bytes", "BYTES", [3],
                                        bytes_contents=[b"ab", b"", b"\x00\xff"]))
    assert err is None, f"{err.code()}: {err.details()}"
    assert list(deserialize_bytes_tensor(res.raw_output_contents[0])) == [b"ab", b"", b"\x00\xff"]


@pytest.mark.parametrize("make,contains", [
    (lambda: _raw_req("identity_int8", "INT8", [2], int_contents=[1, 300]), ["INPUT0", "300"]),
    (lambda: _raw_req("identity_fp32", "FP32", [1, 3], fp32_contents=[1, 2]), ["INPUT0", "2"]),
    (lambda: _raw_req("identity_fp32", "FP32", [1, 2], int_contents=[1, 2]), ["INPUT0", "FP32"]),
    (lambda: _raw_req("identity_fp16", "FP16", [1], fp32_contents=[1.0]), ["INPUT0", "raw"]),
    (lambda: _raw_req("identity_fp32", "FP32", [1, 2], raw=b"\0" * 4), ["INPUT0", "8"]),
    (lambda: _raw_req("identity_fp32", "FP33", [1, 2], raw=b"\0" * 8), ["FP33"]),
    (lambda: _raw_req("identity_bytes", "BYTES", [1], raw=b"\x64\0\0\0hello"), ["INPUT0"]),
])
def test_grpc_malformed_inputs_invalid_argument(stub, make, contains):
    res, err = _raw_call(stub, make())
    assert err is not None, f"accepted: {res}"
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (err.code(), err.details())
    for s in contains:
        assert s in err.details(), (s, err.details())


def test_grpc_raw_contents_count_must_match_inputs(stub):
    m = _raw_req("identity_fp32", "FP32", [1, 2], raw=b"\0" * 8)
    m.raw_input_contents.append(b"\0" * 8)
    _, err = _raw_call(stub, m)
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "raw_input_contents" in err.details()


def test_grpc_bad_version_text(stub):
    m = _raw_req("identity_fp32", "FP32", [1, 2], raw=b"\0" * 8)
    m.model_version = "abc"
    _, err = _raw_call(stub, m)
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "failed to get model version from specified version string 'abc'" in err.details()


def test_grpc_typed_contents_beside_raw_contents_named_in_tritons_words(stub):
    # Triton's explicit-content examples send one raw entry for two inputs,
    # one of them also typed, and look for Triton's message.
    m = _raw_req("identity_fp32", "FP32", [1, 2], raw=b"\0" * 8, fp32_contents=[1.0, 2.0])
    _, err = _raw_call(stub, m)
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == ("contents field must not be specified when using raw_input_contents "
                             "for 'INPUT0' for model 'identity_fp32'")


def test_grpc_classification_uint64_parameter(stub):
    m = _raw_req("classify", "FP32", [5], raw=CLS_X.tobytes())
    o = m.outputs.add()
    o.name = "OUTPUT0"
    o.parameters["classification"].uint64_param = 2
    res, err = _raw_call(stub, m)
    assert err is None, f"{err.code()}: {err.details()}"
    got = [bytes(s).decode().split(":")[1:] for s in
           deserialize_bytes_tensor(res.raw_output_contents[0])]
    assert got == [["1", "dog"], ["3", "fish"]]


def test_grpc_repository_index_ready_filter(stub):
    ready = stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(ready=True)).models
    every = stub.RepositoryIndex(service_pb2.RepositoryIndexRequest()).models
    assert ready and all(m.state == "READY" for m in ready)
    assert {m.name for m in every} - {m.name for m in ready} >= {"bad_backend", "bad_name"}
