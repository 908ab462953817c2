/// One layer and direction as `RecurrentDriver` hands it to a cell (B = batch, T = time steps, G = gates * H).
struct RecurrentDirection {
    /// layer * D + direction: the index of this direction's states in h0, h_n, ...
    let index: Int
    let reverse: Bool
    let steps: Int, batch: Int
    /// The sequence lengths [B] (Int32).
    let lengths: DeviceBuffer
    let weights: RecurrentParameters.Weights
    /// Forward: this direction's columns of the layer output y [T, B, ldy]; backward: of dy.
    let y: BufferView, ldy: Int
    let device: Device
    let workspace: RecurrentWorkspace
    let training: Bool
    var backend: Backend { device.backend }
}
