import Foundation
import XCTest
@testable import LSTMKit

/// `predict` and `evaluate` in batches (`PredictBatching`, `DeviceMemoryBudget`, `CacheSizes`): each batch is
/// uploaded and run on its own, and the batching does not change a sample's result beyond what the device's gemm
/// makes of a row's position (none on OpenCL; on the CPU OpenBLAS's sgemm rounds a row by where it lies in the
/// product, so the input projection moves by float rounding when the batch changes).
final class PredictBatchingTests: XCTestCase {
    /// Token ids [N, T] with right padding (ids 0), a masking model of every inference layer kind.
    private func maskedModel(_ device: Device) throws -> (Sequential, DataArray) {
        let (N, T, V) = (11, 7, 13)
        var ids: [Float] = []
        for n in 0..<N {
            let length = 1 + (n * 5) % T
            ids += (0..<T).map { $0 < length ? Float(1 + (n * 3 + $0 * 7) % (V - 1)) : 0 }
        }
        let model = Sequential([Embedding(inputDim: V, outputDim: 6, maskZero: true), Bidirectional(LSTMLayer(units: 10, returnSequences: true)),
                                LSTMLayer(units: 7, peephole: true), Dense(units: 4, activation: .softmax)], device: device, seed: 21)
        return (model, try DataArray(shape: [N, T], values: ids))
    }

    /// Forced small batches (1, 2, 3, 5 samples) against one batch of all samples and the automatic choice: the
    /// same bits on OpenCL. On the CPU, OpenBLAS picks its kernel by the product's shape (a 1-row product is a
    /// gemv, and a row's rounding depends on where it lies in a big product), so there they agree to float
    /// rounding.
    func testBatchingDoesNotChangeResults() throws {
        try onBothDevices { device in
            func check(_ got: [Float], _ want: [Float], _ what: String) {
                if device.isOpenCL { return XCTAssertEqual(got, want, "\(device) \(what)") }
                XCTAssertEqual(got.count, want.count, "\(device) \(what)")
                let err = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(err, 1e-6, "\(device) \(what): max |diff| \(err)")
            }
            let (model, x) = try maskedModel(device)
            let whole = try model.predict(x, batchSize: x.count)
            XCTAssertEqual(whole.shape, [x.count, 4])
            for b in [1, 2, 3, 5] { check(try model.predict(x, batchSize: b).values, whole.values, "batch \(b)") }
            check(try model.predict(x).values, whole.values, "automatic batch")
            // A model without masking, batch-first sequences out.
            let seq = Sequential([LSTMLayer(units: 9, returnSequences: true), TimeDistributed(Dense(units: 3, activation: .tanh))],
                                 device: device, seed: 5)
            let xs = try DataArray(shape: [7, 5, 4], values: randomValues(7 * 5 * 4, seed: 9).map { Float($0) })
            let all = try seq.predict(xs, batchSize: 7)
            XCTAssertEqual(all.shape, [7, 5, 3])
            for b in [1, 3, 4] { check(try seq.predict(xs, batchSize: b).values, all.values, "sequences batch \(b)") }
        }
    }

    /// The CPU's large input projection (K = 256 >= OpenBLAS's blocking): batches of 1, 3, 16 and all 24 samples
    /// agree to float rounding (OpenBLAS rounds a row by its position in the product), and the OpenCL device gives
    /// the same bits for every batching.
    func testBatchingOfALargeProjection() throws {
        let x = try DataArray(shape: [24, 12, 256], values: randomValues(24 * 12 * 256, seed: 4).map { Float($0) })
        for device in [Device.cpu] + ((try? openCLDeviceOrSkip()).map { [$0] } ?? []) {
            let model = Sequential([LSTMLayer(units: 64, returnSequences: true)], device: device, seed: 3)
            let whole = try model.predict(x, batchSize: 24)
            for b in [1, 3, 16] {
                let v = try model.predict(x, batchSize: b).values
                if device.isOpenCL {
                    XCTAssertEqual(v, whole.values, "\(device) batch \(b)")
                } else {
                    let err = zip(v, whole.values).map { abs($0 - $1) }.max()!
                    XCTAssertLessThanOrEqual(err, 1e-5, "\(device) batch \(b): max |diff| \(err)")
                }
            }
        }
    }

