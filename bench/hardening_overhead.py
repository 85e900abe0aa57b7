"""The cost of the hardening on the hot path: the identity model (1x16 FP32)
over HTTP and gRPC at concurrency 1 and 8, served by an earlier inferd
(--before, built from the commit to compare with) and by this one, in
alternated runs (before, after, before, after, ...) with the same load
generator (Triton's perf_analyzer). Prints the server's CPU time per request
of each run and, per row, the median of the per-pair ratios after/before
(the machine's speed drifts within minutes; pairs taken back to back do not).
    git worktree add /tmp/before <commit> && (cd /tmp/before && scripts/build release)
    .venv/bin/python bench/hardening_overhead.py --before /tmp/before/build/release/inferd [--pairs 5] [--seconds 4]
"""
import argparse
import csv
import io
import statistics
import subprocess
import tempfile
from pathlib import Path

import tritonclient.http as httpclient

from benchlib import BIN, IDENTITY_MODEL, LOAD_TOOLS, cpu_seconds, identity_server, model_successes


def cpu_per_request(binary, protocol, concurrency, seconds):
    """Server CPU microseconds per answered request for one perf_analyzer run."""
    with identity_server(binary=binary) as (server, urls):
        client = httpclient.InferenceServerClient(urls["http"])
        cpu0, n0 = cpu_seconds(server.pid), model_successes(client)
        with tempfile.NamedTemporaryFile(suffix=".csv") as f:
            subprocess.run(
                [LOAD_TOOLS["perf_analyzer"], "-m", IDENTITY_MODEL, "-i", protocol, "-u", urls[protocol],
                 f"--concurrency-range={concurrency}", "-p", str(seconds * 1000), "-s", "50", "-r", "3",
                 "-f", f.name],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=300)
            rate = float(next(csv.DictReader(io.StringIO(Path(f.name).read_text())))["Inferences/Second"])
        cpu1, n1 = cpu_seconds(server.pid), model_successes(client)
    return (cpu1 - cpu0) / max(1, n1 - n0) * 1e6, rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="inferd binary to compare with")
    parser.add_argument("--after", default=BIN)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rows", default="http:1,http:8,grpc:1,grpc:8",
                        help="protocol:concurrency pairs to measure")
    args = parser.parse_args()
    rows = [(p, int(c)) for p, c in (r.split(":") for r in args.rows.split(","))]
    print(f"before: {args.before}\nafter:  {args.after}")
    print(f"{'row':10} {'before us/req':>14} {'after us/req':>13} {'ratio (median of pairs)':>24}")
    for protocol, concurrency in rows:
        before, after, ratios = [], [], []
        for _ in range(args.pairs):
            b, _ = cpu_per_request(args.before, protocol, concurrency, args.seconds)
            a, _ = cpu_per_request(args.after, protocol, concurrency, args.seconds)
            before.append(b)
            after.append(a)
            ratios.append(a / b)
        row = f"{protocol} c{concurrency}"
        print(f"{row:10} {statistics.median(before):>14.1f} {statistics.median(after):>13.1f} "
              f"{statistics.median(ratios):>24.3f}   pairs: {' '.join(f'{r:.3f}' for r in ratios)}",
              flush=True)

if __name__ == "__main__":
    main()
