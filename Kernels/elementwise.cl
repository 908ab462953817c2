// elementwise.cl: the small helpers around the LSTM cell: fill, transpose of the two leading axes,
// column sums (bias gradients) and inverted dropout with a counter-based mask.
//
// Layouts:
//   fill:          x[off .. off+n) = value
//   transpose01:   src [D0, D1, F] -> dst [D1, D0, F]   (batch-first <-> time-major)
//   column_sum:    out[offOut + n] = beta * out[offOut + n] + sum_m x[offX + m*ld + n], x: [M, N]
//   dropout:       y[i] = x[i] * keep(seed, i) / (1 - p), keep(seed, i) = hash(seed, i) >= p * 2^24
//                  the same hash runs on the CPU, so both devices drop the same elements.
// Tuning defines: none. NDRange: one work-item per element (column_sum: per column).

inline uint lstmkit_hash(uint seed, uint i) {
    uint x = i * 0x9E3779B9u ^ seed;
    x ^= x >> 16; x *= 0x7FEB352Du;
    x ^= x >> 15; x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

__kernel void fill(const int n, const float value, __global float *x, const int off)
{
    const int i = (int)get_global_id(0);
    if (i < n) x[off + i] = value;
}

__kernel void transpose01(const int D0, const int D1, const int F,
                          __global const float *src, const int offSrc, __global float *dst, const int offDst)
{
    const int f = (int)get_global_id(0);
    const int d1 = (int)get_global_id(1);
    const int d0 = (int)get_global_id(2);
    if (f >= F || d1 >= D1 || d0 >= D0) return;
    dst[offDst + ((size_t)d1 * D0 + d0) * F + f] = src[offSrc + ((size_t)d0 * D1 + d1) * F + f];
}

__kernel void column_sum(const int M, const int N, __global const float *x, const int offX, const int ld,
                         const float beta, __global float *out, const int offOut)
{
    const int n = (int)get_global_id(0);
    if (n >= N) return;
    float s = 0.0f;
    for (int m = 0; m < M; ++m) s += x[offX + (size_t)m * ld + n];
    out[offOut + n] = (beta == 0.0f) ? s : beta * out[offOut + n] + s;
}

__kernel void dropout(const int n, const float p, const uint seed,
                      __global const float *x, const int offX, __global float *y, const int offY)
{
    const int i = (int)get_global_id(0);
    if (i >= n) return;
    const uint threshold = (uint)(p * 16777216.0f);
    const int keep = (lstmkit_hash(seed, (uint)i) >> 8) >= threshold;
    y[offY + i] = keep ? x[offX + i] / (1.0f - p) : 0.0f;
}
