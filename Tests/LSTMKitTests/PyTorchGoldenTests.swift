import Foundation
import XCTest
@testable import LSTMKit

/// LSTMKit against PyTorch nn.LSTM, from fixtures made by Tests/Fixtures/make_fixtures.py (torch 2.13, Float32).
/// Bounds from the issue: forward within 2e-6 absolute; gradients within 1e-5 of the largest magnitude in
/// each tensor. Both devices run Float32, so the bounds cover float rounding in a different summation order.
final class PyTorchGoldenTests: XCTestCase {
    /// "projection": PyTorch's proj_size (2-layer bidirectional, H 8, P 3, variable lengths, initial state).
    static let cases = ["one_layer", "two_layers", "bidirectional", "variable_lengths", "no_bias", "wide", "projection"]

    /// Runs one fixture on one device and returns (max forward error, max relative gradient error).
    @discardableResult
    func check(_ name: String, on device: Device) throws -> (Double, Double) {
        let f = try SafeTensors.read(fixturesDirectory.appendingPathComponent("lstm_\(name).safetensors"))
        let c = f["config"]!.values.map { Int($0) }
        let (I, H, L) = (c[0], c[1], c[2])
        let lstm = try LSTM(inputSize: I, hiddenSize: H, numLayers: L, bias: c[3] == 1, batchFirst: c[4] == 1,
                            bidirectional: c[5] == 1, projSize: c.count > 7 ? c[7] : 0, device: device)
        try lstm.loadStateDict(f.filter { lstm.parameters[$0.key] != nil })
        let hasState = c[6] == 1
        let lengths = f["lengths"]!.values.map { Int($0) }
        let run = try runLSTM(lstm, input: f["input"]!.values, inputShape: f["input"]!.shape, lengths: lengths,
                              h0: hasState ? f["h0"]!.values : nil, c0: hasState ? f["c0"]!.values : nil,
                              gOut: f["grad_output"]!.values, gH: f["grad_h_n"]!.values, gC: f["grad_c_n"]!.values)
        let tag = "\(name) on \(device)"
        var forwardError = 0.0, gradError = 0.0
        for (got, key) in [(run.output, "output"), (run.hn, "h_n"), (run.cn, "c_n")] {
            assertClose(got, f[key]!.values, atol: 2e-6, "\(tag): \(key)")
            forwardError = max(forwardError, maxAbsDiff(got, f[key]!.values))
        }
        var gradPairs = [(run.dInput, "grad.input")]
        if hasState { gradPairs += [(run.dh0, "grad.h0"), (run.dc0, "grad.c0")] }
        gradPairs += lstm.parameterNames.map { (run.grads[$0]!, "grad." + $0) }
        for (got, key) in gradPairs {
            let expected = f[key]!.values
            let scale = maxAbs(expected)
            assertClose(got, expected, atol: 1e-5 * scale, "\(tag): \(key)")
            gradError = max(gradError, maxAbsDiff(got, expected) / max(scale, .leastNormalMagnitude))
        }
        print("golden \(tag): max |forward error| = \(forwardError), max gradient error / max|grad| = \(gradError)")
        return (forwardError, gradError)
    }

    func testAgainstPyTorchOnCPU() throws {
        for name in Self.cases { try check(name, on: .cpu) }
    }

    func testAgainstPyTorchOnOpenCL() throws {
        let device = try openCLDeviceOrSkip()
        for name in Self.cases { try check(name, on: device) }
    }

    /// Parameters saved here load back bit for bit; the fixture's PyTorch state dict loads here.
    func testSafetensorsRoundTrip() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 9)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-roundtrip-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try lstm.save(to: url)
        let other = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 10)
        XCTAssertNotEqual(try other.flatParameters.toArray(), try lstm.flatParameters.toArray())
        try other.load(from: url)
        XCTAssertEqual(try other.flatParameters.toArray(), try lstm.flatParameters.toArray())
        let names = try SafeTensors.read(url).keys.sorted()
        XCTAssertEqual(names, lstm.parameterNames.sorted())
    }
}
