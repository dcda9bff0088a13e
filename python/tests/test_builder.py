"""The graph builder: every op of the dialect round-trips through the C++
parser and printer, and verifier errors surface as VerificationError naming
the op and the reason at the Python line that built it."""

import re
from pathlib import Path

import numpy as np
import pytest

import iolite
from iolite import VerificationError

REPO = Path(__file__).resolve().parents[2]


def roundtrip(g):
    """Checks the builder's text against MLIR's parse-print fixpoint and the
    builder's result types against the parsed module's; returns MLIR's
    print."""
    printed = g.to_mlir()
    module = iolite.parse(printed, name="roundtrip")
    assert str(module) == printed
    function = module.functions[0]
    assert function.name == g.name
    assert function.arguments == [v.type for v in g.inputs]
    assert function.results == [v.type for v in g.outputs]
    # Every op the builder made, in order, with the types it reported.
    built = [(f"iolite.{op.kind}", [v.type for v in op.results])
             for op in g._ops]
    assert function.ops[:-1] == built
    # (MLIR prints "approximate =  tanh": compare with single spaces.)
    return re.sub(r" +", " ", printed)


def T(g, shape, dtype="f32", name=None):
    return g.input(shape, dtype, name=name)


def test_every_dialect_op_has_a_builder():
    doc = (REPO / "docs" / "Dialect" / "IoliteOps.md").read_text()
    ops = re.findall(r"^### `iolite\.(\w+)`", doc, re.M)
    assert len(ops) > 40
    structural = {"kernel", "yield"}  # made by fusion, not by models
    missing = [op for op in ops if op not in structural and
               not callable(getattr(iolite.Graph, op, None))]
    assert missing == []


UNARY = ["abs", "cos", "erf", "exp", "log", "neg", "reciprocal", "relu",
         "rsqrt", "sigmoid", "silu", "sin", "softplus", "sqrt", "tanh"]
BINARY = ["add", "sub", "mul", "div", "max", "min", "pow"]


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_elementwise(dtype):
    g = iolite.Graph("elementwise")
    x = T(g, (2, 8, 16), dtype)
    y = T(g, (16,), dtype)
    outs = [getattr(g, op)(x) for op in UNARY]
    outs += [getattr(g, op)(x, y) for op in BINARY]
    outs += [g.gelu(x), g.gelu(x, approximate="tanh")]
    outs += [x + y, x - 1.5, 2 * x, x / y, -x, x ** 2, 1 - x]
    c = g.compare("lt", x, y)
    outs.append(g.select(c, x, 0.0))
    outs.append(g.cast(x, "f32" if dtype != "f32" else "f16"))
    g.output(*outs, c)
    text = roundtrip(g)
    for op in UNARY + BINARY:
        assert f"iolite.{op} " in text
    assert "iolite.gelu %arg0 approximate = tanh" in text
    assert outs[0].type == iolite.TensorType((2, 8, 16), dtype)
    assert c.dtype == "i1" and c.shape == (2, 8, 16)


def test_integer_elementwise_and_compare():
    g = iolite.Graph("ints")
    a = T(g, (4, 4), "i64")
    b = T(g, (4,), "i64")
    r = [g.add(a, b), g.sub(a, 3), g.mul(a, b), g.div(a, b), g.max(a, b),
         g.min(a, 0), g.abs(a), g.neg(a), g.relu(a)]
    r += [g.compare(p, a, b) for p in ("eq", "ne", "lt", "le", "gt", "ge")]
    g.output(*r)
    roundtrip(g)
    with pytest.raises(TypeError, match="cannot combine i64 with 0.5"):
        g.mul(a, 0.5)


