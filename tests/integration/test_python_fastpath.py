"""The Python backend stub's C fast path (backends/python/stub/fastpath.c,
the module _inferd_fastpath built beside the stub) against the stub's own
Python for the same work: the same requests built from a batch, the same
answers and region bytes written from responses (or None, handing the work
back, wherever a case is not plain), and the same frames read and sent over
a socket. The whole Python backend suite then runs on the fast path through
a real server; test_python_backend.py also runs one model with it switched
off (INFERD_PYTHON_FASTPATH=0).
"""
import importlib
import marshal
import mmap
import os
import socket
import sys
import threading

import numpy as np
import pytest

NUMERIC = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"]


@pytest.fixture(scope="module")
def stub(inferd_bin):
    """The stub module, with its fast path (skips where it was not built)."""
    folder = os.path.join(os.path.dirname(inferd_bin), "backends", "python", "stub")
    if not any(name.startswith("_inferd_fastpath") for name in os.listdir(folder)):
        pytest.skip(f"no _inferd_fastpath in {folder}: built only with python3-dev for /usr/bin/python3")
    sys.path.insert(0, folder)
    try:
        module = importlib.import_module("inferd_python_stub")
    finally:
        sys.path.remove(folder)
    if module.fastpath is None:
        pytest.skip(f"_inferd_fastpath in {folder} does not load in {sys.executable} (another Python)")
    return module


class Region:
    """What the stub's write_responses takes: .map, .size and reserve()."""

    def __init__(self, size):
        self.map = mmap.mmap(-1, size)
        self.size = size

    def reserve(self, size):
        if size > self.size:
            grown = mmap.mmap(-1, size)
            grown[:self.size] = self.map[:]
            self.map, self.size = grown, size


def fill(buffer, offset, array):
    data = array.tobytes()
    buffer[offset:offset + len(data)] = data
    return (offset, len(data))


def test_requests_are_built_as_the_python_builds_them(stub, monkeypatch):
    handed_back = []  # the descriptions the fast path leaves to the Python's tensor_from
    python_tensor_from = stub.tensor_from

    def tensor_from(buffer, description, copy=False):
        handed_back.append(description[0])
        return python_tensor_from(buffer, description, copy)

    monkeypatch.setattr(stub, "tensor_from", tensor_from)
    build, _, _ = stub.execution_steps(None)
    pb = stub.pb_utils
    buffer = mmap.mmap(-1, 1 << 16)
    rng = np.random.default_rng(7)
    descriptions, expected, offset = [], {}, 0
    for i, datatype in enumerate(NUMERIC):
        for shape in [(), (1, 16), (2, 3, 4)]:
            dtype = stub.NUMERIC_DTYPES[datatype]
            array = (rng.random(shape) * 100).astype(dtype)
            at, size = fill(buffer, offset, array)
            name = f"IN_{datatype}_{len(shape)}"
            descriptions.append((name, datatype, shape, at, size))
            expected[name] = array
            offset = (at + size + 63) // 64 * 64
    text = pb.serialize_byte_tensor(np.array([b"ab", b"", b"\xff\x00"], dtype=np.object_)).tobytes()
    buffer[offset:offset + len(text)] = text
    descriptions.append(("IN_BYTES", "BYTES", (3,), offset, len(text)))
    descriptions.append(("IN_EMPTY", "FP32", (0, 4), offset, 0))
    batch = ((7, "id-1", 42, '{"p":1}', 3, tuple(descriptions), ["OUT"]),
             (8, "", "sequence-a", "{}", 0, tuple(descriptions[:2]), []))
    for copy in (False, True):
        handed_back.clear()
        fast = build(buffer, batch, copy)
        assert handed_back == ["IN_BYTES", "IN_EMPTY"]  # every numeric input was the C's
        slow = stub.build_requests(buffer, batch, copy)
        assert len(fast) == len(slow) == 2
        for f, s in zip(fast, slow):
            assert type(f) is pb.InferenceRequest
            assert set(vars(f)) == set(vars(s))
            for key in vars(s):
                if key != "_inputs":
                    assert vars(f)[key] == vars(s)[key], key
            assert [t.name() for t in f.inputs()] == [t.name() for t in s.inputs()]
            for ft, st in zip(f.inputs(), s.inputs()):
                assert type(ft) is pb.Tensor and set(vars(ft)) == set(vars(st))
                a, b = ft.as_numpy(), st.as_numpy()
                assert a.dtype == b.dtype and a.shape == b.shape and a.flags.writeable == b.flags.writeable
                assert np.array_equal(a, b), ft.name()
                assert np.shares_memory(a, np.frombuffer(buffer, np.uint8)) == (not copy and a.size > 0 and
                                                                                 a.dtype != object)
        for name, array in expected.items():
            assert np.array_equal(pb.get_input_tensor_by_name(fast[0], name).as_numpy(), array)
        assert fast[0].request_id() == "id-1" and fast[0].correlation_id() == 42 and fast[0].flags() == 3
        assert fast[1].correlation_id() == "sequence-a" and fast[1].requested_output_names() == []


def test_bad_descriptions_fail_as_in_python(stub):
    build, _, _ = stub.execution_steps(None)
    buffer = mmap.mmap(-1, 256)
    for description, error in [(("X", "BF16", (2,), 0, 4), stub.pb_utils.TritonModelException),
                               (("X", "FP32", (1, 16), 240, 64), (TypeError, ValueError))]:
        batch = ((1, "", 0, "{}", 0, (description,), []),)
        with pytest.raises(error):
            stub.build_requests(buffer, batch, False)
        with pytest.raises(error):
            build(buffer, batch, False)


