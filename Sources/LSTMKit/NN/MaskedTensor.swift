/// A batch of values flowing between layers, with the valid length of each sequence when a mask applies
/// (set by `Embedding(maskZero: true)`, consumed by recurrent layers). The batch is the first dimension.
public struct MaskedTensor {
    public var tensor: Tensor
    /// Valid length of each sequence (padding on the right), or nil when every step is valid.
    public var lengths: [Int]?
    public init(_ tensor: Tensor, lengths: [Int]? = nil) {
        self.tensor = tensor
        self.lengths = lengths
    }
}
