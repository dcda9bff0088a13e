// RUN: iolite-compile %s --target=sm_80 --emit=ptx | FileCheck %s --check-prefix=PTX
// RUN: iolite-compile %s --target=gfx90a --emit=amdgcn | FileCheck %s --check-prefix=GFX90A
// RUN: iolite-compile %s --target=gfx942 --emit=amdgcn | FileCheck %s --check-prefix=GFX942

// f16 and bf16 matmuls (ragged M 200, N 136 against the 128x128x32 tile)
// after the back ends, on the matrix units. NVIDIA: the K tiles move from
// global to shared memory with 16-byte cp.async copies (tile 0 before the
// loop; in the loop, tile k+1's copies are issued before tile k's products
// and waited for after them, then one barrier), A fragments through
// ldmatrix.x4, B ([k][n] in shared memory) through ldmatrix.x2.trans, into
// mma.sync m16n8k16 with f32 accumulators; no local memory. AMD: the MFMA
// of the chip's ISA (gfx90a's bf16_1k form), no scratch spills.

// PTX-LABEL: .visible .entry mm_k0_matmul(
// PTX-NOT: .local
// PTX: cp.async.cg.shared.global [%{{.*}}], [%{{.*}}], 16, %r{{[0-9]+}};
// PTX: cp.async.commit_group;
// PTX-NEXT: cp.async.wait_group 0;
// PTX-NEXT: bar.sync 0;
// PTX: [[LOOP:\$L__BB0_[0-9]+]]:
// PTX: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX: ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX: cp.async.commit_group;
// PTX-NEXT: cp.async.wait_group 0;
// PTX-NEXT: bar.sync 0;
// The next tile's copies (placed after the loop's body).
// PTX: cp.async.cg.shared.global
// PTX: cp.async.commit_group;
// PTX-NEXT: bra.uni [[LOOP]];
// PTX: st.global.b16
// PTX-LABEL: .visible .entry mm_k1_matmul(
// PTX-NOT: .local
// PTX: cp.async.cg.shared.global
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32

// GFX90A-LABEL: mm_k0_matmul:
// GFX90A: v_mfma_f32_32x32x8f16
// GFX90A-LABEL: mm_k1_matmul:
// GFX90A: v_mfma_f32_32x32x8bf16_1k
// GFX90A-NOT: scratch_store
// GFX90A: .private_segment_fixed_size: 0
// GFX90A: .vgpr_spill_count: 0
// GFX90A: .private_segment_fixed_size: 0
// GFX90A: .vgpr_spill_count: 0

// GFX942-LABEL: mm_k0_matmul:
// GFX942: v_mfma_f32_32x32x8_f16
// GFX942-LABEL: mm_k1_matmul:
// GFX942: v_mfma_f32_32x32x8_bf16
// GFX942-NOT: scratch_store
// GFX942: .vgpr_spill_count: 0
// GFX942: .vgpr_spill_count: 0

func.func @mm(%a: tensor<200x192xf16>, %b: tensor<192x136xf16>, %c: tensor<200x192xbf16>, %d: tensor<192x136xbf16>) -> (tensor<200x136xf16>, tensor<200x136xbf16>) {
  %x = iolite.matmul %a, %b : tensor<200x192xf16>, tensor<192x136xf16>
  %y = iolite.matmul %c, %d : tensor<200x192xbf16>, tensor<192x136xbf16>
  return %x, %y : tensor<200x136xf16>, tensor<200x136xbf16>
}
