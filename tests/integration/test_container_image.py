"""The container image, built for real: scripts/make-base-image provides
debian:bookworm-slim (debootstrap, since no container registry can be
reached here), `scripts/compose --image` builds the composed install's
Containerfile with podman, and the image's file system then serves: podman
cannot start containers on these machines (its runtime is refused
setrlimit), so the test copies the image's root file system out and runs
/opt/inferd/bin/inferd in it with chroot, as uid 1000, with /proc mounted,
which is what the container would run. Release build only.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from support import free_port, sanitizer_of, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
IMAGE_LIMIT_BYTES = 200_000_000  # the target for an image with the ONNX Runtime backend


def run(argv, **kwargs):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_composed_image_builds_and_its_file_system_serves(inferd_bin, tmp_path):
    if sanitizer_of(inferd_bin):
        pytest.skip("the image is built from the release build")
    for tool in ("podman", "debootstrap", "chroot"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/setup installs it")
    digits = ROOT / "examples/model_repository/digits"
    if not (digits / "1/model.onnx").is_file():
        pytest.skip("examples/model_repository/digits/1/model.onnx is missing (scripts/setup makes it)")
    run([ROOT / "scripts/make-base-image"])
    image = f"localhost/inferd-test:{tmp_path.name.replace('_', '-').lower()}"
    out = tmp_path / "composed"
    run([ROOT / "scripts/compose", "--backends", "onnxruntime,identity", "--output", out,
         "--build-dir", Path(inferd_bin).parent, "--image", image])
    root = tmp_path / "rootfs"
    try:
        size = int(run(["podman", "image", "inspect", "--format", "{{.Size}}", image]).strip())
        assert size < IMAGE_LIMIT_BYTES, f"the image is {size / 1e6:.0f} MB"
        mounted = run(["podman", "image", "mount", image]).strip()
        try:
            # cp -a, not a Python copy: /dev holds device nodes (copying
            # /dev/full's content would fill the disk).
            run(["cp", "-a", mounted, root])
        finally:
            run(["podman", "image", "unmount", image])
    finally:
        subprocess.run(["podman", "rmi", "-f", image], capture_output=True, timeout=120)

    models = root / "models"
    shutil.copytree(ROOT / "examples/model_repository/simple_identity", models / "simple_identity")
    shutil.copytree(digits, models / "digits")
    port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    run(["mount", "-t", "proc", "proc", root / "proc"])
    log = open(tmp_path / "image-inferd.log", "wb")
    proc = subprocess.Popen(["chroot", "--userspec=1000:1000", str(root), "/opt/inferd/bin/inferd",
                             "--model-repository=/models", f"--http-port={port}", "--http-address=127.0.0.1",
                             f"--grpc-port={grpc_port}", f"--metrics-port={metrics_port}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_http(proc, tmp_path / "image-inferd.log", [(f"127.0.0.1:{port}", "/v2/health/ready")])
        client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        x = httpclient.InferInput("INPUT0", [1, 3], "FP32")
        x.set_data_from_numpy(np.array([[1, 2, 3]], np.float32))
        assert client.infer("simple_identity", [x]).as_numpy("OUTPUT0").tolist() == [[1, 2, 3]]
        pixels = httpclient.InferInput("pixels", [1, 64], "FP32")
        pixels.set_data_from_numpy(np.zeros((1, 64), np.float32))
        assert client.infer("digits", [pixels]).as_numpy("probabilities").shape == (1, 10)
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        finally:
            log.close()
            subprocess.run(["umount", str(root / "proc")], capture_output=True, timeout=60)
    assert proc.returncode == 0
