import Foundation
import LSTMKit

/// Text classification: Embedding(maskZero) -> LSTM x layers -> Dense(softmax) over the labels, sparse
/// categorical cross-entropy. Texts become word ids (lower-cased runs of letters, digits and apostrophes) or
/// character ids; id 0 pads on the right (masked), id 1 is a token not in the vocabulary.
enum Classifier {
    struct Settings {
        var hidden = 64
        var layers = 1
        var embedding = 32
        var maxLength: Int? = nil
        var level = "word"
        var bidirectional = false
        var dropout = 0.0
        var maxVocabulary = 20000
    }

    static func tokenize(_ text: String, level: String) -> [String] {
        if level == "char" { return text.unicodeScalars.map { String($0) } }
        var tokens: [String] = [], current = ""
        for s in text.lowercased().unicodeScalars {
            if s.properties.isAlphabetic || s.properties.numericType != nil || s == "'" {
                current.unicodeScalars.append(s)
            } else if !current.isEmpty {
                tokens.append(current); current = ""
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    /// The most frequent tokens first (ties alphabetical), at most `limit`.
    static func vocabulary(_ texts: [[String]], limit: Int) -> [String] {
        var counts: [String: Int] = [:]
        for t in texts { for w in t { counts[w, default: 0] += 1 } }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(limit).map(\.key)
    }

    /// `[N, length]` ids, right-padded with 0; unknown tokens are 1; a text without tokens is one unknown token.
    static func encode(_ texts: [[String]], vocabulary: [String], length: Int) throws -> DataArray {
        var index: [String: Float] = [:]
        for (i, w) in vocabulary.enumerated() { index[w] = Float(i + 2) }
        var values: [Float] = []
        values.reserveCapacity(texts.count * length)
        for t in texts {
            var ids = t.prefix(length).map { index[$0] ?? 1 }
            if ids.isEmpty { ids = [1] }
            values += ids + Array(repeating: 0, count: length - ids.count)
        }
        return try DataArray(shape: [texts.count, length], values: values)
    }

    static func layers(vocabularySize: Int, classes: Int, settings s: Settings, length: Int) -> [Layer] {
        var layers: [Layer] = [Embedding(inputDim: vocabularySize + 2, outputDim: s.embedding, maskZero: true)]
        for i in 0..<s.layers {
            if i > 0, s.dropout > 0 { layers.append(Dropout(s.dropout)) }
            let lstm = LSTMLayer(units: s.hidden, returnSequences: i < s.layers - 1)
            layers.append(s.bidirectional ? Bidirectional(lstm) : lstm)
        }
        layers.append(Dense(units: classes, activation: .softmax))
        return layers
    }

    static func settings(_ c: RunConfig) -> Settings {
        Settings(hidden: c.hidden, layers: c.layers, embedding: c.embedding ?? 32, maxLength: c.sequenceLength, level: c.level ?? "word",
                 bidirectional: c.bidirectional ?? false, dropout: c.dropout)
    }

    static func open(_ run: RunDirectory, option: String) throws -> (RunConfig, TokenVocabulary) {
        let config = try run.config(option: option, task: .classify)
        let vocabulary: TokenVocabulary = try run.readJSON("vocab.json")
        try RunChecks.check(vocabulary, config: config, file: "\(run.path)/\(run.stateName("vocab.json"))")
        return (config, vocabulary)
    }

    /// Refuses sizes that cannot fit in the device's memory, before anything is allocated.
    static func checkMemory(_ s: Settings, vocabularySize v: Int, classes: Int, length: Int, batch: Int, device: Device, source: String) throws {
        let directions = s.bidirectional ? 2 : 1
        let parameters = RunChecks.add(RunChecks.mul(RunChecks.add(v, 2), s.embedding),
                                       RunChecks.lstmParameters(input: s.embedding, hidden: s.hidden, layers: s.layers, directions: directions),
                                       RunChecks.mul(directions, s.hidden, classes), classes)
        let bytes = RunChecks.trainingBytes(parameters: parameters, batch: batch, steps: length, hidden: s.hidden, layers: s.layers,
                                            directions: directions, embedding: s.embedding, outputs: classes, outputSteps: 1)
        try RunChecks.checkMemory(bytes: bytes, device: device,
                                  what: "\(source)--hidden \(s.hidden) --layers \(s.layers) --embedding \(s.embedding) --max-length \(length) "
                                      + "--batch-size \(batch) (\(v) tokens, \(classes) labels)",
                                  fix: "use a smaller --hidden, --layers, --embedding, --max-length, --max-vocabulary or --batch-size")
        try RunChecks.checkSizes([("hidden", s.hidden, 1...RunChecks.maxUnits), ("layers", s.layers, 1...RunChecks.maxLayers),
                                  ("embedding", s.embedding, 1...RunChecks.maxUnits), ("max-length", length, 1...RunChecks.maxLength)])
    }

    /// Texts and labels of a CSV; an empty label is an error naming its line.
    static func read(_ table: CSVTable, textColumn: String, labelColumn: String) throws -> (texts: [String], labels: [String]) {
        let texts = try table.strings(textColumn, option: "--text-column")
        let labels = try table.strings(labelColumn, option: "--label-column").map { $0.trimmingCharacters(in: .whitespaces) }
        if let bad = labels.firstIndex(where: \.isEmpty) {
            throw CLIError("\(table.displayName) line \(bad + 2) has an empty label in column '\(labelColumn)': give every row a label or remove it")
        }
        return (texts, labels)
    }

    /// Class ids of `labels`; a label the model does not know is an error.
    static func classIds(_ labels: [String], known: [String], table: CSVTable, run: RunDirectory) throws -> [Float] {
        let index = Dictionary(uniqueKeysWithValues: known.enumerated().map { ($1, Float($0)) })
        return try labels.enumerated().map { i, label in
            guard let id = index[label] else {
                throw CLIError("\(table.displayName) line \(i + 2) has the label '\(label)', which the model in \(run.path) was not trained on "
                    + "(its labels: \(known.joined(separator: ", "))): remove those rows or train a new run")
            }
            return id
        }
    }

    // MARK: Training

    struct TrainResult {
        var job: TrainingJob.Result
        var labels: [String]
        var vocabularySize: Int
    }

    static func train(csvPath: String, textColumn: String, labelColumn: String, flags: Settings, given: Set<String>,
                      options o: TrainingOptions, run: RunDirectory) throws -> TrainResult {
        try o.validateValues()
        let device = try o.deviceOption.resolve()
        let table = try CSVTable(path: csvPath)
        let (texts, labels) = try read(table, textColumn: textColumn, labelColumn: labelColumn)
        var config: RunConfig
        var vocabulary: TokenVocabulary
        var s = flags
        var previous: [[String: Double]] = []
        let model: Sequential
        if o.resume {
            (config, vocabulary) = try open(run, option: "--resume: --out")
            let stored = settings(config)
            try TrainingOptions.checkResumed("hidden", o.hidden, config.hidden, run: run)
            try TrainingOptions.checkResumed("layers", o.layers, config.layers, run: run)
            try TrainingOptions.checkResumed("dropout", o.dropout, config.dropout, run: run)
            if given.contains("embedding") { try TrainingOptions.checkResumed("embedding", flags.embedding, stored.embedding, run: run) }
            if given.contains("level") { try TrainingOptions.checkResumed("level", flags.level, stored.level, run: run) }
            if given.contains("max-length") { try TrainingOptions.checkResumed("max-length", flags.maxLength, stored.maxLength, run: run) }
            if given.contains("bidirectional") { try TrainingOptions.checkResumed("bidirectional", flags.bidirectional, stored.bidirectional, run: run) }
            s = stored
        } else {
            s.hidden = o.hidden ?? s.hidden; s.layers = o.layers ?? s.layers; s.dropout = o.dropout ?? s.dropout
            guard s.level == "word" || s.level == "char" else { throw CLIError("--level must be word or char (got \(s.level))") }
            if s.embedding < 1 { throw CLIError("--embedding must be at least 1 (got \(s.embedding))") }
            if let m = s.maxLength, m < 1 { throw CLIError("--max-length must be at least 1 (got \(m))") }
            if s.maxVocabulary < 1 { throw CLIError("--max-vocabulary must be at least 1 (got \(s.maxVocabulary))") }
            let tokens = texts.map { tokenize($0, level: s.level) }
            let classes = Array(Set(labels)).sorted()
            guard classes.count >= 2 else {
                throw CLIError("column '\(labelColumn)' of \(table.displayName) has only one label ('\(classes[0])'): a classifier needs at least two")
            }
            vocabulary = TokenVocabulary(level: s.level, tokens: Classifier.vocabulary(tokens, limit: s.maxVocabulary), labels: classes)
            let longest = tokens.map(\.count).max() ?? 1
            s.maxLength = max(1, min(s.maxLength ?? (s.level == "word" ? 100 : 300), longest))
            config = RunConfig(task: .classify, hidden: s.hidden, layers: s.layers, embedding: s.embedding, dropout: s.dropout,
                               bidirectional: s.bidirectional, sequenceLength: s.maxLength, source: csvPath, textColumn: textColumn,
                               labelColumn: labelColumn, level: s.level, batchSize: o.batchSize ?? 32, learningRate: o.lr ?? 0.005,
                               seed: o.seed, device: device.description)
        }
        let length = s.maxLength ?? 100
        try checkMemory(s, vocabularySize: vocabulary.tokens.count, classes: vocabulary.labels.count, length: length,
                        batch: min(o.batchSize ?? config.batchSize, texts.count), device: device, source: o.resume ? "\(run.path)/run.json: " : "")
        let layerList = layers(vocabularySize: vocabulary.tokens.count, classes: vocabulary.labels.count, settings: s, length: length)
        // The rows in a seeded random order, so the validation part (the end) is a fair sample.
        var order = Array(0..<texts.count)
        var generator = SeededGenerator(seed: config.seed ^ 0xC1A55)
        order.shuffle(using: &generator)
        let x = try encode(order.map { tokenize(texts[$0], level: s.level) }, vocabulary: vocabulary.tokens, length: length)
        let y = DataArray(try classIds(order.map { labels[$0] }, known: vocabulary.labels, table: table, run: run))
        if o.resume {
            model = try run.loadModel(layerList, inputShape: [length], device: device, seed: config.seed, option: "--resume: --out")
            previous = try run.history(config: config)
            if let lr = o.lr { config.learningRate = lr }
            if let b = o.batchSize { config.batchSize = b }
            config.device = device.description
            config.source = csvPath
        } else {
            try run.checkFreshTarget(overwrite: o.overwrite)
            model = Sequential(layerList, device: device, seed: o.seed)
            try model.build(inputShape: [length])
        }
        try model.compile(optimizer: makeOptimizer(learningRate: config.learningRate), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
        if o.resume { try model.loadOptimizerState(from: run.stateDirectory) }  // Adam's moments and step count continue
        if o.verbose > 0 {
            print("Text classifier on \(device): \(texts.count) texts from \(table.displayName), labels \(vocabulary.labels.joined(separator: ", ")), "
                + "\(vocabulary.tokens.count) \(s.level == "word" ? "words" : "characters") (+ padding and unknown), up to \(length) per text"
                + (o.resume ? ", resuming after epoch \(config.epochsTrained)" : ""))
            print(model.summary())
        }
        let vocab = vocabulary
        let job = TrainingJob(model: model, x: x, y: y, validationSplit: o.validationSplit ?? 0.2, epochs: o.epochs ?? 10,
                              batchSize: config.batchSize, seed: config.seed, patience: o.patience, timeLimit: o.timeLimit,
                              verbose: o.verbose, run: run, config: config, previous: previous, fresh: !o.resume,
                              taskFile: { ("vocab.json", try CheckpointStore.encodeJSON(vocab)) })
        return TrainResult(job: try job.fit(), labels: vocabulary.labels, vocabularySize: vocabulary.tokens.count)
    }

    // MARK: Evaluation

    struct Evaluation {
        var labels: [String]
        var confusion: [[Int]]   // [true][predicted]
        var loss: Double
        var count: Int
        var correct: Int { confusion.indices.reduce(0) { $0 + confusion[$1][$1] } }
        var accuracy: Double { Double(correct) / Double(max(count, 1)) }
    }

    static func evaluate(run: RunDirectory, csvPath: String?, textColumn: String?, labelColumn: String?, device: Device) throws -> Evaluation {
        let (config, vocabulary) = try open(run, option: "--model")
        let s = settings(config)
        let table = try CSVTable(path: csvPath ?? config.source)
        let (texts, labels) = try read(table, textColumn: textColumn ?? config.textColumn ?? "text", labelColumn: labelColumn ?? config.labelColumn ?? "label")
        let length = s.maxLength ?? 100
        try checkMemory(s, vocabularySize: vocabulary.tokens.count, classes: vocabulary.labels.count, length: length, batch: 1, device: device,
                        source: "\(run.path)/run.json: ")
        let x = try encode(texts.map { tokenize($0, level: s.level) }, vocabulary: vocabulary.tokens, length: length)
        let ids = try classIds(labels, known: vocabulary.labels, table: table, run: run)
        let model = try run.loadModel(layers(vocabularySize: vocabulary.tokens.count, classes: vocabulary.labels.count, settings: s, length: length),
                                      inputShape: [length], device: device, seed: config.seed, option: "--model")
        try model.compile(optimizer: makeOptimizer(learningRate: config.learningRate), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
        let loss = try model.evaluate(x: x, y: DataArray(ids), batchSize: 64)["loss"] ?? .nan
        let p = try model.predict(x, batchSize: 64).values
        let c = vocabulary.labels.count
        var confusion = Array(repeating: Array(repeating: 0, count: c), count: c)
        for i in 0..<texts.count {
            let row = p[(i * c)..<((i + 1) * c)]
            let predicted = row.indices.max { row[$0] < row[$1] }! - i * c
            confusion[Int(ids[i])][predicted] += 1
        }
        return Evaluation(labels: vocabulary.labels, confusion: confusion, loss: loss, count: texts.count)
    }

    /// The confusion matrix as a table: rows are the true labels, columns the predicted ones.
    static func table(_ e: Evaluation) -> String {
        let width = max(6, (e.labels.map(\.count).max() ?? 0) + 1, String(e.count).count + 1)
        func pad(_ s: String) -> String { String(repeating: " ", count: max(width - s.count, 0)) + s }
        var lines = ["confusion matrix (rows: true label, columns: predicted label):"]
        lines.append(pad("") + "  " + e.labels.map(pad).joined(separator: " "))
        for (i, label) in e.labels.enumerated() {
            lines.append(pad(label) + "  " + e.confusion[i].map { pad(String($0)) }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}
