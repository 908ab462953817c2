import Foundation
import XCTest
@_spi(Benchmark) @testable import LSTMKit

/// The GPU-style kernels (Kernels/gemm_local.cl, Kernels/lstm_persistent.cl) run on whatever OpenCL device the
/// tests use (PoCL on the CPU here), forced on through a tuned device, and checked against the CPU path.
///
/// Tolerances, float32 against float32 (the reasoning of OpenCLParityTests):
/// - gemm: the tiled kernel sums each output as one fma chain over k, OpenBLAS in its own blocked order. A
///   length-K dot product of values in [-1, 1] then differs by about sqrt(K) * 2^-24 * |terms| in practice (K * 2^-24
///   * sum|a*b| at worst), so atol 1e-5 * sqrt(K) plus rtol 1e-5, as OpenCLParityTests.
/// - persistent forward: r = h . W_hh^T is a length-H dot product (the kernel's one fma chain over k against
///   OpenBLAS's sgemm), and exp differs (PoCL native_exp or the kernel's exp against glibc's expf and the CPU cell's
///   vectorized exp, each within a few ulp). With W_hh ~ U(+-1/sqrt(H)) and |h| < 1 one dot product is off by
///   ~sqrt(H) * 2^-24 (~1e-6 for H = 130; 9e-5 is the worst-case bound H * 2^-24 * sqrt(H)), and the cell does not
///   amplify it (every gate and tanh has slope <= 1, f < 1 damps c), so over T = 7 steps hs, cs, gates and y stay
///   within atol 1e-5 (all of them are O(1)). In Float64 the same reordering costs ~H * 1e-16: atol 1e-12.
/// - a whole LSTM with the tiled gemm: atol 1e-5 on forward values, 1e-4 of each gradient's largest magnitude
///   (gradients grow through the recurrence), as OpenCLParityTests.
final class GPUKernelTests: XCTestCase {

    // MARK: Tuning

