/// Max pooling over channels-last frames (Keras `MaxPooling2D`): input `[B, H, W, C]` (per sample `[H, W, C]`),
/// output `[B, OH, OW, C]`, each value the maximum of its window (the first maximum on ties, as PyTorch's
/// `nn.MaxPool2d`; with `.same` padding the padded pixels are ignored). `strides` defaults to `poolSize`.
/// The config, shape checks and plumbing are the pools' (`Pooling2DLayer`, `Pooling2DWindow`).
public final class MaxPooling2D: Pooling2DLayer {
    public let poolSize: (Int, Int)
    public let strides: (Int, Int)
    public let padding: Padding
    private var window = Pooling2DWindow(layer: MaxPooling2D.kerasClassName)
    /// The positions of the last forward pass's maxima, for the backward pass.
    private var arg: BufferView?

    public init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        (self.poolSize, self.strides, self.padding) = (poolSize, strides ?? poolSize, padding)
    }
    public static var kerasClassName: String { "MaxPooling2D" }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        try window.build(self, inputShape: inputShape, device: device)
    }

    public func forward(_ input: MaskedTensor, training: Bool) throws -> MaskedTensor {
        try window.forward(input) { be, g, x, y in
            let a = BufferView(try be.allocate(g.outputCount))
            try be.maxPoolForward(g, x: x, y: y, arg: a)
            arg = a
        }
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        guard let arg else { throw LSTMKitError.noForwardPass }
        return try window.backward(dy) { be, g, dy, dx in try be.maxPoolBackward(g, dy: dy, arg: arg, dx: dx) }
    }
}
