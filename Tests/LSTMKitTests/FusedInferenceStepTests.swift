import XCTest
@testable import LSTMKit

/// The fused inference step (Kernels/inference.cl `lstm_step_infer`: the recurrent product and the cell in one launch,
/// `OpenCLTuning.fusedStep`, on CPU-type OpenCL devices; docs/decisions/0029-pocl-fused-inference-step.md).
///
/// No tolerance between the fused step and the two-kernel step (gemm_NN + lstm_cell_infer) on the same device: each
/// sum is the NN gemm's fma chain over k from 0, and the cell is lstm_cell_infer's arithmetic, so the bits are the
/// same, and so are the training forward's (InferencePathTests' promise). Against the CPU path: 1e-5, as
/// PoCLForwardTests. The CPU twin (plain loops) against the OpenCL kernel: 1e-5 (native_exp against libm exp).
final class FusedInferenceStepTests: XCTestCase {

    func testFusedStepIsACPUDeviceDefaultWithinOneKChunk() {
        let cpu = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: false, width: 16), store: nil, environment: [:])
        XCTAssertTrue(cpu.fusedStep)
        XCTAssertTrue(cpu.fusesStep(hidden: 1))
        XCTAssertTrue(cpu.fusesStep(hidden: cpu.fusedStepMaxHidden))
        XCTAssertFalse(cpu.fusesStep(hidden: cpu.fusedStepMaxHidden + 1), "above the measured win: the pair")
        var chunked = cpu
        chunked.gemmKChunk = 64
        XCTAssertTrue(chunked.fusesStep(hidden: 64))
        XCTAssertFalse(chunked.fusesStep(hidden: 65), "K in chunks: the gemm's sums are not one chain")
        XCTAssertFalse(OpenCLTuning.forDevice(openCLDeviceInfo(gpu: true, width: 16), store: nil, environment: [:]).fusedStep)
        XCTAssertEqual(cpu.defines["FUSED_STEP"], "\(cpu.fusedStepMaxHidden)", "reported with the tuning (lstm-bench)")
        var off = cpu
        off.fusedStep = false
        XCTAssertFalse(off.fusesStep(hidden: 1))
        XCTAssertEqual(off.defines["FUSED_STEP"], "0")
        // One row block of a column panel per work-group at most `stepGroup`, a power of two.
        XCTAssertEqual(cpu.stepGroupRows(rowBlocks: 1), 1)
        XCTAssertEqual(cpu.stepGroupRows(rowBlocks: 6), 4)
        XCTAssertEqual(cpu.stepGroupRows(rowBlocks: 1000), cpu.stepGroup)
    }

    /// Layers, both directions, peepholes, clipping, variable lengths (rows past their length: h carried to the other
    /// buffer), H with and without a tail of units (H % 16), B with and without a partial row block (B % 8).
    func testFusedStepGivesTheTwoKernelStepBits() throws {
        let base = try openCLDeviceOrSkip()
        // No persistent training forward (a GPU profile's, as on Oclgrind): the per-step forward the bits are promised for.
        let fused = tunedDevice(base) { $0.fusedStep = true; $0.persistentMaxBatch = 0 }
        let pair = tunedDevice(base) { $0.fusedStep = false; $0.persistentMaxBatch = 0 }
        let shapes: [(T: Int, B: Int, I: Int, H: Int, peephole: Bool, clip: Double?)] = [
            (6, 5, 7, 19, true, 0.9), (9, 11, 40, 37, false, nil), (5, 16, 8, 32, false, nil), (4, 17, 3, 48, true, nil), (3, 1, 2, 1, false, 0.5),
        ]
        for (n, s) in shapes.enumerated() {
            let values = randomValues(s.T * s.B * s.I, seed: UInt64(290 + n)).map { Float($0) }
            let lengths = (0..<s.B).map { b in b % 3 == 1 ? max(1, s.T - 1 - b % s.T) : s.T }
            var outputs: [[Float]] = []
            for d in [fused, pair, Device.cpu] {
                let lstm = try LSTM(inputSize: s.I, hiddenSize: s.H, numLayers: 2, batchFirst: false, bidirectional: true,
                                    peephole: s.peephole, cellClip: s.clip, device: d, seed: 29)
                lstm.training = false
                let x = try Tensor(shape: [s.T, s.B, s.I], values: values, device: d)
                let cl = d.backend as? OpenCLBackend
                try cl?.setProfiling(true)
                let inference = try LSTMInference.forward(lstm, x, lengths: lengths, lastOnly: false)
                let out = try inference.output!.toArray() + inference.h.toArray() + inference.c.toArray()
                if let cl {
                    let labels = Set(try cl.takeProfile().map(\.label))
                    try cl.setProfiling(false)
                    XCTAssertEqual(labels.contains("lstm_step_infer"), d === fused, "shape \(n): which step ran: \(labels.sorted())")
                    XCTAssertEqual(labels.contains("lstm_cell_infer"), d === pair, "shape \(n): which step ran: \(labels.sorted())")
                }
                if d === fused {
                    let (y, (h, c)) = try lstm.forward(x, lengths: lengths)
                    XCTAssertEqual(out, try y.toArray() + h.toArray() + c.toArray(), "shape \(n): the training forward's bits")
                }
                outputs.append(out)
            }
            XCTAssertEqual(outputs[0], outputs[1], "shape \(n): fused step against gemm_NN + lstm_cell_infer")
            assertClose(outputs[0].map(Double.init), outputs[2].map(Double.init), atol: 1e-5, rtol: 0, "shape \(n): against the CPU path")
        }
    }

    /// One launch of the kernel and of its CPU twin on the same inputs (a row past its length, the reverse direction,
    /// offsets on every view), and the twin against the CPU's gemm + lstm_cell_infer in Float64.
    func testCPUTwinMatchesTheKernelAndTheTwoKernelStep() throws {
        let cl = try openCLDeviceOrSkip().backend as! OpenCLBackend
        let (B, H, T, step) = (10, 21, 4, 2), G = 4 * H
        let lengths = (0..<B).map { Int32($0 == 3 ? 2 : ($0 % 2 == 0 ? 4 : 3)) }
        let gx = randomValues(T * B * G, seed: 1), w = randomValues(H * G, seed: 2), bias = randomValues(2 * G + 1, seed: 3)
        let h0 = randomValues(B * H + 2, seed: 4), c0 = randomValues(B * H + 2, seed: 5), peep = randomValues(3 * H + 3, seed: 6)
        let ldy = 2 * H + 1
        func run<Bk: Backend & InferenceBackend>(_ be: Bk, twoKernels: Bool) throws -> [Double] {
            func buffer(_ v: [Double]) throws -> DeviceBuffer {
                let b = try be.allocate(v.count)
                try be.write(v.map(Float.init), to: BufferView(b))
                return b
            }
            let g = try buffer(gx), wt = try buffer([0, 0] + w), bs = try buffer(bias), pp = try buffer(peep)
            let h = try buffer(h0), c = try buffer(c0), hOut = try buffer([Double](repeating: -9, count: B * H + 2))
            let y = try buffer([Double](repeating: -8, count: T * B * ldy + 1))
            let lens = try be.allocateIndices(lengths)
            if twoKernels {
                let r = try be.allocate(B * G)
                try be.gemm(transA: false, transB: false, m: B, n: G, k: H, alpha: 1, a: BufferView(h, 2), lda: H,
                            b: BufferView(wt, 2), ldb: G, beta: 0, c: BufferView(r), ldc: G)
                try be.copy(BufferView(h, 2), to: BufferView(hOut, 2), count: B * H)
                try be.lstmCellInfer(batch: B, hidden: H, steps: T, step: step, reverse: true, lengths: lens, gx: BufferView(g),
                                     r: BufferView(r), biasIH: BufferView(bs, 1), biasHH: BufferView(bs, 1 + G),
                                     h: BufferView(hOut, 2), c: BufferView(c, 2), y: BufferView(y, 1), ldy: ldy, cellClip: 0.8,
                                     peephole: BufferView(pp, 3))
            } else {
                try be.lstmStepInfer(batch: B, hidden: H, steps: T, step: step, reverse: true, lengths: lens, gx: BufferView(g),
                                     whhT: BufferView(wt, 2), biasIH: BufferView(bs, 1), biasHH: BufferView(bs, 1 + G),
                                     hIn: BufferView(h, 2), hOut: BufferView(hOut, 2), c: BufferView(c, 2), y: BufferView(y, 1),
                                     ldy: ldy, cellClip: 0.8, peephole: BufferView(pp, 3))
            }
            return try be.readDoubles(BufferView(hOut), count: B * H + 2) + be.readDoubles(BufferView(c), count: B * H + 2)
                + be.readDoubles(BufferView(y), count: T * B * ldy + 1) + be.readDoubles(BufferView(h), count: B * H + 2)
        }
        let kernel = try run(cl, twoKernels: false)
        let twin = try run(Device.cpu.backend as! CPUBackend<Float>, twoKernels: false)
        assertClose(kernel, twin, atol: 1e-5, rtol: 0, "lstm_step_infer against its CPU twin")
        XCTAssertEqual(kernel, try run(cl, twoKernels: true), "the kernel against gemm_NN + lstm_cell_infer: the same bits")
        let cpu64 = Device.cpuFloat64.backend as! CPUBackend<Double>
        assertClose(try run(cpu64, twoKernels: false), try run(cpu64, twoKernels: true), atol: 1e-12, rtol: 0,
                    "Float64 twin against the CPU's gemm + lstm_cell_infer")
        // Rows past their length keep their state: h copied to hOut, c untouched, no output row at their time.
        let row = 3 * H + 2
        XCTAssertEqual(Array(kernel[row..<(row + H)]), Array(h0[row..<(row + H)]).map { Double(Float($0)) })
        XCTAssertEqual(Array(kernel[(B * H + 2 + row)..<(B * H + 2 + row + H)]), Array(c0[row..<(row + H)]).map { Double(Float($0)) })
    }
}
