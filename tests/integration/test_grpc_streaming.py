"""gRPC only: decoupled models over ModelStreamInfer, TLS and compression.

Test backends (Triton's semantics):

* ``repeat`` -- one response per value of IN (OUT = the value, IDX = its
  index), each after DELAY[i] ms, then the end of the request; each request
  is answered on its own thread, so concurrent requests interleave. DELAY
  must have IN's shape, or the request gets one error and nothing else.
  WAIT ms is how long the instance is held before it takes the next request.
* ``square`` -- IN = n gets n responses OUT = n; 0 gets none; n < 0 is an error.

With ``enable_empty_final_response=True`` every response carries the
parameter ``triton_final_response`` and the end of a request is an extra
response without outputs flagged final; without it no empty message is sent.

Every stream is stopped in a ``finally`` (an open stream keeps the process
alive); ``stop_stream()`` returns once the server has ended the stream, that
is after every request sent on it was answered, so the collected responses
are complete when it returns.
"""

import shutil
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from support import (SQUARE_CONFIG, InferdServer, accumulator_config, expect_server_error, fp32_identity, make_input,
                     write_model)

STREAM_TIMEOUT_S = 20  # a stream the server never ends fails instead of hanging


def repeat_config(name, instances=1):
    return f"""
name: "{name}"
backend: "repeat"
max_batch_size: 0
model_transaction_policy {{ decoupled: true }}
instance_group [ {{ count: {instances} kind: KIND_CPU }} ]
input [
  {{ name: "IN" data_type: TYPE_INT32 dims: [ -1 ] }},
  {{ name: "DELAY" data_type: TYPE_UINT32 dims: [ -1 ] optional: true }},
  {{ name: "WAIT" data_type: TYPE_UINT32 dims: [ 1 ] optional: true }}
]
output [
  {{ name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] }},
  {{ name: "IDX" data_type: TYPE_UINT32 dims: [ 1 ] }}
]
"""




def _stream_repo(repo):
    write_model(repo, "repeat_int32", repeat_config("repeat_int32"))
    write_model(repo, "repeat_b", repeat_config("repeat_b"))
    write_model(repo, "repeat_nd", repeat_config("repeat_nd").replace(
        "model_transaction_policy { decoupled: true }\n", ""))
    write_model(repo, "square_int32", SQUARE_CONFIG)
    write_model(repo, "identity_fp32", fp32_identity("identity_fp32", 8))
    write_model(repo, "acc", accumulator_config("acc"))
    return repo


@pytest.fixture(scope="module")
def stream_server(inferd_bin, tmp_path_factory):
    repo = _stream_repo(tmp_path_factory.mktemp("stream_repo"))
    with InferdServer(inferd_bin, [repo], log_dir=tmp_path_factory.mktemp("stream_server"),
                      tag="stream") as srv:
        yield srv


@pytest.fixture
def gclient(stream_server):
    c = grpcclient.InferenceServerClient(stream_server.grpc_url)
    try:
        yield c
    finally:
        c.close()


# --------------------------------------------------------------------------- helpers

class Collector:
    """Stream callback: records (arrival time, result, error) in order."""

    def __init__(self):
        self.events = []
        self.cv = threading.Condition()

    def __call__(self, result, error):
        with self.cv:
            self.events.append((time.monotonic(), result, error))
            self.cv.notify_all()

    def wait_for(self, predicate, timeout=10.0):
        with self.cv:
            ok = self.cv.wait_for(lambda: predicate(self.events), timeout)
        assert ok, f"stream: condition not met within {timeout} s; got {self.describe()}"

    def results(self, request_id=None):
        return [r for _, r, e in self.events
                if r is not None and (request_id is None or rid(r) == request_id)]

    def errors(self):
        return [e for _, r, e in self.events if e is not None]

    def describe(self):
        out = []
        for _, r, e in self.events:
            if e is not None:
                out.append(f"ERROR({e.message()})")
            else:
                out.append(f"{rid(r)}:{values(r)}:final={final_flag(r)}")
        return out


