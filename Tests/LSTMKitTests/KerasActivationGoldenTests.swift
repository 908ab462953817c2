import Foundation
import XCTest
@testable import LSTMKit

/// Keras's `activation` / `recurrent_activation` on the LSTM and GRU, against keras.layers.LSTM / GRU (Keras 3,
/// TensorFlow backend, float32) from fixtures made by Tests/Fixtures/make_keras_activation_fixtures.py, forward and
/// gradients (tf.GradientTape), on both devices. Bounds as PyTorchGoldenTests: forward within 2e-6 absolute
/// (float32 rounding in another summation order), gradients within 1e-5 of the largest magnitude in each tensor.
final class KerasActivationGoldenTests: XCTestCase {
    static let pairs: [(Activation, Activation)] = [(.relu, .hardSigmoid), (.linear, .sigmoid), (.sigmoid, .relu)]

    func check(_ kind: String, _ act: Activation, _ ract: Activation, on device: Device) throws {
        let f = try SafeTensors.read(fixturesDirectory.appendingPathComponent("keras_\(kind)_\(act.rawValue)_\(ract.rawValue).safetensors"))
        let c = f["config"]!.values.map { Int($0) }
        let (I, H, B, T) = (c[0], c[1], c[2], c[3])
        let lstm = kind == "lstm"
            ? try LSTM(inputSize: I, hiddenSize: H, batchFirst: true, activation: act, recurrentActivation: ract, device: device) : nil
        let gru = kind == "gru"
            ? try GRU(inputSize: I, hiddenSize: H, batchFirst: true, activation: act, recurrentActivation: ract, device: device) : nil
        let core: RecurrentCore = lstm ?? gru!
        let gradients = lstm?.gradients ?? gru!.gradients
        try core.loadStateDict(f.filter { core.parameters[$0.key] != nil })
        let x = try Tensor(shape: [B, T, I], doubles: f["input"]!.values, device: device)
        let (y, states) = try core.forward(x, lengths: nil, initialStates: nil)
        let tag = "keras \(kind) \(act.rawValue)/\(ract.rawValue) on \(device)"
        var forward = 0.0
        for (got, key) in zip([y] + states, ["output", "h_n", "c_n"]) {
            let expected = f[key]!.values, values = try got.toDoubles()
            assertClose(values, expected, atol: 2e-6, "\(tag): \(key)")
            forward = max(forward, maxAbsDiff(values, expected))
        }
        let dx = try core.backward(gradOutput: Tensor(shape: y.shape, doubles: f["grad_output"]!.values, device: device),
                                   gradStates: Array(repeating: nil, count: core.stateCount))
        var relative = 0.0
        for (got, key) in [(try dx.toDoubles(), "grad.input")] + (try core.parameterNames.map { (try gradients[$0]!.toDoubles(), "grad." + $0) }) {
            let expected = f[key]!.values, scale = maxAbs(expected)
            assertClose(got, expected, atol: 1e-5 * scale, "\(tag): \(key)")
            relative = max(relative, maxAbsDiff(got, expected) / max(scale, .leastNormalMagnitude))
        }
        print("\(tag): max |forward error| = \(forward), max gradient error / max|grad| = \(relative)")
    }

    func testAgainstKerasOnCPU() throws {
        for kind in ["lstm", "gru"] { for (a, r) in Self.pairs { try check(kind, a, r, on: .cpu) } }
    }

    func testAgainstKerasOnOpenCL() throws {
        let device = try openCLDeviceOrSkip()
        for kind in ["lstm", "gru"] { for (a, r) in Self.pairs { try check(kind, a, r, on: device) } }
    }

    /// The Keras layers pass their activations to the core they build.
    func testLayersBuildCoresWithTheirActivations() throws {
        let lstm = LSTMLayer(units: 5, activation: .relu, recurrentActivation: .hardSigmoid)
        _ = try lstm.build(inputShape: [7, 3], device: .cpu, seed: 1)
        let core = try XCTUnwrap(lstm.core as? LSTM)
        XCTAssertEqual(core.activation, .relu)
        XCTAssertEqual(core.recurrentActivation, .hardSigmoid)
        let gru = GRULayer(units: 4, activation: .linear, recurrentActivation: .relu)
        _ = try gru.build(inputShape: [7, 3], device: .cpu, seed: 1)
        let gcore = try XCTUnwrap(gru.core as? GRU)
        XCTAssertEqual(gcore.activation, .linear)
        XCTAssertEqual(gcore.recurrentActivation, .relu)
    }

    /// Options that cannot take a non-default activation are refused with a typed error naming it, never run as tanh.
    func testUnsupportedCombinationsAreTypedErrors() throws {
        XCTAssertThrowsError(try LSTM(inputSize: 2, hiddenSize: 3, layerNorm: true, activation: .relu)) { error in
            guard case LSTMKitError.invalidArgument(let name, let value, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "activation"); XCTAssertEqual(value, "relu")
        }
        XCTAssertThrowsError(try LSTM(inputSize: 2, hiddenSize: 3, layerNorm: true, recurrentActivation: .hardSigmoid)) { error in
            guard case LSTMKitError.invalidArgument(let name, let value, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "recurrentActivation"); XCTAssertEqual(value, "hard_sigmoid")
        }
        XCTAssertThrowsError(try GRU(inputSize: 2, hiddenSize: 3, activation: .softmax)) { error in
            guard case LSTMKitError.invalidArgument(let name, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "activation")
        }
        // ONNX export: the LSTM/GRU operators get only the default activations from this exporter.
        XCTAssertThrowsError(try ONNXExport.data(LSTM(inputSize: 2, hiddenSize: 3, activation: .relu))) { error in
            guard case ONNXError.unsupportedLayer(_, let option, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(option, "activation relu")
        }
        XCTAssertThrowsError(try ONNXExport.data(GRU(inputSize: 2, hiddenSize: 3, recurrentActivation: .hardSigmoid))) { error in
            guard case ONNXError.unsupportedLayer(_, let option, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(option, "recurrentActivation hard_sigmoid")
        }
    }
}
