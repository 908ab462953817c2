// The CPU path's float32 inference kernels: the LSTM cell without a tape (predict), one fused streaming step
// (recurrent product + cell, for `step(_:state:)`), and a dense layer step.
//
// lstmkit_lstm_cell_infer_f32 computes exactly what lstmkit_cell_forward_f32 (Sources/CLSTMCell) computes, in the
// same order of operations and with the same exp (Cephes' expf, contraction off), so `predict`'s inference path
// gives the training forward's bits; it differs only in what it stores: h and c are updated in place ([B, H]
// instead of the [T+1, B, H] tapes) and no gates are written ([T, B, 4H] in training).
//
// lstmkit_lstm_stream_step_f32 is the batch-1 latency path: the recurrent product on W_hh^T packed once (by
// Sources/CSmallGemm's lstmkit_pack_b; lstmkit_sgemm_packed reads it) and the cell, in one call, so a step of a
// layer crosses from Swift into C once. The input projection is a row of a table (Embedding . W_ih^T + biases,
// computed once per stream) or of one gemm.
//
// As Sources/CLSTMCell, the bodies are compiled for AVX-512F, AVX2 + FMA and baseline x86-64, and the best one the
// CPU has is picked at run time (lstmkit_cell_isa's rule, without its LSTMKIT_CPU_ISA cap: all give the same bits).
// The streaming step's product, lstmkit_sgemm_packed, follows the cap (its AVX-512F and AVX2 builds, same bits).
#include "lstm_infer.h"
#include "small_gemm.h"
#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF
// The lane helpers, exp, sigmoid, tanh and block math of Sources/CLSTMCell (its lstm_cell_math.h, found through
// this target's headerSearchPath), so the cell here is lstm_cell_cpu.c's forward_block operation for operation.
#include "lstm_cell_math.h"

/// Units [j, j+n) of one row: c and h in place (lstm_cell_cpu.c's forward_block, without the tapes). yr NULL: no
/// output row.
INLINE void cell_block(ptrdiff_t j, ptrdiff_t n, ptrdiff_t H, const float *gxr, const float *rr, const float *bias_ih,
                       const float *bias_hh, float *hr, float *cr, float *yr, float cell_clip, const float *peep) {
    const cell_block_out s = cell_block_forward(j, n, H, gxr, rr, bias_ih, bias_hh, ld(cr + j, n), cell_clip, peep);
    st(cr + j, s.c, n);
    st(hr + j, s.h, n);
    if (yr) st(yr + j, s.h, n);
}

INLINE void cell_row(ptrdiff_t H, const float *gxr, const float *rr, const float *bias_ih, const float *bias_hh,
                     float *hr, float *cr, float *yr, float cell_clip, const float *peep) {
    ptrdiff_t j = 0;
    for (; j + LANES <= H; j += LANES) cell_block(j, LANES, H, gxr, rr, bias_ih, bias_hh, hr, cr, yr, cell_clip, peep);
    if (j < H) cell_block(j, H - j, H, gxr, rr, bias_ih, bias_hh, hr, cr, yr, cell_clip, peep);
}

INLINE void infer_rows(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse,
                       const int32_t *lengths, const float *gx, const float *r, const float *bias_ih,
                       const float *bias_hh, float *h, float *c, float *y, ptrdiff_t ldy, float cell_clip,
                       const float *peep) {
    for (ptrdiff_t b = b0; b < b1; b++) {
        const ptrdiff_t len = lengths[b];
        if (step >= len) {  // padding: the state stays, the output row is 0
            if (y) memset(y + (step * B + b) * ldy, 0, (size_t)H * sizeof(float));
            continue;
        }
        const ptrdiff_t t = reverse ? len - 1 - step : step;
        cell_row(H, gx + (t * B + b) * 4 * H, r + b * 4 * H, bias_ih, bias_hh, h + b * H, c + b * H,
                 y ? y + (t * B + b) * ldy : NULL, cell_clip, peep);
    }
}

INLINE void stream_rows(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t H, const float *gx, ptrdiff_t ldgx, const float *ids,
                        const float *whh_packed, const float *bias_ih, const float *bias_hh, float *h, float *c,
                        float *r, float cell_clip, const float *peep) {
    if (b1 <= b0) return;
    // r[b0..<b1, 4H] = h[b0..<b1] . W_hh^T, all read before any h of these rows is written.
    lstmkit_sgemm_packed(b1 - b0, 0, 4 * H, H, h + b0 * H, H, whh_packed, 0.0f, r + b0 * 4 * H, 4 * H);
    for (ptrdiff_t b = b0; b < b1; b++) {
        const float *gxr = gx + (ids ? (ptrdiff_t)ids[b] : b) * ldgx;
        cell_row(H, gxr, r + b * 4 * H, bias_ih, bias_hh, h + b * H, c + b * H, NULL, cell_clip, peep);
    }
}

/// All T steps of rows [b0, b1) (rows never read another row's state, so a caller's parts run without a barrier
/// between steps): per step r[b0..<b1] = h . W_hh^T (packed, the product `gemm_packed` makes) and infer_rows,
/// the bits of the step-by-step loop.
INLINE void sequence_rows(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t T, int reverse,
                          const int32_t *lengths, const float *gx, const float *whh_packed, const float *bias_ih,
                          const float *bias_hh, float *h, float *c, float *r, float *y, ptrdiff_t ldy,
                          float cell_clip, const float *peep) {
    if (b1 <= b0) return;
    ptrdiff_t longest = 0;
    for (ptrdiff_t b = b0; b < b1; b++) longest = lengths[b] > longest ? lengths[b] : longest;
    for (ptrdiff_t step = 0; step < T; step++) {
        if (step < longest)
            lstmkit_sgemm_packed(b1 - b0, 0, 4 * H, H, h + b0 * H, H, whh_packed, 0.0f, r + b0 * 4 * H, 4 * H);
        infer_rows(b0, b1, B, H, step, reverse, lengths, gx, r, bias_ih, bias_hh, h, c, y, ldy, cell_clip, peep);
    }
}

