"""The stub process of inferd's Python backend: runs one instance of a Triton
model.py (class TritonPythonModel) for the server.

The server starts it with a socket at fd 3 and a shared-memory file (memfd)
at fd 4. Messages are frames of a 4-byte little-endian length and JSON:
  {"type": "auto_complete", "model_file": ..., "config": JSON text} -> {} or {"config"} or {"error"}
  {"type": "initialize", "model_file": ..., "args": {...}} -> {} or {"error"}
  {"type": "finalize"} -> {} and the process exits
except the execution, the one message of every request, which is marshal
both ways (one C call reads or writes it; the server's marshal_writer.h and
execute_answer.h):
  ("execute", outputs_at, region_size,
   ((handle, request_id, correlation_id, parameters JSON, flags,
     ((name, datatype, shape, offset, size), ...), [requested output names]), ...))
      -> ("responses", region size if grown else None,
          (None | ("error", message, code) | ("outputs", ((name, datatype, shape, offset, size), ...),
           parameters JSON or None), ...) or None)
         or ("error", message, code)
Input tensors are in the shared memory at the offsets the request gives
(numpy views where the dtype allows; copies for a decoupled model, whose
threads may keep them after execute returns); outputs are written from
"outputs_at" on, growing the file when needed, and described by name,
datatype, shape, offset and size.

Where the C fast path (fastpath.c, the module _inferd_fastpath built beside
this file for the default interpreter) loads, it reads the frames, builds the
requests, writes plain responses and sends the answer; this file's Python
does the rest, and all of it where the module does not load.

fd 5 is the stub's own channel (SOCK_SEQPACKET, see the server's
stub_channel.h): response senders, BLS requests and log lines go there,
from any thread, their tensors in a sealed memfd passed with the message.
Needs only the standard library and numpy.
"""

import fcntl
import functools
import importlib.util
import inspect
import json
import marshal
import mmap
import os
import queue
import socket
import sys
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import triton_python_backend_utils as pb_utils  # noqa: E402


def load_fastpath():
    """The C fast path (fastpath.c, _inferd_fastpath) built for this
    interpreter, or None where there is none (another Python's virtualenv) or
    INFERD_PYTHON_FASTPATH=0: the stub then does all of it in Python, with the
    same objects and the same answers."""
    if os.environ.get("INFERD_PYTHON_FASTPATH", "1") == "0":
        return None
    try:
        import _inferd_fastpath
    except ImportError:
        return None
    return _inferd_fastpath


fastpath = load_fastpath()

SOCKET_FD, REGION_FD, CHANNEL_FD = 3, 4, 5
ALIGNMENT = 64
MAX_CHANNEL_MESSAGE = 160 * 1024  # the server's kMaxChannelMessageBytes


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


class FrameReader:
    """Frames from the server's socket, read with as few system calls as the
    data allows (one, for a frame that fits a read): an execution (marshal,
    a tuple) or another message (JSON, an object)."""

    def __init__(self, sock):
        self.recv = sock.recv
        self.pending = b""

    def next(self):
        data = self.pending
        while True:
            if len(data) >= 4:
                end = 4 + int.from_bytes(data[:4], "little")
                if len(data) >= end:
                    self.pending = data[end:]
                    body = data[4:end]
                    return marshal.loads(body) if body[:1] == b"(" else json.loads(body)
            chunk = self.recv(1 << 16)
            if not chunk:
                return None
            data = data + chunk if data else chunk


def frame_source(sock):
    """A function giving the server's next message: an execution (a tuple),
    another message (a dict), or None once the server closed its end."""
    if fastpath is None:
        return FrameReader(sock).next
    read = functools.partial(fastpath.read_frame, SOCKET_FD)

    def next_message():
        message = read()
        return json.loads(message) if type(message) is bytes else message

    return next_message


_encode = json.JSONEncoder(separators=(",", ":")).encode


def send_frame(sock, message):
    body = _encode(message).encode()
    sock.sendall(len(body).to_bytes(4, "little") + body)


def send_marshal(sock, answer):
    """The answer to an execution (tuples of str, int and None; see the server's execute_answer.h)."""
    body = marshal.dumps(answer, 2)
    sock.sendall(len(body).to_bytes(4, "little") + body)


