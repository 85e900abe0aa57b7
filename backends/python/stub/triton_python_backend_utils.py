"""triton_python_backend_utils for inferd's Python backend: the names a Triton
model.py imports as pb_utils, with Triton's behaviour, written for inferd.

Built: Tensor, InferenceRequest (as execute() receives it, and BLS:
InferenceRequest(...).exec / async_exec, decoupled too), InferenceResponse,
the response sender of decoupled models, TritonError and its codes,
TritonModelException, the get_*_by_name helpers, the type conversions, BYTES
(de)serialization, Logger and LogLevel, MetricFamily and Metric (custom
metrics: counters, gauges and histograms), load_model, unload_model and
is_model_ready, the flag constants, ModelConfig for auto_complete_config.

What crosses to the server goes through `_runtime`, which the stub sets
(inferd_python_stub.Runtime); outside a stub, those calls raise.
"""

import json
import math
import queue
import struct
import sys
import threading
import weakref

import numpy as np

TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_START = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_END = 2
TRITONSERVER_REQUEST_RELEASE_ALL = 1
TRITONSERVER_REQUEST_RELEASE_RESCHEDULE = 2


class MemoryType:
    """Where a BLS request would like its outputs (Triton's pb_utils.MemoryType)."""

    TRITONSERVER_MEMORY_GPU, TRITONSERVER_MEMORY_CPU = 0, 1


TRITONSERVER_MEMORY_GPU, TRITONSERVER_MEMORY_CPU = MemoryType.TRITONSERVER_MEMORY_GPU, MemoryType.TRITONSERVER_MEMORY_CPU


class PreferredMemory:
    """InferenceRequest(preferred_memory=...): taken as Triton takes it; a BLS
    request's outputs are in CPU memory whatever it says (inferd serves no GPU
    tensors to Python models)."""

    def __init__(self, preferred_memory_type, preferred_device_id=0):
        self.preferred_memory_type = preferred_memory_type
        self.preferred_device_id = preferred_device_id


class InferenceTrace:
    """request.trace(), passed on to a BLS request as Triton's models do; it
    carries no trace context here (get_context() is None)."""

    def get_context(self):
        return None

_runtime = None  # set by the stub process

_TRITON_TO_NUMPY = {
    "TYPE_BOOL": np.bool_, "TYPE_UINT8": np.uint8, "TYPE_UINT16": np.uint16, "TYPE_UINT32": np.uint32,
    "TYPE_UINT64": np.uint64, "TYPE_INT8": np.int8, "TYPE_INT16": np.int16, "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64, "TYPE_FP16": np.float16, "TYPE_FP32": np.float32, "TYPE_FP64": np.float64,
    "TYPE_STRING": np.object_, "TYPE_BYTES": np.object_,
}
TRITON_STRING_TO_NUMPY = _TRITON_TO_NUMPY  # the public name models read it by


class TritonError(Exception):
    UNKNOWN, INTERNAL, NOT_FOUND, INVALID_ARG, UNAVAILABLE, UNSUPPORTED, ALREADY_EXISTS, CANCELLED = range(8)

    def __init__(self, message, code=INTERNAL):
        super().__init__(message)
        self._message = message
        self._code = code

    def message(self):
        return self._message

    def code(self):
        return self._code


class TritonModelException(Exception):
    pass


def _server():
    if _runtime is None:
        raise TritonModelException("this call needs inferd's Python backend: it runs only inside a model's stub")
    return _runtime


def load_model(model_name, config="", files=None):
    """Loads (or reloads) `model_name` from the model repository and returns
    once it serves, as Triton's pb_utils.load_model: `config` (JSON text)
    replaces its config.pbtxt, `files` ({"file:<version>/<name>": bytes})
    stand in for its files (data only; never a Python model's). Only with
    --model-control-mode=explicit; TritonModelException names what failed."""
    if files is not None and not isinstance(files, dict):
        raise TritonModelException(f"failed to load model '{model_name}', files should be a dictionary of file "
                                   "paths and file contents")
    contents = {}
    for key, content in (files or {}).items():
        if not isinstance(key, str) or not key.startswith("file:"):
            raise TritonModelException(f"failed to load model '{model_name}': a file's key is 'file:<version>/"
                                       f"<name>', not {key!r}")
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise TritonModelException(f"failed to load model '{model_name}': the content of '{key}' must be "
                                       f"bytes, not {type(content).__name__}")
        contents[key[len("file:"):]] = bytes(content)
    try:
        _server().load_model(str(model_name), str(config or ""), contents)
    except TritonModelException as e:
        raise TritonModelException(f"Failed to load model: {e}") from None


