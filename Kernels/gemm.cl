// gemm.cl: C = alpha * op(A) * op(B) + beta * C, row-major, elements of type real (common.cl; float32 today).
//
// Layouts (every matrix is row-major, addressed as buffer + element offset with a leading dimension):
//   op(A): [M, K].  TRANS_A=0: A is stored [M, K] (lda >= K);  TRANS_A=1: A is stored [K, M] (lda >= M).
//   op(B): [K, N].  TRANS_B=0: B is stored [K, N] (ldb >= N);  TRANS_B=1: B is stored [N, K] (ldb >= K).
//   C:     [M, N]   (ldc >= N). When beta == 0, C is not read (it may hold NaN).
//
// In LSTMKit: input projection G[T*B, 4H] = X . W_ih^T, recurrent product R[B, 4H] = h . W_hh^T (NT, or NN
// against a transposed copy of W when the backend prefers NN: OpenCL does), dh += dG . W_hh (NN),
// dW += dG^T . X (TN), dX = dG . W_ih (NN).
//
// Two register-blocked forms, picked at compile time by TRANS_B (variant 1 of issue 5's tuning; variant 0,
// a scalar TM x TN block, reached 9-30 GFLOP/s on PoCL 3.1 and was removed):
//   TRANS_B=0 (NN, TN), "broadcast" form: a work-item keeps a TM x TN block of C in TM * TN/VW vectors of
//     VW floats; per k it loads TN contiguous floats of B's row k (vloadVW) and broadcasts TM elements of A.
//     PoCL turns floatVW into AVX2/AVX-512 registers: 60-120 GFLOP/s on 2 Zen 4 cores, against 9-30 for
//     variant 0 (numbers in docs/decisions/0010-opencl-register-blocked-gemm.md).
//   TRANS_B=1 (NT, TT), "dot" form: rows of op(A) and of B are both contiguous along k, so a work-item keeps
//     TM x TN vector partial sums along k and reduces them at the end (25-30 GFLOP/s on PoCL).
// Edge blocks (M or N not a multiple of TM or TN) take a scalar path with the same summation order per element.
// The host splits a large K into launches of at most KC (cache blocking: B's rows for one chunk stay in
// cache; 2.5x on K = 6400), accumulating with beta = 1 after the first chunk.
//
// Tuning defines (the host passes them per device and variant; each has a default so the file compiles alone):
//   TRANS_A, TRANS_B  0/1, as above (compile-time, so each variant is a separate cached program)
//   TM, TN            rows and columns of C that one work-item computes in registers (TN a multiple of VW
//                     in the broadcast form)
//   VW                vector width: 4, 8 or 16 floats
// NDRange: global = (ceil(N/TN), ceil(M/TM)); any local size (the host groups the rows of a column panel).
// Benchmark: `swift build -c release --scratch-path .build-bench && .build-bench/release/lstm-bench`
// (per-kernel profile lines "gemm_NN", "gemm_NT", "gemm_TN").

#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef TM
#define TM 8
#endif
#ifndef TN
#define TN 16
#endif
#ifndef VW
#define VW 8
#endif

#if !LSTMKIT_CHECK_WIDTH(VW) || VW == 1
#error "VW must be 4, 8 or 16"
#endif
#define VEC REALV(VW)
#define VLOAD VLOADW(VW)
#define VSTORE VSTOREW(VW)
#define NV (TN / VW)
#if !TRANS_B && (TN % VW != 0)
#error "TN must be a multiple of VW"
#endif

#if TRANS_A
#define A_AT(m, k) A[(size_t)(k) * lda + (m)]
#else
#define A_AT(m, k) A[(size_t)(m) * lda + (k)]
#endif
#if TRANS_B
#define B_AT(k, n) B[(size_t)(n) * ldb + (k)]
#else
#define B_AT(k, n) B[(size_t)(k) * ldb + (n)]
#endif
// PoCL keeps the accumulator arrays in registers only when these loops are unrolled.
#define UNROLL _Pragma("unroll")

inline real lstmkit_hsum(VEC v) {
#if VW == 4
    return (v.s0 + v.s1) + (v.s2 + v.s3);
#elif VW == 8
    const real4 h = v.lo + v.hi;
    return (h.s0 + h.s1) + (h.s2 + h.s3);
#else
    const real8 h8 = v.lo + v.hi;
    const real4 h = h8.lo + h8.hi;
    return (h.s0 + h.s1) + (h.s2 + h.s3);
#endif
}

