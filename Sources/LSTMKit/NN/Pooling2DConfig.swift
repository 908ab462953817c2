/// Keras's MaxPooling2D and AveragePooling2D config keys (the `Config` of both; see `Pooling2DLayer`).
public struct Pooling2DConfig: Codable, Equatable, Sendable {
    public var poolSize: [Int]
    public var strides: [Int]
    public var padding: Padding
    enum CodingKeys: String, CodingKey { case poolSize = "pool_size", strides, padding }
    public init(poolSize: [Int], strides: [Int], padding: Padding) { self.poolSize = poolSize; self.strides = strides; self.padding = padding }
}
