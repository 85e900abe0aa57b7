"""inferd's own HTTP/2 gRPC transport (--grpc-transport=nghttp2, the default)
at the frame level, through the `h2` library as a raw client: what grpcio and
grpc++ never send (a bad preface, a reset in the middle of a request, a
message over the limit announced by its prefix, headers past the limit, a
client that stops reading), keepalive PINGs and the connection age. Every
test checks that the server still serves afterwards."""

import base64
import json
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2

from support import fp32_identity, write_model

INFER = "/inference.GRPCInferenceService/ModelInfer"
LIVE = "/inference.GRPCInferenceService/ServerLive"
TRANSPORT = ["--grpc-transport=nghttp2"]


def _frame(message: bytes, flag=0, length=None):
    return struct.pack(">BI", flag, len(message) if length is None else length) + message


def _infer_message(values):
    request = service_pb2.ModelInferRequest(model_name="echo")
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, len(values)])
    request.raw_input_contents.append(np.asarray(values, np.float32).tobytes())
    return request.SerializeToString()


class RawClient:
    """One HTTP/2 connection, driven by hand."""

    def __init__(self, srv, settings=None):
        host, port = srv.grpc_url.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                          header_encoding="utf-8"))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.events = []
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def headers(self, path, extra=(), end_stream=False):
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":path", path),
                                        (":authority", "inferd"), ("content-type", "application/grpc"),
                                        ("te", "trailers"), *extra], end_stream=end_stream)
        self.flush()
        return stream

    def call(self, path, message=b"", extra=()):
        stream = self.headers(path, extra)
        self.conn.send_data(stream, _frame(message), end_stream=True)
        self.flush()
        return stream

    def pump(self, until, timeout=10):
        """Reads events until until(events) is true; returns whether it came."""
        deadline = time.monotonic() + timeout
        while not until(self.events):
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionError:
                data = b""
            if not data:
                self.closed = True
                return until(self.events)
            self.events.extend(self.conn.receive_data(data))
            self.flush()
        return True

    def trailers(self, stream, timeout=10):
        """The stream's grpc-status and grpc-message (trailers, or trailers-only headers)."""
        def done(events):
            return any(isinstance(e, h2.events.StreamEnded) and e.stream_id == stream for e in events)
        assert self.pump(done, timeout), f"stream {stream} did not end; events: {self.events}"
        fields = {}
        for e in self.events:
            if isinstance(e, (h2.events.ResponseReceived, h2.events.TrailersReceived)) and e.stream_id == stream:
                fields.update(dict(e.headers))
        return int(fields["grpc-status"]), fields.get("grpc-message", "")

    def data(self, stream):
        return b"".join(e.data for e in self.events
                        if isinstance(e, h2.events.DataReceived) and e.stream_id == stream)

    def close(self):
        self.sock.close()


@pytest.fixture
def srv(start_server, make_repo):
    repo = make_repo("h2")
    write_model(repo, "echo", fp32_identity("echo", 8))
    return start_server([repo], TRANSPORT + ["--grpc-max-message-size=65536"])


def assert_serves(srv):
    assert srv.proc.poll() is None, f"inferd died (exit code {srv.proc.returncode})"
    with grpcclient.InferenceServerClient(srv.grpc_url) as c:
        inp = grpcclient.InferInput("INPUT0", [1, 4], "FP32")
        inp.set_data_from_numpy(np.arange(4, dtype=np.float32).reshape(1, 4))
        out = c.infer("echo", [inp]).as_numpy("OUTPUT0")
        assert out.tolist() == [[0, 1, 2, 3]]


def test_a_raw_client_gets_its_answer_in_a_message_and_trailers(srv):
    client = RawClient(srv)
    stream = client.call(INFER, _infer_message([1.5, 2.5]))
    assert client.trailers(stream) == (0, "")
    body = client.data(stream)
    flag, length = struct.unpack(">BI", body[:5])
    assert flag == 0 and length == len(body) - 5
    response = service_pb2.ModelInferResponse.FromString(body[5:])
    assert np.frombuffer(response.raw_output_contents[0], np.float32).tolist() == [1.5, 2.5]
    client.close()


