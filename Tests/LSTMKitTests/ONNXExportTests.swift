import Foundation
import XCTest
@testable import LSTMKit

/// ONNX export, checked by onnxruntime: for each exportable layer combination, the exported graph run by onnxruntime
/// (Tests/Fixtures/run_onnxruntime.py, which also runs onnx.checker with shape inference) gives `predict`'s values
/// within 2e-6 (absolute), on the CPU and on OpenCL, at the export's batch and sequence length (3, 6) and at
/// others (5, 9), with the dynamic axes. Skipped loudly without python3's onnx and onnxruntime.
///
/// Tolerance: both sides compute in float32 with different summation orders (onnxruntime's MLAS gemms, LSTMKit's
/// cblas or OpenCL gemms); the measured errors are a few 1e-7 (printed as "ONNX max error" lines).
final class ONNXExportTests: XCTestCase {
    static let tolerance = 2e-6

    enum Input { case features(Int), tokens(vocabulary: Int, masked: Bool) }

    /// Exports `layers` (built for batch 3, length 6), runs onnxruntime on that shape and on batch 5, length 9, and
    /// compares with `predict`. Returns the max error.
    @discardableResult
    func check(_ name: String, _ input: Input, device: Device, _ makeLayers: () -> [Layer]) throws -> Double {
        let shapes = [(3, 6, [6, 3, 1]), (5, 9, [9, 4, 7, 1, 2])]
        var model: Sequential? = nil, feeds: [ORTFeed] = [], expected: [[Double]] = []
        for (k, (b, t, lengths)) in shapes.enumerated() {
            let x: DataArray
            switch input {
            case let .features(f):
                x = try DataArray(shape: [b, t, f], values: randomValues(b * t * f, seed: UInt64(40 + k)).map(Float.init))
            case let .tokens(v, masked):
                let ids = paddedTokens(lengths: masked ? lengths : Array(repeating: t, count: b), steps: t, vocabulary: v, seed: UInt64(50 + k))
                x = try DataArray(shape: [b, t], values: ids.map(Float.init))
            }
            let m: Sequential
            if let first = model {
                m = try rebuilt(first, inputShape: Array(x.shape.dropFirst()))
            } else {
                m = Sequential(makeLayers(), device: device, seed: 7)
                try m.build(inputShape: Array(x.shape.dropFirst()))
                model = m
            }
            let y = try m.predict(x)
            expected.append(y.values.map(Double.init))
            feeds.append(["input": (x.shape, x.values.map(Double.init))])
        }
        let ort = try runONNXRuntime(try ONNXExport.data(model!), feeds)
        var worst = 0.0
        for k in 0..<shapes.count {
            guard let out = ort[k]["output"] else { XCTFail("\(name): onnxruntime gave no output"); return .infinity }
            // Keras's initialisation (glorot/orthogonal, zero biases) gives smaller outputs than PyTorch's: 0.005 is still
            // 2500 times the tolerance.
            XCTAssertGreaterThan(maxAbs(expected[k]), 0.005, "\(name): a trivial output proves nothing")
            worst = max(worst, maxError(out.values, expected[k]))
            assertClose(out.values, expected[k], atol: Self.tolerance, "\(name) on \(device), run \(k): onnxruntime vs predict")
        }
        print("ONNX max error \(name) \(device): \(worst)")
        return worst
    }

