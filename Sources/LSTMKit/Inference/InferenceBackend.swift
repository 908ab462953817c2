/// The primitives of the inference path (Kernels/inference.cl; CPU twins in CPU/CPUInferenceKernels.swift, which
/// run Sources/CInference in Float32). Nothing here keeps a tape: the state is one [B, H] buffer, updated in place.
/// All only enqueue work.
protocol InferenceBackend {
    /// One loop step of the tape-free LSTM cell (after the recurrent product r = h . W_hh^T). B = batch, H = hidden,
    /// T = steps. gx: [T, B, 4H] by time; r: [B, 4H]; h, c: [B, H] (the same offset), updated in place; y: [T, B, ldy] by
    /// time (nil: not written); peephole: [3H] or nil. The same math and order as `lstmCellForward`.
    func lstmCellInfer(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                       gx: BufferView, r: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                       h: BufferView, c: BufferView, y: BufferView?, ldy: Int, cellClip: Double, peephole: BufferView?) throws

    /// All T steps of one direction of one layer when the backend can run them as one job (the CPU in Float32:
    /// `lstmkit_lstm_infer_sequence_f32`, rows split over the threads with no barrier between steps; the same
    /// bits as the loop of `StepOperand.gemm` + `lstmCellInfer`). whhPacked: W_hh^T [H, 4H] packed by
    /// `PackedGemmBackend.packOperand` (a `StepOperand`'s `packed`); r: [B, 4H] scratch; the rest as
    /// `lstmCellInfer`. Returns false, having done nothing, when the backend has no such job (OpenCL, Float64):
    /// the caller runs the steps.
    func lstmInferSequence(batch: Int, hidden: Int, steps: Int, reverse: Bool, lengths: DeviceBuffer, gx: BufferView,
                           whhPacked: DeviceBuffer, biasIH: BufferView?, biasHH: BufferView?, h: BufferView, c: BufferView,
                           r: BufferView, y: BufferView?, ldy: Int, cellClip: Double, peephole: BufferView?) throws -> Bool

    /// Whether `LSTMInference` runs each step as one `lstmStepInfer` (OpenCL on CPU-type devices, H within the gemm's
    /// K chunk; `OpenCLTuning.fusesStep`) instead of the recurrent gemm then `lstmCellInfer`.
    func fusesInferenceStep(hidden: Int) -> Bool

    /// Floats of the prepared recurrent weight `lstmStreamStep` reads for W_hh [4H, H], or nil when it reads W_hh
    /// as it lies (OpenCL; the CPU in Float64 or without AVX2 + FMA).
    func streamWeightCount(hidden: Int) -> Int?
    /// Prepares W_hh [4H, H] into `into` (CPU: W_hh^T packed in panels of 16 columns, Sources/CSmallGemm).
    func prepareStreamWeight(hidden: Int, whh: BufferView, into: DeviceBuffer) throws

    /// One streaming step of one LSTM layer, recurrent product and cell fused: for each row b,
    /// a = gx[row_b] + hIn[b] . W_hh^T (+ b_ih + b_hh), then the cell; hOut, cOut [B, H]. row_b = ids[b] (token ids
    /// as floats; an input-projection table) or b. gx rows are ldgx apart. `prepared`: from `prepareStreamWeight`
    /// (when `streamWeightCount` is not nil). hIn may be hOut (and cIn cOut): the CPU updates in place;
    /// OpenCL needs distinct buffers. scratch: [B, 4H] (the CPU's recurrent product).
    func lstmStreamStep(batch: Int, hidden: Int, gx: BufferView, ldgx: Int, ids: BufferView?, whh: BufferView,
                        prepared: DeviceBuffer?, biasIH: BufferView?, biasHH: BufferView?,
                        hIn: BufferView, cIn: BufferView, hOut: BufferView, cOut: BufferView,
                        scratch: DeviceBuffer, cellClip: Double, peephole: BufferView?) throws

