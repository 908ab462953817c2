import ArgumentParser
import Foundation
import LSTMKit

// MARK: train

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model (a new run, or --resume one) and write its checkpoint, history and plots to --out.",
        subcommands: [TrainCharLMCommand.self, TrainForecastCommand.self, TrainClassifyCommand.self, TrainFramesCommand.self]
    )
}

struct TrainCharLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charlm",
        abstract: "A character-level language model of a text file (vocabulary stored in vocab.json).",
        discussion: "Without --text it trains on the shipped text (The Devil's Dictionary). Then: lstm generate --model OUT --prompt ..."
    )
    @Option(help: "A UTF-8 text file (default: the shipped Devil's Dictionary; with --resume, the run's).") var text: String?
    @Option(help: "Characters per training sequence (default 100).") var seqLength: Int?
    @Option(help: "Size of the character embedding (default 32).") var embedding: Int?
    @Option(help: "Characters to sample after training (0: none).") var sampleLength: Int = 200
    @OptionGroup var options: TrainingOptions

    mutating func run() throws {
        let run = RunDirectory(options.out ?? defaultOut(.charlm))
        let source = text ?? (options.resume ? run.recordedSource : nil) ?? ShippedData.prefix + ShippedData.textName
        try options.validateValues()
        guard (0...CharLM.maxGenerated).contains(sampleLength) else {
            throw CLIError("--sample-length must be in 0...\(CharLM.maxGenerated) (got \(sampleLength))")
        }
        let device = try options.deviceOption.resolve()
        let content = try readTextFile(source, option: "--text")
        let result = try CharLM.train(text: content, source: source, options: options, defaults: CharLM.Settings(),
                                      seqLengthFlag: seqLength, embeddingFlag: embedding, defaultEpochs: 10, defaultBatch: 64,
                                      defaultLR: 0.005, defaultValidation: 0.05, run: run, device: device)
        if options.verbose > 0 { printFinal(result.job.epochs.last) }
        if sampleLength > 0 {
            let sample = try CharLM.generate(run: run, option: "--out", prompt: "", length: sampleLength, temperature: 0.8,
                                             seed: options.seed, device: device)
            print("Sample at temperature 0.8:\n\(sample.trimmingCharacters(in: .newlines))\n")
        }
        printRunFiles(run, plots: result.job.plots, extra: ["vocab.json"])
        print("Generate: lstm generate --model \(run.path) --prompt \"...\" --length 300 --temperature 0.8")
    }
}

struct TrainForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast a numeric CSV column from its last --window values (normalisation stored in normalization.json).",
        discussion: """
            Without --csv it trains on the shipped monthly El Nino sea-surface temperatures (column sst). The validation \
            windows are the last ones in time. Then: lstm forecast --model OUT --csv FILE
            """
    )
    @Option(help: "A CSV file with a header line (default: the shipped elnino_sst.csv; with --resume, the run's).") var csv: String?
    @Option(help: "The numeric column to forecast (default: the only numeric column).") var column: String?
    @Option(help: "A column of time labels, copied into forecast CSVs (e.g. a date).") var timeColumn: String?
    @Option(help: "Past values the model sees (default 24).") var window: Int?
    @Option(help: "Future values it predicts (default 1).") var horizon: Int?
    @Flag(help: "Train on first differences (undone on output): for a series with a trend.") var difference = false
    @Option(help: "The season of the seasonal naive baseline, in rows (default: detected among 4, 7, 12, 24, 52, else none).") var season: Int?
    @OptionGroup var options: TrainingOptions

    mutating func run() throws {
        let run = RunDirectory(options.out ?? defaultOut(.forecast))
        let path = csv ?? (options.resume ? run.recordedSource : nil) ?? ShippedData.prefix + ShippedData.seriesName
        let shipped = path == ShippedData.prefix + ShippedData.seriesName
        let result = try Forecaster.train(csvPath: path, column: column ?? (shipped ? "sst" : nil),
                                          timeColumn: timeColumn ?? (shipped ? "month" : nil), windowFlag: window, horizonFlag: horizon,
                                          differenceFlag: difference, seasonFlag: season, options: options, run: run)
        if options.verbose > 0 { printFinal(result.job.epochs.last) }
        if let m = result.validation {
            print("Validation (\(m.count) forecasts), in the column's units: " + m.line(season: result.normalization.season))
        }
        printRunFiles(run, plots: result.job.plots, extra: ["normalization.json"])
        print("Forecast: lstm forecast --model \(run.path)\(csv.map { " --csv \($0)" } ?? "")")
    }
}