def answers_both_ways(stub, responses, region_size=4096, start=64):
    """(fast answers, fast region bytes, python answers, python region bytes)."""
    _, write, _ = stub.execution_steps(None)
    fast_region, slow_region = Region(region_size), Region(region_size)
    fast = write(fast_region, responses, start)
    slow = tuple(stub.write_responses(slow_region, responses, start))
    return fast, fast_region.map[:], slow, slow_region.map[:]


def test_plain_responses_are_written_as_the_python_writes_them(stub):
    pb = stub.pb_utils
    rng = np.random.default_rng(3)
    responses = []
    for datatype in NUMERIC:
        dtype = stub.NUMERIC_DTYPES[datatype]
        responses.append(pb.InferenceResponse([
            pb.Tensor("A", (rng.random((2, 5)) * 50).astype(dtype)),
            pb.Tensor("B", np.zeros((0, 3), dtype=dtype)),
            pb.Tensor("C", np.asarray(rng.random(()) * 9).astype(dtype))]))
    responses.append(None)  # answered through its response sender
    responses.append(pb.InferenceResponse([]))
    fast, fast_bytes, slow, slow_bytes = answers_both_ways(stub, responses)
    assert fast is not None
    assert fast == slow
    assert fast_bytes == slow_bytes
    assert marshal.dumps(fast, 2) == marshal.dumps(slow, 2)


@pytest.mark.parametrize("case", ["error", "parameters", "bytes", "not_contiguous", "big_endian", "no_room",
                                  "tensor_subclass", "name_not_str", "not_a_list"])
def test_what_is_not_plain_is_left_to_the_python(stub, case):
    pb = stub.pb_utils
    plain = pb.InferenceResponse([pb.Tensor("A", np.arange(6, dtype=np.float32))])

    class MyTensor(pb.Tensor):
        pass

    response = {
        "error": pb.InferenceResponse(error=pb.TritonError("no", pb.TritonError.INVALID_ARG)),
        "parameters": pb.InferenceResponse([pb.Tensor("A", np.ones(2, np.int32))], parameters={"k": 1}),
        "bytes": pb.InferenceResponse([pb.Tensor("A", np.array([b"x", b"yz"], dtype=np.object_))]),
        "not_contiguous": pb.InferenceResponse([pb.Tensor("A", np.arange(12, dtype=np.int64).reshape(3, 4).T)]),
        "big_endian": pb.InferenceResponse([pb.Tensor("A", np.arange(4, dtype=">f4"))]),
        "no_room": pb.InferenceResponse([pb.Tensor("A", np.zeros(4096, dtype=np.uint8))]),
        "tensor_subclass": pb.InferenceResponse([MyTensor("A", np.ones(3, np.float32))]),
        "name_not_str": pb.InferenceResponse([pb.Tensor(b"A", np.ones(3, np.float32))]),
        "not_a_list": None,
    }[case]
    responses = (plain,) if case == "not_a_list" else [plain, response]
    _, write, _ = stub.execution_steps(None)
    assert write(Region(4096), responses, 64) is None
    if case in ("error", "parameters", "bytes", "not_contiguous", "no_room", "tensor_subclass"):
        # The Python writes what the fast path left (growing the region for "no_room").
        assert stub.write_responses(Region(4096), responses, 64)


def test_frames_are_read_and_sent_as_the_python_does(stub):
    fast = stub.fastpath
    ours, theirs = socket.socketpair()
    try:
        execute = ("execute", 128, 4096, ((1, "", 0, "{}", 0, (("X", "FP32", (1, 2), 0, 8),), ["Y"]),))
        frames = [marshal.dumps(execute, 2), b'{"type":"finalize"}', marshal.dumps(("execute", 0, 0, ()), 2)]
        data = b"".join(len(f).to_bytes(4, "little") + f for f in frames)
        theirs.sendall(data[:3])  # a frame in pieces, then the rest with two whole frames
        theirs.sendall(data[3:])
        assert fast.read_frame(ours.fileno()) == execute
        assert fast.read_frame(ours.fileno()) == b'{"type":"finalize"}'
        assert fast.read_frame(ours.fileno()) == ("execute", 0, 0, ())
        answer = ("responses", None, (None, ("outputs", (("Y", "FP32", (1, 2), 128, 8),), None),
                                      ("error", "bad \u00e9", 3)))
        fast.send_answer(ours.fileno(), answer)
        body = marshal.dumps(answer, 2)
        assert theirs.recv(1 << 16) == len(body).to_bytes(4, "little") + body
        # A frame larger than a read, from another thread (the socket holds less than it).
        big = b'{"text":"' + b"a" * (3 << 20) + b'"}'
        sender = threading.Thread(target=theirs.sendall, args=(len(big).to_bytes(4, "little") + big
                                                                + len(frames[1]).to_bytes(4, "little") + frames[1],))
        sender.start()
        assert fast.read_frame(ours.fileno()) == big
        assert fast.read_frame(ours.fileno()) == frames[1]
        sender.join()
        theirs.sendall((65 << 20).to_bytes(4, "little"))
        with pytest.raises(ValueError, match="bytes"):
            fast.read_frame(ours.fileno())
    finally:
        theirs.close()
    # The server's end closed: None, as FrameReader gives.
    leftover, closing = socket.socketpair()
    closing.close()
    try:
        assert fast.read_frame(leftover.fileno()) is None
    finally:
        leftover.close()
        ours.close()
