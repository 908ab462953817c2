import CInference

/// The CPU's whole-sequence LSTM inference job (`InferenceBackend.lstmInferSequence`): one job per layer and
/// direction instead of two per step (the recurrent product, then the cell), each thread running all steps of
/// its rows (whole register tiles of the packed product), so h, c and r of its rows stay in its cache and no thread
/// waits for another between steps. Float32 only (Float64 runs the steps).
extension CPUBackend {
    func lstmInferSequence(batch: Int, hidden: Int, steps: Int, reverse: Bool, lengths: DeviceBuffer, gx: BufferView,
                           whhPacked: DeviceBuffer, biasIH: BufferView?, biasHH: BufferView?, h: BufferView, c: BufferView,
                           r: BufferView, y: BufferView?, ldy: Int, cellClip: Double, peephole: BufferView?) throws -> Bool {
        guard S.self == Float.self, InferenceHooks.sequenceJob else { return false }
        func f(_ v: BufferView) -> UnsafeMutablePointer<Float> { CPUInferenceKernels.f32((v.buffer as! CPUBuffer<S>).pointer + v.offset) }
        let (B, H) = (batch, hidden)
        timed("lstm_infer_sequence") {
            let box = UncheckedSendable(((lengths as! CPUBuffer<Int32>).pointer, f(gx), f(BufferView(whhPacked)), biasIH.map(f), biasHH.map(f),
                                         f(h), f(c), f(r), y.map(f), peephole.map(f)))
            // One part per thread (each reads all of W_hh per step: more parts would read it more often), whole
            // register tiles; one thread below ~1M multiply-adds a step (as the fused streaming step).
            let rows = CPUKernels.packedTileRows, tiles = (B + rows - 1) / rows
            let parts = B * 4 * H * H >= CPUKernels.gemmSplitMinimum ? min(CPUWorkerPool.shared.threads, tiles) : 1
            CPUKernels.parallel(parts) { part in
                let (len, gx, w, bi, bh, h, c, r, y, peep) = box.value
                let b0 = min(B, tiles * part / parts * rows), b1 = min(B, tiles * (part + 1) / parts * rows)
                lstmkit_lstm_infer_sequence_f32(b0, b1, B, H, steps, reverse ? 1 : 0, len, gx, w, bi, bh, h, c, r, y, ldy, Float(cellClip), peep)
            }
        }
        return true
    }
}
