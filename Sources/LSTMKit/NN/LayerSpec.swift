/// The architecture of a layer, as stored in a saved model's JSON (`model.json`).
public struct LayerSpec: Codable, Equatable, Sendable {
    public var type: String
    public var units: Int?
    public var activation: Activation?
    public var useBias: Bool?
    public var inputDim: Int?
    public var outputDim: Int?
    public var maskZero: Bool?
    public var rate: Double?
    public var returnSequences: Bool?
    public var returnState: Bool?
    public var stateful: Bool?
    public var cellClip: Double?
    public var projSize: Int?
    public var peephole: Bool?
    public var layerNorm: Bool?
    public var recurrentDropout: Double?
    public var mergeMode: String?
    public var layer: [LayerSpec]?
    public init(type: String) { self.type = type }
}
