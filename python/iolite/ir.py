"""Verified iolite modules from text or ONNX files."""

from pathlib import Path

from . import _capi
from .errors import ModelImportError, VerificationError
from .graph import TensorType


def _types(entries):
    return [TensorType(t["shape"], t["dtype"]) if "shape" in t else t["type"]
            for t in entries]


class Function:
    """A function of a Module: its name, argument and result types, and its
    top-level ops (names and result types)."""

    def __init__(self, info):
        self.name = info["name"]
        self.arguments = _types(info["arguments"])
        self.results = _types(info["results"])
        self.ops = [(op["name"], _types(op["results"])) for op in info["ops"]]

    def __repr__(self):
        return (f"<iolite.Function @{self.name}: {self.arguments} -> "
                f"{self.results}, {len(self.ops)} ops>")


class Module:
    """A parsed and verified module. `text` is MLIR's printed form with
    locations; str() gives it without them."""

    def __init__(self, result, name):
        self.name = name
        self.text = result.text
        self.functions = [Function(f) for f in result.info["functions"]]

    def __str__(self):
        return _capi.parse(self.text, f"{self.name}.mlir", _capi.PRINT).text

    def __repr__(self):
        return f"<iolite.Module {self.name}: {self.functions}>"


_FLAGS = _capi.PRINT | _capi.DESCRIBE | _capi.DEBUG_INFO


def _verification_error(result, what):
    errors = result.errors() or result.diagnostics
    first = errors[0] if errors else {}
    return VerificationError(f"{what}:\n{result.message}",
                             op=first.get("op"), reason=first.get("reason"),
                             location=first.get("location"),
                             diagnostics=result.diagnostics)


def parse(text, name="input"):
    """Parses and verifies MLIR text; raises VerificationError naming the
    failing op and the reason."""
    result = _capi.parse(text, f"{name}.mlir", _FLAGS)
    if not result.ok:
        raise _verification_error(result, f"'{name}' does not verify")
    return Module(result, name)


def _dims_text(dims):
    if not dims:
        return None
    if isinstance(dims, str):
        return dims
    def spec(v):
        if isinstance(v, (tuple, list, range)):
            lo, hi = (v.start, v.stop - 1) if isinstance(v, range) else v
            return f"{int(lo)}..{int(hi)}"
        return str(int(v))
    return ",".join(f"{k}={spec(v)}" for k, v in dims.items())


def import_onnx(path, dims=None, function_name=None):
    """Imports an ONNX model (.onnx or .onnxtxt) with the C++ importer.
    `dims` gives its symbolic dims: a value ({"batch": 1} or "batch=1")
    imports the dim static; bounds ({"seq": (1, 8192)}, a range, or
    "seq=1..8192") keep it a symbol (docs/dynamic-shapes.md)."""
    path = Path(path)
    result = _capi.import_onnx(path, _dims_text(dims), function_name, _FLAGS)
    if not result.ok:
        raise ModelImportError(f"cannot import {path}:\n{result.message}",
                               diagnostics=result.diagnostics)
    return Module(result, path.stem)
