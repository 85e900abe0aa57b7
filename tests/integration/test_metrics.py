"""Prometheus metrics on --metrics-port: GET /metrics is a text/plain page that
prometheus_client's parser accepts whole, with Triton's metric names.

Per model and version (labels model="<name>",version="<v>"): request
success/failure, inference and execution counts, cumulative latencies in µs
(--metrics-config counter_latencies=false drops them), the pending-request
gauge, optional latency summaries (summary_latencies=true, quantiles from
summary_quantiles), response-cache counters for models that use the cache.
Global: the cache, CPU utilization and memory, and the process.

Counts are checked exactly against the traffic each test sends on a server
(or a model) of its own."""

import socket
import subprocess
import threading
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

from support import InferdServer, fp32_identity, make_input, raw_request, write_model

PER_MODEL_COUNTERS = ["nv_inference_request_success", "nv_inference_request_failure",
                      "nv_inference_count", "nv_inference_exec_count"]
DURATION_COUNTERS = ["nv_inference_request_duration_us", "nv_inference_queue_duration_us",
                     "nv_inference_compute_input_duration_us",
                     "nv_inference_compute_infer_duration_us",
                     "nv_inference_compute_output_duration_us"]
SUMMARIES = ["nv_inference_request_summary_us", "nv_inference_queue_summary_us",
             "nv_inference_compute_input_summary_us", "nv_inference_compute_infer_summary_us",
             "nv_inference_compute_output_summary_us"]
CACHE_PER_MODEL = ["nv_cache_num_hits_per_model", "nv_cache_num_misses_per_model",
                   "nv_cache_hit_duration_per_model", "nv_cache_miss_duration_per_model"]
CACHE_GLOBAL = ["nv_cache_num_entries", "nv_cache_num_lookups", "nv_cache_num_hits",
                "nv_cache_num_misses", "nv_cache_num_evictions", "nv_cache_util"]


# --------------------------------------------------------------------------- scraping

class Page:
    """One parsed /metrics page."""

    def __init__(self, text):
        self.text = text
        try:
            self.families = list(text_string_to_metric_families(text))
        except Exception as exc:  # reported as a failure with the page
            pytest.fail(f"prometheus_client cannot parse the page: {exc!r}\n{text[:3000]}")
        self.types = {}
        self.samples = {}
        for f in self.families:
            self.types[f.name] = f.type
            for s in f.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def has_family(self, name):
        # the parser drops a counter's "_total" suffix from its family name
        return name in self.types or (name.endswith("_total") and name[:-6] in self.types)

    def type_of(self, name):
        return self.types.get(name) or self.types.get(name[:-6] if name.endswith("_total") else "")

    def _sample_name(self, name):
        # the parser names a counter's samples "<family>_total" whatever the page says
        if self.types.get(name) == "counter" and not name.endswith("_total"):
            return name + "_total"
        return name

    def value(self, name, **labels):
        name = self._sample_name(name)
        key = (name, frozenset((k, str(v)) for k, v in labels.items()))
        assert key in self.samples, (
            f"no sample {name}{labels}; samples of that name: "
            f"{[dict(l) for (n, l) in self.samples if n == name]}")
        return self.samples[key]

    def model(self, name, model, version=1, **labels):
        return self.value(name, model=model, version=version, **labels)

    def label_sets(self, name):
        name = self._sample_name(name)
        return [dict(l) for (n, l) in self.samples if n == name]

    def raw_line(self, name, value, **labels):
        """The exact exposition line (Triton's names carry no "_total" suffix)."""
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        line = f"{name}{{{inner}}} {value}" if labels else f"{name} {value}"
        assert line in self.text.splitlines(), f"line {line!r} not on the page"


def scrape(srv):
    status, headers, body = raw_request(srv.metrics_url, "GET", "/metrics", timeout=10.0)
    assert status == 200, (status, body[:300])
    ctype = headers.get("content-type", "")
    assert ctype.startswith("text/plain"), ctype
    return Page(body.decode("utf-8"))


def _x(batch, width=3, fill=1.0):
    return np.full((batch, width), fill, dtype=np.float32)


def _grpc_in(x):
    i = grpcclient.InferInput("INPUT0", list(x.shape), "FP32")
    i.set_data_from_numpy(x)
    return i


# --------------------------------------------------------------------------- servers

