// inference.cl: the LSTM kernels of the inference path (no backward follows: predict, evaluate, streaming).
//
// B = batch, T = time steps, H = hidden size. Gate order is PyTorch's: i, f, g, o. The math is lstm_cell.cl's
// lstm_cell_forward, in the same order of operations (so, built with the same defines, the same bits), but the
// state is kept once, not by step: h, c [B, H] are updated in place, and no gates are written.
//
// lstm_cell_infer: one loop step after the recurrent gemm r = h . W_hh^T.
//   gx: [T, B, 4H] by time (x . W_ih^T); r: [B, 4H]; h, c: [B, H] from offS, in place; y: [T, B, ldy] by time, this
//   direction's columns from offY (write_y 0: not written); lengths: [B], 1 <= len <= T. Past its length a
//   sequence's state stays and its output row is 0; the reverse direction runs time len-1-step at step `step`.
//   NDRange: global = (ceil(H / CVW), B).
// lstm_stream_step: one streaming step, the recurrent product fused in (batch-1 latency: one launch per layer).
//   a_q[b, j] = gx[row_b, qH+j] + sum_k hIn[b, k] * whh[qH+j, k] (+ b_ih + b_hh), then the cell;
//   row_b = ids[b] (token ids as floats, for an input-projection table of Embedding . W_ih^T + biases) when
//   has_ids, else b. hIn, cIn -> hOut, cOut: [B, H] from offS (distinct buffers). whh: [4H, H] (PyTorch's layout).
//   NDRange: global = (H, B).
// lstm_step_infer: one loop step with the recurrent product fused in (CPU-type devices, H <= 128: one launch a step
//   instead of the gemm and lstm_cell_infer; docs/decisions/0029-pocl-fused-inference-step.md). a_q[b, j] = gx[t, b, qH+j] + sum_k hIn[b, k] * whhT[k, qH+j] (+ b_ih + b_hh), then
//   lstm_cell_infer's cell. whhT: W_hh^T [H, 4H] (the NN operand StepOperand makes), from offW. hIn -> hOut: [B, H] from
//   offS, distinct buffers (ping-pong: other work-items still read hIn); c: [B, H] from offS, in place. The rest as
//   lstm_cell_infer; a row past its length copies its h to hOut. A work-item owns FTM rows x CVW units of all four
//   gates (4 * FTM accumulator vectors); each sum is one fma chain over k = 0..H-1 from 0, as gemm.cl's NN form makes
//   each element of r with K in one chunk, so the bits are those of gemm_NN + lstm_cell_infer (the host takes this
//   kernel only when H is within the gemm's K chunk). NDRange: global = (ceil(H / CVW), ceil(B / FTM)); the host
//   groups the row blocks of a column panel (they read the same columns of whhT).
// Tuning defines: CVW and LSTMKIT_NATIVE_EXP, as lstm_cell.cl (the host passes the same values); FTM, rows per
// work-item of lstm_step_infer (default 8: 32 accumulators of CVW floats). Benchmark: `swift build -c release --product
// lstm-bench && .build/release/lstm-bench --preset S --device opencl --modes predict` (profile line "lstm_step_infer").

#ifndef CVW
#define CVW 8
#endif
#if !LSTMKIT_CHECK_WIDTH(CVW)
#error "CVW must be 1, 4, 8 or 16"
#endif
#define IVEC REALV(CVW)
#define ILOAD(p) VLOADW(CVW)(0, p)
#define ISTORE(v, p) VSTOREW(CVW)(v, 0, p)
#define ISLOAD(p) VLOADW(1)(0, p)
#define ISSTORE(v, p) VSTOREW(1)(v, 0, p)
#define infer_sigmoid_v LSTMKIT_CAT(lstmkit_sigmoid, CVW)
#define infer_tanh_v LSTMKIT_CAT(lstmkit_tanh, CVW)
#ifndef FTM
#define FTM 8
#endif

// The cell for units [j, j + width of V) of one row, instantiated on IVEC vectors and on single floats (tail), the
// recurrent sums r0..r3 (gates i, f, g, o) given by value: lstm_step_infer passes its accumulators (they stay in
// registers), lstm_cell_infer the values gemm_NN stored in r (LSTM_INFER_UNITS). Same arithmetic, so the same bits.
#define LSTM_STEP_UNITS(NAME, V, LD, ST, SIG, TANH)                                                           \
inline void NAME(const int H, const int j, __global const real *gxr, const V r0, const V r1, const V r2,      \
                 const V r3,                                                                                 \
                 __global const real *bih, __global const real *bhh, const int has_bias,                    \
                 __global real *hr, __global real *cr, __global real *yr, const float cell_clip,            \
                 __global const real *peep, const int has_peep) {                                           \
    const V r[4] = {r0, r1, r2, r3};                                                                           \
    V a[4];                                                                                                    \
    for (int q = 0; q < 4; ++q) {                                                                              \
        a[q] = LD(gxr + q * H + j) + r[q];                                                                     \
        if (has_bias) a[q] += LD(bih + q * H + j) + LD(bhh + q * H + j);                                       \
    }                                                                                                          \
    const V cp = LD(cr + j);                                                                                   \
    if (has_peep) { a[0] += LD(peep + j) * cp; a[1] += LD(peep + H + j) * cp; }                                \
    const V i = SIG(a[0]), f = SIG(a[1]), g = TANH(a[2]);                                                      \
    V c = f * cp + i * g;                                                                                      \
    if (cell_clip > 0.0f) c = clamp(c, -cell_clip, cell_clip);                                                 \
    if (has_peep) a[3] += LD(peep + 2 * H + j) * c;                                                            \
    const V o = SIG(a[3]);                                                                                     \
    const V h = o * TANH(c);                                                                                   \
    ST(c, cr + j);                                                                                             \
    ST(h, hr + j);                                                                                             \
    if (yr) ST(h, yr + j);                                                                                     \
}

