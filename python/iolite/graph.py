"""The graph builder: iolite IR from Python, one method per dialect op.

    g = iolite.Graph("attn")
    q = g.input((1, 8, 128, 64), "f16", name="q")
    ...
    o = g.attention(q, k, v, causal=True)
    g.output(o)
    print(g.to_mlir())

Every op is written in the dialect's own syntax and checked the moment it is
built: the op alone, on arguments of its operands' types, goes through the
C++ parser and verifier (libIoliteCAPI.so), whose type inference gives the
result types. So shapes are computed by the dialect's inference functions,
never re-implemented here, and a bad op raises VerificationError at the line
that built it, naming the op and the reason. Each op carries a location: its
name and the Python line that built it (or the PyTorch node it came from), so
diagnostics, fusion remarks and the bundle's manifest point back to the
user's code.
"""

import os
import re
import sys

import numpy as np

from . import _capi
from . import dtypes as _dt
from .errors import IoliteError, VerificationError

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# Types and values
# ---------------------------------------------------------------------------

class TensorType:
    """A ranked tensor type. A dim is an int, or None for a symbolic dim of
    a function's signature (`?`, docs/dynamic-shapes.md)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        if any(d is not None and d < 0 for d in self.shape):
            raise ValueError(f"negative dim in shape {self.shape}")
        self.dtype = _dt.canonical(dtype)

    @property
    def rank(self):
        return len(self.shape)

    def __str__(self):
        dims = "".join(f"{'?' if d is None else d}x" for d in self.shape)
        return f"tensor<{dims}{self.dtype}>"

    __repr__ = __str__

    def __eq__(self, other):
        return (isinstance(other, TensorType) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))


def _type_from_json(t):
    if "shape" not in t:
        raise IoliteError(f"unexpected non-tensor type {t['type']}")
    return TensorType(t["shape"], t["dtype"])


class Value:
    """A tensor produced in a Graph: a graph input, a constant or an op
    result. Python operators build ops: ``a + b``, ``a * 0.5``, ``-a``,
    ``a @ b``, ``a ** 2``."""

    __slots__ = ("graph", "ref", "type", "name")

    def __init__(self, graph, ref, type_, name):
        self.graph = graph
        self.ref = ref
        self.type = type_
        self.name = name

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def rank(self):
        return self.type.rank

    def __repr__(self):
        return f"<iolite.Value {self.name}: {self.type}>"

    # Operators ------------------------------------------------------------
    def __add__(self, other):
        return self.graph.add(self, other)

    def __radd__(self, other):
        return self.graph.add(other, self)

    def __sub__(self, other):
        return self.graph.sub(self, other)

    def __rsub__(self, other):
        return self.graph.sub(other, self)

    def __mul__(self, other):
        return self.graph.mul(self, other)

    def __rmul__(self, other):
        return self.graph.mul(other, self)

    def __truediv__(self, other):
        return self.graph.div(self, other)

    def __rtruediv__(self, other):
        return self.graph.div(other, self)

    def __pow__(self, other):
        return self.graph.pow(self, other)

    def __neg__(self):
        return self.graph.neg(self)

    def __matmul__(self, other):
        return self.graph.matmul(self, other)


# ---------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------

def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _f32(v):
    v = float(np.float32(v))
    if not np.isfinite(v):
        raise ValueError(f"attribute value {v} is not finite")
    return f"{v:.9e} : f32"


def _i64(v):
    return f"{int(v)} : i64"


def _ints(values):
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _attr_dict(entries):
    """`{a = ..., unit}` from (name, text-or-True) pairs, skipping None."""
    parts = []
    for name, value in entries:
        if value is None or value is False:
            continue
        parts.append(name if value is True else f"{name} = {value}")
    return " {" + ", ".join(parts) + "}" if parts else ""


def _symbol(name):
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    return s if s and not s[0].isdigit() else "g_" + s


def _caller_location():
    """(file, line) of the nearest frame outside this package."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIR + os.sep):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return "<unknown>", 0


_REDUCE_KINDS = ("sum", "mean", "max", "min", "prod")
_PREDICATES = ("eq", "ne", "lt", "le", "gt", "ge")


# ---------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------

class _Op:
    __slots__ = ("kind", "body", "results", "loc")

    def __init__(self, kind, body, results, loc):
        self.kind, self.body, self.results, self.loc = kind, body, results, loc


