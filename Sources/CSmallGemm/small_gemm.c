// Float32 gemm kernels of LSTMKit's CPU path: small-M (AVX2 + FMA) and packed (AVX2 + FMA or AVX-512F), chosen at run time.
//
// What it computes (row-major, alpha = 1, beta any value; C is not read when beta == 0):
//   NT  C[M, N] = beta * C + A[M, K] . B[N, K]^T   forward recurrent product  r = h . W_hh^T
//   NN  C[M, N] = beta * C + A[M, K] . B[K, N]     backward recurrent product dh += dG . W_hh
// with any leading dimensions lda, ldb, ldc (>= the row widths), over the columns [n0, n1) of C only, so
// the Swift side (CPUBackend.gemm) splits N over its two pool threads exactly as it splits cblas calls.
//
// Why: in the LSTM loop M is the batch (16-64) and B is the 4H x H recurrent weight (4 MB for H = 512).
// OpenBLAS packs all of B on every call, which for M = 16 costs about as much as the arithmetic. These
// kernels read A and B where they lie, without packing:
//   NT  dot-product form. A register tile of NT_MR rows of A by NT_NR rows of B (4 x 3: 12 ymm
//       accumulators), 8 floats along K per step (one load per A row and per B row, 12 FMAs), the K % 8
//       tail with masked loads, horizontal sums at the end. Loop order: B row blocks outside, A row blocks
//       inside, so a block of B (3 rows x K) stays in L1 while every row of A (small: M x K) passes it.
//   NN  broadcast form. A register tile of NN_MR = 6 rows x 16 columns of C (12 ymm accumulators): per
//       k, two loads of B's row k, six broadcasts of A[i][k], 12 FMAs. Columns by panels of 16 (a last
//       panel of 1-15 with masked loads/stores). Loop order: K chunks of NN_KC rows of B outside, column
//       panels, then row blocks of A inside: a chunk's rows of B are read left to right (prefetch-friendly;
//       panels of all K rows, 2 KB apart, ran 20% slower than cblas with two threads reading W from L3),
//       each panel chunk (NN_KC x 64 bytes) stays in L1 while the row blocks of A pass it, and C (small) is
//       loaded, updated and stored once per chunk.
//   Packed  C[M, N] = beta * C + A[M, K] . op(B) with op(B) packed once (lstmkit_pack_b) into panels of 16
//       columns, each K x 16 contiguous and zero padded. For the LSTM / GRU time loop (StepOperand): the
//       recurrent weight is the same at every step, so it is packed once per pass and every step's product
//       reads the panels front to back: no horizontal sums (NT), no 2 KB-strided rows of B (NN, whose rows
//       alias in L1), no packing per call (cblas). Register tile NN_MR = 6 rows x 16 columns (12 ymm
//       accumulators): per k, two loads of the panel, six broadcasts of A, 12 FMAs, over all of K; panels
//       outside, row blocks inside. One thread, data in cache, 106-116 GFLOP/s on the LSTM shapes where the
//       small NT/NN kernels ran 87-104 and cblas 36-93 (docs/decisions/0006-packed-step-operand.md).
//   Packed, AVX-512F (the same panels and API; lstmkit_sgemm_packed runs it when the CPU has avx512f, unless
//       lstmkit_small_gemm_set_isa capped it, which Settings.swift does for LSTMKIT_CPU_ISA=avx2|baseline): one zmm
//       is one panel row. M > 1: a register tile of 8 rows x 3 panels (48 columns, 24 zmm accumulators): per k,
//       three panel loads, eight broadcasts of A, 24 FMAs. M = 1 (the batch-1 streaming step): one row x 8 panels
//       (8 independent FMA chains; one panel at a time would wait on the FMA latency). Column groups outside, row
//       blocks inside; the last group has fewer panels, its last panel a 1-16 lane mask for C (masked loads for
//       beta, masked stores); rows M % 8 by the same code with fewer rows. Each C element is one FMA chain over
//       k = 0..K-1 in order, then beta * C + acc as one FMA, exactly as in the AVX2 tile, so the two builds give the
//       same bits (K is never split; SmallGemmTests.testPackedAVX512BitsEqualAVX2).
//       One thread, data in cache, Zen 5: 250-260 GFLOP/s for M = 16, 32, 64 at K = 128, 256, 512, N = 4K, where
//       the AVX2 tile ran 121-131 (x1.96-2.16); M = 1: x1.4-2.0 (a gemv reading 0.25-4 MB of panels: bandwidth
//       bound). Other tiles measured within 5% (6 x 4, 8 x 2, 6 x 3), 4 x 4 and 4 x 3 up to 8% slower
//       (docs/decisions/0027-avx512-packed-gemm.md).
//   Packed, strided A (lstmkit_sgemm_packed_strided): both packed builds read A[i][p] at a[i * ars + p * acs], so
//       (1, lda) takes A^T stored [K, M] as it lies. CPUBackend.gemm's big products (M > 32: the input projection
//       X . W_ih^T, the weight gradients dG^T . X) pack op(B) per call in chunks of 512 along K and run this by
//       blocks of about 96 rows on the pool's threads (docs/decisions/0026-packed-big-products.md).
//   Row edges (M % tile) use the same code with fewer rows (each (rows, columns) variant is a separate,
//   fully unrolled function).
//
// How it is benchmarked: two C harnesses (not in the tree; see docs/decisions/0005-small-m-cpu-gemm.md) on
// the LSTM shapes against cblas_sgemm (OpenBLAS, one thread): one thread, best of 200, checked against cblas;
// and two threads each computing half of N as CPUWorkerPool does, cblas and these kernels alternating call
// by call, median of 1000. Then lstm-bench --device cpu with LSTMKIT_CPU_SMALL_GEMM=0 / 1, interleaved.
// The AVX-512F packed build: a third harness (not in the tree; docs/decisions/0027-avx512-packed-gemm.md) with both
// builds on the same packed panels, alternating call batch by call batch, median of 101 on one pinned thread, and
// a bit comparison of the two over 5016 shapes; then lstm-bench with LSTMKIT_CPU_ISA=avx2 against the default.
// Accuracy: each C entry is a float32 sum over K in a different order than OpenBLAS's, so results differ
// from cblas by rounding only (Tests/LSTMKitTests/SmallGemmTests.swift).
#include "small_gemm.h"
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

