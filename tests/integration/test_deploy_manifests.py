"""The Kubernetes manifests under deploy/, checked offline: `helm lint`,
`helm template` in several configurations, kubeconform (strict) against the
Kubernetes JSON schemas that kubernetes-validate ships (no download),
yamllint, and
the command lines they give inferd run for real: a server started with the
rendered Deployment's (or the KServe runtime's) args answers the probes' paths
with 200 and serves metrics. The Custom Resources (ServiceMonitor,
ServingRuntime) have no schema here: their fields are checked by name.
(`kubectl create --dry-run=client` is not used: kubectl asks an API server
for its resource list even then, and there is none here.)

Tools: scripts/install-deploy-tools (helm, kubeconform) and the test
virtualenv (yamllint, kubernetes-validate), both run by scripts/setup.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from support import fp32_identity, free_port, raw_request, wait_for_http, write_model

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/inferd"
KSERVE = ROOT / "deploy/kserve"
VENV_BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.31.0"

VARIANTS = {
    "defaults": [],
    "init_container_monitor_autoscaling": [
        "--set", "modelRepository.initContainer.enabled=true",
        "--set", "serviceMonitor.enabled=true",
        "--set", "autoscaling.enabled=true",
        "--set", "autoscaling.queueTimeMetric.enabled=true",
    ],
    "no_pvc_explicit_control": [
        "--set", "modelRepository.pvc.enabled=false",
        "--set", "modelControlMode=explicit",
        "--set", "extraArgs={--log-verbose=1,--strict-readiness=true}",
    ],
}


def tool(name):
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: scripts/setup installs it (scripts/install-deploy-tools, "
                    f"scripts/requirements-test.txt)")
    return str(path)


def run(argv, **kwargs):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def render(variant):
    return run([tool("helm"), "template", "demo", CHART, *VARIANTS[variant]])


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def schemas(tmp_path_factory):
    """kubernetes-validate's strict schemas for KUBERNETES_VERSION, made loadable
    by kubeconform offline: each file's `$id` (a kubernetes.io address, against
    which its references would be fetched) is dropped and the references to
    /api/_definitions.json point at the file beside it."""
    import kubernetes_validate

    name = f"v{KUBERNETES_VERSION}-local-strict"
    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / name
    assert source.is_dir(), f"kubernetes-validate has no {name}"
    root = tmp_path_factory.mktemp("schemas")
    (root / name).mkdir()
    for path in source.glob("*.json"):
        schema = json.loads(path.read_text().replace('"/api/_definitions.json#', '"_definitions.json#'))
        schema.pop("$id", None)
        (root / name / path.name).write_text(json.dumps(schema))
    return str(root) + "/{{ .NormalizedKubernetesVersion }}-local-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json"


def kubeconform(path, schemas, skip=()):
    argv = [tool("kubeconform"), "-strict", "-summary", "-kubernetes-version", KUBERNETES_VERSION,
            "-schema-location", schemas]
    if skip:
        argv += ["-skip", ",".join(skip)]
    return run([*argv, path])


def test_helm_lint_passes_strict():
    for variant in VARIANTS.values():
        run([tool("helm"), "lint", "--strict", CHART, *variant])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_chart_is_valid_kubernetes(variant, schemas, tmp_path):
    text = render(variant)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(text)
    docs = documents(text)
    kinds = sorted(d["kind"] for d in docs)
    expected = ["Deployment", "Service"]
    if variant == "init_container_monitor_autoscaling":
        expected += ["HorizontalPodAutoscaler", "ServiceMonitor"]
    assert kinds == sorted(expected)
    summary = kubeconform(manifest, schemas, skip=["ServiceMonitor"])
    assert "Invalid: 0, Errors: 0" in summary and f"Valid: {len(expected) - ('ServiceMonitor' in kinds)}" in summary, summary
    run([tool("yamllint"), "-d", "{extends: relaxed, rules: {line-length: {max: 160}}}", manifest])
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    volume = next(v for v in pod["volumes"] if v["name"] == "models")
    if variant == "defaults":
        assert volume["persistentVolumeClaim"]["claimName"] == "inferd-models"
    else:
        assert "emptyDir" in volume
    if variant == "init_container_monitor_autoscaling":
        assert pod["initContainers"][0]["volumeMounts"][0]["name"] == "models"
        monitor = next(d for d in docs if d["kind"] == "ServiceMonitor")
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
        assert monitor["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
        assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource", "Pods"]
        assert "replicas" not in deployment["spec"]


def serve_with_args(inferd_bin, args, repo_flag_value, tmp_path):
    """Starts inferd with a manifest's args (repository and ports moved to this
    test's), checks the probes' paths and the metrics, and stops it."""
    repo = tmp_path / "models"
    write_model(repo, "identity", fp32_identity("identity"))
    ports = {"http": free_port(), "grpc": free_port(), "metrics": free_port()}
    argv = [str(inferd_bin)]
    for a in args:
        if a == f"--model-repository={repo_flag_value}":
            a = f"--model-repository={repo}"
        for kind, port in ports.items():
            if a.startswith(f"--{kind}-port="):
                a = f"--{kind}-port={port}"
        argv.append(a)
    argv += ["--http-address=127.0.0.1", "--grpc-address=127.0.0.1"]
    if "--model-control-mode=explicit" in argv:
        argv.append("--load-model=identity")
    log = open(tmp_path / "manifest-server.log", "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        # HTTP starts first, then gRPC, then metrics: wait for the last one too.
        http_url, metrics_url = f"127.0.0.1:{ports['http']}", f"127.0.0.1:{ports['metrics']}"
        wait_for_http(proc, tmp_path / "manifest-server.log",
                      [(http_url, "/v2/health/ready"), (metrics_url, "/metrics")], timeout=30)
        assert raw_request(http_url, "GET", "/v2/health/live")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert proc.returncode == 0


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_charts_command_line_starts_a_real_inferd(inferd_bin, variant, tmp_path):
    deployment = next(d for d in documents(render(variant)) if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000, "grpc": 8001, "metrics": 8002}
    serve_with_args(inferd_bin, container["args"], "/models", tmp_path)


def test_kserve_runtime_is_well_formed_and_its_command_line_serves(inferd_bin, tmp_path):
    run([tool("yamllint"), "-d", "{extends: default, rules: {line-length: {max: 120}, document-start: disable}}",
         KSERVE])
    (runtime,) = documents((KSERVE / "servingruntime.yaml").read_text())
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    assert runtime["kind"] in ("ServingRuntime", "ClusterServingRuntime")
    formats = {f["name"]: f for f in runtime["spec"]["supportedModelFormats"]}
    assert formats["onnx"]["autoSelect"] and formats["triton"]["autoSelect"]
    assert set(runtime["spec"]["protocolVersions"]) == {"v2", "grpc-v2"}
    (container,) = runtime["spec"]["containers"]
    assert container["name"] == "kserve-container"  # the name KServe looks for
    # KServe's v2 runtimes listen on 8080 (HTTP) and 9000 (gRPC).
    assert "--http-port=8080" in container["args"] and "--grpc-port=9000" in container["args"]
    assert container["ports"][0]["containerPort"] == 8080
    serve_with_args(inferd_bin, container["args"], "/mnt/models", tmp_path)

    (service,) = documents((KSERVE / "inferenceservice.yaml").read_text())
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in formats
    assert model["protocolVersion"] in runtime["spec"]["protocolVersions"]
