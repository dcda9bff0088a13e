#!/usr/bin/env python3
"""Greedy generation end to end: compiles a model's step function into a
bundle, builds its C program against it, runs a batch of prompts of
different lengths through it (a prefill, then one decode step per token)
and checks the tokens against PyTorch's greedy decoding of each prompt on
its own. --model=llama (llama.py, generate.c): a paged KV cache updated in
place; --model=mamba (mamba.py, generate_mamba.c): the recurrent states
carried from step to step.

    python3 examples/generate/run.py [--model=llama|mamba]
        [--target=emu-sm_90a] [--device=...] [--new-tokens=8]
        [--build-dir=build] [--out=DIR]

Prints the tokens of both and the largest logit difference; exits 1 when a
token differs, a logit is off by more than the tolerance, or anything the
check needs is missing (the C program's output included).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import llama  # noqa: E402
import mamba  # noqa: E402

# Per model: its module (weights, reference, step_mlir), C program and
# bundle name.
MODELS = {"llama": (llama, "generate.c", "llama_step"),
          "mamba": (mamba, "generate_mamba.c", "mamba_step")}

PROMPTS = [[5, 17, 3, 99, 42], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [77, 8]]
# f32 everywhere; the kernels sum in other orders than PyTorch.
LOGIT_TOLERANCE = 1e-4


def compile_bundle(build, target, out, model="llama"):
    module, _, name = MODELS[model]
    source = out / f"{name}.mlir"
    source.write_text(module.step_mlir(module.weights(seed=0)))
    bundle = out / "bundle"
    subprocess.run([str(build / "bin" / "iolite-compile"), str(source),
                    f"--target={target}", "-o", str(bundle)],
                   check=True, stdout=subprocess.DEVNULL)
    return bundle


def c_compiler():
    """$IOLITE_CC, else the first C compiler found (a fresh Debian with
    tools/setup.sh has clang-22 and may have no `cc`)."""
    for name in (os.environ.get("IOLITE_CC"), "cc", "clang-22", "clang",
                 "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise FileNotFoundError("no C compiler found (set IOLITE_CC)")


def build_program(build, bundle, out, runtime=None, rpath=None,
                  model="llama"):
    """Builds the model's C program against the bundle and a
    libiolite_runtime.so (`runtime`: the file, default the build's), found
    at run time through `rpath` (default: the library's folder)."""
    _, program, name = MODELS[model]
    exe = out / Path(program).stem
    cc = c_compiler()
    runtime = Path(runtime or build / "lib" / "libiolite_runtime.so")
    subprocess.run([cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
                    str(HERE / program), str(bundle / f"{name}.c"),
                    f"-I{bundle}", f"-I{ROOT / 'include' / 'iolite' / 'Runtime'}",
                    str(runtime), f"-Wl,-rpath,{rpath or runtime.parent}",
                    "-o", str(exe)],
                   check=True)
    return exe


def parse_tokens(stdout, batch):
    """The tokens generate prints, one list per sequence; raises when a
    sequence's line is missing."""
    got = []
    for b in range(batch):
        m = re.search(rf"^sequence {b}:((?: \d+)+)$", stdout, re.M)
        if not m:
            raise RuntimeError(f"no tokens for sequence {b} in:\n{stdout}")
        got.append([int(t) for t in m.group(1).split()])
    return got


def run(target="emu-sm_90a", device=None, new_tokens=8, build=None,
        out=None, model="llama"):
    """Returns (tokens from C, tokens from PyTorch, largest logit
    difference); raises when the program fails or prints no tokens."""
    build = Path(build or os.environ.get("IOLITE_BUILD_DIR", ROOT / "build"))
    device = device or target
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        bundle = compile_bundle(build, target, out, model)
        exe = build_program(build, bundle, out, model=model)
        logits_path = out / "logits.bin"
        proc = subprocess.run(
            [str(exe), device, str(bundle), str(new_tokens), str(logits_path)]
            + [",".join(map(str, p)) for p in PROMPTS],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"generate failed ({proc.returncode}):\n"
                               f"{proc.stdout}{proc.stderr}")
        got = parse_tokens(proc.stdout, len(PROMPTS))
        module = MODELS[model][0]
        want, ref_logits = module.reference_generate(
            module.weights(seed=0), PROMPTS, new_tokens)
        logits = np.fromfile(logits_path, np.float32)
        if logits.size != ref_logits.size:
            raise RuntimeError(f"{logits_path} holds {logits.size} logits, "
                               f"expected {ref_logits.size}")
        diff = float(np.abs(logits.reshape(ref_logits.shape)
                            - ref_logits).max())
        return got, want, diff


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="llama")
    parser.add_argument("--target", default="emu-sm_90a")
    parser.add_argument("--device", help="default: the target (emu)")
    parser.add_argument("--new-tokens", type=int, default=8)
    parser.add_argument("--build-dir")
    parser.add_argument("--out", help="keep the bundle and program here")
    args = parser.parse_args()
    got, want, diff = run(args.target, args.device, args.new_tokens,
                          args.build_dir, args.out, args.model)
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
