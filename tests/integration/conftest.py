"""Fixtures for the inferd integration suite.

Every test drives a real ``inferd`` process over HTTP through Triton's own
``tritonclient.http`` (or raw ``http.client`` where the client cannot produce
the malformed request a test needs).

* ``inferd_bin``      -- the binary (``$INFERD_BIN`` or ``<repo>/build/release/inferd``);
                         a missing binary FAILS every test, it never skips.
* ``model_repo``      -- a session-wide generated model repository (see ``build_repository``).
* ``server``          -- one session-wide server on ``model_repo`` for the ordinary tests.
* ``client``          -- a ``tritonclient.http.InferenceServerClient`` on ``server``.
* ``start_server``    -- a factory for function-scoped servers with their own
                         repositories / flags (SIGTERM, duplicate names, size limits...).
* ``make_repo``       -- a factory writing small repositories under ``tmp_path``.

The log (stderr+stdout) of every server goes to a file; when a test fails, the
tail of the log of every server the test used is attached to the report.
"""

import os
from pathlib import Path

import pytest
import tritonclient.http as httpclient

from support import DEFAULT_BIN, InferdServer, _ACTIVE, build_repository


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "onnxruntime: runs models on ONNX Runtime (left out of the tsan run: the "
        "prebuilt library is not instrumented, so TSan cannot judge its threads)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in list(_ACTIVE):
            report.sections.append(
                (f"inferd log ({srv.tag}, port {srv.port}, {srv.log_path})", srv.log_tail())
            )
    if report.when == "teardown":
        _ACTIVE[:] = [s for s in _ACTIVE if s.proc is not None and s.proc.poll() is None]


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

def _locate_binary():
    env = os.environ.get("INFERD_BIN")
    path = Path(env) if env else DEFAULT_BIN
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"inferd binary not found or not executable: {path}\n"
            f"(set INFERD_BIN or build it first: scripts/build release)",
            pytrace=False,
        )
    return path.resolve()


@pytest.fixture(scope="session", autouse=True)
def inferd_bin():
    """The binary; autouse so that a missing binary fails (never skips) every test."""
    return _locate_binary()


@pytest.fixture(scope="session")
def model_repo(tmp_path_factory):
    return build_repository(tmp_path_factory.mktemp("model_repo"))


@pytest.fixture(scope="session")
def server(inferd_bin, model_repo, tmp_path_factory):
    with InferdServer(inferd_bin, [model_repo],
                      log_dir=tmp_path_factory.mktemp("shared_server"), tag="shared") as srv:
        yield srv


@pytest.fixture
def client(server):
    c = httpclient.InferenceServerClient(server.url, network_timeout=30.0)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def start_server(inferd_bin, tmp_path):
    """Factory: start_server(repos, extra_args=(), env=..., max_open_files=...) -> started InferdServer
    (stopped after the test)."""
    started = []

    def _start(repos, extra_args=(), tag="func", **kwargs):
        srv = InferdServer(inferd_bin, repos, extra_args, log_dir=tmp_path, tag=tag, **kwargs)
        started.append(srv)
        return srv.start()

    try:
        yield _start
    finally:
        for srv in started:
            srv.stop()
    

@pytest.fixture
def make_repo(tmp_path):
    """Factory: make_repo(dirname) -> empty repository directory under tmp_path."""
    def _make(dirname="repo"):
        d = tmp_path / dirname
        d.mkdir(parents=True, exist_ok=True)
        return d
    return _make