@pytest.fixture(scope="module")
def metrics_server(inferd_bin, tmp_path_factory):
    repo = tmp_path_factory.mktemp("metrics_repo")
    write_model(repo, "m_count", fp32_identity("m_count", 8))
    write_model(repo, "m_idle", fp32_identity("m_idle", 8))
    write_model(repo, "m_slow", fp32_identity("m_slow", 8, extra="""
        instance_group [ { count: 1 kind: KIND_CPU } ]
        parameters { key: "execute_delay_ms" value { string_value: "300" } }"""))
    write_model(repo, "m_versions", fp32_identity("m_versions", 8, extra="version_policy: { all: {} }"),
                versions=(1, 2))
    with InferdServer(inferd_bin, [repo], log_dir=tmp_path_factory.mktemp("metrics_server"),
                      tag="metrics") as srv:
        yield srv


def _small_repo(make_repo, name="repo", extra=""):
    repo = make_repo(name)
    write_model(repo, "m", fp32_identity("m", 8, extra=extra))
    return repo


# --------------------------------------------------------------------------- page format

def test_page_is_text_plain_and_parses(metrics_server):
    page = scrape(metrics_server)
    assert page.text.endswith("\n")
    for name in PER_MODEL_COUNTERS + DURATION_COUNTERS:
        assert page.type_of(name) == "counter", (name, page.type_of(name))
    assert page.type_of("nv_inference_pending_request_count") == "gauge"
    for name in ("nv_cpu_utilization", "nv_cpu_memory_total_bytes", "nv_cpu_memory_used_bytes",
                 "process_resident_memory_bytes"):
        assert page.type_of(name) == "gauge", (name, page.type_of(name))
    assert page.type_of("process_cpu_seconds_total") == "counter"
    # HELP and TYPE come with every family
    for name in PER_MODEL_COUNTERS + DURATION_COUNTERS:
        assert f"# HELP {name} " in page.text and f"# TYPE {name} counter" in page.text, name


def test_defaults_have_no_summaries_and_no_cache_metrics(metrics_server):
    page = scrape(metrics_server)
    for name in SUMMARIES + CACHE_PER_MODEL + CACHE_GLOBAL:
        assert not page.has_family(name), f"{name} present without the flag that enables it"


def test_every_loaded_model_and_version_has_labelled_samples(metrics_server):
    page = scrape(metrics_server)
    for name in PER_MODEL_COUNTERS + DURATION_COUNTERS + ["nv_inference_pending_request_count"]:
        labels = page.label_sets(name)
        got = {(l["model"], l["version"]) for l in labels}
        want = {("m_count", "1"), ("m_idle", "1"), ("m_slow", "1"),
                ("m_versions", "1"), ("m_versions", "2")}
        assert got == want, (name, got)
        # Failures carry Triton's reason label too, one series per reason.
        extra = {"reason"} if name == "nv_inference_request_failure" else set()
        assert all(set(l) == {"model", "version"} | extra for l in labels), (name, labels)
        if extra:
            assert {l["reason"] for l in labels} == {"REJECTED", "CANCELED", "BACKEND", "OTHER"}


def test_unused_model_is_all_zero(metrics_server):
    page = scrape(metrics_server)
    for name in PER_MODEL_COUNTERS + DURATION_COUNTERS + ["nv_inference_pending_request_count"]:
        labels = {"reason": "OTHER"} if name == "nv_inference_request_failure" else {}
        assert page.model(name, "m_idle", **labels) == 0, name


def test_cpu_and_process_metrics(metrics_server):
    page = scrape(metrics_server)
    assert 0.0 <= page.value("nv_cpu_utilization") <= 1.0
    total = page.value("nv_cpu_memory_total_bytes")
    used = page.value("nv_cpu_memory_used_bytes")
    assert total > 0 and 0 < used <= total, (used, total)
    rss = page.value("process_resident_memory_bytes")
    assert 1 << 20 < rss < total, rss
    assert page.value("process_cpu_seconds_total") >= 0


def test_other_paths_are_not_found(metrics_server):
    status, _, _ = raw_request(metrics_server.metrics_url, "GET", "/v2/health/live")
    assert status == 404
    status, _, _ = raw_request(metrics_server.metrics_url, "GET", "/metrics?x=1")
    assert status == 200


# --------------------------------------------------------------------------- exact counts

