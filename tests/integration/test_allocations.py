"""Heap allocations per inference request: a guard that they do not grow.

Counted, not timed: tests/alloc_counter's library is preloaded into inferd
and counts every malloc, calloc, realloc and aligned allocation (C++'s new
included) into a file this test reads. The count per request on the identity
path is deterministic up to a little background noise (the connection
sweeper, gRPC's own housekeeping), so each protocol has a budget: the count
measured when it was last lowered, plus a small margin. A change that adds
allocations to the request path fails here; one that removes some should
lower the budget, so the guard keeps what was won.

Where the allocations are (heaptrack on this test's requests, 2026-12-04):
HTTP: beast's header fields (one per request and response header), the
InferenceRequest and its vectors, maps and strings, the response's outputs,
the reply body; gRPC (inferd's HTTP/2 transport, 2026-12-05): the call
object and its map entry, nghttp2's stream and the copies of the answer's
headers it keeps, the InferenceRequest, strings the protobuf arena does not
own (tensor bytes), the framed answer.
"""

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from support import InferdServer, fp32_identity, sanitizer_of, write_model

WARMUP = 200
REQUESTS = 1000

# Allocations per request at most: measured, rounded up, plus about 10%.
BUDGET = {
    "http_binary": 36,  # measured 32.3
    "http_json": 36,
    "grpc": 26,  # measured 24.2 (grpc++'s transport, before it: 23.0)
}


def counter_library(inferd_bin):
    return Path(inferd_bin).resolve().parent / "tests" / "libinferd_alloc_counter.so"


@pytest.fixture(scope="module")
def counted_server(inferd_bin, tmp_path_factory):
    if sanitizer_of(inferd_bin):
        pytest.skip("a sanitizer build replaces malloc itself: allocations are counted on the release build")
    library = counter_library(inferd_bin)
    assert library.is_file(), f"{library} is missing: the release build makes it (tests/alloc_counter)"
    work = tmp_path_factory.mktemp("alloc")
    repo = work / "repo"
    write_model(repo, "counted", fp32_identity("counted", extra="instance_group [{ kind: KIND_CPU count: 1 }]"))
    counts = work / "counts"
    env = dict(os.environ, LD_PRELOAD=str(library), INFERD_ALLOC_COUNTER_FILE=str(counts))
    with InferdServer(inferd_bin, [repo], log_dir=work, tag="alloc", env=env) as srv:
        yield srv, counts


def read_counts(path):
    with open(path, "rb") as f:
        return struct.unpack("<QQ", f.read(16))


def allocations_per_request(counts, infer):
    for _ in range(WARMUP):
        infer()
    before = read_counts(counts)
    for _ in range(REQUESTS):
        infer()
    after = read_counts(counts)
    return (after[0] - before[0]) / REQUESTS


def test_the_counter_counts(counted_server):
    # Loading a model and starting three servers allocate thousands of
    # blocks: a counter that reads zero was not preloaded.
    _, counts = counted_server
    assert read_counts(counts)[0] > 1000


@pytest.mark.parametrize("kind", sorted(BUDGET))
def test_allocations_per_identity_request_stay_within_budget(counted_server, kind):
    srv, counts = counted_server
    data = np.arange(16, dtype=np.float32).reshape(1, 16)
    if kind.startswith("http"):
        binary = kind == "http_binary"
        client = httpclient.InferenceServerClient(srv.url)
        inp = httpclient.InferInput("INPUT0", [1, 16], "FP32")
        inp.set_data_from_numpy(data, binary_data=binary)
        outputs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary)]
    else:
        client = grpcclient.InferenceServerClient(srv.grpc_url)
        inp = grpcclient.InferInput("INPUT0", [1, 16], "FP32")
        inp.set_data_from_numpy(data)
        outputs = [grpcclient.InferRequestedOutput("OUTPUT0")]

    def infer():
        out = client.infer("counted", [inp], outputs=outputs).as_numpy("OUTPUT0")
        assert out.shape == (1, 16)

    per_request = allocations_per_request(counts, infer)
    print(f"{kind}: {per_request:.2f} heap allocations per request (budget {BUDGET[kind]})")
    assert per_request <= BUDGET[kind], (
        f"{kind}: {per_request:.2f} heap allocations per identity request, over the budget of "
        f"{BUDGET[kind]}: something on the request path allocates more (find it with heaptrack)")
