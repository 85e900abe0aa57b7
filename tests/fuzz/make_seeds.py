"""Writes the seed corpora of the fuzz harnesses into tests/fuzz/corpus/<harness>/.

The seeds are committed; run this again (.venv/bin/python tests/fuzz/make_seeds.py)
only to change them. Each seed is a valid input of the shape the harness
expects (see the comment at the top of each *_fuzzer.cc), so the fuzzer
starts from the inside of every parser instead of its first error.
"""

import base64
import gzip
import json
import marshal
import sys
import struct
import zlib
from pathlib import Path

from tritonclient.grpc import service_pb2

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def write(harness, name, data):
    d = HERE / "corpus" / harness
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def infer_json(inputs, outputs=None, **params):
    doc = {"id": "seed", "inputs": inputs}
    if outputs:
        doc["outputs"] = outputs
    if params:
        doc["parameters"] = params
    return json.dumps(doc).encode()


def bytes_tensor(items):
    return b"".join(struct.pack("<I", len(s)) + s for s in items)


def http_infer():
    fp32 = infer_json([{"name": "INPUT0", "datatype": "FP32", "shape": [2, 3],
                        "data": [[1, 2, 3], [4.5, -1e30, 0]]}],
                      [{"name": "OUTPUT0", "parameters": {"classification": 2}}])
    strings = infer_json([{"name": "INPUT0", "datatype": "BYTES", "shape": [3], "data": ["a", "", "\u00e9"]},
                          {"name": "INPUT1", "datatype": "INT64", "shape": [2, 3],
                           "data": [1, -2, 3, 9007199254740993, 0, -9223372036854775808]}],
                         sequence_id=7, binary_data_output=True)
    fp16 = infer_json([{"name": "INPUT0", "datatype": "FP16", "shape": [1, 2, 2], "data": [0.5, 1, 2, 65504]}])
    for i, body in enumerate((fp32, strings, fp16)):
        write("http_infer", f"json_{i}", b"\x00" + body)
        write("http_infer", f"gzip_{i}", b"\x01" + gzip.compress(body))
        write("http_infer", f"deflate_{i}", b"\x02" + zlib.compress(body))
    # The binary extension: a JSON header, then the raw tensors.
    raw = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    header = infer_json([{"name": "INPUT0", "datatype": "FP32", "shape": [1, 6],
                          "parameters": {"binary_data_size": len(raw)}}],
                        [{"name": "OUTPUT0", "parameters": {"binary_data": True}}])
    write("http_infer", "binary", b"\x04" + struct.pack("<I", len(header)) + header + raw)
    bt = bytes_tensor([b"hello", b"", b"\x00\xff"])
    header = infer_json([{"name": "INPUT0", "datatype": "BYTES", "shape": [3],
                          "parameters": {"binary_data_size": len(bt)}}])
    write("http_infer", "binary_bytes", b"\x04" + struct.pack("<I", len(header)) + header + bt)
    # Shared memory: the harness registers one 4 KiB region named "r".
    shm = infer_json([{"name": "INPUT0", "datatype": "FP32", "shape": [1, 6],
                       "parameters": {"shared_memory_region": "r", "shared_memory_offset": 8,
                                      "shared_memory_byte_size": 24}}],
                     [{"name": "OUTPUT0", "parameters": {"shared_memory_region": "r",
                                                         "shared_memory_offset": 100,
                                                         "shared_memory_byte_size": 24}}])
    write("http_infer", "shared_memory", b"\x00" + shm)


