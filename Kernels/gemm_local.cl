// gemm_local.cl: C = alpha * op(A) * op(B) + beta * C, row-major real (float32 today), tiled in local memory for GPUs.
//
// The same contract and argument list as gemm.cl's `gemm` (the host picks one of the two with
// OpenCLTuning.gemmKind: "blocked" = gemm.cl, the CPU/PoCL default; "local" = this file, the GPU default;
// environment override LSTMKIT_GEMM_KIND=local|blocked).
//
// Layouts (every matrix is row-major, addressed as buffer + element offset with a leading dimension):
//   op(A): [M, K].  TRANS_A=0: A is stored [M, K] (lda >= K);  TRANS_A=1: A is stored [K, M] (lda >= M).
//   op(B): [K, N].  TRANS_B=0: B is stored [K, N] (ldb >= N);  TRANS_B=1: B is stored [N, K] (ldb >= K).
//   C:     [M, N]   (ldc >= N). When beta == 0, C is not read (it may hold NaN).
// Any M, N, K (no padding requirement): tile elements outside op(A) or op(B) are loaded as 0, and only
// elements inside C are written.
//
// Scheme (after C. Nugteren's "OpenCL SGEMM tuning for Kepler", kernel 6 without the vector loads):
//   a work-group of (TSN/WPTN) x (TSM/WPTM) work-items computes one TSM x TSN tile of C. It walks K in
//   slabs of TSK: all its work-items load a TSK x TSM slab of op(A) and a TSK x TSN slab of op(B) into
//   __local memory (k-major: Asub[k][m], Bsub[k][n]), then each work-item accumulates WPTM x WPTN outputs in
//   registers. The transposes are resolved while loading: consecutive work-items read consecutive addresses
//   of the stored matrix in all four variants (k-fastest for A [M,K] and B [N,K], m- or n-fastest for
//   A [K,M] and B [K,N]), so global loads stay coalesced; the local slabs have one float of padding per
//   row so that the k-fastest stores do not all hit one bank. A work-item owns rows ty + i*(TSM/WPTM) and
//   columns tx + j*(TSN/WPTN) of the tile (strided, so the local reads of a warp are consecutive, and the
//   stores of C are coalesced along n).
// Each output is one fma chain over k in increasing order (as gemm.cl's scalar path).
//
// Tuning defines (each has a default, so the file compiles alone; the host passes OpenCLTuning.localTile):
//   TRANS_A, TRANS_B  0/1, as above (each variant is a separate cached program)
//   TSM, TSN          rows and columns of C per work-group tile              (default 64, 64)
//   TSK               depth of the local slabs                               (default 16)
//   WPTM, WPTN        rows and columns of C per work-item (registers)        (default 4, 4)
//   Requirements: TSM % WPTM == 0, TSN % WPTN == 0, and TSK*TSM and TSK*TSN multiples of the work-group
//   size (TSM/WPTM)*(TSN/WPTN) (checked below). Local memory: TSK*(TSM+TSN+2)*4 bytes (8.3 KB by default).
// NDRange: local = (TSN/WPTN, TSM/WPTM) (exactly; the default is 16 x 16 = 256 work-items),
//          global = (ceil(N/TSN) * TSN/WPTN, ceil(M/TSM) * TSM/WPTM).
// Benchmark: LSTMKIT_GEMM_KIND=local swift run -c release --scratch-path .build-bench lstm-bench
// (per-kernel profile lines "gemm_local_NN", "gemm_local_NT", "gemm_local_TN"). On PoCL (CPU) it is correct
// but slow: the blocked form in gemm.cl is the one tuned for CPUs.

#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef TSM
#define TSM 64
#endif
#ifndef TSN
#define TSN 64
#endif
#ifndef TSK
#define TSK 16
#endif
#ifndef WPTM
#define WPTM 4
#endif
#ifndef WPTN
#define WPTN 4
#endif

