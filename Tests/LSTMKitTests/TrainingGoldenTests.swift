import Foundation
import XCTest
@testable import LSTMKit

/// An LSTM -> Linear model trained 20 steps in PyTorch and here, from the same initial weights, on the same
/// batch (Tests/Fixtures/make_fixtures.py `make_training`): SGD with momentum, Adam, AdamW, RMSprop, and SGD with
/// clip_grad_norm_, on both devices, in Float32.
///
/// Bounds (issue 13): the loss at every step within 2e-6 absolute (losses here are 0.003-1.2), the final weights
/// within 1e-5 of the tensor's largest magnitude (a relative bound per element is meaningless for elements that pass
/// through zero). What is left is rounding: PyTorch's CPU Adam fuses m.lerp_ and v.addcmul_ into FMAs and its
/// vectorized sqrt is not correctly rounded (1 ulp off in ~20% of elements, measured with torch 2.13 on this
/// machine), so the two sides differ by a few ulp per step, ~1e-7 relative on the loss after 20 steps. The old code
/// rounded 1 - beta1, 1 - beta2 (and RMSprop's 1 - alpha) in float after rounding beta to float, a bias in every
/// element of every step: its Adam loss drifted 1.3e-5 from PyTorch's, which these bounds reject.
final class TrainingGoldenTests: XCTestCase {
    func run(_ name: String, optimizer: () throws -> Optimizer, on device: Device) throws {
        let f = try SafeTensors.read(fixturesDirectory.appendingPathComponent("train_\(name).safetensors"))
        let model = Sequential([LSTMLayer(units: 8), Dense(units: 2)], device: device)
        try model.compile(optimizer: optimizer(), loss: .meanSquaredError)
        try model.build(inputShape: [5, 3])
        for (pname, tensor) in model.namedParameters { try tensor.assign(f[pname]!.values) }
        let x = try DataArray(shape: f["x"]!.shape, values: f["x"]!.values.map(Float.init))
        let y = try DataArray(shape: f["y"]!.shape, values: f["y"]!.values.map(Float.init))
        var losses: [Double] = []
        for _ in 0..<20 { losses.append(try model.trainOnBatch(x: x, y: y)["loss"]!) }
        let tag = "\(name) on \(device)"
        assertClose(losses, f["losses"]!.values, atol: 2e-6, rtol: 0, "\(tag): loss per step")
        var worst = 0.0
        for (pname, tensor) in model.namedParameters {
            let expected = f["final." + pname]!.values, got = try tensor.toDoubles()
            assertClose(got, expected, atol: 1e-5 * maxAbs(expected), "\(tag): final \(pname)")
            worst = max(worst, maxAbsDiff(got, expected) / maxAbs(expected))
        }
        let lossError = zip(losses, f["losses"]!.values).map { abs($0 - $1) }.max()!
        print("training golden \(tag): max loss abs. error \(lossError), max weight error / max|w| \(worst), loss \(losses[0]) -> \(losses[19])")
    }

    func checkAll(on device: Device) throws {
        try run("sgd_momentum", optimizer: { try SGD(learningRate: 0.1, momentum: 0.9) }, on: device)
        try run("adam", optimizer: { try Adam(learningRate: 0.01) }, on: device)
        try run("sgd_clip_norm", optimizer: { try SGD(learningRate: 0.5, clipNorm: 0.05) }, on: device)
        try run("rmsprop", optimizer: { try RMSprop(learningRate: 0.002) }, on: device)
        try run("adamw", optimizer: { try Adam(learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true) }, on: device)
    }

    func testAgainstPyTorchOnCPU() throws { try checkAll(on: .cpu) }
    func testAgainstPyTorchOnOpenCL() throws { try checkAll(on: try openCLDeviceOrSkip()) }
}
