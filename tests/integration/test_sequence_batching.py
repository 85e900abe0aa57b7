"""Sequence batcher with the accumulator backend (a running sum per sequence,
kept in the instance): START/END delivery, instance affinity with interleaved
sequences in both strategies, string and integer ids, idle expiry."""

import threading
import time

import numpy as np
import pytest
import tritonclient.http as httpclient

from support import accumulator_config, expect_server_error, write_model

@pytest.fixture(scope="module")
def seq_server(inferd_bin, tmp_path_factory):
    from support import InferdServer
    repo = tmp_path_factory.mktemp("sequences")
    write_model(repo, "acc_direct", accumulator_config("acc_direct", "direct { }"))
    write_model(repo, "acc_oldest", accumulator_config("acc_oldest", "oldest { max_candidate_sequences: 4 }"))
    # One instance with 2 slots; a batch waits up to 1 s for a second sequence.
    write_model(repo, "acc_direct_wait", accumulator_config(
        "acc_direct_wait", "direct { max_queue_delay_microseconds: 1000000 minimum_slot_utilization: 1.0 }", 1))
    write_model(repo, "acc_oldest_wait", accumulator_config(
        "acc_oldest_wait", "oldest { max_candidate_sequences: 4 max_queue_delay_microseconds: 1000000 "
        "preferred_batch_size: [2] preserve_ordering: true }", 1))
    with InferdServer(inferd_bin, [repo], log_dir=repo, tag="sequences") as srv:
        yield srv


def send(client, model, seq_id, value, start=False, end=False):
    inp = httpclient.InferInput("INPUT", [1, 1], "INT32")
    inp.set_data_from_numpy(np.array([[value]], np.int32))
    res = client.infer(model, [inp], sequence_id=seq_id, sequence_start=start, sequence_end=end)
    return int(res.as_numpy("OUTPUT")[0][0]), res.as_numpy("INSTANCE")[0][0].decode()


@pytest.mark.parametrize("model", ["acc_direct", "acc_oldest"])
def test_interleaved_sequences_keep_their_sums_and_instances(seq_server, model):
    ids = [101, 102, "seq-a", "seq-b"]  # 4 sequences: 2 instances x 2 slots
    values = {sid: [i + 1 + 10 * k for i in range(5)] for k, sid in enumerate(ids)}
    seen = {sid: [] for sid in ids}
    errors = []

    def run(sid):
        c = httpclient.InferenceServerClient(seq_server.url)
        try:
            for i, v in enumerate(values[sid]):
                seen[sid].append(send(c, model, sid, v, start=i == 0, end=i == len(values[sid]) - 1))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{sid}: {exc}")
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(sid,)) for sid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    instances = set()
    for sid in ids:
        sums = [s for s, _ in seen[sid]]
        assert sums == list(np.cumsum(values[sid])), (sid, sums)
        where = {inst for _, inst in seen[sid]}
        assert len(where) == 1, (sid, where)  # one instance for the whole sequence
        instances |= where
    assert len(instances) == 2  # the sequences were spread over both instances


def test_a_new_start_resets_the_sequence(seq_server):
    c = httpclient.InferenceServerClient(seq_server.url)
    assert send(c, "acc_direct", 7, 5, start=True)[0] == 5
    assert send(c, "acc_direct", 7, 5)[0] == 10
    assert send(c, "acc_direct", 7, 1, start=True, end=True)[0] == 1


def test_requests_need_a_sequence_and_a_start(seq_server):
    c = httpclient.InferenceServerClient(seq_server.url)
    inp = httpclient.InferInput("INPUT", [1, 1], "INT32")
    inp.set_data_from_numpy(np.array([[1]], np.int32))
    expect_server_error(c.infer, "acc_direct", [inp], contains=["sequence_id"])
    expect_server_error(send, c, "acc_direct", 999, 1, contains=["START"])


def test_idle_sequences_expire(seq_server):
    c = httpclient.InferenceServerClient(seq_server.url)
    assert send(c, "acc_direct", 55, 3, start=True)[0] == 3
    time.sleep(0.8)  # max_sequence_idle_microseconds is 0.5 s
    expect_server_error(send, c, "acc_direct", 55, 1, contains=["START"])


def stateful_config(name, initial):
    """The accumulator keeping its sum in implicit state instead of the instance."""
    state = ('state [{ input_name: "STATE_IN" output_name: "STATE_OUT" data_type: TYPE_INT32 dims: [1] '
             + initial + " }]")
    return accumulator_config(name, strategy=state, controls="", idle_us=0)


@pytest.mark.parametrize("initial,offset", [("", 0), ('initial_state [{ data_type: TYPE_INT32 dims: [1] data_file: "hundred" name: "s" }]', 100)])
def test_implicit_state_carries_the_sum(start_server, make_repo, initial, offset):
    repo = make_repo()
    d = write_model(repo, "stateful", stateful_config("stateful", initial))
    (d / "initial_state").mkdir()
    (d / "initial_state" / "hundred").write_bytes(np.array([100], np.int32).tobytes())
    srv = start_server([repo])
    c = httpclient.InferenceServerClient(srv.url)
    for seq in (1, 2):  # a second sequence starts from the initial state again
        sums = [send(c, "stateful", seq, v, start=i == 0, end=i == 3)[0] for i, v in enumerate([1, 2, 3, 4])]
        assert sums == [offset + 1, offset + 3, offset + 6, offset + 10]
    res = c.infer("stateful", [_one(5)], sequence_id=3, sequence_start=True)
    assert "STATE_OUT" not in [o["name"] for o in res.get_response()["outputs"]]  # the server's, not the client's


def _one(v):
    inp = httpclient.InferInput("INPUT", [1, 1], "INT32")
    inp.set_data_from_numpy(np.array([[v]], np.int32))
    return inp


def _counts(client, model):
    stats = client.get_inference_statistics(model)["model_stats"][0]
    return stats["inference_count"], stats["execution_count"]


@pytest.mark.parametrize("model", ["acc_direct_wait", "acc_oldest_wait"])
def test_strategy_delay_gathers_sequences_into_one_batch(seq_server, model):
    """direct: minimum_slot_utilization 1.0 of 2 slots; oldest: preferred_batch_size 2.
    Either way two sequences arriving within the 1 s delay run as one batch,
    and a sequence alone waits the delay out for a partner."""
    c = httpclient.InferenceServerClient(seq_server.url, concurrency=2)
    inferences, executions = _counts(c, model)
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def run(sid, value):
        own = httpclient.InferenceServerClient(seq_server.url)
        try:
            barrier.wait()
            results[sid] = send(own, model, sid, value, start=True, end=True)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{sid}: {exc}")
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(sid, v)) for sid, v in ((201, 4), (202, 9))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results[201][0] == 4 and results[202][0] == 9
    assert _counts(c, model) == (inferences + 2, executions + 1)

    started = time.monotonic()
    assert send(c, model, 203, 6, start=True, end=True)[0] == 6
    assert time.monotonic() - started >= 0.95  # waited for the delay (a lower bound only)
    assert _counts(c, model) == (inferences + 3, executions + 2)
