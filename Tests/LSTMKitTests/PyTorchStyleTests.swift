import Foundation
import XCTest
@testable import LSTMKit

/// The PyTorch-style path without `Sequential`: `Linear`, the functional losses, `Tensor` shape operations with
/// their backwards, `Optimizer.step`'s gradient norm, and one training loop end to end. Expected values are
/// computed here in Float64 from the definitions (and by finite differences for the gradients).
final class PyTorchStyleTests: XCTestCase {
    func testLinearInitialisationIsNNLinears() throws {
        let fc = try Linear(inFeatures: 16, outFeatures: 8, device: .cpu, seed: 3)
        XCTAssertEqual(fc.parameterNames, ["weight", "bias"])
        XCTAssertEqual(fc.parameters["weight"]?.shape, [8, 16])
        XCTAssertEqual(fc.parameters["bias"]?.shape, [8])
        // U(-1/sqrt(16), 1/sqrt(16)) = U(-0.25, 0.25) for both: all inside, and spread over the interval.
        let w = try fc.parameters["weight"]!.toDoubles(), b = try fc.parameters["bias"]!.toDoubles()
        XCTAssertLessThan(maxAbs(w + b), 0.25)
        XCTAssertGreaterThan(maxAbs(w), 0.2)
        XCTAssertLessThan(abs(w.reduce(0, +) / Double(w.count)), 0.06, "mean of 128 U(-0.25, 0.25) draws: sd 0.013, so 0.06 is > 4 sd")
        let again = try Linear(inFeatures: 16, outFeatures: 8, device: .cpu, seed: 3)
        XCTAssertEqual(try again.flatParameters.toArray(), try fc.flatParameters.toArray(), "seeded")
        XCTAssertThrowsError(try Linear(inFeatures: 0, outFeatures: 1))
    }

    /// y = x W^T + b on [2, 3, 5] -> [2, 3, 4], against a Float64 loop, on the CPU and OpenCL.
    func testLinearForwardAndBackward() throws {
        try onBothDevices { device in
            let fc = try Linear(inFeatures: 5, outFeatures: 4, device: device, seed: 1)
            let x = randomValues(30, seed: 2), r = randomValues(24, seed: 3)
            let w = try fc.parameters["weight"]!.toDoubles(), b = try fc.parameters["bias"]!.toDoubles()
            let y = try fc.forward(try Tensor(shape: [2, 3, 5], doubles: x, device: device))
            XCTAssertEqual(y.shape, [2, 3, 4])
            var expected = [Double](repeating: 0, count: 24)
            for row in 0..<6 { for o in 0..<4 { expected[row * 4 + o] = b[o] + (0..<5).reduce(0) { $0 + x[row * 5 + $1] * w[o * 5 + $1] } } }
            // Float32 gemm over 5 products of values below 1: a few ulps of 1.
            assertClose(try y.toDoubles(), expected, atol: 1e-6, rtol: 1e-5, "Linear forward on \(device)")
            // L = sum(y * r): dW = r^T x, db = column sums of r, dx = r W.
            let dx = try fc.backward(gradOutput: try Tensor(shape: [2, 3, 4], doubles: r, device: device))!
            var dW = [Double](repeating: 0, count: 20), db = [Double](repeating: 0, count: 4), dxe = [Double](repeating: 0, count: 30)
            for row in 0..<6 {
                for o in 0..<4 {
                    db[o] += r[row * 4 + o]
                    for i in 0..<5 { dW[o * 5 + i] += r[row * 4 + o] * x[row * 5 + i]; dxe[row * 5 + i] += r[row * 4 + o] * w[o * 5 + i] }
                }
            }
            assertClose(try fc.gradients["weight"]!.toDoubles(), dW, atol: 1e-6, rtol: 1e-5, "dW on \(device)")
            assertClose(try fc.gradients["bias"]!.toDoubles(), db, atol: 1e-6, rtol: 1e-5, "db on \(device)")
            assertClose(try dx.toDoubles(), dxe, atol: 1e-6, rtol: 1e-5, "dx on \(device)")
            try fc.zeroGrad()
            XCTAssertEqual(maxAbs(try fc.flatGradients.toDoubles()), 0)
        }
    }

