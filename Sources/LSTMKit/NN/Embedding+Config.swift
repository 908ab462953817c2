extension Embedding: ConfigurableLayer {
    /// Keras `Embedding`'s config: `{"input_dim": 1000, "output_dim": 32, "mask_zero": true}` (mask_zero may be
    /// left out: false).
    public struct Config: Codable, Equatable, Sendable {
        public var inputDim: Int
        public var outputDim: Int
        public var maskZero: Bool

        public init(inputDim: Int, outputDim: Int, maskZero: Bool = false) {
            self.inputDim = inputDim
            self.outputDim = outputDim
            self.maskZero = maskZero
        }

        enum CodingKeys: String, CodingKey {
            case inputDim = "input_dim", outputDim = "output_dim", maskZero = "mask_zero"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            inputDim = try c.decode(Int.self, forKey: .inputDim)
            outputDim = try c.decode(Int.self, forKey: .outputDim)
            maskZero = try c.decodeIfPresent(Bool.self, forKey: .maskZero) ?? false
        }
    }

    public static var kerasClassName: String { "Embedding" }
    public var config: Config { Config(inputDim: inputDim, outputDim: outputDim, maskZero: maskZero) }
    public convenience init(config: Config) throws {
        self.init(inputDim: config.inputDim, outputDim: config.outputDim, maskZero: config.maskZero)
    }
}

extension Embedding.Config: CheckedLayerConfig {
    /// `[T]` token ids to `[T, output_dim]`; weight `[input_dim, output_dim]`.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        try check.dimension(inputDim, "input_dim")
        try check.dimension(outputDim, "output_dim")
        try check.requireRank(inputShape, 1, "[T] token ids")
        try check.addParameters([[inputDim, outputDim]])
        return inputShape + [outputDim]
    }
}
