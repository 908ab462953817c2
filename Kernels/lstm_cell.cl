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
// Backward: dh = dh_next + dy[t], dc = dc_next + dh * o * (1 - tanh(c_t)^2), then the pre-activation
//           gradients; dh is left at 0 for the gemm dh += dG . W_hh that follows, dc becomes dc * f.
//
// Tuning defines: LSTMKIT_NATIVE_EXP (0/1): use native_exp in sigmoid/tanh. Default 0 (builtin exp):
//   exp-based forms cost about 1e-7 absolute error against libm tanh; native_exp's error is vendor-defined.
// NDRange: global = (H, B). Benchmark: `swift run -c release lstm-bench` (profile lines "lstm_cell_*").

#ifndef LSTMKIT_NATIVE_EXP
#define LSTMKIT_NATIVE_EXP 0
#endif
#if LSTMKIT_NATIVE_EXP
#define LSTMKIT_EXP native_exp
#else
#define LSTMKIT_EXP exp
#endif

inline float lstmkit_sigmoid(float x) { return 1.0f / (1.0f + LSTMKIT_EXP(-x)); }
inline float lstmkit_tanh(float x) {
    const float e = LSTMKIT_EXP(2.0f * fabs(x));
    return copysign(1.0f - 2.0f / (e + 1.0f), x);
}

__kernel void lstm_cell_forward(const int B, const int H, const int T, const int step, const int reverse,
                                __global const int *lengths,
                                __global const float *gx, __global const float *r,
                                __global const float *bias_ih, const int offBih,
                                __global const float *bias_hh, const int offBhh, const int has_bias,
                                __global float *hs, __global float *cs, __global float *gates,
                                __global float *y, const int offY, const int ldy)
{
    const int j = (int)get_global_id(0);
    const int b = (int)get_global_id(1);
    if (j >= H || b >= B) return;
    const int len = lengths[b];
    const size_t prev = ((size_t)step * B + b) * H + j;
    const size_t next = prev + (size_t)B * H;
    if (step >= len) {
        hs[next] = hs[prev];
        cs[next] = cs[prev];
        y[((size_t)step * B + b) * ldy + offY + j] = 0.0f;
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    __global const float *gxr = gx + ((size_t)t * B + b) * 4 * H;
    __global const float *rr = r + (size_t)b * 4 * H;
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
    const float c = f * cs[prev] + i * g;
    const float h = o * lstmkit_tanh(c);
    cs[next] = c;
    hs[next] = h;
    __global float *gs = gates + ((size_t)step * B + b) * 4 * H;
    gs[j] = i; gs[H + j] = f; gs[2 * H + j] = g; gs[3 * H + j] = o;
    y[((size_t)t * B + b) * ldy + offY + j] = h;
}

__kernel void lstm_cell_backward(const int B, const int H, const int T, const int step, const int reverse,
                                 __global const int *lengths,
                                 __global const float *gates, __global const float *cs,
                                 __global const float *dy, const int offDY, const int lddy,
                                 __global float *dh, __global float *dc,
                                 __global float *dgs, __global float *dgt)
{
    const int j = (int)get_global_id(0);
    const int b = (int)get_global_id(1);
    if (j >= H || b >= B) return;
    const int len = lengths[b];
    __global float *gs = dgs + ((size_t)step * B + b) * 4 * H;
    if (step >= len) {
        // Padding: no gate gradient; dh and dc pass through to the previous step unchanged.
        gs[j] = 0.0f; gs[H + j] = 0.0f; gs[2 * H + j] = 0.0f; gs[3 * H + j] = 0.0f;
        if (reverse) {
            __global float *gt = dgt + ((size_t)step * B + b) * 4 * H;
            gt[j] = 0.0f; gt[H + j] = 0.0f; gt[2 * H + j] = 0.0f; gt[3 * H + j] = 0.0f;
        }
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    const size_t sb = (size_t)b * H + j;
    __global const float *ga = gates + ((size_t)step * B + b) * 4 * H;
    const float i = ga[j], f = ga[H + j], g = ga[2 * H + j], o = ga[3 * H + j];
    const float c_prev = cs[(size_t)step * B * H + sb];
    const float tc = lstmkit_tanh(cs[(size_t)(step + 1) * B * H + sb]);
    const float dht = dh[sb] + dy[((size_t)t * B + b) * lddy + offDY + j];
    const float dct = dc[sb] + dht * o * (1.0f - tc * tc);
    const float di = dct * g * i * (1.0f - i);
    const float df = dct * c_prev * f * (1.0f - f);
    const float dg = dct * i * (1.0f - g * g);
    const float d_o = dht * tc * o * (1.0f - o);
    gs[j] = di; gs[H + j] = df; gs[2 * H + j] = dg; gs[3 * H + j] = d_o;
    if (reverse) {
        __global float *gt = dgt + ((size_t)t * B + b) * 4 * H;
        gt[j] = di; gt[H + j] = df; gt[2 * H + j] = dg; gt[3 * H + j] = d_o;
    }
    dh[sb] = 0.0f;
    dc[sb] = dct * f;
}
