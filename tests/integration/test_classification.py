"""Classification extension: an output requested with class_count=k comes back
as a BYTES tensor of k strings "value:index:label", highest value first."""

import numpy as np
import pytest
import tritonclient.http as httpclient

from support import CLASSIFY_LABELS, assert_still_serving, make_input

X = np.array([0.1, 0.9, -0.3, 0.7, 0.5], dtype=np.float32)


def _parse(entries):
    parsed = []
    for e in entries:
        s = e.decode("utf-8") if isinstance(e, bytes) else str(e)
        value, index, label = s.split(":", 2)
        parsed.append((float(value), int(index), label))
    return parsed


def _expected(k):
    order = np.argsort(-X, kind="stable")[:k]
    return [(float(X[i]), int(i), CLASSIFY_LABELS[i]) for i in order]


def _check(parsed, k):
    exp = _expected(k)
    assert len(parsed) == k
    assert [(i, lab) for _, i, lab in parsed] == [(i, lab) for _, i, lab in exp]
    for (v, _, _), (ev, _, _) in zip(parsed, exp):
        assert v == pytest.approx(ev, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_classification_binary(client, k):
    res = client.infer(
        "classify", [make_input("INPUT0", X)],
        outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=True, class_count=k)],
    )
    meta = res.get_output("OUTPUT0")
    assert meta["datatype"] == "BYTES"
    assert [int(d) for d in meta["shape"]] == [k]
    out = res.as_numpy("OUTPUT0")
    assert out.shape == (k,)
    _check(_parse(out), k)


def test_classification_json(client):
    res = client.infer(
        "classify", [make_input("INPUT0", X, binary=False)],
        outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False, class_count=2)],
    )
    meta = res.get_output("OUTPUT0")
    assert meta["datatype"] == "BYTES"
    assert len(meta["data"]) == 2
    _check(_parse(meta["data"]), 2)


def test_classification_negative_values_order(client):
    x = np.array([-5.0, -1.0, -3.0, -2.0, -4.0], dtype=np.float32)
    res = client.infer(
        "classify", [make_input("INPUT0", x)],
        outputs=[httpclient.InferRequestedOutput("OUTPUT0", class_count=3)],
    )
    parsed = _parse(res.as_numpy("OUTPUT0"))
    assert [(i, lab) for _, i, lab in parsed] == [(1, "dog"), (3, "fish"), (2, "bird")]
    assert [v for v, _, _ in parsed] == pytest.approx([-1.0, -2.0, -3.0])


def test_without_class_count_returns_raw_tensor(client):
    res = client.infer("classify", [make_input("INPUT0", X)],
                       outputs=[httpclient.InferRequestedOutput("OUTPUT0")])
    meta = res.get_output("OUTPUT0")
    assert meta["datatype"] == "FP32"
    np.testing.assert_array_equal(res.as_numpy("OUTPUT0"), X)
    assert_still_serving(client)