// Tile sizes of the AVX2 kernels (measured on Zen 4, see the header comment): NT 4 rows of A x 3 rows of B; NN 6 rows x 16
// columns, K chunks of 256. (3 x 4 for NT spills registers and runs at half the speed; K chunks for NT, which
// would keep A in L1, did not help.)
#define NT_MR 4
#define NT_NR 3
#define NN_MR 6
#define NN_KC 256

int lstmkit_small_gemm_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// LSTMKIT_CPU_SMALL_GEMM reaches here through lstmkit_small_gemm_set_enabled (Settings.swift); C reads no environment.
static _Atomic int small_gemm_wanted = 1;
static _Atomic int small_gemm_cached = -1;  // computed once (two threads racing here compute the same value)

int lstmkit_small_gemm_enabled(void) {
    int v = atomic_load_explicit(&small_gemm_cached, memory_order_relaxed);
    if (v < 0) {
        v = lstmkit_small_gemm_available() && small_gemm_wanted;
        atomic_store_explicit(&small_gemm_cached, v, memory_order_relaxed);
    }
    return v;
}

int lstmkit_small_gemm_set_enabled(int on) {
    small_gemm_wanted = on ? 1 : 0;
    int v = lstmkit_small_gemm_available() && small_gemm_wanted;
    atomic_store_explicit(&small_gemm_cached, v, memory_order_relaxed);
    return v;
}

// mask_table + 8 - r: the first r lanes on (r = 0...8).
static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

TARGET INLINE __m256i lanes(ptrdiff_t r) { return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - r)); }

TARGET INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// MARK: NT