#define RTSM (TSM / WPTM)   // work-items along m
#define RTSN (TSN / WPTN)   // work-items along n
#define WGS (RTSM * RTSN)   // work-group size
#if (TSM % WPTM) != 0 || (TSN % WPTN) != 0
#error "TSM must be a multiple of WPTM and TSN a multiple of WPTN"
#endif
#if ((TSK * TSM) % WGS) != 0 || ((TSK * TSN) % WGS) != 0
#error "TSK*TSM and TSK*TSN must be multiples of the work-group size (TSM/WPTM)*(TSN/WPTN)"
#endif
#define LPA (TSK * TSM / WGS)  // A elements each work-item loads per slab
#define LPB (TSK * TSN / WGS)  // B elements each work-item loads per slab

#define UNROLL _Pragma("unroll")

// Loads the TSK x TS slab of a stored matrix P (leading dimension LD) at rows/columns X0 .. X0+TS of XN and
// k0 .. k0+TSK of K into SUB[kk][xx], zeros outside. K_FASTEST (a compile-time 0/1): P is stored [X, K] (k
// fastest), else [K, X]. Consecutive work-items take consecutive addresses of P in both layouts (coalesced).
#define STAGE_SLAB(SUB, LP, TS, P, LD, X0, XN, K_FASTEST)                                                      \
    UNROLL for (int l = 0; l < LP; ++l) {                                                                      \
        const int idx = tid + l * WGS;                                                                         \
        const int kk = (K_FASTEST) ? idx % TSK : idx / TS, xx = (K_FASTEST) ? idx / TSK : idx % TS;            \
        const int x = X0 + xx, k = k0 + kk;                                                                    \
        SUB[kk][xx] = (x < XN && k < K) ? P[(K_FASTEST) ? (size_t)x * LD + k : (size_t)k * LD + x] : 0.0f;    \
    }

__kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1)))
void gemm(const int M, const int N, const int K, const float alpha,
          __global const real *restrict A0, const int offA, const int lda,
          __global const real *restrict B0, const int offB, const int ldb,
          const float beta, __global real *restrict C0, const int offC, const int ldc)
{
    const int tx = (int)get_local_id(0);   // along n
    const int ty = (int)get_local_id(1);   // along m
    const int tid = ty * RTSN + tx;
    const int n0 = (int)get_group_id(0) * TSN;
    const int m0 = (int)get_group_id(1) * TSM;
    __global const real *A = A0 + offA;
    __global const real *B = B0 + offB;
    __global real *C = C0 + offC;

    __local real Asub[TSK][TSM + 1];
    __local real Bsub[TSK][TSN + 1];

    real acc[WPTM][WPTN];
    UNROLL for (int i = 0; i < WPTM; ++i) UNROLL for (int j = 0; j < WPTN; ++j) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += TSK) {
        // Stage op(A)[m0 .. m0+TSM, k0 .. k0+TSK) and op(B)[k0 .. k0+TSK, n0 .. n0+TSN), zeros outside.
        // A stored [M, K] and B stored [N, K]: k fastest; A stored [K, M] and B stored [K, N]: m or n fastest.
        STAGE_SLAB(Asub, LPA, TSM, A, lda, m0, M, !TRANS_A);
        STAGE_SLAB(Bsub, LPB, TSN, B, ldb, n0, N, TRANS_B);
        barrier(CLK_LOCAL_MEM_FENCE);

        // A slab that runs past K holds zeros in both op(A) and op(B) there, and fma(0, 0, acc) == acc, so
        // every output is the same fma chain over k = 0 ..< K whatever the tile sizes (and the loop unrolls).
        UNROLL for (int kk = 0; kk < TSK; ++kk) {
            real b[WPTN];
            UNROLL for (int j = 0; j < WPTN; ++j) b[j] = Bsub[kk][tx + j * RTSN];
            UNROLL for (int i = 0; i < WPTM; ++i) {
                const real a = Asub[kk][ty + i * RTSM];
                UNROLL for (int j = 0; j < WPTN; ++j) acc[i][j] = fma(a, b[j], acc[i][j]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    UNROLL for (int i = 0; i < WPTM; ++i) {
        const int m = m0 + ty + i * RTSM;
        if (m >= M) continue;
        UNROLL for (int j = 0; j < WPTN; ++j) {
            const int n = n0 + tx + j * RTSN;
            if (n >= N) continue;
            __global real *c = C + (size_t)m * ldc + n;
            *c = (beta == 0.0f) ? alpha * acc[i][j] : fma(alpha, acc[i][j], beta * *c);
        }
    }
}
