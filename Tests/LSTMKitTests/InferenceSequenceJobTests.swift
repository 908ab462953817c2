import XCTest
@testable @_spi(Benchmark) import LSTMKit

/// The CPU's whole-sequence inference job (`lstmInferSequence`: each thread runs all steps of its rows) gives the
/// bits of the step-by-step loop and of the training forward, with the rows split over the threads (B·4H·H
/// above `LSTMKIT_CPU_GEMM_SPLIT_MIN`), variable lengths, both directions, peepholes and clipping.
final class InferenceSequenceJobTests: XCTestCase {
    func testSequenceJobIsTheStepLoopAndTheTrainingForwardBitForBit() throws {
        let (T, B, I, H) = (9, 17, 24, 128)
        XCTAssertGreaterThanOrEqual(B * 4 * H * H, CPUKernels.gemmSplitMinimum, "the job must be split over threads")
        let lstm = try LSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, peephole: true, cellClip: 0.8,
                            device: .cpu, seed: 5)
        lstm.training = false
        let x = try Tensor(shape: [T, B, I], values: randomValues(T * B * I, seed: 8).map { Float($0) }, device: .cpu)
        let lengths = (0..<B).map { 1 + ($0 * 7) % T }
        let job = try LSTMInference.forward(lstm, x, lengths: lengths, lastOnly: false)
        InferenceHooks.sequenceJob = false
        defer { InferenceHooks.sequenceJob = true }
        let steps = try LSTMInference.forward(lstm, x, lengths: lengths, lastOnly: false)
        let (y, (h, c)) = try lstm.forward(x, lengths: lengths)
        for (name, a, b, t) in [("output", job.output!, steps.output!, y), ("h_n", job.h, steps.h, h), ("c_n", job.c, steps.c, c)] {
            XCTAssertEqual(try a.toArray(), try b.toArray(), "\(name): job against steps")
            XCTAssertEqual(try a.toArray(), try t.toArray(), "\(name): job against the training forward")
        }
    }
}
