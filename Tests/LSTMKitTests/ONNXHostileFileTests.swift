import Foundation
import XCTest
@testable import LSTMKit

/// Truncated, mutated and hostile ONNX files give typed errors (`ONNXError`, or `LSTMKitError` for sizes the layers
/// refuse), never a trap, a hang or a huge allocation. The specific cases run in-process and check the error names
/// the value or node at fault; the seeded mutation loop runs in a child process (this test binary again), so a
/// trap would fail the test with the mutation that caused it instead of killing the run.
final class ONNXHostileFileTests: XCTestCase {
    /// A small exported Sequential (with its metadata) and a torch export.
    func validFiles() throws -> [(name: String, data: Data)] {
        let model = Sequential([Embedding(inputDim: 9, outputDim: 3, maskZero: true), Bidirectional(LSTMLayer(units: 3, returnSequences: true)),
                                GRULayer(units: 2), Dense(units: 2, activation: .softmax)], device: .cpu, seed: 2)
        try model.build(inputShape: [4])
        let torch = try Data(contentsOf: fixturesDirectory.appendingPathComponent("onnx/torch_lstm_2layer_bidirectional.onnx"))
        let lens = try Data(contentsOf: fixturesDirectory.appendingPathComponent("onnx/onnx_gru_seq_lens.onnx"))
        let dynamo = try Data(contentsOf: fixturesDirectory.appendingPathComponent("onnx/torch_dynamo_gru_2layer.onnx"))
        return [("exported", try ONNXExport.data(model, metadata: ["k": "v"])), ("torch", torch), ("onnx_gru_seq_lens", lens), ("torch_dynamo", dynamo)]
    }

    /// Imports `data` every way; returns the error, if any, and fails on an untyped one.
    @discardableResult
    func importAll(_ data: Data, _ what: String, file: StaticString = #filePath, line: UInt = #line) -> Error? {
        var first: Error? = nil
        do {
            let network = try ONNXImport.network(data)
            let F = (network.core as? LSTM)?.inputSize ?? (network.core as? GRU)?.inputSize ?? 1
            var inputs: [String: (shape: [Int], values: [Float])] = [network.inputName: ([2, 3, F], Array(repeating: 0.5, count: 6 * F))]
            if let l = network.lengthsName { inputs[l] = ([2], [3, 1]) }
            _ = try network.run(inputs)
        } catch { first = error }
        do { _ = try ONNXImport.sequential(data, sequenceLength: 3) } catch { first = first ?? error }
        if let e = first, !(e is ONNXError || e is LSTMKitError) {
            XCTFail("\(what): untyped error \(type(of: e)): \(e)", file: file, line: line)
        }
        return first
    }

