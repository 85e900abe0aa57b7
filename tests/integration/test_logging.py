"""Logging as tritonserver logs (issue 13): its line format (default and
ISO8601), messages written as JSON strings so that client text cannot forge
a line, --log-file reopened on SIGHUP, each severity switched on its own,
rejected requests visible at --log-verbose=1, and the logging extension
(/v2/logging and gRPC LogSettings) driven through tritonclient as Triton's
own L0_logging test drives it."""

import json
import os
import re
import signal
import time

import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from support import fp32_identity, raw_request, write_model

DEFAULT_LINE = re.compile(r'^([IWE])(\d{4}) (\d\d:\d\d:\d\d\.\d{6}) (\d+) ([\w.+-]+):(\d+)\] (".*")$')
ISO_LINE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ([IWE]) (\d+) ([\w.+-]+):(\d+)\] (".*")$')

INITIAL = {"log_file": "", "log_info": True, "log_warning": True, "log_error": True,
           "log_verbose_level": 0, "log_format": "default"}


def _wait_for(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def repo(make_repo):
    path = make_repo("logging")
    write_model(path, "m", fp32_identity("m", 4))
    return path


def test_lines_have_tritons_format_and_quoted_messages(start_server, repo):
    srv = start_server([repo])
    lines = [l for l in srv.log_text().splitlines() if l.strip()]
    assert lines, "the server logged nothing at start"
    for line in lines:
        m = DEFAULT_LINE.match(line)
        assert m, f"not a Triton log line: {line!r}"
        assert int(m.group(4)) == srv.proc.pid
        json.loads(m.group(7))  # the message is one JSON string
    assert any("Started GRPCInferenceService" in json.loads(DEFAULT_LINE.match(l).group(7)) for l in lines)


def test_client_text_cannot_forge_a_line(start_server, repo):
    srv = start_server([repo], ["--log-verbose=1"])
    forged = 'x\nE1203 00:00:00.000000 1 fake.cc:1] "forged"'
    body = {"inputs": [{"name": forged, "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}
    status, _, _ = raw_request(srv.url, "POST", "/v2/models/m/infer", body=json.dumps(body).encode())
    assert status == 400
    # The rejected request is logged (verbose 1), on one line, escaped.
    _wait_for(lambda: "fake.cc" in srv.log_text(), "the rejected request, naming the input, in the log")
    for line in srv.log_text().splitlines():
        assert not line.startswith("E1203 00:00:00"), line
        if line.strip():
            assert DEFAULT_LINE.match(line), line


def test_rejected_requests_are_not_logged_without_verbose(start_server, repo):
    srv = start_server([repo])
    assert raw_request(srv.url, "GET", "/v2/models/no_such_model")[0] == 404
    with pytest.raises(InferenceServerException):
        grpcclient.InferenceServerClient(srv.grpc_url).get_model_metadata("no_such_model")
    time.sleep(0.2)
    assert "request failed" not in srv.log_text()


def test_iso8601_format_flag(start_server, repo):
    srv = start_server([repo], ["--log-format=ISO8601"])
    lines = [l for l in srv.log_text().splitlines() if l.strip()]
    assert lines and all(ISO_LINE.match(l) for l in lines), lines[:3]


def test_bad_log_format_is_a_usage_error(inferd_bin, repo):
    import subprocess
    out = subprocess.run([str(inferd_bin), f"--model-repository={repo}", "--log-format=json"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "--log-format" in out.stderr


def test_log_file_is_written_and_reopened_on_sighup(start_server, repo, tmp_path):
    log_file = tmp_path / "inferd.log"
    srv = start_server([repo], [f"--log-file={log_file}"])
    assert "Started HTTPService" in log_file.read_text() or "Started" in log_file.read_text()
    assert httpclient.InferenceServerClient(srv.url).get_log_settings()["log_file"] == str(log_file)
    rotated = tmp_path / "inferd.log.1"
    os.rename(log_file, rotated)
    srv.proc.send_signal(signal.SIGHUP)
    _wait_for(log_file.exists, "the log file to be opened again")
    _wait_for(lambda: "log file reopened" in log_file.read_text(), "the reopen line in the new file")
    assert "log file reopened" not in rotated.read_text()
    # Still serving after the signal.
    assert httpclient.InferenceServerClient(srv.url).is_server_live()


def test_http_update_settings_as_tritons_qa(start_server, repo):
    srv = start_server([repo])
    client = httpclient.InferenceServerClient(srv.url)
    assert client.get_log_settings() == INITIAL
    with pytest.raises(InferenceServerException, match="log file location can not be updated"):
        client.update_log_settings({**INITIAL, "log_file": "log_file.log"})
    steps = [
        {"log_info": False, "log_warning": True, "log_error": True, "log_verbose_level": 0, "log_format": "default"},
        {"log_info": False, "log_warning": False, "log_error": True, "log_verbose_level": 0, "log_format": "default"},
        {"log_info": False, "log_warning": False, "log_error": False, "log_verbose_level": 1,
         "log_format": "ISO8601"},
    ]
    for settings in steps:
        assert client.update_log_settings(settings) == {**settings, "log_file": ""}
    # Info is off, verbose on: the next rejected request is logged, in ISO8601.
    before = srv.log_text()
    assert raw_request(srv.url, "GET", "/v2/models/no_such_model")[0] == 404
    _wait_for(lambda: "no_such_model" in srv.log_text()[len(before):], "a verbose line")
    new_lines = [l for l in srv.log_text()[len(before):].splitlines() if l.strip()]
    assert new_lines and all(ISO_LINE.match(l) for l in new_lines), new_lines


def test_http_bad_settings_change_nothing(start_server, repo):
    srv = start_server([repo])
    client = httpclient.InferenceServerClient(srv.url)
    for body, what in [({"log_info": False, "log_verbose_level": -1}, "log_verbose_level"),
                       ({"log_format": "json"}, "log_format"),
                       ({"log_error": "yes"}, "log_error"),
                       ({"log_warnings": False}, "log_warnings")]:
        status, _, text = raw_request(srv.url, "POST", "/v2/logging", body=json.dumps(body).encode())
        assert status == 400, (body, text)
        assert what in json.loads(text)["error"]
    assert client.get_log_settings() == INITIAL
    assert raw_request(srv.url, "PUT", "/v2/logging", body=b"{}")[0] == 405


def test_grpc_update_settings(start_server, repo):
    srv = start_server([repo])
    client = grpcclient.InferenceServerClient(srv.grpc_url)
    got = client.get_log_settings(as_json=True)["settings"]
    assert got["log_verbose_level"] == {"uint32_param": 0}
    assert got["log_format"] == {"string_param": "default"}
    with pytest.raises(InferenceServerException, match="log file location can not be updated"):
        client.update_log_settings({"log_file": "log_file.log"})
    updated = client.update_log_settings({"log_info": False, "log_verbose_level": 2,
                                          "log_format": "ISO8601"}, as_json=True)["settings"]
    assert updated["log_info"] == {"bool_param": False}
    assert updated["log_verbose_level"] == {"uint32_param": 2}
    assert updated["log_format"] == {"string_param": "ISO8601"}
    assert httpclient.InferenceServerClient(srv.url).get_log_settings()["log_verbose_level"] == 2
    with pytest.raises(InferenceServerException, match="log_format"):
        client.update_log_settings({"log_format": "json"})


def test_logging_is_a_restricted_group(start_server, repo):
    srv = start_server([repo], ["--http-restricted-api=logging:admin=s3cret",
                                "--grpc-restricted-protocol=logging:admin=s3cret"])
    assert raw_request(srv.url, "GET", "/v2/logging")[0] == 403
    assert raw_request(srv.url, "GET", "/v2/logging", headers={"admin": "s3cret"})[0] == 200
    with pytest.raises(InferenceServerException, match="restricted"):
        grpcclient.InferenceServerClient(srv.grpc_url).get_log_settings()
    assert "logging" in httpclient.InferenceServerClient(srv.url).get_server_metadata()["extensions"]
