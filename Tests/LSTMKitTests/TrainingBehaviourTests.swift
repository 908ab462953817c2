import Foundation
import XCTest
@testable import LSTMKit

/// Keras behaviour of the training stack: bad input, NaN handling, checkpoints, callbacks, saving, stateful
/// layers, schedules and progress output.
final class TrainingBehaviourTests: XCTestCase {
    func expectError<T>(_ expected: LSTMKitError, _ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { XCTAssertEqual($0 as? LSTMKitError, expected, "\($0)", file: file, line: line) }
    }

    func classifier(_ device: Device = .cpu) throws -> Sequential {
        let model = Sequential([LSTMLayer(units: 4), Dense(units: 3, activation: .softmax)], device: device, seed: 1)
        try model.compile(optimizer: Adam(), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
        return model
    }
    let x = try! DataArray(shape: [6, 4, 2], values: randomValues(48, seed: 2).map(Float.init))
    let y = DataArray([0, 1, 2, 1, 0, 2])

    func temporaryDirectory(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    func testBadTrainingInput() throws {
        let model = try classifier()
        expectError(.shapeMismatch(what: "labels for sparseCategoricalCrossentropy(fromLogits: false)", expected: "[6] (class ids); these look like one-hot rows: use .categoricalCrossentropy for one-hot targets", got: [6, 3]),
                    try model.fit(x: x, y: DataArray(shape: [6, 3], values: Array(repeating: 0, count: 18)), verbose: 0))
        expectError(.invalidArgument(name: "class id of sample 2", value: "3.0", reason: "must be a whole number in 0..<3"),
                    try model.fit(x: x, y: DataArray([0, 1, 3, 1, 0, 2]), verbose: 0))
        expectError(.emptyDataset("fit: x has no samples"), try model.fit(x: DataArray(shape: [0, 4, 2], values: []), y: DataArray([Float]()), verbose: 0))
        expectError(.invalidArgument(name: "batchSize", value: "0", reason: "must be in 1...6 (the number of training samples)"),
                    try model.fit(x: x, y: y, batchSize: 0, verbose: 0))
        expectError(.invalidArgument(name: "batchSize", value: "7", reason: "must be in 1...6 (the number of training samples)"),
                    try model.fit(x: x, y: y, batchSize: 7, verbose: 0))
        expectError(.emptyDataset("fit: x has 6 samples but y has 5"), try model.fit(x: x, y: DataArray([0, 1, 2, 1, 0]), verbose: 0))
        let mse = Sequential([LSTMLayer(units: 4), Dense(units: 2)], seed: 1)
        try mse.compile(optimizer: SGD(), loss: .meanSquaredError)
        expectError(.shapeMismatch(what: "labels for meanSquaredError", expected: "[6, 2]", got: [6, 3]),
                    try mse.fit(x: x, y: DataArray(shape: [6, 3], values: Array(repeating: 0, count: 18)), verbose: 0))
        let uncompiled = Sequential([Dense(units: 1)])
        expectError(.notCompiled, try uncompiled.fit(x: x, y: y, verbose: 0))
        let embed = Sequential([Embedding(inputDim: 5, outputDim: 2, maskZero: true), LSTMLayer(units: 2), Dense(units: 1)])
        try embed.compile(optimizer: SGD(), loss: .meanSquaredError)
        XCTAssertThrowsError(try embed.fit(x: DataArray(shape: [1, 3], values: [1, 5, 2]), y: DataArray(shape: [1, 1], values: [0]), verbose: 0))
        XCTAssertThrowsError(try embed.fit(x: DataArray(shape: [1, 3], values: [1, 0, 2]), y: DataArray(shape: [1, 1], values: [0]), verbose: 0)) {
            XCTAssert("\($0)".contains("padding must be on the left or the right"), "\($0)")
        }
        expectError(.invalidArgument(name: "learningRate", value: "0.0", reason: "must be > 0"), try SGD(learningRate: 0))
    }

    /// A NaN loss stops training with an error naming the step; the last good checkpoint stays on disk and the
    /// weights are those before the bad step.
    func testNonFiniteLossStopsAndKeepsTheLastCheckpoint() throws {
        let dir = temporaryDirectory("nan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Sequential([LSTMLayer(units: 3), Dense(units: 1)], seed: 3)
        try model.compile(optimizer: SGD(learningRate: 0.01), loss: .meanSquaredError)
        let y = try DataArray(shape: [6, 1], values: [1, 2, 3, 4, 5, 6])
        try model.fit(x: x, y: y, epochs: 1, batchSize: 3, shuffle: false, callbacks: [ModelCheckpoint(directory: dir)], verbose: 0)
        let saved = try Data(contentsOf: dir.appendingPathComponent("model.safetensors"))
        let weights = try model.namedParameters.map { try $0.tensor.toArray() }
        var bad = y.values; bad[4] = .nan
        let badY = try DataArray(shape: [6, 1], values: bad)
        XCTAssertThrowsError(try model.fit(x: x, y: badY, epochs: 2, batchSize: 3, shuffle: false,
                                           callbacks: [ModelCheckpoint(directory: dir)], verbose: 0)) { error in
            guard case let .nonFiniteLoss(epoch, step, value) = error as? LSTMKitError else { return XCTFail("\(error)") }
            XCTAssertEqual([epoch, step], [1, 2])
            XCTAssert(value.isNaN)
            XCTAssert("\(error)".contains("epoch 1, step 2"))
        }
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("model.safetensors")), saved, "the last good checkpoint is kept")
        XCTAssertNotEqual(try model.namedParameters.map { try $0.tensor.toArray() }, weights, "step 1 of the failed fit did train")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(files, ["model.json", "model.safetensors", "optimizer.safetensors"], "no temporary files left behind")
    }

    /// A saved model reloads on either device and predicts the same numbers.
    func testSaveLoadPredictsTheSameOnBothDevices() throws {
        let dir = temporaryDirectory("save")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ids = try DataArray(shape: [4, 5], values: [1, 2, 3, 0, 0, 4, 4, 1, 2, 3, 2, 0, 0, 0, 0, 3, 1, 0, 0, 0])
        let model = Sequential([Embedding(inputDim: 5, outputDim: 3, maskZero: true), Bidirectional(LSTMLayer(units: 4, returnSequences: true), mergeMode: .sum),
                                Dropout(0.3), LSTMLayer(units: 3), Dense(units: 2, activation: .softmax)], seed: 9)
        try model.compile(optimizer: RMSprop(), loss: .sparseCategoricalCrossentropy())
        try model.fit(x: ids, y: DataArray([0, 1, 1, 0]), epochs: 2, batchSize: 2, verbose: 0)
        let expected = try model.predict(ids)
        try model.save(to: dir)
        var devices = [Device.cpu]
        if !Device.openCLDevices().isEmpty { devices.append(try openCLDeviceOrSkip()) }
        for device in devices {
            let loaded = try Sequential.load(from: dir, device: device)
            XCTAssertEqual(loaded.config, model.config)
            assertClose(try loaded.predict(ids).values.map(Double.init), expected.values.map(Double.init), atol: 1e-6, "reloaded on \(device)")
        }
        // A GRU model round-trips too.
        let gruModel = Sequential([Embedding(inputDim: 5, outputDim: 3, maskZero: true), GRULayer(units: 4), Dense(units: 2)], seed: 3)
        let gruExpected = try gruModel.predict(ids)
        let gruDir = dir.appendingPathComponent("gru")
        try gruModel.save(to: gruDir)
        assertClose(try Sequential.load(from: gruDir).predict(ids).values.map(Double.init), gruExpected.values.map(Double.init), atol: 1e-6, "GRU reloaded")
        // Another architecture's checkpoint is rejected by name.
        let other = Sequential([Embedding(inputDim: 5, outputDim: 3), LSTMLayer(units: 5), Dense(units: 2)], seed: 1)
        try other.build(inputShape: [5])
        XCTAssertThrowsError(try other.loadWeights(from: dir.appendingPathComponent("model.safetensors"))) { error in
            guard case .stateDict = error as? LSTMKitError else { return XCTFail("\(error)") }
        }
    }

    /// Every LSTM variant through the Keras-style model on both devices: `fit` lowers the loss, the saved
    /// model.json keeps the variant, and the reloaded model predicts the same on the CPU and on OpenCL.
    func testLSTMVariantsTrainSaveAndReload() throws {
        let variants: [(String, () -> [Layer])] = [
            ("peephole", { [LSTMLayer(units: 6, returnSequences: true, peephole: true), LSTMLayer(units: 4, peephole: true)] }),
            ("layer norm", { [Bidirectional(LSTMLayer(units: 6, returnSequences: true, layerNorm: true)), LSTMLayer(units: 4, layerNorm: true)] }),
            ("projection", { [Bidirectional(LSTMLayer(units: 6, returnSequences: true, projSize: 3), mergeMode: .average),
                              LSTMLayer(units: 5, projSize: 2)] }),
            ("recurrent dropout", { [LSTMLayer(units: 6, returnSequences: true, recurrentDropout: 0.25), LSTMLayer(units: 4, recurrentDropout: 0.25)] }),
            ("cell clip", { [LSTMLayer(units: 6, returnSequences: true, cellClip: 0.5), LSTMLayer(units: 4, cellClip: 0.5)] }),
        ]
        var devices = [Device.cpu]
        if !Device.openCLDevices().isEmpty { devices.append(try openCLDeviceOrSkip()) }
        let xs = try DataArray(shape: [16, 5, 2], values: randomValues(160, seed: 21).map(Float.init))
        let ys = try DataArray(shape: [16, 1], values: (0..<16).map { i in Float(xs.values[i * 10..<i * 10 + 10].reduce(0, +)) / 4 })
        for (name, layers) in variants {
            for device in devices {
                let model = Sequential(layers() + [Dense(units: 1)], device: device, seed: 4)
                try model.compile(optimizer: Adam(learningRate: 0.02), loss: .meanSquaredError)
                let history = try model.fit(x: xs, y: ys, epochs: 12, batchSize: 8, verbose: 0)
                let losses = history["loss"]
                XCTAssertLessThan(losses.last!, 0.8 * losses.first!, "\(name) on \(device): loss \(losses)")
                let dir = temporaryDirectory("variant")
                defer { try? FileManager.default.removeItem(at: dir) }
                try model.save(to: dir)
                let expected = try model.predict(xs).values.map(Double.init)
                for target in devices {
                    let loaded = try Sequential.load(from: dir, device: target)
                    XCTAssertEqual(loaded.config, model.config, "\(name)")
                    assertClose(try loaded.predict(xs).values.map(Double.init), expected, atol: 2e-5,
                                "\(name): trained on \(device), reloaded on \(target)")
                }
            }
        }
    }

    /// Training 2 steps, saving, reloading (weights and Adam state) and training 2 more gives exactly the
    /// weights of 4 uninterrupted steps.
    func testResumingRestoresTheOptimizerState() throws {
        let dir = temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let straight = try classifier()
        for _ in 0..<4 { try straight.trainOnBatch(x: x, y: y) }
        let first = try classifier()
        for _ in 0..<2 { try first.trainOnBatch(x: x, y: y) }
        try first.save(to: dir)
        let resumed = try Sequential.load(from: dir)
        try resumed.compile(optimizer: Adam(), loss: .sparseCategoricalCrossentropy())
        XCTAssertTrue(try resumed.loadOptimizerState(from: dir))
        XCTAssertEqual(resumed.optimizer?.iterations, 2)
        for _ in 0..<2 { try resumed.trainOnBatch(x: x, y: y) }
        XCTAssertEqual(try resumed.namedParameters.map { try $0.tensor.toArray() }, try straight.namedParameters.map { try $0.tensor.toArray() })
        // Adam's state does not resume SGD.
        let wrong = try Sequential.load(from: dir)
        try wrong.compile(optimizer: SGD(momentum: 0.9), loss: .sparseCategoricalCrossentropy())
        expectError(.stateDict(tensor: "optimizer", reason: "optimizer.safetensors holds Adam state; the model is compiled with SGD"),
                    try wrong.loadOptimizerState(from: dir))
    }

    func testEarlyStoppingRestoresTheBestWeights() throws {
        let stopper = EarlyStopping(monitor: "val_loss", patience: 1, restoreBestWeights: true)
        // A learning rate this large makes the loss climb after the first epochs.
        let noisy = Sequential([LSTMLayer(units: 4), Dense(units: 3, activation: .softmax)], seed: 1)
        try noisy.compile(optimizer: SGD(learningRate: 40), loss: .sparseCategoricalCrossentropy())
        let history = try noisy.fit(x: x, y: y, epochs: 30, batchSize: 6, validationData: (x, y), callbacks: [stopper], verbose: 0)
        let losses = history["val_loss"]
        XCTAssertLessThan(losses.count, 30, "stopped early")
        XCTAssertEqual(stopper.stoppedEpoch, losses.count)
        XCTAssertEqual(losses.count, stopper.bestEpoch + 1, "patience 1: stops at the first epoch without improvement, as Keras 3 does")
        XCTAssertEqual(try noisy.evaluate(x: x, y: y)["loss"]!, losses.min()!, accuracy: 1e-6, "the weights of the best epoch are restored")
        XCTAssertNotEqual(losses.last!, losses.min()!)
    }

    func testStatefulLayerCarriesStateAcrossBatches() throws {
        let layer = LSTMLayer(units: 3, stateful: true)
        let model = Sequential([layer, Dense(units: 1)], seed: 4)
        try model.build(inputShape: [4, 2])
        let batch = try DataArray(shape: [2, 4, 2], values: randomValues(16, seed: 5).map(Float.init))
        let first = try model.predict(batch, batchSize: 2), second = try model.predict(batch, batchSize: 2)
        XCTAssertNotEqual(first, second, "the second call starts from the first call's final state")
        model.resetStates()
        XCTAssertEqual(try model.predict(batch, batchSize: 2), first, "resetStates() starts from zeros again")
        XCTAssertThrowsError(try model.predict(try DataArray(shape: [3, 4, 2], values: randomValues(24, seed: 6).map(Float.init)), batchSize: 3))
    }

    func testReturnStateExposesTheFinalState() throws {
        let layer = LSTMLayer(units: 3, returnSequences: true, returnState: true)
        let model = Sequential([layer], seed: 2)
        let out = try model.predict(x)
        let (h, c) = try XCTUnwrap(layer.lastState)
        XCTAssertEqual(h.shape, [6, 3]); XCTAssertEqual(c.shape, [6, 3])
        // h is the output at the last step of each sequence: out [6, 4, 3], step 3.
        var lastSteps: [Float] = []
        for b in 0..<6 { lastSteps += out.values[((b * 4 + 3) * 3)..<((b * 4 + 4) * 3)] }
        XCTAssertEqual(try h.toArray(), lastSteps)
    }

    func testLearningRateSchedules() {
        XCTAssertEqual(LearningRateSchedule.step(stepSize: 10, gamma: 0.5).rate(base: 1, step: 25), 0.25)
        XCTAssertEqual(LearningRateSchedule.exponential(gamma: 0.9).rate(base: 2, step: 2), 1.62, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule.cosine(totalSteps: 100, minimum: 0.1).rate(base: 1.1, step: 50), 0.6, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule.cosine(totalSteps: 100).rate(base: 1, step: 500), 0, accuracy: 1e-12)
    }

    /// Value clipping, weight decay, Nesterov and AdamW: OpenCL against the CPU after a few steps.
    func testOptimizerVariantsMatchAcrossDevices() throws {
        let device = try openCLDeviceOrSkip()
        let makers: [() throws -> Optimizer] = [
            { try SGD(learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01, clipValue: 0.05) },
            { try Adam(learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true, clipNorm: 0.5) },
            { try RMSprop(learningRate: 0.01, weightDecay: 0.01, schedule: .exponential(gamma: 0.9)) },
        ]
        for make in makers {
            var results: [[Double]] = []
            for d in [Device.cpu, device] {
                let model = Sequential([LSTMLayer(units: 4), Dense(units: 3, activation: .softmax)], device: d, seed: 1)
                try model.compile(optimizer: make(), loss: .sparseCategoricalCrossentropy())
                for _ in 0..<5 { try model.trainOnBatch(x: x, y: y) }
                results.append(try model.namedParameters.flatMap { try $0.tensor.toDoubles() })
            }
            assertClose(results[1], results[0], atol: 1e-5, "\(type(of: try make())) OpenCL vs CPU")
        }
    }

    /// Runs `body` with stdout (file descriptor 1) sent to a temporary file, and returns what was written.
    func capturingStdout(_ body: () throws -> Void) throws -> String {
        let url = temporaryDirectory("stdout")
        XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: url) }
        fflush(nil)
        let file = open(url.path, O_WRONLY | O_TRUNC), saved = dup(STDOUT_FILENO)
        XCTAssertGreaterThanOrEqual(file, 0)
        dup2(file, STDOUT_FILENO)
        close(file)
        defer { fflush(nil); dup2(saved, STDOUT_FILENO); close(saved) }
        try body()
        fflush(nil)
        return try String(contentsOf: url, encoding: .utf8)
    }

    func testProgressLinesWhenNotATerminal() throws {
        // stdout is a file here (as under a pipe or CI): verbose 1 prints "Epoch e/E", then one line with the full
        // bar, the time and the epoch's logs; verbose 2 prints one line per epoch.
        XCTAssertEqual(ProgressPrinter.format(["loss": 0.5, "accuracy": 0.75, "val_loss": 0.25]), "loss: 0.5000 - accuracy: 0.7500 - val_loss: 0.2500")
        for verbose in [1, 2] {
            let model = try classifier()
            var history: History?
            let output = try capturingStdout {
                XCTAssertFalse(ProgressPrinter(verbose: verbose, epochs: 2).isTerminal)
                history = try model.fit(x: x, y: y, epochs: 2, batchSize: 2, shuffle: false, verbose: verbose)
            }
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let epochs = try XCTUnwrap(history).epochs
            XCTAssertEqual(epochs.count, 2)
            XCTAssertEqual(lines.count, (verbose == 1 ? 4 : 2) + 1, "verbose \(verbose): \(output.debugDescription)")
            XCTAssertEqual(lines.last, "", "verbose \(verbose): the output ends with a newline")
            XCTAssertFalse(output.contains("\r") || output.contains("\u{1B}"), "verbose \(verbose): no redrawing off a terminal")
            for (e, logs) in epochs.enumerated() {
                let line: String
                if verbose == 1 {
                    guard lines.count > 2 * e + 1 else { break }
                    XCTAssertEqual(lines[2 * e], "Epoch \(e + 1)/2")
                    line = lines[2 * e + 1]
                    // 6 samples in batches of 2: 3 steps, the bar full.
                    XCTAssertTrue(line.hasPrefix("3/3 [" + String(repeating: "=", count: 30) + "] - "), line)
                } else {
                    guard lines.count > e else { break }
                    line = lines[e]
                    XCTAssertTrue(line.hasPrefix("Epoch \(e + 1)/2 - "), line)
                }
                XCTAssertNotNil(line.range(of: #" - [0-9]+s [0-9]+ms/step - loss: [0-9]+\.[0-9]{4} - accuracy: [0-9]\.[0-9]{4}$"#,
                                           options: .regularExpression), "verbose \(verbose): \(line)")
                XCTAssertTrue(line.hasSuffix(" - " + ProgressPrinter.format(logs)), "verbose \(verbose): the line shows the epoch's logs: \(line) vs \(logs)")
            }
        }
    }
}
