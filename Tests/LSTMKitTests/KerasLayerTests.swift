import XCTest
@testable import LSTMKit

/// The Keras pieces of the Keras-style API: left padding, goBackwards, input dropout, Input/summary, mse/rmse,
/// lenient targets and the error hints. Each is checked against an independent computation.
final class KerasLayerTests: XCTestCase {
    /// 4 token sequences of lengths 5, 3, 1, 4 (ids 1...9), padded to T = 6 on the left or on the right.
    static let sequences: [[Float]] = [[3, 1, 4, 1, 5], [9, 2, 6], [5], [3, 5, 8, 9]]
    static func padded(left: Bool, T: Int = 6) -> DataArray {
        let rows = sequences.map { s -> [Float] in
            let pad = [Float](repeating: 0, count: T - s.count)
            return left ? pad + s : s + pad
        }
        return try! DataArray(rows)
    }

    /// The masked model's output depends only on the tokens, not on where the padding is: left-padded predictions
    /// equal right-padded ones (LSTM, GRU, Bidirectional, stacked with returnSequences), on both devices.
    func testLeftPaddingGivesTheSameOutputsAsRightPadding() throws {
        try onBothDevices { device in
            let makers: [(String, () -> [Layer])] = [
                ("LSTM", { [LSTMLayer(units: 5)] }),
                ("GRU", { [GRULayer(units: 5)] }),
                ("Bidirectional", { [Bidirectional(LSTMLayer(units: 3))] }),
                ("stacked", { [LSTMLayer(units: 4, returnSequences: true), Dropout(0.2), GRULayer(units: 3)] }),
            ]
            for (name, make) in makers {
                let model = Sequential([Embedding(inputDim: 10, outputDim: 3, maskZero: true)] + make() + [Dense(units: 2)],
                                       device: device, seed: 3)
                let right = try model.predict(Self.padded(left: false)).values.map(Double.init)
                let left = try model.predict(Self.padded(left: true)).values.map(Double.init)
                // The same arithmetic on the same values in the same order: only the rows' positions differ.
                assertClose(left, right, atol: 1e-6, "\(name) on \(device)")
                // And training on left-padded data runs and changes the loss (one fused step per batch).
                model.compile(optimizer: try Adam(learningRate: 0.05), loss: .meanSquaredError)
                let y = try DataArray(shape: [4, 2], values: [1, 0, 0, 1, 1, 1, 0, 0])
                let h = try model.fit(x: Self.padded(left: true), y: y, epochs: 5, batchSize: 4, verbose: 0)
                XCTAssertLessThan(h.epochs.last!["loss"]!, h.epochs.first!["loss"]!, "\(name) on \(device)")
            }
        }
    }

    /// goBackwards equals the same layer (same seed, so the same weights) on each sequence's valid steps reversed;
    /// with returnSequences its output is in reversed order and right padding becomes left padding (Keras).
    func testGoBackwardsEqualsReversedInput() throws {
        try onBothDevices { device in
            for rs in [false, true] {
                let backwards = Sequential([Embedding(inputDim: 10, outputDim: 3, maskZero: true),
                                            LSTMLayer(units: 4, returnSequences: rs, goBackwards: true)], device: device, seed: 8)
                let forwards = Sequential([Embedding(inputDim: 10, outputDim: 3, maskZero: true),
                                           LSTMLayer(units: 4, returnSequences: rs)], device: device, seed: 8)
                let x = Self.padded(left: false)
                // Reversing a right-padded row gives the reversed tokens, left-padded.
                let reversed = try DataArray(Self.sequences.map { [Float](repeating: 0, count: 6 - $0.count) + $0.reversed() })
                let got = try backwards.predict(x).values.map(Double.init)
                let want = try forwards.predict(reversed).values.map(Double.init)
                assertClose(got, want, atol: 1e-6, "goBackwards returnSequences \(rs) on \(device)")
            }
        }
    }

    /// Input dropout: off in inference (the same output as dropout 0 with the same seed); in training one mask per
    /// sequence, so an input feature dropped for a sequence has a zero gradient at every step.
    func testInputDropoutIsOneMaskPerSequence() throws {
        try onBothDevices { device in
            let (B, T, F) = (6, 5, 8)
            let x = try Tensor(shape: [B, T, F], doubles: randomValues(B * T * F, seed: 4), device: device)
            let dropped = LSTMLayer(units: 3, returnSequences: true, dropout: 0.5), plain = LSTMLayer(units: 3, returnSequences: true)
            _ = try dropped.build(inputShape: [T, F], device: device, seed: 2)
            _ = try plain.build(inputShape: [T, F], device: device, seed: 2)
            XCTAssertEqual(try dropped.forward(MaskedTensor(x), training: false).tensor.toDoubles(),
                           try plain.forward(MaskedTensor(x), training: false).tensor.toDoubles())
            let y = try dropped.forward(MaskedTensor(x), training: true)
            let dx = try dropped.backward(try Tensor(shape: y.tensor.shape, doubles: randomValues(y.tensor.count, seed: 5), device: device))!.toDoubles()
            var zeroColumns = 0, liveColumns = 0
            for b in 0..<B {
                for f in 0..<F {
                    let column = (0..<T).map { dx[(b * T + $0) * F + f] }
                    if column.allSatisfy({ $0 == 0 }) { zeroColumns += 1 } else {
                        liveColumns += 1
                        XCTAssert(column.allSatisfy { $0 != 0 }, "feature \(f) of sequence \(b) is dropped at some steps only on \(device)")
                    }
                }
            }
            // 48 (sequence, feature) pairs at p = 0.5: both kinds occur (the chance of none is 2^-48).
            XCTAssertGreaterThan(zeroColumns, 0)
            XCTAssertGreaterThan(liveColumns, 0)
            XCTAssertThrowsError(try LSTMLayer(units: 2, dropout: 1).build(inputShape: [T, F], device: device, seed: 0))
        }
    }

