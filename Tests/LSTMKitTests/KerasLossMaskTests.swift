import XCTest
@testable import LSTMKit

/// The loss and the metrics of a masked sequence output against Keras 3 (fixture from
/// Tests/Fixtures/make_keras_lossmask_fixtures.py, TensorFlow backend): Embedding(7, 4, maskZero) -> LSTM(5,
/// returnSequences) -> Dense(3, softmax) with Keras's initial weights, sparse categorical cross-entropy, on a right- and
/// a left-padded batch. Keras weights each step's loss by the mask and averages over the valid steps only,
/// sum(l_bt * m_bt) / sum(m_bt), and its accuracy counts the valid steps only; so must `evaluate`, `trainOnBatch`
/// and the gradient of the training step (Keras's: w0 - w1 of one SGD(1.0) step), on the CPU and OpenCL.
///
/// Tolerances: both sides compute in Float32 (Keras's loss is a float32 reduction), over 6 steps, losses ~1.1:
/// a few ulps of the per-step losses, so 2e-6 absolute on the loss values, well below the 1e-4 .. 3e-4 by which the
/// masked losses differ from the plain means over all steps (asserted, so the test tells the two apart). Gradients:
/// 2e-6 absolute + 1e-4 relative: Keras's are differences of float32 weights of order 1 (6e-8 each) and both sides
/// sum float32 products over 14 valid steps; the unmasked gradient (scaled by 1/18 instead of 1/14, with the padded
/// steps' terms) is off by 1e-2 on the Dense bias (0.119 vs ~0.09).
/// Accuracies are ratios of small counts (k/14): equal to 1e-6.
final class KerasLossMaskTests: XCTestCase {
    static let (V, E, H, C, T, B) = (7, 4, 5, 3, 6, 3)

    static func transposed(_ w: [Double], rows: Int, cols: Int) -> [Double] {
        (0..<(rows * cols)).map { i in w[(i % rows) * cols + i / rows] }
    }

