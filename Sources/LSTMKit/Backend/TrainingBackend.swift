/// Activation functions of `Dense`, and Keras's `activation` / `recurrent_activation` of the recurrent layers
/// (kind numbers as in Kernels/common.cl `lstmkit_act`; softmax is row-wise, kind 4, Dense only). `hardSigmoid` is
/// Keras 3's hard_sigmoid, relu6(x + 3) / 6.
public enum Activation: String, Codable, Sendable {
    case linear, relu, tanh, sigmoid, softmax
    case hardSigmoid = "hard_sigmoid"
    /// Keras's elu (alpha 1), selu, softplus and gelu (approximate = false: 0.5 x (1 + erf(x / sqrt 2))); Dense only.
    case elu, selu, softplus, gelu
    var kernelKind: Int {
        [.linear: 0, .relu: 1, .tanh: 2, .sigmoid: 3, .softmax: 4, .hardSigmoid: 9, .elu: 10, .selu: 11, .softplus: 12, .gelu: 13][self]!
    }
    /// True when the derivative kernel reads the pre-activation x instead of the output y (gelu).
    var derivativeReadsInput: Bool { self == .gelu }
}

/// Per-row loss kernels (Kernels/training.cl `loss_rows` kinds).
enum LossKernel: Int {
    case mse = 0, bceProbabilities, bceLogits, cceProbabilities, cceLogits, sparseProbabilities, sparseLogits
}

/// Per-row metric kernels (Kernels/training.cl `metric_rows` kinds).
enum MetricKernel: Int {
    case categoricalAccuracy = 0, sparseAccuracy, binaryMatches, absoluteErrorSum, squaredErrorSum
}

/// The clipping every optimizer kernel applies before its update.
struct GradientClip {
    var value: Double = 0       // clip by value when > 0
    var maxNorm: Double = 0     // clip by global norm when > 0
    var norms: DeviceBuffer?    // the squared norms of every parameter buffer (sum_squares), when maxNorm > 0
    var normCount = 0
}

/// The training-stack primitives: kernels of the table (`Kernel`, Kernels/training.cl), each with its CPU twin of the
/// same name and argument order (CPU/CPUTrainingKernels.swift, launched from CPU/CPUBackend+Launch.swift). All only
/// enqueue work. A backend that runs training conforms; `Device.training` is typed by it.
protocol TrainingBackend: Backend {}

