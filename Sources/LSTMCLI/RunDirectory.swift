import Foundation
import LSTMKit

/// What a run directory was trained for.
enum TaskKind: String, Codable, Sendable {
    case charlm, forecast, classify
    var title: String {
        switch self {
        case .charlm: return "character language model"
        case .forecast: return "time-series forecaster"
        case .classify: return "text classifier"
        }
    }
}

/// `run.json`: what the CLI needs besides the weights to rebuild, resume and use a model.
struct RunConfig: Codable, Equatable {
    var format = "lstm-cli.run"
    var version = 1
    var task: TaskKind
    // Architecture.
    var hidden: Int
    var layers: Int
    var embedding: Int?
    var dropout: Double = 0
    var bidirectional: Bool?
    /// charlm: characters per training sequence; classify: tokens per text (longer texts are cut).
    var sequenceLength: Int?
    /// forecast: past values in, future values out.
    var window: Int?
    var horizon: Int?
    // Data.
    var source: String
    var column: String?
    var timeColumn: String?
    var textColumn: String?
    var labelColumn: String?
    var level: String?
    // Training so far.
    var epochsTrained = 0
    var batchSize: Int
    var learningRate: Double
    var seed: UInt64
    var device: String
}

/// `vocab.json` of a character language model: the characters (Unicode scalars), id = index.
struct CharVocabulary: Codable, Equatable {
    var characters: [String]
}

/// `vocab.json` of a classifier: the tokens (id = index + 2; 0 is padding, 1 an unknown token) and the labels.
struct TokenVocabulary: Codable, Equatable {
    var level: String
    var tokens: [String]
    var labels: [String]
}

/// `normalization.json` of a forecaster: the column and the training part's mean and standard deviation.
struct Normalization: Codable, Equatable {
    var column: String
    var mean: Double
    var std: Double
    var window: Int
    var horizon: Int
    /// The model sees first differences (`--difference`): mean and std are those of the training differences,
    /// and forecasts are the last value plus the predicted differences, summed. nil: false (older runs).
    var difference: Bool? = nil
    /// The season of the seasonal naive baseline (`--season`, or detected); nil: none.
    var season: Int? = nil
    /// The training windows of the series it was trained on (`seriesLength` values): later windows were validation.
    var trainWindows: Int? = nil
    var seriesLength: Int? = nil
}

/// A run directory (`--out` of train, `--model` elsewhere): its state is one verified checkpoint generation
/// (`CheckpointStore`: model.json, model.safetensors, optimizer.safetensors, run.json, history.json and the task's
/// vocab.json or normalization.json), plus derived files for people (history.csv, the curves as SVG and PNG).
/// Every value read back is range-checked (`RunChecks`) before use.
final class RunDirectory {
    let url: URL
    /// The path as given (for messages).
    let path: String
    /// Set while this process trains into the directory (the exclusive lock is held).
    var lock: RunLock?
    private var cachedSnapshot: CheckpointStore.Snapshot?