// One MR x NR tile: C[i][j] = beta * C[i][j] + dot(A row i, B row j) over [0, k).
TARGET INLINE void nt_tile(const int MR, const int NR, ptrdiff_t k, const float *a, ptrdiff_t lda,
                           const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {
    __m256 acc[NT_MR][NT_NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
    ptrdiff_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 bv[NT_NR];
        for (int j = 0; j < NR; j++) bv[j] = _mm256_loadu_ps(b + j * ldb + p);
        for (int i = 0; i < MR; i++) {
            __m256 av = _mm256_loadu_ps(a + i * lda + p);
            for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    if (p < k) {  // K % 8 tail: masked loads (masked-off lanes read as 0 and touch no memory)
        __m256i mask = lanes(k - p);
        __m256 bv[NT_NR];
        for (int j = 0; j < NR; j++) bv[j] = _mm256_maskload_ps(b + j * ldb + p, mask);
        for (int i = 0; i < MR; i++) {
            __m256 av = _mm256_maskload_ps(a + i * lda + p, mask);
            for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            float s = hsum(acc[i][j]);
            float *cp = c + i * ldc + j;
            *cp = beta == 0.0f ? s : beta * *cp + s;
        }
}

typedef void (*nt_fn)(ptrdiff_t, const float *, ptrdiff_t, const float *, ptrdiff_t, float, float *, ptrdiff_t);
#define NT_VARIANT(MR, NR)                                                                                   \
    TARGET static void nt_##MR##_##NR(ptrdiff_t k, const float *a, ptrdiff_t lda, const float *b,          \
                                      ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) {                 \
        nt_tile(MR, NR, k, a, lda, b, ldb, beta, c, ldc);                                                   \
    }
NT_VARIANT(1, 1) NT_VARIANT(1, 2) NT_VARIANT(1, 3)
NT_VARIANT(2, 1) NT_VARIANT(2, 2) NT_VARIANT(2, 3)
NT_VARIANT(3, 1) NT_VARIANT(3, 2) NT_VARIANT(3, 3)
NT_VARIANT(4, 1) NT_VARIANT(4, 2) NT_VARIANT(4, 3)
// [rows - 1][B rows - 1]
static const nt_fn nt_variants[NT_MR][NT_NR] = {
    {nt_1_1, nt_1_2, nt_1_3}, {nt_2_1, nt_2_2, nt_2_3}, {nt_3_1, nt_3_2, nt_3_3}, {nt_4_1, nt_4_2, nt_4_3}};

TARGET void lstmkit_sgemm_small_nt(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k,
                                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                                   float beta, float *c, ptrdiff_t ldc) {
    for (ptrdiff_t j = n0; j < n1; j += NT_NR) {
        ptrdiff_t nr = n1 - j < NT_NR ? n1 - j : NT_NR;
        for (ptrdiff_t i = 0; i < m; i += NT_MR) {
            ptrdiff_t mr = m - i < NT_MR ? m - i : NT_MR;
            nt_variants[mr - 1][nr - 1](k, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc);
        }
    }
}

// MARK: NN

// One MR x (8 * NV) tile over K chunk [0, k); MASKED: the last vector's lanes are `mask` (a right edge).
TARGET INLINE void nn_tile(const int MR, const int NV, const int MASKED, __m256i mask, ptrdiff_t k,
                           const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                           float beta, float *c, ptrdiff_t ldc) {
    __m256 acc[NN_MR][2];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < k; p++) {
        __m256 bv[2];
        for (int v = 0; v < NV; v++)
            bv[v] = MASKED && v == NV - 1 ? _mm256_maskload_ps(b + p * ldb + 8 * v, mask)
                                          : _mm256_loadu_ps(b + p * ldb + 8 * v);
        for (int i = 0; i < MR; i++) {
            __m256 av = _mm256_broadcast_ss(a + i * lda + p);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    __m256 bt = _mm256_set1_ps(beta);
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) {
            float *cp = c + i * ldc + 8 * v;
            int edge = MASKED && v == NV - 1;
            __m256 r = acc[i][v];
            if (beta != 0.0f) r = _mm256_fmadd_ps(bt, edge ? _mm256_maskload_ps(cp, mask) : _mm256_loadu_ps(cp), r);
            if (edge) _mm256_maskstore_ps(cp, mask, r);
            else _mm256_storeu_ps(cp, r);
        }
}

typedef void (*nn_fn)(__m256i, ptrdiff_t, const float *, ptrdiff_t, const float *, ptrdiff_t, float, float *,
                      ptrdiff_t);
#define NN_VARIANT(MR)                                                                                       \
    TARGET static void nn_##MR##_full(__m256i mask, ptrdiff_t k, const float *a, ptrdiff_t lda,             \
                                      const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) { \
        nn_tile(MR, 2, 0, mask, k, a, lda, b, ldb, beta, c, ldc);                                           \
    }                                                                                                        \
    TARGET static void nn_##MR##_wide(__m256i mask, ptrdiff_t k, const float *a, ptrdiff_t lda,             \
                                      const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) { \
        nn_tile(MR, 2, 1, mask, k, a, lda, b, ldb, beta, c, ldc);                                           \
    }                                                                                                        \
    TARGET static void nn_##MR##_narrow(__m256i mask, ptrdiff_t k, const float *a, ptrdiff_t lda,           \
                                        const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) { \
        nn_tile(MR, 1, 1, mask, k, a, lda, b, ldb, beta, c, ldc);                                           \
    }
