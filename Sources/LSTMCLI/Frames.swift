import ArgumentParser
import Foundation
import LSTMKit

/// Moving-digit clips made from the shipped 8x8 digits (Sources/LSTMKitData/digits_8x8.csv, CC BY 4.0), as Moving
/// MNIST: one digit moves one pixel per frame along each axis over a blank square canvas and bounces off its
/// walls. The label is the direction of the last move (left/right x up/down, 4 classes): no single frame holds it
/// (a frame shows where the digit is, not where it came from), except that a digit touching a wall must have
/// just arrived there (the single-frame baseline gets those).
public enum BouncingDigits {
    /// Class names, by class id: (moved right ? 2 : 0) + (moved down ? 1 : 0).
    public static let classes = ["left-up", "left-down", "right-up", "right-down"]
    public static let digitSize = 8

    /// The 1797 shipped digits, 64 pixels each scaled to [0, 1].
    public static func digits() throws -> [[Float]] {
        let text = try ShippedData.string("digits_8x8.csv")
        return try text.split(separator: "\n").enumerated().map { line, row in
            let values = row.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == 65 else { throw CLIError("digits_8x8.csv line \(line + 1): \(values.count) numbers, expected 65") }
            return values.prefix(64).map { $0 / 16 }
        }
    }

    /// `count` clips: x `[count, frames, canvas, canvas, 1]` (channels-last frames), y `[count]` class ids.
    public static func make(count: Int, frames: Int, canvas: Int, seed: UInt64) throws -> (x: DataArray, y: DataArray) {
        guard count >= 1 else { throw CLIError("--clips must be at least 1 (got \(count))") }
        guard frames >= 2 else { throw CLIError("--frames must be at least 2 (got \(frames)): the label is a move between frames") }
        guard canvas >= digitSize + 2, canvas <= 256 else { throw CLIError("--canvas must be in \(digitSize + 2)...256 (got \(canvas))") }
        guard let total = [count, frames, canvas, canvas].reduce(Optional(1), { a, b in a.flatMap { $0.multipliedReportingOverflow(by: b).overflow ? nil : $0 * b } }),
              total <= 1 << 30 else {
            throw CLIError("--clips \(count) x --frames \(frames) x --canvas \(canvas)^2 is more than 2^30 pixels: use fewer clips or frames")
        }
        let images = try digits()
        var rng = SeededGeneratorCLI(seed: seed)
        let span = canvas - digitSize  // positions 0...span
        var x = [Float](repeating: 0, count: total), y: [Float] = []
        for clip in 0..<count {
            let image = images[Int(rng.next() % UInt64(images.count))]
            var px = Int(rng.next() % UInt64(span + 1)), py = Int(rng.next() % UInt64(span + 1))
            var vx = rng.next() % 2 == 0 ? -1 : 1, vy = rng.next() % 2 == 0 ? -1 : 1
            var last = (dx: 0, dy: 0)
            for t in 0..<frames {
                if t > 0 {
                    let (ox, oy) = (px, py)
                    px += vx; py += vy
                    if px < 0 || px > span { vx = -vx; px += 2 * vx }
                    if py < 0 || py > span { vy = -vy; py += 2 * vy }
                    last = (px - ox, py - oy)
                }
                let base = (clip * frames + t) * canvas * canvas
                for r in 0..<digitSize { for c in 0..<digitSize { x[base + (py + r) * canvas + px + c] = image[r * digitSize + c] } }
            }
            y.append(Float((last.dx > 0 ? 2 : 0) + (last.dy > 0 ? 1 : 0)))
        }
        return (try DataArray(shape: [count, frames, canvas, canvas, 1], values: x), DataArray(y))
    }

    /// The last frame of every clip: `[count, canvas, canvas, 1]` (the single-frame baseline's input).
    public static func lastFrames(_ x: DataArray) throws -> DataArray {
        let (n, t) = (x.shape[0], x.shape[1]), frame = x.sampleSize / t
        var out: [Float] = []
        out.reserveCapacity(n * frame)
        for i in 0..<n { out += x.values[((i * t + t - 1) * frame)..<((i * t + t) * frame)] }
        return try DataArray(shape: [n] + x.shape.dropFirst(2), values: out)
    }
}

/// xorshift64*: the clips' random numbers (the same on every platform, so a seed names one data set).
struct SeededGeneratorCLI {
    private var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

/// The frames task: the Keras image-sequence model (TimeDistributed Conv2D + MaxPooling2D + Flatten, LSTM, Dense
/// softmax) against the same CNN on the last frame only.
public enum FramesTask {
    public struct Settings: Sendable {
        public var clips = 1200, frames = 6, canvas = 14, filters = 8, hidden = 32, epochs = 6, batchSize = 32
        public var learningRate = 0.005
        public var testFraction = 0.25
        public var seed: UInt64 = 1
        public init() {}
    }
    public struct Result: Sendable {
        /// Test accuracy of the CNN + LSTM and of the single-frame CNN, and the class share of the test set's most common class.
        public var accuracy: Double, baselineAccuracy: Double, majority: Double
        public var trainSamples: Int, testSamples: Int
    }

