"""The OCR pipeline, side by side in one run: inferd serving the example
repository's `ocr` ensemble (seven steps, the crops of concurrent pages
batched in text_direction and text_recognition), against RapidOCR
(rapidocr-onnxruntime 1.4.4: PP-OCR on ONNX Runtime in one Python process,
what a Python user would pick instead; scripts/install-rapidocr) given the
same three model files, the same detector sizing (longer side at most 960)
and the same ONNX Runtime threads per session as the example configs give
inferd's models (intra-op 1: with two instances per model, that serves
concurrent pages best on this 2-core machine).

Pages: rendered multi-line text, half of them upside down. For each side and
concurrency (1 and 8: threads sending pages to the server over gRPC, or
threads sharing one RapidOCR object): pages/s, the share of pages read
exactly, and CPU time per page (the server process with its Python stubs, or
the RapidOCR process). Rounds alternate the sides; rows report medians.

    scripts/setup && scripts/install-rapidocr
    .venv/bin/python bench/ocr_pipeline.py [seconds per window, default 10] [rounds, default 2]
"""
import concurrent.futures
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "model_repository"
RAPIDOCR_PYTHON = ROOT / ".venv-rapidocr" / "bin" / "python"
INTRA_OP_THREADS = 1  # as examples/model_repository/text_*/config.pbtxt
PAGES = [
    ["inferd 2026", "Hello World", "serving OCR pipelines"],
    ["The quick brown fox", "jumps over 13 lazy dogs."],
    ["Ensembles run steps", "in parallel"],
    ["dynamic batching", "of crops", "across pages"],
]


def rapidocr_worker(page_dir, concurrency, seconds):
    """Runs in .venv-rapidocr: RapidOCR over the pages for `seconds`; prints JSON."""
    import resource

    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(
        det_model_path=str(EXAMPLES / "text_detection/1/model.onnx"),
        cls_model_path=str(EXAMPLES / "text_direction/1/model.onnx"),
        rec_model_path=str(EXAMPLES / "text_recognition/1/model.onnx"),
        rec_keys_path=str(EXAMPLES / "text_recognition/ppocr_keys_v1.txt"),
        det_limit_side_len=960, det_limit_type="max", use_cls=True,
        intra_op_num_threads=INTRA_OP_THREADS, inter_op_num_threads=1)
    pages = [(Path(page_dir) / f"{i}.png").read_bytes() for i in range(len(list(Path(page_dir).glob("*.png"))))]
    expected = json.loads((Path(page_dir) / "expected.json").read_text())
    engine(pages[0])  # warm-up
    done, exact, lock = [0], [0], threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(k):
        i = k
        while time.monotonic() < deadline:
            result, _ = engine(pages[i % len(pages)])
            lines = [text for _, text, _ in result or []]
            with lock:
                done[0] += 1
                exact[0] += lines == expected[i % len(pages)]
            i += concurrency

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(loop, range(concurrency)))
    elapsed = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(json.dumps({"rate": done[0] / elapsed, "exact": exact[0] / max(1, done[0]), "cpu_ms": cpu / max(1, done[0]) * 1e3}))


def inferd_window(urls, proc, pages, expected, concurrency, seconds):
    import tritonclient.grpc as grpcclient
    import numpy as np

    from benchlib import tree_cpu

    done, exact, lock = [0], [0], threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(k):
        client = grpcclient.InferenceServerClient(urls["grpc"])
        i = k
        while time.monotonic() < deadline:
            inp = grpcclient.InferInput("IMAGE", [1], "BYTES")
            inp.set_data_from_numpy(np.array([pages[i % len(pages)]], dtype=np.object_))
            texts = [t.decode() for t in client.infer("ocr", [inp]).as_numpy("TEXT")]
            with lock:
                done[0] += 1
                exact[0] += texts == expected[i % len(pages)]
            i += concurrency
        client.close()

    cpu0, start = tree_cpu(proc.pid), time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(loop, range(concurrency)))
    elapsed, cpu = time.monotonic() - start, tree_cpu(proc.pid) - cpu0
    return {"rate": done[0] / elapsed, "exact": exact[0] / max(1, done[0]), "cpu_ms": cpu / max(1, done[0]) * 1e3}


def main():
    sys.path.insert(0, str(ROOT / "examples" / "clients"))
    import ocr_client

    from benchlib import serving

    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    if not RAPIDOCR_PYTHON.exists():
        print("RapidOCR is not installed (scripts/install-rapidocr): inferd only")
    with tempfile.TemporaryDirectory() as page_dir:
        pages, expected = [], []
        for i, lines in enumerate(PAGES * 2):
            buffer = io.BytesIO()
            ocr_client.render_page(lines, upside_down=i >= len(PAGES)).save(buffer, "PNG")
            pages.append(buffer.getvalue())
            expected.append(lines)
            (Path(page_dir) / f"{i}.png").write_bytes(buffer.getvalue())
        (Path(page_dir) / "expected.json").write_text(json.dumps(expected))
        runs = {}  # (side, concurrency) -> [window results]
        with serving("inferd", EXAMPLES, ["ocr"]) as (proc, urls):
            inferd_window(urls, proc, pages, expected, 2, 2)  # warm-up: stubs and sessions
            for r in range(rounds):
                print(f"round {r + 1}/{rounds}", flush=True)
                for concurrency in (1, 8):
                    runs.setdefault(("inferd", concurrency), []).append(
                        inferd_window(urls, proc, pages, expected, concurrency, seconds))
                    if RAPIDOCR_PYTHON.exists():
                        out = subprocess.run([str(RAPIDOCR_PYTHON), __file__, "--rapidocr-worker", page_dir,
                                              str(concurrency), str(seconds)],
                                             capture_output=True, text=True, timeout=seconds * 10 + 120)
                        if out.returncode != 0:
                            sys.exit(f"RapidOCR worker failed:\n{out.stderr[-3000:]}")
                        runs.setdefault(("rapidocr", concurrency), []).append(json.loads(out.stdout.splitlines()[-1]))
    median = statistics.median
    print(f"\nmedians of {rounds} rounds of {seconds} s windows, {len(pages)} pages (half upside down)")
    print(f"{'side':9} {'conc':>4} {'pages/s':>8} {'exact':>6} {'CPU ms/page':>12}")
    for concurrency in (1, 8):
        for side in ("inferd", "rapidocr"):
            got = runs.get((side, concurrency))
            if got:
                print(f"{side:9} {concurrency:4} {median(g['rate'] for g in got):8.2f} "
                      f"{median(g['exact'] for g in got):6.2f} {median(g['cpu_ms'] for g in got):12.1f}")
        if ("rapidocr", concurrency) in runs:
            ratio = median(a["rate"] / b["rate"] for a, b in zip(runs[("inferd", concurrency)], runs[("rapidocr", concurrency)]))
            print(f"{'':9} {concurrency:4} inferd/RapidOCR pages/s (median of per-round ratios): {ratio:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--rapidocr-worker":
        rapidocr_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
