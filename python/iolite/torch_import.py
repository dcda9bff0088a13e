"""iolite.from_torch: PyTorch modules to iolite graphs through torch.fx.

The module is traced by torch.fx with *concrete values*: every traced call
also runs eagerly on the example inputs, so shapes are plain ints (``b, t, c
= x.shape``, ``x.view(b, t, h, -1)`` and loops over dims just work, as with
torch.onnx.export), every node knows the tensor PyTorch computed for it, and
data-dependent control flow is reported instead of being baked in. Leaf
modules of torch.nn (Linear, Conv1d, LayerNorm, Embedding, activations) stay
calls, and the functions of iolite.torch_ops stay calls of the iolite op they
stand for.

The graph is then written with the Graph builder, node by node:
computations that do not depend on the inputs (rotary tables, causal masks,
-exp(A_log)) are folded by PyTorch into constants; everything else maps to
iolite ops. Each op is located at the node's name and the line of the
module's source that made it, and its shape and element type are checked
against what PyTorch computed, so a wrong conversion fails at its node.
Attention, RMSNorm, GELU/SiLU and RoPE written out in PyTorch arrive
decomposed and are raised by the compile driver's raising passes, as for
ONNX models. docs/python.md explains why this route rather than ONNX.
"""

import builtins
import inspect
import operator
import os
import re
import traceback

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import fx

from . import dtypes as _dt
from . import torch_ops
from .errors import ModelImportError
from .graph import Graph, Value

# Attributes of a traced tensor that are known without its data.
_STATIC_ATTRS = ("shape", "dtype", "device", "ndim", "is_cuda", "layout",
                 "requires_grad", "is_floating_point")
# Methods whose result is a plain value known from the shape.
_SHAPE_METHODS = ("size", "dim", "numel", "ndimension", "nelement",
                  "is_contiguous", "element_size", "get_device")


# ---------------------------------------------------------------------------
# Tracing with concrete values
# ---------------------------------------------------------------------------

def _real(x):
    return fx.node.map_aggregate(
        x, lambda a: a.real if isinstance(a, _ConcreteProxy) else a)


def _dependent(x):
    found = []
    fx.node.map_aggregate(
        x, lambda a: found.append(a) if isinstance(a, _ConcreteProxy)
        and a.dependent else None)
    return bool(found)


class _ConcreteProxy(fx.Proxy):
    """A proxy that also holds the value PyTorch computed (`real`) and
    whether it depends on the model's inputs (`dependent`)."""

    def __getattr__(self, k):
        if k in _STATIC_ATTRS:
            return getattr(self.real, k)
        return super().__getattr__(k)

    def __len__(self):
        return len(self.real)

    def __iter__(self):
        return iter([self[i] for i in range(len(self.real))])

    def __bool__(self):
        if self.dependent:
            file, line = _user_frame(
                (f.filename, f.lineno)
                for f in reversed(traceback.extract_stack()))
            raise ModelImportError(
                f"{file}:{line}: {self.node.name}: control flow depends on "
                "the values of the inputs; iolite graphs are traced for "
                "fixed shapes, not data")
        return bool(self.real)


class _Tracer(fx.Tracer):
    def __init__(self, example_inputs):
        super().__init__()
        self.record_stack_traces = True
        self._examples = list(example_inputs)

    def proxy(self, node):
        return _ConcreteProxy(node, self)

    # While a leaf module computes its real value, module attribute access
    # and calls (patched by the tracer) behave as without tracing.
    _eager = False

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self._eager:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def call_module(self, m, forward, args, kwargs):
        if self._eager:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def _run_module(self, target, args, kwargs):
        self._eager = True
        try:
            return self.root.get_submodule(target)(*args, **kwargs)
        finally:
            self._eager = False

    def _attr(self, target):
        # Module attribute access is patched while tracing: look parameters
        # and buffers up by name instead.
        if not hasattr(self, "_named"):
            self._named = dict(self.root.named_parameters())
            self._named.update(self.root.named_buffers())
        if target not in self._named:
            raise ModelImportError(f"cannot read attribute '{target}'")
        return self._named[target]

    def create_proxy(self, kind, target, args, kwargs, name=None,
                     type_expr=None, proxy_factory_fn=None):
        rargs, rkwargs = _real(args), _real(kwargs)
        if kind == "call_method" and target in _SHAPE_METHODS:
            return getattr(rargs[0], target)(*rargs[1:], **rkwargs)
        dependent = kind == "placeholder" or _dependent((args, kwargs))
        if kind == "placeholder":
            if not self._examples:
                raise ModelImportError(
                    f"no example input for the module's argument '{target}'")
            real = self._examples.pop(0)
        elif kind == "get_attr":
            real = self._attr(target)
        elif kind == "call_function":
            real = target(*rargs, **rkwargs)
        elif kind == "call_method":
            real = getattr(rargs[0], target)(*rargs[1:], **rkwargs)
        elif kind == "call_module":
            real = self._run_module(target, rargs, rkwargs)
        else:  # output
            real = rargs[0] if rargs else None
        proxy = super().create_proxy(kind, target, args, kwargs, name,
                                     type_expr, None)
        proxy.real, proxy.dependent = real, dependent
        proxy.node.meta["iolite_real"] = real
        proxy.node.meta["iolite_dependent"] = dependent
        return proxy


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