def test_counters_equal_the_traffic(metrics_server):
    """7 successes (HTTP and gRPC mixed), 3 failures with a wrong-shape input."""
    batches = [1, 2, 3, 1, 4, 2, 1]
    with httpclient.InferenceServerClient(metrics_server.url) as h, \
            grpcclient.InferenceServerClient(metrics_server.grpc_url) as g:
        for k, b in enumerate(batches):
            x = _x(b, fill=k)
            if k % 2:
                out = g.infer("m_count", [_grpc_in(x)]).as_numpy("OUTPUT0")
            else:
                out = h.infer("m_count", [make_input("INPUT0", x)]).as_numpy("OUTPUT0")
            np.testing.assert_array_equal(out, x)
        for k in range(3):
            bad = np.ones((2, 2, 2), dtype=np.float32)  # rank 3 for dims [-1] + batch
            with pytest.raises(InferenceServerException):
                if k % 2:
                    g.infer("m_count", [_grpc_in(bad)])
                else:
                    h.infer("m_count", [make_input("INPUT0", bad)])

    page = scrape(metrics_server)
    page.raw_line("nv_inference_request_success", 7, model="m_count", version="1")
    # Wrong shapes are refused by the core: Triton's reason OTHER; each reason has its series.
    page.raw_line("nv_inference_request_failure", 3, model="m_count", reason="OTHER", version="1")
    for reason in ("REJECTED", "CANCELED", "BACKEND"):
        page.raw_line("nv_inference_request_failure", 0, model="m_count", reason=reason, version="1")
    page.raw_line("nv_inference_count", sum(batches), model="m_count", version="1")
    assert page.model("nv_inference_request_success", "m_count") == 7
    assert page.model("nv_inference_request_failure", "m_count", reason="OTHER") == 3
    assert page.model("nv_inference_count", "m_count") == sum(batches)
    assert page.model("nv_inference_exec_count", "m_count") == len(batches)
    assert page.model("nv_inference_pending_request_count", "m_count") == 0
    assert page.model("nv_inference_request_duration_us", "m_count") > 0
    for name in DURATION_COUNTERS:
        assert page.model(name, "m_count") >= 0, name
    # the request duration covers the compute phases
    compute = sum(page.model(n, "m_count") for n in DURATION_COUNTERS[2:])
    assert page.model("nv_inference_request_duration_us", "m_count") >= compute - 3
    # other models are not moved
    assert page.model("nv_inference_request_success", "m_idle") == 0


def test_counters_agree_with_statistics(metrics_server):
    with httpclient.InferenceServerClient(metrics_server.url) as h:
        for b in (1, 5):
            h.infer("m_versions", [make_input("INPUT0", _x(b))], model_version="2")
        st = h.get_inference_statistics("m_versions", "2")["model_stats"][0]
    page = scrape(metrics_server)
    assert page.model("nv_inference_count", "m_versions", 2) == int(st["inference_count"]) == 6
    assert page.model("nv_inference_exec_count", "m_versions", 2) == int(st["execution_count"])
    assert page.model("nv_inference_request_success", "m_versions", 2) == \
        int(st["inference_stats"]["success"]["count"]) == 2
    assert page.model("nv_inference_request_duration_us", "m_versions", 2) == \
        int(st["inference_stats"]["success"]["ns"]) // 1000
    assert page.model("nv_inference_compute_infer_duration_us", "m_versions", 2) == \
        int(st["inference_stats"]["compute_infer"]["ns"]) // 1000
    assert page.model("nv_inference_count", "m_versions", 1) == 0


def test_pending_count_rises_while_requests_wait(metrics_server):
    n = 4
    errors = []

    def one(i):
        try:
            with httpclient.InferenceServerClient(metrics_server.url,
                                                  network_timeout=30.0) as c:
                x = _x(1, fill=i)
                np.testing.assert_array_equal(
                    c.infer("m_slow", [make_input("INPUT0", x)]).as_numpy("OUTPUT0"), x)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    seen = []
    try:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(t.is_alive() for t in threads):
            seen.append(scrape(metrics_server).model("nv_inference_pending_request_count",
                                                     "m_slow"))
            time.sleep(0.05)
    finally:
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    # one instance, 300 ms each: while one executes the others wait
    assert max(seen) >= 1, seen
    assert max(seen) <= n - 1, f"an executing request counted as pending: {seen}"
    assert min(seen) >= 0, seen
    page = scrape(metrics_server)
    assert page.model("nv_inference_pending_request_count", "m_slow") == 0
    assert page.model("nv_inference_request_success", "m_slow") == n
    # the waiting shows in the queue duration: at least 300+600+900 ms in all
    assert page.model("nv_inference_queue_duration_us", "m_slow") >= 1_500_000
    compute = sum(page.model(name, "m_slow") for name in DURATION_COUNTERS[2:])
    assert compute >= n * 280_000, compute


