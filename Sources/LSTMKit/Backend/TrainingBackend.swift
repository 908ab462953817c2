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

/// The training-stack primitives. Each is one kernel of Kernels/training.cl with a CPU twin of the same name
/// and argument order in CPU/CPUTrainingKernels.swift. All only enqueue work.
protocol TrainingBackend {
    func addRowBias(rows: Int, cols: Int, bias: BufferView, y: BufferView) throws
    func activationForward(_ kind: Activation, count: Int, x: BufferView, y: BufferView) throws
    func activationBackward(_ kind: Activation, count: Int, y: BufferView, dy: BufferView, dx: BufferView) throws
    func softmaxRows(rows: Int, cols: Int, x: BufferView, y: BufferView) throws
    func softmaxBackwardRows(rows: Int, cols: Int, y: BufferView, dy: BufferView, dx: BufferView) throws
    func lossRows(_ kind: LossKernel, rows: Int, cols: Int, pred: BufferView, target: BufferView, scale: Double,
                  rowLoss: DeviceBuffer, grad: BufferView) throws
    func metricRows(_ kind: MetricKernel, rows: Int, cols: Int, pred: BufferView, target: BufferView, out: DeviceBuffer) throws
    func embeddingForward(count: Int, dim: Int, ids: BufferView, table: BufferView, out: DeviceBuffer) throws
    func embeddingBackward(count: Int, dim: Int, ids: BufferView, dOut: DeviceBuffer, dTable: BufferView) throws
    func gatherRows(count: Int, rowSize: Int, indices: DeviceBuffer, src: DeviceBuffer, dst: DeviceBuffer) throws
    func axpby(count: Int, a: Double, x: BufferView, b: Double, y: BufferView) throws
    func mul(count: Int, x: BufferView, y: BufferView, out: BufferView) throws
    func mergeDirections(mode: Int, rows: Int, hidden: Int, y: DeviceBuffer, out: DeviceBuffer) throws
    func mergeDirectionsBackward(mode: Int, rows: Int, hidden: Int, y: DeviceBuffer, dOut: DeviceBuffer, dY: DeviceBuffer) throws
    func sumSquares(count: Int, x: BufferView, out: DeviceBuffer, index: Int) throws
    func sgdUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, velocity: DeviceBuffer, lr: Double, momentum: Double,
                   nesterov: Bool, weightDecay: Double, clip: GradientClip) throws
    func adamUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, lr: Double,
                    beta1: Double, beta2: Double, eps: Double, weightDecay: Double, decoupled: Bool,
                    stepSize: Double, biasCorrection2Sqrt: Double, clip: GradientClip) throws
    func rmspropUpdate(count: Int, p: DeviceBuffer, grad: DeviceBuffer, squareAvg: DeviceBuffer, lr: Double, alpha: Double,
                       eps: Double, weightDecay: Double, clip: GradientClip) throws
}