    func runAll(device: Device) throws {
        try check("lstm_plain", .features(4), device: device) { [LSTMLayer(units: 5, returnSequences: true), TimeDistributed(Dense(units: 3))] }
        try check("lstm_last_step", .features(4), device: device) { [LSTMLayer(units: 6), Dense(units: 2, activation: .tanh)] }
        try check("lstm_stacked", .features(4), device: device) {
            [LSTMLayer(units: 5, returnSequences: true), Dropout(0.3), LSTMLayer(units: 4, returnSequences: true), LSTMLayer(units: 3),
             Dense(units: 2, activation: .relu)]
        }
        try check("lstm_bidirectional", .features(4), device: device) {
            [Bidirectional(LSTMLayer(units: 4, returnSequences: true)), Bidirectional(LSTMLayer(units: 3), mergeMode: .sum),
             Dense(units: 3, activation: .sigmoid)]
        }
        try check("lstm_variable_lengths", .tokens(vocabulary: 20, masked: true), device: device) {
            [Embedding(inputDim: 20, outputDim: 5, maskZero: true), Bidirectional(LSTMLayer(units: 4, returnSequences: true)),
             LSTMLayer(units: 3, returnSequences: true), TimeDistributed(Dense(units: 4, activation: .softmax))]
        }
        try check("lstm_variable_lengths_last_step", .tokens(vocabulary: 20, masked: true), device: device) {
            [Embedding(inputDim: 20, outputDim: 5, maskZero: true), Bidirectional(LSTMLayer(units: 4, returnSequences: true), mergeMode: .average),
             Bidirectional(LSTMLayer(units: 4)), Dense(units: 3, activation: .softmax)]
        }
        try check("lstm_peephole", .features(4), device: device) {
            [LSTMLayer(units: 5, returnSequences: true, peephole: true), Bidirectional(LSTMLayer(units: 3, peephole: true), mergeMode: .mul),
             Dense(units: 2)]
        }
        try check("lstm_peephole_variable_lengths", .tokens(vocabulary: 15, masked: true), device: device) {
            [Embedding(inputDim: 15, outputDim: 4, maskZero: true), Bidirectional(LSTMLayer(units: 5, returnSequences: true, peephole: true)),
             TimeDistributed(Dense(units: 3, activation: .softmax))]
        }
        try check("lstm_cell_clip", .features(4), device: device) {
            [LSTMLayer(units: 5, returnSequences: true, cellClip: 0.1), Bidirectional(LSTMLayer(units: 3, cellClip: 0.2, peephole: true)),
             Dense(units: 2)]
        }
        try check("lstm_cell_clip_variable_lengths", .tokens(vocabulary: 20, masked: true), device: device) {
            [Embedding(inputDim: 20, outputDim: 5, maskZero: true), Bidirectional(LSTMLayer(units: 4, returnSequences: true, cellClip: 0.15)),
             LSTMLayer(units: 3, cellClip: 0.1, peephole: true), Dense(units: 3, activation: .softmax)]
        }
        try check("gru", .features(4), device: device) {
            [GRULayer(units: 5, returnSequences: true), Bidirectional(GRULayer(units: 4)), Dense(units: 3)]
        }
        try check("gru_variable_lengths", .tokens(vocabulary: 20, masked: true), device: device) {
            [Embedding(inputDim: 20, outputDim: 5, maskZero: true), Bidirectional(GRULayer(units: 4, returnSequences: true), mergeMode: .mul),
             GRULayer(units: 3), Dense(units: 2, activation: .softmax)]
        }
        try check("nested_sequential", .features(3), device: device) {
            [Sequential([LSTMLayer(units: 4, returnSequences: true), Dense(units: 3, activation: .tanh, useBias: false)], device: device),
             LSTMLayer(units: 2)]
        }
        // The three CLI tasks' architectures (Sources/LSTMCLI: CharLM, Forecast, Classify).
        try check("task_charlm", .tokens(vocabulary: 30, masked: false), device: device) {
            [Embedding(inputDim: 30, outputDim: 8), LSTMLayer(units: 16, returnSequences: true), Dropout(0.2),
             LSTMLayer(units: 16, returnSequences: true, stateful: true), Dense(units: 30, activation: .softmax)]
        }
        try check("task_forecast", .features(1), device: device) {
            [LSTMLayer(units: 8, returnSequences: true), LSTMLayer(units: 8), Dense(units: 3)]
        }
        try check("task_classify", .tokens(vocabulary: 25, masked: true), device: device) {
            [Embedding(inputDim: 25, outputDim: 8, maskZero: true), Bidirectional(LSTMLayer(units: 8)), Dense(units: 4, activation: .softmax)]
        }
    }

    func testSequentialRoundTripCPU() throws {
        try onnxRuntimeOrSkip()
        try runAll(device: .cpu)
    }

    func testSequentialRoundTripOpenCL() throws {
        try onnxRuntimeOrSkip()
        try runAll(device: try openCLDeviceOrSkip())
    }