class _T:
    """A tensor argument of a node: what PyTorch computed and the node."""

    __slots__ = ("node", "real")

    def __init__(self, node, real):
        self.node, self.real = node, real

    @property
    def shape(self):
        return tuple(self.real.shape)

    @property
    def dtype(self):
        return self.real.dtype


def _is_tensor_tree(x):
    if isinstance(x, torch.Tensor):
        return True
    return isinstance(x, (tuple, list)) and bool(x) and all(
        _is_tensor_tree(e) for e in x)


_INTERNAL_DIRS = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                       for m in (torch, fx.proxy))


def _user_frame(frames):
    """The first (file, line) of `frames` (innermost first) that is neither
    PyTorch's nor this package's."""
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    for file, line in frames:
        path = os.path.abspath(file)
        if not path.startswith(_INTERNAL_DIRS + (here,)):
            return file, int(line)
    return "<torch>", 0


def _location(node):
    """(file, line) of the user code that made `node` (fx records the stack
    innermost first)."""
    return _user_frame(re.findall(r'File "([^"]+)", line (\d+)',
                                  node.stack_trace or ""))


class _Importer:
    def __init__(self, gm, graph):
        self.gm = gm
        self.g = graph
        self.values = {}  # node -> Value or tuple of Values
        self.constants = {}  # node -> Value (folded tensors)
        self.node = None

    # Values -----------------------------------------------------------------
    def real(self, node):
        if "iolite_real" not in node.meta:  # tensor constants fx adds itself
            obj = self.gm
            for part in node.target.split("."):
                obj = getattr(obj, part)
            node.meta["iolite_real"] = obj
            node.meta["iolite_dependent"] = False
        return node.meta["iolite_real"]

    def arg(self, node):
        real = self.real(node)
        return _T(node, real) if isinstance(real, torch.Tensor) else \
            (self.values.get(node, real) if node.meta["iolite_dependent"]
             else real)

    def v(self, t):
        """The iolite value of tensor argument `t` (a constant when it does
        not depend on the inputs)."""
        if isinstance(t, Value):
            return t
        if not isinstance(t, _T):
            raise self.error(f"expected a tensor, got {t!r}")
        node = t.node
        if node in self.values:
            return self.values[node]
        if node not in self.constants:
            real = t.real.detach()
            if real.dtype == torch.float64:
                real = real.float()
            saved = self.g._location
            self.g._location = (node.name,) + _location(node)
            try:
                self.constants[node] = self.g.constant(real, name=node.name)
            finally:
                self.g._location = saved
        return self.constants[node]

    def dtype_of(self, real):
        try:
            return _dt.canonical(real.dtype)
        except ValueError:
            raise self.error(f"element type {real.dtype} has no iolite "
                             "equivalent") from None

    def operand(self, x, dtype):
        """Tensor or scalar `x` as a Value of element type `dtype`."""
        if isinstance(x, (bool, int, float)):
            return self.g.constant(np.asarray(x), dtype=dtype)
        value = self.v(x)
        return value if value.dtype == dtype else self.g.cast(value, dtype)

    def out_dtype(self):
        real = self.node.meta["iolite_real"]
        if isinstance(real, (tuple, list)):
            real = real[0]
        return self.dtype_of(real)

    def out_shape(self):
        return tuple(self.node.meta["iolite_real"].shape)

    def error(self, message):
        file, line = _location(self.node) if self.node else ("", 0)
        where = f"{file}:{line}: " if file else ""
        name = self.node.name if self.node else ""
        target = _target_name(self.node) if self.node else ""
        return ModelImportError(f"{where}{name} ({target}): {message}")

    # The walk ---------------------------------------------------------------
    def run(self):
        for node in self.gm.graph.nodes:
            self.node = node
            self.g._location = (node.name,) + _location(node)
            if node.op == "placeholder":
                real = node.meta["iolite_real"]
                if not isinstance(real, torch.Tensor):
                    raise self.error("inputs must be tensors")
                self.values[node] = self.g.input(
                    tuple(real.shape), self.dtype_of(real), name=node.name)
            elif node.op == "output":
                self.output(node)
            elif node.op == "get_attr" or not node.meta["iolite_dependent"]:
                continue  # folded by PyTorch; a constant where it is used
            else:
                self.convert(node)
        self.g._location = None
        self.node = None
        return self.g

    def output(self, node):
        outputs = []

        def collect(a):
            if isinstance(a, fx.Node):
                value = self.arg(a)
                if isinstance(value, _T):
                    value = self.v(value)
                if isinstance(value, (tuple, list)):
                    outputs.extend(value)
                elif isinstance(value, Value):
                    outputs.append(value)
                else:
                    raise self.error(f"output {a.name} is not a tensor")
        fx.node.map_arg(node.args, collect)
        if not outputs:
            raise self.error("the module returns no tensor")
        self.g.output(*outputs)

    def convert(self, node):
        real = node.meta["iolite_real"]
        if not _is_tensor_tree(real):
            # A Python value computed from a traced tensor: only its static
            # attributes (shape, dtype, ...) are known without its data.
            if node.op == "call_function" and \
                    node.target is builtins.getattr and \
                    node.args[1] in _STATIC_ATTRS:
                node.meta["iolite_dependent"] = False
                return
            raise self.error(
                f"produces a Python value ({type(real).__name__}) from the "
                "data of a traced tensor")
        converter = _find_converter(node, self.gm)
        if converter is None:
            raise self.error("unsupported by iolite.from_torch")
        args = fx.node.map_arg(node.args, self.arg)
        kwargs = fx.node.map_arg(node.kwargs, self.arg)
        try:
            inspect.signature(converter).bind(self, *args, **kwargs)
        except TypeError as e:
            raise self.error(f"unsupported arguments: {e}") from None
        result = converter(self, *args, **kwargs)
        self.check(node, result, real)
        self.values[node] = result

    def check(self, node, result, real):
        results = result if isinstance(result, (tuple, list)) else (result,)
        reals = real if isinstance(real, (tuple, list)) else (real,)
        if len(results) != len(reals):
            raise self.error(f"converted to {len(results)} values, PyTorch "
                             f"computed {len(reals)}")
        for value, r in zip(results, reals):
            want = (tuple(r.shape), self.dtype_of(r))
            if (value.shape, value.dtype) != want:
                raise self.error(
                    f"converted to {value.type}, PyTorch computed "
                    f"{want[1]}{list(want[0])} (a conversion bug)")


