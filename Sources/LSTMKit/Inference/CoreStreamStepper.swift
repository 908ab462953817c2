/// A recurrent core for one step through its own forward with T = 1 (inference mode): every variant the core has
/// (GRU, an LSTM with a projection or layer norm), at the cost of the training forward's launches per step.
/// One direction only: a bidirectional layer needs the whole sequence.
final class CoreStreamStepper: StreamStepper {
    let core: RecurrentCore
    let device: Device, batch: Int, inputWidth: Int, outputWidth: Int, batchFirst: Bool
    /// The state shapes: LSTM h [L, B, R], c [L, B, H]; GRU h [L, B, H].
    let stateShapes: [[Int]]

    init(_ core: RecurrentCore, batch: Int) throws {
        self.core = core
        self.batch = batch
        if let lstm = core as? LSTM {
            guard lstm.numDirections == 1 else { throw Self.bidirectional() }
            device = lstm.device; inputWidth = lstm.inputSize; outputWidth = lstm.outputSize; batchFirst = lstm.batchFirst
            stateShapes = [[lstm.numLayers, batch, lstm.outputSize], [lstm.numLayers, batch, lstm.hiddenSize]]
        } else if let gru = core as? GRU {
            guard gru.numDirections == 1 else { throw Self.bidirectional() }
            device = gru.device; inputWidth = gru.inputSize; outputWidth = gru.hiddenSize; batchFirst = gru.batchFirst
            stateShapes = [[gru.numLayers, batch, gru.hiddenSize]]
        } else {
            throw LSTMKitError.invalidArgument(name: "core", value: "\(type(of: core))", reason: "only LSTM and GRU cores can be stepped")
        }
    }

    static func bidirectional() -> LSTMKitError {
        .invalidArgument(name: "Bidirectional", value: "bidirectional: true",
                         reason: "the reverse direction needs the whole sequence, so a bidirectional layer cannot be stepped")
    }

    func initialState() throws -> [Tensor] { try stateShapes.map { try Tensor.zeros($0, device: device) } }

    func step(_ x: BufferView, state: inout [Tensor]) throws -> BufferView {
        let xt = Tensor(shape: batchFirst ? [batch, 1, inputWidth] : [1, batch, inputWidth], view: x, device: device)
        let was = core.training
        core.training = false
        defer { core.training = was }
        let (y, states) = try core.forward(xt, lengths: nil, initialStates: state)
        state = states
        return y.view
    }
}
