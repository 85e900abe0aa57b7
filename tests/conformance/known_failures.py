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
MODEL_CONFIG = "L0_model_config (*)"
MODEL_CONFIG_TEXT = "inferd's load error says the same in other words (test.sh greps Triton's text): "
AUTOFILL = ("the config inferd completes differs from Triton's: no platform 'onnxruntime_onnx' next to the "
            "backend, no default_model_filename 'model.onnx', no optimization.input/output_pinned_memory, "
            "default KIND_CPU instance count 1 (Triton 2)")

KNOWN_FAILURES = {
    # ------------------------------------------------------------------ client examples
    "examples/simple_http_health_metadata.py": SERVER_NAME,
    "examples/simple_grpc_health_metadata.py": SERVER_NAME,
    "examples/simple_grpc_model_control.py": (
        "a load with a 256-character file override name: inferd answers INTERNAL 'failed to load "
        "...: cannot write file override <tmp path>/AAAA...' where Triton says 'failed to poll from "
        "model repository' (the example checks the text; the status code matches)"),

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
    "L0_infer_zero/infer_zero_test.py::*": (
        "the ensembles simple_zero_*, sequence_zero_*, fan_zero_* of Triton's qa_ensemble_model_repository "
        "(the test asks for them whenever the data type allows): inferd has no ensembles yet (issue 15)",
        r"Request for unknown model: '(simple|sequence|fan)_zero_"),
    "L0_scalar_io/scalar_test.py::ScalarIOTest.test_scalar_io": (
        "ONNX inputs/outputs without shape information (gen_qa_ort_scalar_models.py): inferd takes them as "
        "scalars of shape [] and refuses config dims [1] / [1,1] ('the config's dims [1] do not fit the "
        "model's shape []'); Triton's onnxruntime backend loads them and serves [1] and [1,1]"),
    # ------------------------------------------------------------------ L0_server_status
    "L0_server_status/server_status_test.py::ServerMetadataTest.test_basic": SERVER_NAME,
    "L0_server_status/server_status_test.py::ServerMetadataTest.test_unknown_model": SERVER_NAME,

    # ------------------------------------------------------------------ L0_model_config
    MODEL_CONFIG + "::cli_messages/*": (
        "inferd takes --strict-model-config as a plain alias and logs none of Triton's warnings about it "
        "(\"Warning: '--strict-model-config' has been deprecated! ...\", \"Warning: Overriding deprecated "
        "'--strict-model-config' ...\"); it refuses the config-less model and exits, as Triton does"),
    MODEL_CONFIG + "::special_cases/invalid_runtime": MODEL_CONFIG_TEXT + (
        "'backend library not found; looked for <paths>' for \"unable to find backend library "
        "'__invalid_runtime__' for model 'invalid_runtime'\""),
    MODEL_CONFIG + "::special_cases/runtime_escape": MODEL_CONFIG_TEXT + (
        "\"'runtime' ... must be a file name inside the model or backend folder (no absolute path, no "
        "'..')\" for \"backend library name '../dummy_runtime/libtriton_identity.so' escapes backend "
        "directory\""),
    MODEL_CONFIG + "::autofill_noplatform/common/no_version": MODEL_CONFIG_TEXT + (
        "\"must specify 'platform' or 'backend'\" for \"Invalid model name: Could not determine backend "
        "for model 'no_version' ...\""),
    MODEL_CONFIG + "::autofill_noplatform/onnx/*": MODEL_CONFIG_TEXT + (
        "the onnxruntime backend's checks of the config against the model (dims, max_batch_size, "
        "unknown/missing inputs and outputs) name the same problem in other words"),
    MODEL_CONFIG + "::autofill_noplatform_success/onnx/cpu_instance": AUTOFILL,
    MODEL_CONFIG + "::autofill_noplatform_success/onnx/no_config_no_batch": AUTOFILL,
    MODEL_CONFIG + "::autofill_noplatform_success/onnx/empty_config": AUTOFILL + (
        "; also no dynamic_batching.preferred_batch_size [max_batch_size] (and Triton's expected files "
        "for this case assume a GPU: KIND_GPU)"),
    MODEL_CONFIG + "::autofill_noplatform_success/onnx/no_config": AUTOFILL + (
        "; also no dynamic_batching.preferred_batch_size [max_batch_size] (and Triton's expected files "
        "for this case assume a GPU: KIND_GPU)"),
}
