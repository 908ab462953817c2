import ArgumentParser
import Foundation
import LSTMKit

/// `lstm export --model DIR --onnx model.onnx`: a run's model as ONNX (opset 17, dynamic batch and sequence axes),
/// with the run's run.json, vocab.json / normalization.json in the model's metadata (keys `lstm.run`, `lstm.vocab`,
/// `lstm.normalization`), so `lstm import` can rebuild the run directory.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a trained run's model to ONNX (onnxruntime, OpenVINO, TensorRT...).",
        discussion: """
            charlm: input 'input' int64 character ids [batch, seq] -> output 'output' next-character probabilities \
            [batch, seq, characters]. classify: input 'input' int64 token ids [batch, seq] (0 pads on the right) -> \
            'output' label probabilities [batch, labels]. forecast: input 'input' float normalised values \
            [batch, window, 1] -> 'output' normalised forecasts [batch, horizon] (mean and std in the metadata \
            lstm.normalization). The vocabulary is in the metadata lstm.vocab.
            """
    )
    @Option(help: "The run directory of the model.") var model: String
    @Option(help: "The ONNX file to write.") var onnx: String

    mutating func run() throws {
        let run = RunDirectory(model)
        let config = try run.config(option: "--model")
        var metadata: [String: String] = ["lstm.task": config.task.rawValue]
        // The verified checkpoint's files (the newest complete generation, or the old layout's top-level files).
        let files = run.snapshot()?.files ?? [:]
        for (key, file) in [("lstm.run", "run.json"), ("lstm.vocab", "vocab.json"), ("lstm.normalization", "normalization.json"),
                            ("lstm.history", "history.json")] {
            if let data = files[file] { metadata[key] = String(decoding: data, as: UTF8.self) }
        }
        switch config.task {   // the task's own files must be there and readable
        case .charlm: _ = try CharLM.open(run, option: "--model")
        case .forecast: _ = try Forecaster.open(run, option: "--model")
        case .classify: _ = try Classifier.open(run, option: "--model")
        }
        let sequential: Sequential
        do { sequential = try Sequential.load(from: run.stateDirectory, device: .cpu) } catch let error as LSTMKitError {
            throw CLIError("\(run.path) holds a damaged checkpoint (\(error.description)): train it again")
        }
        let data = try ONNXExport.data(sequential, metadata: metadata)
        try writeAtomically(data, to: URL(fileURLWithPath: onnx))
        let input = config.task == .forecast ? "float [batch, \(config.window ?? 0), 1]" : "int64 ids [batch, seq]"
        let output = sequential.outputShape.map { "[batch, " + ($0.count == 2 ? "seq, " : "") + "\($0.last!)]" } ?? "?"
        print("Wrote \(onnx) (\(data.count) bytes, ONNX opset \(ONNXExport.opset)): input 'input' \(input) -> output 'output' \(output)")
    }
}

/// `lstm import --onnx model.onnx --out DIR`: the run directory of a model that `lstm export` wrote.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Rebuild a run directory from an ONNX model written by `lstm export`.",
        discussion: """
            A graph fits a task when it carries the task's files in its metadata (lstm.run, and lstm.vocab or \
            lstm.normalization), as `lstm export` writes them, and its layers are that task's model. Other LSTM/GRU \
            graphs (e.g. torch.onnx.export of nn.LSTM) have no vocabulary or output layer of a task: import them with \
            the LSTMKit API (ONNXImport.network, ONNXImport.sequential).
            """
    )
    @Option(help: "The ONNX file.") var onnx: String
    @Option(help: "The run directory to write.") var out: String
    @Flag(help: "Replace an existing run in --out.") var overwrite = false

    mutating func run() throws {
        let target = RunDirectory(out)
        try target.checkFreshTarget(overwrite: overwrite)
        guard let data = FileManager.default.contents(atPath: onnx) else { throw CLIError("--onnx \(onnx): cannot read the file") }
        guard try ONNXImport.metadata(data)["lstm.run"] != nil else {
            throw CLIError("--onnx \(onnx) fits no task: it has no lstm.run metadata (only graphs written by `lstm export` carry a task's "
                + "vocabulary or normalization); import other LSTM/GRU graphs with the LSTMKit API (ONNXImport)")
        }
        let (model, metadata) = try ONNXImport.sequential(data, device: .cpu)
        func decode<T: Decodable>(_ type: T.Type, _ key: String) throws -> T {
            guard let text = metadata[key] else { throw CLIError("--onnx \(onnx) has no \(key) metadata, which its task needs") }
            do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
                throw CLIError("--onnx \(onnx): the \(key) metadata is damaged (\(error.localizedDescription))")
            }
        }
        let config = try decode(RunConfig.self, "lstm.run")
        guard config.format == "lstm-cli.run" else { throw CLIError("--onnx \(onnx): lstm.run is not an lstm run description") }
        let expected: [Layer], inputShape: [Int]
        var files: [(name: String, data: Data)] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        switch config.task {
        case .charlm:
            let vocab = try decode(CharVocabulary.self, "lstm.vocab")
            let s = CharLM.settings(config)
            expected = CharLM.layers(vocabularySize: vocab.characters.count, settings: s)
            inputShape = [s.sequenceLength]
            files.append(("vocab.json", try encoder.encode(vocab)))
        case .forecast:
            let n = try decode(Normalization.self, "lstm.normalization")
            let s = Forecaster.settings(config)
            expected = Forecaster.layers(s)
            inputShape = [s.window, 1]
            files.append(("normalization.json", try encoder.encode(n)))
        case .classify:
            let vocab = try decode(TokenVocabulary.self, "lstm.vocab")
            let s = Classifier.settings(config)
            let length = model.inputShape?.first ?? 1
            expected = Classifier.layers(vocabularySize: vocab.tokens.count, classes: vocab.labels.count, settings: s, length: length)
            inputShape = [config.sequenceLength ?? length]
            files.append(("vocab.json", try encoder.encode(vocab)))
        }
        let have = model.layers.map { AnyLayerConfig(layer: $0) }, want = expected.map { AnyLayerConfig(layer: $0) }
        guard have.map(RunDirectory.normalised) == want.map(RunDirectory.normalised), model.inputShape == inputShape else {
            throw CLIError("--onnx \(onnx): its layers (\(RunDirectory.summary(have))) are not the \(config.task.title) "
                + "its lstm.run describes (\(RunDirectory.summary(want))): the file was changed after `lstm export`")
        }
        // The history travels in lstm.history (files of older exports have none: the imported run then starts its
        // history afresh, at the epoch count run.json gives). Adam's moments are not in ONNX: the imported run is
        // compiled as its task compiles it, so a --resume starts a fresh optimizer from these weights.
        var history: [[String: Double]] = []
        if metadata["lstm.history"] != nil { history = try decode([[String: Double]].self, "lstm.history") }
        var imported = config
        if history.isEmpty { imported.epochsTrained = 0 }
        try RunChecks.check(history: history, epochsTrained: imported.epochsTrained, strict: true, file: "--onnx \(onnx) lstm.history")
        try model.compile(optimizer: makeOptimizer(learningRate: config.learningRate),
                          loss: config.task == .forecast ? .meanSquaredError : .sparseCategoricalCrossentropy())
        guard files.count == 1 else { throw CLIError("--onnx \(onnx): internal error: one task file expected") }
        try target.commit(model: model, config: imported, history: history, taskFile: files[0], replaceAll: true)
        print("Imported a \(config.task.title) (\(RunDirectory.summary(model.layers.map { AnyLayerConfig(layer: $0) }))) into \(target.path)")
    }
}
