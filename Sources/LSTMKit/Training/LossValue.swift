/// The value of a functional loss (`Loss.compute`, `mseLoss`, ...), still on the device: `item()` reads it back
/// (and waits), as PyTorch's `loss.item()`.
public struct LossValue: Sendable {
    /// Per-row sums of the loss, on the device: `[rows]`.
    public let rowLosses: Tensor
    /// The factor that turns the sum of `rowLosses` into the mean the loss reports.
    public let scale: Double

    /// The loss as a number (waits for the device).
    public func item() throws -> Double { try rowLosses.toDoubles().reduce(0, +) * scale }
}
