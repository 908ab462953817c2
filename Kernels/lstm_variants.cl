// lstm_variants.cl: the kernels of the LSTM variants beyond lstm_cell.cl: peephole gradients, projection
// (PyTorch proj_size) and the layer-normalised LSTM (Ba, Kiros & Hinton 2016).
//
// B = batch, T = time steps, H = hidden size, P = projection size, N = row length. Gate order i, f, g, o.
// Step-indexed buffers hold loop step s at [s] (the reverse direction runs time len_b-1-s at step s); lengths: [B].
//
// Peephole gradients (lstm_peephole_grad), over all rows (s, b) at once, after the time loop:
//   dp_i += sum dgs[., i] * c_{t-1},  dp_f += sum dgs[., f] * c_{t-1},  dp_o += sum dgs[., o] * c_t
//   dgs: [T, B, 4H] by step; cs: [T+1, B, H] by step (cs[s] = c_{t-1}, cs[s+1] = c_t); dpeep: [3H] = i, f, o.
//
// Projection (h_t = W_hr m_t, m_t = o * tanh(c_t), W_hr: [P, H]). Per step the cell kernel writes m_t, a gemm
// writes hs[s+1] = m_t . W_hr^T for every row, then lstm_projection_forward carries h past a sequence's end,
// writes the output y[t] and the masked state hm (recurrent dropout). hs, hm: [T+1, B, P].
// Backward, per step: lstm_projection_backward turns dh (carried, masked) + dy[t] into dhs[s] ([T, B, P] by
// step, 0 on padding; a gemm then makes dm = dhs[s] . W_hr) and leaves dh at 0 (or unchanged on padding).
//
// Layer norm (eps 1e-5, biased variance, as torch.nn.LayerNorm):
//   a = LN_ih(x . W_ih^T) + LN_hh(h . W_hh^T) + b_ih + b_hh [+ peepholes],   LN(v) = w * (v - mean) / sqrt(var + eps) + b
//   i, f, g, o as lstm_cell.cl, c_t = f * c_{t-1} + i * g (clipped), h_t = o * tanh(LN_c(c_t))
//   LN_ih and LN_hh normalise all 4H pre-activations of a row together; LN_c normalises the H units of c_t.
//   LN_ih does not depend on the recurrence: layer_norm_forward runs it over all T*B rows before the loop and
//   layer_norm_backward after it. LN_hh and LN_c are fused into lstm_ln_cell_forward/backward: one work-group
//   per batch row, LN_WG work-items, local-memory reductions for the statistics.
//   r: [T, B, 4H] by step (the raw recurrent product), stats: [T, B, 4] by step = mean_r, rstd_r, mean_c, rstd_c.
//   Backward per step: dgs = dL/dr (for dh += dgs . W_hh and dW_hh), dAs = dL/da by step (for the LN_hh
//   parameter gradients), dAt = dL/da by time (reverse only; forward: the same buffer as dAs), dcn = dL/dLN_c(c).
//   Parameters (one flat buffer, offsets): LN weights and biases [4H] for ih and hh, [H] for c.
//
// Tuning defines:
//   LN_WG (power of two): work-items per batch row in the layer-norm kernels. Default 64.
//   PVW (1, 4, 8, 16): units per work-item (one realPVW vector) in the column reductions lstm_peephole_grad and
//     layer_norm_param_grad. Default 4; the host passes the column-sum width (16 on CPU devices, 1 on GPUs).
//   LSTMKIT_NATIVE_EXP (0/1): common.cl's exp switch, as lstm_cell.cl.
// NDRange: lstm_peephole_grad ceil(H / PVW); lstm_projection_* (P, B); layer_norm_forward/backward and
// lstm_ln_cell_*: global (LN_WG, rows), local (LN_WG, 1); layer_norm_param_grad ceil(N / PVW).
// Benchmark: lstm-bench --peephole / --proj / --layer-norm (profile lines name these kernels).

#ifndef LN_WG
#define LN_WG 64
#endif
#ifndef PVW
#define PVW 4
#endif
#define LN_EPS 1e-5f

#if !LSTMKIT_CHECK_WIDTH(PVW)
#error "PVW must be 1, 4, 8 or 16"
#endif
#define PVEC REALV(PVW)
#define PLOAD(p) VLOADW(PVW)(0, p)
#define PSTORE(v, p) VSTOREW(PVW)(v, 0, p)

// ---------------------------------------------------------------------------------------------------------
// Peepholes

