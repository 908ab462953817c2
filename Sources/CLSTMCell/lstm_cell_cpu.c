// The CPU path's float32 LSTM cell (forward and backward of one time step), in C vector extensions.
//
// What it computes: exactly Kernels/lstm_cell.cl's `lstm_cell_forward` / `lstm_cell_backward` and their Swift
// twins in CPUKernels.swift (which stay the Float64 reference), gates in order i, f, g, o:
//   forward   a = gx[t] + r (+ b_ih + b_hh) (+ peepholes); i, f, o = sigmoid, g = tanh;
//             c = f * c_prev + i * g (clipped to +-cell_clip when > 0); h = o * tanh(c)
//   backward  the gradients w.r.t. the four pre-activations, dc_prev, and dh (zeroed: the recurrent gemm
//             adds dG . W_hh next)
// Layouts (B = batch, H = hidden, T = steps): gx [T, B, 4H] by time; r [B, 4H]; hs, cs [T+1, B, H] by step;
// gates [T, B, 4H] by step; y [T, B, ldy] by time. Padding rows (step >= length) carry the state and write
// zeros, as the OpenCL kernels do.
//
// Why C: the Swift version on SIMD16<Float> compiles for baseline x86-64 (SSE2) and ran at ~45 cycles per
// hidden unit (preset S, one thread, 57 us per step). Here the same code is compiled three times: for
// AVX-512F, for AVX2 + FMA and for the baseline, and the best one the CPU has is picked once, at run time.
// 16 lanes map to one zmm, two ymm or four xmm registers.
//
// Accuracy (the math is lstm_cell_math.h, shared with Sources/CInference): the exp is Cephes' expf (range reduction
// by ln 2 in two parts, degree-6 polynomial; 1 ulp against glibc's expf on [-87, 88],
// docs/decisions/0004-cpu-cell-kernels-in-c.md), sigmoid = 1 / (1 + exp(-x)), tanh = sign(x) * (1 - 2 / (exp(2|x|) + 1)),
// the forms of lstm_cell.cl. Contraction into FMA is off, so every operation rounds as written and all three builds
// give the same bits on every x86-64 CPU.
//
// How it is benchmarked: lstm-bench --device cpu (profile lines lstm_cell_forward / lstm_cell_backward);
// LSTMKIT_CPU_ISA=baseline|avx2|avx512f caps the instruction set for a side-by-side run; LSTMKIT_CPU_PREFETCH=0
// turns off the prefetch of the next step's rows (below).
#include "lstm_cell_cpu.h"
#include <stdlib.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF
#include "lstm_cell_math.h"  // vf, ld/st, vexp/vsigmoid/vtanh, cell_block_forward, lstmkit_best_isa

// MARK: Prefetching the next step

/// Whether a step prefetches, into L2, the rows its own rows will touch at the next step: the forward the next
/// step's input projection (read) and gates tape row (written), the backward the earlier step's gates, c_prev
/// (read) and gate gradients (written). The recurrent gemm runs in between (compute bound, ~20-200 us), so the
/// lines arrive while it runs instead of while the cell waits; for the tapes the prefetch also takes the
/// write-allocate read off the cell's path. Each row stays on the core that prefetched it: the cell splits the
/// batch rows over the cores the same way at every step. Measured on preset M (B 64, H 256), lstm-bench's profile:
/// forward 62 -> 50 us per step, backward 44 -> 27 us (docs/decisions/0007-cpu-cell-prefetch.md).
/// Prefetches never fault and never change a result. LSTMKIT_CPU_PREFETCH=0 turns it off: Settings.swift calls
/// lstmkit_cell_set_prefetch (C reads no environment).
static _Atomic int prefetch_setting = 1;
static int prefetch_next(void) { return prefetch_setting; }

int lstmkit_cell_set_prefetch(int on) {
    prefetch_setting = on ? 1 : 0;
    return prefetch_setting;
}

// MARK: Bodies (compiled once per instruction set by the wrappers below)

/// Hidden units [j, j+n) of one batch row (the pointers are the row's).
INLINE void forward_block(ptrdiff_t j, ptrdiff_t n, ptrdiff_t H, ptrdiff_t prev, ptrdiff_t next, const float *gxr, const float *rr,
                          const float *bias_ih, const float *bias_hh, float *cs, float *hs, float *gs, float *yr,
                          float cell_clip, const float *peep, const float *mrow, float *hm,
                          const float *next_gxr, float *next_gs) {
    if (next_gxr) {  // the next step's row: its input projection to read, its gates to write (see prefetch_next)
        for (int q = 0; q < 4; q++) {
            __builtin_prefetch(next_gxr + q * H + j, 0, 2);
            __builtin_prefetch(next_gs + q * H + j, 1, 2);
        }
    }
    const cell_block_out s = cell_block_forward(j, n, H, gxr, rr, bias_ih, bias_hh, ld(cs + prev + j, n), cell_clip, peep);
    st(cs + next + j, s.c, n);
    st(hs + next + j, s.h, n);
    st(gs + j, s.i, n);
    st(gs + H + j, s.f, n);
    st(gs + 2 * H + j, s.g, n);
    st(gs + 3 * H + j, s.o, n);
    if (yr) st(yr + j, s.h, n);
    if (mrow) st(hm + next + j, s.h * ld(mrow + j, n), n);
}

