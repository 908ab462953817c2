/// The inference path of a `Sequential` (`predict`, `evaluate`): each layer's `inferenceForward` where it has one
/// (no tape), else its forward with `training: false`; the input uploaded, run and read back one batch at a time.
extension Sequential: InferenceLayer {
    func inferenceForward(_ x: MaskedTensor) throws -> MaskedTensor {
        var value = x
        for layer in layers { value = try layer.inferenceOrForward(value) }
        return value
    }

    /// The model's outputs for `x` [N, ...] ([N] + `outputShape`), in inference mode (Keras `predict`).
    /// - Parameter batchSize: samples per forward, >= 1; nil (the default) chooses it from the model, the
    ///   device's free memory and (CPU) the cache (`PredictBatching`). Each batch is uploaded on its own, so an
    ///   input larger than the device's memory runs batch by batch. The batching does not change the results:
    ///   samples are independent.
    public func predict(_ x: DataArray, batchSize: Int? = nil) throws -> DataArray {
        try checkBatchSize(batchSize)
        let (mask, _) = try validate(x: x, y: nil, what: "predict")
        let rows = try batchSize ?? PredictBatching.choose(samples: x.count, model: self).rows
        return try predict(x, mask: mask, rows: rows)
    }

    /// Loss and metrics on a dataset, in inference mode (Keras `evaluate`); x [N, ...], y [N, ...] as `fit` takes them.
    /// - Parameter batchSize: samples per forward, >= 1; nil chooses it as `predict` does. The loss and metrics
    ///   are the sample-weighted means of the batches' (so another batching moves them by float rounding only).
    public func evaluate(x: DataArray, y: DataArray, batchSize: Int? = nil) throws -> [String: Double] {
        try checkBatchSize(batchSize)
        let (mask, target) = try validate(x: x, y: y, what: "evaluate")
        let rows = try batchSize ?? PredictBatching.choose(samples: x.count, model: self).rows
        var batches: [BatchStats] = []
        for start in stride(from: 0, to: x.count, by: rows) {
            let range = start..<min(start + rows, x.count)
            let output = try inferenceForward(try upload(x, mask: mask, range))
            let yb = try target!.rows(range)
            batches.append(try lossAndMetrics(output: output, target: try Tensor(shape: yb.shape, values: yb.values, device: device)).0)
        }
        return logs(from: batches, prefix: "")
    }

    /// `predict` in batches of `rows` samples, `mask` the whole input's (from `validate`).
    func predict(_ x: DataArray, mask: SequenceMask?, rows: Int) throws -> DataArray {
        precondition(rows >= 1)
        let shape = [x.count] + outputShape!
        guard let total = Memory.product(shape) else {
            throw LSTMKitError.invalidArgument(name: "predict", value: "output shape \(shape)", reason: "its element count overflows")
        }
        let outputSize = total / max(x.count, 1)
        // Each batch's output is read straight into its rows of the result.
        let values = try [Float](unsafeUninitializedCapacity: total) { result, initialized in
            for start in stride(from: 0, to: x.count, by: rows) {
                let range = start..<min(start + rows, x.count)
                let y = try inferenceForward(try upload(x, mask: mask, range)).tensor
                guard y.count == range.count * outputSize else {
                    throw LSTMKitError.shapeMismatch(what: "predict batch output", expected: "\([range.count] + outputShape!)", got: y.shape)
                }
                let into = UnsafeMutableBufferPointer(rebasing: result[(start * outputSize)..<(range.upperBound * outputSize)])
                try device.inference.readHostBlock(y.view, into: into)
            }
            initialized = total
        }
        return try DataArray(shape: shape, values: values)
    }

    /// Samples `range` of x on the device, with their part of the mask.
    private func upload(_ x: DataArray, mask: SequenceMask?, _ range: Range<Int>) throws -> MaskedTensor {
        let size = x.sampleSize, count = range.count * size
        let buffer = try device.inference.allocate(count)
        try x.values.withUnsafeBufferPointer { all in
            let values = UnsafeBufferPointer(rebasing: all[(range.lowerBound * size)..<(range.upperBound * size)])
            try device.inference.writeHostBlock(values, to: BufferView(buffer))
        }
        let t = Tensor(shape: [range.count] + x.shape.dropFirst(), view: BufferView(buffer), device: device)
        var m = MaskedTensor(t, lengths: mask.map { Array($0.lengths[range]) })
        m.starts = mask?.starts.map { Array($0[range]) }
        return m
    }

    private func checkBatchSize(_ batchSize: Int?) throws {
        if let batchSize, batchSize < 1 {
            throw LSTMKitError.invalidArgument(name: "batchSize", value: "\(batchSize)", reason: "must be at least 1")
        }
    }
}
