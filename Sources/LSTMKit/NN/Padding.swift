/// How `Conv2D` and the pooling layers treat the frame's border (Keras's `padding`).
///
/// - `valid`: no padding; output = floor((input - effectiveKernel) / stride) + 1, where
///   effectiveKernel = (kernel - 1) * dilation + 1. A kernel larger than the input is an error.
/// - `same`: output = ceil(input / stride); the input is padded with zeros (the max pool ignores the padding, the
///   average pool leaves it out of the count) by max((output - 1) * stride + effectiveKernel - input, 0) pixels,
///   half before (rounded down) and the rest after, as Keras and TensorFlow do (PyTorch puts the odd pixel before
///   only with an explicit `F.pad`; its `padding='same'` matches for stride 1).
public enum Padding: String, Codable, Sendable {
    case valid, same

    /// The output size and the padding before, along one axis; nil when no output is left.
    func resolve(input: Int, kernel: Int, stride: Int, dilation: Int = 1) -> (output: Int, before: Int)? {
        let effective = (kernel - 1) * dilation + 1
        switch self {
        case .valid:
            guard input >= effective else { return nil }
            return ((input - effective) / stride + 1, 0)
        case .same:
            guard input >= 1 else { return nil }
            let output = (input + stride - 1) / stride
            let total = max((output - 1) * stride + effective - input, 0)
            return (output, total / 2)
        }
    }
}

extension Padding {
    /// Checks a pooling layer's settings and per-sample input [H, W, C]; returns (OH, OW, padding top, left).
    func pool(_ layer: String, inputShape: [Int], poolSize: (Int, Int), strides: (Int, Int)) throws -> (Int, Int, Int, Int) {
        for (name, v) in [("poolSize", poolSize), ("strides", strides)] where v.0 < 1 || v.1 < 1 {
            throw LSTMKitError.invalidArgument(name: "\(layer).\(name)", value: "(\(v.0), \(v.1))", reason: "must be at least 1 on both axes")
        }
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw LSTMKitError.shapeMismatch(what: "\(layer) input (per sample)", expected: "[height, width, channels], each >= 1", got: inputShape)
        }
        guard let rows = resolve(input: inputShape[0], kernel: poolSize.0, stride: strides.0),
              let columns = resolve(input: inputShape[1], kernel: poolSize.1, stride: strides.1) else {
            throw LSTMKitError.shapeMismatch(what: "\(layer) input (per sample): pool (\(poolSize.0), \(poolSize.1)) leaves no output of the \(self) input",
                                             expected: "[>= \(poolSize.0), >= \(poolSize.1), channels]", got: inputShape)
        }
        // 'same' with a stride above the pool could give windows wholly in the padding; Keras never pads that much,
        // and neither does `resolve` (padding before < pool), but check: every window must hold a pixel.
        guard rows.before < poolSize.0, columns.before < poolSize.1,
              (rows.output - 1) * strides.0 - rows.before < inputShape[0], (columns.output - 1) * strides.1 - columns.before < inputShape[1] else {
            throw LSTMKitError.shapeMismatch(what: "\(layer) input (per sample): a window holds no pixel", expected: "a larger input", got: inputShape)
        }
        guard Memory.product(inputShape) != nil else {
            throw LSTMKitError.shapeMismatch(what: "\(layer) input (per sample)", expected: "a value count that fits in Int", got: inputShape)
        }
        return (rows.output, columns.output, rows.before, columns.before)
    }
}