INLINE float hsum(vf v) {
    float s = 0;
    for (int l = 0; l < LANES; l++) s += v[l];
    return s;
}

/// One row's output: o[u] = act(o[u] + bias[u]) (o holds the products), softmax (act 4) over the row, max subtracted.
static void dense_activate_row(ptrdiff_t U, const float *bias, int act, float *o) {
    for (ptrdiff_t u = 0; u < U; u++) {
        float z = o[u] + (bias ? bias[u] : 0.0f);
        switch (act) {
        case 1: z = z > 0 ? z : 0; break;
        case 2: z = tanhf(z); break;
        case 3: z = 1.0f / (1.0f + expf(-z)); break;
        default: break;
        }
        o[u] = z;
    }
    if (act == 4) {
        float m = o[0], s = 0;
        for (ptrdiff_t u = 1; u < U; u++) m = o[u] > m ? o[u] : m;
        for (ptrdiff_t u = 0; u < U; u++) { o[u] = expf(o[u] - m); s += o[u]; }
        for (ptrdiff_t u = 0; u < U; u++) o[u] /= s;
    }
}

INLINE void dense_rows(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t F, ptrdiff_t U, const float *x, const float *w,
                       const float *bias, int act, float *out) {
    for (ptrdiff_t b = b0; b < b1; b++) {
        const float *xr = x + b * F;
        float *o = out + b * U;
        for (ptrdiff_t u = 0; u < U; u++) {
            const float *wr = w + u * F;
            vf acc0 = splat(0), acc1 = splat(0);
            ptrdiff_t k = 0;
            for (; k + 2 * LANES <= F; k += 2 * LANES) {
                acc0 += ld(xr + k, LANES) * ld(wr + k, LANES);
                acc1 += ld(xr + k + LANES, LANES) * ld(wr + k + LANES, LANES);
            }
            for (; k < F; k += LANES) {
                const ptrdiff_t n = F - k < LANES ? F - k : LANES;
                acc0 += ld(xr + k, n) * ld(wr + k, n);
            }
            o[u] = hsum(acc0 + acc1);
        }
        dense_activate_row(U, bias, act, o);
    }
}

void lstmkit_dense_step_packed_f32(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t F, ptrdiff_t U, const float *x,
                                   const float *w_packed, const float *bias, int act, float *out) {
    if (b1 <= b0) return;
    lstmkit_sgemm_packed(b1 - b0, 0, U, F, x + b0 * F, F, w_packed, 0.0f, out + b0 * U, U);
    for (ptrdiff_t b = b0; b < b1; b++) dense_activate_row(U, bias, act, out + b * U);
}

// MARK: One build per instruction set

#define INFER_ARGS                                                                                        \
    ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse, const int32_t *lengths, \
        const float *gx, const float *r, const float *bias_ih, const float *bias_hh, float *h, float *c,  \
        float *y, ptrdiff_t ldy, float cell_clip, const float *peep
#define INFER_CALL b0, b1, B, H, step, reverse, lengths, gx, r, bias_ih, bias_hh, h, c, y, ldy, cell_clip, peep
#define STREAM_ARGS                                                                                       \
    ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t H, const float *gx, ptrdiff_t ldgx, const float *ids,          \
        const float *whh_packed, const float *bias_ih, const float *bias_hh, float *h, float *c,          \
        float *r_scratch, float cell_clip, const float *peep
#define STREAM_CALL b0, b1, H, gx, ldgx, ids, whh_packed, bias_ih, bias_hh, h, c, r_scratch, cell_clip, peep
#define SEQUENCE_ARGS                                                                                     \
    ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t T, int reverse, const int32_t *lengths,   \
        const float *gx, const float *whh_packed, const float *bias_ih, const float *bias_hh, float *h,       \
        float *c, float *r_scratch, float *y, ptrdiff_t ldy, float cell_clip, const float *peep
#define SEQUENCE_CALL b0, b1, B, H, T, reverse, lengths, gx, whh_packed, bias_ih, bias_hh, h, c, r_scratch, y, ldy, cell_clip, peep
#define DENSE_ARGS ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t F, ptrdiff_t U, const float *x, const float *w, \
        const float *bias, int act, float *out
#define DENSE_CALL b0, b1, F, U, x, w, bias, act, out

/// 0 baseline, 1 AVX2 + FMA, 2 AVX-512F: the best this CPU has (checked once).
static int isa(void) {
    static _Atomic int chosen = -1;
    int v = chosen;
    if (v >= 0) return v;
    v = lstmkit_best_isa();
    chosen = v;
    return v;
}

LSTMKIT_ISA_BUILDS(lstmkit_lstm_cell_infer_f32, isa(), infer_rows, INFER_ARGS, INFER_CALL)
LSTMKIT_ISA_BUILDS(lstmkit_lstm_stream_step_f32, isa(), stream_rows, STREAM_ARGS, STREAM_CALL)
LSTMKIT_ISA_BUILDS(lstmkit_dense_step_f32, isa(), dense_rows, DENSE_ARGS, DENSE_CALL)
LSTMKIT_ISA_BUILDS(lstmkit_lstm_infer_sequence_f32, isa(), sequence_rows, SEQUENCE_ARGS, SEQUENCE_CALL)
