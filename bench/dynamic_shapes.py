"""One compile for every size against one compile per size
(docs/dynamic-shapes.md): each model with symbolic batch and sequence dims
is compiled once for emu-sm_90a, and once per measured size with the dims
pinned (--dim batch=B,seq=S). Both bundles run at that size on the
emulator; the table compares the global bytes their kernels move and the
compile times. Goal: the dynamic bundle moves at most 1.05x the bytes of
the static one at the same size."""

import sys
import time

import numpy as np

from common import REPO, WORK, build_dir, log, provenance
from iolite_bundle import shape_at

TARGET = "emu-sm_90a"
SEQ_BOUND = 64
# (name, model, dims the dynamic compile takes)
MODELS = [
    ("mlp (RMSNorm, SwiGLU, residual, softmax)",
     REPO / "test" / "python" / "Inputs" / "mlp_dynamic.mlir",
     {"seq": (1, SEQ_BOUND)}),
] + [(f"examples/{name}", REPO / "examples" / name / "model_dynamic.mlir",
      {"batch": (1, 4), "seq": (1, SEQ_BOUND)})
     for name in ("llama_block", "mamba_block", "moe_layer")] + [
    (name, REPO / "test" / "python" / "Inputs" / f"{stem}.mlir",
     {"batch": (1, 4), "seq": (1, SEQ_BOUND)})
    for name, stem in (("SSD layer (Mamba-2, f32)", "ssd_dynamic"),
                       ("SSD layer (Mamba-2, f16, matrix units)",
                        "ssd_f16_dynamic"),
                       ("long conv (Hyena, taps = seq)", "long_conv_dynamic"))]
SIZES = [(1, 1), (1, 7), (2, 16), (3, 17), (4, 64)]
QUICK_SIZES = [(1, 7), (4, 64)]


def _iolite():
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    return iolite


def _inputs(bundle, values, rng):
    """Random inputs at the symbols' `values` (manifest order)."""
    arrays = []
    for t in bundle.manifest["inputs"]:
        a = rng.standard_normal(shape_at(t, values)).astype(np.float32) * 0.5
        arrays.append(a.astype(np.float16) if t["dtype"] == "f16" else a)
    return arrays


def _traffic(bundle, arrays):
    bundle.run(*arrays, target=TARGET)
    stats = bundle.last_stats or []
    return (sum(s["global_bytes_read"] for s in stats),
            sum(s["global_bytes_written"] for s in stats), len(stats))


def measure(quick=False):
    iolite = _iolite()
    rows = []
    sizes = QUICK_SIZES if quick else SIZES
    for name, model, dims in MODELS:
        t0 = time.perf_counter()
        dynamic = iolite.compile(model, targets=[TARGET], dims=dims,
                                 output_dir=str(WORK / "dynamic" / "dyn"))
        dyn_seconds = time.perf_counter() - t0
        order = [d["name"] for d in dynamic.manifest["dims"]]
        static_seconds = 0.0
        for batch, seq in sizes:
            values = [{"batch": batch, "seq": seq}[n] for n in order]
            rng = np.random.default_rng(batch * 1000 + seq)
            arrays = _inputs(dynamic, values, rng)
            log(f"dynamic shapes: {name} batch {batch} seq {seq}")
            t0 = time.perf_counter()
            static = iolite.compile(
                model, targets=[TARGET],
                dims={"batch": batch, "seq": seq},
                output_dir=str(WORK / "dynamic" / f"static_{batch}_{seq}"))
            seconds = time.perf_counter() - t0
            static_seconds += seconds
            dr, dw, dl = _traffic(dynamic, arrays)
            sr, sw, sl = _traffic(static, arrays)
            static.close()
            rows.append({"model": name, "batch": batch, "seq": seq,
                         "dynamic_read": dr, "dynamic_written": dw,
                         "dynamic_launches": dl, "static_read": sr,
                         "static_written": sw, "static_launches": sl,
                         "static_compile_seconds": seconds,
                         "dynamic_workspace": dynamic.workspace_bytes,
                         "static_workspace": static.workspace_bytes,
                         "measured": provenance()})
        for r in rows:
            if r["model"] == name:
                r["dynamic_compile_seconds"] = dyn_seconds
                r["static_compile_seconds_total"] = static_seconds
        dynamic.close()
    return rows
