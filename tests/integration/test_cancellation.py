"""Request cancellation, as Triton has it: a gRPC client that cancels a call
(async_infer's cancel(), or stop_stream(cancel_requests=True)) cancels its
requests in the server. A request still queued is answered CANCELLED and
never runs (a waiting request of a sequence takes its whole sequence with
it); one that runs is told (a Python model's request.is_cancelled() and
response_sender.is_cancelled()); an ensemble sends no further step. Failures
are counted by reason on /metrics. HTTP has no way to cancel (as on Triton)."""

import queue
import textwrap
import time
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from support import identity_config, stats_of, write_model

# Waits up to SECONDS for its request to be cancelled; answers CANCELLED when
# it was (the client is gone by then) and OUT = [0] when not. A negative
# SECONDS asks instead whether the previous request saw its cancellation
# (OUT = [1]); over 1000 is answered with an error of the model's own.
WAITER = '''
import time
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.last = -1.0

    def execute(self, requests):
        responses = []
        for request in requests:
            seconds = float(pb_utils.get_input_tensor_by_name(request, "SECONDS").as_numpy()[0])
            if seconds < 0:
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([self.last], np.float32))]))
                continue
            if seconds > 1000:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError("too long a wait")))
                continue
            pb_utils.Logger.log_warn("waiter: waiting")
            deadline = time.monotonic() + seconds
            cancelled = request.is_cancelled()
            while not cancelled and time.monotonic() < deadline:
                time.sleep(0.02)
                cancelled = request.is_cancelled()
            self.last = 1.0 if cancelled else 0.0
            if cancelled:
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError("cancelled while waiting", pb_utils.TritonError.CANCELLED)))
            else:
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([self.last], np.float32))]))
        return responses
'''

# Sleeps SECONDS whatever happens, then answers OUT = SECONDS.
SLEEPER = '''
import time
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            seconds = pb_utils.get_input_tensor_by_name(request, "SECONDS").as_numpy()
            pb_utils.Logger.log_warn("sleeper: sleeping")
            time.sleep(float(seconds[0]))
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", seconds)]))
        return responses
'''

# Decoupled: a request with SECONDS >= 0 gets a response every 20 ms from a
# thread until its sender is cancelled (at most SECONDS); a negative one asks
# whether the previous stream ended by cancellation (OUT = [1]) or not.
TICKER = '''
import threading
import time
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.last = -1.0
        self.threads = []

    def execute(self, requests):
        for request in requests:
            seconds = float(pb_utils.get_input_tensor_by_name(request, "SECONDS").as_numpy()[0])
            sender = request.get_response_sender()
            if seconds < 0:
                sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([self.last], np.float32))]),
                            flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
                continue
            thread = threading.Thread(target=self.tick, args=(sender, seconds))
            thread.start()
            self.threads.append(thread)
        return None

    def tick(self, sender, seconds):
        deadline = time.monotonic() + seconds
        while not sender.is_cancelled() and time.monotonic() < deadline:
            sender.send(pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.array([0], np.float32))]))
            time.sleep(0.02)
        self.last = 1.0 if sender.is_cancelled() else 0.0
        sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    def finalize(self):
        for thread in self.threads:
            thread.join(timeout=5)
'''


def python_config(name, decoupled=False):
    policy = "model_transaction_policy { decoupled: true }\n" if decoupled else ""
    return textwrap.dedent(f'''
        name: "{name}"
        backend: "python"
        max_batch_size: 0
        input [{{ name: "SECONDS" data_type: TYPE_FP32 dims: [1] }}]
        output [{{ name: "OUT" data_type: TYPE_FP32 dims: [1] }}]
        instance_group [{{ kind: KIND_CPU count: 1 }}]
        ''') + policy


ENSEMBLE = '''
name: "sleep_then_copy"
platform: "ensemble"
max_batch_size: 0
input [{ name: "SECONDS" data_type: TYPE_FP32 dims: [1] }]
output [{ name: "COPY" data_type: TYPE_FP32 dims: [1] }]
ensemble_scheduling { step [
  { model_name: "sleeper" model_version: -1 input_map { key: "SECONDS" value: "SECONDS" } output_map { key: "OUT" value: "slept" } },
  { model_name: "copy" model_version: -1 input_map { key: "INPUT0" value: "slept" } output_map { key: "OUTPUT0" value: "COPY" } }
] }
'''