    /// mse and rmse against the values computed from `predict`; `[N]` targets for a one-unit output (Keras).
    func testMSEAndRMSEMetricsAndLenientTargets() throws {
        let x = try DataArray(shape: [7, 4, 2], values: randomValues(56, seed: 6).map(Float.init))
        let y = DataArray([0.5, -0.2, 0.1, 0.9, -1, 0.3, 0])
        let model = Sequential([LSTMLayer(units: 3), Dense(units: 1)], seed: 1)
        model.compile(optimizer: try SGD(), loss: .meanSquaredError, metrics: [.meanSquaredError, .rootMeanSquaredError, .meanAbsoluteError])
        let p = try model.predict(x).values.map(Double.init)
        let mse = zip(p, y.values).map { ($0 - Double($1)) * ($0 - Double($1)) }.reduce(0, +) / 7
        let logs = try model.evaluate(x: x, y: y, batchSize: 3)
        // Float32 sums of 7 squares of values of order 1.
        XCTAssertEqual(logs["mse"]!, mse, accuracy: 1e-6)
        XCTAssertEqual(logs["loss"]!, mse, accuracy: 1e-6)
        XCTAssertEqual(logs["rmse"]!, mse.squareRoot(), accuracy: 1e-6)
        XCTAssertNoThrow(try model.fit(x: x, y: y, epochs: 1, verbose: 0))
    }

    func testErrorsNameTheLikelyFix() throws {
        let x = try DataArray(shape: [4, 6], values: randomValues(24, seed: 1).map(Float.init))
        let lstm = Sequential([LSTMLayer(units: 2)])
        XCTAssertThrowsError(try lstm.predict(x)) { XCTAssert("\($0)".contains("add a feature axis: reshape [N, T] to [N, T, 1]"), "\($0)") }
        let classifier = Sequential([Embedding(inputDim: 10, outputDim: 2), LSTMLayer(units: 2), Dense(units: 3, activation: .softmax)])
        classifier.compile(optimizer: try SGD(), loss: .categoricalCrossentropy())
        XCTAssertThrowsError(try classifier.fit(x: Self.padded(left: false), y: DataArray([0, 1, 2, 1]), verbose: 0)) {
            XCTAssert("\($0)".contains("use .sparseCategoricalCrossentropy for class ids"), "\($0)")
        }
        let inner = try DataArray(shape: [1, 4], values: [0, 3, 0, 2])
        let masked = Sequential([Embedding(inputDim: 10, outputDim: 2, maskZero: true), LSTMLayer(units: 2)])
        XCTAssertThrowsError(try masked.predict(inner)) { XCTAssert("\($0)".contains("data at step 3 after padding at step 2"), "\($0)") }
    }

    /// Input(shape:) builds the model for summary() before fit; Masking on float inputs with left padding gives the
    /// same result as right padding.
    func testInputSummaryAndMaskingLayer() throws {
        let model = Sequential([Input(shape: [6, 2]), Masking(maskValue: -1), LSTMLayer(units: 4), Dense(units: 3)], seed: 2)
        let summary = model.summary()
        XCTAssert(summary.contains("(None, 6, 2)") && summary.contains("(None, 4)") && summary.contains("(None, 3)"), summary)
        let lstmParameters = 4 * 4 * (2 + 4) + 2 * 4 * 4   // weight_ih, weight_hh, bias_ih, bias_hh
        XCTAssert(summary.contains("Total parameters: \(lstmParameters + 3 * 4 + 3)"), summary)
        XCTAssertThrowsError(try model.predict(try DataArray(shape: [1, 5, 2], values: Array(repeating: 1, count: 10)))) {
            XCTAssert("\($0)".contains("expected [6, 2], got [5, 2]"), "\($0)")
        }
        let data = randomValues(5 * 2, seed: 9).map(Float.init)
        let pad = [Float](repeating: -1, count: 2)
        let right = try DataArray(shape: [1, 6, 2], values: data + pad), left = try DataArray(shape: [1, 6, 2], values: pad + data)
        assertClose(try model.predict(left).values.map(Double.init), try model.predict(right).values.map(Double.init), atol: 1e-6, "Masking")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-input-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let plain = Sequential([Input(shape: [6, 2]), LSTMLayer(units: 4), Dense(units: 3)], seed: 2)
        try plain.build()   // Input(shape:) first: builds without data
        try plain.save(to: directory)
        let again = try Sequential.load(from: directory)
        XCTAssert(again.layers.first is Input)
        XCTAssertEqual(try again.predict(right).values, try plain.predict(right).values)
        let config = Masking(maskValue: -1).config
        XCTAssertEqual(try Masking(config: config).maskValue, -1)
        XCTAssertEqual(String(data: try JSONEncoder().encode(config), encoding: .utf8), #"{"mask_value":-1}"#)
    }
}