def rid(result):
    return result.get_response().id


def final_flag(result):
    """triton_final_response, or None when the response does not carry it."""
    params = result.get_response().parameters
    if "triton_final_response" not in params:
        return None
    return params["triton_final_response"].bool_param


def values(result):
    """(OUT, IDX) of a repeat response, (OUT,) of square, () when empty."""
    names = [o.name for o in result.get_response().outputs]
    return tuple(int(result.as_numpy(n).ravel()[0]) for n in ("OUT", "IDX") if n in names)


def repeat_inputs(vals, delays=None, wait=None):
    inputs = []
    x = np.array(vals, dtype=np.int32)
    i = grpcclient.InferInput("IN", [len(vals)], "INT32")
    i.set_data_from_numpy(x)
    inputs.append(i)
    if delays is not None:
        d = grpcclient.InferInput("DELAY", [len(delays)], "UINT32")
        d.set_data_from_numpy(np.array(delays, dtype=np.uint32))
        inputs.append(d)
    if wait is not None:
        w = grpcclient.InferInput("WAIT", [1], "UINT32")
        w.set_data_from_numpy(np.array([wait], dtype=np.uint32))
        inputs.append(w)
    return inputs


def square_inputs(n):
    i = grpcclient.InferInput("IN", [1], "INT32")
    i.set_data_from_numpy(np.array([n], dtype=np.int32))
    return [i]


def identity_inputs(x):
    i = grpcclient.InferInput("INPUT0", list(x.shape), "FP32")
    i.set_data_from_numpy(x)
    return [i]


def run_stream(client, requests, flag=True, between=None):
    """Send ``requests`` [(model, inputs, request_id)] on one stream, end it,
    and return the collector once the server closed the stream."""
    col = Collector()
    client.start_stream(callback=col, stream_timeout=STREAM_TIMEOUT_S)
    try:
        for k, (model, inputs, request_id) in enumerate(requests):
            client.async_stream_infer(model, inputs, request_id=request_id,
                                      enable_empty_final_response=flag)
            if between is not None and k + 1 < len(requests):
                between(col, k)
    finally:
        client.stop_stream()
    assert not any(e is not None and "Deadline" in (e.message() or "") for e in col.errors()), \
        f"the server did not end the stream within {STREAM_TIMEOUT_S} s: {col.describe()}"
    return col


# --------------------------------------------------------------------------- repeat

def test_repeat_responses_in_order_with_final_flags(gclient):
    vals = [10, -20, 30, 2**31 - 1]
    col = run_stream(gclient, [("repeat_int32", repeat_inputs(vals, [0] * 4), "r1")])
    assert not col.errors(), col.describe()
    res = col.results()
    assert len(res) == len(vals) + 1, col.describe()
    assert [values(r) for r in res[:-1]] == [(v, i) for i, v in enumerate(vals)]
    assert [final_flag(r) for r in res] == [False] * len(vals) + [True]
    assert values(res[-1]) == () and len(res[-1].get_response().outputs) == 0
    assert all(rid(r) == "r1" for r in res)
    for r in res[:-1]:
        resp = r.get_response()
        assert resp.model_name == "repeat_int32" and resp.model_version == "1"
        assert r.as_numpy("OUT").dtype == np.int32 and r.as_numpy("IDX").dtype == np.uint32
        assert list(r.as_numpy("OUT").shape) == [1]


def test_repeat_without_empty_final_response(gclient):
    col = run_stream(gclient, [("repeat_int32", repeat_inputs([4, 5, 6], [0, 0, 0]), "nf")],
                     flag=False)
    assert not col.errors(), col.describe()
    res = col.results()
    assert [values(r) for r in res] == [(4, 0), (5, 1), (6, 2)], col.describe()
    # no parameter asked for: no flag, and no empty message at the end
    assert all(len(r.get_response().outputs) == 2 for r in res)
    assert all(final_flag(r) in (None, False) for r in res), col.describe()