INLINE void forward_rows(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse,
                         const int32_t *lengths, const float *gx, const float *r,
                         const float *bias_ih, const float *bias_hh,
                         float *hs, float *cs, float *gates, float *y, ptrdiff_t ldy, float cell_clip,
                         const float *peep, const float *rmask, float *hm) {
    for (ptrdiff_t b = b0; b < b1; b++) {
        const ptrdiff_t len = lengths[b];
        const ptrdiff_t prev = (step * B + b) * H, next = prev + B * H;
        if (step >= len) {  // padding: carry the state, output 0
            memcpy(hs + next, hs + prev, (size_t)H * sizeof(float));
            memcpy(cs + next, cs + prev, (size_t)H * sizeof(float));
            if (rmask) memcpy(hm + next, hm + prev, (size_t)H * sizeof(float));
            if (y) memset(y + (step * B + b) * ldy, 0, (size_t)H * sizeof(float));
            continue;
        }
        const ptrdiff_t t = reverse ? len - 1 - step : step;
        const float *gxr = gx + (t * B + b) * 4 * H, *rr = r + b * 4 * H;
        float *gs = gates + (step * B + b) * 4 * H;
        float *yr = y ? y + (t * B + b) * ldy : NULL;
        const float *mrow = rmask ? rmask + b * H : NULL;
        const float *next_gxr = NULL;
        float *next_gs = NULL;
        if (prefetch_next() && step + 1 < len) {
            next_gxr = gx + ((reverse ? len - 2 - step : step + 1) * B + b) * 4 * H;
            next_gs = gs + B * 4 * H;
        }
        ptrdiff_t j = 0;
        for (; j + LANES <= H; j += LANES)
            forward_block(j, LANES, H, prev, next, gxr, rr, bias_ih, bias_hh, cs, hs, gs, yr, cell_clip, peep, mrow, hm, next_gxr, next_gs);
        if (j < H)
            forward_block(j, H - j, H, prev, next, gxr, rr, bias_ih, bias_hh, cs, hs, gs, yr, cell_clip, peep, mrow, hm, next_gxr, next_gs);
    }
}

/// Hidden units [j, j+n) of one batch row (the pointers are the row's).
INLINE void backward_block(ptrdiff_t j, ptrdiff_t n, ptrdiff_t H, int reverse, const float *ga, const float *cprev_row,
                           const float *c_row, const float *dyr, const float *mrow, float *dhr, float *dcr, float *gs,
                           float *gt, float cell_clip, const float *peep, const float *next_ga, const float *next_cprev,
                           float *next_gs) {
    if (next_ga) {  // the next (earlier) step's row: its gates and c_prev to read, its gradients to write
        for (int q = 0; q < 4; q++) {
            __builtin_prefetch(next_ga + q * H + j, 0, 2);
            __builtin_prefetch(next_gs + q * H + j, 1, 2);
        }
        __builtin_prefetch(next_cprev + j, 0, 2);
    }
    const vf i = ld(ga + j, n), f = ld(ga + H + j, n), g = ld(ga + 2 * H + j, n), o = ld(ga + 3 * H + j, n);
    const vf cprev = ld(cprev_row + j, n), c = ld(c_row + j, n);
    const vf tc = vtanh(c);
    vf dhv = ld(dhr + j, n);
    if (mrow) dhv *= ld(mrow + j, n);
    const vf dht = dhv + ld(dyr + j, n);
    const vf dO = dht * tc * o * (1.0f - o);
    vf dct = ld(dcr + j, n) + dht * o * (1.0f - tc * tc);
    if (peep) dct += dO * ld(peep + 2 * H + j, n);
    if (cell_clip > 0) dct = sel((c >= cell_clip) | (c <= -cell_clip), splat(0.0f), dct);  // clipped: no gradient
    const vf di = dct * g * i * (1.0f - i);
    const vf df = dct * cprev * f * (1.0f - f);
    const vf dg = dct * i * (1.0f - g * g);
    st(gs + j, di, n);
    st(gs + H + j, df, n);
    st(gs + 2 * H + j, dg, n);
    st(gs + 3 * H + j, dO, n);
    if (reverse) {
        st(gt + j, di, n);
        st(gt + H + j, df, n);
        st(gt + 2 * H + j, dg, n);
        st(gt + 3 * H + j, dO, n);
    }
    st(dhr + j, splat(0.0f), n);
    vf dcp = dct * f;
    if (peep) dcp += di * ld(peep + j, n) + df * ld(peep + H + j, n);
    st(dcr + j, dcp, n);
}

