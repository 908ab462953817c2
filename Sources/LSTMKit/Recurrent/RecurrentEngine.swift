/// `RecurrentDriver` without its cell type, as `RNNBase` holds it (see `RecurrentDriver` for the shapes).
protocol RecurrentEngine: AnyObject {
    var workspace: RecurrentWorkspace { get }
    func forward(_ input: Tensor, lengths: [Int]?, initialStates: [Tensor]?, training: Bool) throws -> (output: Tensor, states: [Tensor])
    func backward(gradOutput: Tensor?, gradStates: [Tensor?], inputGradient: Bool) throws -> (input: Tensor?, states: [Tensor])
}
