import Foundation
import LSTMKit

/// Range checks of every value read back from a run directory, and the memory a model would need. A failed
/// check is a one-line `CLIError` naming the file and the field.
enum RunChecks {
    static let maxLayers = 1000
    static let maxUnits = 1 << 20          // hidden, embedding
    static let maxLength = 1 << 24         // sequence length, window, horizon
    static let maxBatch = 1 << 30
    static let maxEpochs = 100_000_000

    static func field(_ file: String, _ name: String, _ value: Any, _ rule: String) -> CLIError {
        CLIError("\(file): field \(name) is \(value): \(rule); the file is damaged or was edited, train again")
    }

    static func range(_ file: String, _ name: String, _ value: Int?, _ range: ClosedRange<Int>) throws {
        guard let value else { return }
        guard range.contains(value) else { throw field(file, name, value, "it must be in \(range.lowerBound)...\(range.upperBound)") }
    }

    /// run.json.
    static func check(_ c: RunConfig, file: String) throws {
        guard c.format == "lstm-cli.run" else { throw CLIError("\(file) is not an lstm run description (format \(c.format))") }
        guard c.version == 1 else { throw field(file, "version", c.version, "this lstm reads version 1") }
        try range(file, "layers", c.layers, 1...maxLayers)
        try range(file, "hidden", c.hidden, 1...maxUnits)
        try range(file, "embedding", c.embedding, 1...maxUnits)
        try range(file, "sequenceLength", c.sequenceLength, 1...maxLength)
        try range(file, "window", c.window, 1...maxLength)
        try range(file, "horizon", c.horizon, 1...maxLength)
        try range(file, "batchSize", c.batchSize, 1...maxBatch)
        try range(file, "epochsTrained", c.epochsTrained, 0...maxEpochs)
        guard c.learningRate.isFinite, c.learningRate > 0 else { throw field(file, "learningRate", c.learningRate, "it must be a positive number") }
        guard c.dropout >= 0, c.dropout < 1 else { throw field(file, "dropout", c.dropout, "it must be in [0, 1)") }
        if let level = c.level, level != "word", level != "char" { throw field(file, "level", level, "it must be word or char") }
    }

    /// A character model's vocab.json: not empty, one Unicode scalar per entry, no duplicates.
    static func check(_ v: CharVocabulary, file: String) throws {
        guard !v.characters.isEmpty else { throw field(file, "characters", "empty", "a vocabulary needs at least one character") }
        var seen = Set<String>()
        for (i, c) in v.characters.enumerated() {
            guard c.unicodeScalars.count == 1 else { throw field(file, "characters[\(i)]", "'\(c)'", "each entry must be one character (Unicode scalar)") }
            guard seen.insert(c).inserted else { throw field(file, "characters[\(i)]", CharLM.show(c), "a character may appear only once") }
        }
    }

    /// A classifier's vocab.json: word or char level, no duplicate tokens, at least two distinct non-empty labels.
    static func check(_ v: TokenVocabulary, config: RunConfig, file: String) throws {
        guard v.level == "word" || v.level == "char" else { throw field(file, "level", v.level, "it must be word or char") }
        if let level = config.level, level != v.level { throw field(file, "level", v.level, "run.json says \(level)") }
        guard v.tokens.count <= maxUnits * 16 else { throw field(file, "tokens", "\(v.tokens.count) tokens", "at most \(maxUnits * 16)") }
        if let i = duplicate(v.tokens) { throw field(file, "tokens[\(i)]", "'\(v.tokens[i])'", "a token may appear only once") }
        guard v.labels.count >= 2 else { throw field(file, "labels", v.labels, "a classifier needs at least two labels") }
        if let i = v.labels.firstIndex(where: \.isEmpty) { throw field(file, "labels[\(i)]", "empty", "labels are not empty") }
        if let i = duplicate(v.labels) { throw field(file, "labels[\(i)]", "'\(v.labels[i])'", "a label may appear only once") }
    }

    static func duplicate(_ xs: [String]) -> Int? {
        var seen = Set<String>()
        return xs.indices.first { !seen.insert(xs[$0]).inserted }
    }

    /// A forecaster's normalization.json: finite mean, positive finite std, the window and horizon of run.json.
    static func check(_ n: Normalization, config: RunConfig, file: String) throws {
        guard n.mean.isFinite else { throw field(file, "mean", n.mean, "it must be a finite number") }
        guard n.std.isFinite, n.std > 0 else { throw field(file, "std", n.std, "it must be a positive finite number") }
        guard !n.column.isEmpty else { throw field(file, "column", "empty", "it names the column") }
        guard n.window == (config.window ?? 24) else { throw field(file, "window", n.window, "run.json says \(config.window ?? 24)") }
        guard n.horizon == (config.horizon ?? 1) else { throw field(file, "horizon", n.horizon, "run.json says \(config.horizon ?? 1)") }
        if let s = n.season, !(1...maxLength).contains(s) { throw field(file, "season", s, "it must be in 1...\(maxLength)") }
        if let t = n.trainWindows, t < 1 { throw field(file, "trainWindows", t, "it must be at least 1") }
        if let c = n.seriesLength, c < 1 { throw field(file, "seriesLength", c, "it must be at least 1") }
    }

