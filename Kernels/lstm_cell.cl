// lstm_cell.cl: the fused LSTM cell, forward and backward, for one loop step of one layer and direction.
//
// B = batch, T = time steps, H = hidden size. Gate order is PyTorch's: i, f, g, o.
// Step-indexed buffers (loop step s; the reverse direction runs time len_b-1-s at step s):
//   hs, cs:  [T+1, B, H]   hs[0] = h0, hs[s+1] = h after step s (carried unchanged past a sequence's length)
//   gates:   [T, B, 4H]    activated i, f, g, o saved for backward
//   r:       [B, 4H]       h_{s-1} . W_hh^T for this step (from gemm)
//   dgs:     [T, B, 4H]    gate pre-activation gradients, by step (for dW_hh = dgs^T . hs[0..T))
// Time-indexed buffers:
//   gx:      [T, B, 4H]    x . W_ih^T for all steps (one gemm, before the loop)
//   y, dy:   [T, B, ldy]   this direction's columns start at offY (bidirectional: [T, B, 2H])
//   dgt:     [T, B, 4H]    gate gradients by time (for dW_ih and dX); the same buffer as dgs when !reverse
// lengths:   [B] int, 1 <= len <= T. Past its length a sequence's state is carried, its output is 0.
//
// Forward:  a_q = gx[t,b,qH+j] + r[b,qH+j] + b_ih[qH+j] + b_hh[qH+j]
//           i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
//           c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
// Cell clipping (cell_clip > 0, as cuDNN): c_t is clamped to [-cell_clip, cell_clip] before tanh, and the
// gradient w.r.t. the unclipped c_t is 0 where it was clipped. cell_clip <= 0 turns it off.
// Backward: dh = dh_next + dy[t], dc = dc_next + dh * o * (1 - tanh(c_t)^2), then the pre-activation
//           gradients; dh is left at 0 for the gemm dh += dG . W_hh that follows, dc becomes dc * f.
//
// Tuning defines:
//   LSTMKIT_NATIVE_EXP (0/1): native_exp instead of exp in sigmoid/tanh. Default 0 (builtin exp). The exp-based
//     forms cost about 1e-7 absolute error against libm tanh; native_exp's error is vendor-defined (on PoCL
//     3.1 / x86 the golden tests still pass with it; the host turns it on for CPU devices only).
//   CVW (1, 4, 8 or 16): hidden units per work-item, as one floatCVW vector. Default 8; the host passes 16 on
//     CPU devices and 1 on GPUs. PoCL does not vectorize the scalar form across work-items (exp stays a scalar
//     call, ~60 ns per unit); the vector form runs exp on whole vectors. On PoCL, preset M, per forward/backward
//     launch: CVW 1 with exp 1454/561 us, CVW 16 with native_exp 126/80 us (Benchmarks/WORKLOG.md).
//     The last work-item of a row takes the H % CVW tail one unit at a time.
// NDRange: global = (ceil(H / CVW), B). Benchmark: lstm-bench (profile lines "lstm_cell_forward/backward").

#ifndef LSTMKIT_NATIVE_EXP
#define LSTMKIT_NATIVE_EXP 0
#endif
#if LSTMKIT_NATIVE_EXP
#define LSTMKIT_EXP native_exp
#else
#define LSTMKIT_EXP exp
#endif
#ifndef CVW
#define CVW 8
#endif

#if CVW == 1
#define CVEC float
#define CLOAD(p) (*(p))
#define CSTORE(v, p) (*(p) = (v))
#elif CVW == 4
#define CVEC float4
#define CLOAD(p) vload4(0, p)
#define CSTORE(v, p) vstore4(v, 0, p)
#elif CVW == 8
#define CVEC float8
#define CLOAD(p) vload8(0, p)
#define CSTORE(v, p) vstore8(v, 0, p)
#elif CVW == 16
#define CVEC float16
#define CLOAD(p) vload16(0, p)
#define CSTORE(v, p) vstore16(v, 0, p)
#else
#error "CVW must be 1, 4, 8 or 16"
#endif