def grpc_infer():
    m = service_pb2.ModelInferRequest(model_name="m", model_version="1", id="seed")
    t = m.inputs.add(name="INPUT0", datatype="FP32", shape=[2, 3])
    m.raw_input_contents.append(struct.pack("<6f", 1, 2, 3, 4, 5, 6))
    o = m.outputs.add(name="OUTPUT0")
    o.parameters["classification"].int64_param = 2
    m.parameters["sequence_id"].int64_param = 3
    write("grpc_infer", "raw", b"\x00" + m.SerializeToString())
    m = service_pb2.ModelInferRequest(model_name="m")
    t = m.inputs.add(name="INPUT0", datatype="BYTES", shape=[2])
    t.contents.bytes_contents.extend([b"ab", b""])
    t = m.inputs.add(name="INPUT1", datatype="INT64", shape=[2, 3])
    t.contents.int64_contents.extend([1, 2, 3, 4, 5, 6])
    write("grpc_infer", "typed", b"\x00" + m.SerializeToString())
    m = service_pb2.ModelInferRequest(model_name="m")
    t = m.inputs.add(name="INPUT0", datatype="FP16", shape=[1, 2, 1])
    m.raw_input_contents.append(b"\x00\x3c\x00\x40")
    write("grpc_infer", "fp16_stream", b"\x00" + m.SerializeToString())
    m = service_pb2.ModelInferRequest(model_name="m")
    t = m.inputs.add(name="INPUT0", datatype="BYTES", shape=[2])
    t.parameters["shared_memory_region"].string_param = "r"
    t.parameters["shared_memory_byte_size"].int64_param = 11
    t = m.inputs.add(name="INPUT1", datatype="INT64", shape=[2, 3])
    m.raw_input_contents.append(struct.pack("<6q", 1, 2, 3, 4, 5, 6))
    o = m.outputs.add(name="OUTPUT1")
    o.parameters["shared_memory_region"].string_param = "r"
    o.parameters["shared_memory_offset"].int64_param = 64
    o.parameters["shared_memory_byte_size"].int64_param = 48
    write("grpc_infer", "shared_memory", b"\x00" + m.SerializeToString())
    load = service_pb2.RepositoryModelLoadRequest(model_name="m")
    load.parameters["config"].string_param = json.dumps({"backend": "identity", "max_batch_size": 8})
    load.parameters["file:1/model.onnx"].bytes_param = b"\x08\x07"
    write("grpc_infer", "load", b"\x01" + load.SerializeToString())


