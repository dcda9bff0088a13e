"""Raising, kernel formation and memory planning keep the numbers.

- Every function of the raising passes' lit tests (the forms PyTorch's
  exporter and hand-written MLIR produce, and the near misses) runs on the
  CPU reference path before and after its pass, on random inputs: the
  decomposed graph, lowered op by op, is the reference for the fused op.
- Every function of the kernel-formation lit test runs unfused and with its
  kernels formed and its workspace planned.
- The decomposed Llama block of test/Pipelines runs through the whole graph
  pipeline (iolite-compile --emit=fused) and is compared with a NumPy
  float64 implementation of the block.
- GPT-2 and Llama blocks exported by torch.onnx.export (opsets 14 and 17)
  are imported, raised, fused and planned, and compared with PyTorch.

Tolerances come from iolite_testing (MODEL_TOLERANCES for chains of ops).
"""

import re
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import iolite_testing as it
import onnx_blocks

TRANSFORMS = it.REPO / "test" / "Dialect" / "Iolite" / "Transforms"


def split_functions(path):
    """(name, text) of every func.func in a --split-input-file test."""
    cases = []
    for chunk in path.read_text().split("// -----"):
        m = re.search(r"func\.func @(\w+)", chunk)
        if m:
            cases.append((m.group(1), chunk))
    return cases


def code(text):
    """`text` without its comment lines (the CHECK lines)."""
    return "\n".join(l for l in text.splitlines()
                     if not l.lstrip().startswith("//"))


def signature(text, name):
    """The (shape, dtype) of each argument of @name."""
    start = text.index(f"@{name}(")
    depth, i = 0, start + len(name) + 1
    for j in range(i, len(text)):
        depth += text[j] == "("
        depth -= text[j] == ")"
        if depth == 0:
            break
    # A symbolic dim (`?`, docs/dynamic-shapes.md) runs at 5: one value for
    # every symbol keeps dims that must agree equal, and lies within the
    # tests' bounds.
    args = []
    for t in re.findall(r"%\w+:\s*tensor<([^>]*)>", text[i:j + 1]):
        *dims, dtype = t.split("x")
        args.append((tuple(5 if d == "?" else int(d) for d in dims), dtype))
    return args


def random_inputs(args, seed):
    """Random inputs of the given types. Boolean masks keep key 0, so that no
    attention row is fully masked (the one case where the fused op is
    defined to differ: zeros instead of NaN or an average)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, dtype in args:
        if dtype == "i1":
            a = rng.random(shape) < 0.6
            if a.ndim:
                a[..., 0] = True
        elif dtype in ("i32", "i64"):
            a = rng.integers(0, 4, shape)
        else:
            a = rng.standard_normal(shape) * 0.5
        out.append(it.to_npy(it.round_to(a, dtype), dtype))
    return out


def iolite_opt(text, *passes):
    proc = subprocess.run([str(it.tool("iolite-opt")), *passes],
                          input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def result_dtypes(text, name):
    """Element types of @name's results, from its signature."""
    m = re.search(rf"@{name}\((?:.|\n)*?\)\s*->\s*(\((?:.|\n)*?\)|tensor<[^>]*>)",
                  text)
    return [t.split("x")[-1]
            for t in re.findall(r"tensor<([^>]*)>", m.group(1))]


def compare_runs(before, after, name, seed=0, tolerances=None):
    args = signature(before, name)
    inputs = random_inputs(args, seed)
    _, ref, _, _ = it.iolite_run(before, inputs, function=name)
    _, got, _, _ = it.iolite_run(after, inputs, function=name)
    assert len(ref) == len(got)
    for k, (r, g, dt) in enumerate(zip(ref, got, result_dtypes(before, name))):
        if dt not in it.MODEL_TOLERANCES:
            np.testing.assert_array_equal(g, r)
            continue
        it.assert_close(g, it.from_npy(r), dt, f"@{name} result {k}",
                        tolerances or it.MODEL_TOLERANCES)


RAISING = {
    "iolite-raise-attention": "iolite.attention",
    "iolite-raise-norms": r"iolite\.(rms|layer)_norm",
    "iolite-raise-activations": r"iolite\.(gelu|silu)",
    "iolite-raise-rotary": "iolite.rotary",
    "iolite-raise-scan": r"selective_scan [^:]*(D\(|z\(|delta_bias|softplus)",
}

RAISING_CASES = [(p, n, t) for p in RAISING
                 for n, t in split_functions(TRANSFORMS / f"{p}.mlir")]


@pytest.mark.parametrize("flag,name,text", RAISING_CASES,
                         ids=[f"{p}:{n}" for p, n, _ in RAISING_CASES])