def test_reductions_and_normalizations():
    g = iolite.Graph("norms")
    x = T(g, (2, 8, 64))
    w = g.constant(np.linspace(0.5, 1.5, 64, dtype=np.float32), name="w")
    b = g.constant(np.zeros(64, np.float32), name="b")
    outs = [g.softmax(x), g.softmax(x, axis=1)]
    outs += [g.reduce(k, x, [-1], keep_dims=True)
             for k in ("sum", "mean", "max", "min", "prod")]
    outs += [g.reduce("sum", x, [0, 2]), g.reduce("sum", x, [])]
    outs += [g.rms_norm(x), g.rms_norm(x, w, epsilon=1e-6),
             g.layer_norm(x), g.layer_norm(x, w, b, epsilon=1e-6),
             g.layer_norm(x, axis=1)]
    outs += [g.cumsum(x, 1), g.cumsum(x, -1, exclusive=True, reverse=True)]
    values, indices = g.top_k(x, 3, largest=False)
    g.output(*outs, values, indices)
    text = roundtrip(g)
    assert "{axes = array<i64: 0, 2>}" in text
    assert "{axis = -1 : i64, exclusive, reverse}" in text
    assert values.shape == (2, 8, 3) and indices.dtype == "i64"
    assert outs[7].shape == (8,) and outs[8].shape == (2, 8, 64)


def test_data_movement():
    g = iolite.Graph("moves")
    x = T(g, (2, 8, 16))
    ids = T(g, (3, 5), "i64")
    table = g.constant(np.arange(32 * 4, dtype=np.float32).reshape(32, 4))
    outs = [g.reshape(x, (2, 8, 4, 4)), g.reshape(x, (-1, 16)),
            g.broadcast(g.reshape(x, (2, 1, 8, 16)), (2, 3, 8, 16)),
            g.transpose(x, [2, 0, 1]), g.slice(x, [0, 2, 0], [2, 8, 16]),
            g.slice(x, [0, 0, 1], [2, 8, 16], [1, 2, 3]),
            g.concat([x, x, x], axis=-1), g.gather(table, ids),
            g.gather(x, ids, axis=2), g.iota(x, axis=-2)]
    g.output(*outs)
    text = roundtrip(g)
    assert "step [1, 2, 3]" in text
    assert [o.shape for o in outs] == [
        (2, 8, 4, 4), (16, 16), (2, 3, 8, 16), (16, 2, 8), (2, 6, 16),
        (2, 4, 5), (2, 8, 48), (3, 5, 4), (2, 8, 3, 5), (8,)]
    assert outs[-1].dtype == "i64"


@pytest.mark.parametrize("dtype", ["f32", "f16", "i1", "bf16", "i32", "i64"])
def test_constants(dtype):
    g = iolite.Graph("constants")
    rng = np.random.RandomState(0)
    data = {"f32": rng.randn(3, 4), "f16": rng.randn(3, 4),
            "bf16": rng.randn(3, 4), "i1": rng.rand(3, 4) > 0.5,
            "i32": rng.randint(-9, 9, (3, 4)),
            "i64": rng.randint(-9, 9, (3, 4))}[dtype]
    c = g.constant(data, dtype=dtype)
    s = g.constant(data.flat[0], dtype=dtype)  # a splat scalar
    z = g.constant(np.full((2, 2), data.flat[0]), dtype=dtype)
    g.output(c, s, z)
    text = roundtrip(g)
    assert c.type == iolite.TensorType((3, 4), dtype)
    assert s.shape == () and z.shape == (2, 2)
    if dtype == "f32":  # exact values: the printed decimals are MLIR's
        assert f"{np.float32(data[0, 0]):.6e}"[:5] in text


