import Foundation
import XCTest
@testable import LSTMKit

/// model.json version 2: each layer saves itself as Keras's `{"class_name": ..., "config": {...}}` (ConfigurableLayer,
/// AnyLayerConfig, LayerRegistry), read strictly and range-checked before anything is allocated.
final class LayerConfigTests: XCTestCase {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// Every layer of the legacy fixtures' models, nested ones included.
    func exampleEntries() -> [AnyLayerConfig] {
        var out: [AnyLayerConfig] = []
        func visit(_ e: AnyLayerConfig) {
            out.append(e)
            if let b = e.config(as: Bidirectional.Config.self) { visit(b.layer) }
            if let t = e.config(as: TimeDistributed.Config.self) { visit(t.layer) }
            if let s = e.config(as: Sequential.Config.self) { s.layers.forEach(visit) }
        }
        for c in LegacyModelFixtureTests.cases { Sequential(c.layers()).config.layers.forEach(visit) }
        // The image-sequence layers (not in the version 1 format).
        Sequential(ConvLayerTests.saveLoadLayers()).config.layers.forEach(visit)
        Sequential([Conv2D(filters: 3, kernelSize: 3), GlobalAveragePooling2D(), Dense(units: 2)]).config.layers.forEach(visit)
        Sequential([Input(shape: [5, 2]), Masking(maskValue: 0), LSTMLayer(units: 2, activation: .relu, goBackwards: true, dropout: 0.1)])
            .config.layers.forEach(visit)
        return out
    }

    func testEveryRegisteredTypeRoundTrips() throws {
        let names = LayerRegistry.builtIn.map { $0.kerasClassName }
        XCTAssertEqual(Set(names).count, names.count, "class names are unique: \(names)")
        let examples = exampleEntries()
        XCTAssertEqual(Set(examples.map(\.className)), Set(names), "the examples cover every type of the library")
        for e in examples {
            let data = try JSONEncoder().encode(e)
            XCTAssertEqual(try JSONDecoder().decode(AnyLayerConfig.self, from: data), e, "\(e)")
            XCTAssertEqual(AnyLayerConfig(layer: try e.makeLayer()), e, "init(config:) then config gives the same: \(e)")
            XCTAssertTrue(LayerRegistry.type(named: e.className) == e.layerType, e.className)
        }
        XCTAssertNotEqual(AnyLayerConfig(Dense(units: 2)), AnyLayerConfig(Dense(units: 3)))
        XCTAssertNotEqual(AnyLayerConfig(LSTMLayer(units: 2)), AnyLayerConfig(GRULayer(units: 2)))
    }