def _target_name(node):
    t = node.target
    if node.op == "call_function":
        return getattr(t, "__name__", str(t))
    return str(t)


# ---------------------------------------------------------------------------
# Converters: cx is the _Importer, tensor arguments are _T, the rest are the
# Python values the module passed.
# ---------------------------------------------------------------------------

def _axis(dim, rank):
    dim = int(dim)
    return dim + rank if dim < 0 else dim


def _same_view(cx, x, *args, **kwargs):
    """x reshaped to the node's shape (view, flatten, squeeze, ...)."""
    value = cx.v(x)
    shape = cx.out_shape()
    return value if value.shape == shape else cx.g.reshape(value, shape)


def _identity(cx, x, *args, **kwargs):
    return cx.v(x)


def _cast_to_out(cx, x, *args, **kwargs):
    value = cx.v(x)
    dtype = cx.out_dtype()
    return value if value.dtype == dtype else cx.g.cast(value, dtype)


def _binary(kind):
    def convert(cx, a, b, *, alpha=None, out=None, rounding_mode=None):
        if rounding_mode is not None or out is not None:
            raise cx.error("rounding_mode= and out= are not supported")
        dtype = cx.out_dtype()
        if alpha is not None and alpha != 1:
            b = cx.g.mul(cx.operand(b, dtype), cx.operand(alpha, dtype))
        return getattr(cx.g, kind)(cx.operand(a, dtype),
                                   cx.operand(b, dtype))
    return convert


