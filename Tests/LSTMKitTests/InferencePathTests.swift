import XCTest
@testable import LSTMKit

/// The inference path (`predict`, `evaluate`: `LSTMInference`, no tape) against the training forward.
///
/// No tolerance: the inference path runs the same gemms, in the same order, and a cell kernel with the same
/// arithmetic as the training cell (Sources/CInference mirrors Sources/CLSTMCell; Kernels/inference.cl mirrors
/// lstm_cell.cl and is built with its defines), so the results are the same bits on the CPU and on PoCL (README
/// "Inference"). A GPU whose training forward takes the persistent kernel is not covered by this promise.
final class InferencePathTests: XCTestCase {
    /// A core with two layers, both directions, peepholes, cell clipping and variable lengths, time-major.
    func testCoreInferenceForwardIsTheTrainingForwardBitForBit() throws {
        try onBothDevices { device in
            let (T, B, I) = (6, 5, 7)
            for batchFirst in [false, true] {
                let lstm = try LSTM(inputSize: I, hiddenSize: 19, numLayers: 2, batchFirst: batchFirst, bidirectional: true,
                                    peephole: true, cellClip: 0.9, device: device, seed: 11)
                lstm.training = false
                let shape = batchFirst ? [B, T, I] : [T, B, I]
                let x = try Tensor(shape: shape, values: randomValues(T * B * I, seed: 3).map { Float($0) }, device: device)
                let lengths = [6, 2, 5, 1, 6]
                let (y, (h, c)) = try lstm.forward(x, lengths: lengths)
                let inference = try LSTMInference.forward(lstm, x, lengths: lengths, lastOnly: false)
                XCTAssertEqual(inference.output!.shape, y.shape)
                XCTAssertEqual(try inference.output!.toArray(), try y.toArray(), "\(device) batchFirst \(batchFirst): output")
                XCTAssertEqual(try inference.h.toArray(), try h.toArray(), "\(device) batchFirst \(batchFirst): h_n")
                XCTAssertEqual(try inference.c.toArray(), try c.toArray(), "\(device) batchFirst \(batchFirst): c_n")
            }
        }
    }

    /// `predict` (the inference path) gives `forward(training: false)`'s bits for Keras models: masking, a
    /// Bidirectional with each merge mode, stacked LSTMs, and the GRU and projection layers that fall back.
    func testPredictIsTheTrainingForward() throws {
        try onBothDevices { device in
            let (N, T, V) = (9, 8, 13)
            var ids: [Float] = []
            for n in 0..<N {
                let length = 1 + (n * 5) % T
                ids += (0..<T).map { $0 < length ? Float(1 + (n * 3 + $0 * 7) % (V - 1)) : 0 }
            }
            let models: [(String, [Layer])] = [
                ("concat", [Embedding(inputDim: V, outputDim: 6, maskZero: true), Bidirectional(LSTMLayer(units: 10, returnSequences: true)),
                            LSTMLayer(units: 7, peephole: true), Dense(units: 4, activation: .softmax)]),
                ("sum", [Embedding(inputDim: V, outputDim: 6, maskZero: true), Bidirectional(LSTMLayer(units: 9), mergeMode: .sum),
                         Dense(units: 3)]),
                ("sequences", [Embedding(inputDim: V, outputDim: 5), LSTMLayer(units: 12, returnSequences: true, cellClip: 0.5),
                               TimeDistributed(Dense(units: 2, activation: .tanh))]),
                ("gru+proj", [Embedding(inputDim: V, outputDim: 5, maskZero: true), GRULayer(units: 6, returnSequences: true),
                              LSTMLayer(units: 8, projSize: 3), Dense(units: 2)]),
            ]
            for (name, layers) in models {
                let model = Sequential(layers, device: device, seed: 21)
                let x = try DataArray(shape: [N, T], values: ids)
                let predicted = try model.predict(x, batchSize: 4)
                var expected: [Float] = []
                for start in stride(from: 0, to: N, by: 4) {
                    let rows = x.rows(start..<min(start + 4, N))
                    let mask = try (model.layers[0] as! Embedding).validate(ids: rows.values, rows: rows.count, steps: T)
                    let t = try Tensor(shape: rows.shape, values: rows.values, device: device)
                    var input = MaskedTensor(t, lengths: mask?.lengths)
                    input.starts = mask?.starts
                    expected += try model.forward(input, training: false).tensor.toArray()
                }
                XCTAssertEqual(predicted.values, expected, "\(device) \(name)")
            }
        }
    }
}
