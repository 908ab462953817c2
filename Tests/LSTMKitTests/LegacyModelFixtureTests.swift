import Foundation
import XCTest
@testable import LSTMKit

/// Models saved in the first model.json format (version 1, `{"type": "LSTM", "units": 4, ...}`) still load and
/// predict what they predicted when they were saved.
///
/// Tests/Fixtures/legacy_model_v1/<case>/ holds, per case, `model.json` and `model.safetensors` as `save(to:)`
/// wrote them at commit 833e575, and `io.safetensors` with the inputs (`x`) and the outputs `predict` gave then
/// (`y`, then `y2` for a second call of a stateful model, and `state.<layer>.<k>` for the final states of layers with
/// `returnState`). The cases cover every layer type and option of that format. They are made by
/// `testRegenerateLegacyFixtures`, which runs only with LSTMKIT_REGENERATE_FIXTURES=1.
final class LegacyModelFixtureTests: XCTestCase {
    static let directory = fixturesDirectory.appendingPathComponent("legacy_model_v1")

    /// One fixture: a model, its input and how `predict` is called.
    struct Case {
        let name: String
        let inputShape: [Int]
        let x: DataArray
        let batchSize: Int
        /// A stateful model is predicted twice (the second call starts from the first call's final state).
        let calls: Int
        let layers: @Sendable () -> [Layer]
    }

    static var cases: [Case] { [
        // Token ids, right-padded with 0 (lengths 6, 2, 4); every LSTM variant, one per layer.
        Case(name: "tokens_lstm_variants", inputShape: [6],
             x: try! DataArray(shape: [3, 6], values: [1, 2, 3, 4, 5, 6, 3, 1, 0, 0, 0, 0, 6, 6, 2, 5, 0, 0]), batchSize: 3, calls: 1) {
            [Embedding(inputDim: 7, outputDim: 3, maskZero: true),
             LSTMLayer(units: 4, returnSequences: true, returnState: true),
             Dropout(0.25),
             LSTMLayer(units: 5, returnSequences: true, projSize: 2),
             LSTMLayer(units: 3, returnSequences: true, peephole: true),
             LSTMLayer(units: 3, returnSequences: true, layerNorm: true),
             LSTMLayer(units: 3, returnSequences: true, cellClip: 0.05),
             LSTMLayer(units: 3, recurrentDropout: 0.3),
             Dense(units: 3, activation: .softmax)]
        },
        // Features [T=4, F=3]: each activation, a Dense without bias, TimeDistributed and a nested Sequential.
        Case(name: "dense_activations", inputShape: [4, 3],
             x: try! DataArray(shape: [2, 4, 3], values: randomValues(24, seed: 11, scale: 2).map(Float.init)), batchSize: 2, calls: 1) {
            [Dense(units: 5, activation: .relu),
             Dense(units: 4, activation: .tanh),
             Dense(units: 4, activation: .sigmoid, useBias: false),
             TimeDistributed(Dense(units: 3)),
             Sequential([Dense(units: 3, activation: .linear), Dropout(0.5)]),
             Dense(units: 2, activation: .softmax)]
        },
        // Bidirectional LSTM and GRU with each merge mode.
        Case(name: "bidirectional_merge_modes", inputShape: [5, 2],
             x: try! DataArray(shape: [2, 5, 2], values: randomValues(20, seed: 12).map(Float.init)), batchSize: 2, calls: 1) {
            [Bidirectional(LSTMLayer(units: 3, returnSequences: true), mergeMode: .concat),
             Bidirectional(GRULayer(units: 3, returnSequences: true), mergeMode: .sum),
             Bidirectional(LSTMLayer(units: 2, returnSequences: true), mergeMode: .mul),
             Bidirectional(GRULayer(units: 2), mergeMode: .average),
             Dense(units: 1)]
        },
        // Stateful LSTM and GRU (the GRU with returnState), predicted twice.
        Case(name: "stateful_lstm_gru", inputShape: [4, 2],
             x: try! DataArray(shape: [2, 4, 2], values: randomValues(16, seed: 13).map(Float.init)), batchSize: 2, calls: 2) {
            [LSTMLayer(units: 3, returnSequences: true, stateful: true),
             GRULayer(units: 3, returnState: true, stateful: true),
             Dense(units: 2, activation: .tanh)]
        },
    ] }

    /// What `predict` gives for `c` (keys as in io.safetensors, `x` aside).
    static func outputs(_ model: Sequential, _ c: Case) throws -> [String: (shape: [Int], values: [Float])] {
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for call in 0..<c.calls {
            let y = try model.predict(c.x, batchSize: c.batchSize)
            out[call == 0 ? "y" : "y\(call + 1)"] = (y.shape, y.values)
        }
        for (i, layer) in model.layers.enumerated() {
            guard let r = layer as? RecurrentLayer, r.returnState else { continue }
            for (k, s) in r.lastStates.enumerated() { out["state.\(i).\(k)"] = (s.shape, try s.toArray()) }
        }
        return out
    }

    /// Writes the fixtures (LSTMKIT_REGENERATE_FIXTURES=1 only).
    func testRegenerateLegacyFixtures() throws {
        guard Settings.flag("LSTMKIT_REGENERATE_FIXTURES", default: false) else {
            throw XCTSkip("set LSTMKIT_REGENERATE_FIXTURES=1 to rewrite Tests/Fixtures/legacy_model_v1")
        }
        for c in Self.cases {
            let dir = Self.directory.appendingPathComponent(c.name)
            try? FileManager.default.removeItem(at: dir)
            let model = Sequential(c.layers(), device: .cpu, seed: 5)
            try model.build(inputShape: c.inputShape)
            try model.save(to: dir)
            var entries = [(name: "x", entry: SafeTensors.Entry(dtype: "F32", shape: c.x.shape, values: c.x.values.map(Double.init)))]
            for (name, o) in try Self.outputs(model, c).sorted(by: { $0.key < $1.key }) {
                entries.append((name, SafeTensors.Entry(dtype: "F32", shape: o.shape, values: o.values.map(Double.init))))
            }
            try SafeTensors.write(entries, to: dir.appendingPathComponent("io.safetensors"))
        }
    }

    /// Each fixture loads, and predicts the saved outputs bit for bit: the same weights run through the same CPU
    /// code path, so nothing may differ.
    func testLegacyModelsPredictTheSavedOutputs() throws {
        for c in Self.cases {
            let dir = Self.directory.appendingPathComponent(c.name)
            let io = try SafeTensors.read(dir.appendingPathComponent("io.safetensors"))
            XCTAssertEqual(io["x"]?.values.map(Float.init), c.x.values, "\(c.name): the saved input")
            let model = try Sequential.load(from: dir)
            XCTAssertEqual(model.inputShape, c.inputShape, c.name)
            let got = try Self.outputs(model, c)
            XCTAssertEqual(Set(got.keys), Set(io.keys).subtracting(["x"]), c.name)
            for (name, o) in got {
                XCTAssertEqual(io[name]?.shape, o.shape, "\(c.name) \(name)")
                XCTAssertEqual(io[name]?.values.map(Float.init), o.values, "\(c.name) \(name)")
            }
        }
    }
}