    /// `evaluate` batches as `predict` does: the automatic batching and forced small batches give the loss and
    /// accuracy of the predictions (sample-weighted batch means: equal up to the rounding of the mean).
    func testEvaluateBatches() throws {
        try onBothDevices { device in
            let (model, x) = try maskedModel(device)
            try model.compile(optimizer: SGD(), loss: .sparseCategoricalCrossentropy(), metrics: [.accuracy])
            let labels = try DataArray(shape: [x.count], values: (0..<x.count).map { Float($0 % 4) })
            let p = try model.predict(x, batchSize: x.count).values
            var loss = 0.0, correct = 0.0
            for n in 0..<x.count {
                let row = p[(n * 4)..<((n + 1) * 4)]
                loss -= log(Double(row[row.startIndex + n % 4]))
                if row.firstIndex(of: row.max()!)! - row.startIndex == n % 4 { correct += 1 }
            }
            for b: Int? in [nil, 1, 4, x.count] {
                let logs = try model.evaluate(x: x, y: labels, batchSize: b)
                XCTAssertEqual(logs["loss"]!, loss / Double(x.count), accuracy: 1e-5, "\(device) batch \(String(describing: b))")
                XCTAssertEqual(logs["accuracy"]!, correct / Double(x.count), accuracy: 1e-12, "\(device) batch \(String(describing: b))")
            }
            XCTAssertThrowsError(try model.evaluate(x: x, y: labels, batchSize: 0))
            XCTAssertThrowsError(try model.predict(x, batchSize: 0))
        }
    }

    /// The rule: memory caps the batch (an input larger than the budget runs in batches that fit), the CPU's
    /// batch follows a quarter of the L2 x threads over a step's data, an OpenCL GPU takes the largest batch memory allows, and a
    /// sample that does not fit at all is a typed error.
    func testBatchRule() throws {
        let model = Sequential([LSTMLayer(units: 256, returnSequences: true)], device: .cpu, seed: 1)
        try model.build(inputShape: [100, 256])
        let fp = try PredictBatching.footprint(of: model, elementSize: 4)
        // Input 100*256, output 100*256 (twice with the transposed copies), projection 100*1024; step 11*256.
        XCTAssertEqual(fp.cacheBytesPerRow, 11 * 256 * 4)
        XCTAssertEqual(fp.largestBufferPerRow, 100 * 1024 * 4)
        XCTAssertEqual(fp.bytesPerRow, (25_600 * 5 + 102_400) * 4)
        let roomy = DeviceMemoryBudget(totalBytes: 1 << 40, bufferBytes: 1 << 40)
        let caches = CacheSizes(l2PerCore: 1 << 20, lastLevel: 32 << 20, lastLevelSharedBy: 2)
        XCTAssertEqual(try PredictBatching.choose(samples: 10_000, footprint: fp, device: .cpu, budget: roomy, caches: caches, threads: 2).rows, 40)
        XCTAssertEqual(try PredictBatching.choose(samples: 10_000, footprint: fp, device: .cpu, budget: roomy, caches: caches, threads: 1).rows, 32)
        XCTAssertEqual(try PredictBatching.choose(samples: 20, footprint: fp, device: .cpu, budget: roomy, caches: caches, threads: 2).rows, 20)
        let tiny = CacheSizes(l2PerCore: 1 << 10, lastLevel: 1 << 12, lastLevelSharedBy: 1)
        XCTAssertEqual(try PredictBatching.choose(samples: 10_000, footprint: fp, device: .cpu, budget: roomy, caches: tiny, threads: 1).rows,
                       PredictBatching.cpuMinRows)
        // Memory: 10 samples' worth of budget, or a largest buffer of 3 samples.
        let ten = DeviceMemoryBudget(totalBytes: 10 * fp.bytesPerRow + 7, bufferBytes: 1 << 40)
        XCTAssertEqual(try PredictBatching.choose(samples: 10_000, footprint: fp, device: .cpu, budget: ten, caches: caches, threads: 2).rows, 10)
        let three = DeviceMemoryBudget(totalBytes: 1 << 40, bufferBytes: 3 * fp.largestBufferPerRow)
        XCTAssertEqual(try PredictBatching.choose(samples: 10_000, footprint: fp, device: .cpu, budget: three, caches: caches, threads: 2).rows, 3)
        let none = DeviceMemoryBudget(totalBytes: fp.bytesPerRow - 1, bufferBytes: 1 << 40)
        XCTAssertThrowsError(try PredictBatching.choose(samples: 1, footprint: fp, device: .cpu, budget: none)) { error in
            guard case LSTMKitError.outOfMemory = error else { return XCTFail("\(error)") }
        }
        if let cl = try? openCLDeviceOrSkip() {
            // A GPU takes the widest batch memory allows; a CPU device (PoCL) the CPU's rule with its compute units.
            let info = cl.openCL!.info
            let expected = info.isGPU || info.isAccelerator ? PredictBatching.openCLMaxRows : 40
            XCTAssertEqual(try PredictBatching.choose(samples: 10_000, footprint: fp, device: cl, budget: roomy, caches: caches, threads: 2).rows, expected)
            XCTAssertEqual(try PredictBatching.choose(samples: 10_000, footprint: fp, device: cl, budget: ten, caches: caches, threads: 2).rows, 10)
            let budget = DeviceMemoryBudget.of(cl)
            XCTAssertGreaterThan(budget.totalBytes, 0)
            XCTAssertLessThanOrEqual(budget.bufferBytes, cl.openCL!.maxAllocBytes)
        }
        XCTAssertGreaterThan(DeviceMemoryBudget.of(.cpu).totalBytes, 0)
    }

