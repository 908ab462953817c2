// pooling.cl: MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D (an average pool whose window is the
// whole frame), forward and backward, channels-last.
//
// Layouts (row-major, every buffer addressed as pointer + element offset):
//   x, dx:    [N, H, W, C]       N = frames (batch, or batch x time inside TimeDistributed)
//   y, dy:    [N, OH, OW, C]
//   arg:      [N, OH, OW, C]     max pool: the window position kh*PW + kw of the maximum (stored as real: exact,
//                                the window is small), the first one in row-major order on ties (as PyTorch)
// Geometry arguments (every kernel, this order): N, H, W, C, PH, PW (pool size), SH, SW (strides), PT, PL
// (padding before: top, left), OH, OW. Window of output (oh, ow): rows oh*SH - PT ... + PH - 1, columns likewise;
// pixels outside the frame are skipped: the max ignores them, the average divides by the pixels inside
// (Keras 'same'; PyTorch's count_include_pad=False). Every window holds at least one pixel (the layer checks).
// Backward is a gather (each dx element sums over the windows that hold it), so no two work-items write one element;
// a max pool whose windows do not overlap (strides >= pool) uses max_pool_backward_scatter instead (after a fill).
// Tuning defines: none.
// Benchmark: `swift run -c release lstm-bench --preset conv-lstm` (profile lines max_pool_forward/backward).

// The walk of the backward gathers: for pixel (h, w) of frame n, channel c, every window (oh, ow) that holds it, as
// its tap (kh, kw); runs STEP there with o, the window's element of dy and arg ([N, OH, OW, C]). Only the taps whose
// window row is in [0, OH): kh in [h + PT - (OH-1)*SH, h + PT] (one tap for a global pool); likewise columns.
// Reads the kernel's geometry arguments and its n, c, h, w.
#define POOL_GATHER(...)                                                                                              \
    do {                                                                                                              \
        const int kh0 = max(0, h + PT - (OH - 1) * SH), kh1 = min(PH - 1, h + PT);                                   \
        const int kw0 = max(0, w + PL - (OW - 1) * SW), kw1 = min(PW - 1, w + PL);                                   \
        for (int kh = kh0; kh <= kh1; ++kh) {                                                                         \
            const int th = h + PT - kh;                                                                               \
            if (th < 0 || th % SH != 0 || th / SH >= OH) continue;                                                    \
            for (int kw = kw0; kw <= kw1; ++kw) {                                                                     \
                const int tw = w + PL - kw;                                                                           \
                if (tw < 0 || tw % SW != 0 || tw / SW >= OW) continue;                                                \
                const int oh = th / SH, ow = tw / SW;                                                                 \
                const size_t o = (((size_t)n * OH + oh) * OW + ow) * C + c;                                           \
                __VA_ARGS__;                                                                                          \
            }                                                                                                         \
        }                                                                                                             \
    } while (0)

__kernel void max_pool_forward(const int N, const int H, const int W, const int C, const int PH, const int PW,
                               const int SH, const int SW, const int PT, const int PL, const int OH, const int OW,
                               __global const real *x, const int offX, __global real *y, const int offY,
                               __global real *arg, const int offArg)
{
    const int i = (int)get_global_id(0);
    if (i >= N * OH * OW * C) return;
    const int c = i % C, ow = (i / C) % OW, oh = (i / (C * OW)) % OH, n = i / (C * OW * OH);
    real best = 0.0f;
    int at = -1;
    for (int kh = 0; kh < PH; ++kh) {
        const int h = oh * SH - PT + kh;
        if (h < 0 || h >= H) continue;
        for (int kw = 0; kw < PW; ++kw) {
            const int w = ow * SW - PL + kw;
            if (w < 0 || w >= W) continue;
            const real v = x[offX + (((size_t)n * H + h) * W + w) * C + c];
            if (at < 0 || v > best || isnan(v) && !isnan(best)) { best = v; at = kh * PW + kw; }
        }
    }
    y[offY + i] = best;
    arg[offArg + i] = (real)at;
}

