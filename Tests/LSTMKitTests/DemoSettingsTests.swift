import Foundation
import XCTest
@testable import LSTMCLI
@testable import LSTMKit

/// `lstm demo`'s settings: the learning rate falling over the time limit (TimedLearningRateDecay), --seq-length and
/// --lr-decay, and the closing note (epochs, validation loss, time, why it stopped).
final class DemoSettingsTests: CLITestCase {
    func testTimedDecayFallsOverTheTimeLimitAndRestoresTheBaseRate() throws {
        let model = Sequential([Embedding(inputDim: 5, outputDim: 2), LSTMLayer(units: 3), Dense(units: 5, activation: .softmax)], device: .cpu, seed: 1)
        try model.build(inputShape: [4])
        model.compile(optimizer: try Adam(learningRate: 0.01), loss: .sparseCategoricalCrossentropy())
        let decay = TimedLearningRateDecay(seconds: 100, finalFraction: 0.1)
        try decay.onTrainBegin(model: model)
        XCTAssertEqual(decay.rate(elapsed: 0), 0.01, accuracy: 1e-12)
        XCTAssertEqual(decay.rate(elapsed: 50), 0.01 * (0.1 + 0.9 * 0.5), accuracy: 1e-12)
        XCTAssertEqual(decay.rate(elapsed: 100), 0.001, accuracy: 1e-12)
        XCTAssertEqual(decay.rate(elapsed: 500), 0.001, accuracy: 1e-12, "no rise after the limit")
        try decay.onBatchEnd(epoch: 1, step: 1, logs: [:], model: model)
        XCTAssertLessThanOrEqual(model.optimizer!.learningRate, 0.01)
        XCTAssertGreaterThan(model.optimizer!.learningRate, 0.009, "a moment into training the rate is still near the base")
        try decay.onTrainEnd(model: model)
        XCTAssertEqual(model.optimizer!.learningRate, 0.01, "the base rate is back after training")
    }

    func testDemoTakesSequenceLengthAndDecayAndRefusesBadDecay() throws {
        let out = path("demo")
        expectSuccess(["demo", "--hidden", "8", "--epochs", "1", "--max-chars", "6000", "--length", "20", "--seq-length", "20",
                       "--lr-decay", "0.5", "--out", out] + cpu)
        let config = try JSONDecoder().decode(RunConfig.self, from: Data(contentsOf: URL(fileURLWithPath: state(out) + "/run.json")))
        XCTAssertEqual(config.sequenceLength, 20)
        XCTAssertEqual(config.hidden, 8)
        XCTAssertEqual(config.batchSize, DemoCommand.defaultBatch)
        XCTAssertEqual(config.learningRate, DemoCommand.defaultLR, "run.json keeps the base rate, not the decayed one")
        expectSuccess(["generate", "--model", out, "--prompt", "A", "--length", "10", "--device", "cpu"])
        expectFailure(["demo", "--lr-decay", "0", "--out", path("bad")] + cpu, "--lr-decay must be in (0, 1]")
        expectFailure(["demo", "--lr-decay", "1.5", "--out", path("bad")] + cpu, "--lr-decay must be in (0, 1]")
    }

    func testClosingNoteStatesEpochsValidationLossTimeAndWhy() {
        var history = History()
        history.epochs = [["loss": 2.1, "val_loss": 2.2], ["loss": 1.8, "val_loss": 1.7727]]
        let config = RunConfig(task: .charlm, hidden: 128, layers: 1, source: "s", batchSize: 32, learningRate: 0.01, seed: 42, device: "cpu")
        func result(time: Bool, target: Bool) -> TrainingJob.Result {
            TrainingJob.Result(history: history, epochs: history.epochs, plots: [], stoppedByTimeLimit: time, reachedTargetLoss: target,
                               config: config, seconds: 129.4)
        }
        XCTAssertEqual(DemoCommand.closingNote(result(time: true, target: false), seconds: 140.2, timeLimit: 150, targetLoss: 1.55),
                       "Demo finished in 140 s: 2 epochs (129 s of training), validation loss 1.7727; stopped by the time limit of 150 s.")
        XCTAssertEqual(DemoCommand.closingNote(result(time: false, target: true), seconds: 140.2, timeLimit: 150, targetLoss: 1.8),
                       "Demo finished in 140 s: 2 epochs (129 s of training), validation loss 1.7727; reached the target loss 1.8.")
        XCTAssertTrue(DemoCommand.closingNote(result(time: false, target: false), seconds: 140.2, timeLimit: 150, targetLoss: 1.55)
            .hasSuffix("; ran all its epochs."))
        // EarlyStopping (patience 2, the best weights restored): the best epoch's loss is the one stated.
        history.epochs = [["loss": 2.1, "val_loss": 2.2], ["loss": 1.8, "val_loss": 1.7], ["loss": 1.7, "val_loss": 1.75],
                          ["loss": 1.6, "val_loss": 1.8]]
        XCTAssertEqual(DemoCommand.closingNote(result(time: false, target: false), seconds: 50.4, timeLimit: 150, targetLoss: 1.55, patience: 2),
                       "Demo finished in 50 s: 4 epochs (129 s of training), validation loss 1.7000 (epoch 2, the weights kept); stopped early: no lower validation loss in 2 epochs.")
        XCTAssertEqual(DemoCommand.closingNote(result(time: true, target: false), seconds: 150.4, timeLimit: 150, targetLoss: 1.55, patience: 5),
                       "Demo finished in 150 s: 4 epochs (129 s of training), validation loss 1.7000 (epoch 2, the weights kept); stopped by the time limit of 150 s.")
    }
}
