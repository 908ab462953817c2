/// A layer with a forward of its own for inference (no backward follows: `predict`, `evaluate`), which keeps no
/// tape. Layers without one run `forward(_:training: false)`.
protocol InferenceLayer {
    func inferenceForward(_ x: MaskedTensor) throws -> MaskedTensor
}

extension Layer {
    /// `inferenceForward` where the layer has one, else `forward(_:training: false)`.
    func inferenceOrForward(_ x: MaskedTensor) throws -> MaskedTensor {
        if let layer = self as? InferenceLayer { return try layer.inferenceForward(x) }
        return try forward(x, training: false)
    }
}
