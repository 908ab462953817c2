#ifndef LSTMKIT_LSTM_INFER_H
#define LSTMKIT_LSTM_INFER_H
#include <stddef.h>
#include <stdint.h>

/// The CPU path's float32 inference kernels (see lstm_infer.c): the LSTM cell without a tape, one streaming step
/// (recurrent product + cell, fused) and a dense layer step. B = batch, H = hidden, gates in order i, f, g, o.
/// Optional pointers are NULL when absent. Callers split [0, B) over threads; rows never share memory they write.

/// Inference twin of lstmkit_cell_forward_f32 (Sources/CLSTMCell), `lstm_cell_infer` of Kernels/inference.cl:
/// the same math in the same order (so the same bits), but the state h, c [B, H] is updated in place and no
/// gates are kept. gx: [T, B, 4H] by time; r: [B, 4H]; y: [T, B, ldy] by time (NULL: not written).
/// Padding rows (step >= lengths[b]) keep their state and write a zero output row.
void lstmkit_lstm_cell_infer_f32(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t step, int reverse,
                                 const int32_t *lengths, const float *gx, const float *r,
                                 const float *bias_ih, const float *bias_hh, float *h, float *c,
                                 float *y, ptrdiff_t ldy, float cell_clip, const float *peep);

/// One streaming step of rows [b0, b1), fused (`lstm_stream_step` of Kernels/inference.cl):
/// r = h . W_hh^T (W_hh^T [H, 4H] packed by lstmkit_pack_b of Sources/CSmallGemm), then the cell, h and c [B, H]
/// in place. Row b's input projection is gx + ids[b] * ldgx (token ids as floats, Keras' convention; ids NULL: gx + b * ldgx), [4H]; bias_ih/bias_hh
/// NULL when the bias is already in gx. r_scratch: [B, 4H]. Requires lstmkit_small_gemm_available().
void lstmkit_lstm_stream_step_f32(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t H, const float *gx, ptrdiff_t ldgx,
                                  const float *ids, const float *whh_packed, const float *bias_ih,
                                  const float *bias_hh, float *h, float *c, float *r_scratch, float cell_clip,
                                  const float *peep);

/// All T steps of rows [b0, b1) of the tape-free LSTM, one direction of one layer: per step r = h . W_hh^T for
/// these rows (W_hh^T [H, 4H] packed by lstmkit_pack_b; the padding rows' products are skipped once every row
/// of the part is past its length) and lstmkit_lstm_cell_infer_f32's cell, so the same bits as the step loop
/// of lstmkit_sgemm_packed + lstmkit_lstm_cell_infer_f32. Rows never read another row's state: parts of [0, B)
/// run on threads with no barrier between steps. r_scratch: [B, 4H]; the rest as lstmkit_lstm_cell_infer_f32.
/// Requires lstmkit_small_gemm_available().
void lstmkit_lstm_infer_sequence_f32(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t B, ptrdiff_t H, ptrdiff_t T, int reverse,
                                     const int32_t *lengths, const float *gx, const float *whh_packed,
                                     const float *bias_ih, const float *bias_hh, float *h, float *c,
                                     float *r_scratch, float *y, ptrdiff_t ldy, float cell_clip, const float *peep);

/// Rows [b0, b1) of out[B, U] = act(x[B, F] . W[U, F]^T + bias[U]); act 0 linear, 1 relu, 2 tanh, 3 sigmoid,
/// 4 softmax (per row). bias NULL: none.
void lstmkit_dense_step_f32(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t F, ptrdiff_t U, const float *x, const float *w,
                            const float *bias, int act, float *out);

/// lstmkit_dense_step_f32 with W^T packed by lstmkit_pack_b (trans 1, K = F, N = U): the product by
/// lstmkit_sgemm_packed (each output one FMA chain over the features, the same bits at any batch size and in either
/// build), then bias and activation as above. Only where lstmkit_small_gemm_enabled() is 1.
void lstmkit_dense_step_packed_f32(ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t F, ptrdiff_t U, const float *x,
                                   const float *w_packed, const float *bias, int act, float *out);
#endif
