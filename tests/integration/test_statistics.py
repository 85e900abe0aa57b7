"""Statistics extension: counters move by exactly the traffic sent.

``identity_stats`` is used by this module only, so its counters are not moved by
other tests (the shared server lives for the whole session)."""

import json
import time

import numpy as np
import pytest
import tritonclient.http as httpclient

from support import GOOD_MODELS, expect_server_error, make_input, raw_request

STAT_KINDS = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output")


def _one(stats, name, version=None):
    entries = [s for s in stats["model_stats"] if s["name"] == name
               and (version is None or str(s["version"]) == str(version))]
    assert len(entries) == 1, f"expected one stats entry for {name} v{version}: {stats}"
    return entries[0]


def _snapshot(client, name, version=""):
    return _one(client.get_inference_statistics(name, version), name, version or None)


def _count(entry, kind):
    return int(entry["inference_stats"][kind]["count"])


def _ns(entry, kind):
    return int(entry["inference_stats"][kind]["ns"])


def _batch_counts(entry):
    out = {}
    for b in entry.get("batch_stats", []) or []:
        out[int(b["batch_size"])] = int(b["compute_infer"]["count"])
    return out


def test_stats_shape(client):
    e = _snapshot(client, "identity_stats")
    assert e["name"] == "identity_stats"
    assert str(e["version"]) == "1"
    for field in ("last_inference", "inference_count", "execution_count"):
        assert field in e, field
    for kind in STAT_KINDS:
        assert set(e["inference_stats"][kind]) >= {"count", "ns"}, kind


def test_counters_move_by_exactly_the_traffic(client):
    before = _snapshot(client, "identity_stats")
    t0_ms = time.time() * 1000.0

    batches = [1, 2, 4]
    for b in batches:
        x = np.arange(b * 3, dtype=np.float32).reshape(b, 3)
        res = client.infer("identity_stats", [make_input("INPUT0", x)])
        np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)

    # One failed request (INPUT0 is FP32; INT32 is sent).
    bad = make_input("INPUT0", np.ones((1, 3), dtype=np.int32), "INT32")
    expect_server_error(client.infer, "identity_stats", [bad], contains=["INPUT0"])

    t1_ms = time.time() * 1000.0
    after = _snapshot(client, "identity_stats")

    n = len(batches)
    assert int(after["inference_count"]) - int(before["inference_count"]) == sum(batches)
    assert int(after["execution_count"]) - int(before["execution_count"]) == n
    assert _count(after, "success") - _count(before, "success") == n
    assert _count(after, "fail") - _count(before, "fail") == 1
    for kind in ("queue", "compute_input", "compute_infer", "compute_output"):
        assert _count(after, kind) - _count(before, kind) == n, kind
    assert _ns(after, "success") > _ns(before, "success")
    assert _ns(after, "compute_infer") >= _ns(before, "compute_infer")
    # the cumulative success duration covers at least the compute duration
    assert (_ns(after, "success") - _ns(before, "success")) >= (
        _ns(after, "compute_infer") - _ns(before, "compute_infer"))

    bc_before, bc_after = _batch_counts(before), _batch_counts(after)
    for b in batches:
        assert bc_after.get(b, 0) - bc_before.get(b, 0) == 1, (b, bc_before, bc_after)
    for b in set(bc_after) - set(batches):
        assert bc_after[b] == bc_before.get(b, 0), (b, bc_before, bc_after)

    last = int(after["last_inference"])
    assert t0_ms - 2000 <= last <= t1_ms + 2000, (t0_ms, last, t1_ms)


def test_failed_requests_only_move_fail(client):
    before = _snapshot(client, "identity_stats")
    bad_shape = make_input("INPUT0", np.ones((9, 2), dtype=np.float32))  # batch 9 > 8
    expect_server_error(client.infer, "identity_stats", [bad_shape])
    bad_type = make_input("INPUT0", np.ones((1, 2), dtype=np.float64), "FP64")
    expect_server_error(client.infer, "identity_stats", [bad_type])
    after = _snapshot(client, "identity_stats")
    assert _count(after, "fail") - _count(before, "fail") == 2
    assert _count(after, "success") == _count(before, "success")
    assert int(after["inference_count"]) == int(before["inference_count"])
    assert int(after["execution_count"]) == int(before["execution_count"])


