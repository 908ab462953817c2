/// What the Keras-style recurrent layers need from a core network (`LSTM`, `GRU`): forward and backward over
/// a list of states (LSTM: h and c; GRU: h), each `[L*D, B, H]`.
public protocol RecurrentCore: ParameterOwner, StateDictLayer {
    var training: Bool { get set }
    /// The number of state tensors: 2 for an LSTM (h, c), 1 for a GRU (h).
    var stateCount: Int { get }
    func forward(_ input: Tensor, lengths: [Int]?, initialStates: [Tensor]?) throws -> (output: Tensor, states: [Tensor])
    /// Returns the gradient w.r.t. the input (initial-state gradients are dropped: Keras layers start from zeros
    /// or from a carried state whose gradient is cut).
    func backward(gradOutput: Tensor?, gradStates: [Tensor?]) throws -> Tensor
    /// As above; with `inputGradient: false` the input gradient is skipped and nil is returned.
    func backward(gradOutput: Tensor?, gradStates: [Tensor?], inputGradient: Bool) throws -> Tensor?
}

extension RecurrentCore {
    /// Sets every gradient to zero.
    public func zeroGrad() throws {
        for b in parameterBuffers { try b.gradients.device.backend.fill(b.gradients.view, count: b.gradients.count, value: 0) }
    }
}

extension LSTM: RecurrentCore {
    public var stateCount: Int { 2 }
    public func forward(_ input: Tensor, lengths: [Int]?, initialStates: [Tensor]?) throws -> (output: Tensor, states: [Tensor]) {
        let (y, (h, c)) = try forward(input, lengths: lengths, initialState: initialStates.map { ($0[0], $0[1]) })
        return (y, [h, c])
    }
    public func backward(gradOutput: Tensor?, gradStates: [Tensor?]) throws -> Tensor {
        try backward(gradOutput: gradOutput, gradStates: gradStates, inputGradient: true)!
    }
    public func backward(gradOutput: Tensor?, gradStates: [Tensor?], inputGradient: Bool) throws -> Tensor? {
        try backward(gradOutput: gradOutput, gradH: gradStates.first ?? nil, gradC: gradStates.count > 1 ? gradStates[1] : nil,
                     inputGradient: inputGradient).input
    }
}

extension GRU: RecurrentCore {
    public var stateCount: Int { 1 }
    public func forward(_ input: Tensor, lengths: [Int]?, initialStates: [Tensor]?) throws -> (output: Tensor, states: [Tensor]) {
        let (y, h) = try forward(input, lengths: lengths, initialState: initialStates?.first)
        return (y, [h])
    }
    public func backward(gradOutput: Tensor?, gradStates: [Tensor?]) throws -> Tensor {
        try backward(gradOutput: gradOutput, gradStates: gradStates, inputGradient: true)!
    }
    public func backward(gradOutput: Tensor?, gradStates: [Tensor?], inputGradient: Bool) throws -> Tensor? {
        try backward(gradOutput: gradOutput, gradH: gradStates.first ?? nil, inputGradient: inputGradient).input
    }
}