INLINE void backward_rows(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse,
                          const int32_t *lengths, const float *gates, const float *cs,
                          const float *dy, ptrdiff_t lddy, float *dh, float *dc, float *dgs, float *dgt,
                          float cell_clip, const float *peep, const float *rmask) {
    for (ptrdiff_t b = b0; b < b1; b++) {
        const ptrdiff_t len = lengths[b];
        float *gs = dgs + (step * B + b) * 4 * H;
        if (step >= len) {  // padding: no gradient flows through this step
            memset(gs, 0, (size_t)(4 * H) * sizeof(float));
            if (reverse) memset(dgt + (step * B + b) * 4 * H, 0, (size_t)(4 * H) * sizeof(float));
            continue;
        }
        const ptrdiff_t t = reverse ? len - 1 - step : step;
        const float *ga = gates + (step * B + b) * 4 * H;
        float *gt = dgt + (t * B + b) * 4 * H;
        const float *cprev_row = cs + (step * B + b) * H, *c_row = cs + ((step + 1) * B + b) * H;
        const float *dyr = dy + (t * B + b) * lddy;
        float *dhr = dh + b * H, *dcr = dc + b * H;
        const float *mrow = rmask && step + 1 < len ? rmask + b * H : NULL;  // the gemm's dG[step+1] . W_hh part
        const float *next_ga = NULL, *next_cprev = NULL;
        float *next_gs = NULL;
        if (prefetch_next() && step > 0) {
            next_ga = ga - B * 4 * H;
            next_cprev = cprev_row - B * H;
            next_gs = gs - B * 4 * H;
        }
        ptrdiff_t j = 0;
        for (; j + LANES <= H; j += LANES)
            backward_block(j, LANES, H, reverse, ga, cprev_row, c_row, dyr, mrow, dhr, dcr, gs, gt, cell_clip, peep,
                           next_ga, next_cprev, next_gs);
        if (j < H)
            backward_block(j, H - j, H, reverse, ga, cprev_row, c_row, dyr, mrow, dhr, dcr, gs, gt, cell_clip, peep,
                           next_ga, next_cprev, next_gs);
    }
}

// MARK: One build per instruction set, and the choice among them

#define FORWARD_ARGS                                                                                         \
    ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse, const int32_t *lengths, \
        const float *gx, const float *r, const float *bias_ih, const float *bias_hh, float *hs, float *cs,   \
        float *gates, float *y, ptrdiff_t ldy, float cell_clip, const float *peep, const float *rmask, float *hm
#define FORWARD_CALL b0, b1, B, H, step, reverse, lengths, gx, r, bias_ih, bias_hh, hs, cs, gates, y, ldy, cell_clip, peep, rmask, hm
#define BACKWARD_ARGS                                                                                        \
    ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse, const int32_t *lengths, \
        const float *gates, const float *cs, const float *dy, ptrdiff_t lddy, float *dh, float *dc,          \
        float *dgs, float *dgt, float cell_clip, const float *peep, const float *rmask
#define BACKWARD_CALL b0, b1, B, H, step, reverse, lengths, gates, cs, dy, lddy, dh, dc, dgs, dgt, cell_clip, peep, rmask

static _Atomic int selected = -1;

/// lstmkit_best_isa(), capped by lstmkit_cell_set_isa (which Settings.swift calls for LSTMKIT_CPU_ISA; C reads no environment).
static int chosen_isa(void) {
    int v = selected;
    if (v >= 0) return v;
    v = lstmkit_best_isa();
    selected = v;  // two threads racing here store the same value
    return v;
}

int lstmkit_cell_set_isa(int isa) {
    int best = lstmkit_best_isa();
    selected = isa < 0 ? 0 : isa > best ? best : isa;
    return selected;
}

const char *lstmkit_cell_isa(void) {
    static const char *names[] = {"baseline", "avx2", "avx512f"};
    return names[chosen_isa()];
}

LSTMKIT_ISA_BUILDS(lstmkit_cell_forward_f32, chosen_isa(), forward_rows, FORWARD_ARGS, FORWARD_CALL)
LSTMKIT_ISA_BUILDS(lstmkit_cell_backward_f32, chosen_isa(), backward_rows, BACKWARD_ARGS, BACKWARD_CALL)