def test_repeat_responses_are_streamed_not_batched(gclient):
    col = Collector()
    gclient.start_stream(callback=col, stream_timeout=STREAM_TIMEOUT_S)
    try:
        t0 = time.monotonic()
        gclient.async_stream_infer("repeat_int32",
                                   repeat_inputs([1, 2, 3], [150, 150, 150], wait=300),
                                   request_id="timed", enable_empty_final_response=True)
        col.wait_for(lambda ev: len(ev) >= 4)
    finally:
        gclient.stop_stream()
    assert not col.errors(), col.describe()
    times = [t - t0 for t, _, _ in col.events]
    assert [values(r) for _, r, _ in col.events] == [(1, 0), (2, 1), (3, 2), ()], col.describe()
    # Each response left after its own delay, the end right after the last:
    # lower bounds only (a sleep is never shorter; delivery may be later).
    assert times[0] >= 0.15 and times[1] >= 0.30 and times[2] >= 0.45, times
    assert times[3] >= 0.45, times


def test_repeat_empty_input(gclient):
    col = run_stream(gclient, [("repeat_int32", repeat_inputs([], []), "empty")])
    assert not col.errors(), col.describe()
    res = col.results()
    assert len(res) == 1, col.describe()
    assert len(res[0].get_response().outputs) == 0
    assert final_flag(res[0]) is True and rid(res[0]) == "empty"

    col = run_stream(gclient, [("repeat_int32", repeat_inputs([], []), "empty-nf")], flag=False)
    assert col.events == [], col.describe()


def test_repeat_without_delay_input_is_an_error(gclient):
    # DELAY is optional in the config, but IN has values without a delay
    col = run_stream(gclient, [("repeat_int32", repeat_inputs([1, 2]), "nodelay")])
    assert col.results() == [], col.describe()
    (err,) = col.errors()
    assert "expected IN and DELAY shape to match, got [2] and [0]" in err.message(), err.message()


@pytest.mark.parametrize("delays", [[0, 20], [0, 20, 30, 40]])
def test_delay_of_another_shape_is_one_error_and_no_response(gclient, delays):
    def more(col, k):
        col.wait_for(lambda ev: any(e is not None for _, _, e in ev))

    col = run_stream(gclient, [
        ("repeat_int32", repeat_inputs([7, 8, 9], delays), "mismatch"),
        ("repeat_int32", repeat_inputs([5], [0]), "after"),
    ], between=more)
    kinds = ["E" if e is not None else rid(r) for _, r, e in col.events]
    assert kinds == ["E", "after", "after"], col.describe()
    (err,) = col.errors()
    assert f"expected IN and DELAY shape to match, got [3] and [{len(delays)}]" in err.message(), err.message()
    # the stream still works: the next request is fully answered
    after = col.results("after")
    assert [values(r) for r in after] == [(5, 0), ()]
    assert [final_flag(r) for r in after] == [False, True]


def test_concurrent_requests_to_one_model_interleave(gclient):
    # Two requests to the same one-instance model: answered side by side, as
    # Triton's repeat backend answers each on its own thread.
    col = run_stream(gclient, [
        ("repeat_int32", repeat_inputs([1, 2, 3], [0, 300, 300]), "A"),
        ("repeat_int32", repeat_inputs([7, 8, 9], [150, 300, 300]), "B"),
    ])
    assert not col.errors(), col.describe()
    order = [rid(r) for _, r, _ in col.events if len(r.get_response().outputs)]
    assert order == ["A", "B", "A", "B", "A", "B"], order


