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
//           i = ract(a_i), f = ract(a_f), g = act(a_g), o = ract(a_o)
//           c_t = f * c_{t-1} + i * g,  h_t = o * act(c_t)
// act, ract: Keras's activation and recurrent_activation by kind (common.cl lstmkit_act; default 2 tanh, 3 sigmoid).
// Cell clipping (cell_clip > 0, as cuDNN): c_t is clamped to [-cell_clip, cell_clip] before tanh, and the
// gradient w.r.t. the unclipped c_t is 0 where it was clipped. cell_clip <= 0 turns it off.
// Peepholes (has_peep; peep: [3H] = p_i, p_f, p_o): a_i += p_i * c_{t-1}, a_f += p_f * c_{t-1}, and
// a_o += p_o * c_t (the clipped c_t), as ONNX's P. Their gradients: lstm_variants.cl `lstm_peephole_grad`.
// Recurrent dropout (has_rmask; rmask: [B, H], 0 or 1/(1-p), one mask per sequence for all steps, Gal &
// Ghahramani as Keras): forward also writes hm[s+1] = h_t * mask (hm: [T+1, B, H]), the input of the next
// recurrent gemm; backward multiplies the carried dh (the gemm's dG . W_hh) by the mask where step+1 < len.
// write_y = 0 (projection, where h_t = W_hr m_t is made by a gemm after this kernel) leaves y alone; hs then
// holds m_t = o * tanh(c_t).
// Backward: dh = mask * dh_next + dy[t], dc = dc_next + dh * o * (1 - tanh(c_t)^2) + da_o * p_o, then the
//           pre-activation gradients; dh is left at 0 for the gemm dh += dG . W_hh that follows, dc becomes
//           dc * f + da_i * p_i + da_f * p_f.
//
// Tuning defines:
//   LSTMKIT_NATIVE_EXP (0/1): the exp switch of common.cl (native_exp in sigmoid/tanh; the host passes 1 for CPU
//     devices, see common.cl for its error).
//   CVW (1, 4, 8 or 16): hidden units per work-item, as one realCVW vector. Default 8; the host passes 16 on
//     CPU devices and 1 on GPUs. PoCL does not vectorize the scalar form across work-items (exp stays a scalar
//     call, ~60 ns per unit); the vector form runs exp on whole vectors. On PoCL, preset M, per forward/backward
//     launch: CVW 1 with exp 1454/561 us, CVW 16 with native_exp 126/80 us (docs/decisions/0011-opencl-vector-cell-and-column-sum.md).
//     The last work-item of a row takes the H % CVW tail one unit at a time.
// NDRange: global = (ceil(H / CVW), B). Benchmark: lstm-bench (profile lines "lstm_cell_forward/backward").

#ifndef CVW
#define CVW 8
#endif
#if !LSTMKIT_CHECK_WIDTH(CVW)
#error "CVW must be 1, 4, 8 or 16"
#endif
#define CVEC REALV(CVW)
#define CLOAD(p) VLOADW(CVW)(0, p)
#define CSTORE(v, p) VSTOREW(CVW)(v, 0, p)
#define SLOAD(p) VLOADW(1)(0, p)
#define SSTORE(v, p) VSTOREW(1)(v, 0, p)
#define lstmkit_act_v LSTMKIT_CAT(lstmkit_act, CVW)
#define lstmkit_act_back_v LSTMKIT_CAT(lstmkit_act_back, CVW)