struct TrainClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Classify the texts of a CSV column: Embedding(maskZero) + LSTM + softmax over the labels of another column.",
        discussion: "Then: lstm evaluate --model OUT --csv TEST.csv (accuracy and confusion matrix)."
    )
    @Option(help: "A CSV file with a header line.") var csv: String
    @Option(help: "The column of texts.") var textColumn: String = "text"
    @Option(help: "The column of labels.") var labelColumn: String = "label"
    @Option(help: "word (lower-cased words, the default) or char (characters).") var level: String?
    @Option(help: "Tokens kept per text (default: the longest text, at most 100 words or 300 characters).") var maxLength: Int?
    @Option(help: "Size of the token embedding (default 32).") var embedding: Int?
    @Option(help: "Most frequent tokens kept; the rest become 'unknown'.") var maxVocabulary: Int = 20000
    @Flag(help: "Read the texts in both directions (Bidirectional LSTM).") var bidirectional = false
    @OptionGroup var options: TrainingOptions

    mutating func run() throws {
        let run = RunDirectory(options.out ?? defaultOut(.classify))
        var given: Set<String> = []
        if maxLength != nil { given.insert("max-length") }
        if level != nil { given.insert("level") }
        if embedding != nil { given.insert("embedding") }
        if bidirectional { given.insert("bidirectional") }
        let settings = Classifier.Settings(hidden: 64, layers: 1, embedding: embedding ?? 32, maxLength: maxLength, level: level ?? "word",
                                           bidirectional: bidirectional, dropout: 0, maxVocabulary: maxVocabulary)
        let result = try Classifier.train(csvPath: csv, textColumn: textColumn, labelColumn: labelColumn, flags: settings, given: given,
                                          options: options, run: run)
        if options.verbose > 0 { printFinal(result.job.epochs.last) }
        printRunFiles(run, plots: result.job.plots, extra: ["vocab.json"])
        print("Evaluate: lstm evaluate --model \(run.path) --csv \(csv)")
    }
}

func printFinal(_ logs: [String: Double]?) {
    guard let logs else { return }
    let keys = RunDirectory.orderedKeys([logs])
    print("Final: " + keys.map { String(format: "\($0) %.4f", logs[$0]!) }.joined(separator: ", "))
}

// MARK: generate, forecast, evaluate, devices

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample text from a character language model (a run of `lstm train charlm` or `lstm demo`)."
    )
    @Option(help: "The run directory of the model.") var model: String
    @Option(help: "Text to start from (only characters the model was trained on).") var prompt: String = ""
    @Option(help: "Characters to generate.") var length: Int = 300
    @Option(help: "Sampling temperature: lower is more conservative, higher more surprising.") var temperature: Double = 0.8
    @Option(help: "Seed of the sampling.") var seed: UInt64 = 42
    @OptionGroup var deviceOption: DeviceOption

    mutating func run() throws {
        guard (0...CharLM.maxGenerated).contains(length) else { throw CLIError("--length must be in 0...\(CharLM.maxGenerated) (got \(length))") }
        guard temperature > 0, temperature.isFinite else { throw CLIError("--temperature must be a positive number (got \(temperature))") }
        let run = RunDirectory(model)
        _ = try CharLM.open(run, option: "--model")   // a clear error before touching a device
        let text = try CharLM.generate(run: run, prompt: prompt, length: length, temperature: temperature, seed: seed,
                                       device: try deviceOption.resolve())
        print(text)
    }
}