def test_several_requests_same_model_keep_their_ids(gclient):
    reqs = [("repeat_int32", repeat_inputs([i * 10 + k for k in range(i + 1)], [0] * (i + 1)),
             f"req-{i}") for i in range(3)]
    col = run_stream(gclient, reqs)
    assert not col.errors(), col.describe()
    for i in range(3):
        res = col.results(f"req-{i}")
        assert [values(r) for r in res] == [(i * 10 + k, k) for k in range(i + 1)] + [()], \
            (i, col.describe())
        assert [final_flag(r) for r in res] == [False] * (i + 1) + [True]
    assert len(col.results()) == (1 + 2 + 3) + 3


def test_interleaving_of_two_requests_on_one_stream(gclient):
    # A on repeat_int32 at ~0, 200, 400 ms; B on repeat_b at ~100, 300, 500 ms.
    col = run_stream(gclient, [
        ("repeat_int32", repeat_inputs([1, 2, 3], [0, 200, 200]), "A"),
        ("repeat_b", repeat_inputs([7, 8, 9], [100, 200, 200]), "B"),
    ])
    assert not col.errors(), col.describe()
    order = [rid(r) for _, r, _ in col.events if len(r.get_response().outputs)]
    a = [values(r) for r in col.results("A") if values(r)]
    b = [values(r) for r in col.results("B") if values(r)]
    assert a == [(1, 0), (2, 1), (3, 2)] and b == [(7, 0), (8, 1), (9, 2)], col.describe()
    # B's first response comes before A's last: the two are interleaved
    assert order.index("B") < len(order) - 1 - order[::-1].index("A"), order
    assert order == ["A", "B", "A", "B", "A", "B"], order
    for r in col.results("B"):
        assert r.get_response().model_name == "repeat_b"


def test_fast_request_not_held_behind_slow_one(gclient):
    x = np.array([[1.0, 2.0]], dtype=np.float32)

    def after_first(col, k):
        col.wait_for(lambda ev: len(ev) >= 1)  # the first repeat value is out

    col = run_stream(gclient, [
        ("repeat_int32", repeat_inputs([1, 2], [0, 500]), "slow"),
        ("identity_fp32", identity_inputs(x), "fast"),
    ], between=after_first)
    assert not col.errors(), col.describe()
    order = [(rid(r), values(r) if rid(r) == "slow" else "x") for _, r, _ in col.events]
    assert order == [("slow", (1, 0)), ("fast", "x"), ("slow", (2, 1)), ("slow", ())], order


# --------------------------------------------------------------------------- square

def test_square(gclient):
    col = run_stream(gclient, [("square_int32", square_inputs(3), "sq3")])
    assert not col.errors(), col.describe()
    res = col.results()
    assert [values(r) for r in res] == [(3,), (3,), (3,), ()], col.describe()
    assert [final_flag(r) for r in res] == [False, False, False, True]


def test_square_zero(gclient):
    col = run_stream(gclient, [("square_int32", square_inputs(0), "sq0")])
    assert not col.errors(), col.describe()
    (only,) = col.results()
    assert final_flag(only) is True and len(only.get_response().outputs) == 0
    assert rid(only) == "sq0"

    col = run_stream(gclient, [("square_int32", square_inputs(0), "sq0-nf")], flag=False)
    assert col.events == [], col.describe()


def test_square_negative_is_an_error_and_stream_goes_on(gclient):
    col = run_stream(gclient, [
        ("square_int32", square_inputs(-2), "neg"),
        ("square_int32", square_inputs(2), "two"),
    ], flag=False)
    (err,) = col.errors()
    assert "must not be negative" in err.message() and "-2" in err.message()
    assert [values(r) for r in col.results("two")] == [(2,), (2,)], col.describe()


def test_many_squares_on_one_stream(gclient):
    reqs = [("square_int32", square_inputs(n), f"n{n}") for n in range(6)]
    col = run_stream(gclient, reqs, flag=False)
    assert not col.errors(), col.describe()
    for n in range(6):
        assert [values(r) for r in col.results(f"n{n}")] == [(n,)] * n, (n, col.describe())
    assert len(col.results()) == sum(range(6))