    /// The functional losses' values and gradients against their definitions (PyTorch's mean reductions).
    func testFunctionalLossesMatchTheirDefinitions() throws {
        try onBothDevices { device in
            let p = randomValues(12, seed: 4, scale: 2), t = randomValues(12, seed: 5)
            let (mse, g) = try mseLoss(try Tensor(shape: [3, 4], doubles: p, device: device), try Tensor(shape: [3, 4], doubles: t, device: device))
            let mseExpected = zip(p, t).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 12
            // Float32 values and kernel: relative 1e-6 of the values involved.
            XCTAssertEqual(try mse.item(), mseExpected, accuracy: 1e-5 * mseExpected)
            assertClose(try g.toDoubles(), zip(p, t).map { 2 * ($0 - $1) / 12 }, atol: 1e-6, rtol: 1e-5, "MSE gradient on \(device)")

            // Cross-entropy of logits [4, 3] with class ids: mean of -log softmax[id]; gradient (softmax - onehot) / 4.
            let ids: [Double] = [0, 2, 1, 2]
            let (ce, cg) = try crossEntropyLoss(try Tensor(shape: [4, 3], doubles: p, device: device), try Tensor(shape: [4], doubles: ids, device: device))
            var ceExpected = 0.0, cgExpected = [Double](repeating: 0, count: 12)
            for r in 0..<4 {
                let row = Array(p[(r * 3)..<(r * 3 + 3)]), top = row.max()!
                let z = row.map { exp($0 - top) }.reduce(0, +)
                ceExpected -= (row[Int(ids[r])] - top - log(z)) / 4
                for c in 0..<3 { cgExpected[r * 3 + c] = (exp(row[c] - top) / z - (c == Int(ids[r]) ? 1 : 0)) / 4 }
            }
            XCTAssertEqual(try ce.item(), ceExpected, accuracy: 1e-5 * ceExpected)
            assertClose(try cg.toDoubles(), cgExpected, atol: 1e-6, rtol: 1e-5, "cross-entropy gradient on \(device)")

            // BCE with logits: mean of max(x, 0) - x t + log(1 + exp(-|x|)) with t in [0, 1]; gradient (sigmoid(x) - t) / N.
            let tb = t.map { ($0 + 1) / 2 }
            let (bce, bg) = try bceWithLogitsLoss(try Tensor(shape: [12], doubles: p, device: device), try Tensor(shape: [12], doubles: tb, device: device))
            let bceExpected = zip(p, tb).map { max($0, 0) - $0 * $1 + log(1 + exp(-abs($0))) }.reduce(0, +) / 12
            XCTAssertEqual(try bce.item(), bceExpected, accuracy: 1e-5 * bceExpected)
            assertClose(try bg.toDoubles(), zip(p, tb).map { (1 / (1 + exp(-$0)) - $1) / 12 }, atol: 1e-6, rtol: 1e-5, "BCE gradient on \(device)")
        }
        XCTAssertThrowsError(try mseLoss(try Tensor(shape: [2, 2], values: [1, 2, 3, 4]), try Tensor(shape: [2, 1], values: [1, 2])))
        XCTAssertThrowsError(try crossEntropyLoss(try Tensor(shape: [1, 3], values: [1, 2, 3]), try Tensor(shape: [1], values: [3]))) {
            XCTAssertEqual($0 as? LSTMKitError, .invalidArgument(name: "class id at index 0", value: "3.0", reason: "must be a whole number in 0..<3"))
        }
    }

