"""Failures the conformance run expects, each with what inferd lacks or does differently.

Keys are result names as the table prints them: "examples/<example and flags>"
for a client example, "<L0 dir>/<file> [variant]::<Class.test>" for a QA test
case, "L0_model_config (...)::<case folder>" for a model-config check; fnmatch
patterns (*, ?, [...]) are allowed. A failure listed here does not fail the
run; one that is not listed does. An entry whose case passed is reported at the
end of the report so that it gets removed, unless its reason starts with
"intermittent:" (a race that fails some runs only).

Most entries are error texts: Triton's tests match Triton's exact messages."""

SERVER_NAME = ("inferd's server metadata name is 'inferd' by default (its --id); Triton's is 'triton', "
               "and Triton's clients and tests check it (the --id=triton runs pass)")
SHM = "L0_shared_memory/shared_memory_test.py [[]*[]]"
SEQ = "L0_sequence_batcher/sequence_batcher_test.py [[]*[]]"

KNOWN_FAILURES = {
    # ------------------------------------------------------------------ client examples
    "examples/simple_http_health_metadata.py": SERVER_NAME,
    "examples/simple_grpc_health_metadata.py": SERVER_NAME,

    # ------------------------------------------------------------------ L0_shared_memory
    SHM + "::SharedMemoryTest.test_invalid_create_shm": (
        "not inferd: a client-side check of tritonclient.utils.shared_memory, whose message for a "
        "negative size changed after r24.10 ('unable to create the shared memory region')"),

    # ------------------------------------------------------------------ L0_http
    "L0_http/http_test.py::HttpTest.test_content_encoding_chunked_manually": (
        "a request with both 'Transfer-Encoding: chunked' and 'Content-Length' (requests adds it) gets "
        "400 'malformed HTTP request: bad Content-Length'; Triton decodes the chunks (RFC 9112 6.3 lets a "
        "server do either)"),
    "L0_http/python_http_aio_test.py::*.test_get_server_metadata": SERVER_NAME,

    # ------------------------------------------------------------------ L0_grpc
    "L0_grpc/python_grpc_aio_test.py::*.test_get_server_metadata": SERVER_NAME,
    "L0_grpc/python_grpc_aio_test.py::*.test_register_system_shared_memory": (
        "registering a region with an empty name and key: inferd INVALID_ARGUMENT 'a shared memory "
        "region needs a name to be registered', Triton INTERNAL \"Unable to open shared memory region: ''\""),

    # ------------------------------------------------------------------ L0_infer_zero, L0_scalar_io, ...
    # ------------------------------------------------------------------ L0_server_status
    "L0_server_status/server_status_test.py::ServerMetadataTest.test_basic": SERVER_NAME,
    "L0_server_status/server_status_test.py::ServerMetadataTest.test_unknown_model": SERVER_NAME,

}
