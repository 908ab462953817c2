// common.cl: the prelude of every program. OpenCLContext.program(file:defines:) puts this file in front of each
// other .cl file of Kernels/ (then `#line 1 "<file>"`, so build logs keep the file's own line numbers). It
// defines no kernel; no other file defines what it holds:
//   real, real2, real4, real8, real16   the element type of the data (buffers, values) and its vectors;
//                                        real1 = real, so a width-1 "vector" is the scalar
//   LSTMKIT_EXP                          exp or native_exp (the exp switch)
//   lstmkit_sigmoid, lstmkit_tanh        on real; lstmkit_sigmoidN / lstmkit_tanhN on realN (N = 1, 4, 8, 16)
//   lstmkit_act(kind, x), lstmkit_act_grad(kind, y), lstmkit_act_back(kind, u, y) (and ...N on realN): the
//                                        activations by kind (Activation.kernelKind): 0 linear, 1 relu, 2 tanh,
//                                        3 sigmoid, 9 hard_sigmoid; act_grad is act' from the output y, act_back is
//                                        u * act' in the cells' forms (u * y * (1 - y), u * (1 - y * y))
//   REALV(W), VLOADW(W), VSTOREW(W)      the vector type, load and store of width W (1, 4, 8 or 16, checked
//                                        with LSTMKIT_CHECK_WIDTH); a file names its widths from them
//   LSTMKIT_CAT(a, b)                    token pasting after macro expansion
// The element/scalar rule (Kernels/README.md): `real` for data; `float` only where the value must be float32
// whatever `real` is: scalars the host passes as 4-byte floats (alpha, beta, p, lr, cell_clip, ...).
//
// Tuning defines (each has a default, so any file compiles alone):
//   REAL                 the element type, default float (the only one the host uses today; half needs
//                        cl_khr_fp16 and host buffers of 2-byte elements)
//   LSTMKIT_NATIVE_EXP   0/1: native_exp instead of exp in sigmoid/tanh. Default 0 (builtin exp). The exp-based
//     forms cost about 1e-7 absolute error against libm tanh; native_exp's error is vendor-defined (on PoCL 3.1 /
//     x86 the golden tests still pass with it; the host turns it on for CPU devices only, and passes it to
//     lstm_cell.cl, lstm_variants.cl and lstm_persistent.cl; gru_cell.cl and training.cl get the default).
// Benchmark: the files that use it (lstm-bench profile lines "lstm_cell_forward/backward").

#ifndef REAL
#define REAL float
#endif

#define LSTMKIT_CAT_(a, b) a##b
#define LSTMKIT_CAT(a, b) LSTMKIT_CAT_(a, b)

typedef REAL real;
typedef real real1;
typedef LSTMKIT_CAT(REAL, 2) real2;
typedef LSTMKIT_CAT(REAL, 4) real4;
typedef LSTMKIT_CAT(REAL, 8) real8;
typedef LSTMKIT_CAT(REAL, 16) real16;

// Vectors of width W: REALV(W) x = VLOADW(W)(i, p) (the i-th W-vector at p); VSTOREW(W)(x, i, p).
#define LSTMKIT_CHECK_WIDTH(W) ((W) == 1 || (W) == 4 || (W) == 8 || (W) == 16)
#define REALV(W) LSTMKIT_CAT(real, W)
#define VLOADW(W) LSTMKIT_CAT(lstmkit_vload, W)
#define VSTOREW(W) LSTMKIT_CAT(lstmkit_vstore, W)
#define lstmkit_vload1(i, p) ((p)[i])
#define lstmkit_vstore1(v, i, p) ((p)[i] = (v))
#define lstmkit_vload4 vload4
#define lstmkit_vstore4 vstore4
#define lstmkit_vload8 vload8
#define lstmkit_vstore8 vstore8
#define lstmkit_vload16 vload16
#define lstmkit_vstore16 vstore16

#ifndef LSTMKIT_NATIVE_EXP
#define LSTMKIT_NATIVE_EXP 0
#endif
#if LSTMKIT_NATIVE_EXP
#define LSTMKIT_EXP native_exp
#else
#define LSTMKIT_EXP exp
#endif