    /// The cores' graphs: "input" (+ "lengths") in, "output", "h_n" (and "c_n") out, as `forward`.
    func checkCore(_ name: String, _ core: RecurrentCore, batchFirst: Bool, inputSize: Int, device: Device) throws {
        var feeds: [ORTFeed] = [], expected: [[String: [Double]]] = []
        let data: Data
        if let lstm = core as? LSTM { data = try ONNXExport.data(lstm, lengths: true) } else { data = try ONNXExport.data(core as! GRU, lengths: true) }
        for (k, (b, t, lengths)) in [(3, 6, [6, 3, 1]), (5, 9, [2, 9, 4, 1, 7])].enumerated() {
            let shape = batchFirst ? [b, t, inputSize] : [t, b, inputSize]
            let x = randomValues(b * t * inputSize, seed: UInt64(60 + k))
            let (y, states) = try core.forward(try Tensor(shape: shape, doubles: x, device: device), lengths: lengths, initialStates: nil)
            var e = ["output": try y.toDoubles(), "h_n": try states[0].toDoubles()]
            if states.count > 1 { e["c_n"] = try states[1].toDoubles() }
            expected.append(e)
            feeds.append(["input": (shape, x), "lengths": ([b], lengths.map(Double.init))])
        }
        let ort = try runONNXRuntime(data, feeds)
        var worst = 0.0
        for k in 0..<feeds.count {
            for (output, values) in expected[k] {
                guard let got = ort[k][output] else { XCTFail("\(name): no \(output) from onnxruntime"); continue }
                worst = max(worst, maxError(got.values, values))
                assertClose(got.values, values, atol: Self.tolerance, "\(name) on \(device), run \(k), \(output)")
            }
        }
        print("ONNX max error \(name) \(device): \(worst)")
    }

    func runCores(device: Device) throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, batchFirst: true, bidirectional: true, device: device, seed: 3)
        lstm.training = false
        try checkCore("core_lstm_2layer_bidirectional_lengths", lstm, batchFirst: true, inputSize: 3, device: device)
        let peep = try LSTM(inputSize: 4, hiddenSize: 3, numLayers: 2, bias: false, peephole: true, device: device, seed: 4)
        try checkCore("core_lstm_peephole_no_bias_time_major", peep, batchFirst: false, inputSize: 4, device: device)
        let clip = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true, bidirectional: true, cellClip: 0.2, device: device, seed: 6)
        try checkCore("core_lstm_cell_clip_2layer_bidirectional_lengths", clip, batchFirst: true, inputSize: 3, device: device)
        let gru = try GRU(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, device: device, seed: 5)
        try checkCore("core_gru_2layer_bidirectional_time_major", gru, batchFirst: false, inputSize: 3, device: device)
    }

    func testCoresCPU() throws {
        try onnxRuntimeOrSkip()
        try runCores(device: .cpu)
    }

    func testCoresOpenCL() throws {
        try onnxRuntimeOrSkip()
        try runCores(device: try openCLDeviceOrSkip())
    }

    /// What ONNX cannot express is a typed error naming the layer and the option (no python needed). Cell clipping is
    /// expressible (a Scan, see ONNXExport.scanLSTM) and checked by onnxruntime above.
    func testInexpressibleVariantsAreTypedErrors() throws {
        func expectError(_ layers: [Layer], option: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let m = Sequential(layers, device: .cpu, seed: 1)
            try m.build(inputShape: [4, 3])
            XCTAssertThrowsError(try ONNXExport.data(m), file: file, line: line) { error in
                guard case let ONNXError.unsupportedLayer(layer, opt, _) = error else { return XCTFail("\(error)", file: file, line: line) }
                XCTAssertTrue(layer.hasPrefix("0 (LSTM)") || layer.hasPrefix("0 (Bidirectional)"), layer, file: file, line: line)
                XCTAssertTrue(opt.hasPrefix(option), opt, file: file, line: line)
            }
        }
        try expectError([LSTMLayer(units: 4, projSize: 2)], option: "projSize 2")
        try expectError([LSTMLayer(units: 4, layerNorm: true)], option: "layerNorm")
        let core = try LSTM(inputSize: 3, hiddenSize: 4, recurrentDropout: 0.2)
        XCTAssertThrowsError(try ONNXExport.data(core)) { error in
            guard case let ONNXError.unsupportedLayer(_, opt, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(opt.contains("recurrentDropout") && opt.contains("training"), opt)
        }
        core.training = false
        XCTAssertNoThrow(try ONNXExport.data(core))
        let unbuilt = Sequential([LSTMLayer(units: 2)])
        XCTAssertThrowsError(try ONNXExport.data(unbuilt))
    }
}