# --------------------------------------------------------------------------- non-decoupled on the stream

def test_identity_over_stream(gclient):
    xs = [np.full((1, 3), i, dtype=np.float32) for i in range(3)]
    col = run_stream(gclient, [("identity_fp32", identity_inputs(x), f"id{i}")
                               for i, x in enumerate(xs)])
    assert not col.errors(), col.describe()
    assert len(col.results()) == 3, col.describe()  # one each, no extra empty final
    for i, x in enumerate(xs):
        (r,) = col.results(f"id{i}")
        np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), x)
        assert final_flag(r) is True


def test_identity_over_stream_without_flag(gclient):
    x = np.ones((2, 2), dtype=np.float32)
    col = run_stream(gclient, [("identity_fp32", identity_inputs(x), "plain")], flag=False)
    (r,) = col.results()
    np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), x)


# --------------------------------------------------------------------------- errors mid-stream

def test_bad_input_mid_stream(gclient):
    bad = grpcclient.InferInput("IN", [2], "FP32")
    bad.set_data_from_numpy(np.array([1, 2], dtype=np.float32))
    col = run_stream(gclient, [
        ("repeat_int32", repeat_inputs([1], [0]), "good1"),
        ("repeat_int32", [bad], "bad"),
        ("repeat_int32", repeat_inputs([2], [0]), "good2"),
    ], flag=False)
    (err,) = col.errors()
    assert "IN" in err.message() and "INT32" in err.message() and "FP32" in err.message(), \
        err.message()
    assert [values(r) for r in col.results("good1")] == [(1, 0)]
    assert [values(r) for r in col.results("good2")] == [(2, 0)]


def test_unknown_model_mid_stream(gclient):
    col = run_stream(gclient, [
        ("square_int32", square_inputs(1), "before"),
        ("no_such_stream_model", square_inputs(1), "ghost"),
        ("square_int32", square_inputs(2), "after"),
    ])
    (err,) = col.errors()
    assert "no_such_stream_model" in err.message(), err.message()
    assert [values(r) for r in col.results("before")] == [(1,), ()]
    assert [values(r) for r in col.results("after")] == [(2,), (2,), ()]


def test_error_response_carries_request_id_raw(stream_server):
    """Raw stub: an error message on the stream names its request by id."""
    def req(model, rid_, vals):
        m = service_pb2.ModelInferRequest(model_name=model, id=rid_)
        t = m.inputs.add()
        t.name, t.datatype = "IN", "INT32"
        t.shape.append(len(vals))
        m.raw_input_contents.append(np.array(vals, dtype=np.int32).tobytes())
        return m

    with grpc.insecure_channel(stream_server.grpc_url) as ch:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(ch)
        answers = list(stub.ModelStreamInfer(
            iter([req("square_int32", "ok", [1]), req("nope_model", "bad-id", [1]),
                  req("square_int32", "neg", [-1])]),
            timeout=STREAM_TIMEOUT_S))
    errors = [(a.infer_response.id, a.error_message) for a in answers if a.error_message]
    oks = [a.infer_response for a in answers if not a.error_message]
    assert sorted(i for i, _ in errors) == ["bad-id", "neg"], errors
    assert "nope_model" in dict(errors)["bad-id"]
    assert [o.id for o in oks] == ["ok"]
    assert np.frombuffer(oks[0].raw_output_contents[0], dtype=np.int32).tolist() == [1]


def test_cancelled_stream_leaves_server_serving(gclient, stream_server):
    col = Collector()
    gclient.start_stream(callback=col, stream_timeout=STREAM_TIMEOUT_S)
    try:
        gclient.async_stream_infer("repeat_b", repeat_inputs([1, 2, 3], [0, 400, 400]),
                                   request_id="cancel-me", enable_empty_final_response=True)
        col.wait_for(lambda ev: len(ev) >= 1)
    finally:
        gclient.stop_stream(cancel_requests=True)
    assert values(col.results()[0]) == (1, 0)
    # the model goes on answering the cancelled request into the void; a new
    # stream (queued behind it on the one instance) is answered in full
    col = run_stream(gclient, [("repeat_b", repeat_inputs([9], [0]), "next")])
    assert [values(r) for r in col.results()] == [(9, 0), ()], col.describe()
    assert stream_server.proc.poll() is None
    assert gclient.is_server_live()


