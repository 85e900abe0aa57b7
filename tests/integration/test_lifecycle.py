"""Process lifecycle: graceful SIGTERM with requests in flight, command-line errors."""

import signal
import subprocess
import time

import gevent
import numpy as np
import pytest
import tritonclient.http as httpclient

from support import fp32_identity, free_port, make_input, write_model

SLOW_EXTRA = """
instance_group [ { count: 2 kind: KIND_CPU } ]
parameters { key: "execute_delay_ms" value { string_value: "300" } }
"""


@pytest.fixture
def slow_repo(make_repo):
    repo = make_repo("slow_repo")
    write_model(repo, "slow", fp32_identity("slow", 8, extra=SLOW_EXTRA))
    return repo


def test_sigterm_answers_requests_in_flight(start_server, slow_repo):
    srv = start_server([slow_repo], tag="sigterm")
    n = 5  # 2 instances x 300 ms: the last ones are still queued at SIGTERM
    xs = [np.arange(4, dtype=np.float32).reshape(1, 4) + 10 * i for i in range(n)]
    client = httpclient.InferenceServerClient(srv.url, concurrency=n, network_timeout=10.0)
    try:
        handles = [client.async_infer("slow", [make_input("INPUT0", x)], request_id=f"r{i}")
                   for i, x in enumerate(xs)]
        gevent.sleep(0.15)  # let the greenlets send every request
        assert srv.proc.poll() is None, "server died before SIGTERM"
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)

        for i, (x, h) in enumerate(zip(xs, handles)):
            res = h.get_result(timeout=10)
            assert res.get_response()["id"] == f"r{i}"
            np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)
        answered_after = time.monotonic() - t0
    finally:
        client.close()

    rc = srv.wait(timeout=10)
    if rc is None:
        srv.kill()
        pytest.fail("inferd did not exit within 10 s of SIGTERM")
    assert rc == 0, f"exit code {rc}"
    # 5 requests on 2 instances need 3 rounds of 300 ms; SIGTERM came ~150 ms
    # after they were sent, so answering them took the server well past SIGTERM.
    assert answered_after > 0.3


def test_sigterm_idle_exits_zero(start_server, slow_repo):
    srv = start_server([slow_repo], tag="idle")
    with httpclient.InferenceServerClient(srv.url) as c:
        assert c.is_server_live()
    srv.send_signal(signal.SIGTERM)
    rc = srv.wait(timeout=10)
    if rc is None:
        srv.kill()
        pytest.fail("inferd did not exit within 10 s of SIGTERM")
    assert rc == 0, f"exit code {rc}"


def _run_cli(inferd_bin, args, timeout=10):
    proc = subprocess.Popen([str(inferd_bin)] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"inferd {args} did not exit within {timeout} s "
                    f"(it should reject the command line)\n{err.decode(errors='replace')}")
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.mark.parametrize("bad,flag", [
    ("--no-such-flag", "no-such-flag"),
    ("--no-such-flag=3", "no-such-flag"),
    ("--http-port=notaport", "http-port"),
    ("--http-port=70000", "http-port"),
    ("--http-max-input-size=lots", "http-max-input-size"),
    ("--strict-readiness=maybe", "strict-readiness"),
])
def test_bad_command_line_exits_2(inferd_bin, make_repo, bad, flag):
    repo = make_repo("cli_repo")
    args = [f"--model-repository={repo}", "--http-address=127.0.0.1"]
    if not bad.startswith("--http-port"):
        args.append(f"--http-port={free_port()}")
    rc, out, err = _run_cli(inferd_bin, args + [bad])
    assert rc == 2, f"exit code {rc}\nstderr:\n{err}"
    assert "usage" in err.lower() or flag in err, f"stderr does not explain:\n{err}"


def test_help_lists_flags(inferd_bin):
    rc, out, err = _run_cli(inferd_bin, ["--help"])
    assert rc == 0
    text = out + err
    for flag in ("--model-repository", "--http-port", "--http-address", "--http-max-input-size"):
        assert flag in text, flag
