/// The inference path of a `Sequential` (`predict`, `evaluate`): each layer's `inferenceForward` where it has one
/// (no tape), else its forward with `training: false`.
extension Sequential: InferenceLayer {
    func inferenceForward(_ x: MaskedTensor) throws -> MaskedTensor {
        var value = x
        for layer in layers { value = try layer.inferenceOrForward(value) }
        return value
    }
}
