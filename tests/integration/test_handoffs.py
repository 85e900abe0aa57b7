"""Thread hand-offs per inference request: a guard that they do not grow.

Counted, not timed: the voluntary context switches of every thread of the
server (from /proc/<pid>/task/*/status) over 1000 identity requests sent one
after the other (concurrency 1) through tritonclient. At concurrency 1 a
thread that waits for the next request blocks once per request, so the least
possible is about 1; each hand-off between threads (an I/O thread waking an
instance thread, a response posted back, an event loop shared by two threads)
adds about 2. Each protocol has a budget: the count measured when it was last
lowered, plus a margin; a change that adds a hand-off to the request path
fails here.

Measured 2026-12-05 (release build, three runs alike): HTTP 4.00 while the two
HTTP threads shared one event loop (tritonclient's HTTP client writes the
header and the body separately, two events per request, each waking the other
thread), 1.0 since each HTTP thread has a loop of its own; gRPC 1.00 (inferd's
HTTP/2 transport: one loop per thread, and the quick model runs inline on it;
on grpc++'s transport this test measures 3.01 and fails).
"""

from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from support import InferdServer, fp32_identity, sanitizer_of, write_model

WARMUP = 200
REQUESTS = 1000

# Voluntary context switches per request at most: measured, plus a margin.
BUDGET = {
    "http": 1.5,
    "grpc": 1.5,
}


def voluntary_switches(pid):
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    return total


@pytest.fixture(scope="module")
def server(inferd_bin, tmp_path_factory):
    if sanitizer_of(inferd_bin):
        pytest.skip("a sanitizer build is slow enough to change which thread runs a request: "
                    "hand-offs are counted on the release build")
    work = tmp_path_factory.mktemp("handoffs")
    repo = work / "repo"
    write_model(repo, "ident", fp32_identity("ident", extra="instance_group [{ kind: KIND_CPU count: 1 }]"))
    with InferdServer(inferd_bin, [repo], log_dir=work, tag="handoffs") as srv:
        yield srv


@pytest.mark.parametrize("protocol", sorted(BUDGET))
def test_thread_handoffs_per_request_at_concurrency_1_stay_within_budget(server, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(server.url if protocol == "http" else server.grpc_url)
    inp = module.InferInput("INPUT0", [1, 16], "FP32")
    inp.set_data_from_numpy(np.arange(16, dtype=np.float32).reshape(1, 16))

    def infer():
        out = client.infer("ident", [inp]).as_numpy("OUTPUT0")
        assert out.shape == (1, 16)

    for _ in range(WARMUP):
        infer()
    before = voluntary_switches(server.proc.pid)
    for _ in range(REQUESTS):
        infer()
    per_request = (voluntary_switches(server.proc.pid) - before) / REQUESTS
    print(f"{protocol}: {per_request:.2f} voluntary context switches per request (budget {BUDGET[protocol]})")
    assert per_request >= 0.5, "fewer than one block per request: the count is not the server's"
    assert per_request <= BUDGET[protocol], (
        f"{protocol}: {per_request:.2f} voluntary context switches per request at concurrency 1, over "
        f"the budget of {BUDGET[protocol]}: a thread hand-off was added to the request path")
