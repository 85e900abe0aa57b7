"""Rate limiter (--rate-limit=execution_count) through the real server: two
models whose instances need the one copy of a resource never execute at the
same time; counts and flags are checked at load and on the command line."""

import subprocess
import threading

import numpy as np
import tritonclient.http as httpclient

from support import fp32_identity, make_input, write_model


def limited(name, count, delay_ms=300):
    return fp32_identity(name, 8, extra=f"""
        instance_group [{{ count: 1 kind: KIND_CPU
                          rate_limiter {{ resources [{{ name: "R" count: {count} }}] priority: 1 }} }}]
        parameters {{ key: "execute_delay_ms" value {{ string_value: "{delay_ms}" }} }}""")


def queue_ns(client, model):
    stats = client.get_inference_statistics(model)["model_stats"][0]["inference_stats"]
    return int(stats["queue"]["ns"])


def test_instances_sharing_one_resource_take_turns(start_server, make_repo):
    repo = make_repo()
    write_model(repo, "first", limited("first", 1))
    write_model(repo, "second", limited("second", 1))
    srv = start_server([repo], ["--rate-limit=execution_count"])  # R: 1 copy, the most one instance needs
    outputs, errors = {}, []
    barrier = threading.Barrier(2)

    def infer(model, value):
        c = httpclient.InferenceServerClient(srv.url)
        try:
            barrier.wait()
            x = np.full((1, 4), value, np.float32)
            outputs[model] = c.infer(model, [make_input("INPUT0", x)]).as_numpy("OUTPUT0")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{model}: {exc}")
        finally:
            c.close()

    threads = [threading.Thread(target=infer, args=(m, v)) for m, v in (("first", 1.0), ("second", 2.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert outputs["first"].tolist() == [[1.0] * 4] and outputs["second"].tolist() == [[2.0] * 4]
    # Each execution holds R for 300 ms, so one of them waited for the other,
    # and the wait counts as queue time (a lower bound only).
    c = httpclient.InferenceServerClient(srv.url)
    assert queue_ns(c, "first") + queue_ns(c, "second") >= 250_000_000


def test_a_model_needing_more_than_the_given_count_does_not_load(start_server, make_repo):
    repo = make_repo()
    write_model(repo, "fits", limited("fits", 1, delay_ms=0))
    write_model(repo, "greedy", limited("greedy", 2, delay_ms=0))
    srv = start_server([repo], ["--rate-limit=execution_count", "--rate-limit-resource=R:1",
                                "--strict-readiness=false"])
    c = httpclient.InferenceServerClient(srv.url)
    index = {e["name"]: e for e in c.get_model_repository_index()}
    assert index["fits"]["state"] == "READY"
    assert index["greedy"]["state"] == "UNAVAILABLE"
    assert "needs 2 of resource 'R' (device 0) but --rate-limit-resource gives 1" in index["greedy"]["reason"]
    x = np.ones((1, 2), np.float32)
    assert c.infer("fits", [make_input("INPUT0", x)]).as_numpy("OUTPUT0").tolist() == x.tolist()


def test_without_rate_limit_the_resources_are_ignored(start_server, make_repo):
    repo = make_repo()
    write_model(repo, "greedy", limited("greedy", 2, delay_ms=0))
    srv = start_server([repo], ["--rate-limit-resource=R:1"])  # --rate-limit is off by default
    c = httpclient.InferenceServerClient(srv.url)
    assert c.is_model_ready("greedy")


def test_bad_rate_limit_flags_are_usage_errors(inferd_bin, make_repo):
    for flag, fragment in (("--rate-limit=sometimes", "--rate-limit"),
                           ("--rate-limit-resource=R", "<name>:<count>"),
                           ("--rate-limit-resource=R:two", "<name>:<count>")):
        proc = subprocess.run([str(inferd_bin), f"--model-repository={make_repo('r')}", flag],
                              capture_output=True, text=True, timeout=10)
        assert proc.returncode == 2, (flag, proc.returncode, proc.stderr)
        assert fragment in proc.stderr, (flag, proc.stderr)
