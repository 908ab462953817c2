/// Metrics reported by `fit` and `evaluate` (Keras names: "accuracy", "binary_accuracy", "mae").
public enum Metric: String, Codable, Sendable {
    case accuracy
    case binaryAccuracy = "binary_accuracy"
    case meanAbsoluteError = "mae"

    /// The kernel and the divisor of its row sums. "accuracy" follows the loss, as in Keras.
    func kernel(loss: Loss, rows: Int, cols: Int) -> (MetricKernel, Double) {
        switch self {
        case .binaryAccuracy: return (.binaryMatches, Double(rows * cols))
        case .meanAbsoluteError: return (.absoluteErrorSum, Double(rows * cols))
        case .accuracy:
            switch loss {
            case .sparseCategoricalCrossentropy: return (.sparseAccuracy, Double(rows))
            case .categoricalCrossentropy: return (.categoricalAccuracy, Double(rows))
            case .binaryCrossentropy: return (.binaryMatches, Double(rows * cols))
            case .meanSquaredError: return cols == 1 ? (.binaryMatches, Double(rows)) : (.categoricalAccuracy, Double(rows))
            }
        }
    }
}
