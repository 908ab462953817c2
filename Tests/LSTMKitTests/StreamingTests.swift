import XCTest
@testable import LSTMKit

/// The streaming API (`initialState(batch:)`, `step(_:state:)`) against the full forward, on both devices.
///
/// Tolerances: a step computes the same equations as the forward, but its products are summed in another order
/// (the CPU's packed step product and OpenCL's per-unit dot product against the forward's gemms; after an
/// Embedding the biases are added into the input-projection table), so the two differ by float32 rounding:
/// a few ulps per product of 8-24 terms, carried through <= 7 steps of the recurrence; atol 2e-5 on values of
/// order 1 covers that with room, and a wrong gate, state or order would be off by 1e-2 or more.
/// Independent streams and saved states are compared bit for bit: the same rows see the same arithmetic.
final class StreamingTests: XCTestCase {
    let tolerance = 2e-5

    /// Embedding -> LSTM -> Dense(softmax) (the char-LM shape), and with a GRU: stepping token by token equals
    /// `forward` at every step.
    func testSequentialStepMatchesForward() throws {
        try onBothDevices { device in
            for recurrent in [LSTMLayer(units: 20, returnSequences: true), GRULayer(units: 12, returnSequences: true)] as [RecurrentLayer] {
                let (B, T, V) = (3, 7, 23)
                let model = Sequential([Embedding(inputDim: V, outputDim: 8), recurrent, Dense(units: 6, activation: .softmax)],
                                       device: device, seed: 5)
                try model.build(inputShape: [T])
                let ids = (0..<(B * T)).map { Float(($0 * 7 + 3) % V) }
                let full = try model.forward(MaskedTensor(try Tensor(shape: [B, T], values: ids, device: device)), training: false).tensor.toArray()
                var state = try model.initialState(batch: B)
                var out: [Float] = []
                for t in 0..<T {
                    try model.step((0..<B).map { ids[$0 * T + t] }, state: &state, output: &out)
                    var expected: [Double] = []
                    for b in 0..<B { let start: Int = (b * T + t) * 6; expected += full[start..<(start + 6)].map(Double.init) }
                    assertClose(out.map(Double.init), expected, atol: tolerance, "\(device) \(recurrent.cell) step \(t)")
                }
            }
        }
    }

    /// The cores: a 2-layer LSTM with peepholes and cell clipping (the fused step), a projection LSTM and a 2-layer
    /// GRU (their own forward, T = 1); h_t of each step equals the forward's output at t, and the final state h_n.
    func testCoreStepsMatchForward() throws {
        try onBothDevices { device in
            let (B, T, I) = (4, 5, 6)
            let cores: [(String, RecurrentCore)] = [
                ("lstm peephole clip", try LSTM(inputSize: I, hiddenSize: 18, numLayers: 2, peephole: true, cellClip: 0.7, device: device, seed: 3)),
                ("lstm proj", try LSTM(inputSize: I, hiddenSize: 10, projSize: 4, device: device, seed: 4)),
                ("gru", try GRU(inputSize: I, hiddenSize: 9, numLayers: 2, device: device, seed: 5)),
            ]
            let x = randomValues(T * B * I, seed: 9).map { Float($0) }
            for (name, core) in cores {
                core.training = false
                let (y, states) = try core.forward(try Tensor(shape: [T, B, I], values: x, device: device), lengths: nil, initialStates: nil)
                let full = try y.toArray(), W = y.shape[2]
                var state = try (core as? LSTM)?.initialState(batch: B) ?? (core as! GRU).initialState(batch: B)
                for t in 0..<T {
                    let xt = try Tensor(shape: [B, I], values: Array(x[(t * B * I)..<((t + 1) * B * I)]), device: device)
                    let h = try (core as? LSTM)?.step(xt, state: &state) ?? (core as! GRU).step(xt, state: &state)
                    assertClose(try h.toArray().map(Double.init), full[(t * B * W)..<((t + 1) * B * W)].map(Double.init), atol: tolerance,
                                "\(device) \(name) step \(t)")
                }
                assertClose(try state.tensors[0][0].toArray().map(Double.init), try states[0].toArray().map(Double.init), atol: tolerance,
                            "\(device) \(name) h_n")
            }
        }
    }

