/// One benchmark configuration: an LSTM shape and a batch.
struct BenchConfig: Codable, Sendable {
    var name: String
    var batch: Int
    var seq: Int
    var input: Int
    var hidden: Int
    var layers: Int
    var bidirectional: Bool
    /// The LSTM variant (all off: the plain PyTorch LSTM).
    var projSize = 0
    var peephole = false
    var layerNorm = false
    var cellClip: Double? = nil
    var recurrentDropout = 0.0

    var directions: Int { bidirectional ? 2 : 1 }
    /// The width of h: the projection size, if any, else H.
    var outputSize: Int { projSize > 0 ? projSize : hidden }

    /// FLOPs of one forward pass: 2 * T * B * 4H * (I_l + R) per layer and direction, plus 2 * T * B * H * P for a
    /// projection (the gemms only; R = P with a projection, else H).
    var forwardFlops: Double {
        var total = 0.0
        let (T, B, H, R) = (Double(seq), Double(batch), Double(hidden), Double(outputSize))
        for l in 0..<layers {
            let inSize = Double(l == 0 ? input : directions * outputSize)
            total += (2 * T * B * 4 * H * (inSize + R) + (projSize > 0 ? 2 * T * B * H * R : 0)) * Double(directions)
        }
        return total
    }

    var shape: String {
        var s = "B=\(batch) T=\(seq) I=\(input) H=\(hidden) layers=\(layers)\(bidirectional ? " bidirectional" : "")"
        if projSize > 0 { s += " proj=\(projSize)" }
        if peephole { s += " peephole" }
        if layerNorm { s += " layer-norm" }
        if let c = cellClip { s += " cell-clip=\(c)" }
        if recurrentDropout > 0 { s += " recurrent-dropout=\(recurrentDropout)" }
        return s
    }

    /// The presets of issue 5 (B, T, I, H, layers).
    static let presets: [BenchConfig] = [
        BenchConfig(name: "S", batch: 32, seq: 50, input: 32, hidden: 128, layers: 1, bidirectional: false),
        BenchConfig(name: "M", batch: 64, seq: 100, input: 256, hidden: 256, layers: 1, bidirectional: false),
        BenchConfig(name: "L", batch: 64, seq: 100, input: 512, hidden: 512, layers: 1, bidirectional: false),
        BenchConfig(name: "D", batch: 16, seq: 25, input: 512, hidden: 512, layers: 1, bidirectional: false),
        BenchConfig(name: "M2", batch: 64, seq: 100, input: 256, hidden: 256, layers: 2, bidirectional: false),
    ]
}

/// What one timed mode measured.
struct ModeResult: Codable {
    var mode: String
    var repeats: Int
    var medianMs: Double
    var minMs: Double
    var maxMs: Double
    var sequencesPerSecond: Double
    var gflops: Double
    var percentOfPeak: Double
}

/// Device time of one kernel over one profiled step.
struct KernelResult: Codable {
    var name: String
    var launches: Int
    var ms: Double
    var percent: Double
}

/// Everything measured for one configuration on one device.
struct RunResult: Codable {
    var config: BenchConfig
    var device: String
    var deviceKind: String  // "cpu" or "opencl"
    var peakGflops: Double
    var checkedAgainst: String
    var forwardError: Double
    var gradientError: Double
    var trainingStep: String  // how the training step is made
    var modes: [ModeResult]
    var profileOf: String
    var profile: [KernelResult]
}

/// The whole run, as written by --json.
struct BenchReport: Codable {
    var command: String
    var date: String
    var machine: String
    var cores: Int
    var openCLPlatforms: [String]
    var peaks: [String: Double]
    var results: [RunResult]
}