def unload_model(model_name, unload_dependents=False):
    """Stops serving `model_name`, as Triton's pb_utils.unload_model: returns
    once it takes no more requests (what it accepted is still answered); with
    `unload_dependents`, an ensemble's composing models loaded for it go too."""
    try:
        _server().call({"type": "model_unload", "model_name": str(model_name),
                        "unload_dependents": bool(unload_dependents)})
    except TritonModelException as e:
        raise TritonModelException(f"Failed to unload model: {e}") from None


def is_model_ready(model_name, model_version=""):
    """Whether `model_name` (version `model_version`, "" for any) serves, as
    Triton's pb_utils.is_model_ready; False for a model the server does not know."""
    version = -1
    if model_version != "":
        try:
            version = int(model_version)
        except (TypeError, ValueError):
            version = -2
        if version < 0:
            raise TritonModelException(f"failed to get model version from specified version string "
                                       f"'{model_version}', version should be an integral value > 0")
    return bool(_server().call({"type": "model_ready", "model_name": str(model_name),
                                "model_version": version})["ready"])


def using_decoupled_model_transaction_policy(model_config):
    """Whether a model config (a dict) says decoupled: true."""
    return bool(model_config.get("model_transaction_policy", {}).get("decoupled", False))


def triton_string_to_numpy(triton_type_string):
    return _TRITON_TO_NUMPY[triton_type_string]


_NUMPY_TO_TRITON = {}  # np.dtype -> name, filled as dtypes are met


def numpy_to_triton_type(data_type):
    """The datatype name ("FP32", ...) of a numpy dtype, or None."""
    known = _NUMPY_TO_TRITON.get(data_type)
    if known is not None:
        return known
    name = _numpy_to_triton_type(data_type)
    if name is not None and isinstance(data_type, np.dtype):
        _NUMPY_TO_TRITON[data_type] = name
    return name


def _numpy_to_triton_type(data_type):
    dtype = np.dtype(data_type)
    if dtype == np.object_ or dtype.type in (np.bytes_, np.str_):
        return "BYTES"
    for name, np_type in _TRITON_TO_NUMPY.items():
        if np_type is not np.object_ and np.dtype(np_type) == dtype:
            return name[len("TYPE_"):]
    return None


def triton_to_numpy_type(data_type):
    return _TRITON_TO_NUMPY.get("TYPE_" + str(data_type))


def serialize_byte_tensor(input_tensor):
    """BYTES elements, each prefixed by its 4-byte little-endian length, as a uint8 array."""
    if input_tensor.size == 0:
        return np.empty([0], dtype=np.uint8)
    pieces = []
    for item in input_tensor.flatten(order="C"):
        data = item.encode("utf-8") if isinstance(item, str) else bytes(item)
        pieces.append(struct.pack("<I", len(data)))
        pieces.append(data)
    return np.frombuffer(b"".join(pieces), dtype=np.uint8)


def deserialize_bytes_tensor(encoded_tensor):
    """The inverse of serialize_byte_tensor: a 1-D object array of bytes."""
    data = bytes(encoded_tensor)
    items, offset = [], 0
    while offset + 4 <= len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        offset += 4
        items.append(data[offset:offset + length])
        offset += length
    return np.array(items, dtype=np.object_)


class Tensor:
    def __init__(self, name, data, dtype=None):
        if not isinstance(data, np.ndarray):
            raise TritonModelException(f"Tensor '{name}': data must be a numpy array, got {type(data).__name__}")
        # These two fields are all a Tensor holds: the stub's C fast path
        # (fastpath.c) makes the input tensors with them directly.
        self._name = name
        self._array = data

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array

    def is_cpu(self):
        return True

    def shape(self):
        return list(self._array.shape)

    def triton_dtype(self):
        return numpy_to_triton_type(self._array.dtype)

    def to_dlpack(self):
        return self._exportable().__dlpack__()

    # The DLPack protocol, so that torch.from_dlpack(tensor) takes a Tensor itself.
    def __dlpack__(self, stream=None):
        return self._exportable().__dlpack__()

    def _exportable(self):
        """numpy (1.24) exports no read-only array through DLPack, and what
        it took from DLPack is read-only: such an array goes out as a copy
        (inputs, views of writable memory, go out as they are)."""
        return self._array if self._array.flags.writeable else np.array(self._array)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()

    @staticmethod
    def from_dlpack(name, capsule):
        """A Tensor over `capsule`'s memory: a DLPack capsule (what
        torch.utils.dlpack.to_dlpack and to_dlpack() give) or an object with
        __dlpack__ (a torch or numpy array, a Tensor)."""
        if not hasattr(capsule, "__dlpack__"):
            capsule = _DlpackCapsule(capsule)  # numpy takes only objects with __dlpack__
        return Tensor(name, np.from_dlpack(capsule))


