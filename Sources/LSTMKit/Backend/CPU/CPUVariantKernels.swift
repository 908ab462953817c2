/// CPU twins of Kernels/lstm_variants.cl: same names, same argument order, plain loops (see the .cl file
/// for the math). Pointers are already advanced by their offsets.
/// B = batch, T = time steps, H = hidden size, P = projection size, N = row length.
enum CPUVariantKernels {
    static let layerNormEpsilon = 1e-5

    /// `lstm_peephole_grad`: dpeep [3H] (i, f, o) += sum over rows of dgs [rows, 4H] times c_{t-1} (i, f) or c_t (o);
    /// cs: [rows + B, H] by step.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_peephole_grad<S: CPUScalar>(_ rows: Int, _ B: Int, _ H: Int, _ dgs: UnsafePointer<S>, _ cs: UnsafePointer<S>,
                                                 _ dpeep: UnsafeMutablePointer<S>) {
        // Rows outer, units inner: contiguous reads (the kernel's per-unit loop, reordered; sums in the same row order).
        let acc = UnsafeMutablePointer<S>.allocate(capacity: 3 * H)
        defer { acc.deallocate() }
        acc.update(repeating: 0, count: 3 * H)
        for row in 0..<rows {
            let g = dgs + row * 4 * H, cPrev = cs + row * H, c = cs + (row + B) * H
            for j in 0..<H {
                acc[j] += g[j] * cPrev[j]
                acc[H + j] += g[H + j] * cPrev[j]
                acc[2 * H + j] += g[3 * H + j] * c[j]
            }
        }
        for k in 0..<(3 * H) { dpeep[k] += acc[k] }
    }

    /// `lstm_projection_forward`: hs, hm [T+1, B, P] by step; y [T, B, ldy] by time; rmask [B, P] or nil.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_projection_forward<S: CPUScalar>(_ B: Int, _ P: Int, _ T: Int, _ step: Int, _ reverse: Bool,
                                                      _ lengths: UnsafePointer<Int32>, _ hs: UnsafeMutablePointer<S>,
                                                      _ y: UnsafeMutablePointer<S>, _ ldy: Int,
                                                      _ rmask: UnsafePointer<S>?, _ hm: UnsafeMutablePointer<S>?) {
        for b in 0..<B {
            let len = Int(lengths[b])
            for j in 0..<P {
                let prev = (step * B + b) * P + j, next = prev + B * P
                if step >= len {
                    hs[next] = hs[prev]
                    if rmask != nil { hm![next] = hm![prev] }
                    y[(step * B + b) * ldy + j] = 0
                    continue
                }
                let t = reverse ? len - 1 - step : step
                y[(t * B + b) * ldy + j] = hs[next]
                if let m = rmask { hm![next] = hs[next] * m[b * P + j] }
            }
        }
    }

    /// `lstm_projection_backward`: dh [B, P]; dhs [T, B, P] by step; dy [T, B, lddy] by time; rmask [B, P] or nil.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_projection_backward<S: CPUScalar>(_ B: Int, _ P: Int, _ T: Int, _ step: Int, _ reverse: Bool,
                                                       _ lengths: UnsafePointer<Int32>, _ dy: UnsafePointer<S>, _ lddy: Int,
                                                       _ dh: UnsafeMutablePointer<S>, _ dhs: UnsafeMutablePointer<S>,
                                                       _ rmask: UnsafePointer<S>?) {
        for b in 0..<B {
            let len = Int(lengths[b])
            for j in 0..<P {
                let out = (step * B + b) * P + j
                if step >= len { dhs[out] = 0; continue }
                let t = reverse ? len - 1 - step : step
                var v = dh[b * P + j]
                if let m = rmask, step + 1 < len { v *= m[b * P + j] }
                dhs[out] = v + dy[(t * B + b) * lddy + j]
                dh[b * P + j] = 0
            }
        }
    }

    /// Mean and 1/sqrt(biased variance + eps) of x[0..<n), two passes (as the kernel).
    @inline(__always) static func moments<S: CPUScalar>(_ x: (Int) -> S, _ n: Int) -> (mean: S, rstd: S) {
        var s: S = 0
        for k in 0..<n { s += x(k) }
        let mean = s / S(n)
        s = 0
        for k in 0..<n { let d = x(k) - mean; s += d * d }
        return (mean, 1 / (s / S(n) + S(layerNormEpsilon)).squareRoot())
    }

    /// `layer_norm_forward`: x, y [rows, N]; w, b [N]; stats [rows, 2].
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func layer_norm_forward<S: CPUScalar>(_ rows: Int, _ N: Int, _ x: UnsafePointer<S>, _ w: UnsafePointer<S>, _ bias: UnsafePointer<S>,
                                                 _ y: UnsafeMutablePointer<S>, _ stats: UnsafeMutablePointer<S>) {
        for row in 0..<rows {
            let xr = x + row * N
            let (mean, rstd) = moments({ xr[$0] }, N)
            for k in 0..<N { y[row * N + k] = w[k] * ((xr[k] - mean) * rstd) + bias[k] }
            stats[2 * row] = mean; stats[2 * row + 1] = rstd
        }
    }

    /// `layer_norm_backward`: dy, x, dx [rows, N]; stats [rows, 2]; w [N].
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func layer_norm_backward<S: CPUScalar>(_ rows: Int, _ N: Int, _ dy: UnsafePointer<S>, _ x: UnsafePointer<S>,
                                                  _ stats: UnsafePointer<S>, _ w: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>) {
        for row in 0..<rows {
            let mean = stats[2 * row], rstd = stats[2 * row + 1]
            let xr = x + row * N, dyr = dy + row * N
            var s1: S = 0, s2: S = 0
            for k in 0..<N { let dxh = dyr[k] * w[k]; s1 += dxh; s2 += dxh * ((xr[k] - mean) * rstd) }
            let m1 = s1 / S(N), m2 = s2 / S(N)
            for k in 0..<N { dx[row * N + k] = rstd * (dyr[k] * w[k] - m1 - ((xr[k] - mean) * rstd) * m2) }
        }
    }

    /// `layer_norm_param_grad`: dy, x [rows, N]; stats of row r at stats[r * stride + offS] (mean), + 1 (rstd).
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func layer_norm_param_grad<S: CPUScalar>(_ rows: Int, _ N: Int, _ dy: UnsafePointer<S>, _ x: UnsafePointer<S>,
                                                    _ stats: UnsafePointer<S>, _ stride: Int, _ offS: Int,
                                                    _ dw: UnsafeMutablePointer<S>, _ db: UnsafeMutablePointer<S>) {
        // Rows outer, columns inner: contiguous reads (the kernel's per-column loop, reordered; same row order).
        let acc = UnsafeMutablePointer<S>.allocate(capacity: 2 * N)
        defer { acc.deallocate() }
        acc.update(repeating: 0, count: 2 * N)
        for row in 0..<rows {
            let mean = stats[row * stride + offS], rstd = stats[row * stride + offS + 1]
            let d = dy + row * N, xr = x + row * N
            for k in 0..<N {
                acc[k] += d[k] * ((xr[k] - mean) * rstd)
                acc[N + k] += d[k]
            }
        }
        for k in 0..<N { dw[k] += acc[k]; db[k] += acc[N + k] }
    }

    /// `lstm_ln_cell_forward`. gxn [T, B, 4H] by time; r, gates [T, B, 4H] by step; hs, cs, hm [T+1, B, H] by step;
    /// stats [T, B, 4] by step; y [T, B, ldy] by time (nil: not written); params: biases (nil: none), LN_hh w, b
    /// [4H], LN_c w, b [H], peepholes [3H] (nil: none); rmask [B, H] or nil.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_ln_cell_forward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gxn: UnsafePointer<S>, _ r: UnsafePointer<S>, _ bih: UnsafePointer<S>?, _ bhh: UnsafePointer<S>?,
        _ hhW: UnsafePointer<S>, _ hhB: UnsafePointer<S>, _ cW: UnsafePointer<S>, _ cB: UnsafePointer<S>, _ peep: UnsafePointer<S>?,
        _ hs: UnsafeMutablePointer<S>, _ cs: UnsafeMutablePointer<S>, _ gates: UnsafeMutablePointer<S>, _ stats: UnsafeMutablePointer<S>,
        _ y: UnsafeMutablePointer<S>?, _ ldy: Int, _ cellClip: S, _ rmask: UnsafePointer<S>?, _ hm: UnsafeMutablePointer<S>?
    ) {
        let G = 4 * H
        for b in 0..<B {
            let len = Int(lengths[b])
            let prev = (step * B + b) * H, next = prev + B * H
            let st = stats + (step * B + b) * 4
            if step >= len {
                CPUKernels.carry_padding_row(B, H, step, b, hs, cs, rmask != nil ? hm : nil, y, ldy)
                st.update(repeating: 0, count: 4)
                continue
            }
            let t = reverse ? len - 1 - step : step
            let rr = r + (step * B + b) * G, gxr = gxn + (t * B + b) * G, gs = gates + (step * B + b) * G
            let (meanR, rstdR) = moments({ rr[$0] }, G)
            for j in 0..<H {
                func preactivation(_ q: Int) -> S {
                    let k = q * H + j
                    var v = gxr[k] + (hhW[k] * ((rr[k] - meanR) * rstdR) + hhB[k])
                    if let bi = bih, let bh = bhh { v += bi[k] + bh[k] }
                    return v
                }
                var (a0, a1, a2, a3) = (preactivation(0), preactivation(1), preactivation(2), preactivation(3))
                let cp = cs[prev + j]
                if let p = peep { a0 += p[j] * cp; a1 += p[H + j] * cp }
                let i = lstmkitSigmoid(a0), f = lstmkitSigmoid(a1), g = lstmkitTanh(a2)
                var c = f * cp + i * g
                if cellClip > 0 { c = Swift.min(Swift.max(c, -cellClip), cellClip) }
                if let p = peep { a3 += p[2 * H + j] * c }
                gs[j] = i; gs[H + j] = f; gs[2 * H + j] = g; gs[3 * H + j] = lstmkitSigmoid(a3)
                cs[next + j] = c
            }
            let (meanC, rstdC) = moments({ cs[next + $0] }, H)
            for j in 0..<H {
                let cn = cW[j] * ((cs[next + j] - meanC) * rstdC) + cB[j]
                let h = gs[3 * H + j] * lstmkitTanh(cn)
                hs[next + j] = h
                y?[(t * B + b) * ldy + j] = h
                if let m = rmask { hm![next + j] = h * m[b * H + j] }
            }
            st[0] = meanR; st[1] = rstdR; st[2] = meanC; st[3] = rstdC
        }
    }

    /// `lstm_ln_cell_backward`. dh, dc [B, H]; dgs, dAs [T, B, 4H] by step; dAt [T, B, 4H] by time (reverse only);
    /// dcn [T, B, H] by step; the rest as `lstm_ln_cell_forward`.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_ln_cell_backward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ hhW: UnsafePointer<S>, _ cW: UnsafePointer<S>, _ cB: UnsafePointer<S>, _ peep: UnsafePointer<S>?,
        _ gates: UnsafePointer<S>, _ cs: UnsafePointer<S>, _ r: UnsafePointer<S>, _ stats: UnsafePointer<S>,
        _ dy: UnsafePointer<S>, _ lddy: Int, _ dh: UnsafeMutablePointer<S>, _ dc: UnsafeMutablePointer<S>,
        _ dgs: UnsafeMutablePointer<S>, _ dAs: UnsafeMutablePointer<S>, _ dAt: UnsafeMutablePointer<S>, _ dcn: UnsafeMutablePointer<S>,
        _ cellClip: S, _ rmask: UnsafePointer<S>?
    ) {
        let G = 4 * H
        for b in 0..<B {
            let len = Int(lengths[b])
            let rowS = step * B + b
            if step >= len {
                (dgs + rowS * G).update(repeating: 0, count: G)
                (dAs + rowS * G).update(repeating: 0, count: G)
                if reverse { (dAt + rowS * G).update(repeating: 0, count: G) }
                (dcn + rowS * H).update(repeating: 0, count: H)
                continue
            }
            let t = reverse ? len - 1 - step : step
            let st = stats + rowS * 4
            let (meanR, rstdR, meanC, rstdC) = (st[0], st[1], st[2], st[3])
            let ga = gates + rowS * G, cPrev = cs + rowS * H, cRow = cs + (rowS + B) * H, rr = r + rowS * G
            let dyr = dy + (t * B + b) * lddy, dhr = dh + b * H, dcr = dc + b * H
            let das = dAs + rowS * G, dat = dAt + (t * B + b) * G
            let mask = step + 1 < len ? rmask.map { $0 + b * H } : nil
            // Through h = o * tanh(cn): da_o and dL/dcn, then the two row means LN_c's backward needs.
            var s1: S = 0, s2: S = 0
            for j in 0..<H {
                let ch = (cRow[j] - meanC) * rstdC
                let tl = lstmkitTanh(cW[j] * ch + cB[j])
                let o = ga[3 * H + j]
                var dhv = dhr[j]
                if let m = mask { dhv *= m[j] }
                let dht = dhv + dyr[j]
                let d = dht * o * (1 - tl * tl)
                dcn[rowS * H + j] = d
                das[3 * H + j] = dht * tl * o * (1 - o)
                s1 += d * cW[j]
                s2 += d * cW[j] * ch
            }
            let m1 = s1 / S(H), m2 = s2 / S(H)
            for j in 0..<H {
                let ch = (cRow[j] - meanC) * rstdC
                let dch = dcn[rowS * H + j] * cW[j]
                let i = ga[j], f = ga[H + j], g = ga[2 * H + j], dO = das[3 * H + j]
                var dct = dcr[j] + rstdC * (dch - m1 - ch * m2)
                if let p = peep { dct += dO * p[2 * H + j] }
                if cellClip > 0 && Swift.abs(cRow[j]) >= cellClip { dct = 0 }
                let di = dct * g * i * (1 - i)
                let df = dct * cPrev[j] * f * (1 - f)
                let dg = dct * i * (1 - g * g)
                das[j] = di; das[H + j] = df; das[2 * H + j] = dg
                if reverse { dat[j] = di; dat[H + j] = df; dat[2 * H + j] = dg; dat[3 * H + j] = dO }
                var dcp = dct * f
                if let p = peep { dcp += di * p[j] + df * p[H + j] }
                dcr[j] = dcp
                dhr[j] = 0
            }
            // LN_hh backward over the 4H columns of the recurrent product.
            var n1: S = 0, n2: S = 0
            for k in 0..<G { let drh = das[k] * hhW[k]; n1 += drh; n2 += drh * ((rr[k] - meanR) * rstdR) }
            n1 /= S(G); n2 /= S(G)
            for k in 0..<G { dgs[rowS * G + k] = rstdR * (das[k] * hhW[k] - n1 - ((rr[k] - meanR) * rstdR) * n2) }
        }
    }
}

extension CPUBackend: LSTMVariantBackend {}