__kernel void lstm_peephole_grad(const int rows, const int B, const int H,
                                 __global const real *dgs, __global const real *cs,
                                 __global real *dpeep, const int offDpeep)
{
    const int j0 = (int)get_global_id(0) * PVW;
    if (j0 >= H) return;
    __global real *dp = dpeep + offDpeep;
    if (j0 + PVW <= H) {
        PVEC ai = (PVEC)(0.0f), af = (PVEC)(0.0f), ao = (PVEC)(0.0f);
        for (int row = 0; row < rows; ++row) {
            __global const real *g = dgs + (size_t)row * 4 * H + j0;
            const PVEC cPrev = PLOAD(cs + (size_t)row * H + j0), c = PLOAD(cs + (size_t)(row + B) * H + j0);
            ai += PLOAD(g) * cPrev;
            af += PLOAD(g + H) * cPrev;
            ao += PLOAD(g + 3 * H) * c;
        }
        PSTORE(PLOAD(dp + j0) + ai, dp + j0);
        PSTORE(PLOAD(dp + H + j0) + af, dp + H + j0);
        PSTORE(PLOAD(dp + 2 * H + j0) + ao, dp + 2 * H + j0);
        return;
    }
    for (int j = j0; j < H; ++j) {  // tail: H % PVW units
        real ai = 0.0f, af = 0.0f, ao = 0.0f;
        for (int row = 0; row < rows; ++row) {
            __global const real *g = dgs + (size_t)row * 4 * H + j;
            const real cPrev = cs[(size_t)row * H + j], c = cs[(size_t)(row + B) * H + j];
            ai += g[0] * cPrev;
            af += g[H] * cPrev;
            ao += g[3 * H] * c;
        }
        dp[j] += ai; dp[H + j] += af; dp[2 * H + j] += ao;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Projection

__kernel void lstm_projection_forward(const int B, const int P, const int T, const int step, const int reverse,
                                      __global const int *lengths, __global real *hs,
                                      __global real *y, const int offY, const int ldy,
                                      __global const real *rmask, const int has_rmask, __global real *hm)
{
    const int j = (int)get_global_id(0), b = (int)get_global_id(1);
    if (j >= P || b >= B) return;
    const int len = lengths[b];
    const size_t prev = ((size_t)step * B + b) * P + j, next = prev + (size_t)B * P;
    if (step >= len) {
        hs[next] = hs[prev];
        if (has_rmask) hm[next] = hm[prev];
        y[((size_t)step * B + b) * ldy + offY + j] = 0.0f;
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    const real h = hs[next];
    y[((size_t)t * B + b) * ldy + offY + j] = h;
    if (has_rmask) hm[next] = h * rmask[(size_t)b * P + j];
}

__kernel void lstm_projection_backward(const int B, const int P, const int T, const int step, const int reverse,
                                       __global const int *lengths,
                                       __global const real *dy, const int offDY, const int lddy,
                                       __global real *dh, __global real *dhs,
                                       __global const real *rmask, const int has_rmask)
{
    const int j = (int)get_global_id(0), b = (int)get_global_id(1);
    if (j >= P || b >= B) return;
    const int len = lengths[b];
    __global real *out = dhs + ((size_t)step * B + b) * P + j;
    if (step >= len) { *out = 0.0f; return; }  // padding: dh passes through unchanged
    const int t = reverse ? len - 1 - step : step;
    real v = dh[(size_t)b * P + j];
    if (has_rmask && step + 1 < len) v *= rmask[(size_t)b * P + j];  // the gemm's dG[step+1] . W_hh part
    *out = v + dy[((size_t)t * B + b) * lddy + offDY + j];
    dh[(size_t)b * P + j] = 0.0f;
}

// ---------------------------------------------------------------------------------------------------------
// Layer norm

// The sum of v over the work-group (all LN_WG work-items must call it).
inline real ln_sum(real v, __local real *scratch) {
    const int lid = (int)get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LN_WG / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const real total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

// (mean, 1 / sqrt(variance + LN_EPS)) of x[0 .. n) over the work-group, in two passes (all LN_WG work-items
// must call it).
inline real2 ln_moments(__global const real *x, const int n, __local real *scratch) {
    const int lid = (int)get_local_id(0);
    real s = 0.0f;
    for (int k = lid; k < n; k += LN_WG) s += x[k];
    const real mean = ln_sum(s, scratch) / n;
    s = 0.0f;
    for (int k = lid; k < n; k += LN_WG) { const real d = x[k] - mean; s += d * d; }
    return (real2)(mean, 1.0f / sqrt(ln_sum(s, scratch) / n + LN_EPS));
}

// y[row] = w * (x[row] - mean) * rstd + b over rows of N; stats[row] = (mean, rstd).
__kernel void layer_norm_forward(const int rows, const int N, __global const real *x,
                                 __global const real *params, const int offW, const int offB,
                                 __global real *y, __global real *stats)
{
    __local real scratch[LN_WG];
    const int lid = (int)get_local_id(0), row = (int)get_group_id(1);
    if (row >= rows) return;
    __global const real *xr = x + (size_t)row * N;
    const real2 moments = ln_moments(xr, N, scratch);
    const real mean = moments.x, rstd = moments.y;
    for (int k = lid; k < N; k += LN_WG) y[(size_t)row * N + k] = params[offW + k] * ((xr[k] - mean) * rstd) + params[offB + k];
    if (lid == 0) { stats[2 * row] = mean; stats[2 * row + 1] = rstd; }
}

// dx[row] = rstd * (dxh - mean(dxh) - xh * mean(dxh * xh)), dxh = dy * w, xh = (x - mean) * rstd.
__kernel void layer_norm_backward(const int rows, const int N, __global const real *dy, __global const real *x,
                                  __global const real *stats, __global const real *params, const int offW,
                                  __global real *dx)
{
    __local real scratch[LN_WG];
    const int lid = (int)get_local_id(0), row = (int)get_group_id(1);
    if (row >= rows) return;
    const real mean = stats[2 * row], rstd = stats[2 * row + 1];
    __global const real *xr = x + (size_t)row * N, *dyr = dy + (size_t)row * N;
    real s1 = 0.0f, s2 = 0.0f;
    for (int k = lid; k < N; k += LN_WG) {
        const real dxh = dyr[k] * params[offW + k];
        s1 += dxh;
        s2 += dxh * ((xr[k] - mean) * rstd);
    }
    const real m1 = ln_sum(s1, scratch) / N;
    const real m2 = ln_sum(s2, scratch) / N;
    for (int k = lid; k < N; k += LN_WG) {
        const real dxh = dyr[k] * params[offW + k];
        dx[(size_t)row * N + k] = rstd * (dxh - m1 - ((xr[k] - mean) * rstd) * m2);
    }
}

// dw[k] += sum_rows dy * (x - mean) * rstd, db[k] += sum_rows dy. The statistics of row `row` are at
// stats[row * stride + offS] (mean) and the element after it (rstd).
__kernel void layer_norm_param_grad(const int rows, const int N, __global const real *dy,
                                    __global const real *x, const int offX,
                                    __global const real *stats, const int stride, const int offS,
                                    __global real *grads, const int offDw, const int offDb)
{
    const int k0 = (int)get_global_id(0) * PVW;
    if (k0 >= N) return;
    __global const real *xs = x + offX;
    if (k0 + PVW <= N) {
        PVEC sw = (PVEC)(0.0f), sb = (PVEC)(0.0f);
        for (int row = 0; row < rows; ++row) {
            const PVEC d = PLOAD(dy + (size_t)row * N + k0);
            const real mean = stats[(size_t)row * stride + offS], rstd = stats[(size_t)row * stride + offS + 1];
            sw += d * ((PLOAD(xs + (size_t)row * N + k0) - mean) * rstd);
            sb += d;
        }
        PSTORE(PLOAD(grads + offDw + k0) + sw, grads + offDw + k0);
        PSTORE(PLOAD(grads + offDb + k0) + sb, grads + offDb + k0);
        return;
    }
    for (int k = k0; k < N; ++k) {  // tail: N % PVW columns
        real sw = 0.0f, sb = 0.0f;
        for (int row = 0; row < rows; ++row) {
            const real d = dy[(size_t)row * N + k];
            const real mean = stats[(size_t)row * stride + offS], rstd = stats[(size_t)row * stride + offS + 1];
            sw += d * ((xs[(size_t)row * N + k] - mean) * rstd);
            sb += d;
        }
        grads[offDw + k] += sw;
        grads[offDb + k] += sb;
    }
}

// One forward step of the layer-normalised cell for one batch row per work-group. `params` holds the biases,
// the LN_hh and LN_c weights and biases and the peepholes at the given offsets.
__kernel void lstm_ln_cell_forward(const int B, const int H, const int T, const int step, const int reverse,
                                   __global const int *lengths, __global const real *gxn, __global const real *r,
                                   __global const real *params, const int offBih, const int offBhh, const int has_bias,
                                   const int offHhW, const int offHhB, const int offCW, const int offCB,
                                   const int offPeep, const int has_peep,
                                   __global real *hs, __global real *cs, __global real *gates, __global real *stats,
                                   __global real *y, const int offY, const int ldy, const float cell_clip,
                                   __global const real *rmask, const int has_rmask, __global real *hm, const int write_y)
{
    __local real scratch[LN_WG];
    const int lid = (int)get_local_id(0), b = (int)get_group_id(1);
    if (b >= B) return;
    const int len = lengths[b];
    const size_t prev = ((size_t)step * B + b) * H, next = prev + (size_t)B * H;
    __global real *st = stats + ((size_t)step * B + b) * 4;
    if (step >= len) {
        for (int j = lid; j < H; j += LN_WG) {
            hs[next + j] = hs[prev + j];
            cs[next + j] = cs[prev + j];
            if (has_rmask) hm[next + j] = hm[prev + j];
            if (write_y) y[((size_t)step * B + b) * ldy + offY + j] = 0.0f;
        }
        if (lid == 0) { st[0] = 0.0f; st[1] = 0.0f; st[2] = 0.0f; st[3] = 0.0f; }
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    const int G = 4 * H;
    __global const real *rr = r + ((size_t)step * B + b) * G;
    __global const real *gxr = gxn + ((size_t)t * B + b) * G;
    __global real *gs = gates + ((size_t)step * B + b) * G;
    const real2 momentsR = ln_moments(rr, G, scratch);
    const real meanR = momentsR.x, rstdR = momentsR.y;
    real sc = 0.0f;
    for (int j = lid; j < H; j += LN_WG) {
        real a[4];
        for (int q = 0; q < 4; ++q) {
            const int k = q * H + j;
            a[q] = gxr[k] + (params[offHhW + k] * ((rr[k] - meanR) * rstdR) + params[offHhB + k]);
            if (has_bias) a[q] += params[offBih + k] + params[offBhh + k];
        }
        const real cp = cs[prev + j];
        if (has_peep) { a[0] += params[offPeep + j] * cp; a[1] += params[offPeep + H + j] * cp; }
        const real i = lstmkit_sigmoid(a[0]), f = lstmkit_sigmoid(a[1]), g = lstmkit_tanh(a[2]);
        real c = f * cp + i * g;
        if (cell_clip > 0.0f) c = clamp(c, -cell_clip, cell_clip);
        if (has_peep) a[3] += params[offPeep + 2 * H + j] * c;
        gs[j] = i; gs[H + j] = f; gs[2 * H + j] = g; gs[3 * H + j] = lstmkit_sigmoid(a[3]);
        cs[next + j] = c;
        sc += c;
    }
    const real meanC = ln_sum(sc, scratch) / H;
    real s = 0.0f;
    for (int j = lid; j < H; j += LN_WG) { const real d = cs[next + j] - meanC; s += d * d; }
    const real rstdC = 1.0f / sqrt(ln_sum(s, scratch) / H + LN_EPS);
    for (int j = lid; j < H; j += LN_WG) {
        const real cn = params[offCW + j] * ((cs[next + j] - meanC) * rstdC) + params[offCB + j];
        const real h = gs[3 * H + j] * lstmkit_tanh(cn);
        hs[next + j] = h;
        if (write_y) y[((size_t)t * B + b) * ldy + offY + j] = h;
        if (has_rmask) hm[next + j] = h * rmask[(size_t)b * H + j];
    }
    if (lid == 0) { st[0] = meanR; st[1] = rstdR; st[2] = meanC; st[3] = rstdC; }
}

// One backward step of the layer-normalised cell for one batch row per work-group (see the file header).
__kernel void lstm_ln_cell_backward(const int B, const int H, const int T, const int step, const int reverse,
                                    __global const int *lengths,
                                    __global const real *params, const int offHhW, const int offCW, const int offCB,
                                    const int offPeep, const int has_peep,
                                    __global const real *gates, __global const real *cs, __global const real *r,
                                    __global const real *stats,
                                    __global const real *dy, const int offDY, const int lddy,
                                    __global real *dh, __global real *dc,
                                    __global real *dgs, __global real *dAs, __global real *dAt, __global real *dcn,
                                    const float cell_clip, __global const real *rmask, const int has_rmask)
{
    __local real scratch[LN_WG];
    const int lid = (int)get_local_id(0), b = (int)get_group_id(1);
    if (b >= B) return;
    const int len = lengths[b];
    const int G = 4 * H;
    const size_t rowS = (size_t)step * B + b;
    if (step >= len) {
        for (int k = lid; k < G; k += LN_WG) {
            dgs[rowS * G + k] = 0.0f;
            dAs[rowS * G + k] = 0.0f;
            if (reverse) dAt[rowS * G + k] = 0.0f;
        }
        for (int j = lid; j < H; j += LN_WG) dcn[rowS * H + j] = 0.0f;
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    __global const real *st = stats + rowS * 4;
    const real meanR = st[0], rstdR = st[1], meanC = st[2], rstdC = st[3];
    __global const real *ga = gates + rowS * G;
    __global const real *cPrev = cs + rowS * H, *cRow = cs + (rowS + B) * H;
    __global const real *rr = r + rowS * G;
    __global const real *dyr = dy + ((size_t)t * B + b) * lddy + offDY;
    __global real *dhr = dh + (size_t)b * H, *dcr = dc + (size_t)b * H;
    __global real *das = dAs + rowS * G;
    __global real *dat = dAt + ((size_t)t * B + b) * G;
    const int masked = has_rmask && step + 1 < len;
    // Through h = o * tanh(cn): da_o and dL/dcn; then LN_c backward needs two row means.
    real s1 = 0.0f, s2 = 0.0f;
    for (int j = lid; j < H; j += LN_WG) {
        const real ch = (cRow[j] - meanC) * rstdC;
        const real tl = lstmkit_tanh(params[offCW + j] * ch + params[offCB + j]);
        const real o = ga[3 * H + j];
        real dhv = dhr[j];
        if (masked) dhv *= rmask[(size_t)b * H + j];
        const real dht = dhv + dyr[j];
        const real d = dht * o * (1.0f - tl * tl);
        dcn[rowS * H + j] = d;
        das[3 * H + j] = dht * tl * o * (1.0f - o);
        const real dch = d * params[offCW + j];
        s1 += dch;
        s2 += dch * ch;
    }
    const real m1 = ln_sum(s1, scratch) / H, m2 = ln_sum(s2, scratch) / H;
    // The cell: dc_t, then the gate pre-activation gradients da, and dc_{t-1}.
    for (int j = lid; j < H; j += LN_WG) {
        const real ch = (cRow[j] - meanC) * rstdC;
        const real dch = dcn[rowS * H + j] * params[offCW + j];
        const real i = ga[j], f = ga[H + j], g = ga[2 * H + j];
        const real dO = das[3 * H + j];
        real dct = dcr[j] + rstdC * (dch - m1 - ch * m2);
        if (has_peep) dct += dO * params[offPeep + 2 * H + j];
        if (cell_clip > 0.0f && fabs(cRow[j]) >= cell_clip) dct = 0.0f;
        const real di = dct * g * i * (1.0f - i);
        const real df = dct * cPrev[j] * f * (1.0f - f);
        const real dg = dct * i * (1.0f - g * g);
        das[j] = di; das[H + j] = df; das[2 * H + j] = dg;
        if (reverse) { dat[j] = di; dat[H + j] = df; dat[2 * H + j] = dg; dat[3 * H + j] = dO; }
        real dcp = dct * f;
        if (has_peep) dcp += di * params[offPeep + j] + df * params[offPeep + H + j];
        dcr[j] = dcp;
        dhr[j] = 0.0f;
    }
    // LN_hh backward over the 4H columns of the recurrent product (each work-item reads back only its own units).
    s1 = 0.0f; s2 = 0.0f;
    for (int j = lid; j < H; j += LN_WG) {
        for (int q = 0; q < 4; ++q) {
            const int k = q * H + j;
            const real drh = das[k] * params[offHhW + k];
            s1 += drh;
            s2 += drh * ((rr[k] - meanR) * rstdR);
        }
    }
    const real n1 = ln_sum(s1, scratch) / G, n2 = ln_sum(s2, scratch) / G;
    for (int j = lid; j < H; j += LN_WG) {
        for (int q = 0; q < 4; ++q) {
            const int k = q * H + j;
            const real drh = das[k] * params[offHhW + k];
            dgs[rowS * G + k] = rstdR * (drh - n1 - ((rr[k] - meanR) * rstdR) * n2);
        }
    }
}
