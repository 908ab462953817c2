// training.cl: the device side of the training stack: Dense/Embedding helpers, activations, fused losses
// and metrics, batch gathering, and fused optimizer updates over a flat parameter buffer.
//
// Layouts (row-major, every buffer addressed as pointer + element offset):
//   add_row_bias:        y[rows, cols] += bias[cols]
//   activation_*:        elementwise; kind 0 linear, 1 relu, 2 tanh, 3 sigmoid, 9 hard_sigmoid, 10 elu, 11 selu,
//                        12 softplus, 13 gelu (erf) (common.cl's lstmkit_act / lstmkit_act_grad); backward uses the
//                        output y (gelu: the input x, passed in y's place)
//   softmax_rows:        y[r, :] = softmax(x[r, :]); softmax_backward_rows: dx = y * (dy - sum(dy * y))
//   loss_rows:           one work-item per row r of pred [rows, cols] and target ([rows, cols], or [rows] class ids);
//                        writes row_loss[r] (summed over cols) and grad[r, :] = scale * dLoss/dpred.
//                        kind 0 MSE, 1 BCE on probabilities, 2 BCE on logits, 3 categorical CE on probabilities,
//                        4 categorical CE on logits (fused softmax), 5/6 the same with sparse class ids.
//   metric_rows:         kind 0 argmax == argmax(target), 1 argmax == class id, 2 count of (p > 0.5) == (t > 0.5),
//                        3 sum |p - t|, 4 sum (p - t)^2; one value per row.
//   embedding_forward:   out[n, dim] = table[ids[n], :]; embedding_backward: dtable[ids[n], :] += dout[n, :]
//                        (one work-item per column, so no two work-items add to the same element)
//   gather_rows:         dst[i, :] = src[indices[i], :]
//   axpby, mul:          y = a*x + b*y;  out = x * y
//   merge_directions:    y [rows, 2H] (forward | reverse) -> out [rows, H]: mode 1 sum, 2 mul, 3 average
//   sum_squares:         out[index] = sum x^2 (one work-group of REDUCE_WG items)
//   sgd/adam/rmsprop:    PyTorch's update rules; the gradient is first clipped by value (clip_value > 0) and by
//                        global norm (max_norm > 0: scale = max_norm / (sqrt(sum norms[0..num_norms)) + 1e-6),
//                        applied when < 1, as torch.nn.utils.clip_grad_norm_), then weight decay is added (L2),
//                        or applied to the weights directly when decoupled (AdamW).
// Tuning defines: REDUCE_WG (work-group size of sum_squares, default 256).
// Benchmark: `swift run -c release lstm-bench` times the optimizer step with the training step.

#ifndef REDUCE_WG
#define REDUCE_WG 256
#endif

__kernel void add_row_bias(const int rows, const int cols, __global const real *bias, const int offB,
                           __global real *y, const int offY)
{
    const int c = (int)get_global_id(0), r = (int)get_global_id(1);
    if (c < cols && r < rows) y[offY + (size_t)r * cols + c] += bias[offB + c];
}

__kernel void activation_forward(const int kind, const int n, __global const real *x, const int offX,
                                 __global real *y, const int offY)
{
    const int i = (int)get_global_id(0);
    if (i < n) y[offY + i] = lstmkit_act(kind, x[offX + i]);
}

__kernel void activation_backward(const int kind, const int n, __global const real *y, const int offY,
                                  __global const real *dy, const int offDY, __global real *dx, const int offDX)
{
    const int i = (int)get_global_id(0);
    if (i < n) dx[offDX + i] = dy[offDY + i] * lstmkit_act_grad(kind, y[offY + i]);
}

