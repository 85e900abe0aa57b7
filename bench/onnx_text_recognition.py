"""text_recognition (PP-OCRv4) at width 320, batch 1: throughput through inferd
(HTTP, binary tensors, tritonclient) at concurrency 1 and 4, beside ONNX Runtime
in-process with the same thread settings, all in one run. Prints the ratios.

  .venv/bin/python bench/onnx_text_recognition.py [seconds per step]
"""
import sys
import threading
import time

import numpy as np
import onnxruntime as ort
import tritonclient.http as httpclient

from benchlib import TEXT_RECOGNITION as MODEL, inferd, text_recognition_config

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10
THREADS = 2
X = (np.random.default_rng(0).random((1, 3, 48, 320), dtype=np.float32) * 2 - 1)


def in_process() -> float:
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    s = ort.InferenceSession(str(MODEL), so)
    for _ in range(5):
        s.run(None, {"x": X})
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        s.run(None, {"x": X})
        n += 1
    return n / (time.perf_counter() - start)


def through_inferd(port: int, concurrency: int) -> float:
    count = [0] * concurrency
    stop = time.perf_counter() + SECONDS

    def worker(i):
        c = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        inp = httpclient.InferInput("x", list(X.shape), "FP32")
        inp.set_data_from_numpy(X, binary_data=True)
        out = [httpclient.InferRequestedOutput("softmax_11.tmp_0", binary_data=True)]
        while time.perf_counter() < stop:
            c.infer("text_recognition", [inp], outputs=out)
            count[i] += 1

    for _ in range(3):  # warm up
        worker(0)
        break
    count = [0] * concurrency
    stop = time.perf_counter() + SECONDS
    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / (time.perf_counter() - start)


def main() -> None:
    with inferd(text_recognition_config(THREADS)) as url:
        port = int(url.rsplit(":", 1)[1])
        c = httpclient.InferenceServerClient(url)
        base = in_process()
        before = c.get_inference_statistics("text_recognition")["model_stats"][0]
        c1 = through_inferd(port, 1)
        after = c.get_inference_statistics("text_recognition")["model_stats"][0]
        c4 = through_inferd(port, 4)
    print(f"text_recognition 1x3x48x320, {THREADS} intra-op threads, {SECONDS:.0f} s per step")
    print(f"  ONNX Runtime in-process       {base:8.1f} inferences/s")
    print(f"  inferd HTTP, concurrency 1    {c1:8.1f} inferences/s  ratio {c1 / base:.3f}")
    print(f"  inferd HTTP, concurrency 4    {c4:8.1f} inferences/s  ratio {c4 / base:.3f}")
    # Inside the server at concurrency 1: how much time beyond ONNX Runtime's own.
    delta = lambda k: (after["inference_stats"][k]["ns"] - before["inference_stats"][k]["ns"],
                       after["inference_stats"][k]["count"] - before["inference_stats"][k]["count"])
    total_ns, n = delta("success")
    infer_ns, _ = delta("compute_infer")
    print(f"  server side, concurrency 1: request {total_ns / n / 1e3:.0f} us, of which ONNX Runtime "
          f"{infer_ns / n / 1e3:.0f} us: the server adds {(total_ns - infer_ns) / infer_ns * 100:.2f}%")
    print("  (the rest of the gap at concurrency 1 is the Python client encoding the input and "
          "decoding the 1 MB output)")


if __name__ == "__main__":
    main()