extension TrainingBackend {
    /// y[r, c] += bias[c], y: [rows, cols].
    func addRowBias(rows: Int, cols: Int, bias: BufferView, y: BufferView) throws {
        var a = KernelArguments(); a.append(.int(rows)); a.append(.int(cols)); a.append(.view(bias)); a.append(.view(y))
        try launch(.addRowBias, a)
    }
    func activationForward(_ kind: Activation, count: Int, x: BufferView, y: BufferView) throws {
        var a = KernelArguments(); a.append(.int(kind.kernelKind)); a.append(.int(count)); a.append(.view(x)); a.append(.view(y))
        try launch(.activationForward, a)
    }
    func activationBackward(_ kind: Activation, count: Int, y: BufferView, dy: BufferView, dx: BufferView) throws {
        var a = KernelArguments(); a.append(.int(kind.kernelKind)); a.append(.int(count)); a.append(.view(y)); a.append(.view(dy))
        a.append(.view(dx))
        try launch(.activationBackward, a)
    }
    func softmaxRows(rows: Int, cols: Int, x: BufferView, y: BufferView) throws {
        var a = KernelArguments(); a.append(.int(rows)); a.append(.int(cols)); a.append(.view(x)); a.append(.view(y))
        try launch(.softmaxRows, a)
    }
    func softmaxBackwardRows(rows: Int, cols: Int, y: BufferView, dy: BufferView, dx: BufferView) throws {
        var a = KernelArguments(); a.append(.int(rows)); a.append(.int(cols)); a.append(.view(y)); a.append(.view(dy)); a.append(.view(dx))
        try launch(.softmaxBackwardRows, a)
    }
    func lossRows(_ kind: LossKernel, rows: Int, cols: Int, pred: BufferView, target: BufferView, scale: Double,
                  rowLoss: DeviceBuffer, grad: BufferView) throws {
        var a = KernelArguments(); a.append(.int(kind.rawValue)); a.append(.int(rows)); a.append(.int(cols)); a.append(.view(pred))
        a.append(.view(target)); a.append(.float(scale)); a.append(.mem(rowLoss)); a.append(.view(grad))
        try launch(.lossRows, a)
    }
    func metricRows(_ kind: MetricKernel, rows: Int, cols: Int, pred: BufferView, target: BufferView, out: DeviceBuffer) throws {
        var a = KernelArguments(); a.append(.int(kind.rawValue)); a.append(.int(rows)); a.append(.int(cols)); a.append(.view(pred))
        a.append(.view(target)); a.append(.mem(out))
        try launch(.metricRows, a)
    }
    func embeddingForward(count: Int, dim: Int, ids: BufferView, table: BufferView, out: DeviceBuffer) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.int(dim)); a.append(.view(ids)); a.append(.view(table)); a.append(.mem(out))
        try launch(.embeddingForward, a)
    }
    func embeddingBackward(count: Int, dim: Int, ids: BufferView, dOut: DeviceBuffer, dTable: BufferView) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.int(dim)); a.append(.view(ids)); a.append(.mem(dOut)); a.append(.view(dTable))
        try launch(.embeddingBackward, a)
    }
    /// dst[i] = src[indices[i]] (rows of rowSize); indices: Int32.
    func gatherRows(count: Int, rowSize: Int, indices: DeviceBuffer, src: DeviceBuffer, dst: DeviceBuffer) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.int(rowSize)); a.append(.mem(indices)); a.append(.mem(src)); a.append(.mem(dst))
        try launch(.gatherRows, a)
    }
    /// y = a * x + b * y (b == 0: y is not read).
    func axpby(count: Int, a alpha: Double, x: BufferView, b beta: Double, y: BufferView) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.float(alpha)); a.append(.view(x)); a.append(.float(beta)); a.append(.view(y))
        try launch(.axpby, a)
    }
    func mul(count: Int, x: BufferView, y: BufferView, out: BufferView) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.view(x)); a.append(.view(y)); a.append(.view(out))
        try launch(.mul, a)
    }
    func mergeDirections(mode: Int, rows: Int, hidden: Int, y: DeviceBuffer, out: DeviceBuffer) throws {
        var a = KernelArguments(); a.append(.int(mode)); a.append(.int(rows)); a.append(.int(hidden)); a.append(.mem(y)); a.append(.mem(out))
        try launch(.mergeDirections, a)
    }
    func mergeDirectionsBackward(mode: Int, rows: Int, hidden: Int, y: DeviceBuffer, dOut: DeviceBuffer, dY: DeviceBuffer) throws {
        var a = KernelArguments(); a.append(.int(mode)); a.append(.int(rows)); a.append(.int(hidden)); a.append(.mem(y)); a.append(.mem(dOut))
        a.append(.mem(dY))
        try launch(.mergeDirectionsBackward, a)
    }
    /// out[index] = sum x^2 (one work-group of `Kernel.reduceGroup` on OpenCL).
    func sumSquares(count: Int, x: BufferView, out: DeviceBuffer, index: Int) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.view(x)); a.append(.mem(out)); a.append(.int(index))
        try launch(.sumSquares, a)
    }
    func sgdUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, velocity: DeviceBuffer, lr: Double, momentum: Double,
                   nesterov: Bool, weightDecay: Double, clip: GradientClip) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.mem(p)); a.append(.mem(grad)); a.append(.mem(velocity))
        a.append(.float(lr)); a.append(.float(momentum)); a.append(.int(nesterov ? 1 : 0)); a.append(.float(weightDecay))
        a.append(clip, fallback: grad)
        try launch(.sgdUpdate, a)
    }
    func adamUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, lr: Double,
                    beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool,
                    stepSize: Double, biasCorrection2Sqrt: Double, clip: GradientClip) throws {
        // 1 - lr*wd, 1 - beta1 and 1 - beta2 in double, rounded once (PyTorch's Python-scalar coefficients).
        var a = KernelArguments(); a.append(.int(count)); a.append(.mem(p)); a.append(.mem(grad)); a.append(.mem(m)); a.append(.mem(v))
        a.append(.float(1 - lr * weightDecay)); a.append(.float(1 - beta1)); a.append(.float(beta2)); a.append(.float(1 - beta2))
        a.append(.float(eps)); a.append(.float(weightDecay)); a.append(.int(decoupled ? 1 : 0)); a.append(.float(stepSize))
        a.append(.float(biasCorrection2Sqrt))
        a.append(clip, fallback: grad)
        try launch(.adamUpdate, a)
    }
    func rmspropUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, squareAvg: DeviceBuffer, lr: Double, alpha: Double,
                       eps: Double, weightDecay: Double, clip: GradientClip) throws {
        var a = KernelArguments(); a.append(.int(count)); a.append(.mem(p)); a.append(.mem(grad)); a.append(.mem(squareAvg))
        a.append(.float(lr)); a.append(.float(alpha)); a.append(.float(1 - alpha)); a.append(.float(eps)); a.append(.float(weightDecay))
        a.append(clip, fallback: grad)
        try launch(.rmspropUpdate, a)
    }
}

extension KernelArguments {
    /// The clipping arguments of every optimizer kernel: clip_value, norms (or `fallback`, never read: num_norms is 0
    /// or max_norm is 0), num_norms, max_norm.
    mutating func append(_ clip: GradientClip, fallback: DeviceBuffer) {
        append(.float(clip.value)); append(.mem(clip.norms ?? fallback)); append(.int(clip.normCount)); append(.float(clip.maxNorm))
    }
}
