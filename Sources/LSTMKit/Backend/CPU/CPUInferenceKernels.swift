import CInference
import CSmallGemm

/// CPU twins of Kernels/inference.cl: same names, same argument order, plain loops (the Float64 reference).
/// Float32 runs Sources/CInference (the same math and order as Sources/CLSTMCell, so the same bits as the training
/// cell). B = batch, T = time steps, H = hidden size, gates i, f, g, o. Pointers are advanced by their offsets.
enum CPUInferenceKernels {
    /// Kernels/inference.cl `lstm_cell_infer`. gx: [T, B, 4H] by time; r: [B, 4H]; h, c: [B, H] in place;
    /// y: [T, B, ldy] by time or nil; peep: [3H] or nil.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func lstm_cell_infer<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gx: UnsafePointer<S>, _ r: UnsafePointer<S>, _ bias_ih: UnsafePointer<S>?, _ bias_hh: UnsafePointer<S>?,
        _ h: UnsafeMutablePointer<S>, _ c: UnsafeMutablePointer<S>, _ y: UnsafeMutablePointer<S>?, _ ldy: Int,
        _ cellClip: S, _ peep: UnsafePointer<S>?
    ) {
        if S.self == Float.self {
            let box = UncheckedSendable((gx, r, bias_ih, bias_hh, h, c, y, peep))
            CPUKernels.forRows(B, work: B * H) { rows in
                let (gx, r, bi, bh, h, c, y, peep) = box.value
                lstmkit_lstm_cell_infer_f32(rows.lowerBound, rows.upperBound, B, H, step, reverse ? 1 : 0, lengths,
                                            CPUKernels.cast(gx), CPUKernels.cast(r), bi.map(CPUKernels.cast), bh.map(CPUKernels.cast),
                                            f32(h), f32(c), y.map(f32), ldy, Float(cellClip), peep.map(CPUKernels.cast))
            }
            return
        }
        for b in 0..<B {
            let len = Int(lengths[b])
            if step >= len {
                if let y { for j in 0..<H { y[(step * B + b) * ldy + j] = 0 } }
                continue
            }
            let t = reverse ? len - 1 - step : step
            cellRow(H, gx + (t * B + b) * 4 * H, r + b * 4 * H, bias_ih, bias_hh, h + b * H, c + b * H, h + b * H, c + b * H,
                    y.map { $0 + (t * B + b) * ldy }, cellClip, peep)
        }
    }

    /// Kernels/inference.cl `lstm_step_infer`: `lstm_cell_infer` with the recurrent product fused in,
    /// r[b, n] = sum_k hIn[b, k] * whhT[k, n] as one fma chain over k from 0 (gemm.cl's NN order). whhT: W_hh^T [H, 4H];
    /// hIn -> hOut [B, H] (a row past its length copies its h); c [B, H] in place; the rest as `lstm_cell_infer`.
    /// Plain loops (the OpenCL path on CPU-type devices launches it; the CPU's own predict runs `lstmInferSequence`).
    static func lstm_step_infer<S: CPUScalar>(
        _ B: Int, _ H: Int, _ T: Int, _ step: Int, _ reverse: Bool, _ lengths: UnsafePointer<Int32>,
        _ gx: UnsafePointer<S>, _ whhT: UnsafePointer<S>, _ bias_ih: UnsafePointer<S>?, _ bias_hh: UnsafePointer<S>?,
        _ hIn: UnsafePointer<S>, _ hOut: UnsafeMutablePointer<S>, _ c: UnsafeMutablePointer<S>, _ y: UnsafeMutablePointer<S>?,
        _ ldy: Int, _ cellClip: S, _ peep: UnsafePointer<S>?
    ) {
        let G = 4 * H
        var r = [S](repeating: 0, count: G)
        r.withUnsafeMutableBufferPointer { rb in
            let rr = rb.baseAddress!
            for b in 0..<B {
                let len = Int(lengths[b])
                if step >= len {
                    (hOut + b * H).update(from: hIn + b * H, count: H)
                    if let y { for j in 0..<H { y[(step * B + b) * ldy + j] = 0 } }
                    continue
                }
                let t = reverse ? len - 1 - step : step
                let hr = hIn + b * H
                for n in 0..<G {
                    var s: S = 0
                    for k in 0..<H { s = s.addingProduct(hr[k], whhT[k * G + n]) }
                    rr[n] = s
                }
                cellRow(H, gx + (t * B + b) * G, rr, bias_ih, bias_hh, hr, c + b * H, hOut + b * H, c + b * H,
                        y.map { $0 + (t * B + b) * ldy }, cellClip, peep)
            }
        }
    }

    /// Kernels/inference.cl `lstm_stream_step`: a = gx[row_b] + hIn[b] . W_hh^T (+ b_ih + b_hh), then the cell.
    /// gx rows ldgx apart; ids: [B] token ids as floats (row_b = ids[b]) or nil (row_b = b); whh: [4H, H];
    /// hIn, cIn -> hOut, cOut: [B, H]. Plain loops (Float64, and Float32 without AVX2 + FMA).
    static func lstm_stream_step<S: CPUScalar>(
        _ B: Int, _ H: Int, _ gx: UnsafePointer<S>, _ ldgx: Int, _ ids: UnsafePointer<S>?, _ whh: UnsafePointer<S>,
        _ bias_ih: UnsafePointer<S>?, _ bias_hh: UnsafePointer<S>?, _ hIn: UnsafePointer<S>, _ cIn: UnsafePointer<S>,
        _ hOut: UnsafeMutablePointer<S>, _ cOut: UnsafeMutablePointer<S>, _ cellClip: S, _ peep: UnsafePointer<S>?,
        _ r: UnsafeMutablePointer<S>
    ) {
        for b in 0..<B {
            let hr = hIn + b * H, rr = r + b * 4 * H
            for n in 0..<(4 * H) {
                var s: S = 0
                for k in 0..<H { s += hr[k] * whh[n * H + k] }
                rr[n] = s
            }
        }
        for b in 0..<B {
            let row = ids.map { Int($0[b]) } ?? b
            cellRow(H, gx + row * ldgx, r + b * 4 * H, bias_ih, bias_hh, hIn + b * H, cIn + b * H, hOut + b * H, cOut + b * H,
                    nil, cellClip, peep)
        }
    }

    /// One row of the cell: a = gx + r (+ b_ih + b_hh) (+ peepholes), c and h (lstm_cell.cl's order).
    @inline(__always) static func cellRow<S: CPUScalar>(
        _ H: Int, _ gxr: UnsafePointer<S>, _ rr: UnsafePointer<S>, _ bi: UnsafePointer<S>?, _ bh: UnsafePointer<S>?,
        _ hIn: UnsafePointer<S>, _ cIn: UnsafePointer<S>, _ hOut: UnsafeMutablePointer<S>, _ cOut: UnsafeMutablePointer<S>,
        _ yr: UnsafeMutablePointer<S>?, _ clip: S, _ peep: UnsafePointer<S>?
    ) {
        _ = hIn
        for j in 0..<H {
            var a = (gxr[j] + rr[j], gxr[H + j] + rr[H + j], gxr[2 * H + j] + rr[2 * H + j], gxr[3 * H + j] + rr[3 * H + j])
            if let bi, let bh {
                a.0 += bi[j] + bh[j]; a.1 += bi[H + j] + bh[H + j]
                a.2 += bi[2 * H + j] + bh[2 * H + j]; a.3 += bi[3 * H + j] + bh[3 * H + j]
            }
            let cp = cIn[j]
            if let peep { a.0 += peep[j] * cp; a.1 += peep[H + j] * cp }
            let i = lstmkitSigmoid(a.0), f = lstmkitSigmoid(a.1), g = lstmkitTanh(a.2)
            var cv = f * cp + i * g
            if clip > 0 { cv = min(max(cv, -clip), clip) }
            if let peep { a.3 += peep[2 * H + j] * cv }
            let o = lstmkitSigmoid(a.3)
            let hv = o * lstmkitTanh(cv)
            cOut[j] = cv
            hOut[j] = hv
            yr?[j] = hv
        }
    }

    @inline(__always) static func f32<S>(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }
}

