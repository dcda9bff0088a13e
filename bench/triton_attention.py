"""A FlashAttention-2 forward kernel in Triton, the peer Iolite's attention
kernel is compared with (compiled ahead of time for an explicit target: no
GPU is needed).

This is the algorithm of Triton's fused-attention tutorial (FlashAttention-2
forward: one program per query block and (batch, head), K/V blocks streamed
with an online softmax in base 2, the output normalised once at the end),
written for this benchmark; the tutorial file itself is not shipped by any
package. Its launch configuration is the tutorial's for these shapes:
BLOCK_M 128, BLOCK_N 64, 8 warps at head_dim 128 (4 at 64), 3 pipeline
stages on NVIDIA and 1 on AMD. Run by bench/peers.py inside bench/.venv.
"""

import triton
import triton.language as tl


@triton.jit
def flash_attention_fwd(Q, K, V, O, sm_scale, seq_len, stride_b, stride_h,
                        stride_s, HEADS: tl.constexpr, HEAD_DIM: tl.constexpr,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                        CAUSAL: tl.constexpr):
    block = tl.program_id(0)
    bh = tl.program_id(1)
    offset = (bh // HEADS).to(tl.int64) * stride_b + \
        (bh % HEADS).to(tl.int64) * stride_h
    rows = block * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, HEAD_DIM)
    q = tl.load(Q + offset + rows[:, None] * stride_s + dims[None, :])
    # exp(x * scale) = exp2(x * scale * log2(e)).
    scale = sm_scale * 1.4426950408889634
    row_max = tl.full([BLOCK_M], float("-inf"), tl.float32)
    row_sum = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    stop = (block + 1) * BLOCK_M if CAUSAL else seq_len
    for first in range(0, stop, BLOCK_N):
        keys = first + tl.arange(0, BLOCK_N)
        k_t = tl.load(K + offset + keys[None, :] * stride_s + dims[:, None])
        s = tl.dot(q, k_t) * scale
        if CAUSAL:
            s = tl.where(rows[:, None] >= keys[None, :], s, float("-inf"))
        new_max = tl.maximum(row_max, tl.max(s, 1))
        p = tl.math.exp2(s - new_max[:, None])
        rescale = tl.math.exp2(row_max - new_max)
        row_sum = row_sum * rescale + tl.sum(p, 1)
        v = tl.load(V + offset + keys[:, None] * stride_s + dims[None, :])
        acc = acc * rescale[:, None] + tl.dot(p.to(v.dtype), v)
        row_max = new_max
    out = acc / row_sum[:, None]
    tl.store(O + offset + rows[:, None] * stride_s + dims[None, :],
             out.to(O.dtype.element_ty))


def launch_config(head_dim, backend):
    """The tutorial's configuration for these shapes."""
    return {"BLOCK_M": 128, "BLOCK_N": 64,
            "num_warps": 8 if head_dim >= 128 else 4,
            "num_stages": 3 if backend == "cuda" else 1}


def compile_for(target, heads, head_dim, causal, dtype="fp16"):
    """triton.compile for `target` (a GPUTarget), specialised as the JIT
    would specialise a launch on contiguous [B, H, S, D] tensors: 16-byte
    aligned pointers and strides divisible by 16."""
    from triton.compiler import ASTSource
    cfg = launch_config(head_dim, target.backend)
    signature = {"Q": f"*{dtype}", "K": f"*{dtype}", "V": f"*{dtype}",
                 "O": f"*{dtype}", "sm_scale": "fp32", "seq_len": "i32",
                 "stride_b": "i32", "stride_h": "i32", "stride_s": "i32",
                 "HEADS": "constexpr", "HEAD_DIM": "constexpr",
                 "BLOCK_M": "constexpr", "BLOCK_N": "constexpr",
                 "CAUSAL": "constexpr"}
    constexprs = {"HEADS": heads, "HEAD_DIM": head_dim,
                  "BLOCK_M": cfg["BLOCK_M"], "BLOCK_N": cfg["BLOCK_N"],
                  "CAUSAL": causal}
    aligned = [["tt.divisibility", 16]]
    attrs = {(i,): aligned for i in (0, 1, 2, 3, 5, 6, 7, 8)}
    src = ASTSource(fn=flash_attention_fwd, signature=signature,
                    constexprs=constexprs, attrs=attrs)
    kernel = triton.compile(src, target=target,
                            options={"num_warps": cfg["num_warps"],
                                     "num_stages": cfg["num_stages"]})
    return kernel, cfg
