#ifndef LSTMKIT_LSTM_CELL_CPU_H
#define LSTMKIT_LSTM_CELL_CPU_H
#include <stddef.h>
#include <stdint.h>

/// The CPU path's float32 LSTM cell, forward and backward, for the batch rows [b0, b1) of one time step
/// (see lstm_cell_cpu.c; the math and the arguments are those of Kernels/lstm_cell.cl and of the Swift twins
/// `CPUKernels.lstm_cell_forward` / `lstm_cell_backward`). B = batch, H = hidden, gates in order i, f, g, o.
/// Optional pointers (bias_ih/bias_hh, y, peep, rmask/hm) are NULL when absent; bias_ih and bias_hh come
/// together. Callers split [0, B) over threads; rows never share memory they write.

/// gx: [T, B, 4H] by time; r: [B, 4H]; hs, cs: [T+1, B, H] by step; gates: [T, B, 4H] by step;
/// y: [T, B, ldy] by time; peep: [3H]; rmask: [B, H]; hm: [T+1, B, H].
void lstmkit_cell_forward_f32(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse,
                              const int32_t *lengths, const float *gx, const float *r,
                              const float *bias_ih, const float *bias_hh,
                              float *hs, float *cs, float *gates, float *y, ptrdiff_t ldy, float cell_clip,
                              const float *peep, const float *rmask, float *hm);

/// gates: [T, B, 4H] by step; cs: [T+1, B, H]; dy: [T, B, lddy] by time (lddy 0: one row for all);
/// dh, dc: [B, H] in/out; dgs: [T, B, 4H] by step; dgt: [T, B, 4H] by time (written when reverse).
void lstmkit_cell_backward_f32(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse,
                               const int32_t *lengths, const float *gates, const float *cs,
                               const float *dy, ptrdiff_t lddy, float *dh, float *dc, float *dgs, float *dgt,
                               float cell_clip, const float *peep, const float *rmask);

/// Which instruction set the kernels above run with on this CPU: "avx512f", "avx2" or "baseline".
const char *lstmkit_cell_isa(void);

/// For tests and benchmarks: use instruction set `isa` (0 baseline, 1 AVX2 + FMA, 2 AVX-512F), capped at what
/// this CPU has; returns the one now in use. Call it between kernel calls, not during one.
int lstmkit_cell_set_isa(int isa);

/// Turns the prefetch of the next step's rows on (1) or off (0), over LSTMKIT_CPU_PREFETCH (tests; the results
/// are the same either way); returns the setting.
int lstmkit_cell_set_prefetch(int on);
#endif
