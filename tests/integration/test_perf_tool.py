"""inferd-perf, the load generator, against a real inferd: beside Triton's own
perf_analyzer on the same configuration, its CSV, its modes, and its errors."""

import csv
import io
import json
import subprocess

import pytest

from support import identity_config, write_model

PERF_HEADER = ("Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
               "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,"
               "p50 latency,p90 latency,p95 latency,p99 latency")


@pytest.fixture(scope="module")
def perf_server(inferd_bin, tmp_path_factory):
    from support import InferdServer
    repo = tmp_path_factory.mktemp("perf_repo")
    write_model(repo, "identity_1x16", identity_config(
        "identity_1x16", [("INPUT0", "TYPE_FP32", [1, 16])], max_batch_size=0))
    write_model(repo, "identity_var", identity_config(
        "identity_var", [("INPUT0", "TYPE_FP32", [-1])], max_batch_size=8))
    # The model's own 10 ms sets the pace: both tools must then see the same.
    write_model(repo, "delayed", identity_config(
        "delayed", [("INPUT0", "TYPE_FP32", [16])], max_batch_size=0,
        extra='parameters { key: "execute_delay_ms" value { string_value: "10" } }'))
    write_model(repo, "repeat_int32", identity_config(
        "repeat_int32",
        [("IN", "TYPE_INT32", [-1]), ("DELAY", "TYPE_UINT32", [-1], "optional: true"),
         ("WAIT", "TYPE_UINT32", [1], "optional: true")],
        outputs=[("OUT", "TYPE_INT32", [1]), ("IDX", "TYPE_UINT32", [1])],
        backend="repeat", extra="model_transaction_policy { decoupled: true }"))
    with InferdServer(inferd_bin, [repo], log_dir=tmp_path_factory.mktemp("perf_logs"), tag="perf") as srv:
        yield srv


@pytest.fixture(scope="module")
def perf_bin(inferd_bin):
    path = inferd_bin.parent / "inferd-perf"
    assert path.is_file(), f"{path} is missing: build it with scripts/build"
    return path


def run_tool(argv, timeout=120):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)


def read_csv(path):
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert rows, f"{path} has no rows"
    return rows


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_agrees_with_perf_analyzer(perf_bin, perf_server, tmp_path, protocol):
    url = perf_server.url if protocol == "http" else perf_server.grpc_url
    common = ["-m", "delayed", "-i", protocol, "-u", url, "--concurrency-range", "1",
              "-p", "1500", "-s", "15"]
    ours = run_tool([perf_bin, *common, "-f", tmp_path / "ours.csv"])
    assert ours.returncode == 0, ours.stderr + ours.stdout
    from support import REPO_ROOT
    theirs = run_tool([REPO_ROOT / ".venv/bin/perf_analyzer", *common, "-f", tmp_path / "theirs.csv"])
    assert theirs.returncode == 0, theirs.stdout[-3000:]
    a, b = read_csv(tmp_path / "ours.csv")[0], read_csv(tmp_path / "theirs.csv")[0]
    ta, tb = float(a["Inferences/Second"]), float(b["Inferences/Second"])
    pa, pb = float(a["p50 latency"]), float(b["p50 latency"])
    assert abs(ta - tb) <= 0.10 * tb, f"throughput inferd-perf {ta} vs perf_analyzer {tb}"
    assert abs(pa - pb) <= 0.15 * pb, f"p50 inferd-perf {pa} us vs perf_analyzer {pb} us"
    # The server side is reported too: every request ran the 10 ms model.
    assert "Server: " in ours.stdout and "compute infer" in ours.stdout
    assert float(a["Server Compute Infer"]) >= 9000


def test_csv_has_perf_analyzers_columns(perf_bin, perf_server, tmp_path):
    out = tmp_path / "sweep.csv"
    r = run_tool([perf_bin, "-m", "identity_var", "-u", perf_server.url, "--shape", "INPUT0:16",
                  "-b", "2", "--concurrency-range", "1:2", "-p", "300", "-s", "50", "-f", out])
    assert r.returncode == 0, r.stderr + r.stdout
    assert out.read_text().splitlines()[0] == PERF_HEADER
    rows = read_csv(out)
    assert [row["Concurrency"] for row in rows] == ["1", "2"]
    for row in rows:
        assert float(row["Inferences/Second"]) > 0
        assert int(row["p50 latency"]) <= int(row["p99 latency"])
    assert "Inferences/Second vs. Client Average Batch Latency" in r.stdout
    assert "Request concurrency: 2" in r.stdout


