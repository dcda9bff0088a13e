"""The example models through the graph pipeline: what fusion makes of them.

For each example (model.mlir, written with iolite's fused ops, and
model_decomposed.mlir, the same model the way PyTorch's exporter writes it)
iolite-compile --emit=fused must give the kernels the fusion policy promises,
and the fused, planned graph run on the CPU reference path must match the
PyTorch output the example carries (examples/gen_examples.py) as closely as
the unfused model does:

- Llama block: at most 6 kernels; attention and both RoPEs in one kernel.
- Mamba block: delta's softplus, the selective scan, the D skip and the z
  gate in one kernel, as the scan op's own operands.
- MoE layer: the router matmul, softmax and top-k in one kernel; no kernel
  holds a per-token copy of the expert weights.
"""

import re
import subprocess

import pytest

import iolite_testing as it

EXAMPLES = ["llama_block", "mamba_block", "moe_layer"]
VARIANTS = ["model", "model_decomposed"]


def compile_fused(path, *extra):
    proc = subprocess.run([str(it.tool("iolite-compile")), str(path),
                           "--emit=fused", *extra],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def kernels(fused):
    """{name: [op names in the body]} of every iolite.kernel, in order."""
    out = {}
    lines = fused.splitlines()
    i = 0
    while i < len(lines):
        m = re.search(r'iolite\.kernel "(\w+)"', lines[i])
        if not m:
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        ops = []
        i += 1
        while not (lines[i].strip() == "}" and
                   len(lines[i]) - len(lines[i].lstrip()) == indent):
            ops += re.findall(r"= (iolite\.\w+)|^\s*(iolite\.yield)", lines[i])
            i += 1
        out[m.group(1)] = [a or b for a, b in ops
                           if (a or b) not in ("iolite.yield", "iolite.constant")]
    return out


def run_against_expected(root, model):
    rtol, atol = it.MODEL_TOLERANCES["f32"]
    inputs = sorted((root / "inputs").glob("*.npy"))
    proc = subprocess.run(
        [str(it.tool("iolite-run")), str(model), "--backend=cpu"]
        + [f"--input={p}" for p in inputs]
        + [f"--expect={root / 'expected' / 'out0.npy'}", f"--rtol={rtol}",
           f"--atol={atol}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def summary(fused):
    m = re.match(r"// @\w+: (\d+) kernels, workspace peak (\d+) B", fused)
    assert m, fused[:200]
    return int(m.group(1)), int(m.group(2))


def the_kernel_with(ks, op):
    found = [name for name, ops in ks.items() if op in ops]
    assert len(found) == 1, f"{op} in kernels {found}"
    return ks[found[0]]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_fused_example(tmp_path, example, variant):
    root = it.REPO / "examples" / example
    model = root / f"{variant}.mlir"
    fused = compile_fused(model)
    count, workspace = summary(fused)
    ks = kernels(fused)
    assert len(ks) == count
    all_ops = [op for ops in ks.values() for op in ops]

    if example == "llama_block":
        assert count <= 6
        attention = the_kernel_with(ks, "iolite.attention")
        assert attention.count("iolite.rotary") == 2
        assert "iolite.softmax" not in all_ops
        assert all_ops.count("iolite.rms_norm") == 2
    elif example == "mamba_block":
        scan = the_kernel_with(ks, "iolite.selective_scan")
        # softplus(delta + bias), the scan, y + u * D, y * silu(z): the
        # decomposed form is raised into the scan's own operands too
        # (iolite-raise-scan), so the kernel computes none of them apart.
        assert re.search(r"iolite\.selective_scan .* D\(.* z\(.*"
                         r"\{delta_softplus\}", fused), fused
        for op in ("iolite.softplus", "iolite.silu"):
            assert op not in scan, f"{op} left beside the scan: {scan}"
    else:
        router = the_kernel_with(ks, "iolite.matmul")
        if variant == "model_decomposed":
            for op in ("iolite.softmax", "iolite.top_k"):
                assert op in router
        else:
            assert "iolite.router" in router
        # Expert weights ([8, 24, 16] and [8, 16, 24]) appear only whole:
        # no tensor of a per-token copy of them.
        for t in re.findall(r"tensor<((?:\d+x)*)(24x16|16x24)xf32>", fused):
            assert t[0] == "8x", f"per-token weight copy: {t}"

    out = tmp_path / "fused.mlir"
    out.write_text(fused)
    run_against_expected(root, out)
    if variant == "model_decomposed":
        run_against_expected(root, model)


@pytest.mark.parametrize("example", EXAMPLES)
def test_no_fusion_baseline(tmp_path, example):
    root = it.REPO / "examples" / example
    fused = compile_fused(root / "model_decomposed.mlir", "--no-fusion")
    count, _ = summary(fused)
    assert count == len(kernels(fused))
    assert all(len(ops) == 1 for ops in kernels(fused).values())
    out = tmp_path / "unfused.mlir"
    out.write_text(fused)
    run_against_expected(root, out)
