import Foundation
import XCTest
@testable import LSTMKit

/// Issue 15 item 2: what rotating a left-padded batch to right-aligned (`RecurrentLayer+Masking`, a row gather in
/// and out, forward and backward) costs against the same batch right-padded, per training step (forward, loss,
/// backward, Adam). Prints the medians; asserts only that both paddings give the same loss (timings are never asserted).
/// Run in release for figures: `swift test -c release -Xswiftc -enable-testing --filter LeftPaddingCostTests`.
final class LeftPaddingCostTests: XCTestCase {
    struct Shape { let vocabulary, embedding, hidden, batch, steps: Int }
    static let shapes = [Shape(vocabulary: 50, embedding: 64, hidden: 64, batch: 64, steps: 100),
                         Shape(vocabulary: 50, embedding: 128, hidden: 256, batch: 64, steps: 200)]

    func testLeftPaddingRotationCost() throws {
        var devices: [Device] = [.cpu]
        if !Device.openCLDevices().isEmpty { devices.append(try openCLDeviceOrSkip()) }
        // Unset: one timed step of the small shape (the suite checks left = right; the figures need repeats).
        let repeats = Int(ProcessInfo.processInfo.environment["LSTMKIT_PAD_REPEATS"] ?? "")
        for device in devices {
            for s in repeats == nil ? [Self.shapes[0]] : Self.shapes { try measure(s, device: device, repeats: max(repeats ?? 1, 1)) }
        }
    }

    private func measure(_ s: Shape, device: Device, repeats: Int) throws {
        // Lengths T/2...T; the same ids padded with 0 on the left or on the right.
        var generator = SeededGenerator(seed: 7)
        var left = [Float](repeating: 0, count: s.batch * s.steps), right = left, targets: [Float] = [], lengths: [Int] = []
        for b in 0..<s.batch {
            let length = Int.random(in: (s.steps / 2)...s.steps, using: &generator)
            lengths.append(length)
            for j in 0..<length {
                let id = Float(Int.random(in: 1..<s.vocabulary, using: &generator))
                left[b * s.steps + s.steps - length + j] = id
                right[b * s.steps + j] = id
            }
            targets.append(Float(Int.random(in: 0..<10, using: &generator)))
        }
        let y = try DataArray(shape: [s.batch], values: targets)
        func model() throws -> Sequential {
            let m = Sequential([Embedding(inputDim: s.vocabulary, outputDim: s.embedding, maskZero: true), LSTMLayer(units: s.hidden),
                                Dense(units: 10, activation: .softmax)], device: device, seed: 3)
            try m.build(inputShape: [s.steps])
            m.compile(optimizer: try Adam(learningRate: 1e-3), loss: .sparseCategoricalCrossentropy())
            return m
        }
        let (ml, mr) = (try model(), try model())
        let (xl, xr) = (try DataArray(shape: [s.batch, s.steps], values: left), try DataArray(shape: [s.batch, s.steps], values: right))
        let first = (try ml.trainOnBatch(x: xl, y: y)["loss"]!, try mr.trainOnBatch(x: xr, y: y)["loss"]!)
        try device.synchronize()
        XCTAssertEqual(first.0, first.1, accuracy: 1e-4, "left and right padding give the same loss")
        var tl: [Double] = [], tr: [Double] = []
        for i in 0..<(repeats * 4) {  // interleaved, so that a change of load hits both
            let t0 = Date()
            _ = try (i % 2 == 0 ? ml : mr).trainOnBatch(x: i % 2 == 0 ? xl : xr, y: y)
            try device.synchronize()  // every queued kernel of this step is done before the clock stops
            (i % 2 == 0 ? { tl.append($0) } : { tr.append($0) })(Date().timeIntervalSince(t0))
        }
        let median = { (v: [Double]) in v.sorted()[v.count / 2] }
        let (l, r) = (median(tl), median(tr))
        // The rotation alone, as a return-sequences layer does it (gather in, gather out, and both back): an upper
        // bound of what the step above spends on it (its LSTM returns the last step only, so it skips the output pair).
        let layer = LSTMLayer(units: s.hidden, returnSequences: true)
        var input = MaskedTensor(try Tensor.zeros([s.batch, s.steps, s.embedding], device: device), lengths: lengths)
        input.starts = lengths.map { s.steps - $0 }
        let output = try Tensor.zeros([s.batch, s.steps, s.hidden], device: device)
        var tg: [Double] = []
        for _ in 0..<(repeats * 4 + 1) {
            let t0 = Date()
            let (_, tape) = try layer.prepareInput(input, training: true)
            _ = try layer.restoreOutput(output, tape)
            _ = try layer.restoreOutputBackward(output, tape)
            _ = try layer.prepareInputBackward(input.tensor, tape)
            try device.synchronize()
            tg.append(Date().timeIntervalSince(t0))
        }
        let g = median(Array(tg.dropFirst()))
        print(String(format: "left-padding cost %@ Embedding(%d) -> LSTM(%d) B %d T %d: right-padded %.2f ms, left-padded %.2f ms a step (median of %d), "
                     + "difference %+.1f%%; the four rotation gathers alone %.2f ms = %.1f%% of the right-padded step; load %@",
                     device.description, s.embedding, s.hidden, s.batch, s.steps, r * 1e3, l * 1e3, tl.count, 100 * (l - r) / r, g * 1e3, 100 * g / r, (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"))
    }
}
