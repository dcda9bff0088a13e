"""The attention of bench/onnx_models.py as a TileLang kernel, compiled for
a GPU architecture on a machine without a GPU (peers.py).

FlashAttention-2's forward in TileLang's tile language, written along the
lines of TileLang's own flash-attention example (examples/flash_attention in
tile-ai/tilelang): one block per (query tile, head, batch), Q in shared
memory, K and V tiles pipelined, online softmax in registers. Tile 128x64
with 128 threads, as the example's default configuration.

    python tilelang_attention.py ARCH HEADS HEAD_DIM SEQ CAUSAL OUT_PREFIX

writes OUT_PREFIX.cu (TileLang's generated CUDA) and prints one JSON line:
the configuration and the seconds taken to import and to lower. Registers,
spills and shared memory come from ptxas on the generated code (peers.py).
"""

import json
import sys
import time

t0 = time.perf_counter()
import tilelang  # noqa: E402
import tilelang.language as T  # noqa: E402

T_IMPORT = time.perf_counter() - t0

BLOCK_M, BLOCK_N, THREADS, STAGES = 128, 64, 128, 1


def flash_attention(batch, heads, seq, dim, causal):
    scale = (1.0 / dim) ** 0.5 * 1.44269504  # log2(e): exp2 below
    shape = [batch, seq, heads, dim]
    dtype, acc = "float16", "float"

    @T.prim_func
    def main(Q: T.Tensor(shape, dtype), K: T.Tensor(shape, dtype),
             V: T.Tensor(shape, dtype), O: T.Tensor(shape, dtype)):
        with T.Kernel(T.ceildiv(seq, BLOCK_M), heads, batch,
                      threads=THREADS) as (bx, by, bz):
            q_s = T.alloc_shared([BLOCK_M, dim], dtype)
            k_s = T.alloc_shared([BLOCK_N, dim], dtype)
            v_s = T.alloc_shared([BLOCK_N, dim], dtype)
            o_s = T.alloc_shared([BLOCK_M, dim], dtype)
            s = T.alloc_fragment([BLOCK_M, BLOCK_N], acc)
            p = T.alloc_fragment([BLOCK_M, BLOCK_N], dtype)
            o = T.alloc_fragment([BLOCK_M, dim], acc)
            m = T.alloc_fragment([BLOCK_M], acc)
            m_prev = T.alloc_fragment([BLOCK_M], acc)
            alpha = T.alloc_fragment([BLOCK_M], acc)
            row_sum = T.alloc_fragment([BLOCK_M], acc)
            l = T.alloc_fragment([BLOCK_M], acc)

            T.copy(Q[bz, bx * BLOCK_M:(bx + 1) * BLOCK_M, by, :], q_s)
            T.fill(o, 0)
            T.fill(l, 0)
            T.fill(m, -T.infinity(acc))
            steps = (T.min(T.ceildiv(seq, BLOCK_N),
                           T.ceildiv((bx + 1) * BLOCK_M, BLOCK_N))
                     if causal else T.ceildiv(seq, BLOCK_N))
            for kt in T.Pipelined(steps, num_stages=STAGES):
                T.copy(K[bz, kt * BLOCK_N:(kt + 1) * BLOCK_N, by, :], k_s)
                if causal:
                    for i, j in T.Parallel(BLOCK_M, BLOCK_N):
                        s[i, j] = T.if_then_else(
                            bx * BLOCK_M + i >= kt * BLOCK_N + j, 0,
                            -T.infinity(acc))
                else:
                    T.clear(s)
                T.gemm(q_s, k_s, s, transpose_B=True,
                       policy=T.GemmWarpPolicy.FullRow)
                T.copy(m, m_prev)
                T.fill(m, -T.infinity(acc))
                T.reduce_max(s, m, dim=1, clear=False)
                for i in T.Parallel(BLOCK_M):
                    alpha[i] = T.exp2(m_prev[i] * scale - m[i] * scale)
                for i, j in T.Parallel(BLOCK_M, dim):
                    o[i, j] *= alpha[i]
                for i, j in T.Parallel(BLOCK_M, BLOCK_N):
                    s[i, j] = T.exp2(s[i, j] * scale - m[i] * scale)
                T.copy(s, p)
                T.copy(V[bz, kt * BLOCK_N:(kt + 1) * BLOCK_N, by, :], v_s)
                T.gemm(p, v_s, o, policy=T.GemmWarpPolicy.FullRow)
                T.reduce_sum(s, row_sum, dim=1)
                for i in T.Parallel(BLOCK_M):
                    l[i] = l[i] * alpha[i] + row_sum[i]
            for i, j in T.Parallel(BLOCK_M, dim):
                o[i, j] /= l[i]
            T.copy(o, o_s)
            T.copy(o_s, O[bz, bx * BLOCK_M:(bx + 1) * BLOCK_M, by, :])

    return main


def main():
    arch, heads, dim, seq, causal, out = sys.argv[1:7]
    func = flash_attention(1, int(heads), int(seq), int(dim), causal == "1")
    t1 = time.perf_counter()
    # Lowering to CUDA source needs no GPU when the target names the arch.
    target = {"kind": "cuda", "arch": arch}
    from tilelang import tvm
    with tvm.target.Target(target):
        artifact = tilelang.lower(func, target=target)
    seconds = time.perf_counter() - t1
    src = getattr(artifact, "kernel_source", None)
    if src is None:
        src = artifact.rt_mod.imported_modules[0].get_source()
    open(out + ".cu", "w").write(src)
    print(json.dumps({"import_s": T_IMPORT, "lower_s": seconds,
                      "version": tilelang.__version__,
                      "config": {"block_m": BLOCK_M, "block_n": BLOCK_N,
                                 "threads": THREADS, "stages": STAGES}}))


if __name__ == "__main__":
    main()
