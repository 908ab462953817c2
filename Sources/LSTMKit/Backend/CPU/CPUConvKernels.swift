/// CPU twins of Kernels/conv.cl and Kernels/pooling.cl: same names, same argument order (the geometry integers,
/// then the pointers, already advanced by their offsets), plain loops, split over frames on the worker pool.
/// Backward passes scatter within one frame instead of the kernels' gather (the same sums, in another order;
/// frames are independent, so the split over frames is race-free).
/// N = frames, H = height, W = width, C = channels, KH/KW = kernel, SH/SW = strides, PT/PL = padding before,
/// DH/DW = dilation, OH/OW = output height/width, PH/PW = pool size. Layouts as in the .cl files.
enum CPUConvKernels {
    /// cols [N*OH*OW, C*KH*KW] (column (c*KH + kh)*KW + kw) = patches of x [N, H, W, C]; zeros outside the frame.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func im2col<S: CPUScalar>(_ N: Int, _ H: Int, _ W: Int, _ C: Int, _ KH: Int, _ KW: Int, _ SH: Int, _ SW: Int,
                                     _ PT: Int, _ PL: Int, _ DH: Int, _ DW: Int, _ OH: Int, _ OW: Int,
                                     _ x: UnsafePointer<S>, _ cols: UnsafeMutablePointer<S>) {
        let K = C * KH * KW, KK = KH * KW
        let box = UncheckedSendable((x, cols))
        CPUKernels.forRows(N, work: N * OH * OW * K) { frames in
            let (x, cols) = box.value
            for n in frames { for oh in 0..<OH { for ow in 0..<OW {
                let row = cols + ((n * OH + oh) * OW + ow) * K
                for kh in 0..<KH {
                    let h = oh * SH - PT + kh * DH
                    for kw in 0..<KW {
                        let w = ow * SW - PL + kw * DW, tap = kh * KW + kw
                        if h >= 0 && h < H && w >= 0 && w < W {
                            let src = x + ((n * H + h) * W + w) * C
                            for c in 0..<C { row[c * KK + tap] = src[c] }
                        } else {
                            for c in 0..<C { row[c * KK + tap] = 0 }
                        }
                    }
                }
            } } }
        }
    }

    /// dx [N, H, W, C] = the sum over patches of dcols [N*OH*OW, C*KH*KW] (overwrites dx).
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func col2im<S: CPUScalar>(_ N: Int, _ H: Int, _ W: Int, _ C: Int, _ KH: Int, _ KW: Int, _ SH: Int, _ SW: Int,
                                     _ PT: Int, _ PL: Int, _ DH: Int, _ DW: Int, _ OH: Int, _ OW: Int,
                                     _ dcols: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>) {
        let K = C * KH * KW, KK = KH * KW
        let box = UncheckedSendable((dcols, dx))
        CPUKernels.forRows(N, work: N * OH * OW * K) { frames in
            let (dcols, dx) = box.value
            for n in frames {
                let frame = dx + n * H * W * C
                frame.update(repeating: 0, count: H * W * C)
                for oh in 0..<OH { for ow in 0..<OW {
                    let row = dcols + ((n * OH + oh) * OW + ow) * K
                    for kh in 0..<KH {
                        let h = oh * SH - PT + kh * DH
                        if h < 0 || h >= H { continue }
                        for kw in 0..<KW {
                            let w = ow * SW - PL + kw * DW, tap = kh * KW + kw
                            if w < 0 || w >= W { continue }
                            let dst = frame + (h * W + w) * C
                            for c in 0..<C { dst[c] += row[c * KK + tap] }
                        }
                    }
                } }
            }
        }
    }

    /// y [rows, cols] = act(y + bias[cols]) in place; has_bias 0 ignores bias. kind as lstmkitActivation (CPUScalar.swift).
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func conv_bias_act<S: CPUScalar>(_ kind: Int, _ rows: Int, _ cols: Int, _ has_bias: Int,
                                            _ bias: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>) {
        let box = UncheckedSendable((bias, y))
        CPUKernels.forRows(rows, work: rows * cols) { range in
            let (bias, y) = box.value
            for r in range {
                let yr = y + r * cols
                if has_bias != 0 { for c in 0..<cols { yr[c] += bias[c] } }
                if kind != 0 { for c in 0..<cols { yr[c] = lstmkitActivation(kind, yr[c]) } }
            }
        }
    }

    /// y, arg [N, OH, OW, C]: window maxima of x [N, H, W, C] and their positions kh*PW + kw (first on ties).
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func max_pool_forward<S: CPUScalar>(_ N: Int, _ H: Int, _ W: Int, _ C: Int, _ PH: Int, _ PW: Int, _ SH: Int, _ SW: Int,
                                               _ PT: Int, _ PL: Int, _ OH: Int, _ OW: Int,
                                               _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ arg: UnsafeMutablePointer<S>) {
        let box = UncheckedSendable((x, y, arg))
        CPUKernels.forRows(N, work: N * OH * OW * C * PH * PW) { frames in
            let (x, y, arg) = box.value
            for n in frames { for oh in 0..<OH { for ow in 0..<OW {
                let o = ((n * OH + oh) * OW + ow) * C
                var first = true
                for kh in 0..<PH {
                    let h = oh * SH - PT + kh
                    if h < 0 || h >= H { continue }
                    for kw in 0..<PW {
                        let w = ow * SW - PL + kw
                        if w < 0 || w >= W { continue }
                        let src = x + ((n * H + h) * W + w) * C, at = S(kh * PW + kw)
                        if first {
                            for c in 0..<C { y[o + c] = src[c]; arg[o + c] = at }
                            first = false
                        } else {
                            for c in 0..<C {
                                let v = src[c], best = y[o + c]
                                if v > best || v.isNaN && !best.isNaN { y[o + c] = v; arg[o + c] = at }
                            }
                        }
                    }
                }
            } } }
        }
    }

    /// dx [N, H, W, C] (overwritten): each dy [N, OH, OW, C] goes to its window's maximum.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func max_pool_backward<S: CPUScalar>(_ N: Int, _ H: Int, _ W: Int, _ C: Int, _ PH: Int, _ PW: Int, _ SH: Int, _ SW: Int,
                                                _ PT: Int, _ PL: Int, _ OH: Int, _ OW: Int,
                                                _ dy: UnsafePointer<S>, _ arg: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>) {
        let box = UncheckedSendable((dy, arg, dx))
        CPUKernels.forRows(N, work: N * H * W * C) { frames in
            let (dy, arg, dx) = box.value
            for n in frames {
                let frame = dx + n * H * W * C
                frame.update(repeating: 0, count: H * W * C)
                for oh in 0..<OH { for ow in 0..<OW {
                    let o = ((n * OH + oh) * OW + ow) * C
                    for c in 0..<C {
                        let at = Int(arg[o + c]), h = oh * SH - PT + at / PW, w = ow * SW - PL + at % PW
                        frame[(h * W + w) * C + c] += dy[o + c]
                    }
                } }
            }
        }
    }

    /// dx [N, H, W, C] += each dy [N, OH, OW, C] at its window's maximum; windows must not overlap (strides >= pool),
    /// dx zeroed by the caller.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func max_pool_backward_scatter<S: CPUScalar>(_ N: Int, _ H: Int, _ W: Int, _ C: Int, _ PH: Int, _ PW: Int, _ SH: Int, _ SW: Int,
                                                        _ PT: Int, _ PL: Int, _ OH: Int, _ OW: Int,
                                                        _ dy: UnsafePointer<S>, _ arg: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>) {
        let box = UncheckedSendable((dy, arg, dx))
        CPUKernels.forRows(N, work: N * OH * OW * C) { frames in
            let (dy, arg, dx) = box.value
            for n in frames { for oh in 0..<OH { for ow in 0..<OW {
                let o = ((n * OH + oh) * OW + ow) * C
                for c in 0..<C {
                    let at = Int(arg[o + c]), h = oh * SH - PT + at / PW, w = ow * SW - PL + at % PW
                    dx[((n * H + h) * W + w) * C + c] += dy[o + c]
                }
            } } }
        }
    }

    /// y [N, OH, OW, C]: window means of x [N, H, W, C] over the pixels inside the frame.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func avg_pool_forward<S: CPUScalar>(_ N: Int, _ H: Int, _ W: Int, _ C: Int, _ PH: Int, _ PW: Int, _ SH: Int, _ SW: Int,
                                               _ PT: Int, _ PL: Int, _ OH: Int, _ OW: Int,
                                               _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>) {
        let box = UncheckedSendable((x, y))
        CPUKernels.forRows(N, work: N * OH * OW * C * PH * PW) { frames in
            let (x, y) = box.value
            for n in frames { for oh in 0..<OH { for ow in 0..<OW {
                let o = y + ((n * OH + oh) * OW + ow) * C
                let h0 = Swift.max(oh * SH - PT, 0), h1 = Swift.min(oh * SH - PT + PH, H)
                let w0 = Swift.max(ow * SW - PL, 0), w1 = Swift.min(ow * SW - PL + PW, W)
                for c in 0..<C { o[c] = 0 }
                for h in h0..<h1 { for w in w0..<w1 {
                    let src = x + ((n * H + h) * W + w) * C
                    for c in 0..<C { o[c] += src[c] }
                } }
                let count = S((h1 - h0) * (w1 - w0))
                for c in 0..<C { o[c] /= count }
            } } }
        }
    }

    /// dx [N, H, W, C] (overwritten): each dy [N, OH, OW, C] spread evenly over its window's pixels inside the frame.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func avg_pool_backward<S: CPUScalar>(_ N: Int, _ H: Int, _ W: Int, _ C: Int, _ PH: Int, _ PW: Int, _ SH: Int, _ SW: Int,
                                                _ PT: Int, _ PL: Int, _ OH: Int, _ OW: Int,
                                                _ dy: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>) {
        let box = UncheckedSendable((dy, dx))
        CPUKernels.forRows(N, work: N * OH * OW * C * PH * PW) { frames in
            let (dy, dx) = box.value
            for n in frames {
                let frame = dx + n * H * W * C
                frame.update(repeating: 0, count: H * W * C)
                for oh in 0..<OH { for ow in 0..<OW {
                    let g = dy + ((n * OH + oh) * OW + ow) * C
                    let h0 = Swift.max(oh * SH - PT, 0), h1 = Swift.min(oh * SH - PT + PH, H)
                    let w0 = Swift.max(ow * SW - PL, 0), w1 = Swift.min(ow * SW - PL + PW, W)
                    let count = S((h1 - h0) * (w1 - w0))
                    for h in h0..<h1 { for w in w0..<w1 {
                        let dst = frame + (h * W + w) * C
                        for c in 0..<C { dst[c] += g[c] / count }
                    } }
                } }
            }
        }
    }
}

extension CPUBackend: ConvBackend {}
