/// The training primitives on the CPU: each forwards to its twin in CPUTrainingKernels.
extension CPUBackend: TrainingBackend {
    private func p(_ v: BufferView) -> UnsafeMutablePointer<S> { (v.buffer as! CPUBuffer<S>).pointer + v.offset }
    private func p(_ b: DeviceBuffer) -> UnsafeMutablePointer<S> { (b as! CPUBuffer<S>).pointer }
    private func norms(_ clip: GradientClip) -> UnsafePointer<S>? { clip.norms.map { UnsafePointer(p($0)) } }

    func addRowBias(rows: Int, cols: Int, bias: BufferView, y: BufferView) throws {
        timed("add_row_bias") { CPUTrainingKernels.add_row_bias(rows, cols, p(bias), p(y)) }
    }
    func activationForward(_ kind: Activation, count: Int, x: BufferView, y: BufferView) throws {
        timed("activation_forward") { CPUTrainingKernels.activation_forward(kind.kernelKind, count, p(x), p(y)) }
    }
    func activationBackward(_ kind: Activation, count: Int, y: BufferView, dy: BufferView, dx: BufferView) throws {
        timed("activation_backward") { CPUTrainingKernels.activation_backward(kind.kernelKind, count, p(y), p(dy), p(dx)) }
    }
    func softmaxRows(rows: Int, cols: Int, x: BufferView, y: BufferView) throws {
        timed("softmax_rows") { CPUTrainingKernels.softmax_rows(rows, cols, p(x), p(y)) }
    }
    func softmaxBackwardRows(rows: Int, cols: Int, y: BufferView, dy: BufferView, dx: BufferView) throws {
        timed("softmax_backward_rows") { CPUTrainingKernels.softmax_backward_rows(rows, cols, p(y), p(dy), p(dx)) }
    }
    func lossRows(_ kind: LossKernel, rows: Int, cols: Int, pred: BufferView, target: BufferView, scale: Double,
                  rowLoss: DeviceBuffer, grad: BufferView) throws {
        timed("loss_rows") { CPUTrainingKernels.loss_rows(kind.rawValue, rows, cols, p(pred), p(target), S(scale), p(rowLoss), p(grad)) }
    }
    func metricRows(_ kind: MetricKernel, rows: Int, cols: Int, pred: BufferView, target: BufferView, out: DeviceBuffer) throws {
        timed("metric_rows") { CPUTrainingKernels.metric_rows(kind.rawValue, rows, cols, p(pred), p(target), p(out)) }
    }
    func embeddingForward(count: Int, dim: Int, ids: BufferView, table: BufferView, out: DeviceBuffer) throws {
        timed("embedding_forward") { CPUTrainingKernels.embedding_forward(count, dim, p(ids), p(table), p(out)) }
    }
    func embeddingBackward(count: Int, dim: Int, ids: BufferView, dOut: DeviceBuffer, dTable: BufferView) throws {
        timed("embedding_backward") { CPUTrainingKernels.embedding_backward(count, dim, p(ids), p(dOut), p(dTable)) }
    }
    func gatherRows(count: Int, rowSize: Int, indices: DeviceBuffer, src: DeviceBuffer, dst: DeviceBuffer) throws {
        timed("gather_rows") { CPUTrainingKernels.gather_rows(count, rowSize, (indices as! CPUBuffer<Int32>).pointer, p(src), p(dst)) }
    }
    func axpby(count: Int, a: Double, x: BufferView, b: Double, y: BufferView) throws {
        timed("axpby") { CPUTrainingKernels.axpby(count, S(a), p(x), S(b), p(y)) }
    }
    func mul(count: Int, x: BufferView, y: BufferView, out: BufferView) throws {
        timed("mul") { CPUTrainingKernels.mul(count, p(x), p(y), p(out)) }
    }
    func mergeDirections(mode: Int, rows: Int, hidden: Int, y: DeviceBuffer, out: DeviceBuffer) throws {
        timed("merge_directions") { CPUTrainingKernels.merge_directions(mode, rows, hidden, p(y), p(out)) }
    }
    func mergeDirectionsBackward(mode: Int, rows: Int, hidden: Int, y: DeviceBuffer, dOut: DeviceBuffer, dY: DeviceBuffer) throws {
        timed("merge_directions_backward") { CPUTrainingKernels.merge_directions_backward(mode, rows, hidden, p(y), p(dOut), p(dY)) }
    }
    func sumSquares(count: Int, x: BufferView, out: DeviceBuffer, index: Int) throws {
        timed("sum_squares") { CPUTrainingKernels.sum_squares(count, p(x), p(out), index) }
    }
    func sgdUpdate(count: Int, p params: DeviceBuffer, grad: DeviceBuffer, velocity: DeviceBuffer, lr: Double, momentum: Double,
                   nesterov: Bool, weightDecay: Double, clip: GradientClip) throws {
        timed("sgd_update") { CPUTrainingKernels.sgd_update(count, p(params), p(grad), p(velocity), S(lr), S(momentum), nesterov, S(weightDecay),
            S(clip.value), norms(clip), clip.normCount, S(clip.maxNorm)) }
    }
    func adamUpdate(count: Int, p params: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, lr: Double,
                    beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool,
                    stepSize: Double, biasCorrection2Sqrt: Double, clip: GradientClip) throws {
        timed("adam_update") { CPUTrainingKernels.adam_update(count, p(params), p(grad), p(m), p(v), S(1 - lr * weightDecay), S(1 - beta1), S(beta2),
            S(1 - beta2), S(eps), S(weightDecay),
            decoupled, S(stepSize), S(biasCorrection2Sqrt),
            S(clip.value), norms(clip), clip.normCount, S(clip.maxNorm)) }
    }
    func rmspropUpdate(count: Int, p params: DeviceBuffer, grad: DeviceBuffer, squareAvg: DeviceBuffer, lr: Double, alpha: Double,
                       eps: Double, weightDecay: Double, clip: GradientClip) throws {
        timed("rmsprop_update") { CPUTrainingKernels.rmsprop_update(count, p(params), p(grad), p(squareAvg), S(lr), S(alpha), S(1 - alpha), S(eps), S(weightDecay),
            S(clip.value), norms(clip), clip.normCount, S(clip.maxNorm)) }
    }
}