def test_calls_on_one_connection_are_answered_each_on_its_stream(srv):
    client = RawClient(srv)
    streams = {client.call(INFER, _infer_message([float(i)])): float(i) for i in range(20)}
    for stream, value in streams.items():
        assert client.trailers(stream) == (0, "")
        response = service_pb2.ModelInferResponse.FromString(client.data(stream)[5:])
        assert np.frombuffer(response.raw_output_contents[0], np.float32).tolist() == [value]
    client.close()


def test_a_connection_that_is_not_http2_is_closed(srv):
    host, port = srv.grpc_url.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\0" * 100)
        got = b""
        while True:  # the server answers GOAWAY (or nothing) and closes
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    assert b"HTTP/1.1 200" not in got
    assert_serves(srv)


def test_a_request_reset_halfway_is_dropped_and_the_connection_goes_on(srv):
    client = RawClient(srv)
    message = _frame(_infer_message([1.0] * 1000))
    stream = client.headers(INFER)
    client.conn.send_data(stream, message[: len(message) // 2])
    client.flush()
    client.conn.reset_stream(stream)
    client.flush()
    other = client.call(INFER, _infer_message([7.0]))
    assert client.trailers(other) == (0, "")
    client.close()
    assert_serves(srv)


def test_a_message_over_the_limit_is_refused_from_its_prefix_alone(srv):
    client = RawClient(srv)
    stream = client.headers(INFER)
    # Only the prefix, announcing 1 MiB against a 64 KiB limit: the answer
    # must come without the rest being sent.
    client.conn.send_data(stream, struct.pack(">BI", 0, 1 << 20))
    client.flush()
    code, message = client.trailers(stream)
    assert code == 8, (code, message)  # RESOURCE_EXHAUSTED
    assert "larger than max" in message
    client.close()
    assert_serves(srv)


def test_a_bad_message_flag_and_a_bad_message_are_errors_not_crashes(srv):
    client = RawClient(srv)
    stream = client.headers(INFER)
    client.conn.send_data(stream, _frame(b"x", flag=2), end_stream=True)
    client.flush()
    assert client.trailers(stream)[0] == 13  # INTERNAL
    stream = client.call(INFER, b"\xff\xff\xff\xff not protobuf")
    code, message = client.trailers(stream)
    assert code == 3 and "ModelInferRequest" in message, (code, message)  # INVALID_ARGUMENT
    stream = client.headers(INFER)
    client.conn.send_data(stream, _frame(b"abc", length=10), end_stream=True)  # ends inside the message
    client.flush()
    assert client.trailers(stream)[0] == 13
    client.close()
    assert_serves(srv)


def test_unknown_methods_and_non_grpc_requests_are_answered_with_a_status(srv):
    client = RawClient(srv)
    stream = client.call("/inference.GRPCInferenceService/NoSuchMethod")
    code, message = client.trailers(stream)
    assert code == 12 and "NoSuchMethod" in message, (code, message)  # UNIMPLEMENTED
    stream = client.conn.get_next_available_stream_id()
    client.conn.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":path", LIVE),
                                      (":authority", "inferd"), ("content-type", "text/plain")],
                             end_stream=True)
    client.flush()
    assert client.trailers(stream)[0] == 13
    stream = client.call(LIVE, extra=[("grpc-encoding", "snappy")])
    code, message = client.trailers(stream)
    assert code == 12 and "snappy" in message, (code, message)
    client.close()


def test_a_header_list_over_the_limit_resets_that_stream_only(srv):
    client = RawClient(srv)
    big = [(f"x-pad-{i}", "v" * 4000) for i in range(20)]  # 80 KiB of metadata, the limit is 64 KiB
    stream = client.headers(LIVE, big, end_stream=False)
    client.conn.send_data(stream, _frame(b""), end_stream=True)
    client.flush()
    assert client.pump(lambda events: any(
        isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)) for e in events))
    client.close()
    assert_serves(srv)


