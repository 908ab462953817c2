import XCTest
@testable import LSTMKit

/// Finite-difference checks of every loss and layer of the training stack, on the CPU in Float64: the
/// gradient of the batch's mean loss w.r.t. every parameter element, through the same path `fit` takes
/// (fused softmax/sigmoid + cross-entropy included). Central differences with eps 1e-6: truncation ~1e-12,
/// rounding ~1e-10, so 1e-6 absolute separates right from wrong (a wrong term shows up as >= 1e-3).
final class TrainingGradientCheckTests: XCTestCase {
    func check(_ layers: [Layer], x: DataArray, y: DataArray, loss: Loss, _ what: String,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let device = Device.cpuFloat64
        let model = Sequential(layers, device: device, seed: 5)
        try model.compile(optimizer: SGD(), loss: loss)
        let data = try model.prepare(x: x, y: y, what: what)
        let input = MaskedTensor(data.x, lengths: data.lengths)
        _ = try model.computeGradients(input, data.y!)
        func lossValue() throws -> Double {
            try model.lossAndMetrics(output: model.forward(input, training: true), target: data.y!).0.loss
        }
        let eps = 1e-6
        for (name, tensor) in model.namedParameters {
            // The analytic gradient: same offset in the gradient buffer as the parameter in the parameter buffer.
            let buffer = model.parameterBuffers.first { $0.parameters.view.buffer === tensor.view.buffer }!
            let offset = tensor.view.offset - buffer.parameters.view.offset
            let analytic = Array(try buffer.gradients.toDoubles()[offset..<(offset + tensor.count)])
            var values = try tensor.toDoubles()
            var numeric: [Double] = []
            for i in values.indices {
                let v = values[i]
                values[i] = v + eps; try tensor.assign(values); let plus = try lossValue()
                values[i] = v - eps; try tensor.assign(values); let minus = try lossValue()
                values[i] = v; try tensor.assign(values)
                numeric.append((plus - minus) / (2 * eps))
            }
            assertClose(analytic, numeric, atol: 1e-6, "\(what): d loss / d \(name)", file: file, line: line)
        }
    }

    let x3 = try! DataArray(shape: [4, 3, 2], values: randomValues(24, seed: 1).map(Float.init))
    func targets(_ shape: [Int], seed: UInt64) -> DataArray { try! DataArray(shape: shape, values: randomValues(shape.reduce(1, *), seed: seed).map(Float.init)) }
    func probabilities(_ rows: Int, _ cols: Int, seed: UInt64) -> DataArray {
        let raw = randomValues(rows * cols, seed: seed).map { exp($0) }
        var out: [Float] = []
        for r in 0..<rows { let s = raw[(r * cols)..<((r + 1) * cols)].reduce(0, +); out += raw[(r * cols)..<((r + 1) * cols)].map { Float($0 / s) } }
        return try! DataArray(shape: [rows, cols], values: out)
    }
    let classIds = DataArray([2, 0, 1, 2])

    func testMeanSquaredErrorThroughLSTMAndDense() throws {
        for act in [Activation.linear, .relu, .tanh, .sigmoid] {
            try check([LSTMLayer(units: 3), Dense(units: 2, activation: act)], x: x3, y: targets([4, 2], seed: 2), loss: .meanSquaredError, "mse \(act)")
        }
    }

    func testBinaryCrossentropyFusedUnfusedAndLogits() throws {
        let y = try DataArray(shape: [4, 2], values: [1, 0, 0, 1, 1, 1, 0, 0])
        try check([LSTMLayer(units: 3), Dense(units: 2, activation: .sigmoid)], x: x3, y: y, loss: .binaryCrossentropy(), "bce fused sigmoid")
        try check([LSTMLayer(units: 3), Dense(units: 2, activation: .sigmoid), Dropout(0)], x: x3, y: y, loss: .binaryCrossentropy(), "bce on probabilities")
        try check([LSTMLayer(units: 3), Dense(units: 2)], x: x3, y: y, loss: .binaryCrossentropy(fromLogits: true), "bce from logits")
    }

    func testCategoricalCrossentropies() throws {
        let y = probabilities(4, 3, seed: 3)
        try check([LSTMLayer(units: 3), Dense(units: 3, activation: .softmax)], x: x3, y: y, loss: .categoricalCrossentropy(), "cce fused softmax")
        try check([LSTMLayer(units: 3), Dense(units: 3, activation: .softmax), Dropout(0)], x: x3, y: y, loss: .categoricalCrossentropy(), "cce on probabilities")
        try check([LSTMLayer(units: 3), Dense(units: 3)], x: x3, y: y, loss: .categoricalCrossentropy(fromLogits: true), "cce from logits")
        try check([LSTMLayer(units: 3), Dense(units: 3, activation: .softmax)], x: x3, y: classIds, loss: .sparseCategoricalCrossentropy(), "sparse fused")
        try check([LSTMLayer(units: 3), Dense(units: 3, activation: .softmax), Dropout(0)], x: x3, y: classIds, loss: .sparseCategoricalCrossentropy(), "sparse on probabilities")
        try check([LSTMLayer(units: 3), Dense(units: 3)], x: x3, y: classIds, loss: .sparseCategoricalCrossentropy(fromLogits: true), "sparse from logits")
    }