__kernel void softmax_rows(const int rows, const int cols, __global const real *x, const int offX,
                           __global real *y, const int offY)
{
    const int r = (int)get_global_id(0);
    if (r >= rows) return;
    __global const real *xr = x + offX + (size_t)r * cols;
    __global real *yr = y + offY + (size_t)r * cols;
    real m = xr[0];
    for (int c = 1; c < cols; ++c) m = fmax(m, xr[c]);
    real s = 0.0f;
    for (int c = 0; c < cols; ++c) { yr[c] = exp(xr[c] - m); s += yr[c]; }
    for (int c = 0; c < cols; ++c) yr[c] /= s;
}

__kernel void softmax_backward_rows(const int rows, const int cols, __global const real *y, const int offY,
                                    __global const real *dy, const int offDY, __global real *dx, const int offDX)
{
    const int r = (int)get_global_id(0);
    if (r >= rows) return;
    __global const real *yr = y + offY + (size_t)r * cols;
    __global const real *dyr = dy + offDY + (size_t)r * cols;
    real s = 0.0f;
    for (int c = 0; c < cols; ++c) s += dyr[c] * yr[c];
    for (int c = 0; c < cols; ++c) dx[offDX + (size_t)r * cols + c] = yr[c] * (dyr[c] - s);
}

#define LOSS_EPS 1e-7f

__kernel void loss_rows(const int kind, const int rows, const int cols,
                        __global const real *pred, const int offP, __global const real *target, const int offT,
                        const float scale, __global real *row_loss, __global real *grad, const int offG)
{
    const int r = (int)get_global_id(0);
    if (r >= rows) return;
    __global const real *p = pred + offP + (size_t)r * cols;
    __global real *g = grad + offG + (size_t)r * cols;
    real loss = 0.0f;
    if (kind <= 2) {
        __global const real *t = target + offT + (size_t)r * cols;
        for (int c = 0; c < cols; ++c) {
            const real x = p[c], y = t[c];
            if (kind == 0) {
                const real d = x - y;
                loss += d * d;
                g[c] = scale * 2.0f * d;
            } else if (kind == 1) {
                const real q = clamp(x, LOSS_EPS, 1.0f - LOSS_EPS);
                loss -= y * log(q) + (1.0f - y) * log(1.0f - q);
                g[c] = scale * (q - y) / (q * (1.0f - q));
            } else {
                loss += fmax(x, 0.0f) - x * y + log1p(exp(-fabs(x)));
                g[c] = scale * (lstmkit_sigmoid(x) - y);
            }
        }
    } else {
        const int sparse = kind >= 5, logits = (kind == 4 || kind == 6);
        const int label = sparse ? (int)target[offT + r] : -1;
        __global const real *t = target + offT + (size_t)r * cols;
        if (logits) {
            real m = p[0];
            for (int c = 1; c < cols; ++c) m = fmax(m, p[c]);
            real s = 0.0f;
            for (int c = 0; c < cols; ++c) s += exp(p[c] - m);
            const real lse = m + log(s);
            real tsum = 0.0f;
            for (int c = 0; c < cols; ++c) {
                const real y = sparse ? (c == label ? 1.0f : 0.0f) : t[c];
                loss += y * (lse - p[c]);
                tsum += y;
            }
            for (int c = 0; c < cols; ++c) {
                const real y = sparse ? (c == label ? 1.0f : 0.0f) : t[c];
                g[c] = scale * (exp(p[c] - lse) * tsum - y);
            }
        } else {
            for (int c = 0; c < cols; ++c) {
                const real y = sparse ? (c == label ? 1.0f : 0.0f) : t[c];
                const real q = clamp(p[c], LOSS_EPS, 1.0f);
                loss -= y * log(q);
                g[c] = scale * (-y / q);
            }
        }
    }
    row_loss[r] = loss;
}

