/// The buffers of one layer and direction that `RecurrentDriver` owns and hands to a cell
/// (B = batch, T = time steps, G = gates * H, W = a state's width).
struct RecurrentBuffers {
    /// The input projection x . W_ih^T, [T, B, G] by time.
    let gx: DeviceBuffer
    /// The recurrent products h_{s-1} . W_hh^T: [B, G], or [T, B, G] by step when the cell keeps them.
    let r: DeviceBuffer
    /// The states, h first, each [T+1, B, W] by step; [0] holds the initial state.
    let states: [DeviceBuffer]
    /// What the cell keeps of its gates, [T, B, gateTapeWidth] by step.
    let gates: DeviceBuffer
    /// Backward: the gradient w.r.t. r, [T, B, G] by step (dW_hh, and dh through W_hh).
    var dgs: DeviceBuffer? = nil
}