    init(_ path: String) {
        self.path = path
        url = URL(fileURLWithPath: path)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Whether the directory holds a run (a committed generation, or run.json of the old layout).
    var hasRun: Bool {
        !CheckpointStore.generations(in: url).isEmpty || FileManager.default.fileExists(atPath: file("run.json").path)
            || FileManager.default.fileExists(atPath: file("model.json").path)
    }

    /// The verified state of the run (cached), after removing stale temporaries. nil when there is none.
    func snapshot(required: [String] = CheckpointStore.requiredFiles) -> CheckpointStore.Snapshot? {
        if let cachedSnapshot { return cachedSnapshot }
        CheckpointStore.removeStaleTemporaries(in: url, lockHeld: lock != nil)
        guard let s = CheckpointStore.latest(in: url, required: required) else { return nil }
        for (name, reason) in s.skipped where s.generation != nil || !s.files.isEmpty {
            LSTMTool.writeToStandardError("note: \(path)/\(name) is not a complete checkpoint (\(reason)); using "
                + "\(s.generation.map(CheckpointStore.generationName) ?? "the files of the old layout") instead")
        }
        cachedSnapshot = s
        return s
    }

    /// Where the state files are (the generation's directory, or the run directory for the old layout).
    var stateDirectory: URL { snapshot()?.directory ?? url }

    /// The run's configuration, range-checked; one-line errors for a missing, foreign or damaged directory.
    /// `option` names the flag.
    func config(option: String) throws -> RunConfig {
        let resuming = option.hasPrefix("--resume")
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        let action = resuming ? "train without --resume first, or pass the --out of an existing run"
                              : "pass the --out directory of a finished `lstm train` run"
        guard exists, isDirectory.boolValue else { throw CLIError("\(option) \(path): no such run directory: \(action)") }
        guard let snapshot = snapshot() else {
            CheckpointStore.removeStaleTemporaries(in: url, lockHeld: lock != nil)
            let hasModel = FileManager.default.fileExists(atPath: file("model.json").path)
            let what = hasModel ? "has a model.json but no run.json (not written by `lstm train`)" : "holds no run (no checkpoint, no run.json)"
            throw CLIError("\(option) \(path) \(what): \(action)")
        }
        if snapshot.generation == nil && snapshot.files["run.json"] == nil {
            let reasons = snapshot.skipped.map { "\($0.name): \($0.reason)" }.joined(separator: "; ")
            throw CLIError("\(option) \(path) has no complete checkpoint (\(reasons)): train it again")
        }
        if snapshot.generation == nil {
            guard FileManager.default.fileExists(atPath: file("model.json").path),
                  FileManager.default.fileExists(atPath: file("model.safetensors").path) else {
                throw CLIError("\(option) \(path) has no checkpoint (model.json, model.safetensors): the run ended before its first epoch; train it again")
            }
        }
        let config: RunConfig = try readJSON("run.json")
        try RunChecks.check(config, file: "\(path)/\(stateName("run.json"))")
        _ = try history(config: config)  // a damaged history means a damaged run, even where it is not used
        return config
    }

    /// `config(option:)` of a run that must be of `task` (a one-line error names the task it holds instead).
    func config(option: String, task: TaskKind) throws -> RunConfig {
        let config = try config(option: option)
        guard config.task == task else {
            throw CLIError("\(option) \(path) holds a \(config.task.title) (task \(config.task.rawValue)), not a \(task.title): "
                + "pass a run of `lstm train \(task.rawValue)`")
        }
        return config
    }

    /// "ckpt-000012/run.json" or "run.json" (old layout), for messages.
    func stateName(_ name: String) -> String {
        guard let g = snapshot()?.generation else { return name }
        return CheckpointStore.generationName(g) + "/" + name
    }

    /// Fails when a fresh run would replace an existing one without --overwrite.
    func checkFreshTarget(overwrite: Bool) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CLIError("--out \(path) is a file, not a directory: pass a directory for the run")
        }
        guard !overwrite, hasRun else { return }
        throw CLIError("--out \(path) already holds a run: pass --resume to continue it, --overwrite to replace it, or another --out")
    }

    /// The data source recorded in run.json, if there is a readable one (the default data of --resume).
    var recordedSource: String? {
        guard let data = snapshot()?.files["run.json"] else { return nil }
        return (try? JSONDecoder().decode(RunConfig.self, from: data))?.source
    }

    /// A state file of the verified snapshot, decoded.
    func readJSON<T: Decodable>(_ name: String) throws -> T {
        guard let data = snapshot()?.files[name] else {
            throw CLIError("\(path)/\(stateName(name)) is missing: the run directory is incomplete; train it again")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw CLIError("\(path)/\(stateName(name)) is damaged or from another version (\(LSTMTool.describe(error))); train again")
        }
    }

    // MARK: History

    /// The epochs recorded so far (empty for a new run), range-checked against `config`.
    func history(config: RunConfig) throws -> [[String: Double]] {
        guard let snapshot = snapshot(), snapshot.files["history.json"] != nil else {
            if snapshot()?.generation != nil { throw CLIError("\(path)/\(stateName("history.json")) is missing: train it again") }
            return []
        }
        let epochs: [[String: Double]] = try readJSON("history.json")
        try RunChecks.check(history: epochs, epochsTrained: config.epochsTrained, strict: snapshot.generation != nil,
                            file: "\(path)/\(stateName("history.json"))")
        return epochs
    }

    /// Writes the derived files for people at the top level: history.csv, loss.svg and (with metrics) metrics.svg,
    /// plus PNGs where possible. Returns the plots written.
    @discardableResult
    func writeDerived(_ epochs: [[String: Double]], task: TaskKind) throws -> [URL] {
        let keys = RunDirectory.orderedKeys(epochs)
        var csv = (["epoch"] + keys).joined(separator: ",") + "\n"
        for (i, e) in epochs.enumerated() {
            csv += ([String(Int(e["epoch"] ?? Double(i + 1)))] + keys.map { e[$0].map { String($0) } ?? "" }).joined(separator: ",") + "\n"
        }
        try writeAtomically(Data(csv.utf8), to: file("history.csv"))
        let x = epochs.enumerated().map { $1["epoch"] ?? Double($0 + 1) }
        func chart(_ title: String, _ yLabel: String, _ names: [String]) -> LineChart {
            LineChart(title: title, xLabel: "epoch", yLabel: yLabel,
                      series: names.map { name in (name, x, epochs.map { $0[name] ?? .nan }) })
        }
        var plots: [URL] = []
        let lossKeys = keys.filter { $0 == "loss" || $0 == "val_loss" }
        let lossName = task == .forecast ? "loss (MSE, normalised)" : "loss (cross-entropy)"
        plots.append(file("loss.svg"))
        if let png = try writePlot(chart("Training loss: \(task.title)", lossName, lossKeys).svg(), to: file("loss.svg")) { plots.append(png) }
        let metricKeys = keys.filter { !lossKeys.contains($0) }
        if !metricKeys.isEmpty {
            plots.append(file("metrics.svg"))
            if let png = try writePlot(chart("Metrics: \(task.title)", metricKeys.map { $0.replacingOccurrences(of: "val_", with: "") }
                .reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.joined(separator: ", "), metricKeys).svg(),
                to: file("metrics.svg")) { plots.append(png) }
        } else {
            for name in ["metrics.svg", "metrics.png"] { try? FileManager.default.removeItem(at: file(name)) }
        }
        return plots
    }

    /// loss, the metrics, then val_ keys, without "epoch".
    static func orderedKeys(_ epochs: [[String: Double]]) -> [String] {
        let all = Set(epochs.flatMap(\.keys)).subtracting(["epoch"])
        let train = all.filter { !$0.hasPrefix("val_") }.sorted { ($0 == "loss" ? "" : $0) < ($1 == "loss" ? "" : $1) }
        let validation = all.filter { $0.hasPrefix("val_") }.sorted { ($0 == "val_loss" ? "" : $0) < ($1 == "val_loss" ? "" : $1) }
        return train + validation
    }

    // MARK: Checkpoints

    /// Commits one checkpoint generation: the model (weights, architecture, optimizer state), run.json, history.json
    /// and the task's file as one transaction (`CheckpointStore.commit`), then the derived files. `replaceAll` on the
    /// first commit of a fresh run removes what the directory held before (--overwrite). Returns the plots.
    @discardableResult
    func commit(model: Sequential, config: RunConfig, history: [[String: Double]], taskFile: (name: String, data: Data),
                replaceAll: Bool) throws -> [URL] {
        try RunChecks.check(history: history, epochsTrained: config.epochsTrained, strict: true, file: "the history to write")
        let files = [("run.json", try CheckpointStore.encodeJSON(config)), ("history.json", try CheckpointStore.encodeJSON(history)), taskFile]
        var plots: [URL] = []
        try CheckpointStore.commit(in: url, model: model, files: files, epochsTrained: config.epochsTrained, replaceAll: replaceAll) {
            if replaceAll { for name in ["forecast.csv", "forecast.svg", "forecast.png"] { try? FileManager.default.removeItem(at: file(name)) } }
            plots = try writeDerived(history, task: config.task)
        }
        cachedSnapshot = nil
        return plots
    }

    /// Builds `layers` into a model on `device`, checks that the checkpoint was saved from the same architecture
    /// and loads its weights. `stateful` layers match their non-stateful saved twins (generation).
    func loadModel(_ layers: [Layer], inputShape: [Int], device: Device, seed: UInt64, option: String) throws -> Sequential {
        guard let data = snapshot()?.files["model.json"] else {
            throw CLIError("\(path)/\(stateName("model.json")) is missing: the run directory is incomplete; train it again")
        }
        let saved: [AnyLayerConfig]
        do { saved = try Sequential.architecture(fromModelJSON: data).layers } catch {
            throw CLIError("\(path)/\(stateName("model.json")) is damaged or from another version (\(LSTMTool.describe(error))); train again")
        }
        let wanted = layers.map { Self.normalised(AnyLayerConfig(layer: $0)) }
        guard saved.map(Self.normalised) == wanted else {
            throw CLIError("\(option) \(path) holds a checkpoint of another architecture (\(RunDirectory.summary(saved))) "
                + "than this run needs (\(RunDirectory.summary(wanted))): use another --out, or drop the flags that change the model")
        }
        let model = Sequential(layers, device: device, seed: seed)
        try model.build(inputShape: inputShape)
        do { try model.loadWeights(from: stateDirectory.appendingPathComponent("model.safetensors")) } catch let error as LSTMKitError {
            throw CLIError("\(path)/\(stateName("model.safetensors")) does not fit \(path)/\(stateName("model.json")) (\(error.description)): "
                + "the checkpoint is from another model; train again")
        }
        return model
    }

    /// "Embedding(81x32) LSTM(128) Dense(81)".
    static func summary(_ configs: [AnyLayerConfig]) -> String {
        configs.map { c in
            if let e = c.config(as: Embedding.Config.self) { return "Embedding(\(e.inputDim)x\(e.outputDim))" }
            if let l = c.config(as: LSTMLayer.Config.self) { return "LSTM(\(l.units))" }
            if let d = c.config(as: Dense.Config.self) { return "Dense(\(d.units))" }
            if let d = c.config(as: Dropout.Config.self) { return "Dropout(\(d.rate))" }
            if let b = c.config(as: Bidirectional.Config.self) { return "Bidirectional(\(summary([b.layer])))" }
            if let t = c.config(as: TimeDistributed.Config.self) { return "TimeDistributed(\(summary([t.layer])))" }
            return c.className
        }.joined(separator: " ")
    }

    /// `config` with `stateful` off in every recurrent layer, nested ones included: a stateful layer (generation)
    /// matches its saved non-stateful twin.
    static func normalised(_ config: AnyLayerConfig) -> AnyLayerConfig {
        if var l = config.config(as: LSTMLayer.Config.self) { l.stateful = false; return AnyLayerConfig(LSTMLayer.self, config: l) }
        if var g = config.config(as: GRULayer.Config.self) { g.stateful = false; return AnyLayerConfig(GRULayer.self, config: g) }
        if var b = config.config(as: Bidirectional.Config.self) { b.layer = normalised(b.layer); return AnyLayerConfig(Bidirectional.self, config: b) }
        if var t = config.config(as: TimeDistributed.Config.self) { t.layer = normalised(t.layer); return AnyLayerConfig(TimeDistributed.self, config: t) }
        if var q = config.config(as: Sequential.Config.self) { q.layers = q.layers.map(normalised); return AnyLayerConfig(Sequential.self, config: q) }
        return config
    }
}