    /// Sizes that overflow are typed errors, not traps.
    func testFootprintOverflowIsAnError() throws {
        let model = Sequential([Dense(units: 1 << 40)], device: .cpu, seed: 1)
        XCTAssertThrowsError(try model.build(inputShape: [1 << 30]))
        let big = Sequential([LSTMLayer(units: 1 << 20, returnSequences: true)], device: .cpu, seed: 1)
        if (try? big.build(inputShape: [Int.max / 2, 1])) != nil {
            XCTAssertThrowsError(try PredictBatching.footprint(of: big, elementSize: 4))
        }
    }

    /// Cache sizes from a sysfs-like directory, and the fallback for what is missing.
    func testCacheSizes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-cache-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let entries: [(Int, String, String, String)] = [(1, "Data", "48K", "0"), (1, "Instruction", "32K", "0"),
                                                        (2, "Unified", "1024K", "0"), (3, "Unified", "32M", "0-1")]
        for (i, e) in entries.enumerated() {
            let d = dir.appendingPathComponent("index\(i)")
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            for (name, value) in [("level", "\(e.0)"), ("type", e.1), ("size", e.2), ("shared_cpu_list", e.3)] {
                try (value + "\n").write(to: d.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
        }
        XCTAssertEqual(CacheSizes.read(directory: dir.path), CacheSizes(l2PerCore: 1 << 20, lastLevel: 32 << 20, lastLevelSharedBy: 2))
        XCTAssertEqual(CacheSizes.read(directory: dir.path + "/missing"), CacheSizes.fallback)
        XCTAssertEqual(CacheSizes.parseSize("512"), 512)
        XCTAssertEqual(CacheSizes.parseSize("2G"), 2 << 30)
        XCTAssertNil(CacheSizes.parseSize("K"))
        XCTAssertNil(CacheSizes.parseSize("99999999999999999999K"))
        XCTAssertNil(CacheSizes.parseSize("\(Int.max)K"))
        XCTAssertEqual(CacheSizes.sharedCount("0,2,4-7"), 6)
        XCTAssertNil(CacheSizes.sharedCount("3-1"))
        XCTAssertGreaterThan(CacheSizes.current.l2PerCore, 0)
    }
}