NN_VARIANT(1) NN_VARIANT(2) NN_VARIANT(3) NN_VARIANT(4) NN_VARIANT(5) NN_VARIANT(6)
// [rows - 1][0: 16 columns, 1: 9-15 columns, 2: 1-8 columns]
static const nn_fn nn_variants[6][3] = {
    {nn_1_full, nn_1_wide, nn_1_narrow}, {nn_2_full, nn_2_wide, nn_2_narrow},
    {nn_3_full, nn_3_wide, nn_3_narrow}, {nn_4_full, nn_4_wide, nn_4_narrow},
    {nn_5_full, nn_5_wide, nn_5_narrow}, {nn_6_full, nn_6_wide, nn_6_narrow}};
_Static_assert(NN_MR <= 6, "nn_variants covers up to 6 rows");

TARGET void lstmkit_sgemm_small_nn(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k,
                                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                                   float beta, float *c, ptrdiff_t ldc) {
    ptrdiff_t p0 = 0;
    do {  // at least once, so that k == 0 still writes beta * C
        ptrdiff_t kk = k - p0 < NN_KC ? k - p0 : NN_KC;
        float bt = p0 == 0 ? beta : 1.0f;
        for (ptrdiff_t j = n0; j < n1; j += 16) {
            ptrdiff_t w = n1 - j < 16 ? n1 - j : 16;
            int kind = w == 16 ? 0 : w > 8 ? 1 : 2;
            __m256i mask = lanes(w == 16 ? 8 : w > 8 ? w - 8 : w);
            for (ptrdiff_t i = 0; i < m; i += NN_MR) {
                ptrdiff_t mr = m - i < NN_MR ? m - i : NN_MR;
                nn_variants[mr - 1][kind](mask, kk, a + i * lda + p0, lda, b + p0 * ldb + j, ldb, bt,
                                          c + i * ldc + j, ldc);
            }
        }
        p0 += kk;
    } while (p0 < k);
}

// MARK: Packed (op(B) packed once into panels of 16 columns, shared by many gemms)

ptrdiff_t lstmkit_packed_b_count(ptrdiff_t k, ptrdiff_t n) { return (n + 15) / 16 * 16 * k; }

void lstmkit_pack_b(int trans, ptrdiff_t k, ptrdiff_t n, ptrdiff_t n0, ptrdiff_t n1,
                    const float *b, ptrdiff_t ldb, float *bp) {
    for (ptrdiff_t j = n0; j < n1; j += 16) {
        float *panel = bp + j / 16 * k * 16;
        ptrdiff_t w = n - j < 16 ? n - j : 16;
        if (trans) {  // op(B)[p][j + c] = B[j + c][p]: read B's rows contiguously, write with stride 16
            for (ptrdiff_t c = 0; c < 16; c++) {
                if (c < w) for (ptrdiff_t p = 0; p < k; p++) panel[p * 16 + c] = b[(j + c) * ldb + p];
                else for (ptrdiff_t p = 0; p < k; p++) panel[p * 16 + c] = 0.0f;
            }
        } else {
            for (ptrdiff_t p = 0; p < k; p++) {
                for (ptrdiff_t c = 0; c < w; c++) panel[p * 16 + c] = b[p * ldb + j + c];
                for (ptrdiff_t c = w; c < 16; c++) panel[p * 16 + c] = 0.0f;
            }
        }
    }
}

