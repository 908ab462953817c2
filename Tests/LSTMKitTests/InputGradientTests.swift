import XCTest
@testable import LSTMKit

/// Skipping the input gradient (`LSTM/GRU.backward(..., inputGradient: false)`, `Layer.backward(_:needsInputGradient:)`,
/// used by `Sequential`'s training step for the layers under its first trainable one) must change nothing else:
/// the parameter and initial-state gradients are the same bits as with the input gradient, on both devices.
/// (Their values are checked elsewhere against finite differences, through this same training path.)
final class InputGradientTests: XCTestCase {
    /// A parameterless pass-through layer that records what `Sequential` asked of it.
    final class Recorder: Layer {
        var asked: [Bool] = []
        var parameterBuffers: [ParameterBuffer] { [] }
        var namedParameters: [(name: String, tensor: Tensor)] { [] }
        func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] { inputShape }
        func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor { x }
        func backward(_ dy: Tensor) throws -> Tensor? { try backward(dy, needsInputGradient: true) }
        func backward(_ dy: Tensor, needsInputGradient: Bool) throws -> Tensor? {
            asked.append(needsInputGradient)
            return needsInputGradient ? dy : nil
        }
    }

    func testLSTMSkipsOnlyTheInputGradient() throws {
        try onBothDevices { device in
            let (T, B, I) = (6, 3, 5)
            let lstm = try LSTM(inputSize: I, hiddenSize: 7, numLayers: 2, dropout: 0.3, bidirectional: true, device: device, seed: 3)
            lstm.training = true
            let x = try Tensor(shape: [T, B, I], doubles: randomValues(T * B * I, seed: 1), device: device)
            var runs: [(input: Tensor?, h0: [Double], c0: [Double], grads: [Double])] = []
            for wanted in [true, false] {
                lstm.resetDropoutGenerator(seed: 9)
                try lstm.zeroGrad()
                let (y, _) = try lstm.forward(x, lengths: [6, 2, 4])
                let g = try lstm.backward(gradOutput: Tensor(shape: y.shape, doubles: randomValues(y.count, seed: 2), device: device),
                                          inputGradient: wanted)
                runs.append((g.input, try g.h0.toDoubles(), try g.c0.toDoubles(), try lstm.flatGradients.toDoubles()))
            }
            XCTAssertNotNil(runs[0].input, "\(device)")
            XCTAssertNil(runs[1].input, "\(device): no input gradient asked for, none computed")
            XCTAssertEqual(runs[0].grads, runs[1].grads, "\(device): parameter gradients")
            XCTAssertEqual(runs[0].h0, runs[1].h0, "\(device): h0 gradient")
            XCTAssertEqual(runs[0].c0, runs[1].c0, "\(device): c0 gradient")
            XCTAssertGreaterThan(maxAbs(runs[1].grads), 0, "\(device): gradients were computed")
        }
    }

    func testGRUSkipsOnlyTheInputGradient() throws {
        try onBothDevices { device in
            let (T, B, I) = (5, 2, 4)
            let gru = try GRU(inputSize: I, hiddenSize: 6, numLayers: 2, bidirectional: true, device: device, seed: 4)
            let x = try Tensor(shape: [T, B, I], doubles: randomValues(T * B * I, seed: 1), device: device)
            var runs: [(input: Tensor?, h0: [Double], grads: [Double])] = []
            for wanted in [true, false] {
                try gru.zeroGrad()
                let (y, _) = try gru.forward(x)
                let g = try gru.backward(gradOutput: Tensor(shape: y.shape, doubles: randomValues(y.count, seed: 2), device: device),
                                         inputGradient: wanted)
                runs.append((g.input, try g.h0.toDoubles(), try gru.flatGradients.toDoubles()))
            }
            XCTAssertNotNil(runs[0].input)
            XCTAssertNil(runs[1].input, "\(device)")
            XCTAssertEqual(runs[0].grads, runs[1].grads, "\(device): parameter gradients")
            XCTAssertEqual(runs[0].h0, runs[1].h0, "\(device): h0 gradient")
        }
    }

    /// Sequential's training step asks for input gradients only above its first layer with parameters; a layer
    /// that returns none ends the backward pass.
    func testSequentialAsksOnlyAboveTheFirstTrainableLayer() throws {
        let x = try DataArray(shape: [4, 3, 2], values: randomValues(24, seed: 1).map(Float.init))
        let y = try DataArray(shape: [4, 2], values: randomValues(8, seed: 2).map(Float.init))
        let (below, above) = (Recorder(), Recorder())
        let model = Sequential([below, LSTMLayer(units: 3), above, Dense(units: 2)], seed: 5)
        model.compile(optimizer: try SGD(), loss: .meanSquaredError)
        _ = try model.trainOnBatch(x: x, y: y)
        XCTAssertEqual(below.asked, [], "the LSTM was told its input is data: it returned no gradient, so nothing under it ran")
        XCTAssertEqual(above.asked, [true], "the LSTM's output does")

        // With an embedding first, the LSTM's input gradient is needed (it trains the embedding).
        let ids = DataArray([1, 2, 0, 3, 2, 1, 1, 0, 2, 3, 3, 1])
        let embedded = Recorder()
        let tokens = try DataArray(shape: [4, 3], values: ids.values)
        let model2 = Sequential([Embedding(inputDim: 4, outputDim: 3), embedded, LSTMLayer(units: 3), Dense(units: 2)], seed: 5)
        model2.compile(optimizer: try SGD(), loss: .meanSquaredError)
        try model2.build(inputShape: [3])
        let table = try model2.namedParameters[0].tensor.toDoubles()
        _ = try model2.trainOnBatch(x: tokens, y: y)
        XCTAssertEqual(embedded.asked, [true])
        XCTAssertNotEqual(try model2.namedParameters[0].tensor.toDoubles(), table, "the embedding trained")
    }
}
