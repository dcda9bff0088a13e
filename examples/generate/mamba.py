"""A small Mamba language model for the generation example: its
configuration, random weights from a seed, a PyTorch reference module, and
the Iolite step function (MLIR) that serves both prefill and decode.

The step function takes `steps` new tokens of each of `batch` sequences
(symbolic dims) with the recurrent state every layer carried out of the
tokens before them, and returns the logits of every new token and the
states after them:

    step(tokens i32[batch, steps],
         conv_state_0 f32[batch, INNER, CONV - 1], ssm_state_0 f32[batch,
         INNER, STATE], ..., one pair per layer)
      -> (logits f32[batch, steps, VOCAB], the states after the step...)

Zeros start a sequence; a decode step is `steps = 1`.
"""

import numpy as np

import common

VOCAB = 128
DIM = 32
INNER = 64
STATE = 8
CONV = 4
DT_RANK = 4
LAYERS = 2
EPS = 1e-5
MAX_BATCH = 4
MAX_STEPS = 32
# The INT64_MAX limit of a slice that keeps a dynamic dim whole.
TO_END = 9223372036854775807


def weights(seed=0):
    """Random weights (float32), as a dict of name -> array."""
    rng = np.random.default_rng(seed)

    def w(*shape, scale=None):
        scale = scale if scale is not None else shape[-1] ** -0.5
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    p = {"embed": w(VOCAB, DIM, scale=1.0),
         "final_norm": (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32),
         "lm_head": w(VOCAB, DIM)}
    for layer in range(LAYERS):
        p[f"{layer}.norm"] = (1 + 0.1 * rng.standard_normal(DIM)).astype(
            np.float32)
        p[f"{layer}.w_in"] = w(2 * INNER, DIM)
        p[f"{layer}.conv_w"] = w(INNER, CONV, scale=0.5)
        p[f"{layer}.conv_b"] = w(INNER, scale=0.1)
        p[f"{layer}.w_x"] = w(DT_RANK + 2 * STATE, INNER)
        p[f"{layer}.w_dt"] = w(INNER, DT_RANK)
        # dt = softplus(... + dt_bias) around 0.01..0.1, as Mamba initialises.
        p[f"{layer}.dt_bias"] = np.log(np.expm1(
            rng.uniform(0.01, 0.1, INNER))).astype(np.float32)
        # A = -exp(A_log) = -(1..STATE), Mamba's S4D-real initialisation.
        p[f"{layer}.A"] = -np.tile(np.arange(1, STATE + 1, dtype=np.float32),
                                   (INNER, 1))
        p[f"{layer}.D"] = np.ones(INNER, np.float32)
        p[f"{layer}.w_out"] = w(DIM, INNER)
    return p