struct ForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast with a model of `lstm train forecast` and write the forecasts to a CSV.",
        discussion: """
            Output: one line per data row r from window+1 on, plus one past the end: row, the time label, the actual value \
            and step_1..step_K, the forecasts for rows r..r+K-1 made from the window values before row r. The last line \
            forecasts beyond the data. A plot (SVG, and PNG where rsvg-convert exists) is written next to it.
            """
    )
    @Option(help: "The run directory of the model.") var model: String
    @Option(help: "The CSV to forecast (default: the one the model was trained on).") var csv: String?
    @Option(help: "The column (default: the one the model was trained on).") var column: String?
    @Option(help: "A column of time labels to copy into the output.") var timeColumn: String?
    @Option(help: "Where to write the forecasts (default: MODEL/forecast.csv).") var output: String?
    @OptionGroup var deviceOption: DeviceOption

    mutating func run() throws {
        let run = RunDirectory(model)
        let normalization = try Forecaster.open(run, option: "--model").1
        let f = try Forecaster.forecast(run: run, csvPath: csv, column: column, timeColumn: timeColumn, device: try deviceOption.resolve())
        let outPath = output ?? (run.path as NSString).appendingPathComponent("forecast.csv")
        let out = URL(fileURLWithPath: outPath)
        try writeAtomically(Data(Forecaster.csv(f).utf8), to: out)
        let chart = Forecaster.chart(f, column: column ?? normalization.column)
        let svg = out.deletingPathExtension().appendingPathExtension("svg")
        let png = try writePlot(chart.svg(), to: svg)
        if let training = f.training, let validation = f.validation {
            print("\(f.count) values. Forecasts from the training windows (\(training.count)): " + training.line(season: f.season))
            print("Forecasts from the validation windows (\(validation.count)): " + validation.line(season: f.season))
        } else if let all = f.all {
            print("\(f.count) values; forecasts against the actual values (\(all.count)): " + all.line(season: f.season))
        }
        let rows = f.futureRows.count == 1 ? "row \(f.futureRows.lowerBound)" : "rows \(f.futureRows.lowerBound)-\(f.futureRows.upperBound)"
        print("Beyond the data (\(rows)): "
            + f.future.map { String(format: "%.4g", $0) }.joined(separator: ", "))
        let shown = (outPath as NSString).deletingPathExtension
        print("Wrote \(outPath) (\(f.rows.count) rows) and \(shown).svg\(png == nil ? "" : ", \(shown).png")")
    }
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a trained run on data: accuracy and a confusion matrix for a classifier, MAE for a forecaster, "
            + "loss and perplexity for a character model."
    )
    @Option(help: "The run directory of the model.") var model: String
    @Option(help: "A CSV (classify, forecast; default: the training data).") var csv: String?
    @Option(help: "A text file (charlm; default: the training text).") var text: String?
    @Option(help: "classify: the column of texts (default: as in training).") var textColumn: String?
    @Option(help: "classify: the column of labels (default: as in training).") var labelColumn: String?
    @Option(help: "forecast: the numeric column (default: as in training).") var column: String?
    @Option(help: "Samples per batch.") var batchSize: Int = 64
    @OptionGroup var deviceOption: DeviceOption

    mutating func run() throws {
        let run = RunDirectory(model)
        let config = try run.config(option: "--model")
        guard batchSize >= 1 else { throw CLIError("--batch-size must be at least 1 (got \(batchSize))") }
        switch config.task {
        case .classify:
            let e = try Classifier.evaluate(run: run, csvPath: csv, textColumn: textColumn, labelColumn: labelColumn, device: try deviceOption.resolve())
            print(String(format: "accuracy: %.4f (%d of %d), loss: %.4f", e.accuracy, e.correct, e.count, e.loss))
            print(Classifier.table(e))
        case .forecast:
            let f = try Forecaster.forecast(run: run, csvPath: csv, column: column, timeColumn: nil, device: try deviceOption.resolve())
            guard let all = f.all else {
                throw CLIError("the CSV has no values after the model's window to compare forecasts with: give a longer series")
            }
            if let training = f.training, let validation = f.validation {
                print("\(f.count) values, every horizon step. Training windows (\(training.count) forecasts): " + training.line(season: f.season))
                print("Validation windows (\(validation.count) forecasts): " + validation.line(season: f.season))
            } else {
                print("\(f.count) values: \(all.count) forecasts over every horizon step: " + all.line(season: f.season))
            }
        case .charlm:
            let source = text ?? config.source
            let content = try readTextFile(source, option: "--text")
            let r = try CharLM.evaluate(run: run, text: content, source: text ?? source, device: try deviceOption.resolve(), batchSize: batchSize)
            print(String(format: "%d sequences: loss %.4f, accuracy %.4f (next character), perplexity %.3f",
                         Int(r["samples"]!), r["loss"]!, r["accuracy"]!, r["perplexity"]!))
        }
    }
}

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the CPU and the OpenCL platforms and devices, and which one --device picks."
    )
    @OptionGroup var deviceOption: DeviceOption

    mutating func run() throws {
        let devices = Device.openCLDevices()
        print("cpu: \(ProcessInfo.processInfo.activeProcessorCount) cores, cblas (OpenBLAS)")
        if devices.isEmpty {
            print("OpenCL: no platform found (install an ICD such as pocl-opencl-icd to use OpenCL)")
        } else {
            var platform = -1
            for (n, d) in devices.enumerated() {
                if d.platformIndex != platform {
                    platform = d.platformIndex
                    print("OpenCL platform \(d.platformIndex): \(d.platformName)")
                }
                print("  opencl:\(n)  (opencl:\(d.platformIndex):\(d.deviceIndex))  \(d.deviceName), \(d.isGPU ? "GPU" : "CPU/other"), "
                    + "\(d.computeUnits) compute units, \(d.globalMemoryBytes >> 20) MiB")
            }
        }
        let used = try deviceOption.resolve()
        print("Used with --device \(deviceOption.device): \(used)" + (deviceOption.reason.isEmpty ? "" : " (\(deviceOption.reason))"))
        let world = try Distributed.world()
        print(world.size == 1 ? "Ranks: 1 (not started by mpirun)"
            : "Ranks: \(world.size) (mpirun), \(world.localSize) on this machine; rank \(world.rank) (local \(world.localRank)) uses \(used)")
    }
}
