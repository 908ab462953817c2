// gru_cell.cl: the fused GRU cell (PyTorch nn.GRU), forward and backward, one loop step of one layer/direction.
//
// B = batch, T = time steps, H = hidden size. Gate order is PyTorch's: r, z, n.
//   r = ract(gx_r + b_ir + gh_r + b_hr), z = ract(gx_z + b_iz + gh_z + b_hz)
//   n = act(gx_n + b_in + r * (gh_n + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}
// act, ract: Keras's activation and recurrent_activation by kind (common.cl lstmkit_act; default 2 tanh, 3 sigmoid).
// where gx = x . W_ih^T (time-indexed [T, B, 3H], one gemm for all steps) and gh = h_{t-1} . W_hh^T ([B, 3H],
// one gemm per step). The reset gate multiplies after the recurrent product, as PyTorch does.
// Step-indexed: hs [T+1, B, H] (hs[0] = h0); gates [T, B, 4H] = r, z, n, gh_n + b_hn (saved for backward);
//   dgh [T, B, 3H] = gradient w.r.t. the recurrent pre-activations (for dW_hh, db_hh and dh += dgh . W_hh).
// Time-indexed: y/dy [T, B, ldy] (this direction's columns at offY); dgx [T, B, 3H] = gradient w.r.t. the
//   input pre-activations (for dW_ih, db_ih and dX). Past a sequence's length (lengths [B]) the state is
//   carried, the output is 0, and both gradients are 0.
// Tuning defines: none of its own (the host passes none: common.cl's exp switch stays at its default, exp). NDRange: global = (H, B).
// Benchmark: none yet (lstm-bench times LSTMs only); GRUTests checks it against PyTorch and the CPU twin.

__kernel void gru_cell_forward(const int B, const int H, const int T, const int step, const int reverse,
                               __global const int *lengths, __global const real *gx, __global const real *gh,
                               __global const real *bias_ih, const int offBih,
                               __global const real *bias_hh, const int offBhh, const int has_bias,
                               __global real *hs, __global real *gates,
                               __global real *y, const int offY, const int ldy, const int act, const int ract)
{
    const int j = (int)get_global_id(0), b = (int)get_global_id(1);
    if (j >= H || b >= B) return;
    const int len = lengths[b];
    const size_t prev = ((size_t)step * B + b) * H + j, next = prev + (size_t)B * H;
    if (step >= len) {
        hs[next] = hs[prev];
        y[((size_t)step * B + b) * ldy + offY + j] = 0.0f;
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    __global const real *x3 = gx + ((size_t)t * B + b) * 3 * H;
    __global const real *h3 = gh + (size_t)b * 3 * H;
    real ax[3], ah[3];
    for (int q = 0; q < 3; ++q) {
        ax[q] = x3[q * H + j];
        ah[q] = h3[q * H + j];
        if (has_bias) { ax[q] += bias_ih[offBih + q * H + j]; ah[q] += bias_hh[offBhh + q * H + j]; }
    }
    const real r = lstmkit_act(ract, ax[0] + ah[0]);
    const real z = lstmkit_act(ract, ax[1] + ah[1]);
    const real n = lstmkit_act(act, ax[2] + r * ah[2]);
    const real h = (1.0f - z) * n + z * hs[prev];
    hs[next] = h;
    __global real *g = gates + ((size_t)step * B + b) * 4 * H;
    g[j] = r; g[H + j] = z; g[2 * H + j] = n; g[3 * H + j] = ah[2];
    y[((size_t)t * B + b) * ldy + offY + j] = h;
}

__kernel void gru_cell_backward(const int B, const int H, const int T, const int step, const int reverse,
                                __global const int *lengths, __global const real *gates, __global const real *hs,
                                __global const real *dy, const int offDY, const int lddy,
                                __global real *dh, __global real *dgh, __global real *dgx, const int act, const int ract)
{
    const int j = (int)get_global_id(0), b = (int)get_global_id(1);
    if (j >= H || b >= B) return;
    const int len = lengths[b];
    __global real *gs = dgh + ((size_t)step * B + b) * 3 * H;
    if (step >= len) {
        gs[j] = 0.0f; gs[H + j] = 0.0f; gs[2 * H + j] = 0.0f;
        __global real *gt = dgx + ((size_t)step * B + b) * 3 * H;
        gt[j] = 0.0f; gt[H + j] = 0.0f; gt[2 * H + j] = 0.0f;
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    const size_t sb = (size_t)b * H + j;
    __global const real *g = gates + ((size_t)step * B + b) * 4 * H;
    const real r = g[j], z = g[H + j], n = g[2 * H + j], hn = g[3 * H + j];
    const real h_prev = hs[(size_t)step * B * H + sb];
    const real dht = dh[sb] + dy[((size_t)t * B + b) * lddy + offDY + j];
    const real dan = lstmkit_act_back(act, dht * (1.0f - z), n);
    const real dar = lstmkit_act_back(ract, dan * hn, r);
    const real daz = lstmkit_act_back(ract, dht * (h_prev - n), z);
    __global real *gt = dgx + ((size_t)t * B + b) * 3 * H;
    gt[j] = dar; gt[H + j] = daz; gt[2 * H + j] = dan;
    gs[j] = dar; gs[H + j] = daz; gs[2 * H + j] = dan * r;
    dh[sb] = dht * z;  // the gemm dh += dgh . W_hh adds the path through the gates
}