# --------------------------------------------------------------------------- summaries

def _traffic(srv, model, good, bad):
    with httpclient.InferenceServerClient(srv.url) as h:
        for k in range(good):
            h.infer(model, [make_input("INPUT0", _x(1 + k % 2))])
        for _ in range(bad):
            with pytest.raises(InferenceServerException):
                h.infer(model, [make_input("INPUT0", np.ones((1, 2), dtype=np.int32), "INT32")])


def test_summary_latencies(start_server, make_repo):
    srv = start_server([_small_repo(make_repo)], ["--metrics-config", "summary_latencies=true"])
    _traffic(srv, "m", good=5, bad=2)
    page = scrape(srv)
    for name in SUMMARIES:
        assert page.type_of(name) == "summary", (name, page.type_of(name))
        qs = sorted(float(l["quantile"]) for l in page.label_sets(name) if "quantile" in l)
        assert qs == [0.5, 0.9, 0.95, 0.99], (name, qs)
        for q in ("0.5", "0.9", "0.95", "0.99"):
            assert page.model(name, "m", quantile=q) >= 0, (name, q)
        assert page.model(name + "_count", "m") == 5, name  # successes only
        assert page.model(name + "_sum", "m") >= 0, name
    # quantiles are ordered and within what the sum allows
    req = [page.model("nv_inference_request_summary_us", "m", quantile=q)
           for q in ("0.5", "0.9", "0.95", "0.99")]
    assert req == sorted(req), req
    assert req[-1] <= page.model("nv_inference_request_summary_us_sum", "m")
    assert page.model("nv_inference_request_summary_us_sum", "m") > 0
    # counters stay on by default
    assert page.model("nv_inference_request_success", "m") == 5
    assert page.model("nv_inference_request_failure", "m", reason="OTHER") == 2
    assert page.has_family("nv_inference_request_duration_us")


def test_summary_sum_matches_request_duration(start_server, make_repo):
    srv = start_server([_small_repo(make_repo, extra="""
        parameters { key: "execute_delay_ms" value { string_value: "50" } }""")],
        ["--metrics-config", "summary_latencies=true"])
    _traffic(srv, "m", good=3, bad=0)
    page = scrape(srv)
    s = page.model("nv_inference_request_summary_us_sum", "m")
    c = page.model("nv_inference_request_duration_us", "m")
    assert s >= 3 * 45_000, s
    assert abs(s - c) <= 0.05 * c + 10, (s, c)
    med = page.model("nv_inference_compute_infer_summary_us", "m", quantile="0.5") + \
        page.model("nv_inference_compute_input_summary_us", "m", quantile="0.5") + \
        page.model("nv_inference_compute_output_summary_us", "m", quantile="0.5")
    assert 40_000 <= med <= 1_000_000, med


def test_summary_quantiles_configurable(start_server, make_repo):
    srv = start_server([_small_repo(make_repo)],
                       ["--metrics-config", "summary_latencies=true",
                        "--metrics-config", "summary_quantiles=0.5:0.05,0.99:0.001"])
    _traffic(srv, "m", good=2, bad=0)
    page = scrape(srv)
    for name in SUMMARIES:
        qs = sorted(float(l["quantile"]) for l in page.label_sets(name) if "quantile" in l)
        assert qs == [0.5, 0.99], (name, qs)
        assert page.model(name + "_count", "m") == 2


def test_counter_latencies_false(start_server, make_repo):
    srv = start_server([_small_repo(make_repo)], ["--metrics-config=counter_latencies=false"])
    _traffic(srv, "m", good=2, bad=1)
    page = scrape(srv)
    for name in DURATION_COUNTERS:
        assert not page.has_family(name), f"{name} present with counter_latencies=false"
    assert page.model("nv_inference_request_success", "m") == 2
    assert page.model("nv_inference_request_failure", "m", reason="OTHER") == 1
    assert page.model("nv_inference_pending_request_count", "m") == 0