def _compare(predicate):
    def convert(cx, a, b):
        ra = a.real if isinstance(a, _T) else a
        rb = b.real if isinstance(b, _T) else b
        dtype = cx.dtype_of(torch.empty(0, dtype=torch.result_type(ra, rb)))
        return cx.g.compare(predicate, cx.operand(a, dtype),
                            cx.operand(b, dtype))
    return convert


def _unary(kind):
    def convert(cx, x, *args, **kwargs):
        return getattr(cx.g, kind)(cx.operand(x, cx.out_dtype()))
    return convert


def _gelu(cx, x, approximate="none"):
    return cx.g.gelu(cx.v(x), approximate=approximate)


def _softplus(cx, x, beta=1, threshold=20):
    if beta != 1:
        raise cx.error("softplus with beta != 1 is not supported")
    return cx.g.softplus(cx.v(x))


def _pow(cx, a, b):
    dtype = cx.out_dtype()
    return cx.g.pow(cx.operand(a, dtype), cx.operand(b, dtype))


def _rsub(cx, a, b, alpha=1):
    return _binary("sub")(cx, b, a, alpha=alpha)


def _clamp(cx, x, min=None, max=None):
    dtype = cx.out_dtype()
    value = cx.operand(x, dtype)
    if min is not None:
        value = cx.g.max(value, cx.operand(min, dtype))
    if max is not None:
        value = cx.g.min(value, cx.operand(max, dtype))
    return value


def _where(cx, condition, a=None, b=None):
    if a is None or b is None:
        raise cx.error("torch.where(condition) has a shape that depends on "
                       "the data; route tokens with iolite.torch_ops "
                       "(router, dispatch, grouped_matmul, combine)")
    dtype = cx.out_dtype()
    return cx.g.select(cx.v(condition), cx.operand(a, dtype),
                       cx.operand(b, dtype))


def _masked_fill(cx, x, mask, value):
    dtype = cx.out_dtype()
    if isinstance(value, _T):
        value = float(value.real)
    return cx.g.select(cx.v(mask), cx.operand(value, dtype), cx.v(x))


def _matmul(cx, a, b):
    x, y = cx.v(a), cx.v(b)
    if x.rank == 1 and y.rank == 1:
        raise cx.error("dot products of two vectors are not supported")
    squeeze = x.rank == 1 or y.rank == 1
    if x.rank == 1:
        x = cx.g.reshape(x, (1,) + x.shape)
    if y.rank == 1:
        y = cx.g.reshape(y, y.shape + (1,))
    result = cx.g.matmul(x, y)
    return cx.g.reshape(result, cx.out_shape()) if squeeze else result


def _linear(cx, x, weight, bias=None):
    y = cx.g.matmul(cx.v(x), cx.v(weight), transpose_rhs=True)
    return y if bias is None else cx.g.add(y, cx.v(bias))


def _softmax(cx, x, dim=None, _stacklevel=3, dtype=None, half_to_float=None):
    if dim is None:
        raise cx.error("softmax needs dim=")
    value = cx.operand(x, cx.out_dtype())
    return cx.g.softmax(value, axis=int(dim))


def _reduction(kind):
    def convert(cx, x, dim=None, keepdim=False, *, dtype=None):
        value = cx.operand(x, cx.out_dtype())
        if dim is None:
            axes = list(range(value.rank))
        else:
            axes = [int(d) for d in (dim if isinstance(dim, (tuple, list))
                                     else (dim,))]
        return cx.g.reduce(kind, value, axes, keep_dims=bool(keepdim))
    return convert


def _cumsum(cx, x, dim, *, dtype=None):
    return cx.g.cumsum(cx.operand(x, cx.out_dtype()), axis=int(dim))


def _topk(cx, x, k, dim=-1, largest=True, sorted=True):
    return cx.g.top_k(cx.v(x), int(k), axis=int(dim), largest=bool(largest))


def _cat(cx, tensors, dim=0):
    dtype = cx.out_dtype()
    values = [cx.operand(t, dtype) for t in tensors if t.real.numel() or
              len(tensors) == 1]
    if len(values) == 1:
        return values[0]
    return cx.g.concat(values, axis=int(dim))