    /// out[B, U] = activation(x[B, F] . W[U, F]^T + bias) (bias nil: none): one call on the CPU, the gemm, bias and
    /// activation kernels on OpenCL. `prepared`: W^T packed by the backend's `packedGemm` (`packOperand(transB: true,
    /// k: F, n: U)`), which the CPU's packed kernel reads instead of W; nil where there is none.
    func denseStep(batch: Int, features: Int, units: Int, x: BufferView, weight: BufferView, prepared: DeviceBuffer?,
                   bias: BufferView?, activation: Activation, out: BufferView) throws

    /// Host values into a device view, without an intermediate array (the streaming step's input).
    func writeHost(_ values: UnsafeBufferPointer<Float>, to view: BufferView) throws
    /// A device view into host memory, without an intermediate array (waits for the device).
    func readHost(_ view: BufferView, into: UnsafeMutableBufferPointer<Float>) throws

    /// `writeHost` of a whole batch (`predict`'s input): one block copy where the backend has one (the CPU in
    /// Float32: memcpy, where `writeHost` converts element by element), else `writeHost`.
    func writeHostBlock(_ values: UnsafeBufferPointer<Float>, to view: BufferView) throws
    /// `readHost` of a whole batch (`predict`'s output), as `writeHostBlock`.
    func readHostBlock(_ view: BufferView, into: UnsafeMutableBufferPointer<Float>) throws
}

extension InferenceBackend {
    func fusesInferenceStep(hidden: Int) -> Bool { false }
    func writeHostBlock(_ values: UnsafeBufferPointer<Float>, to view: BufferView) throws { try writeHost(values, to: view) }
    func readHostBlock(_ view: BufferView, into: UnsafeMutableBufferPointer<Float>) throws { try readHost(view, into: into) }

    /// No whole-sequence job: the caller runs the steps.
    func lstmInferSequence(batch: Int, hidden: Int, steps: Int, reverse: Bool, lengths: DeviceBuffer, gx: BufferView,
                           whhPacked: DeviceBuffer, biasIH: BufferView?, biasHH: BufferView?, h: BufferView, c: BufferView,
                           r: BufferView, y: BufferView?, ldy: Int, cellClip: Double, peephole: BufferView?) throws -> Bool { false }
}

/// One loop step with the recurrent product fused in: the table's `lstmStepInfer` (Kernels/inference.cl
/// `lstm_step_infer`; CPU twin in CPU/CPUInferenceKernels.swift). whhT: W_hh^T [H, 4H] (`StepOperand`'s transposed
/// operand); hIn -> hOut [B, H] (distinct buffers, the same offset as c); c [B, H] in place; the rest as
/// `lstmCellInfer`. Gives the bits of `StepOperand.gemm` (K in one chunk) + `lstmCellInfer`.
extension InferenceBackend where Self: Backend {
    func lstmStepInfer(batch: Int, hidden: Int, steps: Int, step: Int, reverse: Bool, lengths: DeviceBuffer,
                       gx: BufferView, whhT: BufferView, biasIH: BufferView?, biasHH: BufferView?,
                       hIn: BufferView, hOut: BufferView, c: BufferView, y: BufferView?, ldy: Int, cellClip: Double,
                       peephole: BufferView?) throws {
        precondition(gx.offset == 0 && hIn.offset == c.offset && hOut.offset == c.offset && hIn.buffer !== hOut.buffer)
        let any = BufferView(gx.buffer)  // stands in for an absent optional buffer (never read)
        var a = KernelArguments()
        a.append(.int(batch)); a.append(.int(hidden)); a.append(.int(steps)); a.append(.int(step)); a.append(.int(reverse ? 1 : 0))
        a.append(.mem(lengths)); a.append(.mem(gx.buffer)); a.append(.view(whhT))
        a.append(.view(biasIH ?? any)); a.append(.view(biasHH ?? any)); a.append(.int(biasIH == nil ? 0 : 1))
        a.append(.mem(hIn.buffer)); a.append(.mem(hOut.buffer)); a.append(.mem(c.buffer)); a.append(.int(c.offset))
        a.append(.view(y ?? any)); a.append(.int(ldy)); a.append(.int(y == nil ? 0 : 1)); a.append(.float(cellClip))
        a.append(.view(peephole ?? any)); a.append(.int(peephole == nil ? 0 : 1))
        try launch(.lstmStepInfer, a)
    }
}