@pytest.mark.parametrize("setting,named", [
    ("no_such_key=1", "no_such_key"),
    ("summary_latencies=maybe", "summary_latencies"),
    ("summary_quantiles=2:0.1", "summary_quantiles"),
    ("counter_latencies", "counter_latencies"),
])
def test_bad_metrics_config_is_a_usage_error(inferd_bin, make_repo, setting, named):
    proc = subprocess.run([str(inferd_bin), f"--model-repository={make_repo('r')}",
                           f"--metrics-config={setting}"],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[:500])
    assert named in proc.stderr, proc.stderr[:500]


# --------------------------------------------------------------------------- cache

def test_cache_metrics(start_server, make_repo):
    repo = make_repo("cache")
    write_model(repo, "cached", fp32_identity("cached", 8, extra="response_cache { enable: true }"))
    write_model(repo, "uncached", fp32_identity("uncached", 8))
    srv = start_server([repo], ["--cache-config", "local,size=1048576"])
    x, y = _x(1, fill=1.0), _x(1, fill=2.0)
    with httpclient.InferenceServerClient(srv.url) as h, \
            grpcclient.InferenceServerClient(srv.grpc_url) as g:
        for inp in (x, x, y):
            np.testing.assert_array_equal(
                h.infer("cached", [make_input("INPUT0", inp)]).as_numpy("OUTPUT0"), inp)
        np.testing.assert_array_equal(g.infer("cached", [_grpc_in(y)]).as_numpy("OUTPUT0"), y)
        h.infer("uncached", [make_input("INPUT0", x)])
    page = scrape(srv)
    for name in CACHE_PER_MODEL:
        assert page.type_of(name) == "counter", name
        got = {(l["model"], l["version"]) for l in page.label_sets(name)}
        assert got == {("cached", "1")}, (name, got)  # only models that use the cache
    for name in CACHE_GLOBAL:
        assert page.type_of(name) == "gauge", name
        assert page.label_sets(name) == [{}], (name, page.label_sets(name))
    assert page.model("nv_cache_num_hits_per_model", "cached") == 2
    assert page.model("nv_cache_num_misses_per_model", "cached") == 2
    assert page.model("nv_cache_hit_duration_per_model", "cached") >= 0
    assert page.model("nv_cache_miss_duration_per_model", "cached") >= 0
    assert page.value("nv_cache_num_lookups") == 4
    assert page.value("nv_cache_num_hits") == 2
    assert page.value("nv_cache_num_misses") == 2
    assert page.value("nv_cache_num_entries") == 2
    assert page.value("nv_cache_num_evictions") == 0
    assert 0 < page.value("nv_cache_util") < 1
    # cached answers are successes but not inferences
    assert page.model("nv_inference_request_success", "cached") == 4
    assert page.model("nv_inference_count", "cached") == 2
    assert page.model("nv_inference_exec_count", "cached") == 2


def test_cached_requests_in_request_and_queue_latencies(start_server, make_repo):
    """Cache hits are successes, and are counted in the request and queue
    latencies (Triton's statistics: success and queue "include cache hits";
    the HELP of both metrics says "includes cached requests"), not in the
    compute ones."""
    repo = make_repo("cache_summary")
    write_model(repo, "cached", fp32_identity("cached", 8, extra="response_cache { enable: true }"))
    srv = start_server([repo], ["--cache-config", "local,size=1048576",
                                "--metrics-config", "summary_latencies=true"])
    x = _x(1, fill=3.0)
    with httpclient.InferenceServerClient(srv.url) as h:
        for _ in range(3):  # one miss, two hits
            np.testing.assert_array_equal(
                h.infer("cached", [make_input("INPUT0", x)]).as_numpy("OUTPUT0"), x)
        st = h.get_inference_statistics("cached")["model_stats"][0]["inference_stats"]
    page = scrape(srv)
    assert page.model("nv_cache_num_hits_per_model", "cached") == 2
    assert page.model("nv_inference_request_success", "cached") == 3
    assert page.model("nv_inference_request_summary_us_count", "cached") == 3
    for name in ("nv_inference_compute_input_summary_us", "nv_inference_compute_infer_summary_us",
                 "nv_inference_compute_output_summary_us"):
        assert page.model(name + "_count", "cached") == 1, name  # the one execution
    assert int(st["queue"]["count"]) == 3, f"statistics queue count {st['queue']} (hits excluded)"
    assert page.model("nv_inference_queue_summary_us_count", "cached") == 3, \
        "nv_inference_queue_summary_us_count leaves out the cache hits"


