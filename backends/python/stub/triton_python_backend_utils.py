"""triton_python_backend_utils for inferd's Python backend: the names a Triton
model.py imports as pb_utils, with Triton's behaviour, written for inferd.

Built: Tensor, InferenceRequest (as execute() receives it), InferenceResponse,
TritonError and its codes, TritonModelException, the get_*_by_name helpers,
the type conversions, BYTES (de)serialization, Logger, the flag constants,
ModelConfig for auto_complete_config. Not built yet: BLS
(InferenceRequest(...).exec / async_exec) and response senders for
decoupled models; using them raises TritonModelException saying so.
"""

import json
import struct
import sys

import numpy as np

TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_START = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_END = 2
TRITONSERVER_REQUEST_RELEASE_ALL = 1

_TRITON_TO_NUMPY = {
    "TYPE_BOOL": np.bool_, "TYPE_UINT8": np.uint8, "TYPE_UINT16": np.uint16, "TYPE_UINT32": np.uint32,
    "TYPE_UINT64": np.uint64, "TYPE_INT8": np.int8, "TYPE_INT16": np.int16, "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64, "TYPE_FP16": np.float16, "TYPE_FP32": np.float32, "TYPE_FP64": np.float64,
    "TYPE_STRING": np.object_, "TYPE_BYTES": np.object_,
}


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


def _not_built(what):
    raise TritonModelException(f"{what} is not built in inferd's Python backend yet")


def triton_string_to_numpy(triton_type_string):
    return _TRITON_TO_NUMPY[triton_type_string]


def numpy_to_triton_type(data_type):
    """The datatype name ("FP32", ...) of a numpy dtype, or None."""
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
        return self._array.__dlpack__()

    @staticmethod
    def from_dlpack(name, capsule):
        return Tensor(name, np.from_dlpack(capsule))


class InferenceRequest:
    """A request as execute() receives it. Creating one to call another model
    (BLS) is allowed, but exec() is not built yet."""

    def __init__(self, model_name=None, inputs=None, requested_output_names=None, request_id="",
                 correlation_id=0, flags=0, timeout=0, parameters=None, **_):
        self._model_name = model_name
        self._inputs = list(inputs or [])
        self._requested = list(requested_output_names or [])
        self._request_id = request_id
        self._correlation_id = correlation_id
        self._flags = flags
        self._parameters = parameters if isinstance(parameters, str) else json.dumps(parameters or {})

    @classmethod
    def _from_server(cls, inputs, requested_output_names, request_id, correlation_id):
        return cls(inputs=inputs, requested_output_names=requested_output_names, request_id=request_id,
                   correlation_id=correlation_id)

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

    def parameters(self):
        return self._parameters

    def model_name(self):
        return self._model_name

    def is_cancelled(self):
        return False

    def get_response_sender(self):
        _not_built("get_response_sender (decoupled models)")

    def exec(self, decoupled=False):  # noqa: A003 (Triton's name)
        _not_built("InferenceRequest.exec (BLS)")

    async def async_exec(self, decoupled=False):
        _not_built("InferenceRequest.async_exec (BLS)")


class InferenceResponse:
    def __init__(self, output_tensors=None, error=None):
        self._outputs = list(output_tensors or [])
        if error is not None and not isinstance(error, TritonError):
            error = TritonError(str(error))
        self._error = error

    def output_tensors(self):
        return self._outputs

    def has_error(self):
        return self._error is not None

    def error(self):
        return self._error


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


class Logger:
    """Lines on the server's log stream (the stub's stderr)."""

    @staticmethod
    def log(message, level=None):
        print(message, file=sys.stderr, flush=True)

    @staticmethod
    def log_info(message):
        Logger.log(f"python model: {message}")

    @staticmethod
    def log_warn(message):
        Logger.log(f"python model warning: {message}")

    @staticmethod
    def log_error(message):
        Logger.log(f"python model error: {message}")

    @staticmethod
    def log_verbose(message):
        Logger.log(f"python model (verbose): {message}")
