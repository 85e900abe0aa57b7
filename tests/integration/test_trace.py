"""Request tracing, Triton's trace extension (issue 13): the settings read and
changed through /v2/trace/setting and gRPC TraceSetting (global and per
model) with tritonclient, the command-line flags, and the trace file itself:
Triton's JSON format, every rate-th request, count, log_frequency's numbered
files, and timestamps in the order a request passes them."""

import http.server
import json
import subprocess
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support import expect_server_error, fp32_identity, raw_request, write_model

DEFAULTS = {"trace_level": ["OFF"], "trace_rate": "1000", "trace_count": "-1", "log_frequency": "0",
            "trace_file": "", "trace_mode": "triton"}
# The timestamps of a request that ran, in the order it passes them: the
# frontend's reading, the core's, the frontend's sending (Triton's names;
# its trace_summary.py needs the frontend's to count a trace).
CORE = ["REQUEST_START", "QUEUE_START", "COMPUTE_START", "COMPUTE_INPUT_END", "COMPUTE_OUTPUT_START",
        "COMPUTE_END", "INFER_RESPONSE_COMPLETE", "REQUEST_END"]
ORDER = {"http": ["HTTP_RECV_START", "HTTP_RECV_END"] + CORE + ["HTTP_SEND_START", "HTTP_SEND_END"],
         "grpc": ["GRPC_WAITREAD_START", "GRPC_WAITREAD_END"] + CORE + ["GRPC_SEND_START", "GRPC_SEND_END"]}


@pytest.fixture
def repo(make_repo):
    path = make_repo("trace")
    write_model(path, "a", fp32_identity("a", 4))
    write_model(path, "b", fp32_identity("b", 4))
    return path


def _infer(srv, model, n=1, protocol="http", request_id=""):
    x = np.arange(3, dtype=np.float32).reshape(1, 3)
    for _ in range(n):
        if protocol == "http":
            c = httpclient.InferenceServerClient(srv.url)
            inp = httpclient.InferInput("INPUT0", [1, 3], "FP32")
        else:
            c = grpcclient.InferenceServerClient(srv.grpc_url)
            inp = grpcclient.InferInput("INPUT0", [1, 3], "FP32")
        inp.set_data_from_numpy(x)
        np.testing.assert_array_equal(c.infer(model, [inp], request_id=request_id).as_numpy("OUTPUT0"), x)


def _grpc_settings(response):
    return {k: list(v.value) for k, v in response.settings.items()}


def _traces(path):
    """The traces of one trace file: {id: {"model_name", ..., "timestamps"}}."""
    entries = json.loads(path.read_text())  # the whole file is one JSON array
    traces = {}
    for entry in entries:
        traces.setdefault(entry["id"], {}).update(entry)
    return traces


def test_settings_default_to_tritons_through_both_protocols(start_server, repo):
    srv = start_server([repo])
    assert httpclient.InferenceServerClient(srv.url).get_trace_settings() == DEFAULTS
    grpc_defaults = {k: v if isinstance(v, list) else [v] for k, v in DEFAULTS.items()}
    got = grpcclient.InferenceServerClient(srv.grpc_url).get_trace_settings(as_json=True)["settings"]
    assert {k: v["value"] for k, v in got.items()} == grpc_defaults
    assert "trace" in httpclient.InferenceServerClient(srv.url).get_server_metadata()["extensions"]


def test_every_request_is_traced_into_the_file_in_tritons_format(start_server, repo, tmp_path):
    trace_file = tmp_path / "trace.json"
    srv = start_server([repo], ["--trace-config", f"triton,file={trace_file}", "--trace-config",
                                "level=TIMESTAMPS", "--trace-config", "rate=1"])
    _infer(srv, "a", request_id="first")
    _infer(srv, "b", protocol="grpc", request_id="second")
    _infer(srv, "a", n=2)
    # Each trace is written when its request ends; the array closes at exit.
    srv.stop()
    traces = _traces(trace_file)
    assert len(traces) == 4
    by_request = {t["request_id"]: t for t in traces.values()}
    assert by_request["first"]["model_name"] == "a" and by_request["first"]["model_version"] == 1
    assert by_request["second"]["model_name"] == "b"
    for trace in traces.values():
        names = [s["name"] for s in trace["timestamps"]]
        assert names == ORDER["grpc" if trace["request_id"] == "second" else "http"], names
        times = [s["ns"] for s in trace["timestamps"]]
        assert times == sorted(times) and times[0] > 0, trace


