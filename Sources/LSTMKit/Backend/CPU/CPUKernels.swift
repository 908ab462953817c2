import CSmallGemm
import CLSTMCell
import Dispatch
import Foundation

/// CPU twins of the OpenCL kernels in Kernels/: same names, same argument order, plain loops.
/// Pointers are already advanced by their offsets. B = batch, T = time steps, H = hidden size.
///
/// Float32 runs the cell kernels in C (Sources/CLSTMCell: 16 lanes, the same exp-based sigmoid/tanh forms) and
/// splits the batch rows over the cores when a step is big enough; Float64 (gradient checks) and other activations
/// than tanh/sigmoid (`act`, `ract`: kinds of common.cl's lstmkit_act) run the plain loops.
enum CPUKernels {
    /// Below this many elements (B * H) per step a cell kernel runs on one thread: waking the other cores
    /// costs more than it saves. LSTMKIT_CPU_PARALLEL_MIN overrides it (lstm-bench tunes it).
    static let parallelMinimum = Settings.int("LSTMKIT_CPU_PARALLEL_MIN", default: 4_096)
    static var cores: Int { CPUWorkerPool.shared.threads }
    /// Chunks per thread of a split kernel (cell rows, the packed gemm's rows or panels, elementwise updates): more
    /// than one lets a faster core take a slower one's last chunks (`CPUWorkerPool`). LSTMKIT_CPU_CHUNKS overrides.
    static let chunksPerThread = Settings.int("LSTMKIT_CPU_CHUNKS", default: 4, in: 1...Int.max)
    /// Below this many multiply-adds (M*N*K) a gemm runs on one thread (LSTMKIT_CPU_GEMM_SPLIT_MIN overrides).
    static let gemmSplitMinimum = Settings.int("LSTMKIT_CPU_GEMM_SPLIT_MIN", default: 1_000_000)
    /// Rows of the packed gemm's register tile in the build that runs (8 AVX-512F, 6 AVX2): row splits over
    /// threads cut at multiples of it, so no thread gets a short tile it could have avoided.
    static var packedTileRows: Int { lstmkit_small_gemm_isa() == 2 ? 8 : 6 }
    /// Big float32 products run CSmallGemm's packed kernel (CPUBackend.gemmPackingB), not cblas.
    static let largePackedGemm = Settings.flag("LSTMKIT_CPU_PACKED_GEMM", default: true)

    /// Runs `body` over [0, rows) in contiguous chunks (`chunksPerThread` per core), on all cores when `work` is at
    /// least `parallelMinimum`.
    @inline(__always) static func forRows(_ rows: Int, work: Int, _ body: (Range<Int>) -> Void) {
        let chunks = work >= parallelMinimum ? min(cores * chunksPerThread, rows) : 1
        if chunks <= 1 { return body(0..<rows) }
        parallel(chunks) { c in body((rows * c / chunks)..<(rows * (c + 1) / chunks)) }
    }

    /// body(0..<n) on the CPU worker pool; the caller keeps the chunks disjoint.
    static func parallel(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 { return body(0) }
        CPUWorkerPool.shared.run(n, body)
    }

    /// A forward step's padding row (step >= the sequence's length; as the cell kernels): h and c (and hm, when
    /// not nil) carried from the previous step, the output row zero. hs, cs, hm: [T+1, B, H]; y: [T, B, ldy] or nil.
    @inline(__always) static func carry_padding_row<S: CPUScalar>(
        _ B: Int, _ H: Int, _ step: Int, _ b: Int, _ hs: UnsafeMutablePointer<S>, _ cs: UnsafeMutablePointer<S>,
        _ hm: UnsafeMutablePointer<S>?, _ y: UnsafeMutablePointer<S>?, _ ldy: Int
    ) {
        let prev = (step * B + b) * H, next = prev + B * H
        for j in 0..<H {
            hs[next + j] = hs[prev + j]
            cs[next + j] = cs[prev + j]
            hm?[next + j] = hm![prev + j]
            y?[(step * B + b) * ldy + j] = 0
        }
    }

