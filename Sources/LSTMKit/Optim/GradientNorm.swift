/// What `Optimizer.step` returns: the global L2 norm of all the gradients it read, before clipping (as
/// `torch.nn.utils.clip_grad_norm_` returns it). The squared norms stay on the device; `value()` reads them back.
public struct GradientNorm: @unchecked Sendable {
    let squares: DeviceBuffer?
    let count: Int
    let device: Device?

    /// sqrt(sum over every parameter buffer of its squared gradient norm); waits for the device. 0 when there were no parameters.
    public func value() throws -> Double {
        guard let squares, let device else { return 0 }
        return try device.backend.readDoubles(BufferView(squares), count: count).reduce(0, +).squareRoot()
    }
}
