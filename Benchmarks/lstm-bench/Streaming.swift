import Foundation
@_spi(Benchmark) import LSTMKit

/// `lstm-bench --stream`: the per-step latency of the character-LM shape, Embedding(84, 32) -> LSTM(256) ->
/// Dense(84, softmax), through `Sequential.step` (host ids in, host probabilities out: what `lstm generate` does
/// per character), at batch 1 and 32, on each device. Each step is timed alone; median and p99 over `steps` steps
/// after `warmup` untimed ones. The ids are a fixed pseudo-random sequence (the model's weights are seeded).
struct StreamResult: Codable {
    var device: String
    var deviceKind: String
    var batch: Int
    var steps: Int
    var medianUs: Double
    var p99Us: Double
    var meanUs: Double
    var stepsPerSecond: Double
}

struct StreamReport: Codable {
    var command: String
    var date: String
    var machine: String
    var cores: Int
    var shape: String
    var results: [StreamResult]
    /// The process's peak resident set (VmHWM), bytes, when read.
    var peakRSSBytes: Int?
}

enum StreamBench {
    static let vocabulary = 84, embedding = 32, hidden = 256
    static let shape = "Embedding(84, 32) -> LSTM(256) -> Dense(84, softmax)"

    static func run(devices: [Device], batches: [Int], steps: Int, warmup: Int, command: String, json: String?) throws {
        let machine = Machine.current()
        say("lstm-bench --stream: \(machine.model), \(machine.cores) cores; \(shape); \(steps) timed steps after \(warmup)")
        var results: [StreamResult] = []
        for d in devices {
            let model = Sequential([Embedding(inputDim: vocabulary, outputDim: embedding), LSTMLayer(units: hidden, returnSequences: true),
                                    Dense(units: vocabulary, activation: .softmax)], device: d, seed: 42)
            try model.build(inputShape: [1])
            for B in batches {
                var state = try model.initialState(batch: B)
                var input = [Float](repeating: 0, count: B), output: [Float] = []
                var rng: UInt64 = 0x1234_5678
                var times = [Double](repeating: 0, count: steps)
                for i in 0..<(warmup + steps) {
                    for b in 0..<B {
                        rng = rng &* 6364136223846793005 &+ 1442695040888963407
                        input[b] = Float((rng >> 33) % UInt64(vocabulary))
                    }
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try model.step(input, state: &state, output: &output)
                    let t1 = DispatchTime.now().uptimeNanoseconds
                    if i >= warmup { times[i - warmup] = Double(t1 - t0) * 1e-3 }
                }
                let sorted = times.sorted()
                let med = sorted[steps / 2], p99 = sorted[min(steps - 1, Int((Double(steps) * 0.99).rounded(.up)) - 1)]
                let mean = times.reduce(0, +) / Double(steps)
                let r = StreamResult(device: d.description, deviceKind: d.isOpenCL ? "opencl" : "cpu", batch: B, steps: steps,
                                     medianUs: med, p99Us: p99, meanUs: mean, stepsPerSecond: 1e6 / med)
                results.append(r)
                say(String(format: "stream %@ batch %3d: median %9.1f us, p99 %9.1f us, mean %9.1f us  (%.0f steps/s, %.0f tokens/s)",
                           d.description, B, med, p99, mean, 1e6 / med, Double(B) * 1e6 / med))
            }
        }
        if let json {
            let report = StreamReport(command: command, date: ISO8601DateFormatter().string(from: Date()), machine: machine.model,
                                      cores: machine.cores, shape: shape, results: results, peakRSSBytes: peakRSS())
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            say("wrote \(json)")
        }
    }

    /// VmHWM of /proc/self/status, in bytes (nil where there is none).
    static func peakRSS() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        let kb = line.split(separator: " ").compactMap { Int($0) }.first
        return kb.map { $0 * 1024 }
    }
}

extension Workload {
    /// The inference path (`predict`'s forward): no tape.
    func predict() throws {
        _ = try InferenceHooks.forward(lstm, x)
        try device.synchronize()
    }
}