inline float lstmkit_sigmoid(float x) { return 1.0f / (1.0f + LSTMKIT_EXP(-x)); }
inline float lstmkit_tanh(float x) {
    const float e = LSTMKIT_EXP(2.0f * fabs(x));
    return copysign(1.0f - 2.0f / (e + 1.0f), x);
}
#if CVW > 1
inline CVEC lstmkit_sigmoid_v(CVEC x) { return 1.0f / (1.0f + LSTMKIT_EXP(-x)); }
inline CVEC lstmkit_tanh_v(CVEC x) {
    const CVEC e = LSTMKIT_EXP(2.0f * fabs(x));
    return copysign(1.0f - 2.0f / (e + 1.0f), x);
}
#else
#define lstmkit_sigmoid_v lstmkit_sigmoid
#define lstmkit_tanh_v lstmkit_tanh
#endif

__kernel void lstm_cell_forward(const int B, const int H, const int T, const int step, const int reverse,
                                __global const int *lengths,
                                __global const float *gx, __global const float *r,
                                __global const float *bias_ih, const int offBih,
                                __global const float *bias_hh, const int offBhh, const int has_bias,
                                __global float *hs, __global float *cs, __global float *gates,
                                __global float *y, const int offY, const int ldy, const float cell_clip)
{
    const int j0 = (int)get_global_id(0) * CVW;
    const int b = (int)get_global_id(1);
    if (j0 >= H || b >= B) return;
    const int len = lengths[b];
    const size_t prev = ((size_t)step * B + b) * H;
    const size_t next = prev + (size_t)B * H;
    const int jEnd = min(j0 + CVW, H);
    if (step >= len) {
        for (int j = j0; j < jEnd; ++j) {
            hs[next + j] = hs[prev + j];
            cs[next + j] = cs[prev + j];
            y[((size_t)step * B + b) * ldy + offY + j] = 0.0f;
        }
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    __global const float *gxr = gx + ((size_t)t * B + b) * 4 * H;
    __global const float *rr = r + (size_t)b * 4 * H;
    __global float *gs = gates + ((size_t)step * B + b) * 4 * H;
    __global float *yr = y + ((size_t)t * B + b) * ldy + offY;
    if (jEnd - j0 == CVW) {
        CVEC a[4];
        for (int q = 0; q < 4; ++q) {
            const int col = q * H + j0;
            a[q] = CLOAD(gxr + col) + CLOAD(rr + col);
            if (has_bias) a[q] += CLOAD(bias_ih + offBih + col) + CLOAD(bias_hh + offBhh + col);
        }
        const CVEC i = lstmkit_sigmoid_v(a[0]);
        const CVEC f = lstmkit_sigmoid_v(a[1]);
        const CVEC g = lstmkit_tanh_v(a[2]);
        const CVEC o = lstmkit_sigmoid_v(a[3]);
        CVEC c = f * CLOAD(cs + prev + j0) + i * g;
        if (cell_clip > 0.0f) c = clamp(c, -cell_clip, cell_clip);
        const CVEC h = o * lstmkit_tanh_v(c);
        CSTORE(c, cs + next + j0);
        CSTORE(h, hs + next + j0);
        CSTORE(i, gs + j0); CSTORE(f, gs + H + j0); CSTORE(g, gs + 2 * H + j0); CSTORE(o, gs + 3 * H + j0);
        CSTORE(h, yr + j0);
        return;
    }
    for (int j = j0; j < jEnd; ++j) {  // tail: H % CVW units
        float a[4];
        for (int q = 0; q < 4; ++q) {
            const int col = q * H + j;
            a[q] = gxr[col] + rr[col];
            if (has_bias) a[q] += bias_ih[offBih + col] + bias_hh[offBhh + col];
        }
        const float i = lstmkit_sigmoid(a[0]);
        const float f = lstmkit_sigmoid(a[1]);
        const float g = lstmkit_tanh(a[2]);
        const float o = lstmkit_sigmoid(a[3]);
        float c = f * cs[prev + j] + i * g;
        if (cell_clip > 0.0f) c = clamp(c, -cell_clip, cell_clip);
        const float h = o * lstmkit_tanh(c);
        cs[next + j] = c;
        hs[next + j] = h;
        gs[j] = i; gs[H + j] = f; gs[2 * H + j] = g; gs[3 * H + j] = o;
        yr[j] = h;
    }
}

__kernel void lstm_cell_backward(const int B, const int H, const int T, const int step, const int reverse,
                                 __global const int *lengths,
                                 __global const float *gates, __global const float *cs,
                                 __global const float *dy, const int offDY, const int lddy,
                                 __global float *dh, __global float *dc,
                                 __global float *dgs, __global float *dgt, const float cell_clip)
{
    const int j0 = (int)get_global_id(0) * CVW;
    const int b = (int)get_global_id(1);
    if (j0 >= H || b >= B) return;
    const int len = lengths[b];
    const int jEnd = min(j0 + CVW, H);
    __global float *gs = dgs + ((size_t)step * B + b) * 4 * H;
    if (step >= len) {
        // Padding: no gate gradient; dh and dc pass through to the previous step unchanged.
        for (int j = j0; j < jEnd; ++j) {
            gs[j] = 0.0f; gs[H + j] = 0.0f; gs[2 * H + j] = 0.0f; gs[3 * H + j] = 0.0f;
            if (reverse) {
                __global float *gt = dgt + ((size_t)step * B + b) * 4 * H;
                gt[j] = 0.0f; gt[H + j] = 0.0f; gt[2 * H + j] = 0.0f; gt[3 * H + j] = 0.0f;
            }
        }
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    __global const float *ga = gates + ((size_t)step * B + b) * 4 * H;
    __global float *gt = dgt + ((size_t)t * B + b) * 4 * H;
    __global const float *cPrevRow = cs + ((size_t)step * B + b) * H;
    __global const float *cRow = cs + ((size_t)(step + 1) * B + b) * H;
    __global const float *dyr = dy + ((size_t)t * B + b) * lddy + offDY;
    __global float *dhr = dh + (size_t)b * H;
    __global float *dcr = dc + (size_t)b * H;
    if (jEnd - j0 == CVW) {
        const CVEC i = CLOAD(ga + j0), f = CLOAD(ga + H + j0), g = CLOAD(ga + 2 * H + j0), o = CLOAD(ga + 3 * H + j0);
        const CVEC c_prev = CLOAD(cPrevRow + j0);
        const CVEC cv = CLOAD(cRow + j0);
        const CVEC tc = lstmkit_tanh_v(cv);
        const CVEC dht = CLOAD(dhr + j0) + CLOAD(dyr + j0);
        CVEC dct = CLOAD(dcr + j0) + dht * o * (1.0f - tc * tc);
        if (cell_clip > 0.0f) dct = select(dct, (CVEC)(0.0f), isgreaterequal(fabs(cv), (CVEC)(cell_clip)));
        const CVEC di = dct * g * i * (1.0f - i);
        const CVEC df = dct * c_prev * f * (1.0f - f);
        const CVEC dg = dct * i * (1.0f - g * g);
        const CVEC d_o = dht * tc * o * (1.0f - o);
        CSTORE(di, gs + j0); CSTORE(df, gs + H + j0); CSTORE(dg, gs + 2 * H + j0); CSTORE(d_o, gs + 3 * H + j0);
        if (reverse) { CSTORE(di, gt + j0); CSTORE(df, gt + H + j0); CSTORE(dg, gt + 2 * H + j0); CSTORE(d_o, gt + 3 * H + j0); }
        CSTORE((CVEC)(0.0f), dhr + j0);
        CSTORE(dct * f, dcr + j0);
        return;
    }
    for (int j = j0; j < jEnd; ++j) {  // tail: H % CVW units
        const float i = ga[j], f = ga[H + j], g = ga[2 * H + j], o = ga[3 * H + j];
        const float c_prev = cPrevRow[j];
        const float tc = lstmkit_tanh(cRow[j]);
        const float dht = dhr[j] + dyr[j];
        float dct = dcr[j] + dht * o * (1.0f - tc * tc);
        if (cell_clip > 0.0f && fabs(cRow[j]) >= cell_clip) dct = 0.0f;
        const float di = dct * g * i * (1.0f - i);
        const float df = dct * c_prev * f * (1.0f - f);
        const float dg = dct * i * (1.0f - g * g);
        const float d_o = dht * tc * o * (1.0f - o);
        gs[j] = di; gs[H + j] = df; gs[2 * H + j] = dg; gs[3 * H + j] = d_o;
        if (reverse) { gt[j] = di; gt[H + j] = df; gt[2 * H + j] = dg; gt[3 * H + j] = d_o; }
        dhr[j] = 0.0f;
        dcr[j] = dct * f;
    }
}