__kernel void max_pool_backward(const int N, const int H, const int W, const int C, const int PH, const int PW,
                                const int SH, const int SW, const int PT, const int PL, const int OH, const int OW,
                                __global const real *dy, const int offDY, __global const real *arg, const int offArg,
                                __global real *dx, const int offDX)
{
    const int i = (int)get_global_id(0);
    if (i >= N * H * W * C) return;
    const int c = i % C, w = (i / C) % W, h = (i / (C * W)) % H, n = i / (C * W * H);
    real s = 0.0f;
    POOL_GATHER(if ((int)arg[offArg + o] == kh * PW + kw) s += dy[offDY + o]);
    dx[offDX + i] = s;
}

// Non-overlapping windows (strides >= pool, the usual MaxPooling2D): one work-item per output element adds its dy
// at its maximum; no two windows share a pixel, so no two work-items write one element. dx must be zeroed first
// (the host fills it). No divisions in the loop: several times faster than the gather on CPU devices.
__kernel void max_pool_backward_scatter(const int N, const int H, const int W, const int C, const int PH, const int PW,
                                        const int SH, const int SW, const int PT, const int PL, const int OH, const int OW,
                                        __global const real *dy, const int offDY, __global const real *arg, const int offArg,
                                        __global real *dx, const int offDX)
{
    const int i = (int)get_global_id(0);
    if (i >= N * OH * OW * C) return;
    const int c = i % C, ow = (i / C) % OW, oh = (i / (C * OW)) % OH, n = i / (C * OW * OH);
    const int at = (int)arg[offArg + i];
    const int h = oh * SH - PT + at / PW, w = ow * SW - PL + at % PW;
    dx[offDX + (((size_t)n * H + h) * W + w) * C + c] += dy[offDY + i];
}

/// The number of frame pixels in window (oh, ow).
inline int pool_window_count(const int H, const int W, const int PH, const int PW, const int SH, const int SW,
                             const int PT, const int PL, const int oh, const int ow)
{
    const int h0 = max(oh * SH - PT, 0), h1 = min(oh * SH - PT + PH, H);
    const int w0 = max(ow * SW - PL, 0), w1 = min(ow * SW - PL + PW, W);
    return (h1 - h0) * (w1 - w0);
}

__kernel void avg_pool_forward(const int N, const int H, const int W, const int C, const int PH, const int PW,
                               const int SH, const int SW, const int PT, const int PL, const int OH, const int OW,
                               __global const real *x, const int offX, __global real *y, const int offY)
{
    const int i = (int)get_global_id(0);
    if (i >= N * OH * OW * C) return;
    const int c = i % C, ow = (i / C) % OW, oh = (i / (C * OW)) % OH, n = i / (C * OW * OH);
    const int h0 = max(oh * SH - PT, 0), h1 = min(oh * SH - PT + PH, H);
    const int w0 = max(ow * SW - PL, 0), w1 = min(ow * SW - PL + PW, W);
    real s = 0.0f;
    for (int h = h0; h < h1; ++h)
        for (int w = w0; w < w1; ++w) s += x[offX + (((size_t)n * H + h) * W + w) * C + c];
    y[offY + i] = s / (real)((h1 - h0) * (w1 - w0));
}

__kernel void avg_pool_backward(const int N, const int H, const int W, const int C, const int PH, const int PW,
                                const int SH, const int SW, const int PT, const int PL, const int OH, const int OW,
                                __global const real *dy, const int offDY, __global real *dx, const int offDX)
{
    const int i = (int)get_global_id(0);
    if (i >= N * H * W * C) return;
    const int c = i % C, w = (i / C) % W, h = (i / (C * W)) % H, n = i / (C * W * H);
    real s = 0.0f;
    POOL_GATHER(s += dy[offDY + o] / (real)pool_window_count(H, W, PH, PW, SH, SW, PT, PL, oh, ow));
    dx[offDX + i] = s;
}
