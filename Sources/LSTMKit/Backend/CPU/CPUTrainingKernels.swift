import Foundation

/// CPU twins of Kernels/training.cl: same names, same argument order, plain loops. Each is specialized for
/// Float and Double: reached through the backend protocol, a generic body would run unspecialized (~50x slower).
/// Pointers are already advanced by their offsets. Comments give the shapes.
enum CPUTrainingKernels {
    /// y[rows, cols] += bias[cols]
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func add_row_bias<S: CPUScalar>(_ rows: Int, _ cols: Int, _ bias: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>) {
        for r in 0..<rows { for c in 0..<cols { y[r * cols + c] += bias[c] } }
    }
    /// y[n] = act(x[n])
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func activation_forward<S: CPUScalar>(_ kind: Int, _ n: Int, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>) {
        for i in 0..<n { y[i] = lstmkitActivation(kind, x[i]) }
    }
    /// dx[n] = dy[n] * act'(from y[n])
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func activation_backward<S: CPUScalar>(_ kind: Int, _ n: Int, _ y: UnsafePointer<S>, _ dy: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>) {
        for i in 0..<n { dx[i] = dy[i] * lstmkitActivationGrad(kind, y[i]) }
    }
    /// y[rows, cols] = softmax over each row of x
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func softmax_rows<S: CPUScalar>(_ rows: Int, _ cols: Int, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>) {
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            var m = xr[0]
            for c in 1..<max(cols, 1) { m = Swift.max(m, xr[c]) }
            var s: S = 0
            for c in 0..<cols { yr[c] = S.exp(xr[c] - m); s += yr[c] }
            for c in 0..<cols { yr[c] /= s }
        }
    }
    /// dx = y * (dy - sum(dy * y)) per row
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func softmax_backward_rows<S: CPUScalar>(_ rows: Int, _ cols: Int, _ y: UnsafePointer<S>, _ dy: UnsafePointer<S>, _ dx: UnsafeMutablePointer<S>) {
        for r in 0..<rows {
            let yr = y + r * cols, dyr = dy + r * cols
            var s: S = 0
            for c in 0..<cols { s += dyr[c] * yr[c] }
            for c in 0..<cols { dx[r * cols + c] = yr[c] * (dyr[c] - s) }
        }
    }

    /// Per-row loss and its gradient (see Kernels/training.cl `loss_rows` for the kinds).
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func loss_rows<S: CPUScalar>(_ kind: Int, _ rows: Int, _ cols: Int, _ pred: UnsafePointer<S>, _ target: UnsafePointer<S>,
                                        _ scale: S, _ rowLoss: UnsafeMutablePointer<S>, _ grad: UnsafeMutablePointer<S>) {
        // Rows are independent (one loss value each): split over the cores when there are many.
        let box = UncheckedSendable((pred, target, rowLoss, grad))
        CPUKernels.forRows(rows, work: rows * cols) { range in
            let (pred, target, rowLoss, grad) = box.value
            loss_rows(kind, range, cols, pred, target, scale, rowLoss, grad)
        }
    }

    @inline(__always) private static func loss_rows<S: CPUScalar>(_ kind: Int, _ rowRange: Range<Int>, _ cols: Int, _ pred: UnsafePointer<S>,
                                                                   _ target: UnsafePointer<S>, _ scale: S,
                                                                   _ rowLoss: UnsafeMutablePointer<S>, _ grad: UnsafeMutablePointer<S>) {
        let eps = S(1e-7)
        for r in rowRange {
            let p = pred + r * cols, g = grad + r * cols
            var loss: S = 0
            if kind <= 2 {
                let t = target + r * cols
                for c in 0..<cols {
                    let x = p[c], y = t[c]
                    if kind == 0 {
                        let d = x - y
                        loss += d * d
                        g[c] = scale * 2 * d
                    } else if kind == 1 {
                        let q = Swift.min(Swift.max(x, eps), 1 - eps)
                        loss -= y * S(Foundation.log(Double(q))) + (1 - y) * S(Foundation.log(Double(1 - q)))
                        g[c] = scale * (q - y) / (q * (1 - q))
                    } else {
                        loss += Swift.max(x, 0) - x * y + S(Foundation.log1p(Double(S.exp(-Swift.abs(x)))))
                        g[c] = scale * (1 / (1 + S.exp(-x)) - y)
                    }
                }
            } else {
                let sparse = kind >= 5, logits = kind == 4 || kind == 6
                let label = sparse ? Int(target[r]) : -1
                let t = target + r * cols
                func y(_ c: Int) -> S { sparse ? (c == label ? 1 : 0) : t[c] }
                if logits {
                    var m = p[0]
                    for c in 1..<max(cols, 1) { m = Swift.max(m, p[c]) }
                    var s: S = 0
                    for c in 0..<cols { s += S.exp(p[c] - m) }
                    let lse = m + S(Foundation.log(Double(s)))
                    var tsum: S = 0
                    for c in 0..<cols { loss += y(c) * (lse - p[c]); tsum += y(c) }
                    for c in 0..<cols { g[c] = scale * (S.exp(p[c] - lse) * tsum - y(c)) }
                } else {
                    for c in 0..<cols {
                        let q = Swift.min(Swift.max(p[c], eps), 1)
                        loss -= y(c) * S(Foundation.log(Double(q)))
                        g[c] = scale * (-y(c) / q)
                    }
                }
            }
            rowLoss[r] = loss
        }
    }

    /// Per-row metric values (see Kernels/training.cl `metric_rows`).
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func metric_rows<S: CPUScalar>(_ kind: Int, _ rows: Int, _ cols: Int, _ pred: UnsafePointer<S>, _ target: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>) {
        for r in 0..<rows {
            let p = pred + r * cols, t = target + r * cols
            var v: S = 0
            if kind <= 1 {
                var best = 0
                for c in 1..<max(cols, 1) where p[c] > p[best] { best = c }
                var want = 0
                if kind == 1 { want = Int(target[r]) } else { for c in 1..<max(cols, 1) where t[c] > t[want] { want = c } }
                v = best == want ? 1 : 0
            } else if kind == 2 {
                for c in 0..<cols where (p[c] > 0.5) == (t[c] > 0.5) { v += 1 }
            } else if kind == 4 {
                for c in 0..<cols { v += (p[c] - t[c]) * (p[c] - t[c]) }
            } else {
                for c in 0..<cols { v += Swift.abs(p[c] - t[c]) }
            }
            out[r] = v
        }
    }

    /// out[n, dim] = table[ids[n], :]
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func embedding_forward<S: CPUScalar>(_ n: Int, _ dim: Int, _ ids: UnsafePointer<S>, _ table: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>) {
        for i in 0..<n { (out + i * dim).update(from: table + Int(ids[i]) * dim, count: dim) }
    }
    /// dtable[ids[n], :] += dout[n, :]
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func embedding_backward<S: CPUScalar>(_ n: Int, _ dim: Int, _ ids: UnsafePointer<S>, _ dout: UnsafePointer<S>, _ dtable: UnsafeMutablePointer<S>) {
        for i in 0..<n {
            let row = dtable + Int(ids[i]) * dim
            for f in 0..<dim { row[f] += dout[i * dim + f] }
        }
    }
    /// dst[i, :] = src[indices[i], :]
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func gather_rows<S: CPUScalar>(_ count: Int, _ rowSize: Int, _ indices: UnsafePointer<Int32>, _ src: UnsafePointer<S>, _ dst: UnsafeMutablePointer<S>) {
        for i in 0..<count { (dst + i * rowSize).update(from: src + Int(indices[i]) * rowSize, count: rowSize) }
    }
    /// y = a*x + b*y
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func axpby<S: CPUScalar>(_ n: Int, _ a: S, _ x: UnsafePointer<S>, _ b: S, _ y: UnsafeMutablePointer<S>) {
        for i in 0..<n { y[i] = b == 0 ? a * x[i] : a * x[i] + b * y[i] }
    }
    /// out = x * y
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func mul<S: CPUScalar>(_ n: Int, _ x: UnsafePointer<S>, _ y: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>) {
        for i in 0..<n { out[i] = x[i] * y[i] }
    }
    /// y [rows, 2H] -> out [rows, H]: mode 1 sum, 2 mul, 3 average
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func merge_directions<S: CPUScalar>(_ mode: Int, _ rows: Int, _ H: Int, _ y: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>) {
        for r in 0..<rows {
            for j in 0..<H {
                let a = y[r * 2 * H + j], b = y[r * 2 * H + H + j]
                out[r * H + j] = mode == 2 ? a * b : (mode == 3 ? (a + b) / 2 : a + b)
            }
        }
    }
    /// The gradient of merge_directions w.r.t. y [rows, 2H].
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func merge_directions_backward<S: CPUScalar>(_ mode: Int, _ rows: Int, _ H: Int, _ y: UnsafePointer<S>, _ dout: UnsafePointer<S>, _ dy: UnsafeMutablePointer<S>) {
        for r in 0..<rows {
            for j in 0..<H {
                let d = dout[r * H + j], ia = r * 2 * H + j, ib = ia + H
                if mode == 2 { dy[ia] = d * y[ib]; dy[ib] = d * y[ia] } else {
                    let s = mode == 3 ? d / 2 : d
                    dy[ia] = s; dy[ib] = s
                }
            }
        }
    }
    /// out[index] = sum x^2
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func sum_squares<S: CPUScalar>(_ n: Int, _ x: UnsafePointer<S>, _ out: UnsafeMutablePointer<S>, _ index: Int) {
        var s: S = 0
        for i in 0..<n { s += x[i] * x[i] }
        out[index] = s
    }

    /// clipped_grad's clip-by-norm factor: maxNorm / (||g|| + 1e-6) when that is below 1, else 1 (norms: the
    /// per-buffer sums of squares, numNorms of them). The kernel computes it per element; the twin once per call.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func norm_clip_scale<S: CPUScalar>(_ norms: UnsafePointer<S>?, _ numNorms: Int, _ maxNorm: S) -> S {
        guard maxNorm > 0, let norms else { return 1 }
        var total: S = 0
        for k in 0..<numNorms { total += norms[k] }
        let coef = maxNorm / (total.squareRoot() + S(1e-6))
        return coef < 1 ? coef : 1
    }

    /// Kernels/training.cl `clipped_grad`: clamp to +-clipValue (when > 0), then scale by `norm_clip_scale`
    /// (multiplying by 1 when the norm needs no clipping is exact, so this matches the kernel's `if`).
    @inline(__always) static func clipped_grad<S: CPUScalar>(_ g: S, _ clipValue: S, _ normScale: S) -> S {
        var g = g
        if clipValue > 0 { g = Swift.min(Swift.max(g, -clipValue), clipValue) }
        return g * normScale
    }

    /// Runs an elementwise update over [0, n): in chunks on all cores when n is large (each element is
    /// independent, so the split does not change a bit of the result).
    @inline(__always) static func forElements(_ n: Int, _ body: (Int, Int) -> Void) {
        let chunks = n >= 32_768 ? min(CPUKernels.cores * CPUKernels.chunksPerThread, n / 16) : 1
        if chunks <= 1 { return body(0, n) }
        CPUKernels.parallel(chunks) { c in
            let lo = n * c / chunks / 16 * 16, hi = c == chunks - 1 ? n : n * (c + 1) / chunks / 16 * 16
            body(lo, hi)
        }
    }

    /// PyTorch SGD (dampening 0) with momentum / Nesterov and L2 weight decay.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func sgd_update<S: CPUScalar>(_ n: Int, _ p: UnsafeMutablePointer<S>, _ grad: UnsafePointer<S>, _ velocity: UnsafeMutablePointer<S>,
                                         _ lr: S, _ momentum: S, _ nesterov: Bool, _ weightDecay: S,
                                         _ clipValue: S, _ norms: UnsafePointer<S>?, _ numNorms: Int, _ maxNorm: S) {
        let normScale = norm_clip_scale(norms, numNorms, maxNorm)
        let box = UncheckedSendable((p, grad, velocity))
        forElements(n) { lo, hi in
            let (p, grad, velocity) = box.value
            for i in lo..<hi {
                var g = clipped_grad(grad[i], clipValue, normScale) + weightDecay * p[i]
                if momentum != 0 {
                    let v = momentum * velocity[i] + g
                    velocity[i] = v
                    g = nesterov ? g + momentum * v : v
                }
                p[i] -= lr * g
            }
        }
    }

    /// PyTorch Adam (or AdamW when decoupled). One pass over the four buffers, split over the cores; with the
    /// norm-clip factor out of the loop the compiler vectorizes it (preset D's 2.1M parameters: 7.8 ms before,
    /// one thread and the factor per element; 3.4 ms after, docs/decisions/0009-no-input-gradient-parallel-optimizer.md).
    /// decayFactor = 1 - lr*wd (AdamW), oneMinusBeta1 and oneMinusBeta2 are computed in Float64 by the caller and
    /// rounded once, as PyTorch rounds its Python-scalar coefficients (in Float32, 1 - 0.999 is 0.001, not 0.00099998713).
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func adam_update<S: CPUScalar>(_ n: Int, _ p: UnsafeMutablePointer<S>, _ grad: UnsafePointer<S>, _ m: UnsafeMutablePointer<S>, _ v: UnsafeMutablePointer<S>,
                                          _ decayFactor: S, _ oneMinusBeta1: S, _ beta2: S, _ oneMinusBeta2: S,
                                          _ eps: S, _ weightDecay: S, _ decoupled: Bool,
                                          _ stepSize: S, _ biasCorrection2Sqrt: S,
                                          _ clipValue: S, _ norms: UnsafePointer<S>?, _ numNorms: Int, _ maxNorm: S) {
        let normScale = norm_clip_scale(norms, numNorms, maxNorm)
        let box = UncheckedSendable((p, grad, m, v))
        forElements(n) { lo, hi in
            let (p, grad, m, v) = box.value
            var lo = lo
            if S.self == Float.self {
                lo = adam_update_f32(lo, hi, CPUKernels.cast(p), CPUKernels.cast(grad), CPUKernels.cast(m), CPUKernels.cast(v), Float(decayFactor), Float(oneMinusBeta1), Float(beta2),
                                     Float(oneMinusBeta2), Float(eps),
                                     Float(weightDecay), decoupled, Float(stepSize), Float(biasCorrection2Sqrt), Float(clipValue),
                                     Float(normScale))
            }
            for i in lo..<hi {
                var g = clipped_grad(grad[i], clipValue, normScale)
                var w = p[i]
                if decoupled { w *= decayFactor } else { g += weightDecay * w }
                let mi = m[i] + oneMinusBeta1 * (g - m[i])
                let vi = v[i] * beta2 + oneMinusBeta2 * g * g
                m[i] = mi
                v[i] = vi
                let denom = vi.squareRoot() / biasCorrection2Sqrt + eps
                p[i] = w + (-stepSize * mi) / denom
            }
        }
    }

    /// `adam_update` on 8 lanes for elements [lo, hi - (hi - lo) % 8); returns where the scalar loop takes over.
    /// The same operations in the same order as the scalar body (IEEE sqrt and division are exact per lane), so
    /// the results are the same bits; the scalar loop compiles to sqrtss / divss one element at a time.
    private static func adam_update_f32(_ lo: Int, _ hi: Int, _ p: UnsafeMutablePointer<Float>, _ grad: UnsafePointer<Float>,
                                        _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                                        _ decayFactor: Float, _ oneMinusBeta1: Float, _ beta2: Float, _ oneMinusBeta2: Float,
                                        _ eps: Float, _ weightDecay: Float, _ decoupled: Bool,
                                        _ stepSize: Float, _ biasCorrection2Sqrt: Float, _ clipValue: Float, _ normScale: Float) -> Int {
        typealias V = SIMD8<Float>
        func load(_ q: UnsafePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(q + i).loadUnaligned(as: V.self) }
        func load(_ q: UnsafeMutablePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(q + i).loadUnaligned(as: V.self) }
        func store(_ x: V, _ q: UnsafeMutablePointer<Float>, _ i: Int) { UnsafeMutableRawPointer(q + i).storeBytes(of: x, as: V.self) }
        var i = lo
        while i + 8 <= hi {
            var g = load(grad, i)
            if clipValue > 0 {  // min(max(g, -c), c) with NaN kept, as the scalar form
                g.replace(with: V(repeating: -clipValue), where: g .< -clipValue)
                g.replace(with: V(repeating: clipValue), where: g .> clipValue)
            }
            g = g * normScale
            var w = load(p, i)
            if decoupled { w *= decayFactor } else { g += weightDecay * w }
            let m0 = load(m, i)
            let mi = m0 + oneMinusBeta1 * (g - m0)
            let vi = load(v, i) * beta2 + oneMinusBeta2 * g * g
            store(mi, m, i)
            store(vi, v, i)
            let denom = vi.squareRoot() / biasCorrection2Sqrt + eps
            store(w + (-stepSize * mi) / denom, p, i)
            i += 8
        }
        return i
    }

    /// PyTorch RMSprop (no momentum, not centered); oneMinusAlpha computed in Float64 by the caller and rounded once.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func rmsprop_update<S: CPUScalar>(_ n: Int, _ p: UnsafeMutablePointer<S>, _ grad: UnsafePointer<S>, _ squareAvg: UnsafeMutablePointer<S>,
                                             _ lr: S, _ alpha: S, _ oneMinusAlpha: S, _ eps: S, _ weightDecay: S,
                                             _ clipValue: S, _ norms: UnsafePointer<S>?, _ numNorms: Int, _ maxNorm: S) {
        let normScale = norm_clip_scale(norms, numNorms, maxNorm)
        let box = UncheckedSendable((p, grad, squareAvg))
        forElements(n) { lo, hi in
            let (p, grad, squareAvg) = box.value
            for i in lo..<hi {
                let g = clipped_grad(grad[i], clipValue, normScale) + weightDecay * p[i]
                let s = alpha * squareAvg[i] + oneMinusAlpha * g * g
                squareAvg[i] = s
                p[i] -= lr * g / (s.squareRoot() + eps)
            }
        }
    }
}
extension CPUBackend: TrainingBackend {}
