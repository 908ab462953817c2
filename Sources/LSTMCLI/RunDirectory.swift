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
}

/// A run directory (`--out` of train, `--model` elsewhere): model.json + model.safetensors (Sequential.save),
/// run.json, the task's vocab.json or normalization.json, history.csv/json and the curves as SVG (and PNG).
struct RunDirectory {
    let url: URL
    /// The path as given (for messages).
    let path: String
    init(_ path: String) {
        self.path = path
        url = URL(fileURLWithPath: path)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
    var hasRun: Bool { FileManager.default.fileExists(atPath: file("run.json").path) }
    var hasModel: Bool { FileManager.default.fileExists(atPath: file("model.json").path) }

    /// The run's configuration; one-line errors for a missing or foreign directory. `option` names the flag.
    func config(option: String) throws -> RunConfig {
        let resuming = option.hasPrefix("--resume")
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        let action = resuming ? "train without --resume first, or pass the --out of an existing run"
                              : "pass the --out directory of a finished `lstm train` run"
        guard exists, isDirectory.boolValue else { throw CLIError("\(option) \(path): no such run directory: \(action)") }
        guard hasRun else {
            let what = hasModel ? "has a model.json but no run.json (not written by `lstm train`)" : "holds no run (no run.json)"
            throw CLIError("\(option) \(path) \(what): \(action)")
        }
        guard hasModel, FileManager.default.fileExists(atPath: file("model.safetensors").path) else {
            throw CLIError("\(option) \(path) has no checkpoint (model.json, model.safetensors): the run ended before its first epoch; train it again")
        }
        let config: RunConfig = try readJSON("run.json")
        guard config.format == "lstm-cli.run" else { throw CLIError("\(path)/run.json is not an lstm run description") }
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

    /// Fails when a fresh run would replace an existing one without --overwrite.
    func checkFreshTarget(overwrite: Bool) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CLIError("--out \(path) is a file, not a directory: pass a directory for the run")
        }
        guard !overwrite, hasRun || hasModel else { return }
        throw CLIError("--out \(path) already holds a run: pass --resume to continue it, --overwrite to replace it, or another --out")
    }

    /// The data source recorded in run.json, if there is a readable one (the default data of --resume).
    var recordedSource: String? {
        guard let data = FileManager.default.contents(atPath: file("run.json").path) else { return nil }
        return (try? JSONDecoder().decode(RunConfig.self, from: data))?.source
    }

    func readJSON<T: Decodable>(_ name: String) throws -> T {
        let url = file(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CLIError("\(url.path) is missing: the run directory is incomplete; train it again")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw CLIError("\(url.path) is damaged or from another version (\(error.localizedDescription)); train again")
        }
    }

    func writeJSON<T: Encodable>(_ value: T, _ name: String) throws {
        try createDirectory()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try encoder.encode(value), to: file(name))
    }

    func createDirectory() throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw CLIError("cannot create the directory \(path): \(error.localizedDescription)")
        }
    }

    // MARK: History

    /// The epochs recorded so far (empty for a new run).
    func history() -> [[String: Double]] {
        guard let data = FileManager.default.contents(atPath: file("history.json").path),
              let epochs = try? JSONDecoder().decode([[String: Double]].self, from: data) else { return [] }
        return epochs
    }

    /// Writes history.json, history.csv, loss.svg and (with metrics) metrics.svg, plus PNGs where possible.
    /// Returns the plots written.
    @discardableResult
    func writeHistory(_ epochs: [[String: Double]], task: TaskKind) throws -> [URL] {
        try writeJSON(epochs, "history.json")
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

    /// Builds `layers` into a model on `device`, checks that the checkpoint was saved from the same architecture
    /// and loads its weights. `stateful` layers match their non-stateful saved twins (generation).
    func loadModel(_ layers: [Layer], inputShape: [Int], device: Device, seed: UInt64, option: String) throws -> Sequential {
        struct Saved: Decodable { var inputShape: [Int]; var layers: [LayerSpec] }
        let saved: Saved = try readJSON("model.json")
        func normalised(_ s: LayerSpec) -> LayerSpec {
            var s = s
            if s.stateful != nil { s.stateful = false }
            s.layer = s.layer?.map(normalised)
            return s
        }
        let wanted = layers.map { normalised($0.spec) }
        guard saved.layers.map(normalised) == wanted else {
            throw CLIError("\(option) \(path) holds a checkpoint of another architecture (\(RunDirectory.summary(saved.layers))) "
                + "than this run needs (\(RunDirectory.summary(wanted))): use another --out, or drop the flags that change the model")
        }
        let model = Sequential(layers, device: device, seed: seed)
        try model.build(inputShape: inputShape)
        do { try model.loadWeights(from: file("model.safetensors")) } catch let error as LSTMKitError {
            throw CLIError("\(path)/model.safetensors does not fit \(path)/model.json (\(error.description)): the checkpoint is from another model; train again")
        }
        return model
    }

    /// "Embedding(81x32) LSTM(128) Dense(81)".
    static func summary(_ specs: [LayerSpec]) -> String {
        specs.map { s in
            switch s.type {
            case "Embedding": return "Embedding(\(s.inputDim ?? 0)x\(s.outputDim ?? 0))"
            case "LSTM", "Dense": return "\(s.type)(\(s.units ?? 0))"
            case "Dropout": return "Dropout(\(s.rate ?? 0))"
            case "Bidirectional", "TimeDistributed": return "\(s.type)(\(summary(s.layer ?? [])))"
            default: return s.type
            }
        }.joined(separator: " ")
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

/// After every epoch (and after `ModelCheckpoint` saved the model): run.json, the task's files, the history and
/// the plots, so an interrupted run can be resumed and inspected.
final class RunRecorder: Callback {
    let run: RunDirectory
    var config: RunConfig
    var epochs: [[String: Double]]
    let writeTaskFiles: () throws -> Void
    private(set) var plots: [URL] = []

    init(run: RunDirectory, config: RunConfig, previous: [[String: Double]], writeTaskFiles: @escaping () throws -> Void) {
        self.run = run
        self.config = config
        epochs = previous
        self.writeTaskFiles = writeTaskFiles
    }

    func onEpochEnd(epoch: Int, logs: [String: Double], model: Sequential) throws {
        config.epochsTrained += 1
        var entry = logs
        entry["epoch"] = Double(config.epochsTrained)
        epochs.append(entry)
        try writeTaskFiles()
        try run.writeJSON(config, "run.json")
        plots = try run.writeHistory(epochs, task: config.task)
    }
}