_INT64 = range(-(1 << 63), 1 << 63)


def error_answer(error):
    """("error", message, code) of a pb_utils.TritonError, whatever a model put in it."""
    message, code = error.message(), error.code()
    return ("error", message if type(message) is str else str(message),
            code if type(code) is int and code in _INT64 else pb_utils.TritonError.INTERNAL)


def load_model_class(path):
    spec = importlib.util.spec_from_file_location("model", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    spec.loader.exec_module(module)
    return module.TritonPythonModel


_NUMPY_DTYPES = {}  # datatype name -> np.dtype, or None where numpy has none


def numpy_dtype(datatype):
    try:
        return _NUMPY_DTYPES[datatype]
    except KeyError:
        dtype = pb_utils.triton_to_numpy_type(datatype)
        dtype = _NUMPY_DTYPES[datatype] = None if dtype is None else np.dtype(dtype)
        return dtype


def tensor_from(buffer, description, copy=False):
    """A pb_utils.Tensor over bytes of `buffer` (an mmap) that a description,
    (name, datatype, shape, offset, size), names."""
    name, datatype, shape, offset, size = description
    if datatype == "BYTES":
        data = b"" if size == 0 else bytes(buffer[offset:offset + size])
        array = pb_utils.deserialize_bytes_tensor(data).reshape(shape)
    else:
        dtype = numpy_dtype(datatype)
        if dtype is None:
            raise pb_utils.TritonModelException(f"tensor '{name}' is {datatype}, which numpy cannot hold")
        count = size // dtype.itemsize
        if count == 0:
            array = np.empty(shape, dtype=dtype)
        else:
            array = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).reshape(shape)
            if copy:
                array = array.copy()
    return pb_utils.Tensor(name, array)


def build_requests(buffer, batch, copy):
    """The pb_utils.InferenceRequest objects of an execution's batch, their
    inputs in `buffer` (the region's mmap); copies of them when `copy`."""
    from_server = pb_utils.InferenceRequest._from_server
    return [from_server([tensor_from(buffer, d, copy) for d in inputs], outputs,
                        request_id, correlation_id, handle, parameters, flags)
            for handle, request_id, correlation_id, parameters, flags, inputs, outputs in batch]


# The datatypes numpy holds as plain numbers: name -> np.dtype.
NUMERIC_DTYPES = {name[len("TYPE_"):]: np.dtype(t) for name, t in pb_utils._TRITON_TO_NUMPY.items()
                  if t is not np.object_}


def execution_steps(sock):
    """(build, write, send) for executions: build(buffer, batch, copy) gives
    the requests; write(region, responses, start) the answers with the
    outputs written (see write_responses), or None when it leaves them to
    write_responses; send(answer) sends the answer. The C fast path's where
    there is one; else build_requests, nothing and send_marshal."""
    if fastpath is None:
        return build_requests, None, functools.partial(send_marshal, sock)
    build = functools.partial(
        fastpath.build_requests, np.ndarray, pb_utils.Tensor, {}, pb_utils.InferenceRequest,
        pb_utils.InferenceRequest._SERVER_DEFAULTS,
        {name: (dtype, dtype.itemsize) for name, dtype in NUMERIC_DTYPES.items()}, tensor_from)
    write_in_c = functools.partial(
        fastpath.write_responses, pb_utils.InferenceResponse, pb_utils.Tensor, np.ndarray,
        {dtype: name for name, dtype in NUMERIC_DTYPES.items()})

    def write(region, responses, start):
        return None if region.map is None else write_in_c(region.map, region.size, responses, start)

    return build, write, functools.partial(fastpath.send_answer, SOCKET_FD)


def output_bytes(tensor):
    """(datatype, shape, bytes-like) of an output tensor, as the server takes it."""
    array = tensor.as_numpy()
    dtype = array.dtype
    if dtype.kind in "OSU":  # Python objects, bytes or str: BYTES
        return "BYTES", array.shape, pb_utils.serialize_byte_tensor(array).tobytes()
    datatype = pb_utils.numpy_to_triton_type(dtype)
    if datatype is None:
        raise pb_utils.TritonModelException(
            f"output '{tensor.name()}' has a numpy dtype the server cannot send: {dtype}")
    if array.size == 0:  # a memoryview of a shape with a zero cannot be cast
        return datatype, array.shape, b""
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    return datatype, array.shape, memoryview(array).cast("B")


