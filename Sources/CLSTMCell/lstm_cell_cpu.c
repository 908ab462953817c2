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
// Accuracy: the exp is Cephes' expf (range reduction by ln 2 in two parts, degree-6 polynomial; 1 ulp
// against glibc's expf on [-87, 88], docs/decisions/0004-cpu-cell-kernels-in-c.md), sigmoid = 1 / (1 + exp(-x)), tanh =
// sign(x) * (1 - 2 / (exp(2|x|) + 1)), the forms of lstm_cell.cl. Contraction into FMA is off, so every
// operation rounds as written and all three builds give the same bits on every x86-64 CPU.
//
// How it is benchmarked: lstm-bench --device cpu (profile lines lstm_cell_forward / lstm_cell_backward);
// LSTMKIT_CPU_ISA=baseline|avx2|avx512f caps the instruction set for a side-by-side run; LSTMKIT_CPU_PREFETCH=0
// turns off the prefetch of the next step's rows (below).
#include "lstm_cell_cpu.h"
#include <stdlib.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF
// The helpers take and return 64-byte vectors; they are always inlined, so no call ever uses that ABI.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
#define LANES 16
#define INLINE static inline __attribute__((always_inline))

// MARK: Lane helpers

typedef float vf_unaligned __attribute__((vector_size(64), aligned(4)));

/// p[0..<n] (n <= 16), the other lanes 0. The bodies are called with n = LANES (a constant: one vector load)
/// for all full blocks, and once with the remainder.
INLINE vf ld(const float *p, ptrdiff_t n) {
    if (n == LANES) return *(const vf_unaligned *)p;
    vf v = {0};
    for (ptrdiff_t l = 0; l < n; l++) v[l] = p[l];
    return v;
}
INLINE void st(float *p, vf v, ptrdiff_t n) {
    if (n == LANES) { *(vf_unaligned *)p = v; return; }
    for (ptrdiff_t l = 0; l < n; l++) p[l] = v[l];
}
INLINE vf splat(float x) { return (vf){0} + x; }
/// m ? a : b per lane (m: all ones or all zeros).
INLINE vf sel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }

INLINE vf vexp(vf v) {
    vf x = sel(v < -87.0f, splat(-87.0f), v);  // NaN stays NaN (both comparisons are false)
    x = sel(x > 88.0f, splat(88.0f), x);
    // n = round(x / ln 2) with the 1.5 * 2^23 trick: the low mantissa bits of t hold n.
    const vf magic = splat(12582912.0f);
    vf t = x * 1.4426950408889634f + magic;
    vf n = t - magic;
    vi nbits = (vi)t - (vi)magic;
    vf r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    vf z = r * r;
    vf y = splat(1.9875691500e-4f);
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * z + r + 1.0f;
    vf scale = (vf)((nbits + 127) << 23);
    return y * scale;
}
INLINE vf vsigmoid(vf x) { return 1.0f / (1.0f + vexp(-x)); }
INLINE vf vtanh(vf x) {
    vi negative = x < 0.0f;
    vf ax = sel(negative, -x, x);
    vf t = 1.0f - 2.0f / (vexp(2.0f * ax) + 1.0f);
    return sel(negative, -t, t);
}

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
    vf a0 = ld(gxr + j, n) + ld(rr + j, n);
    vf a1 = ld(gxr + H + j, n) + ld(rr + H + j, n);
    vf a2 = ld(gxr + 2 * H + j, n) + ld(rr + 2 * H + j, n);
    vf a3 = ld(gxr + 3 * H + j, n) + ld(rr + 3 * H + j, n);
    if (bias_ih && bias_hh) {
        a0 += ld(bias_ih + j, n) + ld(bias_hh + j, n);
        a1 += ld(bias_ih + H + j, n) + ld(bias_hh + H + j, n);
        a2 += ld(bias_ih + 2 * H + j, n) + ld(bias_hh + 2 * H + j, n);
        a3 += ld(bias_ih + 3 * H + j, n) + ld(bias_hh + 3 * H + j, n);
    }
    const vf cp = ld(cs + prev + j, n);
    if (peep) {
        a0 += ld(peep + j, n) * cp;
        a1 += ld(peep + H + j, n) * cp;
    }
    const vf i = vsigmoid(a0), f = vsigmoid(a1), g = vtanh(a2);
    vf c = f * cp + i * g;
    if (cell_clip > 0) {
        c = sel(c < -cell_clip, splat(-cell_clip), c);
        c = sel(c > cell_clip, splat(cell_clip), c);
    }
    if (peep) a3 += ld(peep + 2 * H + j, n) * c;
    const vf o = vsigmoid(a3);
    const vf h = o * vtanh(c);
    st(cs + next + j, c, n);
    st(hs + next + j, h, n);
    st(gs + j, i, n);
    st(gs + H + j, f, n);
    st(gs + 2 * H + j, g, n);
    st(gs + 3 * H + j, o, n);
    if (yr) st(yr + j, h, n);
    if (mrow) st(hm + next + j, h * ld(mrow + j, n), n);
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

