"""docs/perf.md and docs/perf/*.png from the results of perf.py."""

import json
import math
import re
from pathlib import Path

import matplotlib

import anchors

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Goals of the per-family checks. Every check runs over all rows of its
# family; a row without a count (failed, fell back, other schedule) is not
# met. Attention: counted / FlashAttention-2 with FA2's own tiles
# (bench/anchors.py). The others: counted / IO lower bound.
FA2_BOUND = 1.1
SCAN_BOUND = 1.2
# Chunked SSD re-reads B and C per head block and writes the chunk states:
# goal 1.5x the lower bound.
SSD_BOUND = 1.5
# The MoE lower bound has no room for the T·k expert rows between the
# grouped GEMMs (section 1.4): goal 2x.
MOE_BOUND = 2.0
# The examples: fused within 2x the lower bound, never more traffic than
# --no-fusion, and no heavy op on the elemental fallback.
EXAMPLE_BOUND = 2.0
CHIP_PART = {"sm_90a": "H100", "gfx942": "MI300X", "sm_80": "A100",
             "gfx90a": "MI250X GCD"}


def mb(x):
    return "—" if x is None else f"{x / 1e6:,.1f}"


def ratio(a, b, digits=3):
    if a is None or not b:
        return "—"
    return f"{a / b:.{digits}f}"


def cell_status(res):
    """A short note for a result that has no count."""
    if res is None:
        return "—"
    if "fallback" in res:
        return "fallback¹"
    if "error" in res:
        return "error²"
    if res.get("schedule_check", "").startswith("different"):
        return "schedule differs³"
    return None


def counted(res):
    return None if res is None or cell_status(res) else res.get("counted")


def ratio_cell(res, lb):
    status = cell_status(res)
    return status if status else ratio(res["counted"], lb)


def table(headers, rows, align=None):
    out = ["| " + " | ".join(headers) + " |",
           "| " + " | ".join(align or ["---"] * len(headers)) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def emulated_note(res):
    e = res.get("emulated") if res else None
    if not e:
        return "as reported"
    if "hq" in e:
        return f"B1 H{e['hq']}/{e['hkv']}, ×{res['scale']:.0f}"
    if "channels" in e:
        return f"{e['channels']} channels, ×{res['scale']:.0f}"
    if "heads" in e:
        return f"{e['heads']} heads, ×{res['scale']:.0f}"
    return "reduced"


def emu_cell(res):
    """Host seconds of the emulation, or `reused` for a cache hit (the
    *measured* column then gives the original run)."""
    if not res:
        return "—"
    if res.get("cached"):
        return "reused"
    return f"{res['emu_seconds']:.1f}" if "emu_seconds" in res else "—"


# -- IO sections -------------------------------------------------------------

def cases_of(results, family, form=None):
    return [c for c in results.get("io", []) if c["family"] == family and
            (form is None or c["form"] == form)]


def attention_section(results, figdir):
    cases = cases_of(results, "attention")
    if not cases:
        return "", {}
    rows, worst = [], {}
    for c in cases:
        p = c["params"]
        for key, res in c["results"].items():
            variant, chip = key.split("/")
            if variant != "fused":
                continue
            nf = c["results"].get(f"no_fusion/{chip}")
            un = c["results"].get(f"unraised/{chip}")
            lb = res.get("lower_bound")
            anchor = fa2_anchor(c, chip)
            fa2 = anchor["total"] if anchor else None
            cnt = counted(res)
            masked = any("iolite.compare" in k.get("ops", []) or
                         "iolite.select" in k.get("ops", [])
                         for k in res.get("kernels", [])
                         if k["template"] == "attention")
            if cnt is not None and fa2:
                w = worst.setdefault((c["form"], chip, p["hkv"] < p["hq"]),
                                     {"max": 0.0, "over": []})
                w["max"] = max(w["max"], cnt / fa2)
                if cnt / fa2 > FA2_BOUND:
                    w["over"].append((p, cnt / fa2, masked))
            mask = ("causal" if p["causal"] else "full") + \
                ("†" if masked else "")
            rows.append([
                c["form"], chip, p["n"], p["d"], mask,
                f"{p['hq']}/{p['hkv']}", res.get("tile", "—"),
                mb(cnt) if cnt is not None else cell_status(res),
                anchor["tile"] if anchor else "no table", mb(fa2),
                ratio(cnt, fa2), ratio(cnt, lb), mb(lb),
                ratio_cell(nf, lb) if nf else "—",
                ratio_cell(un, lb) if un else "—",
                emulated_note(res), emu_cell(res), provenance(res)])
    text = ["### Attention", "",
            "Decomposed causal or full attention (`softmax(Q Kᵀ/√d [mask]) "
            "V`, f16, `[B, H, S, D]`; GQA as Llama's `repeat_kv`), one "
            "batch of 32 query heads. *counted*: the fused kernel's global "
            "bytes from the emulator (*tile*: Iolite's, from the manifest); "
            "*FA2*: FlashAttention-2's forward traffic with **its own** "
            "tile for the chip (*FA2 tile*: `run_mha_fwd_hdimD` of "
            f"`{anchors.FA2_SOURCE['path']}` at "
            f"`{anchors.FA2_SOURCE['commit'][:12]}` on sm_90a; ck_tile's "
            f"gfx9 table, `{anchors.CK_SOURCE['path']}` at "
            f"`{anchors.CK_SOURCE['commit'][:12]}`, on gfx942), its Q tile "
            "read once, K/V re-read per query tile and per query head "
            "(GQA included), tiles above the diagonal skipped, O and the "
            "f32 logsumexp written once (`bench/anchors.py`); "
            "*LB*: Q, K, V read once "
            "and O written once; *--no-fusion*: the same graph with "
            "`--no-fusion` (raising still forms `iolite.attention`, so it "
            "is the same kernel); *unraised*: the graph neither raised nor "
            "fused (standard attention: S and P through memory, the mask "
            "materialised). *form* graph: the decomposed graph above; *op*: "
            "`iolite.attention {causal}` as written by a frontend that "
            "knows the op (causal rows only). †: raising did not turn the "
            "mask into `causal`; the attention kernel computes the mask "
            "itself (`compare`/`select` among its source ops), reading the "
            "two position vectors for every score element and visiting "
            "every key tile.", "",
            table(["form", "chip", "N", "d", "mask", "heads q/kv", "tile",
                   "counted MB", "FA2 tile", "FA2 MB", "counted / FA2",
                   "counted / LB", "LB MB", "--no-fusion / LB",
                   "unraised / LB", "emulated as", "emu s", "measured"],
                  rows), ""]
    # Plot: counted / LB and FA2 / LB against N.
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, chip in zip(axes, ("sm_90a", "gfx942")):
        series = {}
        for c in cases:
            p = c["params"]
            res = c["results"].get(f"fused/{chip}")
            cnt = counted(res)
            if cnt is None:
                continue
            key = (c["form"], p["d"], p["causal"], p["hkv"] < p["hq"])
            anchor = fa2_anchor(c, chip)
            series.setdefault(key, []).append(
                (p["n"], cnt / res["lower_bound"],
                 anchor["total"] / res["lower_bound"] if anchor else None,
                 counted(c["results"].get(f"unraised/{chip}"))
                 and counted(c["results"][f"unraised/{chip}"]) /
                 res["lower_bound"]))
        for (form, d, causal, gqa), pts in sorted(series.items()):
            pts.sort()
            label = f"{form} d{d} {'causal' if causal else 'full'}" + \
                (" GQA 4:1" if gqa else "")
            line, = ax.plot([x[0] for x in pts], [x[1] for x in pts],
                            "o-" if form == "graph" else "v:", label=label)
            fa = [(x[0], x[2]) for x in pts if x[2]]
            if fa:
                ax.plot([x[0] for x in fa], [x[1] for x in fa], "x",
                        color=line.get_color(), markersize=9)
            un = [(x[0], x[3]) for x in pts if x[3]]
            if un:
                ax.plot([x[0] for x in un], [x[1] for x in un], "s--",
                        color=line.get_color(), alpha=0.5)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length N")
        ax.set_ylabel("global bytes / IO lower bound")
        ax.set_title(f"attention, emu-{chip} ({CHIP_PART[chip]} tiles): "
                     "o graph, v op, x FA2, □ unraised", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        if series:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figdir / "attention_io.png", dpi=110)
    plt.close(fig)
    text += ["![attention traffic](perf/attention_io.png)", ""]
    return "\n".join(text), worst


def ssm_section(results, figdir, family, title, describe, param_cols):
    cases = cases_of(results, family)
    if not cases:
        return "", None
    rows, worst_op = [], 0.0
    for c in cases:
        p = c["params"]
        for key, res in c["results"].items():
            variant, chip = key.split("/")
            if variant != "fused":
                continue
            nf = c["results"].get(f"no_fusion/{chip}")
            lb = res.get("lower_bound")
            cnt = counted(res)
            if cnt is not None and c["form"] == "op":
                worst_op = max(worst_op, cnt / lb)
            tile = ", ".join(k["tile"] for k in res.get("kernels", [])
                             if k["template"] in (family, "ssd",
                                                  "selective_scan"))
            rows.append([c["form"], chip] + [p[k] for k in param_cols] + [
                tile or "—", mb(cnt) if cnt is not None else cell_status(res),
                mb(lb), ratio(cnt, lb), ratio_cell(nf, lb) if nf else "—",
                len(res.get("kernels", [])),
                len(nf.get("kernels", [])) if nf else "—",
                emulated_note(res), emu_cell(res), provenance(res)])
    text = [f"### {title}", "", describe, "",
            table(["form", "chip"] + param_cols + ["tile", "counted MB",
                                                   "LB MB", "counted / LB",
                                                   "--no-fusion / LB",
                                                   "kernels", "kernels "
                                                   "unfused",
                                                   "emulated as", "emu s",
                                                   "measured"],
                  rows), ""]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    series = {}
    xkey = "l"
    for c in cases:
        p = c["params"]
        res = c["results"].get("fused/sm_90a")
        nf = c["results"].get("no_fusion/sm_90a")
        if counted(res) is None:
            continue
        series.setdefault((c["form"], p["state"]), []).append(
            (p[xkey], counted(res) / res["lower_bound"],
             counted(nf) / res["lower_bound"] if counted(nf) else None))
    for (form, n), pts in sorted(series.items()):
        pts.sort()
        line, = ax.plot([x[0] for x in pts], [x[1] for x in pts], "o-",
                        label=f"{form} N={n} fused")
        if form == "graph":
            ax.plot([x[0] for x in pts if x[2]],
                    [x[2] for x in pts if x[2]], "s--",
                    color=line.get_color(), alpha=0.5,
                    label=f"{form} N={n} --no-fusion")
    if family == "selective_scan":
        ax.axhline(SCAN_BOUND, color="red", lw=0.8, ls=":",
                   label="1.2x bound")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("global bytes / IO lower bound")
    ax.set_title(f"{title} on emu-sm_90a")
    ax.grid(True, which="both", alpha=0.3)
    if series:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figdir / f"{family}_io.png", dpi=110)
    plt.close(fig)
    text += [f"![{title} traffic](perf/{family}_io.png)", ""]
    return "\n".join(text), worst_op


