/// Training losses, as Keras names them. Each runs as one fused, numerically stable kernel per batch
/// (log-sum-exp for softmax, log1p(exp(-|x|)) for sigmoid). When the model's last layer is
/// `Dense(activation: .softmax)` (or `.sigmoid`) and the loss is a cross-entropy on probabilities, the model
/// computes the loss from that layer's logits and skips the activation's backward: fused and exact.
///
/// Reduction: mean over samples (and time steps); MSE and binary cross-entropy also average over the last axis. In
/// `Sequential`, a per-step output that a mask reaches averages over its valid steps only (as Keras).
public enum Loss: Codable, Equatable, Sendable {
    case meanSquaredError
    case binaryCrossentropy(fromLogits: Bool = false)
    case categoricalCrossentropy(fromLogits: Bool = false)
    /// Targets are class ids, shaped as the prediction without its last axis (or with a last axis of 1).
    case sparseCategoricalCrossentropy(fromLogits: Bool = false)

    var isSparse: Bool { if case .sparseCategoricalCrossentropy = self { return true } else { return false } }

    /// The kernel and the scale of the gradient for `rows` x `cols` predictions; `fused` when the loss reads
    /// the logits of a softmax/sigmoid output layer.
    func kernel(fused: Bool, rows: Int, cols: Int) -> (LossKernel, Double) {
        let elementMean = 1 / Double(rows * cols), rowMean = 1 / Double(rows)
        switch self {
        case .meanSquaredError: return (.mse, elementMean)
        case let .binaryCrossentropy(logits): return (logits || fused ? .bceLogits : .bceProbabilities, elementMean)
        case let .categoricalCrossentropy(logits): return (logits || fused ? .cceLogits : .cceProbabilities, rowMean)
        case let .sparseCategoricalCrossentropy(logits): return (logits || fused ? .sparseLogits : .sparseProbabilities, rowMean)
        }
    }

    /// The activation of an output layer whose logits this loss can use directly.
    var fusableActivation: Activation? {
        switch self {
        case .binaryCrossentropy(false): return .sigmoid
        case .categoricalCrossentropy(false), .sparseCategoricalCrossentropy(false): return .softmax
        default: return nil
        }
    }

    /// Checks the target shape against the prediction shape (both with the batch first).
    func checkTarget(prediction: [Int], target: [Int]) throws {
        let expected = isSparse ? Array(prediction.dropLast()) : prediction
        let ok = target == expected || (isSparse && target == expected + [1])
        if !ok {
            throw LSTMKitError.shapeMismatch(what: "labels for \(self)", expected: "\(expected)\(isSparse ? " (class ids)" : "")", got: target)
        }
    }
}
