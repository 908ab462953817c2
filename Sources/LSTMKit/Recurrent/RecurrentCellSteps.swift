/// What differs between recurrent cells (`LSTMCellSteps`, `GRUCellSteps`): gate and state counts, one step forward
/// and back, and the cell's own parameters. `RecurrentDriver` does everything else.
protocol RecurrentCellSteps {
    /// What one direction's forward keeps for backward beyond the buffers of `RecurrentDirection`.
    associatedtype Tape
    /// What one direction's backward carries from step to step beyond the buffers of `RecurrentDirection`.
    associatedtype Backward
    /// 4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n); W_ih and W_hh have gateCount * H rows.
    var gateCount: Int { get }
    var hiddenSize: Int { get }
    /// Each state's width, h first (the recurrent gemm's input): LSTM [R, H], GRU [H].
    var stateWidths: [Int] { get }
    /// True when gx and r must outlive the forward ([T, B, G] each; layer norm differentiates through them).
    var keepsProjections: Bool { get }

    /// After the input projection and the initial states: the cell's own preparation of one direction.
    func beginForward(_ d: RecurrentDirection) throws -> Tape
    /// The whole recurrence in one call (a persistent kernel) where the cell can; false: the driver runs the steps.
    func forwardSequence(_ d: RecurrentDirection, _ tape: Tape) throws -> Bool
    /// Recurrent dropout, or nil: the mask [B, W_h] and the recurrent gemm's input hm = h * mask [T+1, B, W_h] by step
    /// (without it, the gemm reads h).
    func recurrentDropout(_ tape: Tape) -> (mask: BufferView, hm: BufferView)?
    /// Step s after its recurrent product r: the gates, the new states and this direction's columns of y.
    func forwardStep(_ s: Int, _ d: RecurrentDirection, _ tape: Tape) throws

    /// The backward's buffers of one direction: the gradient by time that feeds dW_ih and dx before `finishBackward`.
    func beginBackward(_ d: RecurrentDirection, _ tape: Tape) throws -> (dgx: BufferView, cell: Backward)
    /// Step s: from dy and the running state gradients (each [B, W]), writes dgs[s] and the time-ordered gradient.
    func backwardStep(_ s: Int, _ d: RecurrentDirection, _ tape: Tape, _ b: Backward, dStates: [BufferView], dgx: BufferView) throws
    /// After the loop: the cell's own parameter gradients (added), and what the bias gradients are column sums of
    /// (the same buffer twice: one pass). Returns the gradient w.r.t. the raw input projection by time (dW_ih, dx).
    func finishBackward(_ d: RecurrentDirection, _ tape: Tape, _ b: Backward, dgx: BufferView)
        throws -> (dgx: BufferView, biasIH: BufferView, biasHH: BufferView)
}
