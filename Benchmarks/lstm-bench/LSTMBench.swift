import ArgumentParser
import Foundation
@_spi(Benchmark) import LSTMKit

@main
struct LSTMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm-bench",
        abstract: "Times LSTMKit's LSTM (forward, forward+backward, training step) on the CPU and OpenCL.",
        discussion: """
        Presets (B, T, I, H, layers): S 32,50,32,128,1; M 64,100,256,256,1; L 64,100,512,512,1; \
        D 16,25,512,512,1; M2 64,100,256,256,2. Give --batch/--seq/--input/--hidden/--layers for your own shape.
        Each device is first checked against the CPU path (OpenCL vs cpu; cpu vs cpu(float64)); the run fails \
        when the relative error is above 1e-3. FLOPs: forward 2*T*B*4H*(I+H) per layer and direction; \
        forward+backward and the training step count 3x forward (nominal for the training step, which asks for \
        no input gradient, as fit does). Peak: the fastest of a square sgemm's repeats through the same backend \
        primitive, measured in the same run.

        --autotune searches the OpenCL tuning values (GEMM_NN/TN/NT blocks, GEMM_KCHUNK, CELL_VW, COLUMN_VW, \
        NATIVE_EXP, PREFER_NN) of each OpenCL device of --device, one value at a time over a short candidate list, \
        on the training step of --preset (default M; ~3-5 minutes on 2 cores). Each candidate is first checked \
        against the CPU path (1e-3, as above; a wrong one is rejected), then timed over --budget seconds. It prints \
        every candidate, times the winner against the defaults, and stores what differs from the defaults for the \
        device (unless --dry-run) in LSTMKIT_TUNING_FILE, else $XDG_CACHE_HOME/lstmkit/tuning.json, else \
        ~/.cache/lstmkit/tuning.json. LSTMKit applies that entry to every later run on the device; the LSTMKIT_* \
        variables (LSTMKIT_GEMM_NN=8x16/16/16, LSTMKIT_CELL_VW=16, ...) win over it. Delete the file to reset.
        """)

    @Option(help: "Preset: S, M, L, D, M2 or all (ignored when --batch etc. are given); CL: the Conv2D + LSTM model (ConvBench.swift).")
    var preset: String = "S"
    @Option(help: "Custom batch size.") var batch: Int?
    @Option(help: "Custom sequence length.") var seq: Int?
    @Option(help: "Custom input size.") var input: Int?
    @Option(help: "Custom hidden size.") var hidden: Int?
    @Option(help: "Custom number of layers.") var layers: Int?
    @Flag(help: "Custom: bidirectional.") var bidirectional = false
    @Option(help: "LSTM variant (any preset): PyTorch's proj_size P < H.") var proj: Int = 0
    @Flag(help: "LSTM variant: peephole connections.") var peephole = false
    @Flag(help: "LSTM variant: layer-normalised gates and cell.") var layerNorm = false
    @Option(help: "LSTM variant: cell clipping value (> 0).") var cellClip: Double?
    @Option(help: "LSTM variant: recurrent dropout probability (training modes only).") var recurrentDropout: Double = 0

    @Option(help: "cpu, opencl, opencl:N, opencl:P:D, or all (every OpenCL device, then the CPU).")
    var device: String = "all"
    @Option(help: "Modes to time, comma-separated: forward, predict (the inference path: no tape), fwdbwd, train.")
    var modes: String = "forward,predict,fwdbwd,train"
    @Option(help: "Seconds of timed runs per mode (at least --min-repeats runs, at most --max-repeats).")
    var budget: Double = 2.0
    @Option(help: "Minimum timed runs per mode.") var minRepeats: Int = 3
    @Option(help: "Maximum timed runs per mode.") var maxRepeats: Int = 30
    @Option(help: "Untimed warm-up runs per mode.") var warmup: Int = 1
    @Option(help: "Size n of the n^3 sgemm that measures the peak.") var peakSize: Int = 1024
    @Flag(name: .customLong("no-check"), help: "Skip the check against the CPU path.") var noCheck = false
    @Flag(name: .customLong("no-profile"), help: "Skip the per-kernel profile.") var noProfile = false
    @Option(help: "Write machine-readable results to this file.") var json: String?
    @Flag(help: "Search the OpenCL tuning values per device and store the best (see below).") var autotune = false
    @Flag(help: "With --autotune: print the winner, do not store it.") var dryRun = false
    @Flag(help: "Per-step latency of Embedding(84,32) -> LSTM(256) -> Dense(84) through Sequential.step (Streaming.swift).") var stream = false
    @Option(help: "With --stream: timed steps per batch size.") var streamSteps: Int = 10_000
    @Option(help: "With --stream: batch sizes, comma-separated.") var streamBatches: String = "1,32"
    @Option(help: "Times Sequential.predict on --predict-samples samples of the preset with these batch sizes (comma-separated; auto: predict's choice), interleaved (PredictBatches.swift).")
    var predictBatches: String?
    @Option(help: "With --predict-batches: samples.") var predictSamples: Int = 512
    @Option(help: "With --predict-batches: timed rounds.") var predictRounds: Int = 5

    func configs() throws -> [BenchConfig] {
        try shapes().map { c in
            var v = c
            (v.projSize, v.peephole, v.layerNorm, v.cellClip, v.recurrentDropout) = (proj, peephole, layerNorm, cellClip, recurrentDropout)
            return v
        }
    }

    func shapes() throws -> [BenchConfig] {
        if batch != nil || seq != nil || input != nil || hidden != nil || layers != nil {
            return [BenchConfig(name: "custom", batch: batch ?? 32, seq: seq ?? 50, input: input ?? 32, hidden: hidden ?? 128,
                                layers: layers ?? 1, bidirectional: bidirectional)]
        }
        if preset.lowercased() == "all" { return BenchConfig.presets }
        let names = preset.split(separator: ",").map { $0.uppercased() }
        return try names.map { n in
            guard let p = BenchConfig.presets.first(where: { $0.name == n }) else {
                throw ValidationError("unknown preset \(n) (S, M, L, D, M2, all)")
            }
            return p
        }
    }

    func devices() throws -> [Device] {
        if device.lowercased() == "all" {
            // The CPU last, its training step last of its modes: Benchmarks/run_benchmarks.sh starts PyTorch's
            // CPU run (training step first) right after it, so the two ratios' sides see the same machine load.
            return try Device.openCLDevices().map { try Device.opencl(platform: $0.platformIndex, device: $0.deviceIndex) } + [Device.cpu]
        }
        return try device.split(separator: ",").map { try Device.named(String($0)) }
    }

    mutating func run() throws {
        if dryRun && !autotune { throw ValidationError("--dry-run goes with --autotune") }
        if autotune { return try runAutotune() }  // Autotune.swift
        if let conv = ConvPreset.named(preset) { return try runConv(conv) }  // ConvBench.swift: the image-sequence preset CL
        let configs = try configs()
        let devices = try devices()
        if stream {  // Streaming.swift
            return try StreamBench.run(devices: devices, batches: streamBatches.split(separator: ",").compactMap { Int($0) }, steps: streamSteps,
                                       warmup: 200, command: CommandLine.arguments.joined(separator: " "), json: json)
        }
        if let predictBatches {  // PredictBatches.swift
            for config in configs {
                try PredictBatchBench.run(config: config, devices: devices, batches: predictBatches.split(separator: ",").map(String.init),
                                          samples: predictSamples, rounds: predictRounds)
            }
            return
        }
        let wanted = Set(modes.split(separator: ",").map(String.init))
        let machine = Machine.current()
        let command = CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        say("lstm-bench: \(machine.model), \(machine.cores) cores; \(devices.count) device(s)")
        let openCLPlatforms = Array(Set(devices.filter(\.isOpenCL).map(BenchmarkHooks.describe))).sorted()
        for p in openCLPlatforms { say("  opencl: \(p)") }
        say("training step: \(TrainingStep.description)")

        var peaks: [String: Double] = [:]
        for d in devices {
            let peak = try measurePeak(d, n: peakSize, budget: 1.0)
            peaks[d.description] = peak
            say(String(format: "peak sgemm %d^3 on %@: %.1f GFLOP/s", peakSize, d.description, peak))
            let tuning = BenchmarkHooks.tuning(of: d)
            if !tuning.isEmpty {
                say("  tuning: " + tuning.keys.sorted().map { "\($0)=\(tuning[$0]!)" }.joined(separator: " "))
            }
        }

        var results: [RunResult] = []
        var failures: [String] = []
        for config in configs {
            for d in devices {
                say("\n== \(config.name)  \(config.shape)  on \(d)")
                let reference = d.isOpenCL ? Device.cpu : Device.cpuFloat64
                var forwardError = 0.0, gradientError = 0.0
                if !noCheck {
                    (forwardError, gradientError) = try checkAgainst(reference, config: config, device: d)
                    // Layer norm at initialisation amplifies any perturbation along the sequence (a 1e-7 input change
                    // reaches 9e-6 after 100 steps in Float64, against 3e-8 without it; docs/decisions/0014-lstm-variants-cost-and-bounds.md), so float32
                    // rounding alone moves its results by ~1e-3 over T = 100: its bound is 1e-2.
                    let bound = config.layerNorm ? 1e-2 : 1e-3
                    let ok = forwardError <= bound && gradientError <= bound
                    say(String(format: "check vs %@: forward %.2e, gradients %.2e (max |diff| / max |ref|)  %@",
                                 reference.description, forwardError, gradientError, ok ? "OK" : "*** FAILED (> \(bound)) ***"))
                    if !ok { failures.append("\(config.name) on \(d): forward \(forwardError), gradients \(gradientError)") }
                }
                let w = try Workload(config, on: d)
                let peak = peaks[d.description]!
                var modeResults: [ModeResult] = []
                let all: [(String, String, Double, () throws -> Void)] = [
                    ("forward", "forward (inference)", 1, w.forward),
                    ("predict", "predict (inference path)", 1, w.predict),
                    ("fwdbwd", "forward+backward", 3, w.forwardBackward),
                    ("train", "training step", 3, w.trainStep),
                ]
                for (mode, label, flopFactor, body) in all where wanted.contains(mode) {
                    let times = try timeRepeats(warmup: warmup, minRepeats: minRepeats, maxRepeats: maxRepeats, budget: budget, body)
                    let med = median(times)
                    let gflops = flopFactor * config.forwardFlops / med / 1e9
                    let r = ModeResult(mode: mode, repeats: times.count, medianMs: med * 1e3, minMs: times.min()! * 1e3,
                                       maxMs: times.max()! * 1e3, sequencesPerSecond: Double(config.batch) / med,
                                       gflops: gflops, percentOfPeak: 100 * gflops / peak)
                    modeResults.append(r)
                    say(label.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: " median %9.2f ms (min %9.2f, max %9.2f, n=%2d)  %9.1f seq/s  %7.1f GFLOP/s  %5.1f%% of peak",
                                 r.medianMs, r.minMs, r.maxMs, r.repeats, r.sequencesPerSecond, r.gflops, r.percentOfPeak))
                }
                var profile: [KernelResult] = []
                var profileOf = ""
                if !noProfile {
                    let (what, body): (String, () throws -> Void) = wanted.contains("train") ? ("one training step", w.trainStep)
                        : wanted.contains("fwdbwd") ? ("one forward+backward", w.forwardBackward)
                        : wanted == ["predict"] ? ("one predict", w.predict) : ("one forward", w.forward)
                    try BenchmarkHooks.setProfiling(true, on: d)
                    _ = try BenchmarkHooks.takeProfile(of: d)
                    let t0 = now()
                    try body()
                    let wall = now() - t0
                    var kernels = try BenchmarkHooks.takeProfile(of: d)
                    try BenchmarkHooks.setProfiling(false, on: d)
                    let measured = kernels.reduce(0) { $0 + $1.seconds }
                    if !d.isOpenCL && wall > measured * 1.05 {
                        // The CPU profiler times the layer's primitives; the rest (the training stack's loss and
                        // optimizer kernels, host work) shows up as one line.
                        kernels.append(KernelTime(name: "(not profiled)", launches: 0, seconds: wall - measured))
                    }
                    let total = kernels.reduce(0) { $0 + $1.seconds }
                    profileOf = what
                    say(String(format: "profile of %@ (%@): %.2f ms in kernels, %.2f ms wall with profiling on",
                               what, d.isOpenCL ? "OpenCL profiling events" : "wall time per primitive", measured * 1e3, wall * 1e3))
                    for k in kernels {
                        let p = KernelResult(name: k.name, launches: k.launches, ms: k.seconds * 1e3, percent: 100 * k.seconds / max(total, 1e-12))
                        profile.append(p)
                        say("    " + p.name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: " %9.2f ms  %5.1f%%  %6d launches  %8.1f us/launch",
                                     p.ms, p.percent, p.launches, 1e3 * p.ms / Double(max(p.launches, 1))))
                    }
                }
                results.append(RunResult(config: config, device: d.description, deviceKind: d.isOpenCL ? "opencl" : "cpu",
                                         peakGflops: peak, checkedAgainst: noCheck ? "" : reference.description,
                                         forwardError: forwardError, gradientError: gradientError,
                                         trainingStep: TrainingStep.description, modes: modeResults,
                                         profileOf: profileOf, profile: profile))
            }
        }

        if let json {
            let report = BenchReport(command: command, date: ISO8601DateFormatter().string(from: Date()), machine: machine.model,
                                     cores: machine.cores, openCLPlatforms: openCLPlatforms, peaks: peaks, results: results)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            say("\nwrote \(json)")
        }
        if let rss = StreamBench.peakRSS() { say(String(format: "peak RSS (VmHWM): %.1f MB", Double(rss) / 1048576)) }
        if !failures.isEmpty {
            say("\n*** CHECK FAILED: results differ from the CPU path by more than 1e-3 relative ***")
            for f in failures { say("  " + f) }
            throw ExitCode(2)
        }
    }
}