    /// The model of the README's Keras example, with these sizes.
    public static func model(_ s: Settings, device: Device) -> Sequential {
        Sequential([TimeDistributed(Conv2D(filters: s.filters, kernelSize: (3, 3), activation: .relu)),
                    TimeDistributed(MaxPooling2D(poolSize: (2, 2))),
                    TimeDistributed(Flatten()),
                    LSTMLayer(units: s.hidden),
                    Dense(units: BouncingDigits.classes.count, activation: .softmax)], device: device, seed: s.seed)
    }
    /// The same CNN on one frame; a Dense(hidden, tanh) stands where the LSTM was.
    public static func baseline(_ s: Settings, device: Device) -> Sequential {
        Sequential([Conv2D(filters: s.filters, kernelSize: (3, 3), activation: .relu), MaxPooling2D(poolSize: (2, 2)), Flatten(),
                    Dense(units: s.hidden, activation: .tanh),
                    Dense(units: BouncingDigits.classes.count, activation: .softmax)], device: device, seed: s.seed)
    }

    public static func run(_ s: Settings, device: Device, verbose: Int = 0) throws -> Result {
        guard s.epochs >= 1, s.batchSize >= 1, s.filters >= 1, s.hidden >= 1, s.learningRate > 0, s.testFraction > 0, s.testFraction < 1 else {
            throw CLIError("--epochs, --batch-size, --filters, --hidden must be at least 1 and --lr positive")
        }
        let (x, y) = try BouncingDigits.make(count: s.clips, frames: s.frames, canvas: s.canvas, seed: s.seed)
        let testCount = max(1, Int(Double(s.clips) * s.testFraction)), trainCount = s.clips - testCount
        guard trainCount >= 1 else { throw CLIError("--clips \(s.clips) leaves no training clip") }
        let (xTrain, yTrain) = (x.rows(0..<trainCount), y.rows(0..<trainCount))
        let (xTest, yTest) = (x.rows(trainCount..<s.clips), y.rows(trainCount..<s.clips))
        func fit(_ model: Sequential, _ xt: DataArray, _ xv: DataArray) throws -> Double {
            try model.compile(optimizer: Adam(learningRate: s.learningRate), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
            try model.fit(x: xt, y: yTrain, epochs: s.epochs, batchSize: s.batchSize, seed: s.seed, verbose: verbose)
            return try model.evaluate(x: xv, y: yTest, batchSize: 64)["accuracy"]!
        }
        let accuracy = try fit(model(s, device: device), x.rows(0..<trainCount), xTest)
        let baselineAccuracy = try fit(baseline(s, device: device), try BouncingDigits.lastFrames(xTrain), try BouncingDigits.lastFrames(xTest))
        var counts = [Int](repeating: 0, count: BouncingDigits.classes.count)
        for v in yTest.values { counts[Int(v)] += 1 }
        return Result(accuracy: accuracy, baselineAccuracy: baselineAccuracy, majority: Double(counts.max()!) / Double(testCount),
                      trainSamples: trainCount, testSamples: testCount)
    }
}

struct TrainFramesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frames",
        abstract: "Image sequences: TimeDistributed(Conv2D) + MaxPooling2D + Flatten + LSTM on bouncing-digit clips; prints the test accuracy next to the same CNN on one frame.",
        discussion: "Clips are made from the shipped 8x8 digits (UCI / scikit-learn, CC BY 4.0). The label, the direction of the "
            + "digit's last move, needs two frames; the single-frame baseline sees only the last one."
    )
    @OptionGroup var deviceOption: DeviceOption
    @Option(help: "Clips to generate (the last quarter is the test set).") var clips: Int = 1200
    @Option(help: "Frames per clip.") var frames: Int = 6
    @Option(help: "Canvas height and width in pixels (the digit is 8x8).") var canvas: Int = 14
    @Option(help: "Conv2D filters.") var filters: Int = 8
    @Option(help: "LSTM units (the baseline's Dense units).") var hidden: Int = 32
    @Option(help: "Passes over the training clips.") var epochs: Int = 6
    @Option(help: "Clips per training step.") var batchSize: Int = 32
    @Option(help: "Adam's learning rate.") var lr: Double = 0.005
    @Option(help: "Seed of the clips, the weights and the shuffling.") var seed: UInt64 = 1
    @Option(help: "0 silent, 1 progress, 2 one line per epoch.") var verbose: Int = 2

    mutating func run() throws {
        var s = FramesTask.Settings()
        s.clips = clips; s.frames = frames; s.canvas = canvas; s.filters = filters; s.hidden = hidden
        s.epochs = epochs; s.batchSize = batchSize; s.learningRate = lr; s.seed = seed
        let device = try deviceOption.resolve()
        print("Bouncing digits on \(device): \(clips) clips of \(frames) frames \(canvas)x\(canvas)x1, 4 classes (direction of the last move)")
        let r = try FramesTask.run(s, device: device, verbose: verbose)
        print(String(format: "Test accuracy (%d clips): CNN+LSTM %.3f, single-frame CNN %.3f (most common class %.3f)",
                     r.testSamples, r.accuracy, r.baselineAccuracy, r.majority))
    }
}