def test_two_streams_at_once(stream_server):
    c1 = grpcclient.InferenceServerClient(stream_server.grpc_url)
    c2 = grpcclient.InferenceServerClient(stream_server.grpc_url)
    col1, col2 = Collector(), Collector()
    try:
        c1.start_stream(callback=col1, stream_timeout=STREAM_TIMEOUT_S)
        c2.start_stream(callback=col2, stream_timeout=STREAM_TIMEOUT_S)
        for k in range(3):
            c1.async_stream_infer("square_int32", square_inputs(2), request_id=f"one-{k}")
            c2.async_stream_infer("square_int32", square_inputs(3), request_id=f"two-{k}")
    finally:
        for c in (c1, c2):
            try:
                c.stop_stream()
            finally:
                c.close()
    assert not col1.errors() and not col2.errors()
    assert sorted(rid(r) for r in col1.results()) == sorted(f"one-{k}" for k in range(3) for _ in range(2))
    assert sorted(rid(r) for r in col2.results()) == sorted(f"two-{k}" for k in range(3) for _ in range(3))
    assert {values(r) for r in col1.results()} == {(2,)}
    assert {values(r) for r in col2.results()} == {(3,)}


# --------------------------------------------------------------------------- decoupled outside the stream

def test_decoupled_refused_over_unary_grpc(gclient):
    with pytest.raises(InferenceServerException) as ei:
        gclient.infer("repeat_int32", repeat_inputs([1], [0]))
    assert ei.value.status() == "StatusCode.UNIMPLEMENTED", ei.value
    assert "decoupled" in ei.value.message()
    with pytest.raises(InferenceServerException) as ei:
        gclient.infer("square_int32", square_inputs(1))
    assert ei.value.status() == "StatusCode.UNIMPLEMENTED", ei.value
    assert "decoupled" in ei.value.message()


def test_decoupled_refused_over_http(stream_server):
    with httpclient.InferenceServerClient(stream_server.url) as c:
        expect_server_error(c.infer, "square_int32",
                            [make_input("IN", np.array([1], dtype=np.int32))],
                            status=501, contains=["decoupled"])
        # still serving
        x = np.ones((1, 2), dtype=np.float32)
        np.testing.assert_array_equal(
            c.infer("identity_fp32", [make_input("INPUT0", x)]).as_numpy("OUTPUT0"), x)


def test_decoupled_model_metadata_and_config(gclient):
    cfg = gclient.get_model_config("repeat_int32").config
    assert cfg.model_transaction_policy.decoupled is True
    assert cfg.backend == "repeat"
    md = gclient.get_model_metadata("square_int32", as_json=True)
    assert [int(d) for d in md["inputs"][0]["shape"]] == [1]


def test_stream_statistics_count_requests(gclient):
    def snap():
        s = gclient.get_inference_statistics("repeat_b", as_json=True)["model_stats"][0]
        st = s["inference_stats"]
        return int(st.get("success", {}).get("count", 0)), int(st.get("fail", {}).get("count", 0))

    s0, f0 = snap()
    run_stream(gclient, [("repeat_b", repeat_inputs([1, 2], [0, 0]), "s1"),
                         ("repeat_b", repeat_inputs([1, 2], [0]), "f1")])
    s1, f1 = snap()
    assert (s1 - s0, f1 - f0) == (1, 1)


# --------------------------------------------------------------------------- TLS