// One MR x 16 tile over all of K: C[i][0..<w] = beta * C + sum_p A[i][p] * panel[p][0..<16]. The panel (K x 16,
// contiguous) streams through once per row block; each step: two loads of the panel, MR broadcasts of A, 2 MR FMAs.
// EDGE: the panel's last columns are padding (w < 16), so C is read and written with masks.
TARGET INLINE void packed_tile(const int MR, const int EDGE, ptrdiff_t w, ptrdiff_t k, const float *a, ptrdiff_t ars,
                               ptrdiff_t acs, const float *panel, float beta, float *c, ptrdiff_t ldc) {
    __m256 acc[NN_MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < k; p++) {
        __m256 b0 = _mm256_loadu_ps(panel + p * 16), b1 = _mm256_loadu_ps(panel + p * 16 + 8);
        for (int i = 0; i < MR; i++) {
            __m256 av = _mm256_broadcast_ss(a + i * ars + p * acs);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    __m256 bt = _mm256_set1_ps(beta);
    __m256i m0 = lanes(EDGE ? (w < 8 ? w : 8) : 8), m1 = lanes(EDGE ? (w > 8 ? w - 8 : 0) : 8);
    for (int i = 0; i < MR; i++) {
        float *cp = c + i * ldc;
        __m256 r0 = acc[i][0], r1 = acc[i][1];
        if (EDGE) {
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(bt, _mm256_maskload_ps(cp, m0), r0);
                r1 = _mm256_fmadd_ps(bt, _mm256_maskload_ps(cp + 8, m1), r1);
            }
            _mm256_maskstore_ps(cp, m0, r0);
            _mm256_maskstore_ps(cp + 8, m1, r1);
        } else {
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(bt, _mm256_loadu_ps(cp), r0);
                r1 = _mm256_fmadd_ps(bt, _mm256_loadu_ps(cp + 8), r1);
            }
            _mm256_storeu_ps(cp, r0);
            _mm256_storeu_ps(cp + 8, r1);
        }
    }
}

typedef void (*packed_fn)(ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t, const float *, float, float *,
                          ptrdiff_t);
#define PACKED_VARIANT(MR)                                                                                   \
    TARGET static void packed_##MR(ptrdiff_t w, ptrdiff_t k, const float *a, ptrdiff_t ars, ptrdiff_t acs,   \
                                   const float *p, float beta, float *c, ptrdiff_t ldc) {                    \
        packed_tile(MR, 0, w, k, a, ars, acs, p, beta, c, ldc);                                              \
    }                                                                                                        \
    TARGET static void packed_##MR##_edge(ptrdiff_t w, ptrdiff_t k, const float *a, ptrdiff_t ars,          \
                                          ptrdiff_t acs, const float *p, float beta, float *c, ptrdiff_t ldc) { \
        packed_tile(MR, 1, w, k, a, ars, acs, p, beta, c, ldc);                                              \
    }
PACKED_VARIANT(1) PACKED_VARIANT(2) PACKED_VARIANT(3) PACKED_VARIANT(4) PACKED_VARIANT(5) PACKED_VARIANT(6)
// [rows - 1][0: 16 columns, 1: 1-15 columns]
static const packed_fn packed_variants[6][2] = {
    {packed_1, packed_1_edge}, {packed_2, packed_2_edge}, {packed_3, packed_3_edge},
    {packed_4, packed_4_edge}, {packed_5, packed_5_edge}, {packed_6, packed_6_edge}};