// sigmoid(x) = 1 / (1 + e^-x); tanh(x) = sign(x) (1 - 2 / (e^2|x| + 1)) (no overflow to inf/inf). The CPU twins
// (Sources/LSTMKit/Backend/CPU/CPUScalar.swift) use the same forms, so both devices round alike.
#define LSTMKIT_ACTIVATIONS(T, N)                                                                             \
inline T LSTMKIT_CAT(lstmkit_sigmoid, N)(T x) { return 1.0f / (1.0f + LSTMKIT_EXP(-x)); }                     \
inline T LSTMKIT_CAT(lstmkit_tanh, N)(T x) {                                                                  \
    const T e = LSTMKIT_EXP(2.0f * fabs(x));                                                                  \
    return copysign(1.0f - 2.0f / (e + 1.0f), x);                                                             \
}
LSTMKIT_ACTIVATIONS(real, )
LSTMKIT_ACTIVATIONS(real4, 4)
LSTMKIT_ACTIVATIONS(real8, 8)
LSTMKIT_ACTIVATIONS(real16, 16)
#define lstmkit_sigmoid1 lstmkit_sigmoid
#define lstmkit_tanh1 lstmkit_tanh

// Activations by kind (Activation.kernelKind; the CPU twins: lstmkitActivation & co. in CPUScalar.swift). Keras's
// hard_sigmoid is relu6(x + 3) / 6; elu (alpha 1), selu, softplus and gelu (erf form) are Dense's. Derivatives from the
// output y: relu 1 where y > 0, hard_sigmoid 1/6 where 0 < y < 1; gelu's from the input x. The kind is the same for every work-item of a launch, so the branches do not diverge.
#define LSTMKIT_ACT_KINDS(T, N)                                                                               \
inline T LSTMKIT_CAT(lstmkit_act, N)(const int kind, T x) {                                                   \
    if (kind == 2) return LSTMKIT_CAT(lstmkit_tanh, N)(x);                                                    \
    if (kind == 3) return LSTMKIT_CAT(lstmkit_sigmoid, N)(x);                                                 \
    if (kind == 1) return select((T)(0.0f), x, isgreater(x, (T)(0.0f)));                                      \
    if (kind == 9) return clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f;                                                 \
    if (kind == 10) return select(exp(x) - 1.0f, x, isgreater(x, (T)(0.0f)));                      /* elu */  \
    if (kind == 11) return 1.0507009873554805f * select(1.6732632423543772f * (exp(x) - 1.0f), x,             \
                                                        isgreater(x, (T)(0.0f)));                 /* selu */  \
    if (kind == 12) return fmax(x, (T)(0.0f)) + log1p(exp(-fabs(x)));                          /* softplus */ \
    if (kind == 13) return 0.5f * x * (1.0f + erf(x * 0.7071067811865476f));                  /* gelu, erf */ \
    return x;                                                                                                 \
}                                                                                                             \
inline T LSTMKIT_CAT(lstmkit_act_grad, N)(const int kind, T y) {                                              \
    if (kind == 2) return 1.0f - y * y;                                                                       \
    if (kind == 3) return y * (1.0f - y);                                                                     \
    if (kind == 1) return select((T)(0.0f), (T)(1.0f), isgreater(y, (T)(0.0f)));                              \
    if (kind == 9) return select((T)(0.0f), (T)(1.0f / 6.0f), isgreater(y, (T)(0.0f)) & isless(y, (T)(1.0f))); \
    if (kind == 10) return select(y + 1.0f, (T)(1.0f), isgreater(y, (T)(0.0f)));                              \
    if (kind == 11) return select(y + 1.0507009873554805f * 1.6732632423543772f, (T)(1.0507009873554805f),    \
                                  isgreaterequal(y, (T)(0.0f)));                                              \
    if (kind == 12) return 1.0f - exp(-y);                                                                    \
    /* gelu is no function of y: the caller passes the pre-activation x in y's place */                      \
    if (kind == 13) return 0.5f * (1.0f + erf(y * 0.7071067811865476f)) + y * 0.3989422804014327f * exp(-0.5f * y * y); \
    return (T)(1.0f);                                                                                         \
}                                                                                                             \
inline T LSTMKIT_CAT(lstmkit_act_back, N)(const int kind, T u, T y) {                                         \
    if (kind == 3) return u * y * (1.0f - y);                                                                 \
    if (kind == 2) return u * (1.0f - y * y);                                                                 \
    return u * LSTMKIT_CAT(lstmkit_act_grad, N)(kind, y);                                                     \
}
LSTMKIT_ACT_KINDS(real, )
LSTMKIT_ACT_KINDS(real4, 4)
LSTMKIT_ACT_KINDS(real8, 8)
LSTMKIT_ACT_KINDS(real16, 16)
#define lstmkit_act1 lstmkit_act
#define lstmkit_act_grad1 lstmkit_act_grad
#define lstmkit_act_back1 lstmkit_act_back
