"""Exceptions of the iolite package."""


class IoliteError(Exception):
    """Base class of every error the package raises.

    `diagnostics` holds the compiler's diagnostics as dicts (severity,
    message, location, file, line, column, op, reason, notes), when the error
    comes from the compiler.
    """

    def __init__(self, message, diagnostics=None):
        super().__init__(message)
        self.diagnostics = list(diagnostics or [])


class VerificationError(IoliteError):
    """IR that the parser or the verifier rejects.

    `op` names the failing operation (``"iolite.attention"``), `reason` is
    the verifier's message without the op prefix, `location` where it was
    built (``"model.py:12"`` for ops built from Python).
    """

    def __init__(self, message, op=None, reason=None, location=None,
                 diagnostics=None):
        super().__init__(message, diagnostics)
        self.op = op
        self.reason = reason
        self.location = location


class CompileError(IoliteError):
    """The compile driver failed (diagnostics attached)."""


class ModelImportError(IoliteError):
    """A model (ONNX file, PyTorch module) that cannot be imported."""


class BackendError(IoliteError):
    """A runtime failure: no such device, loading or running a bundle."""


class BackendUnavailable(BackendError):
    """The requested backend cannot run here (no driver, no device, or the
    CPU runner is not built)."""