def test_cache_evictions_counted(start_server, make_repo):
    repo = make_repo("small_cache")
    write_model(repo, "cached", fp32_identity("cached", 8, extra="response_cache { enable: true }"))
    srv = start_server([repo], ["--cache-config", "local,size=16384"])
    with httpclient.InferenceServerClient(srv.url) as h:
        for k in range(8):
            h.infer("cached", [make_input("INPUT0", _x(1, width=1024, fill=k))])  # 4 KiB each
    page = scrape(srv)
    assert page.value("nv_cache_num_misses") == 8
    assert page.value("nv_cache_num_evictions") >= 1
    assert page.value("nv_cache_num_entries") < 8
    assert 0 < page.value("nv_cache_util") <= 1


# --------------------------------------------------------------------------- switches

def test_allow_metrics_false(start_server, make_repo):
    srv = start_server([_small_repo(make_repo)], ["--allow-metrics=false"])
    with httpclient.InferenceServerClient(srv.url) as h:
        assert h.is_server_live()
    with socket.socket() as s:
        s.settimeout(2.0)
        assert s.connect_ex(("127.0.0.1", srv.metrics_port)) != 0, \
            "something listens on the metrics port with --allow-metrics=false"


def test_allow_cpu_metrics_false(start_server, make_repo):
    srv = start_server([_small_repo(make_repo)], ["--allow-cpu-metrics=false"])
    page = scrape(srv)
    for name in ("nv_cpu_utilization", "nv_cpu_memory_total_bytes", "nv_cpu_memory_used_bytes"):
        assert not page.has_family(name), name
    assert page.model("nv_inference_request_success", "m") == 0
    assert page.value("process_resident_memory_bytes") > 0


# --------------------------------------------------------------------------- custom metrics

def test_identity_backend_reports_its_custom_metric(metrics_server):
    """Triton's identity backend defines input_byte_size_counter through the
    custom-metrics API; inferd's does the same, and /metrics prints it with the
    backend's HELP text, one series per model version."""
    with httpclient.InferenceServerClient(metrics_server.url) as c:
        before = scrape(metrics_server)
        start = before.model("input_byte_size_counter", "m_versions", 2)
        sent = 0
        for batch in (1, 3, 8):
            c.infer("m_versions", [make_input("INPUT0", _x(batch))], model_version="2")
            sent += batch * 3 * 4
    page = scrape(metrics_server)
    assert page.type_of("input_byte_size_counter") == "counter"
    assert ("# HELP input_byte_size_counter Cumulative input byte size of all requests received "
            "by the model") in page.text
    assert page.model("input_byte_size_counter", "m_versions", 2) == start + sent
    assert page.model("input_byte_size_counter", "m_versions", 1) == before.model(
        "input_byte_size_counter", "m_versions", 1)
    page.raw_line("input_byte_size_counter", int(start + sent), model="m_versions", version="2")
    assert {"model": "m_idle", "version": "1"} in page.label_sets("input_byte_size_counter")


def test_custom_metric_follows_the_model_lifecycle(start_server, make_repo):
    """A reload carries the series on (same labels); an unload removes it."""
    repo = _small_repo(make_repo)
    srv = start_server([repo], ["--model-control-mode=explicit", "--load-model=m"])
    with httpclient.InferenceServerClient(srv.url) as c:
        c.infer("m", [make_input("INPUT0", _x(2))])
        assert scrape(srv).model("input_byte_size_counter", "m") == 24
        c.load_model("m")  # reload: the new version is built beside the old one
        c.infer("m", [make_input("INPUT0", _x(1))])
        assert scrape(srv).model("input_byte_size_counter", "m") == 36
        c.unload_model("m")
        deadline = time.time() + 10
        while time.time() < deadline and scrape(srv).label_sets("input_byte_size_counter"):
            time.sleep(0.1)
        page = scrape(srv)
        assert page.label_sets("input_byte_size_counter") == []
        assert "input_byte_size_counter" not in page.text  # a family without series is left out
