/// The metrics of every epoch of a `fit` (Keras `History`): keys "loss", "accuracy", "val_loss", ...
public struct History: Sendable {
    public internal(set) var epochs: [[String: Double]] = []
    /// One metric over the epochs.
    public subscript(key: String) -> [Double] { epochs.compactMap { $0[key] } }
}
