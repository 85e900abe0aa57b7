"""The standard gRPC services beside GRPCInferenceService (issue 13):
grpc.health.v1.Health, which Kubernetes' gRPC probes call, and server
reflection, which grpcurl uses to list and call services. The messages are
built by hand from their few fields, so no extra Python package is needed."""

import grpc
import pytest

from support import fp32_identity, write_model

CHECK = "/grpc.health.v1.Health/Check"
SERVING, NOT_SERVING = 1, 2


def _health_request(service=""):
    # HealthCheckRequest { string service = 1; }
    data = service.encode()
    return (b"\x0a" + bytes([len(data)]) + data) if data else b""


def _health_status(payload):
    # HealthCheckResponse { ServingStatus status = 1; }; 0 (UNKNOWN) is sent as nothing.
    if not payload:
        return 0
    assert payload[0] == 0x08 and len(payload) == 2, payload
    return payload[1]


def _check(url, service="", metadata=None):
    with grpc.insecure_channel(url) as channel:
        call = channel.unary_unary(CHECK, request_serializer=None, response_deserializer=None)
        return _health_status(call(_health_request(service), metadata=metadata, timeout=10))


@pytest.fixture
def ready_server(start_server, make_repo):
    repo = make_repo("health")
    write_model(repo, "m", fp32_identity("m", 4))
    return start_server([repo])


def test_health_check_serves_while_ready(ready_server):
    assert _check(ready_server.grpc_url) == SERVING
    assert _check(ready_server.grpc_url, "inference.GRPCInferenceService") == SERVING


def test_health_check_follows_readiness(server):
    # The shared repository holds models that fail to load, and
    # --strict-readiness is on: live, but not ready.
    assert _check(server.grpc_url) == NOT_SERVING


def test_health_check_of_an_unknown_service_is_not_found(ready_server):
    with pytest.raises(grpc.RpcError) as e:
        _check(ready_server.grpc_url, "no.such.Service")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no.such.Service" in e.value.details()


def test_health_check_is_in_the_restricted_health_group(start_server, make_repo):
    repo = make_repo("health_restricted")
    write_model(repo, "m", fp32_identity("m", 4))
    srv = start_server([repo], ["--grpc-restricted-protocol=health:probe-key=k1"])
    with pytest.raises(grpc.RpcError) as e:
        _check(srv.grpc_url)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _check(srv.grpc_url, metadata=[("triton-grpc-protocol-probe-key", "k1")]) == SERVING


def test_reflection_lists_the_services(ready_server):
    # ServerReflectionRequest { string list_services = 7; } on the
    # v1alpha stream, which grpcurl uses.
    with grpc.insecure_channel(ready_server.grpc_url) as channel:
        stream = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                       request_serializer=None, response_deserializer=None)
        replies = list(stream(iter([b"\x3a\x00"]), timeout=10))
    assert len(replies) == 1
    for name in (b"inference.GRPCInferenceService", b"grpc.health.v1.Health",
                 b"grpc.reflection.v1alpha.ServerReflection"):
        assert name in replies[0], replies[0]
