import Foundation
import LSTMKit

/// Character-level language model: Embedding -> LSTM x layers (sequences) -> Dense(softmax) over the
/// characters, trained with sparse categorical cross-entropy on `[B, T, V]` outputs and `[B, T]` next characters.
/// A character is a Unicode scalar; the vocabulary (vocab.json) is stored with the model.
enum CharLM {
    struct Settings {
        var hidden = 128
        var layers = 1
        var embedding = 32
        var sequenceLength = 100
        var dropout = 0.0
    }

    /// The distinct characters of `text`, sorted by code point.
    static func vocabulary(of text: String) -> [String] {
        Set(text.unicodeScalars).sorted { $0.value < $1.value }.map { String($0) }
    }

    /// "'é' (U+00E9)", with control characters escaped.
    static func show(_ c: String) -> String {
        guard let s = c.unicodeScalars.first else { return "''" }
        let shown: String
        switch s {
        case "\n": shown = "\\n"
        case "\t": shown = "\\t"
        case "\r": shown = "\\r"
        default: shown = s.properties.generalCategory == .control ? "" : c
        }
        return "'\(shown)' (U+\(String(format: "%04X", s.value)))"
    }

    /// Ids of the characters of `text`; characters outside `vocabulary` are an error naming them.
    static func encode(_ text: String, vocabulary: [String], what: String, run: RunDirectory? = nil) throws -> [Float] {
        var index: [Unicode.Scalar: Float] = [:]
        for (i, c) in vocabulary.enumerated() { if let s = c.unicodeScalars.first { index[s] = Float(i) } }
        var ids: [Float] = [], unseen: [String] = []
        ids.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            if let id = index[s] { ids.append(id) } else if !unseen.contains(String(s)) { unseen.append(String(s)) }
        }
        if !unseen.isEmpty {
            let list = unseen.prefix(5).map(show).joined(separator: ", ") + (unseen.count > 5 ? " and \(unseen.count - 5) more" : "")
            let vocab = run.map { " (its vocabulary is in \($0.path)/vocab.json)" } ?? ""
            throw CLIError("\(what) has characters the model never saw in training: \(list): use only characters it knows\(vocab)")
        }
        return ids
    }

    static func layers(vocabularySize v: Int, settings s: Settings, stateful: Bool = false) -> [Layer] {
        var layers: [Layer] = [Embedding(inputDim: v, outputDim: s.embedding)]
        for i in 0..<s.layers {
            if i > 0, s.dropout > 0 { layers.append(Dropout(s.dropout)) }
            layers.append(LSTMLayer(units: s.hidden, returnSequences: true, stateful: stateful))
        }
        layers.append(Dense(units: v, activation: .softmax))
        return layers
    }

    /// Non-overlapping sequences of `length` characters, each with the next characters as targets.
    static func dataset(_ ids: [Float], sequenceLength t: Int) throws -> (x: DataArray, y: DataArray) {
        let n = (ids.count - 1) / t
        guard n >= 1 else {
            throw CLIError("the text has \(ids.count) characters: it needs more than --seq-length \(t); give a longer text or a smaller --seq-length")
        }
        var xs: [Float] = [], ys: [Float] = []
        xs.reserveCapacity(n &* t); ys.reserveCapacity(n &* t)  // n * t < ids.count
        for i in 0..<n {
            xs += ids[(i * t)..<(i * t + t)]
            ys += ids[(i * t + 1)..<(i * t + t + 1)]
        }
        return (try DataArray(shape: [n, t], values: xs), try DataArray(shape: [n, t], values: ys))
    }

    static func settings(_ c: RunConfig) -> Settings {
        Settings(hidden: c.hidden, layers: c.layers, embedding: c.embedding ?? 32, sequenceLength: c.sequenceLength ?? 100, dropout: c.dropout)
    }

    /// Loads a charlm run: its config and vocabulary, range-checked; a run of another task is an error.
    static func open(_ run: RunDirectory, option: String) throws -> (RunConfig, [String]) {
        let config = try run.config(option: option, task: .charlm)
        let vocab: CharVocabulary = try run.readJSON("vocab.json")
        try RunChecks.check(vocab, file: "\(run.path)/\(run.stateName("vocab.json"))")
        return (config, vocab.characters)
    }

    /// Bytes to train the model on batches of `batch` sequences (checked arithmetic; nil on overflow).
    static func trainingBytes(vocabularySize v: Int, settings s: Settings, batch: Int) -> Int? {
        let parameters = RunChecks.add(RunChecks.mul(v, s.embedding), RunChecks.lstmParameters(input: s.embedding, hidden: s.hidden, layers: s.layers, directions: 1),
                                       RunChecks.mul(s.hidden, v), v)
        return RunChecks.trainingBytes(parameters: parameters, batch: batch, steps: s.sequenceLength, hidden: s.hidden, layers: s.layers,
                                       directions: 1, embedding: s.embedding, outputs: v, outputSteps: s.sequenceLength)
    }

    /// Refuses sizes that cannot fit in the device's memory, before anything is allocated.
    static func checkMemory(vocabularySize v: Int, settings s: Settings, batch: Int, device: Device, source: String) throws {
        try RunChecks.checkMemory(bytes: trainingBytes(vocabularySize: v, settings: s, batch: batch), device: device,
                                  what: "\(source)--hidden \(s.hidden) --layers \(s.layers) --embedding \(s.embedding) --seq-length \(s.sequenceLength) "
                                      + "--batch-size \(batch) (\(v) characters)",
                                  fix: "use a smaller --hidden, --layers, --embedding, --seq-length or --batch-size")
        try RunChecks.checkSizes([("hidden", s.hidden, 1...RunChecks.maxUnits), ("layers", s.layers, 1...RunChecks.maxLayers),
                                  ("embedding", s.embedding, 1...RunChecks.maxUnits), ("seq-length", s.sequenceLength, 1...RunChecks.maxLength)])
    }

    // MARK: Sampling

    /// The most characters `generate` samples in one call.
    static let maxGenerated = 10_000_000

    /// Samples `length` characters after `prompt` at `temperature` (probabilities raised to 1/temperature),
    /// carrying the LSTM state from character to character (a stateful copy of the model).
    static func generate(run: RunDirectory, option: String = "--model", prompt: String, length: Int, temperature: Double,
                         seed: UInt64, device: Device) throws -> String {
        guard temperature > 0, temperature.isFinite else { throw CLIError("--temperature must be a positive number (got \(temperature))") }
        guard (0...maxGenerated).contains(length) else { throw CLIError("--length must be in 0...\(maxGenerated) (got \(length))") }
        let (config, vocabulary) = try open(run, option: option)
        let start = prompt.isEmpty ? (vocabulary.contains("\n") ? "\n" : vocabulary[0]) : prompt
        let promptIds = try encode(start, vocabulary: vocabulary, what: "the prompt", run: run)
        try checkMemory(vocabularySize: vocabulary.count, settings: settings(config), batch: 1, device: device, source: "\(run.path)/run.json: ")
        let model = try run.loadModel(layers(vocabularySize: vocabulary.count, settings: settings(config), stateful: true),
                                      inputShape: [1], device: device, seed: config.seed, option: option)
        // The streaming API: one character per step, the state kept in `state` (no per-step allocation).
        var state = try model.initialState(batch: 1)
        var probabilities: [Float] = []
        for id in promptIds { try model.step([id], state: &state, output: &probabilities) }
        var generator = SeededGenerator(seed: seed)
        var out = ""
        for _ in 0..<length {
            let id = sample(probabilities, temperature: temperature, using: &generator)
            out += vocabulary[id]
            try model.step([Float(id)], state: &state, output: &probabilities)
        }
        return (prompt.isEmpty ? "" : prompt) + out
    }

    /// Draws an index from `p^(1/temperature)`, normalised.
    static func sample(_ p: [Float], temperature: Double, using generator: inout SeededGenerator) -> Int {
        let logs = p.map { $0 > 0 ? Double($0).log / temperature : -Double.infinity }
        let top = logs.max() ?? 0
        let weights = logs.map { $0.isFinite ? Foundation.exp($0 - top) : 0 }
        var r = Double.random(in: 0..<1, using: &generator) * weights.reduce(0, +)
        for (i, w) in weights.enumerated() {
            r -= w
            if r < 0 { return i }
        }
        return weights.lastIndex { $0 > 0 } ?? 0
    }
}