    /// What `save(to:)` writes, against a model config written out by hand in Keras's layout.
    func testVersion2ReadsLikeAKerasConfig() throws {
        let model = Sequential([Embedding(inputDim: 7, outputDim: 3, maskZero: true),
                                Bidirectional(LSTMLayer(units: 4, returnSequences: true, cellClip: 2), mergeMode: .sum),
                                TimeDistributed(Dense(units: 2, activation: .relu)), Dropout(0.5),
                                GRULayer(units: 3, stateful: true), Dense(units: 1, activation: .sigmoid, useBias: false)], seed: 9)
        try model.build(inputShape: [6])
        try model.save(to: directory)
        let expected = """
        {"format": "lstmkit.sequential", "version": 2, "input_shape": [6], "seed": 9, "layers": [
          {"class_name": "Embedding", "config": {"input_dim": 7, "output_dim": 3, "mask_zero": true}},
          {"class_name": "Bidirectional", "config": {"merge_mode": "sum", "layer": {"class_name": "LSTM", "config": {
            "units": 4, "return_sequences": true, "return_state": false, "stateful": false, "recurrent_dropout": 0,
            "cell_clip": 2, "proj_size": 0, "peephole": false, "layer_norm": false, "activation": "tanh",
            "recurrent_activation": "sigmoid", "go_backwards": false, "dropout": 0}}}},
          {"class_name": "TimeDistributed", "config": {"layer": {"class_name": "Dense", "config": {"units": 2, "activation": "relu", "use_bias": true}}}},
          {"class_name": "Dropout", "config": {"rate": 0.5}},
          {"class_name": "GRU", "config": {"units": 3, "return_sequences": false, "return_state": false, "stateful": true,
            "activation": "tanh", "recurrent_activation": "sigmoid", "go_backwards": false, "dropout": 0}},
          {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid", "use_bias": false}}]}
        """
        let written = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("model.json"))) as? NSDictionary
        let want = try JSONSerialization.jsonObject(with: Data(expected.utf8)) as? NSDictionary
        XCTAssertEqual(written, want)
        let loaded = try Sequential.load(from: directory)
        XCTAssertEqual(loaded.config, model.config)
        XCTAssertEqual(loaded.summary(), model.summary())
        XCTAssertTrue(loaded.summary().contains("1: Bidirectional"), loaded.summary())
    }

    /// A field left out takes the default of the layer's initialiser (how a field added later reads older files),
    /// and Keras's merge_mode "ave" reads as average.
    func testVersion2FieldsLeftOutTakeTheirDefaults() throws {
        let json = """
        {"format": "lstmkit.sequential", "version": 2, "input_shape": [4, 2], "seed": 1, "layers": [
          {"class_name": "Bidirectional", "config": {"layer": {"class_name": "LSTM", "config": {"units": 3, "return_sequences": true}},
                                                     "merge_mode": "ave"}},
          {"class_name": "GRU", "config": {"units": 2, "cell_clip": null}},
          {"class_name": "Dense", "config": {"units": 1}}]}
        """
        let spec = try ModelSpec.decode(Data(json.utf8))
        XCTAssertEqual(spec.layers, [
            AnyLayerConfig(Bidirectional.self, config: .init(layer: AnyLayerConfig(LSTMLayer(units: 3, returnSequences: true)), mergeMode: .average)),
            AnyLayerConfig(GRULayer(units: 2)), AnyLayerConfig(Dense(units: 1, activation: .linear, useBias: true)),
        ])
    }

    /// Writes `layers` (a JSON array of version 2 entries) as model.json, with an `extra` top-level text.
    private func modelJSON(_ layers: String, inputShape: String = "[5]", version: String = "2", extra: String = "") throws -> URL {
        let dir = directory.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("{\"format\":\"lstmkit.sequential\",\"version\":\(version),\"seed\":1,\"input_shape\":\(inputShape),\(extra)\"layers\":\(layers)}".utf8)
            .write(to: dir.appendingPathComponent("model.json"))
        return dir
    }

    private func invalidArgument(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> (name: String, reason: String) {
        do {
            try body()
            XCTFail("no error", file: file, line: line)
        } catch let LSTMKitError.invalidArgument(name, _, reason) {
            return (name, reason)
        } catch {
            XCTFail("not an invalidArgument error: \(error)", file: file, line: line)
        }
        return ("", "")
    }

    /// Hostile or mistaken version 2 files: each refused with `invalidArgument` naming the file, layer and field.
    func testVersion2IsStrictAndRangeChecked() throws {
        let embedding = #"{"class_name":"Embedding","config":{"input_dim":6,"output_dim":3}}"#
        func dense(_ config: String) -> String { #"{"class_name":"Dense","config":{"# + config + "}}" }
        func lstm(_ config: String) -> String { #"{"class_name":"LSTM","config":{"# + config + "}}" }
        let cases: [(layers: String, inputShape: String, extra: String, field: String, reason: String)] = [
            ("[\(embedding),\(dense(#""units":2,"use_bais":true"#))]", "[5]", "", "model.json layers[1].config.use_bais", "Dense has no such field"),
            ("[\(embedding),{\"class_name\":\"Dense\",\"config\":{\"units\":2},\"name\":\"d\"}]", "[5]", "", "model.json layers[1].name",
             "not a field of a layer entry"),
            ("[\(embedding),{\"class_name\":\"Conv1D\",\"config\":{}}]", "[5]", "", "model.json layers[1].class_name", "unknown layer type"),
            ("[\(embedding),{\"class_name\":\"GRU\",\"config\":{\"units\":4,\"peephole\":true}}]", "[5]", "", "model.json layers[1].config.peephole",
             "GRU has no such field"),
            ("[\(embedding),\(dense(#""units":0"#))]", "[5]", "", "model.json layers[1].config.units", "must be in 1...16777216"),
            ("[\(embedding),\(dense(#""units":1000000000000"#))]", "[5]", "", "model.json layers[1].config.units", "must be in 1...16777216"),
            ("[\(embedding),\(dense(#""units":1e300"#))]", "[5]", "", "model.json layers[1].config.units", "not a whole number that fits in Int"),
            ("[\(embedding),\(dense(#""units":"4""#))]", "[5]", "", "model.json layers[1].config.units", ""),
            ("[\(embedding),\(dense(#""units":2,"activation":"swish""#))]", "[5]", "", "model.json layers[1].config.activation", ""),
            ("[\(embedding),\(dense(#""units":2,"use_bias":1e400"#))]", "[5]", "", "model.json layers[1].config.use_bias", "not a finite number"),
            ("[\(embedding),\(dense(#""units":2,"units":3"#))]", "[5]", "", "model.json layers[1].config.units", "only once"),
            ("[\(embedding),\(dense(""))]", "[5]", "", "model.json layers[1].config.units", "required"),
            ("[\(embedding),{\"class_name\":\"Dropout\",\"config\":{\"rate\":1}}]", "[5]", "", "model.json layers[1].config.rate", "must be in [0, 1)"),
            ("[\(embedding),\(lstm(#""units":1000000"#))]", "[5]", "", "model.json layers[1]", "more than 2147483648 parameters"),
            ("[\(embedding),\(lstm(#""units":4,"proj_size":4"#))]", "[5]", "", "model.json layers[1].config.proj_size", "less than units 4"),
            ("[\(embedding),\(lstm(#""units":4,"cell_clip":-1"#))]", "[5]", "", "model.json layers[1].config.cell_clip", "finite number > 0"),
            ("[\(embedding),\(lstm(#""units":4,"recurrent_dropout":1.5"#))]", "[5]", "", "model.json layers[1].config.recurrent_dropout", "[0, 1)"),
            ("[\(embedding),\(lstm(#""units":4"#)),\(lstm(#""units":4"#))]", "[5]", "", "model.json layers[2]", "needs [T, features] per sample"),
            ("[\(embedding),{\"class_name\":\"Bidirectional\",\"config\":{\"layer\":\(lstm(#""units":4"#)),\"merge_mode\":\"bogus\"}}]", "[5]", "",
             "model.json layers[1].config.merge_mode", "must be concat, sum, mul or average"),
            ("[\(embedding),{\"class_name\":\"Bidirectional\",\"config\":{\"layer\":\(dense(#""units":4"#))}}]", "[5]", "",
             "model.json layers[1].config.layer", "wraps an LSTM or GRU layer"),
            ("[\(embedding),{\"class_name\":\"Bidirectional\",\"config\":{\"layer\":\(lstm(#""units":0"#))}}]", "[5]", "",
             "model.json layers[1].config.layer.config.units", "must be in 1...16777216"),
            ("[\(embedding),{\"class_name\":\"Sequential\",\"config\":{\"layers\":[]}}]", "[5]", "", "model.json layers[1].config.layers",
             "at least one layer"),
            ("[\(embedding),{\"class_name\":\"Sequential\",\"config\":{\"layers\":[\(dense(#""units":2"#)),\(dense(#""units":-3"#))]}}]", "[5]", "",
             "model.json layers[1].config.layers[1].config.units", "must be in 1...16777216"),
            ("[\(embedding)]", "[]", "", "model.json input_shape", "must have 1 to 8 dimensions"),
            ("[\(embedding)]", "[-5]", "", "model.json input_shape[0]", "must be in 1...16777216"),
            ("[]", "[5]", "", "model.json layers", "at least one layer"),
            ("[\(embedding)]", "[5]", "\"inputShape\":[5],", "model.json inputShape", "not a field of model.json version 2"),
        ]
        for c in cases {
            let dir = try modelJSON(c.layers, inputShape: c.inputShape, extra: c.extra)
            let e = invalidArgument { _ = try Sequential.load(from: dir) }
            XCTAssertEqual(e.name, c.field, c.layers)
            XCTAssertTrue(c.reason.isEmpty || e.reason.contains(c.reason), "\(c.layers): \(e.reason)")
        }
        let e = invalidArgument { _ = try Sequential.load(from: try modelJSON("[\(embedding)]", version: "3")) }
        XCTAssertEqual(e.name, "model.json version")
        XCTAssertTrue(e.reason.contains("versions 1 and 2"), e.reason)
        // At most 10,000 layers, counted before any is decoded.
        func dropouts(_ n: Int) -> String { "[" + Array(repeating: #"{"class_name":"Dropout","config":{"rate":0.1}}"#, count: n).joined(separator: ",") + "]" }
        XCTAssertNoThrow(try ModelSpec.decode(try Data(contentsOf: try modelJSON(dropouts(10_000)).appendingPathComponent("model.json"))))
        let tooMany = invalidArgument { _ = try Sequential.load(from: try modelJSON(dropouts(10_001))) }
        XCTAssertEqual(tooMany.name, "model.json layers[10000]")
        XCTAssertTrue(tooMany.reason.contains("at most 10000 layers"), tooMany.reason)
        // Nesting: 8 levels load, 9 do not.
        func nested(_ depth: Int) -> String {
            "[\(embedding),\(lstm(#""units":2,"return_sequences":true"#)),"
                + String(repeating: "{\"class_name\":\"Sequential\",\"config\":{\"layers\":[", count: depth - 1) + dense(#""units":2"#)
                + String(repeating: "]}}", count: depth - 1) + "]"
        }
        XCTAssertNoThrow(try ModelSpec.decode(try Data(contentsOf: try modelJSON(nested(8)).appendingPathComponent("model.json"))))
        XCTAssertTrue(invalidArgument { _ = try Sequential.load(from: try modelJSON(nested(9))) }.reason.contains("nest more than 8 deep"))
        XCTAssertTrue(invalidArgument { _ = try Sequential.load(from: try modelJSON(nested(100_000))) }.name.hasPrefix("model.json"))
    }

    /// A layer of the user's own that is not a `ConfigurableLayer` trains but cannot be saved: a typed error naming
    /// its place and type, and nothing written.
    func testALayerThatIsNotConfigurableIsNotSaved() throws {
        final class Identity: Layer {
            var parameterBuffers: [ParameterBuffer] { [] }
            var namedParameters: [(name: String, tensor: Tensor)] { [] }
            func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] { inputShape }
            func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor { x }
            func backward(_ dy: Tensor) throws -> Tensor? { dy }
        }
        let model = Sequential([Dense(units: 2), Identity()])
        try model.build(inputShape: [3])
        XCTAssertTrue(model.summary().contains("1: Identity"), model.summary())
        XCTAssertThrowsError(try model.save(to: directory)) {
            XCTAssertEqual($0 as? LSTMKitError, .invalidArgument(name: "save: layers[1]", value: "Identity",
                                                                 reason: "does not conform to ConfigurableLayer, so its architecture cannot be saved"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path))
        // Nested in a Sequential, encoding refuses it.
        let outer = Sequential([Sequential([Identity()])])
        try outer.build(inputShape: [3])
        XCTAssertThrowsError(try outer.save(to: directory)) {
            guard case let .invalidArgument(_, value, reason)? = $0 as? LSTMKitError else { return XCTFail("\($0)") }
            XCTAssertEqual(value, "Identity")
            XCTAssertTrue(reason.contains("ConfigurableLayer"), reason)
        }
    }

    /// A layer of an application's own: `y = factor * x`, no parameters. Its type and one `register` call are all
    /// that saving and loading it take.
    final class Scale: ConfigurableLayer {
        struct Config: Codable, Equatable, Sendable { var factor: Double }
        static var kerasClassName: String { "LayerConfigTestsScale" }
        let factor: Double
        private var device: Device?
        init(factor: Double) { self.factor = factor }
        convenience init(config: Config) throws { self.init(factor: config.factor) }
        var config: Config { Config(factor: factor) }
        var parameterBuffers: [ParameterBuffer] { [] }
        var namedParameters: [(name: String, tensor: Tensor)] { [] }
        func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] { self.device = device; return inputShape }
        func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor {
            let values = try x.tensor.toArray().map { $0 * Float(factor) }
            return MaskedTensor(try Tensor(shape: x.tensor.shape, values: values, device: x.tensor.device), lengths: x.lengths)
        }
        func backward(_ dy: Tensor) throws -> Tensor? { try Tensor(shape: dy.shape, values: try dy.toArray().map { $0 * Float(factor) }, device: dy.device) }
    }

    /// Another type that claims Keras's "Dense".
    final class Impostor: ConfigurableLayer {
        static var kerasClassName: String { "Dense" }
        var config: Scale.Config { Scale.Config(factor: 1) }
        init(config: Scale.Config) throws {}
        var parameterBuffers: [ParameterBuffer] { [] }
        var namedParameters: [(name: String, tensor: Tensor)] { [] }
        func build(inputShape: [Int], device: Device, seed: UInt64) throws -> [Int] { inputShape }
        func forward(_ x: MaskedTensor, training: Bool) throws -> MaskedTensor { x }
        func backward(_ dy: Tensor) throws -> Tensor? { dy }
    }

    func testALayerOfYourOwnSavesAndLoadsOnceRegistered() throws {
        let model = Sequential([Dense(units: 2), Scale(factor: 3)], seed: 4)
        try model.build(inputShape: [3])
        try model.save(to: directory)
        let x = try DataArray(shape: [2, 3], values: [0.5, -1, 2, 1.5, 0.25, -0.75])
        let want = try model.predict(x)
        // The same Dense alone (same seed, same place: same weights), times 3: what Scale must add.
        let dense = Sequential([Dense(units: 2)], seed: 4)
        try dense.build(inputShape: [3])
        XCTAssertEqual(want.values, try dense.predict(x).values.map { $0 * 3 })
        let unknown = invalidArgument { _ = try Sequential.load(from: directory) }
        XCTAssertEqual(unknown.name, "model.json layers[1].class_name")
        XCTAssertTrue(unknown.reason.contains("unknown layer type"), unknown.reason)

        try LayerRegistry.register(Scale.self)
        try LayerRegistry.register(Scale.self)
        XCTAssertEqual(LayerRegistry.types.filter { $0 == Scale.self }.count, 1, "registered once")
        XCTAssertThrowsError(try LayerRegistry.register(Impostor.self)) {
            guard case let .invalidArgument(name, value, _)? = $0 as? LSTMKitError else { return XCTFail("\($0)") }
            XCTAssertEqual(name, "LayerRegistry.register"); XCTAssertEqual(value, "Dense")
        }
        XCTAssertTrue(LayerRegistry.type(named: "Dense") == Dense.self)
        let loaded = try Sequential.load(from: directory)
        XCTAssertEqual(loaded.config, model.config)
        XCTAssertEqual(try loaded.predict(x), want)
        // Its unknown keys are refused as the library's are.
        let json = try String(contentsOf: directory.appendingPathComponent("model.json"), encoding: .utf8)
        try json.replacingOccurrences(of: "\"factor\"", with: "\"bias\" : 1, \"factor\"")
            .write(to: directory.appendingPathComponent("model.json"), atomically: true, encoding: .utf8)
        let stray = invalidArgument { _ = try Sequential.load(from: directory) }
        XCTAssertEqual(stray.name, "model.json layers[1].config.bias")
        XCTAssertTrue(stray.reason.contains("LayerConfigTestsScale has no such field"), stray.reason)
    }
}