    /// history.json: finite values; epochs whole numbers, increasing, within 1...epochsTrained; with `strict` (a
    /// checkpoint generation, written in one transaction) the last one is epochsTrained.
    static func check(history: [[String: Double]], epochsTrained: Int, strict: Bool, file: String) throws {
        guard history.count <= epochsTrained else {
            throw field(file, "epochs", "\(history.count) entries", "run.json says \(epochsTrained) epochs were trained")
        }
        var last = 0.0
        for (i, entry) in history.enumerated() {
            if let bad = entry.first(where: { !$0.value.isFinite }) { throw field(file, "[\(i)].\(bad.key)", bad.value, "values must be finite") }
            guard let epoch = entry["epoch"] else { throw field(file, "[\(i)].epoch", "missing", "every entry names its epoch") }
            guard epoch == epoch.rounded(), epoch > last, epoch <= Double(epochsTrained) else {
                throw field(file, "[\(i)].epoch", epoch, "epochs are whole, increasing and at most epochsTrained (\(epochsTrained))")
            }
            last = epoch
        }
        if strict, epochsTrained > 0, last != Double(epochsTrained) {
            throw field(file, "epochs", history.isEmpty ? "empty" : "last \(Int(last))", "the checkpoint's run.json says \(epochsTrained) epochs were trained")
        }
    }

    // MARK: Memory

    /// Checked arithmetic on sizes: nil once a product or sum overflows.
    static func mul(_ xs: Int?...) -> Int? {
        var r = 1
        for x in xs {
            guard let x, x >= 0 else { return nil }
            let (p, o) = r.multipliedReportingOverflow(by: x)
            if o { return nil }
            r = p
        }
        return r
    }
    static func add(_ xs: Int?...) -> Int? {
        var r = 0
        for x in xs {
            guard let x, x >= 0 else { return nil }
            let (s, o) = r.addingReportingOverflow(x)
            if o { return nil }
            r = s
        }
        return r
    }

    /// Parameters of `layers` stacked LSTM layers (Keras/PyTorch layout: 4 gates, two biases) on `input` features.
    static func lstmParameters(input: Int, hidden: Int, layers: Int, directions: Int) -> Int? {
        guard layers >= 1 else { return 0 }
        let first = mul(directions, 4, hidden, add(input, hidden, 2))
        let next = mul(directions, 4, hidden, add(mul(directions, hidden), hidden, 2))
        return add(first, mul(layers - 1, next))
    }

    /// Bytes to train a model: parameters, gradients and Adam's two moments (4 floats per parameter), plus the
    /// activations kept for backward (about 10 floats per hidden unit and time step per layer and direction, the
    /// embedding's output, and the output layer's values over `outputSteps` steps), 4 bytes a float.
    static func trainingBytes(parameters: Int?, batch: Int, steps: Int, hidden: Int, layers: Int, directions: Int,
                              embedding: Int, outputs: Int, outputSteps: Int) -> Int? {
        let perStep = add(mul(10, hidden, layers, directions), mul(2, embedding))
        let activations = add(mul(batch, steps, perStep), mul(3, batch, outputSteps, outputs))
        return mul(4, add(mul(4, parameters), activations))
    }

    /// The memory of the device: its global memory on OpenCL, the machine's physical memory on the CPU.
    static func deviceMemory(_ device: Device) -> (bytes: Int, what: String) {
        let ram = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if device.isOpenCL {
            for d in Device.openCLDevices() where device.description.hasPrefix("opencl:\(d.platformIndex):\(d.deviceIndex) ") && d.globalMemoryBytes > 0 {
                return (min(d.globalMemoryBytes, ram), "\(device.description) has")
            }
        }
        return (ram, "this machine has")
    }

    static func gib(_ bytes: Int) -> String {
        let g = Double(bytes) / Double(1 << 30)
        return g >= 10 ? String(format: "%.0f GiB", g) : g >= 0.1 ? String(format: "%.1f GiB", g) : String(format: "%.2g GiB", g)
    }

    /// Sizes that fit in memory but not in what run.json may hold (so that a run can always be read back).
    static func checkSizes(_ sizes: [(flag: String, value: Int, range: ClosedRange<Int>)]) throws {
        for (flag, value, range) in sizes where !range.contains(value) {
            throw CLIError("--\(flag) \(value): it must be in \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// Refuses a model whose training would need more memory than the device has. `what` names the sizes ("--hidden
    /// 100000 --layers 1"), `fix` says what to change.
    static func checkMemory(bytes: Int?, device: Device, what: String, fix: String) throws {
        let (available, has) = deviceMemory(device)
        guard let bytes else {
            throw CLIError("\(what): the model would need more than 8 EiB of memory (its size overflows 64 bits), \(has) \(gib(available)): \(fix)")
        }
        guard bytes <= available else {
            throw CLIError("\(what): the model would need about \(gib(bytes)) of memory to train (parameters, gradients, Adam's state "
                + "and activations), \(has) \(gib(available)): \(fix)")
        }
    }
}
