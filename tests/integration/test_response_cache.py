"""Response cache (--cache-config local,size=N, response_cache { enable: true }):
a repeated request is answered from the cache without running the model."""

import subprocess

import numpy as np
import pytest
import tritonclient.http as httpclient

from support import fp32_identity, make_input, write_model


@pytest.fixture
def cached_server(start_server, make_repo):
    repo = make_repo("cache")
    write_model(repo, "cached", fp32_identity("cached", 8, extra="""
        parameters { key: "execute_delay_ms" value { string_value: "100" } }
        response_cache { enable: true }"""))
    write_model(repo, "uncached", fp32_identity("uncached", 8))
    return start_server([repo], ["--cache-config", "local,size=1048576"])


def stats(c, model):
    s = c.get_inference_statistics(model)["model_stats"][0]
    return (int(s["execution_count"]), int(s["inference_stats"]["cache_hit"]["count"]),
            int(s["inference_stats"]["cache_miss"]["count"]), int(s["inference_stats"]["success"]["count"]))


def test_repeated_request_is_answered_from_the_cache(cached_server):
    c = httpclient.InferenceServerClient(cached_server.url)
    x = np.arange(6, dtype=np.float32).reshape(1, 6)
    first = c.infer("cached", [make_input("INPUT0", x)]).as_numpy("OUTPUT0")
    assert stats(c, "cached") == (1, 0, 1, 1)
    second = c.infer("cached", [make_input("INPUT0", x)]).as_numpy("OUTPUT0")
    np.testing.assert_array_equal(second, first)
    assert stats(c, "cached") == (1, 1, 1, 2)  # answered, not executed
    # Other bytes, or the same bytes as JSON with another shape, are other keys.
    y = x + 1
    np.testing.assert_array_equal(c.infer("cached", [make_input("INPUT0", y)]).as_numpy("OUTPUT0"), y)
    z = x.reshape(1, 6)[:, :3]
    np.testing.assert_array_equal(
        c.infer("cached", [make_input("INPUT0", np.ascontiguousarray(z), binary=False)]).as_numpy("OUTPUT0"), z)
    assert stats(c, "cached") == (3, 1, 3, 4)


def test_models_without_response_cache_always_run(cached_server):
    c = httpclient.InferenceServerClient(cached_server.url)
    x = np.ones((1, 3), np.float32)
    for _ in range(2):
        c.infer("uncached", [make_input("INPUT0", x)])
    assert stats(c, "uncached") == (2, 0, 0, 2)


@pytest.mark.parametrize("bad", ["redis,size=10", "local,size=lots", "local"])
def test_bad_cache_config_is_a_usage_error(inferd_bin, make_repo, bad):
    proc = subprocess.run([str(inferd_bin), f"--model-repository={make_repo('r')}",
                           f"--cache-config={bad}"], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2
    assert "--cache-config" in proc.stderr
