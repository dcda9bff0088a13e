#!/usr/bin/env python3
"""Greedy generation end to end: compiles the llama step function
(llama.py) into a bundle, builds generate.c against it, runs a batch of
prompts of different lengths through it (one prefill, then one decode step
per token, a paged KV cache updated in place) and checks the tokens against
PyTorch's greedy decoding of each prompt on its own.

    python3 examples/generate/run.py [--target=emu-sm_90a] [--device=...]
        [--new-tokens=8] [--build-dir=build] [--out=DIR]

Prints the tokens of both and the largest logit difference; exits 1 when a
token differs, a logit is off by more than the tolerance, or anything the
check needs is missing (the C program's output included).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import llama  # noqa: E402

PROMPTS = [[5, 17, 3, 99, 42], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [77, 8]]
# f32 everywhere; the kernels sum in other orders than PyTorch.
LOGIT_TOLERANCE = 1e-4


def compile_bundle(build, target, out):
    source = out / "llama_step.mlir"
    source.write_text(llama.step_mlir(llama.weights(seed=0)))
    bundle = out / "bundle"
    subprocess.run([str(build / "bin" / "iolite-compile"), str(source),
                    f"--target={target}", "-o", str(bundle)],
                   check=True, stdout=subprocess.DEVNULL)
    return bundle


def build_program(build, bundle, out):
    exe = out / "generate"
    cc = os.environ.get("IOLITE_CC", "cc")
    subprocess.run([cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
                    str(HERE / "generate.c"), str(bundle / "llama_step.c"),
                    f"-I{bundle}", f"-I{ROOT / 'include' / 'iolite' / 'Runtime'}",
                    f"-L{build / 'lib'}", "-liolite_runtime",
                    f"-Wl,-rpath,{build / 'lib'}", "-o", str(exe)],
                   check=True)
    return exe


def run(target="emu-sm_90a", device=None, new_tokens=8, build=None,
        out=None):
    """Returns (tokens from C, tokens from PyTorch, largest logit
    difference); raises when the program fails or prints no tokens."""
    build = Path(build or os.environ.get("IOLITE_BUILD_DIR", ROOT / "build"))
    device = device or target
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        bundle = compile_bundle(build, target, out)
        exe = build_program(build, bundle, out)
        logits_path = out / "logits.bin"
        proc = subprocess.run(
            [str(exe), device, str(bundle), str(new_tokens), str(logits_path)]
            + [",".join(map(str, p)) for p in PROMPTS],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"generate failed ({proc.returncode}):\n"
                               f"{proc.stdout}{proc.stderr}")
        got = []
        for b in range(len(PROMPTS)):
            m = re.search(rf"^sequence {b}:((?: \d+)+)$", proc.stdout, re.M)
            if not m:
                raise RuntimeError(f"no tokens for sequence {b} in:\n"
                                   f"{proc.stdout}")
            got.append([int(t) for t in m.group(1).split()])
        want, ref_logits = llama.reference_generate(
            llama.weights(seed=0), PROMPTS, new_tokens)
        logits = np.fromfile(logits_path, np.float32)
        if logits.size != ref_logits.size:
            raise RuntimeError(f"{logits_path} holds {logits.size} logits, "
                               f"expected {ref_logits.size}")
        diff = float(np.abs(logits.reshape(ref_logits.shape)
                            - ref_logits).max())
        return got, want, diff


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="emu-sm_90a")
    parser.add_argument("--device", help="default: the target (emu)")
    parser.add_argument("--new-tokens", type=int, default=8)
    parser.add_argument("--build-dir")
    parser.add_argument("--out", help="keep the bundle and program here")
    args = parser.parse_args()
    got, want, diff = run(args.target, args.device, args.new_tokens,
                          args.build_dir, args.out)
    for b, (g, w) in enumerate(zip(got, want)):
        print(f"sequence {b} (prompt {PROMPTS[b]}):")
        print(f"  iolite  {g}")
        print(f"  pytorch {w}")
    print(f"largest logit difference: {diff:.3g} "
          f"(tolerance {LOGIT_TOLERANCE:g})")
    if got != want or not diff <= LOGIT_TOLERANCE:
        print("MISMATCH")
        return 1
    print("tokens match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