__kernel void metric_rows(const int kind, const int rows, const int cols,
                          __global const real *pred, const int offP, __global const real *target, const int offT,
                          __global real *out)
{
    const int r = (int)get_global_id(0);
    if (r >= rows) return;
    __global const real *p = pred + offP + (size_t)r * cols;
    __global const real *t = target + offT + (size_t)r * cols;
    real v = 0.0f;
    if (kind <= 1) {
        int best = 0;
        for (int c = 1; c < cols; ++c) if (p[c] > p[best]) best = c;
        int want = 0;
        if (kind == 1) want = (int)target[offT + r];
        else for (int c = 1; c < cols; ++c) if (t[c] > t[want]) want = c;
        v = best == want ? 1.0f : 0.0f;
    } else if (kind == 2) {
        for (int c = 0; c < cols; ++c) v += ((p[c] > 0.5f) == (t[c] > 0.5f)) ? 1.0f : 0.0f;
    } else if (kind == 4) {
        for (int c = 0; c < cols; ++c) v += (p[c] - t[c]) * (p[c] - t[c]);
    } else {
        for (int c = 0; c < cols; ++c) v += fabs(p[c] - t[c]);
    }
    out[r] = v;
}

__kernel void embedding_forward(const int n, const int dim, __global const real *ids, const int offIds,
                                __global const real *table, const int offT, __global real *out)
{
    const int f = (int)get_global_id(0), i = (int)get_global_id(1);
    if (f < dim && i < n) out[(size_t)i * dim + f] = table[offT + (size_t)((int)ids[offIds + i]) * dim + f];
}

__kernel void embedding_backward(const int n, const int dim, __global const real *ids, const int offIds,
                                 __global const real *dout, __global real *dtable, const int offDT)
{
    const int f = (int)get_global_id(0);
    if (f >= dim) return;
    for (int i = 0; i < n; ++i) dtable[offDT + (size_t)((int)ids[offIds + i]) * dim + f] += dout[(size_t)i * dim + f];
}

__kernel void gather_rows(const int count, const int row_size, __global const int *indices,
                          __global const real *src, __global real *dst)
{
    const int f = (int)get_global_id(0), i = (int)get_global_id(1);
    if (f < row_size && i < count) dst[(size_t)i * row_size + f] = src[(size_t)indices[i] * row_size + f];
}

__kernel void axpby(const int n, const float a, __global const real *x, const int offX,
                    const float b, __global real *y, const int offY)
{
    const int i = (int)get_global_id(0);
    if (i < n) y[offY + i] = (b == 0.0f) ? a * x[offX + i] : a * x[offX + i] + b * y[offY + i];
}

__kernel void mul(const int n, __global const real *x, const int offX, __global const real *y, const int offY,
                  __global real *out, const int offOut)
{
    const int i = (int)get_global_id(0);
    if (i < n) out[offOut + i] = x[offX + i] * y[offY + i];
}

__kernel void merge_directions(const int mode, const int rows, const int H, __global const real *y, __global real *out)
{
    const int j = (int)get_global_id(0), r = (int)get_global_id(1);
    if (j >= H || r >= rows) return;
    const real a = y[(size_t)r * 2 * H + j], b = y[(size_t)r * 2 * H + H + j];
    out[(size_t)r * H + j] = mode == 2 ? a * b : (mode == 3 ? 0.5f * (a + b) : a + b);
}

__kernel void merge_directions_backward(const int mode, const int rows, const int H, __global const real *y,
                                        __global const real *dout, __global real *dy)
{
    const int j = (int)get_global_id(0), r = (int)get_global_id(1);
    if (j >= H || r >= rows) return;
    const real d = dout[(size_t)r * H + j];
    const size_t ia = (size_t)r * 2 * H + j, ib = ia + H;
    if (mode == 2) { dy[ia] = d * y[ib]; dy[ib] = d * y[ia]; }
    else { const real s = mode == 3 ? 0.5f * d : d; dy[ia] = s; dy[ib] = s; }
}

