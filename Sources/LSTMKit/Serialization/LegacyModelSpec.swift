/// A version 1 model.json (`{"format": "lstmkit.sequential", "version": 1, "inputShape": [...], "seed": 7,
/// "layers": [{"type": "LSTM", ...}]}`), as LSTMKit wrote it before version 2. Read only (`ModelSpec.decode`).
struct LegacyModelSpec: Decodable {
    var inputShape: [Int]
    var seed: UInt64
    var layers: [LegacyLayerSpec]
}
