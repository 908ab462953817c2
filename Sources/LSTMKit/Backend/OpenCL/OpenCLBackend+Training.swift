import COpenCL

/// The training primitives on OpenCL: each is one launch of a Kernels/training.cl kernel.
extension OpenCLBackend: TrainingBackend {
    private func m(_ b: DeviceBuffer) -> KernelArg { .mem((b as! CLBuffer).mem) }
    private func run(_ name: String, _ args: [KernelArg], global: [Int], local: [Int]? = nil, defines: [String: String] = [:]) throws {
        try context.launch(try context.kernel(name, file: "training.cl", defines: defines), args, global: global, local: local)
    }
    private func clipArgs(_ clip: GradientClip, fallback: DeviceBuffer) -> [KernelArg] {
        [.float(clip.value), m(clip.norms ?? fallback), .int(clip.normCount), .float(clip.maxNorm)]
    }

    func addRowBias(rows: Int, cols: Int, bias: BufferView, y: BufferView) throws {
        try run("add_row_bias", [.int(rows), .int(cols), m(bias.buffer), .int(bias.offset), m(y.buffer), .int(y.offset)], global: [cols, rows])
    }
    func activationForward(_ kind: Activation, count: Int, x: BufferView, y: BufferView) throws {
        try run("activation_forward", [.int(kind.kernelKind), .int(count), m(x.buffer), .int(x.offset), m(y.buffer), .int(y.offset)], global: [count])
    }
    func activationBackward(_ kind: Activation, count: Int, y: BufferView, dy: BufferView, dx: BufferView) throws {
        try run("activation_backward", [.int(kind.kernelKind), .int(count), m(y.buffer), .int(y.offset), m(dy.buffer), .int(dy.offset),
                                        m(dx.buffer), .int(dx.offset)], global: [count])
    }
    func softmaxRows(rows: Int, cols: Int, x: BufferView, y: BufferView) throws {
        try run("softmax_rows", [.int(rows), .int(cols), m(x.buffer), .int(x.offset), m(y.buffer), .int(y.offset)], global: [rows])
    }
    func softmaxBackwardRows(rows: Int, cols: Int, y: BufferView, dy: BufferView, dx: BufferView) throws {
        try run("softmax_backward_rows", [.int(rows), .int(cols), m(y.buffer), .int(y.offset), m(dy.buffer), .int(dy.offset),
                                          m(dx.buffer), .int(dx.offset)], global: [rows])
    }
    func lossRows(_ kind: LossKernel, rows: Int, cols: Int, pred: BufferView, target: BufferView, scale: Double,
                  rowLoss: DeviceBuffer, grad: BufferView) throws {
        try run("loss_rows", [.int(kind.rawValue), .int(rows), .int(cols), m(pred.buffer), .int(pred.offset), m(target.buffer),
                              .int(target.offset), .float(scale), m(rowLoss), m(grad.buffer), .int(grad.offset)], global: [rows])
    }
    func metricRows(_ kind: MetricKernel, rows: Int, cols: Int, pred: BufferView, target: BufferView, out: DeviceBuffer) throws {
        try run("metric_rows", [.int(kind.rawValue), .int(rows), .int(cols), m(pred.buffer), .int(pred.offset), m(target.buffer),
                                .int(target.offset), m(out)], global: [rows])
    }
    func embeddingForward(count: Int, dim: Int, ids: BufferView, table: BufferView, out: DeviceBuffer) throws {
        try run("embedding_forward", [.int(count), .int(dim), m(ids.buffer), .int(ids.offset), m(table.buffer), .int(table.offset), m(out)],
                global: [dim, count])
    }
    func embeddingBackward(count: Int, dim: Int, ids: BufferView, dOut: DeviceBuffer, dTable: BufferView) throws {
        try run("embedding_backward", [.int(count), .int(dim), m(ids.buffer), .int(ids.offset), m(dOut), m(dTable.buffer), .int(dTable.offset)],
                global: [dim])
    }
    func gatherRows(count: Int, rowSize: Int, indices: DeviceBuffer, src: DeviceBuffer, dst: DeviceBuffer) throws {
        try run("gather_rows", [.int(count), .int(rowSize), m(indices), m(src), m(dst)], global: [rowSize, count])
    }
    func axpby(count: Int, a: Double, x: BufferView, b: Double, y: BufferView) throws {
        try run("axpby", [.int(count), .float(a), m(x.buffer), .int(x.offset), .float(b), m(y.buffer), .int(y.offset)], global: [count])
    }
    func mul(count: Int, x: BufferView, y: BufferView, out: BufferView) throws {
        try run("mul", [.int(count), m(x.buffer), .int(x.offset), m(y.buffer), .int(y.offset), m(out.buffer), .int(out.offset)], global: [count])
    }
    func mergeDirections(mode: Int, rows: Int, hidden: Int, y: DeviceBuffer, out: DeviceBuffer) throws {
        try run("merge_directions", [.int(mode), .int(rows), .int(hidden), m(y), m(out)], global: [hidden, rows])
    }
    func mergeDirectionsBackward(mode: Int, rows: Int, hidden: Int, y: DeviceBuffer, dOut: DeviceBuffer, dY: DeviceBuffer) throws {
        try run("merge_directions_backward", [.int(mode), .int(rows), .int(hidden), m(y), m(dOut), m(dY)], global: [hidden, rows])
    }
    func sumSquares(count: Int, x: BufferView, out: DeviceBuffer, index: Int) throws {
        let wg = 256
        try run("sum_squares", [.int(count), m(x.buffer), .int(x.offset), m(out), .int(index)], global: [wg], local: [wg],
                defines: ["REDUCE_WG": "\(wg)"])
    }
    func sgdUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, velocity: DeviceBuffer, lr: Double, momentum: Double,
                   nesterov: Bool, weightDecay: Double, clip: GradientClip) throws {
        try run("sgd_update", [.int(count), m(p), m(grad), m(velocity), .float(lr), .float(momentum), .int(nesterov ? 1 : 0),
                               .float(weightDecay)] + clipArgs(clip, fallback: grad), global: [count])
    }
    func adamUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, m mBuf: DeviceBuffer, v: DeviceBuffer, lr: Double,
                    beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool,
                    stepSize: Double, biasCorrection2Sqrt: Double, clip: GradientClip) throws {
        // 1 - lr*wd, 1 - beta1 and 1 - beta2 in double, rounded once (PyTorch's Python-scalar coefficients).
        try run("adam_update", [.int(count), m(p), m(grad), m(mBuf), m(v), .float(1 - lr * weightDecay), .float(1 - beta1), .float(beta2),
                                .float(1 - beta2), .float(eps),
                                .float(weightDecay), .int(decoupled ? 1 : 0), .float(stepSize), .float(biasCorrection2Sqrt)]
                + clipArgs(clip, fallback: grad), global: [count])
    }
    func rmspropUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, squareAvg: DeviceBuffer, lr: Double, alpha: Double,
                       eps: Double, weightDecay: Double, clip: GradientClip) throws {
        try run("rmsprop_update", [.int(count), m(p), m(grad), m(squareAvg), .float(lr), .float(alpha), .float(1 - alpha),
                                   .float(eps), .float(weightDecay)]
                + clipArgs(clip, fallback: grad), global: [count])
    }
}
