import XCTest
@testable import LSTMCLI
@testable import LSTMKit

/// `lstm train frames`: the bouncing-digit clips and the seed model (TimeDistributed Conv2D + MaxPooling2D + Flatten,
/// LSTM, Dense softmax) learning them through the public API on both devices.
final class FramesTaskTests: XCTestCase {
    /// The label of every clip agrees with the motion measured from the pixels: the top-left corner of the nonzero
    /// pixels' bounding box in the last two frames (the digit's own blank rows or columns move with it).
    func testClipLabelsMatchTheMotionInThePixels() throws {
        let (T, S) = (5, 13)
        let (x, y) = try BouncingDigits.make(count: 200, frames: T, canvas: S, seed: 7)
        XCTAssertEqual(x.shape, [200, T, S, S, 1])
        func corner(_ clip: Int, _ t: Int) -> (Int, Int) {
            var (r0, c0) = (S, S)
            for r in 0..<S { for c in 0..<S where x.values[((clip * T + t) * S + r) * S + c] > 0 { r0 = min(r0, r); c0 = min(c0, c) } }
            return (r0, c0)
        }
        var counts = [0, 0, 0, 0]
        for i in 0..<200 {
            let (a, b) = (corner(i, T - 2), corner(i, T - 1))
            XCTAssertEqual(abs(b.0 - a.0), 1, "clip \(i): the digit moves one row per frame")
            XCTAssertEqual(abs(b.1 - a.1), 1, "clip \(i): the digit moves one column per frame")
            XCTAssertEqual(Int(y.values[i]), (b.1 > a.1 ? 2 : 0) + (b.0 > a.0 ? 1 : 0), "clip \(i)")
            counts[Int(y.values[i])] += 1
        }
        XCTAssertTrue(counts.allSatisfy { $0 >= 30 }, "every class is common: \(counts)")
        XCTAssertEqual(try BouncingDigits.lastFrames(x).shape, [200, S, S, 1])
    }

    /// The seed model learns the task on both devices (fixed seeds, 4 epochs, a small canvas: seconds on the CPU), well
    /// above the single-frame CNN, which cannot see the direction (it only learns the walls: a digit at a wall has just
    /// arrived there). Thresholds: 0.8 for the sequence model (it reaches ~0.95 here); the baseline stays below 0.6.
    func testSeedModelLearnsOnBothDevices() throws {
        var s = FramesTask.Settings()
        s.clips = 480; s.frames = 4; s.canvas = 12; s.filters = 4; s.hidden = 16; s.epochs = 4; s.batchSize = 16; s.seed = 3
        try onBothDevices { device in
            let r = try FramesTask.run(s, device: device)
            print(String(format: "frames task on \(device): test accuracy CNN+LSTM %.3f, single-frame CNN %.3f (majority %.3f, %d test clips)",
                         r.accuracy, r.baselineAccuracy, r.majority, r.testSamples))
            XCTAssertGreaterThan(r.accuracy, 0.8, "CNN+LSTM on \(device)")
            XCTAssertLessThan(r.baselineAccuracy, 0.6, "single-frame CNN on \(device)")
        }
    }
}

/// The README's "Image sequences" example, as written there (the device: the CPU here, to keep it short).
final class FramesReadmeExampleTests: XCTestCase {
    func testReadmeExampleRuns() throws {
        let (imgHeight, imgWidth, channels, hiddenUnits, numClasses) = (14, 14, 1, 32, 4)
        let model = Sequential(device: Device.cpu)
        try model.add(TimeDistributed(Conv2D(filters: 32, kernelSize: (3, 3), activation: .relu)))  // input [N, T, H, W, C]
        try model.add(TimeDistributed(MaxPooling2D(poolSize: (2, 2))))
        try model.add(TimeDistributed(Flatten()))
        try model.add(LSTMLayer(units: hiddenUnits))
        try model.add(Dense(units: numClasses, activation: .softmax))
        try model.compile(optimizer: Adam(), loss: .categoricalCrossentropy(), metrics: [.accuracy])
        try model.build(inputShape: [6, imgHeight, imgWidth, channels])  // Keras's input_shape=(None, h, w, c), with T = 6
        let (clips, labels) = try BouncingDigits.make(count: 256, frames: 6, canvas: imgHeight, seed: 1)  // LSTMCLI; any [N, T, H, W, C] DataArray
        let oneHot = try DataArray(shape: [256, numClasses], values: labels.values.flatMap { c in (0..<numClasses).map { Float($0 == Int(c) ? 1 : 0) } })
        let history = try model.fit(x: clips, y: oneHot, epochs: 2, batchSize: 32, verbose: 0)
        XCTAssertEqual(model.outputShape, [numClasses])
        XCTAssertEqual(model.namedParameters.map(\.name), ["0.weight", "0.bias", "3.weight_ih_l0", "3.weight_hh_l0", "3.bias_ih_l0", "3.bias_hh_l0", "4.weight", "4.bias"])
        XCTAssertEqual(model.namedParameters[0].tensor.shape, [32, 1, 3, 3])
        // Two epochs of Adam lower the loss from chance level (ln 4 = 1.386).
        XCTAssertLessThan(history.epochs.last!["loss"]!, history.epochs.first!["loss"]!)
    }
}

/// `lstm train frames` through the command line, in-process.
final class FramesCLITests: CLITestCase {
    func testTrainFramesRunsAndRefusesBadSizes() throws {
        expectSuccess(["train", "frames", "--device", "cpu", "--verbose", "0", "--clips", "64", "--frames", "3", "--canvas", "10",
                       "--filters", "2", "--hidden", "4", "--epochs", "1"])
        expectFailure(["train", "frames", "--device", "cpu", "--frames", "1"], "--frames must be at least 2")
        expectFailure(["train", "frames", "--device", "cpu", "--canvas", "9"], "--canvas must be in 10...256")
        expectFailure(["train", "frames", "--device", "cpu", "--clips", "0"], "--clips must be at least 1")
        expectFailure(["train", "frames", "--device", "cpu", "--clips", "100000", "--frames", "100", "--canvas", "256"], "more than 2^30 pixels")
    }
}