// The cell math for the units [j, j + width of V), written once and instantiated twice below: on CVEC vectors
// (the body of a row) and on single floats (the H % CVW tail). Row pointers are already at (t or step, b).
// yr == 0: no output write; mrow == 0: no recurrent mask.
#define LSTM_FORWARD_UNITS(NAME, V, LD, ST, ACT)                                                        \
inline void NAME(const int H, const int j, __global const real *gxr, __global const real *rr,              \
                 __global const real *bih, __global const real *bhh, const int has_bias,                    \
                 __global const real *cPrev, __global real *cNext, __global real *hNext, __global real *gs, \
                 __global real *yr, const float cell_clip, __global const real *peep, const int has_peep,    \
                 __global const real *mrow, __global real *hmNext, const int act, const int ract) {          \
    V a[4];                                                                                                    \
    for (int q = 0; q < 4; ++q) {                                                                              \
        a[q] = LD(gxr + q * H + j) + LD(rr + q * H + j);                                                       \
        if (has_bias) a[q] += LD(bih + q * H + j) + LD(bhh + q * H + j);                                       \
    }                                                                                                          \
    const V cp = LD(cPrev + j);                                                                                \
    if (has_peep) { a[0] += LD(peep + j) * cp; a[1] += LD(peep + H + j) * cp; }                                \
    const V i = ACT(ract, a[0]), f = ACT(ract, a[1]), g = ACT(act, a[2]);                                      \
    V c = f * cp + i * g;                                                                                      \
    if (cell_clip > 0.0f) c = clamp(c, -cell_clip, cell_clip);                                                 \
    if (has_peep) a[3] += LD(peep + 2 * H + j) * c;                                                            \
    const V o = ACT(ract, a[3]);                                                                               \
    const V h = o * ACT(act, c);                                                                               \
    ST(c, cNext + j);                                                                                          \
    ST(h, hNext + j);                                                                                          \
    ST(i, gs + j); ST(f, gs + H + j); ST(g, gs + 2 * H + j); ST(o, gs + 3 * H + j);                            \
    if (yr) ST(h, yr + j);                                                                                     \
    if (mrow) ST(h * LD(mrow + j), hmNext + j);                                                                \
}

#define LSTM_BACKWARD_UNITS(NAME, V, LD, ST, ACT, BACK)                                                            \
inline void NAME(const int H, const int j, __global const real *ga, __global const real *cPrevRow,          \
                 __global const real *cRow, __global const real *dyr, __global real *dhr, __global real *dcr, \
                 __global real *gs, __global real *gt, const float cell_clip,                                \
                 __global const real *peep, const int has_peep, __global const real *mrow,                    \
                 const int act, const int ract) {                                                            \
    const V i = LD(ga + j), f = LD(ga + H + j), g = LD(ga + 2 * H + j), o = LD(ga + 3 * H + j);                \
    const V cp = LD(cPrevRow + j), cv = LD(cRow + j);                                                          \
    const V tc = ACT(act, cv);                                                                                 \
    V dhv = LD(dhr + j);                                                                                       \
    if (mrow) dhv *= LD(mrow + j);                                                                             \
    const V dht = dhv + LD(dyr + j);                                                                           \
    const V d_o = BACK(ract, dht * tc, o);                                                                     \
    V dct = LD(dcr + j) + BACK(act, dht * o, tc);                                                              \
    if (has_peep) dct += d_o * LD(peep + 2 * H + j);                                                           \
    if (cell_clip > 0.0f) dct = select(dct, (V)(0.0f), isgreaterequal(fabs(cv), (V)(cell_clip)));              \
    const V di = BACK(ract, dct * g, i);                                                                       \
    const V df = BACK(ract, dct * cp, f);                                                                      \
    const V dg = BACK(act, dct * i, g);                                                                        \
    ST(di, gs + j); ST(df, gs + H + j); ST(dg, gs + 2 * H + j); ST(d_o, gs + 3 * H + j);                       \
    if (gt) { ST(di, gt + j); ST(df, gt + H + j); ST(dg, gt + 2 * H + j); ST(d_o, gt + 3 * H + j); }           \
    ST((V)(0.0f), dhr + j);                                                                                    \
    V dcp = dct * f;                                                                                           \
    if (has_peep) dcp += di * LD(peep + j) + df * LD(peep + H + j);                                            \
    ST(dcp, dcr + j);                                                                                          \
}

// The default pair (act tanh 2, ract sigmoid 3) is passed on as constants, so its activation branches fold away
// after inlining; other pairs go by kind.
#define WITH_ACTS(CALL) do { if (act == 2 && ract == 3) { const int act_ = 2, ract_ = 3; CALL; } \
                             else { const int act_ = act, ract_ = ract; CALL; } } while (0)

LSTM_FORWARD_UNITS(lstm_forward_vec, CVEC, CLOAD, CSTORE, lstmkit_act_v)
LSTM_FORWARD_UNITS(lstm_forward_one, real, SLOAD, SSTORE, lstmkit_act)
LSTM_BACKWARD_UNITS(lstm_backward_vec, CVEC, CLOAD, CSTORE, lstmkit_act_v, lstmkit_act_back_v)
LSTM_BACKWARD_UNITS(lstm_backward_one, real, SLOAD, SSTORE, lstmkit_act, lstmkit_act_back)