    func expectONNXError(_ data: Data, _ what: String, _ check: (ONNXError) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ONNXImport.network(data), what, file: file, line: line) { error in
            guard let e = error as? ONNXError else { return XCTFail("\(what): \(error)", file: file, line: line) }
            XCTAssertTrue(check(e), "\(what): \(e)", file: file, line: line)
        }
    }

    func torchModel() throws -> Onnx_ModelProto {
        try ONNXImport.parse(try Data(contentsOf: fixturesDirectory.appendingPathComponent("onnx/torch_lstm_2layer.onnx")))
    }
    func bytes(_ m: Onnx_ModelProto) throws -> Data { try m.serializedData() }
    func lstmNode(_ m: Onnx_ModelProto) -> Int { m.graph.node.firstIndex { $0.opType == "LSTM" }! }
    func weightIndex(_ m: Onnx_ModelProto) -> Int {
        let w = m.graph.node[lstmNode(m)].input[1]
        return m.graph.initializer.firstIndex { $0.name == w }!
    }

    func testTruncatedFiles() throws {
        for (name, data) in try validFiles() {
            var failures = 0, cuts = 0
            for cut in Array(stride(from: 0, to: data.count, by: max(1, data.count / 300))) + [data.count - 1] {
                cuts += 1
                if importAll(data.prefix(cut), "\(name) cut at \(cut)") != nil { failures += 1 }
            }
            XCTAssertGreaterThan(failures, cuts * 9 / 10, "\(name): most truncations must be refused (\(failures) of \(cuts))")
        }
    }

    func testHostileDimsAndSizes() throws {
        var m = try torchModel()
        let w = weightIndex(m), wName = m.graph.initializer[w].name
        m.graph.initializer[w].dims = [1, 1 << 40, 3]
        expectONNXError(try bytes(m), "huge dim") { if case let .invalidModel(what, reason) = $0 { return what.contains(wName) && reason.contains("larger") }; return false }
        m.graph.initializer[w].dims = [1, -20, 3]
        expectONNXError(try bytes(m), "negative dim") { if case let .invalidModel(what, reason) = $0 { return what.contains(wName) && reason.contains("negative") }; return false }
        m.graph.initializer[w].dims = [1 << 20, 1 << 20, 1 << 20]
        expectONNXError(try bytes(m), "overflowing count") { if case let .invalidModel(_, reason) = $0 { return reason.contains("more than") }; return false }
        m = try torchModel()
        m.graph.initializer[w].rawData.removeLast(4)
        expectONNXError(try bytes(m), "short raw_data") { if case let .invalidModel(what, reason) = $0 { return what.contains(wName) && reason.contains("raw_data") }; return false }
        m = try torchModel()
        m.graph.initializer[w].dims = [1, 20, 4]   // consistent tensor, wrong for the node (hidden 5 needs [1, 20, 3]... input 3)
        m.graph.initializer[w].rawData = Data(count: 1 * 20 * 4 * 4)
        expectONNXError(try bytes(m), "W of another input size") { if case let .invalidModel(what, reason) = $0 { return what.contains("graph input") && reason.contains("4") }; return false }
        m = try torchModel()
        var ext = Onnx_StringStringEntryProto(); ext.key = "location"; ext.value = "/etc/passwd"
        m.graph.initializer[w].externalData = [ext]
        m.graph.initializer[w].dataLocation = .external
        expectONNXError(try bytes(m), "external data") { if case let .invalidModel(_, reason) = $0 { return reason.contains("external") }; return false }
    }

    func testMissingValuesCyclesAndDuplicates() throws {
        var m = try torchModel()
        let wName = m.graph.initializer[weightIndex(m)].name
        m.graph.initializer.remove(at: weightIndex(m))
        expectONNXError(try bytes(m), "missing initializer") { if case let .invalidModel(_, reason) = $0 { return reason.contains(wName) }; return false }
        m = try torchModel()
        let last = m.graph.node.count - 1
        var n = m.graph.node[lstmNode(m)]
        n.input[0] = m.graph.node[last].output[0]   // the LSTM reads what comes after it
        m.graph.node[lstmNode(m)] = n
        expectONNXError(try bytes(m), "cycle") { if case let .invalidModel(_, reason) = $0 { return reason.contains("cycle") }; return false }
        m = try torchModel()
        var dup = m.graph.node[0]; dup.name = "dup"
        m.graph.node.append(dup)
        expectONNXError(try bytes(m), "duplicate producer") { if case let .invalidModel(_, reason) = $0 { return reason.contains("produced twice") }; return false }
        m = try torchModel()
        var identity = Onnx_NodeProto(); identity.opType = "Identity"; identity.input = [m.graph.input[0].name]; identity.output = ["copy"]
        m.graph.node = [identity]
        m.graph.output = [GraphBuilder.valueInfo("copy", .float, [.param("batch"), .param("seq"), .fixed(3)])]
        expectONNXError(try bytes(m), "no recurrent node") { if case let .invalidModel(_, reason) = $0 { return reason.contains("no LSTM or GRU") }; return false }
    }

    func testUnsupportedNodesAreNamed() throws {
        var m = try torchModel()
        var weird = Onnx_NodeProto(); weird.opType = "FooBar"; weird.name = "weird_node"; weird.input = [m.graph.input[0].name]; weird.output = ["foo"]
        m.graph.node.append(weird)
        expectONNXError(try bytes(m), "unknown op") { $0 == .unsupportedNode(opType: "FooBar", name: "weird_node", reason: "op type FooBar is not supported by LSTMKit's importer") }
        m = try torchModel()
        m.graph.node[lstmNode(m)].domain = "com.microsoft"
        let name = m.graph.node[lstmNode(m)].name
        expectONNXError(try bytes(m), "domain") { if case let .unsupportedNode(op, n, _) = $0 { return op == "LSTM" && n == name }; return false }
        m = try torchModel()
        var clip = Onnx_AttributeProto(); clip.name = "clip"; clip.type = .float; clip.f = 3
        m.graph.node[lstmNode(m)].attribute.append(clip)
        expectONNXError(try bytes(m), "clip") { if case let .unsupportedNode(op, n, reason) = $0 { return op == "LSTM" && n == name && reason.contains("clip") }; return false }
        m = try torchModel()
        m.graph.node[lstmNode(m)].attribute.append(attr("layout", 1))
        expectONNXError(try bytes(m), "layout") { if case let .unsupportedNode(_, _, reason) = $0 { return reason.contains("layout") }; return false }
        var g = try ONNXImport.parse(try Data(contentsOf: fixturesDirectory.appendingPathComponent("onnx/torch_gru_2layer.onnx")))
        let gi = g.graph.node.firstIndex { $0.opType == "GRU" }!
        g.graph.node[gi].attribute.removeAll { $0.name == "linear_before_reset" }
        expectONNXError(try bytes(g), "GRU linear_before_reset 0") { if case let .unsupportedNode(op, _, reason) = $0 { return op == "GRU" && reason.contains("linear_before_reset") }; return false }
        m = try torchModel()   // a Transpose with another perm on the data path
        let t = m.graph.node.firstIndex { $0.opType == "Transpose" }!
        m.graph.node[t].attribute = [attr("perm", [0, 2, 1] as [Int64])]
        let tName = m.graph.node[t].name
        expectONNXError(try bytes(m), "perm") { if case let .unsupportedNode(op, n, _) = $0 { return op == "Transpose" && n == tName }; return false }
        m = try torchModel()   // a non-zero initial state
        let c = m.graph.node.firstIndex { $0.opType == "ConstantOfShape" }!
        m.graph.node[c].attribute = [{ var a = Onnx_AttributeProto(); a.name = "value"; a.type = .tensor
            var t = Onnx_TensorProto(); t.dataType = 1; t.dims = [1]; t.floatData = [0.5]; a.t = t; return a }()]
        expectONNXError(try bytes(m), "non-zero initial state") { if case let .unsupportedNode(op, _, reason) = $0 { return op == "ConstantOfShape" && reason.contains("zero") }; return false }
    }

    /// An exported Sequential whose graph was edited after export no longer matches its metadata: refused.
    func testTamperedExportIsRefused() throws {
        let model = Sequential([LSTMLayer(units: 3, returnSequences: true), Dense(units: 2, activation: .softmax)], device: .cpu, seed: 1)
        try model.build(inputShape: [5, 2])
        var m = try ONNXImport.parse(try ONNXExport.data(model))
        let s = m.graph.node.firstIndex { $0.opType == "Softmax" }!
        m.graph.node[s].opType = "Sigmoid"
        m.graph.node[s].attribute = []
        XCTAssertThrowsError(try ONNXImport.sequential(try bytes(m))) { error in
            guard case let ONNXError.unsupportedNode(op, _, reason)? = error as? ONNXError else { return XCTFail("\(error)") }
            XCTAssertEqual(op, "Sigmoid"); XCTAssertTrue(reason.contains("differs"), reason)
        }
        m = try ONNXImport.parse(try ONNXExport.data(model))
        let key = m.metadataProps.firstIndex { $0.key == ONNXExport.modelMetadataKey }!
        m.metadataProps[key].value = m.metadataProps[key].value.replacingOccurrences(of: "\"units\":3", with: "\"units\":300000000")
        XCTAssertThrowsError(try ONNXImport.sequential(try bytes(m))) { error in
            guard case let ONNXError.invalidModel(what, reason)? = error as? ONNXError else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "metadata lstmkit.model layers[0].config.units")
            XCTAssertTrue(reason.contains("must be in 1...16777216"), "\(what): \(reason)")
        }
        m.metadataProps[key].value = "{not json"
        XCTAssertThrowsError(try ONNXImport.sequential(try bytes(m))) { XCTAssertNotNil($0 as? ONNXError) }
    }

    /// The seeded mutation loop, in a child process.
    func testSeededMutations() throws {
        if Settings.flag("LSTMKIT_ONNX_MUTATION_CHILD", default: false) {
            var g = SeededGenerator(seed: 0x0_19_19)
            var refused = 0, total = 0
            for (name, data) in try validFiles() {
                for k in 0..<200 {
                    var bytes = [UInt8](data)
                    for _ in 0..<Int.random(in: 1...4, using: &g) {
                        let i = Int.random(in: 0..<bytes.count, using: &g)
                        switch Int.random(in: 0..<3, using: &g) {
                        case 0: bytes[i] = UInt8.random(in: 0...255, using: &g)
                        case 1: bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &g)
                        default: bytes[i] = [0x00, 0x7F, 0x80, 0xFF][Int.random(in: 0..<4, using: &g)]
                        }
                    }
                    print("mutation \(name) \(k)"); fflush(nil)
                    total += 1
                    if importAll(Data(bytes), "\(name) mutation \(k)") != nil { refused += 1 }
                }
            }
            print("mutations refused with typed errors: \(refused) of \(total)")
            return
        }
        let child = try runTestInChild("ONNXHostileFileTests/testSeededMutations", environment: ["LSTMKIT_ONNX_MUTATION_CHILD": "1"])
        let output = child.output
        let lastMutation = output.split(separator: "\n").last { $0.hasPrefix("mutation ") } ?? "none"
        XCTAssertEqual(child.status, 0, "the mutation child failed or trapped at \(lastMutation):\n\(output.suffix(4000))")
        XCTAssert(output.contains("Executed 1 test"), "the child must have run the loop:\n\(output.suffix(2000))")
        if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("mutations refused") }) { print(line) }
    }
}
