import ArgumentParser
import Foundation
@_spi(Benchmark) import LSTMKit

/// The image-sequence preset: the Keras example of the README (TimeDistributed Conv2D relu + MaxPooling2D + Flatten,
/// LSTM, Dense softmax), sparse categorical cross-entropy and Adam(1e-3), built through the public API.
///
///     lstm-bench --preset CL                      # every OpenCL device, then the CPU
///     python3 Benchmarks/compare_pytorch.py --preset CL
///
/// Modes: forward (inference, `training: false`) and train (one step as `fit` runs it: zeroGrad, forward, fused
/// softmax + cross-entropy with its per-sample losses read back, backward without the input gradient, Adam).
/// PyTorch runs the same model channels-first (Conv2d on [B*T, C, H, W], LSTM batch_first) in compare_pytorch.py.
struct ConvPreset {
    var name = "CL", batch = 16, frames = 10, height = 28, width = 28, channels = 1, filters = 32, hidden = 128, classes = 10

    static let all = [ConvPreset()]
    static func named(_ s: String) -> ConvPreset? { all.first { $0.name == s.uppercased() } }

    var pooled: (Int, Int) { ((height - 2) / 2, (width - 2) / 2) }
    var lstmInput: Int { pooled.0 * pooled.1 * filters }
    var shape: String { "B=\(batch) T=\(frames) frames \(height)x\(width)x\(channels), Conv2D \(filters) 3x3 relu, MaxPool 2x2, LSTM \(hidden), Dense \(classes)" }
    /// Forward FLOPs: the convolution's gemm, the LSTM's gemms and the Dense layer.
    var forwardFlops: Double {
        let (B, T) = (Double(batch), Double(frames))
        let conv = 2 * B * T * Double((height - 2) * (width - 2) * filters * channels * 9)
        let lstm = 2 * T * B * 4 * Double(hidden) * Double(lstmInput + hidden)
        return conv + lstm + 2 * B * Double(hidden * classes)
    }
    /// lstm-bench's JSON row (the LSTM's shape: input is the flattened pooled frame).
    var benchConfig: BenchConfig {
        BenchConfig(name: name, batch: batch, seq: frames, input: lstmInput, hidden: hidden, layers: 1, bidirectional: false)
    }
}

/// The model, a batch and the step functions of the preset on one device.
final class ConvWorkload {
    let device: Device
    let model: Sequential
    let x: Tensor, y: Tensor

    init(_ p: ConvPreset, on device: Device) throws {
        self.device = device
        model = Sequential([TimeDistributed(Conv2D(filters: p.filters, kernelSize: (3, 3), activation: .relu)),
                            TimeDistributed(MaxPooling2D(poolSize: (2, 2))),
                            TimeDistributed(Flatten()),
                            LSTMLayer(units: p.hidden),
                            Dense(units: p.classes, activation: .softmax)], device: device, seed: 42)
        try model.compile(optimizer: Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy())
        try model.build(inputShape: [p.frames, p.height, p.width, p.channels])
        let n = p.batch * p.frames * p.height * p.width * p.channels
        x = try Tensor(shape: [p.batch, p.frames, p.height, p.width, p.channels], values: seededValues(n, seed: 7).map { ($0 + 1) / 2 },
                       device: device)
        y = try Tensor(shape: [p.batch], values: (0..<p.batch).map { Float($0 % p.classes) }, device: device)
    }

    func forward() throws {
        _ = try model.forward(MaskedTensor(x), training: false)
        try device.synchronize()
    }

    func trainStep() throws {
        try BenchmarkHooks.trainStep(model, x: x, y: y)
        try device.synchronize()
    }
}