def test_grpc_stream_requests_carry_the_frontends_stamps(start_server, repo, tmp_path):
    trace_file = tmp_path / "trace.json"
    srv = start_server([repo], ["--trace-config", f"triton,file={trace_file}", "--trace-config",
                                "level=TIMESTAMPS", "--trace-config", "rate=1"])
    got = []
    c = grpcclient.InferenceServerClient(srv.grpc_url)
    c.start_stream(callback=lambda result, error: got.append(error or result))
    x = np.arange(3, dtype=np.float32).reshape(1, 3)
    for i in range(3):
        inp = grpcclient.InferInput("INPUT0", [1, 3], "FP32")
        inp.set_data_from_numpy(x)
        c.async_stream_infer("a", [inp], request_id=f"s{i}")
    c.stop_stream()  # waits for the responses
    assert len(got) == 3 and all(not isinstance(r, InferenceServerException) for r in got), got
    srv.stop()
    traces = _traces(trace_file)
    assert sorted(t["request_id"] for t in traces.values()) == ["s0", "s1", "s2"]
    for trace in traces.values():
        names = [s["name"] for s in trace["timestamps"]]
        assert names == ORDER["grpc"], names
        times = [s["ns"] for s in trace["timestamps"]]
        assert times == sorted(times), trace


class _Collector:
    """An OTLP/HTTP collector on a loopback port: keeps the JSON bodies posted to /v1/traces."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                bodies.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self):
        return [s for _, _, body in self.bodies for rs in body["resourceSpans"]
                for ss in rs["scopeSpans"] for s in ss["spans"]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_opentelemetry_mode_sends_tritons_spans_to_a_collector(start_server, repo):
    collector = _Collector()
    try:
        srv = start_server([repo], [
            "--trace-config", "mode=opentelemetry", "--trace-config", "level=TIMESTAMPS",
            "--trace-config", "rate=1", "--trace-config", f"opentelemetry,url=127.0.0.1:{collector.port}/v1/traces",
            "--trace-config", "opentelemetry,resource=deployment=test"])
        assert httpclient.InferenceServerClient(srv.url).get_trace_settings()["trace_mode"] == "opentelemetry"
        parent_trace, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        x = np.arange(3, dtype=np.float32).reshape(1, 3)
        h = httpclient.InferenceServerClient(srv.url)
        inp = httpclient.InferInput("INPUT0", [1, 3], "FP32")
        inp.set_data_from_numpy(x)
        h.infer("a", [inp], request_id="over-http",
                headers={"traceparent": f"00-{parent_trace}-{parent_span}-01"})
        _infer(srv, "b", protocol="grpc", request_id="over-grpc")
        srv.stop()  # the exporter sends what it holds at exit
        spans = collector.spans()
        (path, content_type, body), *_ = collector.bodies
        assert path == "/v1/traces" and content_type == "application/json"
        resource = {a["key"]: a["value"]["stringValue"] for a in body["resourceSpans"][0]["resource"]["attributes"]}
        assert resource == {"service.name": "inferd", "deployment": "test"}
        assert sorted(s["name"] for s in spans) == ["InferRequest", "InferRequest", "a", "b", "compute", "compute"]
        by_id = {s["spanId"]: s for s in spans}
        models = {s["name"]: s for s in spans if s["name"] in ("a", "b")}
        for name, request_id, frontend in (("a", "over-http", "HTTP_"), ("b", "over-grpc", "GRPC_")):
            model = models[name]
            attributes = {a["key"]: a["value"] for a in model["attributes"]}
            assert attributes["triton.model_name"] == {"stringValue": name}
            assert attributes["triton.model_version"] == {"intValue": "1"}
            assert attributes["triton.request_id"] == {"stringValue": request_id}
            root = by_id[model["parentSpanId"]]
            assert root["name"] == "InferRequest" and root["traceId"] == model["traceId"]
            assert all(e["name"].startswith(frontend) for e in root["events"]) and len(root["events"]) == 4
            assert [e["name"] for e in model["events"]] == \
                ["REQUEST_START", "QUEUE_START", "INFER_RESPONSE_COMPLETE", "REQUEST_END"]
            (compute,) = [s for s in spans if s["name"] == "compute" and s["parentSpanId"] == model["spanId"]]
            assert [e["name"] for e in compute["events"]] == \
                ["COMPUTE_START", "COMPUTE_INPUT_END", "COMPUTE_OUTPUT_START", "COMPUTE_END"]
            assert int(root["startTimeUnixNano"]) <= int(model["startTimeUnixNano"]) <= \
                int(compute["startTimeUnixNano"]) <= int(compute["endTimeUnixNano"]) <= \
                int(model["endTimeUnixNano"]) <= int(root["endTimeUnixNano"])
            assert abs(int(root["startTimeUnixNano"]) / 1e9 - time.time()) < 600  # Unix time, not uptime
        # The client's trace context is continued; without one a trace starts.
        http_root = by_id[models["a"]["parentSpanId"]]
        assert http_root["traceId"] == parent_trace and http_root["parentSpanId"] == parent_span
        assert "parentSpanId" not in by_id[models["b"]["parentSpanId"]]
    finally:
        collector.close()


def test_opentelemetry_without_a_collector_serves_on(start_server, repo):
    srv = start_server([repo], ["--trace-config", "mode=opentelemetry", "--trace-config", "level=TIMESTAMPS",
                                "--trace-config", "rate=1", "--trace-config", "opentelemetry,url=127.0.0.1:1",
                                "--trace-config", "opentelemetry,bsp_schedule_delay=10"])
    _infer(srv, "a", n=5)
    _infer(srv, "b", n=2, protocol="grpc")
    assert httpclient.InferenceServerClient(srv.url).is_server_live()
    with pytest.raises(InferenceServerException, match="trace_mode cannot be changed"):
        httpclient.InferenceServerClient(srv.url).update_trace_settings(settings={"trace_mode": "triton"})


def test_tensors_level_traces_inputs_and_outputs(start_server, repo, tmp_path):
    trace_file = tmp_path / "trace.json"
    srv = start_server([repo], [f"--trace-file={trace_file}", "--trace-level=TENSORS", "--trace-rate=1"])
    assert httpclient.InferenceServerClient(srv.url).get_trace_settings()["trace_level"] == ["TENSORS"]
    _infer(srv, "a")
    srv.stop()
    entries = json.loads(trace_file.read_text())
    tensors = {e["activity"]: e["tensor"] for e in entries if "activity" in e}
    expected = {"name": "INPUT0", "data": "0,1,2", "shape": "1,3", "dtype": "FP32"}
    assert tensors["TENSOR_QUEUE_INPUT"] == expected
    assert tensors["TENSOR_BACKEND_OUTPUT"] == dict(expected, name="OUTPUT0")
    assert not any("timestamps" in e for e in entries)  # TENSORS alone: no timestamps


def test_rate_and_count_set_through_the_api(start_server, repo, tmp_path):
    trace_file = tmp_path / "trace.json"
    srv = start_server([repo], [f"--trace-file={trace_file}"])
    client = httpclient.InferenceServerClient(srv.url)
    _infer(srv, "a", n=2)  # tracing is OFF
    settings = client.update_trace_settings(settings={"trace_level": ["TIMESTAMPS"], "trace_rate": "2",
                                                      "trace_count": "2"})
    assert settings["trace_rate"] == "2" and settings["trace_level"] == ["TIMESTAMPS"]
    _infer(srv, "a", n=7)  # the 2nd and 4th are traced, then the count is spent
    assert client.get_trace_settings()["trace_count"] == "0"
    srv.stop()
    assert len(_traces(trace_file)) == 2


def test_log_frequency_writes_numbered_files(start_server, repo, tmp_path):
    trace_file = tmp_path / "trace.json"
    srv = start_server([repo], [f"--trace-file={trace_file}", "--trace-level=TIMESTAMPS", "--trace-rate=1",
                                "--trace-log-frequency=2"])
    grpc = grpcclient.InferenceServerClient(srv.grpc_url)
    assert _grpc_settings(grpc.get_trace_settings())["log_frequency"] == ["2"]
    _infer(srv, "a", n=5)
    # Two full files are closed already, before the server stops.
    assert len(_traces(tmp_path / "trace.json.0")) == 2
    assert len(_traces(tmp_path / "trace.json.1")) == 2
    srv.stop()
    assert len(_traces(tmp_path / "trace.json.2")) == 1
    assert not trace_file.exists()


def test_a_models_own_settings_and_clearing_them(start_server, repo, tmp_path):
    trace_file = tmp_path / "trace.json"
    srv = start_server([repo], [f"--trace-file={trace_file}", "--trace-level=TIMESTAMPS", "--trace-rate=1"])
    http = httpclient.InferenceServerClient(srv.url)
    grpc = grpcclient.InferenceServerClient(srv.grpc_url)
    # Model b turns tracing off for itself only (gRPC); a follows the global settings.
    b = _grpc_settings(grpc.update_trace_settings(model_name="b", settings={"trace_level": ["OFF"]}))
    assert b["trace_level"] == ["OFF"] and b["trace_rate"] == ["1"]
    assert http.get_trace_settings(model_name="a")["trace_level"] == ["TIMESTAMPS"]
    _infer(srv, "a")
    _infer(srv, "b")
    # A global change reaches what b did not set itself.
    http.update_trace_settings(settings={"trace_rate": "1", "trace_count": "100"})
    assert http.get_trace_settings(model_name="b")["trace_count"] == "100"
    # Cleared (null over HTTP), b follows the global level again.
    assert http.update_trace_settings(model_name="b", settings={"trace_level": None})["trace_level"] == [
        "TIMESTAMPS"]
    _infer(srv, "b")
    srv.stop()
    assert sorted(t["model_name"] for t in _traces(trace_file).values()) == ["a", "b"]


@pytest.mark.parametrize("settings, status, words", [
    ({"trace_file": "/etc/passwd"}, 501, "trace file location can not be updated through network protocol"),
    ({"trace_rate": "abc"}, 400, "Unable to parse 'trace_rate', got: abc"),
    ({"trace_rate": "99999999999"}, 400, "value is out of range"),
    ({"trace_count": "-2"}, 400, "Unable to parse 'trace_count'. Expecting value >= -1, got:-2"),
    ({"trace_level": ["OFF", "TIMESTAMPS"]}, 400, "Expect only one trace level 'OFF' is specified"),
    ({"trace_level": ["LOUD"]}, 400, "unknown trace level 'LOUD'"),
    ({"trace_sample": "1"}, 400, "unknown trace setting 'trace_sample'"),
    ({"trace_rate": {"a": 1}}, 400, "must be a string"),
])
def test_bad_settings_are_refused_and_nothing_changes(start_server, repo, settings, status, words):
    srv = start_server([repo])
    client = httpclient.InferenceServerClient(srv.url)
    # With a good setting beside it: all or nothing.
    expect_server_error(client.update_trace_settings, settings={"trace_count": "5", **settings},
                        status=status, contains=[words])
    assert client.get_trace_settings() == DEFAULTS
    with pytest.raises(InferenceServerException, match="Unable to parse|unknown|location|Expect|out of range"):
        grpc = grpcclient.InferenceServerClient(srv.grpc_url)
        values = settings[next(iter(settings))]
        if isinstance(values, dict):
            raise InferenceServerException("unknown: a gRPC setting holds strings only")
        grpc.update_trace_settings(settings={next(iter(settings)): values})


def test_settings_of_an_unknown_model_are_refused(start_server, repo):
    srv = start_server([repo])
    status, _, body = raw_request(srv.url, "GET", "/v2/models/nope/trace/setting")
    assert status == 400 and b"Request for unknown model : nope" in body
    with pytest.raises(InferenceServerException, match="Request for unknown model : nope"):
        grpcclient.InferenceServerClient(srv.grpc_url).get_trace_settings(model_name="nope")
    status, _, _ = raw_request(srv.url, "PUT", "/v2/trace/setting")
    assert status == 405


def test_trace_api_can_be_restricted(start_server, repo):
    srv = start_server([repo], ["--http-restricted-api=trace:admin=yes"])
    status, _, _ = raw_request(srv.url, "GET", "/v2/trace/setting")
    assert status == 403
    status, _, _ = raw_request(srv.url, "POST", "/v2/models/a/trace/setting", body=b"{}",
                               headers={"admin": "yes"})
    assert status == 200


@pytest.mark.parametrize("flags, warning", [
    (["--trace-config", "opentelemetry,compression=gzip"], "has no effect"),
    (["--trace-config", "level=TIMESTAMPS"], "no trace file is set"),
])
def test_tritons_flags_start_with_a_warning_for_what_is_not_here(start_server, repo, flags, warning):
    srv = start_server([repo], flags)
    assert warning in srv.log_path.read_text()


@pytest.mark.parametrize("flag, words", [
    ("--trace-config=rate", "expected [<mode>,]<setting>=<value>"),
    ("--trace-config=rate=often", "Unable to parse 'trace_rate', got: often"),
    ("--trace-config=zipkin,file=x", "unknown trace mode 'zipkin'"),
    ("--trace-level=LOUD", "unknown trace level 'LOUD'"),
    ("--trace-config=opentelemetry,url=https://collector:4318", "https is not built"),
    ("--trace-config=mode=zipkin", "unknown trace mode 'zipkin'"),
])
def test_bad_trace_flags_stop_start_up(inferd_bin, repo, flag, words):
    out = subprocess.run([str(inferd_bin), f"--model-repository={repo}", flag], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and words in out.stderr, out.stderr