__kernel void lstm_cell_forward(const int B, const int H, const int T, const int step, const int reverse,
                                __global const int *lengths,
                                __global const real *gx, __global const real *r,
                                __global const real *bias_ih, const int offBih,
                                __global const real *bias_hh, const int offBhh, const int has_bias,
                                __global real *hs, __global real *cs, __global real *gates,
                                __global real *y, const int offY, const int ldy, const float cell_clip,
                                __global const real *peep, const int offPeep, const int has_peep,
                                __global const real *rmask, const int has_rmask, __global real *hm,
                                const int write_y, const int act, const int ract)
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
            if (has_rmask) hm[next + j] = hm[prev + j];
            if (write_y) y[((size_t)step * B + b) * ldy + offY + j] = 0.0f;
        }
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    __global const real *gxr = gx + ((size_t)t * B + b) * 4 * H;
    __global const real *rr = r + (size_t)b * 4 * H;
    __global real *gs = gates + ((size_t)step * B + b) * 4 * H;
    __global real *yr = write_y ? y + ((size_t)t * B + b) * ldy + offY : 0;
    __global const real *mrow = has_rmask ? rmask + (size_t)b * H : 0;
    __global const real *pp = peep + offPeep;
    if (jEnd - j0 == CVW) {
        WITH_ACTS(lstm_forward_vec(H, j0, gxr, rr, bias_ih + offBih, bias_hh + offBhh, has_bias, cs + prev, cs + next, hs + next,
                                   gs, yr, cell_clip, pp, has_peep, mrow, hm + next, act_, ract_));
        return;
    }
    for (int j = j0; j < jEnd; ++j)  // tail: H % CVW units
        WITH_ACTS(lstm_forward_one(H, j, gxr, rr, bias_ih + offBih, bias_hh + offBhh, has_bias, cs + prev, cs + next, hs + next,
                                   gs, yr, cell_clip, pp, has_peep, mrow, hm + next, act_, ract_));
}

__kernel void lstm_cell_backward(const int B, const int H, const int T, const int step, const int reverse,
                                 __global const int *lengths,
                                 __global const real *gates, __global const real *cs,
                                 __global const real *dy, const int offDY, const int lddy,
                                 __global real *dh, __global real *dc,
                                 __global real *dgs, __global real *dgt, const float cell_clip,
                                 __global const real *peep, const int offPeep, const int has_peep,
                                 __global const real *rmask, const int has_rmask, const int act, const int ract)
{
    const int j0 = (int)get_global_id(0) * CVW;
    const int b = (int)get_global_id(1);
    if (j0 >= H || b >= B) return;
    const int len = lengths[b];
    const int jEnd = min(j0 + CVW, H);
    __global real *gs = dgs + ((size_t)step * B + b) * 4 * H;
    if (step >= len) {
        // Padding: no gate gradient; dh and dc pass through to the previous step unchanged.
        for (int j = j0; j < jEnd; ++j) {
            gs[j] = 0.0f; gs[H + j] = 0.0f; gs[2 * H + j] = 0.0f; gs[3 * H + j] = 0.0f;
            if (reverse) {
                __global real *gt = dgt + ((size_t)step * B + b) * 4 * H;
                gt[j] = 0.0f; gt[H + j] = 0.0f; gt[2 * H + j] = 0.0f; gt[3 * H + j] = 0.0f;
            }
        }
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    __global const real *ga = gates + ((size_t)step * B + b) * 4 * H;
    __global real *gt = reverse ? dgt + ((size_t)t * B + b) * 4 * H : 0;
    __global const real *cPrevRow = cs + ((size_t)step * B + b) * H;
    __global const real *cRow = cs + ((size_t)(step + 1) * B + b) * H;
    __global const real *dyr = dy + ((size_t)t * B + b) * lddy + offDY;
    // The carried dh is the recurrent gemm's dG[step+1] . W_hh only where step+1 was a valid step.
    __global const real *mrow = has_rmask && step + 1 < len ? rmask + (size_t)b * H : 0;
    __global const real *pp = peep + offPeep;
    if (jEnd - j0 == CVW) {
        WITH_ACTS(lstm_backward_vec(H, j0, ga, cPrevRow, cRow, dyr, dh + (size_t)b * H, dc + (size_t)b * H, gs, gt, cell_clip,
                                    pp, has_peep, mrow, act_, ract_));
        return;
    }
    for (int j = j0; j < jEnd; ++j)  // tail: H % CVW units
        WITH_ACTS(lstm_backward_one(H, j, ga, cPrevRow, cRow, dyr, dh + (size_t)b * H, dc + (size_t)b * H, gs, gt, cell_clip,
                                    pp, has_peep, mrow, act_, ract_));
}
