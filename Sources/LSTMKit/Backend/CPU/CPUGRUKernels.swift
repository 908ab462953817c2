/// CPU twins of Kernels/gru_cell.cl: same names, same argument order, plain loops.
/// B = batch, T = time steps, H = hidden size; pointers are already advanced by their offsets.
enum CPUGRUKernels {
    /// gx: [T, B, 3H] by time; gh: [B, 3H]; hs: [T+1, B, H]; gates: [T, B, 4H] = r, z, n, gh_n + b_hn; y: [T, B, ldy].
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func gru_cell_forward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gx: UnsafePointer<S>, _ gh: UnsafePointer<S>, _ bias_ih: UnsafePointer<S>?, _ bias_hh: UnsafePointer<S>?,
        _ hs: UnsafeMutablePointer<S>, _ gates: UnsafeMutablePointer<S>, _ y: UnsafeMutablePointer<S>, _ ldy: Int,
        _ act: Int, _ ract: Int
    ) {
        for b in 0..<B {
            let len = Int(lengths[b])
            let prev = (step * B + b) * H, next = prev + B * H
            if step >= len {
                for j in 0..<H { hs[next + j] = hs[prev + j]; y[(step * B + b) * ldy + j] = 0 }
                continue
            }
            let t = reverse ? len - 1 - step : step
            let x3 = gx + (t * B + b) * 3 * H, h3 = gh + b * 3 * H, g = gates + (step * B + b) * 4 * H
            for j in 0..<H {
                var ax = (x3[j], x3[H + j], x3[2 * H + j]), ah = (h3[j], h3[H + j], h3[2 * H + j])
                if let bi = bias_ih, let bh = bias_hh {
                    ax.0 += bi[j]; ax.1 += bi[H + j]; ax.2 += bi[2 * H + j]
                    ah.0 += bh[j]; ah.1 += bh[H + j]; ah.2 += bh[2 * H + j]
                }
                let r = lstmkitActivation(ract, ax.0 + ah.0), z = lstmkitActivation(ract, ax.1 + ah.1)
                let n = lstmkitActivation(act, ax.2 + r * ah.2)
                let h = (1 - z) * n + z * hs[prev + j]
                hs[next + j] = h
                g[j] = r; g[H + j] = z; g[2 * H + j] = n; g[3 * H + j] = ah.2
                y[(t * B + b) * ldy + j] = h
            }
        }
    }

    /// dh: [B, H] (left as the direct path z * dh; the gemm adds dgh . W_hh); dgh: [T, B, 3H] by step; dgx: by time.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func gru_cell_backward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gates: UnsafePointer<S>, _ hs: UnsafePointer<S>, _ dy: UnsafePointer<S>, _ lddy: Int,
        _ dh: UnsafeMutablePointer<S>, _ dgh: UnsafeMutablePointer<S>, _ dgx: UnsafeMutablePointer<S>, _ act: Int, _ ract: Int
    ) {
        for b in 0..<B {
            let len = Int(lengths[b])
            let gs = dgh + (step * B + b) * 3 * H
            if step >= len {
                let gt = dgx + (step * B + b) * 3 * H
                for q in 0..<(3 * H) { gs[q] = 0; gt[q] = 0 }
                continue
            }
            let t = reverse ? len - 1 - step : step
            let g = gates + (step * B + b) * 4 * H, gt = dgx + (t * B + b) * 3 * H
            for j in 0..<H {
                let sb = b * H + j
                let r = g[j], z = g[H + j], n = g[2 * H + j], hn = g[3 * H + j]
                let hPrev = hs[step * B * H + sb]
                let dht = dh[sb] + dy[(t * B + b) * lddy + j]
                let dan = lstmkitActivationBack(act, dht * (1 - z), n)
                let dar = lstmkitActivationBack(ract, dan * hn, r)
                let daz = lstmkitActivationBack(ract, dht * (hPrev - n), z)
                gt[j] = dar; gt[H + j] = daz; gt[2 * H + j] = dan
                gs[j] = dar; gs[H + j] = daz; gs[2 * H + j] = dan * r
                dh[sb] = dht * z
            }
        }
    }
}

extension CPUBackend: GRUBackend {}
