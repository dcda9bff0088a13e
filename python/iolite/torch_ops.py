"""PyTorch functions that map one-to-one to iolite's fused ops.

Use them in a torch.nn.Module where plain PyTorch cannot say what the layer
is (a selective scan is a Python loop, a MoE layer a data-dependent loop over
experts): run eagerly they compute the op's reference semantics in PyTorch
(the iolite dialect's definitions, docs/Dialect/IoliteOps.md); traced by
iolite.from_torch they become the iolite op itself.

    from iolite import torch_ops
    y = torch_ops.selective_scan(u, dt, A, B, C, D=D, z=z,
                                 delta_bias=bias, delta_softplus=True)

The eager implementations are written for clarity (loops over time, over
experts), not speed: they are the reference the tests compare with.
"""

import functools
import math

import torch
import torch.nn.functional as F
from torch import fx

__all__ = ["attention", "combine", "conv1d", "dispatch", "grouped_matmul",
           "long_conv", "rms_norm", "rotary", "router", "selective_scan",
           "ssd"]


def _traceable(fn):
    """Makes `fn` a leaf of torch.fx tracing: called on proxies it records
    one call_function node instead of tracing its body."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        for a in list(args) + list(kwargs.values()):
            if isinstance(a, fx.Proxy):
                return a.tracer.create_proxy("call_function", op, args,
                                             kwargs)
        return fn(*args, **kwargs)
    op._iolite_op = fn.__name__
    return op


def _f32(x):
    return None if x is None else x.float()


@_traceable
def attention(query, key, value, mask=None, alibi_slopes=None, scale=None,
              causal=False, window=None, softcap=None):
    """iolite.attention: [B, Hq, Sq, D] x [B, Hkv, Skv, D] -> [B, Hq, Sq, Dv],
    GQA when Hkv < Hq, f32 statistics, zeros for a query with no key."""
    b, hq, sq, d = query.shape
    hkv, skv = key.shape[1], key.shape[2]
    rep = hq // hkv
    q = query.float()
    k = key.float().repeat_interleave(rep, dim=1)
    v = value.float().repeat_interleave(rep, dim=1)
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d) if scale is None
                                      else scale)
    if softcap is not None:
        s = softcap * torch.tanh(s / softcap)
    pos_q = torch.arange(sq).view(sq, 1) + (skv - sq)
    pos_k = torch.arange(skv).view(1, skv)
    if alibi_slopes is not None:
        s = s + alibi_slopes.float().view(1, hq, 1, 1) * (pos_k - pos_q)
    keep = torch.ones(sq, skv, dtype=torch.bool)
    if causal:
        keep = keep & (pos_k <= pos_q)
    if window is not None:
        keep = keep & (pos_k > pos_q - window)
    keep = keep.expand(b, hq, sq, skv)
    if mask is not None:
        if mask.dtype == torch.bool:
            keep = keep & mask.expand(b, hq, sq, skv)
        else:
            s = s + mask.float()
    s = s.masked_fill(~keep, float("-inf"))
    m = s.amax(-1, keepdim=True)
    p = torch.exp(s - torch.where(torch.isfinite(m), m, torch.zeros_like(m)))
    p = p.masked_fill(~keep, 0.0)
    total = p.sum(-1, keepdim=True)
    p = p / torch.where(total > 0, total, torch.ones_like(total))
    return (p @ v).to(query.dtype)


@_traceable
def rms_norm(x, weight=None, epsilon=1e-5):
    """iolite.rms_norm over the last dim, statistic in f32."""
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + epsilon)
    if weight is not None:
        y = y * weight.float()
    return y.to(x.dtype)


@_traceable
def rotary(x, cos, sin, interleaved=False):
    """iolite.rotary: rotates the first R = cos.shape[-1] features of x."""
    r = cos.shape[-1]
    xr, rest = x[..., :r].float(), x[..., r:]
    if interleaved:
        pairs = xr.reshape(*xr.shape[:-1], r // 2, 2)
        rot = torch.stack((-pairs[..., 1], pairs[..., 0]), -1).flatten(-2)
    else:
        rot = torch.cat((-xr[..., r // 2:], xr[..., :r // 2]), -1)
    y = xr * cos.float() + rot * sin.float()
    return torch.cat((y.to(x.dtype), rest), -1)


@_traceable
def conv1d(x, weight, bias=None, activation="none"):
    """iolite.conv1d: depthwise causal convolution, x [B, C, L], weight
    [C, K], zeros before t = 0, f32 accumulation, optional SiLU."""
    c, k = weight.shape
    xp = F.pad(x.float(), (k - 1, 0))
    y = F.conv1d(xp, weight.float().unsqueeze(1),
                 None if bias is None else bias.float(), groups=c)
    if activation == "silu":
        y = F.silu(y)
    return y.to(x.dtype)


@_traceable
def long_conv(x, filter, D=None):
    """iolite.long_conv: y[t] = sum_{s <= t, s < K} filter[s] x[t - s]
    (+ D x[t]), per channel."""
    b, c, length = x.shape
    k = filter.shape[1]
    xf, hf = x.float(), filter.float()
    y = torch.zeros(b, c, length)
    for s in range(min(k, length)):
        y[..., s:] += hf[:, s].view(1, c, 1) * xf[..., :length - s]
    if D is not None:
        y = y + D.float().view(1, c, 1) * xf
    return y.to(x.dtype)


@_traceable
def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                   delta_softplus=False):
    """iolite.selective_scan (Mamba-1): u, delta, z [B, D, L], A [D, N],
    B and C [B, N, L], D and delta_bias [D]; the state is f32."""
    batch, dim, length = u.shape
    dt = delta.float()
    if delta_bias is not None:
        dt = dt + delta_bias.float().view(1, dim, 1)
    if delta_softplus:
        dt = F.softplus(dt)
    uf, Af, Bf, Cf = u.float(), A.float(), B.float(), C.float()
    h = torch.zeros(batch, dim, A.shape[1])
    ys = []
    for t in range(length):
        dtt = dt[:, :, t].unsqueeze(-1)
        h = torch.exp(dtt * Af) * h + dtt * Bf[:, None, :, t] * \
            uf[:, :, t].unsqueeze(-1)
        y = (h * Cf[:, None, :, t]).sum(-1)
        if D is not None:
            y = y + D.float() * uf[:, :, t]
        if z is not None:
            y = y * F.silu(z[:, :, t].float())
        ys.append(y)
    return torch.stack(ys, -1).to(u.dtype)


@_traceable
def ssd(x, dt, A, B, C, D=None, dt_bias=None, chunk_size=64,
        dt_softplus=False):
    """iolite.ssd (Mamba-2): x [B, L, H, P], dt [B, L, H], A, D, dt_bias
    [H], B and C [B, L, G, N]; `chunk_size` does not change the result."""
    batch, length, heads, p = x.shape
    groups, n = B.shape[2], B.shape[3]
    dtf = dt.float()
    if dt_bias is not None:
        dtf = dtf + dt_bias.float()
    if dt_softplus:
        dtf = F.softplus(dtf)
    rep = heads // groups
    Bh = B.float().repeat_interleave(rep, dim=2)  # [B, L, H, N]
    Ch = C.float().repeat_interleave(rep, dim=2)
    xf = x.float()
    h = torch.zeros(batch, heads, p, n)
    ys = []
    for t in range(length):
        decay = torch.exp(dtf[:, t] * A.float()).view(batch, heads, 1, 1)
        h = decay * h + dtf[:, t].view(batch, heads, 1, 1) * \
            xf[:, t].unsqueeze(-1) * Bh[:, t].unsqueeze(-2)
        y = (h * Ch[:, t].unsqueeze(-2)).sum(-1)
        if D is not None:
            y = y + D.float().view(1, heads, 1) * xf[:, t]
        ys.append(y)
    return torch.stack(ys, 1).to(x.dtype)


@_traceable
def router(logits, k, scoring="softmax", renormalize=False):
    """iolite.router: (weights [T, k] in the logits' type, i32 expert ids
    [T, k]), best first, ties to the lower expert index."""
    lf = logits.float()
    scores = torch.softmax(lf, -1) if scoring == "softmax" else \
        torch.sigmoid(lf)
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    ids = order[:, :k]
    weights = torch.gather(scores, 1, ids)
    if renormalize:
        weights = weights / weights.sum(-1, keepdim=True)
    return weights.to(logits.dtype), ids.to(torch.int32)


@_traceable
def dispatch(x, expert_ids, num_experts):
    """iolite.dispatch: the T*k (token, expert) assignments sorted stably by
    expert: (rows [T*k, D], i32 row_index [T*k], i32 offsets [E+1]); ids
    outside [0, E) sort last and belong to no expert."""
    t, k = expert_ids.shape
    flat = expert_ids.reshape(-1).long()
    key = torch.where((flat >= 0) & (flat < num_experts), flat,
                      torch.full_like(flat, num_experts))
    order = torch.sort(key, stable=True).indices
    counts = torch.stack([(key == e).sum() for e in range(num_experts)])
    offsets = torch.cat((torch.zeros(1, dtype=torch.long),
                         torch.cumsum(counts, 0)))
    return x[order // k], order.to(torch.int32), offsets.to(torch.int32)


@_traceable
def grouped_matmul(x, weight, offsets, transpose_rhs=False):
    """iolite.grouped_matmul: rows offsets[e]..offsets[e+1]-1 of x times
    weight[e] ([E, K, N], or [E, N, K] with transpose_rhs); other rows are
    zero; f32 accumulation."""
    w = weight.float()
    if transpose_rhs:
        w = w.transpose(1, 2)
    y = torch.zeros(x.shape[0], w.shape[2])
    for e in range(w.shape[0]):
        lo, hi = int(offsets[e]), int(offsets[e + 1])
        y[lo:hi] = x[lo:hi].float() @ w[e]
    return y.to(x.dtype)


@_traceable
def combine(x, row_index, weights):
    """iolite.combine: y[t] = sum_j weights[t, j] * x[s] where
    row_index[s] = t*k + j, summed in f32 in order of j."""
    t, k = weights.shape
    position = torch.empty(t * k, dtype=torch.long)
    position[row_index.long()] = torch.arange(t * k)
    rows = x.float()[position].view(t, k, -1)
    y = torch.zeros(t, x.shape[1])
    for j in range(k):
        y = y + weights[:, j:j + 1].float() * rows[:, j]
    return y.to(x.dtype)