@pytest.fixture(scope="module")
def cancel_server(inferd_bin, tmp_path_factory):
    from support import InferdServer
    repo = tmp_path_factory.mktemp("cancellation")
    for name, code, decoupled in (("waiter", WAITER, False), ("sleeper", SLEEPER, False), ("ticker", TICKER, True)):
        d = write_model(repo, name, python_config(name, decoupled))
        (d / "1" / "model.py").write_text(textwrap.dedent(code))
    write_model(repo, "copy", identity_config("copy", [("INPUT0", "TYPE_FP32", [1])]))
    write_model(repo, "sleep_then_copy", ENSEMBLE)
    write_model(repo, "slow_sequence", identity_config(
        "slow_sequence", [("INPUT0", "TYPE_FP32", [1])], max_batch_size=1,
        extra="""sequence_batching { direct { } max_sequence_idle_microseconds: 10000000 }
                 parameters { key: "execute_delay_ms" value { string_value: "1500" } }"""))
    # One request runs a second, one waits, a third at a time is refused.
    write_model(repo, "queue_of_one", identity_config(
        "queue_of_one", [("INPUT0", "TYPE_FP32", [1])], max_batch_size=1,
        extra="""dynamic_batching { default_queue_policy { max_queue_size: 1 } }
                 parameters { key: "execute_delay_ms" value { string_value: "1000" } }"""))
    with InferdServer(inferd_bin, [repo], log_dir=tmp_path_factory.mktemp("cancellation_logs"), tag="cancel") as srv:
        yield srv


def seconds_input(module, value):
    i = module.InferInput("SECONDS", [1], "FP32")
    i.set_data_from_numpy(np.array([value], np.float32))
    return i


