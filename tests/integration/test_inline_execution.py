"""Inline execution (src/core/inline_execution.h): a quick model with an idle
instance runs on the frontend thread that read the request, so the request
costs no hand-off to the instance thread and back.

Counted, not timed: a thread that is handed work sleeps and is woken for it,
which /proc counts as a voluntary context switch of that thread. The model
instance's thread ("i:<instance>", common/thread_name.h) wakes once per
request it runs; run inline, it sleeps through them all."""

from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from support import fp32_identity, write_model

REQUESTS = 200


def instance_thread_switches(pid, model):
    """Voluntary context switches of the thread of `model`'s only instance."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        # "i:" + the instance's name, "<model>_0_0" for the first instance of its first group
        if (task / "comm").read_text().strip() == f"i:{model}_0_0"[:15]:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    found.append(int(line.split()[1]))
    assert len(found) == 1, f"no single instance thread for {model}: {found}"
    return found[0]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("inline_repo")
    one = "instance_group [{ kind: KIND_CPU count: 1 }]"
    write_model(repo, "quick", fp32_identity("quick", extra=one))
    # 2 ms per execution: longer than a frontend thread may be held.
    write_model(repo, "slow", fp32_identity("slow", extra=one + """
        parameters [{ key: "execute_delay_ms" value: { string_value: "2" } }]"""))
    write_model(repo, "batched", fp32_identity("batched", extra=one + "\ndynamic_batching { }"))
    return repo


def call(protocol, srv, model, n):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(srv.url if protocol == "http" else srv.grpc_url)
    data = np.arange(4, dtype=np.float32).reshape(1, 4)
    for i in range(n):
        inp = module.InferInput("INPUT0", [1, 4], "FP32")
        inp.set_data_from_numpy(data + i)
        out = client.infer(model, [inp]).as_numpy("OUTPUT0")
        np.testing.assert_array_equal(out, data + i)


def instance_wakeups_per_request(start_server, repo, protocol, model):
    srv = start_server([repo])
    call(protocol, srv, model, 5)  # the model's first executions show how long it takes
    before = instance_thread_switches(srv.proc.pid, model)
    call(protocol, srv, model, REQUESTS)
    return (instance_thread_switches(srv.proc.pid, model) - before) / REQUESTS


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_quick_model_runs_on_the_thread_that_read_the_request(start_server, repo, protocol):
    # Handed to the instance thread, each request wakes it once (1.0).
    assert instance_wakeups_per_request(start_server, repo, protocol, "quick") < 0.1


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_slow_model_runs_on_its_instance_thread(start_server, repo, protocol):
    # The frontend thread is not held for 2 ms a request: every request is handed over.
    assert instance_wakeups_per_request(start_server, repo, protocol, "slow") >= 0.9


def test_a_model_that_batches_runs_on_its_instance_thread(start_server, repo):
    assert instance_wakeups_per_request(start_server, repo, "http", "batched") >= 0.9


def test_requests_to_a_busy_instance_queue_and_all_are_answered(start_server, repo):
    # Many clients at once: one request at a time runs inline, the others
    # queue for the instance thread (or the next idle moment); each is
    # answered with its own data.
    from concurrent.futures import ThreadPoolExecutor
    srv = start_server([repo])
    with ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(call, protocol, srv, "quick", 50) for protocol in ("http", "grpc") * 4]:
            f.result()
    stats = httpclient.InferenceServerClient(srv.url).get_inference_statistics("quick")
    assert int(stats["model_stats"][0]["inference_stats"]["success"]["count"]) == 8 * 50
