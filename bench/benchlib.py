"""What the benchmarks share: the binary, a text_recognition repository with a
given config, and an inferd process on a free loopback port."""
import contextlib
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import tritonclient.http as httpclient

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("INFERD_BIN", str(ROOT / "build/release/inferd"))
TEXT_RECOGNITION = ROOT / "examples/model_repository/text_recognition/1/model.onnx"


def text_recognition_config(intra_op_threads, extra=""):
    return ('platform: "onnxruntime_onnx"\nmax_batch_size: 8\n'
            'input [{ name: "x" data_type: TYPE_FP32 dims: [3, 48, -1] }]\n'
            'output [{ name: "softmax_11.tmp_0" data_type: TYPE_FP32 dims: [-1, 6625] }]\n'
            f'parameters {{ key: "intra_op_thread_count" value {{ string_value: "{intra_op_threads}" }} }}\n'
            + extra)


@contextlib.contextmanager
def inferd(config_text, model="text_recognition", model_file=TEXT_RECOGNITION, args=()):
    """Yields the URL of an inferd serving one model with `config_text`; stops it after."""
    with tempfile.TemporaryDirectory() as repo:
        d = Path(repo) / model
        (d / "1").mkdir(parents=True)
        (d / "1" / "model.onnx").symlink_to(model_file)
        (d / "config.pbtxt").write_text(config_text)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        server = subprocess.Popen([BIN, f"--model-repository={repo}", f"--http-port={port}",
                                   "--http-address=127.0.0.1", "--log-info=false", *args])
        url = f"127.0.0.1:{port}"
        try:
            client = httpclient.InferenceServerClient(url)
            for _ in range(200):
                with contextlib.suppress(Exception):
                    if client.is_model_ready(model):
                        break
                time.sleep(0.1)
            yield url
        finally:
            server.terminate()
            server.wait()
