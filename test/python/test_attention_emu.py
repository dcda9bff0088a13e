"""Global-memory traffic of the attention kernels, counted by the emulator.

Each case compiles one attention kernel with iolite-kernel-to-gpu for an
emulated chip, runs every launch (attention, and the combine of split-KV)
with iolite-emu on random inputs, and compares the emulator's global byte
counters with the analytic traffic of attention_traffic.py:

- exactly Iolite's model: Q and O once, K/V once per visited tile per
  (batch, kv head, q tile), split-KV partials; no score or probability
  matrix reaches global memory;
- at most 1.1x FlashAttention-2's traffic for the same tile sizes.

The emulator also bounds-checks every access, so ragged shapes prove the
kernels' guards. Numerics against the reference run on the same kernels
through iolite-run (test_attention_numerics.py).
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from attention_traffic import (AttentionShape, flash_attention2_bytes,
                               iolite_attention_bytes)

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("IOLITE_BUILD_DIR", REPO / "build"))


def tool(name):
    # The tools are part of the build: a missing one fails, never skips.
    path = BUILD / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} not built (build the project or set "
                    "IOLITE_BUILD_DIR)")
    return str(path)


def attention_module(s, dtype, options=""):
    qt = f"tensor<{s.batch}x{s.q_heads}x{s.q_len}x{s.head_dim}x{dtype}>"
    kt = f"tensor<{s.batch}x{s.kv_heads}x{s.kv_len}x{s.head_dim}x{dtype}>"
    vt = f"tensor<{s.batch}x{s.kv_heads}x{s.kv_len}x{s.value_dim}x{dtype}>"
    ot = f"tensor<{s.batch}x{s.q_heads}x{s.q_len}x{s.value_dim}x{dtype}>"
    attrs = []
    if s.causal:
        attrs.append("causal")
    if s.window:
        attrs.append(f"window = {s.window} : i64")
    attr = "{" + ", ".join(attrs) + "}" if attrs else ""
    return f"""func.func @main(%q: {qt}, %k: {kt}, %v: {vt}) -> {ot} {{
  %r = iolite.kernel "attn" (%q, %k, %v) : ({qt}, {kt}, {vt}) -> {ot} {{
  ^bb0(%a: {qt}, %b: {kt}, %c: {vt}):
    %o = iolite.attention %a, %b, %c {attr} : {qt}, {kt}, {vt}
    iolite.yield %o : {ot}
  }}
  return %r : {ot}
}}
"""


FUNC_RE = re.compile(
    r"gpu\.func @(\w+)\((.*?)\) kernel attributes \{(.*?)\} \{", re.S)


def kernels_of(gpu_text):
    """(name, [memref types], attrs) of every gpu.func, in launch order."""
    result = []
    for m in FUNC_RE.finditer(gpu_text):
        types = re.findall(r"memref<([0-9x]+)x(\w+)>", m.group(2))
        attrs = m.group(3)

        def ints(key):
            a = re.search(key + r" = array<i64: ([0-9, ]+)>", attrs)
            return [int(x) for x in a.group(1).split(",")]

        smem = int(re.search(r"iolite\.shared_memory_bytes = (\d+)",
                             attrs).group(1))
        tile = re.search(r'iolite\.tile = "([^"]*)"', attrs).group(1)
        result.append((m.group(1), types, ints(r"iolite\.grid"),
                       ints(r"iolite\.block"), smem, tile))
    return result


# iolite-emu buffer types of the same element size.
EMU_TYPE = {"f32": "f32", "f16": "f16", "bf16": "f16", "i8": "i8", "i1": "i8"}
ELEM_BYTES = {"f32": 4, "f16": 2, "bf16": 2}


def run_case(tmp_path, chip, shape, dtype, options=""):
    src = tmp_path / "attn.mlir"
    src.write_text(attention_module(shape, dtype))
    gpu = subprocess.run(
        [tool("iolite-opt"), str(src),
         f"--iolite-kernel-to-gpu=target=emu-{chip} {options}"],
        capture_output=True, text=True, check=True).stdout
    (tmp_path / "attn.gpu.mlir").write_text(gpu)
    so = tmp_path / "attn.so"
    subprocess.run([tool("iolite-emu"), str(tmp_path / "attn.gpu.mlir"),
                    f"--chip={chip}", "-o", str(so)], check=True)
    kernels = kernels_of(gpu)
    read = written = 0
    for name, types, grid, block, smem, _ in kernels:
        args = [f"--arg={EMU_TYPE[t]}[{dims}]=rand:{i + 1}"
                for i, (dims, t) in enumerate(types)]
        proc = subprocess.run(
            [tool("iolite-emu"), str(so), f"--kernel={name}",
             "--grid=" + ",".join(map(str, grid)),
             "--block=" + ",".join(map(str, block)), f"--shared={smem}",
             "--stats=json"] + args,
            capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        stats = json.loads(proc.stdout)["total"]
        read += stats["global_bytes_read"]
        written += stats["global_bytes_written"]
    return kernels, read, written


def tile_of(kernels):
    m = re.match(r"attention tile (\d+)x(\d+) .* (\d+) kv split\(s\)",
                 kernels[0][5])
    bm, bn, splits = map(int, m.groups())
    return bm, bn, (splits if len(kernels) == 2 else 0)


# (chip, dtype, shape, options)
CASES = [
    ("sm_90a", "f16", AttentionShape(1, 2, 2, 512, 512, 64, 64, 2, True), ""),
    ("sm_90a", "bf16", AttentionShape(1, 8, 2, 256, 256, 128, 128, 2, True),
     ""),
    ("sm_90a", "f32", AttentionShape(2, 2, 1, 100, 300, 64, 48, 4), ""),
    ("sm_90a", "f16",
     AttentionShape(1, 2, 1, 512, 512, 64, 64, 2, True, 128), ""),
    ("sm_90a", "f16", AttentionShape(1, 8, 2, 1, 4096, 128, 128, 2, True),
     ""),
    ("sm_90a", "f16", AttentionShape(1, 4, 4, 1, 2048, 64, 64, 2), ""),
    ("gfx942", "f16", AttentionShape(1, 4, 1, 200, 333, 64, 64, 2, True),
     ""),
    ("gfx942", "bf16", AttentionShape(1, 4, 4, 256, 256, 128, 128, 2), ""),
    ("gfx942", "f16", AttentionShape(1, 32, 8, 1, 1024, 128, 128, 2, True),
     ""),
    ("gfx942", "f16", AttentionShape(1, 2, 2, 64, 1024, 64, 64, 2),
     "attention-splits=3"),
    # A short chunk over a short cache does not split (partials would cost
    # more than the budget).
    ("sm_90a", "f16", AttentionShape(1, 2, 2, 32, 1024, 64, 64, 2), ""),
]


def case_id(case):
    chip, dtype, s, options = case
    return (f"{chip}-{dtype}-b{s.batch}h{s.q_heads}kv{s.kv_heads}"
            f"-q{s.q_len}k{s.kv_len}d{s.head_dim}"
            f"{'-causal' if s.causal else ''}"
            f"{f'-w{s.window}' if s.window else ''}"
            f"{'-' + options if options else ''}")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_attention_traffic(tmp_path, case):
    chip, dtype, shape, options = case
    kernels, read, written = run_case(tmp_path, chip, shape, dtype, options)
    bm, bn, splits = tile_of(kernels)
    want_read, want_written = iolite_attention_bytes(shape, bm, bn, splits)
    assert (read, written) == (want_read, want_written), (
        f"counted {read} read / {written} written, model {want_read} / "
        f"{want_written} ({kernels[0][5]})")
    if options:
        return  # a forced tile or split is not held to the heuristics' bound
    fa2 = flash_attention2_bytes(shape, bm, bn)
    assert read + written <= 1.1 * fa2, (
        f"{read + written} bytes is {(read + written) / fa2:.3f}x "
        f"FlashAttention-2's {fa2} for tile {bm}x{bn}")
