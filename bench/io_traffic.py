"""Global-memory traffic of compiled graphs, counted by the emulator.

For every case a graph (models.py) is compiled by iolite-compile for an
emulated chip (emu-sm_90a, emu-gfx942: the very kernels those chips get) and
its bundle is run through its own launch code on the emulator
(iolite_bundle.py); the emulator counts every byte each GPU thread loads or
stores in global memory. Next to it:

- the IO lower bound: every input read once, every output written once
  (byte sizes from the manifest of the reported configuration);
- the same graph compiled with --no-fusion;
- for attention, the graph without raising and without fusion (standard
  attention: the score and probability matrices go through memory), and
  FlashAttention-2's traffic with FlashAttention-2's own tile for the chip
  (bench/anchors.py: the independent anchor the report compares against);
  `fa2` keeps the same formula at Iolite's tile (test/python/
  attention_traffic.py), which is 1.0 by construction and not reported.

Scaling. Emulating a full layer is slow on a CPU, so each case is emulated at
the smallest batch/head (attention, SSD) or channel-block (selective scan)
configuration that runs the same schedule, and the counts are multiplied by
the ratio of blocks. This is exact because every block of these kernels
moves the same bytes: the reported configuration is compiled too and its
kernels must have the same templates and tiles and a grid larger by exactly
that factor, or the row says so.
"""

import hashlib
import json
import math
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import anchors
import models
from common import (REPO, WORK, Cache, ToolError, build_dir, log,
                    provenance, run, sha256_tool, sha256_tree, tool)
from iolite_bundle import Bundle, Device

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" /
                       "python"))
try:
    import attention_traffic  # noqa: E402
except ImportError:  # the attention kernels' model is not on this tree yet
    attention_traffic = None

# Ops that the elemental template computes one output element at a time
# with loops over all their inputs: a kernel that falls back to it for
# these is not the IO-aware kernel and can take hours to emulate.
HEAVY_OPS = {"iolite.attention", "iolite.matmul", "iolite.selective_scan",
             "iolite.ssd", "iolite.grouped_matmul", "iolite.dispatch",
             "iolite.router", "iolite.combine", "iolite.long_conv",
             "iolite.top_k", "iolite.softmax"}


@dataclass
class IoCase:
    family: str        # attention | selective_scan | ssd | moe
    form: str          # "graph": decomposed ops; "op": the fused op itself
    params: dict       # the reported configuration
    chips: list
    variants: list     # fused, no_fusion, unraised
    # Emulated configuration: derived from the reported one and the
    # manifest of its compile (the tile), see reduce_*.
    reduce: object = None
    # Emulate even kernels that fell back to the elemental template (only
    # for models small enough that it takes seconds: the examples).
    allow_fallback: bool = False
    note: str = ""
    results: dict = field(default_factory=dict)

    @property
    def slug(self):
        p = "_".join(f"{k}{v}" for k, v in self.params.items())
        return f"{self.family}-{self.form}-{p}".replace(".", "p")


def build_model(case, params):
    p = dict(params)
    if case.family == "attention":
        fn = models.attention_op if case.form == "op" else models.attention
        return fn(p["b"], p["hq"], p["hkv"], p["n"], p["d"], p["causal"],
                  p.get("dtype", "f16"))
    if case.family == "selective_scan":
        fn = models.selective_scan_op if case.form == "op" else \
            models.selective_scan
        return fn(p["b"], p["channels"], p["l"], p["state"],
                  p.get("dtype", "bf16"))
    if case.family == "ssd":
        fn = models.ssd_op if case.form == "op" else models.ssd
        return fn(p["b"], p["l"], p["heads"], p["p"], p["groups"], p["state"],
                  p.get("chunk", 256), p.get("dtype", "bf16"))
    if case.family == "example":
        path = REPO / "examples" / p["model"] / "model.mlir"
        return p["model"], path.read_text()
    if case.family == "moe":
        return models.moe(p["tokens"], p["hidden"], p["ffn"], p["experts"],
                          p["k"], p.get("dtype", "f16"))
    raise ValueError(case.family)


# -- reductions: the emulated configuration of a reported one -------------