def test_matmul_rotary_attention():
    g = iolite.Graph("transformer")
    x = T(g, (2, 8, 64), "f16")
    w = T(g, (96, 64), "f16")
    h = g.matmul(x, w, transpose_rhs=True)
    ht = g.matmul(x, w, transpose_lhs=False, transpose_rhs=True)
    q = T(g, (1, 8, 16, 32), "f16")
    k = T(g, (1, 2, 16, 32), "f16")
    v = T(g, (1, 2, 16, 48), "f16")
    cos = T(g, (16, 32), "f16")
    sin = T(g, (16, 32), "f16")
    qr = g.rotary(q, cos, sin)
    qi = g.rotary(q, g.slice(cos, [0, 0], [16, 16]),
                  g.slice(sin, [0, 0], [16, 16]), interleaved=True)
    bool_mask = T(g, (1, 1, 16, 16), "i1")
    float_mask = T(g, (16, 16), "f16")
    slopes = T(g, (8,), "f32")
    outs = [g.attention(q, k, v),
            g.attention(qr, k, v, causal=True),
            g.attention(q, k, v, causal=True, window=4, softcap=30.0,
                        scale=0.125),
            g.attention(q, k, v, mask=bool_mask),
            g.attention(qi, k, v, mask=float_mask, alibi_slopes=slopes),
            g.attention(g.slice(q, [0, 0, 15, 0], [1, 8, 16, 32]), k, v,
                        causal=True)]
    g.output(h, ht, *outs)
    text = roundtrip(g)
    assert h.shape == (2, 8, 96)
    assert all(o.shape == (1, 8, 16, 48) for o in outs[:5])
    assert outs[5].shape == (1, 8, 1, 48)
    assert ("{causal, scale = 1.250000e-01 : f32, softcap = 3.000000e+01 : "
            "f32, window = 4 : i64}") in text
    assert "mask(%arg7 : tensor<1x1x16x16xi1>)" in text
    assert "mask(%arg8 : tensor<16x16xf16>) alibi_slopes(%arg9 : tensor<8xf32>)" in text
    assert "{interleaved}" in text


def test_state_space_ops():
    g = iolite.Graph("ssm")
    u = T(g, (2, 16, 32))
    dt = T(g, (2, 16, 32))
    A = T(g, (16, 8))
    B = T(g, (2, 8, 32))
    C = T(g, (2, 8, 32))
    D = T(g, (16,))
    w = T(g, (16, 4))
    h = T(g, (16, 32))
    y1 = g.selective_scan(u, dt, A, B, C)
    y2 = g.selective_scan(u, dt, A, B, C, D=D, z=u, delta_bias=D,
                          delta_softplus=True)
    y3 = g.conv1d(u, w)
    y4 = g.conv1d(u, w, bias=D, activation="silu")
    y5 = g.long_conv(u, h)
    y6 = g.long_conv(u, h, D=D)
    x = T(g, (1, 32, 4, 16))
    dt2 = T(g, (1, 32, 4))
    A2 = T(g, (4,))
    B2 = T(g, (1, 32, 2, 8))
    y7 = g.ssd(x, dt2, A2, B2, B2)
    y8 = g.ssd(x, dt2, A2, B2, B2, D=A2, dt_bias=A2, chunk_size=16,
               dt_softplus=True)
    state = T(g, (1, 4, 16, 8))
    y9, h9 = g.ssd_with_state(x, dt2, A2, B2, B2, state, D=A2,
                              dt_softplus=True)
    g.output(y1, y2, y3, y4, y5, y6, y7, y8, y9, h9)
    text = roundtrip(g)
    assert ("D(%arg5 : tensor<16xf32>) z(%arg0 : tensor<2x16x32xf32>) "
            "delta_bias(%arg5 : tensor<16xf32>) {delta_softplus}") in text
    assert "bias(%arg5 : tensor<16xf32>) activation = silu" in text
    assert "{chunk_size = 16 : i64, dt_softplus}" in text
    assert y7.shape == (1, 32, 4, 16)
    assert y9.shape == (1, 32, 4, 16) and h9.shape == (1, 4, 16, 8)


def test_mixture_of_experts_ops():
    g = iolite.Graph("moe")
    x = T(g, (16, 32), "bf16")
    logits = T(g, (16, 8), "bf16")
    w = T(g, (8, 32, 64), "bf16")
    wt = T(g, (8, 64, 32), "bf16")
    weights, ids = g.router(logits, 2, renormalize=True)
    sw, sids = g.router(logits, 2, scoring="sigmoid")
    rows, row_index, offsets = g.dispatch(x, ids, num_experts=8)
    h = g.grouped_matmul(rows, w, offsets)
    ht = g.grouped_matmul(rows, wt, offsets, transpose_rhs=True)
    y = g.combine(h, row_index, weights)
    g.output(y, ht, sw, sids)
    text = roundtrip(g)
    assert "scoring = sigmoid {k = 2 : i64}" in text
    assert ids.dtype == "i32" and offsets.shape == (9,)
    assert rows.shape == (32, 32) and y.shape == (16, 64)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