def test_request_rate_mode_and_verbose_csv(perf_bin, perf_server, tmp_path):
    out = tmp_path / "rate.csv"
    r = run_tool([perf_bin, "-m", "identity_1x16", "-i", "grpc", "-u", perf_server.grpc_url,
                  "--request-rate-range", "100", "--request-distribution", "poisson",
                  "-p", "500", "-s", "50", "--verbose-csv", "-f", out])
    assert r.returncode == 0, r.stderr + r.stdout
    header = out.read_text().splitlines()[0]
    assert header.startswith("Request Rate,Inferences/Second,")
    assert header.endswith(",Avg latency,request/response,response wait")
    assert read_csv(out)[0]["Request Rate"] == "100"


def test_count_windows_and_percentile(perf_bin, perf_server):
    r = run_tool([perf_bin, "-m", "identity_1x16", "-u", perf_server.url,
                  "--measurement-mode", "count_windows", "--measurement-request-count", "200",
                  "--percentile", "95", "-s", "80"])
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Inferences/Second vs. Client p95 Batch Latency" in r.stdout
    # Not a terminal here: progress comes as plain lines, one per window.
    assert "trial 1/10" in r.stderr and "\r" not in r.stderr


@pytest.mark.parametrize("argv, expected", [
    (["-m", "no_such_model"], "no_such_model"),
    (["-m", "identity_var", "--shape", "INPUT0:2,2"], "INPUT0"),
    (["-m", "identity_var"], "--shape INPUT0"),
    (["-m", "identity_1x16", "-b", "4"], "max_batch_size 0"),
    (["-m", "identity_var", "--shape", "NOPE:3"], "NOPE"),
])
def test_bad_requests_fail_clearly(perf_bin, perf_server, argv, expected):
    r = run_tool([perf_bin, "-u", perf_server.url, "-p", "200", *argv])
    assert r.returncode != 0
    assert expected in r.stderr, r.stderr


def test_server_down_fails_clearly(perf_bin):
    from support import free_port
    port = free_port()
    for protocol in ("http", "grpc"):
        r = run_tool([perf_bin, "-m", "x", "-i", protocol, "-u", f"127.0.0.1:{port}", "-p", "200"],
                     timeout=60)
        assert r.returncode != 0
        assert "not live" in r.stderr, r.stderr


def test_bad_flags_are_usage_errors(perf_bin):
    r = run_tool([perf_bin, "-m", "x", "--concurrency-range", "4:1"])
    assert r.returncode == 2 and "concurrency-range" in r.stderr
    r = run_tool([perf_bin, "-m", "x", "--no-such-flag"])
    assert r.returncode == 2


def test_streaming_measures_a_decoupled_model(perf_bin, perf_server, tmp_path):
    """Over a gRPC stream a request ends at its final response: three values
    with 2 ms each take at least 6 ms (a lower bound: sleeps are never shorter)."""
    data = tmp_path / "repeat.json"
    data.write_text(json.dumps({"data": [{
        "IN": {"content": [1, 2, 3], "shape": [3]},
        "DELAY": {"content": [2, 2, 2], "shape": [3]},
        "WAIT": {"content": [0], "shape": [1]}}]}))
    out = tmp_path / "stream.csv"
    r = run_tool([perf_bin, "-m", "repeat_int32", "-i", "grpc", "-u", perf_server.grpc_url,
                  "--streaming", "--input-data", data, "-p", "500", "-s", "50", "-f", out])
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Using streaming calls for inference" in r.stdout
    assert int(read_csv(out)[0]["p50 latency"]) >= 6000
    # Without a stream a decoupled model cannot be measured; HTTP has no stream.
    r = run_tool([perf_bin, "-m", "repeat_int32", "-i", "grpc", "-u", perf_server.grpc_url, "-p", "200"])
    assert r.returncode == 1 and "--streaming" in r.stderr
    r = run_tool([perf_bin, "-m", "repeat_int32", "-u", perf_server.url, "--streaming"])
    assert r.returncode == 2 and "needs -i grpc" in r.stderr


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_cpp_example_client_round_trip(inferd_bin, perf_server, protocol):
    """The C++ example client, on the same client library, gets its numbers back."""
    url = perf_server.url if protocol == "http" else perf_server.grpc_url
    r = run_tool([inferd_bin.parent / "inferd-simple-client", "-i", protocol, "-u", url,
                  "-m", "identity_var"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "OUTPUT0: 1.5 -2 3.25 4"
    bad = run_tool([inferd_bin.parent / "inferd-simple-client", "-i", protocol, "-u", url,
                    "-m", "no_such_model"])
    assert bad.returncode == 1 and "no_such_model" in bad.stderr