def _openssl(*args, cwd):
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, f"openssl {' '.join(args)} failed:\n{proc.stderr}"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make test certificates", pytrace=False)
    d = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=inferd test CA", cwd=d)
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for who in ("server", "client"):
        _openssl("req", "-new", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr",
                 "-subj", f"/CN={'localhost' if who == 'server' else 'inferd test client'}",
                 cwd=d)
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{who}.pem", "-days", "2",
                 "-extfile", f"{who}.ext", cwd=d)
    return d


def _tls_server(start_server, make_repo, certs, mutual=False):
    repo = make_repo("tls")
    write_model(repo, "identity_fp32", fp32_identity("identity_fp32", 8))
    write_model(repo, "square_int32", SQUARE_CONFIG)
    args = ["--grpc-use-ssl=true", f"--grpc-server-cert={certs / 'server.pem'}",
            f"--grpc-server-key={certs / 'server.key'}"]
    if mutual:
        args += ["--grpc-use-ssl-mutual=true", f"--grpc-root-cert={certs / 'ca.pem'}"]
    return start_server([repo], args, tag="tls")


def _echo(c, **kwargs):
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    res = c.infer("identity_fp32", identity_inputs(x), **kwargs)
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)


def test_tls_infer_and_stream(start_server, make_repo, certs):
    srv = _tls_server(start_server, make_repo, certs)
    with grpcclient.InferenceServerClient(srv.grpc_url, ssl=True,
                                          root_certificates=str(certs / "ca.pem")) as c:
        assert c.is_server_live()
        _echo(c)
        col = run_stream(c, [("square_int32", square_inputs(2), "tls")])
        assert [values(r) for r in col.results()] == [(2,), (2,), ()], col.describe()


def test_tls_refuses_plaintext_client(start_server, make_repo, certs):
    srv = _tls_server(start_server, make_repo, certs)
    with grpcclient.InferenceServerClient(srv.grpc_url) as c:
        with pytest.raises(InferenceServerException):
            c.is_server_live(client_timeout=5)
    # HTTP is not affected by the gRPC TLS flags
    with httpclient.InferenceServerClient(srv.url) as h:
        assert h.is_server_live()


def test_tls_client_must_trust_the_server(start_server, make_repo, certs):
    srv = _tls_server(start_server, make_repo, certs)
    # the default trust store does not know the test CA
    with grpcclient.InferenceServerClient(srv.grpc_url, ssl=True) as c:
        with pytest.raises(InferenceServerException):
            c.is_server_live(client_timeout=5)


def test_mutual_tls(start_server, make_repo, certs):
    srv = _tls_server(start_server, make_repo, certs, mutual=True)
    with grpcclient.InferenceServerClient(
            srv.grpc_url, ssl=True, root_certificates=str(certs / "ca.pem"),
            private_key=str(certs / "client.key"),
            certificate_chain=str(certs / "client.pem")) as c:
        _echo(c)
    with grpcclient.InferenceServerClient(srv.grpc_url, ssl=True,
                                          root_certificates=str(certs / "ca.pem")) as c:
        with pytest.raises(InferenceServerException):
            c.is_server_live(client_timeout=5)


def test_tls_with_missing_key_file_fails_start(inferd_bin, make_repo, certs, tmp_path):
    repo = make_repo("tls_bad")
    write_model(repo, "identity_fp32", fp32_identity("identity_fp32", 8))
    srv = InferdServer(inferd_bin, [repo],
                       ["--grpc-use-ssl=true", f"--grpc-server-cert={certs / 'server.pem'}",
                        f"--grpc-server-key={tmp_path / 'missing.key'}"],
                       log_dir=tmp_path, tag="tls_bad")
    srv._spawn()
    try:
        code = srv.wait(timeout=15)
        assert code is not None and code != 0, "inferd started without its TLS key"
        assert "missing.key" in srv.log_text()
    finally:
        srv.stop()


# --------------------------------------------------------------------------- compression

