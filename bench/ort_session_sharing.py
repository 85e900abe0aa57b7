"""What the onnxruntime backend's share_session_between_instances costs at run
time: two threads running text_recognition (batch 1, 1 intra-op thread each) on
one shared session against one session each, side by side in one run. Python
ONNX Runtime 1.30, the same library version the backend links. (Measured
level: the example repository's text_* models share theirs, which halves
their memory and load time.)

  .venv/bin/python bench/ort_session_sharing.py
"""
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

M = str(Path(__file__).resolve().parents[1] / "examples/model_repository/text_recognition/1/model.onnx")
x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 48, 320)).astype(np.float32)
def opts():
    o = ort.SessionOptions(); o.intra_op_num_threads = 1; return o
def run(sessions, seconds=8):
    count = [0] * len(sessions); stop = time.perf_counter() + seconds
    def w(i):
        s = sessions[i]
        while time.perf_counter() < stop:
            s.run(None, {"x": x}); count[i] += 1
    ts = [threading.Thread(target=w, args=(i,)) for i in range(len(sessions))]
    [t.start() for t in ts]; [t.join() for t in ts]
    return sum(count) / seconds
shared = ort.InferenceSession(M, opts())
own = [ort.InferenceSession(M, opts()) for _ in range(2)]
for s in [shared] + own: s.run(None, {"x": x})
for round in range(2):
    a = run([shared, shared]); b = run(own)
    print(f"round {round}: 2 threads on one shared session {a:.1f}/s, one session each {b:.1f}/s, ratio own/shared {b/a:.2f}")