def moe_section(results, figdir):
    cases = cases_of(results, "moe")
    if not cases:
        return ""
    rows = []
    for c in cases:
        p = c["params"]
        res = c["results"].get("fused/sm_90a")
        nf = c["results"].get("no_fusion/sm_90a")
        lb = res.get("lower_bound") if res else None
        cnt = counted(res)
        templates = ", ".join(sorted({k["template"] for k in
                                      res.get("kernels", [])})) if res else ""
        rows.append([p["tokens"], p["experts"], p["k"], templates or "—",
                     mb(cnt) if cnt is not None else cell_status(res),
                     mb(lb), ratio(cnt, lb),
                     ratio_cell(nf, lb) if nf else "—",
                     len(res.get("kernels", [])) if res else "—",
                     len(nf.get("kernels", [])) if nf else "—",
                     emu_cell(res), provenance(res)])
    text = ["### MoE layer", "",
            "A Mixtral-style layer (router matmul, softmax top-k with "
            "renormalised weights, dispatch, SwiGLU experts as grouped "
            "GEMMs, weighted combine), f16, hidden 128, ffn 256 (small "
            "hidden sizes so that the full token range can be emulated; the "
            "expert weights are a larger share of the traffic at real "
            "sizes). Emulated as reported, on emu-sm_90a. LB: x, the router "
            "and all expert weights read once, y written once — it has no "
            "room for the `T·k` expert rows between the grouped GEMMs, "
            "which any multi-kernel MoE writes and reads back, so the ratio "
            "grows with tokens × top-k at this small hidden size "
            "(docs/moe-kernels.md has the kernels' own traffic model).", "",
            table(["tokens", "experts", "top-k", "templates", "counted MB",
                   "LB MB", "counted / LB", "--no-fusion / LB", "kernels",
                   "kernels unfused", "emu s", "measured"], rows), ""]
    return "\n".join(text)


def example_section(results):
    cases = cases_of(results, "example")
    if not cases:
        return ""
    rows = []
    for c in cases:
        res = c["results"].get("fused/sm_90a")
        nf = c["results"].get("no_fusion/sm_90a")
        lb = res.get("lower_bound") if res else None
        cnt = counted(res)
        fb = [k for r in (res, nf) if r for k in
              r.get("fallback_emulated", [])]
        rows.append([f"`examples/{c['params']['model']}`" +
                     (" ‡" if fb else ""),
                     len(res.get("kernels", [])) if res else "—",
                     len(nf.get("kernels", [])) if nf else "—",
                     f"{cnt:,.0f}" if cnt is not None else cell_status(res),
                     f"{counted(nf):,.0f}" if counted(nf) is not None else
                     cell_status(nf), f"{lb:,.0f}" if lb else "—",
                     ratio(cnt, lb), ratio_cell(nf, lb) if nf else "—",
                     emu_cell(res), provenance(res)])
    return "\n".join([
        "### Example models", "",
        "The three example models as they are (tiny sizes: seq 12, hidden "
        "32), fused and with `--no-fusion`, on emu-sm_90a. ‡: some "
        "kernels fall back to the elemental template (emulated anyway at "
        "this size; their traffic is not the IO-aware kernels').", "",
        table(["model", "kernels", "kernels unfused", "counted B",
               "--no-fusion B", "LB B", "counted / LB", "--no-fusion / LB",
               "emu s", "measured"], rows), ""])


# -- decode attention over a KV cache ----------------------------------------

def decode_section(results):
    rows = results.get("decode")
    if not rows:
        return ""
    out, worst = [], None
    for r in rows:
        q = r["ratio"]
        if worst is None or q > worst[0]:
            worst = (q, r)
        m = re.match(r"attention tile (\d+x\d+)", r["tile"])
        splits = max(g[2] for g in r["grids"]) if r["grids"] else 1
        out.append([f"{r['capacity']:,}",
                    "paged (16)" if r["paged"] else "contiguous",
                    r["chip"], ", ".join(f"{n:,}" for n in r["lengths"]),
                    m.group(1) if m else "?", str(splits),
                    f"{r['read']:,}", f"{r['written']:,}",
                    f"{r['lower_bound']:,}", f"{q:.3f}", provenance(r)])
    w = worst[1]
    return "\n".join([
        "### Decode attention over a KV cache", "",
        "One decode step of `iolite.cache_attention` (f16, GQA 4:1, one kv "
        "head of 128, a batch of two sequences: one full, one ragged) over "
        "a cache of capacity L, contiguous or paged (pages of 16 tokens "
        "shuffled through the pool), compiled for each emulated chip and "
        "run through the bundle on the emulator (`bench/decode_traffic.py`)."
        " *LB*: the K/V rows below each sequence's length, Q read once, O "
        "written once, the lengths and the block-table entries of those "
        "rows' pages. *splits*: gridDim.z of the attention launch (each "
        "sequence takes as many of them as its own length asks for). "
        f"Least flattering ratio: **{worst[0]:.3f}** (L = {w['capacity']:,}"
        f", {'paged' if w['paged'] else 'contiguous'}, {w['chip']}): the "
        "excess is split-KV's partials and the Q re-read per partition, "
        "which the split heuristic lets grow to 5% of the K/V bytes of "
        "each sequence that splits (docs/attention.md), plus each block's "
        "read of its length and page numbers and the combine kernel's.", "",
        table(["L", "cache", "target", "lengths", "tile", "splits",
               "read B", "written B", "LB", "/ LB", "measured"], out), ""])


# -- prefill: varlen against padded batches ----------------------------------