@pytest.mark.parametrize("level", ["high", "low"])
def test_response_compression_level(start_server, make_repo, level):
    repo = _stream_repo(make_repo("comp"))
    srv = start_server([repo], [f"--grpc-infer-response-compression-level={level}"],
                       tag="compress")
    with grpcclient.InferenceServerClient(srv.grpc_url) as c:
        x = np.random.default_rng(3).standard_normal((4, 4096)).astype(np.float32)
        for alg in (None, "gzip", "deflate"):
            res = c.infer("identity_fp32", identity_inputs(x), compression_algorithm=alg)
            np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)
        z = np.zeros((1, 1 << 16), dtype=np.float32)
        np.testing.assert_array_equal(
            c.infer("identity_fp32", identity_inputs(z),
                    compression_algorithm="gzip").as_numpy("OUTPUT0"), z)
        # streamed responses are compressed too and still exact
        col = Collector()
        c.start_stream(callback=col, stream_timeout=STREAM_TIMEOUT_S,
                       compression_algorithm="gzip")
        try:
            c.async_stream_infer("repeat_int32", repeat_inputs([3, 1, 4], [0, 0, 0]),
                                 request_id="z", enable_empty_final_response=True)
        finally:
            c.stop_stream()
        assert [values(r) for r in col.results()] == [(3, 0), (1, 1), (4, 2), ()], \
            col.describe()


def test_bad_compression_level_is_a_usage_error(inferd_bin, make_repo):
    proc = subprocess.run([str(inferd_bin), f"--model-repository={make_repo('r')}",
                           "--grpc-infer-response-compression-level=extreme"],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "compression" in proc.stderr


def test_stream_runs_a_sequences_requests_in_the_order_sent(stream_server):
    """Steps of a sequence sent back to back on one stream run in order: the
    stream used to read the next message while handing the last to the core,
    so a step could overtake the one before (even the START)."""
    for stream_no in range(30):
        collector = Collector()
        with grpcclient.InferenceServerClient(stream_server.grpc_url) as c:
            c.start_stream(callback=collector)
            steps = 8
            for k in range(steps):
                inp = grpcclient.InferInput("INPUT", [1, 1], "INT32")
                inp.set_data_from_numpy(np.array([[k + 1]], dtype=np.int32))
                c.async_stream_infer("acc", [inp], request_id=str(k), sequence_id=1000 + stream_no,
                                     sequence_start=k == 0, sequence_end=k == steps - 1)
            collector.wait_for(lambda events: len(events) >= steps)
            c.stop_stream()
        errors = [e for _, _, e in collector.events if e is not None]
        assert not errors, errors
        sums = [int(r.as_numpy("OUTPUT")[0][0]) for _, r, _ in collector.events]
        assert sums == [(k + 1) * (k + 2) // 2 for k in range(steps)], (stream_no, sums)


def test_a_non_decoupled_model_sending_many_responses_answers_with_the_first(stream_server, gclient):
    # Triton's rule (L0_grpc_state_cleanup): the first response is the answer,
    # the others are dropped; inferd also says so once in the log.
    result = gclient.infer("repeat_nd", repeat_inputs([100, 101, 102, 103], delays=[0] * 4))
    assert values(result) == (100, 0)
    collector = Collector()
    gclient.start_stream(callback=collector)
    try:
        for n in range(2):
            gclient.async_stream_infer("repeat_nd", repeat_inputs([7, 8, 9], delays=[0] * 3), request_id=f"nd{n}")
        collector.wait_for(lambda ev: len(ev) >= 2)
        time.sleep(0.3)  # nothing more arrives
    finally:
        gclient.stop_stream()
    assert collector.errors() == []
    assert [(rid(r), values(r)) for r in collector.results()] == [("nd0", (7, 0)), ("nd1", (7, 0))]
    log = stream_server.log_path.read_text()
    assert log.count("model 'repeat_nd' is not decoupled but sends more than one response") == 1, log[-2000:]