/// The inference primitives on the CPU: each forwards to its twin above (Float32: Sources/CInference).
extension CPUBackend: InferenceBackend {
    private func q(_ v: BufferView) -> UnsafeMutablePointer<S> { (v.buffer as! CPUBuffer<S>).pointer + v.offset }
    private func q(_ b: DeviceBuffer) -> UnsafeMutablePointer<S> { (b as! CPUBuffer<S>).pointer }
    private var fast: Bool { S.self == Float.self }
    /// The Float32 view of a pointer (only called when S is Float).
    private func f(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> { CPUInferenceKernels.f32(p) }

    func streamWeightCount(hidden: Int) -> Int? {
        fast && lstmkit_small_gemm_available() != 0 ? lstmkit_packed_b_count(hidden, 4 * hidden) : nil
    }

    func prepareStreamWeight(hidden: Int, whh: BufferView, into: DeviceBuffer) throws {
        precondition(streamWeightCount(hidden: hidden).map { $0 <= into.count } == true)
        lstmkit_pack_b(1, hidden, 4 * hidden, 0, 4 * hidden, CPUInferenceKernels.f32(q(whh)), hidden,
                       CPUInferenceKernels.f32(q(into)))
    }

    func lstmStreamStep(batch: Int, hidden: Int, gx: BufferView, ldgx: Int, ids: BufferView?, whh: BufferView,
                        prepared: DeviceBuffer?, biasIH: BufferView?, biasHH: BufferView?,
                        hIn: BufferView, cIn: BufferView, hOut: BufferView, cOut: BufferView,
                        scratch: DeviceBuffer, cellClip: Double, peephole: BufferView?) throws {
        let B = batch, H = hidden
        guard let prepared, fast else {
            return timed("lstm_stream_step") {
                CPUInferenceKernels.lstm_stream_step(B, H, q(gx), ldgx, ids.map(q), q(whh), biasIH.map(q), biasHH.map(q), q(hIn), q(cIn),
                                                     q(hOut), q(cOut), S(cellClip), peephole.map(q), q(scratch))
            }
        }
        timed("lstm_stream_step") {
            if q(hIn) != q(hOut) { q(hOut).update(from: q(hIn), count: B * H) }
            if q(cIn) != q(cOut) { q(cOut).update(from: q(cIn), count: B * H) }
            let box = UncheckedSendable((f(q(gx)), ids.map { f(q($0)) }, f(q(BufferView(prepared))), biasIH.map { f(q($0)) },
                                         biasHH.map { f(q($0)) }, f(q(hOut)), f(q(cOut)), f(q(BufferView(scratch))), peephole.map { f(q($0)) }))
            // One thread below ~1M multiply-adds (batch 1 and small batches: waking a core costs more than it saves);
            // else whole 6-row tiles of the packed product per part.
            let parts = B * 4 * H * H >= CPUKernels.gemmSplitMinimum ? min(CPUWorkerPool.shared.threads, (B + 5) / 6) : 1
            CPUKernels.parallel(parts) { part in
                let (gx, ids, w, bi, bh, h, c, r, peep) = box.value
                let tiles = (B + 5) / 6
                let b0 = min(B, tiles * part / parts * 6), b1 = min(B, tiles * (part + 1) / parts * 6)
                lstmkit_lstm_stream_step_f32(b0, b1, H, gx, ldgx, ids, w, bi, bh, h, c, r, Float(cellClip), peep)
            }
        }
    }

    func denseStep(batch: Int, features: Int, units: Int, x: BufferView, weight: BufferView, prepared: DeviceBuffer?,
                   bias: BufferView?, activation: Activation, out: BufferView) throws {
        guard fast else {
            try gemm(transA: false, transB: true, m: batch, n: units, k: features, alpha: 1, a: x, lda: features,
                     b: weight, ldb: features, beta: 0, c: out, ldc: units)
            if let bias { try addRowBias(rows: batch, cols: units, bias: bias, y: out) }
            switch activation {
            case .linear: break
            case .softmax: try softmaxRows(rows: batch, cols: units, x: out, y: out)
            default: try activationForward(activation, count: batch * units, x: out, y: out)
            }
            return
        }
        timed("dense_step") {
            let box = UncheckedSendable((f(q(x)), f(q(weight)), bias.map { f(q($0)) }, f(q(out)), prepared.map { f(q($0)) }))
            // Rows are independent (each row's bits are the same however they are split): whole rows per thread from
            // a quarter of the gemm split size. The char-LM head at batch 32 (0.7M multiply-adds) splits:
            // `lstm-bench --stream`, batch 32, 188 -> 171 us a step (3 interleaved rounds, quiet).
            let parts = batch * features * units >= CPUKernels.gemmSplitMinimum / 4 ? min(CPUWorkerPool.shared.threads, batch) : 1
            CPUKernels.parallel(parts) { part in
                let (x, w, bias, out, packed) = box.value
                let (b0, b1) = (batch * part / parts, batch * (part + 1) / parts)
                // W^T packed (the char-LM head at batch 32, one thread: 16% of a step in the dot-product form, perf)
                if let packed { lstmkit_dense_step_packed_f32(b0, b1, features, units, x, packed, bias, Int32(activation.kernelKind), out) }
                else { lstmkit_dense_step_f32(b0, b1, features, units, x, w, bias, Int32(activation.kernelKind), out) }
            }
        }
    }

    // Float32: one copy (the element loop's generic S(Float) conversion is not specialised here and took a quarter of
    // a batch-32 streaming step, perf, 20000 steps).
    func writeHost(_ values: UnsafeBufferPointer<Float>, to view: BufferView) throws {
        let p = q(view)
        if fast, let base = values.baseAddress { return f(p).update(from: base, count: values.count) }
        for i in 0..<values.count { p[i] = S(values[i]) }
    }

    func readHost(_ view: BufferView, into: UnsafeMutableBufferPointer<Float>) throws {
        let p = q(view)
        if fast, let base = into.baseAddress { return base.update(from: f(p), count: into.count) }
        for i in 0..<into.count { into[i] = Float(p[i]) }
    }
}
