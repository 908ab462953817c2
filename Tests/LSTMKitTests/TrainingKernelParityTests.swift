import XCTest
@testable import LSTMKit

/// Every Kernels/training.cl kernel against its CPU twin, on seeded inputs with odd shapes. Elementwise kernels
/// without sums agree to float rounding of exp/log (atol 1e-6 relative to O(1) values); row reductions over
/// <= 37 columns to 1e-5; the optimizer updates to 1e-6 (one fused expression per element), and the squared norms, sums of 300 terms in
/// different orders, to 1e-6 relative.
final class TrainingKernelParityTests: XCTestCase {
    /// Runs `body` on both backends with the same inputs and compares the named outputs.
    func compare(_ what: String, inputs: [[Float]], outputs: [Int], atol: Double, rtol: Double = 0,
                 _ body: (Backend & TrainingBackend, [DeviceBuffer], [DeviceBuffer]) throws -> Void) throws {
        let cl = try openCLDeviceOrSkip().training
        var results: [[[Double]]] = []
        for be in [Device.cpu.training, cl] {
            let ins = try inputs.map { v -> DeviceBuffer in let b = try be.allocate(v.count); try be.write(v, to: BufferView(b)); return b }
            let outs = try outputs.map { n -> DeviceBuffer in let b = try be.allocate(n); try be.fill(BufferView(b), count: n, value: 0.25); return b }
            try body(be, ins, outs)
            results.append(try zip(outs, outputs).map { try be.readDoubles(BufferView($0), count: $1) })
        }
        for i in outputs.indices { assertClose(results[1][i], results[0][i], atol: atol, rtol: rtol, "\(what) output \(i)") }
    }

    func r(_ n: Int, _ seed: UInt64, _ scale: Double = 2) -> [Float] { randomValues(n, seed: seed, scale: scale).map(Float.init) }

    func testElementwiseAndRowKernels() throws {
        let (rows, cols) = (7, 13)
        try compare("add_row_bias", inputs: [r(cols, 1)], outputs: [rows * cols], atol: 1e-6) { be, i, o in
            try be.addRowBias(rows: rows, cols: cols, bias: BufferView(i[0]), y: BufferView(o[0]))
        }
        for act in [Activation.linear, .relu, .tanh, .sigmoid] {
            try compare("activation \(act)", inputs: [r(rows * cols, 2, 6), r(rows * cols, 3)], outputs: [rows * cols, rows * cols], atol: 1e-6) { be, i, o in
                try be.activationForward(act, count: rows * cols, x: BufferView(i[0]), y: BufferView(o[0]))
                try be.activationBackward(act, count: rows * cols, y: BufferView(o[0]), dy: BufferView(i[1]), dx: BufferView(o[1]))
            }
        }
        try compare("softmax", inputs: [r(rows * cols, 4, 8), r(rows * cols, 5)], outputs: [rows * cols, rows * cols], atol: 1e-6) { be, i, o in
            try be.softmaxRows(rows: rows, cols: cols, x: BufferView(i[0]), y: BufferView(o[0]))
            try be.softmaxBackwardRows(rows: rows, cols: cols, y: BufferView(o[0]), dy: BufferView(i[1]), dx: BufferView(o[1]))
        }
        let probabilities = r(rows * cols, 6, 0.49).map { $0 + 0.5 }
        let binaryTargets = r(rows * cols, 7).map { $0 > 0 ? Float(1) : 0 }
        let classIds = (0..<rows).map { Float($0 % cols) }
        for kind in [LossKernel.mse, .bceProbabilities, .bceLogits, .cceProbabilities, .cceLogits, .sparseProbabilities, .sparseLogits] {
            let sparse = kind == .sparseProbabilities || kind == .sparseLogits
            let usesProbabilities = [.bceProbabilities, .cceProbabilities, .sparseProbabilities].contains(kind)
            let pred = usesProbabilities ? probabilities : r(rows * cols, 8, 5)
            try compare("loss \(kind)", inputs: [pred, sparse ? classIds : binaryTargets], outputs: [rows, rows * cols], atol: 1e-5) { be, i, o in
                try be.lossRows(kind, rows: rows, cols: cols, pred: BufferView(i[0]), target: BufferView(i[1]), scale: 0.1,
                                rowLoss: o[0], grad: BufferView(o[1]))
            }
        }
        // Enough rows that the CPU twin splits them over the cores (rows * cols >= 4096).
        let (bigRows, bigCols) = (331, 29)
        try compare("loss mse, \(bigRows) rows", inputs: [r(bigRows * bigCols, 17, 3), r(bigRows * bigCols, 18)],
                    outputs: [bigRows, bigRows * bigCols], atol: 1e-5, rtol: 1e-6) { be, i, o in  // row losses ~150
            try be.lossRows(.mse, rows: bigRows, cols: bigCols, pred: BufferView(i[0]), target: BufferView(i[1]), scale: 0.1,
                            rowLoss: o[0], grad: BufferView(o[1]))
        }
        for kind in [MetricKernel.categoricalAccuracy, .sparseAccuracy, .binaryMatches, .absoluteErrorSum] {
            try compare("metric \(kind)", inputs: [probabilities, kind == .sparseAccuracy ? classIds : binaryTargets], outputs: [rows], atol: 1e-5) { be, i, o in
                try be.metricRows(kind, rows: rows, cols: cols, pred: BufferView(i[0]), target: BufferView(i[1]), out: o[0])
            }
        }
    }

