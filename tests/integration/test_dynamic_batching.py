"""Dynamic batcher through the real server: batching shows in the statistics,
priorities order the queue, queue timeouts and a full queue answer clearly."""

import time

import gevent
import numpy as np
import pytest
import tritonclient.http as httpclient

from support import expect_server_error, fp32_identity, make_input, write_model

BUSY = """
    instance_group [{ count: 1 }]
    parameters { key: "execute_delay_ms" value { string_value: "250" } }
"""


@pytest.fixture
def repo(make_repo):
    r = make_repo("batching")
    write_model(r, "batched", fp32_identity("batched", 8, extra="""
        instance_group [{ count: 1 }]
        parameters { key: "execute_delay_ms" value { string_value: "100" } }
        dynamic_batching { max_queue_delay_microseconds: 50000 }"""))
    write_model(r, "unbatched", fp32_identity("unbatched", 8, extra="""
        instance_group [{ count: 1 }]
        parameters { key: "execute_delay_ms" value { string_value: "100" } }"""))
    write_model(r, "prio", fp32_identity("prio", 1, extra=BUSY + """
        dynamic_batching { priority_levels: 2 default_priority_level: 2 }"""))
    write_model(r, "timeout", fp32_identity("timeout", 1, extra=BUSY + """
        dynamic_batching { default_queue_policy { default_timeout_microseconds: 100000 } }"""))
    write_model(r, "delayed", fp32_identity("delayed", 1, extra=BUSY + """
        dynamic_batching { default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100000 } }"""))
    write_model(r, "small_queue", fp32_identity("small_queue", 1, extra=BUSY + """
        dynamic_batching { default_queue_policy { max_queue_size: 1 } }"""))
    return r


def x_of(i):
    return np.full((1, 2), float(i), np.float32)


def send_all(url, model, items, **kwargs):
    """Sends the items 30 ms apart; returns the results (or exceptions), the
    order they completed in, and when each completed (time.monotonic())."""
    client = httpclient.InferenceServerClient(url, concurrency=len(items), network_timeout=30)
    order, results, finished = [], {}, {}

    def one(key, params):
        try:
            results[key] = client.infer(model, [make_input("INPUT0", x_of(key))], **params)
        except Exception as exc:  # noqa: BLE001 - returned to the test
            results[key] = exc
        order.append(key)
        finished[key] = time.monotonic()

    greenlets = []
    for key, params in items:
        greenlets.append(gevent.spawn(one, key, {**kwargs, **params}))
        gevent.sleep(0.03)  # arrive in this order
    gevent.joinall(greenlets, timeout=30)
    client.close()
    return results, order, finished


@pytest.mark.parametrize("model,batched", [("batched", True), ("unbatched", False)])
def test_concurrent_requests_share_executions_only_with_batching(start_server, repo, model, batched):
    srv = start_server([repo])
    results, _, _ = send_all(srv.url, model, [(i, {}) for i in range(6)])
    for i in range(6):
        np.testing.assert_array_equal(results[i].as_numpy("OUTPUT0"), x_of(i))
    c = httpclient.InferenceServerClient(srv.url)
    stats = c.get_inference_statistics(model)["model_stats"][0]
    inferences, executions = int(stats["inference_count"]), int(stats["execution_count"])
    assert inferences == 6
    assert (executions < inferences) if batched else (executions == inferences)


def test_higher_priority_is_served_first(start_server, repo):
    srv = start_server([repo])
    # 0 occupies the instance; 1-3 queue at the default (low) level; 4 comes last at level 1.
    items = [(0, {}), (1, {}), (2, {}), (3, {}), (4, {"priority": 1})]
    results, order, _ = send_all(srv.url, "prio", items)
    assert all(not isinstance(r, Exception) for r in results.values()), results
    assert order.index(4) < order.index(1), order


def test_out_of_range_priority_is_refused(start_server, repo):
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    expect_server_error(c.infer, "prio", [make_input("INPUT0", x_of(1))], priority=3,
                        contains=["priority 3", "out of range"])


def test_timed_out_requests_get_the_documented_error(start_server, repo):
    srv = start_server([repo])
    results, _, _ = send_all(srv.url, "timeout", [(0, {}), (1, {})])
    np.testing.assert_array_equal(results[0].as_numpy("OUTPUT0"), x_of(0))
    assert isinstance(results[1], Exception)
    assert "timeout expired" in str(results[1]).lower()


def test_delay_policy_runs_timed_out_requests_later(start_server, repo):
    srv = start_server([repo])
    results, _, _ = send_all(srv.url, "delayed", [(0, {}), (1, {})])
    for i in range(2):
        np.testing.assert_array_equal(results[i].as_numpy("OUTPUT0"), x_of(i))


def test_a_full_queue_is_refused_clearly(start_server, repo):
    srv = start_server([repo])
    # 0 runs, 1 waits in the queue (size 1), 2 finds it full.
    results, _, _ = send_all(srv.url, "small_queue", [(0, {}), (1, {}), (2, {})])
    np.testing.assert_array_equal(results[0].as_numpy("OUTPUT0"), x_of(0))
    np.testing.assert_array_equal(results[1].as_numpy("OUTPUT0"), x_of(1))
    assert isinstance(results[2], Exception)
    assert "is full" in str(results[2]) and "max_queue_size 1" in str(results[2])
    time.sleep(0.3)
    c = httpclient.InferenceServerClient(srv.url)
    np.testing.assert_array_equal(
        c.infer("small_queue", [make_input("INPUT0", x_of(7))]).as_numpy("OUTPUT0"), x_of(7))


@pytest.mark.parametrize("preserve", [True, False])
def test_preserve_ordering_answers_in_arrival_order(start_server, make_repo, preserve):
    repo = make_repo("ordering")
    write_model(repo, "m", fp32_identity("m", 1, extra=f"""
        instance_group [{{ count: 2 }}]
        parameters {{ key: "allow_request_delay" value {{ string_value: "true" }} }}
        dynamic_batching {{ preserve_ordering: {str(preserve).lower()} }}"""))
    srv = start_server([repo])
    # 0 runs 400 ms on one instance; 1 runs at once on the other and finishes
    # first, but with preserve_ordering its answer waits for 0's.
    items = [(0, {"parameters": {"execute_delay_ms": 400}}), (1, {})]
    start = time.monotonic()
    results, _, finished = send_all(srv.url, "m", items)
    for i in range(2):
        np.testing.assert_array_equal(results[i].as_numpy("OUTPUT0"), x_of(i))
    waited = finished[1] - start
    assert (waited >= 0.35) if preserve else (waited < 0.3), waited
