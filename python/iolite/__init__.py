"""Iolite from Python: build iolite graphs, import PyTorch modules, compile
them into bundles and run them (see docs/python.md)."""

from ._version import __version__
from .compiler import Bundle, compile
from .errors import (BackendError, BackendUnavailable, CompileError,
                     IoliteError, ModelImportError, VerificationError)
from .graph import Graph, TensorType, Value
from .ir import Function, Module, import_onnx, parse
from .runtime import Device


def from_torch(module, example_inputs, name=None):
    """Imports a PyTorch module as a Graph (see iolite.torch_import)."""
    from .torch_import import from_torch as _from_torch
    return _from_torch(module, example_inputs, name=name)


__all__ = ["BackendError", "BackendUnavailable", "Bundle", "CompileError",
           "Device", "Function", "Graph", "IoliteError", "ModelImportError",
           "Module", "TensorType", "Value", "VerificationError", "compile",
           "from_torch", "import_onnx", "parse"]