private extension Double {
    var log: Double { Foundation.log(self) }
}

// MARK: Training

extension CharLM {
    struct TrainResult {
        var job: TrainingJob.Result
        var vocabulary: [String]
        var device: Device
    }

    /// Trains (or resumes) a character LM on `text` into `run`. Every input check happens before anything is written.
    static func train(text: String, source: String, options o: TrainingOptions, defaults: Settings,
                      seqLengthFlag: Int?, embeddingFlag: Int?, defaultEpochs: Int, defaultBatch: Int, defaultLR: Double,
                      defaultValidation: Double, run: RunDirectory, device: Device, banner: String? = nil,
                      targetLoss: Double? = nil, callbacks: [Callback] = []) throws -> TrainResult {
        try o.validateValues()
        var config: RunConfig
        var vocabulary: [String]
        var model: Sequential
        var previous: [[String: Double]] = []
        if o.resume {
            (config, vocabulary) = try open(run, option: "--resume: --out")
            try TrainingOptions.checkResumed("hidden", o.hidden, config.hidden, run: run)
            try TrainingOptions.checkResumed("layers", o.layers, config.layers, run: run)
            try TrainingOptions.checkResumed("embedding", embeddingFlag, config.embedding, run: run)
            try TrainingOptions.checkResumed("seq-length", seqLengthFlag, config.sequenceLength, run: run)
            try TrainingOptions.checkResumed("dropout", o.dropout, config.dropout, run: run)
            let ids = try encode(text, vocabulary: vocabulary, what: source, run: run)
            let s = settings(config)
            let data = try dataset(ids, sequenceLength: s.sequenceLength)
            try checkMemory(vocabularySize: vocabulary.count, settings: s, batch: min(o.batchSize ?? config.batchSize, data.x.count), device: device,
                            source: "\(run.path)/run.json: ")
            model = try run.loadModel(layers(vocabularySize: vocabulary.count, settings: s), inputShape: [s.sequenceLength],
                                      device: device, seed: config.seed, option: "--resume: --out")
            config.source = source
            config.device = device.description
            if let lr = o.lr { config.learningRate = lr }
            if let b = o.batchSize { config.batchSize = b }
            previous = try run.history(config: config)
            return try fitAndReport(model: model, data: data, config: config, vocabulary: vocabulary, previous: previous, options: o,
                                    epochs: o.epochs ?? defaultEpochs, validation: o.validationSplit ?? defaultValidation,
                                    run: run, device: device, banner: banner, targetLoss: targetLoss, callbacks: callbacks)
        }
        try run.checkFreshTarget(overwrite: o.overwrite)
        var s = defaults
        s.hidden = o.hidden ?? s.hidden; s.layers = o.layers ?? s.layers; s.dropout = o.dropout ?? s.dropout
        s.embedding = embeddingFlag ?? s.embedding; s.sequenceLength = seqLengthFlag ?? s.sequenceLength
        if s.embedding < 1 { throw CLIError("--embedding must be at least 1 (got \(s.embedding))") }
        if s.sequenceLength < 1 { throw CLIError("--seq-length must be at least 1 (got \(s.sequenceLength))") }
        vocabulary = CharLM.vocabulary(of: text)
        let ids = try encode(text, vocabulary: vocabulary, what: source)
        let data = try dataset(ids, sequenceLength: s.sequenceLength)
        try checkMemory(vocabularySize: vocabulary.count, settings: s, batch: min(o.batchSize ?? defaultBatch, data.x.count), device: device, source: "")
        config = RunConfig(task: .charlm, hidden: s.hidden, layers: s.layers, embedding: s.embedding, dropout: s.dropout,
                           sequenceLength: s.sequenceLength, source: source, batchSize: o.batchSize ?? defaultBatch,
                           learningRate: o.lr ?? defaultLR, seed: o.seed, device: device.description)
        model = Sequential(layers(vocabularySize: vocabulary.count, settings: s), device: device, seed: o.seed)
        try model.build(inputShape: [s.sequenceLength])
        return try fitAndReport(model: model, data: data, config: config, vocabulary: vocabulary, previous: previous, options: o,
                                epochs: o.epochs ?? defaultEpochs, validation: o.validationSplit ?? defaultValidation,
                                run: run, device: device, banner: banner, targetLoss: targetLoss, callbacks: callbacks)
    }

