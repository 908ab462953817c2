import Foundation
import XCTest
@testable import LSTMKit

/// ONNX import of the committed fixtures (Tests/Fixtures/make_onnx_fixtures.py): nn.LSTM / nn.GRU exported by
/// torch.onnx.export (2 layers, uni- and bidirectional, batch-first and time-major) must give PyTorch's outputs, and
/// single-node graphs written as onnx's operator examples (peepholes, sequence_lens) onnxruntime's, within 2e-6 on
/// both devices, at two batch sizes and lengths. Then the imported core is exported again and onnxruntime agrees.
final class ONNXImportTests: XCTestCase {
    static let tolerance = 2e-6
    static let fixtures = ["torch_lstm_2layer", "torch_lstm_2layer_bidirectional", "torch_gru_2layer", "torch_gru_2layer_bidirectional",
                           "torch_lstm_time_major_bidirectional", "torch_dynamo_lstm_2layer_bidirectional", "torch_dynamo_gru_2layer",
                           "onnx_lstm_example", "onnx_lstm_peepholes_bidirectional", "onnx_gru_seq_lens"]

    static func url(_ name: String, _ ext: String) -> URL { fixturesDirectory.appendingPathComponent("onnx/\(name).\(ext)") }

    func importAndCompare(device: Device) throws {
        for name in Self.fixtures {
            let network = try ONNXImport.network(from: Self.url(name, "onnx"), device: device)
            let expected = try SafeTensors.read(Self.url(name, "safetensors"))
            var worst = 0.0
            for k in 0..<2 {
                var inputs: [String: (shape: [Int], values: [Float])] = [:]
                for input in [network.inputName] + (network.lengthsName.map { [$0] } ?? []) {
                    let e = try XCTUnwrap(expected["\(input)\(k)"], "\(name): no \(input)\(k) in the fixture")
                    inputs[input] = (e.shape, e.values.map(Float.init))
                }
                let outputs = try network.run(inputs)
                XCTAssertEqual(outputs.count, network.outputs.count)
                for (output, got) in outputs {
                    let e = try XCTUnwrap(expected["\(output)\(k)"], "\(name): no \(output)\(k) in the fixture")
                    XCTAssertEqual(got.shape, e.shape, "\(name) \(output)")
                    XCTAssertGreaterThan(maxAbs(e.values), 0.01)
                    worst = max(worst, maxError(got.values.map(Double.init), e.values))
                    assertClose(got.values.map(Double.init), e.values, atol: Self.tolerance, "\(name) on \(device), input \(k), \(output)")
                }
            }
            print("ONNX import max error \(name) \(device): \(worst)")
        }
    }

    func testImportCPU() throws { try importAndCompare(device: .cpu) }
    func testImportOpenCL() throws { try importAndCompare(device: try openCLDeviceOrSkip()) }

    /// The imported core, exported again, runs in onnxruntime to the core's own outputs.
    func reexport(device: Device) throws {
        for name in Self.fixtures {
            let network = try ONNXImport.network(from: Self.url(name, "onnx"), device: device)
            let expected = try SafeTensors.read(Self.url(name, "safetensors"))
            let lengths = network.lengthsName != nil
            let data: Data
            if let lstm = network.core as? LSTM { data = try ONNXExport.data(lstm, lengths: lengths) }
            else { data = try ONNXExport.data(try XCTUnwrap(network.core as? GRU), lengths: lengths) }
            var feeds: [ORTFeed] = [], want: [[String: [Double]]] = []
            for k in 0..<2 {
                let x = try XCTUnwrap(expected["\(network.inputName)\(k)"], name)
                let lens = try network.lengthsName.map { try XCTUnwrap(expected["\($0)\(k)"], name).values.map { Int($0) } }
                let (y, states) = try network.core.forward(try Tensor(shape: x.shape, doubles: x.values, device: device), lengths: lens, initialStates: nil)
                var w = ["output": try y.toDoubles(), "h_n": try states[0].toDoubles()]
                if states.count > 1 { w["c_n"] = try states[1].toDoubles() }
                want.append(w)
                var feed: ORTFeed = ["input": (x.shape, x.values)]
                if let lens { feed["lengths"] = ([lens.count], lens.map(Double.init)) }
                feeds.append(feed)
            }
            let ort = try runONNXRuntime(data, feeds)
            var worst = 0.0
            for k in 0..<2 {
                for (output, values) in want[k] {
                    let got = try XCTUnwrap(ort[k][output])
                    worst = max(worst, maxError(got.values, values))
                    assertClose(got.values, values, atol: Self.tolerance, "\(name) re-exported on \(device), input \(k), \(output)")
                }
            }
            print("ONNX re-export max error \(name) \(device): \(worst)")
        }
    }

