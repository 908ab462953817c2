import Foundation
import XCTest
@testable import LSTMKit

/// Models saved in the first model.json format (version 1, `{"type": "LSTM", "units": 4, ...}`) still load and
/// predict what they predicted when they were saved.
///
/// Tests/Fixtures/legacy_model_v1/<case>/ holds, per case, `model.json` and `model.safetensors` as `save(to:)`
/// wrote them at commit 833e575 (before version 2), and `io.safetensors` with the inputs (`x`) and the outputs
/// `predict` gave then (`y`, then `y2` for a second call of a stateful model, and `state.<layer>.<k>` for the final
/// states of layers with `returnState`). The cases cover every layer type and option of that format. They were made
/// by `testRegenerateLegacyFixtures` at that commit; it runs only with LSTMKIT_REGENERATE_FIXTURES=1 and now writes
/// model.json with `legacySpec` (the version 1 writer of 833e575, kept here), which gives the same bytes.
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
            try Self.legacyModelJSON(model).write(to: dir.appendingPathComponent("model.json"))
            var entries = [(name: "x", entry: SafeTensors.Entry(dtype: "F32", shape: c.x.shape, values: c.x.values.map(Double.init)))]
            for (name, o) in try Self.outputs(model, c).sorted(by: { $0.key < $1.key }) {
                entries.append((name, SafeTensors.Entry(dtype: "F32", shape: o.shape, values: o.values.map(Double.init))))
            }
            try SafeTensors.write(entries, to: dir.appendingPathComponent("io.safetensors"))
        }
    }

    /// The version 1 entry of a layer, as `Layer.spec` gave it at 833e575 (test only: LSTMKit reads version 1 and
    /// no longer writes it).
    static func legacySpec(_ entry: AnyLayerConfig) -> LegacyLayerSpec {
        var s = LegacyLayerSpec(type: entry.className)
        switch entry.config {
        case let c as Dense.Config: s.units = c.units; s.activation = c.activation; s.useBias = c.useBias
        case let c as TimeDistributed.Config: s.layer = [legacySpec(c.layer)]
        case let c as Embedding.Config: s.inputDim = c.inputDim; s.outputDim = c.outputDim; s.maskZero = c.maskZero
        case let c as Dropout.Config: s.rate = c.rate
        case let c as LSTMLayer.Config:
            s.units = c.units; s.returnSequences = c.returnSequences; s.returnState = c.returnState; s.stateful = c.stateful
            s.cellClip = c.cellClip
            if c.projSize > 0 { s.projSize = c.projSize }
            if c.peephole { s.peephole = true }
            if c.layerNorm { s.layerNorm = true }
            if c.recurrentDropout > 0 { s.recurrentDropout = c.recurrentDropout }
        case let c as GRULayer.Config: s.units = c.units; s.returnSequences = c.returnSequences; s.returnState = c.returnState; s.stateful = c.stateful
        case let c as Bidirectional.Config: s.mergeMode = c.mergeMode.rawValue; s.layer = [legacySpec(c.layer)]
        case let c as Sequential.Config: s.layer = c.layers.map(legacySpec)
        default: XCTFail("\(entry.className) has no version 1 form")
        }
        return s
    }

    /// model.json version 1 of `model`, byte for byte as `save(to:)` wrote it at 833e575.
    static func legacyModelJSON(_ model: Sequential) throws -> Data {
        struct File: Encodable {
            var format = "lstmkit.sequential", version = 1
            var inputShape: [Int], seed: UInt64, layers: [LegacyLayerSpec]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(File(inputShape: try XCTUnwrap(model.inputShape), seed: model.seed, layers: model.config.layers.map(legacySpec)))
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
            XCTAssertEqual(model.config, Sequential(c.layers()).config, "\(c.name): the layers and options read from version 1")
            let got = try Self.outputs(model, c)
            XCTAssertEqual(Set(got.keys), Set(io.keys).subtracting(["x"]), c.name)
            for (name, o) in got {
                XCTAssertEqual(io[name]?.shape, o.shape, "\(c.name) \(name)")
                XCTAssertEqual(io[name]?.values.map(Float.init), o.values, "\(c.name) \(name)")
            }
        }
    }

    /// A version 1 model saved again writes version 2, which loads into the same model: same configs, same weights
    /// by name, and the same outputs bit for bit.
    func testLegacyModelsResaveAsVersion2() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-legacy-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for c in Self.cases {
            let old = try Sequential.load(from: Self.directory.appendingPathComponent(c.name))
            let dir = scratch.appendingPathComponent(c.name)
            try old.save(to: dir)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("model.json"))) as? [String: Any]
            XCTAssertEqual(json?["version"] as? Int, 2, c.name)
            XCTAssertEqual(json?["input_shape"] as? [Int], c.inputShape, c.name)
            let new = try Sequential.load(from: dir)
            XCTAssertEqual(new.config, old.config, c.name)
            XCTAssertEqual(new.namedParameters.map(\.name), old.namedParameters.map(\.name), c.name)
            let io = try SafeTensors.read(Self.directory.appendingPathComponent(c.name).appendingPathComponent("io.safetensors"))
            for (name, o) in try Self.outputs(new, c) { XCTAssertEqual(io[name]?.values.map(Float.init), o.values, "\(c.name) \(name)") }
        }
    }

    /// The fixtures load on the OpenCL device too (nested Sequential included) and predict the saved outputs within
    /// float32 rounding (another device: other kernels, other summation orders). tokens_lstm_variants'
    /// `LSTMLayer(units: 3, layerNorm: true)` included (it once crashed PoCL; see LSTMLayerNormSmallHiddenTests).
    func testLegacyModelsLoadOnOpenCL() throws {
        let device = try openCLDeviceOrSkip()
        for c in Self.cases {
            let dir = Self.directory.appendingPathComponent(c.name)
            let io = try SafeTensors.read(dir.appendingPathComponent("io.safetensors"))
            let model = try Sequential.load(from: dir, device: device)
            for (name, o) in try Self.outputs(model, c) {
                assertClose(o.values.map(Double.init), try XCTUnwrap(io[name]).values, atol: 1e-5, "\(c.name) \(name) on \(device)")
            }
        }
    }
}