def _stack(cx, tensors, dim=0):
    dtype = cx.out_dtype()
    rank = tensors[0].real.dim() + 1
    axis = _axis(dim, rank)
    parts = []
    for t in tensors:
        value = cx.operand(t, dtype)
        shape = value.shape[:axis] + (1,) + value.shape[axis:]
        parts.append(cx.g.reshape(value, shape))
    return parts[0] if len(parts) == 1 else cx.g.concat(parts, axis=axis)


def _transpose(cx, x, dim0, dim1):
    value = cx.v(x)
    perm = list(range(value.rank))
    a, b = _axis(dim0, value.rank), _axis(dim1, value.rank)
    perm[a], perm[b] = perm[b], perm[a]
    return value if a == b else cx.g.transpose(value, perm)


def _t(cx, x):
    value = cx.v(x)
    return value if value.rank < 2 else cx.g.transpose(value, [1, 0])


def _permute(cx, x, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    value = cx.v(x)
    return cx.g.transpose(value, [_axis(d, value.rank) for d in dims])


def _expand(cx, x, *args, **kwargs):
    value = cx.v(x)
    shape = cx.out_shape()
    if value.shape == shape:
        return value
    return cx.g.broadcast(value, shape)


def _split(cx, x, split_size_or_sections=None, dim=0, *, split_size=None,
           sections=None, chunks=None):
    """split/chunk/unbind-like: slices at the offsets PyTorch produced."""
    value = cx.v(x)
    axis = _axis(dim, value.rank)
    pieces, offset = [], 0
    for r in cx.node.meta["iolite_real"]:
        size = r.shape[axis]
        starts = [0] * value.rank
        limits = list(value.shape)
        starts[axis], limits[axis] = offset, offset + size
        pieces.append(cx.g.slice(value, starts, limits))
        offset += size
    return tuple(pieces)


def _chunk(cx, x, chunks, dim=0):
    return _split(cx, x, dim=dim)


def _getitem(cx, x, index):
    if isinstance(x, (tuple, list)):  # results of split, top_k, router, ...
        return x[index]
    if not isinstance(x, _T):
        raise cx.error(f"cannot index {type(x).__name__}")
    value = cx.v(x)
    if not isinstance(index, tuple):
        index = (index,)
    # Expand the ellipsis to full slices.
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    expanded = []
    for i in index:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (value.rank - used))
        else:
            expanded.append(i)
    starts, limits, steps = [0] * value.rank, list(value.shape), \
        [1] * value.rank
    gather = None
    dim = 0
    for i in expanded:
        if i is None:
            continue
        if dim >= value.rank:
            raise cx.error("too many indices")
        size = value.shape[dim]
        if isinstance(i, slice):
            start, stop, step = i.indices(size)
            if step <= 0:
                raise cx.error("negative slice steps are not supported")
            starts[dim], limits[dim], steps[dim] = start, max(stop, start), \
                step
        elif isinstance(i, int):
            i = i + size if i < 0 else i
            starts[dim], limits[dim] = i, i + 1
        elif isinstance(i, _T) and i.real.dtype in (torch.int32, torch.int64):
            if gather is not None or any(isinstance(j, int) for j in expanded):
                raise cx.error("only one tensor index, without integer "
                               "indices, is supported")
            gather = (dim, i)
        else:
            raise cx.error(f"unsupported index {i!r}")
        dim += 1
    sliced = value
    if starts != [0] * value.rank or limits != list(value.shape) or \
            steps != [1] * value.rank:
        sliced = cx.g.slice(value, starts, limits,
                            steps if steps != [1] * value.rank else None)
    if gather is not None:
        axis, indices = gather
        sliced = cx.g.gather(sliced, cx.v(indices), axis=axis)
    shape = cx.out_shape()
    return sliced if sliced.shape == shape else cx.g.reshape(sliced, shape)


def _constant_like(cx, *args, **kwargs):
    """zeros_like, ones_like, full_like, new_zeros, ...: the value PyTorch
    computed does not depend on the input's data."""
    real = cx.node.meta["iolite_real"]
    return cx.g.constant(real.detach(), dtype=cx.dtype_of(real),
                         name=cx.node.name)


def _layer_norm(cx, x, normalized_shape, weight=None, bias=None, eps=1e-5):
    return cx.g.layer_norm(cx.v(x), None if weight is None else cx.v(weight),
                           None if bias is None else cx.v(bias),
                           axis=-len(normalized_shape), epsilon=eps)


