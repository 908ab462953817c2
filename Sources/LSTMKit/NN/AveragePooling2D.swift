/// Average pooling over channels-last frames (Keras `AveragePooling2D`): input `[B, H, W, C]` (per sample `[H, W, C]`),
/// output `[B, OH, OW, C]`, each value the mean of its window. With `.same` padding the mean is over the pixels
/// inside the frame (Keras; PyTorch `nn.AvgPool2d(count_include_pad=False)`). `strides` defaults to `poolSize`.
/// The config, shape checks and plumbing are the pools' (`Pooling2DLayer`, `Pooling2DWindow`).
public final class AveragePooling2D: Pooling2DLayer {
    public let poolSize: (Int, Int)
    public let strides: (Int, Int)
    public let padding: Padding
    private var window = Pooling2DWindow(layer: AveragePooling2D.kerasClassName)

    public init(poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        (self.poolSize, self.strides, self.padding) = (poolSize, strides ?? poolSize, padding)
    }
    public static var kerasClassName: String { "AveragePooling2D" }

    public func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] {
        try window.build(self, inputShape: inputShape, device: device)
    }

    public func forward(_ input: MaskedTensor, training: Bool) throws -> MaskedTensor {
        try window.forward(input) { be, g, x, y in try be.avgPoolForward(g, x: x, y: y) }
    }

    public func backward(_ dy: Tensor) throws -> Tensor? {
        try window.backward(dy) { be, g, dy, dx in try be.avgPoolBackward(g, dy: dy, dx: dx) }
    }
}
