#ifndef LSTMKIT_SMALL_GEMM_H
#define LSTMKIT_SMALL_GEMM_H
#include <stddef.h>

/// Small-M single-precision gemm for the CPU path's per-time-step recurrent products (see small_gemm.c).
/// Row-major float32, alpha = 1, C = beta * C + product, C is not read when beta == 0.
/// Only columns [n0, n1) of C are written, so callers can split N over threads.
/// Call only when lstmkit_small_gemm_available() returned 1: NT and NN use AVX2 + FMA instructions; the packed gemm
/// has an AVX2 + FMA and an AVX-512F build (same bits), chosen at run time (lstmkit_small_gemm_isa).

/// 1 when this CPU has AVX2 and FMA (checked once, at run time), else 0.
int lstmkit_small_gemm_available(void);

/// lstmkit_small_gemm_available(), and the environment does not set LSTMKIT_CPU_SMALL_GEMM=0 (read once).
/// CPUBackend.gemm uses the small gemm only while this is 1.
int lstmkit_small_gemm_enabled(void);
/// Sets LSTMKIT_CPU_SMALL_GEMM's value (Settings.swift calls it; C reads no environment); returns whether the
/// small gemm is now on (never without AVX2+FMA).
int lstmkit_small_gemm_set_enabled(int on);

/// NT: C[M, n0..<n1] = beta * C + A[M, K] . B[N, K]^T  (C[i][j] = sum_p A[i][p] * B[j][p]).
void lstmkit_sgemm_small_nt(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k,
                            const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                            float beta, float *c, ptrdiff_t ldc);

/// NN: C[M, n0..<n1] = beta * C + A[M, K] . B[K, N]  (C[i][j] = sum_p A[i][p] * B[p][j]).
void lstmkit_sgemm_small_nn(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k,
                            const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                            float beta, float *c, ptrdiff_t ldc);

/// Floats that lstmkit_pack_b needs for op(B) [K, N]: ceil(N / 16) * 16 * K.
ptrdiff_t lstmkit_packed_b_count(ptrdiff_t k, ptrdiff_t n);

/// Packs columns [n0, n1) of op(B) [K, N] (B[N, K] when trans, else B[K, N], leading dimension ldb) into panels
/// of 16 columns, each K x 16 contiguous: bp[(j / 16) * K * 16 + p * 16 + j % 16] = op(B)[p][j], the last
/// panel zero padded. n0 is a multiple of 16 (callers split the panels over threads).
void lstmkit_pack_b(int trans, ptrdiff_t k, ptrdiff_t n, ptrdiff_t n0, ptrdiff_t n1,
                    const float *b, ptrdiff_t ldb, float *bp);

/// Packed: C[M, n0..<n1] = beta * C + A[M, K] . op(B), op(B) [K, N] packed by lstmkit_pack_b. n0 is a multiple
/// of 16. For a B that many gemms share (the recurrent weight, once per pass, used at every time step).
/// Runs the build lstmkit_small_gemm_isa() names; both builds give the same bits (each C entry is one FMA chain over
/// k = 0..K-1 in order, then beta).
void lstmkit_sgemm_packed(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                          const float *bp, float beta, float *c, ptrdiff_t ldc);

/// 1 when this CPU has AVX2, FMA and AVX-512F (checked at run time), else 0.
int lstmkit_small_gemm_avx512_available(void);
/// 1 when CPUBackend's big products (M > 32) should run the packed gemm rather than cblas: the small gemm is on, its
/// AVX-512F build runs, and the CPU is not AMD family 25 (Zen 4 splits 512-bit FMAs into two 256-bit halves; with AVX2
/// throughput the packed tile ran the weight gradients 15% slower than OpenBLAS: docs/decisions/0026).
int lstmkit_packed_big_products(void);

/// The packed gemm with A given by strides: A[i][p] at a[i * ars + p * acs]. (lda, 1) is lstmkit_sgemm_packed;
/// (1, lda) reads A^T stored [K, M] (the weight gradients dW = dG^T . X without a transpose). Same tiles, same bits.
void lstmkit_sgemm_packed_strided(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t ars,
                                  ptrdiff_t acs, const float *bp, float beta, float *c, ptrdiff_t ldc);

/// The packed gemm's build: 2 AVX-512F (the default where the CPU has it), 1 AVX2 + FMA (0 off x86).
int lstmkit_small_gemm_isa(void);
/// Caps the packed gemm's build (Settings.swift calls it for LSTMKIT_CPU_ISA; C reads no environment): 2 allows
/// AVX-512F, 0 or 1 take AVX2 + FMA (there is no baseline build; LSTMKIT_CPU_SMALL_GEMM=0 turns the small gemm off).
/// Returns the build now in use (never above what the CPU has).
int lstmkit_small_gemm_set_isa(int isa);

/// The two builds of lstmkit_sgemm_packed, for tests and A/B measurements. The AVX-512F one only when
/// lstmkit_small_gemm_avx512_available() returned 1.
void lstmkit_sgemm_packed_avx2(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                               const float *bp, float beta, float *c, ptrdiff_t ldc);
void lstmkit_sgemm_packed_avx512(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                 const float *bp, float beta, float *c, ptrdiff_t ldc);
#endif