/// The machine: the CPU as /proc/cpuinfo names it, its family (AMD 25 = Zen 3/4, 26 = Zen 5), whether it has
/// AVX-512, and the kernels the CPU path runs (BenchmarkHooks.cpuLibraries), e.g. "AMD EPYC (family 26, model 2),
/// AVX-512 yes; OpenBLAS kernels Haswell (OPENBLAS_CORETYPE=Haswell); LSTMKit C kernels avx512f".
struct Machine {
    let model: String
    let cores: Int

    static func current() -> Machine {
        var fields: [String: String] = [:]
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { if fields["model name"] != nil { break }; continue }
                let key = parts[0].trimmingCharacters(in: .whitespaces)
                if fields[key] == nil { fields[key] = parts[1].trimmingCharacters(in: .whitespaces) }
            }
        }
        let flags = Set((fields["flags"] ?? "").split(separator: " ").map(String.init))
        let model = "\(fields["model name"] ?? "unknown CPU") (family \(fields["cpu family"] ?? "?"), model \(fields["model"] ?? "?")), "
            + "AVX-512 \(flags.contains("avx512f") ? "yes" : "no"); \(BenchmarkHooks.cpuLibraries)"
        return Machine(model: model, cores: ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// Prints a line and flushes it at once (the output is often piped into a log).
func say(_ line: String) {
    FileHandle.standardOutput.write((line + "\n").data(using: .utf8)!)
}
