"""Model repository: index, models that fail to load (and their reasons),
version policies, name defaulting / mismatch, a model in two repositories."""

import json

import numpy as np
import pytest
import tritonclient.http as httpclient

from support import (
    BROKEN_MODELS,
    GOOD_MODELS,
    NOT_SERVED,
    assert_still_serving,
    expect_server_error,
    fp32_identity,
    index_entries,
    make_input,
    raw_request,
    write_model,
)


def _x():
    return np.array([[0.5, -1.5, 2.0]], dtype=np.float32)


def _infer_version(client, model, version=""):
    x = _x()
    res = client.infer(model, [make_input("INPUT0", x)], model_version=version)
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), x)
    return str(res.get_response()["model_version"])


# --------------------------------------------------------------------------- index

def test_index_lists_every_model(client):
    index = client.get_model_repository_index()
    assert isinstance(index, list)
    names = {e["name"] for e in index}
    assert set(GOOD_MODELS) <= names, set(GOOD_MODELS) - names
    assert set(BROKEN_MODELS) <= names, set(BROKEN_MODELS) - names
    for e in index:
        assert "state" in e, e


def test_index_raw_post(server):
    status, _, body = raw_request(server.url, "POST", "/v2/repository/index", b"{}",
                                  {"Content-Type": "application/json"})
    assert status == 200, body
    doc = json.loads(body)
    assert any(e["name"] == "identity_fp32" and e["state"] == "READY" for e in doc)


@pytest.mark.parametrize("name", [m for m in GOOD_MODELS if not m.startswith("versioned")])
def test_good_models_ready_in_index(client, name):
    entries = index_entries(client, name)
    ready = [e for e in entries if e["state"] == "READY"]
    assert len(ready) == 1, entries
    assert str(ready[0].get("version", "1")) == "1"
    assert not ready[0].get("reason"), ready[0]


@pytest.mark.parametrize("name", sorted(BROKEN_MODELS))
def test_broken_model_unavailable_with_reason(client, name):
    entries = index_entries(client, name)
    assert entries, f"{name} missing from the index"
    assert all(e["state"] == "UNAVAILABLE" for e in entries), entries
    reason = " ".join(e.get("reason", "") for e in entries)
    assert reason.strip(), f"no reason for {name}: {entries}"
    for s in BROKEN_MODELS[name]:
        assert s in reason.lower(), f"{s!r} not in reason {reason!r}"
    assert client.is_model_ready(name) is False


@pytest.mark.parametrize("name", sorted(BROKEN_MODELS))
def test_broken_model_cannot_infer(client, name):
    expect_server_error(client.infer, name, [make_input("INPUT0", _x())], status=NOT_SERVED)
    assert_still_serving(client)


def test_name_mismatch_does_not_register_config_name(client):
    # the config says "other_name"; the model is known by its folder only
    assert index_entries(client, "other_name") == []
    expect_server_error(client.infer, "other_name", [make_input("INPUT0", _x())], status=404)


# --------------------------------------------------------------------------- name default

def test_name_defaults_to_folder(client):
    assert client.is_model_ready("noname")
    assert client.get_model_config("noname")["name"] == "noname"
    assert client.get_model_metadata("noname")["name"] == "noname"
    assert _infer_version(client, "noname") == "1"


# --------------------------------------------------------------------------- versions

def _ready_versions(client, name):
    return sorted(str(e["version"]) for e in index_entries(client, name)
                  if e["state"] == "READY")


@pytest.mark.parametrize("model,served,unserved", [
    ("versioned", ["3"], ["1", "2"]),
    ("versioned_all", ["1", "2", "3"], []),
    ("versioned_specific", ["1", "3"], ["2"]),
])
def test_version_policy(client, model, served, unserved):
    assert _ready_versions(client, model) == served
    md = client.get_model_metadata(model)
    assert sorted(str(v) for v in md["versions"]) == served
    for v in served:
        assert client.is_model_ready(model, v) is True
        assert _infer_version(client, model, v) == v
        assert client.get_model_metadata(model, v)["name"] == model
        assert client.get_model_config(model, v)["name"] == model
    for v in unserved + ["4"]:
        assert client.is_model_ready(model, v) is False
        expect_server_error(client.infer, model, [make_input("INPUT0", _x())],
                            model_version=v, status=404)
        expect_server_error(client.get_model_metadata, model, v, status=404)
    # without a version the server picks the highest version served (as Triton)
    assert client.is_model_ready(model) is True
    assert _infer_version(client, model) == served[-1]


# --------------------------------------------------------------------------- several repositories

def test_same_model_in_two_repositories(start_server, make_repo):
    repo_a, repo_b = make_repo("repo_a"), make_repo("repo_b")
    write_model(repo_a, "dup", fp32_identity("dup", 4))
    write_model(repo_b, "dup", fp32_identity("dup", 4))
    write_model(repo_a, "only_a", fp32_identity("only_a", 4))
    write_model(repo_b, "only_b", fp32_identity("only_b", 4))
    srv = start_server([repo_a, repo_b])
    with httpclient.InferenceServerClient(srv.url) as c:
        entries = index_entries(c, "dup")
        assert entries, "dup missing from the index"
        assert all(e["state"] == "UNAVAILABLE" for e in entries), entries
        reason = " ".join(e.get("reason", "") for e in entries)
        assert str(repo_a) in reason and str(repo_b) in reason, reason
        assert c.is_model_ready("dup") is False
        expect_server_error(c.infer, "dup", [make_input("INPUT0", _x())], status=NOT_SERVED)
        # the models found once, one in each repository, serve
        for name in ("only_a", "only_b"):
            assert c.is_model_ready(name)
            assert _infer_version(c, name) == "1"


def test_models_from_two_repositories_serve(start_server, make_repo):
    repo_a, repo_b = make_repo("ra"), make_repo("rb")
    write_model(repo_a, "ma", fp32_identity("ma", 2))
    write_model(repo_b, "mb", fp32_identity(None, 2))
    srv = start_server([repo_a, repo_b])
    with httpclient.InferenceServerClient(srv.url) as c:
        assert c.is_server_ready()
        names = {e["name"] for e in c.get_model_repository_index() if e["state"] == "READY"}
        assert names == {"ma", "mb"}
        assert _infer_version(c, "ma") == "1"
        assert _infer_version(c, "mb") == "1"
