import Foundation
import XCTest
@testable import LSTMKit

/// The four example programs of the issue, as end-to-end learning tests with fixed seeds, on both devices.
/// Each asserts a quality bar that an untrained or broken model cannot reach; each prints its final figures.
final class ExampleModelsTests: XCTestCase {
    /// Text classification with Embedding(maskZero) + LSTM + softmax: a sentence of 3-8 words (ids 1-20,
    /// right-padded with 0 to 8) is positive when it has more words from 1-5 than from 6-10.
    func testTextClassification() throws {
        var g = SeededGenerator(seed: 1)
        var ids: [Float] = [], labels: [Float] = []
        while labels.count < 600 {
            let n = Int.random(in: 3...8, using: &g)
            let words = (0..<n).map { _ in Int.random(in: 1...20, using: &g) }
            let pos = words.filter { $0 <= 5 }.count, neg = words.filter { $0 >= 6 && $0 <= 10 }.count
            if pos == neg { continue }
            ids += words.map(Float.init) + Array(repeating: 0, count: 8 - n)
            labels.append(pos > neg ? 1 : 0)
        }
        let x = try DataArray(shape: [600, 8], values: ids), y = DataArray(labels)
        try onBothDevices { device in
            let model = Sequential([Embedding(inputDim: 21, outputDim: 8, maskZero: true), LSTMLayer(units: 16),
                                    Dense(units: 2, activation: .softmax)], device: device, seed: 2)
            try model.compile(optimizer: Adam(learningRate: 0.01), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
            let history = try model.fit(x: x, y: y, epochs: 15, batchSize: 32, validationSplit: 0.2, verbose: 0)
            let last = history.epochs.last!
            print("example text classification on \(device): loss \(last["loss"]!), val_loss \(last["val_loss"]!), val_accuracy \(last["val_accuracy"]!)")
            XCTAssertGreaterThan(last["val_accuracy"]!, 0.9, "\(device)")
        }
    }

    /// Next-value prediction, as the PyTorch time-series example: from 10 values of a sine wave with random
    /// phase and frequency, predict the next one.
    func testNextValuePrediction() throws {
        var g = SeededGenerator(seed: 3)
        var xs: [Float] = [], ys: [Float] = []
        for _ in 0..<400 {
            let phase = Double.random(in: 0..<(2 * .pi), using: &g), freq = Double.random(in: 0.2...0.5, using: &g)
            xs += (0..<10).map { Float(sin(phase + freq * Double($0))) }
            ys.append(Float(sin(phase + freq * 10)))
        }
        let x = try DataArray(shape: [400, 10, 1], values: xs), y = try DataArray(shape: [400, 1], values: ys)
        try onBothDevices { device in
            let model = Sequential([LSTMLayer(units: 16), Dense(units: 1)], device: device, seed: 4)
            try model.compile(optimizer: Adam(learningRate: 0.01), loss: .meanSquaredError, metrics: [.meanAbsoluteError])
            let history = try model.fit(x: x, y: y, epochs: 30, batchSize: 32, validationSplit: 0.2, verbose: 0)
            let last = history.epochs.last!
            print("example next-value prediction on \(device): loss \(last["loss"]!), val_loss \(last["val_loss"]!), val_mae \(last["val_mae"]!)")
            XCTAssertLessThan(last["val_loss"]!, 0.01, "\(device): the variance of the target is 0.5")
        }
    }

    /// Binary classification: is the sum of 10 values in [-1, 1] positive? LSTM + Dense(sigmoid), binary cross-entropy.
    func testBinaryClassification() throws {
        var g = SeededGenerator(seed: 5)
        let xs = (0..<(500 * 10)).map { _ in Float.random(in: -1...1, using: &g) }
        let ys = (0..<500).map { i in xs[(i * 10)..<(i * 10 + 10)].reduce(0, +) > 0 ? Float(1) : 0 }
        let x = try DataArray(shape: [500, 10, 1], values: xs), y = try DataArray(shape: [500, 1], values: ys)
        try onBothDevices { device in
            let model = Sequential([LSTMLayer(units: 8), Dense(units: 1, activation: .sigmoid)], device: device, seed: 6)
            try model.compile(optimizer: Adam(learningRate: 0.02), loss: .binaryCrossentropy(), metrics: [.accuracy])
            let history = try model.fit(x: x, y: y, epochs: 25, batchSize: 32, validationSplit: 0.2, verbose: 0)
            let last = history.epochs.last!
            print("example binary classification on \(device): loss \(last["loss"]!), val_loss \(last["val_loss"]!), val_accuracy \(last["val_accuracy"]!)")
            XCTAssertGreaterThan(last["val_accuracy"]!, 0.9, "\(device)")
        }
    }

    /// Many-to-one regression: the mean of 8 values in [-1, 1] (target variance 1/24 = 0.042).
    func testManyToOneRegression() throws {
        var g = SeededGenerator(seed: 7)
        let xs = (0..<(500 * 8)).map { _ in Float.random(in: -1...1, using: &g) }
        let ys = (0..<500).map { i in xs[(i * 8)..<(i * 8 + 8)].reduce(0, +) / 8 }
        let x = try DataArray(shape: [500, 8, 1], values: xs), y = try DataArray(shape: [500, 1], values: ys)
        try onBothDevices { device in
            let model = Sequential([LSTMLayer(units: 16), Dense(units: 1)], device: device, seed: 8)
            try model.compile(optimizer: Adam(learningRate: 0.01), loss: .meanSquaredError, metrics: [.meanAbsoluteError])
            let history = try model.fit(x: x, y: y, epochs: 30, batchSize: 32, validationSplit: 0.2, verbose: 0)
            let last = history.epochs.last!
            print("example many-to-one regression on \(device): loss \(last["loss"]!), val_loss \(last["val_loss"]!), val_mae \(last["val_mae"]!)")
            XCTAssertLessThan(last["val_loss"]!, 0.002, "\(device): a constant predictor scores 0.042")
        }
    }
}
