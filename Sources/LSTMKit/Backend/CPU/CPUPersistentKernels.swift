/// CPU twin of Kernels/lstm_persistent.cl: same name, same argument order (offsets folded into the pointers),
/// plain loops. It exists for parity tests and as the reference; the CPU path itself keeps the per-step loop
/// (cblas for h . W_hh^T is faster than these loops), so `usePersistentForward` is false here.
enum CPUPersistentKernels {
    /// Kernels/lstm_persistent.cl `lstm_sequence_forward`: every step of one layer and direction.
    // B = batch, T = time, H = hidden
    // gx: [T, B, 4H] by time; whh: [4H, H]; bias_ih, bias_hh: [4H] or nil; hs, cs: [T+1, B, H] by step (hs[0], cs[0]
    // = h0, c0); gates: [T, B, 4H] by step; y: [T, B, ldy] by time. r = h_{s-1} . W_hh^T is one fused
    // multiply-add chain per row over k = 0 ..< H, as the kernel's; the cell is lstm_cell_forward's.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_sequence_forward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gx: UnsafePointer<S>, _ whh: UnsafePointer<S>, _ bias_ih: UnsafePointer<S>?, _ bias_hh: UnsafePointer<S>?,
        _ hs: UnsafeMutablePointer<S>, _ cs: UnsafeMutablePointer<S>, _ gates: UnsafeMutablePointer<S>,
        _ y: UnsafeMutablePointer<S>, _ ldy: Int, _ cellClip: S
    ) {
        let G = 4 * H
        var r = [S](repeating: 0, count: G)  // h_{s-1} . W_hh^T of one row
        for b in 0..<B {
            let len = Int(lengths[b])
            for s in 0..<min(len, T) {
                let t = reverse ? len - 1 - s : s
                let prev = (s * B + b) * H, next = prev + B * H
                for row in 0..<G {
                    var acc: S = 0
                    for k in 0..<H { acc.addProduct(whh[row * H + k], hs[prev + k]) }
                    r[row] = acc
                }
                let gxr = gx + (t * B + b) * G, gs = gates + (s * B + b) * G, yr = y + (t * B + b) * ldy
                for j in 0..<H {
                    var a = (gxr[j] + r[j], gxr[H + j] + r[H + j], gxr[2 * H + j] + r[2 * H + j], gxr[3 * H + j] + r[3 * H + j])
                    if let bi = bias_ih, let bh = bias_hh {
                        a.0 += bi[j] + bh[j]; a.1 += bi[H + j] + bh[H + j]
                        a.2 += bi[2 * H + j] + bh[2 * H + j]; a.3 += bi[3 * H + j] + bh[3 * H + j]
                    }
                    let i = lstmkitSigmoid(a.0), f = lstmkitSigmoid(a.1), g = lstmkitTanh(a.2), o = lstmkitSigmoid(a.3)
                    var c = f * cs[prev + j] + i * g
                    if cellClip > 0 { c = Swift.min(Swift.max(c, -cellClip), cellClip) }
                    let h = o * lstmkitTanh(c)
                    cs[next + j] = c
                    hs[next + j] = h
                    gs[j] = i; gs[H + j] = f; gs[2 * H + j] = g; gs[3 * H + j] = o
                    yr[j] = h
                }
            }
            // Past the length: the state is carried, the output (rows len ..< T by time) is 0.
            let last = (min(len, T) * B + b) * H
            for s in min(len, T)..<T {
                let next = ((s + 1) * B + b) * H
                for j in 0..<H {
                    hs[next + j] = hs[last + j]
                    cs[next + j] = cs[last + j]
                    y[(s * B + b) * ldy + j] = 0
                }
            }
        }
    }
}

extension CPUBackend: PersistentLSTMBackend {
    /// Never: on the CPU the per-step loop (cblas sgemm/dgemm + the vectorized cell) is the fast one.
    func usePersistentForward(batch: Int, hidden: Int) -> Bool { false }
}
