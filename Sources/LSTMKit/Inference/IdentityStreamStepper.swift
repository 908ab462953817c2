/// A layer that is the identity at inference (`Dropout`): the step returns its input.
final class IdentityStreamStepper: StreamStepper {
    let outputWidth: Int
    init(width: Int) { outputWidth = width }
    func initialState() throws -> [Tensor] { [] }
    func step(_ x: BufferView, state: inout [Tensor]) throws -> BufferView { x }
}