def blobs_to_file(blobs):
    """(offsets, fd): the byte strings in a new memfd, each at an aligned
    offset, sealed against resizing (the server maps only such files), or
    ([], None) when there are none."""
    offsets, offset = [], 0
    for data in blobs:
        offsets.append(offset)
        offset = (offset + len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    if not offsets:
        return offsets, None
    fd = os.memfd_create("inferd-stub-tensors", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, max(offset, 1))
        for at, data in zip(offsets, blobs):
            view = memoryview(data)
            while len(view):
                written = os.pwrite(fd, view, at)
                view, at = view[written:], at + written
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
    except BaseException:
        os.close(fd)
        raise
    return offsets, fd


def tensors_to_file(tensors):
    """(descriptions, fd): the tensors' bytes in a new memfd (blobs_to_file),
    or (descriptions, None) when there are no bytes."""
    descriptions, blobs = [], []
    for tensor in tensors:
        if not isinstance(tensor, pb_utils.Tensor):
            raise pb_utils.TritonModelException(
                f"expected pb_utils.Tensor objects, got {type(tensor).__name__}")
        datatype, shape, data = output_bytes(tensor)
        descriptions.append({"name": tensor.name(), "datatype": datatype, "shape": shape, "size": len(data)})
        blobs.append(data)
    offsets, fd = blobs_to_file(blobs)
    for description, offset in zip(descriptions, offsets):
        description["offset"] = offset
    return descriptions, fd


def tensors_from_file(descriptions, fd):
    """The tensors of a message from the server; their arrays are views of a
    private mapping of its memfd, which lives as long as they do."""
    try:
        size = os.fstat(fd).st_size if fd is not None else 0
        buffer = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE,
                           prot=mmap.PROT_READ | mmap.PROT_WRITE) if size else b""
    finally:
        if fd is not None:
            os.close(fd)
    for d in descriptions:
        if d["offset"] + d["size"] > size:
            raise pb_utils.TritonModelException(f"the server described tensor '{d['name']}' outside its memory")
    return [tensor_from(buffer, (d["name"], d["datatype"], d["shape"], d["offset"], d["size"])) for d in descriptions]


