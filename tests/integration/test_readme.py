"""README's tour is true (issue 13): every shell command and Python snippet
of "A short tour" runs as written against a real inferd serving the example
repository on the ports the README uses (8000, 8001, 8002; skipped with a
reason when another process holds them), with only the paths of the build
and the virtualenv put in. A command that fails, or prints other than its
`# prints:` comment says, fails the test."""

import re
import subprocess
import sys
from pathlib import Path

import socket

import pytest

import support
from support import REPO_ROOT, InferdServer

pytestmark = pytest.mark.onnxruntime


def _tour():
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## A short tour")
    end = text.index("### What is there", start)
    return text[start:end]


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", _tour(), re.S)


def _commands():
    """Each shell command of the tour (continuation lines joined), with its line."""
    for block in _blocks("sh"):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip():
                yield command.strip()


README_PORTS = (8000, 8001, 8002)  # HTTP, gRPC, metrics: the defaults the commands rely on


class ReadmePortsServer(InferdServer):
    """An inferd on the README's ports instead of free ones."""

    def _spawn(self):
        ports = iter(README_PORTS)
        free_port = support.free_port
        support.free_port = lambda: next(ports)
        try:
            super()._spawn()
        finally:
            support.free_port = free_port


def _taken(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def example_server(inferd_bin, tmp_path_factory):
    if any(_taken(p) for p in README_PORTS):
        pytest.skip("another process listens on 8000, 8001 or 8002, the ports README's commands use")
    logs = tmp_path_factory.mktemp("readme")
    with ReadmePortsServer(inferd_bin, [REPO_ROOT / "examples" / "model_repository"], log_dir=logs,
                           tag="readme") as srv:
        yield srv, logs


def _localize(text, srv, inferd_bin):
    assert srv.port == README_PORTS[0]
    bin_dir = str(Path(inferd_bin).resolve().parent) + "/"
    text = text.replace("build/release/", bin_dir).replace(".venv/bin/python", sys.executable)
    return re.sub(r"(?<![\w/])examples/", str(REPO_ROOT / "examples") + "/", text)


def test_the_tour_has_commands_and_snippets():
    commands = list(_commands())
    assert len(commands) >= 10 and any(c.startswith("build/release/inferd ") for c in commands)
    assert len(_blocks("python")) == 1


def test_the_server_command_starts_on_the_example_repository():
    (start,) = [c for c in _commands() if c.startswith("build/release/inferd ")]
    assert "--model-repository=examples/model_repository" in start


@pytest.mark.parametrize("command", [c for c in _commands() if not c.startswith("build/release/inferd ")])
def test_shell_command(example_server, inferd_bin, command):
    srv, workdir = example_server
    line, _, comment = command.partition("# prints:")
    out = subprocess.run(["bash", "-o", "pipefail", "-c", _localize(line, srv, inferd_bin)],
                         capture_output=True, text=True, timeout=180, cwd=workdir)
    assert out.returncode == 0, f"{command}\nstdout:\n{out.stdout[-2000:]}\nstderr:\n{out.stderr[-2000:]}"
    if comment.strip():
        assert comment.strip() in out.stdout, out.stdout
    if line.startswith("curl") and " -i" not in line:
        assert '"error"' not in out.stdout, out.stdout


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_python_snippet(example_server, inferd_bin, protocol):
    srv, workdir = example_server
    (snippet,) = _blocks("python")
    if protocol == "grpc":  # "tritonclient.grpc on port 8001 works the same way"
        snippet = snippet.replace("tritonclient.http", "tritonclient.grpc").replace("localhost:8000",
                                                                                  "localhost:8001")
    out = subprocess.run([sys.executable, "-c", _localize(snippet, srv, inferd_bin)],
                         capture_output=True, text=True, timeout=60, cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[[0. 1. 2. 3.]]", out.stdout
