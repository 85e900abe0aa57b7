"""Model control costs, measured in one run against one inferd:
  - load request to READY for text_recognition (unload, then time the load call)
  - p50/p99 latency of a steady client without reloads, and while the model
    is reloaded every second (the old version serves until the new one is READY)

  .venv/bin/python bench/model_reload.py [seconds per phase]
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("INFERD_BIN", str(ROOT / "build/release/inferd"))
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 6
MODEL = "text_recognition"
X = np.random.default_rng(0).uniform(-1, 1, (1, 3, 48, 160)).astype(np.float32)


def steady(url, seconds, reload_every=None):
    c = httpclient.InferenceServerClient(url)
    inp = httpclient.InferInput("x", list(X.shape), "FP32")
    inp.set_data_from_numpy(X)
    latencies, failures, reloads = [], 0, []
    stop = time.monotonic() + seconds

    def reloader():
        admin = httpclient.InferenceServerClient(url)
        while time.monotonic() + reload_every < stop:
            time.sleep(reload_every)
            t = time.perf_counter()
            admin.load_model(MODEL)
            reloads.append(time.perf_counter() - t)

    thread = threading.Thread(target=reloader) if reload_every else None
    if thread:
        thread.start()
    while time.monotonic() < stop:
        t = time.perf_counter()
        try:
            c.infer(MODEL, [inp])
            latencies.append(time.perf_counter() - t)
        except Exception:  # noqa: BLE001 - counted
            failures += 1
    if thread:
        thread.join()
    lat = np.array(latencies) * 1e3
    return np.percentile(lat, 50), np.percentile(lat, 99), len(lat), failures, reloads


def main():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    url = f"127.0.0.1:{port}"
    server = subprocess.Popen([BIN, f"--model-repository={ROOT / 'examples/model_repository'}",
                               "--model-control-mode=explicit", f"--load-model={MODEL}",
                               f"--http-port={port}", "--http-address=127.0.0.1", "--allow-grpc=false",
                               "--allow-metrics=false", "--log-info=false"])
    try:
        c = httpclient.InferenceServerClient(url)
        for _ in range(100):
            try:
                if c.is_model_ready(MODEL):
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.1)
        loads = []
        for _ in range(3):
            c.unload_model(MODEL)
            t = time.perf_counter()
            c.load_model(MODEL)
            loads.append((time.perf_counter() - t) * 1e3)
        base = steady(url, SECONDS)
        during = steady(url, SECONDS, reload_every=1.0)
    finally:
        server.terminate()
        server.wait()
    print(f"{MODEL}: load request -> READY: {min(loads):.0f} ms best, {np.mean(loads):.0f} ms mean of 3")
    print(f"steady client, 1x3x48x160, {SECONDS:.0f} s per phase:")
    print(f"  without reloads: p50 {base[0]:.1f} ms  p99 {base[1]:.1f} ms  ({base[2]} requests, {base[3]} failed)")
    print(f"  reload every 1 s: p50 {during[0]:.1f} ms  p99 {during[1]:.1f} ms  ({during[2]} requests, "
          f"{during[3]} failed, {len(during[4])} reloads of {np.mean(during[4]) * 1e3:.0f} ms)")
    print(f"  p99 ratio during/without: {during[1] / base[1]:.2f}")


if __name__ == "__main__":
    main()