    /// Kernels/lstm_cell.cl `lstm_cell_forward`. gx: [T, B, 4H] by time; r: [B, 4H]; hs, cs: [T+1, B, H] by
    /// step; gates: [T, B, 4H] by step; y: [T, B, ldy] by time (nil: not written, projection). Bias pointers are
    /// nil when the layer has none; peep: [3H] (p_i, p_f, p_o) or nil; rmask: [B, H] recurrent-dropout mask or
    /// nil, and then hm: [T+1, B, H] receives h * mask.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_cell_forward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gx: UnsafePointer<S>, _ r: UnsafePointer<S>, _ bias_ih: UnsafePointer<S>?, _ bias_hh: UnsafePointer<S>?,
        _ hs: UnsafeMutablePointer<S>, _ cs: UnsafeMutablePointer<S>, _ gates: UnsafeMutablePointer<S>,
        _ y: UnsafeMutablePointer<S>?, _ ldy: Int, _ cellClip: S,
        _ peep: UnsafePointer<S>?, _ rmask: UnsafePointer<S>?, _ hm: UnsafeMutablePointer<S>?, _ act: Int = 2, _ ract: Int = 3
    ) {
        if S.self == Float.self, act == 2, ract == 3 {  // the C cell is tanh/sigmoid only
            return lstm_cell_forward_f32(B, H, T, step, reverse, lengths, cast(gx), cast(r), bias_ih.map(cast), bias_hh.map(cast),
                                         cast(hs), cast(cs), cast(gates), y.map(cast), ldy, Float(cellClip),
                                         peep.map(cast), rmask.map(cast), hm.map(cast))
        }
        for b in 0..<B {
            let len = Int(lengths[b])
            let prev = (step * B + b) * H, next = prev + B * H
            if step >= len {
                carry_padding_row(B, H, step, b, hs, cs, rmask != nil ? hm : nil, y, ldy)
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
                let cp = cs[prev + j]
                if let p = peep { a.0 += p[j] * cp; a.1 += p[H + j] * cp }
                let i = lstmkitActivation(ract, a.0), f = lstmkitActivation(ract, a.1), g = lstmkitActivation(act, a.2)
                var c = f * cp + i * g
                if cellClip > 0 { c = Swift.min(Swift.max(c, -cellClip), cellClip) }
                if let p = peep { a.3 += p[2 * H + j] * c }
                let o = lstmkitActivation(ract, a.3)
                let h = o * lstmkitActivation(act, c)
                cs[next + j] = c
                hs[next + j] = h
                gs[j] = i; gs[H + j] = f; gs[2 * H + j] = g; gs[3 * H + j] = o
                y?[(t * B + b) * ldy + j] = h
                if let m = rmask { hm![next + j] = h * m[b * H + j] }
            }
        }
    }

    /// Kernels/lstm_cell.cl `lstm_cell_backward`. dh, dc: [B, H], read as the gradient w.r.t. step+1's state
    /// and left as the gradient w.r.t. step's state (dh without the recurrent gemm term, which follows).
    /// peep and rmask as in `lstm_cell_forward`; the carried dh is multiplied by the mask where step+1 < len.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_cell_backward<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gates: UnsafePointer<S>, _ cs: UnsafePointer<S>, _ dy: UnsafePointer<S>, _ lddy: Int,
        _ dh: UnsafeMutablePointer<S>, _ dc: UnsafeMutablePointer<S>,
        _ dgs: UnsafeMutablePointer<S>, _ dgt: UnsafeMutablePointer<S>, _ cellClip: S,
        _ peep: UnsafePointer<S>?, _ rmask: UnsafePointer<S>?, _ act: Int = 2, _ ract: Int = 3
    ) {
        if S.self == Float.self, act == 2, ract == 3 {  // the C cell is tanh/sigmoid only
            return lstm_cell_backward_f32(B, H, T, step, reverse, lengths, cast(gates), cast(cs), cast(dy), lddy,
                                          cast(dh), cast(dc), cast(dgs), cast(dgt), Float(cellClip), peep.map(cast), rmask.map(cast))
        }
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
                let c = cs[(step + 1) * B * H + sb]
                let tc = lstmkitActivation(act, c)
                var dhv = dh[sb]
                if let m = rmask, step + 1 < len { dhv *= m[sb] }  // the gemm's dG[step+1] . W_hh part
                let dht = dhv + dy[(t * B + b) * lddy + j]
                let dO = lstmkitActivationBack(ract, dht * tc, o)
                var dct = dc[sb] + lstmkitActivationBack(act, dht * o, tc)
                if let p = peep { dct += dO * p[2 * H + j] }
                if cellClip > 0 && Swift.abs(c) >= cellClip { dct = 0 }  // clipped: no gradient to the unclipped c
                let di = lstmkitActivationBack(ract, dct * g, i)
                let df = lstmkitActivationBack(ract, dct * cPrev, f)
                let dg = lstmkitActivationBack(act, dct * i, g)
                gs[j] = di; gs[H + j] = df; gs[2 * H + j] = dg; gs[3 * H + j] = dO
                if reverse { gt[j] = di; gt[H + j] = df; gt[2 * H + j] = dg; gt[3 * H + j] = dO }
                dh[sb] = 0
                var dcp = dct * f
                if let p = peep { dcp += di * p[j] + df * p[H + j] }
                dc[sb] = dcp
            }
        }
    }

    /// Kernels/elementwise.cl `fill`.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func fill<S: CPUScalar>(_ n: Int, _ value: S, _ x: UnsafeMutablePointer<S>) {
        x.update(repeating: value, count: n)
    }

    /// Kernels/elementwise.cl `transpose01`: src [D0, D1, F] -> dst [D1, D0, F].
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func transpose01<S: CPUScalar>(_ D0: Int, _ D1: Int, _ F: Int, _ src: UnsafePointer<S>, _ dst: UnsafeMutablePointer<S>) {
        for d0 in 0..<D0 {
            for d1 in 0..<D1 {
                (dst + (d1 * D0 + d0) * F).update(from: src + (d0 * D1 + d1) * F, count: F)
            }
        }
    }

    /// Kernels/elementwise.cl `column_sum`: out[n] = beta * out[n] + sum_m x[m*ld + n], x: [M, N].
    /// Rows are added in order (as the kernel's per-column loop does), contiguously, so the loop vectorizes;
    /// the columns are split over the cores when the matrix is big.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func column_sum<S: CPUScalar>(_ M: Int, _ N: Int, _ x: UnsafePointer<S>, _ ld: Int, _ beta: S, _ out: UnsafeMutablePointer<S>) {
        let chunks = M * N >= 4 * parallelMinimum ? min(cores, max(N / 64, 1)) : 1
        parallel(chunks) { c in
            let n0 = N * c / chunks, n1 = N * (c + 1) / chunks
            let acc = UnsafeMutablePointer<S>.allocate(capacity: max(n1 - n0, 1))
            defer { acc.deallocate() }
            acc.update(repeating: 0, count: n1 - n0)
            for m in 0..<M {
                let row = x + m * ld + n0
                for n in 0..<(n1 - n0) { acc[n] += row[n] }
            }
            for n in n0..<n1 { out[n] = beta == 0 ? acc[n - n0] : beta * out[n] + acc[n - n0] }
        }
    }

    /// Kernels/elementwise.cl `dropout`: y[i] = x[i] * keep(seed, i) / (1 - p).
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func dropout<S: CPUScalar>(_ n: Int, _ p: Float, _ seed: UInt32, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>) {
        let threshold = UInt32(p * 16_777_216)
        let scale = 1 - S(p)
        for i in 0..<n {
            y[i] = (lstmkitHash(seed, UInt32(truncatingIfNeeded: i)) >> 8) >= threshold ? x[i] / scale : 0
        }
    }

    // MARK: Float32: CLSTMCell (C, 16 lanes; AVX-512F, AVX2 or baseline), batch rows over the cores

    /// A pointer seen as another scalar type (a CPUScalar known to be Float, for the C kernels).
    @inline(__always) static func cast<S, T>(_ p: UnsafePointer<S>) -> UnsafePointer<T> { UnsafeRawPointer(p).assumingMemoryBound(to: T.self) }
    @inline(__always) static func cast<S, T>(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<T> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: T.self)
    }

    /// `lstm_cell_forward` in Float32: the same math in Sources/CLSTMCell, the batch rows split over the cores.
    static func lstm_cell_forward_f32(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gx: UnsafePointer<Float>, _ r: UnsafePointer<Float>, _ bias_ih: UnsafePointer<Float>?, _ bias_hh: UnsafePointer<Float>?,
        _ hs: UnsafeMutablePointer<Float>, _ cs: UnsafeMutablePointer<Float>, _ gates: UnsafeMutablePointer<Float>,
        _ y: UnsafeMutablePointer<Float>?, _ ldy: Int, _ cellClip: Float,
        _ peep: UnsafePointer<Float>?, _ rmask: UnsafePointer<Float>?, _ hm: UnsafeMutablePointer<Float>?
    ) {
        let box = UncheckedSendable((lengths, gx, r, bias_ih, bias_hh, hs, cs, gates, y, peep, rmask, hm))
        forRows(B, work: B * H) { rows in
            let (lengths, gx, r, bias_ih, bias_hh, hs, cs, gates, y, peep, rmask, hm) = box.value
            lstmkit_cell_forward_f32(rows.lowerBound, rows.upperBound, B, H, step, reverse ? 1 : 0, lengths, gx, r, bias_ih, bias_hh,
                                     hs, cs, gates, y, ldy, cellClip, peep, rmask, hm)
        }
    }

    /// `lstm_cell_backward` in Float32: the same math in Sources/CLSTMCell, the batch rows split over the cores.
    static func lstm_cell_backward_f32(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gates: UnsafePointer<Float>, _ cs: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ lddy: Int,
        _ dh: UnsafeMutablePointer<Float>, _ dc: UnsafeMutablePointer<Float>,
        _ dgs: UnsafeMutablePointer<Float>, _ dgt: UnsafeMutablePointer<Float>, _ cellClip: Float,
        _ peep: UnsafePointer<Float>?, _ rmask: UnsafePointer<Float>?
    ) {
        let box = UncheckedSendable((lengths, gates, cs, dy, dh, dc, dgs, dgt, peep, rmask))
        forRows(B, work: B * H) { rows in
            let (lengths, gates, cs, dy, dh, dc, dgs, dgt, peep, rmask) = box.value
            lstmkit_cell_backward_f32(rows.lowerBound, rows.upperBound, B, H, step, reverse ? 1 : 0, lengths, gates, cs, dy, lddy,
                                      dh, dc, dgs, dgt, cellClip, peep, rmask)
        }
    }
}

/// Lets a non-escaping closure run on the worker threads of `CPUKernels.parallel` (which waits for them).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