/// Ends `fit` after the epoch when another epoch would likely pass `seconds` since training began.
final class TimeLimit: Callback {
    let seconds: Double
    private var start = Date(), last = Date()
    private(set) var stopped = false
    init(seconds: Double) { self.seconds = seconds }
    func onTrainBegin(model: Sequential) throws { start = Date(); last = start; stopped = false }
    func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
        let now = Date(), epochTime = now.timeIntervalSince(last)
        last = now
        if now.timeIntervalSince(start) + epochTime > seconds { model.stopTraining = true; stopped = true }
    }
}

/// After every epoch: one checkpoint transaction (`RunDirectory.commit`) with the model, Adam's state, run.json
/// (epochsTrained + 1), the history and the task's file, then the derived files, so an interrupted run can be
/// resumed and inspected and its files always agree on the epoch.
final class RunCheckpoint: Callback {
    let run: RunDirectory
    var config: RunConfig
    var epochs: [[String: Double]]
    let taskFile: () throws -> (name: String, data: Data)
    /// The first commit of a fresh run replaces whatever the directory held (--overwrite).
    private var replaceAll: Bool
    private(set) var plots: [URL] = []

    init(run: RunDirectory, config: RunConfig, previous: [[String: Double]], fresh: Bool, taskFile: @escaping () throws -> (name: String, data: Data)) {
        self.run = run
        self.config = config
        epochs = previous
        replaceAll = fresh
        self.taskFile = taskFile
    }

    func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
        guard config.epochsTrained < RunChecks.maxEpochs else {
            throw CLIError("the run has trained \(config.epochsTrained) epochs, the most a run can record: start a new --out")
        }
        var next = config
        next.epochsTrained += 1
        var entry = logs
        entry["epoch"] = Double(next.epochsTrained)
        if let bad = entry.first(where: { !$0.value.isFinite }) {
            throw CLIError("epoch \(next.epochsTrained) ended with \(bad.key) = \(bad.value): not saved; the checkpoint of epoch \(config.epochsTrained) is kept")
        }
        plots = try run.commit(model: model, config: next, history: epochs + [entry], taskFile: try taskFile(), replaceAll: replaceAll)
        config = next
        epochs.append(entry)
        replaceAll = false
    }

    /// Commits the model as it is now (EarlyStopping's restored weights) with the same run.json and history.
    func commitFinal(model: Sequential) throws {
        plots = try run.commit(model: model, config: config, history: epochs, taskFile: try taskFile(), replaceAll: replaceAll)
        replaceAll = false
    }
}