def test_raising_keeps_values(flag, name, text):
    raised = iolite_opt(text, f"--{flag}")
    compare_runs(text, raised, name)


def test_raising_cases_raise():
    # Most cases are positive: the comparison above is not vacuous.
    for flag, op in RAISING.items():
        cases = [c for c in RAISING_CASES if c[0] == flag]
        raised = sum(bool(re.search(op, iolite_opt(t, f"--{flag}")))
                     and not re.search(op, code(t)) for _, _, t in cases)
        assert raised >= 3, f"{flag}: only {raised} of {len(cases)} raised"


FORM_CASES = [c for c in split_functions(TRANSFORMS / "iolite-form-kernels.mlir")
              if "tensor.empty" not in c[1]]


@pytest.mark.parametrize("name,text", FORM_CASES,
                         ids=[n for n, _ in FORM_CASES])
def test_kernels_keep_values(name, text):
    fused = iolite_opt(text, "--iolite-form-kernels", "--iolite-plan-memory")
    assert "iolite.kernel" in fused
    compare_runs(text, fused, name, tolerances=it.TOLERANCES)


# ---------------------------------------------------------------------------
# The decomposed Llama block against NumPy
# ---------------------------------------------------------------------------
def llama_reference(x, wn1, wq, wk, wv, wo, cos, sin, wn2, wg, wu, wd):
    """test/Pipelines/iolite-graph-pipeline.mlir's block in float64."""
    x, wn1, wq, wk, wv, wo, cos, sin, wn2, wg, wu, wd = (
        a.astype(np.float64) for a in (x, wn1, wq, wk, wv, wo, cos, sin, wn2,
                                        wg, wu, wd))

    def rms(v, w):
        return v / np.sqrt((v * v).mean(-1, keepdims=True) + 1e-6) * w

    def rope(t):
        half = t.shape[-1] // 2
        rot = np.concatenate([-t[..., half:], t[..., :half]], -1)
        return t * cos + rot * sin

    b, s, d = x.shape
    h = rms(x, wn1)
    q = rope((h @ wq).reshape(b, s, 2, 16).transpose(0, 2, 1, 3))
    k = rope((h @ wk).reshape(b, s, 1, 16).transpose(0, 2, 1, 3))
    v = (h @ wv).reshape(b, s, 1, 16).transpose(0, 2, 1, 3)
    scores = q @ k.transpose(0, 1, 3, 2) / 4.0
    scores = scores + np.triu(np.full((s, s), -np.inf), 1)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    a = (p @ v).transpose(0, 2, 1, 3).reshape(b, s, d)
    h1 = x + a @ wo
    n2 = rms(h1, wn2)
    g = n2 @ wg
    return h1 + ((g / (1 + np.exp(-g))) * (n2 @ wu)) @ wd


@pytest.mark.parametrize("fusion", ["", "--no-fusion"])
def test_llama_pipeline_matches_numpy(tmp_path, fusion):
    model = it.REPO / "test" / "Pipelines" / "iolite-graph-pipeline.mlir"
    args = [str(it.tool("iolite-compile")), str(model), "--emit=fused"]
    if fusion:
        args.append(fusion)
    fused = subprocess.run(args, capture_output=True, text=True, check=True)
    kernels = len(re.findall(r'iolite\.kernel "', fused.stdout))
    assert kernels == (24 if fusion else 5)
    text = model.read_text()
    inputs = random_inputs(signature(text, "llama_block"), seed=3)
    _, out, _, _ = it.iolite_run(fused.stdout, inputs)
    it.assert_close(out[0], llama_reference(*inputs), "f32", "llama block",
                    it.MODEL_TOLERANCES)


# ---------------------------------------------------------------------------
# Blocks exported by PyTorch
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("block", ["gpt2", "llama"])
@pytest.mark.parametrize("opset", onnx_blocks.OPSETS)
def test_torch_blocks_fused(tmp_path, block, opset):
    module = onnx_blocks.make_block(block, seed=1)
    path = tmp_path / f"{block}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_blocks.export(module, str(path), opset)
    fused = subprocess.run(
        [str(it.tool("iolite-compile")), str(path), "--dim", "batch=2,seq=16",
         "--emit=fused"], capture_output=True, text=True, check=True).stdout
    # One attention, raised from its decomposed form; five kernels.
    assert fused.count("iolite.attention") == 1
    assert "iolite.softmax" not in fused
    assert len(re.findall(r'iolite\.kernel "', fused)) == 5
    x = np.random.default_rng(7).standard_normal((2, 16, 64)).astype(
        np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    _, out, _, _ = it.iolite_run(fused, [x])
    it.assert_close(out[0], expected, "f32", f"{block} opset {opset}",
                    it.MODEL_TOLERANCES)