def test_compute_time_is_measured(client):
    before = _snapshot(client, "slow")
    x = np.ones((1, 4), dtype=np.float32)
    np.testing.assert_array_equal(
        client.infer("slow", [make_input("INPUT0", x)]).as_numpy("OUTPUT0"), x)
    after = _snapshot(client, "slow")
    assert _count(after, "compute_infer") - _count(before, "compute_infer") == 1
    # execute_delay_ms is 300; the sleep falls within the compute phases of the
    # execution (which of compute_input/infer/output is left to the backend).
    compute = sum(_ns(after, k) - _ns(before, k)
                  for k in ("compute_input", "compute_infer", "compute_output"))
    assert compute >= 250_000_000
    assert _ns(after, "success") - _ns(before, "success") >= 250_000_000


def test_all_models_stats(client):
    stats = client.get_inference_statistics()
    names = {s["name"] for s in stats["model_stats"]}
    missing = set(GOOD_MODELS) - names
    assert not missing, f"no stats for {missing}"
    versions = sorted(str(s["version"]) for s in stats["model_stats"]
                      if s["name"] == "versioned_all")
    assert versions == ["1", "2", "3"]


def test_per_version_stats(client):
    s = client.get_inference_statistics("versioned_all")
    assert sorted(str(e["version"]) for e in s["model_stats"]) == ["1", "2", "3"]
    assert all(e["name"] == "versioned_all" for e in s["model_stats"])

    v1_before = _snapshot(client, "versioned_all", "1")
    v2_before = _snapshot(client, "versioned_all", "2")
    x = np.ones((3, 2), dtype=np.float32)
    for _ in range(2):
        res = client.infer("versioned_all", [make_input("INPUT0", x)], model_version="2")
        np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)
    v1_after = _snapshot(client, "versioned_all", "1")
    v2_after = _snapshot(client, "versioned_all", "2")

    assert int(v2_after["inference_count"]) - int(v2_before["inference_count"]) == 6
    assert int(v2_after["execution_count"]) - int(v2_before["execution_count"]) == 2
    assert _count(v2_after, "success") - _count(v2_before, "success") == 2
    assert int(v1_after["inference_count"]) == int(v1_before["inference_count"])
    assert _count(v1_after, "success") == _count(v1_before, "success")

    only_v2 = client.get_inference_statistics("versioned_all", "2")
    assert len(only_v2["model_stats"]) == 1
    assert str(only_v2["model_stats"][0]["version"]) == "2"


def test_stats_unknown_model_404(client):
    expect_server_error(client.get_inference_statistics, "no_such_model", status=404)


def test_stats_unknown_version_404(client):
    expect_server_error(client.get_inference_statistics, "versioned", "1", status=404)
    expect_server_error(client.get_inference_statistics, "identity_fp32", "9", status=404)


def test_stats_after_compressed_and_json_requests(client):
    before = _snapshot(client, "identity_stats")
    x = np.ones((2, 2), dtype=np.float32)
    client.infer("identity_stats", [make_input("INPUT0", x, binary=False)],
                 outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)])
    client.infer("identity_stats", [make_input("INPUT0", x)],
                 request_compression_algorithm="gzip")
    after = _snapshot(client, "identity_stats")
    assert int(after["inference_count"]) - int(before["inference_count"]) == 4
    assert _count(after, "success") - _count(before, "success") == 2


@pytest.mark.parametrize("path", ["/v2/models/stats", "/v2/models/identity_stats/stats",
                                  "/v2/models/identity_stats/versions/1/stats"])
def test_stats_raw_endpoints(server, path):
    status, _, body = raw_request(server.url, "GET", path)
    assert status == 200, body
    doc = json.loads(body)
    assert any(e["name"] == "identity_stats" for e in doc["model_stats"])
