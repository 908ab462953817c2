// elementwise.cl: the small helpers around the LSTM cell: fill, transpose of the two leading axes,
// column sums (bias gradients) and inverted dropout with a counter-based mask.
//
// Layouts:
//   fill:          x[off .. off+n) = value
//   transpose01:   src [D0, D1, F] -> dst [D1, D0, F]   (batch-first <-> time-major)
//   column_sum:    out[offOut + n] = beta * out[offOut + n] + sum_m x[offX + m*ld + n], x: [M, N]
//   dropout:       y[i] = x[i] * keep(seed, i) / (1 - p), keep(seed, i) = hash(seed, i) >= p * 2^24
//                  the same hash runs on the CPU, so both devices drop the same elements.
// Tuning defines: SVW (1, 4, 8 or 16, default 16): columns per column_sum work-item, as one realSVW vector
//   (the rows are still added in order, as the CPU twin does, so both give the same bits). One column per
//   work-item strides through memory a float at a time: 56 ms for [6400, 1024] on PoCL, against ~4 ms.
// NDRange: one work-item per element (column_sum: per SVW columns).
// Benchmark: lstm-bench (its per-kernel profile lines carry these kernels' names, e.g. "column_sum").

#ifndef SVW
#define SVW 16
#endif
#if !LSTMKIT_CHECK_WIDTH(SVW)
#error "SVW must be 1, 4, 8 or 16"
#endif
#define SVEC REALV(SVW)
#define SLOAD(p) VLOADW(SVW)(0, p)
#define SSTORE(v, p) VSTOREW(SVW)(v, 0, p)

inline uint lstmkit_hash(uint seed, uint i) {
    uint x = i * 0x9E3779B9u ^ seed;
    x ^= x >> 16; x *= 0x7FEB352Du;
    x ^= x >> 15; x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

__kernel void fill(const int n, const float value, __global real *x, const int off)
{
    const int i = (int)get_global_id(0);
    if (i < n) x[off + i] = value;
}

__kernel void transpose01(const int D0, const int D1, const int F,
                          __global const real *src, const int offSrc, __global real *dst, const int offDst)
{
    const int f = (int)get_global_id(0);
    const int d1 = (int)get_global_id(1);
    const int d0 = (int)get_global_id(2);
    if (f >= F || d1 >= D1 || d0 >= D0) return;
    dst[offDst + ((size_t)d1 * D0 + d0) * F + f] = src[offSrc + ((size_t)d0 * D1 + d1) * F + f];
}

__kernel void column_sum(const int M, const int N, __global const real *x, const int offX, const int ld,
                         const float beta, __global real *out, const int offOut)
{
    const int n0 = (int)get_global_id(0) * SVW;
    if (n0 >= N) return;
    __global const real *xs = x + offX + n0;
    __global real *o = out + offOut + n0;
    if (n0 + SVW <= N) {
        SVEC s = (SVEC)(0.0f);
        for (int m = 0; m < M; ++m) s += SLOAD(xs + (size_t)m * ld);
        SSTORE((beta == 0.0f) ? s : beta * SLOAD(o) + s, o);
        return;
    }
    for (int n = 0; n < N - n0; ++n) {  // tail: N % SVW columns
        real s = 0.0f;
        for (int m = 0; m < M; ++m) s += xs[(size_t)m * ld + n];
        o[n] = (beta == 0.0f) ? s : beta * o[n] + s;
    }
}

__kernel void dropout(const int n, const float p, const uint seed,
                      __global const real *x, const int offX, __global real *y, const int offY)
{
    const int i = (int)get_global_id(0);
    if (i >= n) return;
    const uint threshold = (uint)(p * 16777216.0f);
    const int keep = (lstmkit_hash(seed, (uint)i) >> 8) >= threshold;
    y[offY + i] = keep ? x[offX + i] / (1.0f - p) : 0.0f;
}
