import Foundation
@_spi(Benchmark) import LSTMKit

/// Seeded uniform values in [-scale, scale) (SplitMix64), so every device gets the same inputs.
func seededValues(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<n).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Float(z >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

/// Times `body` after `warmup` untimed runs: at least `minRepeats`, more while the `budget` (seconds) lasts,
/// at most `maxRepeats`. Returns the times in seconds.
func timeRepeats(warmup: Int, minRepeats: Int, maxRepeats: Int, budget: Double, _ body: () throws -> Void) rethrows -> [Double] {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    let start = now()
    while times.count < maxRepeats {
        let t0 = now()
        try body()
        times.append(now() - t0)
        if times.count >= minRepeats && now() - start >= budget { break }
        // Stop early when one more run would overshoot the budget by a lot.
        if times.count >= minRepeats && now() - start + times.last! > budget * 1.5 { break }
    }
    return times
}

func median(_ x: [Double]) -> Double {
    let s = x.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Max |a - b| over max |b|: the error of a whole tensor relative to its scale.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    var diff = 0.0, scale = 0.0
    for (x, y) in zip(a, b) {
        let d = abs(Double(x) - Double(y))
        diff = d.isNaN ? .infinity : max(diff, d)
        scale = max(scale, abs(Double(y)))
    }
    return diff / max(scale, 1e-30)
}

/// Peak sgemm GFLOP/s of a device: a square n^3 gemm through the backend's own gemm primitive (median of repeats).
func measurePeak(_ device: Device, n: Int, budget: Double) throws -> Double {
    let a = try Tensor(shape: [n, n], values: seededValues(n * n, seed: 1), device: device)
    let b = try Tensor(shape: [n, n], values: seededValues(n * n, seed: 2), device: device)
    let c = try Tensor.zeros([n, n], device: device)
    let times = try timeRepeats(warmup: 1, minRepeats: 3, maxRepeats: 20, budget: budget) {
        try BenchmarkHooks.gemm(on: device, m: n, n: n, k: n, a: a, b: b, c: c)
        try device.synchronize()
    }
    return 2 * pow(Double(n), 3) / times.min()! / 1e9  // a peak: the fastest repeat (a median moved 100-190 GFLOP/s here)
}

/// The LSTM, inputs and step functions of one configuration on one device.
final class Workload {
    let config: BenchConfig
    let device: Device
    let lstm: LSTM
    let x: Tensor
    let dy: Tensor
    let trainer: TrainingStep

    init(_ config: BenchConfig, on device: Device) throws {
        self.config = config
        self.device = device
        let c = config
        lstm = try LSTM(inputSize: c.input, hiddenSize: c.hidden, numLayers: c.layers, bidirectional: c.bidirectional,
                        projSize: c.projSize, peephole: c.peephole, layerNorm: c.layerNorm, cellClip: c.cellClip,
                        recurrentDropout: c.recurrentDropout, device: device, seed: 42)
        x = try Tensor(shape: [c.seq, c.batch, c.input], values: seededValues(c.seq * c.batch * c.input, seed: 7), device: device)
        let outCount = c.seq * c.batch * c.directions * c.outputSize
        dy = try Tensor(shape: [c.seq, c.batch, c.directions * c.outputSize], values: seededValues(outCount, seed: 8, scale: 0.01),
                        device: device)
        let target = try Tensor(shape: dy.shape, values: seededValues(outCount, seed: 9), device: device)
        trainer = try TrainingStep(lstm: lstm, target: target)
    }

    /// Inference: `training = false`, forward only.
    func forward() throws {
        lstm.training = false
        _ = try lstm.forward(x)
        try device.synchronize()
    }

    /// Forward and backward with a fixed output gradient, the input gradient included (the full 3x-forward
    /// work; gradients accumulate, which costs the same).
    func forwardBackward() throws {
        lstm.training = true
        _ = try lstm.forward(x)
        _ = try lstm.backward(gradOutput: dy)
        try device.synchronize()
    }

    /// zeroGrad, forward, MSE over all outputs, backward, optimizer step.
    func trainStep() throws {
        lstm.training = true
        try trainer.step(x)
        try device.synchronize()
    }
}

/// Compares a device's forward output and gradients with a reference device (same weights and inputs).
/// Returns (forward error, gradient error), each max |a-b| / max |ref| over the worst tensor.
func checkAgainst(_ reference: Device, config: BenchConfig, device: Device) throws -> (Double, Double) {
    var outputs: [[Float]] = [], grads: [[[Float]]] = []
    for dev in [device, reference] {
        let w = try Workload(config, on: dev)
        w.lstm.training = true
        let (y, (hn, cn)) = try w.lstm.forward(w.x)
        let (dx, dh0, dc0) = try w.lstm.backward(gradOutput: w.dy)
        outputs.append(try y.toArray() + hn.toArray() + cn.toArray())
        var g = [try dx.toArray(), try dh0.toArray(), try dc0.toArray()]
        g += try w.lstm.parameterNames.map { try w.lstm.gradients[$0]!.toArray() }
        grads.append(g)
    }
    let forwardError = relativeError(outputs[0], outputs[1])
    let gradientError = zip(grads[0], grads[1]).map { relativeError($0, $1) }.max() ?? 0
    return (forwardError, gradientError)
}