def _embedding(cx, indices, weight, *args, **kwargs):
    return cx.g.gather(cx.v(weight), cx.v(indices), axis=0)


def _pad(cx, x, pad, mode="constant", value=None):
    if mode != "constant":
        raise cx.error(f"pad mode '{mode}' is not supported")
    result = cx.v(x)
    fill = 0.0 if value is None else value
    for i in range(len(pad) // 2):
        axis = result.rank - 1 - i
        for before, amount in ((True, pad[2 * i]), (False, pad[2 * i + 1])):
            if amount < 0:
                raise cx.error("negative padding is not supported")
            if amount == 0:
                continue
            shape = list(result.shape)
            shape[axis] = amount
            slab = cx.g.constant(np.full(shape, fill), dtype=result.dtype)
            parts = [slab, result] if before else [result, slab]
            result = cx.g.concat(parts, axis=axis)
    return result


def _causal_conv1d(cx, x, weight, bias, stride, padding, dilation, groups):
    """Depthwise Conv1d with K-1 padding: iolite.conv1d on the input padded
    with K-1 zeros at the end gives PyTorch's L+K-1 outputs; Mamba's
    ``conv(x)[..., :L]`` then slices them back."""
    value = cx.v(x)
    c, one, k = tuple(weight.shape)
    if (stride not in (1, (1,)) or dilation not in (1, (1,)) or one != 1
            or groups != c or value.rank != 3 or value.shape[1] != c):
        raise cx.error("only depthwise, stride-1, undilated Conv1d (Mamba's "
                       "causal conv) is supported")
    pad = padding[0] if isinstance(padding, (tuple, list)) else padding
    if pad != k - 1:
        raise cx.error(f"Conv1d padding must be kernel_size - 1 = {k - 1} "
                       "(a causal convolution)")
    w = cx.g.reshape(cx.v(weight), (c, k))
    if k > 1:
        zeros = cx.g.constant(np.zeros((value.shape[0], c, k - 1)),
                              dtype=value.dtype)
        value = cx.g.concat([value, zeros], axis=2)
    return cx.g.conv1d(value, w, None if bias is None else cx.v(bias))


def _conv1d_function(cx, x, weight, bias=None, stride=1, padding=0,
                     dilation=1, groups=1):
    return _causal_conv1d(cx, x, weight, bias, stride, padding, dilation,
                          groups)


def _dropout(cx, x, p=0.5, training=True, inplace=False):
    if training and p > 0:
        raise cx.error("dropout with training=True: call module.eval() first")
    return cx.v(x)


def _tensor_attribute(cx, x, name):
    if name == "T":
        value = cx.v(x)
        return cx.g.transpose(value, list(reversed(range(value.rank))))
    if name == "mT":
        return _transpose(cx, x, -2, -1)
    raise cx.error(f"unsupported tensor attribute '{name}'")


# Modules ---------------------------------------------------------------------

def _module_converter(module):
    def param(cx, name):
        tensor = getattr(module, name)
        if tensor is None:
            return None
        # Parameters of leaf modules are not graph nodes: make constants.
        node = cx.node
        key = (node.target, name)
        if key not in cx.constants:
            cx.constants[key] = cx.g.constant(tensor.detach().float()
                                              if tensor.dtype == torch.float64
                                              else tensor.detach(),
                                              name=f"{node.target}.{name}")
        return cx.constants[key]

    if isinstance(module, nn.Linear):
        def linear(cx, x):
            y = cx.g.matmul(cx.v(x), param(cx, "weight"), transpose_rhs=True)
            b = param(cx, "bias")
            return y if b is None else cx.g.add(y, b)
        return linear
    if isinstance(module, nn.Conv1d):
        def conv(cx, x):
            if module.padding_mode != "zeros":
                raise cx.error("Conv1d padding_mode must be 'zeros'")
            return _causal_conv1d(cx, x, param(cx, "weight"),
                                  param(cx, "bias"), module.stride,
                                  module.padding, module.dilation,
                                  module.groups)
        return conv
    if isinstance(module, nn.LayerNorm):
        def layer_norm(cx, x):
            return cx.g.layer_norm(cx.v(x), param(cx, "weight"),
                                   param(cx, "bias"),
                                   axis=-len(module.normalized_shape),
                                   epsilon=module.eps)
        return layer_norm
    if isinstance(module, nn.Embedding):
        return lambda cx, idx: cx.g.gather(param(cx, "weight"), cx.v(idx),
                                           axis=0)
    if isinstance(module, (nn.Dropout, nn.Identity)):
        def identity(cx, x, *args):
            if module.training and isinstance(module, nn.Dropout) and \
                    module.p > 0:
                raise cx.error("Dropout in training mode: call "
                               "module.eval() first")
            return cx.v(x)
        return identity
    simple = {nn.SiLU: "silu", nn.ReLU: "relu", nn.Sigmoid: "sigmoid",
              nn.Tanh: "tanh"}
    for cls, kind in simple.items():
        if isinstance(module, cls):
            return _unary(kind)
    if isinstance(module, nn.GELU):
        return lambda cx, x: cx.g.gelu(cx.v(x), module.approximate)
    if isinstance(module, nn.Softplus):
        return lambda cx, x: _softplus(cx, x, module.beta, module.threshold)
    if isinstance(module, nn.Softmax):
        return lambda cx, x: cx.g.softmax(cx.v(x), axis=module.dim)
    return None


# iolite.torch_ops ------------------------------------------------------------

def _torch_op(name):
    def convert(cx, *args, **kwargs):
        sig = inspect.signature(getattr(torch_ops, name).__wrapped__)
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        a = {k: (cx.v(v) if isinstance(v, _T) else v)
             for k, v in bound.arguments.items()}
        return getattr(cx.g, name)(**a)
    return convert


# The tables -------------------------------------------------------------------

_FUNCTIONS = {
    operator.add: _binary("add"), torch.add: _binary("add"),
    operator.sub: _binary("sub"), torch.sub: _binary("sub"),
    operator.mul: _binary("mul"), torch.mul: _binary("mul"),
    operator.truediv: _binary("div"), torch.div: _binary("div"),
    torch.true_divide: _binary("div"),
    torch.maximum: _binary("max"), torch.minimum: _binary("min"),
    operator.pow: _pow, torch.pow: _pow, torch.rsub: _rsub,
    operator.neg: _unary("neg"), torch.neg: _unary("neg"),
    operator.eq: _compare("eq"), operator.ne: _compare("ne"),
    operator.lt: _compare("lt"), operator.le: _compare("le"),
    operator.gt: _compare("gt"), operator.ge: _compare("ge"),
    torch.eq: _compare("eq"), torch.ne: _compare("ne"),
    torch.lt: _compare("lt"), torch.le: _compare("le"),
    torch.gt: _compare("gt"), torch.ge: _compare("ge"),
    operator.matmul: _matmul, torch.matmul: _matmul, torch.bmm: _matmul,
    torch.mm: _matmul,
    torch.abs: _unary("abs"), torch.cos: _unary("cos"),
    torch.erf: _unary("erf"), torch.exp: _unary("exp"),
    torch.log: _unary("log"), torch.reciprocal: _unary("reciprocal"),
    torch.relu: _unary("relu"), F.relu: _unary("relu"),
    torch.rsqrt: _unary("rsqrt"), torch.sigmoid: _unary("sigmoid"),
    F.sigmoid: _unary("sigmoid"), F.silu: _unary("silu"),
    torch.sin: _unary("sin"), torch.sqrt: _unary("sqrt"),
    torch.tanh: _unary("tanh"), F.tanh: _unary("tanh"),
    F.gelu: _gelu, F.softplus: _softplus,
    torch.clamp: _clamp, torch.where: _where,
    torch.masked_fill: _masked_fill,
    torch.softmax: _softmax, F.softmax: _softmax,
    torch.sum: _reduction("sum"), torch.mean: _reduction("mean"),
    torch.amax: _reduction("max"), torch.amin: _reduction("min"),
    torch.prod: _reduction("prod"), torch.cumsum: _cumsum,
    torch.topk: _topk, torch.cat: _cat, torch.concat: _cat,
    torch.stack: _stack, torch.transpose: _transpose, torch.t: _t,
    torch.permute: _permute, torch.reshape: _same_view,
    torch.flatten: _same_view, torch.squeeze: _same_view,
    torch.unsqueeze: _same_view, torch.split: _split, torch.chunk: _chunk,
    torch.zeros_like: _constant_like, torch.ones_like: _constant_like,
    torch.full_like: _constant_like,
    F.linear: _linear, F.layer_norm: _layer_norm, F.embedding: _embedding,
    F.pad: _pad, F.conv1d: _conv1d_function,
    F.dropout: _dropout,
    operator.getitem: _getitem,
    builtins.getattr: _tensor_attribute,
}

_METHODS = {
    "add": _binary("add"), "sub": _binary("sub"), "mul": _binary("mul"),
    "div": _binary("div"), "true_divide": _binary("div"),
    "maximum": _binary("max"), "minimum": _binary("min"),
    "pow": _pow, "neg": _unary("neg"), "matmul": _matmul, "bmm": _matmul,
    "eq": _compare("eq"), "ne": _compare("ne"), "lt": _compare("lt"),
    "le": _compare("le"), "gt": _compare("gt"), "ge": _compare("ge"),
    "abs": _unary("abs"), "cos": _unary("cos"), "erf": _unary("erf"),
    "exp": _unary("exp"), "log": _unary("log"),
    "reciprocal": _unary("reciprocal"), "relu": _unary("relu"),
    "rsqrt": _unary("rsqrt"), "sigmoid": _unary("sigmoid"),
    "sin": _unary("sin"), "sqrt": _unary("sqrt"), "tanh": _unary("tanh"),
    "clamp": _clamp, "masked_fill": _masked_fill, "softmax": _softmax,
    "sum": _reduction("sum"), "mean": _reduction("mean"),
    "amax": _reduction("max"), "amin": _reduction("min"),
    "prod": _reduction("prod"), "cumsum": _cumsum, "topk": _topk,
    "view": _same_view, "reshape": _same_view, "flatten": _same_view,
    "squeeze": _same_view, "unsqueeze": _same_view, "view_as": _same_view,
    "reshape_as": _same_view,
    "transpose": _transpose, "permute": _permute, "t": _t,
    "expand": _expand, "expand_as": _expand,
    "contiguous": _identity, "clone": _identity, "detach": _identity,
    "float": _cast_to_out, "half": _cast_to_out, "bfloat16": _cast_to_out,
    "int": _cast_to_out, "long": _cast_to_out, "bool": _cast_to_out,
    "to": _cast_to_out, "type": _cast_to_out, "type_as": _cast_to_out,
    "split": _split, "chunk": _chunk,
    "new_zeros": _constant_like, "new_ones": _constant_like,
    "new_full": _constant_like, "new_tensor": _constant_like,
}

for _name in torch_ops.__all__:
    _FUNCTIONS[getattr(torch_ops, _name)] = _torch_op(_name)


def _find_converter(node, gm):
    if node.op == "call_function":
        return _FUNCTIONS.get(node.target)
    if node.op == "call_method":
        if node.target.endswith("_") and not node.target.startswith("__"):
            return None  # in-place methods (add_, index_add_, ...)
        return _METHODS.get(node.target)
    if node.op == "call_module":
        return _module_converter(gm.get_submodule(node.target))
    return None


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

def from_torch(module, example_inputs, name=None):
    """Imports `module` (a torch.nn.Module) as an iolite Graph.

    `example_inputs` (a tensor or a tuple of tensors) fix the input shapes
    and element types; the module runs on them once, eagerly, on the CPU.
    Raises ModelImportError naming the node, the PyTorch call and the source
    line for anything that cannot be imported.
    """
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    if not all(isinstance(t, torch.Tensor) for t in example_inputs):
        raise TypeError("example_inputs must be tensors")
    # The trace runs the module; keep the caller's tensors untouched.
    examples = [t.detach().clone() for t in example_inputs]
    signature = inspect.signature(module.forward)
    params = [p for p in signature.parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    concrete = {p.name: p.default for p in params[len(examples):]
                if p.default is not p.empty}
    if len(params) < len(examples):
        raise TypeError(f"{type(module).__name__}.forward takes "
                        f"{len(params)} inputs, got {len(examples)}")
    tracer = _Tracer(examples)
    with torch.no_grad():
        try:
            graph = tracer.trace(module, concrete_args=concrete or None)
        except ModelImportError:
            raise
        except fx.proxy.TraceError as e:
            raise ModelImportError(f"cannot trace {type(module).__name__}: "
                                   f"{e}") from None
        gm = fx.GraphModule(tracer.root, graph)
        name = name or type(module).__name__
        return _Importer(gm, Graph(name)).run()