    func testReexportCPU() throws { try onnxRuntimeOrSkip(); try reexport(device: .cpu) }
    func testReexportOpenCL() throws { try onnxRuntimeOrSkip(); try reexport(device: try openCLDeviceOrSkip()) }

    /// The importer reads back what the exporter writes: the same core, the same outputs.
    func testExportedCoreImportsBack() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true, bidirectional: true, peephole: true, seed: 9)
        lstm.training = false
        let network = try ONNXImport.network(try ONNXExport.data(lstm, lengths: true))
        XCTAssertTrue(network.batchFirst)
        XCTAssertEqual(network.lengthsName, "lengths")
        XCTAssertEqual(network.outputs.map(\.value), [.output, .hidden(layers: 0..<2), .cell(layers: 0..<2)])
        for name in lstm.parameterNames {
            XCTAssertEqual(try network.core.parameters[name]!.toArray(), try lstm.parameters[name]!.toArray(), name)
        }
    }

    /// A Sequential exported and imported again predicts the same numbers, bit for bit, on both devices.
    func sequentialRoundTrip(device: Device) throws {
        let models: [[Layer]] = [
            [Embedding(inputDim: 12, outputDim: 4, maskZero: true), Bidirectional(LSTMLayer(units: 3, returnSequences: true, cellClip: 0.2, peephole: true)),
             Dropout(0.2), Bidirectional(GRULayer(units: 3), mergeMode: .average), Dense(units: 3, activation: .softmax)],
            [LSTMLayer(units: 4, returnSequences: true), TimeDistributed(Dense(units: 2, activation: .tanh))],
        ]
        for (k, layers) in models.enumerated() {
            let model = Sequential(layers, device: device, seed: 11)
            let x: DataArray
            if k == 0 {
                x = try DataArray(shape: [3, 5], values: paddedTokens(lengths: [5, 2, 4], steps: 5, vocabulary: 12, seed: 1).map(Float.init))
            } else {
                x = try DataArray(shape: [2, 5, 3], values: randomValues(30, seed: 2).map(Float.init))
            }
            let want = try model.predict(x)
            let (back, metadata) = try ONNXImport.sequential(try ONNXExport.data(model, metadata: ["note": "kept"]), device: device)
            XCTAssertEqual(metadata["note"], "kept")
            XCTAssertEqual(back.config, model.config)
            XCTAssertEqual(try back.predict(x), want, "model \(k) on \(device)")
        }
    }

    func testSequentialRoundTripCPU() throws { try sequentialRoundTrip(device: .cpu) }
    func testSequentialRoundTripOpenCL() throws { try sequentialRoundTrip(device: try openCLDeviceOrSkip()) }

    /// torch's batch-first nn.LSTM / nn.GRU graphs as a Sequential of stacked layers: PyTorch's outputs.
    func testForeignGraphAsSequential() throws {
        for name in ["torch_lstm_2layer_bidirectional", "torch_gru_2layer", "torch_dynamo_lstm_2layer_bidirectional"] {
            let expected = try SafeTensors.read(Self.url(name, "safetensors"))
            for k in 0..<2 {
                let x = try XCTUnwrap(expected["input\(k)"])
                let (model, _) = try ONNXImport.sequential(try Data(contentsOf: Self.url(name, "onnx")), sequenceLength: x.shape[1])
                XCTAssertEqual(model.layers.count, 2)
                let y = try model.predict(try DataArray(shape: x.shape, values: x.values.map(Float.init)))
                assertClose(y.values.map(Double.init), try XCTUnwrap(expected["output\(k)"]).values, atol: Self.tolerance, "\(name) as a Sequential, input \(k)")
            }
        }
        XCTAssertThrowsError(try ONNXImport.sequential(try Data(contentsOf: Self.url("torch_lstm_time_major_bidirectional", "onnx")), sequenceLength: 4)) {
            XCTAssertNotNil($0 as? ONNXError)
        }
        XCTAssertThrowsError(try ONNXImport.sequential(try Data(contentsOf: Self.url("torch_lstm_2layer", "onnx")))) {   // dynamic T, none given
            XCTAssertNotNil($0 as? LSTMKitError)
        }
    }
}
