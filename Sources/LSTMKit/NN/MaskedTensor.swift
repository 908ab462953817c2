/// A batch of values flowing between layers, with the valid length of each sequence when a mask applies
/// (set by `Embedding(maskZero: true)` and `Masking`, consumed by recurrent layers). The batch is the first dimension.
/// Sequence b's valid steps are `starts[b] ..< starts[b] + lengths[b]` (padding on the left, the right or both).
public struct MaskedTensor {
    public var tensor: Tensor
    /// Valid length of each sequence, or nil when every step is valid.
    public var lengths: [Int]?
    /// The first valid step of each sequence (left padding), or nil when every sequence starts at step 0.
    public var starts: [Int]? = nil
    public init(_ tensor: Tensor, lengths: [Int]? = nil) {
        self.tensor = tensor
        self.lengths = lengths
    }
}