    func testEmbeddingGatherMergeAndUpdates() throws {
        let (n, dim, vocab) = (11, 5, 4)
        let ids = (0..<n).map { Float(($0 * 7) % vocab) }
        try compare("embedding", inputs: [ids, r(vocab * dim, 9), r(n * dim, 10)], outputs: [n * dim, vocab * dim], atol: 1e-6) { be, i, o in
            try be.embeddingForward(count: n, dim: dim, ids: BufferView(i[0]), table: BufferView(i[1]), out: o[0])
            try be.embeddingBackward(count: n, dim: dim, ids: BufferView(i[0]), dOut: i[2], dTable: BufferView(o[1]))
        }
        try compare("gather, axpby, mul, sum_squares", inputs: [r(4 * 6, 11), r(24, 12)], outputs: [3 * 6, 24, 24, 2], atol: 1e-5) { be, i, o in
            try be.gatherRows(count: 3, rowSize: 6, indices: try be.allocateIndices([3, 0, 2]), src: i[0], dst: o[0])
            try be.axpby(count: 24, a: 0.5, x: BufferView(i[0]), b: -2, y: BufferView(o[1]))
            try be.mul(count: 24, x: BufferView(i[0]), y: BufferView(i[1]), out: BufferView(o[2]))
            try be.sumSquares(count: 24, x: BufferView(i[0]), out: o[3], index: 1)
        }
        for mode in 1...3 {
            try compare("merge mode \(mode)", inputs: [r(5 * 2 * 3, 13), r(5 * 3, 14)], outputs: [5 * 3, 5 * 2 * 3], atol: 1e-6) { be, i, o in
                try be.mergeDirections(mode: mode, rows: 5, hidden: 3, y: i[0], out: o[0])
                try be.mergeDirectionsBackward(mode: mode, rows: 5, hidden: 3, y: i[0], dOut: i[1], dY: o[1])
            }
        }
        // 300: more than one sum_squares work-group; 40 003: the CPU twins split it over the cores (>= 32 768).
        // The squared norm of 40 003 terms, summed in another order by each device, differs by ~sqrt(n) * eps32
        // = 2.4e-5 relative (9e-6 seen), and the norm clipping carries that into every update: rtol 5e-5 there.
        for (count, rtol) in [(300, 1e-6), (40_003, 5e-5)] {
        try compare("optimizer updates (\(count))", inputs: [r(count, 15), r(count, 16)], outputs: [count, count, count, count, count, 2], atol: 1e-6, rtol: rtol) { be, i, o in
            try be.sumSquares(count: count, x: BufferView(i[1]), out: o[5], index: 0)
            try be.sumSquares(count: count, x: BufferView(i[0]), out: o[5], index: 1)
            let clip = GradientClip(value: 0.7, maxNorm: 3, norms: o[5], normCount: 2)
            try be.copy(BufferView(i[0]), to: BufferView(o[0]), count: count)
            try be.sgdUpdate(count: count, p: o[0], grad: i[1], velocity: o[1], lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01, clip: clip)
            try be.sgdUpdate(count: count, p: o[0], grad: i[1], velocity: o[1], lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01, clip: clip)
            try be.adamUpdate(count: count, p: o[0], grad: i[1], m: o[2], v: o[3], lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8,
                              weightDecay: 0.1, decoupled: true, stepSize: 0.1, biasCorrection2Sqrt: 0.0447, clip: clip)
            try be.rmspropUpdate(count: count, p: o[0], grad: i[1], squareAvg: o[4], lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, clip: GradientClip())
        }
        }
    }
}