def this_line():
    import inspect
    return inspect.currentframe().f_back.f_lineno


def test_inference_error_names_op_reason_and_line():
    g = iolite.Graph("bad")
    q = T(g, (1, 8, 16, 64))
    k = T(g, (1, 3, 16, 64))
    with pytest.raises(VerificationError) as info:
        line = this_line(); g.attention(q, k, k, causal=True)  # noqa: E702
    e = info.value
    assert e.op == "iolite.attention"
    assert e.reason == "query heads (8) must be a multiple of kv heads (3)"
    assert e.location == f"{__file__}:{line}"
    assert str(e) == f"iolite.attention at {__file__}:{line}: {e.reason}"
    # The failed op was not added.
    assert g._ops == []


@pytest.mark.parametrize("build, op, reason", [
    (lambda g, x: g.attention(x, x, x, window=4),
     "iolite.attention", "window needs causal"),
    (lambda g, x: g.reshape(x, (3, 5)), "iolite.reshape",
     "element count"),
    (lambda g, x: g.matmul(x, g.input((5, 4))), "iolite.matmul",
     "contraction"),
    (lambda g, x: g.rms_norm(x, g.input((3,))), "iolite.rms_norm",
     "weight"),
    (lambda g, x: g.softmax(x, axis=7), "iolite.softmax", "out of range"),
    (lambda g, x: g.transpose(x, [0, 0, 1, 2]), "iolite.transpose",
     "permutation"),
    (lambda g, x: g.slice(x, [0, 0, 0, 0], [1, 2, 9, 4]), "iolite.slice",
     ""),
    (lambda g, x: g.top_k(x, 9), "iolite.top_k", ""),
    (lambda g, x: g.cast(x, "f16") + x, "iolite.add", ""),
])
def test_verifier_errors(build, op, reason):
    g = iolite.Graph("bad")
    x = T(g, (1, 2, 8, 4))
    with pytest.raises(VerificationError) as info:
        build(g, x)
    assert info.value.op == op
    assert reason.lower() in info.value.reason.lower()
    assert info.value.diagnostics and \
        info.value.diagnostics[0]["severity"] == "error"


def test_builder_argument_errors():
    g = iolite.Graph("args")
    x = T(g, (4,))
    other = iolite.Graph("other").input((4,))
    with pytest.raises(ValueError, match="belongs to another graph"):
        g.add(x, other)
    with pytest.raises(ValueError, match="approximate"):
        g.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="reduction kind"):
        g.reduce("median", x, [0])
    with pytest.raises(ValueError, match="unknown element type"):
        g.input((2,), "f64")
    with pytest.raises(iolite.IoliteError, match="no outputs"):
        g.to_mlir()


def test_parse_reports_the_failing_op():
    text = """
func.func @f(%a: tensor<4xf32>) -> tensor<5xf32> {
  %0 = "iolite.exp"(%a) : (tensor<4xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}
"""
    with pytest.raises(VerificationError) as info:
        iolite.parse(text, name="typed")
    e = info.value
    assert e.op == "iolite.exp"
    assert e.reason == "requires the same type for all operands and results"
    assert "typed.mlir:3:8: error: 'iolite.exp' op requires" in str(e)
    module = iolite.parse(text.replace("5xf32", "4xf32"))
    assert module.functions[0].ops[0] == (
        "iolite.exp", [iolite.TensorType((4,), "f32")])


def test_import_onnx():
    path = REPO / "test" / "Driver" / "Inputs" / "mlp.onnxtxt"
    module = iolite.import_onnx(path, dims={"batch": 3})
    f = module.functions[0]
    assert f.arguments == [iolite.TensorType((3, 16), "f32"),
                           iolite.TensorType((16, 8), "f32")]
    assert [op for op, _ in f.ops] == ["iolite.matmul", "iolite.constant",
                                       "iolite.add", "iolite.relu",
                                       "func.return"]
    with pytest.raises(iolite.ModelImportError, match="--dim batch=N"):
        iolite.import_onnx(path)