    func testTuningDefaultsEnvironmentAndDefines() throws {
        let cpu = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: false, width: 0), store: nil, environment: [:])
        XCTAssertEqual(cpu.gemmKind, .blocked)
        XCTAssertEqual(cpu.persistentMaxBatch, 0)
        XCTAssertFalse(cpu.usePersistent(batch: 1, hidden: 16))
        XCTAssertEqual(cpu.defines["GEMM_KIND"], "blocked")
        XCTAssertEqual(cpu.defines["PERSISTENT_MAX_BATCH"], "0")

        let gpu = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: true, width: 0), store: nil, environment: [:])
        XCTAssertEqual(gpu.gemmKind, .local)
        XCTAssertEqual(gpu.persistentMaxBatch, 16)
        XCTAssertTrue(gpu.usePersistent(batch: 16, hidden: 256))
        XCTAssertFalse(gpu.usePersistent(batch: 17, hidden: 128))
        XCTAssertFalse(gpu.usePersistent(batch: 4, hidden: 257))
        XCTAssertEqual(gpu.defines["GEMM_KIND"], "local")
        XCTAssertEqual(gpu.defines["GEMM_TILE"], "64x64x16/4x4")

        let forced = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: false, width: 0), store: nil, environment: [
            "LSTMKIT_GEMM_KIND": "local", "LSTMKIT_PERSISTENT_MAX_BATCH": "64", "LSTMKIT_GEMM_TILE": "32x16x8/4x2",
            "LSTMKIT_PERSISTENT_LOCAL_BYTES": "65536", "LSTMKIT_PERSISTENT_WG": "128", "LSTMKIT_LN_WG": "16",
        ])
        XCTAssertEqual(forced.gemmKind, .local)
        XCTAssertEqual(forced.persistentMaxBatch, 64)
        XCTAssertTrue(forced.usePersistent(batch: 32, hidden: 128))
        XCTAssertEqual("\(forced.localTile)", "32x16x8/4x2")
        XCTAssertEqual(forced.persistentLocalBytes, 65536)
        XCTAssertEqual(forced.persistentGroup, 128)
        XCTAssertEqual(forced.layerNormGroup, 16)
        let back = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: true, width: 0), store: nil, environment: ["LSTMKIT_GEMM_KIND": "blocked"])
        XCTAssertEqual(back.gemmKind, .blocked)
        // Bad values are ignored (with a warning on stderr).
        let bad = OpenCLTuning.forDevice(openCLDeviceInfo(gpu: false, width: 0), store: nil, environment: [
            "LSTMKIT_GEMM_KIND": "fast", "LSTMKIT_PERSISTENT_MAX_BATCH": "-1", "LSTMKIT_GEMM_TILE": "64x64x16/3x4",
            "LSTMKIT_LN_WG": "12",
        ])
        XCTAssertEqual(bad.gemmKind, .blocked)
        XCTAssertEqual(bad.persistentMaxBatch, 0)
        XCTAssertEqual(bad.layerNormGroup, 64)
        XCTAssertEqual("\(bad.localTile)", "64x64x16/4x4")

        XCTAssertNil(OpenCLTuning.LocalTile(spec: "64x64x16"))
        XCTAssertNil(OpenCLTuning.LocalTile(spec: "64x64x3/4x4"))  // 3*64 floats do not split over 256 work-items
        let tile = try XCTUnwrap(OpenCLTuning.LocalTile(spec: "32x16x8/4x2"))
        XCTAssertEqual(tile.ndRange(m: 33, n: 17).global, [2 * 8, 2 * 8])
        XCTAssertEqual(tile.ndRange(m: 33, n: 17).local, [8, 8])

        // lstm_persistent.cl's defines: W_hh in local memory only when it fits both budgets.
        var t = cpu
        t.persistentLocalBytes = 1 << 20
        XCTAssertEqual(t.persistentDefines(hidden: 37, deviceLocalBytes: 1 << 20, deviceMaxGroup: 4096),
                       ["WG": "160", "WHH_LOCAL": "1", "HMAX": "40", "LSTMKIT_NATIVE_EXP": "1"])
        XCTAssertEqual(t.persistentDefines(hidden: 37, deviceLocalBytes: 16 << 10, deviceMaxGroup: 4096)["WHH_LOCAL"], "0")
        XCTAssertEqual(t.persistentDefines(hidden: 600, deviceLocalBytes: 1 << 20, deviceMaxGroup: 4096)["WHH_LOCAL"], "0")
        XCTAssertEqual(t.persistentDefines(hidden: 600, deviceLocalBytes: 1 << 20, deviceMaxGroup: 128)["WG"], "128")
    }

    // MARK: gemm_local.cl

    func testLocalGemmAllTransposesOffsetsAndBeta() throws {
        let base = try openCLDeviceOrSkip()
        let tiles = [OpenCLTuning.LocalTile(), OpenCLTuning.LocalTile(tsm: 32, tsn: 16, tsk: 8, wptm: 4, wptn: 2)]
        var seed: UInt64 = 7000
        for tile in tiles {
            let device = tunedDevice(base) { $0.gemmKind = .local; $0.localTile = tile }
            let cl = device.backend as! OpenCLBackend
            try cl.setProfiling(true)
            let worst = try OpenCLParityTests.compareGemm(cl, shapes: [(1, 1, 1), (3, 5, 7), (65, 130, 33), (128, 512, 256)],
                                                          scalars: [(1.0, 0.0), (0.75, 1.0)], seed: &seed, label: "gemm_local \(tile)")
            let labels = Set(try cl.takeProfile().map(\.label))
            try cl.setProfiling(false)
            XCTAssertEqual(labels.filter { $0.hasPrefix("gemm") }.sorted(),
                           ["gemm_local_NN", "gemm_local_NT", "gemm_local_TN", "gemm_local_TT"], "the local kernels ran")
            print("gemm_local tile \(tile): max abs error \(worst) against cblas")
        }
    }

    func testLSTMForwardBackwardWithLocalGemm() throws {
        try checkLSTMLayer(on: tunedDevice(try openCLDeviceOrSkip()) { $0.gemmKind = .local }, "local gemm")
    }

    /// The LSTM layer with the persistent forward forced on (as a GPU would run batches up to 16), and with the
    /// whole GPU profile (local gemm, scalar cell, persistent forward): forward and backward equal the CPU path,
    /// and the profile shows the persistent kernel ran in place of the per-step cell kernel.
    func testLSTMLayerWithPersistentForwardAndGPUProfile() throws {
        let base = try openCLDeviceOrSkip()
        let persistent = tunedDevice(base) { $0.persistentMaxBatch = 64 }
        try BenchmarkHooks.setProfiling(true, on: persistent)
        try checkLSTMLayer(on: persistent, "persistent forward")
        let profile = try BenchmarkHooks.takeProfile(of: persistent)
        try BenchmarkHooks.setProfiling(false, on: persistent)
        XCTAssertTrue(profile.contains { $0.name == "lstm_sequence_forward" }, "persistent kernel did not run: \(profile.map(\.name))")
        XCTAssertFalse(profile.contains { $0.name == "lstm_cell_forward" }, "the per-step cell kernel ran")
        let gpuProfile = tunedDevice(base) {
            $0.gemmKind = .local; $0.persistentMaxBatch = 64; $0.cellVW = 1; $0.columnVW = 1; $0.prefersNN = false
        }
        try checkLSTMLayer(on: gpuProfile, "GPU profile")
    }

    private func checkLSTMLayer(on device: Device, _ label: String) throws {
        try OpenCLParityTests.compareLayers([
            OpenCLParityTests.Case(I: 19, H: 37, L: 2, B: 3, T: 9, bidirectional: true, batchFirst: true, lengths: [9, 4, 1], dropout: 0.3),
            OpenCLParityTests.Case(I: 64, H: 130, L: 1, B: 5, T: 12, lengths: [12, 11, 3, 7, 1], cellClip: 0.25),
        ], on: device, seedBase: 900, label: label)
    }

    // MARK: lstm_persistent.cl

    struct PersistentCase: CustomStringConvertible {
        var H: Int, lengths: [Int], T: Int, reverse: Bool, bias: Bool, cellClip: Double
        var B: Int { lengths.count }
        var description: String {
            "H\(H) B\(B) T\(T) lengths \(lengths)\(reverse ? " reverse" : "")\(bias ? "" : " no-bias")" + (cellClip > 0 ? " clip \(cellClip)" : "")
        }
    }

    /// Runs one layer-direction's forward recurrence on `device`, either as one `lstmSequenceForward` or as the
    /// per-step loop (gemm r = h . W_hh^T, then lstmCellForward), on the same seeded inputs, and returns hs, cs, gates
    /// and y (all of them, y with this direction's columns at offset H when reverse, as in a bidirectional layer;
    /// the other half must keep its sentinel).
    private func runForward(_ c: PersistentCase, on device: Device, persistent: Bool, seed: UInt64) throws -> [[Double]] {
        let be = device.backend
        let (H, B, T, G) = (c.H, c.B, c.T, 4 * c.H)
        let scale = 1 / Double(H).squareRoot()
        let lengths = try be.allocateIndices(c.lengths.map { Int32($0) })
        let gx = try be.allocate(T * B * G)
        try be.write(randomValues(T * B * G, seed: seed), to: BufferView(gx))
        let whh = try be.allocate(3 + G * H)  // W_hh [4H, H] at offset 3, as a view into flat parameters
        try be.write(randomValues(G * H, seed: seed + 1, scale: scale), to: BufferView(whh, 3))
        let biases = try be.allocate(2 + 2 * G + 1)  // b_ih at 2, b_hh at 3 + 4H
        try be.write(randomValues(2 * G + 1, seed: seed + 2, scale: scale), to: BufferView(biases, 2))
        let (bih, bhh) = c.bias ? (BufferView(biases, 2), BufferView(biases, 3 + G)) as (BufferView?, BufferView?) : (nil, nil)
        let hs = try be.allocateZeros((T + 1) * B * H), cs = try be.allocateZeros((T + 1) * B * H)
        try be.write(randomValues(B * H, seed: seed + 3), to: BufferView(hs))
        try be.write(randomValues(B * H, seed: seed + 4, scale: 2), to: BufferView(cs))
        let gates = try be.allocateZeros(T * B * G)
        let y = try be.allocate(T * B * 2 * H)
        try be.fill(BufferView(y), count: T * B * 2 * H, value: 7)
        let yView = BufferView(y, c.reverse ? H : 0)
        if persistent {
            try device.persistent.lstmSequenceForward(
                batch: B, hidden: H, steps: T, reverse: c.reverse, lengths: lengths, gx: BufferView(gx),
                whh: BufferView(whh, 3), biasIH: bih, biasHH: bhh, hs: BufferView(hs), cs: BufferView(cs),
                gates: BufferView(gates), y: yView, ldy: 2 * H, cellClip: c.cellClip)
        } else {
            let r = try be.allocate(B * G)
            for s in 0..<T {
                try be.gemm(transA: false, transB: true, m: B, n: G, k: H, alpha: 1, a: BufferView(hs, s * B * H), lda: H,
                            b: BufferView(whh, 3), ldb: H, beta: 0, c: BufferView(r), ldc: G)
                try be.lstmCellForward(batch: B, hidden: H, steps: T, step: s, reverse: c.reverse, lengths: lengths,
                                       gx: BufferView(gx), r: BufferView(r), biasIH: bih, biasHH: bhh,
                                       hs: BufferView(hs), cs: BufferView(cs), gates: BufferView(gates), y: yView, ldy: 2 * H,
                                       extras: LSTMCellExtras(cellClip: c.cellClip))
            }
        }
        return [try be.readDoubles(BufferView(hs), count: (T + 1) * B * H), try be.readDoubles(BufferView(cs), count: (T + 1) * B * H),
                try be.readDoubles(BufferView(gates), count: T * B * G), try be.readDoubles(BufferView(y), count: T * B * 2 * H)]
    }

    private var persistentCases: [PersistentCase] {
        var cases: [PersistentCase] = []
        for H in [5, 37, 130] {
            for lengths in [[6], [7, 5, 1, 3]] {
                for reverse in [false, true] {
                    for bias in [true, false] {
                        for clip in [0.0, 0.3] {
                            cases.append(PersistentCase(H: H, lengths: lengths, T: 7, reverse: reverse, bias: bias, cellClip: clip))
                        }
                    }
                }
            }
        }
        return cases
    }

    /// The persistent forward on `device` against the per-step loop through the CPU backend of `reference`.
    private func checkPersistent(_ device: Device, reference: Device, atol: Double, _ label: String) throws {
        var worst = 0.0
        for (n, c) in persistentCases.enumerated() {
            let seed = UInt64(5000 + 10 * n)
            let expected = try runForward(c, on: reference, persistent: false, seed: seed)
            let got = try runForward(c, on: device, persistent: true, seed: seed)
            for (i, what) in ["hs", "cs", "gates", "y"].enumerated() {
                assertClose(got[i], expected[i], atol: atol, "\(label) \(c): \(what)")
                worst = max(worst, maxAbsDiff(got[i], expected[i]))
            }
            // A sequence's padding: y is exactly 0 there and the state is carried exactly.
            let (H, B) = (c.H, c.B)
            for (b, len) in c.lengths.enumerated() where len < c.T {
                for s in len..<c.T {
                    for j in 0..<H {
                        XCTAssertEqual(got[3][(s * B + b) * 2 * H + (c.reverse ? H : 0) + j], 0, "\(label) \(c): y padding")
                        XCTAssertEqual(got[0][((s + 1) * B + b) * H + j], got[0][(len * B + b) * H + j], "\(label) \(c): carried h")
                    }
                }
            }
        }
        print("lstm_sequence_forward \(label): max abs error \(worst) against the per-step loop over \(persistentCases.count) cases")
    }

    func testPersistentForwardOnOpenCL() throws {
        let base = try openCLDeviceOrSkip()
        // W_hh read from global memory, then copied into local memory (PoCL has 1 MiB of it: H = 130 fits).
        for localBytes in [0, 1 << 20] {
            let device = tunedDevice(base) { $0.persistentLocalBytes = localBytes; $0.persistentMaxBatch = 64 }
            let defines = (device.backend as! OpenCLBackend).persistentDefines(hidden: 130)
            if localBytes == 0 { XCTAssertEqual(defines["WHH_LOCAL"], "0") }
            XCTAssertTrue(device.persistent.usePersistentForward(batch: 4, hidden: 130))
            try checkPersistent(device, reference: .cpu, atol: 1e-5, "opencl, local W_hh budget \(localBytes) (H 130: WHH_LOCAL=\(defines["WHH_LOCAL"]!))")
        }
    }

    func testPersistentForwardCPUTwin() throws {
        XCTAssertFalse(Device.cpu.persistent.usePersistentForward(batch: 1, hidden: 8), "the CPU keeps its per-step loop")
        try checkPersistent(.cpu, reference: .cpu, atol: 1e-5, "cpu float32")
        try checkPersistent(.cpuFloat64, reference: .cpuFloat64, atol: 1e-12, "cpu float64")
    }
}