def reduce_attention(params, manifest):
    """One batch, one kv head and its query heads: grid.y = B * Hkv is the
    only grid dimension that changes (no split-KV at these lengths)."""
    g = params["hq"] // params["hkv"]
    return dict(params, b=1, hq=g, hkv=1)


def _tile_int(manifest, pattern):
    for k in manifest["kernels"]:
        m = re.search(pattern, k.get("tile", ""))
        if m:
            return int(m.group(1))
    return None


def reduce_scan(params, manifest):
    """Two channel blocks (BD from the tile): every block reads its
    channels and the whole B and C, so the count grows by blocks."""
    bd = _tile_int(manifest, r"(\d+) channels")
    if not bd or params["channels"] % bd or params["channels"] <= 2 * bd:
        return None
    return dict(params, b=1, channels=2 * bd)


def reduce_ssd(params, manifest):
    """Two blocks of HB heads of one group."""
    hb = _tile_int(manifest, r"(\d+) head\(s\) per block")
    heads_per_group = params["heads"] // params["groups"]
    if not hb or heads_per_group % hb or params["heads"] <= 2 * hb:
        return None
    return dict(params, b=1, heads=2 * hb, groups=1)


# -- compiling and emulating ----------------------------------------------

def compile_bundle(text, name, out_dir, chip, variant, targets=None):
    """Writes the model and compiles it; returns the manifest."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    src = out_dir / f"{name}.mlir"
    src.write_text(text)
    target = targets or f"emu-{chip}"
    flags = []
    if variant == "no_fusion":
        flags.append("--no-fusion")
    elif variant == "unraised":
        # Kernels formed one op each on the graph as written: raising never
        # sees it (iolite-compile keeps kernels already in its input).
        pre = out_dir / f"{name}.kernels.mlir"
        run([tool("iolite-opt"), src.name,
             "--pass-pipeline=builtin.module(canonicalize,cse,func.func("
             f"iolite-form-kernels{{no-fusion=1 target={chip}}},"
             "iolite-plan-memory))", "-o", pre.name], cwd=out_dir)
        pre.rename(src)
    bundle = out_dir / "bundle"
    # Relative paths: source locations (which the emulator's site tables
    # embed) do not depend on the folder, so identical kernels give
    # identical objects and share one cache entry.
    run([tool("iolite-compile"), src.name, f"--target={target}", "-o",
         "bundle"] + flags, cwd=out_dir)
    return json.loads((bundle / "manifest.json").read_text())


def fallback_kernels(manifest):
    """Kernels that compute a heavy op through the elemental fallback."""
    bad = []
    for k in manifest["kernels"]:
        ops = {s["op"] for s in k["source_ops"]}
        if k["template"] == "elemental" and ops & HEAVY_OPS:
            bad.append(f"{k['name']} ({', '.join(sorted(ops & HEAVY_OPS))})")
    return bad


def cache_key(bundle_dir, chip, seed, inputs):
    """Every input of a measurement: `inputs` (the model text, the variant's
    options, the compiler binaries: measure_case), every file of the bundle
    (the emulator objects, the launch code, the manifest), the runtime
    library that emulates and counts, the chip and the seed."""
    runtime = build_dir() / "lib" / "libiolite_runtime.so"
    return json.dumps({"v": 2, "bundle": sha256_tree(bundle_dir),
                       "runtime": sha256_tool(runtime), "chip": chip,
                       "seed": seed, **inputs}, sort_keys=True)


def emulate(bundle_dir, chip, cache, seed=0, inputs=None):
    """Runs the bundle once on an emu device; (per-launch statistics,
    whether they came from the cache, the provenance of the run that
    counted them)."""
    bundle_dir = Path(bundle_dir)
    key = cache_key(bundle_dir, chip, seed, inputs or {})
    hit = cache.get(key)
    if isinstance(hit, dict) and "stats" in hit:
        return hit["stats"], True, hit.get("measured")
    dev = Device(f"emu-{chip}")
    try:
        b = Bundle(bundle_dir, dev)
        try:
            ins, outs, ws = b.allocate_and_fill(seed=seed)
            dev.reset_stats()
            b.run(ins, outs, ws)
            dev.synchronize()
            stats = dev.stats()
        finally:
            b.close()
    finally:
        dev.close()
    measured = provenance()
    cache.put(key, {"stats": stats, "measured": measured})
    return stats, False, measured


def io_bytes(manifest):
    return (sum(t["bytes"] for t in manifest["inputs"]) +
            sum(t["bytes"] for t in manifest["outputs"]))


def kernel_blocks(manifest, chip):
    """Blocks each kernel launches on `chip`."""
    out = {}
    for k in manifest["kernels"]:
        g = k["targets"][f"emu-{chip}"]["grid"]
        out[k["name"]] = g[0] * g[1] * g[2]
    return out


def schedule_signature(manifest, chip):
    return [(k["template"], k["tile"]) for k in manifest["kernels"]]


def measure_case(case, cache, allow_fallback=False):
    """Fills case.results[(variant, chip)]."""
    name = case.family
    for chip in case.chips:
        for variant in case.variants:
            key = f"{variant}/{chip}"
            base = WORK / "io" / case.slug / f"{variant}-{chip}"
            res = {"variant": variant, "chip": chip,
                   "measured": provenance()}
            case.results[key] = res
            try:
                mname, text = build_model(case, case.params)
                full = compile_bundle(text, mname, base / "full", chip,
                                      variant)
            except ToolError as e:
                res["error"] = str(e).splitlines()[-1][:300]
                log(f"  {case.slug} {key}: compile failed: {res['error']}")
                continue
            res["lower_bound"] = io_bytes(full)
            res["kernels"] = [{"name": k["name"], "template": k["template"],
                               "tile": k["tile"],
                               "ops": sorted({o["op"] for o in
                                              k["source_ops"]})}
                              for k in full["kernels"]]
            bad = fallback_kernels(full)
            if bad and (allow_fallback or case.allow_fallback):
                res["fallback_emulated"] = bad
            elif bad:
                res["fallback"] = bad
                log(f"  {case.slug} {key}: fallback kernels {bad}: "
                    "not emulated")
                continue
            emu_params = case.reduce(case.params, full) if case.reduce \
                else None
            # Per kernel: how many of its blocks the reported configuration
            # launches for each emulated one.
            factor = {k["name"]: 1.0 for k in full["kernels"]}
            target_dir = base / "full"
            if emu_params and emu_params != case.params:
                mname, text = build_model(case, emu_params)
                small = compile_bundle(text, mname, base / "emu", chip,
                                       variant)
                sig_full = schedule_signature(full, chip)
                sig_small = schedule_signature(small, chip)
                res["emulated"] = emu_params
                if sig_full != sig_small:
                    res["schedule_check"] = (
                        f"different kernels: {sig_full} vs {sig_small}")
                    log(f"  {case.slug} {key}: {res['schedule_check']}")
                    continue
                res["schedule_check"] = "same kernels and tiles"
                bf, bs = kernel_blocks(full, chip), kernel_blocks(small, chip)
                factor = {name: bf[name] / bs[name] for name in bf}
                target_dir = base / "emu"
            inputs = {"model": hashlib.sha256(
                          text.encode()).hexdigest(),
                      "variant": variant,
                      "params": emu_params or case.params,
                      "iolite-compile": sha256_tool(tool("iolite-compile")),
                      "iolite-opt": sha256_tool(tool("iolite-opt"))
                      if variant == "unraised" else None}
            try:
                stats, hit, measured = emulate(target_dir / "bundle", chip,
                                               cache, inputs=inputs)
            except Exception as e:  # a failed launch is a result to report
                res["error"] = f"emulation failed: {e}"[:600]
                log(f"  {case.slug} {key}: {res['error']}")
                continue
            res["cached"] = hit
            res["measured"] = measured
            res["launches"] = [
                {"kernel": s["kernel"], "grid": s["grid"],
                 "block": s["block"], "shared_bytes": s["shared_bytes"],
                 "scale": factor[s["kernel"]],
                 "read": s["global_bytes_read"] * factor[s["kernel"]],
                 "written": s["global_bytes_written"] * factor[s["kernel"]],
                 "flops": s["flops"] * factor[s["kernel"]],
                 "matrix_flops": s["matrix_flops"] * factor[s["kernel"]],
                 "shared_wavefronts":
                     s["shared_wavefronts"] * factor[s["kernel"]],
                 "shared_bank_conflicts":
                     s["shared_bank_conflicts"] * factor[s["kernel"]],
                 "seconds": s["seconds"]}
                for s in stats]
            res["read"] = sum(x["read"] for x in res["launches"])
            res["written"] = sum(x["written"] for x in res["launches"])
            res["counted"] = res["read"] + res["written"]
            # flops: all of them; matrix_flops: those of matrix
            # instructions (the emulator counts the two apart).
            res["scalar_flops"] = sum(x["flops"] for x in res["launches"])
            res["matrix_flops"] = sum(x["matrix_flops"]
                                      for x in res["launches"])
            res["flops"] = res["scalar_flops"] + res["matrix_flops"]
            res["matrix_kinds"] = {
                k["name"]: (k["targets"][f"emu-{chip}"].get("matrix")
                            or {}).get("kind", "fma")
                for k in full["kernels"]}
            res["emu_seconds"] = sum(s["seconds"] for s in stats)
            emu_counted = sum(s["global_bytes_read"] + s["global_bytes_written"]
                              for s in stats)
            res["scale"] = res["counted"] / emu_counted if emu_counted else 1
            if case.family == "attention":
                add_attention_models(case, res, full)
            log(f"  {case.slug} {key}: {res['counted'] / 1e6:.2f} MB counted"
                f", {res['counted'] / res['lower_bound']:.3f}x LB"
                + (" (cached)" if hit else
                   f", {res['emu_seconds']:.1f} s emulated"))


def add_attention_models(case, res, manifest):
    """FlashAttention-2's traffic with its own tile (the anchor), the FA2
    formula at Iolite's tile, and Iolite's own analytic model of its
    kernel."""
    tile = None
    for k in manifest["kernels"]:
        m = re.match(r"attention tile (\d+)x(\d+) .* (\d+) kv split",
                     k.get("tile", ""))
        if m:
            tile = tuple(int(x) for x in m.groups())
    if not tile:
        return
    res["tile"] = f"{tile[0]}x{tile[1]}"
    res["splits"] = tile[2]
    p = case.params
    elem = models.ELEM_BYTES[p.get("dtype", "f16")]
    try:
        res["fa2_anchor"] = anchors.fa2_bytes(res["chip"], anchors.Attention(
            p["b"], p["hq"], p["hkv"], p["n"], p["n"], p["d"], p["d"], elem,
            p["causal"]))
    except ValueError as e:
        res["fa2_anchor"] = {"error": str(e)}
    if attention_traffic is None:
        res["fa2_note"] = "test/python/attention_traffic.py not present"
        return
    shape = attention_traffic.AttentionShape(
        batch=p["b"], q_heads=p["hq"], kv_heads=p["hkv"], q_len=p["n"],
        kv_len=p["n"], head_dim=p["d"], value_dim=p["d"], elem_bytes=elem,
        causal=p["causal"])
    res["fa2"] = attention_traffic.flash_attention2_bytes(shape, tile[0],
                                                          tile[1])
    r, w = attention_traffic.iolite_attention_bytes(
        shape, tile[0], tile[1], tile[2] if tile[2] > 1 else 0)
    res["iolite_model"] = r + w


# -- the case lists --------------------------------------------------------

def attention_cases(quick):
    ns = [512, 1024] if quick else [512, 1024, 2048, 4096]
    cases = []
    for d in (64, 128):
        for causal in (False, True):
            for n in ns:
                # Reported: one batch of 32 heads (Llama-2-7B's attention).
                variants = ["fused", "no_fusion"]
                if not quick and (d == 128 or not causal):
                    variants.append("unraised")
                if quick and n == ns[0]:
                    variants.append("unraised")
                chips = ["sm_90a"]
                if d == 128:
                    chips.append("gfx942")
                params = {"b": 1, "hq": 32, "hkv": 32, "n": n, "d": d,
                          "causal": causal}
                cases.append(IoCase("attention", "graph", params, chips,
                                    variants, reduce=reduce_attention))
                # The causal op itself: what raising makes of the mask
                # when it recognises it (not at every length, see
                # docs/benchmarks.md).
                if causal:
                    cases.append(IoCase("attention", "op", params, chips,
                                        ["fused"], reduce=reduce_attention))
    # GQA 4:1 (32 query heads over 8 kv heads), head_dim 128.
    for causal in ((True,) if quick else (False, True)):
        for n in ns:
            params = {"b": 1, "hq": 32, "hkv": 8, "n": n, "d": 128,
                      "causal": causal}
            cases.append(IoCase("attention", "graph", params, ["sm_90a"],
                                ["fused", "no_fusion"],
                                reduce=reduce_attention))
            if causal:
                cases.append(IoCase("attention", "op", params, ["sm_90a"],
                                    ["fused"], reduce=reduce_attention))
    return cases


def scan_cases(quick):
    ls = [1024, 2048] if quick else [1024, 2048, 4096, 8192]
    cases = []
    for n in (16, 64):
        for length in ls:
            p = {"b": 1, "channels": 1536, "l": length, "state": n}
            cases.append(IoCase("selective_scan", "op", p,
                                ["sm_90a"] if quick else
                                ["sm_90a", "gfx942"],
                                ["fused", "no_fusion"], reduce=reduce_scan))
            cases.append(IoCase("selective_scan", "graph", p, ["sm_90a"],
                                ["fused", "no_fusion"], reduce=reduce_scan))
    return cases


def ssd_cases(quick):
    ls = [1024, 2048] if quick else [1024, 2048, 4096, 8192]
    cases = []
    for n in (64, 128):
        for length in ls:
            p = {"b": 1, "l": length, "heads": 24, "p": 64, "groups": 1,
                 "state": n}
            cases.append(IoCase("ssd", "op", p, ["sm_90a"] if quick else
                                ["sm_90a", "gfx942"],
                                ["fused", "no_fusion"], reduce=reduce_ssd))
            cases.append(IoCase("ssd", "graph", p, ["sm_90a"],
                                ["fused", "no_fusion"], reduce=reduce_ssd))
    return cases


def moe_cases(quick):
    tokens = [256] if quick else [256, 1024, 4096]
    cases = []
    for experts in (8, 64):
        for k in (2, 8):
            for t in tokens:
                cases.append(IoCase(
                    "moe", "graph",
                    {"tokens": t, "hidden": 128, "ffn": 256,
                     "experts": experts, "k": k}, ["sm_90a"],
                    ["fused", "no_fusion"]))
    return cases


def example_cases(quick):
    """The example models (examples/*/model.mlir) as they are."""
    return [IoCase("example", "graph", {"model": name}, ["sm_90a"],
                   ["fused", "no_fusion"], allow_fallback=True)
            for name in ("llama_block", "mamba_block", "moe_layer")
            if (REPO / "examples" / name / "model.mlir").exists()]


def all_cases(quick, families=None):
    makers = {"attention": attention_cases, "selective_scan": scan_cases,
              "ssd": ssd_cases, "moe": moe_cases, "example": example_cases}
    out = []
    for fam, fn in makers.items():
        if families and fam not in families:
            continue
        out += fn(quick)
    return out


def measure(quick, use_cache=True, families=None, match=None):
    """Measures every case (of `families`, whose slug contains `match`)."""
    cache = Cache("emu", use_cache)
    cases = [c for c in all_cases(quick, families)
             if not match or match in c.slug]
    for i, case in enumerate(cases):
        log(f"[io {i + 1}/{len(cases)}] {case.slug}")
        measure_case(case, cache)
    return [{"family": c.family, "form": c.form, "params": c.params,
             "results": c.results} for c in cases]


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--family", action="append")
    ap.add_argument("--match")
    ap.add_argument("--no-cache", action="store_true")
    a = ap.parse_args()
    print(json.dumps(measure(a.quick, not a.no_cache, a.family, a.match),
                     indent=1))
