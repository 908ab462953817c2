import Foundation
import XCTest
@testable import LSTMKit

/// One parameter vector (4099 elements: more than one 8-lane block and a scalar tail) updated three times by Adam,
/// AdamW and RMSprop from the same gradients here and in PyTorch 2.13 (Tests/Fixtures/make_fixtures.py
/// `make_optimizer_steps`), on both devices. The parameters start small (1e-3) so that the updates (~lr = 1e-2)
/// dominate them and p's own rounding does not hide a bias in the update.
///
/// Bound: 4e-7 of the largest |p|, per step. Each update is a handful of float ops, each off by at most 0.5 ulp
/// (6e-8 relative); PyTorch's CPU kernels fuse m.lerp_ and v.addcmul_ into FMAs and its vectorized sqrt is 1 ulp
/// off in ~20% of elements (measured here), so a few ulp of difference is rounding: 1.5-1.8e-7 measured on both
/// devices. The coefficients rounded the old way (1 - beta2 computed in float after rounding 0.999 to float:
/// 0.00099998713 instead of 0.001, 1.3e-5 relative; 1 - alpha 9.5e-7 relative) bias every element by more: the old
/// code measured 6.3e-6 (Adam, AdamW) and 5.9e-7 (RMSprop), and fails this bound.
final class OptimizerGoldenTests: XCTestCase {
    final class Owner: ParameterOwner {
        let buffer: ParameterBuffer
        init(_ p: Tensor, _ g: Tensor) { buffer = ParameterBuffer(parameters: p, gradients: g) }
        var parameterBuffers: [ParameterBuffer] { [buffer] }
    }

    func check(_ name: String, _ optimizer: Optimizer, on device: Device) throws {
        let f = try SafeTensors.read(fixturesDirectory.appendingPathComponent("optim_steps.safetensors"))
        let p0 = f["p0"]!.values
        let p = try Tensor(shape: [p0.count], doubles: p0, device: device)
        let g = try Tensor.zeros([p0.count], device: device)
        let owner = Owner(p, g)
        var worst = 0.0
        for k in 0..<3 {
            try g.assign(f["grad.\(k)"]!.values)
            try optimizer.step([owner])
            let expected = f["\(name).p.\(k)"]!.values, got = try p.toDoubles()
            assertClose(got, expected, atol: 4e-7 * maxAbs(expected), "\(name) on \(device), step \(k + 1)")
            worst = max(worst, maxAbsDiff(got, expected) / maxAbs(expected))
        }
        print("optimizer golden \(name) on \(device): max |p - torch| / max |torch| = \(worst)")
    }

    func checkAll(on device: Device) throws {
        try check("adam", try Adam(learningRate: 0.01), on: device)
        try check("adamw", try Adam(learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true), on: device)
        try check("rmsprop", try RMSprop(learningRate: 0.01), on: device)
    }

    func testAgainstPyTorchOnCPU() throws { try checkAll(on: .cpu) }
    func testAgainstPyTorchOnOpenCL() throws { try checkAll(on: try openCLDeviceOrSkip()) }
}