TARGET static void sgemm_packed_avx2(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a,
                                     ptrdiff_t ars, ptrdiff_t acs, const float *bp, float beta, float *c, ptrdiff_t ldc) {
    for (ptrdiff_t j = n0; j < n1; j += 16) {
        ptrdiff_t w = n1 - j < 16 ? n1 - j : 16;
        const float *panel = bp + j / 16 * k * 16;
        for (ptrdiff_t i = 0; i < m; i += NN_MR) {
            ptrdiff_t mr = m - i < NN_MR ? m - i : NN_MR;
            packed_variants[mr - 1][w < 16](w, k, a + i * ars, ars, acs, panel, beta, c + i * ldc + j, ldc);
        }
    }
}

// MARK: Packed, AVX-512F (the same panels; one zmm is one panel row of 16 columns)

#define TARGET512 __attribute__((target("avx512f")))
// Tiles (chosen by measurement on Zen 5, docs/decisions/0027-avx512-packed-gemm.md): P512_MR rows x P512_NP panels
// (P512_MR * P512_NP zmm accumulators) when M > 1; one row x P512_NP1 panels for M = 1 (the streaming step's gemv:
// NP1 independent FMA chains, since one chain per panel would wait on the FMA latency).
#ifndef P512_MR
#define P512_MR 8
#endif
#ifndef P512_NP
#define P512_NP 3
#endif
#ifndef P512_NP1
#define P512_NP1 8
#endif
#define P512_MAXMR 8
#define P512_MAXNP 8
_Static_assert(P512_MR <= P512_MAXMR && P512_NP <= P512_MAXNP && P512_NP1 <= P512_MAXNP, "tile within the variants");

// One MR x (16 NP) tile over all of K: C[i][16 v + c] = beta * C + sum_p A[i][p] * panel_v[p][c], for the NP panels
// at bp, bp + ps, ... (ps = 16 K floats apart). Per k: NP panel loads, MR broadcasts of A, MR NP FMAs, each C element
// one FMA chain over k = 0..K-1 in order, then beta as one FMA: the AVX2 tile's operations lane for lane, so the same
// bits. `last`: the lanes of the last panel that are real columns (a right edge); C is read and written through it.
TARGET512 INLINE void packed512_tile(const int MR, const int NP, __mmask16 last, ptrdiff_t k, const float *a,
                                     ptrdiff_t ars, ptrdiff_t acs, const float *bp, ptrdiff_t ps, float beta, float *c,
                                     ptrdiff_t ldc) {
    __m512 acc[P512_MAXMR][P512_MAXNP];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NP; v++) acc[i][v] = _mm512_setzero_ps();
    for (ptrdiff_t p = 0; p < k; p++) {
        __m512 bv[P512_MAXNP];
        for (int v = 0; v < NP; v++) bv[v] = _mm512_loadu_ps(bp + v * ps + p * 16);
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(a[i * ars + p * acs]);
            for (int v = 0; v < NP; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    __m512 bt = _mm512_set1_ps(beta);
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NP; v++) {
            float *cp = c + i * ldc + 16 * v;
            __mmask16 mk = v == NP - 1 ? last : (__mmask16)0xFFFF;
            __m512 r = acc[i][v];
            if (beta != 0.0f) r = _mm512_fmadd_ps(bt, _mm512_maskz_loadu_ps(mk, cp), r);
            _mm512_mask_storeu_ps(cp, mk, r);
        }
}

typedef void (*packed512_fn)(__mmask16, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, float,
                             float *, ptrdiff_t);
#define P512_VARIANT(MR, NP)                                                                                 \
    TARGET512 static void packed512_##MR##_##NP(__mmask16 last, ptrdiff_t k, const float *a, ptrdiff_t ars,  \
                                                ptrdiff_t acs, const float *bp, ptrdiff_t ps, float beta,    \
                                                float *c, ptrdiff_t ldc) {                                   \
        packed512_tile(MR, NP, last, k, a, ars, acs, bp, ps, beta, c, ldc);                                  \
    }
