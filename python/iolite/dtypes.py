"""Element types: iolite's names and how they travel as numpy arrays.

The dialect has f32, f16, bf16, i1, i32 and i64 tensors. numpy has no
bfloat16: bf16 data is given either as floats (rounded to nearest even) or as
uint16 bit patterns, and comes back as float32 (exact).
"""

import numpy as np

DTYPES = ("f32", "f16", "bf16", "i1", "i32", "i64")
FLOAT_DTYPES = ("f32", "f16", "bf16")
INT_DTYPES = ("i32", "i64")

_NUMPY = {"f32": np.float32, "f16": np.float16, "i1": np.bool_,
          "i32": np.int32, "i64": np.int64, "bf16": np.uint16}
_FROM_NUMPY = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16",
               np.dtype(np.bool_): "i1", np.dtype(np.int32): "i32",
               np.dtype(np.int64): "i64"}
_ALIASES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16",
            "bool": "i1", "int32": "i32", "int64": "i64", "half": "f16",
            "float": "f32"}


def canonical(dtype):
    """The iolite name of `dtype` (an iolite name, a numpy dtype or a
    torch dtype)."""
    if isinstance(dtype, str):
        name = _ALIASES.get(dtype, dtype)
        if name in DTYPES:
            return name
        raise ValueError(f"unknown element type '{dtype}' "
                         f"(one of {', '.join(DTYPES)})")
    name = getattr(dtype, "__module__", "")
    if name == "torch":  # torch.float32, ...
        text = str(dtype).replace("torch.", "")
        return canonical(text)
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"unknown element type {dtype!r}") from None
    if np_dtype in _FROM_NUMPY:
        return _FROM_NUMPY[np_dtype]
    raise ValueError(f"numpy dtype {np_dtype} has no iolite element type "
                     f"(one of {', '.join(DTYPES)})")


def itemsize(dtype):
    return {"f32": 4, "f16": 2, "bf16": 2, "i1": 1, "i32": 4, "i64": 8}[dtype]


def float_to_bf16_bits(x):
    """float values rounded to bfloat16 (nearest even) as uint16 bits."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    nan = np.isnan(bits.view(np.float32))
    rounded = bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) &
                                         np.uint32(1))
    out = (rounded >> np.uint32(16)).astype(np.uint16)
    return np.where(nan, np.uint16(0x7FC0), out)


def bf16_bits_to_float(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32)
            << np.uint32(16)).view(np.float32)


def to_storage(array, dtype):
    """`array` as a C-contiguous numpy array holding `dtype`'s bytes
    (bf16: uint16 bits; floats are rounded, uint16 taken as bits)."""
    a = np.asarray(array)
    if dtype == "bf16":
        if a.dtype == np.uint16:
            return np.ascontiguousarray(a)
        return float_to_bf16_bits(a)
    return np.ascontiguousarray(a, dtype=_NUMPY[dtype])


def from_storage(data, dtype, shape):
    """A numpy array of `dtype` from little-endian bytes (bf16 comes back as
    float32)."""
    a = np.frombuffer(data, dtype=_NUMPY[dtype]).reshape(shape).copy()
    if dtype == "bf16":
        return bf16_bits_to_float(a)
    return a


def numpy_dtype(dtype):
    """The numpy dtype results of `dtype` come back as."""
    return np.dtype(np.float32 if dtype == "bf16" else _NUMPY[dtype])
