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
#include "lstm_infer.h"
#include "small_gemm.h"
#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF
#pragma clang diagnostic ignored "-Wpsabi"

typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef float vf_unaligned __attribute__((vector_size(64), aligned(4)));
#define LANES 16
#define INLINE static inline __attribute__((always_inline))

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
INLINE vf sel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }

// The exp, sigmoid and tanh of Sources/CLSTMCell/lstm_cell_cpu.c, operation for operation.
INLINE vf vexp(vf v) {
    vf x = sel(v < -87.0f, splat(-87.0f), v);
    x = sel(x > 88.0f, splat(88.0f), x);
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

/// Units [j, j+n) of one row: a = gx + r (+ b_ih + b_hh) (+ peepholes), then c and h in place (the order of
/// lstm_cell_cpu.c's forward_block). yr NULL: no output row.
INLINE void cell_block(ptrdiff_t j, ptrdiff_t n, ptrdiff_t H, const float *gxr, const float *rr, const float *bias_ih,
                       const float *bias_hh, float *hr, float *cr, float *yr, float cell_clip, const float *peep) {
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
    const vf cp = ld(cr + j, n);
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
    st(cr + j, c, n);
    st(hr + j, h, n);
    if (yr) st(yr + j, h, n);
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
            float z = hsum(acc0 + acc1) + (bias ? bias[u] : 0.0f);
            switch (act) {
            case 1: z = z > 0 ? z : 0; break;
            case 2: z = tanhf(z); break;
            case 3: z = 1.0f / (1.0f + expf(-z)); break;
            default: break;
            }
            o[u] = z;
        }
        if (act == 4) {  // softmax over the row, max subtracted
            float m = o[0], s = 0;
            for (ptrdiff_t u = 1; u < U; u++) m = o[u] > m ? o[u] : m;
            for (ptrdiff_t u = 0; u < U; u++) { o[u] = expf(o[u] - m); s += o[u]; }
            for (ptrdiff_t u = 0; u < U; u++) o[u] /= s;
        }
    }
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

typedef void (*infer_fn)(INFER_ARGS);
typedef void (*stream_fn)(STREAM_ARGS);
typedef void (*dense_fn)(DENSE_ARGS);
typedef void (*sequence_fn)(SEQUENCE_ARGS);

static void infer_baseline(INFER_ARGS) { infer_rows(INFER_CALL); }
static void stream_baseline(STREAM_ARGS) { stream_rows(STREAM_CALL); }
static void dense_baseline(DENSE_ARGS) { dense_rows(DENSE_CALL); }
static void sequence_baseline(SEQUENCE_ARGS) { sequence_rows(SEQUENCE_CALL); }

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86_BUILDS 1
__attribute__((target("avx2,fma"))) static void infer_avx2(INFER_ARGS) { infer_rows(INFER_CALL); }
__attribute__((target("avx2,fma"))) static void stream_avx2(STREAM_ARGS) { stream_rows(STREAM_CALL); }
__attribute__((target("avx2,fma"))) static void dense_avx2(DENSE_ARGS) { dense_rows(DENSE_CALL); }
__attribute__((target("avx2,fma"))) static void sequence_avx2(SEQUENCE_ARGS) { sequence_rows(SEQUENCE_CALL); }
__attribute__((target("avx512f"))) static void infer_avx512(INFER_ARGS) { infer_rows(INFER_CALL); }
__attribute__((target("avx512f"))) static void stream_avx512(STREAM_ARGS) { stream_rows(STREAM_CALL); }
__attribute__((target("avx512f"))) static void dense_avx512(DENSE_ARGS) { dense_rows(DENSE_CALL); }
__attribute__((target("avx512f"))) static void sequence_avx512(SEQUENCE_ARGS) { sequence_rows(SEQUENCE_CALL); }
#else
#define HAVE_X86_BUILDS 0
#endif

/// 0 baseline, 1 AVX2 + FMA, 2 AVX-512F: the best this CPU has (checked once).
static int isa(void) {
    static _Atomic int chosen = -1;
    int v = chosen;
    if (v >= 0) return v;
    v = 0;
#if HAVE_X86_BUILDS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) v = 1;
    if (v == 1 && __builtin_cpu_supports("avx512f")) v = 2;
#endif
    chosen = v;
    return v;
}

void lstmkit_lstm_cell_infer_f32(INFER_ARGS) {
    infer_fn fn = infer_baseline;
#if HAVE_X86_BUILDS
    switch (isa()) { case 2: fn = infer_avx512; break; case 1: fn = infer_avx2; break; default: break; }
#endif
    fn(INFER_CALL);
}

void lstmkit_lstm_stream_step_f32(STREAM_ARGS) {
    stream_fn fn = stream_baseline;
#if HAVE_X86_BUILDS
    switch (isa()) { case 2: fn = stream_avx512; break; case 1: fn = stream_avx2; break; default: break; }
#endif
    fn(STREAM_CALL);
}

void lstmkit_dense_step_f32(DENSE_ARGS) {
    dense_fn fn = dense_baseline;
#if HAVE_X86_BUILDS
    switch (isa()) { case 2: fn = dense_avx512; break; case 1: fn = dense_avx2; break; default: break; }
#endif
    fn(DENSE_CALL);
}

void lstmkit_lstm_infer_sequence_f32(SEQUENCE_ARGS) {
    sequence_fn fn = sequence_baseline;
#if HAVE_X86_BUILDS
    switch (isa()) { case 2: fn = sequence_avx512; break; case 1: fn = sequence_avx2; break; default: break; }
#endif
    fn(SEQUENCE_CALL);
}