def test_answers_wait_for_the_clients_window_and_come_once_it_opens(srv):
    # The client's window is 0: the server may send the answer's headers but
    # no data until the client opens the window.
    client = RawClient(srv, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    assert client.pump(lambda events: any(isinstance(e, h2.events.SettingsAcknowledged) for e in events))
    stream = client.call(INFER, _infer_message([3.0] * 64))
    time.sleep(0.5)
    client.pump(lambda events: False, timeout=0.3)
    assert client.data(stream) == b""
    assert not any(isinstance(e, h2.events.StreamEnded) and e.stream_id == stream for e in client.events)
    client.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535})
    client.flush()
    assert client.trailers(stream) == (0, "")
    response = service_pb2.ModelInferResponse.FromString(client.data(stream)[5:])
    assert np.frombuffer(response.raw_output_contents[0], np.float32).tolist() == [3.0] * 64
    client.close()


def test_a_client_that_never_answers_keepalive_pings_is_closed(start_server, make_repo):
    repo = make_repo("h2_keepalive")
    write_model(repo, "echo", fp32_identity("echo", 8))
    srv = start_server([repo], TRANSPORT + ["--grpc-keepalive-time=200", "--grpc-keepalive-timeout=500"])
    host, port = srv.grpc_url.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        s.sendall(conn.data_to_send())
        pinged, start = False, time.monotonic()
        s.settimeout(5)
        while True:  # read, but never send anything back (no PING ACK)
            data = s.recv(65536)
            if not data:
                break
            pinged |= any(isinstance(e, h2.events.PingReceived) for e in conn.receive_data(data))
        assert pinged
        assert time.monotonic() - start < 4
    # A client that answers is kept: grpcio acks the pings, and calls go on.
    with grpcclient.InferenceServerClient(srv.grpc_url) as c:
        for _ in range(3):
            assert c.is_server_live()
            time.sleep(0.4)
    assert_serves(srv)


def test_a_connection_past_its_max_age_is_told_to_go(start_server, make_repo):
    repo = make_repo("h2_age")
    write_model(repo, "echo", fp32_identity("echo", 8))
    srv = start_server([repo], TRANSPORT + ["--grpc-max-connection-age=300",
                                            "--grpc-max-connection-age-grace=300"])
    client = RawClient(srv)
    assert client.pump(lambda events: any(isinstance(e, h2.events.ConnectionTerminated) for e in events),
                       timeout=5)
    client.close()
    # grpcio reconnects after GOAWAY: calls keep working across ages.
    with grpcclient.InferenceServerClient(srv.grpc_url) as c:
        for _ in range(4):
            assert c.is_server_live()
            time.sleep(0.25)


GRPCURL = Path(sys.executable).parent / "grpcurl"


def _grpcurl(srv, *command, flags=()):
    """grpcurl [flags] ADDRESS command...: (exit code, output)."""
    out = subprocess.run([str(GRPCURL), "-plaintext", *flags, srv.grpc_url, *command],
                         capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.skipif(not GRPCURL.exists(), reason="grpcurl is not installed (scripts/install-grpcurl needs Go)")
def test_grpcurl_on_grpc_go_lists_describes_and_calls_through_reflection(srv):
    # grpc-go's HTTP/2 stack, beside grpcio's and grpc++'s, and no .proto file.
    code, out = _grpcurl(srv, "list")
    assert code == 0, out
    for service in ("inference.GRPCInferenceService", "grpc.health.v1.Health"):
        assert service in out.split(), out
    code, out = _grpcurl(srv, "describe", "inference.GRPCInferenceService")
    assert code == 0 and "rpc ModelStreamInfer ( stream .inference.ModelInferRequest )" in out, out
    request = json.dumps({"model_name": "echo", "inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [1, 3], "contents": {"fp32_contents": [1, 2, 3]}}]})
    code, out = _grpcurl(srv, "inference.GRPCInferenceService/ModelInfer", flags=["-d", request])
    assert code == 0, out
    raw = json.loads(out)["raw_output_contents"][0]
    assert np.frombuffer(base64.b64decode(raw), np.float32).tolist() == [1, 2, 3]
    code, out = _grpcurl(srv, "inference.GRPCInferenceService/ModelMetadata", flags=["-d", '{"name": "nope"}'])
    assert code != 0 and "NotFound" in out and "nope" in out, out
