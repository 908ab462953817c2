// gemm.cl: C = alpha * op(A) * op(B) + beta * C, row-major float32.
//
// Layouts (every matrix is row-major, addressed as buffer + element offset with a leading dimension):
//   op(A): [M, K].  TRANS_A=0: A is stored [M, K] (lda >= K);  TRANS_A=1: A is stored [K, M] (lda >= M).
//   op(B): [K, N].  TRANS_B=0: B is stored [K, N] (ldb >= N);  TRANS_B=1: B is stored [N, K] (ldb >= K).
//   C:     [M, N]   (ldc >= N). When beta == 0, C is not read (it may hold NaN).
//
// In LSTMKit: input projection G[T*B, 4H] = X . W_ih^T (NT), recurrent product R[B, 4H] = h . W_hh^T (NT),
// dh += dG . W_hh (NN), dW += dG^T . X (TN), dX = dG . W_ih (NN).
//
// Tuning defines (the host passes them per device; each has a default so the file compiles alone):
//   TRANS_A, TRANS_B  0/1, as above (compile-time, so each variant is a separate cached program)
//   TM, TN            rows and columns of C that one work-item computes in registers (register block)
// NDRange: global = (ceil(N/TN), ceil(M/TM)); any local size.
// Benchmark: `swift run -c release lstm-bench` (per-kernel profile lines name "gemm").

#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef TM
#define TM 4
#endif
#ifndef TN
#define TN 4
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

__kernel void gemm(const int M, const int N, const int K, const float alpha,
                   __global const float *restrict A0, const int offA, const int lda,
                   __global const float *restrict B0, const int offB, const int ldb,
                   const float beta, __global float *restrict C0, const int offC, const int ldc)
{
    const int n0 = (int)get_global_id(0) * TN;
    const int m0 = (int)get_global_id(1) * TM;
    if (m0 >= M || n0 >= N) return;
    __global const float *A = A0 + offA;
    __global const float *B = B0 + offB;
    __global float *C = C0 + offC;

    float acc[TM][TN];
    for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

    if (m0 + TM <= M && n0 + TN <= N) {
        // Interior block: no bounds checks in the K loop.
        for (int k = 0; k < K; ++k) {
            float a[TM], b[TN];
            for (int i = 0; i < TM; ++i) a[i] = A_AT(m0 + i, k);
            for (int j = 0; j < TN; ++j) b[j] = B_AT(k, n0 + j);
            for (int i = 0; i < TM; ++i)
                for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
    } else {
        // Edge block: clamp the indices, then drop the out-of-range results on the write.
        for (int k = 0; k < K; ++k) {
            float a[TM], b[TN];
            for (int i = 0; i < TM; ++i) a[i] = (m0 + i < M) ? A_AT(m0 + i, k) : 0.0f;
            for (int j = 0; j < TN; ++j) b[j] = (n0 + j < N) ? B_AT(k, n0 + j) : 0.0f;
            for (int i = 0; i < TM; ++i)
                for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
    }

    for (int i = 0; i < TM; ++i) {
        if (m0 + i >= M) break;
        for (int j = 0; j < TN; ++j) {
            if (n0 + j >= N) break;
            __global float *c = C + (size_t)(m0 + i) * ldc + (n0 + j);
            *c = (beta == 0.0f) ? alpha * acc[i][j] : fma(alpha, acc[i][j], beta * *c);
        }
    }
}