#define P512_ROW(MR)                                                                                         \
    P512_VARIANT(MR, 1) P512_VARIANT(MR, 2) P512_VARIANT(MR, 3) P512_VARIANT(MR, 4)                          \
    P512_VARIANT(MR, 5) P512_VARIANT(MR, 6) P512_VARIANT(MR, 7) P512_VARIANT(MR, 8)
#define P512_ROW_4(MR) P512_VARIANT(MR, 1) P512_VARIANT(MR, 2) P512_VARIANT(MR, 3) P512_VARIANT(MR, 4)
// Rows 1-2 up to 8 panels (M = 1 and the few-row edges), rows 3-8 up to 4 (register limit: MR NP + NP + 1 <= 32).
P512_ROW(1) P512_ROW(2)
P512_ROW_4(3) P512_ROW_4(4) P512_ROW_4(5) P512_ROW_4(6) P512_ROW_4(7) P512_ROW_4(8)
#define P512_ROW_PTRS(MR) {packed512_##MR##_1, packed512_##MR##_2, packed512_##MR##_3, packed512_##MR##_4,         \
                           packed512_##MR##_5, packed512_##MR##_6, packed512_##MR##_7, packed512_##MR##_8}
#define P512_ROW_PTRS_4(MR) {packed512_##MR##_1, packed512_##MR##_2, packed512_##MR##_3, packed512_##MR##_4, 0, 0, 0, 0}
// [rows - 1][panels - 1]
static const packed512_fn packed512_variants[P512_MAXMR][P512_MAXNP] = {
    P512_ROW_PTRS(1),   P512_ROW_PTRS(2),   P512_ROW_PTRS_4(3), P512_ROW_PTRS_4(4),
    P512_ROW_PTRS_4(5), P512_ROW_PTRS_4(6), P512_ROW_PTRS_4(7), P512_ROW_PTRS_4(8)};
_Static_assert(P512_NP <= 4, "rows 3-8 have variants up to 4 panels");

TARGET512 static void sgemm_packed_avx512(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a,
                                         ptrdiff_t ars, ptrdiff_t acs, const float *bp, float beta, float *c,
                                         ptrdiff_t ldc) {
    const ptrdiff_t mr_max = m == 1 ? 1 : P512_MR, np_max = m == 1 ? P512_NP1 : P512_NP, ps = 16 * k;
    for (ptrdiff_t j = n0; j < n1; j += 16 * np_max) {
        ptrdiff_t cols = n1 - j < 16 * np_max ? n1 - j : 16 * np_max;  // 1 ... 16 np_max
        ptrdiff_t np = (cols + 15) / 16, w = cols - 16 * (np - 1);      // panels; columns of the last one (1-16)
        __mmask16 last = (__mmask16)((1u << w) - 1u);
        const float *panels = bp + j / 16 * ps;
        for (ptrdiff_t i = 0; i < m; i += mr_max) {
            ptrdiff_t mr = m - i < mr_max ? m - i : mr_max;
            packed512_variants[mr - 1][np - 1](last, k, a + i * ars, ars, acs, panels, ps, beta, c + i * ldc + j, ldc);
        }
    }
}

int lstmkit_small_gemm_avx512_available(void) {
    __builtin_cpu_init();
    return lstmkit_small_gemm_available() && __builtin_cpu_supports("avx512f");
}

// The packed gemm's instruction set: 2 AVX-512F when the CPU has it, else 1 AVX2 + FMA; capped by
// lstmkit_small_gemm_set_isa (Settings.swift calls it for LSTMKIT_CPU_ISA; C reads no environment).
static _Atomic int packed_isa_cached = -1;

static int best_packed_isa(void) { return lstmkit_small_gemm_avx512_available() ? 2 : 1; }

int lstmkit_small_gemm_isa(void) {
    int v = atomic_load_explicit(&packed_isa_cached, memory_order_relaxed);
    if (v < 0) {
        v = best_packed_isa();
        atomic_store_explicit(&packed_isa_cached, v, memory_order_relaxed);  // racing threads store the same value
    }
    return v;
}

int lstmkit_small_gemm_set_isa(int isa) {
    int best = best_packed_isa(), v = isa >= 2 ? 2 : 1;
    if (v > best) v = best;
    atomic_store_explicit(&packed_isa_cached, v, memory_order_relaxed);
    return v;
}