def wait_for(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ask_http(srv, model, value):
    client = httpclient.InferenceServerClient(srv.url, network_timeout=60)
    return float(client.infer(model, [seconds_input(httpclient, value)]).as_numpy("OUT")[0])


def test_a_request_that_is_not_cancelled_says_so(cancel_server):
    assert ask_http(cancel_server, "waiter", 0.1) == 0.0  # waited its time, never cancelled
    assert ask_http(cancel_server, "waiter", -1) == 0.0


def started(srv, line, count):
    """Waits until the server's log has `count` lines containing `line`."""
    wait_for(lambda: srv.log_text().count(line) >= count, f"{count} x '{line}' in the log")


def cancel_while_waiting(srv, client):
    """Sends the waiter a 30 s wait, cancels the call once the model waits;
    returns the error the client got."""
    answers = queue.Queue()
    waits = srv.log_text().count("waiter: waiting")
    call = client.async_infer("waiter", [seconds_input(grpcclient, 30)], lambda result, error: answers.put(error))
    started(srv, "waiter: waiting", waits + 1)
    call.cancel()
    return answers.get(timeout=30)


def one_by_one():
    """A [1, 1] FP32 input INPUT0, for the batching C identity models."""
    i = grpcclient.InferInput("INPUT0", [1, 1], "FP32")
    i.set_data_from_numpy(np.ones((1, 1), np.float32))
    return i


def test_a_cancelled_grpc_call_reaches_the_running_python_model(cancel_server):
    client = grpcclient.InferenceServerClient(cancel_server.grpc_url)
    error = cancel_while_waiting(cancel_server, client)
    assert error is not None and "cancel" in str(error).lower()
    # The model saw the cancellation (else it waits 30 s and answers 0).
    assert ask_http(cancel_server, "waiter", -1) == 1.0
    client.close()


def test_a_request_cancelled_while_queued_never_runs(cancel_server):
    client = grpcclient.InferenceServerClient(cancel_server.grpc_url)
    before = stats_of(cancel_server, "sleeper")
    sleeps = cancel_server.log_text().count("sleeper: sleeping")
    answers = queue.Queue()
    busy = client.async_infer("sleeper", [seconds_input(grpcclient, 1.5)], lambda result, error: answers.put(("busy", error)))
    started(cancel_server, "sleeper: sleeping", sleeps + 1)  # the one instance is taken
    queued = client.async_infer("sleeper", [seconds_input(grpcclient, 0)], lambda result, error: answers.put(("queued", error)))
    time.sleep(0.2)
    queued.cancel()
    got = dict(answers.get(timeout=30) for _ in range(2))
    assert got["busy"] is None and got["queued"] is not None
    # The cancelled request is answered (a failure in the statistics) and never executed.
    wait_for(lambda: stats_of(cancel_server, "sleeper")["inference_stats"]["fail"]["count"] ==
             before["inference_stats"]["fail"]["count"] + 1, "the cancelled request to be answered")
    after = stats_of(cancel_server, "sleeper")
    assert after["execution_count"] == before["execution_count"] + 1
    assert after["inference_stats"]["success"]["count"] == before["inference_stats"]["success"]["count"] + 1
    assert cancel_server.log_text().count("sleeper: sleeping") == sleeps + 1
    # And the model serves on.
    assert ask_http(cancel_server, "sleeper", 0) == 0.0
    client.close()


def test_stopping_a_stream_with_cancel_requests_stops_a_decoupled_model(cancel_server):
    client = grpcclient.InferenceServerClient(cancel_server.grpc_url)
    ticks = queue.Queue()
    client.start_stream(callback=lambda result, error: ticks.put((result, error)))
    client.async_stream_infer("ticker", [seconds_input(grpcclient, 30)])
    for _ in range(3):  # the model's thread is sending
        result, error = ticks.get(timeout=30)
        assert error is None
    client.stop_stream(cancel_requests=True)
    client.close()
    # The model's response sender saw the cancellation and ended the stream:
    # a new stream asks how the last one ended.
    asker = grpcclient.InferenceServerClient(cancel_server.grpc_url)
    answers = queue.Queue()
    asker.start_stream(callback=lambda result, error: answers.put((result, error)))

    def last_ending():
        asker.async_stream_infer("ticker", [seconds_input(grpcclient, -1)])
        result, error = answers.get(timeout=30)
        assert error is None
        return float(result.as_numpy("OUT")[0])

    wait_for(lambda: last_ending() == 1.0, "the ticker to see its stream cancelled")
    asker.stop_stream()
    asker.close()


def test_a_cancelled_ensemble_sends_no_further_step(cancel_server):
    client = grpcclient.InferenceServerClient(cancel_server.grpc_url)
    before_copy = stats_of(cancel_server, "copy")["execution_count"]
    before_sleeper = stats_of(cancel_server, "sleeper")["inference_stats"]["success"]["count"]
    before_fail = stats_of(cancel_server, "sleep_then_copy")["inference_stats"]["fail"]["count"]
    sleeps = cancel_server.log_text().count("sleeper: sleeping")
    answers = queue.Queue()
    call = client.async_infer("sleep_then_copy", [seconds_input(grpcclient, 1.0)], lambda result, error: answers.put(error))
    started(cancel_server, "sleeper: sleeping", sleeps + 1)  # step 0 runs
    call.cancel()
    assert answers.get(timeout=30) is not None
    # Step 0 finishes (it does not look), then the ensemble stops: step 1 never runs.
    wait_for(lambda: stats_of(cancel_server, "sleep_then_copy")["inference_stats"]["fail"]["count"] == before_fail + 1,
             "the ensemble request to end")
    assert stats_of(cancel_server, "sleeper")["inference_stats"]["success"]["count"] == before_sleeper + 1
    assert stats_of(cancel_server, "copy")["execution_count"] == before_copy
    # An ensemble request that is not cancelled runs both steps.
    http = httpclient.InferenceServerClient(cancel_server.url)
    out = http.infer("sleep_then_copy", [seconds_input(httpclient, 0.01)]).as_numpy("COPY")
    assert out.tolist() == pytest.approx([0.01])
    assert stats_of(cancel_server, "copy")["execution_count"] == before_copy + 1
    client.close()


def test_a_grpc_deadline_that_passes_cancels_the_request(cancel_server):
    client = grpcclient.InferenceServerClient(cancel_server.grpc_url)
    with pytest.raises(Exception) as raised:
        client.infer("waiter", [seconds_input(grpcclient, 30)], client_timeout=0.5)
    assert "deadline" in str(raised.value).lower()
    assert ask_http(cancel_server, "waiter", -1) == 1.0  # the model saw it, well before its 30 s
    client.close()


def failures_by_reason(srv, model):
    with urllib.request.urlopen(f"http://{srv.metrics_url}/metrics", timeout=10) as r:
        text = r.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("nv_inference_request_failure{") and f'model="{model}"' in line:
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            counts[reason] = float(line.rsplit(" ", 1)[1])
    return counts


def test_failures_are_counted_by_reason_as_on_triton(cancel_server):
    assert set(failures_by_reason(cancel_server, "waiter")) == {"REJECTED", "CANCELED", "BACKEND", "OTHER"}
    # BACKEND: the model answered with an error; OTHER: the server refused the input.
    before = failures_by_reason(cancel_server, "waiter")
    http = httpclient.InferenceServerClient(cancel_server.url)
    with pytest.raises(Exception, match="too long a wait"):
        http.infer("waiter", [seconds_input(httpclient, 5000)])
    wrong = httpclient.InferInput("SECONDS", [2], "FP32")
    wrong.set_data_from_numpy(np.array([1, 2], np.float32))
    with pytest.raises(Exception):
        http.infer("waiter", [wrong])
    # CANCELED: a call cancelled while its model ran (the model answered CANCELLED).
    client = grpcclient.InferenceServerClient(cancel_server.grpc_url)
    cancel_while_waiting(cancel_server, client)
    wait_for(lambda: failures_by_reason(cancel_server, "waiter")["CANCELED"] == before["CANCELED"] + 1, "CANCELED")
    after = failures_by_reason(cancel_server, "waiter")
    assert after == {"REJECTED": before["REJECTED"], "CANCELED": before["CANCELED"] + 1,
                     "BACKEND": before["BACKEND"] + 1, "OTHER": before["OTHER"] + 1}, (before, after)
    # REJECTED: a queue that holds one request refuses a third at once.
    before = failures_by_reason(cancel_server, "queue_of_one")
    results = queue.Queue()
    client.async_infer("queue_of_one", [one_by_one()], lambda result, error: results.put(error))
    time.sleep(0.3)  # running
    client.async_infer("queue_of_one", [one_by_one()], lambda result, error: results.put(error))
    time.sleep(0.3)  # waiting
    with pytest.raises(Exception, match="full"):
        client.infer("queue_of_one", [one_by_one()])
    assert [results.get(timeout=30), results.get(timeout=30)] == [None, None]
    assert failures_by_reason(cancel_server, "queue_of_one")["REJECTED"] == before["REJECTED"] + 1
    client.close()


def test_cancelling_a_waiting_request_of_a_sequence_cancels_the_whole_sequence(cancel_server):
    # As on Triton (its QA L0_request_cancellation): the sequence's other
    # waiting requests are answered CANCELLED too, and the sequence ends.
    client = grpcclient.InferenceServerClient(cancel_server.grpc_url)
    before = failures_by_reason(cancel_server, "slow_sequence")
    answers = queue.Queue()
    client.async_infer("slow_sequence", [one_by_one()], lambda result, error: answers.put(("start", error)),
                       sequence_id=7, sequence_start=True)
    time.sleep(0.3)  # running, for 1.5 s
    waiting = [client.async_infer("slow_sequence", [one_by_one()], lambda result, error, i=i: answers.put((i, error)),
                                  sequence_id=7) for i in range(2)]
    time.sleep(0.3)
    waiting[0].cancel()
    got = dict(answers.get(timeout=30) for _ in range(3))
    assert got["start"] is None
    assert got[0] is not None  # cancelled by its client
    assert got[1] is not None and got[1].status() == "StatusCode.CANCELLED" and "sequence 7" in got[1].message(), got[1]
    wait_for(lambda: failures_by_reason(cancel_server, "slow_sequence")["CANCELED"] == before["CANCELED"] + 2,
             "both waiting requests to count as cancelled")
    # The sequence is over: only a START continues its id.
    with pytest.raises(Exception, match="START"):
        client.infer("slow_sequence", [one_by_one()], sequence_id=7)
    client.infer("slow_sequence", [one_by_one()], sequence_id=7, sequence_start=True, sequence_end=True)
    client.close()