def varlen_section(results):
    rows = results.get("varlen")
    if not rows:
        return ""
    out, worst, worst_model = [], None, None
    for r in rows:
        q = r["varlen_over_padded"]
        if worst is None or q > worst[0]:
            worst = (q, r)
        mq = r["varlen_over_model"]
        if worst_model is None or mq > worst_model[0]:
            worst_model = (mq, r)
        m = re.match(r"attention tile (\d+x\d+)", r["varlen_tile"])
        out.append([", ".join(f"{n:,}" for n in r["lengths"]), r["chip"],
                    m.group(1) if m else "?",
                    f"{r['varlen_read'] + r['varlen_written']:,}",
                    f"{r['padded_read'] + r['padded_written']:,}",
                    f"{r['per_sequence_model']:,}",
                    f"{r['lower_bound']:,}", f"{q:.3f}", f"{mq:.3f}",
                    f"{r['varlen_ratio']:.2f}", f"{r['padded_ratio']:.2f}",
                    provenance(r)])
    w, m = worst[1], worst_model[1]
    return "\n".join([
        "### Prefill: varlen against padded batches", "",
        "Causal f16 prefill of a batch of unequal sequences (GQA 4:1, one kv "
        "head of 128), packed for `iolite.varlen_attention` or padded to the "
        "longest sequence for `iolite.attention` ([B, H, S_max, D], padding "
        "after each sequence, so a real query only sees real keys and no "
        "mask is needed; the pad and unpad copies are not counted), each "
        "compiled for the emulated chip and run on the emulator "
        "(`bench/varlen_traffic.py`). *varlen B*, *padded B*: global bytes "
        "read and written by every launch. *model*: Iolite's attention "
        "kernels on each sequence alone with the varlen kernel's tile "
        "(test/python/attention_traffic.py). *LB*: every token's Q, K, V read "
        "once, O written once, the boundaries. The packed batch moves "
        f"**{worst[0]:.3f}x** the padded batch's bytes at worst "
        f"(lengths {', '.join(str(n) for n in w['lengths'])}, {w['chip']}): "
        "the padding's rows and keys are never loaded, and a q tile past "
        "its sequence returns before loading anything. Against the "
        f"per-sequence model it moves at most {worst_model[0]:.3f}x "
        f"({m['chip']}): the K/V tiles are the model's exactly; the rest is "
        "each block's read of its sequence's four boundaries (16 bytes; 8 "
        "in the slice that zeroes rows outside every sequence). Both kernels "
        "re-read K/V once per q tile (FlashAttention's trade), hence "
        "*/ LB* above 1.", "",
        table(["lengths", "target", "tile", "varlen B", "padded B",
               "model B", "LB B", "varlen / padded", "varlen / model",
               "varlen / LB", "padded / LB", "measured"], out), ""])


# -- decode-sized matmuls ----------------------------------------------------

def decode_matmul_section(results):
    rows = results.get("decode_matmul")
    if not rows:
        return ""
    out, worst = [], None
    for r in rows:
        q = r["read"] / r["weight_bytes"]
        if worst is None or q > worst[0]:
            worst = (q, r)
        m = re.match(r"matmul tile (\d+x\d+x\d+)", r["tile"])
        out.append([f"{r['name']} ({r['n']:,}x{r['k']:,})", str(r["tokens"]),
                    r["chip"], m.group(1) if m else "?", str(r["blocks"]),
                    f"{r['read']:,}", f"{r['written']:,}",
                    f"{r['weight_bytes']:,}", f"{q:.3f}",
                    f"{r['ratio']:.3f}", provenance(r)])
    w = worst[1]
    met = "met" if worst[0] <= 1.05 else "NOT met"
    return "\n".join([
        "### Decode-sized matmuls", "",
        "The projections of a Llama-2-7B layer (`x @ W^T`, f16, hidden "
        "4,096, MLP 11,008) at the 1, 4 and 16 tokens of a decode step, "
        "compiled for each emulated chip and run on the emulator "
        "(`bench/decode_traffic.py`). *read / W*: bytes read over the "
        "weight bytes (goal <= 1.05); */ LB*: reads and writes over the "
        "weights, activations and output moved once. *blocks*: the "
        "thread blocks of the matmul and its split-K combine kernel (an "
        "H100 has 132 SMs, an MI300X 304 CUs; split-K splits the K tiles "
        "until the chip is filled, docs/codegen.md). Worst read / W: "
        f"**{worst[0]:.3f}** ({w['name']}, {w['tokens']} tokens, "
        f"{w['chip']}; goal 1.05): {met}. The excess is the activation "
        "row block re-read by every block along N (16 rows / 128 columns "
        "= 12.5% at 16 tokens) and split-K's f32 partials, written and "
        "read once (at most 5% of the weights by construction); the "
        "emulator counts every re-read, which a GPU's L2 would mostly "
        "serve.", "",
        table(["matmul (N x K)", "tokens", "target", "tile", "blocks",
               "read B", "written B", "W B", "read / W", "/ LB",
               "measured"], out), ""])


# -- dynamic shapes ----------------------------------------------------------

def dynamic_section(results):
    rows = results.get("dynamic")
    if not rows:
        return ""
    out, worst = [], None
    for r in rows:
        dyn = r["dynamic_read"] + r["dynamic_written"]
        sta = r["static_read"] + r["static_written"]
        q = dyn / sta if sta else None
        if q is not None and (worst is None or q > worst[0]):
            worst = (q, r)
        out.append([r["model"], r["batch"], r["seq"], f"{sta:,}", f"{dyn:,}",
                    f"{q:.3f}" if q is not None else "—",
                    f"{r['static_compile_seconds']:.1f}",
                    provenance(r)])
    models = {}
    for r in rows:
        models.setdefault(r["model"], r)
    compile_rows = [[m, f"{r['dynamic_compile_seconds']:.1f}",
                     str(sum(1 for x in rows if x["model"] == m)),
                     f"{r['static_compile_seconds_total']:.1f}",
                     f"{r['dynamic_workspace']:,}", provenance(r)]
                    for m, r in models.items()]
    check = ("**not measured**: NOT met" if worst is None else
             f"worst **{worst[0]:.3f}** ({worst[1]['model']}, batch "
             f"{worst[1]['batch']} seq {worst[1]['seq']}; bound 1.05): "
             + ("met" if worst[0] <= 1.05 else "NOT met"))
    return "\n".join([
        "### Dynamic shapes: one compile against one per size", "",
        "Each model compiled once with symbolic batch and sequence "
        "(bound 64) and once per size with the dims pinned, both for "
        "emu-sm_90a and run at that size on the emulator "
        "(`bench/dynamic_shapes.py`). Bytes: global reads + writes of "
        "every launch. Dynamic / static bytes: " + check + ".", "",
        table(["model", "batch", "seq", "static B", "dynamic B",
               "dynamic / static", "static compile s", "measured"], out),
        "", table(["model", "dynamic compile s (once)", "sizes",
                   "static compile s (all sizes)",
                   "dynamic workspace B (bound)", "measured"],
                  compile_rows), ""])


# -- resources ---------------------------------------------------------------

