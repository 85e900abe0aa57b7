"""The stub process of inferd's Python backend: runs one instance of a Triton
model.py (class TritonPythonModel) for the server.

The server starts it with a socket at fd 3 and a shared-memory file (memfd)
at fd 4. Messages are frames of a 4-byte little-endian length and JSON:
  {"type": "auto_complete", "model_file": ..., "config": JSON text} -> {} or {"config"} or {"error"}
  {"type": "initialize", "model_file": ..., "args": {...}} -> {} or {"error"}
  {"type": "execute", "requests": [...], "outputs_at": N} -> {"responses": [...]} or {"error"}
  {"type": "finalize"} -> {} and the process exits
Input tensors are in the shared memory at the offsets the request gives
(numpy views where the dtype allows); outputs are written from "outputs_at"
on, growing the file when needed, and described by name, datatype, shape,
offset and size. Needs only the standard library and numpy.
"""

import importlib.util
import json
import mmap
import os
import socket
import struct
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import triton_python_backend_utils as pb_utils  # noqa: E402

SOCKET_FD, REGION_FD = 3, 4
ALIGNMENT = 64


class Region:
    """The shared memory file, mapped; remapped when either side grew it."""

    def __init__(self):
        self.map = None
        self.size = 0
        self.refresh()

    def refresh(self):
        size = os.fstat(REGION_FD).st_size
        if size != self.size:
            # Views of the old mapping keep it alive until they go.
            self.map = mmap.mmap(REGION_FD, size) if size else None
            self.size = size

    def reserve(self, size):
        if size > self.size:
            os.ftruncate(REGION_FD, max(size, self.size * 2))
            self.refresh()


def recv_frame(sock):
    header = _recv_exactly(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack("<I", header)
    body = _recv_exactly(sock, length)
    return None if body is None else json.loads(body)


def _recv_exactly(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send_frame(sock, message):
    body = json.dumps(message).encode()
    sock.sendall(struct.pack("<I", len(body)) + body)


def load_model_class(path):
    spec = importlib.util.spec_from_file_location("model", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    spec.loader.exec_module(module)
    return module.TritonPythonModel


def input_tensor(region, description):
    datatype = description["datatype"]
    shape = tuple(description["shape"])
    offset, size = description["offset"], description["size"]
    if datatype == "BYTES":
        data = pb_utils.deserialize_bytes_tensor(bytes(region.map[offset:offset + size]))
        array = data.reshape(shape)
    else:
        dtype = pb_utils.triton_to_numpy_type(datatype)
        if dtype is None:
            raise pb_utils.TritonModelException(
                f"input '{description['name']}' is {datatype}, which numpy cannot hold")
        count = size // np.dtype(dtype).itemsize
        array = np.frombuffer(region.map, dtype=dtype, count=count, offset=offset).reshape(shape)
    return pb_utils.Tensor(description["name"], array)


def output_bytes(tensor):
    """(datatype, shape, raw bytes) of an output tensor, as the server takes it."""
    array = tensor.as_numpy()
    if array.dtype == np.object_ or array.dtype.type in (np.bytes_, np.str_):
        return "BYTES", list(array.shape), pb_utils.serialize_byte_tensor(array).tobytes()
    datatype = pb_utils.numpy_to_triton_type(array.dtype)
    if datatype is None:
        raise pb_utils.TritonModelException(
            f"output '{tensor.name()}' has a numpy dtype the server cannot send: {array.dtype}")
    return datatype, list(array.shape), np.ascontiguousarray(array).tobytes()


def write_responses(region, responses, start):
    answers, offset = [], start
    for response in responses:
        if not isinstance(response, pb_utils.InferenceResponse):
            raise pb_utils.TritonModelException(
                f"execute() must return pb_utils.InferenceResponse objects, got {type(response).__name__}")
        if response.has_error():
            answers.append({"error": response.error().message()})
            continue
        outputs = []
        for tensor in response.output_tensors():
            datatype, shape, data = output_bytes(tensor)
            region.reserve(offset + len(data))
            region.map[offset:offset + len(data)] = data
            outputs.append({"name": tensor.name(), "datatype": datatype, "shape": shape,
                            "offset": offset, "size": len(data)})
            offset = (offset + len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        answers.append({"outputs": outputs})
    return answers


def main():
    os.closerange(REGION_FD + 1, os.sysconf("SC_OPEN_MAX"))  # nothing of the server's
    sock = socket.socket(fileno=SOCKET_FD)
    region = Region()
    model = None
    name = "?"
    while True:
        message = recv_frame(sock)
        if message is None:
            return 0  # the server went away
        kind = message["type"]
        if kind == "initialize":
            try:
                args = message["args"]
                name = args.get("model_name", name)
                model = load_model_class(message["model_file"])()
                if hasattr(model, "initialize"):
                    model.initialize(args)
                send_frame(sock, {})
            except BaseException:  # noqa: BLE001 (any failure of user code is the answer)
                send_frame(sock, {"error": traceback.format_exc(limit=20)})
        elif kind == "execute":
            region.refresh()
            try:
                requests = [pb_utils.InferenceRequest._from_server(
                    [input_tensor(region, d) for d in r["inputs"]], r["requested_outputs"],
                    r["request_id"], r["correlation_id"]) for r in message["requests"]]
                responses = model.execute(requests)
                if responses is None or len(responses) != len(requests):
                    raise pb_utils.TritonModelException(
                        "Number of InferenceResponse objects do not match number of InferenceRequest objects "
                        f"(got {0 if responses is None else len(responses)} for {len(requests)})")
                answers = write_responses(region, responses, message["outputs_at"])
                del requests, responses
                send_frame(sock, {"responses": answers})
            except BaseException as e:  # noqa: BLE001
                text = e.message() if isinstance(e, pb_utils.TritonError) else f"{type(e).__name__}: {e}"
                send_frame(sock, {"error": f"Failed to process the request(s) for model '{name}', message: {text}"})
        elif kind == "auto_complete":
            try:
                model_class = load_model_class(message["model_file"])
                complete = getattr(model_class, "auto_complete_config", None)
                if complete is None:
                    send_frame(sock, {})
                else:
                    config = complete(pb_utils.ModelConfig(message["config"]))
                    if not isinstance(config, pb_utils.ModelConfig):
                        raise pb_utils.TritonModelException(
                            "auto_complete_config must return the pb_utils.ModelConfig it was given")
                    send_frame(sock, {"config": json.dumps(config.as_dict())})
            except BaseException:  # noqa: BLE001
                send_frame(sock, {"error": traceback.format_exc(limit=20)})
        elif kind == "finalize":
            try:
                if model is not None and hasattr(model, "finalize"):
                    model.finalize()
            finally:
                send_frame(sock, {})
            return 0


if __name__ == "__main__":
    sys.exit(main())