typedef void (*forward_fn)(FORWARD_ARGS);
typedef void (*backward_fn)(BACKWARD_ARGS);

static void forward_baseline(FORWARD_ARGS) { forward_rows(FORWARD_CALL); }
static void backward_baseline(BACKWARD_ARGS) { backward_rows(BACKWARD_CALL); }

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86_BUILDS 1
__attribute__((target("avx2,fma"))) static void forward_avx2(FORWARD_ARGS) { forward_rows(FORWARD_CALL); }
__attribute__((target("avx2,fma"))) static void backward_avx2(BACKWARD_ARGS) { backward_rows(BACKWARD_CALL); }
__attribute__((target("avx512f"))) static void forward_avx512(FORWARD_ARGS) { forward_rows(FORWARD_CALL); }
__attribute__((target("avx512f"))) static void backward_avx512(BACKWARD_ARGS) { backward_rows(BACKWARD_CALL); }
#else
#define HAVE_X86_BUILDS 0
#endif

/// 0 baseline, 1 AVX2 + FMA, 2 AVX-512F: the best this CPU has.
static int best_isa(void) {
    int v = 0;
#if HAVE_X86_BUILDS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) v = 1;
    if (v == 1 && __builtin_cpu_supports("avx512f")) v = 2;
#endif
    return v;
}

static _Atomic int selected = -1;

/// best_isa(), capped by lstmkit_cell_set_isa (which Settings.swift calls for LSTMKIT_CPU_ISA; C reads no environment).
static int chosen_isa(void) {
    int v = selected;
    if (v >= 0) return v;
    v = best_isa();
    selected = v;  // two threads racing here store the same value
    return v;
}

int lstmkit_cell_set_isa(int isa) {
    int best = best_isa();
    selected = isa < 0 ? 0 : isa > best ? best : isa;
    return selected;
}

const char *lstmkit_cell_isa(void) {
    static const char *names[] = {"baseline", "avx2", "avx512f"};
    return names[chosen_isa()];
}

void lstmkit_cell_forward_f32(FORWARD_ARGS) {
    forward_fn fn = forward_baseline;
#if HAVE_X86_BUILDS
    switch (chosen_isa()) {
    case 2: fn = forward_avx512; break;
    case 1: fn = forward_avx2; break;
    default: break;
    }
#endif
    fn(FORWARD_CALL);
}

void lstmkit_cell_backward_f32(BACKWARD_ARGS) {
    backward_fn fn = backward_baseline;
#if HAVE_X86_BUILDS
    switch (chosen_isa()) {
    case 2: fn = backward_avx512; break;
    case 1: fn = backward_avx2; break;
    default: break;
    }
#endif
    fn(BACKWARD_CALL);
}