    /// The model on `device` with the weights `prefix` + Keras's names of the fixture.
    static func model(_ f: [String: SafeTensors.Entry], prefix: String = "", device: Device) throws -> Sequential {
        let model = try Sequential([Embedding(inputDim: V, outputDim: E, maskZero: true), LSTMLayer(units: H, returnSequences: true),
                                Dense(units: C, activation: .softmax)], device: device)
        model.compile(optimizer: try SGD(learningRate: 1.0), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
        try model.build(inputShape: [T])
        try model.layers[0].namedParameters[0].tensor.assign(f[prefix + "embedding"]!.values)
        let core = (model.layers[1] as! LSTMLayer).core!
        try core.parameters["weight_ih_l0"]!.assign(transposed(f[prefix + "kernel"]!.values, rows: E, cols: 4 * H))
        try core.parameters["weight_hh_l0"]!.assign(transposed(f[prefix + "recurrent_kernel"]!.values, rows: H, cols: 4 * H))
        try core.parameters["bias_ih_l0"]!.assign(f[prefix + "bias"]!.values)
        try core.parameters["bias_hh_l0"]!.assign([Double](repeating: 0, count: 4 * H))
        let dense = model.layers[2].namedParameters
        try dense[0].tensor.assign(transposed(f[prefix + "dense.kernel"]!.values, rows: H, cols: C))
        try dense[1].tensor.assign(f[prefix + "dense.bias"]!.values)
        return model
    }

    func testMaskedSequenceLossAndAccuracyMatchKeras() throws {
        let f = try SafeTensors.read(fixturesDirectory.appendingPathComponent("keras_lossmask.safetensors"))
        let (B, T, H, C) = (Self.B, Self.T, Self.H, Self.C)
        try onBothDevices { device in
            for pad in ["right", "left"] {
                let tag = "\(pad) padding on \(device)"
                let x = try DataArray(shape: [B, T], values: f[pad + ".x"]!.values.map { Float($0) })
                let y = try DataArray(shape: [B, T], values: f[pad + ".y"]!.values.map { Float($0) })
                let model = try Self.model(f, device: device)

                let keras = f[pad + ".evaluate"]!.values
                XCTAssertGreaterThan(abs(keras[0] - f[pad + ".unmasked_loss"]!.values[0]), 5e-5, "\(tag): the fixture tells masked from unmasked")
                let before = try model.evaluate(x: x, y: y)
                XCTAssertEqual(before["loss"]!, keras[0], accuracy: 2e-6, "\(tag): evaluate loss")
                XCTAssertEqual(before["accuracy"]!, keras[1], accuracy: 1e-6, "\(tag): evaluate accuracy")

                let train = f[pad + ".train"]!.values
                let logs = try model.trainOnBatch(x: x, y: y)
                XCTAssertEqual(logs["loss"]!, train[0], accuracy: 2e-6, "\(tag): trainOnBatch loss")
                XCTAssertEqual(logs["accuracy"]!, train[1], accuracy: 1e-6, "\(tag): trainOnBatch accuracy")

                // The gradients of the masked mean (0 from the padded steps), from the initial weights again.
                let fresh = try Self.model(f, device: device)
                let data = try fresh.prepare(x: x, y: y, what: "test")
                _ = try fresh.computeGradients(data.masked(data.x), data.y!)
                let g = pad + ".grad."
                let core = (fresh.layers[1] as! LSTMLayer).core as! LSTM
                let dense = try fresh.layers[2].parameterBuffers[0].gradients.toDoubles()
                let pairs: [(String, [Double], [Double])] = [
                    ("embedding", try fresh.layers[0].parameterBuffers[0].gradients.toDoubles(), f[g + "embedding"]!.values),
                    ("kernel", Self.transposed(try core.gradients["weight_ih_l0"]!.toDoubles(), rows: 4 * H, cols: Self.E), f[g + "kernel"]!.values),
                    ("recurrent_kernel", Self.transposed(try core.gradients["weight_hh_l0"]!.toDoubles(), rows: 4 * H, cols: H),
                     f[g + "recurrent_kernel"]!.values),
                    // PyTorch's two biases each get Keras's one bias gradient.
                    ("bias_ih", try core.gradients["bias_ih_l0"]!.toDoubles(), f[g + "bias"]!.values),
                    ("bias_hh", try core.gradients["bias_hh_l0"]!.toDoubles(), f[g + "bias"]!.values),
                    ("dense.kernel", Self.transposed(Array(dense[0..<(C * H)]), rows: C, cols: H), f[g + "dense.kernel"]!.values),
                    ("dense.bias", Array(dense[(C * H)...]), f[g + "dense.bias"]!.values),
                ]
                for (name, ours, want) in pairs { assertClose(ours, want, atol: 2e-6, rtol: 1e-4, "\(tag): gradient of \(name)") }
            }
        }
    }

    /// Without maskZero nothing reaches the output's mask: the loss stays the plain mean of the per-step losses over
    /// all B*T steps (computed here in Double from the model's own predictions; Float32 on both sides, 2e-6).
    func testUnmaskedSequenceLossIsTheMeanOverAllSteps() throws {
        let f = try SafeTensors.read(fixturesDirectory.appendingPathComponent("keras_lossmask.safetensors"))
        let (B, T, C) = (Self.B, Self.T, Self.C)
        try onBothDevices { device in
            let x = try DataArray(shape: [B, T], values: f["right.x"]!.values.map { Float($0) })
            let y = try DataArray(shape: [B, T], values: f["right.y"]!.values.map { Float($0) })
            let model = try Sequential([Embedding(inputDim: Self.V, outputDim: Self.E), LSTMLayer(units: Self.H, returnSequences: true),
                                    Dense(units: C, activation: .softmax)], device: device, seed: 5)
            model.compile(optimizer: try SGD(learningRate: 1.0), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
            let logs = try model.evaluate(x: x, y: y)
            let p = try model.predict(x).values.map(Double.init)
            let ids = f["right.y"]!.values
            let plain = (0..<(B * T)).map { -log(p[$0 * C + Int(ids[$0])]) }.reduce(0, +) / Double(B * T)
            XCTAssertEqual(logs["loss"]!, plain, accuracy: 2e-6, "\(device): unmasked loss")
            let hits = (0..<(B * T)).filter { r in (0..<C).max { p[r * C + $0] < p[r * C + $1] }! == Int(ids[r]) }.count
            XCTAssertEqual(logs["accuracy"]!, Double(hits) / Double(B * T), accuracy: 1e-6, "\(device): unmasked accuracy")
        }
    }
}
