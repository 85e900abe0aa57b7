"""Health, server metadata, model metadata, model readiness and model config."""

import tritonclient.http as httpclient

from support import (
    DTYPE_MODELS,
    expect_server_error,
    fp32_identity,
    raw_request,
    write_model,
)


# --------------------------------------------------------------------------- health

def test_server_live(client):
    assert client.is_server_live() is True


def test_health_endpoints_answer_200(server):
    status, _, _ = raw_request(server.url, "GET", "/v2/health/live")
    assert status == 200


def test_ready_with_only_good_models(start_server, make_repo):
    repo = make_repo("good")
    write_model(repo, "m", fp32_identity("m", 4))
    srv = start_server([repo])
    with httpclient.InferenceServerClient(srv.url) as c:
        assert c.is_server_live()
        assert c.is_server_ready()
        assert c.is_model_ready("m")
    status, _, _ = raw_request(srv.url, "GET", "/v2/health/ready")
    assert status == 200


def test_not_ready_when_a_model_failed_with_strict_readiness(client):
    # The shared repository holds models that fail to load; --strict-readiness
    # defaults to true (as in Triton), so the server is live but not ready.
    assert client.is_server_live()
    assert client.is_server_ready() is False


def test_ready_with_failed_model_without_strict_readiness(start_server, model_repo):
    srv = start_server([model_repo], ["--strict-readiness=false"])
    with httpclient.InferenceServerClient(srv.url) as c:
        assert c.is_server_ready() is True
        assert c.is_model_ready("identity_fp32")
        assert not c.is_model_ready("bad_backend")


# --------------------------------------------------------------------------- server metadata

def test_server_metadata(client):
    md = client.get_server_metadata()
    assert md["name"] == "inferd"
    assert isinstance(md.get("version"), str) and md["version"]
    ext = md["extensions"]
    assert isinstance(ext, list)
    for e in ("binary_tensor_data", "classification", "model_repository", "statistics"):
        assert e in ext, f"extension {e!r} missing from {ext}"


# --------------------------------------------------------------------------- model ready

def test_model_ready(client):
    assert client.is_model_ready("identity_fp32") is True
    assert client.is_model_ready("identity_fp32", "1") is True
    assert client.is_model_ready("identity_fp32", "2") is False
    assert client.is_model_ready("no_such_model") is False
    assert client.is_model_ready("bad_reshape") is False


def test_model_ready_status_codes(server):
    assert raw_request(server.url, "GET", "/v2/models/identity_fp32/ready")[0] == 200
    assert raw_request(server.url, "GET", "/v2/models/no_such_model/ready")[0] != 200


# --------------------------------------------------------------------------- model metadata

def test_model_metadata_batched(client):
    md = client.get_model_metadata("identity_fp32")
    assert md["name"] == "identity_fp32"
    assert [str(v) for v in md["versions"]] == ["1"]
    assert len(md["inputs"]) == 1 and len(md["outputs"]) == 1
    i, o = md["inputs"][0], md["outputs"][0]
    assert i["name"] == "INPUT0" and i["datatype"] == "FP32"
    assert [int(d) for d in i["shape"]] == [-1, -1]
    assert o["name"] == "OUTPUT0" and o["datatype"] == "FP32"
    assert [int(d) for d in o["shape"]] == [-1, -1]


def test_model_metadata_with_version(client):
    md = client.get_model_metadata("identity_fp32", "1")
    assert md["name"] == "identity_fp32"


def test_model_metadata_two_inputs(client):
    md = client.get_model_metadata("identity_two")
    inputs = {t["name"]: t for t in md["inputs"]}
    outputs = {t["name"]: t for t in md["outputs"]}
    assert set(inputs) == {"INPUT0", "INPUT1"}
    assert set(outputs) == {"OUTPUT0", "OUTPUT1"}
    assert inputs["INPUT0"]["datatype"] == "INT32"
    assert inputs["INPUT1"]["datatype"] == "FP32"
    assert outputs["OUTPUT0"]["datatype"] == "INT32"
    assert outputs["OUTPUT1"]["datatype"] == "FP32"
    for t in list(inputs.values()) + list(outputs.values()):
        assert [int(d) for d in t["shape"]] == [-1, 4]


def test_model_metadata_every_dtype(client):
    for suffix, (_cfg, wire) in DTYPE_MODELS.items():
        md = client.get_model_metadata("identity_" + suffix)
        assert md["inputs"][0]["datatype"] == wire, suffix
        assert md["outputs"][0]["datatype"] == wire, suffix
        # max_batch_size 0: no batch dimension
        assert [int(d) for d in md["inputs"][0]["shape"]] == [-1], suffix


def test_model_metadata_unknown_model_404(client):
    expect_server_error(client.get_model_metadata, "no_such_model", status=404)


def test_model_metadata_unknown_version_404(client):
    expect_server_error(client.get_model_metadata, "identity_fp32", "9", status=404)


# --------------------------------------------------------------------------- model config

def test_model_config(client):
    cfg = client.get_model_config("identity_fp32")
    assert cfg["name"] == "identity_fp32"
    assert int(cfg["max_batch_size"]) == 8
    assert cfg.get("backend") == "identity"
    assert len(cfg["input"]) == 1
    assert cfg["input"][0]["name"] == "INPUT0"
    assert cfg["input"][0]["data_type"] == "TYPE_FP32"
    assert [int(d) for d in cfg["input"][0]["dims"]] == [-1]
    assert cfg["output"][0]["name"] == "OUTPUT0"
    assert cfg["output"][0]["data_type"] == "TYPE_FP32"
    assert [int(d) for d in cfg["output"][0]["dims"]] == [-1]


def test_model_config_with_version(client):
    cfg = client.get_model_config("identity_fp32", "1")
    assert cfg["name"] == "identity_fp32"


def test_model_config_types_and_dims(client):
    cfg = client.get_model_config("identity_two")
    assert int(cfg["max_batch_size"]) == 8
    by_name = {t["name"]: t for t in cfg["input"]}
    assert by_name["INPUT0"]["data_type"] == "TYPE_INT32"
    assert by_name["INPUT1"]["data_type"] == "TYPE_FP32"
    assert [int(d) for d in by_name["INPUT0"]["dims"]] == [4]
    for suffix, (cfg_type, _wire) in DTYPE_MODELS.items():
        c = client.get_model_config("identity_" + suffix)
        assert c["input"][0]["data_type"] == cfg_type, suffix
        assert int(c.get("max_batch_size", 0)) == 0, suffix


def test_model_config_instance_group_and_parameters(client):
    cfg = client.get_model_config("slow")
    groups = cfg.get("instance_group", [])
    assert sum(int(g.get("count", 1)) for g in groups) == 2, groups
    params = cfg.get("parameters", {})
    assert params["execute_delay_ms"]["string_value"] == "300"


def test_model_config_unknown_model_404(client):
    expect_server_error(client.get_model_config, "no_such_model", status=404)
