// conv.cl: 2-D convolution (Conv2D) as im2col + the backend's gemm, channels-last. The layer runs
//   forward:          im2col(x) -> cols; z = cols . W^T (gemm NT); conv_bias_act(z): y = act(z + bias) in place
//   backward-weights: dW += dz^T . cols (gemm TN); dbias += column sums of dz (elementwise.cl column_sum)
//   backward-data:    dcols = dz . W (gemm NN); col2im(dcols) -> dx (a gather: no two work-items write one element)
// A 1x1 kernel with stride 1 and no padding skips im2col and col2im (cols is x itself).
//
// Layouts (row-major, every buffer addressed as pointer + element offset):
//   x, dx:    [N, H, W, C]            N = frames (batch, or batch x time inside TimeDistributed), C = in channels
//   cols:     [N*OH*OW, C*KH*KW]      column (c*KH + kh)*KW + kw: PyTorch's Conv2d weight order
//   W:        [O, C, KH, KW]          PyTorch's Conv2d `weight` layout (O = filters); bias [O]
//   y, dz:    [N*OH*OW, O]            = [N, OH, OW, O]
// Geometry arguments (every kernel, this order): N, H, W, C, KH, KW, SH, SW (strides), PT, PL (padding before,
// top and left; Keras 'same' puts the odd pixel after), DH, DW (dilation), OH, OW. Input pixel of output (oh, ow)
// and tap (kh, kw): h = oh*SH - PT + kh*DH, w = ow*SW - PL + kw*DW; outside [0, H) x [0, W) it reads 0.
// conv_bias_act: kind as the prelude's lstmkit_act (Activation.kernelKind); has_bias 0/1.
// Tuning defines: none (one work-item per output element; the gemm carries the FLOPs and has its own tuning).
// Benchmark: `swift run -c release lstm-bench --preset conv-lstm` (profile lines im2col, col2im, conv_bias_act).

__kernel void im2col(const int N, const int H, const int W, const int C, const int KH, const int KW,
                     const int SH, const int SW, const int PT, const int PL, const int DH, const int DW,
                     const int OH, const int OW,
                     __global const real *x, const int offX, __global real *cols, const int offCols)
{
    const int K = C * KH * KW;
    const int k = (int)get_global_id(0), row = (int)get_global_id(1);
    if (k >= K || row >= N * OH * OW) return;
    const int kw = k % KW, kh = (k / KW) % KH, c = k / (KW * KH);
    const int ow = row % OW, oh = (row / OW) % OH, n = row / (OW * OH);
    const int h = oh * SH - PT + kh * DH, w = ow * SW - PL + kw * DW;
    real v = 0.0f;
    if (h >= 0 && h < H && w >= 0 && w < W) v = x[offX + (((size_t)n * H + h) * W + w) * C + c];
    cols[offCols + (size_t)row * K + k] = v;
}

__kernel void col2im(const int N, const int H, const int W, const int C, const int KH, const int KW,
                     const int SH, const int SW, const int PT, const int PL, const int DH, const int DW,
                     const int OH, const int OW,
                     __global const real *dcols, const int offCols, __global real *dx, const int offDX)
{
    const int i = (int)get_global_id(0);
    if (i >= N * H * W * C) return;
    const int c = i % C, w = (i / C) % W, h = (i / (C * W)) % H, n = i / (C * W * H);
    const int K = C * KH * KW;
    real s = 0.0f;
    for (int kh = 0; kh < KH; ++kh) {
        const int th = h + PT - kh * DH;
        if (th < 0 || th % SH != 0) continue;
        const int oh = th / SH;
        if (oh >= OH) continue;
        for (int kw = 0; kw < KW; ++kw) {
            const int tw = w + PL - kw * DW;
            if (tw < 0 || tw % SW != 0) continue;
            const int ow = tw / SW;
            if (ow >= OW) continue;
            s += dcols[offCols + ((size_t)(n * OH + oh) * OW + ow) * K + (c * KH + kh) * KW + kw];
        }
    }
    dx[offDX + i] = s;
}

__kernel void conv_bias_act(const int kind, const int rows, const int cols, const int has_bias,
                            __global const real *bias, const int offB, __global real *y, const int offY)
{
    const int c = (int)get_global_id(0), r = (int)get_global_id(1);
    if (c >= cols || r >= rows) return;
    const size_t i = offY + (size_t)r * cols + c;
    real v = y[i];
    if (has_bias) v += bias[offB + c];
    y[i] = lstmkit_act(kind, v);
}