    /// Rows are independent streams: changing stream 1's input changes no bit of streams 0 and 2, and
    /// `reset(sequence:)` restarts stream 1 alone (it then equals a fresh batch-1 stream, within rounding).
    func testIndependentStreams() throws {
        try onBothDevices { device in
            let V = 11
            let model = Sequential([Embedding(inputDim: V, outputDim: 5), LSTMLayer(units: 16, returnSequences: true),
                                    LSTMLayer(units: 8, returnSequences: true), Dense(units: 4)], device: device, seed: 8)
            try model.build(inputShape: [3])
            func run(_ tokens: [[Float]], resetAt: Int? = nil) throws -> [[Float]] {
                var state = try model.initialState(batch: tokens[0].count)
                var out: [Float] = [], all: [[Float]] = []
                for (t, row) in tokens.enumerated() {
                    if t == resetAt { try state.reset(sequence: 1) }
                    try model.step(row, state: &state, output: &out)
                    all.append(out)
                }
                return all
            }
            let a: [[Float]] = (0..<6).map { t in [Float(t % V), Float((t * 3 + 1) % V), Float((t * 5 + 2) % V)] }
            var b = a
            for t in b.indices { b[t][1] = Float((t * 7 + 4) % V) }
            let ra = try run(a), rb = try run(b)
            for t in a.indices {
                XCTAssertEqual(Array(ra[t][0..<4]), Array(rb[t][0..<4]), "\(device) stream 0 at step \(t) changed with stream 1")
                XCTAssertEqual(Array(ra[t][8..<12]), Array(rb[t][8..<12]), "\(device) stream 2 at step \(t) changed with stream 1")
            }
            XCTAssertNotEqual(Array(ra[5][4..<8]), Array(rb[5][4..<8]), "\(device) stream 1 must differ")
            // Reset stream 1 at step 3: from there it is a fresh stream fed a[3...][1].
            let reset = try run(a, resetAt: 3)
            let fresh = try run((3..<6).map { [a[$0][1]] })
            for t in 3..<6 {
                assertClose(reset[t][4..<8].map(Double.init), fresh[t - 3].map(Double.init), atol: tolerance, "\(device) reset stream 1 step \(t)")
                XCTAssertEqual(Array(reset[t][0..<4]), Array(ra[t][0..<4]), "\(device) reset touched stream 0")
            }
        }
    }

    /// The char-LM shape at batch 32, where the CPU splits the LSTM step and the Dense head's rows over threads:
    /// every stream equals the same stream run alone at batch 1 (within rounding), so no row is skipped or mixed.
    func testWideBatchStepsMatchSingleStreams() throws {
        try onBothDevices { device in
            let V = 20, B = 32, T = 3
            let model = Sequential([Embedding(inputDim: V, outputDim: 32), LSTMLayer(units: 256, returnSequences: true),
                                    Dense(units: 84, activation: .softmax)], device: device, seed: 12)
            try model.build(inputShape: [T])
            let tokens: [[Float]] = (0..<T).map { t in (0..<B).map { Float((t * 7 + $0 * 3) % V) } }
            var state = try model.initialState(batch: B)
            var out: [Float] = [], wide: [[Float]] = []
            for row in tokens { try model.step(row, state: &state, output: &out); wide.append(out) }
            for b in [0, 5, 15, 16, 31] {
                var single = try model.initialState(batch: 1)
                for t in 0..<T {
                    try model.step([tokens[t][b]], state: &single, output: &out)
                    assertClose(wide[t][(b * 84)..<((b + 1) * 84)].map(Double.init), out.map(Double.init), atol: tolerance,
                                "\(device) stream \(b) step \(t)")
                }
            }
        }
    }

    /// A saved state (`copy()`) resumes bit for bit: steps after `restore(from:)` repeat the same bits.
    func testSavedStateResumesBitExactly() throws {
        try onBothDevices { device in
            for recurrent in [LSTMLayer(units: 24, returnSequences: true), GRULayer(units: 10, returnSequences: true)] as [RecurrentLayer] {
                let model = Sequential([Embedding(inputDim: 9, outputDim: 4), recurrent, Dense(units: 9, activation: .softmax)],
                                       device: device, seed: 2)
                try model.build(inputShape: [1])
                var state = try model.initialState(batch: 2)
                var out: [Float] = []
                for t in 0..<4 { try model.step([Float(t % 9), Float((t + 4) % 9)], state: &state, output: &out) }
                let saved = try state.copy()
                var first: [[Float]] = []
                for t in 0..<5 { try model.step([Float((t * 2) % 9), Float((t + 1) % 9)], state: &state, output: &out); first.append(out) }
                try state.restore(from: saved)
                for t in 0..<5 {
                    try model.step([Float((t * 2) % 9), Float((t + 1) % 9)], state: &state, output: &out)
                    XCTAssertEqual(out, first[t], "\(device) \(recurrent.cell): step \(t) after restore")
                }
                XCTAssertNotEqual(first[0], first[4], "the steps must differ for the test to mean something")
            }
        }
    }

    /// Bad input is a typed error: a token id out of range, a wrong input width, a bidirectional layer.
    func testStreamingBadInput() throws {
        let model = Sequential([Embedding(inputDim: 5, outputDim: 3), LSTMLayer(units: 4)], device: .cpu, seed: 1)
        try model.build(inputShape: [2])
        var state = try model.initialState(batch: 2)
        var out: [Float] = []
        XCTAssertThrowsError(try model.step([1, 5], state: &state, output: &out)) { error in
            guard case LSTMKitError.invalidArgument(let name, let value, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "token id of stream 1"); XCTAssertEqual(value, "5.0")
        }
        XCTAssertThrowsError(try model.step([1], state: &state, output: &out)) { error in
            guard case LSTMKitError.shapeMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try state.reset(sequence: 2))
        let bi = Sequential([Embedding(inputDim: 5, outputDim: 3), Bidirectional(LSTMLayer(units: 4))], device: .cpu, seed: 1)
        try bi.build(inputShape: [2])
        XCTAssertThrowsError(try bi.initialState(batch: 1)) { error in
            guard case LSTMKitError.invalidArgument(let name, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "Bidirectional")
        }
    }
}