LSTM_STEP_UNITS(lstm_step_vec, IVEC, ILOAD, ISTORE, infer_sigmoid_v, infer_tanh_v)
LSTM_STEP_UNITS(lstm_step_one, real, ISLOAD, ISSTORE, lstmkit_sigmoid, lstmkit_tanh)

// lstm_cell_infer's cell: the recurrent sums read from r [4H] of the row, then the cell above.
#define LSTM_INFER_UNITS(NAME, STEP, LD)                                                                        \
inline void NAME(const int H, const int j, __global const real *gxr, __global const real *rr,              \
                 __global const real *bih, __global const real *bhh, const int has_bias,                    \
                 __global real *hr, __global real *cr, __global real *yr, const float cell_clip,            \
                 __global const real *peep, const int has_peep) {                                           \
    STEP(H, j, gxr, LD(rr + j), LD(rr + H + j), LD(rr + 2 * H + j), LD(rr + 3 * H + j), bih, bhh, has_bias, hr, cr, \
         yr, cell_clip, peep, has_peep);                                                                       \
}

LSTM_INFER_UNITS(lstm_infer_vec, lstm_step_vec, ILOAD)
LSTM_INFER_UNITS(lstm_infer_one, lstm_step_one, ISLOAD)

__kernel void lstm_cell_infer(const int B, const int H, const int T, const int step, const int reverse,
                              __global const int *lengths,
                              __global const real *gx, __global const real *r,
                              __global const real *bias_ih, const int offBih,
                              __global const real *bias_hh, const int offBhh, const int has_bias,
                              __global real *h, __global real *c, const int offS,
                              __global real *y, const int offY, const int ldy, const int write_y, const float cell_clip,
                              __global const real *peep, const int offPeep, const int has_peep)
{
    const int j0 = (int)get_global_id(0) * CVW;
    const int b = (int)get_global_id(1);
    if (j0 >= H || b >= B) return;
    const int len = lengths[b];
    const int jEnd = min(j0 + CVW, H);
    if (step >= len) {
        if (write_y)
            for (int j = j0; j < jEnd; ++j) y[((size_t)step * B + b) * ldy + offY + j] = 0.0f;
        return;
    }
    const int t = reverse ? len - 1 - step : step;
    __global const real *gxr = gx + ((size_t)t * B + b) * 4 * H;
    __global const real *rr = r + (size_t)b * 4 * H;
    __global real *yr = write_y ? y + ((size_t)t * B + b) * ldy + offY : 0;
    __global real *hr = h + offS + (size_t)b * H, *cr = c + offS + (size_t)b * H;
    __global const real *pp = peep + offPeep;
    if (jEnd - j0 == CVW) {
        lstm_infer_vec(H, j0, gxr, rr, bias_ih + offBih, bias_hh + offBhh, has_bias, hr, cr, yr, cell_clip, pp, has_peep);
        return;
    }
    for (int j = j0; j < jEnd; ++j)  // tail: H % CVW units
        lstm_infer_one(H, j, gxr, rr, bias_ih + offBih, bias_hh + offBhh, has_bias, hr, cr, yr, cell_clip, pp, has_peep);
}

