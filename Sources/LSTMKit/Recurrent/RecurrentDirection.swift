/// One layer and direction as `RecurrentDriver` hands it to a cell, with the buffers the driver owns for it
/// (B = batch, T = time steps, G = gates * H, W = a state's width). The forward's copy stays on the tape; backward
/// points `y` at dy and adds `dgs`.
struct RecurrentDirection {
    /// layer * D + direction: the index of this direction's states in h0, h_n, ...
    let index: Int
    let reverse: Bool
    let steps: Int, batch: Int
    /// The sequence lengths [B] (Int32).
    let lengths: DeviceBuffer
    let weights: RecurrentParameters.Weights
    /// Forward: this direction's columns of the layer output y [T, B, ldy]; backward: of dy.
    var y: BufferView
    let ldy: Int
    let device: Device, workspace: RecurrentWorkspace, training: Bool
    /// The input projection x . W_ih^T, [T, B, G] by time.
    let gx: BufferView
    /// The recurrent products h_{s-1} . W_hh^T: [B, G], or [T, B, G] by step when the cell keeps them.
    let r: BufferView
    /// The states, h first, each [T+1, B, W] by step; [0] holds the initial state.
    let states: [BufferView]
    /// What the cell keeps of its gates, [T, B, 4H] by step (LSTM: i, f, g, o; GRU: r, z, n and W_hn h + b_hn).
    let gates: BufferView
    /// Backward: the gradient w.r.t. r, [T, B, G] by step (dW_hh, and dh through W_hh).
    var dgs: BufferView? = nil
    var backend: Backend { device.backend }
}