class Channel:
    """The stub's own messages to the server, from any thread (fd 5). Each
    message that expects answers gets an id; a reader thread hands every
    answer to the callback registered for it (which must be quick)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=CHANNEL_FD)
        self.lock = threading.Lock()
        self.waiting = {}
        self.next_id = 0
        self.closed = False
        threading.Thread(target=self._read, name="inferd-channel", daemon=True).start()

    def request(self, message, on_answer, fd=None):
        """Sends `message`; on_answer(answer, fd) runs for each answer, the last with "final"."""
        with self.lock:
            if self.closed:
                raise pb_utils.TritonModelException("the server closed the stub's channel")
            self.next_id += 1
            ident = message["id"] = self.next_id
            self.waiting[ident] = on_answer
        try:
            data = json.dumps(message, allow_nan=False).encode()  # the server's JSON has no NaN
            if len(data) > MAX_CHANNEL_MESSAGE:
                raise pb_utils.TritonModelException(
                    f"a message to the server of {len(data)} bytes is over the {MAX_CHANNEL_MESSAGE} it takes")
            socket.send_fds(self.sock, [data], [fd] if fd is not None else [])
        except BaseException:
            with self.lock:
                self.waiting.pop(ident, None)
            raise

    def call(self, message, fd=None):
        """Sends `message` and waits for its one answer; an error answer raises."""
        done, box = threading.Event(), []

        def on_answer(answer, answer_fd):
            if answer_fd is not None:
                os.close(answer_fd)
            box.append(answer)
            done.set()

        self.request(message, on_answer, fd)
        done.wait()
        if "error" in box[0]:
            raise pb_utils.TritonModelException(box[0]["error"])
        return box[0]

    def post(self, message):
        """A message without an answer (a log line); dropped when the server is not reading."""
        try:
            self.sock.send(json.dumps(message).encode()[:MAX_CHANNEL_MESSAGE], socket.MSG_DONTWAIT)
        except OSError:
            pass

    def _read(self):
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, MAX_CHANNEL_MESSAGE + 1, 1)
            except OSError:
                data, fds = b"", []
            if not data:
                with self.lock:
                    self.closed = True
                    waiting, self.waiting = self.waiting, {}
                for on_answer in waiting.values():
                    on_answer({"final": True, "error": "the server closed the stub's channel"}, None)
                return
            fd = fds[0] if fds else None
            answer = json.loads(data)
            with self.lock:
                if answer.get("final", True):
                    on_answer = self.waiting.pop(answer.get("id"), None)
                else:
                    on_answer = self.waiting.get(answer.get("id"))
            if on_answer is None:
                if fd is not None:
                    os.close(fd)
                continue
            try:
                on_answer(answer, fd)
            except BaseException:  # noqa: BLE001 (a callback must not end the reader)
                traceback.print_exc()


class Runtime:
    """What pb_utils needs from the stub (pb_utils._runtime): response
    senders, BLS and the logger, over the channel."""

    def __init__(self, channel):
        self.channel = channel

    def send_response(self, handle, response, flags):
        message = {"type": "send", "request": handle, "flags": int(flags)}
        fd = None
        if response is not None:
            if not isinstance(response, pb_utils.InferenceResponse):
                raise pb_utils.TritonModelException(
                    f"send() takes a pb_utils.InferenceResponse, got {type(response).__name__}")
            if response.has_error():
                message["error"] = response.error().message()
                message["code"] = response.error().code()
            else:
                message["outputs"], fd = tensors_to_file(response.output_tensors())
                if response._parameters:
                    message["parameters"] = response._parameters
        try:
            self.channel.call(message, fd)
        finally:
            if fd is not None:
                os.close(fd)

    def infer(self, request, decoupled, on_response):
        """Starts a BLS request; on_response(InferenceResponse, final) runs on the reader thread."""
        name = request.model_name()
        if isinstance(name, bytes):
            name = name.decode()
        correlation_id = request.correlation_id()
        message = {"type": "infer", "model_name": str(name or ""), "model_version": int(request._model_version),
                   "request_id": str(request.request_id() or ""), "flags": int(request.flags()),
                   "timeout": int(request._timeout or 0), "decoupled": bool(decoupled),
                   "outputs": list(request.requested_output_names()),
                   "parameters": json.loads(request.parameters() or "{}")}
        if isinstance(correlation_id, int):
            message["correlation_id"] = correlation_id
        else:
            message["parameters"]["sequence_id"] = str(correlation_id)
        message["inputs"], fd = tensors_to_file(request.inputs())

        def on_answer(answer, answer_fd):
            if "error" in answer:
                if answer_fd is not None:
                    os.close(answer_fd)
                response = pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(answer["error"], answer.get("code", pb_utils.TritonError.INTERNAL)))
            else:
                try:
                    response = pb_utils.InferenceResponse(tensors_from_file(answer.get("outputs", []), answer_fd))
                except BaseException as e:  # noqa: BLE001
                    response = pb_utils.InferenceResponse(error=pb_utils.TritonError(str(e)))
            on_response(response, answer.get("final", True))

        try:
            self.channel.request(message, on_answer, fd)
        finally:
            if fd is not None:
                os.close(fd)

    def is_cancelled(self, handle):
        return bool(self.channel.call({"type": "is_cancelled", "request": handle}).get("cancelled"))

    def load_model(self, name, config, files):
        """pb_utils.load_model: `files` maps "<version>/<name>" to bytes, which
        cross in a memfd; returns once the server answered."""
        paths = list(files)
        offsets, fd = blobs_to_file([files[path] for path in paths])
        message = {"type": "model_load", "model_name": name, "config": config,
                   "files": [{"path": path, "offset": offset, "size": len(files[path])}
                             for path, offset in zip(paths, offsets)]}
        try:
            self.channel.call(message, fd)
        finally:
            if fd is not None:
                os.close(fd)

    def log(self, level, message):
        self.channel.post({"type": "log", "level": level, "message": str(message)})

    def call(self, message):
        """A message the server answers once (custom metrics); returns the answer."""
        return self.channel.call(message)

    def post(self, message):
        """A message without an answer."""
        self.channel.post(message)


def output_name(tensor):
    name = tensor.name()
    if type(name) is str:
        return name
    if isinstance(name, str):
        return str(name)
    raise pb_utils.TritonModelException(f"an output tensor's name must be a str, got {type(name).__name__}")


def write_responses(region, responses, start):
    """Each response's outputs into the region from `start` on; the answer
    for each request, as the server's execute_answer.h reads it."""
    answers, offset = [], start
    for response in responses:
        if response is None:  # answered through the request's response sender
            answers.append(None)
            continue
        if not isinstance(response, pb_utils.InferenceResponse):
            raise pb_utils.TritonModelException(
                f"execute() must return pb_utils.InferenceResponse objects, got {type(response).__name__}")
        if response.has_error():
            answers.append(error_answer(response.error()))
            continue
        outputs = []
        for tensor in response.output_tensors():
            datatype, shape, data = output_bytes(tensor)
            size = len(data)
            end = offset + size
            if end > region.size:
                region.reserve(end)
            region.map[offset:end] = data
            outputs.append((output_name(tensor), datatype, shape, offset, size))
            offset = -(-end // ALIGNMENT) * ALIGNMENT
        answers.append(("outputs", tuple(outputs),
                        _encode(response._parameters) if response._parameters else None))
    return answers


def main():
    os.closerange(CHANNEL_FD + 1, os.sysconf("SC_OPEN_MAX"))  # nothing of the server's
    sock = socket.socket(fileno=SOCKET_FD)
    region = Region()
    next_message = frame_source(sock)
    build, write, send_answer = execution_steps(sock)
    pb_utils._runtime = Runtime(Channel())
    loop = None  # runs `async def execute`; asyncio is imported only then (it costs ~50 ms a stub)
    model = None
    name = "?"
    decoupled = False
    while True:
        message = next_message()
        if message is None:
            return 0  # the server went away
        kind = message[0] if type(message) is tuple else message["type"]
        if kind == "initialize":
            try:
                args = message["args"]
                name = args.get("model_name", name)
                decoupled = pb_utils.using_decoupled_model_transaction_policy(json.loads(args["model_config"]))
                model = load_model_class(message["model_file"])()
                if hasattr(model, "initialize"):
                    model.initialize(args)
                send_frame(sock, {})
            except BaseException:  # noqa: BLE001 (any failure of user code is the answer)
                send_frame(sock, {"error": traceback.format_exc(limit=20)})
        elif kind == "execute":
            _, outputs_at, region_size, batch = message
            if region_size != region.size:
                region.refresh()  # the server grew it
            try:
                requests = build(region.map, batch, decoupled)
                responses = model.execute(requests)
                if type(responses) is not list and inspect.iscoroutine(responses):
                    if loop is None:
                        import asyncio
                        loop = asyncio.new_event_loop()
                    responses = loop.run_until_complete(responses)
                if responses is None:
                    answers = None  # the response senders answer
                else:
                    if len(responses) != len(requests):
                        raise pb_utils.TritonModelException(
                            "Number of InferenceResponse objects do not match number of InferenceRequest objects "
                            f"(got {len(responses)} for {len(requests)})")
                    answers = write(region, responses, outputs_at) if write else None
                    if answers is None:
                        answers = tuple(write_responses(region, responses, outputs_at))
                del requests, responses
                # The region's size only says that it grew for the outputs:
                # the server reads the size from the file.
                send_answer(("responses", region.size if region.size != region_size else None, answers))
            except BaseException as e:  # noqa: BLE001
                if isinstance(e, pb_utils.TritonError):
                    _, text, code = error_answer(e)
                else:
                    text, code = f"{type(e).__name__}: {e}", pb_utils.TritonError.INTERNAL
                send_answer(("error", f"Failed to process the request(s) for model '{name}', message: {text}", code))
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