extension LSTMBench {
    /// `--preset CL`: times the preset on every device of --device (modes forward and train of --modes).
    func runConv(_ p: ConvPreset) throws {
        let devices = try devices()
        let wanted = Set(modes.split(separator: ",").map(String.init))
        let machine = Machine.current()
        let command = CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        say("lstm-bench: \(machine.model), \(machine.cores) cores; \(devices.count) device(s)")
        say("training step: zeroGrad + forward + softmax cross-entropy (per-sample losses read back, as fit) + backward (no input gradient) + Adam(lr 1e-3) step")
        say("check: none here (ConvGoldenTests and ConvLayerTests check every layer against PyTorch and the CPU path)")
        var peaks: [String: Double] = [:]
        var results: [RunResult] = []
        for d in devices {
            let peak = try measurePeak(d, n: peakSize, budget: 1.0)
            peaks[d.description] = peak
            say(String(format: "peak sgemm %d^3 on %@: %.1f GFLOP/s", peakSize, d.description, peak))
            say("\n== \(p.name)  \(p.shape)  on \(d)")
            let w = try ConvWorkload(p, on: d)
            var modeResults: [ModeResult] = []
            for (mode, label, factor, body) in [("forward", "forward (inference)", 1.0, w.forward), ("train", "training step", 3.0, w.trainStep)]
                where wanted.contains(mode) {
                let times = try timeRepeats(warmup: warmup, minRepeats: minRepeats, maxRepeats: maxRepeats, budget: budget, body)
                let med = median(times)
                let gflops = factor * p.forwardFlops / med / 1e9
                let r = ModeResult(mode: mode, repeats: times.count, medianMs: med * 1e3, minMs: times.min()! * 1e3, maxMs: times.max()! * 1e3,
                                   sequencesPerSecond: Double(p.batch) / med, gflops: gflops, percentOfPeak: 100 * gflops / peak)
                modeResults.append(r)
                say(label.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: " median %9.2f ms (min %9.2f, max %9.2f, n=%2d)  %9.1f seq/s  %7.1f GFLOP/s  %5.1f%% of peak",
                    r.medianMs, r.minMs, r.maxMs, r.repeats, r.sequencesPerSecond, r.gflops, r.percentOfPeak))
            }
            var profile: [KernelResult] = []
            if !noProfile {
                try BenchmarkHooks.setProfiling(true, on: d)
                _ = try BenchmarkHooks.takeProfile(of: d)
                let t0 = now()
                try w.trainStep()
                let wall = now() - t0
                var kernels = try BenchmarkHooks.takeProfile(of: d)
                try BenchmarkHooks.setProfiling(false, on: d)
                let measured = kernels.reduce(0) { $0 + $1.seconds }
                if !d.isOpenCL && wall > measured * 1.05 { kernels.append(KernelTime(name: "(not profiled)", launches: 0, seconds: wall - measured)) }
                let total = kernels.reduce(0) { $0 + $1.seconds }
                say(String(format: "profile of one training step: %.2f ms in kernels, %.2f ms wall with profiling on", measured * 1e3, wall * 1e3))
                for k in kernels {
                    let r = KernelResult(name: k.name, launches: k.launches, ms: k.seconds * 1e3, percent: 100 * k.seconds / max(total, 1e-12))
                    profile.append(r)
                    say("    " + r.name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: " %9.2f ms  %5.1f%%  %6d launches", r.ms, r.percent, r.launches))
                }
            }
            results.append(RunResult(config: p.benchConfig, device: d.description, deviceKind: d.isOpenCL ? "opencl" : "cpu", peakGflops: peak,
                                     checkedAgainst: "", forwardError: 0, gradientError: 0, trainingStep: "Sequential.fit's step",
                                     modes: modeResults, profileOf: noProfile ? "" : "one training step", profile: profile))
        }
        if let json {
            let report = BenchReport(command: command, date: ISO8601DateFormatter().string(from: Date()), machine: machine.model, cores: machine.cores,
                                     openCLPlatforms: Array(Set(devices.filter(\.isOpenCL).map(BenchmarkHooks.describe))).sorted(),
                                     peaks: peaks, results: results)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            say("\nwrote \(json)")
        }
    }
}