# --- PyTorch reference ---------------------------------------------------------
def reference_module(p):
    """A plain PyTorch Mamba (no state carried): logits of every position
    of one sequence, [T] -> [T, VOCAB]; the scan is a loop over time."""
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(v) for k, v in p.items()}

    def rms_norm(x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * w

    class Mamba(torch.nn.Module):
        def forward(self, tokens):
            n = tokens.shape[0]
            x = t["embed"][tokens]
            for layer in range(LAYERS):
                g = lambda name: t[f"{layer}.{name}"]
                h = rms_norm(x, g("norm"))
                xs, z = (h @ g("w_in").T).split(INNER, dim=-1)
                # Causal depthwise conv over time, then SiLU.
                padded = F.pad(xs.T, (CONV - 1, 0))
                xc = F.silu(F.conv1d(padded[None], g("conv_w")[:, None, :],
                                     g("conv_b"), groups=INNER)[0].T)
                dbl = xc @ g("w_x").T
                dt, B, C = dbl.split([DT_RANK, STATE, STATE], dim=-1)
                dt = F.softplus(dt @ g("w_dt").T + g("dt_bias"))
                state = torch.zeros(INNER, STATE)
                ys = []
                for i in range(n):
                    state = (torch.exp(dt[i][:, None] * g("A")) * state
                             + dt[i][:, None] * B[i][None, :] * xc[i][:, None])
                    ys.append(state @ C[i] + g("D") * xc[i])
                y = torch.stack(ys) * F.silu(z)
                x = x + y @ g("w_out").T
            return rms_norm(x, t["final_norm"]) @ t["lm_head"].T

    return Mamba()


def reference_generate(p, prompts, new_tokens):
    """Greedy decoding of each prompt on its own with the reference module
    (common.reference_generate)."""
    return common.reference_generate(reference_module(p), prompts,
                                     new_tokens)


# --- The Iolite step function ----------------------------------------------------
def step_mlir(p):
    """The step function's MLIR text (weights as constants)."""
    T = lambda *dims: "tensor<" + "x".join(str(d) for d in dims) + "xf32>"
    seq = lambda width: f"tensor<?x?x{width}xf32>"     # [batch, steps, w]
    chan = lambda width: f"tensor<?x{width}x?xf32>"    # [batch, w, steps]
    conv_state = f"tensor<?x{INNER}x{CONV - 1}xf32>"
    ssm_state = f"tensor<?x{INNER}x{STATE}xf32>"
    args = ['%tokens: tensor<?x?xi32> {iolite.dims = ["batch", "steps"]}']
    for layer in range(LAYERS):
        args += [f'%conv{layer}: {conv_state} {{iolite.dims = '
                 '["batch", "", ""]}',
                 f'%ssm{layer}: {ssm_state} {{iolite.dims = '
                 '["batch", "", ""]}']
    results = [seq(VOCAB)] + [conv_state, ssm_state] * LAYERS
    lines = [
        "// Generated by examples/generate/mamba.py. Do not edit.",
        "func.func @step(" + ",\n    ".join(args) + ")",
        "    -> (" + ", ".join(results) + ")",
        "    attributes {iolite.dim_bounds = {"
        f"batch = array<i64: 1, {MAX_BATCH}>, "
        f"steps = array<i64: 1, {MAX_STEPS}>}}}} {{",
    ]
    for name, value in p.items():
        lines.append(common.constant("w_" + name.replace(".", "_"), value))
    lines.append(f"  %x0 = iolite.gather %w_embed[%tokens] {{axis = 0 : i64}}"
                 f" : {T(VOCAB, DIM)}, tensor<?x?xi32>")
    x = "%x0"
    states = []
    dbl = DT_RANK + 2 * STATE
    for l in range(LAYERS):
        w = lambda n: f"%w_{l}_{n}"
        lines += [
            f"  %h{l} = iolite.rms_norm {x} weight({w('norm')} : {T(DIM)})"
            f" {{epsilon = {EPS:e} : f32}} : {seq(DIM)}",
            f"  %xz{l} = iolite.matmul %h{l}, {w('w_in')} {{transpose_rhs}}"
            f" : {seq(DIM)}, {T(2 * INNER, DIM)}",
            f"  %xzt{l} = iolite.transpose %xz{l} [0, 2, 1] : {seq(2 * INNER)}",
            f"  %xs{l} = iolite.slice %xzt{l} [0, 0, 0] to [{TO_END}, {INNER},"
            f" {TO_END}] : {chan(2 * INNER)}",
            f"  %z{l} = iolite.slice %xzt{l} [0, {INNER}, 0] to [{TO_END},"
            f" {2 * INNER}, {TO_END}] : {chan(2 * INNER)}",
            f"  %xc{l}, %cs{l} = iolite.conv1d_with_state %xs{l}, "
            f"{w('conv_w')}, %conv{l} bias({w('conv_b')} : {T(INNER)})"
            f" activation = silu : {chan(INNER)}, {T(INNER, CONV)},"
            f" {conv_state}",
            f"  %xct{l} = iolite.transpose %xc{l} [0, 2, 1] : {chan(INNER)}",
            f"  %dbl{l} = iolite.matmul %xct{l}, {w('w_x')} {{transpose_rhs}}"
            f" : {seq(INNER)}, {T(dbl, INNER)}",
            f"  %dti{l} = iolite.slice %dbl{l} [0, 0, 0] to [{TO_END},"
            f" {TO_END}, {DT_RANK}] : {seq(dbl)}",
            f"  %b{l} = iolite.slice %dbl{l} [0, 0, {DT_RANK}] to [{TO_END},"
            f" {TO_END}, {DT_RANK + STATE}] : {seq(dbl)}",
            f"  %c{l} = iolite.slice %dbl{l} [0, 0, {DT_RANK + STATE}] to"
            f" [{TO_END}, {TO_END}, {dbl}] : {seq(dbl)}",
            f"  %dtl{l} = iolite.matmul %dti{l}, {w('w_dt')} {{transpose_rhs}}"
            f" : {seq(DT_RANK)}, {T(INNER, DT_RANK)}",
            f"  %dt{l} = iolite.transpose %dtl{l} [0, 2, 1] : {seq(INNER)}",
            f"  %bt{l} = iolite.transpose %b{l} [0, 2, 1] : {seq(STATE)}",
            f"  %ct{l} = iolite.transpose %c{l} [0, 2, 1] : {seq(STATE)}",
            f"  %y{l}, %hs{l} = iolite.selective_scan_with_state %xc{l},"
            f" %dt{l}, {w('A')}, %bt{l}, %ct{l}, %ssm{l}"
            f" D({w('D')} : {T(INNER)}) z(%z{l} : {chan(INNER)})"
            f" delta_bias({w('dt_bias')} : {T(INNER)}) {{delta_softplus}}"
            f" : {chan(INNER)}, {chan(INNER)}, {T(INNER, STATE)},"
            f" {chan(STATE)}, {chan(STATE)}, {ssm_state}",
            f"  %yt{l} = iolite.transpose %y{l} [0, 2, 1] : {chan(INNER)}",
            f"  %o{l} = iolite.matmul %yt{l}, {w('w_out')} {{transpose_rhs}}"
            f" : {seq(INNER)}, {T(DIM, INNER)}",
            f"  %x{l + 1} = iolite.add {x}, %o{l} : {seq(DIM)}, {seq(DIM)}",
        ]
        x = f"%x{l + 1}"
        states += [f"%cs{l}", f"%hs{l}"]
    lines += [
        f"  %hf = iolite.rms_norm {x} weight(%w_final_norm : {T(DIM)})"
        f" {{epsilon = {EPS:e} : f32}} : {seq(DIM)}",
        f"  %logits = iolite.matmul %hf, %w_lm_head {{transpose_rhs}}"
        f" : {seq(DIM)}, {T(VOCAB, DIM)}",
        "  return %logits, " + ", ".join(states) + " : " + ", ".join(results),
        "}",
    ]
    return "\n".join(lines) + "\n"
