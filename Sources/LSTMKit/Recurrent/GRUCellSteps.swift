/// The GRU cell for `RecurrentDriver`: gates r, z, n (PyTorch's order, n = tanh(W_in x + b_in + r * (W_hn h + b_hn))),
/// one state h [H]. B = batch, T = time steps, H = hidden size, G = 3H.
struct GRUCellSteps: RecurrentCellSteps {
    let hiddenSize: Int
    /// Kinds of Kernels/common.cl `lstmkit_act` for n, and for r and z.
    let activation: Int, recurrentActivation: Int

    var gateCount: Int { 3 }
    var stateWidths: [Int] { [hiddenSize] }
    var keepsProjections: Bool { false }

    func beginForward(_ d: RecurrentDirection) throws {}
    func forwardSequence(_ d: RecurrentDirection, _ tape: Void) throws -> Bool { false }
    func recurrentDropout(_ tape: Void) -> (mask: BufferView, hm: BufferView)? { nil }

    func forwardStep(_ s: Int, _ d: RecurrentDirection, _ tape: Void) throws {
        try d.device.gru.gruCellForward(batch: d.batch, hidden: hiddenSize, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                        gx: d.gx, gh: d.r, biasIH: d.weights.bih, biasHH: d.weights.bhh, hs: d.states[0], gates: d.gates,
                                        y: d.y, ldy: d.ldy, activation: activation, recurrentActivation: recurrentActivation)
    }

    /// dgx: w.r.t. the input projection by time (the cell writes it at every step).
    func beginBackward(_ d: RecurrentDirection, _ tape: Void) throws -> (dgx: BufferView, cell: Void) {
        (BufferView(try d.workspace("dat", d.steps * d.batch * 3 * hiddenSize)), ())
    }

    func backwardStep(_ s: Int, _ d: RecurrentDirection, _ tape: Void, _ b: Void, dStates: [BufferView], dgx: BufferView) throws {
        try d.device.gru.gruCellBackward(batch: d.batch, hidden: hiddenSize, steps: d.steps, step: s, reverse: d.reverse, lengths: d.lengths,
                                         gates: d.gates, hs: d.states[0], dy: d.y, lddy: d.ldy, dh: dStates[0], dgh: d.dgs!, dgx: dgx,
                                         activation: activation, recurrentActivation: recurrentActivation)
    }

    /// b_ih's gradient sums dgx, b_hh's sums dgh (= dgs: r * (W_hn h + b_hn) puts them apart for n).
    func finishBackward(_ d: RecurrentDirection, _ tape: Void, _ b: Void, dgx: BufferView)
        throws -> (dgx: BufferView, biasIH: BufferView, biasHH: BufferView) {
        (dgx, dgx, d.dgs!)
    }
}