def request_bodies():
    write("request_bodies", "index", b'{"ready": true}')
    config = {"backend": "identity", "max_batch_size": 8,
              "input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
              "output": [{"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [-1]}],
              "dynamic_batching": {"preferred_batch_size": [4, 8], "max_queue_delay_microseconds": 100},
              "instance_group": [{"count": 2, "kind": "KIND_CPU"}]}
    body = {"parameters": {"config": json.dumps(config),
                           "file:1/labels.txt": base64.b64encode(b"cat\ndog\n").decode(),
                           "unload_dependents": False}}
    write("request_bodies", "load", json.dumps(body))
    write("request_bodies", "trace", json.dumps({"trace_level": ["TIMESTAMPS"], "trace_rate": "2",
                                                 "trace_count": 5, "log_frequency": None}))
    write("request_bodies", "shm_register", json.dumps({"key": "/region", "offset": 16, "byte_size": 4096}))
    write("request_bodies", "logging", json.dumps({"log_info": False, "log_verbose_level": 2,
                                                   "log_format": "ISO8601", "log_error": None}))
    seq = {"backend": "accumulator", "max_batch_size": 2,
           "input": [{"name": "INPUT", "data_type": "TYPE_INT32", "dims": [1]}],
           "output": [{"name": "OUTPUT", "data_type": "TYPE_INT32", "dims": [1]}],
           "sequence_batching": {"oldest": {"max_candidate_sequences": 4},
                                 "control_input": [{"name": "START", "control": [
                                     {"kind": "CONTROL_SEQUENCE_START", "int32_false_true": [0, 1]}]}],
                                 "state": [{"input_name": "S_IN", "output_name": "S_OUT",
                                            "data_type": "TYPE_INT32", "dims": [2],
                                            "initial_state": [{"name": "i", "data_type": "TYPE_INT32",
                                                               "dims": [2], "zero_data": True}]}]}}
    write("request_bodies", "load_sequence", json.dumps({"parameters": {"config": json.dumps(seq)}}))


def model_config():
    configs = sorted(REPO.glob("examples/model_repository/*/config.pbtxt"))
    for i, path in enumerate(configs):
        write("model_config", f"example_{i}", b"\x00" + path.read_bytes())
    write("model_config", "sequence", b"\x00" + b'''
name: "m" backend: "accumulator" max_batch_size: 2
input [{ name: "INPUT" data_type: TYPE_INT32 dims: [1] reshape { shape: [] } }]
output [{ name: "OUTPUT" data_type: TYPE_INT32 dims: [1] }]
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  direct { max_queue_delay_microseconds: 100 minimum_slot_utilization: 0.5 }
  control_input [{ name: "START" control [{ kind: CONTROL_SEQUENCE_START fp32_false_true: [0, 1] }] },
                 { name: "CORRID" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_STRING }] }]
}
model_warmup [{ name: "w" batch_size: 2 inputs { key: "INPUT" value { data_type: TYPE_INT32 dims: [1] random_data: true } } }]
''')
    # A name that is not UTF-8 once the text format's escape is read; it once
    # made the JSON written back fail to parse.
    write("model_config", "non_utf8_name", b"\x00" + rb'''
name: "m" backend: "identity" max_batch_size: 0
input [{ name: "IN" data_type: TYPE_FP32 dims: [1] }]
output [{ name: "OUT\377" data_type: TYPE_FP32 dims: [1] }]
''')
    write("model_config", "dynamic_json", b"\x01" + json.dumps({
        "name": "m", "platform": "onnxruntime_onnx", "max_batch_size": 8,
        "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [3, -1, -1], "format": "FORMAT_NCHW"}],
        "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [-1, 4], "reshape": {"shape": [-1, 2, 2]}}],
        "dynamic_batching": {"priority_levels": 2, "default_priority_level": 1, "preserve_ordering": False,
                             "default_queue_policy": {"timeout_action": "DELAY",
                                                      "default_timeout_microseconds": 1000},
                             "priority_queue_policy": {"2": {"max_queue_size": 4}}},
        "version_policy": {"specific": {"versions": [1, 3]}},
        "response_cache": {"enable": True}}).encode())


def bytes_tensor_seeds():
    write("bytes_tensor", "three", b"\x05" + bytes_tensor([b"hello", b"", b"\x00\xff\x01"]))
    write("bytes_tensor", "one", b"\x01" + bytes_tensor([b"x" * 40]))


def parameters():
    write("parameters", "sequences", "\n".join([
        "42", "true", "false", "42", "0", "true", "abc", "1", "0",
        "99999999999999999999999", "true", "true", "", "true", "false"]) + "\n")
    write("parameters", "flags", "\n".join([
        "gzip", "deflate, gzip;q=0.5", "identity", "br",
        "model-repository,model-config:admin-key=s3cret", "health:k=v=w:x",
        "R1:4", "R2:2:0", "summary_latencies=true", "summary_quantiles=0.5:0.05,0.99:0.001",
        "counter_latencies=false", "summary_max_age_ms=1000"]) + "\n")


def grpc_h2():
    """Client frames after the HTTP/2 preface (the harness sends the preface)."""
    import h2.config
    import h2.connection

    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    def connection(calls, **kw):
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        for path, message, extra in calls:
            stream = conn.get_next_available_stream_id()
            conn.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":path", path),
                                       (":authority", "x"), ("content-type", "application/grpc"),
                                       ("te", "trailers"), *extra])
            conn.send_data(stream, struct.pack(">BI", 0, len(message)) + message, end_stream=True)
        if kw.get("ping"):
            conn.ping(b"12345678")
        data = conn.data_to_send()
        assert data.startswith(preface)
        return data[len(preface):]

    svc = "/inference.GRPCInferenceService/"
    m = service_pb2.ModelInferRequest(model_name="m", id="1")
    m.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 4])
    m.raw_input_contents.append(struct.pack("<4f", 1, 2, 3, 4))
    infer = m.SerializeToString()
    write("grpc_h2", "live", connection([(svc + "ServerLive", b"", [])]))
    write("grpc_h2", "infer", connection([(svc + "ModelInfer", infer, [("grpc-timeout", "5S")])]))
    write("grpc_h2", "stream", connection([(svc + "ModelStreamInfer", infer, [])], ping=True))
    write("grpc_h2", "two_calls", connection([
        (svc + "ModelMetadata", service_pb2.ModelMetadataRequest(name="m").SerializeToString(), []),
        (svc + "RepositoryIndex", b"", [("triton-grpc-protocol-k", "v")])]))
    write("grpc_h2", "reflection", connection([
        ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", b"\x3a\x00", []),
        ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
         b"\x22\x1einference.GRPCInferenceService", [])]))
    write("grpc_h2", "gzip", connection([(svc + "ServerReady", b"", [("grpc-encoding", "gzip")])]))


def python_answer():
    """A count byte, a region byte (64-byte units), then a stub's answer as marshal.dumps(answer, 2) writes it."""
    out = ("OUTPUT0", "FP32", (1, 16), 64, 64)
    seeds = {
        "outputs": (1, 4, ("responses", None, (("outputs", (out,), None),))),
        "mixed": (3, 8, ("responses", 512, (None, ("error", "bad input", 3),
                                             ("outputs", (out, ("OUT_S", "BYTES", (2,), 128, 14)), '{"k": true}')))),
        "senders": (2, 1, ("responses", None, None)),
        "error": (5, 1, ("error", "Failed to process the request(s) for model 'm', message: x", 1)),
        "interned": (1, 4, (sys.intern("responses"), 2**40, ((sys.intern("outputs"), (out,), None),))),
    }
    for name, (count, region, answer) in seeds.items():
        write("python_answer", name, bytes([count, region]) + marshal.dumps(answer, 2))


if __name__ == "__main__":
    http_infer()
    grpc_infer()
    grpc_h2()
    request_bodies()
    model_config()
    bytes_tensor_seeds()
    parameters()
    python_answer()
    for d in sorted((HERE / "corpus").iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