__kernel void gemm(const int M, const int N, const int K, const float alpha,
                   __global const real *restrict A0, const int offA, const int lda,
                   __global const real *restrict B0, const int offB, const int ldb,
                   const float beta, __global real *restrict C0, const int offC, const int ldc)
{
    const int n0 = (int)get_global_id(0) * TN;
    const int m0 = (int)get_global_id(1) * TM;
    if (m0 >= M || n0 >= N) return;
    __global const real *A = A0 + offA;
    __global const real *B = B0 + offB;
    __global real *C = C0 + offC;

    if (m0 + TM <= M && n0 + TN <= N) {
#if TRANS_B
        // Dot form: TM x TN vector partial sums along k, reduced at the end.
        VEC acc[TM][TN];
        UNROLL for (int i = 0; i < TM; ++i) UNROLL for (int j = 0; j < TN; ++j) acc[i][j] = (VEC)(0.0f);
        int k = 0;
        for (; k + VW <= K; k += VW) {
            VEC a[TM], b[TN];
#if TRANS_A
            UNROLL for (int i = 0; i < TM; ++i) {
                real t[VW];
                UNROLL for (int q = 0; q < VW; ++q) t[q] = A_AT(m0 + i, k + q);
                a[i] = VLOAD(0, t);
            }
#else
            UNROLL for (int i = 0; i < TM; ++i) a[i] = VLOAD(0, A + (size_t)(m0 + i) * lda + k);
#endif
            UNROLL for (int j = 0; j < TN; ++j) b[j] = VLOAD(0, B + (size_t)(n0 + j) * ldb + k);
            UNROLL for (int i = 0; i < TM; ++i) UNROLL for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        real s[TM][TN];
        UNROLL for (int i = 0; i < TM; ++i) UNROLL for (int j = 0; j < TN; ++j) s[i][j] = lstmkit_hsum(acc[i][j]);
        for (; k < K; ++k)
            UNROLL for (int i = 0; i < TM; ++i) UNROLL for (int j = 0; j < TN; ++j) s[i][j] = fma(A_AT(m0 + i, k), B_AT(k, n0 + j), s[i][j]);
        UNROLL for (int i = 0; i < TM; ++i) UNROLL for (int j = 0; j < TN; ++j) {
            __global real *c = C + (size_t)(m0 + i) * ldc + (n0 + j);
            *c = (beta == 0.0f) ? alpha * s[i][j] : fma(alpha, s[i][j], beta * *c);
        }
#else
        // Broadcast form: TM elements of A times TN contiguous elements of B's row k.
        VEC acc[TM][NV];
        UNROLL for (int i = 0; i < TM; ++i) UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = (VEC)(0.0f);
        for (int k = 0; k < K; ++k) {
            VEC b[NV];
            __global const real *brow = B + (size_t)k * ldb + n0;
            UNROLL for (int v = 0; v < NV; ++v) b[v] = VLOAD(v, brow);
            UNROLL for (int i = 0; i < TM; ++i) {
                const VEC a = (VEC)(A_AT(m0 + i, k));
                UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = fma(a, b[v], acc[i][v]);
            }
        }
        UNROLL for (int i = 0; i < TM; ++i) {
            __global real *crow = C + (size_t)(m0 + i) * ldc + n0;
            UNROLL for (int v = 0; v < NV; ++v) {
                VEC r = alpha * acc[i][v];
                if (beta != 0.0f) r = fma((VEC)(beta), VLOAD(v, crow), r);
                VSTORE(r, v, crow);
            }
        }
#endif
        return;
    }

    // Edge block: scalar, out-of-range rows and columns read as 0 and are not written.
    real acc[TM][TN];
    for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
    for (int k = 0; k < K; ++k) {
        real a[TM], b[TN];
        for (int i = 0; i < TM; ++i) a[i] = (m0 + i < M) ? A_AT(m0 + i, k) : 0.0f;
        for (int j = 0; j < TN; ++j) b[j] = (n0 + j < N) ? B_AT(k, n0 + j) : 0.0f;
        for (int i = 0; i < TM; ++i)
            for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
    for (int i = 0; i < TM; ++i) {
        if (m0 + i >= M) break;
        for (int j = 0; j < TN; ++j) {
            if (n0 + j >= N) break;
            __global real *c = C + (size_t)(m0 + i) * ldc + (n0 + j);
            *c = (beta == 0.0f) ? alpha * acc[i][j] : fma(alpha, acc[i][j], beta * *c);
        }
    }
}
