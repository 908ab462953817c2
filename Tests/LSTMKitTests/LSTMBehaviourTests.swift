import XCTest
@testable import LSTMKit

/// PyTorch conventions beyond the numbers: accumulation, train/eval mode, initialisation.
final class LSTMBehaviourTests: XCTestCase {
    func testGradientsAccumulateUntilZeroed() throws {
        for device in Device.openCLDevices().isEmpty ? [Device.cpu] : [.cpu, try openCLDeviceOrSkip()] {
            let lstm = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, device: device, seed: 3)
            let x = try Tensor(shape: [5, 2, 3], doubles: randomValues(30, seed: 1), device: device)
            let g = try Tensor(shape: [5, 2, 4], doubles: randomValues(40, seed: 2), device: device)
            _ = try lstm.forward(x); _ = try lstm.backward(gradOutput: g)
            let once = try lstm.flatGradients.toDoubles()
            XCTAssertGreaterThan(maxAbs(once), 0)
            _ = try lstm.forward(x); _ = try lstm.backward(gradOutput: g)
            assertClose(try lstm.flatGradients.toDoubles(), once.map { 2 * $0 }, atol: 1e-6, rtol: 1e-6, "accumulated on \(device)")
            try lstm.zeroGrad()
            XCTAssertEqual(maxAbs(try lstm.flatGradients.toDoubles()), 0)
        }
    }

    func testDropoutOnlyInTraining() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 8, numLayers: 2, dropout: 0.5, seed: 4)
        let x = try Tensor(shape: [4, 2, 3], doubles: randomValues(24, seed: 5))
        lstm.training = false
        let a = try lstm.forward(x).output.toArray(), b = try lstm.forward(x).output.toArray()
        XCTAssertEqual(a, b, "eval mode is deterministic")
        lstm.training = true
        let c = try lstm.forward(x).output.toArray(), d = try lstm.forward(x).output.toArray()
        XCTAssertNotEqual(c, a, "training mode applies dropout between layers")
        XCTAssertNotEqual(c, d, "each training forward draws a new mask")
    }

    func testInitialisationIsPyTorchsUniformAndSeeded() throws {
        let a = try LSTM(inputSize: 10, hiddenSize: 25, numLayers: 2, bidirectional: true, seed: 7)
        let b = try LSTM(inputSize: 10, hiddenSize: 25, numLayers: 2, bidirectional: true, seed: 7)
        let values = try a.flatParameters.toDoubles()
        XCTAssertEqual(values, try b.flatParameters.toDoubles(), "same seed, same parameters")
        let k = 1 / 5.0
        XCTAssert(values.allSatisfy { $0 >= -k && $0 < k })
        XCTAssertGreaterThan(values.max()!, 0.95 * k)
        XCTAssertLessThan(values.min()!, -0.95 * k)
        XCTAssertEqual(a.parameterNames.prefix(8), ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                                   "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"])
        XCTAssertEqual(a.parameters["weight_ih_l1"]!.shape, [100, 50])
    }
}