def resources_section(results):
    res = results.get("resources")
    if not res:
        return ""
    targets = ["sm_80", "sm_90a", "gfx90a", "gfx942"]
    by_kernel = {}
    for r in res["rows"]:
        by_kernel.setdefault((r["model"], r["kernel"], r["template"]),
                             {})[r["target"]] = r
    rows = []
    for (model, kernel, template), per in by_kernel.items():
        cells = []
        for t in targets:
            r = per.get(t)
            if not r:
                cells.append("—")
                continue
            regs = f"{r['registers']}"
            if r.get("scalar_registers"):
                regs += f"+{r['scalar_registers']}s"
            # A report without a spill count is not 0 spills.
            spill = r.get("spills")
            extra = (", spills NOT REPORTED" if spill is None else
                     f", {spill} spill" if spill else "")
            if r.get("stack"):
                extra += f", {r['stack']} B stack"
            cells.append(f"{regs} r{extra}, {r['shared'] / 1024:.1f} KiB, "
                         f"{r['threads']} thr → {r['occupancy'] * 100:.0f}% "
                         f"({r['limiter']})")
        rows.append([model, f"`{kernel}`", template] + cells)
    facts = res["targets"]
    fact_rows = [[t, facts[t]["part"], facts[t]["multiprocessors"],
                  facts[t]["registers_per_multiprocessor"],
                  facts[t]["max_threads_per_multiprocessor"] //
                  facts[t]["warp_size"],
                  facts[t]["max_blocks_per_multiprocessor"],
                  f"{facts[t]['shared_memory_per_multiprocessor'] // 1024}"
                  f" / {facts[t]['shared_memory_per_block_optin'] // 1024}",
                  f"{facts[t]['register_allocation_unit']} / "
                  f"{facts[t]['shared_memory_allocation_unit']} B"
                  + (f" / {facts[t]['reserved_shared_memory_per_block']} B"
                     if facts[t]['reserved_shared_memory_per_block'] else
                     "")] for t in targets]
    text = ["## 2. Kernel resources and occupancy", "",
            "Registers per thread, spill bytes and stack from `ptxas -v` "
            "(NVIDIA) and VGPRs (+SGPRs), VGPR spills and scratch from the "
            "HSACO metadata (AMD), as `manifest.json` records them; shared "
            "memory = dynamic + static; occupancy = resident warps / "
            "maximum warps per multiprocessor, limited by threads, blocks, "
            "registers (allocated per warp in units, from one register-file "
            "partition), SGPRs and shared memory (in allocation units, plus "
            "the per-block reservation), computed from the target "
            "descriptions (`iolite-compile --list-targets`):", "",
            table(["target", "part", "SMs/CUs", "registers / SM",
                   "warps / SM", "blocks / SM", "smem KiB / SM / block",
                   "alloc units (reg/thread, smem, reserved)"], fact_rows),
            "", "Each cell: registers, spills, shared memory, threads per "
            "block → occupancy (limiter).", "",
            table(["model", "kernel", "template"] + targets, rows), ""]
    if res.get("errors"):
        text += ["Models that did not compile:", ""]
        text += [f"- {e['model']}: `{e['error']}`" for e in res["errors"]]
        text.append("")
    return "\n".join(text)


# -- compile time --------------------------------------------------------------

def compile_section(results, figdir):
    comp = results.get("compile")
    if not comp or not comp["rows"]:
        return ""
    rows = []
    totals = {}
    for r in comp["rows"]:
        if "error" in r:
            rows.append([r["model"], r["target"], "error", "", "", "",
                         f"`{r['error'][:120]}`"])
            continue
        cats = sorted(r["categories"].items(), key=lambda kv: -kv[1])
        top = ", ".join(f"{k} {v:.2f}" for k, v in cats[:3])
        rows.append([r["model"], r["target"], f"{r['seconds']:.2f}",
                     f"{r['user_s'] + r['sys_s']:.2f}",
                     f"{r['max_rss_mib']:.0f}", r["kernels"], top])
        for path, s in r["passes"]:
            name = path.split("/")[-1]
            totals[name] = totals.get(name, 0.0) + s
    total = sum(totals.values()) or 1.0
    pass_rows = [[f"`{k}`", f"{v:.2f}", f"{100 * v / total:.1f}%"]
                 for k, v in sorted(totals.items(),
                                    key=lambda kv: -kv[1])[:15]]
    # Stacked bars.
    ok = [r for r in comp["rows"] if "error" not in r]
    cats = sorted({c for r in ok for c in r["categories"]})
    fig, ax = plt.subplots(figsize=(10, 4.5))
    bottom = [0.0] * len(ok)
    labels = [f"{r['model']}\n{r['target']}" for r in ok]
    for c in cats:
        vals = [r["categories"].get(c, 0.0) for r in ok]
        ax.bar(range(len(ok)), vals, bottom=bottom, label=c)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(len(ok)))
    ax.set_xticklabels(labels, fontsize=6, rotation=90)
    ax.set_ylabel("seconds (-mlir-timing wall)")
    ax.set_title("iolite-compile: time per step")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figdir / "compile_time.png", dpi=110)
    plt.close(fig)
    return "\n".join([
        "## 3. Compile time and peak memory", "",
        f"`iolite-compile examples/<model>/model.mlir --target=T -o DIR "
        f"-mlir-timing -mlir-timing-display=tree -mlir-output-format=json`, "
        f"one target per compile, {comp['repeats']} run(s) each (median "
        f"wall; CPU = user + system of that run; peak RSS from `wait4`, "
        f"what `/usr/bin/time -v` reports, max over runs). The machine is "
        f"shared: wall times include waiting for a core.", "",
        table(["model", "target", "wall s", "CPU s", "peak RSS MiB",
               "kernels", "largest steps (s)"], rows), "",
        "![compile time](perf/compile_time.png)", "",
        "Passes and steps summed over all the compiles above:", "",
        table(["pass or step", "seconds", "share"], pass_rows), ""])


# -- roofline ------------------------------------------------------------------

def roofline_rows(results):
    facts = results.get("targets") or {}
    out = []
    for c in results.get("io", []):
        if c["family"] == "example":
            continue
        for chip in ("sm_90a", "gfx942"):
            res = c["results"].get(f"fused/{chip}")
            if counted(res) is None or not res.get("flops"):
                continue
            f = facts.get(chip)
            if not f:
                continue
            b, fl = res["counted"], res["flops"]
            # Older results counted all flops as scalar.
            mfl = res.get("matrix_flops", 0)
            sfl = res.get("scalar_flops", fl - mfl)
            t_mem = b / f["peak_memory_bandwidth"]
            # The products at the matrix peak, the rest (softmax, scans,
            # epilogues) at the SIMT FP32 peak, one after the other.
            t_compute = (mfl / f["peak_matrix_fp16_flops"] +
                         sfl / f["peak_vector_fp32_flops"])
            # What the same flops would take with every product on FMA.
            t_simt = fl / f["peak_vector_fp32_flops"]
            out.append({"family": c["family"], "form": c["form"],
                        "params": c["params"], "chip": chip,
                        "part": f["part"], "bytes": b, "flops": fl,
                        "matrix_flops": mfl, "scalar_flops": sfl,
                        "lb": res["lower_bound"], "ai": fl / b,
                        "t_mem": t_mem, "t_compute": t_compute,
                        "t_simt": t_simt,
                        "t_lb": res["lower_bound"] /
                        f["peak_memory_bandwidth"],
                        "facts": f, "measured": res.get("measured")})
    return out


def describe_case(family, p, form):
    if family == "attention":
        return (f"attention ({form}) N{p['n']} d{p['d']} "
                f"{'causal' if p['causal'] else 'full'} "
                f"{p['hq']}/{p['hkv']}")
    if family == "selective_scan":
        return f"scan ({form}) L{p['l']} N{p['state']}"
    if family == "ssd":
        return f"SSD ({form}) L{p['l']} N{p['state']}"
    if family == "moe":
        return f"MoE T{p['tokens']} E{p['experts']} k{p['k']}"
    if family == "example":
        return f"examples/{p['model']}"
    return family