// AMD family 25 (Zen 3, Zen 4) or not: Zen 4 runs a 512-bit FMA as two 256-bit halves, so the AVX-512F tile has the
// AVX2 tile's throughput there. Read once (cpuid traps to the hypervisor in a VM).
static _Atomic int amd_family25_cached = -1;

static int amd_family25(void) {
    int v = atomic_load_explicit(&amd_family25_cached, memory_order_relaxed);
    if (v < 0) {
        unsigned a, b, c, d;
        v = 0;
        if (__get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u &&  // AuthenticAMD
            __get_cpuid(1, &a, &b, &c, &d)) {
            unsigned family = (a >> 8) & 0xFu;
            if (family == 0xFu) family += (a >> 20) & 0xFFu;
            v = family == 0x19u;
        }
        atomic_store_explicit(&amd_family25_cached, v, memory_order_relaxed);
    }
    return v;
}

int lstmkit_packed_big_products(void) {
    return lstmkit_small_gemm_enabled() && lstmkit_small_gemm_isa() == 2 && !amd_family25();
}

void lstmkit_sgemm_packed_avx2(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                               const float *bp, float beta, float *c, ptrdiff_t ldc) {
    sgemm_packed_avx2(m, n0, n1, k, a, lda, 1, bp, beta, c, ldc);
}

void lstmkit_sgemm_packed_avx512(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                 const float *bp, float beta, float *c, ptrdiff_t ldc) {
    sgemm_packed_avx512(m, n0, n1, k, a, lda, 1, bp, beta, c, ldc);
}

void lstmkit_sgemm_packed(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                          const float *bp, float beta, float *c, ptrdiff_t ldc) {
    lstmkit_sgemm_packed_strided(m, n0, n1, k, a, lda, 1, bp, beta, c, ldc);
}

void lstmkit_sgemm_packed_strided(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t ars,
                                  ptrdiff_t acs, const float *bp, float beta, float *c, ptrdiff_t ldc) {
    if (lstmkit_small_gemm_isa() == 2) sgemm_packed_avx512(m, n0, n1, k, a, ars, acs, bp, beta, c, ldc);
    else sgemm_packed_avx2(m, n0, n1, k, a, ars, acs, bp, beta, c, ldc);
}

#else  // not x86: no kernels; lstmkit_small_gemm_enabled() is 0, so the Swift side always takes cblas.
int lstmkit_small_gemm_available(void) { return 0; }
int lstmkit_small_gemm_enabled(void) { return 0; }
void lstmkit_sgemm_small_nt(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                            const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) { abort(); }
void lstmkit_sgemm_small_nn(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                            const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc) { abort(); }
ptrdiff_t lstmkit_packed_b_count(ptrdiff_t k, ptrdiff_t n) { return (n + 15) / 16 * 16 * k; }
void lstmkit_pack_b(int trans, ptrdiff_t k, ptrdiff_t n, ptrdiff_t n0, ptrdiff_t n1, const float *b, ptrdiff_t ldb,
                    float *bp) { abort(); }
void lstmkit_sgemm_packed(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                          const float *bp, float beta, float *c, ptrdiff_t ldc) { abort(); }
void lstmkit_sgemm_packed_strided(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t ars,
                                  ptrdiff_t acs, const float *bp, float beta, float *c, ptrdiff_t ldc) { abort(); }
int lstmkit_small_gemm_avx512_available(void) { return 0; }
int lstmkit_packed_big_products(void) { return 0; }
int lstmkit_small_gemm_isa(void) { return 0; }
int lstmkit_small_gemm_set_isa(int isa) { return 0; }
void lstmkit_sgemm_packed_avx2(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                               const float *bp, float beta, float *c, ptrdiff_t ldc) { abort(); }
void lstmkit_sgemm_packed_avx512(ptrdiff_t m, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t k, const float *a, ptrdiff_t lda,
                                 const float *bp, float beta, float *c, ptrdiff_t ldc) { abort(); }
#endif