class _DlpackCapsule:
    """A bare DLPack capsule as numpy.from_dlpack wants it; numpy checks the
    device the capsule itself names (CPU memory only)."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, stream=None):
        return self._capsule

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU, device 0


class InferenceResponseSender:
    """How a request is answered outside the execute() return value: any
    number of responses, then one with TRITONSERVER_RESPONSE_COMPLETE_FINAL
    (decoupled models; from execute or from any thread). send() returns once
    the server has taken the response."""

    def __init__(self, handle):
        self._handle = handle
        self._lock = threading.Lock()
        self._closed = False

    def send(self, response=None, flags=0):
        final = bool(flags & TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        if response is None and not final:
            raise TritonModelException("Inference Response object is needed when the flag is not final.")
        with self._lock:
            if self._closed:
                raise TritonModelException("Unable to send response. Response sender has been closed.")
            if final:
                self._closed = True
        try:
            _server().send_response(self._handle, response, flags)
        except BaseException:
            if final:
                with self._lock:
                    self._closed = False
            raise

    def is_cancelled(self):
        """True once the client cancelled the request (asks the server)."""
        return _server().is_cancelled(self._handle)


class InferenceRequest:
    """A request as execute() receives it, or one a model builds to call
    another model (BLS): exec() waits for the answer, async_exec() awaits it;
    with decoupled=True they give every response of a decoupled model."""

    def __init__(self, model_name=None, inputs=None, requested_output_names=None, request_id="",
                 correlation_id=0, flags=0, timeout=0, parameters=None, model_version=-1,
                 preferred_memory=None, trace=None):
        del preferred_memory, trace  # accepted as Triton's models pass them (PreferredMemory, InferenceTrace)
        self._model_name = model_name
        self._inputs = list(inputs or [])
        self._requested = list(requested_output_names or [])
        self._request_id = request_id
        self._correlation_id = correlation_id
        self._flags = flags
        self._timeout = timeout
        self._model_version = model_version
        self._parameters = parameters if isinstance(parameters, str) else json.dumps(parameters or {})
        self._handle = None
        self._sender = None

    # The fields of a request from the server that are the same for every
    # one; _from_server (and the stub's C fast path, over a copy of this)
    # sets the others.
    _SERVER_DEFAULTS = {"_model_name": None, "_timeout": 0, "_model_version": -1, "_sender": None}

    @classmethod
    def _from_server(cls, inputs, requested_output_names, request_id, correlation_id, handle=None,
                     parameters="{}", flags=0):
        # Built field by field: this runs for every request the model gets.
        request = cls.__new__(cls)
        request.__dict__.update(cls._SERVER_DEFAULTS, _inputs=inputs, _requested=requested_output_names,
                                _request_id=request_id, _correlation_id=correlation_id, _flags=flags,
                                _parameters=parameters, _handle=handle)
        return request

    def inputs(self):
        return self._inputs

    def requested_output_names(self):
        return self._requested

    def request_id(self):
        return self._request_id

    def correlation_id(self):
        return self._correlation_id

    def flags(self):
        return self._flags

    def set_flags(self, flags):
        self._flags = flags

    def trace(self):
        return InferenceTrace()

    def set_release_flags(self, flags):
        """Triton's request rescheduling: TRITONSERVER_REQUEST_RELEASE_ALL (the
        default) is all inferd does; RESCHEDULE is refused, naming it."""
        if flags != TRITONSERVER_REQUEST_RELEASE_ALL:
            raise TritonModelException("set_release_flags: only TRITONSERVER_REQUEST_RELEASE_ALL is supported; "
                                       "request rescheduling (TRITONSERVER_REQUEST_RELEASE_RESCHEDULE) is not "
                                       "built in inferd")

    def timeout(self):
        return self._timeout

    def parameters(self):
        return self._parameters

    def model_name(self):
        return self._model_name

    def is_cancelled(self):
        """True once the client cancelled the request (asks the server); a
        request this model built (BLS) is never cancelled."""
        if self._handle is None:
            return False
        return _server().is_cancelled(self._handle)

    def get_response_sender(self):
        if self._handle is None:
            raise TritonModelException("only a request that execute() received has a response sender")
        if self._sender is None:
            self._sender = InferenceResponseSender(self._handle)
        return self._sender

    def _check_bls(self):
        if not self._model_name:
            raise TritonModelException("a BLS request needs model_name")

    def exec(self, decoupled=False):  # noqa: A003 (Triton's name)
        """Runs the request on the server and returns its response; with
        decoupled=True, an iterator over every response (the last may be
        empty: it only carries the final flag)."""
        self._check_bls()
        answers = queue.SimpleQueue()
        _server().infer(self, decoupled, lambda response, final: answers.put((response, final)))
        if decoupled:
            return _ResponseIterator(answers)
        first = None
        while True:
            response, final = answers.get()
            if first is None:
                first = response
            if final:
                return first

    async def async_exec(self, decoupled=False):
        """exec() as an awaitable; with decoupled=True, as on Triton, the
        iterator over the responses, once the first has arrived."""
        import asyncio  # only awaited code gets here; the stub imported asyncio to run it

        self._check_bls()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        answers = queue.SimpleQueue()
        responses = _ResponseIterator(answers)
        first = []

        def resolve(value):
            if not future.done():
                future.set_result(value)

        def on_response(response, final):
            if decoupled:
                answers.put((response, final))
                loop.call_soon_threadsafe(resolve, responses)
                return
            if not first:
                first.append(response)
            if final:
                loop.call_soon_threadsafe(resolve, first[0])

        _server().infer(self, decoupled, on_response)
        return await future


class _ResponseIterator:
    """The responses of a decoupled BLS request, as they arrive."""

    def __init__(self, answers):
        self._answers = answers
        self._done = False

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        response, final = self._answers.get()
        self._done = final
        return response


class InferenceResponse:
    """A model's answer: output tensors, or an error; and, as Triton's Python
    backend takes them from r25.02 on, response parameters (str keys; bool,
    int or str values), which reach the client typed with the response."""

    def __init__(self, output_tensors=None, error=None, parameters=None):
        self._outputs = list(output_tensors or [])
        if error is not None and not isinstance(error, TritonError):
            error = TritonError(str(error))
        self._error = error
        self._parameters = _response_parameters(parameters) if parameters else None

    def output_tensors(self):
        return self._outputs

    def parameters(self):
        """The response parameters as JSON text, as Triton gives them."""
        return json.dumps(self._parameters or {})

    def has_error(self):
        return self._error is not None

    def error(self):
        return self._error


_INT64 = (-(1 << 63), (1 << 63) - 1)


def _response_parameters(parameters):
    """A checked copy of InferenceResponse's `parameters`, in Triton's words
    when something in it cannot be sent."""
    if not isinstance(parameters, dict):
        raise TritonModelException(f"Expect parameters to be a dict, found type {type(parameters)}")
    for key, value in parameters.items():
        if not isinstance(key, str):
            raise TritonModelException(f"Expect parameters keys to have type str, found type {type(key)}")
        if not isinstance(value, (bool, int, str)):
            raise TritonModelException(
                f"Expect parameters values to have type bool/int/str, found type {type(value)}")
        if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
            raise TritonModelException(f"parameter '{key}' does not fit a 64-bit integer: {value}")
    return dict(parameters)


class ModelConfig:
    """The config auto_complete_config(auto_complete_model_config) receives and
    returns: a model may set max_batch_size, dynamic batching, the transaction
    policy and warmups, and add inputs and outputs; what contradicts the
    config it was given is a ValueError, as in Triton."""

    _INPUT_KEYS = ("name", "data_type", "dims", "optional")
    _OUTPUT_KEYS = ("name", "data_type", "dims")

    def __init__(self, model_config):
        self._model_config = json.loads(model_config) if isinstance(model_config, str) else model_config

    def as_dict(self):
        return self._model_config

    def _name(self):
        return self._model_config.get("name", "")

    def set_max_batch_size(self, max_batch_size):
        configured = int(self._model_config.get("max_batch_size", 0))
        if configured > max_batch_size:
            raise ValueError(f"model '{self._name()}': the configuration's max_batch_size {configured} is larger "
                             f"than the {max_batch_size} auto_complete_config sets")
        self._model_config["max_batch_size"] = max_batch_size

    def set_dynamic_batching(self):
        for other in ("sequence_batching", "ensemble_scheduling"):
            if other in self._model_config:
                raise ValueError(f"model '{self._name()}' already has {other}: it cannot take dynamic batching")
        self._model_config.setdefault("dynamic_batching", {})

    def set_model_transaction_policy(self, transaction_policy_dict):
        for key in transaction_policy_dict:
            if key != "decoupled":
                raise ValueError(f"model '{self._name()}': unknown model_transaction_policy property '{key}'")
        policy = self._model_config.setdefault("model_transaction_policy", {})
        wanted = bool(transaction_policy_dict.get("decoupled", False))
        if "decoupled" in policy and bool(policy["decoupled"]) != wanted:
            raise ValueError(f"model '{self._name()}': the configuration says decoupled is {policy['decoupled']}, "
                             f"auto_complete_config says {wanted}")
        policy["decoupled"] = wanted

    def add_model_warmup(self, model_warmup):
        self._model_config.setdefault("model_warmup", []).append(model_warmup)

    def _add(self, kind, tensor, keys):
        for key in tensor:
            if key not in keys:
                raise ValueError(f"model '{self._name()}': unknown {kind} property '{key}' (allowed: {', '.join(keys)})")
        for key in ("name", "data_type", "dims"):
            if key not in tensor:
                raise ValueError(f"model '{self._name()}': an {kind} added by auto_complete_config needs '{key}'")
        existing = self._model_config.setdefault(kind, [])
        for current in existing:
            if current["name"] != tensor["name"]:
                continue
            for key in ("data_type", "dims"):
                have = current.get(key)
                if have not in (None, "", "TYPE_INVALID", []) and have != tensor[key]:
                    raise ValueError(f"model '{self._name()}': {kind} '{tensor['name']}' has {key} {have} in the "
                                     f"configuration, auto_complete_config says {tensor[key]}")
                current[key] = tensor[key]
            if "optional" in tensor:
                current["optional"] = tensor["optional"]
            return
        existing.append(dict(tensor))

    def add_input(self, input):  # noqa: A002 (Triton's name)
        self._add("input", input, self._INPUT_KEYS)

    def add_output(self, output):
        self._add("output", output, self._OUTPUT_KEYS)


def get_input_tensor_by_name(inference_request, name):
    for tensor in inference_request.inputs():
        if tensor.name() == name:
            return tensor
    return None


def get_output_tensor_by_name(inference_response, name):
    for tensor in inference_response.output_tensors():
        if tensor.name() == name:
            return tensor
    return None


def get_input_config_by_name(model_config, name):
    for entry in model_config.get("input", []):
        if entry["name"] == name:
            return entry
    return None


def get_output_config_by_name(model_config, name):
    for entry in model_config.get("output", []):
        if entry["name"] == name:
            return entry
    return None


class LogLevel:
    INFO, WARNING, ERROR, VERBOSE = range(4)


class MetricKind:
    """The kinds of MetricFamily (Triton's pb_utils.MetricKind, also at module level)."""

    COUNTER, GAUGE, HISTOGRAM = 0, 1, 2


COUNTER, GAUGE, HISTOGRAM = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM

_METRIC_FAMILY_DELETED = ("Invalid metric operation as the corresponding 'MetricFamily' has been deleted. "
                          "The 'MetricFamily' object should be deleted AFTER its corresponding 'Metric' "
                          "objects have been deleted.")


class MetricFamily:
    """A custom metric on the server's /metrics (Triton's pb_utils.MetricFamily):
    a name with its HELP text and kind; Metric(labels) makes one series of it
    (Metric(labels, buckets) for a HISTOGRAM). COUNTER only goes up (increment
    by >= 0); GAUGE takes increment and set; HISTOGRAM takes observe.

    As in Triton, a family that exists (same name and kind) is shared, with its
    first description, and deleting the MetricFamily object deletes its
    Metric objects' series: using one afterwards raises."""

    COUNTER, GAUGE, HISTOGRAM = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM
    _KINDS = {COUNTER: "counter", GAUGE: "gauge", HISTOGRAM: "histogram"}

    def __init__(self, name, description, kind):
        if kind not in MetricFamily._KINDS:
            raise TritonModelException("MetricFamily: the kind is MetricFamily.COUNTER, MetricFamily.GAUGE "
                                       "or MetricFamily.HISTOGRAM")
        self._kind = kind
        self._metrics = weakref.WeakSet()  # cleared when this family goes
        self._handle = _server().call({"type": "metric_family_new", "name": str(name),
                                       "description": str(description),
                                       "kind": MetricFamily._KINDS[kind]})["handle"]

    def Metric(self, labels=None, buckets=None):  # noqa: N802 (Triton's name)
        """One series, told apart by `labels` (a dict of str to str). A
        HISTOGRAM's needs `buckets`: a list of upper bounds, strictly
        increasing (the +Inf bucket is always there); the others take none."""
        if labels is not None and not isinstance(labels, dict):
            raise TritonModelException("Failed to create metric. Labels must be a dictionary.")
        if buckets is not None:
            if not isinstance(buckets, list):
                raise TritonModelException("Failed to create metric. Buckets must be a list.")
            if self._kind != MetricFamily.HISTOGRAM:
                raise TritonModelException("Failed to create metric. Unexpected buckets found.")
            try:
                buckets = [float(bound) for bound in buckets]
            except (TypeError, ValueError) as e:
                raise TritonModelException(f"Failed to create metric. Buckets must be numbers: {e}") from None
            if not all(math.isfinite(bound) for bound in buckets):
                raise TritonModelException("Failed to create metric. Buckets must be finite numbers "
                                           "(the +Inf bucket is always there).")
        elif self._kind == MetricFamily.HISTOGRAM:
            raise TritonModelException("Failed to create metric. Missing required buckets.")
        metric = Metric(self, labels or {}, buckets)
        self._metrics.add(metric)
        return metric

    def __del__(self):
        for metric in list(getattr(self, "_metrics", ())):
            metric._clear()
        _post_quietly({"type": "metric_family_delete", "family": getattr(self, "_handle", None)})


class Metric:
    """One series of a MetricFamily, told apart by its labels (str: str)."""

    def __init__(self, family, labels, buckets=None):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise TritonModelException("a metric's labels must be a dict of str to str")
        self._cleared = False
        message = {"type": "metric_new", "family": family._handle, "labels": labels}
        if buckets is not None:
            message["buckets"] = buckets
        self._handle = _server().call(message)["handle"]

    def _update(self, kind, what, value):
        if self._cleared:
            raise TritonModelException(f"Failed to {what}: {_METRIC_FAMILY_DELETED}")
        value = float(value)
        if not math.isfinite(value):
            raise TritonModelException(f"Failed to {what}: the value must be finite, got {value}")
        _server().call({"type": kind, "metric": self._handle, "value": value})

    def increment(self, value):
        self._update("metric_increment", "increment metric value", value)

    def set(self, value):  # noqa: A003 (Triton's name)
        self._update("metric_set", "set metric value", value)

    def observe(self, value):
        """Adds `value` to a HISTOGRAM: its bucket, sum and count."""
        self._update("metric_observe", "observe metric value", value)

    def value(self):
        if self._cleared:
            raise TritonModelException(f"Failed to get metric value: {_METRIC_FAMILY_DELETED}")
        return _server().call({"type": "metric_value", "metric": self._handle})["value"]

    def _clear(self):
        """Deletes the series (its family is going); later operations raise."""
        if not self._cleared:
            self._cleared = True
            _post_quietly({"type": "metric_delete", "metric": getattr(self, "_handle", None)})

    def __del__(self):
        if not getattr(self, "_cleared", True):
            self._clear()


def _post_quietly(message):
    """A deletion from __del__: nothing to do when the stub is going away."""
    try:
        if _runtime is not None and None not in message.values():
            _runtime.post(message)
    except Exception:  # noqa: BLE001 (a finalizer must not raise)
        pass


class Logger:
    """Lines in the server's log, at the level given, naming the model."""

    _NAMES = {LogLevel.INFO: "INFO", LogLevel.WARNING: "WARNING", LogLevel.ERROR: "ERROR",
              LogLevel.VERBOSE: "VERBOSE"}

    @staticmethod
    def log(message, level=LogLevel.INFO):
        level_name = Logger._NAMES.get(level, "INFO")
        if _runtime is None:
            print(f"{level_name}: {message}", file=sys.stderr, flush=True)
        else:
            _runtime.log(level_name, message)

    @staticmethod
    def log_info(message):
        Logger.log(message, LogLevel.INFO)

    @staticmethod
    def log_warn(message):
        Logger.log(message, LogLevel.WARNING)

    @staticmethod
    def log_error(message):
        Logger.log(message, LogLevel.ERROR)

    @staticmethod
    def log_verbose(message):
        Logger.log(message, LogLevel.VERBOSE)