    func testEmbeddingMaskZeroSequenceOutputsAndTimeDistributed() throws {
        let ids = try DataArray(shape: [3, 4], values: [1, 4, 2, 0, 3, 0, 0, 0, 2, 2, 1, 4])
        try check([Embedding(inputDim: 5, outputDim: 3, maskZero: true), LSTMLayer(units: 2, returnSequences: true),
                   TimeDistributed(Dense(units: 2, activation: .tanh))], x: ids, y: targets([3, 4, 2], seed: 4),
                  loss: .meanSquaredError, "embedding + sequences + time distributed")
        try check([Embedding(inputDim: 5, outputDim: 2, maskZero: true), LSTMLayer(units: 3), Dense(units: 3, activation: .softmax)],
                  x: ids, y: DataArray([0, 2, 1]), loss: .sparseCategoricalCrossentropy(), "embedding + masked last state")
    }

    func testBidirectionalMergeModes() throws {
        for mode in [MergeMode.concat, .sum, .mul, .average] {
            try check([Bidirectional(LSTMLayer(units: 2, returnSequences: true), mergeMode: mode), Dense(units: 1)],
                      x: x3, y: targets([4, 3, 1], seed: 6), loss: .meanSquaredError, "bidirectional sequences \(mode)")
            try check([Bidirectional(LSTMLayer(units: 2), mergeMode: mode), Dense(units: 2)],
                      x: x3, y: targets([4, 2], seed: 7), loss: .meanSquaredError, "bidirectional last state \(mode)")
        }
    }

    func testGRULayers() throws {
        try check([GRULayer(units: 3, returnSequences: true), GRULayer(units: 2), Dense(units: 2, activation: .softmax)],
                  x: x3, y: DataArray([0, 1, 1, 0]), loss: .sparseCategoricalCrossentropy(), "stacked GRU")
        for mode in [MergeMode.concat, .mul] {
            try check([Bidirectional(GRULayer(units: 2), mergeMode: mode), Dense(units: 1)], x: x3, y: targets([4, 1], seed: 9),
                      loss: .meanSquaredError, "bidirectional GRU \(mode)")
        }
        let ids = try DataArray(shape: [3, 4], values: [1, 4, 2, 0, 3, 0, 0, 0, 2, 2, 1, 4])
        try check([Embedding(inputDim: 5, outputDim: 2, maskZero: true), GRULayer(units: 3), Dense(units: 1)],
                  x: ids, y: targets([3, 1], seed: 10), loss: .meanSquaredError, "masked GRU")
    }

    func testCellClippedLSTMLayer() throws {
        try check([Bidirectional(LSTMLayer(units: 3, returnSequences: true, cellClip: 0.2)), LSTMLayer(units: 2, cellClip: 0.2), Dense(units: 1)],
                  x: x3, y: targets([4, 1], seed: 11), loss: .meanSquaredError, "cell-clipped LSTM layers")
    }

    /// The LSTM variants through the Keras-style layers: a bidirectional projected peephole layer (merged by sum)
    /// under a layer-norm layer that returns its last state.
    func testLSTMLayerVariants() throws {
        try check([Bidirectional(LSTMLayer(units: 3, returnSequences: true, projSize: 2, peephole: true), mergeMode: .sum),
                   LSTMLayer(units: 3, cellClip: 0.6, layerNorm: true), Dense(units: 1)],
                  x: x3, y: targets([4, 1], seed: 12), loss: .meanSquaredError, "projection, peephole, layer norm layers")
        try check([Bidirectional(LSTMLayer(units: 4, projSize: 3, layerNorm: true), mergeMode: .concat), Dense(units: 1)],
                  x: x3, y: targets([4, 1], seed: 13), loss: .meanSquaredError, "bidirectional projected layer-norm layer")
    }

    func testStackedLSTMLayers() throws {
        try check([LSTMLayer(units: 3, returnSequences: true), LSTMLayer(units: 2), Dense(units: 1)],
                  x: x3, y: targets([4, 1], seed: 8), loss: .meanSquaredError, "stacked")
    }
}