def roofline_section(results, figdir):
    rows = roofline_rows(results)
    if not rows:
        return ""
    facts = results["targets"]
    table_rows = []
    for r in rows:
        p = r["params"]
        big = (r["family"] == "attention" and p["n"] == max(
            c["params"]["n"] for c in cases_of(results, "attention"))) or (
            r["family"] in ("selective_scan", "ssd") and p["l"] == max(
                c["params"]["l"] for c in cases_of(results, r["family"]))) \
            or (r["family"] == "moe" and p["tokens"] == max(
                c["params"]["tokens"] for c in cases_of(results, "moe")))
        if not big:
            continue
        est = max(r["t_mem"], r["t_compute"])
        share = r["matrix_flops"] / r["flops"]
        table_rows.append([
            describe_case(r["family"], p, r["form"]), r["part"],
            f"{r['ai']:.1f}", f"{100 * share:.1f}%",
            f"{r['t_lb'] * 1e6:.1f}", f"{r['t_mem'] * 1e6:.1f}",
            f"{r['t_compute'] * 1e6:.1f}",
            f"{est * 1e6:.1f} ({'memory' if r['t_mem'] >= r['t_compute'] else 'compute'})",
            f"{est / r['t_mem']:.2f}",
            f"{max(r['t_mem'], r['t_simt']) * 1e6:.1f}",
            f"{r['flops'] / est / 1e12:.1f}"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    markers = {"attention": "o", "selective_scan": "s", "ssd": "^",
               "moe": "D"}
    for ax, chip in zip(axes, ("sm_90a", "gfx942")):
        f = facts[chip]
        ai = [2 ** (x / 16) for x in range(-4 * 16, 11 * 16 + 1)]
        bw = f["peak_memory_bandwidth"]
        ax.plot(ai, [min(a * bw, f["peak_vector_fp32_flops"]) / 1e12
                     for a in ai], "k-", label="FP32 SIMT roof")
        ax.plot(ai, [min(a * bw, f["peak_matrix_fp16_flops"]) / 1e12
                     for a in ai], "k--", label="FP16 matrix roof",
                alpha=0.6)
        for fam, m in markers.items():
            pts = [r for r in rows if r["chip"] == chip and
                   r["family"] == fam]
            if not pts:
                continue
            ax.scatter([r["ai"] for r in pts],
                       [r["flops"] / max(r["t_mem"], r["t_compute"]) / 1e12
                        for r in pts], marker=m, label=fam, alpha=0.7)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("counted FLOPs / counted global bytes")
        ax.set_ylabel("attainable TFLOP/s (model)")
        ax.set_title(f"roofline MODEL: {f['part']} (counts from "
                     f"emu-{chip})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(figdir / "roofline.png", dpi=110)
    plt.close(fig)
    peak_rows = [[t, facts[t]["part"],
                  f"{facts[t]['peak_memory_bandwidth'] / 1e12:.2f}",
                  f"{facts[t]['peak_vector_fp32_flops'] / 1e12:.1f}",
                  f"{facts[t]['peak_matrix_fp16_flops'] / 1e12:.1f}"]
                 for t in ("sm_90a", "gfx942")]
    return "\n".join([
        "## 4. Roofline estimate — a model, not a measurement", "",
        "Time per layer estimated from the bytes and FLOPs the emulator "
        "counted for the chip's kernels and the peak rates of the usual "
        "part in the target description (`lib/Target/TargetDescription.cpp`"
        "; data sheets: NVIDIA H100 Tensor Core GPU (SXM5), AMD Instinct "
        "MI300X). `t_mem` = bytes / bandwidth; `t_compute` = the flops "
        "of matrix instructions (mma.sync / MFMA, counted apart by the "
        "emulator) at the dense FP16 matrix peak plus the other flops "
        "(softmax, scans, epilogues) at the FP32 SIMT peak; estimate = "
        "max(t_mem, t_compute), and *estimate / t_mem* is how far the "
        "kernel is from its own memory time. *all on FMA* is the same "
        "bound with every flop at the SIMT peak (the kernels before they "
        "used the matrix units). Caches, latency, occupancy, launch "
        "overhead and the reachable fraction of peak (FlashAttention-2 "
        "reaches about a third of the matrix peak) are not modelled: real "
        "kernels are slower. `t_LB` is the IO lower bound's time.", "",
        table(["target", "part", "HBM TB/s", "FP32 TFLOP/s",
               "FP16 matrix TFLOP/s"], peak_rows), "",
        "The largest size of each family:", "",
        table(["case", "part", "FLOP/B", "matrix flops", "t_LB µs",
               "t_mem µs", "t_compute µs", "estimate µs (bound)",
               "estimate / t_mem", "all on FMA µs", "model TFLOP/s"],
              table_rows), "",
        "![roofline](perf/roofline.png)", ""])


# -- matrix units --------------------------------------------------------------

def matrix_rows(results):
    """Per case and chip of the largest size of each family: the share of
    flops on the matrix units and the shared-memory bank conflicts."""
    out = []
    for c in results.get("io", []):
        for chip in ("sm_90a", "gfx942"):
            res = c["results"].get(f"fused/{chip}")
            if counted(res) is None or "matrix_flops" not in res:
                continue
            kinds = sorted({k for k in res.get("matrix_kinds", {}).values()
                            if k != "fma"}) or ["fma"]
            waves = sum(x.get("shared_wavefronts", 0)
                        for x in res["launches"])
            conflicts = sum(x.get("shared_bank_conflicts", 0)
                            for x in res["launches"])
            out.append({"case": c, "chip": chip, "kinds": kinds,
                        "share": res["matrix_flops"] / res["flops"]
                        if res["flops"] else 0.0,
                        "matrix_flops": res["matrix_flops"],
                        "waves": waves, "conflicts": conflicts,
                        "measured": res.get("measured")})
    return out


def matrix_section(results):
    rows = matrix_rows(results)
    if not rows:
        return ""
    table_rows = []
    for r in rows:
        c = r["case"]
        p = c["params"]
        name = (describe_case(c["family"], p, c["form"])
                if c["family"] != "example" else p["model"])
        if c["family"] == "attention":
            name += f" {p.get('dtype', 'f16')}"
        table_rows.append([
            name, r["chip"], ", ".join(r["kinds"]),
            f"{100 * r['share']:.1f}%",
            f"{r['matrix_flops'] / 1e9:.2f}",
            f"{r['waves']:,.0f}", f"{r['conflicts']:,.0f}",
            f"{r['conflicts'] / r['waves']:.3f}" if r["waves"] else "—"])
    return "\n".join([
        "## 5. Matrix units", "",
        "Per case: the matrix instructions its kernels use (manifest), the "
        "share of the counted flops that ran as matrix instructions (goal: "
        "at least 95% for attention, matmul and grouped GEMM), and the "
        "shared-memory wavefronts of warp-wide accesses with the extra "
        "wavefronts bank conflicts cost (32 banks of 4 bytes on NVIDIA, "
        "128-byte phases; the emulator's bank model, "
        "docs/runtime-and-emulator.md). *conflicts / wavefront* is the "
        "extra wavefronts per wavefront of every shared access of the "
        "kernel, its K (or KV) steps included. Counts are scaled as in "
        "section 1.", "",
        table(["case", "chip", "matrix kind", "matrix flops",
               "matrix GFLOP", "shared wavefronts", "bank conflicts",
               "conflicts / wavefront"], table_rows), ""])


# -- peers ---------------------------------------------------------------------

def peers_section(results, figdir):
    peers = results.get("peers")
    if peers is None:
        return ""
    if "error" in peers:
        return "\n".join(["## 6. Peers: IREE and Triton", "",
                          f"Not run: `{peers['error']}`", ""])
    att = peers["attention"]
    v = peers["versions"]
    rows = []
    for r in peers["rows"]:
        if r["model"] != "attention":
            continue
        if "error" in r:
            rows.append([r["compiler"], r["target"], "—", "—", "—",
                         "failed", f"`{r['error'][:160]}`"
                         + (f" ({r['note']})" if r.get("note") else "")])
            continue
        ks = []
        for k in r["kernels"]:
            def given(key, unit):
                # A figure the peer's report did not give is not 0.
                v = k.get(key)
                return f"{v} {unit}" if v is not None else \
                    f"{unit} NOT REPORTED"
            if k.get("registers") is None:
                regs = given("registers", "r")
            else:
                regs = f"{k['registers']}"
                if k.get("scalar_registers"):
                    regs += f"+{k['scalar_registers']}s"
                regs += " r"
            shared = (f"{k['shared'] / 1024:.1f} KiB" if k.get("shared") is
                      not None else "?")
            if k.get("shared_note"):
                shared += " static"
            masked = "iolite.compare" in k.get("ops", [])
            ks.append(f"`{k['name'][:48]}`{' †' if masked else ''}: "
                      f"{regs}, {given('spills', 'spill')}, {shared}, "
                      f"{k.get('threads', '?')} thr")
        if r.get("note"):
            ks.append(f"*{r['note']}*")
        rows.append([r["compiler"], r["target"], f"{r['seconds']:.1f}",
                     f"{r['cpu_s']:.1f}", f"{r['max_rss_mib']:.0f}",
                     len(r["kernels"]), "<br>".join(ks)])
    model_rows = []
    for r in peers["rows"]:
        if r["model"] == "attention":
            continue
        if "error" in r:
            model_rows.append([r["model"], r["compiler"], r["target"], "—",
                               "—", f"failed: `{r['error'][:120]}`"])
        else:
            model_rows.append([r["model"], r["compiler"], r["target"],
                               f"{r['seconds']:.1f}",
                               f"{r['max_rss_mib']:.0f}",
                               f"{len(r['kernels'])}"
                               + (f" ({r['note']})" if r.get("note")
                                  else "")])
    for m in ("llama_block", "gpt2_block"):
        if any(r["model"] == m for r in peers["rows"]):
            model_rows.append([m, "triton", "—", "—", "—",
                               "no graph frontend (kernels only)"])
    imp = peers.get("iree_import", {})
    # Compile-time bars for the attention.
    ok = [r for r in peers["rows"] if r["model"] == "attention" and
          "error" not in r]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.bar(range(len(ok)), [r["seconds"] for r in ok],
           color=[{"iolite": "C0", "iree": "C1", "triton": "C2",
                   "tilelang": "C3"}.get(r["compiler"], "C7") for r in ok])
    ax.set_xticks(range(len(ok)))
    ax.set_xticklabels([f"{r['compiler']}\n{r['target']}" for r in ok],
                       fontsize=7)
    ax.set_ylabel("compile wall s (fresh process)")
    ax.set_title("attention: compile time")
    fig.tight_layout()
    fig.savefig(figdir / "peers_compile.png", dpi=110)
    plt.close(fig)
    return "\n".join([
        "## 6. Peers: IREE, Triton and TileLang on the same attention", "",
        f"IREE {v.get('iree')} (`iree-base-compiler` from PyPI: "
        f"`iree-import-onnx`, then `iree-compile --iree-hal-target-device="
        f"cuda --iree-cuda-target=T` or `hip --iree-rocm-target=T`) and "
        f"Triton {v.get('triton')} (a FlashAttention-2 forward kernel, "
        f"`bench/triton_attention.py`, compiled with `triton.compile(..., "
        f"target=GPUTarget(...))`), installed by `bench/run.sh` into "
        f"`bench/.venv`. Iolite and IREE compile the same ONNX file "
        f"(`bench/onnx_models.py`: causal attention as exporters write it, "
        f"B={att['batch']}, H={att['heads']}, S={att['seq']}, "
        f"D={att['head_dim']}, f16); Triton gets the same shape. Every "
        f"compile is a fresh process (Triton with an empty cache, so its "
        f"time includes importing Triton); wall time on a shared 2-core "
        f"machine. Registers/spills: `ptxas -v` of CUDA {v.get('cuda_ptxas')} "
        f"for Iolite's and IREE's PTX, the `ptxas` Triton ships for "
        f"Triton's (its PTX ISA is newer than CUDA {v.get('cuda_ptxas')}'s); "
        f"AMD: the HSACO's kernel metadata. IREE's CUDA kernels size their "
        f"shared memory at run time (only the static part is known here). "
        f"IREE {v.get('iree')} has no Hopper target (its known CUDA targets "
        f"stop at Ada; `--iree-cuda-target=sm_90a` or `sm_90` fails with "
        f"'missing GPU target'), so its sm_90a row is its sm_80 code "
        f"assembled by ptxas for sm_90a. TileLang "
        f"{v.get('tilelang', 'not installed')} (PyPI `tilelang`): a "
        f"FlashAttention-2 forward in its tile language "
        f"(`bench/tilelang_attention.py`, 128x64 tile, 128 threads as in "
        f"its example), lowered to CUDA for the arch without a GPU "
        f"(`tilelang.lower` with an explicit target); its CUDA then goes "
        f"through CUDA's nvcc with `-Xptxas -v` for registers, spills and "
        f"static shared memory; *compile s* is the lowering process "
        f"(import included), not nvcc's. "
        f"†: the kernel computes the causal mask itself (raising does "
        f"not recognise it at 4096 tokens, see section 1). "
        f"IREE import of the ONNX file: "
        + ", ".join(f"{m} {x.get('seconds', 0):.1f} s" for m, x in
                    imp.items() if "error" not in x) + ".", "",
        table(["compiler", "target", "compile s", "CPU s", "peak MiB",
               "kernels", "per kernel: registers, spills, shared, threads"],
              rows), "",
        "![peers compile time](perf/peers_compile.png)", "",
        "The torch-exported Llama and GPT-2 blocks of "
        "`test/python/onnx_blocks.py` (batch 2, seq 16, d 64), compiled by "
        "both from the same ONNX file:", "",
        table(["model", "compiler", "target", "compile s", "peak MiB",
               "kernels"], model_rows), ""])


# -- harness -------------------------------------------------------------------

def harness_section(results):
    h = results.get("harness")
    if h is None:
        return ""
    text = ["## 7. GPU harness", "",
            "`bench/gpu_harness.py` times bundles against PyTorch with CUDA "
            "events (warm-up, L2 flush before each run, median of ≥ 20) on "
            "an NVIDIA GPU: causal and full attention against "
            "`scaled_dot_product_attention` on the flash backend, a matmul "
            "against `torch.matmul`; it reports TFLOP/s, GB/s and the "
            "ratio. Run it on a GPU machine with "
            "`python3 bench/gpu_harness.py --json out.json` (PyTorch with "
            "CUDA, Iolite built). No GPU was available for this run, so "
            "only its plumbing ran, on the emulator:", ""]
    if "error" in h:
        return "\n".join(text + [f"Failed: `{h['error']}`", ""])
    text += [f"**{h['timing']}**", ""]
    rows = [[r["case"], ", ".join(r["templates"]),
             f"{r['iolite']['median_s'] * 1e3:.2f}",
             f"{r['torch']['median_s'] * 1e3:.2f}",
             f"{r['max_abs_error']:.1e}"] for r in h["cases"]]
    text += [table(["case", "templates", "emulated ms (wall)",
                    "torch CPU ms", "max abs error"], rows), ""]
    return "\n".join(text)


# -- device check ------------------------------------------------------------

DEVICE_CHECK_RUN = ("`bench/device_check.sh --prepare` here, then "
                    "`bench/device_check.sh --run` on the GPU machine "
                    "(carrying `build/device-check`), its "
                    "`device_check.json` copied to "
                    "`docs/perf/device_check.json`")


def device_check_summary(dc):
    """The Checks section's line for the device check."""
    if dc is None:
        return ("- Device check (examples and harness through the CUDA "
                "backend): **not run** — no device check result is in "
                "docs/perf.")
    n = dc["summary"]
    met = "met" if not n["FAILED"] and not n["not run"] else "NOT met"
    return (f"- Device check on {device_label(dc)} ({dc['date']}): "
            f"**{n['passed']} passed, {n['FAILED']} FAILED, "
            f"{n['not run']} not run**: {met}.")


def device_label(dc):
    d = dc.get("device") or {}
    label = d.get("gpu") or f"{dc['backend']} (device did not open)"
    return label + (" — EMULATOR, not a GPU" if dc["backend"] == "emu"
                    else "")


def device_check_section(dc):
    text = ["## 8. Device check", "",
            "`bench/device_check.sh` runs every example against its "
            "expected outputs and the harness's cases against PyTorch "
            "through the runtime's CUDA backend, from bundles compiled "
            "ahead for sm_90a and sm_80. It is what runs first whenever a "
            "GPU machine is available: " + DEVICE_CHECK_RUN + ".", ""]
    if dc is None:
        return "\n".join(text + [
            "**No device check has run**: the CUDA launch path has not "
            "executed a kernel for this report.", ""])
    prep = dc.get("prepared") or {}
    d = dc.get("device") or {}
    n = dc["summary"]
    driver = f"driver {d['driver']}, " if "driver" in d else ""
    text += [f"Run on **{device_label(dc)}** (runtime arch "
             f"{d.get('arch', '?')}, {driver}"
             f"PyTorch {d.get('torch') or 'absent'}) on {dc['date']}, "
             f"bundles prepared at commit `{prep.get('commit')}`"
             f"{' with local changes' if prep.get('dirty') else ''} on "
             f"{prep.get('created')} (ptxas {prep.get('ptxas')}); "
             f"{dc['seconds']:.0f} s. **{n['passed']} passed, "
             f"{n['FAILED']} FAILED, {n['not run']} not run.**", "",
             table(["step", "status", "detail"],
                   [[s["step"], s["status"] if s["status"] != "FAILED"
                     else "**FAILED**", s["detail"].replace("|", "/")]
                    for s in dc["steps"]]), ""]
    for shapes, h in (dc.get("harness") or {}).items():
        text += [f"Harness, {shapes} shapes — {h.get('timing', '')}:", ""]
        rows = []
        for r in h["cases"]:
            i, t = r["iolite"], r.get("torch")
            rows.append([r["case"], f"{i['median_s'] * 1e3:.3f}",
                         f"{i['tflops']:.4g}",
                         f"{t['median_s'] * 1e3:.3f}" if t else "—",
                         f"{t['tflops']:.4g}" if t else "—",
                         f"{r['throughput_ratio']:.2f}" if t else "—",
                         f"{r['max_abs_error']:.1e}"
                         if "max_abs_error" in r else "not checked"])
        text += [table(["case", "Iolite ms", "TFLOP/s", "PyTorch ms",
                        "TFLOP/s", "PyTorch / Iolite time",
                        "max abs error"], rows), ""]
    return "\n".join(text)


def read_device_check(out_path):
    path = Path(out_path).parent / "perf" / "device_check.json"
    return json.loads(path.read_text()) if path.exists() else None


# -- anchors, provenance and the per-family checks ----------------------------

def fa2_anchor(case, chip):
    """FlashAttention-2's traffic with its own tile on `chip` for an
    attention case (bench/anchors.py), or None where it has no table."""
    p = case["params"]
    elem = {"f16": 2, "bf16": 2, "f32": 4}[p.get("dtype", "f16")]
    shape = anchors.Attention(p["b"], p["hq"], p["hkv"], p["n"], p["n"],
                              p["d"], p["d"], elem, p["causal"])
    try:
        return anchors.fa2_bytes(chip, shape)
    except ValueError:
        return None


def provenance(res):
    """When and at which commit a row was measured (reused rows: when it
    was first measured); results from before rows carried it say so."""
    m = (res or {}).get("measured")
    if not m:
        return "not recorded"
    return (f"`{m.get('commit', '?')[:12]}`"
            f"{'+dirty' if m.get('dirty') else ''} "
            f"{m.get('date', '?')}")


def why_not(res):
    """Why a row has no count, or None when it has one."""
    if res is None:
        return "not run"
    status = cell_status(res)
    if status:
        return status.rstrip("¹²³")
    if res.get("counted") is None:
        return "no count"
    return None


def check_value_missing(res):
    """why_not, and for a check also a row that cannot say when and at
    which commit it was counted: an untraceable number does not pass."""
    return why_not(res) or (None if (res or {}).get("measured") else
                            "provenance not recorded")


def fused_rows(results, family, chips=None):
    """(case, chip, result) of every fused row of a family."""
    for c in cases_of(results, family):
        for key, res in c["results"].items():
            variant, chip = key.split("/")
            if variant == "fused" and (chips is None or chip in chips):
                yield c, chip, res


def check_line(title, rows, bound, what):
    """One line of the Checks section over `rows`: (description, value or
    None, why the row does not count or None). The worst and best values
    are shown over every row with a value; the check is met only when every
    row has a value within `bound` and nothing against it (a failed row, or
    one without provenance)."""
    if not rows:
        return (f"- {title}: **not measured** (no rows in the results): "
                "NOT met.")
    have = [r for r in rows if r[1] is not None]
    bad = [r for r in rows if r[1] is None or r[2]]
    parts = [f"- {title}: {len(rows) - len(bad)} of {len(rows)} rows "
             "measured and traceable"]
    met = not bad
    if have:
        worst = max(have, key=lambda r: r[1])
        best = min(have, key=lambda r: r[1])
        over = [r for r in have if r[1] > bound]
        met = met and not over
        parts.append(f"; worst {what} **{worst[1]:.3f}** ({worst[0]}), best "
                     f"{best[1]:.3f} ({best[0]}); {len(over)} of "
                     f"{len(have)} over the bound {bound}")
    parts.append(f": {'met' if met else 'NOT met'}")
    if bad:
        reasons = {}
        for r in bad:
            reasons.setdefault(r[2] or "no value", []).append(r[0])
        parts.append(" — " + "; ".join(
            f"{why}: {len(descs)} row(s) ({', '.join(descs[:3])}"
            f"{', …' if len(descs) > 3 else ''})"
            for why, descs in reasons.items()))
    return "".join(parts) + "."


def attention_check(results, chip):
    rows = []
    for c, ch, res in fused_rows(results, "attention", [chip]):
        desc = describe_case("attention", c["params"], c["form"])
        why = check_value_missing(res)
        anchor = fa2_anchor(c, chip)
        value = None
        if why_not(res) is None and anchor is not None:
            value = res["counted"] / anchor["total"]
        elif why is None:
            why = "no FlashAttention-2 tile table for this chip"
        rows.append((desc, value, why))
    src = "ck_tile's gfx9 tiles" if chip.startswith("gfx") else \
        "FA2's sm80/sm90 tiles"
    return check_line(f"Attention on emu-{chip}, counted / FlashAttention-2 "
                      f"with its own tile ({src})", rows, FA2_BOUND,
                      "counted / FA2")


def lb_check(results, family, title, bound, extra=None):
    rows = []
    for c, chip, res in fused_rows(results, family):
        desc = describe_case(family, c["params"], c["form"]) + f" on {chip}"
        why = check_value_missing(res)
        value = None
        if why_not(res) is None:
            value = res["counted"] / res["lower_bound"]
            why = (extra(c, chip, res) if extra else None) or why
        rows.append((desc, value, why))
    return check_line(title, rows, bound, "counted / LB")


def example_problem(case, chip, res):
    """An example row fails when a heavy op fell back to the elemental
    template or when fusion moved more bytes than --no-fusion."""
    if res.get("fallback_emulated"):
        return "fallback kernels: " + ", ".join(res["fallback_emulated"])
    nf = case["results"].get(f"no_fusion/{chip}")
    if why_not(nf):
        return f"--no-fusion {why_not(nf)}"
    if res["counted"] > nf["counted"]:
        return (f"fused {res['counted']:,.0f} B > --no-fusion "
                f"{nf['counted']:,.0f} B")
    return None


def family_checks(results):
    """The per-family lines of the Checks section, all from the results."""
    out = [attention_check(results, chip) for chip in ("sm_90a", "gfx942")]
    out.append(lb_check(results, "selective_scan",
                        "Selective scan (op and graph, all chips), counted "
                        "/ LB", SCAN_BOUND))
    out.append(lb_check(results, "ssd", "SSD (op and graph, all chips), "
                        "counted / LB", SSD_BOUND))
    out.append(lb_check(results, "moe", "MoE layer (the section 1.4 table),"
                        " counted / LB", MOE_BOUND))
    out.append(lb_check(results, "example", "Example models, counted / LB, "
                        "no fallback kernel, fused ≤ --no-fusion",
                        EXAMPLE_BOUND, example_problem))
    return out


# -- the page --------------------------------------------------------------------

def latest_partial_runs(results):
    """The partial reruns, each with only the sections no later rerun
    replaced."""
    runs, shown = results.get("partial_runs", []), []
    for i, r in enumerate(runs):
        later = {s for x in runs[i + 1:] for s in x["sections"]}
        sections = [s for s in r["sections"] if s not in later]
        if sections:
            shown.append({**r, "sections": sections})
    return shown


def spill_check(res_rows):
    """The register-spill check over section 2's resource rows: met only
    when every row has a spill count and it is 0. A row whose count is
    missing or not a number is NOT met, never read as 0."""
    def count(r):
        v = r.get("spills")
        return v if isinstance(v, int) and not isinstance(v, bool) else None
    spilling = [r for r in res_rows if count(r)]
    unknown = [r for r in res_rows if count(r) is None]
    line = (f"- Register spills over {len(res_rows)} kernel-targets of "
            f"section 2: **{len(spilling)}** spilling, **{len(unknown)}**"
            f" without a spill count (bound 0 and 0): "
            f"{'met' if not spilling and not unknown else 'NOT met'}")
    bad = spilling + unknown
    if bad:
        line += " — " + "; ".join(
            f"{r['kernel']} on {r['target']}" for r in bad[:6])
    return line + "."


def write(results, out_path):
    out_path = Path(out_path)
    figdir = out_path.parent / "perf"
    figdir.mkdir(parents=True, exist_ok=True)
    for old in figdir.glob("*.png"):
        old.unlink()
    m = results["machine"]
    attention, _ = attention_section(results, figdir)
    scan, _ = ssm_section(
        results, figdir, "selective_scan", "Selective scan (Mamba-1)",
        "D = 1536 channels, batch 1, bf16 sequences, f32 `A`, `D`, bias. "
        "*op*: `iolite.selective_scan` with its own `D`, `z`, `delta_bias` "
        "operands and `delta_softplus` (the op the IO lower bound is "
        "defined on; `--no-fusion` is the same single op); *graph*: the "
        "same computation written as separate ops (cast, add bias, "
        "softplus, the bare scan, `+ D·u`, `· silu(z)`). LB: every input "
        "read once, y written once.", ["l", "state"])
    ssd, _ = ssm_section(
        results, figdir, "ssd", "SSD (Mamba-2)",
        "24 heads of 64, one B/C group, batch 1, bf16, chunk 256. *op*: "
        "`iolite.ssd` with `D`, `dt_bias`, `dt_softplus`; *graph*: softplus"
        "(dt + bias), the bare SSD, `+ D·x`, `· silu(z)` as separate ops "
        "(z is an extra input).", ["l", "state"])
    moe = moe_section(results, figdir)
    examples = example_section(results)

    checks = family_checks(results)
    roof = {(r["family"], r["chip"], r["params"].get("n"),
             r["params"].get("d"), r["params"].get("causal"), r["form"]): r
            for r in roofline_rows(results) if r["family"] == "attention"}
    big = roof.get(("attention", "sm_90a", 4096, 128, True, "op")) or \
        roof.get(("attention", "sm_90a", 4096, 128, True, "graph"))
    if not big:
        checks.append(
            "- Causal attention N 4096 d 128 f16 on sm_90a (model): "
            "estimate / own memory time: **not measured** (no count for "
            "that row): NOT met.")
    else:
        est = max(big["t_mem"], big["t_compute"]) / big["t_mem"]
        checks.append(
            f"- Causal attention N 4096 d 128 f16 on {big['part']} (model): "
            f"estimate / own memory time = **{est:.2f}** (bound 1.3"
            f"{'' if big['measured'] else '; provenance not recorded'}): "
            f"{'met' if est <= 1.3 and big['measured'] else 'NOT met'}; "
            f"{100 * big['matrix_flops'] / big['flops']:.1f}% of its flops "
            "on the matrix units.")
    worst_lb = {}
    for c in cases_of(results, "attention"):
        for chip in ("sm_90a", "gfx942"):
            res = c["results"].get(f"fused/{chip}")
            if counted(res) is None:
                continue
            key = (c["form"], c["params"]["n"], c["params"]["d"],
                   c["params"]["causal"], c["params"]["hq"],
                   c["params"]["hkv"])
            if not res.get("measured"):
                worst_lb.setdefault(key, {})["untraced"] = True
            worst_lb.setdefault(key, {})[chip] = \
                res["counted"] / res["lower_bound"]
    pairs = [(k, v["gfx942"] / v["sm_90a"]) for k, v in worst_lb.items()
             if "gfx942" in v and "sm_90a" in v]
    untraced = sum(1 for k, v in worst_lb.items() if "gfx942" in v and
                   "sm_90a" in v and v.get("untraced"))
    # Rows compiled for gfx942 without a count on either chip.
    unpaired = [describe_case("attention", c["params"], c["form"])
                for c in cases_of(results, "attention")
                if "fused/gfx942" in c["results"] and
                (counted(c["results"]["fused/gfx942"]) is None or
                 counted(c["results"].get("fused/sm_90a")) is None)]
    if not pairs:
        checks.append("- Attention counted / LB on gfx942 against sm_90a: "
                      "**not measured**: NOT met.")
    else:
        k, worst = max(pairs, key=lambda kv: kv[1])
        checks.append(
            f"- Attention counted / LB on gfx942 against sm_90a: worst "
            f"ratio **{worst:.3f}** (bound 1.25, at N {k[1]} d {k[2]} "
            f"{'causal' if k[3] else 'full'}; {len(pairs)} pairs"
            + (f", {untraced} without provenance" if untraced else "")
            + (f", {len(unpaired)} rows without a count on one chip: "
               + "; ".join(unpaired[:4]) if unpaired else "") + "): "
            + ("met" if worst <= 1.25 and not unpaired and not untraced
               else "NOT met") + ".")
    shares = [r for r in matrix_rows(results)
              if r["case"]["family"] in ("attention", "moe")]
    # Attention and MoE rows without a count (or without matrix flops)
    # cannot show their share: they count against the goal.
    uncounted = sum(
        1 for fam in ("attention", "moe")
        for c, chip, res in fused_rows(results, fam)
        if counted(res) is None or "matrix_flops" not in res)
    untraced = sum(1 for r in shares if not r["measured"])
    if not shares:
        checks.append("- Matrix-unit share of flops (attention, MoE): "
                      "**not measured**: NOT met.")
    else:
        low = min(shares, key=lambda r: r["share"])
        c = low["case"]
        ok = low["share"] >= 0.95 and not uncounted and not untraced
        checks.append(
            f"- Matrix-unit share of flops (attention, MoE): lowest "
            f"**{100 * low['share']:.1f}%** "
            f"({describe_case(c['family'], c['params'], c['form'])} on "
            f"{low['chip']}; goal 95%; {len(shares)} rows"
            + (f", {uncounted} without a count" if uncounted else "")
            + (f", {untraced} without provenance" if untraced else "")
            + f"): {'met' if ok else 'NOT met'}.")
    res_rows = (results.get("resources") or {}).get("rows") or []
    if res_rows:
        checks.append(spill_check(res_rows))
    device_check = read_device_check(out_path)
    checks.append(device_check_summary(device_check))

    minutes = results["total_seconds"] / 60
    head = [
        "# Performance report", "",
        "<!-- Generated by bench/run.sh; do not edit by hand. -->", "",
        f"Generated by `bench/run.sh{' --quick' if results['quick'] else ''}`"
        f" on {m['date']} — {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB, {m['os']} (load average "
        f"{m['load_average'][0]:.1f} at the start: the machine is shared), "
        f"commit `{m['commit'][:12]}`"
        f"{' with local changes' if m.get('dirty') else ''}, "
        f"ptxas {m['ptxas']}. The run took "
        f"**{minutes:.1f} minutes** ("
        + ", ".join(f"{k} {v / 60:.1f}" for k, v in
                    results["timings"].items()) + ").", "",
        ] + ([
        "Sections rerun since: " + "; ".join(
            f"{', '.join(r['sections'])} at `{r['commit'][:12]}`"
            f"{'+dirty' if r.get('dirty') else ''} on {r['date']}"
            for r in latest_partial_runs(results)) + ".", ""]
        if results.get("partial_runs") else []) + [
        "No GPU was used: traffic is counted by Iolite's emulator running "
        "the very kernels compiled for each chip, resources come from "
        "ptxas and the HSACO metadata, and the roofline is a model.", "",
        "## Checks", ""] + checks + ["",
        "## 1. Global-memory traffic", "",
        "Bytes every GPU thread loads from or stores to global memory, "
        "counted by the emulator (`iolite-compile --target=emu-<chip>`, the "
        "bundle run through its own launch code): demand traffic, without "
        "caches. Each case is compiled for `emu-sm_90a` (the H100 tiles) "
        "and, where shown, `emu-gfx942` (MI300X's).", "",
        "**Scaling.** Emulating whole layers on a CPU is slow, so each case "
        "runs at the smallest configuration with the same schedule — one "
        "batch and one kv head (attention), two blocks of channels "
        "(selective scan) or of heads (SSD) — and every kernel's counts "
        "are multiplied by the ratio of its blocks (reported / emulated). "
        "Every block of these kernels moves the same bytes; the reported "
        "configuration is compiled too, and its kernels must have the same "
        "templates and tiles (including split-KV) or the row is not scaled "
        "(³). *emulated as* gives the configuration and factor; the lower "
        "bound is computed for the reported configuration directly.", "",
        "¹ a heavy op fell back to the elemental template (one thread per "
        "output element): not the IO-aware kernel, and too slow to "
        "emulate, so not run. ² the compile or the emulation failed. "
        "³ the reduced configuration compiles to other kernels. *emu s*: "
        "host seconds of the emulated launches; *reused*: a cache hit — the "
        "same compiled kernels, runtime and emulator library, options and "
        "model as a row measured before (the emulator is deterministic); "
        "*measured*: the commit (`+dirty`: with local changes) and date of "
        "the run that counted the row, for reused rows the original run "
        "(*not recorded*: a result from before rows carried it). Method and "
        "cache key: docs/benchmarks.md.", ""]
    body = [attention, scan, ssd, moe, examples, decode_section(results),
            decode_matmul_section(results), varlen_section(results),
            dynamic_section(results),
            resources_section(results), compile_section(results, figdir),
            roofline_section(results, figdir), matrix_section(results),
            peers_section(results, figdir), harness_section(results),
            device_check_section(device_check)]
    text = "\n".join(head + [b for b in body if b])
    out_path.write_text(text.rstrip() + "\n")