    /// reshaped, narrow, select and lastSteps against hand indexing; each backward is the adjoint of its forward:
    /// <op(x), g> = <x, opBackward(g)> for random x and g (which is what a gradient of a linear map must satisfy).
    func testTensorShapeOperationsAndTheirBackwards() throws {
        try onBothDevices { device in
            let (B, T, F) = (3, 4, 2)
            let xv = (0..<(B * T * F)).map(Double.init)
            let x = try Tensor(shape: [B, T, F], doubles: xv, device: device)
            XCTAssertEqual(try x.reshaped([-1, F]).shape, [B * T, F])
            XCTAssertThrowsError(try x.reshaped([5, -1]))
            let last = try x.select(axis: 1, index: -1)                           // x[:, -1, :]
            XCTAssertEqual(last.shape, [B, F])
            XCTAssertEqual(try last.toDoubles(), [6, 7, 14, 15, 22, 23])
            let mid = try x.narrow(axis: 1, start: 1, length: 2)                   // x[:, 1:3, :]
            XCTAssertEqual(try mid.toDoubles(), [2, 3, 4, 5, 10, 11, 12, 13, 18, 19, 20, 21])
            let lengths = [4, 1, 2]
            let steps = try x.lastSteps(lengths: lengths)
            XCTAssertEqual(try steps.toDoubles(), [6, 7, 8, 9, 18, 19])
            // Time-major [T, B, F]: row (t, b) is at t*B + b.
            XCTAssertEqual(try x.reshaped([T, B, F]).lastSteps(lengths: [1, 2, 4], batchFirst: false).toDoubles(), [0, 1, 8, 9, 22, 23])
            XCTAssertThrowsError(try x.lastSteps(lengths: [5, 1, 1])) { XCTAssertEqual($0 as? LSTMKitError, .invalidLength(index: 0, length: 5, maxLength: 4)) }
            XCTAssertThrowsError(try x.select(axis: 3, index: 0))
            XCTAssertThrowsError(try x.narrow(axis: 1, start: 3, length: 2))

            let r = randomValues(B * T * F, seed: 9)
            let xr = try Tensor(shape: [B, T, F], doubles: r, device: device)
            func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map(*).reduce(0, +) }
            let cases: [(Tensor, (Tensor) throws -> Tensor)] = [
                (try xr.select(axis: 1, index: -1), { try Tensor.selectBackward($0, inputShape: [B, T, F], axis: 1, index: -1) }),
                (try xr.narrow(axis: 1, start: 1, length: 2), { try Tensor.narrowBackward($0, inputShape: [B, T, F], axis: 1, start: 1, length: 2) }),
                (try xr.narrow(axis: -1, start: 1, length: 1), { try Tensor.narrowBackward($0, inputShape: [B, T, F], axis: -1, start: 1, length: 1) }),
                (try xr.lastSteps(lengths: lengths), { try Tensor.lastStepsBackward($0, inputShape: [B, T, F], lengths: lengths) }),
            ]
            for (k, (y, backward)) in cases.enumerated() {
                let g = randomValues(y.count, seed: 20 + UInt64(k))
                let dx = try backward(try Tensor(shape: y.shape, doubles: g, device: device))
                XCTAssertEqual(dx.shape, [B, T, F])
                // Float32 sums of 24 products below 1.
                XCTAssertEqual(dot(try y.toDoubles(), g), dot(r, try dx.toDoubles()), accuracy: 1e-5, "case \(k) on \(device)")
            }
            let scattered = try Tensor.lastStepsBackward(try Tensor(shape: [B, F], doubles: [1, 2, 3, 4, 5, 6], device: device),
                                                         inputShape: [B, T, F], lengths: lengths)
            var expected = [Double](repeating: 0, count: B * T * F)
            let placed: [(Int, Double)] = [(6, 1), (7, 2), (8, 3), (9, 4), (18, 5), (19, 6)]
            for (i, v) in placed { expected[i] = v }
            XCTAssertEqual(try scattered.toDoubles(), expected)
        }
    }

    func testStepReturnsThePreClipGradientNorm() throws {
        let fc = try Linear(inFeatures: 3, outFeatures: 2, device: .cpu, seed: 1)
        try fc.flatGradients.assign([Float]([1, 2, 3, 4, 5, 6, 7, 8]))   // weight 6 values, bias 2
        let sgd = try SGD(learningRate: 0.1, clipNorm: 1)
        let before = try fc.flatParameters.toDoubles()
        let norm = try sgd.step([fc]).value()
        let squares: [Double] = (1...8).map { Double($0 * $0) }
        XCTAssertEqual(norm, squares.reduce(0, +).squareRoot(), accuracy: 1e-5)   // sqrt(204)
        // Clipped to norm 1: p -= 0.1 * g / sqrt(204) (clip_grad_norm_'s max_norm / (norm + 1e-6)).
        let after = try fc.flatParameters.toDoubles()
        let scale: Double = 1 / (204.0.squareRoot() + 1e-6)
        var expected: [Double] = []
        for (i, p) in before.enumerated() { expected.append(p - 0.1 * Double(i + 1) * scale) }
        assertClose(after, expected, atol: 1e-6, "clipped SGD step")
    }

    /// `Device.any()` takes an OpenCL GPU or accelerator, else the CPU path (never PoCL's CPU device), and says why;
    /// "gpu" is a typed error without one.
    func testDeviceAnyAndGPU() throws {
        let devices = Device.openCLDevices()
        let fast = devices.filter { $0.isGPU || $0.isAccelerator }
        let (device, reason) = Device.anyChoice()
        XCTAssertEqual(Device.any(), device)
        if fast.isEmpty {
            XCTAssertEqual(device, Device.cpu, "only OpenCL CPU devices (PoCL) or none: the CPU path")
            XCTAssertTrue(reason.hasPrefix(devices.isEmpty ? "no OpenCL platform" : "no OpenCL GPU or accelerator"), reason)
            XCTAssertThrowsError(try Device.named("gpu")) { error in
                if devices.isEmpty { XCTAssertEqual(error as? LSTMKitError, .noOpenCLPlatform) }
                else { XCTAssertEqual(error as? LSTMKitError, .noGPU(found: devices.map { "\($0.deviceName) (CPU)" })) }
            }
            XCTAssertEqual(try Device.named("any"), Device.cpu)
            if !devices.isEmpty { XCTAssertTrue(try Device.named("opencl").isOpenCL, "opencl still gives PoCL when asked for") }
        } else {
            XCTAssertTrue(device.isOpenCL)
            XCTAssertTrue(try Device.named("gpu").isOpenCL)
        }
    }

    /// A PyTorch-style loop: LSTM core -> out[:, -1, :] -> Linear -> mseLoss -> backward through all -> Adam. The
    /// task (the next term of an arithmetic sequence) is learnt: the loss falls by more than 10x in 150 steps.
    func testTrainingLoopEndToEnd() throws {
        let device = Device.cpu
        let lstm = try LSTM(inputSize: 1, hiddenSize: 16, batchFirst: true, device: device, seed: 1)
        let fc = try Linear(inFeatures: 16, outFeatures: 1, device: device, seed: 2)
        let adam = try Adam(learningRate: 0.01)
        var g = SeededGenerator(seed: 3)
        func batch() -> ([Float], [Float]) {
            var x: [Float] = [], y: [Float] = []
            for _ in 0..<32 {
                let a = Float.random(in: -1...1, using: &g), d = Float.random(in: -0.2...0.2, using: &g)
                x += (0..<5).map { a + d * Float($0) }
                y.append(a + d * 5)
            }
            return (x, y)
        }
        var losses: [Double] = []
        for _ in 0..<150 {
            let (xv, yv) = batch()
            try lstm.zeroGrad(); try fc.zeroGrad()
            let (out, _) = try lstm.forward(try Tensor(shape: [32, 5, 1], values: xv, device: device))
            let last = try out.select(axis: 1, index: -1)
            let pred = try fc.forward(last)
            let (loss, grad) = try mseLoss(pred, try Tensor(shape: [32, 1], values: yv, device: device))
            let dLast = try fc.backward(gradOutput: grad)!
            _ = try lstm.backward(gradOutput: try Tensor.selectBackward(dLast, inputShape: out.shape, axis: 1, index: -1), inputGradient: false)
            try adam.step([lstm, fc])
            losses.append(try loss.item())
        }
        let first = losses.prefix(10).reduce(0, +) / 10, final = losses.suffix(10).reduce(0, +) / 10
        XCTAssertLessThan(final, first / 10, "first 10 steps \(first), last 10 \(final)")
    }
}