__kernel void lstm_stream_step(const int B, const int H,
                               __global const real *gx, const int offGx, const int ldgx,
                               __global const real *ids, const int offIds, const int has_ids,
                               __global const real *whh, const int offWhh,
                               __global const real *bias_ih, const int offBih,
                               __global const real *bias_hh, const int offBhh, const int has_bias,
                               __global const real *hIn, __global const real *cIn,
                               __global real *hOut, __global real *cOut, const int offS, const float cell_clip,
                               __global const real *peep, const int offPeep, const int has_peep)
{
    const int j = (int)get_global_id(0);
    const int b = (int)get_global_id(1);
    if (j >= H || b >= B) return;
    const int row = has_ids ? (int)ids[offIds + b] : b;
    __global const real *gxr = gx + offGx + (size_t)row * ldgx;
    __global const real *hr = hIn + offS + (size_t)b * H;
    real a[4];
    for (int q = 0; q < 4; ++q) {
        __global const real *w = whh + offWhh + (size_t)(q * H + j) * H;
        real s = 0.0f;
        for (int k = 0; k < H; ++k) s += hr[k] * w[k];
        a[q] = gxr[q * H + j] + s;
        if (has_bias) a[q] += bias_ih[offBih + q * H + j] + bias_hh[offBhh + q * H + j];
    }
    const real cp = cIn[offS + (size_t)b * H + j];
    __global const real *pp = peep + offPeep;
    if (has_peep) { a[0] += pp[j] * cp; a[1] += pp[H + j] * cp; }
    const real i = lstmkit_sigmoid(a[0]), f = lstmkit_sigmoid(a[1]), g = lstmkit_tanh(a[2]);
    real c = f * cp + i * g;
    if (cell_clip > 0.0f) c = clamp(c, -cell_clip, cell_clip);
    if (has_peep) a[3] += pp[2 * H + j] * c;
    const real o = lstmkit_sigmoid(a[3]);
    cOut[offS + (size_t)b * H + j] = c;
    hOut[offS + (size_t)b * H + j] = o * lstmkit_tanh(c);
}


__kernel void lstm_step_infer(const int B, const int H, const int T, const int step, const int reverse,
                              __global const int *lengths, __global const real *gx,
                              __global const real *whhT, const int offW,
                              __global const real *bias_ih, const int offBih,
                              __global const real *bias_hh, const int offBhh, const int has_bias,
                              __global const real *hIn, __global real *hOut, __global real *c, const int offS,
                              __global real *y, const int offY, const int ldy, const int write_y, const float cell_clip,
                              __global const real *peep, const int offPeep, const int has_peep)
{
    const int j0 = (int)get_global_id(0) * CVW;
    const int b0 = (int)get_global_id(1) * FTM;
    if (j0 >= H || b0 >= B) return;
    const int G = 4 * H;
    __global const real *W = whhT + offW;
    __global const real *hi = hIn + offS;
    const int jEnd = min(j0 + CVW, H), bEnd = min(b0 + FTM, B);
    const int full = jEnd - j0 == CVW;  // whole vectors of units (rows past B read row B-1, never stored)
    IVEC acc[FTM][4];
    if (full) {
        __global const real *hrow[FTM];
        _Pragma("unroll") for (int i = 0; i < FTM; ++i) {
            hrow[i] = hi + (size_t)min(b0 + i, B - 1) * H;
            _Pragma("unroll") for (int q = 0; q < 4; ++q) acc[i][q] = (IVEC)(0.0f);
        }
        __global const real *wrow = W + j0;
        for (int k = 0; k < H; ++k, wrow += G) {
            IVEC w[4];
            _Pragma("unroll") for (int q = 0; q < 4; ++q) w[q] = ILOAD(wrow + q * H);
            _Pragma("unroll") for (int i = 0; i < FTM; ++i) {
                const IVEC a = (IVEC)(hrow[i][k]);
                _Pragma("unroll") for (int q = 0; q < 4; ++q) acc[i][q] = fma(a, w[q], acc[i][q]);
            }
        }
    }
    _Pragma("unroll") for (int i = 0; i < FTM; ++i) {  // unrolled: acc[i] by constant index (registers)
        const int b = b0 + i;
        if (b >= bEnd) break;
        const int len = lengths[b];
        __global real *ho = hOut + offS + (size_t)b * H;
        if (step >= len) {  // the state stays: h carried over to the other buffer, output row 0
            for (int j = j0; j < jEnd; ++j) ho[j] = hi[(size_t)b * H + j];
            if (write_y)
                for (int j = j0; j < jEnd; ++j) y[((size_t)step * B + b) * ldy + offY + j] = 0.0f;
            continue;
        }
        const int t = reverse ? len - 1 - step : step;
        __global const real *gxr = gx + ((size_t)t * B + b) * G;
        __global real *yr = write_y ? y + ((size_t)t * B + b) * ldy + offY : 0;
        __global real *cr = c + offS + (size_t)b * H;
        __global const real *pp = peep + offPeep;
        if (full) {
            lstm_step_vec(H, j0, gxr, acc[i][0], acc[i][1], acc[i][2], acc[i][3], bias_ih + offBih, bias_hh + offBhh, has_bias, ho, cr, yr, cell_clip, pp, has_peep);
            continue;
        }
        // Edge block (the H % CVW units at the end): per element, the same fma chain over k.
        __global const real *hr = hi + (size_t)b * H;
        for (int j = j0; j < jEnd; ++j) {
            real r[4];
            for (int q = 0; q < 4; ++q) {
                real s = 0.0f;
                for (int k = 0; k < H; ++k) s = fma(hr[k], W[(size_t)k * G + q * H + j], s);
                r[q] = s;
            }
            lstm_step_one(H, j, gxr, r[0], r[1], r[2], r[3], bias_ih + offBih, bias_hh + offBhh, has_bias, ho, cr, yr, cell_clip, pp, has_peep);
        }
    }
}
