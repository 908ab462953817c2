// lstm_cell_math.h: the float32 LSTM cell math shared, operation for operation, by the training cell
// (lstm_cell_cpu.c, this target) and the inference cell (Sources/CInference/lstm_infer.c), so that `predict`
// gives the training forward's bits: the 16-lane vector type and its helpers, the exp, sigmoid and tanh, the
// forward math of one block of hidden units, and the instruction-set probe.
//
// Everything is static and always inlined: each .c file compiles it inside its own per-instruction-set wrappers
// (target("avx2,fma"), target("avx512f") and the baseline), with contraction into FMA off (below), so every
// operation rounds as written whatever the build and the CPU. Not a public header (not in include/, so not part
// of either module Swift imports): CInference finds it through the headerSearchPath in Package.swift.
#ifndef LSTMKIT_LSTM_CELL_MATH_H
#define LSTMKIT_LSTM_CELL_MATH_H
#include <stddef.h>
#include <stdint.h>

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

// MARK: exp, sigmoid, tanh

/// Cephes' expf: range reduction by ln 2 in two parts, degree-6 polynomial (1 ulp against glibc's expf on
/// [-87, 88], docs/decisions/0004-cpu-cell-kernels-in-c.md).
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

// MARK: The forward math of a block

/// The gates (i, f, g, o after their activations) and the new state of a block of hidden units.
typedef struct {
    vf i, f, g, o, c, h;
} cell_block_out;

/// Units [j, j+n) of one row (the pointers are the row's): a = gx + r (+ b_ih + b_hh) (+ peepholes, from c_prev
/// cp and the new c); i, f, o = sigmoid, g = tanh; c = f * cp + i * g (clipped to +-cell_clip when > 0);
/// h = o * tanh(c). bias_ih and bias_hh come together; peep [3H] or NULL.
INLINE cell_block_out cell_block_forward(ptrdiff_t j, ptrdiff_t n, ptrdiff_t H, const float *gxr, const float *rr,
                                         const float *bias_ih, const float *bias_hh, vf cp, float cell_clip,
                                         const float *peep) {
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
    if (peep) {
        a0 += ld(peep + j, n) * cp;
        a1 += ld(peep + H + j, n) * cp;
    }
    cell_block_out out;
    out.i = vsigmoid(a0);
    out.f = vsigmoid(a1);
    out.g = vtanh(a2);
    vf c = out.f * cp + out.i * out.g;
    if (cell_clip > 0) {
        c = sel(c < -cell_clip, splat(-cell_clip), c);
        c = sel(c > cell_clip, splat(cell_clip), c);
    }
    if (peep) a3 += ld(peep + 2 * H + j, n) * c;
    out.o = vsigmoid(a3);
    out.h = out.o * vtanh(c);
    out.c = c;
    return out;
}

// MARK: The instruction set

/// 0 baseline, 1 AVX2 + FMA, 2 AVX-512F: the best this CPU has (the builds LSTMKIT_ISA_BUILDS makes).
static inline int lstmkit_best_isa(void) {
    int v = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) v = 1;
    if (v == 1 && __builtin_cpu_supports("avx512f")) v = 2;
#endif
    return v;
}

/// Defines the exported `void NAME(ARGS)`, which runs the INLINE body `BODY(CALL)` compiled for the instruction set
/// that ISA (an expression: 2 AVX-512F, 1 AVX2 + FMA, else the baseline) picks at each call. On x86 BODY is built three
/// times, into static NAME_avx512, NAME_avx2 and NAME_baseline, with target attributes; elsewhere once. ARGS and CALL
/// are the parameter list and the argument list (macros of the .c file).
#if defined(__x86_64__) || defined(__i386__)
#define LSTMKIT_ISA_BUILDS(NAME, ISA, BODY, ARGS, CALL)                                  \
    static void NAME##_baseline(ARGS) { BODY(CALL); }                                    \
    __attribute__((target("avx2,fma"))) static void NAME##_avx2(ARGS) { BODY(CALL); }    \
    __attribute__((target("avx512f"))) static void NAME##_avx512(ARGS) { BODY(CALL); }  \
    void NAME(ARGS) {                                                                    \
        switch (ISA) {                                                                   \
        case 2: NAME##_avx512(CALL); break;                                              \
        case 1: NAME##_avx2(CALL); break;                                                \
        default: NAME##_baseline(CALL); break;                                           \
        }                                                                                \
    }
#else
#define LSTMKIT_ISA_BUILDS(NAME, ISA, BODY, ARGS, CALL) \
    void NAME(ARGS) { BODY(CALL); }
#endif
#endif
