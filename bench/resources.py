"""Kernel resources per target and the occupancy they allow.

Registers, spills and stack come from ptxas (NVIDIA) and the HSACO's
amdhsa.kernels metadata (AMD), as iolite-compile writes them into
manifest.json. Occupancy is computed from the target descriptions
(iolite-compile --list-targets): blocks per multiprocessor limited by
threads, blocks, registers (allocated per warp in units, from one of the
register-file partitions), SGPRs on AMD, and shared memory (allocated in
units, plus the per-block reservation), the way the CUDA occupancy
calculator and LLVM's AMDGPU back end count them.
"""

import json
import math

import models
from common import WORK, ToolError, log, run, tool

TARGETS = ["sm_80", "sm_90a", "gfx90a", "gfx942"]


def target_facts():
    out, _, _, _ = run([tool("iolite-compile"), "--list-targets"])
    return {t["name"]: t for t in json.loads(out)}


def round_up(x, unit):
    return -(-x // unit) * unit if unit else x


def occupancy(facts, threads, registers, shared_bytes, scalar_registers=0):
    """(resident blocks per multiprocessor, occupancy in [0, 1], limiter)."""
    warp = facts["warp_size"]
    warps_per_block = math.ceil(threads / warp)
    max_warps = facts["max_threads_per_multiprocessor"] // warp
    parts = facts["register_file_partitions"]
    limits = {"threads": max_warps // warps_per_block}
    # LLVM's AMDGPU model (getMaxWorkGroupsPerCU): the workgroup count is
    # bounded by barriers, which single-wave workgroups do not use.
    if facts["vendor"] == "nvidia" or warps_per_block > 1:
        limits["blocks"] = facts["max_blocks_per_multiprocessor"]
    per_warp = round_up(max(registers, 1),
                        facts["register_allocation_unit"]) * warp
    per_part = facts["registers_per_multiprocessor"] // parts
    warps_per_part = min(per_part // per_warp, max_warps // parts)
    limits["registers"] = warps_per_part * parts // warps_per_block
    if facts["scalar_registers_per_partition"] and scalar_registers > 0:
        per_wave = round_up(scalar_registers,
                            facts["scalar_register_allocation_unit"])
        waves = min(facts["scalar_registers_per_partition"] // per_wave,
                    max_warps // parts)
        limits["SGPRs"] = waves * parts // warps_per_block
    if shared_bytes > 0:
        per_block = round_up(shared_bytes +
                             facts["reserved_shared_memory_per_block"],
                             facts["shared_memory_allocation_unit"])
        limits["shared memory"] = \
            facts["shared_memory_per_multiprocessor"] // per_block
    blocks = min(limits.values())
    occ = blocks * warps_per_block / max_warps
    limiter = min(limits, key=lambda k: (limits[k], k != "registers"))
    return blocks, occ, "full" if occ >= 1.0 else limiter


def representative_models():
    """One compile per kernel family at the benchmark's reported sizes."""
    yield ("attention, 32 heads, 4096, d64, causal",
           models.attention(1, 32, 32, 4096, 64, True))
    yield ("attention, 32 heads, 4096, d128, causal",
           models.attention(1, 32, 32, 4096, 128, True))
    yield ("attention GQA 32/8, 4096, d128, causal",
           models.attention(1, 32, 8, 4096, 128, True))
    yield ("selective scan op, D 1536, L 4096, N 16",
           models.selective_scan_op(1, 1536, 4096, 16))
    yield ("selective scan op, D 1536, L 4096, N 64",
           models.selective_scan_op(1, 1536, 4096, 64))
    yield ("selective scan graph, D 1536, L 4096, N 16",
           models.selective_scan(1, 1536, 4096, 16))
    yield ("SSD op, H 24, P 64, L 4096, N 64",
           models.ssd_op(1, 4096, 24, 64, 1, 64))
    yield ("SSD op, H 24, P 64, L 4096, N 128",
           models.ssd_op(1, 4096, 24, 64, 1, 128))
    yield ("MoE, 4096 tokens, d 4096, ffn 14336, 8 experts, top-2",
           models.moe(4096, 4096, 14336, 8, 2))
    yield ("MoE, 4096 tokens, d 2048, ffn 1408, 64 experts, top-8",
           models.moe(4096, 2048, 1408, 64, 8))
    yield ("matmul 4096x4096x4096 f16", models.matmul(4096, 4096, 4096))


def kernel_rows(label, manifest, facts):
    rows = []
    for k in manifest["kernels"]:
        for target in TARGETS:
            entry = k["targets"].get(target)
            if not entry:
                continue
            res = entry.get("resources", {})
            threads = entry["block"][0] * entry["block"][1] * \
                entry["block"][2]
            smem = entry["dynamic_shared_memory_bytes"] + \
                res.get("static_shared_memory_bytes", 0)
            blocks, occ, limiter = occupancy(
                facts[target], threads, res.get("registers", 0), smem,
                res.get("scalar_registers", 0))
            rows.append({
                "model": label, "kernel": k["name"],
                "template": k["template"], "target": target,
                "threads": threads, "grid": entry["grid"],
                "registers": res.get("registers"),
                "scalar_registers": res.get("scalar_registers"),
                "spills": res.get("spills"),
                "scalar_spills": res.get("scalar_spills_to_vgpr"),
                "stack": res.get("stack_bytes"),
                "shared": smem, "blocks_per_sm": blocks,
                "occupancy": occ, "limiter": limiter})
    return rows


def compile_all_targets(label, text, name, facts):
    out = WORK / "resources" / label.replace(" ", "_").replace(",", "") \
        .replace("/", "-")
    if out.exists():
        import shutil
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / f"{name}.mlir").write_text(text)
    run([tool("iolite-compile"), f"{name}.mlir",
         "--target=" + ",".join(TARGETS), "-o", "bundle"], cwd=out)
    return json.loads((out / "bundle" / "manifest.json").read_text())


def measure(extra_manifests=()):
    """Rows for every kernel of the representative models and of the
    manifests given (label, manifest) by other sections."""
    facts = target_facts()
    rows, errors = [], []
    for label, (name, text) in representative_models():
        log(f"[resources] {label}")
        try:
            manifest = compile_all_targets(label, text, name, facts)
        except ToolError as e:
            errors.append({"model": label,
                           "error": str(e).strip().splitlines()[-1][:300]})
            continue
        rows += kernel_rows(label, manifest, facts)
    for label, manifest in extra_manifests:
        rows += kernel_rows(label, manifest, facts)
    return {"targets": {t: facts[t] for t in TARGETS}, "rows": rows,
            "errors": errors}