    private static func fitAndReport(model: Sequential, data: (x: DataArray, y: DataArray), config: RunConfig, vocabulary: [String],
                                     previous: [[String: Double]], options o: TrainingOptions, epochs: Int, validation: Double,
                                     run: RunDirectory, device: Device, banner: String?, targetLoss: Double?,
                                     callbacks: [Callback]) throws -> TrainResult {
        try model.compile(optimizer: makeOptimizer(learningRate: config.learningRate), loss: .sparseCategoricalCrossentropy(),
                          metrics: [.accuracy])
        if o.resume { try model.loadOptimizerState(from: run.stateDirectory) }  // Adam's moments and step count continue
        if o.verbose > 0 {
            if let banner { print(banner) }
            print("Character language model on \(device): \(vocabulary.count) characters, sequences of \(config.sequenceLength ?? 0), "
                + "\(config.layers) x LSTM(\(config.hidden))\(o.resume ? ", resuming after epoch \(config.epochsTrained)" : "")")
            print(model.summary())
        }
        var job = TrainingJob(model: model, x: data.x, y: data.y, validationSplit: validation, epochs: epochs, batchSize: config.batchSize,
                              seed: config.seed, patience: o.patience, timeLimit: o.timeLimit, verbose: o.verbose, run: run, config: config,
                              previous: previous, fresh: !o.resume,
                              taskFile: { ("vocab.json", try CheckpointStore.encodeJSON(CharVocabulary(characters: vocabulary))) })
        job.targetLoss = targetLoss
        job.callbacks = callbacks
        return TrainResult(job: try job.fit(), vocabulary: vocabulary, device: device)
    }

    /// Loss, accuracy and perplexity of a charlm run on a text.
    static func evaluate(run: RunDirectory, text: String, source: String, device: Device, batchSize: Int) throws -> [String: Double] {
        let (config, vocabulary) = try open(run, option: "--model")
        let s = settings(config)
        let ids = try encode(text, vocabulary: vocabulary, what: source, run: run)
        let data = try dataset(ids, sequenceLength: s.sequenceLength)
        try checkMemory(vocabularySize: vocabulary.count, settings: s, batch: 1, device: device, source: "\(run.path)/run.json: ")
        let model = try run.loadModel(layers(vocabularySize: vocabulary.count, settings: s), inputShape: [s.sequenceLength],
                                      device: device, seed: config.seed, option: "--model")
        try model.compile(optimizer: makeOptimizer(learningRate: config.learningRate), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
        var result = try model.evaluate(x: data.x, y: data.y, batchSize: batchSize)
        result["perplexity"] = Foundation.exp(result["loss"] ?? .nan)
        result["samples"] = Double(data.x.count)
        return result
    }
}
