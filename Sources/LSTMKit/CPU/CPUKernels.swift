/// CPU twins of the OpenCL kernels in Kernels/: same names, same argument order, plain loops.
/// Pointers are already advanced by their offsets. B = batch, T = time steps, H = hidden size.
enum CPUKernels {
    /// Kernels/lstm_cell.cl `lstm_cell_forward`. gx: [T, B, 4H] by time; r: [B, 4H]; hs, cs: [T+1, B, H] by
    /// step; gates: [T, B, 4H] by step; y: [T, B, ldy] by time. Bias pointers are nil when the layer has none.
    static func lstm_cell_forward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gx: UnsafePointer<S>, _ r: UnsafePointer<S>, _ bias_ih: UnsafePointer<S>?, _ bias_hh: UnsafePointer<S>?,
        _ hs: UnsafeMutablePointer<S>, _ cs: UnsafeMutablePointer<S>, _ gates: UnsafeMutablePointer<S>,
        _ y: UnsafeMutablePointer<S>, _ ldy: Int
    ) {
        for b in 0..<B {
            let len = Int(lengths[b])
            let prev = (step * B + b) * H, next = prev + B * H
            if step >= len {
                for j in 0..<H {
                    hs[next + j] = hs[prev + j]
                    cs[next + j] = cs[prev + j]
                    y[(step * B + b) * ldy + j] = 0
                }
                continue
            }
            let t = reverse ? len - 1 - step : step
            let gxr = gx + (t * B + b) * 4 * H, rr = r + b * 4 * H
            let gs = gates + (step * B + b) * 4 * H
            for j in 0..<H {
                var a = (gxr[j] + rr[j], gxr[H + j] + rr[H + j], gxr[2 * H + j] + rr[2 * H + j], gxr[3 * H + j] + rr[3 * H + j])
                if let bi = bias_ih, let bh = bias_hh {
                    a.0 += bi[j] + bh[j]; a.1 += bi[H + j] + bh[H + j]
                    a.2 += bi[2 * H + j] + bh[2 * H + j]; a.3 += bi[3 * H + j] + bh[3 * H + j]
                }
                let i = lstmkitSigmoid(a.0), f = lstmkitSigmoid(a.1), g = lstmkitTanh(a.2), o = lstmkitSigmoid(a.3)
                let c = f * cs[prev + j] + i * g
                let h = o * lstmkitTanh(c)
                cs[next + j] = c
                hs[next + j] = h
                gs[j] = i; gs[H + j] = f; gs[2 * H + j] = g; gs[3 * H + j] = o
                y[(t * B + b) * ldy + j] = h
            }
        }
    }

    /// Kernels/lstm_cell.cl `lstm_cell_backward`. dh, dc: [B, H], read as the gradient w.r.t. step+1's state
    /// and left as the gradient w.r.t. step's state (dh without the recurrent gemm term, which follows).
    static func lstm_cell_backward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gates: UnsafePointer<S>, _ cs: UnsafePointer<S>, _ dy: UnsafePointer<S>, _ lddy: Int,
        _ dh: UnsafeMutablePointer<S>, _ dc: UnsafeMutablePointer<S>,
        _ dgs: UnsafeMutablePointer<S>, _ dgt: UnsafeMutablePointer<S>
    ) {
        for b in 0..<B {
            let len = Int(lengths[b])
            let gs = dgs + (step * B + b) * 4 * H
            if step >= len {
                for q in 0..<(4 * H) { gs[q] = 0 }
                if reverse { let gt = dgt + (step * B + b) * 4 * H; for q in 0..<(4 * H) { gt[q] = 0 } }
                continue
            }
            let t = reverse ? len - 1 - step : step
            let ga = gates + (step * B + b) * 4 * H
            let gt = dgt + (t * B + b) * 4 * H
            for j in 0..<H {
                let sb = b * H + j
                let i = ga[j], f = ga[H + j], g = ga[2 * H + j], o = ga[3 * H + j]
                let cPrev = cs[step * B * H + sb]
                let tc = lstmkitTanh(cs[(step + 1) * B * H + sb])
                let dht = dh[sb] + dy[(t * B + b) * lddy + j]
                let dct = dc[sb] + dht * o * (1 - tc * tc)
                let di = dct * g * i * (1 - i)
                let df = dct * cPrev * f * (1 - f)
                let dg = dct * i * (1 - g * g)
                let dO = dht * tc * o * (1 - o)
                gs[j] = di; gs[H + j] = df; gs[2 * H + j] = dg; gs[3 * H + j] = dO
                if reverse { gt[j] = di; gt[H + j] = df; gt[2 * H + j] = dg; gt[3 * H + j] = dO }
                dh[sb] = 0
                dc[sb] = dct * f
            }
        }
    }

    /// Kernels/elementwise.cl `fill`.
    static func fill<S: CPUScalar>(_ n: Int, _ value: S, _ x: UnsafeMutablePointer<S>) {
        x.update(repeating: value, count: n)
    }

    /// Kernels/elementwise.cl `transpose01`: src [D0, D1, F] -> dst [D1, D0, F].
    static func transpose01<S: CPUScalar>(_ D0: Int, _ D1: Int, _ F: Int, _ src: UnsafePointer<S>, _ dst: UnsafeMutablePointer<S>) {
        for d0 in 0..<D0 {
            for d1 in 0..<D1 {
                (dst + (d1 * D0 + d0) * F).update(from: src + (d0 * D1 + d1) * F, count: F)
            }
        }
    }

    /// Kernels/elementwise.cl `column_sum`: out[n] = beta * out[n] + sum_m x[m*ld + n], x: [M, N].
    static func column_sum<S: CPUScalar>(_ M: Int, _ N: Int, _ x: UnsafePointer<S>, _ ld: Int, _ beta: S, _ out: UnsafeMutablePointer<S>) {
        for n in 0..<N {
            var s: S = 0
            for m in 0..<M { s += x[m * ld + n] }
            out[n] = beta == 0 ? s : beta * out[n] + s
        }
    }

    /// Kernels/elementwise.cl `dropout`: y[i] = x[i] * keep(seed, i) / (1 - p).
    static func dropout<S: CPUScalar>(_ n: Int, _ p: Float, _ seed: UInt32, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>) {
        let threshold = UInt32(p * 16_777_216)
        let scale = 1 - S(p)
        for i in 0..<n {
            y[i] = (lstmkitHash(seed, UInt32(truncatingIfNeeded: i)) >> 8) >= threshold ? x[i] / scale : 0
        }
    }
}
