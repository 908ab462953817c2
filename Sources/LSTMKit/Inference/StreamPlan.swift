/// How a model runs one time step: one `StreamStepper` per stepping layer, with its prepared weights and its
/// output buffer, made once by `initialState(batch:)` and used by every `step` of that state. A step allocates
/// nothing: the steppers write into their own buffers (and, on OpenCL, swap state buffers with `spare`).
final class StreamPlan {
    let device: Device
    let batch: Int
    let steppers: [StreamStepper]
    /// Features per step of the input (1 for token ids), and per step of the output.
    let inputWidth: Int, outputWidth: Int
    /// With token ids as input: the vocabulary size, for checking them.
    let vocabulary: Int?
    /// The input of the host-array `step` (written there), [B, inputWidth].
    private var hostInput: DeviceBuffer?

    init(device: Device, batch: Int, steppers: [StreamStepper], inputWidth: Int, vocabulary: Int?) throws {
        guard batch >= 1 else { throw LSTMKitError.invalidArgument(name: "batch", value: "\(batch)", reason: "must be at least 1") }
        guard let last = steppers.last else {
            throw LSTMKitError.invalidArgument(name: "initialState", value: "no layers", reason: "the model has no layer to step")
        }
        self.device = device
        self.batch = batch
        self.steppers = steppers
        self.inputWidth = inputWidth
        outputWidth = last.outputWidth
        self.vocabulary = vocabulary
    }

    func initialState() throws -> StreamState {
        StreamState(batch: batch, tensors: try steppers.map { try $0.initialState() }, plan: self)
    }

    /// Checks host token ids (whole numbers in 0..<vocabulary).
    func checkIDs(_ ids: UnsafeBufferPointer<Float>) throws {
        guard let vocabulary else { return }
        for (i, v) in ids.enumerated() where !(v >= 0 && v < Float(vocabulary) && v == v.rounded()) {
            throw LSTMKitError.invalidArgument(name: "token id of stream \(i)", value: "\(v)", reason: "ids must be whole numbers in 0..<\(vocabulary)")
        }
    }

    /// One step on x [B, inputWidth] (device); returns the last stepper's output view [B, outputWidth], valid
    /// until the next step of this plan.
    func run(_ x: BufferView, state: inout StreamState) throws -> BufferView {
        guard state.plan === self else {
            throw LSTMKitError.invalidArgument(name: "state", value: "a state of another model", reason: "use a state from this model's initialState(batch:)")
        }
        var v = x
        for (i, s) in steppers.enumerated() { v = try s.step(v, state: &state.tensors[i]) }
        return v
    }

    /// The public Tensor form: checks x's shape (and ids), runs the step, and returns a fresh tensor.
    func step(_ x: Tensor, state: inout StreamState) throws -> Tensor {
        let expected = vocabulary != nil ? [[batch], [batch, 1]] : [[batch, inputWidth]]
        guard expected.contains(x.shape) else {
            throw LSTMKitError.shapeMismatch(what: "step input", expected: expected.map { "\($0)" }.joined(separator: " or "), got: x.shape)
        }
        guard x.device == device else {
            throw LSTMKitError.deviceMismatch(what: "step input", expected: device.description, got: x.device.description)
        }
        if vocabulary != nil { try x.toArray().withUnsafeBufferPointer { try checkIDs($0) } }
        let y = try run(x.view, state: &state)
        let out = try device.backend.allocate(batch * outputWidth)
        try device.backend.copy(y, to: BufferView(out), count: batch * outputWidth)
        return Tensor(shape: [batch, outputWidth], view: BufferView(out), device: device)
    }

    /// The host form: input [B * inputWidth] values in, output [B * outputWidth] values written into `output`
    /// (resized once); no allocation after the first call.
    func step(_ input: [Float], state: inout StreamState, output: inout [Float]) throws {
        guard input.count == batch * inputWidth else {
            throw LSTMKitError.shapeMismatch(what: "step input values", expected: "\(batch * inputWidth) values ([\(batch), \(inputWidth)])",
                                             got: [input.count])
        }
        try input.withUnsafeBufferPointer { try checkIDs($0) }
        if hostInput == nil { hostInput = try device.backend.allocate(batch * inputWidth) }
        let be = device.inference
        try input.withUnsafeBufferPointer { try be.writeHost($0, to: BufferView(hostInput!)) }
        let y = try run(BufferView(hostInput!), state: &state)
        if output.count != batch * outputWidth { output = [Float](repeating: 0, count: batch * outputWidth) }
        try output.withUnsafeMutableBufferPointer { try be.readHost(y, into: $0) }
    }
}

/// One layer's part of a `StreamPlan`.
protocol StreamStepper: AnyObject {
    /// Features of the output per stream.
    var outputWidth: Int { get }
    /// The layer's state at the start (zeros), each tensor [K, B, W]; empty when it has none.
    func initialState() throws -> [Tensor]
    /// One step: x [B, input width] -> the output [B, outputWidth] (a buffer of the stepper's own, or x).
    func step(_ x: BufferView, state: inout [Tensor]) throws -> BufferView
}