__kernel void sum_squares(const int n, __global const real *x, const int offX, __global real *out, const int index)
{
    __local real partial[REDUCE_WG];
    const int l = (int)get_local_id(0);
    real s = 0.0f;
    for (int i = l; i < n; i += REDUCE_WG) { const real v = x[offX + i]; s += v * v; }
    partial[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = REDUCE_WG / 2; w > 0; w >>= 1) {
        if (l < w) partial[l] += partial[l + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) out[index] = partial[0];
}

/// The gradient after clipping by value and by global norm, before weight decay.
inline real clipped_grad(real g, const float clip_value, __global const real *norms, const int num_norms,
                          const float max_norm)
{
    if (clip_value > 0.0f) g = clamp(g, -clip_value, clip_value);
    if (max_norm > 0.0f) {
        real total = 0.0f;
        for (int k = 0; k < num_norms; ++k) total += norms[k];
        const real coef = max_norm / (sqrt(total) + 1e-6f);
        if (coef < 1.0f) g *= coef;
    }
    return g;
}

__kernel void sgd_update(const int n, __global real *p, __global const real *grad, __global real *velocity,
                         const float lr, const float momentum, const int nesterov, const float weight_decay,
                         const float clip_value, __global const real *norms, const int num_norms, const float max_norm)
{
    const int i = (int)get_global_id(0);
    if (i >= n) return;
    real g = clipped_grad(grad[i], clip_value, norms, num_norms, max_norm) + weight_decay * p[i];
    if (momentum != 0.0f) {
        const real v = momentum * velocity[i] + g;
        velocity[i] = v;
        g = nesterov ? g + momentum * v : v;
    }
    p[i] -= lr * g;
}

__kernel void adam_update(const int n, __global real *p, __global const real *grad, __global real *m, __global real *v,
                          const float decay_factor, const float one_minus_beta1, const float beta2, const float one_minus_beta2,
                          const float eps, const float weight_decay,
                          const int decoupled, const float step_size, const float bias_correction2_sqrt,
                          const float clip_value, __global const real *norms, const int num_norms, const float max_norm)
{
    const int i = (int)get_global_id(0);
    if (i >= n) return;
    real g = clipped_grad(grad[i], clip_value, norms, num_norms, max_norm);
    real w = p[i];
    if (decoupled) w *= decay_factor; else g += weight_decay * w;
    // PyTorch's order of operations: p.mul_(1 - lr*wd) (AdamW); m.lerp_(g, 1-beta1); v.mul_(beta2).addcmul_(g, g, 1-beta2),
    // i.e. v*beta2 + ((1-beta2)*g)*g; denom = sqrt(v) / sqrt(bc2) + eps; p.addcdiv_(m, denom, -step_size), step_size = lr / bc1.
    // The coefficients decay_factor = 1 - lr*wd, 1 - beta1 and 1 - beta2 come from the host, computed in double and
    // rounded once, as PyTorch's Python scalars are (1 - 0.999f in float is 0.00099998713, PyTorch's is 0.001f).
    const real mi = m[i] + one_minus_beta1 * (g - m[i]);
    const real vi = v[i] * beta2 + one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const real denom = sqrt(vi) / bias_correction2_sqrt + eps;
    p[i] = w + (-step_size * mi) / denom;
}

__kernel void rmsprop_update(const int n, __global real *p, __global const real *grad, __global real *square_avg,
                             const float lr, const float alpha, const float one_minus_alpha, const float eps, const float weight_decay,
                             const float clip_value, __global const real *norms, const int num_norms, const float max_norm)
{
    const int i = (int)get_global_id(0);
    if (i >= n) return;
    const real g = clipped_grad(grad[i], clip_value, norms, num_norms, max_norm) + weight_decay * p[i];
    // PyTorch: square_avg.mul_(alpha).addcmul_(g, g, 1 - alpha), with 1 - alpha computed in double on the host.
    const real s = alpha * square_avg[i] + one_minus_alpha * g * g;
    square_avg[i] = s;
    p[i] -= lr * g / (sqrt(s) + eps);
}
