/// Metrics reported by `fit` and `evaluate` (Keras names: "accuracy", "binary_accuracy", "mae", "mse", "rmse").
/// Over an epoch each is the sum over all samples divided by the count (Keras's stateful metrics); `rmse` is the
/// square root of the epoch's mean squared error, as Keras's `RootMeanSquaredError`.
public enum Metric: String, Codable, Sendable {
    case accuracy
    case binaryAccuracy = "binary_accuracy"
    case meanAbsoluteError = "mae"
    case meanSquaredError = "mse"
    case rootMeanSquaredError = "rmse"

    /// The value reported from an epoch's sum / divisor.
    func finalize(_ mean: Double) -> Double { self == .rootMeanSquaredError ? mean.squareRoot() : mean }

    /// The kernel and the divisor of its row sums. "accuracy" follows the loss, as in Keras.
    func kernel(loss: Loss, rows: Int, cols: Int) -> (MetricKernel, Double) {
        switch self {
        case .binaryAccuracy: return (.binaryMatches, Double(rows * cols))
        case .meanAbsoluteError: return (.absoluteErrorSum, Double(rows * cols))
        case .meanSquaredError, .rootMeanSquaredError: return (.squaredErrorSum, Double(rows * cols))
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