class Graph:
    """Builds one function of iolite ops. Inputs become the function's
    arguments in the order they are created, outputs its results."""

    def __init__(self, name="model"):
        self.name = _symbol(name)
        self.inputs = []
        self.outputs = []
        self._ops = []
        self._counter = 0
        self._names = {}
        # (name, file, line) the next ops are located at, set by importers.
        self._location = None

    # Naming and locations -------------------------------------------------
    def _unique_name(self, base):
        base = re.sub(r"[^A-Za-z0-9_.]", "_", base) or "v"
        n = self._names.get(base, 0)
        self._names[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def _loc(self, name):
        if self._location is not None:
            _, file, line = self._location
        else:
            file, line = _caller_location()
        return f"loc({_quote(name)}({_quote(file)}:{int(line)}:0))"

    def _where(self):
        if self._location is not None:
            name, file, line = self._location
            return f"{file}:{line} ({name})"
        file, line = _caller_location()
        return f"{file}:{line}"

    # Inputs, constants, outputs --------------------------------------------
    def input(self, shape, dtype="f32", name=None):
        """A new function argument of the given shape and element type."""
        t = TensorType(shape, dtype)
        if None in t.shape:
            raise ValueError(
                "Graph inputs have static shapes; a model with symbolic dims "
                "is written in MLIR with iolite.dims (docs/dynamic-shapes.md)")
        name = self._unique_name(name or f"arg{len(self.inputs)}")
        v = Value(self, f"%arg{len(self.inputs)}", t, name)
        self.inputs.append(v)
        return v

    def constant(self, value, dtype=None, name=None):
        """A constant tensor from a numpy array, a PyTorch tensor or a Python
        scalar. The element type follows the data (float64 becomes f32)
        unless `dtype` is given; bf16 takes floats (rounded) or uint16 bits."""
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu()
            if str(value.dtype) == "torch.bfloat16":
                value = value.float()
                dtype = dtype or "bf16"
            value = value.numpy()
        a = np.asarray(value)
        if dtype is None:
            if a.dtype == np.float64:
                dtype = "f32"
            elif a.dtype.kind in "iu" and a.dtype != np.int32:
                dtype = "i64"
            else:
                dtype = _dt.canonical(a.dtype)
        dtype = _dt.canonical(dtype)
        if dtype in _dt.INT_DTYPES + ("i1",) and a.dtype.kind == "f":
            if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
                raise TypeError(f"cannot make a {dtype} constant of "
                                "non-integer values")
        t = TensorType(a.shape, dtype)
        if dtype == "i1":
            flat = np.asarray(a, dtype=bool)
            if flat.size and np.all(flat == flat.flat[0]):
                data = "true" if flat.flat[0] else "false"
            else:
                data = np.array2string(
                    flat, separator=", ", threshold=sys.maxsize,
                    formatter={"bool": lambda b: "true" if b else "false"})
                data = data.replace("\n", "")
        else:
            storage = _dt.to_storage(a, dtype)
            raw = storage.tobytes()
            size = _dt.itemsize(dtype)
            if storage.size > 1 and raw == raw[:size] * storage.size:
                raw = raw[:size]  # a splat: one element
            data = '"0x' + raw.hex().upper() + '"'
        name = self._unique_name(name or "cst")
        return self._emit("constant", [],
                          lambda r: f"iolite.constant dense<{data}> : {t}",
                          name, result_types=[t], check=False)[0]

    def output(self, *values):
        """Makes `values` results of the function (in order)."""
        for v in values:
            self._check_value(v)
            self.outputs.append(v)

    # Emission ---------------------------------------------------------------
    def _check_value(self, v):
        if not isinstance(v, Value):
            raise TypeError(f"expected an iolite.Value, got {type(v).__name__}")
        if v.graph is not self:
            raise ValueError(f"{v!r} belongs to another graph")
        return v

    def _as_value(self, x, like):
        """`x` itself, or a scalar constant of `like`'s element type."""
        if isinstance(x, Value):
            return self._check_value(x)
        if isinstance(x, (bool, int, float, np.number)):
            if like.dtype in _dt.INT_DTYPES and not float(x).is_integer():
                raise TypeError(f"cannot combine {like.dtype} with {x!r}")
            return self.constant(np.asarray(x), dtype=like.dtype)
        raise TypeError(f"expected an iolite.Value or a scalar, got "
                        f"{type(x).__name__}")

    def _emit(self, kind, operands, render, name=None, num_results=1,
              result_types=None, check=True):
        """Adds op `kind` whose text (from `=` on) is render(ref) where
        ref(value) spells an operand. Without `result_types` they are
        inferred by parsing the op alone; the op is verified either way
        (unless `check` is False, for constants)."""
        for v in operands:
            self._check_value(v)
        name = name or self._unique_name(kind)
        loc = self._loc(name)
        if check or result_types is None:
            result_types = self._probe(kind, operands, render, num_results,
                                       result_types, loc)
        index = self._counter
        self._counter += 1
        base = f"%v{index}"
        if num_results == 1:
            results = [Value(self, base, result_types[0], name)]
        else:
            results = [Value(self, f"{base}#{i}", t, f"{name}#{i}")
                       for i, t in enumerate(result_types)]
        body = render(lambda v: v.ref)
        self._ops.append(_Op(kind, body, results, loc))
        return results

    def _probe(self, kind, operands, render, num_results, result_types, loc):
        """Parses and verifies the op alone; returns its result types."""
        unique = []
        for v in operands:
            if all(v is not u for u in unique):
                unique.append(v)
        arg = {id(v): f"%a{i}" for i, v in enumerate(unique)}
        args = ", ".join(f"{arg[id(v)]}: {v.type}" for v in unique)
        lhs = "%r" if num_results == 1 else f"%r:{num_results}"
        body = render(lambda v: arg[id(v)])
        text = (f"func.func @probe({args}) {{\n"
                f"  {lhs} = {body} {loc}\n"
                f"  return\n}}\n")
        result = _capi.parse(text, f"<{kind}>", _capi.DESCRIBE)
        if not result.ok:
            self._raise(kind, result)
        types = [_type_from_json(t)
                 for t in result.info["functions"][0]["ops"][0]["results"]]
        if result_types is not None and types != list(result_types):
            raise IoliteError(f"iolite.{kind}: expected result types "
                              f"{result_types}, the op has {types}")
        return types

    def _raise(self, kind, result):
        errors = result.errors() or result.diagnostics
        first = errors[0] if errors else {"reason": result.message}
        reason = first.get("reason") or first.get("message", "")
        op = first.get("op") or f"iolite.{kind}"
        where = self._where()
        raise VerificationError(f"{op} at {where}: {reason}", op=op,
                                reason=reason, location=where,
                                diagnostics=result.diagnostics)

    # Text -------------------------------------------------------------------
    def text(self):
        """The function as the builder writes it (unverified as a whole)."""
        if not self.outputs:
            raise IoliteError(f"graph '{self.name}' has no outputs "
                              "(call output())")
        args = ", ".join(f"{v.ref}: {v.type} loc({_quote(v.name)})"
                         for v in self.inputs)
        results = ", ".join(str(v.type) for v in self.outputs)
        lines = [f"func.func @{self.name}({args}) -> ({results}) {{"]
        for op in self._ops:
            n = len(op.results)
            lhs = op.results[0].ref if n == 1 else \
                f"{op.results[0].ref.split('#')[0]}:{n}"
            lines.append(f"  {lhs} = {op.body} {op.loc}")
        refs = ", ".join(v.ref for v in self.outputs)
        lines.append(f"  return {refs} : {results}")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def verify(self):
        """Parses and verifies the whole function; raises VerificationError."""
        result = _capi.parse(self.text(), f"{self.name}.mlir", 0)
        if not result.ok:
            errors = result.errors() or result.diagnostics
            first = errors[0] if errors else {}
            reason = first.get("reason", result.message)
            raise VerificationError(
                f"graph '{self.name}' does not verify:\n{result.message}",
                op=first.get("op"), reason=reason,
                location=first.get("location"),
                diagnostics=result.diagnostics)
        return self

    def to_mlir(self, debug_info=False):
        """The verified module as MLIR prints it (locations with
        `debug_info`)."""
        flags = _capi.PRINT | (_capi.DEBUG_INFO if debug_info else 0)
        self.verify()
        return _capi.parse(self.text(), f"{self.name}.mlir", flags).text

    def __str__(self):
        return self.to_mlir()

    # Elementwise ------------------------------------------------------------
    def _unary(self, kind, x, name=None, extra=""):
        x = self._check_value(x)
        return self._emit(kind, [x],
                          lambda r: f"iolite.{kind} {r(x)}{extra} : {x.type}",
                          name)[0]

    def abs(self, x, name=None):
        return self._unary("abs", x, name)

    def cos(self, x, name=None):
        return self._unary("cos", x, name)

    def erf(self, x, name=None):
        return self._unary("erf", x, name)

    def exp(self, x, name=None):
        return self._unary("exp", x, name)

    def log(self, x, name=None):
        return self._unary("log", x, name)

    def neg(self, x, name=None):
        return self._unary("neg", x, name)

    def reciprocal(self, x, name=None):
        return self._unary("reciprocal", x, name)

    def relu(self, x, name=None):
        return self._unary("relu", x, name)

    def rsqrt(self, x, name=None):
        return self._unary("rsqrt", x, name)

    def sigmoid(self, x, name=None):
        return self._unary("sigmoid", x, name)

    def silu(self, x, name=None):
        return self._unary("silu", x, name)

    def sin(self, x, name=None):
        return self._unary("sin", x, name)

    def softplus(self, x, name=None):
        return self._unary("softplus", x, name)

    def sqrt(self, x, name=None):
        return self._unary("sqrt", x, name)

    def tanh(self, x, name=None):
        return self._unary("tanh", x, name)

    def gelu(self, x, approximate="none", name=None):
        """GELU, exact (`approximate="none"`) or `"tanh"`."""
        if approximate not in ("none", "tanh"):
            raise ValueError("approximate must be 'none' or 'tanh'")
        extra = "" if approximate == "none" else " approximate = tanh"
        return self._unary("gelu", x, name, extra)

    def _binary(self, kind, a, b, name=None):
        if not isinstance(a, Value) and not isinstance(b, Value):
            raise TypeError(f"{kind} needs at least one iolite.Value")
        a = self._as_value(a, b if isinstance(b, Value) else a)
        b = self._as_value(b, a)
        return self._emit(
            kind, [a, b],
            lambda r: f"iolite.{kind} {r(a)}, {r(b)} : {a.type}, {b.type}",
            name)[0]

    def add(self, a, b, name=None):
        return self._binary("add", a, b, name)

    def sub(self, a, b, name=None):
        return self._binary("sub", a, b, name)

    def mul(self, a, b, name=None):
        return self._binary("mul", a, b, name)

    def div(self, a, b, name=None):
        return self._binary("div", a, b, name)

    def max(self, a, b, name=None):
        """Elementwise maximum (NaN propagates)."""
        return self._binary("max", a, b, name)

    def min(self, a, b, name=None):
        """Elementwise minimum (NaN propagates)."""
        return self._binary("min", a, b, name)

    def pow(self, a, b, name=None):
        return self._binary("pow", a, b, name)

    def compare(self, predicate, a, b, name=None):
        """`predicate` in eq, ne, lt, le, gt, ge; an i1 result."""
        if predicate not in _PREDICATES:
            raise ValueError(f"predicate must be one of {_PREDICATES}")
        a = self._as_value(a, b if isinstance(b, Value) else a)
        b = self._as_value(b, a)
        return self._emit(
            "compare", [a, b],
            lambda r: (f"iolite.compare {predicate} {r(a)}, {r(b)} : "
                       f"{a.type}, {b.type}"), name)[0]

    def select(self, condition, on_true, on_false, name=None):
        """`condition ? on_true : on_false`, broadcast together."""
        c = self._check_value(condition)
        like = on_true if isinstance(on_true, Value) else on_false
        t = self._as_value(on_true, like)
        f = self._as_value(on_false, t)
        return self._emit(
            "select", [c, t, f],
            lambda r: (f"iolite.select {r(c)}, {r(t)}, {r(f)} : "
                       f"{c.type}, {t.type}, {f.type}"), name)[0]

    def cast(self, x, dtype, name=None):
        x = self._check_value(x)
        out = TensorType(x.shape, dtype)
        return self._emit("cast", [x],
                          lambda r: f"iolite.cast {r(x)} : {x.type} to {out}",
                          name, result_types=[out])[0]

    # Reductions and normalizations ----------------------------------------
    def softmax(self, x, axis=-1, name=None):
        x = self._check_value(x)
        attrs = _attr_dict([("axis", _i64(axis))])
        return self._emit(
            "softmax", [x],
            lambda r: f"iolite.softmax {r(x)}{attrs} : {x.type}", name)[0]

    def reduce(self, kind, x, axes, keep_dims=False, name=None):
        """`kind` in sum, mean, max, min, prod over `axes`."""
        if kind not in _REDUCE_KINDS:
            raise ValueError(f"reduction kind must be one of {_REDUCE_KINDS}")
        x = self._check_value(x)
        if isinstance(axes, int):
            axes = [axes]
        axes_text = "array<i64" + ("" if not axes else ": " + ", ".join(
            str(int(a)) for a in axes)) + ">"
        attrs = _attr_dict([("axes", axes_text), ("keep_dims", keep_dims)])
        return self._emit(
            "reduce", [x],
            lambda r: f"iolite.reduce {kind} {r(x)}{attrs} : {x.type}",
            name)[0]

    def rms_norm(self, x, weight=None, epsilon=1e-5, name=None):
        x = self._check_value(x)
        ops = [x] + ([self._check_value(weight)] if weight is not None else [])
        attrs = _attr_dict([("epsilon", _f32(epsilon))])

        def render(r):
            w = f" weight({r(weight)} : {weight.type})" if weight is not None \
                else ""
            return f"iolite.rms_norm {r(x)}{w}{attrs} : {x.type}"
        return self._emit("rms_norm", ops, render, name)[0]

    def layer_norm(self, x, weight=None, bias=None, axis=-1, epsilon=1e-5,
                   name=None):
        x = self._check_value(x)
        ops = [x] + [self._check_value(v) for v in (weight, bias)
                     if v is not None]
        attrs = _attr_dict([("axis", _i64(axis)), ("epsilon", _f32(epsilon))])

        def render(r):
            w = f" weight({r(weight)} : {weight.type})" if weight is not None \
                else ""
            b = f" bias({r(bias)} : {bias.type})" if bias is not None else ""
            return f"iolite.layer_norm {r(x)}{w}{b}{attrs} : {x.type}"
        return self._emit("layer_norm", ops, render, name)[0]

    def cumsum(self, x, axis, exclusive=False, reverse=False, name=None):
        x = self._check_value(x)
        attrs = _attr_dict([("axis", _i64(axis)), ("exclusive", exclusive),
                            ("reverse", reverse)])
        return self._emit(
            "cumsum", [x],
            lambda r: f"iolite.cumsum {r(x)}{attrs} : {x.type}", name)[0]

    def top_k(self, x, k, axis=-1, largest=True, name=None):
        """(values, i64 indices) of the k largest (or smallest) entries."""
        x = self._check_value(x)
        attrs = _attr_dict([("k", _i64(k)), ("axis", _i64(axis)),
                            ("largest", "true" if largest else "false")])
        return tuple(self._emit(
            "top_k", [x], lambda r: f"iolite.top_k {r(x)}{attrs} : {x.type}",
            name, num_results=2))

    # Data movement ----------------------------------------------------------
    def reshape(self, x, shape, name=None):
        """Row-major reshape; one dim may be -1."""
        x = self._check_value(x)
        shape = [int(d) for d in shape]
        if shape.count(-1) > 1:
            raise ValueError("reshape: at most one dim may be -1")
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            total = int(np.prod(x.shape))
            if known == 0 or total % known:
                raise ValueError(f"reshape: cannot infer -1 in {shape} for "
                                 f"{x.type}")
            shape[shape.index(-1)] = total // known
        out = TensorType(shape, x.dtype)
        return self._emit("reshape", [x],
                          lambda r: f"iolite.reshape {r(x)} : {x.type} -> {out}",
                          name, result_types=[out])[0]

    def broadcast(self, x, shape, name=None):
        """NumPy broadcast of `x` to `shape`."""
        x = self._check_value(x)
        out = TensorType(shape, x.dtype)
        return self._emit(
            "broadcast", [x],
            lambda r: f"iolite.broadcast {r(x)} : {x.type} -> {out}", name,
            result_types=[out])[0]

    def transpose(self, x, permutation, name=None):
        x = self._check_value(x)
        perm = _ints(permutation)
        return self._emit(
            "transpose", [x],
            lambda r: f"iolite.transpose {r(x)} {perm} : {x.type}", name)[0]

    def slice(self, x, starts, limits, strides=None, name=None):
        """x[starts[i]:limits[i]:strides[i]] in every dim."""
        x = self._check_value(x)
        step = f" step {_ints(strides)}" if strides is not None else ""
        text = f"{_ints(starts)} to {_ints(limits)}{step}"
        return self._emit(
            "slice", [x], lambda r: f"iolite.slice {r(x)} {text} : {x.type}",
            name)[0]

    def concat(self, inputs, axis, name=None):
        inputs = [self._check_value(v) for v in inputs]
        attrs = _attr_dict([("axis", _i64(axis))])
        types = ", ".join(str(v.type) for v in inputs)
        return self._emit(
            "concat", inputs,
            lambda r: (f"iolite.concat {', '.join(r(v) for v in inputs)}"
                       f"{attrs} : {types}"), name)[0]

    def iota(self, source, axis, name=None):
        """The positions 0..n-1 (i64) where n is dim `axis` of `source`;
        only its shape is read, so n may be symbolic."""
        s = self._check_value(source)
        attrs = _attr_dict([("axis", _i64(axis))])
        return self._emit(
            "iota", [s],
            lambda r: f"iolite.iota {r(s)}{attrs} : {s.type}", name)[0]

    def gather(self, data, indices, axis=0, name=None):
        """data[..., indices, ...] along `axis` (embedding lookup)."""
        d = self._check_value(data)
        i = self._check_value(indices)
        attrs = _attr_dict([("axis", _i64(axis))])
        return self._emit(
            "gather", [d, i],
            lambda r: (f"iolite.gather {r(d)}[{r(i)}]{attrs} : "
                       f"{d.type}, {i.type}"), name)[0]

    # Linear algebra and transformer ops ------------------------------------
    def matmul(self, a, b, transpose_lhs=False, transpose_rhs=False,
               name=None):
        a, b = self._check_value(a), self._check_value(b)
        attrs = _attr_dict([("transpose_lhs", transpose_lhs),
                            ("transpose_rhs", transpose_rhs)])
        return self._emit(
            "matmul", [a, b],
            lambda r: (f"iolite.matmul {r(a)}, {r(b)}{attrs} : "
                       f"{a.type}, {b.type}"), name)[0]

    def rotary(self, x, cos, sin, interleaved=False, name=None):
        """RoPE on the first R features (rotate-half, or GPT-J pairs with
        `interleaved`)."""
        x, c, s = (self._check_value(v) for v in (x, cos, sin))
        attrs = _attr_dict([("interleaved", interleaved)])
        return self._emit(
            "rotary", [x, c, s],
            lambda r: (f"iolite.rotary {r(x)}, {r(c)}, {r(s)}{attrs} : "
                       f"{x.type}, {c.type}, {s.type}"), name)[0]

    def attention(self, query, key, value, mask=None, alibi_slopes=None,
                  scale=None, causal=False, window=None, softcap=None,
                  name=None):
        """Scaled dot-product attention: [B, Hq, Sq, D] queries over
        [B, Hkv, Skv, D] keys and [B, Hkv, Skv, Dv] values (GQA when
        Hkv < Hq), with an optional i1 or additive `mask`, ALiBi slopes
        ([Hq]), `scale` (default 1/sqrt(D)), `causal`, a sliding `window`
        (needs causal) and logit `softcap`."""
        q, k, v = (self._check_value(t) for t in (query, key, value))
        ops = [q, k, v] + [self._check_value(t) for t in (mask, alibi_slopes)
                           if t is not None]
        attrs = _attr_dict([
            ("causal", causal),
            ("scale", _f32(scale) if scale is not None else None),
            ("window", _i64(window) if window is not None else None),
            ("softcap", _f32(softcap) if softcap is not None else None)])

        def render(r):
            m = f" mask({r(mask)} : {mask.type})" if mask is not None else ""
            s = (f" alibi_slopes({r(alibi_slopes)} : {alibi_slopes.type})"
                 if alibi_slopes is not None else "")
            return (f"iolite.attention {r(q)}, {r(k)}, {r(v)}{m}{s}{attrs} : "
                    f"{q.type}, {k.type}, {v.type}")
        return self._emit("attention", ops, render, name)[0]

    # State-space ops --------------------------------------------------------
    def conv1d(self, x, weight, bias=None, activation="none", name=None):
        """Depthwise causal conv1d: x [B, C, L], weight [C, K], bias [C],
        `activation` "none" or "silu"."""
        if activation not in ("none", "silu"):
            raise ValueError("activation must be 'none' or 'silu'")
        x, w = self._check_value(x), self._check_value(weight)
        ops = [x, w] + ([self._check_value(bias)] if bias is not None else [])

        def render(r):
            b = f" bias({r(bias)} : {bias.type})" if bias is not None else ""
            a = " activation = silu" if activation == "silu" else ""
            return f"iolite.conv1d {r(x)}, {r(w)}{b}{a} : {x.type}, {w.type}"
        return self._emit("conv1d", ops, render, name)[0]

    def conv1d_with_state(self, x, weight, state, bias=None,
                          activation="none", name=None):
        """conv1d continuing from `state` [B, C, K-1] (the inputs before x);
        returns (y, final_state). L = 1 is the decode step."""
        if activation not in ("none", "silu"):
            raise ValueError("activation must be 'none' or 'silu'")
        x, w, st = (self._check_value(t) for t in (x, weight, state))
        ops = [x, w, st] + ([self._check_value(bias)] if bias is not None
                            else [])

        def render(r):
            b = f" bias({r(bias)} : {bias.type})" if bias is not None else ""
            a = " activation = silu" if activation == "silu" else ""
            return (f"iolite.conv1d_with_state {r(x)}, {r(w)}, {r(st)}{b}{a}"
                    f" : {x.type}, {w.type}, {st.type}")
        return tuple(self._emit("conv1d_with_state", ops, render, name,
                                num_results=2))

    def long_conv(self, x, filter, D=None, name=None):
        """Causal long convolution (Hyena): x [B, C, L], filter [C, K]."""
        x, h = self._check_value(x), self._check_value(filter)
        ops = [x, h] + ([self._check_value(D)] if D is not None else [])

        def render(r):
            d = f" D({r(D)} : {D.type})" if D is not None else ""
            return f"iolite.long_conv {r(x)}, {r(h)}{d} : {x.type}, {h.type}"
        return self._emit("long_conv", ops, render, name)[0]

    def selective_scan(self, u, delta, A, B, C, D=None, z=None,
                       delta_bias=None, delta_softplus=False, name=None):
        """Mamba-1 selective scan: u, delta, z [B, D, L], A [D, N], B and C
        [B, N, L], D and delta_bias [D]."""
        return self._selective_scan("selective_scan", (u, delta, A, B, C),
                                    D, z, delta_bias, delta_softplus, name,
                                    1)[0]

    def selective_scan_with_state(self, u, delta, A, B, C, state, D=None,
                                  z=None, delta_bias=None,
                                  delta_softplus=False, name=None):
        """selective_scan from `state` (f32 [B, D, N]); returns (y,
        final_state). L = 1 is the decode step."""
        return tuple(self._selective_scan(
            "selective_scan_with_state", (u, delta, A, B, C, state), D, z,
            delta_bias, delta_softplus, name, 2))

    def _selective_scan(self, op, operands, D, z, delta_bias,
                        delta_softplus, name, num_results):
        """The two scan ops: their operands, then the optional D, z and
        delta_bias, and the delta_softplus flag."""
        main = [self._check_value(t) for t in operands]
        optional = [("D", D), ("z", z), ("delta_bias", delta_bias)]
        ops = main + [self._check_value(t) for _, t in optional
                      if t is not None]
        attrs = _attr_dict([("delta_softplus", delta_softplus)])

        def render(r):
            opt = "".join(f" {n}({r(t)} : {t.type})" for n, t in optional
                          if t is not None)
            return (f"iolite.{op} "
                    f"{', '.join(r(t) for t in main)}{opt}{attrs} : "
                    f"{', '.join(str(t.type) for t in main)}")
        return self._emit(op, ops, render, name, num_results=num_results)

    # Serving ----------------------------------------------------------------
    def kv_cache_append(self, k_cache, v_cache, key, value, cache_seqlens,
                        block_table=None, name=None):
        """Writes key/value [B, S, Hkv, D] into the caches at
        cache_seqlens[b] (i32 [B]); contiguous [B, L, Hkv, D] caches, or page
        pools [N, P, Hkv, D] through block_table (i32 [B, M]). Returns the
        updated (k_cache, v_cache)."""
        main = [self._check_value(t) for t in (k_cache, v_cache, key, value,
                                               cache_seqlens)]
        ops = main + ([self._check_value(block_table)]
                      if block_table is not None else [])

        def render(r):
            t = (f" block_table({r(block_table)} : {block_table.type})"
                 if block_table is not None else "")
            return (f"iolite.kv_cache_append "
                    f"{', '.join(r(v) for v in main)}{t} : "
                    f"{', '.join(str(v.type) for v in main)}")
        return tuple(self._emit("kv_cache_append", ops, render, name,
                                num_results=2))

    def cache_attention(self, query, k_cache, v_cache, cache_seqlens,
                        block_table=None, scale=None, causal=False,
                        name=None):
        """Attention of query [B, Sq, Hq, D] over a KV cache (contiguous, or
        paged through block_table) holding cache_seqlens[b] keys."""
        main = [self._check_value(t) for t in (query, k_cache, v_cache,
                                               cache_seqlens)]
        ops = main + ([self._check_value(block_table)]
                      if block_table is not None else [])
        attrs = _attr_dict([
            ("causal", causal),
            ("scale", _f32(scale) if scale is not None else None)])

        def render(r):
            t = (f" block_table({r(block_table)} : {block_table.type})"
                 if block_table is not None else "")
            return (f"iolite.cache_attention "
                    f"{', '.join(r(v) for v in main)}{t}{attrs} : "
                    f"{', '.join(str(v.type) for v in main)}")
        return self._emit("cache_attention", ops, render, name)[0]

    def varlen_attention(self, query, key, value, cu_seqlens_q, cu_seqlens_k,
                         scale=None, causal=False, name=None):
        """Attention over packed sequences: query [Tq, Hq, D], key/value
        [Tk, Hkv, D|Dv], cu_seqlens_q/k (i32 [B+1])."""
        main = [self._check_value(t) for t in (query, key, value,
                                               cu_seqlens_q, cu_seqlens_k)]
        attrs = _attr_dict([
            ("causal", causal),
            ("scale", _f32(scale) if scale is not None else None)])

        def render(r):
            return (f"iolite.varlen_attention "
                    f"{', '.join(r(v) for v in main)}{attrs} : "
                    f"{', '.join(str(v.type) for v in main)}")
        return self._emit("varlen_attention", main, render, name)[0]

    def ssd(self, x, dt, A, B, C, D=None, dt_bias=None, chunk_size=64,
            dt_softplus=False, name=None):
        """Mamba-2 SSD: x [B, L, H, P], dt [B, L, H], A, D, dt_bias [H],
        B and C [B, L, G, N]."""
        return self._ssd("ssd", (x, dt, A, B, C), D, dt_bias, chunk_size,
                         dt_softplus, name, 1)[0]

    def ssd_with_state(self, x, dt, A, B, C, state, D=None, dt_bias=None,
                       chunk_size=64, dt_softplus=False, name=None):
        """ssd from `state` (f32 [B, H, P, N]); returns (y, final_state).
        L = 1 is the decode step."""
        return tuple(self._ssd("ssd_with_state", (x, dt, A, B, C, state), D,
                               dt_bias, chunk_size, dt_softplus, name, 2))

    def _ssd(self, op, operands, D, dt_bias, chunk_size, dt_softplus, name,
             num_results):
        """The two SSD ops: their operands, then the optional D and
        dt_bias, and the chunk_size and dt_softplus attributes."""
        main = [self._check_value(t) for t in operands]
        optional = [("D", D), ("dt_bias", dt_bias)]
        ops = main + [self._check_value(t) for _, t in optional
                      if t is not None]
        attrs = _attr_dict([("chunk_size", _i64(chunk_size)),
                            ("dt_softplus", dt_softplus)])

        def render(r):
            opt = "".join(f" {n}({r(t)} : {t.type})" for n, t in optional
                          if t is not None)
            return (f"iolite.{op} {', '.join(r(t) for t in main)}{opt}{attrs}"
                    f" : {', '.join(str(t.type) for t in main)}")
        return self._emit(op, ops, render, name, num_results=num_results)

    # Mixture of experts -----------------------------------------------------
    def router(self, logits, k, scoring="softmax", renormalize=False,
               name=None):
        """(weights [T, k], i32 expert ids [T, k]) from logits [T, E]."""
        if scoring not in ("softmax", "sigmoid"):
            raise ValueError("scoring must be 'softmax' or 'sigmoid'")
        x = self._check_value(logits)
        sc = "" if scoring == "softmax" else " scoring = sigmoid"
        attrs = _attr_dict([("k", _i64(k)), ("renormalize", renormalize)])
        return tuple(self._emit(
            "router", [x],
            lambda r: f"iolite.router {r(x)}{sc}{attrs} : {x.type}", name,
            num_results=2))

    def dispatch(self, x, expert_ids, num_experts, name=None):
        """(sorted rows [T*k, D], i32 row_index [T*k], i32 offsets [E+1])."""
        x, ids = self._check_value(x), self._check_value(expert_ids)
        attrs = _attr_dict([("num_experts", _i64(num_experts))])
        return tuple(self._emit(
            "dispatch", [x, ids],
            lambda r: (f"iolite.dispatch {r(x)}, {r(ids)}{attrs} : "
                       f"{x.type}, {ids.type}"), name, num_results=3))

    def grouped_matmul(self, x, weight, offsets, transpose_rhs=False,
                       name=None):
        """Rows offsets[e]..offsets[e+1]-1 of x times weight[e]."""
        x, w, o = (self._check_value(t) for t in (x, weight, offsets))
        attrs = _attr_dict([("transpose_rhs", transpose_rhs)])
        return self._emit(
            "grouped_matmul", [x, w, o],
            lambda r: (f"iolite.grouped_matmul {r(x)}, {r(w)}, {r(o)}{attrs}"
                       f" : {x.type}, {w.type}, {o.type}"), name)[0]

    def combine(self, x, row_index, weights, name=None):
        """Weighted scatter of expert outputs back to token order."""
        x, i, w = (self._check_value(t) for t in (x, row_index, weights))
        return self._emit(
            "combine", [x, i, w],
            lambda r: (f"iolite.combine {r(x)}, {r(i)}, {r(w)} : "
                       f"{x.type}, {i.type}, {w.type}"), name)[0]
